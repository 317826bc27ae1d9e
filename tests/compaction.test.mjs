// D1 is the working set, R2 the history: with a hot window of seconds,
// delivered events leave D1 for gzip NDJSON archive objects in R2 and stay
// readable by id, body and list, with counts and charts unchanged; dead and
// in-flight events stay in D1; an archive write that fails keeps the rows; and
// retention removes archive objects and their bodies and nothing else. A
// dedup key stays in D1 as long as its ingest, and leaves with it.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Relay, sleep } from "./support/relay.mjs";
import * as sign from "./support/providers.mjs";
import { startDestination, sequence } from "./support/destination.mjs";
import { assertConservation, assertRequests } from "./support/checks.mjs";

const HOT_WINDOW_S = 2;
// An event leaves D1 no sooner than its dedup key's window ends (the key
// leaves with its ingest), so the window is as short as the hot window here.
const DEDUP_WINDOW_S = 1;
let dest;
const relays = [];

before(async () => {
  dest = await startDestination();
});

after(async () => {
  for (const r of relays) await r.stop();
  await dest?.close();
});

async function startRelay(name, vars = {}) {
  const relay = await Relay.start({
    name,
    vars: { HOT_WINDOW_S: String(HOT_WINDOW_S), DEDUP_WINDOW_S: String(DEDUP_WINDOW_S), ...vars },
  });
  relays.push(relay);
  return relay;
}

const delivered = (e) => e.status === "delivered";

/** Acks `n` JSON webhooks of alternating types; returns their event ids. */
async function send(relay, epId, n, tag) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const type = i % 2 ? "order.paid" : "order.created";
    const res = await relay.ingest(epId, JSON.stringify({ type, tag, n: i }), { "content-type": "application/json" });
    assert.equal(res.status, 200, res.text);
    ids.push(res.json.id);
  }
  return ids;
}

/** Acks `n` webhooks, waits until each is delivered and past the hot window, and fires the cron; its compaction report. */
async function sendAndCompact(relay, epId, n, tag) {
  const ids = await send(relay, epId, n, tag);
  for (const id of ids) await relay.waitForEvent(id, delivered);
  await sleep(HOT_WINDOW_S * 1000 + 500);
  await relay.fireCron();
  return { ids, report: (await relay.health()).sweeper.last_report.compaction };
}

/** Every page of a list, following the cursor. */
async function listAll(relay, query, limit) {
  const seen = [];
  let cursor = null;
  for (;;) {
    const res = await relay.api("GET", `/events?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(res.status, 200, res.text);
    seen.push(...res.json.data);
    cursor = res.json.next_cursor;
    if (!cursor) return seen;
  }
}

/** The figures the dashboard draws, which compaction must not change. */
async function figures(relay, epId) {
  const stats = (await relay.api("GET", `/stats/endpoints?endpoint_id=${epId}`)).json.data[0];
  const series = (await relay.api("GET", `/stats/timeseries?window=24h&endpoint_id=${epId}`)).json.buckets;
  const routeCounts = {};
  for (const r of stats.routes) routeCounts[r.route_id] = (await relay.api("GET", `/routes/${r.route_id}`)).json.counts;
  const { counts, requests } = await relay.health(epId);
  const metrics = await (await fetch(`${relay.url}/api/v1/metrics`, { headers: { authorization: "Bearer test-admin-token" } })).text();
  const attemptsByOutcome = metrics.split("\n").filter((l) => l.startsWith(`hookrelay_attempts_total{endpoint_id="${epId}"`));
  assert.ok(attemptsByOutcome.some((l) => /outcome="delivered"\} [1-9]/.test(l)), attemptsByOutcome.join("\n"));
  return {
    health: { counts, requests }, attemptsByOutcome,
    counts: stats.counts, requests: stats.requests, attempts: stats.attempts, success_rate: stats.success_rate,
    latency_ms: stats.latency_ms, routes: stats.routes, series, routeCounts,
  };
}

const withoutStorage = ({ stored_in, ...rest }) => rest;

describe("compaction", () => {
  let relay;
  let ep;
  let route;
  let dying;
  let ids;
  let deadId;
  const before = {};

  it("moves delivered events into archive objects once the hot window has passed; dead events stay", async () => {
    relay = await startRelay("compaction");
    ep = await relay.createEndpoint({ name: "shop", provider: "none", destination_url: dest.route("/shop") });
    const added = await relay.api("POST", `/endpoints/${ep.id}/routes`, { name: "paid", destination_url: dest.route("/paid"), event_types: ["order.paid"] });
    assert.equal(added.status, 201, added.text);
    route = added.json;
    dying = await relay.createEndpoint({ name: "dying", provider: "none", destination_url: dest.route("/dying", sequence(422)) });
    ids = await send(relay, ep.id, 12, "shop");
    deadId = (await send(relay, dying.id, 1, "dying"))[0];
    for (const id of ids) await relay.waitForEvent(id, delivered);
    await relay.waitForEvent(deadId, (e) => e.status === "dead");
    // Six of the twelve are order.paid: each has a second event on the route.
    const all = await listAll(relay, `endpoint_id=${ep.id}`, 200);
    assert.equal(all.length, 18);
    for (const e of all) await relay.waitForEvent(e.id, delivered);
    before.list = await listAll(relay, `endpoint_id=${ep.id}`, 200);
    assert.ok(before.list.every((e) => e.stored_in === "d1"));
    before.details = Object.fromEntries(await Promise.all(before.list.map(async (e) => [e.id, await relay.event(e.id)])));
    before.bodies = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await (await fetch(`${relay.url}/api/v1/events/${id}/body`, { headers: { authorization: "Bearer test-admin-token" } })).text()])));
    before.figures = await figures(relay, ep.id);
    before.overall = await relay.health();

    await sleep(HOT_WINDOW_S * 1000 + 500);
    await relay.fireCron();
    const report = (await relay.health()).sweeper.last_report.compaction;
    assert.equal(report.events_compacted, 18, JSON.stringify(report));
    assert.equal(report.objects_failed, 0);
    assert.equal(report.behind, false);
    assert.ok(report.objects_written >= 2, "one object per route and hour at least");

    const [left] = await relay.d1Rows(`SELECT COUNT(*) AS n FROM events WHERE endpoint_id = '${ep.id}'`, await relay.shardOf(ep.id));
    assert.equal(left.n, 0, "the delivered events left D1");
    const [attempts] = await relay.d1Rows(`SELECT COUNT(*) AS n FROM attempts a JOIN events e ON e.id = a.event_id WHERE e.endpoint_id = '${ep.id}'`, await relay.shardOf(ep.id));
    assert.equal(attempts.n, 0);
    const [ingests] = await relay.d1Rows(`SELECT COUNT(*) AS n FROM ingests WHERE endpoint_id = '${ep.id}'`, await relay.shardOf(ep.id));
    assert.equal(ingests.n, 0, "their ingests too, once no event of theirs is left");
    const archives = await relay.d1Rows(`SELECT route_id, events, ingests FROM archives WHERE endpoint_id = '${ep.id}'`, await relay.shardOf(ep.id));
    assert.equal(archives.reduce((n, a) => n + a.events, 0), 18);
    assert.equal(archives.reduce((n, a) => n + a.ingests, 0), 12);
    assert.equal(archives.filter((a) => a.route_id === route.id).reduce((n, a) => n + a.events, 0), 6);
    const dead = await relay.event(deadId);
    assert.equal(dead.status, "dead");
    assert.equal(dead.stored_in, "d1", "dead events are work, not history: they stay in D1");
  });

  it("still answers each event by id, with its headers and attempts, and its body byte for byte", async () => {
    for (const [id, was] of Object.entries(before.details)) {
      const now = await relay.event(id);
      assert.equal(now.stored_in, "archive", id);
      assert.deepEqual(withoutStorage(now), withoutStorage(was), `${id} reads as it did`);
    }
    for (const id of ids) {
      const res = await fetch(`${relay.url}/api/v1/events/${id}/body`, { headers: { authorization: "Bearer test-admin-token" } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.equal(await res.text(), before.bodies[id]);
    }
    assert.equal((await relay.api("GET", "/events/evt_01aaaaaaaaaaaaaaaaaaaaaaaa")).status, 404, "an unknown id is still unknown");
  });

  it("lists the endpoint's events by time as before, across pages and filters", async () => {
    const now = await listAll(relay, `endpoint_id=${ep.id}`, 200);
    assert.deepEqual(now.map(withoutStorage), before.list.map(withoutStorage));
    assert.ok(now.every((e) => e.stored_in === "archive"));
    const paged = await listAll(relay, `endpoint_id=${ep.id}`, 5);
    assert.deepEqual(paged.map((e) => e.id), before.list.map((e) => e.id), "pages of 5 walk the same list");
    const paid = await listAll(relay, `endpoint_id=${ep.id}&event_type=order.paid`, 4);
    assert.deepEqual(paid.map((e) => e.id), before.list.filter((e) => e.event_type === "order.paid").map((e) => e.id));
    const onRoute = await listAll(relay, `endpoint_id=${ep.id}&route_id=${route.id}`, 50);
    assert.deepEqual(onRoute.map((e) => e.id), before.list.filter((e) => e.route_id === route.id).map((e) => e.id));
    const middle = before.list[8];
    const since = await listAll(relay, `endpoint_id=${ep.id}&since=${encodeURIComponent(middle.received_at)}`, 50);
    assert.deepEqual(since.map((e) => e.id), before.list.filter((e) => e.received_at >= middle.received_at).map((e) => e.id));
    const none = await listAll(relay, `endpoint_id=${ep.id}&status=dead`, 50);
    assert.deepEqual(none, [], "archived events are delivered");
  });

  it("keeps every count, rate, percentile and chart the same", async () => {
    assert.deepEqual(await figures(relay, ep.id), before.figures);
    const overall = await relay.health();
    assert.deepEqual(overall.counts, before.overall.counts);
    assert.deepEqual(overall.requests, before.overall.requests);
    await assertConservation(relay, ep.id, { received: 18, delivered: 18 });
    await assertConservation(relay, dying.id, { received: 1, dead: 1 });
    await assertRequests(relay, ep.id, { received: 12, routed: 12, filtered: 0 });
  });

  it("replays an archived event: back into D1, delivered again with its numbering continued, and compacted again", async () => {
    const id = ids[0];
    const was = await relay.event(id);
    const reached = dest.to("/shop").length;
    const replay = await relay.api("POST", `/events/${id}/replay`);
    assert.equal(replay.status, 202, replay.text);
    assert.deepEqual(replay.json, { id, status: "received" });
    const again = await relay.waitForEvent(id, (e) => delivered(e) && e.attempt_count === was.attempt_count + 1);
    assert.equal(again.stored_in, "d1");
    assert.deepEqual(again.attempts.map((a) => a.number), [...was.attempts.map((a) => a.number), was.attempt_count + 1]);
    assert.deepEqual(again.headers, was.headers);
    assert.equal(dest.to("/shop").length, reached + 1, "delivered once more");
    await assertConservation(relay, ep.id, { received: 18, delivered: 18 });
    await assertRequests(relay, ep.id, { received: 12, routed: 12, filtered: 0 });
    await sleep(HOT_WINDOW_S * 1000 + 500);
    await relay.fireCron();
    const back = await relay.event(id);
    assert.equal(back.stored_in, "archive");
    assert.equal(back.attempt_count, was.attempt_count + 1, "the newest copy answers");
    const listed = await listAll(relay, `endpoint_id=${ep.id}`, 200);
    assert.equal(listed.filter((e) => e.id === id).length, 1, "listed once");
    assert.equal(listed.length, 18);
    await assertConservation(relay, ep.id, { received: 18, delivered: 18 });
    await assertRequests(relay, ep.id, { received: 12, routed: 12, filtered: 0 });
  });
});

describe("a list over many archive objects", () => {
  it("pages through every archived event once, in order, when a page may read only two objects", async () => {
    const relay = await startRelay("compaction-pages", { COMPACT_BATCH: "2", ARCHIVE_PAGE_OBJECTS: "2" });
    const ep = await relay.createEndpoint({ name: "many", provider: "none", destination_url: dest.route("/many") });
    const { ids, report } = await sendAndCompact(relay, ep.id, 9, "many");
    assert.equal(report.events_compacted, 9, JSON.stringify(report));
    assert.ok(report.objects_written >= 5, "at most two events per object");
    const paidIds = new Set(ids.filter((_, i) => i % 2 === 1)); // send() alternates created, paid
    const newestFirst = [...ids].sort().reverse();
    for (const limit of [1, 3, 4, 50]) {
      const listed = await listAll(relay, `endpoint_id=${ep.id}`, limit);
      assert.deepEqual(listed.map((e) => e.id), newestFirst, `pages of ${limit}`);
    }
    const paid = await listAll(relay, `endpoint_id=${ep.id}&event_type=order.paid`, 2);
    assert.deepEqual(paid.map((e) => e.id), newestFirst.filter((id) => paidIds.has(id)), "filtered pages too");
  });
});

describe("an archive write that fails", () => {
  it("keeps the events in D1, and the next run with a working bucket moves them", async () => {
    const relay = await startRelay("compaction-fault", { FAULTS: "per_request,archive_put" });
    const ep = await relay.createEndpoint({ name: "kept", provider: "none", destination_url: dest.route("/kept") });
    const { ids, report } = await sendAndCompact(relay, ep.id, 3, "kept");
    assert.equal(report.events_compacted, 0, JSON.stringify(report));
    assert.ok(report.objects_failed >= 1);
    for (const id of ids) assert.equal((await relay.event(id)).stored_in, "d1");
    assert.deepEqual(await relay.d1Rows("SELECT COUNT(*) AS n FROM archives", await relay.shardOf(ep.id)), [{ n: 0 }]);
    await assertConservation(relay, ep.id, { received: 3, delivered: 3 });

    await relay.restartWith({ FAULTS: "per_request" });
    await relay.fireCron();
    assert.equal((await relay.health()).sweeper.last_report.compaction.events_compacted, 3);
    for (const id of ids) assert.equal((await relay.event(id)).stored_in, "archive");
    await assertConservation(relay, ep.id, { received: 3, delivered: 3 });
  });
});

describe("retention of the archive", () => {
  it("removes archive objects and their bodies past retention, and nothing else", async () => {
    const relay = await startRelay("archive-retention");
    const short = await relay.createEndpoint({ name: "short", provider: "none", destination_url: dest.route("/short-lived"), retention_days: 0.00006 });
    const kept = await relay.createEndpoint({ name: "kept", provider: "none", destination_url: dest.route("/long-lived") });
    const shortIds = await send(relay, short.id, 3, "short");
    const keptIds = await send(relay, kept.id, 2, "kept");
    for (const id of [...shortIds, ...keptIds]) await relay.waitForEvent(id, delivered);
    await sleep(HOT_WINDOW_S * 1000 + 500);
    await relay.fireCron();
    assert.equal((await relay.health()).sweeper.last_report.compaction.events_compacted, 5);
    const shortObjects = (await relay.d1Rows(`SELECT COUNT(*) AS n FROM archives WHERE endpoint_id = '${short.id}'`, await relay.shardOf(short.id)))[0].n;
    assert.ok(shortObjects >= 1);
    const blobs = relay.r2BlobCount();
    const keptBefore = await Promise.all(keptIds.map((id) => relay.event(id)));

    await sleep(5500); // past the short endpoint's retention (about 5.2 s)
    await relay.fireCron();
    const retention = (await relay.health()).sweeper.last_report.retention;
    assert.equal(retention.archives_deleted, shortObjects, JSON.stringify(retention));
    assert.equal(retention.bodies_deleted, 3);
    for (const id of shortIds) {
      assert.equal((await relay.api("GET", `/events/${id}`)).status, 404, "its archived event is gone");
      assert.equal((await relay.api("GET", `/events/${id}/body`)).status, 404);
    }
    assert.equal(relay.r2BlobCount(), blobs - 3 - shortObjects, "exactly its three bodies and its objects left R2");
    assert.deepEqual(await Promise.all(keptIds.map((id) => relay.event(id))), keptBefore, "the other endpoint's archive is untouched");
    assert.deepEqual(await relay.d1Rows(`SELECT COUNT(*) AS n FROM archives WHERE endpoint_id = '${short.id}'`, await relay.shardOf(short.id)), [{ n: 0 }]);
    await assertConservation(relay, short.id, { received: 0, delivered: 0 });
    await assertConservation(relay, kept.id, { received: 2, delivered: 2 });
    assert.deepEqual((await relay.health(short.id)).requests, { received: 0, routed: 0, filtered: 0 });
  });
});

describe("dedup keys", () => {
  it("live with their ingest: past their window the delivery id still finds the event, and the key leaves D1 with it", async () => {
    // A relay whose hot window outlasts its dedup window (4 s and 1 s).
    const relay = await startRelay("dedup-keys", { HOT_WINDOW_S: "4" });
    const ep = await relay.createEndpoint({ name: "gh", provider: "github", secrets: ["gh-secret"], destination_url: dest.route("/gh-keys") });
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const delivery = randomUUID();
    const res = await relay.ingest(ep.id, body, sign.github("gh-secret", body, { delivery }));
    assert.equal(res.status, 200, res.text);
    await relay.waitForEvent(res.json.id, delivered);
    const keys = async () => (await relay.d1Rows(`SELECT COUNT(*) AS n FROM dedup_keys WHERE endpoint_id = '${ep.id}'`, await relay.shardOf(ep.id)))[0].n;

    await sleep(1500); // the key's window has ended; the event is in the hot window
    await relay.fireCron();
    assert.equal((await relay.health()).sweeper.last_report.compaction.events_compacted, 0);
    assert.equal(await keys(), 1, "the key stays while its ingest is in D1");
    const found = await relay.api("GET", `/events?endpoint_id=${ep.id}&q=${delivery}`);
    assert.equal(found.status, 200, found.text);
    assert.deepEqual(found.json.data.map((e) => [e.id, e.stored_in]), [[res.json.id, "d1"]]);
    const again = await relay.ingest(ep.id, body, sign.github("gh-secret", body, { delivery }));
    assert.equal(again.status, 200, again.text);
    assert.notEqual(again.json.id, res.json.id, "past its window the key is taken by a new request");
    await relay.waitForEvent(again.json.id, delivered);

    await sleep(4500); // both past the hot window
    await relay.fireCron();
    assert.equal((await relay.health()).sweeper.last_report.compaction.events_compacted, 2);
    assert.equal(await keys(), 0, "the key left D1 with the ingest it named");
    for (const id of [res.json.id, again.json.id]) assert.equal((await relay.event(id)).stored_in, "archive");
    await assertConservation(relay, ep.id, { received: 2, delivered: 2 });
  });
});
