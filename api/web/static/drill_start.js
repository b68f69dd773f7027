// Start a drill from the console (POST /api/v1/drills, operator and up): a button on each AED of
// the building view's floor list, then a confirmation that says plainly it is a drill and what
// will happen. The API sends the cabinet's messages through the real pipeline, marked as a drill;
// once it has answered 202 the console opens the building's alerts, where the drill's alert
// arrives on the stream with its DRILL mark and a link to its incident.
//
// The button is not drawn for lower roles (the API would say 403 anyway).

import { api, can } from "./api.js";
import { el, t } from "./common.js";
import { locationText } from "./site_plan.js";

const DIALOG_ID = "drill-dialog";
// Seconds between the drill's stages (opened, in use, back): time enough to watch each one arrive.
const INTERVAL_S = 20;

// The button for one AED of the floor list, or null when this session may not start a drill.
export function drillButton(device) {
  if (!can("resolve") || device.kind !== "aed" || !device.registered) return null;
  const where = `${device.building}/${device.device}`;
  return el(
    "button",
    {
      type: "button",
      class: "secondary drill-start",
      "data-action": "drill",
      "aria-label": `${t("drill.start")}: ${where}`,
      onclick: (event) => startDrill(event.currentTarget, device),
    },
    t("drill.start"),
  );
}

// The dialog is built once, on first use: the dashboard's template stays as it is.
function dialog() {
  let node = document.getElementById(DIALOG_ID);
  if (node) return node;
  node = el(
    "dialog",
    { id: DIALOG_ID, class: "drill-dialog", "aria-labelledby": "drill-title", "aria-describedby": "drill-text" },
    el(
      "form",
      { method: "dialog" },
      el("p", { class: "drill-flag", "aria-hidden": "true" }, t("incident.drill")),
      el("h2", { id: "drill-title" }, t("drill.title")),
      el("div", { id: "drill-text" }, el("p", { "data-role": "drill-where" }), el("p", {}, t("drill.text").replaceAll("{s}", INTERVAL_S))),
      el(
        "div",
        { class: "dialog-buttons" },
        el("button", { value: "confirm", "data-role": "drill-confirm" }, t("drill.confirm")),
        el("button", { value: "cancel", class: "secondary", formnovalidate: true }, t("confirm.cancel")),
      ),
    ),
  );
  document.body.append(node);
  return node;
}

function ask(device) {
  const box = dialog();
  const place = [device.floor, locationText(device.location)].filter(Boolean).join(" · ");
  box.querySelector('[data-role="drill-where"]').textContent = t("drill.where")
    .replace("{device}", `${device.building}/${device.device}`)
    .replace("{place}", place || "—");
  box.returnValue = "";
  box.showModal();
  // Cancel has the focus: a stray Enter must not start a drill.
  box.querySelector('button[value="cancel"]').focus();
  return new Promise((resolve) => box.addEventListener("close", () => resolve(box.returnValue === "confirm"), { once: true }));
}

function say(text) {
  const status = document.getElementById("action-status");
  if (status) status.textContent = text;
}

async function startDrill(button, device) {
  const go = await ask(device);
  button.focus();
  if (!go) return;
  button.disabled = true;
  try {
    await api("drills", { method: "POST", body: { building: device.building, device: device.device, interval_s: INTERVAL_S } });
    say(t("drill.started").replace("{device}", `${device.building}/${device.device}`));
    location.hash = `#/alerts?building=${encodeURIComponent(device.building)}`;
  } catch (error) {
    button.disabled = false;
    button.title = error.detail || error.message;
    if (error.status === 401) return;
    // 409: the API refuses a drill over a real incident of that cabinet (say so, not "refreshed").
    const text = error.status === 409 ? t("drill.refused") : `${t("alert.failed")}: ${error.message}`;
    button.parentElement.querySelector('[data-role="drill-error"]')?.remove();
    button.after(el("span", { class: "flag-bad drill-error", "data-role": "drill-error", role: "alert" }, text));
  }
}
