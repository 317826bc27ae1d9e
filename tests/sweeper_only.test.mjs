// The queue gone: no consumer is configured, and every queue.send also fails
// (the FAULTS var). The sweeper alone delivers everything, in bounded runs.
import { it, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
let dest;
after(async () => {
  await relay?.stop();
  await dest?.close();
});

it("with no queue consumer, firing the cron delivers every event exactly once", async () => {
  dest = await startDestination();
  relay = await Relay.start({
    name: "sweeper-only",
    consumer: false,
    vars: { FAULTS: "queue_send", SWEEP_DELIVER_LIMIT: "10", SWEEP_ENQUEUE_LIMIT: "10" },
  });
  const ep = await relay.createEndpoint({
    name: "sweeper-only",
    provider: "none",
    destination_url: dest.route("/swept"),
  });
  const ids = [];
  for (let i = 0; i < 25; i++) {
    const res = await relay.ingest(ep.id, `swept-${i}`);
    assert.equal(res.status, 200);
    ids.push(res.json.id);
  }
  await sleep(1500); // past SWEEP_GRACE_S
  assert.equal(dest.requests.length, 0, "nothing moves without the sweeper");

  await relay.fireCron();
  assert.equal(dest.to("/swept").length, 10, "one run delivers at most SWEEP_DELIVER_LIMIT");
  const firstTen = dest.to("/swept").map((r) => r.headers["webhook-id"]);
  assert.deepEqual([...firstTen].sort(), ids.slice(0, 10).sort(), "oldest first");

  await relay.fireCron();
  await relay.fireCron();
  assert.equal(dest.to("/swept").length, 25);
  for (const id of ids) {
    assert.equal(dest.deliveredFor(id).length, 1, `${id} delivered exactly once`);
    assert.equal((await relay.event(id)).status, "delivered");
  }
  const health = await relay.health();
  assert.equal(health.status, "ok");
  await assertConservation(relay, ep.id, { received: 25, delivered: 25, in_flight: 0 });
});
