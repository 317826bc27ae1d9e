// Alerts on workerd, to a local alert server: dead letters (one message per
// sweep, signed), a failure streak and a circuit opening, a refusal spike, a
// PagerDuty incident triggered by a circuit's opening and resolved by its closing, and a
// stale sweeper noticed through the API; an extra route's alerts name the route
// and its endpoint, and dead letters are counted per route. Slack channels get
// `{"text"}`. The ack path notices a dead cron and raises a storage failure.
// A deleted route's reported streak and open circuit are resolved, and a
// stale sweeper is cleared by the next sweep.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep } from "./support/relay.mjs";
import { startDestination, sequence } from "./support/destination.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
let dest;
before(async () => {
  dest = await startDestination();
  relay = await Relay.start({
    name: "alerts",
    vars: { ALERT_FAILURE_STREAK: "2", ALERT_REFUSAL_SPIKE: "5", SWEEP_INTERVAL_S: "4" },
  });
});
after(async () => {
  await relay?.stop();
  await dest?.close();
});

const alertsOf = (type) =>
  dest.to("/alerts").map((r) => ({ ...JSON.parse(r.body), headers: r.headers })).filter((a) => a.type === type);
const slackTexts = () => dest.to("/slack").map((r) => JSON.parse(r.body).text);

it("raises each alert once, signed, to every channel", async () => {
  const webhook = await relay.api("POST", "/alerts", { kind: "webhook", url: dest.route("/alerts") });
  assert.equal(webhook.status, 201);
  assert.match(webhook.json.secret, /^whsec_/);
  const slack = await relay.api("POST", "/alerts", { kind: "slack", url: dest.route("/slack") });
  assert.equal(slack.status, 201);
  assert.equal(slack.json.secret, undefined);
  const test = await relay.api("POST", `/alerts/${slack.json.id}/test`);
  assert.deepEqual(test.json, { delivered: true });
  assert.equal((await relay.api("POST", "/alerts", { kind: "pager", url: dest.base })).status, 400);

  // Dead letters: three events die, one message for the sweep.
  const rejecting = await relay.createEndpoint({ name: "rejecting", provider: "none", destination_url: dest.route("/422", sequence(422)) });
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await relay.ingest(rejecting.id, `dies-${i}`)).json.id);
  for (const id of ids) await relay.waitForEvent(id, (e) => e.status === "dead");
  await relay.fireCron();
  const [dead] = alertsOf("events.dead_lettered");
  assert.ok(dead, "dead-letter alert sent");
  assert.equal(dead.data.total, 3);
  assert.deepEqual(dead.data.endpoints, [{ endpoint_id: rejecting.id, name: "rejecting", count: 3 }]);
  assert.deepEqual(dead.data.routes, [{ endpoint_id: rejecting.id, name: "rejecting", route_id: rejecting.id, route_name: "rejecting", count: 3 }]);
  const raw = dest.to("/alerts").find((r) => JSON.parse(r.body).type === "events.dead_lettered");
  assert.ok(sign.verifyStandard(webhook.json.secret, raw.headers, raw.body), "signed with the channel secret");
  assert.ok(slackTexts().some((t) => /3 event\(s\) dead-lettered/.test(t)));
  await relay.fireCron();
  assert.equal(alertsOf("events.dead_lettered").length, 1, "not repeated on the next sweep");

  // Failure streak and circuit opening.
  const down = await relay.createEndpoint({ name: "down", provider: "none", destination_url: dest.route("/503", sequence(503)),
    retry: { schedule_s: [60] }, circuit: { threshold: 2, probe_interval_s: 600 } });
  await relay.ingest(down.id, "fails-1");
  await relay.ingest(down.id, "fails-2");
  for (let i = 0; i < 50 && dest.to("/503").length < 2; i++) await sleep(200);
  await sleep(500);
  await relay.fireCron();
  const [streak] = alertsOf("endpoint.failure_streak");
  assert.equal(streak?.data.endpoint_id, down.id);
  assert.ok(streak.data.streak >= 2);
  const [opened] = alertsOf("endpoint.circuit_opened");
  assert.equal(opened?.data.endpoint_id, down.id);

  // Refusal spike.
  const guarded = await relay.createEndpoint({ name: "guarded", provider: "github", secrets: ["g"], destination_url: dest.route("/g") });
  for (let i = 0; i < 6; i++) await relay.ingest(guarded.id, "x", sign.github("wrong", "x"));
  await sleep(500);
  await relay.fireCron();
  const [spike] = alertsOf("endpoint.refusals_spiking");
  assert.equal(spike?.data.endpoint_id, guarded.id);
  assert.equal(spike.data.count, 6);

  // A stale sweeper is noticed by whoever looks: here the health API. (The
  // waits above may have let it go stale already; each time is cleared by
  // the next sweep, so count from here.)
  const staleCleared = () => alertsOf("relay.cleared").filter((a) => a.data.condition === "sweeper_stale");
  const staleBefore = alertsOf("relay.sweeper_stale").length;
  assert.equal(staleCleared().length, staleBefore, "each earlier stale sweeper was cleared by the next sweep");
  await sleep(8500);
  const health = await relay.health();
  assert.equal(health.status, "degraded");
  for (let i = 0; i < 25 && alertsOf("relay.sweeper_stale").length === staleBefore; i++) await sleep(200);
  assert.equal(alertsOf("relay.sweeper_stale").length, staleBefore + 1);
  await relay.health();
  assert.equal(alertsOf("relay.sweeper_stale").length, staleBefore + 1, "quiet during the cooldown");
  // The next sweep clears it (and resolves its incident), once.
  await relay.fireCron();
  for (let i = 0; i < 25 && staleCleared().length === staleBefore; i++) await sleep(200);
  await relay.fireCron();
  assert.deepEqual(staleCleared().map((a) => a.data), Array(staleBefore + 1).fill({ condition: "sweeper_stale" }));
  assert.ok(slackTexts().some((t) => /sweeper has not run/.test(t)));

  const list = await relay.api("GET", "/alerts");
  assert.equal(list.json.data.length, 2);
  assert.equal(list.json.data.some((c) => "secret" in c), false, "secrets are shown once");
  assert.equal((await relay.api("DELETE", `/alerts/${slack.json.id}`)).status, 204);
});

it("names a failing extra route together with its endpoint, and counts dead letters per route", async () => {
  const billing = await relay.createEndpoint({ name: "billing", provider: "none", destination_url: dest.route("/billing") });
  const addRoute = async (fields) => {
    const res = await relay.api("POST", `/endpoints/${billing.id}/routes`, fields);
    assert.equal(res.status, 201, res.text);
    return res.json;
  };
  const analytics = await addRoute({ name: "analytics", destination_url: dest.route("/analytics", sequence(503)),
    retry: { schedule_s: [60] }, circuit: { threshold: 2, probe_interval_s: 600 } });
  const archive = await addRoute({ name: "archive", destination_url: dest.route("/archive", sequence(422)) });
  await relay.fireCron(); // the dead-letter watermark starts here
  for (let i = 0; i < 2; i++) {
    const ack = await relay.ingest(billing.id, `fans-out-${i}`);
    assert.equal(ack.json.events.length, 3, ack.text);
  }
  const deadArchive = async () => (await relay.api("GET", `/events?route_id=${archive.id}&status=dead`)).json.data.length;
  for (let i = 0; i < 50 && (dest.to("/analytics").length < 2 || (await deadArchive()) < 2); i++) await sleep(200);
  assert.equal(await deadArchive(), 2);
  await sleep(500);
  await relay.fireCron();

  const label = `billing → analytics (${analytics.id})`;
  const streak = alertsOf("endpoint.failure_streak").find((a) => a.data.route_id === analytics.id);
  assert.ok(streak, "a streak alert for the failing route");
  assert.deepEqual({ ...streak.data, streak: undefined },
    { endpoint_id: billing.id, name: "billing", route_id: analytics.id, route_name: "analytics", streak: undefined, threshold: 2 });
  assert.ok(streak.data.streak >= 2);
  assert.ok(streak.text.includes(label), streak.text);
  const opened = alertsOf("endpoint.circuit_opened").find((a) => a.data.route_id === analytics.id);
  assert.equal(opened?.data.endpoint_id, billing.id);
  assert.ok(opened.text.includes(label), opened.text);
  assert.equal(alertsOf("endpoint.failure_streak").filter((a) => a.data.endpoint_id === billing.id).length, 1,
    "the endpoint's healthy first route raises nothing");
  assert.match(streak.text, /consecutive delivery failures/);

  const dead = alertsOf("events.dead_lettered").find((a) => a.data.routes.some((r) => r.endpoint_id === billing.id));
  assert.ok(dead, "a dead-letter alert for the endpoint");
  assert.deepEqual(dead.data.routes.filter((r) => r.endpoint_id === billing.id),
    [{ endpoint_id: billing.id, name: "billing", route_id: archive.id, route_name: "archive", count: 2 }]);
  assert.deepEqual(dead.data.endpoints.filter((e) => e.endpoint_id === billing.id), [{ endpoint_id: billing.id, name: "billing", count: 2 }]);
  assert.ok(dead.text.includes(`billing → archive (${archive.id}): 2`), dead.text);

  // The failing route is deleted: its streak and open circuit are resolved
  // once (nothing else would end them), and their marks are gone.
  const marks = () => relay.d1Rows(`SELECT key FROM meta WHERE key LIKE 'alert:%:${analytics.id}'`);
  assert.equal((await marks()).length, 2);
  assert.equal((await relay.api("DELETE", `/routes/${analytics.id}`)).status, 204);
  await relay.fireCron();
  await relay.fireCron();
  const gone = alertsOf("endpoint.route_gone").filter((a) => a.data.route_id === analytics.id);
  assert.deepEqual(gone.map((a) => a.data.condition).sort(), ["circuit_open", "failure_streak"]);
  assert.ok(gone[0].text.includes(`${analytics.id} was deleted`), gone[0].text);
  assert.deepEqual(await marks(), []);
});

it("a PagerDuty channel triggers an incident when a circuit opens or a failure streak starts, and resolves each when it ends", async () => {
  const pd = await relay.api("POST", "/alerts", { kind: "pagerduty", routing_key: "R0UT1NGKEY0000000000000000000001", url: dest.route("/pd/v2/enqueue") });
  assert.equal(pd.status, 201, pd.text);
  assert.equal(pd.json.kind, "pagerduty");
  assert.ok(!pd.text.includes("R0UT1NGKEY"), "the routing key is never shown back");
  for (const body of [{ kind: "pagerduty", url: dest.base }, { kind: "slack", url: dest.base, routing_key: "k" }, { kind: "slack" }]) {
    const refused = await relay.api("POST", "/alerts", body);
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.equal(refused.json.error.code, "invalid_alert_channel");
  }
  const events = () => dest.to("/pd/v2/enqueue").map((r) => JSON.parse(r.body));

  let fixed = false;
  const flaky = await relay.createEndpoint({ name: "flaky", provider: "none",
    destination_url: dest.route("/pd-503", () => ({ status: fixed ? 200 : 503 })),
    retry: { schedule_s: [60] }, circuit: { threshold: 2, probe_interval_s: 600 } });
  await relay.ingest(flaky.id, "pd-1");
  await relay.ingest(flaky.id, "pd-2");
  for (let i = 0; i < 50 && dest.to("/pd-503").length < 2; i++) await sleep(200);
  await sleep(500);
  await relay.fireCron();
  const key = `hookrelay/circuit/${flaky.id}`;
  const triggered = events().filter((e) => e.dedup_key === key);
  assert.equal(triggered.length, 1, JSON.stringify(events()));
  assert.equal(triggered[0].event_action, "trigger");
  assert.equal(triggered[0].routing_key, "R0UT1NGKEY0000000000000000000001");
  assert.equal(triggered[0].payload.severity, "error");
  assert.equal(triggered[0].payload.custom_details.route_id, flaky.id);
  assert.match(triggered[0].payload.summary, /circuit opened/);
  const streakKey = `hookrelay/failure_streak/${flaky.id}`;
  const streak = events().filter((e) => e.dedup_key === streakKey);
  assert.deepEqual(streak.map((e) => e.event_action), ["trigger"], JSON.stringify(events()));
  assert.match(streak[0].payload.summary, /consecutive delivery failures/);

  fixed = true;
  assert.equal((await relay.api("POST", `/routes/${flaky.id}/circuit/reset`)).status, 200);
  await relay.fireCron();
  const resolved = events().filter((e) => e.dedup_key === key && e.event_action === "resolve");
  assert.deepEqual(resolved, [{ routing_key: "R0UT1NGKEY0000000000000000000001", event_action: "resolve", dedup_key: key }]);
  const streakResolved = events().filter((e) => e.dedup_key === streakKey && e.event_action === "resolve");
  assert.deepEqual(streakResolved, [{ routing_key: "R0UT1NGKEY0000000000000000000001", event_action: "resolve", dedup_key: streakKey }],
    "the streak ended with the reset: its incident is resolved too");
  await relay.fireCron();
  assert.equal(events().filter((e) => e.dedup_key === key).length, 2, "each once");
  assert.equal(events().filter((e) => e.dedup_key === streakKey).length, 2, "each once");
  assert.deepEqual(await relay.d1Rows(`SELECT key FROM meta WHERE key LIKE 'alert:%:${flaky.id}'`), [],
    "a closed circuit and an ended streak leave no mark behind");
  assert.equal((await relay.api("DELETE", `/alerts/${pd.json.id}`)).status, 204);
});

it("the ack path notices a dead cron, and a storage failure on ingest raises relay.ingest_failing once, cleared once the endpoint acks again", async () => {
  // A relay whose cron never fires (no heartbeat at all) and with no queue
  // consumer: only the ack path is there to notice.
  const quiet = await Relay.start({ name: "alerts-ack-path", consumer: false, vars: { SWEEP_INTERVAL_S: "4" } });
  try {
    const channel = await quiet.api("POST", "/alerts", { kind: "webhook", url: dest.route("/ack-path-alerts") });
    assert.equal(channel.status, 201);
    const ep = await quiet.createEndpoint({ name: "shop", provider: "none", destination_url: dest.route("/ack-path-dest") });
    const of = (type) => dest.to("/ack-path-alerts").map((r) => JSON.parse(r.body)).filter((a) => a.type === type);

    const ok = await quiet.ingest(ep.id, "arrives");
    assert.equal(ok.status, 200);
    for (let i = 0; i < 50 && of("relay.sweeper_stale").length === 0; i++) await sleep(200);
    assert.equal(of("relay.sweeper_stale").length, 1, "noticed by an ingest, no health call made");
    assert.equal(of("relay.sweeper_stale")[0].data.last_run_at, null);

    const failed = await quiet.ingest(ep.id, "not stored", { "x-hookrelay-fault": "r2_put" });
    assert.equal(failed.status, 503);
    for (let i = 0; i < 50 && of("relay.ingest_failing").length === 0; i++) await sleep(200);
    const [failing] = of("relay.ingest_failing");
    assert.equal(failing?.data.endpoint_id, ep.id);
    assert.match(failing.text, /503/);
    assert.equal((await quiet.ingest(ep.id, "again", { "x-hookrelay-fault": "r2_put" })).status, 503);
    await sleep(1000);
    assert.equal(of("relay.ingest_failing").length, 1, "once per cooldown");
    await assertConservation(quiet, ep.id, { received: 1, in_flight: 1 });

    // Storage is back: once the endpoint has acked a webhook since the
    // alert, a sweep clears it (and resolves its incident), once.
    const cleared = () => of("relay.cleared").filter((a) => a.data.condition === "ingest_failing");
    await quiet.fireCron();
    await sleep(500);
    assert.deepEqual(cleared(), [], "nothing acked since the alert");
    assert.equal((await quiet.ingest(ep.id, "stored again")).status, 200);
    await quiet.fireCron();
    for (let i = 0; i < 25 && cleared().length === 0; i++) await sleep(200);
    assert.deepEqual(cleared().map((a) => a.data), [{ condition: "ingest_failing", endpoint_id: ep.id }]);
    assert.match(cleared()[0].text, /has acked a webhook since/);
    await quiet.fireCron();
    await sleep(500);
    assert.equal(cleared().length, 1, "cleared once");
    assert.deepEqual(await quiet.d1Rows("SELECT key FROM meta WHERE key LIKE 'alert:ingest_failing%'"), []);
    await assertConservation(quiet, ep.id, { received: 2 });
  } finally {
    await quiet.stop();
  }
});
