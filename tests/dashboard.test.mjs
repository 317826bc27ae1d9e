// The operators' dashboard in headless Chromium against the relay on workerd:
// sign in, create an endpoint, watch a signed webhook be delivered, find an
// event by a search field, replay a
// dead event and five at once from the Dead letters page, pause, resume,
// rotate and close an open circuit from an endpoint's card, set up and run a
// catch-up from Stripe's events API, set alert channels and rules on the
// Alerts page, follow the live stream (and poll while it is down), and a
// viewer key that sees no replay button
// (and whose replay the API refuses). Each test saves a
// screenshot under test-output/dashboard/.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_TOKEN } from "./support/relay.mjs";
import { startDashboard, screenshot, phoneScreenshot } from "./support/browser.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation } from "./support/checks.mjs";
import { startStripeApi, stripeEvent } from "./support/provider_apis.mjs";

let rig;
let relay;
let dest;
let browser;
let page;

before(async () => {
  rig = await startDashboard("dashboard");
  ({ relay, dest, browser, page } = rig);
});

after(() => rig?.stop());

const submitKey = (p, key) => rig.submitKey(p, key);
const signIn = (p, key) => rig.signIn(p, key);
const open = (p, hash) => rig.open(p, hash);

/** An endpoint whose destination fails (with `code`) until `fix()` is called. */
async function failingEndpoint(name, code, extra = {}) {
  const path = `/${name.replace(/\W+/g, "-")}`;
  let fixed = false;
  const ep = await relay.createEndpoint({
    name, provider: "none", destination_url: dest.route(path, () => ({ status: fixed ? 200 : code })), ...extra,
  });
  return { ep, path, fix: () => { fixed = true; } };
}

it("serves the dashboard from the Worker with a strict CSP, redirects / and signs in with a key", async () => {
  const root = await fetch(`${relay.url}/`, { redirect: "manual" });
  assert.equal(root.status, 302);
  assert.equal(root.headers.get("location"), "/dashboard/");
  const index = await fetch(`${relay.url}/dashboard/`);
  assert.equal(index.status, 200);
  const csp = index.headers.get("content-security-policy");
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(index.headers.get("x-content-type-options"), "nosniff");
  assert.equal(index.headers.get("referrer-policy"), "no-referrer");

  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error" && /Content Security Policy|Refused/.test(m.text())) errors.push(m.text()); });

  await submitKey(page, "not-the-token");
  await page.waitForSelector("#signin-message:not([hidden])");
  assert.match(await page.textContent("#signin-message"), /refused/i);

  await signIn(page, ADMIN_TOKEN);
  await page.waitForSelector("[data-testid=tile-received] .tile-value");
  assert.match(await page.textContent(".balance"), /received \d+ = delivered \d+ \+ dead \d+ \+ in flight \d+/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 1, "the key lives in session storage");
  assert.equal(await page.evaluate(() => localStorage.length), 0, "and never in local storage");
  await page.waitForSelector("[data-testid=chart] canvas, [data-testid=chart] .chart-empty");
  await screenshot(page, "01-overview");
  await phoneScreenshot(page, "01-overview-phone");

  await page.click("#signout");
  await page.waitForSelector("#signin:not([hidden])");
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "sign-out forgets the key");
  assert.deepEqual(errors, []);
  await signIn(page, ADMIN_TOKEN);
});

it("creates an endpoint in the form, then shows a signed webhook delivered with its attempt", async () => {
  await open(page, "/endpoints/new");
  await page.fill("#f-name", "GitHub from the dashboard");
  assert.ok(await page.locator("#f-provider option").count() >= 60, "the registry's providers are offered");
  await page.selectOption("#f-provider", "stripe");
  assert.match(await page.textContent("#f-provider-hint"), /stripe-signature/);
  await page.selectOption("#f-provider", "github");
  assert.match(await page.textContent("#f-provider-hint"), /x-hub-signature-256/);
  await page.fill("#f-secret", "gh-dashboard-secret");
  await screenshot(page, "02a-endpoint-form");
  await page.fill("#f-destination_url", dest.route("/from-dashboard"));
  await page.click("#main button[type=submit]");
  const card = page.locator("[data-testid=endpoint-card]", { hasText: "GitHub from the dashboard" });
  await card.waitFor();
  const ingestUrl = (await card.locator("[data-testid=ingest-url]").textContent()).trim();
  assert.match(ingestUrl, /\/ep_[0-9a-z]+$/);
  const endpointId = ingestUrl.split("/").pop();
  await screenshot(page, "02-endpoints");

  const body = JSON.stringify({ action: "opened", number: 7, repository: { full_name: "acme/api" } });
  const res = await fetch(ingestUrl, { method: "POST", body, headers: sign.github("gh-dashboard-secret", body, { event: "pull_request" }) });
  assert.equal(res.status, 200);
  const { id } = await res.json();

  // The events list refreshes by itself: the row turns delivered without a reload.
  await open(page, `/events?endpoint_id=${endpointId}`);
  await page.waitForSelector(`tr[data-id="${id}"][data-status="delivered"]`, { timeout: 20_000 });
  await page.click(`tr[data-id="${id}"] a[href="#/events/${id}"]`);
  await page.waitForSelector("[data-testid=attempts] .attempt[data-outcome=delivered]");
  const attempt = await page.textContent("[data-testid=attempts] .attempt");
  assert.match(attempt, /#1/);
  assert.match(attempt, /200/);
  assert.match(await page.textContent("[data-testid=payload]"), /"full_name": "acme\/api"/, "pretty-printed payload");
  const headers = await page.textContent("table.headers");
  assert.match(headers, /x-hub-signature-256\s*•+ redacted/);
  assert.ok(!headers.includes("sha256="), "the signature value is not shown");
  await page.click("button:has-text('Raw')");
  assert.equal(await page.textContent("[data-testid=payload]"), body);
  await screenshot(page, "03-event-delivered");
  await phoneScreenshot(page, "03-event-delivered-phone");
  assert.equal(dest.deliveredFor(id).length, 1);
  await assertConservation(relay, endpointId, { received: 1, delivered: 1 });

  // The health card and the chart come from the aggregate API, not from loading events.
  await open(page, "/endpoints");
  const figures = page.locator("[data-testid=endpoint-card]", { hasText: "GitHub from the dashboard" });
  await figures.locator(".metric", { hasText: "Success 24 h" }).filter({ hasText: "100 %" }).waitFor();
  assert.match(await figures.locator(".metric", { hasText: "p50 latency" }).textContent(), /\d+ ms/);
  await open(page, "/");
  await page.waitForSelector("[data-testid=chart] canvas");
  await page.waitForFunction(() => /^[1-9]\d* received in the last 24 h/.test(document.querySelector(".chart-note")?.textContent ?? ""));
});

it("finds an event by a search field value from the events page, which says which fields it searches", async () => {
  const ep = await relay.createEndpoint({
    name: "searchable shop", provider: "none", destination_url: dest.route("/searchable"),
    search_fields: ["data.object.customer_email"],
  });
  const ids = {};
  for (const email of ["dana@example.com", "erin@example.com"]) {
    const res = await relay.ingest(ep.id, Buffer.from(JSON.stringify({ type: "order.paid", data: { object: { customer_email: email } } })));
    assert.equal(res.status, 200, res.text);
    ids[email] = res.json.id;
  }
  await open(page, `/events?endpoint_id=${ep.id}`);
  assert.match(await page.textContent("#flt-q-fields"), /data\.object\.customer_email/);
  await page.waitForSelector(`tr[data-id="${ids["dana@example.com"]}"]`);
  await page.fill("#flt-q", "erin@example.com");
  await page.click("form.filters button[type=submit]");
  await page.waitForSelector(`tr[data-id="${ids["dana@example.com"]}"]`, { state: "detached" });
  await page.waitForSelector(`tr[data-id="${ids["erin@example.com"]}"]`);
  assert.equal(await page.locator("[data-testid=events-table] tbody tr").count(), 1, "only the matching event");
  await screenshot(page, "03b-search-field");
});

it("replays an event that failed until dead from the Dead letters page and sees it delivered", async () => {
  const { ep, fix } = await failingEndpoint("always failing", 500, { retry: { schedule_s: [1] } });
  const res = await relay.ingest(ep.id, JSON.stringify({ n: 1 }), { "content-type": "application/json" });
  const { id } = res.json;
  const dead = await relay.waitForEvent(id, (e) => e.status === "dead", { cronEveryMs: 1000 });
  assert.equal(dead.attempts.length, 2);
  fix();

  await open(page, `/dead?endpoint_id=${ep.id}`);
  await page.check(`tr[data-id="${id}"] input[type=checkbox]`);
  await page.click("[data-testid=replay-selected]");
  await page.waitForSelector(`[data-testid=tracker] li[data-id="${id}"][data-status="delivered"]`, { timeout: 20_000 });
  await page.waitForSelector(`[data-testid=dead-table] .empty-row`);
  await screenshot(page, "04-dead-letter-replayed");

  await open(page, `/events/${id}`);
  await page.waitForSelector("[data-testid=attempts] .attempt[data-outcome=delivered]");
  assert.equal(await page.locator("[data-testid=attempts] .attempt").count(), 3, "numbering continues after the replay");
  await assertConservation(relay, ep.id, { received: 1, delivered: 1, dead: 0 });
});

it("bulk-replays 5 dead events of an endpoint in one action", async () => {
  const { ep, fix } = await failingEndpoint("rejecting 400", 400);
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await relay.ingest(ep.id, `{"n":${i}}`, { "content-type": "application/json" })).json.id);
  for (const id of ids) await relay.waitForEvent(id, (e) => e.status === "dead");
  fix();

  await open(page, `/dead?endpoint_id=${ep.id}`);
  await page.waitForSelector("[data-testid=replay-all]:has-text('Replay all 5')");
  await screenshot(page, "05-dead-letters-before");
  await phoneScreenshot(page, "05-dead-letters-phone");
  await page.click("[data-testid=replay-all]");
  await page.click("dialog button[value=ok]");
  await page.waitForFunction(() => document.querySelector("[data-testid=tracker-summary]")?.textContent === "5 of 5 delivered", null, { timeout: 20_000 });
  await screenshot(page, "05-dead-letters-bulk-replayed");
  for (const id of ids) assert.equal(dest.deliveredFor(id).length, 1, `${id} delivered once`);
  await assertConservation(relay, ep.id, { received: 5, delivered: 5, dead: 0 });
});

it("pauses an endpoint with a reason, holds a webhook, resumes and sees it delivered; rotates its secret", async () => {
  const path = "/paused-from-dashboard";
  const first = `whsec_${Buffer.from("a first secret, 24 bytes").toString("base64")}`;
  const ep = await relay.createEndpoint({ name: "pause me", provider: "standard", secrets: [first], destination_url: dest.route(path) });
  const card = page.locator("[data-testid=endpoint-card]", { hasText: "pause me" });
  await open(page, "/endpoints");
  await card.locator("button", { hasText: "Pause" }).click();
  await page.fill("dialog #dlg-reason", "destination deploying");
  await page.click("dialog button[value=ok]");
  await card.locator(".card-head .badge", { hasText: "paused" }).waitFor();
  assert.match(await card.textContent(), /destination deploying/);
  assert.equal((await relay.api("GET", `/endpoints/${ep.id}`)).json.paused, true);

  const body = JSON.stringify({ type: "held", n: 1 });
  const sent = await relay.ingest(ep.id, body, sign.standard(first, body));
  assert.equal(sent.status, 200, sent.text);
  await relay.fireCron();
  assert.equal((await relay.event(sent.json.id)).status, "received", "held while paused");
  assert.equal(dest.to(path).length, 0);

  await card.locator("button", { hasText: "Resume" }).click();
  await card.locator("button", { hasText: "Pause" }).waitFor();
  await relay.waitForEvent(sent.json.id, (e) => e.status === "delivered", { cronEveryMs: 2_000 });
  assert.equal(dest.to(path).length, 1);

  await card.locator("button", { hasText: "Rotate secret" }).click();
  await page.click("dialog button[value=ok]");
  const secret = (await page.textContent("[data-testid=revealed-secret]")).trim();
  assert.match(secret, /^whsec_/);
  await screenshot(page, "06-secret-rotated");
  await page.click("dialog button:has-text('Done')");
  const next = JSON.stringify({ type: "after-rotation" });
  assert.equal((await relay.ingest(ep.id, next, sign.standard(secret, next))).status, 200, "the new secret verifies");
  await assertConservation(relay, ep.id, { received: 2 });
});

it("sets up catch-up in the form, runs it from the card, and the recovered event says where it came from", async () => {
  const created = Math.floor(Date.now() / 1000) - 600;
  const stripe = await startStripeApi({ apiKey: "sk_test_dashboard", events: [stripeEvent(1, created), stripeEvent(2, created + 1)] });
  try {
    const ep = await relay.createEndpoint({ name: "stripe shop", provider: "stripe", secrets: ["whsec_dash"], destination_url: dest.route("/caught-up") });
    await open(page, `/endpoints/${ep.id}/edit`);
    await page.click("[data-testid=catch-up-settings] summary");
    await page.fill("#f-catch_up_key", "sk_test_dashboard");
    await page.fill("#f-catch_up_base", stripe.base);
    await page.click("#main button[type=submit]");
    const card = page.locator("[data-testid=endpoint-card]", { hasText: "stripe shop" });
    await card.waitFor();
    const saved = (await relay.api("GET", `/endpoints/${ep.id}`)).json.catch_up;
    assert.deepEqual(saved, { api: "stripe_events", api_base: stripe.base, api_key_set: true });

    await card.locator("[data-testid=catch-up]").click();
    assert.match(await page.textContent("dialog"), /Stripe's events API is read/);
    await page.click("dialog button[value=ok]");
    await page.locator(".toast", { hasText: "Catch-up: 2 read, recovered 2, 0 already received" }).waitFor();
    await screenshot(page, "09-catch-up-run");

    const list = await relay.api("GET", `/events?endpoint_id=${ep.id}`);
    assert.equal(list.json.data.length, 2);
    const id = list.json.data[0].id;
    await relay.waitForEvent(id, (e) => e.status === "delivered");
    await open(page, `/events/${id}`);
    await page.locator("[data-testid=source]", { hasText: "catch_up" }).waitFor();
    await screenshot(page, "09-catch-up-event");
    await assertConservation(relay, ep.id, { received: 2 });
  } finally {
    await stripe.close();
  }
});

it("the Alerts page adds and tests a channel, adds a rule that fires, and deletes it, which resolves it", async () => {
  const ep = await relay.createEndpoint({
    name: "alerting shop", provider: "none", destination_url: dest.route("/alerting", () => ({ status: 500 })), retry: { max_attempts: 1 },
  });
  await open(page, "/alerts");
  await page.selectOption("#channel-kind", "webhook");
  await page.fill("#channel-url", dest.route("/dash-alerts"));
  await page.click("form:has(#channel-kind) button[type=submit]");
  assert.match(await page.textContent("[data-testid=revealed-secret]"), /^whsec_/);
  await page.click("dialog button:has-text('Done')");
  const channel = page.locator("[data-testid=channels-table] tbody tr");
  await channel.first().waitFor();
  await channel.locator("button", { hasText: "Test" }).click();
  await page.locator(".toast", { hasText: "Test alert delivered" }).waitFor();
  assert.equal(JSON.parse(dest.to("/dash-alerts")[0].body).type, "relay.test");

  await page.selectOption("#rule-endpoint", ep.id);
  await page.selectOption("#rule-kind", "dead_letters");
  await page.fill("#rule-threshold", "0");
  await page.click("form:has(#rule-kind) button[type=submit]");
  const row = page.locator("[data-testid=rules-table] tbody tr", { hasText: "alerting shop" });
  await row.waitFor();
  assert.match(await row.textContent(), /more than 0 dead events in an hour/);
  assert.equal(await row.getAttribute("data-state"), "ok");

  const ack = await relay.ingest(ep.id, "dies");
  await relay.waitForEvent(ack.json.id, (e) => e.status === "dead");
  await relay.fireCron();
  await open(page, "/alerts");
  await page.locator("[data-testid=rules-table] tbody tr[data-state=firing]", { hasText: "alerting shop" }).waitFor();
  await screenshot(page, "12-alerts");
  const ruleAlerts = () => dest.to("/dash-alerts").map((r) => JSON.parse(r.body)).filter((a) => a.type.startsWith("rule."));
  assert.deepEqual(ruleAlerts().map((a) => a.type), ["rule.firing"]);

  await page.locator("[data-testid=rules-table] tbody tr", { hasText: "alerting shop" }).locator("button", { hasText: "Delete" }).click();
  assert.match(await page.textContent("dialog"), /its incident is resolved/);
  await page.click("dialog button[value=ok]");
  await page.locator(".toast", { hasText: "Rule deleted" }).waitFor();
  assert.deepEqual(ruleAlerts().map((a) => a.type), ["rule.firing", "rule.resolved"]);
  assert.equal((await relay.api("GET", `/alert-rules?endpoint_id=${ep.id}`)).json.data.length, 0);
});

it("closes an open circuit from the endpoint card and the held events are delivered", async () => {
  const { ep, path, fix } = await failingEndpoint("circuit card", 503, {
    retry: { schedule_s: [1, 1, 1, 1] }, circuit: { threshold: 2, probe_interval_s: 600 },
  });
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await relay.ingest(ep.id, `held-${i}`)).json.id);
  const deadline = Date.now() + 30_000;
  while ((await relay.api("GET", `/endpoints/${ep.id}`)).json.circuit.state !== "open" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  fix();
  const card = page.locator("[data-testid=endpoint-card]", { hasText: "circuit card" });
  await open(page, "/endpoints");
  await card.locator(".card-head .badge", { hasText: "circuit open" }).waitFor();
  await screenshot(page, "07-circuit-open");
  await card.locator("[data-testid=close-circuit]").click();
  await card.locator(".card-head .badge", { hasText: "circuit closed" }).waitFor();
  assert.equal(await card.locator("[data-testid=close-circuit]").count(), 0, "offered only while open");
  for (const id of ids) await relay.waitForEvent(id, (e) => e.status === "delivered");
  assert.equal(dest.to(path).filter((r) => r.answered === 200).length, 3);
  await assertConservation(relay, ep.id, { received: 3, delivered: 3 });
});

it("edits an endpoint's delivery settings in the form, shows a refused save, and lists refusals with redacted headers", async () => {
  const ep = await relay.createEndpoint({ name: "edit me", provider: "github", secrets: ["gh-edit"], destination_url: dest.route("/edit-me") });
  await open(page, `/endpoints/${ep.id}/edit`);
  await page.waitForSelector("#f-schedule");
  await page.fill("#f-schedule", "1, 2, 4");
  await page.fill("#f-max_attempts", "3");
  await page.fill("#f-rate_limit_per_s", "10");
  await page.check("input[name=fifo]");
  await page.click("#main button[type=submit]");
  await page.locator("[data-testid=endpoint-card]", { hasText: "edit me" }).locator(".badge", { hasText: "FIFO" }).waitFor();
  const saved = (await relay.api("GET", `/endpoints/${ep.id}`)).json;
  assert.deepEqual(saved.retry.schedule_s, [1, 2, 4]);
  assert.equal(saved.retry.max_attempts, 3);
  assert.equal(saved.rate_limit_per_s, 10);
  assert.equal(saved.fifo, true);

  // A value the API refuses is shown in the form, and nothing changes.
  await open(page, `/endpoints/${ep.id}/edit`);
  await page.waitForSelector("#f-timeout_ms");
  await page.fill("#f-schedule", "-5");
  await page.click("#main button[type=submit]");
  const refusedSave = page.locator("#main [role=alert]");
  await refusedSave.waitFor();
  assert.ok((await refusedSave.textContent()).length > 0);
  assert.deepEqual((await relay.api("GET", `/endpoints/${ep.id}`)).json.retry.schedule_s, [1, 2, 4]);

  // A request with a wrong signature is refused, logged and shown redacted.
  const body = JSON.stringify({ action: "opened" });
  const wrong = sign.github("not-the-secret", body, { event: "issues" });
  assert.equal((await relay.ingest(ep.id, body, wrong)).status, 401);
  await open(page, `/refusals?endpoint_id=${ep.id}`);
  const table = page.locator("[data-testid=refusals-table]");
  await table.waitFor();
  assert.match(await table.textContent(), /signature/i);
  await table.locator("summary").first().click();
  const logged = await table.textContent();
  assert.ok(!logged.includes(wrong["x-hub-signature-256"]), "the signature value is not shown");
  await screenshot(page, "06-refusals");
});

it("a viewer key sees no replay button, the API refuses its replay, and a revoked key returns to sign-in", async () => {
  const { ep } = await failingEndpoint("viewer sees this", 400);
  const { id } = (await relay.ingest(ep.id, "{}", { "content-type": "application/json" })).json;
  await relay.waitForEvent(id, (e) => e.status === "dead");

  // The admin makes the key on the API keys page; it is shown once.
  await open(page, "/keys");
  await page.fill("#key-name", "night viewer");
  await page.selectOption("#key-role", "viewer");
  await page.click("button:has-text('Create key')");
  const key = (await page.textContent("[data-testid=revealed-secret]")).trim();
  assert.match(key, /^hrk_/);
  await page.click("dialog button:has-text('Done')");
  await page.waitForSelector("[data-testid=keys-table] td:has-text('night viewer')");
  await screenshot(page, "06-api-keys");

  const viewer = await browser.context.newPage(); // a new tab: its own session storage
  await signIn(viewer, key);
  assert.match(await viewer.textContent("#who"), /viewer/);
  assert.equal(await viewer.locator("#nav a[data-page=keys]").isVisible(), false);
  await open(viewer, `/dead?endpoint_id=${ep.id}`);
  await viewer.waitForSelector(`tr[data-id="${id}"]`);
  assert.equal(await viewer.locator("[data-testid=replay-selected], [data-testid=replay-all], tr input[type=checkbox]").count(), 0);
  await open(viewer, `/events/${id}`);
  await viewer.waitForSelector("[data-testid=attempts] .attempt");
  assert.equal(await viewer.locator("[data-testid=replay]").count(), 0);
  await open(viewer, "/endpoints");
  await viewer.waitForSelector("[data-testid=endpoint-card]");
  assert.equal(await viewer.locator("a:has-text('New endpoint'), button:has-text('Pause'), a:has-text('Edit'), button:has-text('Rotate secret')").count(), 0);
  await screenshot(viewer, "07-viewer-endpoints");

  const refused = await fetch(`${relay.url}/api/v1/events/${id}/replay`, { method: "POST", headers: { authorization: `Bearer ${key}` } });
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).error.code, "forbidden");
  assert.equal((await relay.event(id)).status, "dead");

  // Revoked while signed in: the next request returns the tab to sign-in with a message.
  const keyId = (await relay.api("GET", "/keys")).json.data.find((k) => k.name === "night viewer").id;
  assert.equal((await relay.api("DELETE", `/keys/${keyId}`)).status, 204);
  await open(viewer, "/events");
  await viewer.waitForSelector("#signin:not([hidden]) #signin-message:not([hidden])");
  assert.match(await viewer.textContent("#signin-message"), /refused your key/);
  await screenshot(viewer, "08-signed-out-after-revoke");
  await viewer.close();
});

it("follows the live stream: the chip says Live, the events list updates without polling, and a dropped stream falls back to polling", async () => {
  const ep = await relay.createEndpoint({ name: "live list", provider: "none", destination_url: dest.route("/live-list") });
  // The stream is already open from earlier pages: wait for the page's own
  // first load (it reads the endpoints before the list) before counting.
  const isList = (r) => new URL(r.url()).pathname === "/api/v1/events";
  const firstLoad = page.waitForResponse(isList);
  await open(page, `/events?endpoint_id=${ep.id}`);
  await firstLoad;
  await page.waitForSelector("#live-state[data-state=live]");
  assert.equal(await page.textContent("#live-state"), "Live");
  const listCalls = [];
  const onRequest = (r) => { if (isList(r)) listCalls.push(Date.now()); };
  page.on("request", onRequest);
  await page.waitForTimeout(5_000);
  assert.equal(listCalls.length, 0, "no polling while the stream is live (it polls every 4 s otherwise)");

  const ack = await relay.ingest(ep.id, JSON.stringify({ type: "live.shown" }), { "content-type": "application/json" });
  await page.waitForSelector(`tr[data-id="${ack.json.id}"][data-status="delivered"]`, { timeout: 10_000 });
  assert.ok(listCalls.length >= 1, "the stream's changes reloaded the list");
  await screenshot(page, "13-live-events");

  // The relay goes away: the chip says so and the page polls; it comes back live.
  const port = relay.port;
  await relay.stop();
  await page.waitForSelector("#live-state[data-state=reconnecting]", { timeout: 20_000 });
  assert.match(await page.textContent("#live-state"), /Reconnecting/);
  await screenshot(page, "13-live-reconnecting");
  await relay.boot({ port });
  await page.waitForSelector("#live-state[data-state=live]", { timeout: 30_000 });
  page.off("request", onRequest);
  const after = await relay.ingest(ep.id, "after the restart");
  await page.waitForSelector(`tr[data-id="${after.json.id}"]`, { timeout: 10_000 });
});
