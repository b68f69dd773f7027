// Wall mode (/dashboard?view=wall, rendered dark by the server): the control room's 1920x1080
// screen. Compact rows with no input box until a row is chosen (a click on the row, or the
// keyboard inside it), the site plan beside the list, and the outage line (dashboard.js decides
// when the data is stale; this module only makes it impossible to miss and says since when).

import { t } from "./common.js";
import { showPlan } from "./site_plan.js";

const $ = (id) => document.getElementById(id);
export const WALL = document.body.classList.contains("wall");

// The side panel shows beside the alert list only; the plan inside it keeps itself current.
export async function showWallSide(view) {
  const side = $("wall-side");
  side.hidden = !(WALL && view === "alerts");
  if (!side.hidden) await showPlan($("wall-plan"));
}

function choose(li) {
  for (const other of $("alert-list").querySelectorAll("li[data-chosen]")) if (other !== li) other.removeAttribute("data-chosen");
  if (li) li.setAttribute("data-chosen", "true");
}

if (WALL) {
  // A click on a row (not on its link or buttons) chooses it: its note box and buttons appear.
  $("alert-list").addEventListener("click", (event) => {
    if (event.target.closest("a, button, input, label")) return;
    const li = event.target.closest("li.alert");
    choose(li && li.dataset.chosen ? null : li);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    choose(null);
    // Focus inside a row shows its actions too (for the keyboard): Escape lets go of both.
    if (document.activeElement?.closest("#alert-list")) document.activeElement.blur();
  });
}

// Entering or leaving wall mode keeps the view (the hash).
$("wall-toggle").addEventListener("click", (event) => {
  event.preventDefault();
  const url = new URL(event.currentTarget.href);
  url.hash = location.hash;
  location.assign(url);
});

// Since when the page has had no live data: shown in the outage line, which stays the one sign.
const outage = $("outage");
new MutationObserver(() => {
  const stale = !outage.hidden;
  if (stale && document.body.dataset.stale !== "true") {
    const time = new Date().toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    $("outage-since").textContent = ` ${t("wall.since").replace("{time}", time)}`;
  }
  document.body.dataset.stale = String(stale);
}).observe(outage, { attributes: true, attributeFilter: ["hidden"] });
