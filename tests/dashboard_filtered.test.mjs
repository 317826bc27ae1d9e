// The dashboard's view of routes and filtered requests, in headless Chromium
// against the relay on workerd: an endpoint card shows `received = routed +
// filtered` and one line per route with that route's real figures; its
// "filtered" link lists the request no route accepted; after a filter change an
// editor's "Replay filtered" routes it and it is delivered. A viewer sees the
// list but no replay button. Screenshots go to test-output/dashboard/.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_TOKEN } from "./support/relay.mjs";
import { sequence } from "./support/destination.mjs";
import { startDashboard, screenshot, phoneScreenshot } from "./support/browser.mjs";
import { assertConservation, assertRequests } from "./support/checks.mjs";

let rig;
let relay;
let dest;
let browser;
let page;

before(async () => {
  rig = await startDashboard("dashboard-filtered");
  ({ relay, dest, browser, page } = rig);
});

after(() => rig?.stop());

async function send(endpointId, type) {
  const res = await relay.ingest(endpointId, JSON.stringify({ type, at: Date.now() }), { "content-type": "application/json" });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

it("shows the routed/filtered split and each route on the card, lists the filtered request, and routes it with Replay filtered", async () => {
  const ep = await relay.createEndpoint({ name: "billing", provider: "none", destination_url: dest.route("/billing") });
  assert.equal((await relay.api("PATCH", `/routes/${ep.id}`, { event_types: ["invoice.*"] })).status, 200);
  const added = await relay.api("POST", `/endpoints/${ep.id}/routes`, {
    name: "analytics", destination_url: dest.route("/analytics", sequence(422)), event_types: ["invoice.paid"],
  });
  assert.equal(added.status, 201, added.text);
  const analytics = added.json;

  const paid = await send(ep.id, "invoice.paid"); // both routes
  const created = await send(ep.id, "invoice.created"); // the first route only
  const customer = await send(ep.id, "customer.created"); // no route
  assert.equal(paid.events.length, 2);
  assert.equal(customer.status, "filtered");
  await relay.waitForEvent(created.id, (e) => e.status === "delivered");
  for (const id of paid.events) await relay.waitForEvent(id, (e) => e.status === "delivered" || e.status === "dead");
  assert.equal(dest.to("/billing").length, 2);
  assert.equal(dest.to("/analytics").length, 1);

  await rig.signIn(page, ADMIN_TOKEN);
  await page.goto(`${relay.url}/dashboard/#/endpoints`);
  const card = page.locator(`#card-${ep.id}`);
  await card.locator("[data-testid=requests]").waitFor();
  assert.equal((await card.locator("[data-testid=requests]").textContent()).replace(/\s+/g, " ").trim(),
    "Requests received 3 = routed 2 + filtered 1");
  const first = card.locator(`li[data-route-id="${ep.id}"]`);
  const second = card.locator(`li[data-route-id="${analytics.id}"]`);
  assert.match(await first.textContent(), /billing/);
  assert.equal(await first.locator("[data-testid=route-figures]").textContent(), "2 delivered · 0 dead · 0 in flight · streak 0");
  assert.match(await second.textContent(), /analytics/);
  assert.match(await second.textContent(), new RegExp(dest.route("/analytics").replace(/[.]/g, "\\.")));
  assert.equal(await second.locator("[data-testid=route-figures]").textContent(), "0 delivered · 1 dead · 0 in flight · streak 0");
  assert.equal(await card.locator("li.route").count(), 2);
  await screenshot(page, "20-endpoint-requests-and-routes");

  await card.locator("[data-testid=filtered-link]").click();
  await page.waitForSelector("[data-testid=ingests-table] tr[data-status=filtered]");
  const rows = page.locator("[data-testid=ingests-table] tbody tr");
  assert.equal(await rows.count(), 1);
  const [ingest] = (await relay.api("GET", `/ingests?endpoint_id=${ep.id}&status=filtered`)).json.data;
  assert.equal(await rows.first().getAttribute("data-id"), ingest.id);
  assert.match(await rows.first().textContent(), /customer\.created/);
  assert.match(await page.textContent("[data-testid=ingests-summary]"), /received 3 = routed 2 \+ filtered 1/);
  await screenshot(page, "21-filtered-requests");
  await phoneScreenshot(page, "21-filtered-requests-phone");

  // Nothing accepts it yet: the replay says so and keeps it.
  await page.click("[data-testid=replay-filtered]");
  await page.waitForSelector("[data-testid=replay-result]:has-text('Routed 0; 1 still filtered')");
  assert.equal(await rows.count(), 1);

  assert.equal((await relay.api("PATCH", `/routes/${ep.id}`, { event_types: ["invoice.*", "customer.*"] })).status, 200);
  await page.click("[data-testid=replay-filtered]");
  await page.waitForSelector("[data-testid=replay-result]:has-text('Routed 1; 0 still filtered')");
  await page.waitForSelector("[data-testid=ingests-table] td:has-text('Nothing filtered')");
  const routed = await relay.api("GET", `/ingests/${ingest.id}`);
  assert.equal(routed.json.status, "routed");
  assert.equal(routed.json.event_ids.length, 1);
  await relay.waitForEvent(routed.json.event_ids[0], (e) => e.status === "delivered");
  assert.equal(dest.to("/billing").length, 3);
  await assertConservation(relay, ep.id, { received: 4, delivered: 3, dead: 1 });
  await assertRequests(relay, ep.id, { received: 3, routed: 3, filtered: 0 });

  // A viewer sees the list, not the replay.
  const key = (await relay.api("POST", "/keys", { name: "filtered viewer", role: "viewer" })).json.key;
  const viewer = await browser.context.newPage();
  await rig.signIn(viewer, key);
  await viewer.goto(`${relay.url}/dashboard/#/ingests?endpoint_id=${ep.id}&status=routed`);
  await viewer.waitForSelector(`[data-testid=ingests-table] tr[data-id="${ingest.id}"]`);
  assert.equal(await viewer.locator("[data-testid=replay-filtered]").count(), 0);
  await viewer.close();
});
