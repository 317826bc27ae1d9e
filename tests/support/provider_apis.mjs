// Providers' own APIs, played on 127.0.0.1 as their documentation describes
// them, for catch-up: Stripe's events list and GitHub's hook deliveries with
// their redelivery. Each records the requests it answered.
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import * as sign from "./providers.mjs";

async function listen(handler) {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const url = new URL(req.url, "http://127.0.0.1");
      requests.push({ method: req.method, url, headers: req.headers });
      try {
        const answer = await handler(req, url, Buffer.concat(chunks));
        res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
        res.end(JSON.stringify(answer.body ?? {}));
      } catch (err) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: String(err) }));
      }
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    requests,
    close() {
      server.closeAllConnections?.();
      return new Promise((r) => server.close(r));
    },
  };
}

/**
 * Stripe's `GET /v1/events` (https://docs.stripe.com/api/events/list): events
 * newest first, `created[gte]` in unix seconds, `limit` 1 to 100 (default
 * 10), `starting_after` an event id of the previous page; a bad key answers
 * 401 with an `invalid_request_error`.
 */
export async function startStripeApi({ apiKey, events }) {
  const api = await listen((req, url) => {
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return { status: 401, body: { error: { type: "invalid_request_error", message: "Invalid API Key provided" } } };
    }
    if (req.method !== "GET" || url.pathname !== "/v1/events") {
      return { status: 404, body: { error: { type: "invalid_request_error", message: "Unrecognized request URL" } } };
    }
    const gte = Number(url.searchParams.get("created[gte]") ?? 0);
    const limit = Number(url.searchParams.get("limit") ?? 10);
    if (!(limit >= 1 && limit <= 100)) {
      return { status: 400, body: { error: { type: "invalid_request_error", param: "limit" } } };
    }
    const listed = api.events
      .filter((e) => e.created >= gte)
      .sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
    const after = url.searchParams.get("starting_after");
    const from = after ? listed.findIndex((e) => e.id === after) + 1 : 0;
    if (after && from === 0) {
      return { status: 400, body: { error: { type: "invalid_request_error", param: "starting_after" } } };
    }
    const data = listed.slice(from, from + limit);
    return { status: 200, body: { object: "list", url: "/v1/events", has_more: from + limit < listed.length, data } };
  });
  api.events = events;
  return api;
}

/** A Stripe event object as the events API and webhooks carry it. */
export function stripeEvent(n, created, type = "charge.succeeded") {
  return {
    id: `evt_catchup_${String(n).padStart(5, "0")}`,
    object: "event",
    api_version: "2024-06-20",
    created,
    type,
    livemode: false,
    pending_webhooks: 1,
    data: { object: { id: `ch_${n}`, object: "charge", amount: 100 + n } },
  };
}

/**
 * GitHub's hook deliveries
 * (https://docs.github.com/en/rest/repos/webhooks#list-deliveries-for-a-repository-webhook):
 * newest first, `per_page` up to 100, paged by an opaque `cursor` in the
 * `Link` header's `rel="next"`; `POST …/deliveries/{id}/attempts` answers 202
 * and redelivers: the payload goes again, signed, with the same
 * `X-GitHub-Delivery`, to the hook's URL, and becomes a delivery of its own.
 * Requests need a token and a User-Agent.
 */
export async function startGitHubApi({ token, repo, hookId, hookUrl, secret }) {
  const prefix = `/repos/${repo}/hooks/${hookId}/deliveries`;
  let nextId = 1;
  const api = await listen(async (req, url) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      return { status: 401, body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" } };
    }
    if (!req.headers["user-agent"]) {
      return { status: 403, body: { message: "Request forbidden by administrative rules." } };
    }
    if (req.method === "GET" && url.pathname === prefix) {
      const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 30), 100);
      const listed = [...api.deliveries].sort((a, b) => b.id - a.id);
      const from = Number((url.searchParams.get("cursor") ?? "v1_0").slice(3));
      const page = listed.slice(from, from + perPage).map(({ payload, ...listedFields }) => listedFields);
      const headers = {};
      if (from + perPage < listed.length) {
        headers.link = `<${api.base}${prefix}?per_page=${perPage}&cursor=v1_${from + perPage}>; rel="next"`;
      }
      return { status: 200, body: page, headers };
    }
    const attempt = url.pathname.match(new RegExp(`^${prefix}/(\\d+)/attempts$`));
    if (req.method === "POST" && attempt) {
      const original = api.deliveries.find((d) => d.id === Number(attempt[1]));
      if (!original) return { status: 404, body: { message: "Not Found" } };
      api.redelivered.push(original.id);
      const answered = await deliver(original.guid, original.event, original.payload, true);
      return { status: 202, body: { answered } };
    }
    return { status: 404, body: { message: "Not Found" } };
  });
  /** Sends a delivery to the hook's URL (unless `statusCode` says what happened) and records it. */
  async function deliver(guid, event, payload, redelivery, statusCode) {
    let status = statusCode;
    if (status === undefined) {
      const body = Buffer.from(JSON.stringify(payload));
      const res = await fetch(hookUrl, { method: "POST", headers: sign.github(secret, body, { delivery: guid, event }), body });
      await res.text();
      status = res.status;
    }
    api.deliveries.push({
      id: nextId++, guid, delivered_at: new Date(api.clock()).toISOString().replace(/\.\d+Z$/, "Z"),
      redelivery, duration: 0.1, status: status >= 200 && status < 300 ? "OK" : `Invalid HTTP Response: ${status}`,
      status_code: status, event, action: payload.action ?? null, installation_id: null, repository_id: 1, payload,
    });
    return status;
  }
  api.deliveries = [];
  api.redelivered = [];
  api.clock = () => Date.now();
  /** A delivery GitHub made: sent for real, or only recorded with `statusCode` (the relay was unreachable). */
  api.send = (payload, { event = "push", statusCode, guid = randomUUID() } = {}) =>
    deliver(guid, event, payload, false, statusCode).then(() => guid);
  return api;
}
