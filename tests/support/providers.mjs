// Signs requests the way each provider does, written independently of the Rust
// code (node:crypto), and verifies the relay's own Standard Webhooks signature.
import { createHmac, generateKeyPairSync, randomUUID, sign as cryptoSign, timingSafeEqual } from "node:crypto";

const hmac = (key, data) => createHmac("sha256", key).update(data);
const now = () => Math.floor(Date.now() / 1000);

export function github(secret, body, { delivery = randomUUID(), event = "push" } = {}) {
  return {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": delivery,
    "x-hub-signature-256": `sha256=${hmac(secret, body).digest("hex")}`,
  };
}

export function stripe(secret, body, { t = now() } = {}) {
  return {
    "content-type": "application/json; charset=utf-8",
    "stripe-signature": `t=${t},v1=${hmac(secret, Buffer.concat([Buffer.from(`${t}.`), Buffer.from(body)])).digest("hex")}`,
  };
}

export function shopify(secret, body, { webhookId = randomUUID(), topic = "orders/create" } = {}) {
  return {
    "content-type": "application/json",
    "x-shopify-topic": topic,
    "x-shopify-webhook-id": webhookId,
    "x-shopify-hmac-sha256": hmac(secret, body).digest("base64"),
  };
}

export function standard(secret, body, { id = `msg_${randomUUID()}`, t = now() } = {}) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signed = Buffer.concat([Buffer.from(`${id}.${t}.`), Buffer.from(body)]);
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(t),
    "webhook-signature": `v1,${hmac(key, signed).digest("base64")}`,
  };
}

/** True when `headers` carry a valid Standard Webhooks signature of `body` under `secret`. */
export function verifyStandard(secret, headers, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signed = Buffer.concat([Buffer.from(`${headers["webhook-id"]}.${headers["webhook-timestamp"]}.`), body]);
  const expected = hmac(key, signed).digest();
  return (headers["webhook-signature"] ?? "").split(" ").some((entry) => {
    const [version, sig] = entry.split(",");
    const given = Buffer.from(sig ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export const newSecret = () => `whsec_${Buffer.from(randomUUID().replace(/-/g, ""), "hex").toString("base64")}`;

export function slack(secret, body, { t = now() } = {}) {
  const base = Buffer.concat([Buffer.from(`v0:${t}:`), Buffer.from(body)]);
  return {
    "content-type": "application/json",
    "x-slack-request-timestamp": String(t),
    "x-slack-signature": `v0=${hmac(secret, base).digest("hex")}`,
  };
}

export function paddle(secret, body, { t = now() } = {}) {
  const signed = Buffer.concat([Buffer.from(`${t}:`), Buffer.from(body)]);
  return { "content-type": "application/json", "paddle-signature": `ts=${t};h1=${hmac(secret, signed).digest("hex")}` };
}

export function zoom(secret, body, { t = now() } = {}) {
  const base = Buffer.concat([Buffer.from(`v0:${t}:`), Buffer.from(body)]);
  return {
    "content-type": "application/json",
    "x-zm-request-timestamp": String(t),
    "x-zm-signature": `v0=${hmac(secret, base).digest("hex")}`,
  };
}

/** Discord signs with Ed25519; the endpoint's secret is the public key in hex. */
export function discordKeys() {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const publicHex = publicKey.export({ format: "der", type: "spki" }).subarray(-32).toString("hex");
  return { publicHex, privateKey };
}

export function discord(privateKey, body, { t = now() } = {}) {
  const signature = cryptoSign(null, Buffer.concat([Buffer.from(String(t)), Buffer.from(body)]), privateKey);
  return { "content-type": "application/json", "x-signature-ed25519": signature.toString("hex"), "x-signature-timestamp": String(t) };
}

export function twitch(secret, body, { id = randomUUID(), t = new Date().toISOString(), type = "notification" } = {}) {
  const signed = Buffer.concat([Buffer.from(id + t), Buffer.from(body)]);
  return {
    "content-type": "application/json",
    "twitch-eventsub-message-id": id,
    "twitch-eventsub-message-timestamp": t,
    "twitch-eventsub-message-type": type,
    "twitch-eventsub-message-signature": `sha256=${hmac(secret, signed).digest("hex")}`,
  };
}
