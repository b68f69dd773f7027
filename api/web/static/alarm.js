// The alarm: the red banner and the sound for critical alerts that nobody has acknowledged yet.
//
// It follows every open critical alert, whatever the alert list's filter shows, and names the
// most urgent one (escalated first, then the newest), not merely the newest.

import { api } from "./api.js";
import { compareAlerts, isNewer } from "./alert_order.js";
import { alertSummary, t } from "./common.js";

const $ = (id) => document.getElementById(id);

// Per browser (localStorage): until when the sound is muted, and how often it repeats.
const MUTE_KEY = "louyu.alarm.mutedUntil";
const REPEAT_KEY = "louyu.alarm.repeatSeconds";
const MUTE_MS = 15 * 60000;

const state = {
  critical: new Map(), // id -> alert, open critical alerts
  dismissed: new Set(),
  audio: null,
};

const mutedUntil = () => Number(localStorage.getItem(MUTE_KEY) || 0);
const soundOn = () => mutedUntil() <= Date.now();

// Critical alerts the stream brought while a load was on its way: a list read before them must
// not take them away again (seen: the banner of a cabinet opened just after sign-in vanished).
const arriving = new Set();

export async function loadCritical() {
  const during = new Map();
  arriving.add(during);
  let page;
  try {
    page = await api("alerts?severity=critical&state=firing&state=acknowledged&sort=priority&limit=200");
  } finally {
    arriving.delete(during);
  }
  state.critical.clear();
  for (const a of page.items) state.critical.set(a.id, a);
  for (const a of during.values()) {
    if (!isNewer(a, state.critical.get(a.id))) continue;
    if (a.state === "resolved") state.critical.delete(a.id);
    else state.critical.set(a.id, a);
  }
  updateBanner();
}

export function clearAlarm() {
  state.critical.clear();
  state.dismissed.clear();
  $("banner").hidden = true;
}

// Take in an alert from the stream or an action; beep when a critical one is raised or escalated.
export function noteAlert(alert, event = null) {
  if (alert.severity !== "critical") return;
  for (const during of arriving) during.set(alert.id, alert);
  const held = state.critical.get(alert.id);
  if (!isNewer(alert, held)) return;
  if (alert.state === "resolved") state.critical.delete(alert.id);
  else state.critical.set(alert.id, alert);
  if ((event === "raised" || event === "escalated") && alert.state === "firing" && !alert.silenced) {
    state.dismissed.delete(alert.id);
    beep();
  }
  updateBanner();
}

function updateBanner() {
  const waiting = [...state.critical.values()]
    .filter((a) => a.state === "firing" && !a.silenced && !state.dismissed.has(a.id))
    .sort(compareAlerts);
  $("banner").hidden = waiting.length === 0;
  if (!waiting.length) return;
  const first = waiting[0];
  const more = waiting.length > 1 ? ` ${t("banner.more").replace("{n}", waiting.length - 1)}` : "";
  $("banner-text").textContent = `${alertSummary(first)} · ${first.building}/${first.device}${more}`;
  $("banner-link").setAttribute("href", `#/alert/${first.id}`);
  $("banner").dataset.alertId = String(first.id);
}

$("banner-dismiss").addEventListener("click", () => {
  for (const a of state.critical.values()) state.dismissed.add(a.id);
  updateBanner();
});

export function unlockAudio() {
  // Browsers start audio only after a user gesture: create the context on the first one.
  if (!state.audio) {
    try {
      state.audio = new AudioContext();
    } catch {
      state.audio = null;
    }
  }
  state.audio?.resume?.();
}
document.addEventListener("pointerdown", unlockAudio, { once: true });
document.addEventListener("keydown", unlockAudio, { once: true });

function beep() {
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  if (!soundOn()) return;
  unlockAudio();
  const ctx = state.audio;
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

// "Sound: on" mutes for 15 minutes (then it comes back by itself); pressed again, sound is on.
function showSound() {
  const on = soundOn();
  const until = new Date(mutedUntil()).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit", hour12: false });
  $("sound-toggle").textContent = on ? t("sound.on") : t("sound.muted_until").replace("{time}", until);
  $("sound-toggle").setAttribute("aria-pressed", String(on));
}
$("sound-toggle").addEventListener("click", () => {
  if (soundOn()) localStorage.setItem(MUTE_KEY, String(Date.now() + MUTE_MS));
  else {
    localStorage.removeItem(MUTE_KEY);
    unlockAudio();
  }
  showSound();
});
showSound();

// While a critical alert fires unacknowledged (and not silenced), the beeps come back every
// minute: dismissing the banner hides it, it does not stop the alarm. Acknowledging does.
function repeat() {
  const waiting = [...state.critical.values()].some((a) => a.state === "firing" && !a.silenced);
  if (waiting) beep();
  showSound();
  setTimeout(repeat, Math.max(5, Number(localStorage.getItem(REPEAT_KEY) || 60)) * 1000);
}
setTimeout(repeat, Math.max(5, Number(localStorage.getItem(REPEAT_KEY) || 60)) * 1000);
