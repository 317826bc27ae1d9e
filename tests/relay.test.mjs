// The relay end to end on workerd: ingest -> D1/R2 -> queue -> delivery to a real
// local destination -> sweeper. Each scenario uses its own endpoint and ends with
// the conservation check.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep } from "./support/relay.mjs";
import { startDestination, sequence } from "./support/destination.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
let dest;
let routeCount = 0;

before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "relay" });
});

after(async () => {
  await relay?.stop();
  await dest?.close();
});

const delivered = (e) => e.status === "delivered";
const isDead = (e) => e.status === "dead";

async function endpoint(provider, secrets, plan, extra = {}) {
  const path = `/hook-${++routeCount}`;
  const ep = await relay.createEndpoint({
    name: `${provider} ${path}`,
    provider,
    secrets,
    destination_url: dest.route(path, plan),
    ...extra,
  });
  return { ep, path };
}

describe("health and the sweeper heartbeat", () => {
  it("says degraded before the sweeper ever ran and ok after it ran", async () => {
    const before = await relay.health();
    assert.equal(before.status, "degraded");
    assert.equal(before.sweeper.stale, true);
    assert.equal(before.sweeper.last_run_at, null);
    await relay.fireCron();
    const afterRun = await relay.health();
    assert.equal(afterRun.status, "ok");
    assert.equal(afterRun.sweeper.stale, false);
    assert.ok(Date.parse(afterRun.sweeper.last_run_at) > Date.now() - 60_000);
  });
});

describe("signed requests are delivered byte-identical with the relay's signature", () => {
  // Whitespace, key order, unicode and a float that re-serialisation would change.
  const bodyFor = (id) => Buffer.from(`{"id":"${id}",  "object":"event",\n "name":"Zoë ✓", "amount": 10.50 }`);
  const providers = {
    github: { secret: "gh-secret", headers: (s, b) => sign.github(s, b), keep: ["x-github-event", "x-github-delivery", "x-hub-signature-256"] },
    stripe: { secret: "whsec_stripe_test", headers: (s, b) => sign.stripe(s, b), keep: ["stripe-signature"] },
    shopify: { secret: "shpss_test", headers: (s, b) => sign.shopify(s, b), keep: ["x-shopify-topic", "x-shopify-webhook-id", "x-shopify-hmac-sha256"] },
    standard: { secret: sign.newSecret(), headers: (s, b) => sign.standard(s, b), keep: [] },
  };
  for (const [provider, p] of Object.entries(providers)) {
    it(`${provider}`, async () => {
      const { ep, path } = await endpoint(provider, [p.secret]);
      const body = bodyFor(`evt_${provider}_1`);
      const headers = p.headers(p.secret, body);
      const res = await relay.ingest(ep.id, body, headers);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.duplicate, false);
      assert.match(res.json.id, /^evt_/);
      const event = await relay.waitForEvent(res.json.id, delivered);
      assert.equal(event.attempts.length, 1);

      const [got] = dest.to(path);
      assert.ok(got.body.equals(body), "body is byte-identical");
      assert.equal(got.headers["content-type"], headers["content-type"]);
      for (const h of p.keep) assert.equal(got.headers[h], headers[h], `forwards ${h}`);
      assert.equal(got.headers["webhook-id"], res.json.id);
      assert.equal(got.headers["x-hookrelay-attempt"], "1");
      assert.ok(sign.verifyStandard(ep.relay_secret, got.headers, got.body), "relay signature verifies");
      assert.ok(!sign.verifyStandard(sign.newSecret(), got.headers, got.body), "and not under another secret");

      const stored = await fetch(`${relay.url}/api/v1/events/${res.json.id}/body`, {
        headers: { authorization: "Bearer test-admin-token" },
      });
      assert.ok(Buffer.from(await stored.arrayBuffer()).equals(body), "stored body is byte-identical");
      await assertConservation(relay, ep.id, { received: 1, delivered: 1, in_flight: 0 });
    });
  }

  it("headers are kept with the body in R2, not in D1, unless too large for R2's metadata", async () => {
    const { ep, path } = await endpoint("github", ["gh-secret"]);
    const cases = [
      { name: "small", extra: {}, inRow: false },
      { name: "large", extra: { "x-large": "v".repeat(9000) }, inRow: true },
    ];
    for (const c of cases) {
      const body = bodyFor(`evt_headers_${c.name}`);
      const headers = { ...sign.github("gh-secret", body), ...c.extra };
      const res = await relay.ingest(ep.id, body, headers);
      assert.equal(res.status, 200, res.text);
      const event = await relay.waitForEvent(res.json.id, delivered);
      const [row] = await relay.d1Rows(`SELECT i.id AS ingest_id, i.headers, i.body_sha256, i.kept_body_key, e.kept_ingest_id FROM ingests i JOIN events e ON e.ingest_id = i.id WHERE e.id = '${res.json.id}'`, await relay.shardOfEvent(res.json.id));
      assert.equal(row.kept_ingest_id, "", `${c.name}: the event's id names its ingest`);
      assert.equal(row.ingest_id.slice(4, 27), res.json.id.slice(4, 27), `${c.name}: ${row.ingest_id} names ${res.json.id}`);
      assert.equal(row.body_sha256, "", `${c.name}: the body's hash is its R2 checksum`);
      assert.equal(row.kept_body_key, "", `${c.name}: the body key is computed from the id`);
      assert.equal(row.headers !== "", c.inRow, `${c.name}: headers in the D1 row: ${c.inRow}`);
      if (c.inRow) assert.match(row.headers, /x-large: v{9000}/);

      const got = dest.to(path).at(-1);
      const shown = Object.fromEntries(event.headers);
      for (const h of ["x-github-event", "x-github-delivery", "x-hub-signature-256", ...Object.keys(c.extra)]) {
        assert.equal(got.headers[h], headers[h], `${c.name}: forwards ${h}`);
        assert.equal(shown[h], headers[h], `${c.name}: the event shows ${h}`);
      }
      const ingest = await relay.api("GET", `/api/v1/ingests/${row.ingest_id}`);
      assert.equal(ingest.status, 200, ingest.text);
      assert.equal(Object.fromEntries(ingest.json.headers)["x-github-event"], headers["x-github-event"]);
    }
    await assertConservation(relay, ep.id, { received: 2, delivered: 2, in_flight: 0 });
  });
});

describe("a small body travels in its delivery message", () => {
  /** R2 reads delivery has made in this isolate so far (the capacity ledger's counter). */
  const deliveryReads = async () => {
    const metrics = await relay.api("GET", "/metrics");
    return Number(/^hookrelay_r2_operations_total\{path="delivery",op="get"\} (\S+)$/m.exec(metrics.text)?.[1] ?? 0);
  };

  it("up to 16 KB it is delivered without reading R2, a larger one and a replay read R2, all byte-identical", async () => {
    const { ep, path } = await endpoint("github", ["gh-secret"]);
    const cases = [
      { name: "small", body: Buffer.from(`{"n":"small","pad":"${"é".repeat(100)}"}`), reads: 0 },
      { name: "at the limit", body: Buffer.from(`{"pad":"${"x".repeat(16 * 1024 - 10)}"}`), reads: 0 },
      { name: "over the limit", body: Buffer.from(`{"pad":"${"x".repeat(16 * 1024 - 9)}"}`), reads: 1 },
    ];
    const ids = [];
    for (const c of cases) {
      const before = await deliveryReads();
      const res = await relay.ingest(ep.id, c.body, sign.github("gh-secret", c.body));
      assert.equal(res.status, 200, res.text);
      await relay.waitForEvent(res.json.id, delivered);
      assert.ok(dest.to(path).at(-1).body.equals(c.body), `${c.name} (${c.body.length} B): byte-identical`);
      assert.equal(await deliveryReads() - before, c.reads, `${c.name} (${c.body.length} B): R2 reads`);
      ids.push(res.json.id);
    }
    const before = await deliveryReads();
    assert.equal((await relay.api("POST", `/events/${ids[0]}/replay`)).status, 202);
    await relay.waitForEvent(ids[0], (e) => e.status === "delivered" && e.attempts.length === 2);
    assert.ok(dest.to(path).at(-1).body.equals(cases[0].body), "the replay is byte-identical");
    assert.equal(await deliveryReads() - before, 1, "a replay's message names the event only");
    await assertConservation(relay, ep.id, { received: 3, delivered: 3, in_flight: 0 });
  });
});

describe("retries", () => {
  it("destination answers 500, 500, 200: delivered on attempt 3 with three attempt rows", async () => {
    const { ep, path } = await endpoint("none", [], sequence(500, 500, 200), { retry: { schedule_s: [1, 1, 1] } });
    const res = await relay.ingest(ep.id, '{"n":1}', { "content-type": "application/json" });
    assert.equal(res.status, 200);
    const event = await relay.waitForEvent(res.json.id, delivered);
    assert.deepEqual(event.attempts.map((a) => a.number), [1, 2, 3]);
    assert.deepEqual(event.attempts.map((a) => a.status_code), [500, 500, 200]);
    assert.deepEqual(event.attempts.map((a) => a.outcome), ["server_error", "server_error", "delivered"]);
    assert.match(event.attempts[0].response_snippet, /answered 500/);
    const seen = dest.to(path);
    assert.equal(seen.length, 3);
    assert.deepEqual(seen.map((r) => r.headers["x-hookrelay-attempt"]), ["1", "2", "3"]);
    assert.ok(seen.every((r) => r.headers["webhook-id"] === res.json.id), "webhook-id is stable");
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("destination always fails: dead after the schedule; fixed and replayed, delivered; numbering continues", async () => {
    let fixed = false;
    const { ep, path } = await endpoint("none", [], () => ({ status: fixed ? 200 : 503 }), { retry: { schedule_s: [1, 1] } });
    const res = await relay.ingest(ep.id, "payload-1", { "content-type": "text/plain" });
    const dead = await relay.waitForEvent(res.json.id, isDead);
    assert.equal(dead.attempts.length, 3);
    assert.match(dead.dead_reason, /retries exhausted/);
    await assertConservation(relay, ep.id, { received: 1, dead: 1, in_flight: 0 });

    fixed = true;
    const replay = await relay.api("POST", `/events/${res.json.id}/replay`);
    assert.equal(replay.status, 202);
    const again = await relay.waitForEvent(res.json.id, delivered);
    assert.deepEqual(again.attempts.map((a) => a.number), [1, 2, 3, 4]);
    assert.deepEqual(again.attempts.map((a) => a.status_code), [503, 503, 503, 200]);
    assert.equal(dest.to(path).at(-1).headers["webhook-id"], res.json.id, "same webhook-id after replay");
    const inFlight = await relay.api("POST", `/events/${res.json.id}/replay`);
    assert.equal(inFlight.status, 202, "a delivered event can be sent again");
    await relay.waitForEvent(res.json.id, (e) => delivered(e) && e.attempt_count === 5);
    await assertConservation(relay, ep.id, { received: 1, delivered: 1, dead: 0 });
  });

  it("a 4xx answer is not retried: dead at once, and bulk replay delivers every dead event", async () => {
    let fixed = false;
    const { ep } = await endpoint("none", [], () => ({ status: fixed ? 204 : 422 }));
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await relay.ingest(ep.id, `bulk-${i}`)).json.id);
    for (const id of ids) {
      const e = await relay.waitForEvent(id, isDead);
      assert.equal(e.attempts.length, 1);
      assert.equal(e.attempts[0].outcome, "client_error");
    }
    await assertConservation(relay, ep.id, { received: 5, dead: 5 });
    fixed = true;
    const bulk = await relay.api("POST", "/replay", { endpoint_id: ep.id, status: "dead" });
    assert.equal(bulk.status, 202);
    assert.equal(bulk.json.replayed, 5);
    for (const id of ids) await relay.waitForEvent(id, delivered);
    const bad = await relay.api("POST", "/replay", { status: "delivered" });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, "invalid_replay");
    await assertConservation(relay, ep.id, { received: 5, delivered: 5, dead: 0 });
  });
});

describe("failure classes", () => {
  it("a stalled destination times out and is retried; a 429 waits for Retry-After", async () => {
    const { ep: slow } = await endpoint("none", [], (_r, i) => (i === 0 ? { stall: true } : { status: 200 }), {
      timeout_ms: 1000,
      retry: { schedule_s: [1] },
    });
    const { ep: limited, path } = await endpoint("none", [], (_r, i) =>
      i === 0 ? { status: 429, headers: { "retry-after": "3" } } : { status: 200 },
      { retry: { schedule_s: [1] } });
    const a = await relay.ingest(slow.id, "stall-once");
    const b = await relay.ingest(limited.id, "rate-limited-once");
    const timedOut = await relay.waitForEvent(a.json.id, delivered);
    assert.deepEqual(timedOut.attempts.map((x) => x.outcome), ["timeout", "delivered"]);
    assert.equal(timedOut.attempts[0].status_code, null);
    assert.ok(timedOut.attempts[0].duration_ms >= 900, `aborted after the timeout: ${timedOut.attempts[0].duration_ms}`);
    const limitedEvent = await relay.waitForEvent(b.json.id, delivered);
    assert.deepEqual(limitedEvent.attempts.map((x) => x.outcome), ["rate_limited", "delivered"]);
    const [first, second] = dest.to(path);
    assert.ok(second.at - first.at >= 2900, `Retry-After honoured: ${second.at - first.at} ms`);
    await assertConservation(relay, slow.id, { received: 1, delivered: 1 });
    await assertConservation(relay, limited.id, { received: 1, delivered: 1 });
  });

  it("a destination that refuses connections is a network error, dead when the schedule is empty", async () => {
    const ep = await relay.createEndpoint({
      name: "closed port",
      provider: "none",
      destination_url: "http://127.0.0.1:9/closed",
      retry: { schedule_s: [] },
    });
    const res = await relay.ingest(ep.id, "nobody-listens");
    const dead = await relay.waitForEvent(res.json.id, isDead);
    assert.equal(dead.attempts.length, 1);
    assert.equal(dead.attempts[0].outcome, "network_error");
    assert.ok(dead.attempts[0].error.length > 0);
    await assertConservation(relay, ep.id, { received: 1, dead: 1, in_flight: 0 });
  });
});

describe("one deliverer at a time", () => {
  it("while a delivery holds its lease, neither the sweeper nor a replay can claim the event", async () => {
    const { ep, path } = await endpoint("none", [], (_r, i) => (i === 0 ? { stall: true } : { status: 200 }), {
      timeout_ms: 3000,
      retry: { schedule_s: [1] },
    });
    const res = await relay.ingest(ep.id, "held-by-one-deliverer");
    for (let i = 0; i < 50 && dest.to(path).length === 0; i++) await sleep(100);
    assert.equal((await relay.event(res.json.id)).status, "delivering");
    await sleep(1200); // past SWEEP_GRACE_S: only the lease protects the event now
    for (let i = 0; i < 3; i++) await relay.fireCron();
    const replay = await relay.api("POST", `/events/${res.json.id}/replay`);
    assert.equal(replay.status, 409);
    assert.equal(replay.json.error.code, "event_in_flight");
    assert.equal(dest.to(path).length, 1, "no second deliverer while the lease holds");
    const event = await relay.waitForEvent(res.json.id, delivered);
    assert.deepEqual(event.attempts.map((a) => [a.number, a.outcome]), [[1, "timeout"], [2, "delivered"]]);
    assert.equal(dest.to(path).length, 2);
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });
});

describe("dedup", () => {
  it("the same provider delivery sent concurrently becomes one event and one delivery", async () => {
    const secret = "dedup-secret";
    const { ep, path } = await endpoint("github", [secret]);
    const body = Buffer.from('{"zen":"Keep it logically awesome."}');
    const headers = sign.github(secret, body, { delivery: "delivery-dup-1" });
    const answers = await Promise.all(Array.from({ length: 6 }, () => relay.ingest(ep.id, body, headers)));
    assert.ok(answers.every((a) => a.status === 200), JSON.stringify(answers));
    const ids = new Set(answers.map((a) => a.json.id));
    assert.equal(ids.size, 1, "every answer names the same event");
    assert.equal(answers.filter((a) => !a.json.duplicate).length, 1, "exactly one is new");
    const [id] = ids;
    await relay.waitForEvent(id, delivered);
    await sleep(1500);
    assert.equal(dest.to(path).length, 1, "delivered once");
    const later = await relay.ingest(ep.id, body, sign.github(secret, body, { delivery: "delivery-dup-1" }));
    assert.deepEqual(later.json, { id, duplicate: true });
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });
});

describe("refusals store nothing", () => {
  it("bad, missing and expired signatures answer 401; unknown endpoint 404; oversize 413", async () => {
    const secret = "whsec_refusals";
    const { ep, path } = await endpoint("stripe", [secret]);
    const body = Buffer.from('{"id":"evt_refused"}');
    const cases = [
      [sign.stripe("wrong-secret", body), "signature_mismatch"],
      [{ "content-type": "application/json" }, "signature_missing"],
      [sign.stripe(secret, body, { t: Math.floor(Date.now() / 1000) - 600 }), "timestamp_out_of_tolerance"],
      [{ "stripe-signature": "garbage" }, "signature_malformed"],
    ];
    for (const [headers, code] of cases) {
      const res = await relay.ingest(ep.id, body, headers);
      assert.equal(res.status, 401, code);
      assert.equal(res.json.error.code, code);
      assert.equal(typeof res.json.error.message, "string");
      assert.ok(!res.text.includes(secret), "the secret is never echoed");
    }
    const tampered = await relay.ingest(ep.id, Buffer.from('{"id":"evt_refused2"}'), sign.stripe(secret, body));
    assert.equal(tampered.status, 401);

    const unknown = await relay.ingest("ep_00000000000000000000000000", body, sign.stripe(secret, body));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, "unknown_endpoint");

    const big = Buffer.alloc(70_000, "a");
    const oversize = await relay.ingest(ep.id, big, sign.stripe(secret, big));
    assert.equal(oversize.status, 413);
    assert.equal(oversize.json.error.code, "payload_too_large");

    const list = await relay.api("GET", `/events?endpoint_id=${ep.id}`);
    assert.deepEqual(list.json.data, []);
    assert.equal(dest.to(path).length, 0);
    await assertConservation(relay, ep.id, { received: 0, delivered: 0, dead: 0, in_flight: 0 });
  });

  it("the management API refuses missing or wrong tokens and invalid endpoints", async () => {
    const noToken = await fetch(`${relay.url}/api/v1/endpoints`);
    assert.equal(noToken.status, 401);
    assert.equal((await noToken.json()).error.code, "unauthorized");
    const wrong = await fetch(`${relay.url}/api/v1/endpoints`, { headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.status, 401);
    const cases = [
      [{ name: "x", provider: "github", secrets: [], destination_url: dest.base }, "invalid_endpoint"],
      [{ name: "x", provider: "carrier-pigeon", secrets: ["s"], destination_url: dest.base }, "invalid_endpoint"],
      [{ name: "x", provider: "none", destination_url: "ftp://example.com" }, "invalid_destination"],
      [{ name: "x", provider: "none", destination_url: dest.base, retry: { schedule_s: [0] } }, "invalid_endpoint"],
      [{ name: "x", provider: "none", destination_url: dest.base, colour: "blue" }, "invalid_body"],
    ];
    for (const [body, code] of cases) {
      const res = await relay.api("POST", "/endpoints", body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error.code, code, res.text);
    }
  });
});

describe("no ack without durability", () => {
  for (const fault of ["r2_put", "d1_insert"]) {
    it(`a failed ${fault} answers 503, stores nothing, and the provider's retry is accepted`, async () => {
      const secret = "fault-secret";
      const { ep, path } = await endpoint("github", [secret]);
      const body = Buffer.from(`{"fault":"${fault}"}`);
      const headers = sign.github(secret, body, { delivery: `delivery-${fault}` });
      const failed = await relay.ingest(ep.id, body, { ...headers, "x-hookrelay-fault": fault });
      assert.equal(failed.status, 503);
      assert.equal(failed.json.error.code, "storage_unavailable");
      await assertConservation(relay, ep.id, { received: 0 });

      const retried = await relay.ingest(ep.id, body, headers);
      assert.equal(retried.status, 200);
      assert.equal(retried.json.duplicate, false, "the retry is not swallowed as a duplicate");
      await relay.waitForEvent(retried.json.id, delivered);
      assert.equal(dest.to(path).length, 1);
      await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
    });
  }

  it("a failed queue.send still answers 200, and firing the cron delivers the event", async () => {
    const { ep, path } = await endpoint("none", []);
    const res = await relay.ingest(ep.id, "queue-lost", { "x-hookrelay-fault": "queue_send" });
    assert.equal(res.status, 200);
    assert.equal(res.json.duplicate, false);
    await sleep(2500);
    assert.equal((await relay.event(res.json.id)).status, "received", "no message, so no delivery yet");
    assert.equal(dest.to(path).length, 0);
    await relay.fireCron();
    await relay.waitForEvent(res.json.id, delivered, { timeoutMs: 10_000 });
    assert.equal(dest.to(path).length, 1);
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });
});

describe("management API", () => {
  it("lists with cursor pagination, edits and deletes endpoints", async () => {
    const { ep } = await endpoint("none", []);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await relay.ingest(ep.id, `page-${i}`)).json.id);
    const seen = [];
    let cursor = null;
    do {
      const q = `/events?endpoint_id=${ep.id}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await relay.api("GET", q);
      assert.equal(page.status, 200);
      seen.push(...page.json.data.map((e) => e.id));
      cursor = page.json.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, [...ids].reverse(), "newest first, each once");

    const patched = await relay.api("PATCH", `/endpoints/${ep.id}`, { name: "renamed", timeout_ms: 5000 });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.name, "renamed");
    assert.equal(patched.json.timeout_ms, 5000);
    assert.equal(patched.json.secrets_count, 0);
    assert.equal(patched.json.relay_secret, undefined, "the relay secret is only shown on request");
    const secret = await relay.api("GET", `/endpoints/${ep.id}/secret`);
    assert.equal(secret.json.relay_secret, ep.relay_secret);
    for (const id of ids) await relay.waitForEvent(id, delivered);

    assert.equal((await relay.api("DELETE", `/endpoints/${ep.id}`)).status, 204);
    assert.equal((await relay.api("GET", `/endpoints/${ep.id}`)).status, 404);
    assert.equal((await relay.ingest(ep.id, "after-delete")).status, 404);
    await assertConservation(relay, ep.id, { received: 5, delivered: 5 });
  });
});
