// A consumer that keeps failing: the queue retries the message, then moves it to
// the dead-letter queue, whose consumer marks the event dead with the reason.
// Once the consumer is fixed (restart without the fault), replay delivers it.
import { it, after } from "node:test";
import assert from "node:assert/strict";
import { Relay } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
let dest;
after(async () => {
  await relay?.stop();
  await dest?.close();
});

it("a message the consumer cannot handle is dead-lettered, its event marked dead, and replay recovers it", async () => {
  dest = await startDestination();
  relay = await Relay.start({
    name: "dead-letter",
    vars: { FAULTS: "consume" },
    edit(config) {
      const deliveries = config.queues.consumers.find((c) => c.dead_letter_queue);
      deliveries.max_retries = 1;
      for (const c of config.queues.consumers) c.max_batch_timeout = 1;
    },
  });
  const ep = await relay.createEndpoint({ name: "dlq", provider: "none", destination_url: dest.route("/dlq") });
  const res = await relay.ingest(ep.id, "poison");
  assert.equal(res.status, 200);
  const dead = await relay.waitForEvent(res.json.id, (e) => e.status === "dead", { timeoutMs: 30_000 });
  assert.match(dead.dead_reason, /dead-lettered/);
  assert.equal(dead.attempts.length, 0, "no attempt reached the destination");
  assert.equal(dest.requests.length, 0);
  await assertConservation(relay, ep.id, { received: 1, dead: 1, in_flight: 0 });

  await relay.restartWith({ FAULTS: "" });
  const replay = await relay.api("POST", `/events/${res.json.id}/replay`);
  assert.equal(replay.status, 202);
  const delivered = await relay.waitForEvent(res.json.id, (e) => e.status === "delivered");
  assert.equal(delivered.attempts.length, 1);
  await assertConservation(relay, ep.id, { received: 1, delivered: 1, dead: 0 });
});
