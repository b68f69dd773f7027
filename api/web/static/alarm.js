// The alarm: the red banner and the sound for critical alerts that nobody has acknowledged yet.
//
// It follows every open critical alert, whatever the alert list's filter shows, and names the
// most urgent one (escalated first, then the newest), not merely the newest.

import { api } from "./api.js";
import { compareAlerts, isNewer } from "./alert_order.js";
import { t } from "./common.js";

const $ = (id) => document.getElementById(id);

const state = {
  critical: new Map(), // id -> alert, open critical alerts
  dismissed: new Set(),
  soundOn: true,
  audio: null,
};

export async function loadCritical() {
  const page = await api("alerts?severity=critical&state=firing&state=acknowledged&sort=priority&limit=200");
  state.critical.clear();
  for (const a of page.items) state.critical.set(a.id, a);
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
  $("banner-text").textContent = `${first.summary} · ${first.building}/${first.device}${more}`;
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
  if (!state.soundOn) return;
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

$("sound-toggle").addEventListener("click", () => {
  state.soundOn = !state.soundOn;
  $("sound-toggle").textContent = t(state.soundOn ? "sound.on" : "sound.off");
  $("sound-toggle").setAttribute("aria-pressed", String(state.soundOn));
  if (state.soundOn) unlockAudio();
});
