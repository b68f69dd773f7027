// The device page (#/device/{building}/{kind}/{device}): latest reading, history chart, its alerts.

import { api } from "./api.js";
import { fillAlertRow } from "./alert_row.js";
import { CONFIG, el, fmtNumber, fmtTime, plural, t } from "./common.js";
import { fmtValue, historyChart } from "./history_chart.js";

const $ = (id) => document.getElementById(id);
const NUMERIC_FIELDS = {
  parking_space: ["battery_pct"],
  parking_lot: ["occupied", "capacity", "entered", "exited"],
  aed: ["battery_pct", "temp_c"],
  canteen: ["occupancy", "queue_length", "takeaway_pending", "capacity"],
};

// Unit and scale of each numeric field: percentages on a fixed 0-100 scale, counts from 0 (up to
// the device's capacity when it has one, so a half-full garage looks half full).
const FIELD_SPECS = {
  battery_pct: { unit: "%", min: 0, max: 100 },
  temp_c: { unit: "°C", digits: 1 },
  occupied: { unit: t("unit.spaces"), min: 0, upToCapacity: true },
  capacity: { unit: t("unit.spaces"), min: 0 },
  entered: { unit: t("unit.vehicles"), min: 0 },
  exited: { unit: t("unit.vehicles"), min: 0 },
  occupancy: { unit: t("unit.people"), min: 0, upToCapacity: true },
  queue_length: { unit: t("unit.people"), min: 0 },
  takeaway_pending: { unit: t("unit.orders"), min: 0 },
};
let capacity = null; // of the device on screen, for the scale of its counts
let shownDevice = null; // the device whose range choice is on screen

// A reading's field in the page's language; a field we have no word for keeps its name.
function fieldName(key) {
  const word = t("field." + key);
  return word === "field." + key ? key : word;
}

// A reading's value in the page's language: numbers by the locale, an AED's state and yes/no
// in words; anything we have no word for as sent.
function readingText(key, value) {
  if (typeof value === "number") return fmtNumber(value, 1);
  if (typeof value === "boolean") return t(value ? "value.yes" : "value.no");
  const word = key === "state" ? t("aed." + value) : null;
  return word && word !== "aed." + value ? word : String(value);
}

function currentDevice() {
  const parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean).map(decodeURIComponent);
  return parts[0] === "device" ? parts.slice(1) : null;
}

export async function loadDevice(building, kind, device, { chart = true } = {}) {
  const d = await api(`devices/${building}/${kind}/${device}`);
  $("device-title").textContent = `${t("kind." + kind)} · ${building} / ${device}`;
  const rows = [
    [t("device.status"), t("status." + d.status)],
    [t("device.seen"), fmtTime(d.last_seen, true)],
    // The registry writes "中文 / English": the page's half.
    ...(d.location ? [[t("device.location"), d.location.split(" / ")[CONFIG.lang === "en" ? 1 : 0] || d.location]] : []),
    ...Object.entries(d.reading || {}).map(([k, v]) => [fieldName(k), readingText(k, v)]),
  ];
  $("device-latest").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  await refreshDeviceAlerts();
  capacity = typeof d.reading?.capacity === "number" ? d.reading.capacity : typeof d.capacity === "number" ? d.capacity : null;
  const place = `${building}/${kind}/${device}`;
  if (shownDevice !== place) {
    // A new device starts from the default range: a week chosen for one garage is not a choice
    // for the next AED.
    const range = $("history-range");
    range.value = [...range.options].find((o) => o.defaultSelected)?.value ?? range.options[0].value;
    shownDevice = place;
  }
  if (chart) {
    const select = $("history-field");
    const fields = NUMERIC_FIELDS[kind] || [];
    if (select.dataset.kind !== kind) {
      select.replaceChildren(...fields.map((f) => el("option", { value: f }, fieldName(f))));
      select.dataset.kind = kind;
    }
    await drawHistory();
  }
}

export async function refreshDeviceAlerts() {
  const place = currentDevice();
  if (!place) return;
  const [building, kind, device] = place;
  const page = await api(`alerts?building=${building}&kind=${kind}&device=${device}&limit=20&sort=-started_at`);
  $("device-alerts").replaceChildren(...(page.items.length ? page.items.map((a) => {
    const li = el("li", { class: "alert" });
    fillAlertRow(li, a, { actions: false });
    return li;
  }) : [el("li", { class: "muted" }, t("alerts.none"))]));
}

async function drawHistory() {
  const place = currentDevice();
  if (!place) return;
  const [building, kind, device] = place;
  const field = $("history-field").value;
  const hours = Number($("history-range").value);
  const node = $("history-chart");
  if (!field) {
    node.replaceChildren();
    $("history-empty").hidden = false;
    return;
  }
  const toS = Math.floor(Date.now() / 1000);
  const fromS = toS - hours * 3600;
  const iso = (s) => encodeURIComponent(new Date(s * 1000).toISOString());
  const rangeLabel = $("history-range").selectedOptions[0].textContent;
  try {
    const history = await api(`devices/${building}/${kind}/${device}/history?field=${field}&start=${iso(fromS)}&end=${iso(toS)}`);
    const base = FIELD_SPECS[field] || {};
    const spec = base.upToCapacity && capacity ? { ...base, max: Math.max(capacity, ...history.points.map((p) => Number(p.v) || 0)) } : base;
    const drawn = historyChart(node, history.points, { label: fieldName(field), spec, fromS, toS });
    $("history-empty").hidden = Boolean(drawn);
    describeHistory(drawn ? history.points : [], spec, fieldName(field), rangeLabel);
  } catch (error) {
    node.replaceChildren();
    describeHistory([], {}, fieldName(field), rangeLabel);
    $("history-empty").hidden = false;
    // 503: the API has no history store (InfluxDB) reachable: no data, not a fault of the page.
    $("history-empty").textContent = error.status === 503 ? t("buildings.nodata") : `${t("buildings.nodata")} (${error.message})`;
  }
}
// The canvas is an image to a screen reader: its text alternative is a sentence (how many points,
// lowest, highest, latest, each with its time) and the data as a table, behind a disclosure.
function describeHistory(points, spec, label, rangeLabel) {
  const summary = $("history-summary");
  const box = $("history-table-box");
  const numeric = points.filter((p) => typeof p.v === "number");
  if (numeric.length === 0) {
    summary.textContent = "";
    $("history-chart").removeAttribute("aria-label");
    $("history-chart").removeAttribute("role");
    box.hidden = true;
    return;
  }
  const low = numeric.reduce((a, b) => (b.v < a.v ? b : a));
  const high = numeric.reduce((a, b) => (b.v > a.v ? b : a));
  const last = numeric[numeric.length - 1];
  const longRange = Number($("history-range").value) > 24;
  const at = (p) => fmtTime(p.t, longRange);
  summary.textContent = t("history.summary")
    .replace("{field}", label)
    .replace("{range}", rangeLabel)
    .replace("{points}", plural("history.points", numeric.length))
    .replace("{min}", fmtValue(low.v, spec))
    .replace("{min_at}", at(low))
    .replace("{max}", fmtValue(high.v, spec))
    .replace("{max_at}", at(high))
    .replace("{last}", fmtValue(last.v, spec))
    .replace("{last_at}", at(last));
  $("history-chart").setAttribute("role", "img");
  $("history-chart").setAttribute("aria-label", summary.textContent);
  $("history-table-head").textContent = `${t("history.value")}${spec.unit ? ` (${spec.unit})` : ""}`;
  $("history-table-body").replaceChildren(
    ...numeric.map((p) => el("tr", {}, el("td", {}, fmtTime(p.t, true)), el("td", {}, fmtValue(p.v, { ...spec, unit: null, digits: spec.digits ?? 1 })))),
  );
  box.hidden = false;
}

$("history-field").addEventListener("change", drawHistory);
$("history-range").addEventListener("change", drawHistory);

