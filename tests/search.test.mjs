// Search fields: an endpoint names paths into its JSON bodies; the values found
// there at receipt are what the events list's `q` also matches, exactly, and
// only for that endpoint's events.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Relay } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import * as sign from "./support/providers.mjs";

const SECRET = "whsec_search_fields";
let relay;
let dest;

before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "search" });
});

after(async () => {
  await relay?.stop();
  await dest?.close();
});

/** Sends a Stripe charge for `email` and `amount`; returns the acked event id. */
async function charge(ep, n, email, amount) {
  const body = Buffer.from(JSON.stringify({
    id: `evt_search_${ep.id.slice(-6)}_${n}`, type: "charge.succeeded",
    data: { object: { customer_email: email, amount, items: [{ sku: `SKU-${n}` }] } },
  }));
  const ack = await relay.ingest(ep.id, body, sign.stripe(SECRET, body));
  assert.equal(ack.status, 200, ack.text);
  return ack.json.id;
}

async function search(q, endpointId) {
  const query = new URLSearchParams({ q, ...(endpointId ? { endpoint_id: endpointId } : {}) });
  const res = await relay.api("GET", `/events?${query}`);
  assert.equal(res.status, 200, res.text);
  return res.json.data.map((e) => e.id).sort();
}

describe("search fields", () => {
  it("find exactly the events whose body holds the value, of the endpoints that name the field", async () => {
    const shop = await relay.createEndpoint({
      name: "shop", provider: "stripe", secrets: [SECRET], destination_url: dest.route("/shop"),
      search_fields: ["data.object.customer_email", "data.object.amount", "data.object.items.0.sku"],
    });
    assert.deepEqual(shop.search_fields, ["data.object.customer_email", "data.object.amount", "data.object.items.0.sku"]);
    const plain = await relay.createEndpoint({
      name: "plain", provider: "stripe", secrets: [SECRET], destination_url: dest.route("/plain"),
    });
    assert.deepEqual(plain.search_fields, []);

    const bob1 = await charge(shop, 1, "bob@example.com", 4200);
    const bob2 = await charge(shop, 2, "bob@example.com", 990);
    const alice = await charge(shop, 3, "alice@example.com", 4200);
    const unindexed = await charge(plain, 4, "bob@example.com", 4200);

    assert.deepEqual(await search("alice@example.com"), [alice]);
    assert.deepEqual(await search("bob@example.com"), [bob1, bob2].sort(), "not the endpoint without search fields");
    assert.deepEqual(await search("4200"), [alice, bob1].sort(), "numbers as JSON writes them");
    assert.deepEqual(await search("SKU-2"), [bob2], "an array index in the path");
    assert.deepEqual(await search("bob@example.com", plain.id), []);
    assert.deepEqual(await search("bob@example.com", shop.id), [bob1, bob2].sort());
    assert.deepEqual(await search("Bob@example.com"), [], "exact, case and all");
    assert.deepEqual(await search("bob@"), [], "exact, not a prefix");
    // Delivery ids still work beside them.
    assert.deepEqual(await search(`evt_search_${plain.id.slice(-6)}_4`), [unindexed]);

    // Cleared: later events are not indexed; earlier ones still are.
    const cleared = await relay.api("PATCH", `/endpoints/${shop.id}`, { search_fields: [] });
    assert.equal(cleared.status, 200, cleared.text);
    assert.deepEqual(cleared.json.search_fields, []);
    await charge(shop, 5, "carol@example.com", 1);
    assert.deepEqual(await search("carol@example.com"), []);
    assert.deepEqual(await search("alice@example.com"), [alice]);
  });

  it("refuses paths it cannot read, naming the bad one", async () => {
    for (const search_fields of [["a", "b", "c", "d", "e", "f"], ["data..email"], [""], "data.email"]) {
      const res = await relay.api("POST", "/endpoints", {
        name: "bad", provider: "none", destination_url: dest.route("/bad"), search_fields,
      });
      assert.equal(res.status, 400, `${JSON.stringify(search_fields)}: ${res.text}`);
      assert.ok(res.json.error.code, res.text);
    }
    const res = await relay.api("POST", "/endpoints", {
      name: "bad", provider: "none", destination_url: dest.route("/bad"), search_fields: ["ok", "x..y"],
    });
    assert.match(res.json.error.message, /search_fields\[1\]/);
  });
});
