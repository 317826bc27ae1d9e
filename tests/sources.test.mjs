// Sources on workerd: more provider schemes end to end, the handshakes the relay
// answers itself (never stored), secret rotation with expiry, the source
// allowlist, disabled endpoints, and the rejections log with redacted headers.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Relay, sleep, ADMIN_TOKEN } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation } from "./support/checks.mjs";

let relay;
let dest;
let routes = 0;
before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "sources" });
});
after(async () => {
  await relay?.stop();
  await dest?.close();
});

const delivered = (e) => e.status === "delivered";

async function endpoint(provider, secrets, extra = {}) {
  const path = `/sources-${++routes}`;
  const ep = await relay.createEndpoint({ name: path, provider, secrets, destination_url: dest.route(path), ...extra });
  return { ep, path };
}

async function eventCount(epId) {
  return (await relay.api("GET", `/events?endpoint_id=${epId}`)).json.data.length;
}

async function deliveredByteExact(ep, path, body, headers) {
  const res = await relay.ingest(ep.id, body, headers);
  assert.equal(res.status, 200, res.text);
  await relay.waitForEvent(res.json.id, delivered);
  const got = dest.to(path).find((r) => r.headers["webhook-id"] === res.json.id);
  assert.ok(got.body.equals(Buffer.from(body)), "byte-identical");
  assert.ok(sign.verifyStandard(ep.relay_secret, got.headers, got.body));
  return res.json.id;
}

describe("provider schemes end to end", () => {
  it("slack: url_verification is answered after the signature check and never stored; events are delivered", async () => {
    const secret = "slack-signing-secret";
    const { ep, path } = await endpoint("slack", [secret]);
    const challenge = JSON.stringify({ token: "t", challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", type: "url_verification" });
    const answered = await relay.ingest(ep.id, challenge, sign.slack(secret, challenge));
    assert.equal(answered.status, 200);
    assert.equal(answered.text, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    const unsigned = await relay.ingest(ep.id, challenge, { "content-type": "application/json" });
    assert.equal(unsigned.status, 401, "a handshake is verified like any request");
    assert.equal(await eventCount(ep.id), 0, "handshakes are not events");
    const event = JSON.stringify({ type: "event_callback", event: { type: "app_mention", text: "hi" } });
    await deliveredByteExact(ep, path, event, sign.slack(secret, event));
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("paddle: delivered, and its event_id dedups", async () => {
    const secret = "pdl_ntfset_secret";
    const { ep, path } = await endpoint("paddle", [secret]);
    const body = JSON.stringify({ event_id: "evt_01h8bx", event_type: "transaction.completed", data: {} });
    const id = await deliveredByteExact(ep, path, body, sign.paddle(secret, body));
    const again = await relay.ingest(ep.id, body, sign.paddle(secret, body, { t: Math.floor(Date.now() / 1000) + 1 }));
    assert.deepEqual(again.json, { id, duplicate: true });
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("zoom: endpoint.url_validation answers plainToken and its HMAC; events are delivered", async () => {
    const secret = "zoom-secret-token";
    const { ep, path } = await endpoint("zoom", [secret]);
    const validation = JSON.stringify({ event: "endpoint.url_validation", payload: { plainToken: "qgg8vlvZRS6UYooatFL8Aw" } });
    const answered = await relay.ingest(ep.id, validation, sign.zoom(secret, validation));
    assert.equal(answered.status, 200);
    assert.deepEqual(answered.json, {
      plainToken: "qgg8vlvZRS6UYooatFL8Aw",
      encryptedToken: createHmac("sha256", secret).update("qgg8vlvZRS6UYooatFL8Aw").digest("hex"),
    });
    const event = JSON.stringify({ event: "meeting.started", payload: { object: { id: 1 } } });
    await deliveredByteExact(ep, path, event, sign.zoom(secret, event));
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("discord: Ed25519 verified, PING answered with PONG, bad signatures refused, events delivered", async () => {
    const keys = sign.discordKeys();
    const { ep, path } = await endpoint("discord", [keys.publicHex]);
    const ping = JSON.stringify({ id: "1", application_id: "2", type: 1 });
    const pong = await relay.ingest(ep.id, ping, sign.discord(keys.privateKey, ping));
    assert.equal(pong.status, 200);
    assert.deepEqual(pong.json, { type: 1 });
    const forged = await relay.ingest(ep.id, ping, sign.discord(sign.discordKeys().privateKey, ping));
    assert.equal(forged.status, 401);
    assert.equal(forged.json.error.code, "signature_mismatch");
    const event = JSON.stringify({ version: 1, application_id: "2", type: 1, event: { type: "APPLICATION_AUTHORIZED", data: {} } });
    await deliveredByteExact(ep, path, event, sign.discord(keys.privateKey, event));
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("twitch: the callback verification challenge is echoed as text/plain", async () => {
    const secret = "twitch-secret-0123";
    const { ep } = await endpoint("twitch", [secret]);
    const body = JSON.stringify({ challenge: "pogchamp-kappa-360noscope-vohiyo", subscription: { type: "channel.follow" } });
    const res = await fetch(`${relay.url}/${ep.id}`, {
      method: "POST", body, headers: sign.twitch(secret, body, { type: "webhook_callback_verification" }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/plain/);
    assert.equal(await res.text(), "pogchamp-kappa-360noscope-vohiyo");
    assert.equal(await eventCount(ep.id), 0);
  });

  it("generic hmac: the operator's configuration is verified, used for dedup, and validated on create", async () => {
    const secret = "generic-secret";
    const hmacConfig = { header: "x-sig", algorithm: "sha512", encoding: "base64", prefix: "sha512=",
      template: "{timestamp}.{body}", timestamp_header: "x-ts", id_header: "x-id" };
    const { ep, path } = await endpoint("hmac", [secret], { scheme_config: { hmac: hmacConfig } });
    const body = '{"thing":"happened"}';
    const signFor = (t, id) => ({
      "content-type": "application/json", "x-ts": String(t), "x-id": id,
      "x-sig": `sha512=${createHmac("sha512", secret).update(`${t}.${body}`).digest("base64")}`,
    });
    const t = Math.floor(Date.now() / 1000);
    const id = await deliveredByteExact(ep, path, body, signFor(t, "delivery-7"));
    assert.deepEqual((await relay.ingest(ep.id, body, signFor(t + 1, "delivery-7"))).json, { id, duplicate: true });
    const stale = await relay.ingest(ep.id, body, signFor(t - 3600, "delivery-8"));
    assert.equal(stale.status, 401);
    const bad = await relay.api("POST", "/endpoints", { name: "x", provider: "hmac", secrets: ["s"], destination_url: dest.base,
      scheme_config: { hmac: { header: "x-sig", template: "{timestamp}.{body}" } } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /timestamp/);
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });
});

describe("GET handshakes", () => {
  it("meta subscribe echoes the challenge for the right verify token only; dropbox and okta answer; others 405", async () => {
    const { ep: meta } = await endpoint("whatsapp", ["meta-app-secret"], { verify_token: "my-verify-token" });
    assert.equal(meta.provider, "meta", "whatsapp is stored as meta");
    const ok = await fetch(`${relay.url}/${meta.id}?hub.mode=subscribe&hub.verify_token=my-verify-token&hub.challenge=1158201444`);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), "1158201444");
    const wrong = await fetch(`${relay.url}/${meta.id}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1`);
    assert.equal(wrong.status, 403);
    const { ep: dropbox } = await endpoint("dropbox", ["dropbox-app-secret"]);
    const echo = await fetch(`${relay.url}/${dropbox.id}?challenge=dbx-challenge-42`);
    assert.equal(echo.status, 200);
    assert.equal(echo.headers.get("x-content-type-options"), "nosniff");
    assert.equal(await echo.text(), "dbx-challenge-42");
    const { ep: okta } = await endpoint("okta", ["Bearer okta-hook-secret"]);
    const challenge = { "x-okta-verification-challenge": "Okta-Challenge-Value-42" };
    const verified = await fetch(`${relay.url}/${okta.id}`, { headers: { ...challenge, authorization: "Bearer okta-hook-secret" } });
    assert.equal(verified.status, 200);
    assert.deepEqual(await verified.json(), { verification: "Okta-Challenge-Value-42" });
    const anonymous = await fetch(`${relay.url}/${okta.id}`, { headers: challenge });
    assert.equal(anonymous.status, 401, "Okta's verification is authenticated like its events");
    const { ep: github } = await endpoint("github", ["s"]);
    const get = await fetch(`${relay.url}/${github.id}`);
    assert.equal(get.status, 405);
    assert.equal((await get.json()).error.code, "method_not_allowed");
    for (const ep of [meta, dropbox, okta, github]) assert.equal(await eventCount(ep.id), 0);
  });
});

describe("secret rotation", () => {
  it("the previous secret stays valid until its expiry, then is refused", async () => {
    const { ep } = await endpoint("github", ["old-secret"]);
    const body = '{"rotation":true}';
    const rotated = await relay.api("POST", `/endpoints/${ep.id}/secrets/rotate`, { secret: "new-secret", expire_previous_in_s: 2 });
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal(rotated.json.secrets_count, 2);
    assert.equal(rotated.json.secret, undefined, "a given secret is not echoed");
    assert.ok(!rotated.text.includes("old-secret") && !rotated.text.includes("new-secret"));
    assert.equal((await relay.ingest(ep.id, body, sign.github("old-secret", body))).status, 200);
    assert.equal((await relay.ingest(ep.id, body, sign.github("new-secret", body))).status, 200);
    await sleep(2500);
    const expired = await relay.ingest(ep.id, body, sign.github("old-secret", body));
    assert.equal(expired.status, 401);
    assert.equal(expired.json.error.code, "signature_mismatch");
    assert.equal((await relay.ingest(ep.id, body, sign.github("new-secret", body))).status, 200);

    const needsOne = await relay.api("POST", `/endpoints/${ep.id}/secrets/rotate`, {});
    assert.equal(needsOne.status, 400);
    assert.equal(needsOne.json.error.code, "secret_required");
    const { ep: std } = await endpoint("standard", [sign.newSecret()]);
    const minted = await relay.api("POST", `/endpoints/${std.id}/secrets/rotate`);
    assert.match(minted.json.secret, /^whsec_/, "the relay makes standard secrets and shows them once");
  });
});

describe("refusals", () => {
  it("an allowlist refuses other sources; a disabled endpoint refuses everything", async () => {
    const { ep } = await endpoint("none", [], { allowed_cidrs: ["192.0.2.0/24"] });
    const refused = await relay.ingest(ep.id, "from-elsewhere");
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.code, "ip_not_allowed");
    const bad = await relay.api("PATCH", `/endpoints/${ep.id}`, { allowed_cidrs: ["10.0.0.0/33"] });
    assert.equal(bad.status, 400);
    await relay.api("PATCH", `/endpoints/${ep.id}`, { allowed_cidrs: ["127.0.0.0/8", "::1/128"] });
    const local = await relay.ingest(ep.id, "from-loopback");
    assert.equal(local.status, 200, `${local.text} (the local runtime reports the client as loopback)`);
    await relay.api("PATCH", `/endpoints/${ep.id}`, { disabled: true });
    const disabled = await relay.ingest(ep.id, "anything");
    assert.equal(disabled.status, 403);
    assert.equal(disabled.json.error.code, "endpoint_disabled");
    const logged = async () => (await relay.api("GET", `/endpoints/${ep.id}/rejections`)).json;
    for (let i = 0; i < 25 && !(await logged()).counts.endpoint_disabled; i++) await sleep(100);
    const log = await logged();
    assert.equal(log.counts.endpoint_disabled, 1, "refusals of a known endpoint are logged under it");
    assert.equal(log.counts.ip_not_allowed, 1);
  });

  it("are logged per endpoint with redacted headers and counted per reason", async () => {
    const secret = "whsec_rejections_secret";
    const { ep } = await endpoint("stripe", [secret]);
    const body = '{"id":"evt_rejected"}';
    const forged = sign.stripe("attacker-guess", body);
    const signatureValue = forged["stripe-signature"].split("v1=")[1];
    await relay.ingest(ep.id, body, forged);
    await relay.ingest(ep.id, body, sign.stripe(secret, body, { t: Math.floor(Date.now() / 1000) - 3600 }));
    await relay.ingest(ep.id, Buffer.alloc(70_000, "x"), sign.stripe(secret, "x"));
    await fetch(`${relay.url}/${ep.id}`, { method: "PUT", body: "x" });
    await relay.ingest("ep_00000000000000000000000000", body, forged);
    const log = await (async () => {
      for (let i = 0; i < 50; i++) {
        const res = await relay.api("GET", `/endpoints/${ep.id}/rejections`);
        if (res.json.data.length >= 4) return res;
        await sleep(100);
      }
      throw new Error("refusals were not recorded");
    })();
    assert.deepEqual(log.json.data.map((r) => r.reason),
      ["method_not_allowed", "payload_too_large", "timestamp_out_of_tolerance", "signature_mismatch"]);
    assert.deepEqual(log.json.counts, { method_not_allowed: 1, payload_too_large: 1, signature_mismatch: 1, timestamp_out_of_tolerance: 1 });
    const mismatch = log.json.data.at(-1);
    assert.equal(mismatch.body_size, body.length);
    assert.ok(Date.parse(mismatch.at) > Date.now() - 60_000);
    const header = mismatch.headers.find(([name]) => name === "stripe-signature");
    assert.ok(header, "the signature header is listed");
    assert.match(header[1], /redacted/);
    assert.ok(!log.text.includes(signatureValue), "the signature value is never shown");
    assert.ok(!log.text.includes(secret));
    assert.equal(log.json.data.some((r) => "body" in r), false, "no body is kept");
    const overall = await relay.api("GET", "/rejections");
    assert.ok(overall.json.counts.unknown_endpoint >= 1);
    await assertConservation(relay, ep.id, { received: 0 });
  });
});
