// The dashboard's API client and its shared state: the token, the session, what the role may do.
//
// The token is kept in sessionStorage (this tab only, gone when it closes) and sent as a Bearer
// header on every call. Errors come back as ApiError with a message in the page's language: the
// API's own (English) detail is kept apart, for the console and the title attribute only.

import { CONFIG, t } from "./common.js";

export const TOKEN_KEY = "louyu.token";

export const app = {
  token: null,
  session: null,
  buildings: [],
  onUnauthorized: () => {},
  onReachable: () => {},
};

export class ApiError extends Error {
  constructor(status, detail = "") {
    super(errorText(status));
    this.status = status;
    this.detail = detail;
  }
}

// What the operator reads: a sentence in the page's language for each kind of failure.
function errorText(status) {
  if (status === 0) return t("error.network");
  if (status === 401) return t("signin.bad");
  if (status === 403) return t("error.forbidden");
  if (status === 404) return t("error.gone");
  if (status === 409) return t("error.conflict");
  if (status === 429) return t("error.busy");
  if (status >= 500) return t("error.server");
  return t("error.rejected");
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${app.token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path.startsWith("/") ? path : `${CONFIG.api}/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    app.onReachable(false);
    throw new ApiError(0, String(error));
  }
  app.onReachable(true); // it answered: a 503 about InfluxDB is not an outage of the API
  if (response.status === 401) {
    app.onUnauthorized();
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

export const can = (permission) => Boolean(app.session?.permissions.includes(permission));

// Buildings are needed by more than one screen (names, the silence form): asked for once.
export async function buildings() {
  if (!app.buildings.length) app.buildings = await api("buildings");
  return app.buildings;
}

export function buildingName(b) {
  return CONFIG.lang === "en" && b.name_en ? b.name_en : b.name || b.building;
}

export function buildingLabel(code) {
  const found = app.buildings.find((b) => b.building === code);
  return found ? buildingName(found) : code;
}
