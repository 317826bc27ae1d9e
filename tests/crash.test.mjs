// Crash: events are acked, the runtime is SIGKILLed before they are delivered
// (some mid-delivery, some never enqueued), then restarted on the same state.
// D1 is the truth: firing the cron delivers every one of them, in each shard.
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

it("acked events survive a SIGKILL of the runtime and are all delivered after restart, on both shards", async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "crash" });
  let stall = true;
  const endpoints = [];
  for (const name of ["crash-a", "crash-b"]) {
    endpoints.push(await relay.createEndpoint({
      name,
      provider: "none",
      destination_url: dest.route(`/${name}`, () => (stall ? { stall: true } : { status: 200 })),
      timeout_ms: 2000,
      retry: { schedule_s: [1, 1, 1] },
    }));
  }
  const shards = await Promise.all(endpoints.map((ep) => relay.shardOf(ep.id)));
  assert.deepEqual(shards.sort(), ["DB", "DB_SHARD_1"], "one endpoint on each shard");

  const ids = new Map(endpoints.map((ep) => [ep.id, []]));
  for (const ep of endpoints) {
    for (let i = 0; i < 2; i++) ids.get(ep.id).push((await relay.ingest(ep.id, `in-flight-${i}`)).json.id);
  }
  for (const ep of endpoints) {
    for (let i = 0; i < 2; i++) {
      const res = await relay.ingest(ep.id, `never-enqueued-${i}`, { "x-hookrelay-fault": "queue_send" });
      assert.equal(res.status, 200);
      ids.get(ep.id).push(res.json.id);
    }
  }
  const reached = () => dest.requests.length;
  const deadline = Date.now() + 15_000;
  while (reached() < 4 && Date.now() < deadline) await sleep(100);
  assert.equal(reached(), 4, "the queue consumer is mid-delivery of the first four, on both shards at once");

  await relay.kill();
  dest.dropStalled();
  assert.equal(dest.requests.filter((r) => r.answered === 200).length, 0, "nothing was delivered before the crash");

  stall = false;
  await relay.boot();
  for (const ep of endpoints) {
    const before = await assertConservation(relay, ep.id, { received: 4 });
    assert.equal(before.delivered, 0);
  }

  const all = [...ids.values()].flat();
  for (const id of all) {
    await relay.waitForEvent(id, (e) => e.status === "delivered", { timeoutMs: 60_000, cronEveryMs: 1500 });
  }
  for (const id of all) assert.ok(dest.deliveredFor(id).length >= 1, `${id} reached the destination`);
  for (const ep of endpoints) {
    await assertConservation(relay, ep.id, { received: 4, delivered: 4, in_flight: 0, dead: 0 });
  }
});
