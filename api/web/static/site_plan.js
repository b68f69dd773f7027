// The site plan: the registry's buildings drawn from their outlines (metres, x east, y north),
// each coloured by its most severe open alert, flashing while a critical alert waits for someone
// to acknowledge it; the AEDs marked, free parking and canteen load written on their places.
// Each building is a link (focusable, with a spoken label) to its floor list, #/building/{id}.
//
// Options: `highlight` (a building id: its edge drawn heavy), `marked` ({building, device}: an
// AED circled by a pulsing ring, still without motion, as the incident view shows its cabinet) and
// `linked` (default true; false on a page without the building view: each building an image).
//
// Data: GET /api/v1/site. The API decides the colours, the flashing and the figures; this module
// only draws them. It is fetched again shortly after every alert event and every 30 s.

import { api, app, buildingName } from "./api.js";
import { CONFIG, el, fmtNumber, fmtPercent, t } from "./common.js";

const NS = "http://www.w3.org/2000/svg";
const MARGIN_M = 12;
const REFRESH_MS = 30000;
const AFTER_EVENT_MS = 250;

const mounted = new Map(); // container -> {highlight, marked}
let latest = null;
let pending = null;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A place's text in the page's language: the registry writes "中文 / English".
export function locationText(text) {
  if (!text) return "";
  const parts = text.split(" / ");
  return (CONFIG.lang === "en" ? parts[1] : parts[0]) || text;
}

// The short mark drawn inside a building: the last part of its id ("darong-b" -> "B"); the full
// name is in its label and tooltip.
function mark(b) {
  return b.building.split("-").pop().toUpperCase().slice(0, 4);
}

function sayBuilding(b, places) {
  const parts = [buildingName(b)];
  parts.push(b.severity ? `${t("plan.worst")} ${t("severity." + b.severity)}` : t("plan.no_alert"));
  if (b.open_alerts) parts.push(t("buildings.open_alerts").replace("{n}", b.open_alerts));
  if (b.alarm) parts.push(t("plan.alarm"));
  const aeds = places.filter((p) => p.kind === "aed");
  if (aeds.length) {
    parts.push(t("plan.aeds").replace("{ready}", aeds.filter((a) => a.ready).length).replace("{total}", aeds.length));
  }
  for (const p of places) {
    if (p.kind === "parking_lot") parts.push(parkingText(p));
    if (p.kind === "canteen") parts.push(canteenText(p));
  }
  return parts.join(", ");
}

function parkingText(p) {
  return p.free === null || p.free === undefined
    ? `${t("kind.parking_lot")} ${t("plan.no_figure")}`
    : t("plan.free").replace("{n}", fmtNumber(p.free)).replace("{capacity}", fmtNumber(p.capacity));
}

function canteenText(p) {
  return `${t("kind.canteen")} ${p.load === null || p.load === undefined ? t("plan.no_figure") : fmtPercent(p.load)}`;
}

// A figure on the plan: a light label with dark text, wherever it falls, starting at its place
// (so that it reads beside a building's mark rather than over it).
function badge(x, y, text, kind, title) {
  const width = Math.max(text.length * 5.6 + 6, 18);
  return svg(
    "g",
    { class: `plan-badge plan-badge-${kind}` },
    svg("title", {}, title),
    svg("rect", { x: x - 3, y: y - 6.5, width, height: 13, rx: 3 }),
    svg("text", { x: x - 3 + width / 2, y: y + 3.6, "text-anchor": "middle" }, text),
  );
}

function isMarked(p, marked) {
  return Boolean(marked) && p.kind === "aed" && p.building === marked.building && p.device === marked.device;
}

function draw(container, plan, { highlight = null, marked = null, linked = true } = {}) {
  const id = container.id || "plan";
  const drawn = plan.buildings.filter((b) => b.outline);
  const placesBy = new Map();
  for (const p of plan.places) placesBy.set(p.building, [...(placesBy.get(p.building) || []), p]);
  const nodes = [];
  if (plan.bounds) {
    const [minX, minY, maxX, maxY] = plan.bounds;
    const X = (x) => (x - minX + MARGIN_M).toFixed(1);
    const Y = (y) => (maxY - y + MARGIN_M).toFixed(1); // north up: SVG's y grows downwards
    const path = (ring) => ring.map(([x, y], i) => `${i ? "L" : "M"}${X(x)} ${Y(y)}`).join(" ") + " Z";
    const width = maxX - minX + 2 * MARGIN_M;
    const height = maxY - minY + 2 * MARGIN_M;
    const title = `${id}-title`;
    const desc = `${id}-desc`;
    const alarms = plan.buildings.filter((b) => b.alarm).map(buildingName);
    const target = plan.places.find((p) => p.position && isMarked(p, marked));
    const said = target ? ` ${t("plan.marked").replace("{where}", `${target.floor || ""} ${locationText(target.location)}`.trim())}` : "";
    const root = svg(
      "svg",
      {
        class: "plan-svg",
        viewBox: `0 0 ${width.toFixed(1)} ${height.toFixed(1)}`,
        role: "group",
        "aria-labelledby": title,
        "aria-describedby": desc,
        preserveAspectRatio: "xMidYMid meet",
      },
      svg("title", { id: title }, t("plan.title")),
      svg(
        "desc",
        { id: desc },
        t("plan.desc").replace("{n}", drawn.length) + (alarms.length ? ` ${t("plan.alarm")}: ${alarms.join(", ")}` : "") + said,
      ),
    );
    // Parking sites under everything: a garage reaches under towers and plazas.
    for (const p of plan.places) {
      if (p.kind === "parking_lot" && p.outline) root.append(svg("path", { class: "plan-lot", d: path(p.outline), "aria-hidden": "true" }));
    }
    for (const b of drawn) {
      const here = placesBy.get(b.building) || [];
      const label = sayBuilding(b, here);
      const [lx, ly] = b.label_at;
      root.append(
        svg(
          linked ? "a" : "g",
          {
            href: linked ? `#/building/${encodeURIComponent(b.building)}` : null,
            role: linked ? null : "img",
            class: "plan-building",
            "data-building": b.building,
            "data-severity": b.severity || "none",
            "data-alarm": String(b.alarm),
            "data-highlight": String(highlight === b.building),
            "aria-label": label,
          },
          svg("title", {}, label),
          svg("path", { d: path(b.outline) }),
          svg("text", { x: X(lx), y: (Number(Y(ly)) + 5).toFixed(1), "text-anchor": "middle", "aria-hidden": "true" }, mark(b)),
        ),
      );
    }
    // Marks on top: they must not hide a building's colour, so they stay small.
    const marks = svg("g", { class: "plan-marks", "aria-hidden": "true" });
    let last = null;
    for (const p of plan.places) {
      if (!p.position) continue;
      const x = Number(X(p.position[0]));
      const y = Number(Y(p.position[1]));
      const where = `${p.building}/${p.device} ${p.floor || ""} ${locationText(p.location)}`.trim();
      if (p.kind === "aed") {
        // Not ready is red only when the AED said so; without a fresh reading nobody knows.
        const state = p.ready ? "ready" : p.freshness === "fresh" ? "not-ready" : "unknown";
        const ringed = p === target;
        const node = svg(
          "g",
          {
            class: `plan-aed plan-aed-${state}`,
            "data-building": p.building,
            "data-device": p.device,
            "data-severity": p.severity || "none",
            "data-marked": String(ringed),
          },
          svg("title", {}, `AED ${where}: ${t(`plan.aed_${state.replace("-", "_")}`)}`),
          // The ring under the AED's own mark, which stays readable on top of it.
          ringed ? svg("circle", { class: "plan-ring-still", cx: x, cy: y, r: 9 }) : null,
          ringed ? svg("circle", { class: "plan-ring", cx: x, cy: y, r: 9 }) : null,
          svg("circle", { cx: x, cy: y, r: 4.2 }),
          svg("path", { d: `M${x - 2.4} ${y}H${x + 2.4}M${x} ${y - 2.4}V${y + 2.4}` }),
        );
        // The marked AED goes last, so that no other mark covers its ring.
        if (ringed) last = node;
        else marks.append(node);
      } else if (p.kind === "parking_lot") {
        marks.append(badge(x, y, `P ${fmtNumber(p.free)}`, "parking", `${where}: ${parkingText(p)}`));
      } else if (p.kind === "canteen") {
        marks.append(badge(x, y, `${t("plan.canteen_short")} ${fmtPercent(p.load)}`, "canteen", `${where}: ${canteenText(p)}`));
      }
    }
    if (last) marks.append(last);
    root.append(marks);
    nodes.push(root);
  }
  const missing = plan.buildings.filter((b) => !b.outline);
  if (missing.length) {
    nodes.push(
      el(
        "p",
        { class: "plan-missing" },
        `${t("plan.unplaced")}: `,
        ...missing.flatMap((b, i) => [i ? ", " : "", linked ? el("a", { href: `#/building/${encodeURIComponent(b.building)}` }, buildingName(b)) : buildingName(b)]),
      ),
    );
  }
  nodes.push(legend());
  container.replaceChildren(...nodes);
  container.dataset.buildings = String(drawn.length);
}

function legend() {
  const item = (cls, text) => el("li", {}, el("span", { class: `plan-swatch ${cls}`, "aria-hidden": "true" }), text);
  return el(
    "ul",
    { class: "plan-legend", "aria-label": t("plan.legend") },
    ...["critical", "major", "minor", "warning", "info"].map((s) => item(`sev-${s}`, t("severity." + s))),
    item("plan-swatch-none", t("plan.no_alert")),
    item("plan-swatch-aed", t("plan.aed_ready")),
    item("plan-swatch-aed-bad", t("plan.aed_not_ready")),
    item("plan-swatch-aed-unknown", t("plan.aed_unknown")),
  );
}

// Draw the plan into `container` (and keep it current) from the API's latest answer.
export async function showPlan(container, options = {}) {
  mounted.set(container, options);
  latest = await api("site");
  redraw();
  return latest;
}

function redraw() {
  for (const [node, options] of mounted) {
    if (!node.isConnected) mounted.delete(node);
    else if (latest) draw(node, latest, options);
  }
}

function visible() {
  return [...mounted.keys()].some((node) => node.isConnected && node.offsetParent !== null);
}

async function refresh() {
  if (!app.token || !visible()) return;
  try {
    latest = await api("site");
    redraw();
  } catch {
    // the outage line says it; the next event or tick tries again
  }
}

// An alert changed somewhere: ask again, once for a burst of events.
export function planChanged() {
  clearTimeout(pending);
  pending = setTimeout(refresh, AFTER_EVENT_MS);
}

setInterval(refresh, REFRESH_MS);
