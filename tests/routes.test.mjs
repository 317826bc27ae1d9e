// Routes: one endpoint, several destinations, each with its own filter,
// transformation and delivery controls. One ingest stores the body once and
// becomes one event per accepting route; a request no route accepts is kept as
// `filtered`. Every scenario ends with both conservation lines: per request
// (received = routed + filtered, and the filtered ones are listed) and per
// route (events = delivered + dead + in_flight, from the stats API and the
// route API alike, matching what each destination really got).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep } from "./support/relay.mjs";
import { startDestination, sequence } from "./support/destination.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation, assertRouteConservation, assertRequests, assertRouteFigures } from "./support/checks.mjs";

const SECRET = "whsec_stripe_routes";
let relay;
let dest;
let paths = 0;

before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "routes" });
});

after(async () => {
  await relay?.stop();
  await dest?.close();
});

const REFUND_TRANSFORM = {
  headers: { set: { "x-env": "test" }, remove: ["stripe-signature"] },
  body: [{ op: "pick", paths: ["/id", "/type"] }, { op: "set", path: "/source", value: "stripe" }],
};

/** A Stripe endpoint (all events) with a payment_intent.* route and a transformed charge.refunded route. */
async function threeRoutes(plans = {}, extra = {}) {
  const n = ++paths;
  const at = (name) => `/r${n}-${name}`;
  const ep = await relay.createEndpoint({
    name: `stripe ${n}`, provider: "stripe", secrets: [SECRET], destination_url: dest.route(at("all"), plans.all), ...extra,
  });
  const add = async (fields) => {
    const res = await relay.api("POST", `/endpoints/${ep.id}/routes`, fields);
    assert.equal(res.status, 201, res.text);
    return res.json;
  };
  const pi = await add({ name: "payments", destination_url: dest.route(at("pi"), plans.pi), event_types: ["payment_intent.*"], ...extra });
  const refunds = await add({
    name: "refunds", destination_url: dest.route(at("refund"), plans.refund), event_types: ["charge.refunded"],
    transform: REFUND_TRANSFORM, ...extra,
  });
  return { ep, pi, refunds, at };
}

const TYPES = ["payment_intent.succeeded", "charge.refunded", "customer.created"];

/** Sends Stripe-signed events; returns [{id, type, body, ack}]. */
async function send(ep, count, typeOf = (i) => TYPES[i % 3], tag = "") {
  const sent = [];
  for (let i = 0; i < count; i++) {
    const type = typeOf(i);
    const id = `evt_${tag}${ep.id.slice(-6)}_${i}`;
    // Spacing and key order a re-serialisation would change.
    const body = Buffer.from(`{"id":"${id}",  "type":"${type}", "data": {"object": {"amount": 10.50, "n": ${i}}}}`);
    const ack = await relay.ingest(ep.id, body, sign.stripe(SECRET, body));
    assert.equal(ack.status, 200, ack.text);
    sent.push({ id, type, body, ack: ack.json, sentAt: Date.now() });
  }
  return sent;
}

const ok = (r) => r.answered >= 200 && r.answered < 300;

async function waitFor(what, predicate, timeoutMs = 30_000, cronEveryMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  let lastCron = Date.now();
  while (Date.now() < deadline) {
    if (await predicate()) return;
    if (Date.now() - lastCron >= cronEveryMs) {
      await relay.fireCron();
      lastCron = Date.now();
    }
    await sleep(200);
  }
  assert.fail(`never: ${what}`);
}

describe("a Stripe endpoint with three routes", () => {
  it("gives each destination exactly its share of 30 mixed events: byte-exact, or transformed and signed with the route's secret", async () => {
    const { ep, pi, refunds, at } = await threeRoutes();
    const sent = await send(ep, 30);
    for (const s of sent) {
      const expected = 1 + (s.type.startsWith("payment_intent.") ? 1 : 0) + (s.type === "charge.refunded" ? 1 : 0);
      assert.equal(s.ack.status, "routed");
      assert.equal(s.ack.events.length, expected, `${s.type} fans out to ${expected}`);
      assert.equal(s.ack.id, s.ack.events[0]);
    }
    const delivered = (path) => dest.to(path).filter(ok);
    await waitFor("every destination got its share", () =>
      delivered(at("all")).length >= 30 && delivered(at("pi")).length >= 10 && delivered(at("refund")).length >= 10);
    await sleep(500);
    assert.equal(delivered(at("all")).length, 30, "all events, once each");
    assert.equal(delivered(at("pi")).length, 10, "payment_intent.* only");
    assert.equal(delivered(at("refund")).length, 10, "charge.refunded only");

    const byId = new Map(sent.map((s) => [s.id, s]));
    const sentOf = (got) => byId.get(JSON.parse(got.body.toString()).id);
    for (const got of delivered(at("all"))) {
      assert.ok(sentOf(got).body.equals(got.body), "the first route gets the bytes as received");
      assert.ok(sign.verifyStandard(ep.relay_secret, got.headers, got.body), "signed with the endpoint's relay secret");
      assert.ok(got.headers["stripe-signature"], "the provider's own headers are kept");
    }
    for (const got of delivered(at("pi"))) {
      assert.ok(sentOf(got).type.startsWith("payment_intent."));
      assert.ok(sentOf(got).body.equals(got.body), "an untransformed route gets the bytes as received");
      assert.ok(sign.verifyStandard(pi.relay_secret, got.headers, got.body), "signed with the route's relay secret");
      assert.ok(!sign.verifyStandard(ep.relay_secret, got.headers, got.body), "not with the endpoint's");
    }
    for (const got of delivered(at("refund"))) {
      const original = sentOf(got);
      assert.equal(original.type, "charge.refunded");
      assert.equal(got.body.toString(), JSON.stringify({ id: original.id, source: "stripe", type: "charge.refunded" }));
      assert.equal(got.headers["x-env"], "test");
      assert.equal(got.headers["stripe-signature"], undefined, "removed by the transformation");
      assert.ok(sign.verifyStandard(refunds.relay_secret, got.headers, got.body), "the signature covers the transformed bytes");
    }

    // The route tester shows the same verdict and bytes for a stored event.
    const refundEvent = sent.find((x) => x.type === "charge.refunded");
    const tried = await relay.api("POST", "/routes/test", { event_id: refundEvent.ack.id, event_types: ["charge.refunded"], transform: REFUND_TRANSFORM });
    assert.equal(tried.status, 200, tried.text);
    assert.equal(tried.json.matches, true);
    assert.equal(tried.json.sent.body, JSON.stringify({ id: refundEvent.id, source: "stripe", type: "charge.refunded" }));
    const miss = await relay.api("POST", "/routes/test", { event_id: refundEvent.ack.id, event_types: ["payment_intent.*"] });
    assert.deepEqual([miss.json.matches, miss.json.sent], [false, null]);

    const listed = await relay.api("GET", `/events?route_id=${pi.id}&limit=200`);
    assert.equal(listed.json.data.length, 10);
    assert.ok(listed.json.data.every((e) => e.route_id === pi.id && e.endpoint_id === ep.id));
    // Each request is one routed ingest naming exactly the events its ack named; two pages of 20 and 10.
    const first = await relay.api("GET", `/ingests?endpoint_id=${ep.id}&status=routed&limit=20`);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.data.length, 20);
    assert.equal(first.json.next_cursor, first.json.data[19].id);
    const rest = await relay.api("GET", `/ingests?endpoint_id=${ep.id}&status=routed&limit=20&cursor=${first.json.next_cursor}`);
    assert.equal(rest.json.data.length, 10);
    assert.equal(rest.json.next_cursor, null);
    const ingests = [...first.json.data, ...rest.json.data];
    assert.deepEqual(ingests.map((i) => i.event_type).sort(), sent.map((x) => x.type).sort());
    assert.deepEqual(ingests.map((i) => [...i.event_ids].sort().join()).sort(), sent.map((x) => [...x.ack.events].sort().join()).sort());
    const one = await relay.api("GET", `/ingests/${ingests[0].id}`);
    assert.equal(one.status, 200, one.text);
    assert.deepEqual({ ...one.json, headers: undefined }, { ...ingests[0], headers: undefined });
    assert.ok(one.json.headers.some(([k]) => k === "stripe-signature"), "the stored headers");

    await assertConservation(relay, ep.id, { received: 50, delivered: 50 });
    await assertRequests(relay, ep.id, { received: 30, routed: 30, filtered: 0 });
    await assertRouteConservation(relay, ep.id, { events: 30, delivered: 30 });
    await assertRouteConservation(relay, pi.id, { events: 10, delivered: 10 });
    await assertRouteConservation(relay, refunds.id, { events: 10, delivered: 10 });
    const figures = await assertRouteFigures(relay, ep.id, {
      [ep.id]: { total: 30, delivered: 30, dead: 0, in_flight: 0, name: ep.name, failure_streak: 0 },
      [pi.id]: { total: 10, delivered: 10, name: "payments", destination: dest.route(at("pi")), circuit_state: "closed", paused: false },
      [refunds.id]: { total: 10, delivered: 10, name: "refunds" },
    });
    assert.deepEqual([...figures.keys()], [ep.id, pi.id, refunds.id], "the first route, then oldest first");
    for (const [routeId, path] of [[ep.id, "all"], [pi.id, "pi"], [refunds.id, "refund"]]) {
      assert.equal(figures.get(routeId).events.delivered, delivered(at(path)).length, `${path}: the figures are the real deliveries`);
    }
    const statsIds = (await relay.api("GET", "/stats/endpoints")).json.data.map((d) => d.endpoint_id);
    assert.ok(statsIds.includes(ep.id));
    assert.ok(!statsIds.includes(pi.id) && !statsIds.includes(refunds.id), "routes are not listed as endpoints");
  });

  it("one destination down for a minute does not delay the others: they deliver on time throughout, then it drains", async (t) => {
    const DOWN_MS = 60_000;
    let downUntil = Infinity;
    const downForAMinute = () => ({ status: Date.now() < downUntil ? 503 : 200 });
    const fast = { retry: { schedule_s: [2], max_attempts: 100 }, circuit: { threshold: 1000, probe_interval_s: 1 } };
    const { ep, pi, refunds, at } = await threeRoutes({ pi: downForAMinute }, fast);
    const delivered = (path) => dest.to(path).filter(ok);
    downUntil = Date.now() + DOWN_MS;

    // A payment_intent and a refund every 5 s while the payments destination is
    // down; each must reach the two healthy routes within seconds of its ack.
    const sent = [];
    let round = 0;
    while (Date.now() < downUntil - 5_000) {
      const roundStart = Date.now();
      sent.push(...(await send(ep, 2, (i) => TYPES[i], `down${round++}_`)));
      await sleep(Math.max(0, 5_000 - (Date.now() - roundStart)));
    }
    const healthyIds = (path) => new Set(delivered(path).map((r) => JSON.parse(r.body.toString()).id));
    await waitFor("the healthy routes delivered everything sent so far", () =>
      healthyIds(at("all")).size === sent.length && healthyIds(at("refund")).size === sent.length / 2, 15_000, 3_000);
    assert.ok(Date.now() < downUntil, "the payments destination is still down");
    const lateness = [];
    for (const s of sent) {
      const first = delivered(at("all")).find((r) => JSON.parse(r.body.toString()).id === s.id);
      lateness.push(first.at - s.sentAt);
    }
    const worst = Math.max(...lateness);
    t.diagnostic(`healthy route lateness over ${sent.length} events: worst ${worst} ms`);
    assert.ok(worst < 10_000, `a healthy route waited ${worst} ms behind the down one`);
    assert.equal(delivered(at("pi")).length, 0);
    const piSent = sent.filter((s) => s.type.startsWith("payment_intent.")).length;
    assert.ok(dest.to(at("pi")).length >= piSent, "the down destination was tried");
    const failing = await relay.api("GET", `/events?route_id=${pi.id}&limit=50`);
    assert.equal(failing.json.data.length, piSent);
    assert.ok(failing.json.data.every((e) => e.status === "retrying" || e.status === "received" || e.status === "delivering"));
    await assertRouteConservation(relay, pi.id, { events: piSent, delivered: 0, in_flight: piSent });
    const whileDown = await assertRouteFigures(relay, ep.id, {
      [pi.id]: { total: piSent, delivered: 0, in_flight: piSent, circuit_state: "closed" },
      [ep.id]: { failure_streak: 0 },
    });
    assert.ok(whileDown.get(pi.id).failure_streak >= piSent, `every pi attempt failed: ${JSON.stringify(whileDown.get(pi.id))}`);

    await sleep(Math.max(0, downUntil - Date.now()));
    await waitFor("the recovered route drained", () => delivered(at("pi")).length >= piSent, 60_000, 3_000);
    await waitFor("every event delivered", async () =>
      (await assertRouteConservation(relay, pi.id)).delivered === piSent, 30_000, 3_000);
    const piIds = new Set(delivered(at("pi")).map((r) => r.headers["webhook-id"]));
    assert.equal(piIds.size, piSent, "each once");
    await assertConservation(relay, ep.id, { received: sent.length * 2, delivered: sent.length * 2 });
    await assertRouteConservation(relay, ep.id, { events: sent.length, delivered: sent.length });
    await assertRouteConservation(relay, refunds.id, { events: piSent, delivered: piSent });
    await assertRequests(relay, ep.id, { received: sent.length, routed: sent.length, filtered: 0 });
    const recovered = await assertRouteFigures(relay, ep.id, {
      [ep.id]: { total: sent.length, delivered: sent.length },
      [pi.id]: { total: piSent, delivered: piSent, in_flight: 0, failure_streak: 0 },
      [refunds.id]: { total: piSent, delivered: piSent },
    });
    assert.equal(recovered.get(pi.id).events.delivered, delivered(at("pi")).length, "the figures are the real deliveries");
  });

  it("a request no route accepts is kept as filtered and routed by a replay after a filter change; a transformation that cannot serve an event sends it to dead with the reason", async () => {
    const { ep, refunds, at } = await threeRoutes();
    const patched = await relay.api("PATCH", `/routes/${ep.id}`, { event_types: ["invoice.*"] });
    assert.equal(patched.status, 200, patched.text);
    const [filtered] = await send(ep, 1, () => "customer.created", "f");
    assert.deepEqual(filtered.ack, { id: null, duplicate: false, status: "filtered", events: [] });
    // Listed and counted while no route accepts it.
    const kept = await relay.api("GET", `/ingests?endpoint_id=${ep.id}&status=filtered`);
    assert.equal(kept.status, 200, kept.text);
    assert.equal(kept.json.data.length, 1);
    const [ingest] = kept.json.data;
    assert.deepEqual(
      { status: ingest.status, endpoint_id: ingest.endpoint_id, event_type: ingest.event_type, body_size: ingest.body_size, event_ids: ingest.event_ids },
      { status: "filtered", endpoint_id: ep.id, event_type: "customer.created", body_size: filtered.body.length, event_ids: [] });
    assert.equal((await relay.api("GET", `/ingests?endpoint_id=${ep.id}&status=routed`)).json.data.length, 0);
    assert.equal((await relay.api("GET", `/events?endpoint_id=${ep.id}`)).json.data.length, 0, "a filtered ingest has no events");
    await assertRequests(relay, ep.id, { received: 1, routed: 0, filtered: 1 });
    // The route tester tries the filtered request itself, before the change.
    const tryOn = async (eventTypes) => {
      const tried = await relay.api("POST", "/routes/test", { ingest_id: ingest.id, event_types: eventTypes });
      assert.equal(tried.status, 200, tried.text);
      return tried.json;
    };
    assert.equal((await tryOn(["invoice.*"])).matches, false);
    const willMatch = await tryOn(["invoice.*", "customer.*"]);
    assert.equal(willMatch.matches, true);
    assert.equal(willMatch.event_type, "customer.created");
    assert.equal(willMatch.sent.body, filtered.body.toString(), "the stored bytes");
    // A filter change plus a replay routes it.
    assert.equal((await relay.api("PATCH", `/routes/${ep.id}`, { event_types: ["invoice.*", "customer.*"] })).status, 200);
    const again = await relay.api("POST", "/replay", { status: "filtered", endpoint_id: ep.id });
    assert.equal(again.status, 202, again.text);
    assert.deepEqual(again.json, { replayed: 1, remaining: 0 });
    const routedLater = (await relay.api("GET", `/events?route_id=${ep.id}`)).json.data;
    assert.equal(routedLater.length, 1);
    const nowRouted = await relay.api("GET", `/ingests/${ingest.id}`);
    assert.equal(nowRouted.json.status, "routed");
    assert.deepEqual(nowRouted.json.event_ids, [routedLater[0].id]);
    assert.equal((await relay.api("GET", `/ingests?endpoint_id=${ep.id}&status=filtered`)).json.data.length, 0);
    await assertRequests(relay, ep.id, { received: 1, routed: 1, filtered: 0 });
    await relay.waitForEvent(routedLater[0].id, (e) => e.status === "delivered");
    assert.ok(filtered.body.equals(dest.to(at("all")).filter(ok)[0].body), "the stored bytes, as received");
    assert.deepEqual((await relay.api("POST", "/replay", { status: "filtered", endpoint_id: ep.id })).json, { replayed: 0, remaining: 0 });
    // A refund whose body is not an object cannot be picked from.
    const res = await relay.api("PATCH", `/routes/${refunds.id}`, {
      transform: { body: [{ op: "set", path: "/data/object/amount/x", value: 1 }] },
    });
    assert.equal(res.status, 200, res.text);
    const [refund] = await send(ep, 1, () => "charge.refunded", "t");
    assert.equal(refund.ack.events.length, 1, "only the refunds route accepts it");
    const dead = await relay.waitForEvent(refund.ack.id, (e) => e.status === "dead");
    assert.equal(dead.route_id, refunds.id);
    assert.equal(dead.attempts.length, 1);
    assert.equal(dead.attempts[0].outcome, "transform_error");
    assert.match(dead.dead_reason, /transformation failed/);
    assert.equal(dest.to(at("refund")).length, 0, "nothing was sent");

    await relay.api("PATCH", `/routes/${refunds.id}`, { transform: REFUND_TRANSFORM });
    const replay = await relay.api("POST", `/events/${refund.ack.id}/replay`);
    assert.equal(replay.status, 202, replay.text);
    await relay.waitForEvent(refund.ack.id, (e) => e.status === "delivered");
    assert.equal(dest.to(at("refund")).filter(ok).length, 1);
    await assertConservation(relay, ep.id, { received: 2, delivered: 2 });
    await assertRouteConservation(relay, ep.id, { events: 1, delivered: 1 });
    await assertRouteConservation(relay, refunds.id, { events: 1, delivered: 1 });
    await assertRequests(relay, ep.id, { received: 2, routed: 2, filtered: 0 });
    await assertRouteFigures(relay, ep.id, {
      [ep.id]: { total: 1, delivered: 1 },
      [refunds.id]: { total: 1, delivered: 1, dead: 0 },
    });
  });

  it("deleting the endpoint deletes its routes; a route id is no ingest URL", async () => {
    const { ep, pi } = await threeRoutes();
    assert.equal((await relay.ingest(pi.id, "{}", {})).status, 404);
    assert.equal((await relay.api("DELETE", `/endpoints/${ep.id}`)).status, 204);
    assert.equal((await relay.api("GET", `/routes/${pi.id}`)).status, 404);
    assert.equal((await relay.api("GET", `/endpoints/${ep.id}/routes`)).status, 404);
  });
});

describe("a route changed behind the endpoint cache", () => {
  let cached;
  before(async () => {
    cached = await Relay.start({ name: "routes-cache", vars: { ENDPOINT_CACHE_TTL_S: "300" } });
  });
  after(async () => {
    await cached?.stop();
  });

  it("delivers the next attempt to the route as it now is in D1, not as the cache last saw it", async () => {
    const ep = await cached.createEndpoint({ name: "cached", provider: "none", destination_url: dest.route("/cache-first") });
    const made = await cached.api("POST", `/endpoints/${ep.id}/routes`, { name: "moving", destination_url: dest.route("/cache-a") });
    assert.equal(made.status, 201, made.text);
    const route = made.json;
    const sendOne = async (n) => {
      const ack = await cached.ingest(ep.id, Buffer.from(`{"n":${n}}`), { "content-type": "application/json" });
      assert.equal(ack.status, 200, ack.text);
      return ack.json.events[1];
    };
    const first = await sendOne(1);
    await cached.waitForEvent(first, (e) => e.status === "delivered");
    assert.equal(dest.to("/cache-a").length, 1);

    // Another isolate moves the route; this Worker's cache (300 s) still holds the old row.
    const moved = dest.route("/cache-b");
    await cached.d1(`UPDATE endpoints SET destination_url = '${moved}', updated_at = ${Date.now()} WHERE id = '${route.id}'`, await cached.shardOf(route.id));
    const second = await sendOne(2);
    await cached.waitForEvent(second, (e) => e.status === "delivered");
    assert.equal(dest.to("/cache-b").length, 1, "delivered where the route now points");
    assert.equal(dest.to("/cache-a").length, 1, "not where the cache last saw it");
    assert.equal(JSON.parse(dest.to("/cache-b")[0].body.toString()).n, 2);
    await assertRouteConservation(cached, route.id, { events: 2, delivered: 2 });
  });
});
