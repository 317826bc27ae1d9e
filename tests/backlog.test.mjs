// Work that grows with the backlog: one cron run walks every due event in
// keyset pages (not a fixed count per minute), each delivered exactly once;
// with no time budget left a run says so, raises relay.falling_behind once
// (cleared by the first run that catches up),
// and the next runs go on until the backlog is drained.
import { it, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import { assertConservation } from "./support/checks.mjs";

const relays = [];
let dest;
after(async () => {
  for (const r of relays) await r.stop();
  await dest?.close();
});

/** `n` events acked with their queue message lost: only the sweeper can find them. */
async function backlog(relay, epId, n) {
  const ids = [];
  for (let start = 0; start < n; start += 8) {
    const batch = await Promise.all(Array.from({ length: Math.min(8, n - start) }, (_, i) =>
      relay.ingest(epId, `backlog-${start + i}`, { "x-hookrelay-fault": "queue_send" })));
    for (const res of batch) {
      assert.equal(res.status, 200, res.text);
      ids.push(res.json.id);
    }
  }
  return ids;
}

async function allDeliveredOnce(relay, ids, path) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const { counts } = await relay.health();
    if (counts.delivered === ids.length) break;
    await sleep(500);
  }
  const byId = new Map();
  for (const r of dest.to(path).filter((r) => r.answered === 200)) byId.set(r.headers["webhook-id"], (byId.get(r.headers["webhook-id"]) ?? 0) + 1);
  assert.equal(byId.size, ids.length, "every event reached the destination");
  assert.ok([...byId.values()].every((n) => n === 1), "each exactly once");
}

it("one cron run takes a backlog of 700 due events, well past one page, and each is delivered once", async () => {
  dest = await startDestination();
  const relay = await Relay.start({ name: "backlog", vars: { SWEEP_ENQUEUE_LIMIT: "100" } });
  relays.push(relay);
  const ep = await relay.createEndpoint({ name: "backlog", provider: "none", destination_url: dest.route("/backlog") });
  const ids = await backlog(relay, ep.id, 700);
  await sleep(1200); // past the sweep grace
  await relay.fireCron();
  const report = (await relay.health()).sweeper.last_report;
  assert.equal(report.due, 700, JSON.stringify(report));
  assert.equal(report.delivered_directly + report.not_claimed + report.enqueued, 700);
  assert.equal(report.backlog_left, false);
  await allDeliveredOnce(relay, ids, "/backlog");
  const health = await relay.health();
  if (health.database.size_bytes !== null) assert.ok(health.database.size_bytes > 0);
  assert.equal(health.database.max_bytes, 10_000_000_000);
  await assertConservation(relay, ep.id, { received: 700, delivered: 700 });
});

it("a run out of budget leaves the rest to the next runs, says so and raises relay.falling_behind once", async () => {
  const relay = await Relay.start({ name: "backlog-behind", vars: { SWEEP_BUDGET_S: "0", SWEEP_ENQUEUE_LIMIT: "50", SWEEP_DELIVER_LIMIT: "0" } });
  relays.push(relay);
  const channel = await relay.api("POST", "/alerts", { kind: "webhook", url: dest.route("/backlog-alerts") });
  assert.equal(channel.status, 201);
  const ep = await relay.createEndpoint({ name: "behind", provider: "none", destination_url: dest.route("/behind") });
  const ids = await backlog(relay, ep.id, 180);
  await sleep(1200);
  await relay.fireCron();
  const first = (await relay.health()).sweeper.last_report;
  assert.equal(first.backlog_left, true, JSON.stringify(first));
  assert.equal(first.enqueued, 50, "one page");
  const alerts = () => dest.to("/backlog-alerts").map((r) => JSON.parse(r.body)).filter((a) => a.type === "relay.falling_behind");
  for (let i = 0; i < 25 && alerts().length === 0; i++) await sleep(200);
  assert.deepEqual(alerts().map((a) => a.data), [{ what: "recovery" }]);
  for (let run = 0; run < 10; run++) {
    const { counts } = await relay.health();
    if (counts.delivered === ids.length) break;
    await relay.fireCron();
    await sleep(1500);
  }
  await allDeliveredOnce(relay, ids, "/behind");
  assert.equal(alerts().length, 1, "once per cooldown");
  // The first run with nothing left clears it (and resolves its incident).
  await relay.fireCron();
  const cleared = () => dest.to("/backlog-alerts").map((r) => JSON.parse(r.body)).filter((a) => a.type === "relay.cleared" && a.data.condition === "falling_behind");
  for (let i = 0; i < 25 && cleared().length === 0; i++) await sleep(200);
  assert.deepEqual(cleared().map((a) => a.data), [{ condition: "falling_behind", what: "recovery" }]);
  await relay.fireCron();
  assert.equal(cleared().length, 1, "cleared once");
  await assertConservation(relay, ep.id, { received: 180, delivered: 180 });
});
