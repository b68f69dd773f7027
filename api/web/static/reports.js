// The reports page: makes a report with this tab's token (the dashboard's sign-in), shows its
// HTML here, downloads its PDF, zip and CSV files, and lists the reports the schedule kept.
// The API answers HTML it escaped itself; only its <header> and <main> are taken in.

import { CONFIG, t } from "./common.js";
import { TOKEN_KEY } from "./api.js";
import { sendingItem } from "./report_sending.js";

const token = sessionStorage.getItem(TOKEN_KEY);
const form = document.getElementById("report-form");
const status = document.getElementById("report-status");
const target = document.getElementById("report");

function headers(accept) {
  return { Authorization: `Bearer ${token}`, Accept: accept };
}

function reportUrl(format) {
  const data = new FormData(form);
  const params = new URLSearchParams({ period: data.get("period"), lang: CONFIG.lang, format });
  // Noon UTC on the chosen date: the same date in any zone within 11 hours of UTC (Asia/Shanghai),
  // so inside the day, week or month wanted.
  params.set("start", `${data.get("date")}T12:00:00Z`);
  if (data.get("building")) params.set("building", data.get("building"));
  return `${CONFIG.api}/reports/${encodeURIComponent(data.get("kind"))}?${params}`;
}

async function download(url) {
  status.textContent = t("reports.making");
  const response = await fetch(url, { headers: headers("*/*"), cache: "no-store" });
  if (!response.ok) {
    status.textContent = `${response.status}`;
    return;
  }
  const disposition = response.headers.get("content-disposition") || "";
  const name = (disposition.match(/filename="([^"]+)"/) || [null, "report"])[1];
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
  status.textContent = "";
}

async function show() {
  status.textContent = t("reports.making");
  target.replaceChildren();
  const response = await fetch(reportUrl("html"), { headers: headers("text/html"), cache: "no-store" });
  if (!response.ok) {
    status.textContent = `${response.status}`;
    return;
  }
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const part of [page.querySelector("header"), page.querySelector("main")]) {
    if (part) target.append(document.importNode(part, true));
  }
  // The page's own format links go through this tab's token too.
  target.querySelector(".report-formats")?.remove();
  status.textContent = "";
  target.querySelector("h1")?.setAttribute("tabindex", "-1");
  target.querySelector("h1")?.focus();
}

async function kept() {
  const list = document.getElementById("kept");
  const response = await fetch(`${CONFIG.api}/reports?limit=20`, { headers: headers("application/json") });
  if (!response.ok) return;
  const body = await response.json();
  list.replaceChildren();
  if (!body.items.length) {
    const empty = document.createElement("li");
    empty.textContent = t("reports.none_kept");
    list.append(empty);
  }
  for (const item of body.items) {
    for (const file of item.files) {
      const entry = document.createElement("li");
      const link = document.createElement("a");
      link.href = `${CONFIG.api}/reports/${item.id}/${encodeURIComponent(file)}`;
      link.textContent = file;
      entry.append(link);
      list.append(entry);
    }
    const sending = sendingItem(item);
    if (sending) list.append(sending);
  }
}

async function buildings() {
  const response = await fetch(`${CONFIG.api}/buildings`, { headers: headers("application/json") });
  if (!response.ok) return;
  const select = form.elements.building;
  for (const building of await response.json()) {
    const option = document.createElement("option");
    option.value = building.building;
    option.textContent = (CONFIG.lang === "en" && building.name_en) || building.name || building.building;
    select.append(option);
  }
}

if (!token) {
  document.getElementById("reports-signin").hidden = false;
  form.hidden = true;
} else {
  const today = new Date();
  form.elements.date.value = new Date(today.getFullYear(), today.getMonth() - 1, 15).toISOString().slice(0, 10);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show();
  });
  for (const button of form.querySelectorAll("button[data-format]")) {
    button.addEventListener("click", () => download(reportUrl(button.dataset.format)));
  }
  // Links inside the report and the kept list need the token: fetched, then saved.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='/api/v1/reports']");
    if (!link) return;
    event.preventDefault();
    download(link.getAttribute("href"));
  });
  buildings();
  kept();
}
