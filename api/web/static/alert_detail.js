// One alert and its whole story: raised, reminded, escalated, acknowledged (by whom, with the
// note), every notification with its receiver and result (operators and up may read those),
// resolved by whom and why; with the same actions as in the list.

import { api, buildingLabel, buildings, can } from "./api.js";
import { actionBar, deviceHref, durationText } from "./alert_row.js";
import { el, fmtTime, t } from "./common.js";

const $ = (id) => document.getElementById(id);

export async function showAlert(id) {
  const [alert, , deliveries] = await Promise.all([
    api(`alerts/${id}`),
    buildings(),
    can("resolve") ? api(`alerts/${id}/deliveries`) : Promise.resolve(null),
  ]);
  renderAlert(alert, deliveries);
}

function renderAlert(alert, deliveries) {
  const ack = [...alert.events].reverse().find((e) => e.event === "acknowledged");
  $("detail-title").textContent = alert.summary;
  $("detail-head").replaceChildren(
    el("span", { class: `badge sev-${alert.severity}` }, t("severity." + alert.severity)),
    el("span", { class: `badge state state-${alert.state}`, "data-role": "state" }, t("state." + alert.state)),
    el(
      "span",
      { "data-role": "age" },
      alert.state === "resolved"
        ? t("alert.lasted").replace("{d}", durationText(alert.started_at, alert.resolved_at))
        : t(alert.state === "firing" ? "alert.firing_for" : "alert.open_for").replace("{d}", durationText(alert.started_at)),
    ),
    el("a", { href: deviceHref(alert) }, `${buildingLabel(alert.building)} / ${alert.device}`),
    el("span", { class: "muted" }, `${t("silences.rule")}: ${alert.rule}`),
  );
  const holder = $("detail-actions");
  holder.dataset.holder = String(alert.id);
  const bar = actionBar({ ...alert, ack_note: ack?.note });
  holder.replaceChildren(...(bar ? [bar] : []));
  const items = [
    ...alert.events.map((e) => ({ at: e.at, node: eventItem(e) })),
    ...(deliveries || []).map((d) => ({ at: d.created_at, node: deliveryItem(d) })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  $("timeline").replaceChildren(...items.map((i) => i.node));
  $("deliveries-note").hidden = deliveries !== null;
  $("detail-back").setAttribute("href", "#/alerts");
}

function eventItem(e) {
  const who = e.by ? ` · ${e.by}` : "";
  let what = t("event." + e.event);
  if (e.event === "resolved" && !e.by) what = t("event.cleared");
  // The engine writes "unacknowledged; escalation level N": the number is what the reader needs.
  const level = e.event === "escalated" ? e.note?.match(/level (\d+)/)?.[1] : null;
  if (level) what = `${what} · ${t("alert.level")} ${level}`;
  return el(
    "li",
    { class: "event", "data-event": e.event },
    el("time", { datetime: e.at }, fmtTime(e.at, true)),
    el("span", { class: "what" }, `${what}${who}`),
    e.note && e.event !== "escalated" ? el("span", { class: "note-text" }, `${t("alert.note")}: ${e.note}`) : null,
  );
}

function deliveryItem(d) {
  const ok = d.status === "delivered";
  const when = d.delivered_at || d.finished_at;
  return el(
    "li",
    { class: "event delivery", "data-event": "delivery", "data-status": d.status },
    el("time", { datetime: d.created_at }, fmtTime(d.created_at, true)),
    el("span", { class: "what" }, `${t("event.notified")} ${d.receiver} (${d.channel}) · ${t("reason." + d.reason)}`),
    el(
      "span",
      { class: ok ? "flag-ok" : "flag-bad" },
      `${t("delivery." + d.status)}${when ? " " + fmtTime(when) : ""} · ${t("delivery.tries").replace("{n}", d.attempts)}`,
    ),
    d.last_error ? el("span", { class: "muted" }, d.last_error) : null,
  );
}
