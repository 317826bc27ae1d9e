// The live stream on workerd: `GET /api/v1/stream` is fanned out by the live
// hub (a Durable Object); a stream opened before an ingest sees the event
// `received`, `delivering` and `delivered` (pushed, or leased and reported by a
// pull client; a replay is `received` again; changes made in bulk are
// streamed as well), a stream of one endpoint sees
// only its events, an idle stream gets a comment every 15 s, and it needs a key.
// Each shard has its own hub: a stream of one endpoint reads its shard's, the
// stream of all merges both, and under concurrent changes on both shards every
// message of the merged stream arrives whole (a torn one would fail to parse
// and end the reader).
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, ADMIN_TOKEN, sleep } from "./support/relay.mjs";
import { startDestination, sequence } from "./support/destination.mjs";
import { openStream } from "./support/sse.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
let dest;
const streams = [];
before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "live" });
});
after(async () => {
  for (const s of streams) s.close?.();
  await relay?.stop();
  await dest?.close();
});

async function open(query = "", token = ADMIN_TOKEN) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const s = await openStream(`${relay.url}/api/v1/stream${query}`, headers);
  streams.push(s);
  return s;
}

const statusesOf = (s, id) => s.messages.filter((m) => m.data.id === id).map((m) => m.data.status);

it("a stream opened before an ingest sees received, delivering and delivered for it", async () => {
  const ep = await relay.createEndpoint({ name: "live", provider: "none", destination_url: dest.route("/live") });
  const other = await relay.createEndpoint({ name: "elsewhere", provider: "none", destination_url: dest.route("/elsewhere") });
  const all = await open();
  const mine = await open(`?endpoint_id=${ep.id}`);
  assert.equal(all.status, 200);
  assert.match(all.headers.get("content-type"), /^text\/event-stream/);
  await all.next(() => true, { comment: true });
  await mine.next(() => true, { comment: true });

  const body = JSON.stringify({ type: "order.paid", n: 1 });
  const sentAt = Date.now();
  const ack = await relay.ingest(ep.id, body, { "content-type": "application/json" });
  assert.equal(ack.status, 200, ack.text);
  const id = ack.json.id;
  const received = await mine.next((m) => m.data.id === id && m.data.status === "received");
  assert.equal(received.event, "event");
  assert.deepEqual(Object.keys(received.data).sort(), ["at", "attempt", "endpoint_id", "event_type", "id", "route_id", "status"]);
  assert.equal(received.data.endpoint_id, ep.id);
  assert.equal(received.data.route_id, ep.id);
  assert.equal(received.data.event_type, "order.paid");
  assert.equal(received.data.attempt, 0);
  console.log(`received reached the stream ${received.at - sentAt} ms after the ingest was sent`);
  const delivered = await mine.next((m) => m.data.id === id && m.data.status === "delivered");
  assert.equal(delivered.data.attempt, 1);
  assert.deepEqual(statusesOf(mine, id), ["received", "delivering", "delivered"]);
  await all.next((m) => m.data.id === id && m.data.status === "delivered");

  const elsewhere = await relay.ingest(other.id, "other");
  await all.next((m) => m.data.id === elsewhere.json.id && m.data.status === "delivered");
  assert.deepEqual(statusesOf(mine, elsewhere.json.id), [], "one endpoint's stream sees only its events");
});

it("a failing delivery streams retrying, then dead", async () => {
  const ep = await relay.createEndpoint({
    name: "failing", provider: "none", destination_url: dest.route("/failing", sequence(500)),
    retry: { schedule_s: [1], max_attempts: 2 },
  });
  const s = await open(`?endpoint_id=${ep.id}`);
  await s.next(() => true, { comment: true });
  const ack = await relay.ingest(ep.id, "fails");
  const id = ack.json.id;
  await s.next((m) => m.data.id === id && m.data.status === "retrying");
  await relay.waitForEvent(id, (e) => e.status === "dead", { cronEveryMs: 1_000 });
  const dead = await s.next((m) => m.data.id === id && m.data.status === "dead");
  assert.equal(dead.data.attempt, 2);
  assert.deepEqual(statusesOf(s, id), ["received", "delivering", "retrying", "delivering", "dead"]);
});

it("pull leases and reports, and a replay, are streamed too", async () => {
  const ep = await relay.createEndpoint({ name: "pulled", provider: "none", destination_type: "pull" });
  const s = await open(`?endpoint_id=${ep.id}`);
  await s.next(() => true, { comment: true });
  const id = (await relay.ingest(ep.id, "pull me")).json.id;
  await s.next((m) => m.data.id === id && m.data.status === "received");
  const lease = await relay.api("POST", `/pull/${ep.id}`, { max: 1 });
  assert.equal(lease.status, 200, lease.text);
  const [leased] = lease.json.data;
  assert.equal(leased.id, id);
  const report = await relay.api("POST", `/events/${id}/attempts`, { lease_token: leased.lease_token, status_code: 200, duration_ms: 5 });
  assert.equal(report.status, 200, report.text);
  await s.next((m) => m.data.id === id && m.data.status === "delivered");
  assert.deepEqual(statusesOf(s, id), ["received", "delivering", "delivered"]);

  const replay = await relay.api("POST", `/events/${id}/replay`);
  assert.equal(replay.status, 202, replay.text);
  await s.next((m) => m.data.id === id && m.data.status === "received" && m.data.attempt === 1);
  assert.deepEqual(statusesOf(s, id), ["received", "delivering", "delivered", "received"]);
});

it("changes made in bulk are streamed too: a bulk replay, a filtered replay, a lease the sweeper releases, a route's deletion", async () => {
  const ep = await relay.createEndpoint({
    name: "bulk", provider: "none", destination_url: dest.route("/bulk", sequence(500, 500, 200)),
    retry: { schedule_s: [1], max_attempts: 1 },
  });
  assert.equal((await relay.api("PATCH", `/routes/${ep.id}`, { event_types: ["order.*"] })).status, 200);
  const s = await open(`?endpoint_id=${ep.id}`);
  await s.next(() => true, { comment: true });
  const json = { "content-type": "application/json" };
  const ids = [];
  for (const n of [1, 2]) ids.push((await relay.ingest(ep.id, JSON.stringify({ type: "order.paid", n }), json)).json.id);
  for (const id of ids) await s.next((m) => m.data.id === id && m.data.status === "dead");

  // Bulk replay: each dead event is `received` again, with its attempt count.
  const replay = await relay.api("POST", "/replay", { status: "dead", endpoint_id: ep.id });
  assert.equal(replay.status, 202, replay.text);
  assert.equal(replay.json.replayed, 2);
  for (const id of ids) {
    const again = await s.next((m) => m.data.id === id && m.data.status === "received" && m.data.attempt === 1);
    assert.equal(again.data.event_type, "order.paid", "the bulk change carries the ingest's event type");
    assert.equal(again.data.route_id, ep.id);
    await s.next((m) => m.data.id === id && m.data.status === "delivered");
  }

  // Filtered replay: the ingest no route took becomes an event, `received`.
  const filtered = await relay.ingest(ep.id, JSON.stringify({ type: "refund.created" }), json);
  assert.equal(filtered.json.status, "filtered", filtered.text);
  assert.equal((await relay.api("PATCH", `/routes/${ep.id}`, { event_types: ["order.*", "refund.*"] })).status, 200);
  const routed = await relay.api("POST", "/replay", { status: "filtered", endpoint_id: ep.id });
  assert.deepEqual(routed.json, { replayed: 1, remaining: 0 });
  const fromFilter = await s.next((m) => m.data.status === "received" && m.data.event_type === "refund.created");
  assert.equal(fromFilter.data.attempt, 0);
  await s.next((m) => m.data.id === fromFilter.data.id && m.data.status === "delivered");

  // A pull route's lease expires: the sweeper gives the event back, `received`.
  const pulled = await relay.api("POST", `/endpoints/${ep.id}/routes`, { name: "pulled", destination_type: "pull" });
  assert.equal(pulled.status, 201, pulled.text);
  const shipped = await relay.ingest(ep.id, JSON.stringify({ type: "order.shipped" }), json);
  assert.equal(shipped.json.events.length, 2, "the endpoint's own route and the pull route");
  const lease = await relay.api("POST", `/pull/${pulled.json.id}`, { max: 1, lease_s: 2 });
  assert.equal(lease.json.data.length, 1, lease.text);
  const leasedId = lease.json.data[0].id;
  assert.ok(shipped.json.events.includes(leasedId));
  await s.next((m) => m.data.id === leasedId && m.data.status === "delivering");
  await sleep(2_500);
  await relay.fireCron();
  const released = await s.next((m) => m.data.id === leasedId && m.data.status === "received");
  assert.equal(released.data.route_id, pulled.json.id);
  assert.equal(released.data.event_type, "order.shipped");

  // The route is deleted: its waiting event ends `dead`.
  assert.equal((await relay.api("DELETE", `/routes/${pulled.json.id}`)).status, 204);
  const ended = await s.next((m) => m.data.id === leasedId && m.data.status === "dead");
  assert.equal(ended.data.route_id, pulled.json.id);
  assert.deepEqual(statusesOf(s, leasedId), ["received", "delivering", "received", "dead"]);
});

it("an idle stream gets a comment at least every 15 s, and a stream needs a key", async () => {
  const s = await open();
  const first = await s.next(() => true, { comment: true });
  const beat = await s.next((c) => c.text === "keep-alive", { comment: true, timeoutMs: 17_000 });
  assert.ok(beat.at - first.at <= 16_000, `${beat.at - first.at} ms between comments`);
  const anonymous = await open("", null);
  assert.equal(anonymous.status, 401);
  const viewerKey = (await relay.api("POST", "/keys", { name: "watcher", role: "viewer" })).json.key;
  const viewer = await open("", viewerKey);
  assert.equal(viewer.status, 200, "a viewer may watch");
  const bad = await open("?endpoint_id=nope");
  assert.equal(bad.status, 400);
});

it("each shard has its own hub: one endpoint's stream reads its shard's, the stream of all merges both, whole messages", async () => {
  // Endpoints go to the shard with the most room: create until both have one.
  const on = {};
  for (let n = 0; n < 6 && Object.keys(on).length < 2; n++) {
    const ep = await relay.createEndpoint({ name: `hub-${n}`, provider: "none", destination_url: dest.route(`/hub-${n}`) });
    on[await relay.shardOf(ep.id)] ??= ep;
  }
  const first = on.DB;
  const second = on.DB_SHARD_1;
  assert.ok(first && second, `endpoints on both shards: ${Object.keys(on)}`);

  const all = await open();
  const firsts = await open(`?endpoint_id=${first.id}`);
  const seconds = await open(`?endpoint_id=${second.id}`);
  const hubsOf = async (s, count) => {
    await s.next(() => true, { comment: true });
    await sleep(300);
    return s.comments.filter((c) => c.text.startsWith("connected ")).map((c) => c.text.slice(10)).sort().slice(0, count);
  };
  assert.deepEqual(await hubsOf(all, 2), ["live", "live-db-shard-1"]);
  assert.deepEqual(await hubsOf(firsts, 2), ["live"]);
  assert.deepEqual(await hubsOf(seconds, 2), ["live-db-shard-1"]);

  const sends = [];
  for (let n = 0; n < 15; n++) {
    for (const ep of [first, second]) sends.push(relay.ingest(ep.id, JSON.stringify({ type: "hub.test", n })));
  }
  const acks = await Promise.all(sends);
  for (const ack of acks) assert.equal(ack.status, 200, ack.text);
  const idsOf = (ep) => acks.filter((a, i) => (i % 2 === 0 ? first : second) === ep).map((a) => a.json.id);
  for (const id of acks.map((a) => a.json.id)) {
    await all.next((m) => m.data.id === id && m.data.status === "delivered", { timeoutMs: 30_000 });
  }
  for (const [s, ep, other] of [[firsts, first, second], [seconds, second, first]]) {
    for (const id of idsOf(ep)) await s.next((m) => m.data.id === id && m.data.status === "delivered");
    for (const id of idsOf(other)) assert.deepEqual(statusesOf(s, id), [], "another shard's events are not in this stream");
  }
  for (const id of acks.map((a) => a.json.id)) assert.deepEqual(statusesOf(all, id), ["received", "delivering", "delivered"]);
  assert.equal(all.closed, false, "the merged stream is still open: no message arrived torn");
  await assertConservation(relay, first.id, { received: 15, delivered: 15 });
  await assertConservation(relay, second.id, { received: 15, delivered: 15 });
});
