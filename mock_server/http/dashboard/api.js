// The API as this page uses it: the token (sessionStorage only, sent only in the
// Authorization header of same-origin fetches, never in a URL), JSON requests,
// problem+json errors, and the one reaction to a 401: back to sign-in.

const KEY = "jobctl.dashboard.token";

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  sessionStorage.setItem(KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

// Set by app.js: what to do when the server no longer takes the token.
let onUnauthorized = () => {};
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(status, problem));
    this.status = status;
    this.problem = problem || {};
  }
  // Validation problems: the protocol's `details`, or `errors` as some APIs name them.
  get details() {
    const list = this.problem.details || this.problem.errors;
    return Array.isArray(list) ? list : [];
  }
}

function problemText(status, problem) {
  const text = problem && (problem.detail || problem.error || problem.title);
  return typeof text === "string" && text ? text : `the server answered ${status}`;
}

// A same-origin request with the token. Only relative paths or this origin's URLs:
// the token never goes anywhere else.
export async function api(path, { method = "GET", body, headers = {}, signal, auth } = {}) {
  const url = new URL(path, location.href);
  if (url.origin !== location.origin) {
    throw new Error("refusing to send the token to another origin");
  }
  const sent = { ...headers };
  const bearer = auth === undefined ? token() : auth;
  if (bearer) sent.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    credentials: "omit",
    cache: "no-store",
  });
  if (response.status === 401) {
    if (auth === undefined) onUnauthorized();
    throw new ApiError(401, await problemOf(response));
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response;
}

export async function json(path, options) {
  const response = await api(path, options);
  return response.status === 204 ? null : response.json();
}

async function problemOf(response) {
  try {
    const text = await response.text();
    const value = JSON.parse(text);
    return value && typeof value === "object" ? value : null;
  } catch {
    return null; // an HTML page from a proxy, an empty body
  }
}

// The file name of a Content-Disposition header (RFC 6266: filename* first).
export function filenameOf(disposition, fallback) {
  if (disposition) {
    const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition);
    if (star) {
      try {
        return clean(decodeURIComponent(star[1]), fallback);
      } catch {
        /* fall through */
      }
    }
    const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/i.exec(disposition);
    if (plain) return clean((plain[1] ?? plain[2]).trim(), fallback);
  }
  return fallback;
}

function clean(name, fallback) {
  const base = name.replace(/[\\/]/g, "_").replace(/[\u0000-\u001f]/g, "").trim();
  return base && base !== "." && base !== ".." ? base : fallback;
}
