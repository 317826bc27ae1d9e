// Day-two operations on workerd: retention deletes finished events, their
// attempts and R2 bodies (rows first), never in-flight ones; metrics in
// Prometheus text reflect what happened; logs name a failed attempt always,
// and every webhook only when asked to.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep } from "./support/relay.mjs";
import { startDestination, sequence } from "./support/destination.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
let dest;
before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "operations", vars: { RETENTION_DAYS: "0.00005" } }); // ~4.3 s
});
after(async () => {
  await relay?.stop();
  await dest?.close();
});

const delivered = (e) => e.status === "delivered";

describe("retention", () => {
  it("deletes expired finished events with their attempts and bodies, keeps in-flight and overridden ones", async () => {
    const short = await relay.createEndpoint({ name: "short", provider: "none", destination_url: dest.route("/short") });
    const kept = await relay.createEndpoint({ name: "kept", provider: "none", destination_url: dest.route("/kept"), retention_days: 1 });
    const held = await relay.createEndpoint({ name: "held", provider: "none", destination_url: dest.route("/held") });
    await relay.api("POST", `/endpoints/${held.id}/pause`);
    const expired = [];
    for (let i = 0; i < 3; i++) expired.push((await relay.ingest(short.id, `expiring-${i}`)).json.id);
    // An endpoint whose only route takes nothing: its request is kept as a
    // `filtered` ingest, which no expiring event will ever take with it.
    const sieve = await relay.createEndpoint({ name: "sieve", provider: "none", destination_url: dest.route("/sieve") });
    const narrowed = await relay.api("PATCH", `/routes/${sieve.id}`, { event_types: ["never.*"] });
    assert.equal(narrowed.status, 200, narrowed.text);
    const sieved = await relay.ingest(sieve.id, "filtered-and-expiring");
    assert.equal(sieved.json.status, "filtered", sieved.text);
    const filteredList = async () => (await relay.api("GET", `/ingests?endpoint_id=${sieve.id}&status=filtered`)).json.data;
    assert.equal((await filteredList()).length, 1);
    const keptId = (await relay.ingest(kept.id, "kept-by-override")).json.id;
    const heldId = (await relay.ingest(held.id, "in-flight-while-paused")).json.id;
    for (const id of [...expired, keptId]) await relay.waitForEvent(id, delivered);
    const blobsBefore = relay.r2BlobCount();
    assert.ok(blobsBefore >= 6, `bodies stored: ${blobsBefore}`);

    await sleep(4500);
    await relay.fireCron();
    for (const id of expired) {
      assert.equal((await relay.api("GET", `/events/${id}`)).status, 404, "expired event deleted");
      assert.equal((await relay.api("GET", `/events/${id}/body`)).status, 404);
    }
    assert.equal((await relay.event(keptId)).status, "delivered", "a longer endpoint retention keeps it");
    assert.equal((await relay.event(heldId)).status, "received", "in-flight events are never deleted");
    assert.deepEqual(await filteredList(), [], "the expired filtered ingest is deleted");
    assert.equal(relay.r2BlobCount(), blobsBefore - 4, "exactly the three expired events' bodies and the filtered one left R2");
    const health = await relay.health();
    assert.ok(health.sweeper.last_report.retention.bodies_deleted >= 4);
    assert.deepEqual((await relay.health(sieve.id)).requests, { received: 0, routed: 0, filtered: 0 }, "no longer counted");
    await assertConservation(relay, short.id, { received: 0, delivered: 0 });
    await assertConservation(relay, held.id, { received: 1, in_flight: 1 });
    await relay.api("POST", `/endpoints/${held.id}/resume`);
    await relay.waitForEvent(heldId, delivered);
  });
});

describe("metrics", () => {
  it("exposes events by status, attempts by class, refusals, DLQ depth, in-flight age, sweeper lag, the database's size and the capacity ledger", async () => {
    const ep = await relay.createEndpoint({ name: "metered", provider: "github", secrets: ["m-secret"],
      destination_url: dest.route("/metered", sequence(422)) });
    const body = '{"metered":true}';
    const res = await relay.ingest(ep.id, body, sign.github("m-secret", body));
    await relay.waitForEvent(res.json.id, (e) => e.status === "dead");
    await relay.ingest(ep.id, body, sign.github("wrong", body));
    await relay.fireCron();
    await sleep(300);
    const metrics = await fetch(`${relay.url}/api/v1/metrics`, { headers: { authorization: "Bearer test-admin-token" } });
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    const line = (re) => assert.match(text, re);
    line(new RegExp(`^hookrelay_events\\{endpoint_id="${ep.id}",status="dead"\\} 1$`, "m"));
    line(new RegExp(`^hookrelay_dlq_depth\\{endpoint_id="${ep.id}"\\} 1$`, "m"));
    line(new RegExp(`^hookrelay_attempts_total\\{endpoint_id="${ep.id}",outcome="client_error"\\} 1$`, "m"));
    line(new RegExp(`^hookrelay_attempts_total\\{endpoint_id="${ep.id}",outcome="delivered"\\} 0$`, "m"));
    line(new RegExp(`^hookrelay_attempts_total\\{endpoint_id="${ep.id}",outcome="timeout"\\} 0$`, "m"));
    assert.doesNotMatch(text, new RegExp(`outcome="unclassified"`), "every failure counted by outcome");
    line(/^# TYPE hookrelay_attempts_total counter$/m);
    line(new RegExp(`^hookrelay_rejections_total\\{endpoint_id="${ep.id}",reason="signature_mismatch"\\} 1$`, "m"));
    line(new RegExp(`^hookrelay_oldest_in_flight_age_seconds\\{endpoint_id="${ep.id}"\\} 0$`, "m"));
    line(/^hookrelay_sweeper_lag_seconds \d+(\.\d+)?$/m);
    line(/^# TYPE hookrelay_rejections_total counter$/m);
    // The capacity ledger: D1's own figures for what the ack path and delivery did.
    const value = (re) => Number(re.exec(text)?.[1]);
    assert.ok(value(/^hookrelay_d1_rows_written_total\{path="ingest"\} (\S+)$/m) > 0, "the ack path wrote rows");
    assert.ok(value(/^hookrelay_d1_round_trips_total\{path="delivery"\} (\S+)$/m) > 0, "delivery made D1 calls");
    assert.ok(value(/^hookrelay_r2_operations_total\{path="ingest",op="put"\} (\S+)$/m) >= 1, "the ack path put a body");
    assert.ok(value(/^hookrelay_d1_size_bytes\{shard="DB"\} (\S+)$/m) > 0, "the control database's size");
    line(/^hookrelay_d1_max_bytes 10000000000$/m);
    const unauthorized = await fetch(`${relay.url}/api/v1/metrics`);
    assert.equal(unauthorized.status, 401);
  });
});

describe("logs", () => {
  /** The relay's JSON log lines that name `eventId`. */
  const linesAbout = (eventId) => relay.logs().split("\n")
    .filter((line) => line.includes(eventId) && line.includes("{"))
    .map((line) => JSON.parse(line.slice(line.indexOf("{"))));

  it("name a failed attempt always, and every ack and delivered attempt only with LOG_EACH_WEBHOOK on", async () => {
    const quiet = await relay.createEndpoint({ name: "quiet", provider: "none", destination_url: dest.route("/quiet") });
    const failing = await relay.createEndpoint({ name: "failing", provider: "none", destination_url: dest.route("/failing", sequence(500)) });
    const deliveredQuietly = (await relay.ingest(quiet.id, "quiet")).json.id;
    const failed = (await relay.ingest(failing.id, "failed")).json.id;
    await relay.waitForEvent(deliveredQuietly, delivered);
    await relay.waitForEvent(failed, (e) => e.attempt_count >= 1);
    assert.deepEqual(linesAbout(deliveredQuietly), [], "by default a delivered webhook logs nothing");
    const attempts = linesAbout(failed).filter((l) => l.msg === "attempt");
    assert.ok(attempts.length >= 1, JSON.stringify(linesAbout(failed)));
    assert.equal(attempts[0].code, 500);
    assert.equal(attempts[0].status, "retrying");

    await relay.restartWith({ LOG_EACH_WEBHOOK: "true" });
    const logged = (await relay.ingest(quiet.id, "logged")).json.id;
    await relay.waitForEvent(logged, delivered);
    const lines = linesAbout(logged);
    assert.ok(lines.some((l) => l.msg === "ingest" && l.endpoint_id === quiet.id), JSON.stringify(lines));
    assert.ok(lines.some((l) => l.msg === "attempt" && l.status === "delivered" && l.code === 200), JSON.stringify(lines));
  });
});
