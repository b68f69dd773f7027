// The operators' dashboard: sign-in, the event stream and the views (#/alerts, #/alert/{id},
// #/buildings, #/device/..., #/silences). Each view lives in its own module; this one wires them.
//
// What the token's role may do (GET /api/v1/session) decides which buttons are drawn; the API
// checks again on every call.

import { ApiError, TOKEN_KEY, app } from "./api.js";
import { clearAlarm, loadCritical, noteAlert, unlockAudio } from "./alarm.js";
import { showAlert } from "./alert_detail.js";
import { loadAlerts, resetAlerts, showAlerts, takeAlert } from "./alerts.js";
import { showBuilding } from "./building_view.js";
import { loadBuildings } from "./buildings.js";
import { CONFIG, t } from "./common.js";
import { loadDevice, refreshDeviceAlerts } from "./device.js";
import { hideIncident, incidentNews, showIncident } from "./incident.js";
import { showSilences } from "./silences.js";
import { planChanged, showPlan } from "./site_plan.js";
import { openStream } from "./sse.js";
import { showWallSide } from "./wall.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 30000;
const VIEWS = ["alerts", "alert", "buildings", "building", "silences", "device", "incident"];

let stream = null;
let refreshTimer = null;

// Every alert that reaches the page, from the stream or from an action, goes through here.
app.onAlert = (alert, event) => {
  takeAlert(alert, event);
  noteAlert(alert, event);
  planChanged();
  incidentNews(alert);
  const view = currentView();
  if (view.name === "device") refreshDeviceAlerts().catch(() => {});
  if (view.name === "alert" && Number(view.args[0]) === alert.id) showAlert(alert.id).catch(() => {});
};
app.onUnauthorized = () => signOut(t("signin.bad"));
// The outage line: shown while the API does not answer or the stream is down, gone when both
// are back (the stream retries by itself; views retry every 5 s).
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
  let response;
  try {
    response = await fetch(`${CONFIG.api}/session`, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, String(error));
  }
  if (!response.ok) throw new ApiError(response.status);
  app.session = await response.json();
  sessionStorage.setItem(TOKEN_KEY, token);
  for (const id of ["app", "signout", "live", "sound-toggle", "whoami"]) $(id).hidden = false;
  $("signin").hidden = true;
  $("whoami").textContent = `${app.session.name} · ${t("role." + app.session.role)}`;
  document.body.dataset.role = app.session.role;
  startStream();
  await Promise.all([loadCritical(), route()]);
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  stream?.close();
  stream = null;
  app.token = null;
  app.session = null;
  clearInterval(refreshTimer);
  resetAlerts();
  clearAlarm();
  for (const id of ["app", "signout", "live", "sound-toggle", "whoami", "outage"]) $(id).hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("token").value = "";
  $("token").focus();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  unlockAudio();
  const button = event.submitter;
  if (button) button.disabled = true;
  $("signin-error").textContent = "";
  try {
    await signIn($("token").value.trim());
  } catch (error) {
    app.token = null;
    $("signin-error").textContent = error.status === 401 ? t("signin.bad") : t("signin.unreachable");
  } finally {
    if (button) button.disabled = false;
  }
});
$("signout").addEventListener("click", () => signOut());

// Keep the page's place when switching language: the hash is the view.
$("lang-switch").addEventListener("click", (event) => {
  event.preventDefault();
  const url = new URL(event.currentTarget.href);
  url.hash = location.hash;
  location.assign(url);
});

// ---------------------------------------------------------------- the event stream

function setLive(state) {
  const live = $("live");
  live.dataset.state = state;
  live.textContent = t(state === "connected" ? "live.connected" : state === "lost" ? "live.lost" : "live.connecting");
}

function startStream() {
  stream?.close();
  let wasLost = false;
  stream = openStream({
    url: `${CONFIG.api}/events`,
    token: app.token,
    onState: (state) => {
      if (state === "unauthorized") return signOut(t("signin.bad"));
      setLive(state);
      outage.stream = state === "lost";
      showOutage();
      if (state === "lost") wasLost = true;
      // Back after a drop: the replay covers the events, a reload covers counts and the view.
      if (state === "connected" && wasLost) {
        wasLost = false;
        Promise.all([loadCritical(), route({ reload: true })]).catch(() => {});
      }
    },
    onEvent: (_type, data) => {
      let event;
      try {
        event = JSON.parse(data);
      } catch {
        return;
      }
      if (!event.alert) return;
      if (event.event === "acknowledged" && event.note) event.alert.ack_note = event.note;
      app.onAlert(event.alert, event.event);
    },
  });
}

// ---------------------------------------------------------------- views

function currentView() {
  const [path] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const name = VIEWS.includes(parts[0]) ? parts[0] : "alerts";
  return { name, args: parts.slice(1) };
}

async function route({ reload = false } = {}) {
  if (!app.session) return;
  const view = currentView();
  for (const section of document.querySelectorAll("main > section[data-view]")) section.hidden = section.dataset.view !== view.name;
  for (const link of document.querySelectorAll("nav.tabs a")) {
    const tab = { device: "buildings", building: "buildings", alert: "alerts", incident: "alerts" }[view.name] || view.name;
    if (link.dataset.view === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clearInterval(refreshTimer);
  if (view.name !== "incident") hideIncident();
  try {
    const side = showWallSide(view.name);
    if (view.name === "incident") {
      await showIncident($("view-incident"), Number(view.args[0]));
    } else if (view.name === "alerts") {
      if (reload) await loadAlerts();
      else await showAlerts();
      await side;
    } else if (view.name === "alert") {
      await showAlert(Number(view.args[0]));
    } else if (view.name === "buildings") {
      await Promise.all([loadBuildings(), showPlan($("buildings-plan"))]);
      refreshTimer = setInterval(() => loadBuildings().catch(() => {}), REFRESH_MS);
    } else if (view.name === "building") {
      await showBuilding(view.args[0]);
      refreshTimer = setInterval(() => showBuilding(view.args[0]).catch(() => {}), REFRESH_MS);
    } else if (view.name === "device") {
      await loadDevice(...view.args);
      refreshTimer = setInterval(() => loadDevice(...view.args, { chart: false }).catch(() => {}), REFRESH_MS);
    } else if (view.name === "silences") {
      await showSilences();
    }
    $("view-error").hidden = true;
  } catch (error) {
    if (error.status === 401) return;
    $("view-error").hidden = false;
    $("view-error").textContent = `${t("view.failed")}: ${error.message}`;
    // Try again until the API answers: the page recovers without a reload.
    refreshTimer = setTimeout(() => route({ reload: true }), 5000);
  }
}
window.addEventListener("hashchange", () => route());

// ---------------------------------------------------------------- start

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  signIn(saved).catch((error) => signOut(error.status === 401 ? t("signin.bad") : t("signin.unreachable")));
} else {
  signOut();
}
