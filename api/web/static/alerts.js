// The alert list: what matters first (the API's `sort=priority`), filters kept in the URL
// (#/alerts?severity=critical&building=darong-b&q=lobby&range=24h), counts per severity in
// their colours (also in the tab's title and icon), bulk acknowledge, live updates.

import { api, app, buildingName, buildings, can } from "./api.js";
import { compareAlerts, isNewer, SEVERITIES } from "./alert_order.js";
import { applyAction, fillAlertRow } from "./alert_row.js";
import { alertSummary, el, t } from "./common.js";
import { groupByIncident, openIncidents } from "./incident.js";

const $ = (id) => document.getElementById(id);
const PAGE = 100;
const RANGES = { "1h": 1, "6h": 6, "24h": 24, "7d": 168, "30d": 720 };
const STATES = { open: ["firing", "acknowledged"], firing: ["firing"], acknowledged: ["acknowledged"], resolved: ["resolved"], all: [] };
const FIELDS = ["state", "severity", "building", "kind", "rule", "q", "range"];

const list = {
  alerts: new Map(), // id -> alert shown
  rows: new Map(), // id -> <li>
  selected: new Set(),
  filter: { state: "open" },
  cursor: null,
  total: 0,
  countsTimer: null,
  incidents: new Map(), // alert id -> open incident: its alerts are shown together
};
app.alertsById = list.alerts;

// ---------------------------------------------------------------- the filter and the URL

export function filterFromHash() {
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  const filter = { state: "open" };
  for (const name of FIELDS) if (query.get(name)) filter[name] = query.get(name);
  if (!(filter.state in STATES)) filter.state = "open";
  if (filter.range && !(filter.range in RANGES)) delete filter.range;
  return filter;
}

function hashOf(filter) {
  const query = new URLSearchParams();
  for (const name of FIELDS) if (filter[name] && !(name === "state" && filter[name] === "open")) query.set(name, filter[name]);
  const text = query.toString();
  return `#/alerts${text ? "?" + text : ""}`;
}

// The API query for a filter (without sort and paging).
function apiQuery(filter) {
  const query = new URLSearchParams();
  for (const state of STATES[filter.state]) query.append("state", state);
  for (const name of ["severity", "building", "kind", "rule", "q"]) if (filter[name]) query.set(name, filter[name]);
  if (filter.range) query.set("since", new Date(Date.now() - RANGES[filter.range] * 3600000).toISOString());
  return query;
}

function matches(alert, filter) {
  const states = STATES[filter.state];
  if (states.length && !states.includes(alert.state)) return false;
  for (const name of ["severity", "building", "kind", "rule"]) if (filter[name] && alert[name] !== filter[name]) return false;
  if (filter.q) {
    const needle = filter.q.toLowerCase();
    if (![alertSummary(alert), alert.summary, alert.device, alert.building, alert.rule].some((v) => v.toLowerCase().includes(needle))) return false;
  }
  if (filter.range && Date.parse(alert.started_at) < Date.now() - RANGES[filter.range] * 3600000) return false;
  return true;
}

function fillForm(filter) {
  $("f-state").value = filter.state;
  $("f-severity").value = filter.severity || "";
  $("f-building").value = filter.building || "";
  $("f-kind").value = filter.kind || "";
  $("f-rule").value = filter.rule || "";
  $("f-q").value = filter.q || "";
  $("f-range").value = filter.range || "";
}

function formFilter() {
  const filter = { state: $("f-state").value };
  for (const [name, id] of [["severity", "f-severity"], ["building", "f-building"], ["kind", "f-kind"], ["rule", "f-rule"], ["q", "f-q"], ["range", "f-range"]]) {
    const value = $(id).value.trim();
    if (value) filter[name] = value;
  }
  return filter;
}

$("alert-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!event.target.reportValidity()) return;
  location.hash = hashOf(formFilter());
});
$("alert-filters").addEventListener("change", (event) => {
  if (event.target.tagName === "SELECT") location.hash = hashOf(formFilter());
});
$("f-clear").addEventListener("click", () => (location.hash = "#/alerts"));

// ---------------------------------------------------------------- loading

export async function showAlerts() {
  const filter = filterFromHash();
  const same = JSON.stringify(filter) === JSON.stringify(list.filter) && list.loaded;
  list.filter = filter;
  if (!$("f-building").options.length || $("f-building").options.length === 1) {
    const all = await buildings();
    $("f-building").append(...all.map((b) => el("option", { value: b.building }, buildingName(b))));
  }
  fillForm(filter);
  // Open on a wide screen or when a filter is set; on a phone the alerts come first.
  const active = Object.keys(filter).filter((k) => k !== "state" || filter.state !== "open").length;
  $("filter-active").textContent = active ? `(${active})` : "";
  if (!list.boxSet) {
    $("filter-box").open = active > 0 || matchMedia("(min-width: 1600px)").matches;
    list.boxSet = true;
  }
  if (!same) await loadAlerts();
}

export async function loadAlerts() {
  const query = apiQuery(list.filter);
  query.set("sort", "priority");
  query.set("limit", String(PAGE));
  // Alerts the stream brings while the page is on its way are newer than it: kept, not dropped
  // (seen: a cabinet opened just after sign-in never reached the list).
  const during = new Map();
  list.arriving = during;
  let page, incidents;
  try {
    [page, incidents] = await Promise.all([api(`alerts?${query}`), openIncidents().catch(() => new Map())]);
  } finally {
    if (list.arriving === during) list.arriving = null;
  }
  list.incidents = incidents;
  list.alerts.clear();
  list.selected.clear();
  for (const a of page.items) list.alerts.set(a.id, a);
  for (const a of during.values()) {
    if (!isNewer(a, list.alerts.get(a.id))) continue;
    if (matches(a, list.filter)) list.alerts.set(a.id, a);
    else list.alerts.delete(a.id);
  }
  list.cursor = page.next_cursor;
  list.loaded = true;
  showCounts(page.counts);
  render();
  refreshTitle();
}

async function loadMore() {
  if (!list.cursor) return;
  const query = apiQuery(list.filter);
  query.set("sort", "priority");
  query.set("limit", String(PAGE));
  query.set("cursor", list.cursor);
  const page = await api(`alerts?${query}`);
  for (const a of page.items) list.alerts.set(a.id, a);
  list.cursor = page.next_cursor;
  render();
}
$("alert-more").addEventListener("click", loadMore);

// Counts change with every event: asked for again, at most once a second and a half.
function countsLater() {
  clearTimeout(list.countsTimer);
  list.countsTimer = setTimeout(async () => {
    try {
      const page = await api(`alerts?${apiQuery(list.filter)}&limit=1`);
      showCounts(page.counts);
      await refreshTitle();
    } catch {
      // the outage banner says it; the next event tries again
    }
  }, 1500);
}

function showCounts(counts) {
  list.total = STATES[list.filter.state].length
    ? STATES[list.filter.state].reduce((sum, s) => sum + (counts.state[s] || 0), 0)
    : Object.values(counts.state).reduce((a, b) => a + b, 0);
  // The chips count what the filter shows: with a severity chosen, the others say what they would bring.
  $("severity-counts").replaceChildren(
    ...SEVERITIES.map((sev) =>
      el(
        "button",
        {
          type: "button",
          class: `chip sev-${sev}`,
          "data-severity": sev,
          "aria-pressed": String(list.filter.severity === sev),
          onclick: () => (location.hash = hashOf({ ...list.filter, severity: list.filter.severity === sev ? undefined : sev })),
        },
        `${t("severity." + sev)} `,
        el("span", { class: "count" }, String(counts.severity[sev] || 0)),
      ),
    ),
  );
}

// The tab's title and icon: firing alerts per severity, whatever the filter, for a glance from another tab.
async function refreshTitle() {
  const page = await api("alerts?state=firing&limit=1");
  const sev = page.counts.severity;
  const firing = Object.values(sev).reduce((a, b) => a + b, 0);
  const base = document.body.dataset.title || document.title;
  document.body.dataset.title = base;
  const urgent = sev.critical ? `${sev.critical} ${t("severity.critical")} · ` : sev.major ? `${sev.major} ${t("severity.major")} · ` : "";
  document.title = firing ? `(${firing}) ${urgent}${base}` : base;
  const level = sev.critical ? "critical" : sev.major ? "major" : firing ? "minor" : "ok";
  $("favicon").setAttribute("href", `${$("favicon").dataset.base}/favicon-${level}.svg`);
  $("alert-count").hidden = firing === 0;
  $("alert-count").textContent = String(firing);
  $("alert-count").className = `badge sev-${sev.critical ? "critical" : sev.major ? "major" : "info"}`;
}

// ---------------------------------------------------------------- live updates

// An alert from the stream or from an action: shown, moved or dropped as the filter says.
export function takeAlert(alert, event = null) {
  list.arriving?.set(alert.id, alert);
  const held = list.alerts.get(alert.id);
  if (!isNewer(alert, held)) return false;
  if (held?.ack_note && !alert.ack_note) alert.ack_note = held.ack_note;
  if (matches(alert, list.filter)) list.alerts.set(alert.id, alert);
  else list.alerts.delete(alert.id);
  if (event !== "loaded") render();
  countsLater();
  if (alert.kind === "aed" && !list.incidents.has(alert.id)) incidentsLater();
  return true;
}

// Which alerts form an incident is the server's answer: asked again after an AED alert arrives.
function incidentsLater() {
  clearTimeout(list.incidentsTimer);
  list.incidentsTimer = setTimeout(async () => {
    try {
      list.incidents = await openIncidents();
      render();
    } catch {
      // the rows stay ungrouped until the next answer
    }
  }, 300);
}

// ---------------------------------------------------------------- rendering

function render() {
  const ul = $("alert-list");
  const sorted = groupByIncident([...list.alerts.values()].sort(compareAlerts), list.incidents);
  const keep = new Set(sorted.map((a) => a.id));
  for (const [id, li] of list.rows) {
    if (!keep.has(id)) {
      li.remove();
      list.rows.delete(id);
      list.selected.delete(id);
    }
  }
  const selectable = can("ack");
  let previous = null;
  for (const alert of sorted) {
    let li = list.rows.get(alert.id);
    const incident = list.incidents.get(alert.id);
    const version = `${alert.updated_at}${alert.state}${list.selected.has(alert.id)}${incident?.id}`;
    if (!li) {
      li = el("li", { class: "alert" });
      list.rows.set(alert.id, li);
    }
    if (li.dataset.version !== version) {
      fillAlertRow(li, alert, { selectable, selected: list.selected.has(alert.id), onSelect: select });
      li.dataset.version = version;
      if (incident) {
        li.dataset.incident = String(incident.id);
        li.querySelector(".meta")?.prepend(
          el("a", { href: `#/incident/${incident.id}`, "data-role": "incident", class: incident.drill ? "drill-flag" : null }, `${incident.drill ? t("incident.drill") + " · " : ""}${t("incident.title")} #${incident.id}`),
        );
      } else delete li.dataset.incident;
    }
    // Move a row only when it is out of place: moving a row takes the keyboard focus out of it.
    const expected = previous ? previous.nextElementSibling : ul.firstElementChild;
    if (expected !== li) ul.insertBefore(li, expected);
    previous = li;
  }
  $("alert-empty").hidden = sorted.length > 0;
  $("alert-more").hidden = !list.cursor;
  $("alert-summary").textContent = t("alerts.shown").replace("{n}", sorted.length).replace("{total}", Math.max(list.total, sorted.length));
  updateBulk();
  fetchNotes(sorted);
}

// The list's JSON has no notes: for acknowledged alerts near the top, read the note from the
// alert's events once (at most 20 a time), so "who acknowledged, and what they said" is on the row.
const NOTES_AT_ONCE = 20;
async function fetchNotes(sorted) {
  const wanted = sorted.filter((a) => a.state === "acknowledged" && a.ack_note === undefined && !list.asked?.has(a.id)).slice(0, NOTES_AT_ONCE);
  list.asked ??= new Set();
  for (const a of wanted) {
    list.asked.add(a.id);
    try {
      const detail = await api(`alerts/${a.id}`);
      const ack = [...detail.events].reverse().find((e) => e.event === "acknowledged");
      const held = list.alerts.get(a.id);
      if (held && ack?.note) {
        held.ack_note = ack.note;
        const li = list.rows.get(a.id);
        if (li) {
          fillAlertRow(li, held, { selectable: can("ack"), selected: false, onSelect: select });
          li.dataset.version = "";
        }
      }
    } catch {
      // the note is in the detail view too
    }
  }
}

// ---------------------------------------------------------------- bulk acknowledge

function select(id, on) {
  if (on) list.selected.add(id);
  else list.selected.delete(id);
  updateBulk();
}

function updateBulk() {
  for (const id of list.selected) if (list.alerts.get(id)?.state !== "firing") list.selected.delete(id);
  const firing = [...list.alerts.values()].filter((a) => a.state === "firing");
  $("bulk").hidden = !can("ack") || firing.length === 0;
  $("bulk-ack").disabled = list.selected.size === 0;
  $("bulk-ack").textContent = t("bulk.ack").replace("{n}", list.selected.size);
  $("bulk-all").checked = firing.length > 0 && firing.every((a) => list.selected.has(a.id));
}

$("bulk-all").addEventListener("change", (event) => {
  for (const a of list.alerts.values()) {
    if (a.state !== "firing") continue;
    if (event.target.checked) list.selected.add(a.id);
    else list.selected.delete(a.id);
    const box = list.rows.get(a.id)?.querySelector("input.pick");
    if (box) box.checked = event.target.checked;
  }
  updateBulk();
});

$("bulk-ack").addEventListener("click", async () => {
  const ids = [...list.selected];
  const note = $("bulk-note").value.trim();
  $("bulk-ack").disabled = true;
  let done = 0;
  let failed = 0;
  for (const id of ids) {
    try {
      await applyAction(id, "ack", note);
      done += 1;
    } catch (error) {
      if (error.status === 401) return;
      failed += 1;
    }
    list.selected.delete(id);
  }
  $("bulk-note").value = "";
  $("action-status").textContent = t(failed ? "bulk.done_failed" : "bulk.done").replace("{n}", done).replace("{f}", failed);
  updateBulk();
  $("bulk-all").focus();
});

export function resetAlerts() {
  list.alerts.clear();
  list.selected.clear();
  for (const li of list.rows.values()) li.remove();
  list.rows.clear();
  list.loaded = false;
}
