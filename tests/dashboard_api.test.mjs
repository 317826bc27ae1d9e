// The dashboard's aggregate and search API on workerd: signed GitHub webhooks to
// an endpoint whose destination answers after a known delay, one that always
// fails, one that fails once then recovers, plus an idle and a deleted endpoint.
// Once every event is delivered or dead, the time series must count exactly what
// was sent, bucket by bucket; the per-endpoint figures must match the attempts
// on record (success rate, nearest-rank p50/p95 read from the hourly latency
// histogram, failure streak, counts); and the
// events list must find events by type (exact and prefix), by id, by provider
// delivery id, and by receipt time, across pages.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Relay, sleep } from "./support/relay.mjs";
import { startDestination, sequence } from "./support/destination.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation } from "./support/checks.mjs";

const SECRET = "dashboard-gh-secret";
/** The `ok` destination answers its n-th request after DELAYS[n] ms. */
const DELAYS = [40, 80, 120, 160, 400];
/** How far the relay's measured duration may fall short of the destination's delay. */
const CLOCK_SLACK_MS = 5;
const HOUR_MS = 3_600_000;

let relay;
let dest;
let ok; // github -> 200 after DELAYS
let flaky; // none -> 500, then 200
let failing; // github -> 500 forever: 3 attempts, then dead
let idle; // never sent to
let gone; // deleted
const sent = []; // {id, endpoint, type, delivery}
let startedAt;

before(async () => {
  startedAt = Date.now();
  dest = await startDestination();
  relay = await Relay.start({ name: "dashboard" });
  const create = (name, fields) => relay.createEndpoint({ name, ...fields });
  ok = await create("ok", {
    provider: "github", secrets: [SECRET],
    destination_url: dest.route("/ok", (_req, i) => ({ status: 200, delayMs: DELAYS[i % DELAYS.length] })),
  });
  flaky = await create("flaky", {
    provider: "none", destination_url: dest.route("/flaky", sequence(500, 200)),
    retry: { schedule_s: [1], jitter: 0 },
  });
  failing = await create("failing", {
    provider: "github", secrets: [SECRET], destination_url: dest.route("/fail", sequence(500)),
    retry: { schedule_s: [1, 1], max_attempts: 3, jitter: 0 },
  });
  idle = await create("idle", { provider: "none", destination_url: dest.route("/idle") });
  gone = await create("gone", { provider: "none", destination_url: dest.route("/gone") });
  assert.equal((await relay.api("DELETE", `/endpoints/${gone.id}`)).status, 204);

  const github = async (ep, event, action) => {
    const delivery = randomUUID();
    const body = JSON.stringify({ ...(action ? { action } : { ref: "refs/heads/main" }), n: sent.length });
    const res = await relay.ingest(ep.id, body, sign.github(SECRET, body, { delivery, event }));
    assert.equal(res.status, 200, res.text);
    sent.push({ id: res.json.id, endpoint: ep.id, type: action ? `${event}.${action}` : event, delivery });
    await sleep(15); // distinct received_at for the time filters
  };
  await github(ok, "push");
  await github(ok, "pull_request", "opened");
  await github(failing, "issues", "opened");
  await github(ok, "pull_request", "closed");
  await github(ok, "push");
  const key = `key-${randomUUID()}`;
  const res = await relay.ingest(flaky.id, '{"hello":"world"}', { "content-type": "application/json", "idempotency-key": key });
  assert.equal(res.status, 200, res.text);
  sent.push({ id: res.json.id, endpoint: flaky.id, type: null, delivery: key });
  await sleep(15);
  await github(ok, "pull_request", "opened");
  await github(failing, "issues", "opened");

  for (const { id, endpoint } of sent) {
    const done = endpoint === failing.id ? (e) => e.status === "dead" : (e) => e.status === "delivered";
    await relay.waitForEvent(id, done, { timeoutMs: 60_000, cronEveryMs: 1000 });
  }
});

after(async () => {
  await relay?.stop();
  await dest?.close();
});

const events = () => Promise.all(sent.map(({ id }) => relay.event(id)));
const ids = (list) => list.map((e) => e.id);
const sentTo = (ep) => sent.filter((s) => s.endpoint === ep.id);
const at = (iso) => Date.parse(iso);

/** What each bucket must hold, computed from the events and attempts on record. */
function expectedBuckets(details, bucketMs) {
  const buckets = new Map();
  const add = (iso, key) => {
    const start = Math.floor(at(iso) / bucketMs) * bucketMs;
    const b = buckets.get(start) ?? { received: 0, delivered: 0, failed: 0 };
    b[key] += 1;
    buckets.set(start, b);
  };
  for (const e of details) {
    add(e.received_at, "received");
    for (const a of e.attempts) add(a.started_at, a.outcome === "delivered" ? "delivered" : "failed");
  }
  return buckets;
}

function totals(series) {
  return series.buckets.reduce((t, b) => ({
    received: t.received + b.received, delivered: t.delivered + b.delivered, failed: t.failed + b.failed,
  }), { received: 0, delivered: 0, failed: 0 });
}

async function timeseries(query) {
  const before = Date.now();
  const res = await relay.api("GET", `/stats/timeseries${query}`);
  const after = Date.now();
  assert.equal(res.status, 200, res.text);
  return { series: res.json, before, after };
}

/** The nearest-rank percentile, computed here independently of the relay. */
function nearestRank(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((sorted.length * p) / 100)) - 1];
}

/** The upper bounds (ms) of the rollups' latency histogram buckets; slower ones share the last. */
const LATENCY_BOUNDS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/**
 * A percentile as the rollups report it: the upper bound of the histogram
 * bucket that holds the nearest-rank value, never above the slowest duration.
 */
function histogramPercentile(values, p) {
  const exact = nearestRank(values, p);
  const slowest = Math.max(...values);
  return Math.min(LATENCY_BOUNDS_MS.find((bound) => exact <= bound) ?? slowest, slowest);
}

async function listEvents(query) {
  const res = await relay.api("GET", `/events?${query}`);
  assert.equal(res.status, 200, res.text);
  const list = ids(res.json.data);
  assert.deepEqual(list, [...list].sort().reverse(), "newest first");
  return res.json;
}

async function refused(path) {
  const res = await relay.api("GET", path);
  assert.equal(res.status, 400, `${path}: ${res.text}`);
  assert.equal(res.json.error.code, "invalid_query", path);
  assert.equal(typeof res.json.error.message, "string");
}

describe("the time series", () => {
  it("counts exactly what was sent, received, delivered and failed, in the current hourly bucket", async () => {
    // What the test itself did: 8 events; 5 + 1 delivered; 2 x 3 + 1 failed attempts.
    assert.equal(dest.to("/ok").length, 5);
    assert.equal(dest.to("/flaky").length, 2);
    assert.equal(dest.to("/fail").length, 6);
    const { series, before, after } = await timeseries("?window=24h");
    assert.equal(series.window, "24h");
    assert.equal(series.bucket_s, 3600);
    assert.equal(series.buckets.length, 24);
    assert.deepEqual(totals(series), { received: 8, delivered: 6, failed: 7 });

    const last = series.buckets.at(-1);
    assert.ok(at(last.t) <= after && before < at(series.to), `the last bucket holds now: ${last.t} .. ${series.to}`);
    const expected = expectedBuckets(await events(), HOUR_MS);
    const zero = { received: 0, delivered: 0, failed: 0 };
    for (const b of series.buckets) {
      const { t, ...counts } = b;
      assert.deepEqual(counts, expected.get(at(t)) ?? zero, `bucket ${t}`);
    }
    // Everything happened in the current bucket (or, if the test straddled the
    // hour, in it and the one before).
    const sinceStart = series.buckets.filter((b) => at(b.t) >= Math.floor(startedAt / HOUR_MS) * HOUR_MS);
    assert.ok(sinceStart.includes(last) && sinceStart.length <= 2, `buckets since the test began: ${sinceStart.length}`);
    assert.deepEqual(totals({ buckets: sinceStart }), { received: 8, delivered: 6, failed: 7 });
  });

  it("has every bucket, zeros included, aligned to UTC boundaries, oldest first, in each window", async () => {
    for (const [window, bucketS, count] of [["24h", 3600, 24], ["7d", 21600, 28], ["30d", 86400, 30]]) {
      const { series, before, after } = await timeseries(`?window=${window}`);
      assert.equal(series.window, window);
      assert.equal(series.bucket_s, bucketS);
      assert.equal(series.buckets.length, count, window);
      const step = bucketS * 1000;
      assert.equal(at(series.from), at(series.buckets[0].t), `${window}: from is the first bucket`);
      assert.equal(at(series.to), at(series.buckets.at(-1).t) + step, `${window}: to ends the last bucket`);
      series.buckets.forEach((b, i) => {
        assert.equal(at(b.t) % step, 0, `${window}: ${b.t} is aligned`);
        if (i > 0) assert.equal(at(b.t) - at(series.buckets[i - 1].t), step, `${window}: consecutive`);
      });
      assert.ok(at(series.buckets.at(-1).t) <= after && before < at(series.to), `${window}: ends with the current bucket`);
      assert.ok(series.buckets.filter((b) => b.received + b.delivered + b.failed === 0).length >= count - 2, `${window}: quiet buckets are zeros`);
      assert.deepEqual(totals(series), { received: 8, delivered: 6, failed: 7 }, window);
    }
    const { series } = await timeseries("");
    assert.equal(series.window, "24h", "24h is the default");
  });

  it("counts one endpoint only when asked", async () => {
    assert.deepEqual(totals((await timeseries(`?endpoint_id=${failing.id}`)).series), { received: 2, delivered: 0, failed: 6 });
    assert.deepEqual(totals((await timeseries(`?window=7d&endpoint_id=${ok.id}`)).series), { received: 5, delivered: 5, failed: 0 });
    assert.deepEqual(totals((await timeseries(`?window=30d&endpoint_id=${flaky.id}`)).series), { received: 1, delivered: 1, failed: 1 });
    assert.deepEqual(totals((await timeseries(`?endpoint_id=${idle.id}`)).series), { received: 0, delivered: 0, failed: 0 });
  });

  it("refuses an unknown window or a malformed endpoint id", async () => {
    await refused("/stats/timeseries?window=1h");
    await refused("/stats/timeseries?window=24H");
    await refused("/stats/timeseries?endpoint_id=nope");
  });
});

describe("per-endpoint figures", () => {
  it("give attempts, success rate, p50/p95 latency, failure streak and counts for every live endpoint", async () => {
    const res = await relay.api("GET", "/stats/endpoints");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.window, "24h");
    const { data } = res.json;
    assert.deepEqual(data.map((d) => d.endpoint_id), [ok.id, flaky.id, failing.id, idle.id].sort(),
      "every endpoint not deleted, oldest (smallest id) first");
    const byId = Object.fromEntries(data.map((d) => [d.endpoint_id, d]));
    const details = await events();
    const durations = (ep) => details.filter((e) => e.endpoint_id === ep.id).flatMap((e) => e.attempts.map((a) => a.duration_ms));

    // The delays were real: each attempt to `ok` took at least its request's delay.
    const requests = dest.to("/ok");
    for (const e of details.filter((d) => d.endpoint_id === ok.id)) {
      const n = requests.findIndex((r) => r.headers["webhook-id"] === e.id);
      assert.ok(n >= 0, `${e.id} reached the destination`);
      assert.ok(e.attempts[0].duration_ms >= DELAYS[n] - CLOCK_SLACK_MS, `${e.id}: ${e.attempts[0].duration_ms} ms >= ${DELAYS[n]} ms`);
    }

    const expectFigures = (ep, { attempts, success_rate, failure_streak, counts }) => {
      const d = byId[ep.id];
      assert.equal(d.attempts, attempts, `${ep.name} attempts`);
      assert.equal(d.success_rate, success_rate, `${ep.name} success_rate`);
      assert.equal(d.failure_streak, failure_streak, `${ep.name} failure_streak`);
      assert.deepEqual(d.counts, counts, `${ep.name} counts`);
      const all = durations(ep);
      assert.equal(all.length, attempts, `${ep.name}: attempts on record`);
      const expected = attempts ? { p50: histogramPercentile(all, 50), p95: histogramPercentile(all, 95) } : { p50: null, p95: null };
      assert.deepEqual(d.latency_ms, expected, `${ep.name} latency ${JSON.stringify(all)}`);
    };
    expectFigures(ok, { attempts: 5, success_rate: 1, failure_streak: 0, counts: { received: 5, delivered: 5, dead: 0, in_flight: 0 } });
    expectFigures(flaky, { attempts: 2, success_rate: 0.5, failure_streak: 0, counts: { received: 1, delivered: 1, dead: 0, in_flight: 0 } });
    expectFigures(failing, { attempts: 6, success_rate: 0, failure_streak: 6, counts: { received: 2, delivered: 0, dead: 2, in_flight: 0 } });
    expectFigures(idle, { attempts: 0, success_rate: null, failure_streak: 0, counts: { received: 0, delivered: 0, dead: 0, in_flight: 0 } });

    // Plausible: the median of 40..400 ms delays is at least the third delay, p95 the slowest.
    const { p50, p95 } = byId[ok.id].latency_ms;
    assert.ok(p50 >= DELAYS[2] - CLOCK_SLACK_MS && p50 <= p95, `p50 ${p50}`);
    assert.ok(p95 >= DELAYS[4] - CLOCK_SLACK_MS && p95 < 10_000, `p95 ${p95}`);
    await assertConservation(relay, ok.id, { received: 5, delivered: 5 });
    await assertConservation(relay, failing.id, { received: 2, dead: 2 });
  });

  it("for one endpoint when asked; none for a deleted one; refuses a malformed id", async () => {
    const all = (await relay.api("GET", "/stats/endpoints")).json.data;
    const one = await relay.api("GET", `/stats/endpoints?endpoint_id=${failing.id}`);
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(one.json.data, all.filter((d) => d.endpoint_id === failing.id));
    const deleted = await relay.api("GET", `/stats/endpoints?endpoint_id=${gone.id}`);
    assert.deepEqual(deleted.json, { window: "24h", data: [] });
    await refused("/stats/endpoints?endpoint_id=nope");
  });
});

describe("events search", () => {
  it("shows each event's type in the list and the detail", async () => {
    const page = await listEvents("limit=50");
    assert.deepEqual(new Set(ids(page.data)), new Set(ids(sent)));
    for (const s of sent) {
      assert.equal(page.data.find((e) => e.id === s.id).event_type, s.type, `${s.id} listed`);
      assert.equal((await relay.event(s.id)).event_type, s.type, `${s.id} detail`);
    }
  });

  it("filters by event type, exactly or by a trailing-* prefix", async () => {
    const ofType = (pred) => ids(sent.filter((s) => s.type !== null && pred(s.type))).sort().reverse();
    assert.deepEqual(ids((await listEvents("event_type=push")).data), ofType((t) => t === "push"));
    assert.equal(ofType((t) => t === "push").length, 2);
    assert.deepEqual(ids((await listEvents("event_type=pull_request.*")).data), ofType((t) => t.startsWith("pull_request.")));
    assert.equal(ofType((t) => t.startsWith("pull_request.")).length, 3);
    assert.deepEqual(ids((await listEvents("event_type=pull_request.o*")).data), ofType((t) => t === "pull_request.opened"));
    assert.deepEqual(ids((await listEvents("event_type=pull_request")).data), [], "exact means exact");
    assert.deepEqual(ids((await listEvents("event_type=pull_requests.*")).data), []);
    assert.deepEqual(ids((await listEvents("event_type=*")).data), ofType(() => true), "a lone * is every typed event");
    assert.deepEqual(ids((await listEvents(`event_type=issues.*&endpoint_id=${ok.id}`)).data), [], "with the other filters");
    assert.deepEqual(ids((await listEvents(`event_type=issues.opened&status=dead&endpoint_id=${failing.id}`)).data),
      ids(sentTo(failing)).sort().reverse());
  });

  it("pages through a filtered list with the cursor", async () => {
    const expected = ids(sent.filter((s) => s.type?.startsWith("pull_request."))).sort().reverse();
    const first = await listEvents("event_type=pull_request.*&limit=2");
    assert.deepEqual(ids(first.data), expected.slice(0, 2));
    assert.equal(first.next_cursor, expected[1]);
    const second = await listEvents(`event_type=pull_request.*&limit=2&cursor=${first.next_cursor}`);
    assert.deepEqual(ids(second.data), expected.slice(2));
    assert.equal(second.next_cursor, null);
  });

  it("finds an event by its id, by the provider's delivery id, and by its dedup key", async () => {
    const target = sent.find((s) => s.type === "pull_request.closed");
    assert.deepEqual(ids((await listEvents(`q=${target.id}`)).data), [target.id]);
    assert.deepEqual(ids((await listEvents(`q=${target.delivery}`)).data), [target.id], "X-GitHub-Delivery");
    const detail = await relay.event(target.id);
    assert.equal(detail.dedup_key, `id:${target.delivery}`);
    assert.deepEqual(ids((await listEvents(`q=${encodeURIComponent(detail.dedup_key)}`)).data), [target.id]);
    const keyed = sent.find((s) => s.endpoint === flaky.id);
    assert.deepEqual(ids((await listEvents(`q=${keyed.delivery}`)).data), [keyed.id], "Idempotency-Key");
    assert.deepEqual(ids((await listEvents(`q=${randomUUID()}`)).data), []);
    assert.deepEqual(ids((await listEvents("q=evt_00000000000000000000000000")).data), []);
    assert.deepEqual(ids((await listEvents(`q=${target.id}&endpoint_id=${failing.id}`)).data), [], "with the other filters");
  });

  it("keeps events received since a time and before another, given as RFC 3339 or unix ms", async () => {
    const received = (await events()).map((e) => ({ id: e.id, t: at(e.received_at) })).sort((a, b) => a.t - b.t);
    assert.equal(new Set(received.map((r) => r.t)).size, received.length, "distinct receipt times");
    const split = received[3].t;
    const newest = (rows) => rows.map((r) => r.id).sort().reverse();
    const iso = (t) => new Date(t).toISOString();
    assert.deepEqual(ids((await listEvents(`since=${encodeURIComponent(iso(split))}`)).data), newest(received.filter((r) => r.t >= split)));
    assert.deepEqual(ids((await listEvents(`since=${split + 1}`)).data), newest(received.filter((r) => r.t > split)));
    assert.deepEqual(ids((await listEvents(`until=${split}`)).data), newest(received.filter((r) => r.t < split)));
    const from = received[1].t;
    const to = received[6].t;
    assert.deepEqual(ids((await listEvents(`since=${from}&until=${encodeURIComponent(iso(to))}`)).data),
      newest(received.filter((r) => r.t >= from && r.t < to)));
    assert.equal(received.filter((r) => r.t >= from && r.t < to).length, 5);
    const offset = new Date(split + 3_600_000).toISOString().replace("Z", "+01:00");
    assert.deepEqual(ids((await listEvents(`until=${encodeURIComponent(offset)}`)).data), newest(received.filter((r) => r.t < split)),
      "an offset is honoured");
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    assert.deepEqual(ids((await listEvents(`since=${tomorrow}`)).data), [], "a date is UTC midnight");
  });

  it("refuses invalid filters with invalid_query", async () => {
    for (const query of [
      "event_type=a*b", "event_type=*.created", "event_type=**", `event_type=${"x".repeat(201)}`,
      "since=yesterday", "since=2024-13-01", "since=2024-01-01T10:00:00", "until=-5", "until=1.5",
      "since=2000&until=2000", "since=2024-01-02&until=2024-01-01", `q=${"x".repeat(513)}`, "q=a%0Ab",
    ]) {
      await refused(`/events?${query}`);
    }
  });
});
