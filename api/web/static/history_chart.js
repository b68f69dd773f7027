// A device's history chart that tells the truth: the x axis is the chosen range (not the data's
// extent), its ticks fall on whole hours or days of the area's time zone and read in the page's
// language, the y axis has the field's unit and a fixed scale where the field has one (0-100 % for
// a battery), and a lone point is drawn. The canvas says nothing to a screen reader, so the caller
// builds a text alternative beside it (device.js).

import { COLOURS, CONFIG, fmtNumber, locale, zoneOffsetMs } from "./common.js";

const HOUR = 3600;
const DAY = 24 * HOUR;

// Tick spacing per range: a label every hour over 6 h, every 3 h over a day, daily over a week.
function tickStep(spanS) {
  if (spanS <= 6 * HOUR) return HOUR;
  if (spanS <= DAY) return 3 * HOUR;
  return DAY;
}

// Ticks on whole steps of local time: 09:00, 12:00 ... or each local midnight.
function localTicks(fromS, toS, step) {
  const offsetS = zoneOffsetMs(new Date(fromS * 1000)) / 1000;
  const ticks = [];
  for (let tick = Math.ceil((fromS + offsetS) / step) * step - offsetS; tick <= toS; tick += step) ticks.push(tick);
  return ticks;
}

const hourFormat = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: CONFIG.timezone });
const dayFormat = new Intl.DateTimeFormat(locale, { month: "numeric", day: "numeric", weekday: "short", timeZone: CONFIG.timezone });

export function fmtValue(value, spec) {
  if (value === null || value === undefined) return "—";
  const digits = spec.digits ?? 0;
  return spec.unit === "%" ? `${fmtNumber(value, digits)}%` : `${fmtNumber(value, digits)}${spec.unit ? ` ${spec.unit}` : ""}`;
}

// `points`: [{t: ISO, v}] from the history API. `spec`: {unit, min, max, digits} of the field; a
// missing min or max follows the data (with 0 kept in view for counts). `fromS`/`toS`: the range.
export function historyChart(node, points, { label, spec, fromS, toS, height = 260 }) {
  node.replaceChildren();
  const xs = [];
  const ys = [];
  for (const p of points) {
    const v = typeof p.v === "number" ? p.v : p.v === true ? 1 : p.v === false ? 0 : null;
    xs.push(Date.parse(p.t) / 1000);
    ys.push(v);
  }
  const values = ys.filter((v) => v !== null);
  if (values.length === 0) return null;
  const dataMin = Math.min(...values);
  const dataMax = Math.max(...values);
  const pad = dataMax === dataMin ? Math.max(Math.abs(dataMax) * 0.1, 1) : (dataMax - dataMin) * 0.1;
  const yMin = spec.min ?? dataMin - pad;
  // A count starting at 0 gets headroom above its highest value, and never a 0-0 scale.
  const yMax = spec.max ?? (spec.min !== undefined ? Math.max(dataMax * 1.1, spec.min + 1) : dataMax + pad);
  const step = tickStep(toS - fromS);
  const colour = COLOURS[0];
  const opts = {
    width: Math.max(node.clientWidth, 260),
    height,
    // Room on the right for the last time label, which uPlot centres on its tick.
    padding: [12, 28, 0, 0],
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false, range: [fromS, toS] }, y: { range: [yMin, yMax] } },
    axes: [
      {
        splits: () => localTicks(fromS, toS, step),
        values: (u, ticks) => ticks.map((s) => (step >= DAY ? dayFormat : hourFormat).format(new Date(s * 1000))),
        stroke: "#4a5565",
        grid: { stroke: "#e3e8ef" },
      },
      {
        // The unit once, in the axis title (unless the field's name already holds it); the ticks
        // are bare numbers, percentages excepted.
        label: spec.unit && !label.includes(spec.unit) ? `${label} (${spec.unit})` : label,
        values: (u, ticks) => ticks.map((v) => (spec.unit === "%" ? `${fmtNumber(v)}%` : fmtNumber(v, spec.unit === "°C" ? 1 : 0))),
        stroke: "#4a5565",
        grid: { stroke: "#e3e8ef" },
        size: 64,
      },
    ],
    series: [
      {},
      {
        label,
        stroke: colour,
        width: 2,
        // Aggregated windows may be few: a lone point has no line to draw, so dots until there are many.
        points: { show: values.length < 40, size: 8, fill: colour },
      },
    ],
  };
  // What the axes show, for tests and for anyone inspecting the page.
  node.dataset.x = `${fromS},${toS}`;
  node.dataset.y = `${yMin},${yMax}`;
  node.dataset.ticks = opts.axes[0].values(null, localTicks(fromS, toS, step)).join("|");
  // eslint-disable-next-line no-undef
  return new uPlot(opts, [xs, ys], node);
}
