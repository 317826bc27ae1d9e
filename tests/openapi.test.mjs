// The OpenAPI document is the contract. This test fetches it from the running
// Worker, checks that it is a valid OpenAPI 3.1 document whose schemas compile,
// then calls every operation in it for real and checks each answer against the
// document: the status must be listed for that operation, the content type must
// be one it lists, and the body must validate against that response's schema.
// Bodies and parameters the relay accepted (2xx) must validate against the
// document's request schemas too, and bodies the test sends as invalid must be
// refused by both.
//
// Coverage is proved by walking the document at the end, not by a list kept
// here: every documented (operation, status) pair must have been answered at
// least once, except the few in NOT_PRODUCIBLE (with the reason), and every
// path must answer 405 to each method the document does not list for it.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { Relay, ADMIN_TOKEN } from "./support/relay.mjs";
import { startDestination, sequence } from "./support/destination.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation } from "./support/checks.mjs";
import { startStripeApi, stripeEvent } from "./support/provider_apis.mjs";

/** Documented answers a black-box test cannot provoke, keyed `METHOD template status` or `status`. */
const NOT_PRODUCIBLE = {
  500: "an internal error (a storage failure or a missing binding) cannot be caused from outside",
  "GET /{endpoint_id} 503": "only a failed D1 endpoint lookup answers 503 to a GET; the fault switches cover the POST path",
};

const METHODS = ["get", "put", "post", "delete", "patch"];
const DOC_ID = "https://hookrelay.invalid/openapi.json";
const MISSING_EP = "ep_00000000000000000000000000";
const MISSING_EVT = "evt_00000000000000000000000000";
const MISSING_ALC = "alc_00000000000000000000000000";

let relay;
let dest;
let contract;
let routes = 0;

before(async () => {
  dest = await startDestination();
  relay = await Relay.start({ name: "openapi" });
});

after(async () => {
  await relay?.stop();
  await dest?.close();
});

const pointerEscape = (s) => s.replace(/~/g, "~0").replace(/\//g, "~1");

/** The document, compiled: route matching, schema validators, and the record of answers seen. */
class Contract {
  constructor(doc) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true });
    addFormats(this.ajv);
    // The document's own fields, so strict mode accepts it as the root that `$ref`s point into.
    this.ajv.addVocabulary(["openapi", "info", "servers", "security", "tags", "paths", "components",
      "webhooks", "jsonSchemaDialect", "externalDocs"]);
    this.ajv.addSchema({ ...doc, $id: DOC_ID });
    this.validators = new Map();
    this.seen = new Map(); // "METHOD template" -> Set of statuses answered
    this.routes = Object.keys(doc.paths).map((template) => {
      const names = [];
      const source = template.split(/(\{[^}]+\})/).map((part) => {
        const m = part.match(/^\{([^}]+)\}$/);
        if (!m) return part.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
        names.push(m[1]);
        return "([^/]+)";
      }).join("");
      return { template, names, regex: new RegExp(`^${source}$`) };
    });
  }

  /** Follows a local `$ref` (`#/components/...`); returns the object and its JSON pointer. */
  deref(obj, pointer) {
    while (obj?.$ref) {
      assert.ok(obj.$ref.startsWith("#/"), `only local references: ${obj.$ref}`);
      pointer = obj.$ref.slice(1);
      obj = pointer.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
        .reduce((o, k) => o?.[k], this.doc);
      assert.ok(obj, `unresolved reference ${pointer}`);
    }
    return { obj, pointer };
  }

  validator(pointer) {
    if (!this.validators.has(pointer)) this.validators.set(pointer, this.ajv.compile({ $ref: `${DOC_ID}#${pointer}` }));
    return this.validators.get(pointer);
  }

  check(pointer, value) {
    const validate = this.validator(pointer);
    return validate(value) ? null : this.ajv.errorsText(validate.errors, { separator: "; " });
  }

  operations() {
    const out = [];
    for (const [template, item] of Object.entries(this.doc.paths)) {
      for (const method of METHODS) {
        if (item[method]) out.push({ template, method, op: item[method], pointer: `/paths/${pointerEscape(template)}/${method}` });
      }
    }
    return out;
  }

  /** The operation for a concrete request; a concrete path wins over a templated one. */
  match(method, pathname) {
    const hits = this.routes
      .map((r) => ({ r, m: pathname.match(r.regex) }))
      .filter(({ r, m }) => m && this.doc.paths[r.template][method])
      .sort((a, b) => a.r.names.length - b.r.names.length);
    if (!hits.length) return null;
    const { r, m } = hits[0];
    const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
    const item = this.doc.paths[r.template];
    return { template: r.template, op: item[method], params, pointer: `/paths/${pointerEscape(r.template)}` };
  }

  /** Parameter problems of a request, by the document's parameter schemas. */
  parameterErrors(found, pathParams, query) {
    const errors = [];
    const declared = [
      ...(this.doc.paths[found.template].parameters ?? []).map((p, i) => [p, `${found.pointer}/parameters/${i}`]),
      ...(found.op.parameters ?? []).map((p, i) => [p, `${found.pointer}/${found.method}/parameters/${i}`]),
    ].map(([p, ptr]) => this.deref(p, ptr));
    for (const { obj: p, pointer } of declared) {
      const raw = p.in === "path" ? pathParams[p.name] : p.in === "query" ? query.get(p.name) : undefined;
      if (raw === undefined || raw === null) {
        if (p.required) errors.push(`${p.name} is required`);
        continue;
      }
      const schema = this.deref(p.schema, `${pointer}/schema`).obj;
      const value = ["integer", "number"].includes(schema.type) && raw.trim() !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
      const err = this.check(`${pointer}/schema`, value);
      if (err) errors.push(`${p.in} parameter ${p.name}=${raw}: ${err}`);
    }
    for (const name of query.keys()) {
      if (!declared.some(({ obj }) => obj.in === "query" && obj.name === name)) errors.push(`undocumented query parameter ${name}`);
    }
    return errors;
  }

  /**
   * Makes a real request and checks the answer against the document. `body` is
   * sent as JSON unless `raw` (bytes or a string) is given. `bodyValid: false`
   * asserts that the document refuses the JSON body too.
   */
  async call(method, path, { body, raw, headers = {}, auth, token = ADMIN_TOKEN, expect, bodyValid } = {}) {
    const url = new URL(path, relay.url);
    const found = this.match(method.toLowerCase(), url.pathname);
    assert.ok(found, `${method} ${url.pathname} is not an operation of the document`);
    found.method = method.toLowerCase();
    const key = `${method.toUpperCase()} ${found.template}`;
    const sendHeaders = { ...headers };
    // The bearer token goes wherever the document asks for it, unless the caller says otherwise.
    auth ??= (found.op.security ?? this.doc.security ?? []).length > 0;
    if (auth) sendHeaders.authorization = `Bearer ${token}`;
    let payload = raw;
    let requestErrors = [];
    if (body !== undefined) {
      payload = typeof body === "string" ? body : JSON.stringify(body);
      sendHeaders["content-type"] ??= "application/json";
      const rb = found.op.requestBody && this.deref(found.op.requestBody, `${found.pointer}/${found.method}/requestBody`);
      assert.ok(rb?.obj.content?.["application/json"], `${key} documents no JSON request body`);
      let parsed;
      try { parsed = JSON.parse(payload); } catch { parsed = undefined; }
      const err = parsed === undefined ? "not JSON" : this.check(`${rb.pointer}/content/application~1json/schema`, parsed);
      if (err) requestErrors.push(`request body: ${err}`);
      if (bodyValid === false) assert.ok(err, `${key}: the document accepts a body the test meant as invalid: ${payload}`);
    }
    requestErrors.push(...this.parameterErrors(found, found.params, url.searchParams));

    const res = await fetch(url, { method, headers: sendHeaders, body: payload });
    const bytes = await readAnswer(res);
    const text = bytes.toString("utf8");
    const where = `${key} answered ${res.status} ${text.slice(0, 300)}`;

    if (expect !== undefined) assert.equal(res.status, expect, where);
    const listed = found.op.responses[String(res.status)];
    assert.ok(listed, `${where}: status ${res.status} is not documented for this operation`);
    if (res.status >= 200 && res.status < 300) {
      assert.deepEqual(requestErrors, [], `${where}: the relay accepted a request the document refuses`);
    }
    const { obj: spec, pointer: specPointer } = this.deref(listed, `${found.pointer}/${found.method}/responses/${res.status}`);
    let json;
    if (!spec.content) {
      assert.equal(bytes.length, 0, `${where}: the document lists no body`);
    } else {
      const contentType = (res.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      const media = [contentType, `${contentType.split("/")[0]}/*`, "*/*"].find((m) => spec.content[m]);
      assert.ok(media, `${where}: content type ${contentType} is not documented (${Object.keys(spec.content)})`);
      let value = text;
      if (media === "application/json") {
        try { json = JSON.parse(text); } catch { assert.fail(`${where}: not JSON`); }
        value = json;
      }
      if (spec.content[media].schema) {
        const err = this.check(`${specPointer}/content/${pointerEscape(media)}/schema`, value);
        assert.equal(err, null, `${where}: the body does not match the document: ${err}`);
      }
    }
    if (!this.seen.has(key)) this.seen.set(key, new Set());
    this.seen.get(key).add(res.status);
    return { status: res.status, json, text, bytes, headers: res.headers };
  }
}

/**
 * The answer's bytes; of an event stream (which never ends), its first
 * message or comment, and then the stream is cancelled.
 */
async function readAnswer(res) {
  if (!(res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    return Buffer.from(await res.arrayBuffer());
  }
  const reader = res.body.getReader();
  let bytes = Buffer.alloc(0);
  while (!bytes.includes("\n\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    bytes = Buffer.concat([bytes, value]);
  }
  await reader.cancel();
  return bytes;
}

const api = (method, path, opts) => contract.call(method, `/api/v1${path}`, opts);
const unauthorized = (method, path, opts = {}) =>
  api(method, path, { ...opts, auth: false, headers: { ...opts.headers }, expect: 401 });

async function endpoint(fields) {
  const path = `/openapi-${++routes}`;
  const res = await api("POST", "/endpoints", {
    body: { name: `openapi ${path}`, destination_url: dest.route(path, fields.plan), ...fields, plan: undefined },
    expect: 201,
  });
  return { ep: res.json, path };
}

async function waitForEvent(id, predicate, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = (await api("GET", `/events/${id}`, { expect: 200 })).json;
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`event ${id} never got there; last: ${JSON.stringify(last)}`);
}

describe("the document", () => {
  it("is served at /api/v1/openapi.json behind the bearer token, as the file in the repository", async () => {
    const anonymous = await fetch(`${relay.url}/api/v1/openapi.json`);
    assert.equal(anonymous.status, 401);
    const res = await fetch(`${relay.url}/api/v1/openapi.json`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const served = await res.json();
    const file = JSON.parse(readFileSync(new URL("../src/api/openapi.json", import.meta.url), "utf8"));
    assert.deepEqual(served, file, "the Worker serves an older document: rebuild it (scripts/build.sh)");
    contract = new Contract(served);
    // Now through the contract, so these answers are checked and counted too.
    await api("GET", "/openapi.json", { expect: 200 });
    await unauthorized("GET", "/openapi.json");
  });

  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(contract.doc));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, "3.1");
  });

  it("has unique operation ids, declares every path parameter, and every schema compiles in strict mode", () => {
    const ids = contract.operations().map(({ op }) => op.operationId);
    assert.equal(ids.filter(Boolean).length, ids.length, "every operation has an operationId");
    assert.equal(new Set(ids).size, ids.length, `duplicate operationId in ${ids}`);
    for (const { template, op, pointer } of contract.operations()) {
      const item = contract.doc.paths[template];
      const inPath = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = [...(item.parameters ?? []), ...(op.parameters ?? [])]
        .map((p) => contract.deref(p).obj).filter((p) => p.in === "path").map((p) => p.name).sort();
      assert.deepEqual(declared, inPath, `${pointer}: path parameters`);
      for (const [status, r] of Object.entries(op.responses)) {
        const { obj, pointer: rp } = contract.deref(r, `${pointer}/responses/${status}`);
        for (const media of Object.keys(obj.content ?? {})) contract.validator(`${rp}/content/${pointerEscape(media)}/schema`);
      }
      if (op.requestBody) {
        const { obj, pointer: rp } = contract.deref(op.requestBody, `${pointer}/requestBody`);
        for (const media of Object.keys(obj.content)) contract.validator(`${rp}/content/${pointerEscape(media)}/schema`);
      }
    }
    for (const name of Object.keys(contract.doc.components.schemas)) contract.validator(`/components/schemas/${name}`);
  });
});

describe("every operation answers as documented", () => {
  let none; // a `none` endpoint delivering to a destination that answers 200
  let delivered; // an event of it, delivered
  let deadEndpoint;

  it("health", async () => {
    await api("GET", "/health", { expect: 200 });
    await relay.fireCron();
    const ok = await api("GET", "/health", { expect: 200 });
    assert.equal(ok.json.status, "ok");
    assert.ok(ok.json.sweeper.last_report, "the sweeper's report is shown");
    await api("GET", `/health?endpoint_id=${MISSING_EP}`, { expect: 200 });
    const echoed = await api("GET", "/health?endpoint_id=ep_Unknown1", { expect: 200 });
    assert.equal(echoed.json.endpoint_id, "ep_Unknown1", "the id asked for is echoed as given");
    await api("GET", "/health?endpoint_id=nope", { expect: 400 });
    await unauthorized("GET", "/health");
    const wrongToken = await api("GET", "/health", { auth: false, headers: { authorization: "Bearer wrong" }, expect: 401 });
    assert.equal(wrongToken.json.error.code, "unauthorized");
  });

  it("providers: the registry, as the dashboard's form and docs/providers.md show it", async () => {
    const res = await api("GET", "/providers", { expect: 200 });
    const names = res.json.data.map((p) => p.name);
    assert.ok(names.length >= 60, `${names.length} providers`);
    assert.equal(new Set(names).size, names.length, "each provider once");
    assert.equal(names[0], "none");
    const github = res.json.data.find((p) => p.name === "github");
    assert.deepEqual(github.headers, ["x-hub-signature-256"]);
    assert.deepEqual(github.delivery_id, { from: "header", names: ["x-github-delivery"] });
    assert.equal(github.secret, "issued");
    const standard = res.json.data.find((p) => p.name === "standard");
    assert.ok(standard.aliases.includes("svix"));
    await unauthorized("GET", "/providers");
  });

  it("endpoints: create, list, read, edit", async () => {
    ({ ep: none } = await endpoint({ provider: "none" }));
    assert.match(none.relay_secret, /^whsec_/);
    assert.equal(none.destination_type, "push", "push is the default");
    assert.equal(none.retention_days, null, "the relay's retention is the default");
    const { ep: kept } = await endpoint({
      provider: "github", secrets: ["gh-secret"],
      retry: { schedule_s: [1, 2], max_attempts: 3, jitter: 0.1, max_delay_s: 60, retry_client_errors: false },
      timeout_ms: 5000, circuit: { threshold: 3, probe_interval_s: 5 }, rate_limit_per_s: 10, fifo: true,
      allowed_cidrs: ["127.0.0.0/8", "::1/128"], disabled: false, destination_type: "push", retention_days: 14.5,
    });
    assert.equal(kept.retention_days, 14.5);
    await endpoint({
      provider: "hmac", secrets: ["hmac-secret"],
      scheme_config: { hmac: { header: "x-sig", algorithm: "sha512", encoding: "base64", prefix: "v1=",
        template: "{id}.{timestamp}.{body}", timestamp_header: "x-ts", id_header: "x-id", tolerance_s: 60 } },
    });
    const apiKey = await endpoint({ provider: "api_key", secrets: ["key"], scheme_config: { api_key: { header: "x-token" } } });
    assert.deepEqual(apiKey.ep.scheme_config, { api_key: { header: "x-token" } });
    const svix = await endpoint({ provider: "svix", secrets: [sign.newSecret()], name: "aliased", verify_token: null });
    assert.equal(svix.ep.provider, "standard");

    await api("POST", "/endpoints", { body: { name: "x", provider: "none", destination_url: dest.base, colour: "red" }, expect: 400, bodyValid: false });
    await api("POST", "/endpoints", { body: { name: "x", provider: "github", destination_url: dest.base }, expect: 400, bodyValid: false });
    await api("POST", "/endpoints", { body: { name: "x", provider: "hmac", secrets: ["s"], destination_url: dest.base }, expect: 400, bodyValid: false });
    await api("POST", "/endpoints", { body: { name: "x", provider: "none", destination_url: dest.base, timeout_ms: 5 }, expect: 400, bodyValid: false });
    await api("POST", "/endpoints", { body: { name: "x", provider: "none", destination_url: "ftp://example.com/" }, expect: 400 });
    const pullWithUrl = await api("POST", "/endpoints", {
      body: { name: "x", provider: "none", destination_type: "pull", destination_url: dest.base }, expect: 400, bodyValid: false,
    });
    assert.equal(pullWithUrl.json.error.code, "invalid_destination");
    await api("POST", "/endpoints", { body: { name: "x", provider: "none", destination_type: "poll", destination_url: dest.base }, expect: 400, bodyValid: false });
    await api("POST", "/endpoints", { body: { name: "x", provider: "none", destination_url: dest.base, retention_days: 4000 }, expect: 400, bodyValid: false });
    await api("POST", "/endpoints", { body: "{not json", expect: 400, bodyValid: false });
    await unauthorized("POST", "/endpoints", { body: { name: "x", provider: "none", destination_url: dest.base } });

    const list = await api("GET", "/endpoints", { expect: 200 });
    assert.ok(list.json.data.length >= 5);
    await unauthorized("GET", "/endpoints");

    const read = await api("GET", `/endpoints/${none.id}`, { expect: 200 });
    assert.equal("fifo_blocked_by" in read.json, false, "only FIFO endpoints name a blocker");
    const fifo = list.json.data.find((e) => e.fifo);
    const fifoRead = await api("GET", `/endpoints/${fifo.id}`, { expect: 200 });
    assert.equal(fifoRead.json.fifo_blocked_by, null);
    await api("GET", `/endpoints/${MISSING_EP}`, { expect: 404 });
    await api("GET", "/endpoints/not-an-id", { expect: 404 });
    await unauthorized("GET", `/endpoints/${none.id}`);

    assert.equal(fifo.id, kept.id);
    const edited = await api("PATCH", `/endpoints/${fifo.id}`, {
      body: { name: "renamed", fifo: false, rate_limit_per_s: 0, retry: { jitter: null }, circuit: null, retention_days: 0 },
      expect: 200,
    });
    assert.equal(edited.json.rate_limit_per_s, null);
    assert.equal(edited.json.retention_days, null, "0 falls back to the relay's retention");
    await api("PATCH", `/endpoints/${fifo.id}`, { body: { nickname: "x" }, expect: 400, bodyValid: false });
    await api("PATCH", `/endpoints/${fifo.id}`, { body: { retry: { schedule_s: [0] } }, expect: 400, bodyValid: false });
    await api("PATCH", `/endpoints/${MISSING_EP}`, { body: { name: "x" }, expect: 404 });
    await unauthorized("PATCH", `/endpoints/${fifo.id}`, { body: { name: "x" } });
  });

  it("endpoints: relay secret, secret rotation", async () => {
    const secret = await api("GET", `/endpoints/${none.id}/secret`, { expect: 200 });
    assert.equal(secret.json.relay_secret, none.relay_secret);
    await api("GET", `/endpoints/${MISSING_EP}/secret`, { expect: 404 });
    await unauthorized("GET", `/endpoints/${none.id}/secret`);

    const generated = await api("POST", `/endpoints/${none.id}/secrets/rotate`, { expect: 200 });
    assert.equal(typeof generated.json.secret, "string", "a secret the relay made is shown once");
    const { ep: github } = await endpoint({ provider: "github", secrets: ["old"] });
    const given = await api("POST", `/endpoints/${github.id}/secrets/rotate`, { body: { secret: "new", expire_previous_in_s: 60 }, expect: 200 });
    assert.equal("secret" in given.json, false);
    assert.equal(given.json.secrets_count, 2);
    assert.ok(given.json.secrets[1].expires_at);
    const required = await api("POST", `/endpoints/${github.id}/secrets/rotate`, { body: {}, expect: 400 });
    assert.equal(required.json.error.code, "secret_required");
    await api("POST", `/endpoints/${github.id}/secrets/rotate`, { body: { secret: "x", keep: true }, expect: 400, bodyValid: false });
    await api("POST", `/endpoints/${MISSING_EP}/secrets/rotate`, { expect: 404 });
    await unauthorized("POST", `/endpoints/${github.id}/secrets/rotate`);
  });

  it("endpoints: catch-up from the provider's record", async () => {
    const stripe = await startStripeApi({ apiKey: "sk_test_openapi", events: [stripeEvent(1, Math.floor(Date.now() / 1000) - 60)] });
    try {
      const { ep } = await endpoint({ provider: "stripe", secrets: ["whsec_openapi"], catch_up: { api_key: "sk_test_openapi", api_base: stripe.base } });
      assert.equal(ep.catch_up.api, "stripe_events");
      const since = new Date(Date.now() - 3600_000).toISOString();
      const ran = await api("POST", `/endpoints/${ep.id}/catch-up`, { body: { since }, expect: 200 });
      assert.deepEqual(ran.json, { fetched: 1, recovered: 1, duplicates: 0 });
      await api("POST", `/endpoints/${ep.id}/catch-up`, { body: { since: "later" }, expect: 400 });
      await api("POST", `/endpoints/${ep.id}/catch-up`, { body: { from: since }, expect: 400, bodyValid: false });
      await api("POST", `/endpoints/${MISSING_EP}/catch-up`, { body: { since }, expect: 404 });
      await api("POST", `/endpoints/${none.id}/catch-up`, { body: { since }, expect: 409 });
      await api("PATCH", `/endpoints/${ep.id}`, { body: { catch_up: { api_key: "sk_test_wrong", api_base: stripe.base } }, expect: 200 });
      const refused = await api("POST", `/endpoints/${ep.id}/catch-up`, { body: { since }, expect: 502 });
      assert.equal(refused.json.error.code, "catch_up_refused");
      await api("PATCH", `/endpoints/${ep.id}`, { body: { catch_up: { api_key: "k", repo: "a/b" } }, expect: 400, bodyValid: false });
      await unauthorized("POST", `/endpoints/${ep.id}/catch-up`, { body: { since } });
    } finally {
      await stripe.close();
    }
  });

  it("ingest: acks, duplicates, handshakes and every refusal", async () => {
    const body = JSON.stringify({ hello: "world" });
    const ack = await contract.call("POST", `/${none.id}`, { raw: body, headers: { "content-type": "application/json", "idempotency-key": "k-1" }, expect: 200 });
    assert.equal(ack.json.duplicate, false);
    const dup = await contract.call("POST", `/${none.id}`, { raw: body, headers: { "content-type": "application/json", "idempotency-key": "k-1" }, expect: 200 });
    assert.deepEqual(dup.json, { id: ack.json.id, duplicate: true });
    delivered = await waitForEvent(ack.json.id, (e) => e.status === "delivered");

    const slackSecret = "slack-secret";
    const { ep: slack } = await endpoint({ provider: "slack", secrets: [slackSecret] });
    const challenge = JSON.stringify({ type: "url_verification", challenge: "abc123" });
    const echoed = await contract.call("POST", `/${slack.id}`, { raw: challenge, headers: sign.slack(slackSecret, challenge), expect: 200 });
    assert.equal(echoed.text, "abc123");
    const malformed = JSON.stringify({ type: "url_verification" });
    await contract.call("POST", `/${slack.id}`, { raw: malformed, headers: sign.slack(slackSecret, malformed), expect: 400 });

    const zoomSecret = "zoom-secret";
    const { ep: zoom } = await endpoint({ provider: "zoom", secrets: [zoomSecret] });
    const validation = JSON.stringify({ event: "endpoint.url_validation", payload: { plainToken: "tok" } });
    await contract.call("POST", `/${zoom.id}`, { raw: validation, headers: sign.zoom(zoomSecret, validation), expect: 200 });

    const keys = sign.discordKeys();
    const { ep: discord } = await endpoint({ provider: "discord", secrets: [keys.publicHex] });
    const ping = JSON.stringify({ type: 1 });
    const pong = await contract.call("POST", `/${discord.id}`, { raw: ping, headers: sign.discord(keys.privateKey, ping), expect: 200 });
    assert.deepEqual(pong.json, { type: 1 });
    const eventPing = JSON.stringify({ type: 0 });
    await contract.call("POST", `/${discord.id}`, { raw: eventPing, headers: sign.discord(keys.privateKey, eventPing), expect: 204 });

    const { ep: github } = await endpoint({ provider: "github", secrets: ["gh"] });
    const refused = await contract.call("POST", `/${github.id}`, { raw: body, headers: { "content-type": "application/json" }, expect: 401 });
    assert.equal(refused.json.error.code, "signature_missing");
    await contract.call("POST", `/${github.id}`, { raw: body, headers: sign.github("wrong", body), expect: 401 });
    await contract.call("POST", `/${MISSING_EP}`, { raw: body, expect: 404 });
    await contract.call("POST", `/${none.id}`, { raw: Buffer.alloc(70_000, 0x61), expect: 413 });
    await contract.call("POST", `/${none.id}`, { raw: body, headers: { "x-hookrelay-fault": "r2_put" }, expect: 503 });
    const { ep: off } = await endpoint({ provider: "none", disabled: true });
    await contract.call("POST", `/${off.id}`, { raw: body, expect: 403 });
    const { ep: walled } = await endpoint({ provider: "none", allowed_cidrs: ["203.0.113.0/24"] });
    const outside = await contract.call("POST", `/${walled.id}`, { raw: body, expect: 403 });
    assert.equal(outside.json.error.code, "ip_not_allowed");
  });

  it("ingest: GET handshakes", async () => {
    const { ep: meta } = await endpoint({ provider: "whatsapp", secrets: ["app-secret"], verify_token: "vt" });
    const echoed = await contract.call("GET", `/${meta.id}?hub.mode=subscribe&hub.verify_token=vt&hub.challenge=42`, { expect: 200 });
    assert.equal(echoed.text, "42");
    await contract.call("GET", `/${meta.id}?hub.mode=subscribe&hub.verify_token=no&hub.challenge=42`, { expect: 403 });
    await contract.call("GET", `/${meta.id}?hub.mode=unsubscribe`, { expect: 400 });
    const { ep: dropbox } = await endpoint({ provider: "dropbox", secrets: ["dbx"] });
    assert.equal((await contract.call("GET", `/${dropbox.id}?challenge=c-1`, { expect: 200 })).text, "c-1");
    const { ep: okta } = await endpoint({ provider: "okta", secrets: ["Bearer okta"] });
    const challenge = { "x-okta-verification-challenge": "ch" };
    const verified = await contract.call("GET", `/${okta.id}`, { headers: { ...challenge, authorization: "Bearer okta" }, expect: 200 });
    assert.deepEqual(verified.json, { verification: "ch" });
    await contract.call("GET", `/${okta.id}`, { headers: challenge, expect: 401 });
    await contract.call("GET", `/${none.id}`, { expect: 405 });
    await contract.call("GET", `/${MISSING_EP}`, { expect: 404 });
  });

  it("rejections", async () => {
    const { ep: github } = await endpoint({ provider: "github", secrets: ["gh"] });
    await contract.call("POST", `/${github.id}`, { raw: "{}", headers: sign.github("not-the-secret", "{}"), expect: 401 });
    let log;
    for (let i = 0; i < 50 && !log?.json.data.length; i++) {
      log = await api("GET", `/endpoints/${github.id}/rejections`, { expect: 200 });
      if (!log.json.data.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(log.json.data[0].reason, "signature_mismatch");
    assert.equal(log.json.counts.signature_mismatch, 1);
    await api("GET", `/endpoints/${MISSING_EP}/rejections`, { expect: 404 });
    await unauthorized("GET", `/endpoints/${github.id}/rejections`);
    const all = await api("GET", "/rejections", { expect: 200 });
    assert.ok(all.json.counts.unknown_endpoint >= 1);
    await unauthorized("GET", "/rejections");
  });

  it("events: list, read, body", async () => {
    const page = await api("GET", `/events?endpoint_id=${none.id}&status=delivered&limit=1`, { expect: 200 });
    assert.equal(page.json.data[0].id, delivered.id);
    assert.equal(page.json.next_cursor, delivered.id, "a full page has a cursor");
    const next = await api("GET", `/events?endpoint_id=${none.id}&limit=1&cursor=${page.json.next_cursor}`, { expect: 200 });
    assert.equal(next.json.next_cursor, null);
    const byRoute = await api("GET", `/events?route_id=${none.id}&status=delivered&limit=1`, { expect: 200 });
    assert.equal(byRoute.json.data[0].route_id, none.id, "an endpoint is its own first route");
    await api("GET", "/events?route_id=evt_nope", { expect: 400 });
    await api("GET", "/events", { expect: 200 });
    await api("GET", "/events?limit=0", { expect: 400 });
    await api("GET", "/events?status=lost", { expect: 400 });
    await api("GET", "/events?cursor=nope", { expect: 400 });
    await unauthorized("GET", "/events");

    const event = await api("GET", `/events/${delivered.id}`, { expect: 200 });
    assert.equal(event.json.attempts.length, 1);
    assert.equal(event.json.attempts[0].outcome, "delivered");
    assert.deepEqual(event.json.headers.find(([name]) => name === "idempotency-key"), ["idempotency-key", "k-1"]);
    await api("GET", `/events/${MISSING_EVT}`, { expect: 404 });
    await api("GET", "/events/whatever", { expect: 404 });
    await unauthorized("GET", `/events/${delivered.id}`);

    const raw = await api("GET", `/events/${delivered.id}/body`, { expect: 200 });
    assert.equal(raw.text, JSON.stringify({ hello: "world" }));
    assert.equal(raw.headers.get("content-type"), "application/json");
    await api("GET", `/events/${MISSING_EVT}/body`, { expect: 404 });
    await unauthorized("GET", `/events/${delivered.id}/body`);
  });

  it("events: search by type, time, id and delivery id", async () => {
    const typed = await contract.call("POST", `/${none.id}`, {
      raw: JSON.stringify({ type: "invoice.paid" }), headers: { "content-type": "application/json", "idempotency-key": "k-typed" }, expect: 200,
    });
    const event = await waitForEvent(typed.json.id, (e) => e.status === "delivered");
    assert.equal(event.event_type, "invoice.paid");
    assert.equal(delivered.event_type, null, "a body without a type has none");
    const found = (query) => api("GET", `/events?${query}`, { expect: 200 }).then((r) => r.json.data.map((e) => e.id));
    assert.deepEqual(await found("event_type=invoice.paid"), [typed.json.id]);
    assert.deepEqual(await found(`event_type=invoice.*&endpoint_id=${none.id}&status=${event.status}&limit=5`), [typed.json.id]);
    assert.deepEqual(await found(`since=${encodeURIComponent(event.received_at)}&until=${Date.parse(event.received_at) + 1}`), [typed.json.id]);
    assert.deepEqual(await found("since=2000-01-01&until=2000-01-02"), []);
    assert.deepEqual(await found(`q=${typed.json.id}`), [typed.json.id]);
    assert.deepEqual(await found("q=k-typed"), [typed.json.id]);
    for (const query of ["event_type=a*b", "since=soon", "until=2024-01-01T00:00:00", "since=5&until=5", `q=${"q".repeat(513)}`]) {
      const bad = await api("GET", `/events?${query}`, { expect: 400 });
      assert.equal(bad.json.error.code, "invalid_query", query);
    }
  });

  it("stats: time series and per-endpoint figures", async () => {
    const day = await api("GET", "/stats/timeseries", { expect: 200 });
    assert.equal(day.json.buckets.length, 24);
    assert.ok(day.json.buckets.reduce((n, b) => n + b.received, 0) >= 1, "this test's events are counted");
    assert.equal((await api("GET", "/stats/timeseries?window=7d", { expect: 200 })).json.buckets.length, 28);
    const month = await api("GET", `/stats/timeseries?window=30d&endpoint_id=${none.id}`, { expect: 200 });
    assert.equal(month.json.buckets.length, 30);
    await api("GET", `/stats/timeseries?endpoint_id=${MISSING_EP}`, { expect: 200 });
    const window = await api("GET", "/stats/timeseries?window=1y", { expect: 400 });
    assert.equal(window.json.error.code, "invalid_query");
    await api("GET", "/stats/timeseries?endpoint_id=nope", { expect: 400 });
    await unauthorized("GET", "/stats/timeseries");

    const all = await api("GET", "/stats/endpoints", { expect: 200 });
    const mine = all.json.data.find((d) => d.endpoint_id === none.id);
    assert.ok(mine.attempts >= 1 && mine.success_rate === 1, JSON.stringify(mine));
    assert.ok(all.json.data.some((d) => d.success_rate === null && d.latency_ms.p50 === null), "an endpoint without attempts");
    const one = await api("GET", `/stats/endpoints?endpoint_id=${none.id}`, { expect: 200 });
    assert.deepEqual(one.json.data.map((d) => d.endpoint_id), [none.id]);
    assert.deepEqual((await api("GET", `/stats/endpoints?endpoint_id=${MISSING_EP}`, { expect: 200 })).json.data, []);
    await api("GET", "/stats/endpoints?endpoint_id=nope", { expect: 400 });
    await unauthorized("GET", "/stats/endpoints");
  });

  it("replay: one event, in bulk", async () => {
    const again = await api("POST", `/events/${delivered.id}/replay`, { expect: 202 });
    assert.deepEqual(again.json, { id: delivered.id, status: "received" });
    await waitForEvent(delivered.id, (e) => e.status === "delivered" && e.attempts.length === 2);
    await api("POST", `/events/${MISSING_EVT}/replay`, { expect: 404 });
    await unauthorized("POST", `/events/${delivered.id}/replay`);

    ({ ep: deadEndpoint } = await endpoint({ provider: "none", plan: sequence(400, 200) }));
    const ack = await contract.call("POST", `/${deadEndpoint.id}`, { raw: "{}", expect: 200 });
    const dead = await waitForEvent(ack.json.id, (e) => e.status === "dead");
    assert.equal(dead.attempts[0].outcome, "client_error");
    const bulk = await api("POST", "/replay", { body: { endpoint_id: deadEndpoint.id, status: "dead", limit: 10 }, expect: 202 });
    assert.deepEqual(bulk.json, { replayed: 1, remaining: 0 });
    await waitForEvent(ack.json.id, (e) => e.status === "delivered");
    await api("POST", "/replay", { body: { status: "dead" }, expect: 202 });
    const byRoute = await api("POST", "/replay", { body: { route_id: deadEndpoint.id, status: "dead" }, expect: 202 });
    assert.deepEqual(byRoute.json, { replayed: 0, remaining: 0 });
    await api("POST", "/replay", { body: { status: "dead", route_id: "nope" }, expect: 400, bodyValid: false });
    assert.deepEqual((await api("POST", "/replay", { body: { status: "filtered", endpoint_id: MISSING_EP }, expect: 202 })).json, { replayed: 0, remaining: 0 });
    await api("POST", "/replay", { body: { status: "filtered" }, expect: 400 });
    await api("POST", "/replay", { body: { status: "delivered" }, expect: 400, bodyValid: false });
    await api("POST", "/replay", { body: { status: "dead", endpoint_id: "nope" }, expect: 400, bodyValid: false });
    await api("POST", "/replay", { body: { status: "dead", all: true }, expect: 400, bodyValid: false });
    await unauthorized("POST", "/replay", { body: { status: "dead" } });
    await assertConservation(relay, deadEndpoint.id, { received: 1, delivered: 1 });
  });

  it("pause and resume; an event in flight cannot be replayed", async () => {
    const paused = await api("POST", `/endpoints/${deadEndpoint.id}/pause`, { body: { reason: "maintenance" }, expect: 200 });
    assert.equal(paused.json.paused_reason, "maintenance");
    await api("POST", `/endpoints/${none.id}/pause`, { expect: 200 });
    const ack = await contract.call("POST", `/${deadEndpoint.id}`, { raw: '{"held":true}', expect: 200 });
    const conflict = await api("POST", `/events/${ack.json.id}/replay`, { expect: 409 });
    assert.equal(conflict.json.error.code, "event_in_flight");
    await api("POST", `/endpoints/${deadEndpoint.id}/pause`, { body: { reason: 7 }, expect: 400, bodyValid: false });
    await api("POST", `/endpoints/${MISSING_EP}/pause`, { expect: 404 });
    await unauthorized("POST", `/endpoints/${deadEndpoint.id}/pause`);

    const resumed = await api("POST", `/endpoints/${deadEndpoint.id}/resume`, { expect: 200 });
    assert.equal(resumed.json.drained, 1);
    await api("POST", `/endpoints/${none.id}/resume`, { expect: 200 });
    await waitForEvent(ack.json.id, (e) => e.status === "delivered");
    await api("POST", `/endpoints/${MISSING_EP}/resume`, { expect: 404 });
    await unauthorized("POST", `/endpoints/${deadEndpoint.id}/resume`);
    await assertConservation(relay, deadEndpoint.id, { received: 2, delivered: 2 });
  });

  it("stream: an event stream that starts with a comment", async () => {
    const opened = await api("GET", `/stream?endpoint_id=${none.id}`, { expect: 200 });
    assert.match(opened.text, /^: connected live(-db-shard-\d+)?\n\n/);
    await api("GET", "/stream", { expect: 200 });
    await api("GET", "/stream?endpoint_id=nope", { expect: 400 });
    await unauthorized("GET", "/stream");
  });

  it("metrics", async () => {
    const metrics = await api("GET", "/metrics", { expect: 200 });
    assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assert.match(metrics.text, new RegExp(`^hookrelay_events\\{endpoint_id="${none.id}",status="delivered"\\} \\d+$`, "m"));
    assert.match(metrics.text, /^# TYPE hookrelay_sweeper_lag_seconds gauge$/m);
    await unauthorized("GET", "/metrics");
  });

  it("alert rules: create, list, delete", async () => {
    const created = await api("POST", "/alert-rules", { body: { endpoint_id: none.id, kind: "success_rate", threshold: 95, window_s: 7200 }, expect: 201 });
    assert.equal(created.json.state, "ok");
    assert.equal(created.json.min_attempts, 10);
    const routeRule = await api("POST", "/alert-rules", { body: { endpoint_id: none.id, route_id: none.id, kind: "oldest_in_flight", threshold: 600 }, expect: 201 });
    await api("POST", "/alert-rules", { body: { endpoint_id: none.id, kind: "dead_letters", threshold: 2.5 }, expect: 400 });
    await api("POST", "/alert-rules", { body: { endpoint_id: none.id, kind: "dead_letters", threshold: 1, window_s: 3600 }, expect: 400 });
    await api("POST", "/alert-rules", { body: { endpoint_id: none.id, kind: "latency", threshold: 1 }, expect: 400, bodyValid: false });
    await api("POST", "/alert-rules", { body: { endpoint_id: MISSING_EP, kind: "dead_letters", threshold: 1 }, expect: 400 });
    await unauthorized("POST", "/alert-rules", { body: { endpoint_id: none.id, kind: "dead_letters", threshold: 1 } });
    const listed = await api("GET", `/alert-rules?endpoint_id=${none.id}`, { expect: 200 });
    assert.deepEqual(listed.json.data.map((r) => r.id), [created.json.id, routeRule.json.id]);
    await api("GET", "/alert-rules", { expect: 200 });
    await api("GET", "/alert-rules?endpoint_id=nope", { expect: 400 });
    await unauthorized("GET", "/alert-rules");
    await api("DELETE", `/alert-rules/${routeRule.json.id}`, { expect: 204 });
    await api("DELETE", `/alert-rules/${routeRule.json.id}`, { expect: 404 });
    await unauthorized("DELETE", `/alert-rules/${created.json.id}`);
  });

  it("alerts: channels, list, test, delete", async () => {
    const webhookPath = `/openapi-alerts-${++routes}`;
    const webhook = await api("POST", "/alerts", { body: { kind: "webhook", url: dest.route(webhookPath) }, expect: 201 });
    assert.match(webhook.json.secret, /^whsec_/);
    const slack = await api("POST", "/alerts", { body: { kind: "slack", url: dest.route(`/openapi-slack-${routes}`) }, expect: 201 });
    assert.equal("secret" in slack.json, false, "only a webhook channel has a secret");
    const down = await api("POST", "/alerts", { body: { kind: "slack", url: dest.route(`/openapi-down-${routes}`, sequence(500)) }, expect: 201 });
    const kind = await api("POST", "/alerts", { body: { kind: "pager", url: dest.base }, expect: 400, bodyValid: false });
    assert.equal(kind.json.error.code, "invalid_alert_channel");
    const refused = await api("POST", "/alerts", { body: { kind: "slack", url: "ftp://example.com/" }, expect: 400 });
    assert.equal(refused.json.error.code, "invalid_destination");
    await api("POST", "/alerts", { body: { kind: "slack" }, expect: 400, bodyValid: false });
    const pagerduty = await api("POST", "/alerts", { body: { kind: "pagerduty", routing_key: "pd-routing-key", url: dest.route(`/openapi-pd-${routes}`) }, expect: 201 });
    assert.equal("secret" in pagerduty.json, false, "a routing key is never shown back");
    await api("POST", "/alerts", { body: { kind: "pagerduty" }, expect: 400, bodyValid: false });
    await api("POST", "/alerts", { body: { kind: "slack", url: dest.base, routing_key: "k" }, expect: 400, bodyValid: false });
    await api("POST", "/alerts", { body: { kind: "slack", url: dest.base, secret: "mine" }, expect: 400, bodyValid: false });
    await unauthorized("POST", "/alerts", { body: { kind: "slack", url: dest.base } });

    const list = await api("GET", "/alerts", { expect: 200 });
    assert.deepEqual(list.json.data.map((c) => c.id).sort(), [webhook.json.id, slack.json.id, down.json.id, pagerduty.json.id].sort());
    assert.equal(list.json.data.some((c) => "secret" in c), false, "the secret is shown once");
    await unauthorized("GET", "/alerts");

    const reached = await api("POST", `/alerts/${webhook.json.id}/test`, { expect: 200 });
    assert.deepEqual(reached.json, { delivered: true });
    const [sent] = dest.to(webhookPath);
    assert.equal(JSON.parse(sent.body).type, "relay.test");
    assert.ok(sign.verifyStandard(webhook.json.secret, sent.headers, sent.body), "signed with the channel secret");
    assert.deepEqual((await api("POST", `/alerts/${slack.json.id}/test`, { expect: 200 })).json, { delivered: true });
    assert.deepEqual((await api("POST", `/alerts/${down.json.id}/test`, { expect: 200 })).json, { delivered: false });
    await api("POST", `/alerts/${MISSING_ALC}/test`, { expect: 404 });
    await unauthorized("POST", `/alerts/${webhook.json.id}/test`);

    await unauthorized("DELETE", `/alerts/${webhook.json.id}`);
    for (const channel of [webhook, slack, down, pagerduty]) await api("DELETE", `/alerts/${channel.json.id}`, { expect: 204 });
    await api("DELETE", `/alerts/${webhook.json.id}`, { expect: 404 });
    assert.deepEqual((await api("GET", "/alerts", { expect: 200 })).json.data, []);
  });

  it("pull: lease, report attempts", async () => {
    const created = await api("POST", "/endpoints", { body: { name: "openapi pull", provider: "none", destination_type: "pull" }, expect: 201 });
    const pull = created.json;
    assert.equal(pull.destination_type, "pull");
    assert.equal(pull.destination_url, "");
    await api("GET", `/endpoints/${pull.id}`, { expect: 200 });
    const toPush = await api("PATCH", `/endpoints/${pull.id}`, { body: { destination_type: "push" }, expect: 400 });
    assert.equal(toPush.json.error.code, "invalid_destination", "a push endpoint needs a destination_url");
    assert.equal((await api("PATCH", `/endpoints/${pull.id}`, { body: { retention_days: 3 }, expect: 200 })).json.retention_days, 3);

    const bodies = new Map();
    for (const n of [1, 2]) {
      const body = JSON.stringify({ pulled: n });
      const ack = await contract.call("POST", `/${pull.id}`, { raw: body, headers: { "content-type": "application/json" }, expect: 200 });
      bodies.set(ack.json.id, body);
    }
    const leased = await api("POST", `/pull/${pull.id}`, { body: { max: 1, lease_s: 30, event_types: null }, expect: 200 });
    assert.equal(leased.json.data.length, 1, "at most max");
    const [event] = leased.json.data;
    assert.equal(event.attempt, 1);
    const body = bodies.get(event.id);
    assert.equal(Buffer.from(event.body_base64, "base64").toString(), body, "the stored body, byte for byte");
    const headers = Object.fromEntries(event.headers);
    assert.equal(headers["webhook-id"], event.id);
    assert.ok(sign.verifyStandard(pull.relay_secret, headers, Buffer.from(body)), "signed like a push");
    const [other] = (await api("POST", `/pull/${pull.id}`, { body: {}, expect: 200 })).json.data;
    assert.deepEqual([event.id, other.id].sort(), [...bodies.keys()].sort());
    assert.deepEqual((await api("POST", `/pull/${pull.id}`, { body: { wait_s: 1 }, expect: 200 })).json.data, [], "everything is leased");

    const lost = await api("POST", `/events/${event.id}/attempts`, { body: { lease_token: "0".repeat(32), status_code: 200, duration_ms: 1 }, expect: 409 });
    assert.equal(lost.json.error.code, "lease_lost");
    const done = await api("POST", `/events/${event.id}/attempts`, {
      body: { lease_token: event.lease_token, status_code: 200, error: null, duration_ms: 5, response_snippet: "ok" }, expect: 200,
    });
    assert.deepEqual(done.json, { id: event.id, status: "delivered", attempt: 1, next_attempt_at: null });
    const again = await api("POST", `/events/${event.id}/attempts`, { body: { lease_token: event.lease_token, status_code: 200, duration_ms: 1 }, expect: 409 });
    assert.equal(again.json.error.code, "lease_lost", "a finished event holds no lease");
    const failed = await api("POST", `/events/${other.id}/attempts`, {
      body: { lease_token: other.lease_token, status_code: 503, duration_ms: 9, response_snippet: "down" }, expect: 200,
    });
    assert.equal(failed.json.status, "retrying");
    assert.ok(failed.json.next_attempt_at);
    const read = await api("GET", `/events/${event.id}`, { expect: 200 });
    assert.equal(read.json.attempts[0].outcome, "delivered");

    // An endpoint switched to push while an event is leased takes no report for it.
    const switching = (await api("POST", "/endpoints", { body: { name: "openapi switch", provider: "none", destination_type: "pull" }, expect: 201 })).json;
    await contract.call("POST", `/${switching.id}`, { raw: "{}", expect: 200 });
    const [held] = (await api("POST", `/pull/${switching.id}`, { body: {}, expect: 200 })).json.data;
    await api("PATCH", `/endpoints/${switching.id}`, { body: { destination_type: "push", destination_url: dest.route(`/openapi-${++routes}`) }, expect: 200 });
    const switched = await api("POST", `/events/${held.id}/attempts`, { body: { lease_token: held.lease_token, status_code: 200, duration_ms: 1 }, expect: 409 });
    assert.equal(switched.json.error.code, "not_a_pull_destination");
    await api("POST", `/events/${event.id}/attempts`, { body: { lease_token: event.lease_token }, expect: 400, bodyValid: false });
    await api("POST", `/events/${MISSING_EVT}/attempts`, { body: { lease_token: event.lease_token, duration_ms: 1 }, expect: 404 });
    await api("POST", "/events/whatever/attempts", { body: { lease_token: event.lease_token, duration_ms: 1 }, expect: 404 });
    await unauthorized("POST", `/events/${event.id}/attempts`, { body: { lease_token: event.lease_token, duration_ms: 1 } });

    const pushes = await api("POST", `/pull/${none.id}`, { body: {}, expect: 409 });
    assert.equal(pushes.json.error.code, "not_a_pull_destination");
    await api("POST", `/pull/${MISSING_EP}`, { body: {}, expect: 404 });
    await api("POST", "/pull/not-an-id", { body: {}, expect: 404 });
    const short = await api("POST", `/pull/${pull.id}`, { body: { lease_s: 1 }, expect: 400, bodyValid: false });
    assert.equal(short.json.error.code, "invalid_lease");
    await api("POST", `/pull/${pull.id}`, { body: { limit: 5 }, expect: 400, bodyValid: false });
    const tooMany = await api("POST", `/pull/${pull.id}`, { body: { event_types: Array.from({ length: 21 }, (_, i) => `t${i}.*`) }, expect: 400 });
    assert.equal(tooMany.json.error.code, "invalid_event_types");
    const tooLong = await api("POST", `/pull/${pull.id}`, { body: { event_types: ["x".repeat(51)] }, expect: 400 });
    assert.equal(tooLong.json.error.code, "invalid_event_types");
    await unauthorized("POST", `/pull/${pull.id}`, { body: {} });
    await assertConservation(relay, pull.id, { received: 2, delivered: 1, in_flight: 1 });
  });

  it("keys: create, whoami, list, revoke", async () => {
    await unauthorized("GET", "/whoami");
    await unauthorized("GET", "/keys");
    await unauthorized("POST", "/keys", { body: { name: "x", role: "viewer" } });
    await unauthorized("DELETE", "/keys/key_00000000000000000000000000");
    const admin = await api("GET", "/whoami", { expect: 200 });
    assert.deepEqual(admin.json, { role: "admin", key_id: null, name: null, endpoint_id: null });
    const viewer = await api("POST", "/keys", { body: { name: "reader", role: "viewer", endpoint_id: null }, expect: 201 });
    assert.match(viewer.json.key, /^hrk_[0-9a-f]{64}$/);
    assert.ok(viewer.json.key.startsWith(viewer.json.prefix) && viewer.json.prefix.length < 16);
    const me = await api("GET", "/whoami", { token: viewer.json.key, expect: 200 });
    assert.deepEqual(me.json, { role: "viewer", key_id: viewer.json.id, name: "reader", endpoint_id: null });
    const listed = (await api("GET", "/keys", { expect: 200 })).json.data.find((k) => k.id === viewer.json.id);
    assert.ok(listed.last_used_at, "using a key stamps it");
    assert.equal(listed.key, undefined, "a key is shown once");
    assert.ok(!JSON.stringify((await api("GET", "/keys", { expect: 200 })).json).includes(viewer.json.key));

    const bad = [
      [{ name: "", role: "viewer" }, "invalid_key"],
      [{ name: "x", role: "owner" }, "invalid_key"],
      [{ name: "x", role: "pull" }, "invalid_key"],
      [{ name: "x", role: "editor", endpoint_id: MISSING_EP }, "invalid_key"],
      [{ name: "x", role: "pull", endpoint_id: "nope" }, "invalid_key"],
      [{ name: "x", role: "viewer", extra: 1 }, "invalid_body"],
    ];
    for (const [body, code] of bad) {
      const res = await api("POST", "/keys", { body, expect: 400 });
      assert.equal(res.json.error.code, code, JSON.stringify(body));
    }
    await api("POST", "/keys", { body: { name: "x", role: "pull", endpoint_id: MISSING_EP }, expect: 404 });
    const { ep: pushing } = await endpoint({ provider: "none" });
    const notPull = await api("POST", "/keys", { body: { name: "x", role: "pull", endpoint_id: pushing.id }, expect: 409 });
    assert.equal(notPull.json.error.code, "not_a_pull_destination");

    await api("DELETE", `/keys/${viewer.json.id}`, { expect: 204 });
    await api("DELETE", `/keys/${viewer.json.id}`, { expect: 404 });
    await api("GET", "/whoami", { token: viewer.json.key, expect: 401 });
    assert.ok(!(await api("GET", "/keys", { expect: 200 })).json.data.some((k) => k.id === viewer.json.id));
  });

  it("roles: every operation walked with a viewer, an editor, an admin and a pull key", async () => {
    const mint = async (role, endpoint_id) =>
      (await api("POST", "/keys", { body: { name: `walk ${role}`, role, endpoint_id }, expect: 201 })).json.key;
    const pullEp = (await api("POST", "/endpoints", { body: { name: "walk pull", provider: "none", destination_type: "pull" }, expect: 201 })).json;
    const otherPull = (await api("POST", "/endpoints", { body: { name: "walk other", provider: "none", destination_type: "pull" }, expect: 201 })).json;
    const keys = { viewer: await mint("viewer"), editor: await mint("editor"), pull: await mint("pull", pullEp.id), admin: await mint("admin") };
    const rank = { viewer: 1, editor: 2, admin: 3 };
    const permitted = (role, need) =>
      need === "any" || (need === "pull" ? role === "pull" || rank[role] >= 2 : rank[role] >= rank[need]);
    const sample = { id: undefined, endpoint_id: pullEp.id };
    const idFor = (template) =>
      template.startsWith("/api/v1/endpoints/") ? pullEp.id
        : template.startsWith("/api/v1/events/") ? MISSING_EVT
          : template.startsWith("/api/v1/alerts/") ? MISSING_ALC : "key_00000000000000000000000000";
    let walked = 0;
    for (const { template, method, op } of contract.operations()) {
      if (!template.startsWith("/api/v1/")) continue;
      const need = op["x-required-role"];
      assert.ok(need, `${method} ${template} names no role`);
      const path = template.replace("/api/v1", "").replace(/\{([^}]+)\}/g, (_, name) => sample[name] ?? idFor(template));
      const body = op.requestBody ? {} : undefined;
      for (const [role, token] of Object.entries(keys)) {
        const res = await api(method.toUpperCase(), path, { token, body });
        const where = `${method.toUpperCase()} ${template} as ${role} (needs ${need}) answered ${res.status} ${res.text.slice(0, 200)}`;
        if (permitted(role, need)) {
          assert.ok(res.status !== 403 && res.status !== 401, where);
        } else {
          assert.equal(res.status, 403, where);
          assert.equal(res.json.error.code, "forbidden", where);
        }
        walked++;
      }
    }
    assert.ok(walked >= 31 * 4, `walked ${walked}`);
    // What an endpoint accepts is an admin's to change, like its secrets;
    // an editor's form that sends the same values back passes.
    const guarded = (await api("POST", "/endpoints", { body: { name: "acceptance", provider: "none", destination_type: "pull" }, expect: 201 })).json;
    const narrowed = await api("PATCH", `/endpoints/${guarded.id}`, { token: keys.editor, body: { allowed_cidrs: ["10.0.0.0/8"] }, expect: 403 });
    assert.equal(narrowed.json.error.message, "only an admin may change provider, scheme_config or allowed_cidrs");
    await api("PATCH", `/endpoints/${guarded.id}`, { token: keys.editor, body: { provider: "none", allowed_cidrs: [], name: "acceptance, renamed" }, expect: 200 });
    const asAdmin = await api("PATCH", `/endpoints/${guarded.id}`, { token: keys.admin, body: { allowed_cidrs: ["10.0.0.0/8"] }, expect: 200 });
    assert.deepEqual(asAdmin.json.allowed_cidrs, ["10.0.0.0/8"]);
    assert.equal(asAdmin.json.name, "acceptance, renamed");
    // A pull key reaches only its own destination, the report route included.
    const elsewhere = await api("POST", `/pull/${otherPull.id}`, { token: keys.pull, body: {}, expect: 403 });
    assert.match(elsewhere.json.error.message, /pull key/);
    await contract.call("POST", `/${otherPull.id}`, { raw: "{}", expect: 200 });
    const otherKey = await mint("pull", otherPull.id);
    const [leased] = (await api("POST", `/pull/${otherPull.id}`, { token: otherKey, body: { lease_s: 30 }, expect: 200 })).json.data;
    const report = { lease_token: leased.lease_token, status_code: 200, duration_ms: 5 };
    await api("POST", `/events/${leased.id}/attempts`, { token: keys.pull, body: report, expect: 403 });
    const done = await api("POST", `/events/${leased.id}/attempts`, { token: otherKey, body: report, expect: 200 });
    assert.equal(done.json.status, "delivered");
  });

  it("routes: create, list, read, edit, delete; a filtered ingest", async () => {
    const { ep } = await endpoint({ provider: "none" });
    const path = `/openapi-${++routes}`;
    const created = await api("POST", `/endpoints/${ep.id}/routes`, {
      body: { name: "refunds", destination_url: dest.route(path), event_types: ["charge.*"],
        filter: { body: { amount: { $gt: 5 } } }, transform: { headers: { set: { "x-env": "test" } } },
        retry: { schedule_s: [1] }, timeout_ms: 5000, circuit: { threshold: 5 }, rate_limit_per_s: 0, fifo: false },
      expect: 201,
    });
    const route = created.json;
    assert.match(route.id, /^rt_/);
    assert.match(route.relay_secret, /^whsec_/);
    assert.notEqual(route.relay_secret, ep.relay_secret, "each route signs with its own secret");
    await api("POST", `/endpoints/${ep.id}/routes`, { body: { destination_url: dest.route(path) }, expect: 400 });
    const badFilter = await api("POST", `/endpoints/${ep.id}/routes`, {
      body: { name: "bad", destination_url: dest.route(path), filter: { body: { amount: { $gt: "x" } } } }, expect: 400,
    });
    assert.equal(badFilter.json.error.code, "invalid_filter");
    assert.match(badFilter.json.error.message, /body\.amount/, "the message names the JSON path");
    const badTransform = await api("POST", `/endpoints/${ep.id}/routes`, {
      body: { name: "bad", destination_url: dest.route(path), transform: { headers: { set: { "webhook-id": "x" } } } }, expect: 400,
    });
    assert.equal(badTransform.json.error.code, "invalid_transform");
    await api("POST", `/endpoints/${ep.id}/routes`, { body: { name: "x", destination_url: dest.route(path), colour: 1 }, expect: 400, bodyValid: false });
    await api("POST", `/endpoints/${MISSING_EP}/routes`, { body: { name: "x", destination_url: dest.route(path) }, expect: 404 });
    await unauthorized("POST", `/endpoints/${ep.id}/routes`, { body: { name: "x" } });

    const listed = await api("GET", `/endpoints/${ep.id}/routes`, { expect: 200 });
    assert.deepEqual(listed.json.data.map((r) => [r.id, r.first]), [[ep.id, true], [route.id, false]]);
    await api("GET", `/endpoints/${MISSING_EP}/routes`, { expect: 404 });
    await unauthorized("GET", `/endpoints/${ep.id}/routes`);
    const endpointIds = (await api("GET", "/endpoints", { expect: 200 })).json.data.map((e) => e.id);
    assert.ok(!endpointIds.includes(route.id), "routes are not listed as endpoints");

    assert.equal((await api("GET", `/routes/${route.id}`, { expect: 200 })).json.name, "refunds");
    assert.equal((await api("GET", `/routes/${ep.id}`, { expect: 200 })).json.first, true);
    await api("GET", "/routes/rt_00000000000000000000000000", { expect: 404 });
    await unauthorized("GET", `/routes/${route.id}`);

    const edited = await api("PATCH", `/routes/${route.id}`, { body: { filter: null, name: "all charges" }, expect: 200 });
    assert.equal(edited.json.filter, null);
    assert.deepEqual(edited.json.event_types, ["charge.*"], "left out, kept");
    await api("PATCH", `/routes/${route.id}`, { body: { event_types: ["charge.*", 5] }, expect: 400, bodyValid: false });
    await api("PATCH", "/routes/rt_00000000000000000000000000", { body: { name: "x" }, expect: 404 });
    await unauthorized("PATCH", `/routes/${route.id}`, { body: {} });

    const reset = await api("POST", `/routes/${route.id}/circuit/reset`, { expect: 200 });
    assert.equal(reset.json.circuit.state, "closed");
    assert.equal(reset.json.drained, 0);
    await api("POST", "/routes/rt_00000000000000000000000000/circuit/reset", { expect: 404 });
    await unauthorized("POST", `/routes/${route.id}/circuit/reset`);

    // The first route (the endpoint) takes a filter too; a request no route accepts is filtered.
    await api("PATCH", `/routes/${ep.id}`, { body: { event_types: ["invoice.*"] }, expect: 200 });
    const filtered = await contract.call("POST", `/${ep.id}`, { raw: JSON.stringify({ type: "customer.created" }), headers: { "content-type": "application/json" }, expect: 200 });
    assert.deepEqual(filtered.json, { id: null, duplicate: false, status: "filtered", events: [] });
    const routed = await contract.call("POST", `/${ep.id}`, { raw: JSON.stringify({ type: "charge.refunded" }), headers: { "content-type": "application/json" }, expect: 200 });
    assert.equal(routed.json.status, "routed");
    assert.equal(routed.json.events.length, 1);
    const event = await waitForEvent(routed.json.id, (e) => e.status === "delivered");
    assert.equal(event.route_id, route.id);
    assert.equal(event.endpoint_id, ep.id);

    const tried = await api("POST", "/routes/test", {
      body: { event_id: routed.json.id, event_types: ["charge.*"], transform: { headers: { set: { "x-env": "test" } } } }, expect: 200,
    });
    assert.equal(tried.json.matches, true);
    assert.equal(tried.json.event_type, "charge.refunded");
    assert.ok(tried.json.sent.headers.some(([k, v]) => k === "x-env" && v === "test"));
    const sample = await api("POST", "/routes/test", {
      body: { body: "{\"type\":\"invoice.paid\"}", headers: [["content-type", "application/json"]], provider: "stripe", filter: { body: { type: { $startsWith: "charge." } } } },
      expect: 200,
    });
    assert.deepEqual([sample.json.matches, sample.json.sent], [false, null]);
    await api("POST", "/routes/test", { body: { filter: { body: { a: { $gt: "x" } } }, body: "{}" }, expect: 400 });
    await api("POST", "/routes/test", { body: { event_types: [] }, expect: 400, bodyValid: false });
    await api("POST", "/routes/test", { body: { event_id: MISSING_EVT }, expect: 404 });
    const filteredIngest = (await api("GET", `/ingests?endpoint_id=${ep.id}&status=filtered`, { expect: 200 })).json.data[0];
    const onIngest = await api("POST", "/routes/test", { body: { ingest_id: filteredIngest.id, event_types: ["customer.*"] }, expect: 200 });
    assert.equal(onIngest.json.matches, true);
    await api("POST", "/routes/test", { body: { ingest_id: "ing_00000000000000000000000000" }, expect: 404 });
    await api("POST", "/routes/test", { body: { ingest_id: filteredIngest.id, event_id: routed.json.id }, expect: 400, bodyValid: false });
    await unauthorized("POST", "/routes/test", { body: { body: "{}" } });

    await api("DELETE", `/routes/${ep.id}`, { expect: 409 });
    await unauthorized("DELETE", `/routes/${route.id}`);
    await api("DELETE", `/routes/${route.id}`, { expect: 204 });
    await api("DELETE", `/routes/${route.id}`, { expect: 404 });
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("ingests: list, read; requests counted", async () => {
    const { ep } = await endpoint({ provider: "none" });
    await api("PATCH", `/routes/${ep.id}`, { body: { event_types: ["invoice.*"] }, expect: 200 });
    const json = { "content-type": "application/json" };
    const kept = await contract.call("POST", `/${ep.id}`, { raw: JSON.stringify({ type: "customer.created" }), headers: json, expect: 200 });
    assert.equal(kept.json.status, "filtered");
    const routed = await contract.call("POST", `/${ep.id}`, { raw: JSON.stringify({ type: "invoice.paid" }), headers: json, expect: 200 });
    const all = await api("GET", `/ingests?endpoint_id=${ep.id}`, { expect: 200 });
    assert.deepEqual(all.json.data.map((i) => [i.status, i.event_type]), [["routed", "invoice.paid"], ["filtered", "customer.created"]], "newest first");
    assert.deepEqual(all.json.data[0].event_ids, [routed.json.id]);
    assert.equal(all.json.next_cursor, null);
    const page = await api("GET", `/ingests?endpoint_id=${ep.id}&status=filtered&limit=1`, { expect: 200 });
    assert.equal(page.json.next_cursor, page.json.data[0].id, "a full page has a cursor");
    const next = await api("GET", `/ingests?endpoint_id=${ep.id}&status=filtered&limit=1&cursor=${page.json.next_cursor}`, { expect: 200 });
    assert.deepEqual(next.json, { data: [], next_cursor: null });
    await api("GET", "/ingests", { expect: 200 });
    for (const query of ["status=dead", "limit=0", "limit=201", "cursor=evt_1", "endpoint_id=nope"]) {
      const bad = await api("GET", `/ingests?${query}`, { expect: 400 });
      assert.equal(bad.json.error.code, "invalid_query", query);
    }
    await unauthorized("GET", "/ingests");

    const one = await api("GET", `/ingests/${page.json.data[0].id}`, { expect: 200 });
    assert.equal(one.json.status, "filtered");
    assert.deepEqual(one.json.headers.find(([k]) => k === "content-type"), ["content-type", "application/json"]);
    await api("GET", "/ingests/ing_00000000000000000000000000", { expect: 404 });
    await api("GET", "/ingests/nope", { expect: 404 });
    await unauthorized("GET", `/ingests/${one.json.id}`);

    const health = await api("GET", `/health?endpoint_id=${ep.id}`, { expect: 200 });
    assert.deepEqual(health.json.requests, { received: 2, routed: 1, filtered: 1 });
    const stats = await api("GET", `/stats/endpoints?endpoint_id=${ep.id}`, { expect: 200 });
    assert.deepEqual(stats.json.data[0].requests, health.json.requests);
    assert.deepEqual(stats.json.data[0].routes.map((r) => r.route_id), [ep.id]);
    await waitForEvent(routed.json.id, (e) => e.status === "delivered");
  });

  it("delete", async () => {
    const { ep } = await endpoint({ provider: "none" });
    await unauthorized("DELETE", `/endpoints/${ep.id}`);
    await api("DELETE", `/endpoints/${ep.id}`, { expect: 204 });
    await api("DELETE", `/endpoints/${ep.id}`, { expect: 404 });
    await contract.call("POST", `/${ep.id}`, { raw: "{}", expect: 404 });
  });
});

describe("coverage, proved by walking the document", () => {
  it("every documented answer of every operation was produced (or is listed as not producible)", () => {
    const missing = [];
    for (const { template, method, op } of contract.operations()) {
      const key = `${method.toUpperCase()} ${template}`;
      const seen = contract.seen.get(key) ?? new Set();
      if (![...seen].some((s) => s >= 200 && s < 300)) missing.push(`${key} (${op.operationId}): no success answer`);
      for (const status of Object.keys(op.responses)) {
        if (seen.has(Number(status)) || NOT_PRODUCIBLE[`${key} ${status}`] || NOT_PRODUCIBLE[status]) continue;
        missing.push(`${key} (${op.operationId}) ${status}`);
      }
    }
    assert.deepEqual(missing, [], `documented but never exercised:\n  ${missing.join("\n  ")}`);
  });

  it("every path answers 405 to each method the document does not list for it", async () => {
    const { ep } = await endpoint({ provider: "none" });
    const sample = { id: MISSING_EP, endpoint_id: ep.id };
    const undocumented = [];
    for (const [template, item] of Object.entries(contract.doc.paths)) {
      let path = template.replace(/\{([^}]+)\}/g, (_, name) => sample[name]);
      if (template.startsWith("/api/v1/events/")) path = path.replace(MISSING_EP, MISSING_EVT);
      for (const method of METHODS.filter((m) => !item[m])) {
        const res = await fetch(`${relay.url}${path}`, { method: method.toUpperCase(), headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        const body = await res.text();
        if (res.status !== 405 || JSON.parse(body).error.code !== "method_not_allowed") {
          undocumented.push(`${method.toUpperCase()} ${template} answered ${res.status} ${body.slice(0, 120)}`);
        }
      }
    }
    assert.deepEqual(undocumented, [], "a route answers a method the document does not list");
  });
});
