// The area's clock on a page: in a demo running simulated time (LOUYU_DEMO_CLOCK), the time of day
// the server's area clock (collector/area_clock.py) reads, run on between its answers. The server
// gives a real moment, the area's moment then and the speed; this module only carries them on.

import { CONFIG, fmtTime, t } from "./common.js";

let base = CONFIG.clock;

// The area's epoch milliseconds at a real moment (identity unless simulated).
export function areaMs(realMs) {
  return base.simulated ? base.area_ms + (realMs - base.real_ms) * base.speed : realMs;
}

// An ISO time of a real moment (a reading's, a build's), as the area's moment, ISO too.
export function areaIso(realIso) {
  if (!realIso || !base.simulated) return realIso;
  const ms = Date.parse(realIso);
  return Number.isNaN(ms) ? realIso : new Date(areaMs(ms)).toISOString();
}

export function simulated() {
  return Boolean(base.simulated);
}

// The board's answer carries the area's clock when it was built: follow it (it is the server's).
export function syncClock(clock, realIso) {
  const real = Date.parse(realIso);
  const area = Date.parse(clock.now);
  if (Number.isNaN(real) || Number.isNaN(area)) return;
  base = { simulated: clock.simulated, speed: clock.speed, real_ms: real, area_ms: area };
  show();
}

function show() {
  const line = document.getElementById("sim-clock");
  if (!line || !base.simulated) return;
  const now = new Date(areaMs(Date.now())).toISOString();
  line.textContent = t("clock.simulated").replace("{time}", fmtTime(now)).replace("{speed}", String(base.speed));
  line.dataset.area = now;
}

show();
setInterval(show, 1000);
