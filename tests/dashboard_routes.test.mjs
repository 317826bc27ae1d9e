// The route editor and its live tester in headless Chromium against the relay
// on workerd: an editor opens a Stripe endpoint's routes, adds a
// `payment_intent.*` route with a transformation while the tester answers for
// stored events and a pasted sample, sees JSON that does not parse refused
// without a call and a malformed filter refused by the API with its path (and
// nothing created); a webhook then reaches the new route's destination
// transformed and signed with the route's own secret. A viewer sees the routes
// and no edit controls. Screenshots go under test-output/dashboard/.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_TOKEN, sleep } from "./support/relay.mjs";
import { startDashboard, screenshot, phoneScreenshot } from "./support/browser.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation, assertRouteConservation } from "./support/checks.mjs";

const SECRET = "whsec_stripe_dashboard_routes";
const TRANSFORM = {
  headers: { set: { "x-route": "payments" } },
  body: [
    { op: "pick", paths: ["/id", "/type", "/data/object/amount"] },
    { op: "wrap", key: "event", with: { source: "dashboard" } },
  ],
};
/** What TRANSFORM makes of a Stripe event: picked, wrapped, written compactly with sorted keys. */
const transformed = (id, type, amount) =>
  JSON.stringify({ event: { data: { object: { amount } }, id, type }, source: "dashboard" });

let rig;
let relay;
let dest;
let browser;
let page;
let ep;
let stored; // type -> the stored event's id

before(async () => {
  rig = await startDashboard("dashboard-routes");
  ({ relay, dest, browser, page } = rig);
  ep = await relay.createEndpoint({ name: "stripe shop", provider: "stripe", secrets: [SECRET], destination_url: dest.route("/shop-all") });
  stored = {};
  for (const [type, amount] of [["payment_intent.succeeded", 1050], ["customer.created", null]]) {
    const { json } = await send(`evt_stored_${type.split(".")[0]}`, type, amount);
    stored[type] = json.id;
  }
});

after(() => rig?.stop());

/** A Stripe-signed event to the endpoint, with spacing a re-serialisation would change. */
async function send(id, type, amount) {
  const body = Buffer.from(`{"id": "${id}", "type": "${type}",  "data": {"object": {"amount": ${amount}, "card": "4242"}}}`);
  const ack = await relay.ingest(ep.id, body, sign.stripe(SECRET, body));
  assert.equal(ack.status, 200, ack.text);
  return ack;
}

async function keyFor(role) {
  const res = await relay.api("POST", "/keys", { name: `routes ${role}`, role });
  assert.equal(res.status, 201, res.text);
  return res.json.key;
}

const signIn = (p, key) => rig.signIn(p, key);

/** From the endpoint's card to its routes page. */
async function openRoutes(p) {
  await p.goto(`${relay.url}/dashboard/#/endpoints`);
  await p.locator("[data-testid=endpoint-card]", { hasText: "stripe shop" }).locator("a", { hasText: "Routes" }).click();
  await p.waitForSelector("[data-testid=routes-table] tbody tr");
}

const verdict = (p) => p.textContent("[data-testid=verdict] .pill");
async function waitVerdict(p, text) {
  await p.waitForFunction((t) => document.querySelector("[data-testid=verdict] .pill")?.textContent === t, text);
}
const routeRows = (p) => p.locator("[data-testid=routes-table] tbody tr");

/** A full-page screenshot from the top (the sticky bar stays where it belongs). */
async function shot(p, name) {
  await p.evaluate(() => window.scrollTo(0, 0));
  await screenshot(p, name);
}

/** The same at phone size, from the top. */
async function phoneShot(p, name) {
  await p.evaluate(() => window.scrollTo(0, 0));
  await phoneScreenshot(p, name);
}

it("an editor adds a payment_intent.* route with a transformation beside the live tester; a webhook reaches it transformed", async () => {
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error" && /Content Security Policy|Refused/.test(m.text())) errors.push(m.text()); });
  let testCalls = 0;
  page.on("request", (r) => { if (new URL(r.url()).pathname === "/api/v1/routes/test") testCalls += 1; });

  await signIn(page, await keyFor("editor"));
  await openRoutes(page);
  assert.equal(await routeRows(page).count(), 1, "the endpoint is its own first route");
  assert.match(await routeRows(page).first().textContent(), /stripe shop\s*first.*every request.*as received/s);
  assert.equal(await page.locator("[data-testid=routes-table] button", { hasText: "Delete" }).count(), 0, "an editor deletes nothing");

  await page.click("[data-testid=add-route]");
  await page.fill("#f-name", "payments");
  await page.fill("#f-destination_url", dest.route("/shop-payments"));
  await page.fill("#f-event_types", "payment_intent.*");
  await page.fill("#f-transform", JSON.stringify(TRANSFORM, null, 2));

  // A stored payment_intent event: taken, and what would be sent is the transformed body.
  await page.selectOption("[data-testid=tester-source]", stored["payment_intent.succeeded"]);
  await waitVerdict(page, "matches");
  await page.waitForFunction(() => document.querySelector("[data-testid=sent-body]")?.textContent.includes("dashboard"));
  assert.deepEqual(JSON.parse(await page.textContent("[data-testid=sent-body]")),
    JSON.parse(transformed("evt_stored_payment_intent", "payment_intent.succeeded", 1050)));
  assert.match(await page.textContent("[data-testid=sent-headers]"), /x-route\s*payments/);
  const sentHeaders = await page.textContent("[data-testid=sent-headers]");
  assert.match(sentHeaders, /stripe-signature\s*•+ redacted/);
  assert.doesNotMatch(sentHeaders, /user-agent/, "the relay writes its own user-agent");
  await shot(page, "10-route-tester-matches");

  // Another type: not taken, nothing would be sent.
  await page.selectOption("[data-testid=tester-source]", stored["customer.created"]);
  await waitVerdict(page, "does not match");
  assert.equal(await page.locator("[data-testid=sent-body]").count(), 0);
  assert.match(await page.textContent("[data-testid=verdict]"), /event type\s*customer\.created/);

  // A pasted sample, read with the endpoint's provider (Stripe: the body's type).
  await page.selectOption("[data-testid=tester-source]", "sample");
  await page.fill("#t-body", '{"id": "evt_pasted", "type": "payment_intent.created", "data": {"object": {"amount": 7}}}');
  await page.fill("#t-headers", "content-type: application/json");
  await waitVerdict(page, "matches");
  await page.waitForFunction(() => document.querySelector("[data-testid=sent-body]")?.textContent.includes("evt_pasted"));
  assert.deepEqual(JSON.parse(await page.textContent("[data-testid=sent-body]")),
    JSON.parse(transformed("evt_pasted", "payment_intent.created", 7)));
  await page.fill("#t-body", '{"id": "evt_pasted", "type": "charge.refunded"}');
  await waitVerdict(page, "does not match");

  // JSON that does not parse is shown at once, without asking the relay.
  await sleep(500);
  const callsBefore = testCalls;
  assert.ok(callsBefore >= 4, `the tester asked the relay for each change (${callsBefore} calls)`);
  await page.fill("#f-filter", '{"body": {"amount": ');
  await page.waitForSelector("[data-testid=tester-error]:has-text('not valid JSON')");
  assert.equal(await page.locator("[data-testid=verdict] .pill").count(), 0, "no stale verdict beside the error");
  await sleep(700);
  assert.equal(testCalls, callsBefore, "no call for a filter that is not JSON");

  // A malformed filter: the API's refusal, with the JSON path, in the tester and on save; nothing is created.
  await page.fill("#f-filter", '{"body": {"data": {"object": {"amount": {"$gt": "ten"}}}}}');
  await page.waitForSelector("[data-testid=tester-error]:has-text('body.data.object.amount.$gt')");
  assert.ok(testCalls > callsBefore, "valid JSON is tried by the relay");
  await page.click("[data-testid=route-form] button[type=submit]");
  const refused = page.locator("[data-testid=route-error]");
  await refused.waitFor();
  assert.match(await refused.textContent(), /^invalid_filter: body\.data\.object\.amount\.\$gt: /);
  await shot(page, "10-route-malformed-filter");
  assert.equal((await relay.api("GET", `/endpoints/${ep.id}/routes`)).json.data.length, 1, "a refused save creates nothing");

  // Fixed: the filter narrows to large amounts; the sample (amount 7) is no longer taken, the stored one (1050) is.
  await page.fill("#f-filter", '{"body": {"data": {"object": {"amount": {"$gte": 1000}}}}}');
  await page.fill("#t-body", '{"id": "evt_pasted", "type": "payment_intent.created", "data": {"object": {"amount": 7}}}');
  await waitVerdict(page, "does not match");
  await page.selectOption("[data-testid=tester-source]", stored["payment_intent.succeeded"]);
  await waitVerdict(page, "matches");
  await phoneShot(page, "10-route-editor-phone");

  await page.click("[data-testid=route-form] button[type=submit]");
  const secret = (await page.textContent("[data-testid=revealed-secret]")).trim();
  assert.match(secret, /^whsec_/);
  await page.click("dialog button:has-text('Done')");
  await routeRows(page).nth(1).waitFor();
  const row = routeRows(page).filter({ hasText: "payments" });
  assert.match(await row.textContent(), /payment_intent\.\*.*and.*\$gte/s);
  assert.equal(await row.locator(".badge", { hasText: "transforms" }).count(), 1);
  assert.equal(await page.locator("[data-testid=route-form]").count(), 0, "the editor closes on save");
  await shot(page, "10-routes-list");

  const [route] = (await relay.api("GET", `/endpoints/${ep.id}/routes`)).json.data.filter((r) => !r.first);
  assert.deepEqual([route.name, route.event_types, route.transform], ["payments", ["payment_intent.*"], TRANSFORM]);
  assert.deepEqual(route.filter, { body: { data: { object: { amount: { $gte: 1000 } } } } });

  // A webhook to the endpoint: the new route's destination gets it transformed, signed with the route's secret.
  const taken = await send("evt_live_pi", "payment_intent.succeeded", 2500);
  const skipped = await send("evt_live_small", "payment_intent.succeeded", 12);
  const other = await send("evt_live_customer", "customer.updated", 5000);
  assert.deepEqual([taken.json.events.length, skipped.json.events.length, other.json.events.length], [2, 1, 1]);
  const ok = (r) => r.answered === 200;
  const deadline = Date.now() + 30_000;
  while ((dest.to("/shop-payments").filter(ok).length < 1 || dest.to("/shop-all").filter(ok).length < 5) && Date.now() < deadline) {
    await sleep(200);
  }
  await sleep(500);
  const got = dest.to("/shop-payments");
  assert.equal(got.length, 1, "only the large payment_intent reaches the route");
  assert.equal(got[0].body.toString(), transformed("evt_live_pi", "payment_intent.succeeded", 2500));
  assert.equal(got[0].headers["x-route"], "payments");
  assert.ok(sign.verifyStandard(secret, got[0].headers, got[0].body), "signed with the secret the dashboard showed once");
  assert.equal(dest.to("/shop-all").filter(ok).length, 5, "the first route still takes everything");
  await assertConservation(relay, ep.id, { received: 6, delivered: 6 });
  await assertRouteConservation(relay, route.id, { events: 1, delivered: 1 });
  assert.deepEqual(errors, []);
});

it("a viewer sees the routes and no edit controls; an admin may delete an extra route but not the first", async () => {
  const viewer = await browser.context.newPage();
  await signIn(viewer, await keyFor("viewer"));
  await openRoutes(viewer);
  assert.equal(await routeRows(viewer).count(), 2);
  assert.match(await routeRows(viewer).filter({ hasText: "payments" }).textContent(), /payment_intent\.\*/);
  assert.equal(await viewer.locator("[data-testid=add-route], [data-testid=routes-table] button").count(), 0);
  const routeId = await routeRows(viewer).nth(1).getAttribute("data-id");
  await viewer.goto(`${relay.url}/dashboard/#/endpoints/${ep.id}/routes?route=${routeId}`);
  await viewer.waitForSelector("[data-testid=routes-table] tbody tr");
  assert.equal(await viewer.locator("[data-testid=route-form], [data-testid=route-tester]").count(), 0, "no editor by link either");
  await shot(viewer, "11-viewer-routes");
  await phoneShot(viewer, "11-viewer-routes-phone");
  await viewer.close();

  const admin = await browser.context.newPage();
  await signIn(admin, ADMIN_TOKEN);
  await openRoutes(admin);
  assert.equal(await routeRows(admin).first().locator("button", { hasText: "Delete" }).count(), 0, "the first route goes with the endpoint only");
  await routeRows(admin).filter({ hasText: "payments" }).locator("button", { hasText: "Delete" }).click();
  await admin.click("dialog button[value=ok]");
  await admin.waitForFunction(() => document.querySelectorAll("[data-testid=routes-table] tbody tr").length === 1);
  assert.equal((await relay.api("GET", `/routes/${routeId}`)).status, 404);
  await admin.close();
});
