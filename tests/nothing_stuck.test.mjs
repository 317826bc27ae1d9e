// Paths where an event used to hang forever or vanish, each played end to end
// on workerd against a destination the test controls, each ending with the
// conservation check: every acked event ends delivered or dead (replayable),
// whatever the operator does and whatever the destination answers.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep, waitFor } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import { assertConservation, assertRouteConservation } from "./support/checks.mjs";

let relay;
let dest;
let paths = 0;
before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "stuck" });
});
after(async () => {
  await relay?.stop();
  await dest?.close();
});

const delivered = (e) => e.status === "delivered";
const dead = (e) => e.status === "dead";

async function endpoint(plan, extra = {}) {
  const path = `/stuck-${++paths}`;
  const ep = await relay.createEndpoint({ name: path, provider: "none", destination_url: dest.route(path, plan), ...extra });
  return { ep, path };
}

async function route(epId, fields) {
  const res = await relay.api("POST", `/endpoints/${epId}/routes`, fields);
  assert.equal(res.status, 201, res.text);
  return res.json;
}



const circuitOf = async (id) => (await relay.api("GET", `/routes/${id}`)).json.circuit;

describe("circuit breaker", () => {
  it("a probe answered 422 closes the circuit: the refused event goes dead, the others are delivered", async () => {
    // 503 until the circuit opens; then the destination is back but refuses the
    // oldest event (the one every probe picks) with 422.
    let back = false;
    let poison = null;
    const { ep, path } = await endpoint((req) => {
      if (!back) return { status: 503 };
      return { status: req.headers["webhook-id"] === poison ? 422 : 200 };
    }, { retry: { schedule_s: [1, 1, 1, 1, 1] }, circuit: { threshold: 2, probe_interval_s: 1 } });
    const ids = await relay.ingestMany(ep.id, 4, "refused");
    poison = ids[0];
    await waitFor("the circuit to open", async () => (await circuitOf(ep.id)).state === "open");
    back = true;
    for (const id of ids.slice(1)) await relay.waitForEvent(id, delivered, { timeoutMs: 45_000, cronEveryMs: 1200 });
    const refused = await relay.waitForEvent(poison, dead, { cronEveryMs: 1200 });
    assert.equal(refused.attempts.at(-1).status_code, 422);
    assert.equal((await circuitOf(ep.id)).state, "closed", "any answer from a destination that is up closes the circuit");
    for (const id of ids.slice(1)) assert.equal(dest.deliveredFor(id).length, 1, `${id} delivered once`);
    assert.ok(dest.to(path).some((r) => r.answered === 503));
    await assertConservation(relay, ep.id, { received: 4, delivered: 3, dead: 1 });
  });

  it("an operator closes an open circuit by hand and the waiting events drain", async () => {
    let healthy = false;
    const { ep } = await endpoint(() => ({ status: healthy ? 200 : 503 }), {
      retry: { schedule_s: [1, 1, 1, 1] },
      circuit: { threshold: 2, probe_interval_s: 600 },
    });
    const extra = await route(ep.id, { name: "copy", destination_url: dest.route(`/stuck-copy-${paths}`) });
    const ids = await relay.ingestMany(ep.id, 3, "held");
    await waitFor("the circuit to open", async () => (await circuitOf(ep.id)).state === "open");
    healthy = true;
    await sleep(2500);
    for (const id of ids) assert.notEqual((await relay.event(id)).status, "delivered", "held behind the open circuit");

    const viewer = await relay.api("POST", "/keys", { name: "viewer", role: "viewer" });
    const refused = await fetch(`${relay.url}/api/v1/routes/${ep.id}/circuit/reset`, {
      method: "POST", headers: { authorization: `Bearer ${viewer.json.key}` },
    });
    assert.equal(refused.status, 403, "closing a circuit needs an editor");
    const reset = await relay.api("POST", `/routes/${ep.id}/circuit/reset`);
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.json.circuit.state, "closed");
    assert.equal(reset.json.circuit.consecutive_failures, 0);
    assert.ok(reset.json.drained >= 1, `drained ${reset.json.drained}`);
    for (const id of ids) await relay.waitForEvent(id, delivered, { timeoutMs: 30_000 });
    const again = await relay.api("POST", `/routes/${extra.id}/circuit/reset`);
    assert.equal(again.status, 200, "closing a closed circuit is not an error");
    assert.equal((await relay.api("POST", "/routes/rt_00000000000000000000000000/circuit/reset")).status, 404);
    await assertRouteConservation(relay, ep.id, { events: 3, delivered: 3 });
    await assertConservation(relay, ep.id, { received: 6, delivered: 6 });
  });

  it("an expired lease behind an open circuit is rescued (the runtime died mid-probe)", async () => {
    let mode = "down";
    const { ep, path } = await endpoint(() => (mode === "down" ? { status: 503 } : mode === "hang" ? { stall: true } : { status: 200 }), {
      timeout_ms: 4000,
      retry: { schedule_s: [1, 1, 1, 1] },
      circuit: { threshold: 1, probe_interval_s: 1 },
    });
    const [id] = await relay.ingestMany(ep.id, 1, "mid-probe");
    await waitFor("the circuit to open", async () => (await circuitOf(ep.id)).state === "open");
    mode = "hang";
    await sleep(1100);
    const seen = dest.to(path).length;
    const cron = relay.fireCron().catch(() => {}); // hangs in the probe until the runtime dies
    await waitFor("the probe to reach the destination", async () => dest.to(path).length > seen);
    assert.equal((await relay.event(id)).status, "delivering");
    await relay.kill();
    await cron;
    dest.dropStalled();
    mode = "up";
    await relay.boot();
    assert.equal((await circuitOf(ep.id)).state, "open");
    await relay.waitForEvent(id, delivered, { timeoutMs: 45_000, cronEveryMs: 1500 });
    assert.equal(dest.deliveredFor(id).length, 1);
    assert.equal((await circuitOf(ep.id)).state, "closed");
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("a deliverer that lost its lease changes no route state (no stale 410 pause, no stale circuit count)", async () => {
    // The destination answers the first attempt 410 only after 10 s; meanwhile
    // another deliverer takes the event over (as its write would land).
    const { ep, path } = await endpoint((_req, i) => (i === 0 ? { status: 410, delayMs: 10_000 } : { status: 200 }), {
      timeout_ms: 20_000,
      retry: { schedule_s: [1, 1, 1] },
      circuit: { threshold: 1, probe_interval_s: 1 },
    });
    const [id] = await relay.ingestMany(ep.id, 1, "stale");
    await waitFor("the attempt to reach the destination", async () => dest.to(path).length === 1);
    await relay.d1(`UPDATE events SET lease_token = 'taken-over', lease_until = ${Date.now() + 14_000} WHERE id = '${id}'`, await relay.shardOfEvent(id));
    assert.equal(dest.to(path)[0].answered, null, "taken over before the answer came");
    await waitFor("the stale 410", async () => dest.to(path)[0].answered === 410, 20_000);
    await sleep(1500); // its completion has run (or not)
    const state = (await relay.api("GET", `/endpoints/${ep.id}`)).json;
    assert.equal(state.paused, false, "a stale 410 pauses nothing");
    assert.equal(state.circuit.state, "closed");
    assert.equal((await relay.event(id)).attempts.length, 0, "the stale attempt is not recorded");
    await relay.waitForEvent(id, delivered, { timeoutMs: 40_000, cronEveryMs: 1500 });
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });
});

describe("pull routes", () => {
  it("an extra route of type pull is leased by its rt_ id, with a key scoped to it, and delivered", async () => {
    const { ep, path } = await endpoint();
    const pull = await route(ep.id, { name: "laptop", destination_type: "pull" });
    const [id] = await relay.ingestMany(ep.id, 1, "both");
    const key = await relay.api("POST", "/keys", { name: "laptop", role: "pull", endpoint_id: pull.id });
    assert.equal(key.status, 201, key.text);
    const asKey = (method, p, body) => fetch(`${relay.url}/api/v1${p}`, {
      method, headers: { authorization: `Bearer ${key.json.key}`, "content-type": "application/json" }, body: JSON.stringify(body),
    });
    assert.equal((await asKey("POST", `/pull/${ep.id}`, {})).status, 403, "the key reaches only its own route");
    const secret = await fetch(`${relay.url}/api/v1/endpoints/${pull.id}/secret`, { headers: { authorization: `Bearer ${key.json.key}` } });
    assert.deepEqual(await secret.json(), { relay_secret: pull.relay_secret }, "the key reads its route's relay secret");
    const leased = await (await asKey("POST", `/pull/${pull.id}`, { wait_s: 5 })).json();
    assert.equal(leased.data.length, 1);
    const [event] = leased.data;
    assert.equal(event.route_id, pull.id);
    assert.equal(event.endpoint_id, ep.id);
    assert.equal(Buffer.from(event.body_base64, "base64").toString(), "both-0");
    const huge = "x".repeat(100_000);
    const done = await asKey("POST", `/events/${event.id}/attempts`, { lease_token: event.lease_token, status_code: 500, error: huge, duration_ms: 3 });
    assert.equal(done.status, 200);
    const stored = await relay.event(event.id);
    assert.ok(stored.last_error.length <= 1024, `the reported error is truncated (${stored.last_error.length})`);
    const again = await (await asKey("POST", `/pull/${pull.id}`, { wait_s: 10 })).json();
    assert.equal(again.data[0]?.id, event.id, "offered again when due");
    const ok = await asKey("POST", `/events/${event.id}/attempts`, { lease_token: again.data[0].lease_token, status_code: 200, duration_ms: 3 });
    assert.equal((await ok.json()).status, "delivered");
    await relay.waitForEvent(id, delivered);
    assert.equal(dest.to(path).length, 1, "the push route delivered its own copy");
    assert.equal((await relay.api("POST", `/pull/${id.replace("evt_", "rt_")}`, {})).status, 404);
    await assertRouteConservation(relay, pull.id, { events: 1, delivered: 1 });
    await assertConservation(relay, ep.id, { received: 2, delivered: 2 });
  });
});

describe("deleted routes", () => {
  it("a route deleted while its circuit is open, paused or pulled ends its events dead at once", async () => {
    const { ep } = await endpoint();
    const open = await route(ep.id, {
      name: "down", destination_url: dest.route(`/stuck-down-${paths}`, () => ({ status: 503 })),
      retry: { schedule_s: [1, 1, 1, 1, 1] }, circuit: { threshold: 1, probe_interval_s: 600 },
    });
    const pulled = await route(ep.id, { name: "pulled", destination_type: "pull" });
    const ids = await relay.ingestMany(ep.id, 3, "orphaned");
    await waitFor("the circuit to open", async () => (await circuitOf(open.id)).state === "open");
    const leased = await relay.api("POST", `/pull/${pulled.id}`, { max: 1, lease_s: 2 });
    assert.equal(leased.json.data.length, 1, "one pulled event is out on a lease");
    for (const r of [open, pulled]) assert.equal((await relay.api("DELETE", `/routes/${r.id}`)).status, 204);
    const counts = async (r) => (await relay.api("GET", `/events?route_id=${r.id}&limit=50`)).json.data;
    for (const e of await counts(open)) assert.equal(e.status, "dead", `${e.id} of the deleted open-circuit route`);
    await waitFor("the leased event of the deleted pull route to end", async () => {
      await relay.fireCron();
      return (await counts(pulled)).every((e) => e.status === "dead");
    }, 30_000);
    for (const e of [...await counts(open), ...await counts(pulled)]) {
      const full = await relay.event(e.id);
      assert.match(full.dead_reason, /route was deleted/);
    }
    for (const id of ids) await relay.waitForEvent(id, delivered);
    await assertConservation(relay, ep.id, { received: 9, delivered: 3, dead: 6, in_flight: 0 });
  });
});

describe("retention", () => {
  it("an event replayed while retention is deleting it survives, with its body, and is delivered again", async () => {
    const gapRelay = await Relay.start({ name: "retention-race", vars: { FAULTS: "per_request,retention_gap_ms=4000" } });
    try {
      const ep = await gapRelay.createEndpoint({ name: "short", provider: "none", destination_url: dest.route("/stuck-retained"), retention_days: 0.00003 });
      const res = await gapRelay.ingest(ep.id, "keep-me");
      await gapRelay.waitForEvent(res.json.id, delivered);
      await sleep(3000); // older than its retention (~2.6 s)
      const cron = gapRelay.fireCron(); // chooses it, then waits 4 s before deleting
      await sleep(1500);
      const replay = await gapRelay.api("POST", `/events/${res.json.id}/replay`);
      assert.equal(replay.status, 202, replay.text);
      await cron;
      const event = await gapRelay.waitForEvent(res.json.id, (e) => e.status === "delivered" && e.attempts.length === 2);
      assert.equal(event.attempts.length, 2, "the attempt history survived");
      const body = await gapRelay.api("GET", `/events/${res.json.id}/body`);
      assert.equal(body.text, "keep-me", "the body survived");
      await assertConservation(gapRelay, ep.id, { received: 1, delivered: 1 });
    } finally {
      await gapRelay.stop();
    }
  });
});

describe("dead-letter queue", () => {
  let dlq;
  before(async () => {
    dlq = await Relay.start({
      name: "dlq-live",
      vars: { FAULTS: "consume" },
      edit(config) {
        for (const c of config.queues.consumers.filter((c) => c.dead_letter_queue)) c.max_retries = 1;
        for (const c of config.queues.consumers) c.max_batch_timeout = 1;
      },
    });
  });
  after(async () => dlq?.stop());

  it("leaves an event nobody tried, and one whose lease is live, to the sweeper, which delivers each once", async () => {
    const ep = await dlq.createEndpoint({ name: "dlq", provider: "none", destination_url: dest.route("/stuck-dlq", () => ({ status: 200, delayMs: 6000 })), timeout_ms: 10_000 });
    const untried = (await dlq.ingest(ep.id, "untried")).json.id;
    const slow = (await dlq.ingest(ep.id, "slow")).json.id;
    await sleep(1200);
    // The sweeper delivers both directly (the consumer fails every message);
    // the destination takes 6 s, during which the dead-letter queue's messages
    // for both arrive.
    const sweep = dlq.fireCron();
    await waitFor("the sweeper's attempts", async () => dest.to("/stuck-dlq").length === 2);
    await sleep(4000);
    for (const id of [untried, slow]) assert.notEqual((await dlq.event(id)).status, "dead", `${id} is not killed by the DLQ`);
    await sweep;
    for (const id of [untried, slow]) {
      const e = await dlq.waitForEvent(id, delivered, { cronEveryMs: 1500 });
      assert.equal(e.attempts.length, 1);
      assert.equal(dest.deliveredFor(id).length, 1, "delivered once");
    }
    await assertConservation(dlq, ep.id, { received: 2, delivered: 2, dead: 0 });
  });
});

describe("D1 outage during delivery", () => {
  it("D1 fails for a few seconds mid-delivery: nothing untried is marked dead, nothing is lost", async () => {
    // The outage window is fixed when the relay is configured: it opens 50 s
    // from now (after the migrations of both shards and the boot) and lasts 8 s.
    const from = Date.now() + 50_000;
    const until = from + 8_000;
    const outage = await Relay.start({
      name: "d1-outage",
      vars: { FAULTS: `per_request,d1_deliver_outage=${from}-${until}` },
      edit(config) {
        for (const c of config.queues.consumers.filter((c) => c.dead_letter_queue)) c.max_retries = 2;
        for (const c of config.queues.consumers) c.max_batch_timeout = 1;
      },
    });
    try {
      const ep = await outage.createEndpoint({ name: "outage", provider: "none", timeout_ms: 10_000,
        destination_url: dest.route("/stuck-outage", () => ({ status: 200, delayMs: 3000 })) });
      assert.ok(Date.now() < from - 2500, "the relay booted before the outage window");
      await sleep(from - 1500 - Date.now());
      // Claimed before the outage, answered during it: recording the attempt fails.
      const inFlight = [];
      for (let i = 0; i < 3; i++) inFlight.push((await outage.ingest(ep.id, `in-flight-${i}`)).json.id);
      await sleep(from + 500 - Date.now());
      // Acked during the outage (ingest has its own D1 path): every claim fails.
      const during = [];
      for (let i = 0; i < 3; i++) during.push((await outage.ingest(ep.id, `during-${i}`)).json.id);
      const ids = [...inFlight, ...during];
      while (Date.now() < until) {
        await outage.fireCron();
        for (const id of ids) assert.notEqual((await outage.event(id)).status, "dead", `${id} died in the outage`);
        await sleep(1000);
      }
      for (const id of ids) {
        const e = await outage.waitForEvent(id, delivered, { timeoutMs: 60_000, cronEveryMs: 1500 });
        assert.ok(e.attempts.length >= 1);
        assert.ok(dest.deliveredFor(id).length >= 1, `${id} reached the destination`);
      }
      for (const id of during) assert.equal(dest.deliveredFor(id).length, 1, "claimed only after the outage, so once");
      await assertConservation(outage, ep.id, { received: 6, delivered: 6, dead: 0 });
    } finally {
      await outage.stop();
    }
  });
});

describe("connections", () => {
  it("the consumer keeps at most six deliveries in flight, so none times out waiting for a connection", async () => {
    let inFlight = 0;
    let most = 0;
    const { ep, path } = await endpoint(() => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => inFlight--, 1500);
      return { status: 200, delayMs: 1500 };
    }, { timeout_ms: 2500 });
    await relay.api("POST", `/endpoints/${ep.id}/pause`);
    const ids = await relay.ingestMany(ep.id, 10, "parallel");
    await relay.api("POST", `/endpoints/${ep.id}/resume`);
    for (const id of ids) await relay.waitForEvent(id, delivered, { timeoutMs: 30_000 });
    assert.ok(most <= 6, `${most} deliveries at once`);
    assert.equal(dest.to(path).filter((r) => r.answered === 200).length, 10, "each once, none timed out");
    await assertConservation(relay, ep.id, { received: 10, delivered: 10 });
  });
});


describe("outcomes written together", () => {
  it("an outcome whose write fails does not fail the outcomes written with it: each is delivered once", async () => {
    // Every delivery of a batch is answered at the same instant, so their
    // outcomes are written together; the relay fails the write of any outcome
    // of type `poison.pill`, and a group holding one is written again, each
    // outcome alone.
    const poisoned = await Relay.start({
      name: "outcome-groups",
      vars: { FAULTS: "outcome_write_fails=poison.pill", LEASE_MARGIN_S: "1" },
      edit(config) {
        for (const c of config.queues.consumers) c.max_batch_timeout = 1;
      },
    });
    try {
      let releaseAt = 0;
      const ep = await poisoned.createEndpoint({ name: "groups", provider: "none", timeout_ms: 3000,
        destination_url: dest.route("/stuck-groups", () => {
          if (Date.now() > releaseAt) releaseAt = Date.now() + 1000;
          return { status: 200, delayMs: Math.max(0, releaseAt - Date.now()) };
        }) });
      const healthy = [];
      const pills = [];
      const fellBack = () => poisoned.logs().includes("outcomes written together failed");
      for (let round = 0; round < 5 && !fellBack(); round++) {
        await poisoned.api("POST", `/endpoints/${ep.id}/pause`);
        for (let i = 0; i < 6; i++) {
          const type = i % 2 ? "poison.pill" : "order.paid";
          const res = await poisoned.ingest(ep.id, JSON.stringify({ type, round, i }));
          assert.equal(res.status, 200, res.text);
          (i % 2 ? pills : healthy).push(res.json.id);
        }
        await poisoned.api("POST", `/endpoints/${ep.id}/resume`);
        for (const id of healthy) await poisoned.waitForEvent(id, delivered, { timeoutMs: 30_000 });
      }
      assert.ok(fellBack(), "a group holding a failing outcome was written again, each alone");
      for (const id of healthy) {
        const e = await poisoned.event(id);
        assert.equal(e.attempts.length, 1, `${id} recorded once`);
        assert.equal(dest.deliveredFor(id).length, 1, `${id} sent once: its outcome was kept`);
      }
      for (const id of pills) assert.notEqual((await poisoned.event(id)).status, "delivered", `${id}'s outcome was never written`);
      // Once writes work again, the poisoned events are delivered too.
      await poisoned.restartWith({ FAULTS: "" });
      for (const id of pills) await poisoned.waitForEvent(id, delivered, { timeoutMs: 60_000, cronEveryMs: 1500 });
      await assertConservation(poisoned, ep.id, { received: healthy.length + pills.length, delivered: healthy.length + pills.length, dead: 0 });
    } finally {
      await poisoned.stop();
    }
  });
});
