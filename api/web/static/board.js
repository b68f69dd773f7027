// The public board: canteen load and the best time to go, free parking. No token, read-only.
// Polls the cached board JSON; the server rebuilds it at most every few seconds however many
// screens and phones ask.

import { CONFIG, dayChart, el, fmtNumber, fmtPercent, fmtTime, loadLevel, t } from "./common.js";

const POLL_MS = 30000;

function buildingName(entry) {
  return CONFIG.lang === "en" && entry.name_en ? entry.name_en : entry.name || entry.building;
}

function located(text) {
  // Registry locations read "中文 / English".
  if (!text) return "";
  const parts = text.split(" / ");
  return (CONFIG.lang === "en" ? parts[1] : parts[0]) || text;
}

function bestText(best, load) {
  if (best.status === "closed") return t("board.closed");
  if (best.status !== "ok" || !best.at) return t("board.no_forecast");
  const soon = Date.parse(best.at) - Date.now() < 5 * 60000;
  return soon ? t("board.best_now") : fmtTime(best.at);
}

function canteenCard(c) {
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
      el("span", { class: "best", "data-field": "best" }, bestText(c.best)),
      c.best.status === "ok" && c.best.load !== null ? el("span", { class: "sub" }, ` (${t("board.expected")} ${fmtPercent(c.best.load)})`) : null,
    ),
    el("h3", {}, t("board.curve")),
    el(
      "div",
      { class: "legend" },
      el("span", {}, el("span", { class: "swatch", style: "background:#0a58a8" }), t("board.today")),
      el("span", {}, el("span", { class: "swatch", style: "background:#8a8f98" }), t("board.typical")),
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
  try {
    const response = await fetch(CONFIG.board_json, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    board = await response.json();
  } catch (error) {
    document.body.dataset.error = String(error);
    return;
  }
  const canteens = document.getElementById("canteens");
  const cards = board.canteens.map(canteenCard);
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
  updated.textContent = fmtTime(board.generated_at);
  updated.setAttribute("datetime", board.generated_at);
  document.body.dataset.loaded = "true";
}

refresh();
setInterval(refresh, POLL_MS);
