// Event shards: endpoints spread over the two D1 databases wrangler.toml
// binds (the control database `DB` and `DB_SHARD_1`, as every test relay
// has them), each endpoint's rows in its own, and every path that names an
// endpoint, a route or an event finds it in its shard. Each shard's delivery
// messages go to its queue (`DELIVERIES`, `DELIVERIES_1`).
import { it, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep, waitFor } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import { assertConservation, assertRouteConservation } from "./support/checks.mjs";
import * as sign from "./support/providers.mjs";

const relays = [];
let dest;
after(async () => {
  for (const relay of relays) await relay.stop();
  await dest?.close();
});

/** The config edit of a relay that has only ever had its control database. */
function withTheControlDatabaseOnly(config) {
  config.d1_databases = config.d1_databases.filter((db) => db.binding === "DB");
}

async function start(name, options = {}) {
  const relay = await Relay.start({ name, ...options });
  relays.push(relay);
  return relay;
}

/** Where the control database says each id was placed. */
async function placements(relay) {
  const rows = await relay.d1Rows("SELECT id, shard FROM endpoint_shards");
  return Object.fromEntries(rows.map((r) => [r.id, r.shard]));
}

async function idsIn(relay, binding, table) {
  return (await relay.d1Rows(`SELECT id FROM ${table}`, binding)).map((r) => r.id);
}

it("endpoints land on both shards, and each one's webhooks are received, delivered and read in its own", async () => {
  dest ??= await startDestination();
  // A cache that outlives the test, so which acks hit it is certain.
  const relay = await start("shards", { vars: { ENDPOINT_CACHE_TTL_S: "300" } });
  const endpoints = [];
  for (let i = 0; i < 4; i++) {
    endpoints.push(await relay.createEndpoint({
      name: `shop-${i}`, provider: "none", destination_url: dest.route(`/shard-${i}`),
    }));
  }
  const placed = await placements(relay);
  const shardOf = endpoints.map((ep) => placed[ep.id]);
  assert.deepEqual(shardOf, ["DB", "DB_SHARD_1", "DB", "DB_SHARD_1"],
    "equally empty shards take turns, the fewest endpoints first");
  assert.deepEqual((await idsIn(relay, "DB_SHARD_1", "endpoints")).sort(),
    [endpoints[1].id, endpoints[3].id].sort(), "an endpoint's row is in its shard alone");
  assert.deepEqual((await idsIn(relay, "DB", "endpoints")).sort(), [endpoints[0].id, endpoints[2].id].sort());

  // A route is placed with its endpoint.
  const route = await relay.api("POST", `/endpoints/${endpoints[1].id}/routes`, {
    name: "copy", destination_url: dest.route("/shard-1-copy"),
  });
  assert.equal(route.status, 201, route.text);
  assert.equal((await placements(relay))[route.json.id], "DB_SHARD_1");

  const sent = [];
  const waitedFor = [];
  for (const [i, ep] of endpoints.entries()) {
    for (let n = 0; n < 3; n++) {
      const res = await relay.ingest(ep.id, JSON.stringify({ shop: i, n }));
      assert.equal(res.status, 200, res.text);
      sent.push({ endpoint: i, id: res.json.id });
      waitedFor.push(res.headers.get("server-timing").split(",").map((e) => e.trim().split(";")[0]).join(" "));
    }
  }
  // Each ack names the storage round trips it waited for: the first into an
  // endpoint reads its shard from the control database (unless the route's
  // creation just did) and its configuration from the shard; later ones
  // find both cached and wait for two.
  const first = ["placement endpoint r2 d1", "endpoint r2 d1", "placement endpoint r2 d1", "placement endpoint r2 d1"];
  assert.deepEqual(waitedFor, first.flatMap((f) => [f, "r2 d1", "r2 d1"]));
  // Four endpoints' deliveries, plus the extra route's three.
  await waitFor("every delivery", () => dest.requests.length >= 15);
  await sleep(500);
  assert.equal(dest.requests.length, 15, "each event delivered once");
  for (const [i] of endpoints.entries()) assert.equal(dest.to(`/shard-${i}`).length, 3);
  assert.equal(dest.to("/shard-1-copy").length, 3);

  // The events are in their endpoint's shard's D1, and read by id wherever they are.
  const inShard1 = await idsIn(relay, "DB_SHARD_1", "events");
  assert.equal(inShard1.length, 9, "shard 1 holds its two endpoints' events and the route's");
  for (const { endpoint, id } of sent) {
    const event = await relay.waitForEvent(id, (e) => e.status === "delivered");
    assert.equal(event.endpoint_id, endpoints[endpoint].id);
    assert.equal(inShard1.includes(id), endpoint % 2 === 1);
    const body = await relay.api("GET", `/events/${id}/body`);
    assert.equal(body.status, 200);
    assert.equal(JSON.parse(body.text).shop, endpoint);
  }

  // Lists merge the shards newest first and keep their cursors.
  const all = await relay.api("GET", "/events?limit=100");
  assert.equal(all.json.data.length, 15);
  const listed = all.json.data.map((e) => e.id);
  assert.deepEqual(listed, [...listed].sort().reverse(), "newest first across shards");
  const firstPage = await relay.api("GET", "/events?limit=4");
  const secondPage = await relay.api("GET", `/events?limit=4&cursor=${firstPage.json.next_cursor}`);
  assert.deepEqual([...firstPage.json.data, ...secondPage.json.data].map((e) => e.id), listed.slice(0, 8));
  const own = await relay.api("GET", `/events?endpoint_id=${endpoints[3].id}`);
  assert.deepEqual(own.json.data.map((e) => e.endpoint_id), Array(3).fill(endpoints[3].id));
  const ingests = await relay.api("GET", "/ingests?limit=100");
  assert.equal(ingests.json.data.length, 12);
  const listedEndpoints = (await relay.api("GET", "/endpoints")).json.data.map((e) => e.id);
  assert.deepEqual(listedEndpoints, endpoints.map((e) => e.id), "every shard's endpoints, oldest first");

  // An endpoint on the second shard is managed there: paused, its event replayed.
  const paused = await relay.api("POST", `/endpoints/${endpoints[3].id}/pause`, { reason: "maintenance" });
  assert.equal(paused.status, 200, paused.text);
  assert.equal((await relay.api("GET", `/endpoints/${endpoints[3].id}`)).json.paused, true);
  const resumed = await relay.api("POST", `/endpoints/${endpoints[3].id}/resume`);
  assert.equal(resumed.status, 200, resumed.text);
  const replayed = await relay.api("POST", `/events/${sent[9].id}/replay`);
  assert.equal(replayed.status, 202, replayed.text);
  await waitFor("the replay", () => dest.to("/shard-3").length === 4);

  const overall = await relay.health();
  assert.deepEqual(overall.counts, { received: 15, delivered: 15, dead: 0, in_flight: 0 });
  for (const ep of endpoints) await assertConservation(relay, ep.id);
  await assertRouteConservation(relay, route.json.id, { delivered: 3 });
});

it("a duplicate race and a replay race on each shard at once lose and duplicate nothing", async () => {
  dest ??= await startDestination();
  const relay = await start("shards-races");
  const secret = "race-secret";
  // The replays' deliveries take a second, so the replays race an event in flight.
  let slow = false;
  const endpoints = [];
  for (const name of ["race-a", "race-b"]) {
    endpoints.push(await relay.createEndpoint({
      name, provider: "github", secrets: [secret],
      destination_url: dest.route(`/${name}`, () => (slow ? { status: 200, delayMs: 1000 } : { status: 200 })),
    }));
  }
  const shards = await Promise.all(endpoints.map((ep) => relay.shardOf(ep.id)));
  assert.deepEqual(shards, ["DB", "DB_SHARD_1"]);

  // The same provider delivery, six times to each endpoint, all at once.
  const body = Buffer.from('{"action":"opened"}');
  const headers = sign.github(secret, body, { delivery: "race-delivery-1" });
  const sends = endpoints.flatMap((ep) => Array.from({ length: 6 }, () => relay.ingest(ep.id, body, headers)));
  const answers = await Promise.all(sends);
  assert.ok(answers.every((a) => a.status === 200), JSON.stringify(answers.map((a) => a.status)));
  const eventIds = endpoints.map((_, i) => {
    const own = answers.slice(i * 6, i * 6 + 6);
    assert.equal(new Set(own.map((a) => a.json.id)).size, 1, "one event per endpoint");
    assert.equal(own.filter((a) => !a.json.duplicate).length, 1, "exactly one answer is new");
    return own[0].json.id;
  });
  for (const id of eventIds) await relay.waitForEvent(id, (e) => e.status === "delivered");

  // Five replays of each event at once: one wins, the others find it in flight.
  slow = true;
  const replays = await Promise.all(
    eventIds.flatMap((id) => Array.from({ length: 5 }, () => relay.api("POST", `/events/${id}/replay`))),
  );
  for (const [i] of eventIds.entries()) {
    const own = replays.slice(i * 5, i * 5 + 5).map((r) => r.status);
    assert.deepEqual(own.filter((s) => s === 202).length, 1, `one replay wins: ${own}`);
    assert.ok(own.every((s) => s === 202 || s === 409), `${own}`);
  }
  for (const id of eventIds) await relay.waitForEvent(id, (e) => e.status === "delivered" && e.attempts.length === 2);
  await sleep(1500);
  for (const [i, ep] of endpoints.entries()) {
    assert.equal(dest.to(`/${ep.name}`).length, 2, "delivered once, then once for the replay");
    assert.equal(dest.deliveredFor(eventIds[i]).length, 2);
    await assertConservation(relay, ep.id, { received: 1, delivered: 1, in_flight: 0 });
  }
});

it("with no queue, the sweeper delivers every shard's events and reports each shard", async () => {
  dest ??= await startDestination();
  const relay = await start("shards-sweeper", { consumer: false, vars: { FAULTS: "queue_send" } });
  const a = await relay.createEndpoint({ name: "a", provider: "none", destination_url: dest.route("/swept-a") });
  const b = await relay.createEndpoint({ name: "b", provider: "none", destination_url: dest.route("/swept-b") });
  assert.notEqual((await placements(relay))[a.id], (await placements(relay))[b.id]);
  const ids = [...await relay.ingestMany(a.id, 3, "a"), ...await relay.ingestMany(b.id, 3, "b")];
  await sleep(1500); // past SWEEP_GRACE_S
  await relay.fireCron();
  for (const id of ids) {
    assert.equal((await relay.event(id)).status, "delivered");
    assert.equal(dest.deliveredFor(id).length, 1, `${id} delivered once`);
  }
  const report = (await relay.health()).sweeper.last_report;
  assert.deepEqual(report.shards.map((s) => s.shard), ["DB", "DB_SHARD_1"]);
  assert.deepEqual(report.shards.map((s) => s.delivered_directly), [3, 3]);
  assert.deepEqual(report.shards.map((s) => s.failed), [false, false]);
  assert.equal(report.delivered_directly, 6);
  await assertConservation(relay, a.id, { received: 3, delivered: 3 });
  await assertConservation(relay, b.id, { received: 3, delivered: 3 });
});

it("each shard's deliveries travel on its own queue: with the second queue unconsumed, its shard waits for the sweeper", async () => {
  dest ??= await startDestination();
  const relay = await start("shards-queues", {
    edit(config) {
      // DELIVERIES_1 still takes messages, but nobody consumes them.
      const second = config.queues.producers.find((p) => p.binding === "DELIVERIES_1").queue;
      config.queues.consumers = config.queues.consumers.filter((c) => c.queue !== second);
    },
  });
  const a = await relay.createEndpoint({ name: "a", provider: "none", destination_url: dest.route("/queue-a") });
  const b = await relay.createEndpoint({ name: "b", provider: "none", destination_url: dest.route("/queue-b") });
  const placed = await placements(relay);
  assert.deepEqual([placed[a.id], placed[b.id]], ["DB", "DB_SHARD_1"]);
  const [onFirst] = await relay.ingestMany(a.id, 1, "a");
  const [onSecond] = await relay.ingestMany(b.id, 1, "b");
  await relay.waitForEvent(onFirst, (e) => e.status === "delivered");
  await sleep(2000); // the first queue's consumer had the time to take the second message too
  assert.equal((await relay.event(onSecond)).status, "received", "DB_SHARD_1's message went to DELIVERIES_1");
  assert.equal(dest.to("/queue-b").length, 0);

  await relay.fireCron();
  await relay.waitForEvent(onSecond, (e) => e.status === "delivered");
  assert.equal(dest.deliveredFor(onFirst).length, 1);
  assert.equal(dest.deliveredFor(onSecond).length, 1);
  await assertConservation(relay, a.id, { received: 1, delivered: 1 });
  await assertConservation(relay, b.id, { received: 1, delivered: 1 });
});

it("a shard added while the relay holds data receives new endpoints, and the old ones keep working", async () => {
  dest ??= await startDestination();
  const relay = await start("shard-added", { edit: withTheControlDatabaseOnly });
  const before = await relay.createEndpoint({ name: "before", provider: "none", destination_url: dest.route("/before") });
  const [first] = await relay.ingestMany(before.id, 1, "before");
  await relay.waitForEvent(first, (e) => e.status === "delivered");

  // The shipped config: DB_SHARD_1 added, its migrations applied.
  await relay.redeployWith(undefined);
  const added = await relay.createEndpoint({ name: "added", provider: "none", destination_url: dest.route("/added") });
  const placed = await placements(relay);
  assert.equal(placed[before.id], "DB", "nothing moved");
  assert.equal(placed[added.id], "DB_SHARD_1", "the new, emptier shard takes the new endpoint");
  const [old] = await relay.ingestMany(before.id, 1, "before-again");
  const [fresh] = await relay.ingestMany(added.id, 1, "added");
  await relay.waitForEvent(old, (e) => e.status === "delivered");
  await relay.waitForEvent(fresh, (e) => e.status === "delivered");
  assert.equal((await relay.event(first)).status, "delivered", "an event from before the shard is still read");
  assert.equal(dest.to("/before").length, 2);
  assert.equal(dest.to("/added").length, 1);
  await assertConservation(relay, before.id, { received: 2, delivered: 2 });
  await assertConservation(relay, added.id, { received: 1, delivered: 1 });
});
