// The public board: canteen load and the best time to go, free parking. No token, read-only.
// Polls the cached board JSON; the server rebuilds it at most every few seconds however many
// screens and phones ask.

import { areaIso, syncClock } from "./area_clock.js";
import { CONFIG, dayChart, el, fmtNumber, fmtPercent, fmtTime, loadLevel, t } from "./common.js";

// Every 10 s: a lobby screen must notice an outage within seconds, and the server answers from
// its 5 s cache however many screens ask.
const POLL_MS = 10000;
// Older than this, the board's figures are called out of date (three polls missed).
const STALE_MS = 35000;

let shownAt = null; // when the figures on screen were built (epoch ms, by this browser's clock)
let shownGenerated = null; // the board's own generated_at for them
let failing = false;

function buildingName(entry) {
  return CONFIG.lang === "en" && entry.name_en ? entry.name_en : entry.name || entry.building;
}

function located(text) {
  // Registry locations read "中文 / English".
  if (!text) return "";
  const parts = text.split(" / ");
  return (CONFIG.lang === "en" ? parts[1] : parts[0]) || text;
}

function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 90 ? t("board.ago_s").replace("{n}", s) : t("board.ago_min").replace("{n}", Math.round(s / 60));
}

// The age of what is on screen, and a plain sentence when it is out of date: the API does not
// answer, or its last answer is old. Run on every poll and every few seconds in between.
function showAge() {
  const line = document.getElementById("board-stale");
  if (shownAt === null) {
    line.hidden = !failing;
    line.textContent = failing ? t("board.offline").replace("{time}", "—") : "";
    document.body.dataset.stale = String(failing);
    return;
  }
  const age = Date.now() - shownAt;
  document.getElementById("board-age").textContent = `(${ago(age)})`;
  const stale = failing || age > STALE_MS;
  line.hidden = !stale;
  line.textContent = failing ? t("board.offline").replace("{time}", fmtTime(areaIso(shownGenerated))) : stale ? t("board.old").replace("{age}", ago(age)) : "";
  document.body.dataset.stale = String(stale);
}

// `areaNow`: the area's time when the board was built (a demo's simulated time, else the real one).
function bestText(best, areaNow) {
  if (best.status === "closed") return t("board.closed");
  if (best.status !== "ok" || !best.at) return t("board.no_forecast");
  // Against the board's own clock, not this browser's: they may differ (and in a demo, the
  // area's clock runs simulated time).
  const soon = Date.parse(best.at) - Date.parse(areaNow) < 5 * 60000;
  return soon ? t("board.best_now") : fmtTime(best.at);
}

function hasPoints(points) {
  return points.some((p) => p.load !== null);
}

function canteenCard(c, areaNow) {
  const level = loadLevel(c.load);
  const chart = el("div", { class: "chart", role: "img", "aria-label": t("board.curve") });
  const card = el(
    "section",
    { class: "panel canteen", "aria-labelledby": `canteen-${c.device}` },
    el("h2", { id: `canteen-${c.device}` }, `${t("board.canteen")} · ${located(c.location) || c.device}`),
    el(
      "div",
      { class: "toolbar" },
      el(
        "div",
        {},
        el("div", { class: "sub" }, t("board.load_now")),
        el("div", { class: "headline", "data-field": "load" }, c.stale ? "—" : fmtPercent(c.load)),
        el("div", { class: "sub" }, c.stale ? t("board.stale") : `${fmtNumber(c.occupancy)} / ${fmtNumber(c.capacity)} ${t("board.seats")}`),
        el("div", { class: "sub", "data-field": "reading" }, t("board.last_reading").replace("{time}", fmtTime(areaIso(c.updated_at)))),
      ),
      level ? el("span", { class: `level level-${level}` }, t("load." + level)) : null,
      typeof c.queue_length === "number"
        ? el("div", {}, el("div", { class: "sub" }, t("board.queue")), el("div", { class: "best" }, fmtNumber(c.queue_length)))
        : null,
    ),
    el(
      "p",
      {},
      el("span", { class: "sub" }, `${t("board.best")}: `),
      el("span", { class: "best", "data-field": "best" }, bestText(c.best, areaNow)),
      c.best.status === "ok" && c.best.load !== null ? el("span", { class: "sub" }, ` (${t("board.expected")} ${fmtPercent(c.best.load)})`) : null,
    ),
    el("h3", {}, t("board.curve")),
    // A legend entry only for a line that is drawn.
    el(
      "div",
      { class: "legend" },
      hasPoints(c.today) ? el("span", { "data-series": "today" }, el("span", { class: "swatch today" }), t("board.today")) : null,
      hasPoints(c.typical) ? el("span", { "data-series": "typical" }, el("span", { class: "swatch typical" }), t("board.typical")) : null,
    ),
    chart,
  );
  return [card, chart];
}

function parkingBlock(p) {
  const rows = el("ul", { class: "rows" });
  for (const lot of p.lots) {
    rows.append(
      el(
        "li",
        { "data-lot": lot.lot },
        el("span", {}, lot.floor ? `${lot.floor}` : lot.lot, " ", el("span", { class: "muted" }, located(lot.location))),
        el("span", {}, el("span", { class: "lot-free" }, lot.free === null ? "—" : fmtNumber(lot.free)), ` / ${fmtNumber(lot.capacity)}`),
      ),
    );
  }
  return el(
    "div",
    { class: "building" },
    el(
      "h3",
      {},
      buildingName(p),
      " · ",
      el("span", { "data-field": "free" }, p.free === null ? t("board.stale") : `${fmtNumber(p.free)} ${t("buildings.free")}`),
    ),
    rows,
  );
}

async function refresh() {
  let board;
  let age = 0;
  try {
    const response = await fetch(CONFIG.board_json, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    board = await response.json();
    age = Number(response.headers.get("Age")) || 0;
  } catch (error) {
    // Keep the figures, and say plainly that they are from before the outage.
    failing = true;
    showAge();
    return;
  }
  failing = false;
  if (board.clock) syncClock(board.clock, board.generated_at);
  shownAt = Date.now() - age * 1000;
  shownGenerated = board.generated_at;
  const canteens = document.getElementById("canteens");
  const cards = board.canteens.map((c) => canteenCard(c, board.clock ? board.clock.now : board.generated_at));
  canteens.replaceChildren(...cards.map(([card]) => card));
  board.canteens.forEach((c, i) => {
    const today = c.today.map((p) => [p.minute, p.load]);
    const typical = c.typical.map((p) => [p.minute, p.load]);
    dayChart(cards[i][1], [
      { label: t("board.today"), points: today, width: 3 },
      { label: t("board.typical"), points: typical, dash: [6, 4], spanGaps: true },
    ]);
  });
  document.getElementById("parking").replaceChildren(...board.parking.map(parkingBlock));
  const updated = document.getElementById("board-updated");
  // The board's clock: the area's time of the build (simulated in a demo, and then said so above).
  updated.textContent = fmtTime(areaIso(board.generated_at));
  updated.setAttribute("datetime", areaIso(board.generated_at));
  document.body.dataset.loaded = "true";
  showAge();
}

refresh();
setInterval(refresh, POLL_MS);
setInterval(showAge, 5000);
