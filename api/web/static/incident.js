// One AED incident (GET /api/v1/incidents/{id}): where the cabinet is, the AED's live state
// (open -> in use -> back), who was paged on which channel and when it arrived, who acknowledged,
// the escalation counting down, the response times, the response steps and a timeline of every
// moment. Shown by the patrol's phone and by the dashboard (#/incident/{id}); the steps are
// buttons by role: "on my way" and "on site" for patrols and up, "handed to ambulance" and the
// closing note for operators and up. A drill says so at the top, in a colour of its own.
//
// Everything shown is the API's: the grouping of alerts into incidents, the times and the next
// escalation are computed by the server (rules/incidents.py), never here.

import { api, app, buildingLabel, can } from "./api.js";
import { CONFIG, alertSummary, el, fmtTime, t } from "./common.js";
import { showPlan } from "./site_plan.js";

const PATROL_STEPS = ["en_route", "on_site"];
const OPERATOR_STEPS = ["handed_over"];
const REFRESH_MS = 10000;

const current = { container: null, id: null, incident: null, timer: null, tick: null, soon: null, backHref: "#/alerts", plan: null };
const PLAN_LINKS = Boolean(document.getElementById("view-building")); // only the dashboard opens a building

// The open incidents, as alert id -> incident summary: lists group an incident's alerts by it.
export async function openIncidents() {
  const byAlert = new Map();
  if (!can("ack")) return byAlert; // incidents are for patrols and up (the API says 403 below)
  const page = await api("incidents?state=open&limit=100");
  for (const incident of page.items) for (const id of incident.alert_ids) byAlert.set(id, incident);
  return byAlert;
}

// The alerts of one incident side by side, at the place of its most urgent one: grouped, never
// hidden. `sorted` in the list's order; `incidents` as openIncidents() gives them.
export function groupByIncident(sorted, incidents) {
  const out = [];
  const placed = new Set();
  for (const alert of sorted) {
    if (placed.has(alert.id)) continue;
    const incident = incidents.get(alert.id);
    for (const member of incident ? sorted.filter((a) => incident.alert_ids.includes(a.id)) : [alert]) {
      placed.add(member.id);
      out.push(member);
    }
  }
  return out;
}

export function isIncidentAlert(alert) {
  return alert.kind === "aed" && (alert.rule === "aed-cabinet-open" || alert.rule === "aed-in-use");
}

// "42 s", "2 min 35 s": response times are read to the second.
export function secondsText(seconds) {
  if (seconds === null || seconds === undefined) return t("incident.not_yet");
  const s = Math.round(seconds);
  if (s < 60) return t("dur.s").replace("{s}", s);
  return t("dur.m_s").replace("{m}", Math.floor(s / 60)).replace("{s}", s % 60);
}

function placeText(text) {
  if (!text) return null;
  const parts = text.split(" / ");
  return parts.length === 2 ? parts[CONFIG.lang === "en" ? 1 : 0] : text;
}

// Where the AED is in its story, from its latest reading: open -> in use -> back.
function stageOf(device, state) {
  if (device.state === "in_use") return "in_use";
  if (device.cabinet_open === true) return "open";
  if (device.cabinet_open === false || state === "closed") return "back";
  return "open";
}

export async function showIncident(container, id, { backHref = "#/alerts" } = {}) {
  if (current.id !== id) hideIncident();
  current.container = container;
  current.id = id;
  current.backHref = backHref;
  const incident = await api(`incidents/${id}`);
  if (current.id !== id) return;
  current.incident = incident;
  // One plan per incident, kept across renders (site_plan.js keeps it current): drawn again on
  // every render it would flicker and ask for the site each time.
  current.plan = el("div", { class: "plan inc-plan", id: "incident-plan", "data-role": "plan" });
  render();
  const marked = { building: incident.building, device: incident.device };
  showPlan(current.plan, { highlight: incident.building, marked, linked: PLAN_LINKS }).catch(() => {
    current.plan?.replaceChildren(el("p", { class: "muted" }, t("plan.no_figure")));
  });
  clearInterval(current.timer);
  current.timer = setInterval(() => reload().catch(() => {}), REFRESH_MS);
  clearInterval(current.tick);
  current.tick = setInterval(tickEscalation, 1000);
}

export function hideIncident() {
  clearInterval(current.timer);
  clearInterval(current.tick);
  clearTimeout(current.soon);
  current.id = null;
  current.incident = null;
  current.plan = null;
}

async function reload() {
  if (current.id === null) return;
  const id = current.id;
  const incident = await api(`incidents/${id}`);
  if (current.id !== id) return;
  current.incident = incident;
  render();
}

// An alert event from the stream: the open incident is read again if it may be about it (one of
// its alerts, or a new alert of the same cabinet that may join it).
export function incidentNews(alert) {
  const incident = current.incident;
  if (!incident) return;
  const ours = incident.alert_ids.includes(alert.id) || (alert.building === incident.building && alert.device === incident.device);
  if (!ours) return;
  clearTimeout(current.soon);
  current.soon = setTimeout(() => reload().catch(() => {}), 150);
}

function tickEscalation() {
  const node = current.container?.querySelector('[data-role="escalation"]');
  const due = current.incident?.escalation_due_at;
  if (!node || !due || current.incident.acknowledged_at) return;
  const left = Math.max(0, Math.round((Date.parse(due) - Date.now()) / 1000));
  const text = left > 0 ? t("incident.escalation_in").replace("{t}", `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`) : t("incident.escalation_due");
  node.textContent = text;
  node.dataset.left = String(left);
}

function section(title, ...children) {
  return el("section", { class: "inc-part panel" }, el("h3", {}, title), ...children);
}

// Where: building, floor and the location text, beside the site plan with the building
// highlighted and the cabinet ringed.
function placePart(incident) {
  const where = incident.location;
  const part = section(
    t("incident.where"),
    el(
      "div",
      { class: "inc-place-text" },
      el(
        "p",
        { "data-role": "where", class: "inc-where" },
        [buildingLabel(incident.building), where.floor, placeText(where.location)].filter(Boolean).join(" · "),
      ),
      el("p", { class: "muted" }, `${incident.building}/${incident.device}`),
    ),
    current.plan,
  );
  part.classList.add("inc-place");
  return part;
}

function render() {
  const incident = current.incident;
  const box = current.container;
  if (!incident || !box) return;
  const device = incident.device_state;
  const stage = stageOf(device, incident.state);
  const focused = document.activeElement?.dataset?.step;
  const stageList = el(
    "ol",
    { class: "stages", "data-role": "stages", "data-stage": stage },
    ...["open", "in_use", "back"].map((name) =>
      el("li", { "data-stage": name, "aria-current": name === stage ? "step" : null }, t(`incident.stage.${name}`)),
    ),
  );
  const ack = incident.acknowledged_at
    ? `${t("incident.ack")}: ${incident.acknowledged_by} ${fmtTime(incident.acknowledged_at)}`
    : t("incident.not_acked");
  const escalation =
    incident.acknowledged_at || incident.state === "closed"
      ? null
      : el("p", { class: "flag-bad", "data-role": "escalation" }, incident.escalation_due_at ? "" : t("incident.no_escalation"));
  const parts = [
    el("p", {}, el("a", { href: current.backHref, class: "button secondary" }, `← ${t("incident.back")}`)),
    incident.drill ? el("p", { class: "drill-flag", "data-role": "drill" }, t("incident.drill")) : null,
    el(
      "h2",
      { id: "incident-title", tabindex: "-1" },
      `${t("incident.title")} #${incident.id} `,
      el("span", { class: `badge state incident-${incident.state}`, "data-role": "incident-state" }, t(`incident.${incident.state}`)),
    ),
    el("p", { class: "inc-summary", "data-role": "summary" }, alertSummary(incident.alerts[0] || { summary: incident.summary })),
    el(
      "div",
      { class: "inc-grid" },
      placePart(incident),
      section(
        t("incident.device"),
        stageList,
        el("p", { class: "muted", "data-role": "device-ts" }, device.ts ? t("incident.stage_at").replace("{time}", fmtTime(device.ts, true)) : "—"),
      ),
      section(t("incident.ack"), el("p", { "data-role": "ack" }, ack), escalation),
      stepsPart(incident),
      section(
        t("incident.times"),
        el(
          "dl",
          { class: "kv", "data-role": "timings" },
          ...["time_to_ack_s", "time_to_site_s", "time_to_return_s"].flatMap((name) => [
            el("dt", {}, t(`incident.${name.replace(/_s$/, "")}`)),
            el("dd", { "data-timing": name }, secondsText(incident.timings[name])),
          ]),
        ),
      ),
      section(
        t("incident.paged"),
        incident.deliveries.length
          ? el("ul", { class: "rows", "data-role": "deliveries" }, ...incident.deliveries.map(deliveryItem))
          : el("p", { class: "muted" }, t("incident.paged_none")),
      ),
    ),
    section(t("detail.timeline"), el("ol", { class: "timeline", "data-role": "timeline" }, ...incident.timeline.map(timelineItem))),
    section(
      t("incident.alerts"),
      el(
        "ul",
        { class: "rows", "data-role": "incident-alerts" },
        ...incident.alerts.map((a) =>
          el(
            "li",
            { "data-id": a.id },
            el("span", { class: `badge state state-${a.state}` }, t("state." + a.state)),
            el("span", {}, `#${a.id} ${alertSummary(a)}`),
          ),
        ),
      ),
    ),
  ];
  // replaceChildren would write a null as the text "null": the drill line is there or not.
  box.replaceChildren(...parts.filter(Boolean));
  box.dataset.id = String(incident.id);
  box.dataset.state = incident.state;
  box.dataset.drill = String(incident.drill);
  tickEscalation();
  if (focused) box.querySelector(`[data-step="${focused}"]`)?.focus();
}

function stepsPart(incident) {
  const steps = [];
  if (can("ack") && incident.state === "open") steps.push(...PATROL_STEPS);
  if (can("resolve") && incident.state === "open") steps.push(...OPERATOR_STEPS);
  const done = new Set(incident.steps.map((s) => s.step));
  const list = el(
    "ul",
    { class: "rows", "data-role": "steps" },
    ...incident.steps.map((s) =>
      el("li", { "data-step": s.step }, `${fmtTime(s.at)} ${t("step." + s.step)} · ${s.by || ""}${s.note ? " · " + s.note : ""}`),
    ),
  );
  const buttons = el(
    "div",
    { class: "step-buttons" },
    ...steps.map((step) =>
      el(
        "button",
        { type: "button", class: done.has(step) ? "secondary" : "", "data-step": step, onclick: (e) => record(e.currentTarget, step) },
        t("do." + step),
      ),
    ),
  );
  const closing = can("resolve")
    ? el(
        "div",
        { class: "closing" },
        el("label", { for: "closing-note" }, t("incident.closing_text")),
        el("textarea", { id: "closing-note", maxlength: 2000, rows: 2 }),
        el("button", { type: "button", "data-step": "closing_note", onclick: (e) => record(e.currentTarget, "closing_note") }, t("do.closing_note")),
      )
    : null;
  return section(t("incident.steps"), steps.length ? buttons : null, list, closing);
}

async function record(button, step) {
  const incident = current.incident;
  let note;
  if (step === "closing_note") {
    note = current.container.querySelector("#closing-note")?.value.trim();
    if (!note) return current.container.querySelector("#closing-note")?.focus();
  }
  button.disabled = true;
  try {
    current.incident = await api(`incidents/${incident.id}/steps`, { method: "POST", body: note ? { step, note } : { step } });
    render();
    const status = document.getElementById("action-status");
    if (status) status.textContent = t("incident.step_done").replace("{step}", t("step." + step));
  } catch (error) {
    button.disabled = false;
    button.title = error.detail || error.message;
    const status = document.getElementById("action-status");
    if (status && error.status !== 401) status.textContent = `${t("alert.failed")}: ${error.message}`;
  }
}

function deliveryItem(d) {
  const when = d.delivered_at || d.finished_at;
  return el(
    "li",
    { "data-receiver": d.receiver, "data-status": d.status, "data-channel": d.channel },
    el("span", {}, `${d.receiver} (${d.channel}) · ${t("event." + d.event) === "event." + d.event ? d.event : t("event." + d.event)}`),
    el("span", { class: d.status === "delivered" ? "flag-ok" : "flag-bad" }, `${t("delivery." + d.status)} ${when ? fmtTime(when, true) : fmtTime(d.created_at, true)}`),
  );
}

function eventLabel(entry) {
  if (entry.event.startsWith("delivery_")) {
    const status = entry.event.slice("delivery_".length);
    return `${t("event.notified")} ${entry.by} (${entry.channel}) · ${t("delivery." + status)}`;
  }
  const key = t("step." + entry.event) !== "step." + entry.event ? "step." + entry.event : "event." + entry.event;
  const name = entry.event === "resolved" && !entry.by ? t("event.cleared") : t(key);
  return `${name}${entry.by ? " · " + entry.by : ""}`;
}

function timelineItem(entry) {
  return el(
    "li",
    { class: "event", "data-event": entry.event },
    el("time", { datetime: entry.at }, fmtTime(entry.at, true)),
    el("span", { class: "what" }, eventLabel(entry)),
    entry.note && !entry.event.startsWith("delivery_") && entry.event !== "escalated" ? el("span", { class: "note-text" }, entry.note) : null,
  );
}

app.incidentNews = incidentNews;
