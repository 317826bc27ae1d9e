// A consumer that keeps failing: the queue retries the message, then moves it to
// the dead-letter queue. Its consumer marks the event dead only when a
// deliverer's lease on it expired mid-attempt (the mark of a message that keeps
// crashing its consumer); an event nobody tried is left to the sweeper, which
// delivers it. A dead one is recovered by replay once the consumer is fixed;
// the live stream hears of the death.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, ADMIN_TOKEN, sleep } from "./support/relay.mjs";
import { openStream } from "./support/sse.mjs";
import { startDestination } from "./support/destination.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
let dest;
before(async () => {
  dest = await startDestination();
  relay = await Relay.start({
    name: "dead-letter",
    vars: { FAULTS: "consume" },
    edit(config) {
      // Every delivery queue's consumer (one per queue; an endpoint's shard picks its queue).
      for (const deliveries of config.queues.consumers.filter((c) => c.dead_letter_queue)) {
        deliveries.max_retries = 2;
        deliveries.retry_delay = 2;
      }
      for (const c of config.queues.consumers) c.max_batch_timeout = 1;
    },
  });
});
after(async () => {
  await relay?.stop();
  await dest?.close();
});

async function dlqMessageHandled(eventId) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const lines = relay.logs().split("\n");
    if (lines.some((l) => l.includes("dead-lettered message") && l.includes(eventId))) return;
    await sleep(300);
  }
  throw new Error(`the dead-letter queue never handled ${eventId}`);
}

it("a dead-lettered message whose event nobody tried leaves it to the sweeper, which delivers it once", async () => {
  const ep = await relay.createEndpoint({ name: "untried", provider: "none", destination_url: dest.route("/untried") });
  const res = await relay.ingest(ep.id, "never-claimed");
  assert.equal(res.status, 200);
  await dlqMessageHandled(res.json.id);
  const waiting = await relay.event(res.json.id);
  assert.equal(waiting.status, "received", "not marked dead: nobody tried it");
  assert.equal(dest.to("/untried").length, 0);
  const done = await relay.waitForEvent(res.json.id, (e) => e.status === "delivered", { cronEveryMs: 1500 });
  assert.equal(done.attempts.length, 1);
  assert.equal(dest.deliveredFor(res.json.id).length, 1);
  await assertConservation(relay, ep.id, { received: 1, delivered: 1, dead: 0 });
});

it("a message whose deliverer's lease expired mid-attempt is marked dead with the reason, and replay recovers it", async () => {
  const ep = await relay.createEndpoint({ name: "crashed", provider: "none", destination_url: dest.route("/crashed") });
  await relay.api("POST", `/endpoints/${ep.id}/pause`, { reason: "keep the sweeper off" });
  const res = await relay.ingest(ep.id, "poison");
  assert.equal(res.status, 200);
  const live = await openStream(`${relay.url}/api/v1/stream?endpoint_id=${ep.id}`, { authorization: `Bearer ${ADMIN_TOKEN}` });
  await live.next(() => true, { comment: true });
  // A deliverer claimed it and died mid-attempt (as another isolate's write would land).
  await relay.d1(`UPDATE events SET status = 'delivering', lease_token = 'crashed', lease_until = ${Date.now() - 1000} WHERE id = '${res.json.id}'`, await relay.shardOfEvent(res.json.id));
  const dead = await relay.waitForEvent(res.json.id, (e) => e.status === "dead", { timeoutMs: 30_000 });
  assert.match(dead.dead_reason, /dead-lettered/);
  const streamed = await live.next((m) => m.data.id === res.json.id && m.data.status === "dead");
  assert.equal(streamed.data.attempt, 0, "the live stream hears of it");
  live.close();
  assert.equal(dead.attempts.length, 0, "no attempt reached the destination");
  assert.equal(dest.to("/crashed").length, 0);
  await assertConservation(relay, ep.id, { received: 1, dead: 1, in_flight: 0 });

  await relay.restartWith({ FAULTS: "" });
  await relay.api("POST", `/endpoints/${ep.id}/resume`);
  const replay = await relay.api("POST", `/events/${res.json.id}/replay`);
  assert.equal(replay.status, 202);
  const delivered = await relay.waitForEvent(res.json.id, (e) => e.status === "delivered");
  assert.equal(delivered.attempts.length, 1);
  await assertConservation(relay, ep.id, { received: 1, delivered: 1, dead: 0 });
});
