// Pull destinations on workerd, driven over HTTP the way `hookrelay listen`
// drives them: lease (oldest first, long-poll, event-type filter), report
// attempts (same retry policy as push), lease expiry, replay, auth.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep } from "./support/relay.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
before(async () => {
  relay = await Relay.start({ name: "pull" });
});
after(async () => {
  await relay?.stop();
});

const lease = (id, body = {}) => relay.api("POST", `/pull/${id}`, body);
const report = (id, body) => relay.api("POST", `/events/${id}/attempts`, body);
const headerMap = (pairs) => Object.fromEntries(pairs.map(([k, v]) => [k, v]));

async function pullEndpoint(extra = {}) {
  return relay.createEndpoint({ name: "laptop", provider: "github", secrets: ["gh"], destination_type: "pull", ...extra });
}

async function send(ep, event, n) {
  const body = Buffer.from(JSON.stringify({ action: "opened", n }));
  const res = await relay.ingest(ep.id, body, sign.github("gh", body, { event }));
  assert.equal(res.status, 200);
  return { id: res.json.id, body };
}

describe("pull destinations", () => {
  it("leases oldest first with signed headers and byte-exact bodies; reports deliver", async () => {
    const ep = await pullEndpoint();
    assert.equal(ep.destination_type, "pull");
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await send(ep, "issues", i));
    const first = await lease(ep.id, { max: 3 });
    assert.equal(first.status, 200);
    assert.deepEqual(first.json.data.map((e) => e.id), sent.slice(0, 3).map((s) => s.id), "oldest first");
    const rest = await lease(ep.id, { max: 10 });
    assert.deepEqual(rest.json.data.map((e) => e.id), sent.slice(3).map((s) => s.id));
    assert.deepEqual((await lease(ep.id)).json.data, [], "everything is leased");
    for (const leased of [...first.json.data, ...rest.json.data]) {
      const headers = headerMap(leased.headers);
      const body = Buffer.from(leased.body_base64, "base64");
      assert.ok(body.equals(sent.find((s) => s.id === leased.id).body), "byte-exact");
      assert.equal(headers["webhook-id"], leased.id);
      assert.equal(headers["x-github-event"], "issues");
      assert.equal(leased.event_type, "issues.opened");
      assert.equal(leased.attempt, 1);
      assert.ok(sign.verifyStandard(ep.relay_secret, headers, body), "signed like a push");
      const done = await report(leased.id, { lease_token: leased.lease_token, status_code: 204, duration_ms: 7, response_snippet: "" });
      assert.equal(done.status, 200, done.text);
      assert.equal(done.json.status, "delivered");
    }
    await relay.fireCron();
    await assertConservation(relay, ep.id, { received: 5, delivered: 5 });
  });

  it("a failing local app is retried per policy; an unreported lease expires and is offered again", async () => {
    const ep = await pullEndpoint({ retry: { schedule_s: [1] } });
    const { id } = await send(ep, "push", 1);
    const [a] = (await lease(ep.id)).json.data;
    const failed = await report(id, { lease_token: a.lease_token, status_code: 500, duration_ms: 3, response_snippet: "boom" });
    assert.equal(failed.json.status, "retrying");
    assert.ok(failed.json.next_attempt_at);
    assert.deepEqual((await lease(ep.id)).json.data, [], "not due yet");
    await sleep(1400);
    const [b] = (await lease(ep.id, { lease_s: 2 })).json.data;
    assert.equal(b.id, id);
    assert.equal(b.attempt, 2);
    await sleep(2500); // the client "crashed": no report
    const [c] = (await lease(ep.id)).json.data;
    assert.equal(c.id, id, "offered again after the lease expired");
    assert.equal(headerMap(c.headers)["webhook-id"], id, "same webhook-id");
    const stale = await report(id, { lease_token: b.lease_token, status_code: 200, duration_ms: 1 });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.error.code, "lease_lost");
    const refused = await report(id, { lease_token: c.lease_token, error: "connection refused", duration_ms: 1 });
    assert.equal(refused.json.status, "dead", "the schedule [1] allows two attempts");
    const event = await relay.event(id);
    assert.deepEqual(event.attempts.map((x) => x.outcome), ["server_error", "network_error"]);
    assert.equal(event.attempts[0].response_snippet, "boom");
    assert.equal((await relay.api("POST", `/events/${id}/replay`)).status, 202);
    const [d] = (await lease(ep.id)).json.data;
    assert.equal(d.id, id, "replay reaches the puller");
    assert.equal(d.attempt, 3, "numbering continues");
    await report(id, { lease_token: d.lease_token, status_code: 200, duration_ms: 1 });
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("long-polls until an event arrives, filters by event type, and refuses bad keys and push endpoints", async () => {
    const ep = await pullEndpoint();
    const started = Date.now();
    const waiting = lease(ep.id, { wait_s: 8 });
    await sleep(1000);
    const { id } = await send(ep, "issues", 1);
    const got = await waiting;
    assert.deepEqual(got.json.data.map((e) => e.id), [id]);
    assert.ok(Date.now() - started < 7000, "answered as soon as it arrived");

    const push = await send(ep, "push", 2);
    const issue = await send(ep, "issues", 3);
    const filtered = await lease(ep.id, { event_types: ["issues.*"] });
    assert.deepEqual(filtered.json.data.map((e) => e.id), [issue.id]);

    const bad = await fetch(`${relay.url}/api/v1/pull/${ep.id}`, { method: "POST", headers: { authorization: "Bearer wrong" }, body: "{}" });
    assert.equal(bad.status, 401);
    assert.equal((await relay.event(push.id)).status, "received", "nothing leased with a bad key");

    const pushEp = await relay.createEndpoint({ name: "pushes", provider: "none", destination_url: "http://127.0.0.1:9/x" });
    const notPull = await lease(pushEp.id);
    assert.equal(notPull.status, 409);
    assert.equal(notPull.json.error.code, "not_a_pull_destination");
    const both = await relay.api("POST", "/endpoints", { name: "x", provider: "none", destination_type: "pull", destination_url: "http://127.0.0.1:9/" });
    assert.equal(both.status, 400);
    await relay.fireCron();
    assert.equal((await relay.event(push.id)).status, "received", "the sweeper never pushes a pull destination");
    await assertConservation(relay, ep.id, { received: 3, in_flight: 3 });
  });
});
