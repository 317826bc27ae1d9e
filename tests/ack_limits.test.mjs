// Limits of the ack path on workerd: a chunked body over MAX_BODY_BYTES is
// refused while it is still arriving and nothing is stored; a large JSON array
// is acked and delivered byte for byte (with and without a route filter that
// reads it); a flood at unknown endpoint ids is answered 404 and counted
// exactly, for a bounded number of D1 writes. Management API bodies are capped too.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Relay, sleep } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import { assertConservation } from "./support/checks.mjs";

const LIMIT = 65_536; // MAX_BODY_BYTES in every test relay
// The bounds src/store/rejections.rs states, per isolate.
const UNKNOWN_PER_MINUTE = 10;
const FLUSH_INTERVAL_MS = 5_000;

let relay;
let dest;
let paths = 0;

before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "ack_limits" });
});

after(async () => {
  await relay?.stop();
  await dest?.close();
});

async function endpoint(extra = {}) {
  const path = `/limits-${++paths}`;
  const ep = await relay.createEndpoint({ name: `limits ${path}`, provider: "none", destination_url: dest.route(path), ...extra });
  return { ep, path };
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");


async function poll(what, read, predicate, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await read();
    if (predicate(last)) return last;
    await sleep(200);
  }
  throw new Error(`${what}: never happened; last: ${JSON.stringify(last)}`);
}

describe("a chunked body over the limit", () => {
  it("is refused with 413 while it is still arriving, and nothing is stored", async () => {
    const { ep, path } = await endpoint();
    const rejections = async () => (await relay.api("GET", `/endpoints/${ep.id}/rejections`)).json;
    const before = await relay.health(ep.id);

    // A stream with no length (Transfer-Encoding: chunked): twice the limit, and
    // then it does not end until the answer is in. A relay that read the body
    // whole before checking its size would never answer.
    let sent = 0;
    let ended = false;
    let release;
    const answered = new Promise((r) => (release = r));
    const body = new ReadableStream({
      async pull(controller) {
        if (sent >= 2 * LIMIT) {
          await Promise.race([answered, sleep(15_000)]);
          ended = true;
          return controller.close();
        }
        controller.enqueue(new Uint8Array(16 * 1024).fill(0x61));
        sent += 16 * 1024;
      },
    });
    const res = await fetch(`${relay.url}/${ep.id}`, {
      method: "POST", body, duplex: "half", headers: { "content-type": "application/octet-stream" },
    });
    const stillOpen = !ended;
    const answer = await res.json();
    release();
    assert.equal(res.status, 413);
    assert.equal(answer.error.code, "payload_too_large");
    assert.ok(stillOpen, "answered while the body was still arriving");

    const log = await poll("the refusal is counted", rejections, (r) => r.counts.payload_too_large === 1);
    assert.equal(log.data[0].reason, "payload_too_large");
    assert.deepEqual((await relay.health(ep.id)).counts, before.counts, "counts unchanged");
    const ingests = await relay.api("GET", `/ingests?endpoint_id=${ep.id}`);
    assert.equal(ingests.json.data.length, 0, "no ingest");
    const events = await relay.api("GET", `/events?endpoint_id=${ep.id}`);
    assert.equal(events.json.data.length, 0, "no event");
    assert.equal(dest.to(path).length, 0, "nothing delivered");

    // A body within the limit still goes through the same way.
    const small = Buffer.alloc(LIMIT, "b");
    let offset = 0;
    const within = new ReadableStream({
      pull(controller) {
        if (offset >= small.length) return controller.close();
        controller.enqueue(small.subarray(offset, offset + 10_000));
        offset += 10_000;
      },
    });
    const ok = await fetch(`${relay.url}/${ep.id}`, { method: "POST", body: within, duplex: "half" });
    const ack = await ok.json();
    assert.equal(ok.status, 200, JSON.stringify(ack));
    await relay.waitForEvent(ack.id, (e) => e.status === "delivered");
    assert.ok(dest.to(path)[0].body.equals(small), "exactly the limit is accepted, byte for byte");

    await assertConservation(relay, ep.id, { received: before.counts.received + 1, delivered: 1 });
  });
});

describe("a large JSON array", () => {
  // About 60 KB: an array of objects, with spacing a re-serialisation would change.
  const items = Array.from({ length: 600 }, (_, i) => `{"kind": "${i % 2 ? "odd" : "even"}", "n": ${i}, "pad": "${"x".repeat(66)}"}`);
  const body = Buffer.from(`[ ${items.join(",\n ")} ]`);

  it("is acked and delivered byte for byte, keyed by its hash", async () => {
    assert.ok(body.length > 60_000 && body.length < LIMIT, `${body.length}`);
    const { ep, path } = await endpoint();
    const ack = await relay.ingest(ep.id, body, { "content-type": "application/json" });
    assert.equal(ack.status, 200, ack.text);
    const event = await relay.waitForEvent(ack.json.id, (e) => e.status === "delivered");
    assert.equal(event.dedup_key, `sha256:${sha256(body)}`, "an array has no id: the body's hash");
    assert.equal(event.event_type ?? null, null);
    const [delivered] = dest.to(path);
    assert.ok(delivered.body.equals(body), "byte for byte");
    assert.equal(delivered.headers["content-type"], "application/json");

    const again = await relay.ingest(ep.id, body, { "content-type": "application/json" });
    assert.deepEqual([again.status, again.json.duplicate, again.json.id], [200, true, ack.json.id]);
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("reaches the routes whose filter looks into it", async () => {
    const { ep, path } = await endpoint();
    const add = async (fields) => {
      const res = await relay.api("POST", `/endpoints/${ep.id}/routes`, fields);
      assert.equal(res.status, 201, res.text);
      return res.json;
    };
    const odd = await add({ name: "odd", destination_url: dest.route(`${path}-odd`), filter: { body: { kind: "odd" } } });
    const none = await add({ name: "none", destination_url: dest.route(`${path}-none`), filter: { body: { kind: "none" } } });
    const ack = await relay.ingest(ep.id, body, { "content-type": "application/json" });
    assert.equal(ack.status, 200, ack.text);
    assert.equal(ack.json.events.length, 2, "the endpoint itself and the odd route");
    for (const id of ack.json.events) await relay.waitForEvent(id, (e) => e.status === "delivered");
    assert.ok(dest.to(path)[0].body.equals(body));
    assert.ok(dest.to(`${path}-odd`)[0].body.equals(body));
    assert.equal(dest.to(`${path}-none`).length, 0);
    assert.ok(none.id && odd.id);
    await assertConservation(relay, ep.id, { received: 2, delivered: 2 });
  });
});

describe("a flood at unknown endpoint ids", () => {
  it("is answered 404 and counted exactly, for a bounded number of writes", async () => {
    const N = 300;
    const rows = async () => (await relay.d1Rows(
      "SELECT (SELECT COUNT(*) FROM rejections) AS log, (SELECT COUNT(*) FROM rejection_counts) AS counts",
    ))[0];
    const unknownCount = async () => (await relay.api("GET", "/rejections")).json.counts.unknown_endpoint ?? 0;
    const rowsBefore = await rows();
    const countBefore = await unknownCount();
    const logOffset = relay.logs().length;

    const started = Date.now();
    const statuses = [];
    for (let i = 0; i < N; i += 20) {
      const batch = Array.from({ length: 20 }, async () => {
        const id = `ep_${randomBytes(13).toString("hex")}`;
        const res = await fetch(`${relay.url}/${id}`, { method: "POST", body: '{"id":"evt_junk"}' });
        const json = await res.json();
        return `${res.status} ${json.error?.code}`;
      });
      statuses.push(...(await Promise.all(batch)));
    }
    const floodMs = Date.now() - started;
    assert.deepEqual(new Set(statuses), new Set(["404 unknown_endpoint"]));
    assert.equal(statuses.length, N);

    // Counted exactly: the ones beyond the minute's allowance within a flush interval.
    await poll("every refusal is counted", unknownCount, (n) => n === countBefore + N, 3 * FLUSH_INTERVAL_MS);
    await sleep(FLUSH_INTERVAL_MS + 1_000);
    assert.equal(await unknownCount(), countBefore + N, "and not once more");

    // Rows: no log row for an unknown id, and at most the one count row.
    const rowsAfter = await rows();
    assert.equal(rowsAfter.log, rowsBefore.log, "no log row");
    assert.ok(rowsAfter.counts - rowsBefore.counts <= 1, `${JSON.stringify([rowsBefore, rowsAfter])}`);

    // Writes: at most UNKNOWN_PER_MINUTE single-row upserts at once per minute
    // (the flood may straddle two minutes), the rest in flushes of one row each,
    // at most one per FLUSH_INTERVAL_MS.
    const flushes = relay.logs().slice(logOffset).split("\n")
      .filter((line) => line.includes('"refusals flushed"'))
      .map((line) => JSON.parse(line.slice(line.indexOf("{"))));
    const flushed = flushes.reduce((sum, f) => sum + f.refusals, 0);
    const atOnce = N - flushed;
    assert.ok(atOnce >= 0 && atOnce <= 2 * UNKNOWN_PER_MINUTE, `${atOnce} written at once`);
    assert.ok(flushes.every((f) => f.rows === 1), JSON.stringify(flushes));
    const maxFlushes = Math.floor(floodMs / FLUSH_INTERVAL_MS) + 2;
    assert.ok(flushes.length <= maxFlushes, `${flushes.length} flushes in ${floodMs} ms`);
    const writes = atOnce + flushes.length;
    assert.ok(writes <= 2 * UNKNOWN_PER_MINUTE + maxFlushes, `${writes} D1 writes for ${N} refusals`);

    await assertConservation(relay, undefined);
  });
});

describe("management API bodies", () => {
  it("a body over 256 KiB is refused with 413 payload_too_large and nothing is created", async () => {
    const before = (await relay.api("GET", "/endpoints")).json.data.length;
    const huge = JSON.stringify({ name: "x".repeat(300 * 1024), provider: "none", destination_url: dest.route("/limits-huge") });
    const res = await relay.api("POST", "/endpoints", JSON.parse(huge));
    assert.equal(res.status, 413, res.text);
    assert.equal(res.json.error.code, "payload_too_large");
    // Chunked: no Content-Length, refused once the bytes read pass the limit.
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const chunked = await fetch(`${relay.url}/api/v1/endpoints`, {
      method: "POST",
      headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 5; i++) controller.enqueue(chunk);
          controller.close();
        },
      }),
      duplex: "half",
    }).catch((err) => ({ status: "reset", err }));
    if (chunked.status !== "reset") assert.equal(chunked.status, 413);
    assert.equal((await relay.api("GET", "/endpoints")).json.data.length, before, "nothing was created");
  });
});
