// Silences: the ones in force, a form to add one (also filled in from an alert's "Silence"
// button: building, kind, device and rule), extend by an hour, end now. Roles without the
// `silence` permission are told so instead of getting an empty tab.

import { api, app, buildingLabel, buildingName, buildings, can } from "./api.js";
import { el, fmtTime, t } from "./common.js";

const $ = (id) => document.getElementById(id);
const MATCHERS = ["building", "kind", "device", "rule"];

async function fillBuildingSelect() {
  const select = $("silence-building");
  if (select.options.length > 1) return;
  const all = await buildings();
  select.append(...all.map((b) => el("option", { value: b.building }, buildingName(b))));
}

export async function showSilences() {
  const allowed = can("silence");
  $("silence-denied").hidden = allowed;
  $("silence-form").hidden = !allowed;
  $("silence-list").hidden = !allowed;
  if (!allowed) {
    $("silence-denied").textContent = t("silences.denied").replace("{role}", t("role." + app.session.role));
    $("silence-empty").hidden = true;
    return;
  }
  await fillBuildingSelect();
  applyPrefill();
  await loadSilences();
}

function describe(s) {
  const parts = MATCHERS.filter((k) => s[k]).map((k) => {
    const value = k === "building" ? buildingLabel(s[k]) : k === "kind" ? t("kind." + s[k]) : s[k];
    return `${t("silences." + k)}: ${value}`;
  });
  return parts.join(" · ");
}

export async function loadSilences() {
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
          el("strong", {}, describe(s)),
          el("br"),
          el("span", { class: "muted" }, `${t("silences.until")} ${fmtTime(s.ends_at, true)} · ${t("silences.by")} ${s.created_by} · ${t("silences.reason")}: ${s.reason}`),
        ),
        el(
          "span",
          { class: "actions" },
          el("button", { type: "button", class: "secondary", "data-action": "extend", onclick: (e) => change(e, s.id, "PATCH") }, t("silences.extend")),
          el("button", { type: "button", class: "secondary", "data-action": "end", onclick: (e) => change(e, s.id, "DELETE") }, t("silences.end")),
        ),
      ),
    ),
  );
  list.hidden = silences.length === 0;
  $("silence-empty").hidden = silences.length > 0;
}

async function change(event, id, method) {
  event.currentTarget.disabled = true;
  $("silence-error").textContent = "";
  try {
    await api(`silences/${id}`, method === "PATCH" ? { method, body: { extend_minutes: 60 } } : { method });
    $("silence-status").textContent = t(method === "PATCH" ? "silences.extended" : "silences.ended");
  } catch (error) {
    if (error.status !== 401) $("silence-error").textContent = `${t("alert.failed")}: ${error.message}`;
  }
  await loadSilences();
  $("silences-title").focus();
}

// From an alert's "Silence" button: the form, filled in with that alert's place and rule once
// the view is shown (the router shows it after the hash changes).
let prefill = null;

export function silenceLike(alert) {
  prefill = alert;
  if (location.hash === "#/silences") showSilences();
  else location.hash = "#/silences";
}

function applyPrefill() {
  if (!prefill) return;
  $("silence-building").value = prefill.building;
  $("silence-kind").value = prefill.kind;
  $("silence-device").value = prefill.device;
  $("silence-rule").value = prefill.rule;
  prefill = null;
  $("silence-reason").focus();
}

$("silence-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = {};
  for (const [k, v] of form.entries()) if (v !== "") body[k] = k === "duration_minutes" ? Number(v) : v;
  $("silence-error").textContent = "";
  try {
    await api("silences", { method: "POST", body });
    $("silence-reason").value = "";
    $("silence-status").textContent = t("silences.created");
    await loadSilences();
  } catch (error) {
    if (error.status !== 401) $("silence-error").textContent = `${t("alert.failed")}: ${error.message}`;
  }
});
