// One alert as a row (list, device page) and the actions on it: acknowledge with a note, resolve
// after a confirmation (an explicit one when an AED cabinet is still open), silence.

import { api, app, can } from "./api.js";
import { alertSummary, durationText, el, fmtTime, t } from "./common.js";
import { silenceLike } from "./silences.js";

const $ = (id) => document.getElementById(id);

// Kept importable from here for the modules that took it from this one.
export { durationText };

export function deviceHref(a) {
  return `#/device/${a.building}/${a.kind}/${a.device}`;
}

function ageText(alert) {
  if (alert.state === "resolved") return t("alert.lasted").replace("{d}", durationText(alert.started_at, alert.resolved_at));
  return t(alert.state === "firing" ? "alert.firing_for" : "alert.open_for").replace("{d}", durationText(alert.started_at));
}

// Redrawn every 30 s so that "firing for N min" stays true without a new event.
export function tickAges(root = document) {
  for (const node of root.querySelectorAll("[data-age-of]")) {
    const alert = app.alertsById?.get(Number(node.dataset.ageOf));
    if (alert) node.textContent = ageText(alert);
  }
}
setInterval(tickAges, 30000);

export function fillAlertRow(li, alert, { actions = true, selectable = false, selected = false, onSelect = null } = {}) {
  li.dataset.severity = alert.severity;
  li.dataset.state = alert.state;
  li.dataset.id = String(alert.id);
  li.tabIndex = -1;
  li.setAttribute("aria-label", `${t("severity." + alert.severity)} ${t("state." + alert.state)} ${alertSummary(alert)}`);
  const flags = [
    alert.escalation_level > 0 && `${t("alert.escalated")} ${alert.escalation_level}`,
    alert.silenced && t("alert.silenced"),
    alert.flapping && t("alert.flapping"),
  ].filter(Boolean);
  const meta = el(
    "div",
    { class: "meta" },
    el("span", {}, `${t("alert.started")} ${fmtTime(alert.started_at, true)}`),
    el("span", { "data-age-of": alert.id }, ageText(alert)),
    el("a", { href: deviceHref(alert) }, `${alert.building} / ${alert.device}`),
    alert.acknowledged_by && el("span", {}, `${t("alert.acked_by")} ${alert.acknowledged_by} ${fmtTime(alert.acknowledged_at)}`),
    alert.ack_note && el("span", { class: "note-text", "data-role": "ack-note" }, `${t("alert.note")}: ${alert.ack_note}`),
    alert.resolved_by && el("span", {}, `${t("alert.resolved_by")} ${alert.resolved_by} ${fmtTime(alert.resolved_at)}`),
    alert.resolved_at && !alert.resolved_by && el("span", {}, `${t("alert.cleared")} ${fmtTime(alert.resolved_at)}`),
    ...flags.map((f) => el("span", { class: "flag-bad" }, f)),
    // Raised while its building or gateway says it is offline (never held back: docs/alerts.md).
    alert.labels?.inhibited_by &&
      el("span", { class: "flag-bad", "data-role": "inhibited" }, t("alert.inhibited").replace("{by}", alert.labels.inhibited_by)),
  );
  const lead = el("div", { class: "lead" });
  if (selectable && alert.state === "firing") {
    const box = el("input", { type: "checkbox", id: `pick-${alert.id}`, class: "pick", "data-action": "pick" });
    box.checked = selected;
    box.addEventListener("change", () => onSelect?.(alert.id, box.checked));
    lead.append(box, el("label", { for: `pick-${alert.id}`, class: "visually-hidden" }, `${t("bulk.pick")} #${alert.id}`));
  }
  lead.append(el("span", { class: `badge sev-${alert.severity}` }, t("severity." + alert.severity)));
  const parts = [
    lead,
    el("a", { class: "summary", href: `#/alert/${alert.id}`, "data-role": "detail" }, alertSummary(alert)),
    el("span", { class: `badge state state-${alert.state}`, "data-role": "state" }, t("state." + alert.state)),
    meta,
  ];
  // Keep a note being typed, and the focus, across redraws of the same row.
  const oldNote = li.querySelector("input.note");
  const focusedAction = li.contains(document.activeElement) ? document.activeElement.dataset.action : null;
  const bar = actions ? actionBar(alert, oldNote) : null;
  li.replaceChildren(...parts, ...(bar ? [bar] : []));
  if (focusedAction) refocus(li, focusedAction);
}

// Focus what the keyboard user was on, or the nearest thing still there: never lose it to <body>.
export function refocus(li, action = null) {
  const target =
    (action && li.querySelector(`[data-action="${action}"]`)) ||
    li.querySelector(".actions button") ||
    li.querySelector('[data-role="detail"]') ||
    li;
  target.focus();
}

export function actionBar(alert, oldNote = null) {
  if (alert.state === "resolved") return null;
  const mayAck = can("ack") && alert.state === "firing";
  const mayResolve = can("resolve");
  const maySilence = can("silence");
  if (!mayAck && !mayResolve && !maySilence) return null;
  const noteId = `note-${alert.id}-${Math.random().toString(36).slice(2, 7)}`;
  const note = oldNote || el("input", { id: noteId, class: "note", maxlength: 2000, "data-action": "note" });
  const bar = el("div", { class: "actions" });
  if (mayAck || mayResolve) {
    bar.append(el("label", { for: note.id, class: "visually-hidden" }, `${t("alert.note")} (#${alert.id})`), note);
    note.placeholder = t("alert.note");
  }
  const act = (verb) => async (event) => {
    const button = event.currentTarget;
    const byKeyboard = event.detail === 0; // a click from Enter or Space has no pointer detail
    const text = note.value.trim();
    const holder = button.closest("li, [data-holder]");
    if (verb === "resolve" && !(await confirmResolve(alert, text))) return;
    button.disabled = true;
    try {
      await applyAction(alert.id, verb, text);
      note.value = "";
      // The ack button is gone once acknowledged and the row may have moved: keep the keyboard
      // user in the same alert, on its next action.
      if (byKeyboard) {
        const again = holder?.isConnected ? holder : document.querySelector(`[data-holder="${alert.id}"], li[data-id="${alert.id}"]`);
        if (again) refocus(again);
      }
    } catch (error) {
      if (error.status !== 401) {
        button.disabled = false;
        button.title = error.detail || error.message;
        $("action-status").textContent = `${t("alert.failed")}: ${error.message}`;
      }
    }
  };
  if (mayAck) bar.append(el("button", { type: "button", class: "ack", "data-action": "ack", onclick: act("ack") }, t("alert.ack")));
  if (mayResolve)
    bar.append(el("button", { type: "button", class: "secondary resolve", "data-action": "resolve", onclick: act("resolve") }, t("alert.resolve")));
  if (maySilence)
    bar.append(el("button", { type: "button", class: "secondary", "data-action": "silence", onclick: () => silenceLike(alert) }, t("alert.silence")));
  return bar;
}

// POST the action and hand the alert it returns to every screen that shows it.
export async function applyAction(id, verb, note = "") {
  const updated = await api(`alerts/${id}/${verb}`, { method: "POST", body: note ? { note } : {} });
  if (note && verb === "ack") updated.ack_note = note;
  app.onAlert(updated, null);
  $("action-status").textContent = `#${id} ${t(verb === "ack" ? "state.acknowledged" : "state.resolved")}`;
  return updated;
}

// Resolve asks first. An AED whose cabinet still reports open needs the box ticked as well:
// resolving it by mistake would hide a cabinet that someone may be using right now.
async function confirmResolve(alert, note) {
  let cabinetOpen = false;
  if (alert.kind === "aed") {
    try {
      const device = await api(`devices/${alert.building}/aed/${alert.device}`);
      cabinetOpen = device.reading?.cabinet_open === true;
    } catch {
      cabinetOpen = alert.rule === "aed-cabinet-open";
    }
  }
  const dialog = $("confirm-dialog");
  const tick = $("confirm-check");
  $("confirm-text").textContent = `#${alert.id} ${alertSummary(alert)} · ${alert.building}/${alert.device}`;
  $("confirm-note").textContent = note ? `${t("alert.note")}: ${note}` : t("confirm.no_note");
  $("confirm-warning").hidden = !cabinetOpen;
  tick.checked = false;
  tick.required = cabinetOpen;
  const ok = $("confirm-ok");
  ok.disabled = cabinetOpen;
  tick.onchange = () => (ok.disabled = cabinetOpen && !tick.checked);
  const opener = document.activeElement;
  dialog.showModal();
  (cabinetOpen ? tick : ok).focus();
  const answer = await new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
  opener?.focus?.();
  return answer && (!cabinetOpen || tick.checked);
}
