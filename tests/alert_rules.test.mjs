// Alert rules on workerd: an operator's conditions per endpoint or route,
// checked by the sweeper, each firing once and resolving once to a local alert
// server (a signed webhook channel and a PagerDuty channel whose Events API v2
// is played by the same server): success rate, oldest event in flight and
// dead letters an hour.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
let dest;
before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "alert-rules" });
  const webhook = await relay.api("POST", "/alerts", { kind: "webhook", url: dest.route("/alerts") });
  assert.equal(webhook.status, 201, webhook.text);
  const pd = await relay.api("POST", "/alerts", {
    kind: "pagerduty", routing_key: "R0UT1NGKEY0000000000000000000002", url: dest.route("/pd/v2/enqueue", () => ({ status: 202 })),
  });
  assert.equal(pd.status, 201, pd.text);
});
after(async () => {
  await relay?.stop();
  await dest?.close();
});

/** The rule alerts the webhook channel received for `ruleId`, in order: "firing" or "resolved". */
const ruleAlerts = (ruleId) => dest.to("/alerts").map((r) => JSON.parse(r.body))
  .filter((a) => a.type.startsWith("rule.") && a.data.rule_id === ruleId).map((a) => a.data.state);
/** PagerDuty's events for the rule, in order: "trigger" or "resolve". */
const pagerDuty = (ruleId) => dest.to("/pd/v2/enqueue").map((r) => JSON.parse(r.body))
  .filter((e) => e.dedup_key === `hookrelay/rule/${ruleId}`).map((e) => e.event_action);

async function rule(body) {
  const res = await relay.api("POST", "/alert-rules", body);
  assert.equal(res.status, 201, res.text);
  return res.json;
}

async function stateOf(id) {
  const list = await relay.api("GET", "/alert-rules");
  return list.json.data.find((r) => r.id === id);
}

/** An endpoint whose destination answers `code()` at the time of each attempt, dead after one attempt. */
async function endpoint(name, code) {
  return relay.createEndpoint({
    name, provider: "none", destination_url: dest.route(`/${name}`, () => ({ status: code() })), retry: { max_attempts: 1 },
  });
}

async function deliverAll(ep, n, prefix, status) {
  for (let i = 0; i < n; i++) {
    const ack = await relay.ingest(ep.id, `${prefix}-${i}`);
    assert.equal(ack.status, 200, ack.text);
    await relay.waitForEvent(ack.json.id, (e) => e.status === status);
  }
}

it("a success-rate rule fires once below its threshold and resolves once it is not", async () => {
  let code = 500;
  const ep = await endpoint("rate", () => code);
  const r = await rule({ endpoint_id: ep.id, kind: "success_rate", threshold: 50, min_attempts: 4 });
  assert.equal(r.description, "success rate below 50% over 1 h (at least 4 attempts)");
  assert.equal(r.state, "ok");

  await deliverAll(ep, 3, "fail", "dead");
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), [], "3 attempts are too few to judge");
  await deliverAll(ep, 1, "fail-more", "dead");
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), ["firing"]);
  assert.deepEqual(pagerDuty(r.id), ["trigger"]);
  const firing = await stateOf(r.id);
  assert.equal(firing.state, "firing");
  assert.equal(firing.last_value, 0);
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), ["firing"], "fires once");

  code = 200;
  await deliverAll(ep, 3, "ok", "delivered");
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), ["firing"], "3 of 7 is still below 50 %");
  await deliverAll(ep, 1, "ok-more", "delivered");
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), ["firing", "resolved"], "4 of 8 is not below 50 %");
  assert.deepEqual(pagerDuty(r.id), ["trigger", "resolve"]);
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), ["firing", "resolved"], "resolves once");
  assert.equal((await stateOf(r.id)).last_value, 50);
  await assertConservation(relay, ep.id, { received: 8, delivered: 4, dead: 4 });
});

it("an oldest-in-flight rule on a route fires while an event waits and resolves once it is delivered", async () => {
  const ep = await endpoint("held", () => 200);
  const r = await rule({ endpoint_id: ep.id, route_id: ep.id, kind: "oldest_in_flight", threshold: 2 });
  assert.equal((await relay.api("POST", `/endpoints/${ep.id}/pause`, { reason: "deploying" })).status, 200);
  const ack = await relay.ingest(ep.id, "waits");
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), [], "not yet 2 s old");
  await sleep(2500);
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), ["firing"]);
  const alert = dest.to("/alerts").map((x) => JSON.parse(x.body)).find((a) => a.data.rule_id === r.id);
  assert.equal(alert.data.route_id, ep.id);
  assert.match(alert.text, /an event in flight for more than 2 s \(now \d+(\.\d)? s\)/);

  await relay.api("POST", `/endpoints/${ep.id}/resume`);
  await relay.waitForEvent(ack.json.id, (e) => e.status === "delivered");
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), ["firing", "resolved"]);
  assert.deepEqual(pagerDuty(r.id), ["trigger", "resolve"]);

  // A firing rule whose endpoint is deleted is resolved and removed.
  const gone = await endpoint("gone", () => 200);
  const orphan = await rule({ endpoint_id: gone.id, kind: "oldest_in_flight", threshold: 1 });
  await relay.api("POST", `/endpoints/${gone.id}/pause`, {});
  await relay.ingest(gone.id, "waits too");
  await sleep(1500);
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(orphan.id), ["firing"]);
  assert.equal((await relay.api("DELETE", `/endpoints/${gone.id}`)).status, 204);
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(orphan.id), ["firing", "resolved"]);
  assert.equal(await stateOf(orphan.id), undefined);
});

it("a dead-letter rule fires above N an hour and resolves when replays bring them back; deleting a firing rule resolves it", async () => {
  let code = 422;
  const ep = await endpoint("dies", () => code);
  const r = await rule({ endpoint_id: ep.id, kind: "dead_letters", threshold: 1 });
  await deliverAll(ep, 1, "dead", "dead");
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), [], "1 is not above 1");
  await deliverAll(ep, 1, "dead-more", "dead");
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), ["firing"]);
  assert.equal((await stateOf(r.id)).last_value, 2);

  const strict = await rule({ endpoint_id: ep.id, kind: "dead_letters", threshold: 0 });
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(strict.id), ["firing"]);
  assert.equal((await relay.api("DELETE", `/alert-rules/${strict.id}`)).status, 204);
  assert.deepEqual(ruleAlerts(strict.id), ["firing", "resolved"], "deleting a firing rule resolves it");
  assert.deepEqual(pagerDuty(strict.id), ["trigger", "resolve"]);
  assert.equal((await relay.api("DELETE", `/alert-rules/${strict.id}`)).status, 404);

  code = 200;
  const replay = await relay.api("POST", "/replay", { endpoint_id: ep.id, status: "dead" });
  assert.equal(replay.status, 202, replay.text);
  await relay.fireCron();
  for (let i = 0; i < 50 && (await relay.health(ep.id)).counts.delivered < 2; i++) await sleep(200);
  await relay.fireCron();
  assert.deepEqual(ruleAlerts(r.id), ["firing", "resolved"]);
  assert.deepEqual(pagerDuty(r.id), ["trigger", "resolve"]);
  await assertConservation(relay, ep.id, { received: 2, delivered: 2 });
});

it("refuses rules it cannot check, naming why", async () => {
  const a = await endpoint("a", () => 200);
  const b = await endpoint("b", () => 200);
  const route = await relay.api("POST", `/endpoints/${b.id}/routes`, { name: "b2", destination_url: dest.route("/b2") });
  assert.equal(route.status, 201, route.text);
  const cases = [
    [{ endpoint_id: a.id, kind: "latency", threshold: 1 }, /kind is/],
    [{ endpoint_id: "ep_00000000000000000000000000", kind: "dead_letters", threshold: 1 }, /no live endpoint/],
    [{ endpoint_id: a.id, route_id: route.json.id, kind: "dead_letters", threshold: 1 }, /no live route of this endpoint/],
    [{ endpoint_id: a.id, kind: "success_rate", threshold: 90, window_s: 600 }, /whole hours/],
  ];
  for (const [body, why] of cases) {
    const res = await relay.api("POST", "/alert-rules", body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.json.error.code, "invalid_alert_rule");
    assert.match(res.json.error.message, why);
  }
  const ok = await rule({ endpoint_id: b.id, route_id: route.json.id, kind: "dead_letters", threshold: 3 });
  const listed = await relay.api("GET", `/alert-rules?endpoint_id=${b.id}`);
  assert.deepEqual(listed.json.data.map((x) => x.id), [ok.id]);
});
