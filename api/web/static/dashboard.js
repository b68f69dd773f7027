// The operators' dashboard: live alerts, buildings, device detail, silences.
//
// The token is kept in sessionStorage (this tab only, gone when it closes) and sent as a Bearer
// header on every call, the event stream included (see sse.js). What the token's role may do
// (GET /api/v1/session) decides which buttons are drawn; the API checks again on every call.

import { CONFIG, dayChart, el, fmtNumber, fmtPercent, fmtTime, localMidnight, localMinutes, t, timeChart } from "./common.js";
import { openStream } from "./sse.js";

const API = CONFIG.api;
const TOKEN_KEY = "louyu.token";
const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, warning: 3, info: 4 };
const STATE_RANK = { firing: 0, acknowledged: 1, resolved: 2 };
const NUMERIC_FIELDS = {
  parking_space: ["battery_pct"],
  parking_lot: ["occupied", "capacity", "entered", "exited"],
  aed: ["battery_pct", "temp_c"],
  canteen: ["occupancy", "queue_length", "takeaway_pending", "capacity"],
};
const PADS_WARN_DAYS = 30;
const REFRESH_MS = 30000;

const $ = (id) => document.getElementById(id);

const app = {
  token: null,
  session: null,
  alerts: new Map(), // id -> alert JSON
  rows: new Map(), // id -> <li>
  filter: "open",
  stream: null,
  buildings: [],
  refreshTimer: null,
  soundOn: true,
  audio: null,
  bannerDismissed: new Set(),
};

// ---------------------------------------------------------------- API calls

class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${app.token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path.startsWith("/") ? path : `${API}/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (response.status === 401) {
    signOut(t("signin.bad"));
    throw new ApiError(401);
  }
  if (!response.ok) {
    let detail = "";
    try {
      const problem = await response.json();
      detail = typeof problem.detail === "string" ? problem.detail : JSON.stringify(problem.detail);
    } catch {
      // not JSON: keep the status alone
    }
    throw new ApiError(response.status, detail);
  }
  return response.status === 204 ? null : response.json();
}

const can = (permission) => Boolean(app.session?.permissions.includes(permission));

// ---------------------------------------------------------------- sign-in

async function signIn(token) {
  app.token = token;
  const response = await fetch(`${API}/session`, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (response.status === 401) throw new ApiError(401);
  if (!response.ok) throw new ApiError(response.status);
  app.session = await response.json();
  sessionStorage.setItem(TOKEN_KEY, token);
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("live").hidden = false;
  $("sound-toggle").hidden = false;
  $("whoami").hidden = false;
  $("whoami").textContent = `${app.session.name} · ${t("role." + app.session.role)}`;
  $("silence-form").hidden = !can("silence");
  document.body.dataset.role = app.session.role;
  startStream();
  await loadAlerts();
  route();
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  app.stream?.close();
  app.stream = null;
  app.token = null;
  app.session = null;
  clearInterval(app.refreshTimer);
  app.alerts.clear();
  app.rows.clear();
  $("alert-list").replaceChildren();
  for (const id of ["app", "signout", "live", "sound-toggle", "whoami", "banner"]) $(id).hidden = true;
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
    $("signin-error").textContent = error instanceof ApiError && error.status === 401 ? t("signin.bad") : t("signin.unreachable");
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

// ---------------------------------------------------------------- sound and banner

function unlockAudio() {
  // Browsers start audio only after a user gesture: create the context on the first one.
  if (!app.audio) {
    try {
      app.audio = new AudioContext();
    } catch {
      app.audio = null;
    }
  }
  app.audio?.resume?.();
}
document.addEventListener("pointerdown", unlockAudio, { once: true });
document.addEventListener("keydown", unlockAudio, { once: true });

function beep() {
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  if (!app.soundOn) return;
  unlockAudio();
  const ctx = app.audio;
  if (!ctx) return;
  // Three falling two-tone pulses: distinct from a phone's notification chime.
  const start = ctx.currentTime + 0.02;
  for (let i = 0; i < 3; i++) {
    for (const [offset, freq] of [[0, 988], [0.18, 740]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = start + i * 0.5 + offset;
      osc.type = "square";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.17);
    }
  }
}

$("sound-toggle").addEventListener("click", () => {
  app.soundOn = !app.soundOn;
  $("sound-toggle").textContent = t(app.soundOn ? "sound.on" : "sound.off");
  $("sound-toggle").setAttribute("aria-pressed", String(app.soundOn));
  if (app.soundOn) unlockAudio();
});

function updateBanner() {
  const critical = [...app.alerts.values()]
    .filter((a) => a.severity === "critical" && a.state === "firing" && !a.silenced && !app.bannerDismissed.has(a.id))
    .sort((a, b) => b.started_at.localeCompare(a.started_at));
  $("banner").hidden = critical.length === 0;
  if (critical.length) {
    const newest = critical[0];
    const more = critical.length > 1 ? ` (+${critical.length - 1})` : "";
    $("banner-text").textContent = `${newest.summary} · ${newest.building}/${newest.device}${more}`;
  }
}
$("banner-dismiss").addEventListener("click", () => {
  for (const a of app.alerts.values()) if (a.severity === "critical") app.bannerDismissed.add(a.id);
  updateBanner();
});

// ---------------------------------------------------------------- the event stream

function setLive(state) {
  const live = $("live");
  live.dataset.state = state;
  live.textContent = t(state === "connected" ? "live.connected" : state === "lost" ? "live.lost" : "live.connecting");
}

function startStream() {
  app.stream?.close();
  app.stream = openStream({
    url: `${API}/events`,
    token: app.token,
    onState: (state) => (state === "unauthorized" ? signOut(t("signin.bad")) : setLive(state)),
    onEvent: (_type, data) => {
      let event;
      try {
        event = JSON.parse(data);
      } catch {
        return;
      }
      if (!event.alert) return;
      const fresh = upsert(event.alert);
      if (fresh && event.alert.severity === "critical" && (event.event === "raised" || event.event === "escalated")) {
        if (event.alert.state === "firing" && !event.alert.silenced) {
          app.bannerDismissed.delete(event.alert.id);
          beep();
        }
      }
      updateBanner();
      if (currentView().name === "device") refreshDeviceAlerts();
    },
  });
}

// ---------------------------------------------------------------- alerts

function compareAlerts(a, b) {
  return (
    (STATE_RANK[a.state] ?? 9) - (STATE_RANK[b.state] ?? 9) ||
    (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9) ||
    b.started_at.localeCompare(a.started_at) ||
    b.id - a.id
  );
}

function belongs(alert) {
  return app.filter === "open" ? alert.state !== "resolved" : alert.state === "resolved";
}

// Take in a newer version of an alert; returns false when what we hold is already as new.
function upsert(alert) {
  const held = app.alerts.get(alert.id);
  if (held && held.updated_at && alert.updated_at && held.updated_at > alert.updated_at) return false;
  if (held && held.updated_at === alert.updated_at && held.state === alert.state) return false;
  if (belongs(alert)) app.alerts.set(alert.id, alert);
  else app.alerts.delete(alert.id);
  renderAlerts();
  return true;
}

async function loadAlerts() {
  const query =
    app.filter === "open"
      ? "alerts?state=firing&state=acknowledged&limit=500&sort=-started_at"
      : "alerts?state=resolved&limit=100&sort=-updated_at";
  const page = await api(query);
  app.alerts.clear();
  for (const alert of page.items) app.alerts.set(alert.id, alert);
  renderAlerts();
  updateBanner();
}

$("alert-filter").addEventListener("change", async (event) => {
  app.filter = event.target.value;
  await loadAlerts();
});

function deviceHref(a) {
  return `#/device/${a.building}/${a.kind}/${a.device}`;
}

function alertRow(alert, { actions = true } = {}) {
  const li = el("li", { class: "alert", "data-id": alert.id });
  fillAlertRow(li, alert, actions);
  return li;
}

function fillAlertRow(li, alert, actions = true) {
  li.dataset.severity = alert.severity;
  li.dataset.state = alert.state;
  li.setAttribute("aria-label", `${t("severity." + alert.severity)} ${alert.summary}`);
  const flags = [
    alert.escalation_level > 0 && `${t("alert.escalated")} ${alert.escalation_level}`,
    alert.silenced && t("alert.silenced"),
    alert.flapping && t("alert.flapping"),
  ].filter(Boolean);
  const meta = el(
    "div",
    { class: "meta" },
    el("span", {}, `${t("alert.started")} ${fmtTime(alert.started_at, true)}`),
    el("a", { href: deviceHref(alert) }, `${alert.building} / ${alert.device}`),
    alert.acknowledged_by && el("span", {}, `${t("alert.acked_by")} ${alert.acknowledged_by} ${fmtTime(alert.acknowledged_at)}`),
    alert.resolved_by && el("span", {}, `${t("alert.resolved_by")} ${alert.resolved_by} ${fmtTime(alert.resolved_at)}`),
    alert.resolved_at && !alert.resolved_by && el("span", {}, `${t("state.resolved")} ${fmtTime(alert.resolved_at)}`),
    ...flags.map((f) => el("span", { class: "flag-bad" }, f)),
  );
  const parts = [
    el("span", { class: `badge sev-${alert.severity}` }, t("severity." + alert.severity)),
    el("span", { class: "summary" }, alert.summary),
    el("span", { class: `badge state state-${alert.state}`, "data-role": "state" }, t("state." + alert.state)),
    meta,
  ];
  // Keep a note being typed, and the focus, across redraws of the same row.
  const oldNote = li.querySelector("input.note");
  const focusedAction = li.contains(document.activeElement) ? document.activeElement.dataset.action : null;
  const bar = actions ? actionBar(alert, oldNote) : null;
  li.replaceChildren(...parts, ...(bar ? [bar] : []));
  if (focusedAction) {
    const again = li.querySelector(`[data-action="${focusedAction}"]`) || li.querySelector("button, input");
    (again || li).focus?.();
  }
}

function actionBar(alert, oldNote) {
  if (alert.state === "resolved") return null;
  const mayAck = can("ack") && alert.state === "firing";
  const mayResolve = can("resolve");
  const maySilence = can("silence");
  if (!mayAck && !mayResolve && !maySilence) return null;
  const noteId = `note-${alert.id}`;
  const note = oldNote || el("input", { id: noteId, class: "note", maxlength: 2000, "data-action": "note" });
  const bar = el("div", { class: "actions" });
  if (mayAck || mayResolve) {
    bar.append(el("label", { for: noteId, class: "visually-hidden" }, `${t("alert.note")} (#${alert.id})`), note);
    note.placeholder = t("alert.note");
  }
  const act = (verb) => async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const body = note.value.trim() ? { note: note.value.trim() } : {};
      const updated = await api(`alerts/${alert.id}/${verb}`, { method: "POST", body });
      note.value = "";
      upsert(updated);
      updateBanner();
    } catch (error) {
      if (error.status !== 401) {
        button.disabled = false;
        button.title = `${t("alert.failed")}: ${error.message}`;
        $("alert-summary").textContent = `${t("alert.failed")}: ${error.message}`;
      }
    }
  };
  if (mayAck) bar.append(el("button", { type: "button", class: "ack", "data-action": "ack", onclick: act("ack") }, t("alert.ack")));
  if (mayResolve)
    bar.append(el("button", { type: "button", class: "secondary resolve", "data-action": "resolve", onclick: act("resolve") }, t("alert.resolve")));
  if (maySilence)
    bar.append(
      el("button", { type: "button", class: "secondary", "data-action": "silence", onclick: () => silenceLike(alert) }, t("alert.silence")),
    );
  return bar;
}

function renderAlerts() {
  const list = $("alert-list");
  const sorted = [...app.alerts.values()].sort(compareAlerts);
  const keep = new Set(sorted.map((a) => a.id));
  for (const [id, li] of app.rows) {
    if (!keep.has(id)) {
      li.remove();
      app.rows.delete(id);
    }
  }
  let previous = null;
  for (const alert of sorted) {
    let li = app.rows.get(alert.id);
    if (!li) {
      li = alertRow(alert);
      app.rows.set(alert.id, li);
    } else if (li.dataset.version !== alert.updated_at + alert.state) {
      fillAlertRow(li, alert);
    }
    li.dataset.version = alert.updated_at + alert.state;
    // Move a row only when it is out of place: moving a row takes the keyboard focus out of it.
    const expected = previous ? previous.nextElementSibling : list.firstElementChild;
    if (expected !== li) list.insertBefore(li, expected);
    previous = li;
  }
  const firing = sorted.filter((a) => a.state === "firing").length;
  $("alert-empty").hidden = sorted.length > 0;
  $("alert-count").hidden = firing === 0;
  $("alert-count").textContent = String(firing);
  $("alert-summary").textContent = `${sorted.length} ${t("alerts.count")}`;
}

// ---------------------------------------------------------------- views

function currentView() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const name = ["alerts", "buildings", "silences", "device"].includes(parts[0]) ? parts[0] : "alerts";
  return { name, args: parts.slice(1) };
}

async function route() {
  if (!app.session) return;
  const view = currentView();
  for (const section of document.querySelectorAll("main > section[data-view]")) section.hidden = section.dataset.view !== view.name;
  for (const link of document.querySelectorAll("nav.tabs a")) {
    const current = link.dataset.view === view.name || (view.name === "device" && link.dataset.view === "buildings");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clearInterval(app.refreshTimer);
  try {
    if (view.name === "buildings") {
      await loadBuildings();
      app.refreshTimer = setInterval(loadBuildings, REFRESH_MS);
    } else if (view.name === "device") {
      await loadDevice(...view.args);
      app.refreshTimer = setInterval(() => loadDevice(...view.args, { chart: false }), REFRESH_MS);
    } else if (view.name === "silences") {
      await loadSilences();
    }
  } catch (error) {
    if (error.status !== 401) console.warn("view failed", error);
  }
}
window.addEventListener("hashchange", route);

// ---------------------------------------------------------------- buildings

function buildingName(b) {
  return CONFIG.lang === "en" && b.name_en ? b.name_en : b.name || b.building;
}

function daysUntil(isoDate) {
  const ms = Date.parse(`${isoDate}T00:00:00Z`) - Date.now();
  return Math.floor(ms / 86400000);
}

function aedFlags(d) {
  const r = d.reading || {};
  const flags = [];
  if (d.status === "offline") flags.push(t("aed.offline"));
  if (d.status === "silent") flags.push(t("status.silent"));
  if (r.state && r.state !== "ready") flags.push(t("aed." + r.state));
  if (r.cabinet_open === true) flags.push(t("aed.cabinet_open"));
  if (r.self_test === "fail") flags.push(t("aed.fault"));
  if (typeof r.pads_expiry === "string" && daysUntil(r.pads_expiry) <= PADS_WARN_DAYS) flags.push(`${t("aed.pads_expiring")} ${r.pads_expiry}`);
  if (typeof r.battery_pct === "number" && r.battery_pct < 20) flags.push(`${t("aed.battery")} ${fmtNumber(r.battery_pct)}%`);
  return flags;
}

async function loadBuildings() {
  const [buildings, aeds, lots, canteens] = await Promise.all([
    api("buildings"),
    api("devices?kind=aed"),
    api("devices?kind=parking_lot"),
    api("devices?kind=canteen"),
  ]);
  app.buildings = buildings;
  fillBuildingSelect();
  const byBuilding = (list) => {
    const map = new Map();
    for (const d of list.items) map.set(d.building, [...(map.get(d.building) || []), d]);
    return map;
  };
  const aedBy = byBuilding(aeds);
  const lotBy = byBuilding(lots);
  const canteenBy = byBuilding(canteens);
  const grid = $("building-grid");
  const cards = [];
  const charts = [];
  for (const b of buildings) {
    const card = el("article", { class: "panel building", "aria-labelledby": `b-${b.building}` });
    card.append(
      el(
        "h2",
        { id: `b-${b.building}` },
        el("span", {}, buildingName(b)),
        b.open_alerts ? el("span", { class: "badge sev-major" }, `${b.open_alerts} ${t("nav.alerts")}`) : null,
      ),
    );
    const lotsHere = lotBy.get(b.building) || [];
    if (lotsHere.length || (b.parking && b.parking.spaces_total)) {
      const rows = el("ul", { class: "rows" });
      for (const lot of lotsHere) {
        const r = lot.reading || {};
        const capacity = r.capacity ?? lot.capacity;
        const free = typeof r.occupied === "number" && capacity ? Math.max(capacity - r.occupied, 0) : null;
        rows.append(
          el(
            "li",
            { "data-lot": lot.device },
            el("a", { href: deviceHref(lot) }, `${lot.floor || lot.device}`),
            el("span", {}, el("span", { class: "big" }, fmtNumber(free)), ` ${t("buildings.free")} / ${fmtNumber(capacity)}`),
          ),
        );
      }
      if (b.parking && b.parking.spaces_total) {
        // Bay sensors: say how many are unknown rather than count a silent bay as taken.
        const p = b.parking;
        const known = p.spaces_total - p.spaces_unknown;
        const text = known > 0
          ? `${fmtNumber(p.spaces_free)} ${t("buildings.free")} / ${fmtNumber(p.spaces_total)}` +
            (p.spaces_unknown ? ` (${fmtNumber(p.spaces_unknown)} ${t("status.silent")})` : "")
          : t("buildings.nodata");
        rows.append(el("li", { class: "muted" }, el("span", {}, t("kind.parking_space")), el("span", {}, text)));
      }
      card.append(el("section", {}, el("h3", {}, t("buildings.parking")), rows));
    }
    const aedsHere = aedBy.get(b.building) || [];
    if (aedsHere.length) {
      const rows = el("ul", { class: "rows" });
      for (const d of aedsHere) {
        const flags = aedFlags(d);
        const r = d.reading || {};
        rows.append(
          el(
            "li",
            { "data-device": d.device, "data-flagged": flags.length ? "true" : "false" },
            el("span", {}, el("a", { href: deviceHref(d) }, d.floor || d.device), " ", el("span", { class: "muted" }, (d.location || "").split(" / ")[CONFIG.lang === "en" ? 1 : 0] || d.location || "")),
            flags.length
              ? el("span", { class: "flag-bad" }, flags.join(" · "))
              : el("span", { class: "flag-ok" }, r.state ? t("aed." + r.state) : t("buildings.nodata")),
          ),
        );
      }
      card.append(el("section", {}, el("h3", {}, t("buildings.aed")), rows));
    }
    for (const c of canteenBy.get(b.building) || []) {
      const r = c.reading || {};
      const capacity = r.capacity ?? c.capacity;
      const load = typeof r.occupancy === "number" && capacity ? r.occupancy / capacity : null;
      const chart = el("div", { class: "chart", role: "img", "aria-label": `${t("buildings.today")} ${c.device}` });
      card.append(
        el(
          "section",
          {},
          el("h3", {}, el("a", { href: deviceHref(c) }, `${t("buildings.canteen")} · ${c.floor || c.device}`)),
          el(
            "p",
            {},
            `${t("buildings.load_now")} `,
            el("span", { class: "big" }, fmtPercent(load)),
            ` (${fmtNumber(r.occupancy)} / ${fmtNumber(capacity)})`,
            typeof r.queue_length === "number" ? ` · ${t("buildings.queue")} ${fmtNumber(r.queue_length)}` : "",
          ),
          chart,
        ),
      );
      charts.push([chart, c, capacity]);
    }
    cards.push(card);
  }
  grid.replaceChildren(...cards);
  for (const [node, device, capacity] of charts) drawCanteenToday(node, device, capacity);
}

async function drawCanteenToday(node, device, capacity) {
  const start = localMidnight().toISOString();
  try {
    const history = await api(
      `devices/${device.building}/canteen/${device.device}/history?field=occupancy&every=5m&agg=mean&start=${encodeURIComponent(start)}`,
    );
    const points = history.points.filter((p) => typeof p.v === "number").map((p) => [localMinutes(p.t), capacity ? p.v / capacity : null]);
    if (!dayChart(node, [{ label: t("board.today"), points }], { height: 160 })) node.textContent = t("buildings.nodata");
  } catch (error) {
    node.textContent = t("buildings.nodata");
  }
}

// ---------------------------------------------------------------- device detail

async function loadDevice(building, kind, device, { chart = true } = {}) {
  const d = await api(`devices/${building}/${kind}/${device}`);
  $("device-title").textContent = `${t("kind." + kind)} · ${building} / ${device}`;
  const rows = [
    [t("device.status"), t("status." + d.status)],
    [t("device.seen"), fmtTime(d.last_seen, true)],
    ...(d.location ? [[t("device.location"), d.location]] : []),
    ...Object.entries(d.reading || {}).map(([k, v]) => [k, typeof v === "number" ? fmtNumber(v, 1) : String(v)]),
  ];
  $("device-latest").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  await refreshDeviceAlerts();
  if (chart) {
    const select = $("history-field");
    const fields = NUMERIC_FIELDS[kind] || [];
    if (select.dataset.kind !== kind) {
      select.replaceChildren(...fields.map((f) => el("option", { value: f }, f)));
      select.dataset.kind = kind;
    }
    await drawHistory();
  }
}

async function refreshDeviceAlerts() {
  const view = currentView();
  if (view.name !== "device") return;
  const [building, kind, device] = view.args;
  const page = await api(`alerts?building=${building}&kind=${kind}&device=${device}&limit=20&sort=-started_at`);
  $("device-alerts").replaceChildren(...(page.items.length ? page.items.map((a) => alertRow(a, { actions: false })) : [el("li", { class: "muted" }, t("alerts.none"))]));
}

async function drawHistory() {
  const view = currentView();
  if (view.name !== "device") return;
  const [building, kind, device] = view.args;
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
    $("history-empty").textContent = `${t("buildings.nodata")} (${error.message})`;
  }
}
$("history-field").addEventListener("change", drawHistory);
$("history-range").addEventListener("change", drawHistory);

// ---------------------------------------------------------------- silences

function fillBuildingSelect() {
  const select = $("silence-building");
  if (select.options.length > 1) return;
  for (const b of app.buildings) select.append(el("option", { value: b.building }, buildingName(b)));
}

async function loadSilences() {
  if (!app.buildings.length) {
    app.buildings = await api("buildings");
    fillBuildingSelect();
  }
  const silences = await api("silences?active=true");
  const list = $("silence-list");
  list.replaceChildren(
    ...silences.map((s) =>
      el(
        "li",
        { "data-id": s.id },
        el(
          "span",
          {},
          el("strong", {}, Object.entries(s.matchers).map(([k, v]) => `${k}=${v}`).join(", ") || "*"),
          " ",
          el("span", { class: "muted" }, `${t("silences.until")} ${fmtTime(s.ends_at, true)} · ${t("silences.by")} ${s.created_by || "—"} · ${s.comment || ""}`),
        ),
        can("silence")
          ? el("button", { type: "button", class: "secondary", onclick: () => endSilence(s.id) }, t("silences.end"))
          : null,
      ),
    ),
  );
  list.hidden = silences.length === 0;
  $("silence-empty").hidden = silences.length > 0;
}

async function endSilence(id) {
  await api(`silences/${id}`, { method: "DELETE" });
  await loadSilences();
}

function silenceLike(alert) {
  location.hash = "#/silences";
  $("silence-building").value = alert.building;
  $("silence-kind").value = alert.kind;
  $("silence-device").value = alert.device;
  $("silence-rule").value = alert.rule;
  $("silence-severity").value = "";
  $("silence-comment").focus();
}

$("silence-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = {};
  for (const [k, v] of form.entries()) if (v !== "") body[k] = k === "duration_minutes" ? Number(v) : v;
  $("silence-error").textContent = "";
  try {
    await api("silences", { method: "POST", body });
    $("silence-comment").value = "";
    await loadSilences();
  } catch (error) {
    $("silence-error").textContent = `${t("alert.failed")}: ${error.message}`;
  }
});

// ---------------------------------------------------------------- start

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  signIn(saved).catch((error) => signOut(error.status === 401 ? t("signin.bad") : t("signin.unreachable")));
} else {
  signOut();
}
