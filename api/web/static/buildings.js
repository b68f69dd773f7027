// The Buildings tab: free parking per car park, every AED cabinet and its state, each canteen's
// load now and today's curve. Refreshed every 30 s by the router.

import { api, app, buildingName } from "./api.js";
import { deviceHref } from "./alert_row.js";
import { CONFIG, dayChart, el, fmtNumber, fmtPercent, localMidnight, localMinutes, t } from "./common.js";

const PADS_WARN_DAYS = 30;
const $ = (id) => document.getElementById(id);

function daysUntil(isoDate) {
  const ms = Date.parse(`${isoDate}T00:00:00Z`) - Date.now();
  return Math.floor(ms / 86400000);
}

function aedFlags(d) {
  const r = d.reading || {};
  const flags = [];
  if (d.status === "offline") flags.push(t("aed.offline"));
  if (d.status === "silent") flags.push(t("status.silent"));
  if (r.state && r.state !== "ready") flags.push(t("aed." + r.state));
  if (r.cabinet_open === true) flags.push(t("aed.cabinet_open"));
  if (r.self_test === "fail") flags.push(t("aed.fault"));
  if (typeof r.pads_expiry === "string" && daysUntil(r.pads_expiry) <= PADS_WARN_DAYS) flags.push(`${t("aed.pads_expiring")} ${r.pads_expiry}`);
  if (typeof r.battery_pct === "number" && r.battery_pct < 20) flags.push(`${t("aed.battery")} ${fmtNumber(r.battery_pct)}%`);
  return flags;
}

export async function loadBuildings() {
  const [buildings, aeds, lots, canteens] = await Promise.all([
    api("buildings"),
    api("devices?kind=aed"),
    api("devices?kind=parking_lot"),
    api("devices?kind=canteen"),
  ]);
  app.buildings = buildings;
  const byBuilding = (list) => {
    const map = new Map();
    for (const d of list.items) map.set(d.building, [...(map.get(d.building) || []), d]);
    return map;
  };
  const aedBy = byBuilding(aeds);
  const lotBy = byBuilding(lots);
  const canteenBy = byBuilding(canteens);
  const grid = $("building-grid");
  const cards = [];
  const charts = [];
  for (const b of buildings) {
    const card = el("article", { class: "panel building", "aria-labelledby": `b-${b.building}` });
    card.append(
      el(
        "h2",
        { id: `b-${b.building}` },
        el("span", {}, buildingName(b)),
        b.open_alerts ? el("span", { class: "badge sev-major" }, t("buildings.open_alerts").replace("{n}", b.open_alerts)) : null,
      ),
    );
    const lotsHere = lotBy.get(b.building) || [];
    if (lotsHere.length || (b.parking && b.parking.spaces_total)) {
      const rows = el("ul", { class: "rows" });
      for (const lot of lotsHere) {
        const r = lot.reading || {};
        const capacity = r.capacity ?? lot.capacity;
        const free = typeof r.occupied === "number" && capacity ? Math.max(capacity - r.occupied, 0) : null;
        rows.append(
          el(
            "li",
            { "data-lot": lot.device },
            el("a", { href: deviceHref(lot) }, `${lot.floor || lot.device}`),
            el("span", {}, el("span", { class: "big" }, fmtNumber(free)), ` ${t("buildings.free")} / ${fmtNumber(capacity)}`),
          ),
        );
      }
      if (b.parking && b.parking.spaces_total) {
        // Bay sensors: say how many are unknown rather than count a silent bay as taken.
        const p = b.parking;
        const known = p.spaces_total - p.spaces_unknown;
        const text = known > 0
          ? `${fmtNumber(p.spaces_free)} ${t("buildings.free")} / ${fmtNumber(p.spaces_total)}` +
            (p.spaces_unknown ? ` (${fmtNumber(p.spaces_unknown)} ${t("status.silent")})` : "")
          : t("buildings.nodata");
        rows.append(el("li", { class: "muted" }, el("span", {}, t("kind.parking_space")), el("span", {}, text)));
      }
      card.append(el("section", {}, el("h3", {}, t("buildings.parking")), rows));
    }
    const aedsHere = aedBy.get(b.building) || [];
    if (aedsHere.length) {
      const rows = el("ul", { class: "rows" });
      for (const d of aedsHere) {
        const flags = aedFlags(d);
        const r = d.reading || {};
        rows.append(
          el(
            "li",
            { "data-device": d.device, "data-flagged": flags.length ? "true" : "false" },
            el("span", {}, el("a", { href: deviceHref(d) }, d.floor || d.device), " ", el("span", { class: "muted" }, (d.location || "").split(" / ")[CONFIG.lang === "en" ? 1 : 0] || d.location || "")),
            flags.length
              ? el("span", { class: "flag-bad" }, flags.join(" · "))
              : el("span", { class: "flag-ok" }, r.state ? t("aed." + r.state) : t("buildings.nodata")),
          ),
        );
      }
      card.append(el("section", {}, el("h3", {}, t("buildings.aed")), rows));
    }
    for (const c of canteenBy.get(b.building) || []) {
      const r = c.reading || {};
      const capacity = r.capacity ?? c.capacity;
      const load = typeof r.occupancy === "number" && capacity ? r.occupancy / capacity : null;
      const chart = el("div", { class: "chart", role: "img", "aria-label": `${t("buildings.today")} ${c.device}` });
      card.append(
        el(
          "section",
          {},
          el("h3", {}, el("a", { href: deviceHref(c) }, `${t("buildings.canteen")} · ${c.floor || c.device}`)),
          el(
            "p",
            {},
            `${t("buildings.load_now")} `,
            el("span", { class: "big" }, fmtPercent(load)),
            ` (${fmtNumber(r.occupancy)} / ${fmtNumber(capacity)})`,
            typeof r.queue_length === "number" ? ` · ${t("buildings.queue")} ${fmtNumber(r.queue_length)}` : "",
          ),
          chart,
        ),
      );
      charts.push([chart, c, capacity]);
    }
    cards.push(card);
  }
  grid.replaceChildren(...cards);
  for (const [node, device, capacity] of charts) drawCanteenToday(node, device, capacity);
}

async function drawCanteenToday(node, device, capacity) {
  const start = localMidnight().toISOString();
  try {
    const history = await api(
      `devices/${device.building}/canteen/${device.device}/history?field=occupancy&every=5m&agg=mean&start=${encodeURIComponent(start)}`,
    );
    const points = history.points.filter((p) => typeof p.v === "number").map((p) => [localMinutes(p.t), capacity ? p.v / capacity : null]);
    if (!dayChart(node, [{ label: t("board.today"), points }], { height: 160 })) node.textContent = t("buildings.nodata");
  } catch (error) {
    node.textContent = t("buildings.nodata");
  }
}

