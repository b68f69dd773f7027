// The device page (#/device/{building}/{kind}/{device}): latest reading, history chart, its alerts.

import { api } from "./api.js";
import { fillAlertRow } from "./alert_row.js";
import { CONFIG, el, fmtNumber, fmtTime, t, timeChart } from "./common.js";

const $ = (id) => document.getElementById(id);
const NUMERIC_FIELDS = {
  parking_space: ["battery_pct"],
  parking_lot: ["occupied", "capacity", "entered", "exited"],
  aed: ["battery_pct", "temp_c"],
  canteen: ["occupancy", "queue_length", "takeaway_pending", "capacity"],
};

// A reading's field in the page's language; a field we have no word for keeps its name.
function fieldName(key) {
  const word = t("field." + key);
  return word === "field." + key ? key : word;
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
    ...Object.entries(d.reading || {}).map(([k, v]) => [fieldName(k), typeof v === "number" ? fmtNumber(v, 1) : String(v)]),
  ];
  $("device-latest").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  await refreshDeviceAlerts();
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
  const start = new Date(Date.now() - hours * 3600000).toISOString();
  try {
    const history = await api(`devices/${building}/${kind}/${device}/history?field=${field}&start=${encodeURIComponent(start)}`);
    const drawn = timeChart(node, field, history.points);
    $("history-empty").hidden = Boolean(drawn);
  } catch (error) {
    node.replaceChildren();
    $("history-empty").hidden = false;
    // 503: the API has no history store (InfluxDB) reachable: no data, not a fault of the page.
    $("history-empty").textContent = error.status === 503 ? t("buildings.nodata") : `${t("buildings.nodata")} (${error.message})`;
  }
}
$("history-field").addEventListener("change", drawHistory);
$("history-range").addEventListener("change", drawHistory);

