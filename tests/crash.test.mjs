// Crash: events are acked, the runtime is SIGKILLed before they are delivered
// (some mid-delivery, some never enqueued), then restarted on the same state.
// D1 is the truth: firing the cron delivers every one of them.
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

it("acked events survive a SIGKILL of the runtime and are all delivered after restart", async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "crash" });
  let stall = true;
  const ep = await relay.createEndpoint({
    name: "crash",
    provider: "none",
    destination_url: dest.route("/crash", () => (stall ? { stall: true } : { status: 200 })),
    timeout_ms: 2000,
    retry: { schedule_s: [1, 1, 1] },
  });

  const ids = [];
  for (let i = 0; i < 4; i++) ids.push((await relay.ingest(ep.id, `in-flight-${i}`)).json.id);
  for (let i = 0; i < 3; i++) {
    const res = await relay.ingest(ep.id, `never-enqueued-${i}`, { "x-hookrelay-fault": "queue_send" });
    assert.equal(res.status, 200);
    ids.push(res.json.id);
  }
  const deadline = Date.now() + 15_000;
  while (dest.to("/crash").length < 4 && Date.now() < deadline) await sleep(100);
  assert.equal(dest.to("/crash").length, 4, "the queue consumer is mid-delivery of the first four");

  await relay.kill();
  dest.dropStalled();
  assert.equal(dest.requests.filter((r) => r.answered === 200).length, 0, "nothing was delivered before the crash");

  stall = false;
  await relay.boot();
  const before = await assertConservation(relay, ep.id, { received: 7 });
  assert.equal(before.delivered, 0);

  for (const id of ids) {
    await relay.waitForEvent(id, (e) => e.status === "delivered", { timeoutMs: 60_000, cronEveryMs: 1500 });
  }
  for (const id of ids) assert.ok(dest.deliveredFor(id).length >= 1, `${id} reached the destination`);
  await assertConservation(relay, ep.id, { received: 7, delivered: 7, in_flight: 0, dead: 0 });
});
