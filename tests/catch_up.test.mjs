// Catch-up: what a provider sent while the relay did not ack it is recovered
// from the provider's own record. Stripe's events API and GitHub's hook
// deliveries are played by local servers that answer as the providers
// document; deliveries go over real HTTP to a destination the test controls.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay, sleep, waitFor } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import { startStripeApi, startGitHubApi, stripeEvent } from "./support/provider_apis.mjs";
import { assertConservation } from "./support/checks.mjs";
import * as sign from "./support/providers.mjs";

const HOT_WINDOW_S = 2;
const STRIPE_SECRET = "whsec_catch_up";
const STRIPE_KEY = "sk_test_catch_up_key";
const GITHUB_SECRET = "github-catch-up-secret";
const GITHUB_TOKEN = "ghp_catch_up_token";
const nowS = () => Math.floor(Date.now() / 1000);

let relay;
let dest;
const servers = [];

before(async () => {
  dest = await startDestination();
  // Finished events leave D1 for the archive after 2 s and dedup keys expire
  // after 1 s, so "already received" is proved from D1 and from the archive.
  relay = await Relay.start({ name: "catch-up", vars: { HOT_WINDOW_S: String(HOT_WINDOW_S), DEDUP_WINDOW_S: "1" } });
});

after(async () => {
  await relay?.stop();
  await dest?.close();
  for (const s of servers) await s.close();
});

const catchUp = (id, body) => relay.api("POST", `/endpoints/${id}/catch-up`, body);

/** The Stripe event ids the destination path received, each with how many times. */
function deliveredStripeIds(path) {
  const counts = new Map();
  for (const r of dest.to(path)) {
    const id = JSON.parse(r.body.toString()).id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe("catch-up from Stripe's events API", () => {
  it("recovers exactly the missed events, pages with a cursor, and skips those received (in D1 or archived)", async () => {
    const start = nowS() - 3600;
    const events = Array.from({ length: 1030 }, (_, n) => stripeEvent(n, start + n));
    const old = [stripeEvent(90001, start - 2 * 86400), stripeEvent(90002, start - 2 * 86400 + 1)];
    const stripe = await startStripeApi({ apiKey: STRIPE_KEY, events: [...events, ...old] });
    servers.push(stripe);
    const ep = await relay.createEndpoint({
      name: "shop", provider: "stripe", secrets: [STRIPE_SECRET], destination_url: dest.route("/stripe"),
      catch_up: { api_key: STRIPE_KEY, api_base: stripe.base },
    });
    assert.deepEqual(ep.catch_up, { api: "stripe_events", api_base: stripe.base, api_key_set: true });
    assert.ok(!JSON.stringify(ep).includes(STRIPE_KEY), "the key is write-only");

    // Three arrived as webhooks; one of them long enough ago that compaction
    // moved it to the archive and its dedup key expired. One was refused (a
    // wrong secret), which is what catch-up is for.
    const webhook = async (event, secret = STRIPE_SECRET) => {
      const body = Buffer.from(JSON.stringify(event));
      return relay.ingest(ep.id, body, sign.stripe(secret, body));
    };
    const archivedAck = await webhook(events[5]);
    assert.equal(archivedAck.status, 200, archivedAck.text);
    assert.equal((await webhook(events[7], "whsec_wrong")).status, 401);
    await relay.waitForEvent(archivedAck.json.id, (e) => e.status === "delivered");
    await sleep(HOT_WINDOW_S * 1000 + 1500);
    await relay.fireCron();
    assert.equal((await relay.event(archivedAck.json.id)).stored_in, "archive");
    const inD1 = [];
    for (const n of [500, 1020]) {
      const ack = await webhook(events[n]);
      assert.equal(ack.status, 200, ack.text);
      inD1.push(ack.json.id);
    }

    const since = new Date((start - 60) * 1000).toISOString();
    const first = await catchUp(ep.id, { since });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.json, { fetched: 1000, recovered: 998, duplicates: 2, next: events[30].id },
      "the 1,000 newest: #1029 to #30, of which #500 and #1020 were received");
    const second = await catchUp(ep.id, { since, cursor: first.json.next });
    assert.equal(second.status, 200, second.text);
    assert.deepEqual(second.json, { fetched: 30, recovered: 29, duplicates: 1 },
      "#29 to #0: #5 is in the archive, #7 (refused) is recovered; the old two are before since");
    const pages = stripe.requests.filter((r) => r.url.pathname === "/v1/events");
    assert.equal(pages.length, 11);
    assert.ok(pages.every((r) => r.url.searchParams.get("created[gte]") === String(start - 60)));

    // Everything is delivered exactly once, the three webhooks included.
    const stripeIds = events.map((e) => e.id);
    await waitFor("every event delivered", () => deliveredStripeIds("/stripe").size === stripeIds.length, 120_000);
    const delivered = deliveredStripeIds("/stripe");
    assert.deepEqual([...delivered.keys()].sort(), stripeIds.sort());
    assert.ok([...delivered.values()].every((n) => n === 1), "nothing delivered twice");

    // Sent again (keys expired, ingests still in D1 or archived): nothing new.
    const again = await catchUp(ep.id, { since });
    assert.deepEqual(again.json, { fetched: 1000, recovered: 0, duplicates: 1000, next: events[30].id });

    // A recovered event is an ordinary event that says where it came from;
    // its body is the event object as the API served it.
    const list = await relay.api("GET", `/events?endpoint_id=${ep.id}&q=${events[7].id}`);
    assert.equal(list.status, 200, list.text);
    assert.equal(list.json.data.length, 1);
    const recovered = await relay.event(list.json.data[0].id);
    assert.equal(recovered.source, "catch_up");
    assert.equal(recovered.event_type, "charge.succeeded");
    assert.equal(recovered.status, "delivered");
    assert.equal((await relay.event(inD1[0])).source, "webhook");
    const body = await fetch(`${relay.url}/api/v1/events/${recovered.id}/body`, { headers: { authorization: "Bearer test-admin-token" } });
    assert.deepEqual(JSON.parse(await body.text()), events[7]);

    await assertConservation(relay, ep.id, { received: 1030, delivered: 1030 });
  });

  it("answers clearly when it cannot run, and never echoes the key", async () => {
    const stripe = await startStripeApi({ apiKey: "sk_test_other", events: [] });
    servers.push(stripe);
    const ep = await relay.createEndpoint({
      name: "wrong key", provider: "stripe", secrets: [STRIPE_SECRET], destination_url: dest.route("/wrong"),
      catch_up: { api_key: STRIPE_KEY, api_base: stripe.base },
    });
    const refused = await catchUp(ep.id, { since: "2026-01-01" });
    assert.equal(refused.status, 502, refused.text);
    assert.equal(refused.json.error.code, "catch_up_refused");
    assert.match(refused.json.error.message, /401 to GET \/v1\/events/);
    assert.ok(!refused.text.includes(STRIPE_KEY));

    const closed = await startStripeApi({ apiKey: STRIPE_KEY, events: [] });
    await closed.close();
    await relay.api("PATCH", `/endpoints/${ep.id}`, { catch_up: { api_key: STRIPE_KEY, api_base: closed.base } });
    const unreachable = await catchUp(ep.id, { since: "2026-01-01" });
    assert.equal(unreachable.status, 502);
    assert.equal(unreachable.json.error.code, "catch_up_unreachable");

    for (const [body, why] of [[{}, /since/], [{ since: "soon" }, /RFC 3339/], [{ since: Date.now() + 60_000 }, /future/], [{ since: 1, page: 2 }, /page/]]) {
      const bad = await catchUp(ep.id, body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.equal(bad.json.error.code, "invalid_catch_up");
      assert.match(bad.json.error.message, why);
    }

    const cleared = await relay.api("PATCH", `/endpoints/${ep.id}`, { catch_up: null });
    assert.equal(cleared.json.catch_up, null);
    const unset = await catchUp(ep.id, { since: "2026-01-01" });
    assert.equal(unset.status, 409);
    assert.equal(unset.json.error.code, "catch_up_not_configured");

    const gitlab = await relay.api("POST", "/endpoints", {
      name: "gitlab", provider: "gitlab", secrets: ["t"], destination_url: dest.route("/gitlab"), catch_up: { token: "x" },
    });
    assert.equal(gitlab.status, 400);
    assert.match(gitlab.json.error.message, /offered for stripe, github/);
    const shape = await relay.api("PATCH", `/endpoints/${ep.id}`, { catch_up: { token: "x", repo: "a/b", hook_id: 1 } });
    assert.equal(shape.status, 400);
    assert.match(shape.json.error.message, /\{"api_key", "api_base"\?\}/);
    const switched = await relay.api("PATCH", `/endpoints/${ep.id}`, { catch_up: { api_key: "sk_test_other", api_base: stripe.base } });
    assert.equal(switched.status, 200);
    const toGitHub = await relay.api("PATCH", `/endpoints/${ep.id}`, { provider: "github" });
    assert.equal(toGitHub.status, 400, "a Stripe configuration cannot stay on a GitHub endpoint");
    assert.match(toGitHub.json.error.message, /catch_up/);

    const editorKey = (await relay.api("POST", "/keys", { name: "editor", role: "editor" })).json.key;
    const asEditor = await fetch(`${relay.url}/api/v1/endpoints/${ep.id}`, {
      method: "PATCH", headers: { authorization: `Bearer ${editorKey}`, "content-type": "application/json" },
      body: JSON.stringify({ catch_up: { api_key: "sk_mine", api_base: stripe.base } }),
    });
    assert.equal(asEditor.status, 403, "only an admin sets a credential");
    const editorRun = await fetch(`${relay.url}/api/v1/endpoints/${ep.id}/catch-up`, {
      method: "POST", headers: { authorization: `Bearer ${editorKey}`, "content-type": "application/json" },
      body: JSON.stringify({ since: "2026-01-01" }),
    });
    assert.equal(editorRun.status, 200, "an editor runs one");
  });
});

describe("catch-up from GitHub's hook deliveries", () => {
  it("asks GitHub to redeliver exactly the failed deliveries the relay never got", async () => {
    const ep = await relay.createEndpoint({
      name: "repo", provider: "github", secrets: [GITHUB_SECRET], destination_url: dest.route("/github"),
    });
    const github = await startGitHubApi({
      token: GITHUB_TOKEN, repo: "acme/shop", hookId: 77, hookUrl: `${relay.url}/${ep.id}`, secret: GITHUB_SECRET,
    });
    servers.push(github);
    const patched = await relay.api("PATCH", `/endpoints/${ep.id}`, {
      catch_up: { token: GITHUB_TOKEN, repo: "acme/shop", hook_id: 77, api_base: github.base },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.json.catch_up, { api: "github_redelivery", api_base: github.base, repo: "acme/shop", hook_id: 77, token_set: true });

    const push = (n) => ({ ref: "refs/heads/main", after: `sha${n}`, repository: { full_name: "acme/shop" } });
    // Before `since`: a failure that is out of scope.
    github.clock = () => Date.now() - 3 * 86400_000;
    await github.send(push("old"), { statusCode: 503 });
    github.clock = () => Date.now();
    const since = new Date(Date.now() - 3600_000).toISOString();
    await github.send(push(1)); // delivered
    const missed = await github.send(push(2), { statusCode: 503 }); // the relay was down
    const timedOut = await github.send(push(3), { statusCode: 0 }); // no answer at all
    const retried = await github.send(push(4), { statusCode: 502 });
    await github.send(push(4), { guid: retried }); // GitHub's own redelivery got through
    // The relay stored this one, but GitHub saw no answer in time.
    const lostAnswer = await github.send(push(5), { statusCode: 0 });
    const body5 = Buffer.from(JSON.stringify(push(5)));
    assert.equal((await relay.ingest(ep.id, body5, sign.github(GITHUB_SECRET, body5, { delivery: lostAnswer }))).status, 200);
    for (let n = 0; n < 120; n++) await github.send(push(`filler-${n}`), { statusCode: 200 });

    const first = await catchUp(ep.id, { since });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.json, { fetched: 126, recovered: 2, duplicates: 2 });
    const failedIds = (guid) => github.deliveries.filter((d) => d.guid === guid && !d.redelivery).map((d) => d.id);
    assert.deepEqual(github.redelivered.sort(), [...failedIds(missed), ...failedIds(timedOut)].sort(),
      "only the two the relay never received");
    const listed = github.requests.filter((r) => r.method === "GET");
    assert.equal(listed.length, 2, "two pages of 100");
    assert.equal(listed[1].url.searchParams.get("cursor"), "v1_100");

    // The redeliveries arrived signed at the ingest URL, as webhooks.
    for (const guid of [missed, timedOut]) {
      const found = await relay.api("GET", `/events?endpoint_id=${ep.id}&q=${guid}`);
      assert.equal(found.json.data.length, 1, guid);
      const event = await relay.waitForEvent(found.json.data[0].id, (e) => e.status === "delivered");
      assert.equal(event.source, "webhook");
      assert.equal(event.event_type, "push");
    }

    // Now GitHub lists them as delivered: nothing more to ask for.
    const again = await catchUp(ep.id, { since });
    assert.equal(again.json.recovered, 0);
    assert.equal(again.json.duplicates, 4);
    assert.equal(github.redelivered.length, 2);

    const wrongToken = await relay.api("PATCH", `/endpoints/${ep.id}`, {
      catch_up: { token: "ghp_wrong", repo: "acme/shop", hook_id: 77, api_base: github.base },
    });
    assert.equal(wrongToken.status, 200);
    const refused = await catchUp(ep.id, { since });
    assert.equal(refused.status, 502);
    assert.equal(refused.json.error.code, "catch_up_refused");
    assert.ok(!refused.text.includes("ghp_wrong"));
    await assertConservation(relay, ep.id);
  });
});
