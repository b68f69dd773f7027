// One building, #/building/{id}: its place on the site plan, and the floor list: on each floor,
// every device with its kind, where it is (the registry's location text) and its state.
//
// Floors are listed from the top down, as in a lift lobby's directory; the many parking spaces of
// a floor are one row per zone with how many are in each state (each space is one click away, in
// the device view, from the alerts that name it).

import { api, buildingName, buildings } from "./api.js";
import { deviceHref } from "./alert_row.js";
import { el, fmtNumber, t } from "./common.js";
import { drillButton } from "./drill_start.js";
import { locationText, showPlan } from "./site_plan.js";

const $ = (id) => document.getElementById(id);

// "12F" -> 12, "B2" -> -2, "B1-B2" -> -1 (its top floor), anything else after the numbered ones.
function floorRank(floor) {
  if (!floor) return -Infinity;
  const first = floor.split("-")[0].trim();
  let match = /^B(\d+)$/i.exec(first);
  if (match) return -Number(match[1]);
  match = /^(\d+)F?$/i.exec(first);
  if (match) return Number(match[1]);
  return Infinity;
}

function stateText(d) {
  const parts = [t("status." + d.status)];
  const r = d.reading || {};
  if (d.kind === "aed" && r.state) parts.push(t("aed." + r.state));
  if (d.kind === "aed" && r.cabinet_open === true) parts.push(t("aed.cabinet_open"));
  // The reading as it came (taken / capacity): free counts are the API's, on the plan.
  if (d.kind === "parking_lot" && typeof r.occupied === "number") parts.push(`${fmtNumber(r.occupied)} / ${fmtNumber(r.capacity ?? d.capacity)}`);
  if (d.kind === "canteen" && typeof r.occupancy === "number") parts.push(`${fmtNumber(r.occupancy)} / ${fmtNumber(r.capacity ?? d.capacity)}`);
  return parts.join(" · ");
}

function deviceRow(d) {
  return el(
    "tr",
    { "data-device": d.device, "data-kind": d.kind, "data-status": d.status },
    el("td", {}, t("kind." + d.kind)),
    el("td", {}, el("a", { href: deviceHref(d) }, d.name || d.device)),
    el("td", {}, locationText(d.location) || d.zone || "—"),
    el("td", { class: d.status === "ok" ? "flag-ok" : "flag-bad" }, stateText(d), drillButton(d)),
  );
}

// The spaces of one zone on one floor, as one row: how many, and how many in each state.
function spacesRow(zone, spaces) {
  const counts = new Map();
  for (const s of spaces) counts.set(s.status, (counts.get(s.status) || 0) + 1);
  const text = [...counts].map(([status, n]) => `${t("status." + status)} ${fmtNumber(n)}`).join(" · ");
  const bad = [...counts.keys()].some((s) => s !== "ok");
  return el(
    "tr",
    { "data-kind": "parking_space", "data-zone": zone, "data-count": String(spaces.length) },
    el("td", {}, t("kind.parking_space")),
    el("td", {}, t("building.spaces").replace("{n}", fmtNumber(spaces.length))),
    el("td", {}, locationText(spaces[0].location) || zone || "—"),
    el("td", { class: bad ? "flag-bad" : "flag-ok" }, text),
  );
}

export function floorList(devices) {
  const floors = new Map();
  for (const d of devices) floors.set(d.floor || "", [...(floors.get(d.floor || "") || []), d]);
  const order = [...floors.keys()].sort((a, b) => floorRank(b) - floorRank(a) || a.localeCompare(b));
  return order.map((floor) => {
    const here = floors.get(floor);
    const rows = [];
    const zones = new Map();
    for (const d of here) {
      if (d.kind === "parking_space") zones.set(d.zone || "", [...(zones.get(d.zone || "") || []), d]);
      else rows.push(deviceRow(d));
    }
    for (const [zone, spaces] of zones) rows.push(spacesRow(zone, spaces));
    const heading = floor || t("building.no_floor");
    const id = `floor-${floor || "none"}`.replace(/[^A-Za-z0-9_-]/g, "_");
    return el(
      "section",
      { class: "floor", "data-floor": floor, "aria-labelledby": id },
      el("h3", { id }, `${t("building.floor")} ${heading}`),
      el(
        "table",
        { class: "data floor-table" },
        el(
          "thead",
          {},
          el("tr", {}, ...["building.kind", "building.device", "building.location", "building.state"].map((k) => el("th", { scope: "col" }, t(k)))),
        ),
        el("tbody", {}, ...rows),
      ),
    );
  });
}

export async function showBuilding(code) {
  const [all, list] = await Promise.all([buildings(), api(`devices?building=${encodeURIComponent(code)}`)]);
  const b = all.find((x) => x.building === code);
  $("building-title").textContent = b ? buildingName(b) : code;
  $("building-alerts").setAttribute("href", `#/alerts?building=${encodeURIComponent(code)}`);
  const floors = floorList(list.items);
  $("floor-list").replaceChildren(...(floors.length ? floors : [el("p", { class: "muted" }, t("building.none"))]));
  await showPlan($("building-plan"), { highlight: code });
}
