// Shared by the dashboard and the board: the page's words, its settings, formatting, charts.

export const T = JSON.parse(document.getElementById("i18n").textContent);
export const CONFIG = JSON.parse(document.getElementById("page-config").textContent);

export function t(key) {
  return T[key] ?? key;
}

export const locale = CONFIG.lang === "zh" ? "zh-CN" : "en-GB";
const plurals = new Intl.PluralRules(locale);

// A counted phrase in the page's language: `key.one`, `key.other`, ... by the language's plural
// rules ("1 point", "2 points"; Chinese has one form), with {n} filled in.
export function plural(key, n) {
  const form = T[`${key}.${plurals.select(n)}`] ?? T[`${key}.other`] ?? key;
  return form.replace("{n}", fmtNumber(n));
}

// An alert's summary in the page's language: the rules give one per language (labels
// `summary_zh`, `summary_en`, rendered by the rules engine); a rule with one text has only `summary`.
export function alertSummary(alert) {
  return alert.labels?.[`summary_${CONFIG.lang}`] || alert.summary;
}

// "5 min", "2 h 5 min" / "5 分钟", "2 小时 5 分钟".
export function durationText(fromIso, toIso = null) {
  const ms = (toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso);
  const minutes = Math.max(0, Math.floor(ms / 60000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const text = h ? t("dur.hours_minutes").replace("{h}", h).replace("{m}", m) : t("dur.minutes").replace("{m}", m);
  return text;
}

export function fmtTime(iso, withDate = false) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  const options = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: CONFIG.timezone };
  if (withDate) Object.assign(options, { month: "2-digit", day: "2-digit" });
  return date.toLocaleString(locale, options);
}

export function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined) return "—";
  return Number(value).toLocaleString(locale, { maximumFractionDigits: digits });
}

export function fmtPercent(load) {
  if (load === null || load === undefined) return "—";
  return `${Math.round(load * 100)}%`;
}

export function loadLevel(load) {
  if (load === null || load === undefined) return null;
  if (load >= 0.95) return "full";
  if (load >= 0.8) return "high";
  if (load >= 0.5) return "medium";
  return "low";
}

// Build an element: el("li", {class: "x", "data-id": 3}, child, "text", ...). Text is never parsed
// as HTML: device names and notes come from outside.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Seconds since local midnight in the area's time zone, for the x axis of day curves.
export function localMinutes(iso) {
  const parts = new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: CONFIG.timezone,
  }).formatToParts(new Date(iso));
  const get = (type) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get("hour") * 60 + get("minute");
}

// The offset of the area's zone from UTC at `now`, from the difference between its wall clock and UTC.
export function zoneOffsetMs(now = new Date()) {
  const wall = new Date(now.toLocaleString("en-US", { timeZone: CONFIG.timezone }));
  return wall.getTime() - new Date(now.toLocaleString("en-US", { timeZone: "UTC" })).getTime();
}

export function localMidnight(now = new Date()) {
  const offsetMs = zoneOffsetMs(now);
  const localNow = new Date(now.getTime() + offsetMs);
  localNow.setUTCHours(0, 0, 0, 0);
  return new Date(localNow.getTime() - offsetMs);
}

function hhmm(minutes) {
  const h = Math.floor(minutes / 60) % 24;
  const m = Math.round(minutes % 60);
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

export const COLOURS = ["#0a58a8", "#8a8f98", "#b3261e", "#176336"];

// A day curve chart: x in minutes after local midnight, y a load in %. `series` is a list of
// {label, points: [[minute, load]], dash}. Redrawn in place when called again on the same node.
export function dayChart(node, series, { height = 200, yMax = 110, from = 6 * 60, to = 21 * 60 } = {}) {
  const minutes = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  // The working day at least, widened to whatever the data covers.
  const xRange = [Math.min(from, minutes[0] ?? from), Math.max(to, (minutes[minutes.length - 1] ?? to) + 15)];
  const data = [minutes];
  for (const s of series) {
    const byMinute = new Map(s.points.map(([m, v]) => [m, v === null ? null : v * 100]));
    data.push(minutes.map((m) => (byMinute.has(m) ? byMinute.get(m) : null)));
  }
  const opts = {
    width: Math.max(node.clientWidth, 260),
    height,
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false, range: xRange }, y: { range: [0, yMax] } },
    axes: [
      // Ticks on whole hours: 06:00, 08:00, ... rather than uPlot's default decimal steps.
      { values: (u, ticks) => ticks.map(hhmm), incrs: [60, 120, 180, 240, 360], stroke: "#4a5565", grid: { stroke: "#e3e8ef" } },
      { values: (u, ticks) => ticks.map((v) => `${v}%`), stroke: "#4a5565", grid: { stroke: "#e3e8ef" }, size: 56 },
    ],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.colour ?? COLOURS[i % COLOURS.length],
        width: s.width ?? 2,
        dash: s.dash,
        spanGaps: s.spanGaps ?? false,
        // A lone reading has no line to draw: show the dots (filled, to be seen) until there are a few.
        points: { show: s.points.filter((p) => p[1] !== null).length < 4, size: 9, fill: s.colour ?? COLOURS[i % COLOURS.length] },
      })),
    ],
  };
  node.replaceChildren();
  if (minutes.length === 0) return null;
  // eslint-disable-next-line no-undef
  return new uPlot(opts, data, node);
}
