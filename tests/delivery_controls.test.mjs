// Delivery controls on workerd with a controllable local destination: 410 pauses
// the endpoint, pause/resume holds and drains, the circuit breaker opens, probes,
// closes and drains with nothing dead-lettered, a rate limit spaces deliveries
// across consumers, FIFO keeps receipt order while the destination flaps.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep, waitFor } from "./support/relay.mjs";
import { startDestination, sequence } from "./support/destination.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
let dest;
let routes = 0;
before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "controls" });
});
after(async () => {
  await relay?.stop();
  await dest?.close();
});

const delivered = (e) => e.status === "delivered";

async function endpoint(plan, extra = {}) {
  const path = `/controls-${++routes}`;
  const ep = await relay.createEndpoint({ name: path, provider: "none", destination_url: dest.route(path, plan), ...extra });
  return { ep, path };
}

async function endpointState(id) {
  return (await relay.api("GET", `/endpoints/${id}`)).json;
}



describe("pause and resume", () => {
  it("a paused endpoint stores every ingest, delivers nothing, and resume drains everything", async () => {
    const { ep, path } = await endpoint();
    const paused = await relay.api("POST", `/endpoints/${ep.id}/pause`, { reason: "deploying" });
    assert.equal(paused.status, 200);
    assert.equal(paused.json.paused, true);
    assert.equal(paused.json.paused_reason, "deploying");
    const ids = await relay.ingestMany(ep.id, 8, "held");
    await sleep(2000);
    await relay.fireCron();
    assert.equal(dest.to(path).length, 0, "nothing delivered while paused, not even by the sweeper");
    for (const id of ids) assert.equal((await relay.event(id)).attempt_count, 0);
    await assertConservation(relay, ep.id, { received: 8, in_flight: 8 });

    const resumed = await relay.api("POST", `/endpoints/${ep.id}/resume`);
    assert.equal(resumed.status, 200);
    assert.equal(resumed.json.paused, false);
    assert.equal(resumed.json.drained, 8);
    for (const id of ids) await relay.waitForEvent(id, delivered);
    assert.equal(dest.to(path).length, 8);
    await assertConservation(relay, ep.id, { received: 8, delivered: 8 });
  });

  it("410 Gone dead-letters the event and pauses the endpoint with the reason", async () => {
    let gone = true;
    const { ep, path } = await endpoint(() => ({ status: gone ? 410 : 200 }));
    const first = await relay.ingest(ep.id, "to-a-gone-destination");
    const dead = await relay.waitForEvent(first.json.id, (e) => e.status === "dead");
    assert.equal(dead.attempts[0].outcome, "gone");
    const state = await endpointState(ep.id);
    assert.equal(state.paused, true);
    assert.match(state.paused_reason, /410/);

    const held = await relay.ingest(ep.id, "held-while-paused");
    await sleep(1500);
    assert.equal((await relay.event(held.json.id)).status, "received");
    assert.equal(dest.to(path).length, 1);

    gone = false;
    await relay.api("POST", `/endpoints/${ep.id}/resume`);
    await relay.waitForEvent(held.json.id, delivered);
    await assertConservation(relay, ep.id, { received: 2, delivered: 1, dead: 1 });
  });
});

describe("circuit breaker", () => {
  it("opens after N failures, probes, closes and drains, with no event dead-lettered", async () => {
    let healthy = false;
    const { ep, path } = await endpoint(() => ({ status: healthy ? 200 : 503 }), {
      retry: { schedule_s: [1, 1, 1, 1] },
      circuit: { threshold: 3, probe_interval_s: 1 },
    });
    const ids = await relay.ingestMany(ep.id, 4, "outage");
    const opened = await waitFor("the circuit to open", async () => {
      const s = await endpointState(ep.id);
      return s.circuit.state === "open" && s;
    });
    assert.ok(opened.circuit.consecutive_failures >= 3);
    assert.ok(opened.circuit.changed_at);
    await sleep(2500); // deliveries in flight when it opened settle
    const attemptsWhileOpen = dest.to(path).length;
    await sleep(2500);
    assert.equal(dest.to(path).length, attemptsWhileOpen, "events wait without spending attempts");

    await relay.fireCron(); // probe time has come: one probe, which fails
    assert.equal(dest.to(path).length, attemptsWhileOpen + 1, "exactly one probe");
    const afterProbe = await endpointState(ep.id);
    assert.equal(afterProbe.circuit.state, "open");
    assert.equal(afterProbe.circuit.probe_interval_s, 2, "the probe interval grows");

    for (let i = 0; i < 4; i++) await relay.fireCron(); // outage continues, interval not yet passed
    for (const id of ids) assert.notEqual((await relay.event(id)).status, "dead", "nothing dies while the circuit is open");

    healthy = true;
    await sleep(2100);
    await relay.fireCron(); // the next probe succeeds, closing the circuit and draining
    for (const id of ids) await relay.waitForEvent(id, delivered);
    const closed = await endpointState(ep.id);
    assert.equal(closed.circuit.state, "closed");
    assert.equal(closed.circuit.consecutive_failures, 0);
    await assertConservation(relay, ep.id, { received: 4, delivered: 4, dead: 0 });
  });
});

describe("rate limit", () => {
  it("5 per second over 50 queued events takes at least ~9 s, across concurrent consumers", async () => {
    const { ep, path } = await endpoint(undefined, { rate_limit_per_s: 5 });
    await relay.api("POST", `/endpoints/${ep.id}/pause`);
    const ids = await relay.ingestMany(ep.id, 50, "rated");
    await relay.api("POST", `/endpoints/${ep.id}/resume`);
    for (const id of ids) await relay.waitForEvent(id, delivered, { timeoutMs: 60_000 });
    const times = dest.to(path).map((r) => r.at).sort((a, b) => a - b);
    assert.equal(times.length, 50, "each once");
    const span = times.at(-1) - times[0];
    console.log(`rate limit 5/s: 50 deliveries over ${span} ms`);
    assert.ok(span >= 8500, `50 deliveries at 5/s took only ${span} ms`);
    for (let i = 0; i + 10 < times.length; i++) {
      assert.ok(times[i + 10] - times[i] >= 1000, `11 deliveries within a second at index ${i}`);
    }
    await assertConservation(relay, ep.id, { received: 50, delivered: 50 });
  });
});

describe("FIFO", () => {
  it("delivers 20 events in receipt order while the destination fails intermittently", async () => {
    const { ep, path } = await endpoint((_r, i) => ({ status: i % 3 === 1 ? 503 : 200 }), {
      fifo: true,
      retry: { schedule_s: [1, 1, 1, 1, 1] },
    });
    const ids = await relay.ingestMany(ep.id, 20, "ordered");
    for (const id of ids) await relay.waitForEvent(id, delivered, { timeoutMs: 90_000 });
    const successes = dest.to(path).filter((r) => r.answered === 200).map((r) => r.headers["webhook-id"]);
    assert.deepEqual(successes, ids, "strict receipt order");
    assert.ok(dest.to(path).some((r) => r.answered === 503), "the destination did fail along the way");
    await assertConservation(relay, ep.id, { received: 20, delivered: 20 });
  });

  it("says which event blocks the line", async () => {
    const { ep } = await endpoint(sequence(503), { fifo: true, retry: { schedule_s: [30] } });
    const [head, next] = await relay.ingestMany(ep.id, 2, "blocked");
    await relay.waitForEvent(head, (e) => e.status === "retrying");
    const state = await endpointState(ep.id);
    assert.equal(state.fifo_blocked_by, head);
    await sleep(1000);
    const waiting = await relay.event(next);
    assert.equal(waiting.status, "received");
    assert.equal(waiting.attempt_count, 0, "the next event waits behind the head");
    await assertConservation(relay, ep.id, { received: 2, in_flight: 2 });
  });
});
