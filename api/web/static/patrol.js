// The patrol's phone (/patrol): what this patrol's handset is paged about first
// (GET /api/v1/me/alerts, from the notifier's routing file), the other open alerts below, the
// critical banner on one line, acknowledge with a note in two taps (the button, then a quick
// note), everything within a thumb's reach. The same token, stream and alarm as the dashboard.
//
// A phone that locks freezes the page and may kill its connection without telling it. When the
// page comes back (resume, visibilitychange, pageshow, online) the stream is reopened at once
// with Last-Event-ID, so the API replays every event missed meanwhile: the list is brought up to
// date by the replay, not by reloading it.

import { ApiError, TOKEN_KEY, api, app, buildingLabel, buildings, can } from "./api.js";
import { clearAlarm, loadCritical, noteAlert, unlockAudio } from "./alarm.js";
import { compareAlerts, isNewer } from "./alert_order.js";
import { CONFIG, alertSummary, durationText, el, fmtTime, t } from "./common.js";
import { groupByIncident, hideIncident, incidentNews, isIncidentAlert, openIncidents, showIncident } from "./incident.js";
import { openStream } from "./sse.js";

const $ = (id) => document.getElementById(id);
const OPEN = ["firing", "acknowledged"];
const MINE_REFRESH_MS = 30000;

const view = {
  alerts: new Map(), // id -> open alert
  routed: new Map(), // id -> {paged, called} from /me/alerts
  incidents: new Map(), // alert id -> open incident (GET /api/v1/incidents): its alerts grouped
  receivers: [],
  stream: null,
  mineTimer: null,
  ackFor: null, // the alert the sheet acknowledges
  arriving: null, // alerts from the stream while the list loads
  lastEventId: null,
};
app.alertsById = view.alerts;

app.onUnauthorized = () => signOut(t("signin.bad"));
const outage = { api: false, stream: false };
function showOutage() {
  $("outage").hidden = !app.session || !(outage.api || outage.stream);
}
app.onReachable = (ok) => {
  outage.api = !ok;
  showOutage();
};

// ---------------------------------------------------------------- sign-in

async function signIn(token) {
  app.token = token;
  let me;
  try {
    me = await api("me");
  } catch (error) {
    app.token = null;
    throw error;
  }
  app.session = me;
  view.receivers = me.receivers.map((r) => r.name);
  sessionStorage.setItem(TOKEN_KEY, token);
  for (const id of ["app", "pfoot", "live", "whoami"]) $(id).hidden = false;
  $("signin").hidden = true;
  $("whoami").textContent = me.name;
  document.body.dataset.role = me.role;
  const none = me.receivers.length === 0;
  $("no-receivers").hidden = !none;
  $("no-receivers").textContent = t("patrol.no_receivers").replace("{name}", me.name);
  startStream();
  await Promise.all([loadAll(), loadCritical()]);
  route();
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  view.stream?.close();
  view.stream = null;
  app.token = null;
  app.session = null;
  view.alerts.clear();
  view.routed.clear();
  clearInterval(view.mineTimer);
  clearAlarm();
  for (const id of ["app", "pfoot", "live", "whoami", "outage"]) $(id).hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("token").value = "";
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  unlockAudio();
  $("signin-error").textContent = "";
  try {
    await signIn($("token").value.trim());
  } catch (error) {
    $("signin-error").textContent = error.status === 401 ? t("signin.bad") : t("signin.unreachable");
  }
});
$("signout").addEventListener("click", () => signOut());
$("lang-switch").addEventListener("click", (event) => {
  event.preventDefault();
  const url = new URL(event.currentTarget.href);
  url.hash = location.hash;
  location.assign(url);
});

// ---------------------------------------------------------------- data

async function loadAll() {
  // Alerts the stream brings while the list is on its way are newer than the list: kept.
  const during = new Map();
  view.arriving = during;
  const [page, mine, incidents] = await Promise.all([
    api("alerts?state=firing&state=acknowledged&sort=priority&limit=200"),
    api("me/alerts"),
    openIncidents(),
    buildings(),
  ]);
  view.incidents = incidents;
  view.alerts.clear();
  for (const a of page.items) view.alerts.set(a.id, a);
  view.arriving = null;
  for (const a of during.values()) {
    if (!isNewer(a, view.alerts.get(a.id))) continue;
    if (OPEN.includes(a.state)) view.alerts.set(a.id, a);
    else view.alerts.delete(a.id);
  }
  takeMine(mine);
  $("view-error").hidden = true;
  clearInterval(view.mineTimer);
  // Escalation levels come due with time alone: ask again now and then.
  view.mineTimer = setInterval(() => refreshMine().catch(() => {}), MINE_REFRESH_MS);
}

function takeMine(mine) {
  view.routed.clear();
  for (const item of mine.items) {
    view.routed.set(item.alert.id, { paged: item.paged, called: item.called });
    const held = view.alerts.get(item.alert.id);
    if (isNewer(item.alert, held)) view.alerts.set(item.alert.id, item.alert);
  }
  render();
}

let mineSoon = null;
// The routing of alerts and the grouping into incidents are the server's: asked again together.
async function refreshMine() {
  const [mine, incidents] = await Promise.all([api("me/alerts"), openIncidents()]);
  view.incidents = incidents;
  takeMine(mine);
}
// Which alerts are paged to whom is the server's answer (the routing file): asked again shortly
// after an alert is raised, at most every 300 ms however many arrive.
function refreshMineSoon() {
  clearTimeout(mineSoon);
  mineSoon = setTimeout(() => refreshMine().catch(() => {}), 300);
}

// An alert from the stream or from an action.
function takeAlert(alert, event) {
  view.arriving?.set(alert.id, alert);
  const held = view.alerts.get(alert.id);
  if (!isNewer(alert, held)) return;
  if (held?.ack_note && !alert.ack_note) alert.ack_note = held.ack_note;
  if (OPEN.includes(alert.state)) view.alerts.set(alert.id, alert);
  else view.alerts.delete(alert.id);
  noteAlert(alert, event);
  incidentNews(alert);
  if ((!held && alert.state !== "resolved") || isIncidentAlert(alert)) refreshMineSoon();
  render();
}

// ---------------------------------------------------------------- the stream, lock and wake

function setLive(state) {
  const live = $("live");
  live.dataset.state = state;
  live.textContent = t(state === "connected" ? "live.connected" : state === "lost" ? "live.lost" : "live.connecting");
}

function startStream() {
  view.stream?.close();
  let replayFrom = null;
  let replayed = 0;
  view.stream = openStream({
    url: `${CONFIG.api}/events`,
    token: app.token,
    lastEventId: view.lastEventId,
    onState: (state) => {
      if (state === "unauthorized") return signOut(t("signin.bad"));
      setLive(state);
      outage.stream = state === "lost";
      showOutage();
      if (state === "lost") replayFrom = view.lastEventId;
      if (state === "connected" && replayFrom !== null) {
        // The replay brings the alerts; the routing of new ones and the banner are asked for.
        replayed = 0;
        refreshMine().catch(() => {});
        loadCritical().catch(() => {});
        setTimeout(() => {
          if (replayed) $("action-status").textContent = t("patrol.resumed").replace("{n}", replayed);
        }, 1000);
      }
    },
    onEvent: (_type, data, lastId) => {
      let event;
      try {
        event = JSON.parse(data);
      } catch {
        return;
      }
      view.lastEventId = lastId;
      document.body.dataset.lastEventId = String(lastId);
      if (replayFrom !== null && Number(lastId) > Number(replayFrom)) replayed += 1;
      if (!event.alert) return;
      if (event.event === "acknowledged" && event.note) event.alert.ack_note = event.note;
      takeAlert(event.alert, event.event);
    },
  });
}

function wakeUp() {
  if (!app.session || !view.stream) return;
  document.body.dataset.wakes = String(Number(document.body.dataset.wakes || 0) + 1);
  view.stream.reconnect();
  render(); // ages ("firing for N min") moved on while the phone slept
}
document.addEventListener("resume", wakeUp); // Page Lifecycle: a frozen page runs again
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") wakeUp();
});
window.addEventListener("pageshow", (event) => {
  if (event.persisted) wakeUp();
});
window.addEventListener("online", wakeUp);

// ---------------------------------------------------------------- rendering

// The registry's location text may hold both languages, "中文 / English": the page's one.
function placeText(text) {
  if (!text) return null;
  const parts = text.split(" / ");
  return parts.length === 2 ? parts[CONFIG.lang === "en" ? 1 : 0] : text;
}

export function whereText(alert) {
  const labels = alert.labels || {};
  return [buildingLabel(alert.building), labels.floor, placeText(labels.location) || alert.device].filter(Boolean).join(" · ");
}

function pagedText(paged) {
  return paged
    .map((p) => (p.called ? t("patrol.paged").replace("{receiver}", p.receiver) : t("patrol.paged_later").replace("{receiver}", p.receiver).replace("{time}", fmtTime(p.due_at))))
    .join(" · ");
}

function card(alert) {
  const routed = view.routed.get(alert.id);
  const age = t(alert.state === "firing" ? "alert.firing_for" : "alert.open_for").replace("{d}", durationText(alert.started_at));
  const li = el(
    "li",
    {
      class: "card",
      id: `alert-${alert.id}`,
      tabindex: "-1",
      "data-id": alert.id,
      "data-severity": alert.severity,
      "data-state": alert.state,
      "data-mine": routed ? (routed.called ? "called" : "later") : null,
    },
    el(
      "div",
      { class: "card-head" },
      el("span", { class: `badge sev-${alert.severity}` }, t("severity." + alert.severity)),
      el("span", { class: `badge state state-${alert.state}`, "data-role": "state" }, t("state." + alert.state)),
      el("span", { class: "age" }, age),
    ),
    el("p", { class: "card-title" }, alertSummary(alert)),
    el("p", { class: "where", "data-role": "where" }, whereText(alert)),
    routed ? el("p", { class: "paged", "data-role": "paged" }, pagedText(routed.paged)) : null,
    alert.acknowledged_by
      ? el(
          "p",
          { class: "acked", "data-role": "ack-note" },
          `${t("alert.acked_by")} ${alert.acknowledged_by} ${fmtTime(alert.acknowledged_at)}${alert.ack_note ? ` · ${alert.ack_note}` : ""}`,
        )
      : null,
  );
  const incident = view.incidents.get(alert.id);
  if (incident) {
    li.dataset.incident = String(incident.id);
    if (incident.drill) li.prepend(el("p", { class: "drill-flag", "data-role": "drill" }, t("incident.drill")));
    if (incident.alert_ids.length > 1) li.append(el("p", { class: "paged", "data-role": "incident-of" }, `${t("incident.of")} #${incident.id}`));
  }
  const actions = el("div", { class: "card-actions" });
  if (can("ack") && alert.state === "firing")
    actions.append(el("button", { type: "button", class: "ack", "data-action": "ack", onclick: () => openSheet(alert) }, t("alert.ack")));
  if (incident)
    actions.append(el("a", { class: "button respond", href: `#/incident/${incident.id}`, "data-action": "incident" }, t("incident.open_view")));
  if (actions.childElementCount) li.append(actions);
  return li;
}

function render() {
  if (!app.session) return;
  const open = [...view.alerts.values()].filter((a) => OPEN.includes(a.state));
  const mine = open.filter((a) => view.routed.has(a.id));
  // Called ones first (the level has come), then the rest of mine, each by priority.
  mine.sort((a, b) => Number(view.routed.get(b.id).called) - Number(view.routed.get(a.id).called) || compareAlerts(a, b));
  const others = open.filter((a) => !view.routed.has(a.id)).sort(compareAlerts);
  const focused = document.activeElement?.closest?.("li.card")?.dataset.id;
  $("mine-list").replaceChildren(...groupByIncident(mine, view.incidents).map(card));
  $("others-list").replaceChildren(...groupByIncident(others, view.incidents).map(card));
  $("mine-count").textContent = String(mine.length);
  $("others-count").textContent = String(others.length);
  $("mine-empty").hidden = mine.length > 0 || view.receivers.length === 0;
  $("others-empty").hidden = others.length > 0;
  if (focused) document.getElementById(`alert-${focused}`)?.focus();
}

setInterval(render, 30000); // "firing for N min" stays true

// ---------------------------------------------------------------- acknowledge in two taps

function openSheet(alert) {
  view.ackFor = alert;
  $("ack-what").textContent = `#${alert.id} ${alertSummary(alert)} · ${whereText(alert)}`;
  $("ack-note").value = "";
  $("ack-sheet").showModal();
  $("ack-sheet").querySelector(".preset").focus();
}

async function acknowledge(note) {
  const alert = view.ackFor;
  if (!alert) return;
  const buttons = $("ack-sheet").querySelectorAll("button");
  for (const b of buttons) b.disabled = true;
  try {
    const updated = await api(`alerts/${alert.id}/ack`, { method: "POST", body: note ? { note } : {} });
    if (note) updated.ack_note = note;
    takeAlert(updated, null);
    $("action-status").textContent = t("patrol.acked").replace("{id}", alert.id).replace("{note}", note || "—");
    $("ack-sheet").close();
    document.getElementById(`alert-${alert.id}`)?.focus();
  } catch (error) {
    if (error.status !== 401) $("action-status").textContent = `${t("alert.failed")}: ${error.message}`;
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

for (const preset of document.querySelectorAll("#ack-sheet .preset")) {
  preset.addEventListener("click", () => acknowledge(preset.dataset.note));
}
$("ack-send").addEventListener("click", () => acknowledge($("ack-note").value.trim()));
$("ack-note").addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    acknowledge($("ack-note").value.trim());
  }
});

// ---------------------------------------------------------------- where the banner points

// #/alert/{id}: the banner's link. The alert's card is brought into view and focused.
function route() {
  const match = location.hash.match(/^#\/alert\/(\d+)/);
  const incident = location.hash.match(/^#\/incident\/(\d+)/);
  $("view-list").hidden = Boolean(incident);
  $("view-incident").hidden = !incident;
  if (incident) {
    showIncident($("view-incident"), Number(incident[1]))
      .then(() => $("incident-title")?.focus())
      .catch((error) => {
        $("view-error").hidden = false;
        $("view-error").textContent = `${t("view.failed")}: ${error.message}`;
      });
    return;
  }
  hideIncident();
  $("view-error").hidden = true;
  if (match) {
    const node = document.getElementById(`alert-${match[1]}`);
    node?.scrollIntoView({ block: "center" });
    node?.focus();
  }
}
window.addEventListener("hashchange", route);

// ---------------------------------------------------------------- start

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  signIn(saved).catch((error) => signOut(error instanceof ApiError && error.status === 401 ? t("signin.bad") : t("signin.unreachable")));
} else {
  signOut();
}
