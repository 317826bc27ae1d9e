// The management API, and nothing else: every call carries the key from session
// storage as a bearer token. A 401 anywhere ends the session (app.js listens).

const KEY = "hookrelay.key";
const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
  clear() { sessionStorage.removeItem(KEY); },
};

/** Fired with the error when the relay refuses the key. */
export const onUnauthorized = new EventTarget();

async function send(method, path, { body, key = session.key, raw = false, query } = {}) {
  let url = BASE + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const headers = { authorization: `Bearer ${key ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "network", "The relay could not be reached. Check your connection.");
  }
  if (raw && res.ok) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const err = new ApiError(res.status, json?.error?.code, json?.error?.message ?? text.slice(0, 200));
    if (res.status === 401 && key === session.key) {
      onUnauthorized.dispatchEvent(new CustomEvent("unauthorized", { detail: err }));
    }
    throw err;
  }
  return json;
}

export const api = {
  get: (path, query) => send("GET", path, { query }),
  post: (path, body) => send("POST", path, { body }),
  patch: (path, body) => send("PATCH", path, { body }),
  del: (path) => send("DELETE", path),
  raw: (path) => send("GET", path, { raw: true }),

  /** Who this key is: its role decides which actions the pages offer. */
  whoami: (key) => send("GET", "/whoami", { key }),
};

/** Role rules (the server enforces them; the dashboard hides what would be refused). */
const RANK = { viewer: 0, editor: 1, admin: 2 };
export function can(role, action) {
  const need = {
    replay: "editor", pause: "editor", create: "editor", edit: "editor", circuit: "editor",
    secret: "editor", catch_up: "editor", keys: "admin", rotate: "admin", delete: "admin",
  }[action] ?? "admin";
  return (RANK[role] ?? -1) >= RANK[need];
}

/** Every endpoint (the list API is not paged), cached briefly for names in tables. */
let endpointsCache = null;
export async function endpoints({ fresh = false } = {}) {
  if (!fresh && endpointsCache && Date.now() - endpointsCache.at < 15_000) return endpointsCache.data;
  const res = await api.get("/endpoints");
  endpointsCache = { at: Date.now(), data: res.data };
  return res.data;
}
export function forgetEndpoints() { endpointsCache = null; }

/** The provider registry (`GET /providers`): fixed for a release, so fetched once. */
let providersCache = null;
export async function providers() {
  providersCache ??= api.get("/providers").then((res) => res.data);
  try {
    return await providersCache;
  } catch (err) {
    providersCache = null;
    throw err;
  }
}
