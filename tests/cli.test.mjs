// `hookrelay listen` against the relay on workerd and a local app the test
// controls: every event forwarded once, byte-exact and verifiable; nothing lost
// while the CLI is stopped; the app's failures retried; replay reaches the CLI;
// a CLI killed mid-forward loses nothing; a wrong key exits with a clear error;
// a pull key scoped to the destination is enough, a viewer key is refused.
// `hookrelay tail` follows the live stream.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Relay, sleep, ADMIN_TOKEN } from "./support/relay.mjs";
import { startDestination } from "./support/destination.mjs";
import * as sign from "./support/providers.mjs";
import { assertConservation } from "./support/checks.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "target/debug/hookrelay");

let relay;
let app;
const running = new Set();
before(async () => {
  assert.ok(existsSync(CLI), `build the CLI first: cargo build -p hookrelay-cli (${CLI})`);
  app = await startDestination();
  relay = await Relay.start({ name: "cli", vars: { PULL_LEASE_S: "3" } });
});
after(async () => {
  // A failed assertion must not leave a CLI running (it would keep the runner alive).
  for (const proc of running) proc.kill("SIGKILL");
  await relay?.stop();
  await app?.close();
});

/** Runs the CLI with its own config dir; returns the process and its parsed JSON lines. */
function runCli(args, { key = ADMIN_TOKEN } = {}) {
  const home = mkdtempSync(join(tmpdir(), "hookrelay-cli-"));
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, ".config"), HOOKRELAY_URL: relay.url, HOOKRELAY_KEY: key };
  const proc = spawn(CLI, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(proc);
  proc.once("exit", () => running.delete(proc));
  const lines = [];
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d) => {
    stdout += d;
    let i;
    while ((i = stdout.indexOf("\n")) >= 0) {
      const line = stdout.slice(0, i);
      stdout = stdout.slice(i + 1);
      try { lines.push(JSON.parse(line)); } catch {}
    }
  });
  proc.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((res) => proc.once("exit", (code, signal) => res({ code, signal })));
  return { proc, lines, exited, stderr: () => stderr };
}

async function waitUntil(what, predicate, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function pullEndpoint(extra = {}) {
  return relay.createEndpoint({ name: "laptop", provider: "github", secrets: ["gh"], destination_type: "pull", ...extra });
}

async function send(ep, n) {
  const body = Buffer.from(JSON.stringify({ action: "opened", n }));
  const res = await relay.ingest(ep.id, body, sign.github("gh", body, { event: "issues" }));
  assert.equal(res.status, 200);
  return { id: res.json.id, body };
}

describe("hookrelay listen", () => {
  it("forwards every event once, byte-exact and signed; nothing is lost while it is stopped", async () => {
    const ep = await pullEndpoint();
    const target = app.route("/app-1");
    const sent = [];
    for (let i = 0; i < 20; i++) sent.push(await send(ep, i));
    let cli = runCli(["listen", ep.id, "--forward-to", target, "--json"]);
    await waitUntil("20 forwards", () => app.to("/app-1").length >= 20);
    for (const s of sent) {
      const got = app.to("/app-1").filter((r) => r.headers["webhook-id"] === s.id);
      assert.equal(got.length, 1, `${s.id} forwarded once`);
      assert.ok(got[0].body.equals(s.body), "byte-exact");
      assert.ok(sign.verifyStandard(ep.relay_secret, got[0].headers, got[0].body), "verifies as in production");
      assert.equal(got[0].headers["x-github-event"], "issues");
    }
    await waitUntil("20 reports", () => cli.lines.length >= 20);
    assert.ok(cli.lines.every((l) => l.status_code === 200 && l.id.startsWith("evt_")));
    cli.proc.kill("SIGINT");
    assert.equal((await cli.exited).code, 0, `exits cleanly on Ctrl-C: ${cli.stderr()}`);

    const later = [];
    for (let i = 20; i < 30; i++) later.push(await send(ep, i));
    await sleep(1000);
    assert.equal(app.to("/app-1").length, 20, "nothing moves while the CLI is stopped");
    cli = runCli(["listen", ep.id, "--forward-to", target, "--json"]);
    await waitUntil("30 forwards", () => app.to("/app-1").length >= 30);
    assert.deepEqual(app.to("/app-1").slice(20).map((r) => r.headers["webhook-id"]), later.map((s) => s.id), "oldest first");
    cli.proc.kill("SIGINT");
    await cli.exited;
    await waitUntil("delivered", async () => (await relay.health(ep.id)).counts.delivered === 30);
    await assertConservation(relay, ep.id, { received: 30, delivered: 30 });
  });

  it("retries when the local app fails, and a replay from the API reaches the CLI", async () => {
    const ep = await pullEndpoint({ retry: { schedule_s: [1, 1, 1] } });
    const target = app.route("/app-2", (_r, i) => ({ status: i < 2 ? 500 : 200 }));
    const { id } = await send(ep, 1);
    const cli = runCli(["listen", ep.id, "--forward-to", target, "--json"]);
    await waitUntil("three tries", () => app.to("/app-2").length >= 3);
    const event = await relay.waitForEvent(id, (e) => e.status === "delivered");
    assert.deepEqual(event.attempts.map((a) => a.status_code), [500, 500, 200]);
    assert.equal((await relay.api("POST", `/events/${id}/replay`)).status, 202);
    await waitUntil("the replay", () => app.to("/app-2").length >= 4);
    assert.equal(app.to("/app-2")[3].headers["webhook-id"], id);
    cli.proc.kill("SIGINT");
    await cli.exited;
    await relay.waitForEvent(id, (e) => e.status === "delivered" && e.attempt_count === 4);
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("a CLI killed mid-forward loses nothing: the lease expires and the event comes again", async () => {
    const ep = await pullEndpoint();
    let stall = true;
    const target = app.route("/app-3", () => (stall ? { stall: true } : { status: 200 }));
    const { id } = await send(ep, 1);
    let cli = runCli(["listen", ep.id, "--forward-to", target, "--json"]);
    await waitUntil("the forward to start", () => app.to("/app-3").length >= 1);
    cli.proc.kill("SIGKILL");
    await cli.exited;
    app.dropStalled();
    stall = false;
    await sleep(3500); // PULL_LEASE_S
    cli = runCli(["listen", ep.id, "--forward-to", target, "--json"]);
    await waitUntil("the event again", () => app.to("/app-3").filter((r) => r.answered === 200).length >= 1);
    assert.ok(app.to("/app-3").every((r) => r.headers["webhook-id"] === id), "same webhook-id");
    cli.proc.kill("SIGINT");
    await cli.exited;
    await relay.waitForEvent(id, (e) => e.status === "delivered");
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });

  it("a wrong key exits with a clear error and leases nothing", async () => {
    const ep = await pullEndpoint();
    const { id } = await send(ep, 1);
    const cli = runCli(["listen", ep.id, "--forward-to", app.route("/app-4"), "--json"], { key: "wrong-key" });
    const { code } = await cli.exited;
    assert.equal(code, 3, cli.stderr());
    assert.match(cli.stderr(), /key/i);
    assert.equal((await relay.event(id)).status, "received");
    assert.equal(app.to("/app-4").length, 0);
    await assertConservation(relay, ep.id, { received: 1, in_flight: 1 });
  });

  it("a pull key scoped to the destination is all listen needs; a viewer key is refused", async () => {
    const ep = await pullEndpoint();
    const mint = async (fields) => {
      const res = await relay.api("POST", "/keys", { name: "laptop", ...fields });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      return res.json.key;
    };
    const viewerKey = await mint({ role: "viewer" });
    const pullKey = await mint({ role: "pull", endpoint_id: ep.id });
    const { id, body } = await send(ep, 1);

    const refused = runCli(["listen", ep.id, "--forward-to", app.route("/app-5"), "--json"], { key: viewerKey });
    const { code } = await refused.exited;
    assert.equal(code, 3, refused.stderr());
    assert.match(refused.stderr(), /403/);
    assert.equal((await relay.event(id)).status, "received", "a viewer leases nothing");

    const cli = runCli(["listen", ep.id, "--forward-to", app.route("/app-5"), "--json", "--print-secret"], { key: pullKey });
    try {
      await waitUntil("the event delivered with a pull key", async () => (await relay.event(id)).status === "delivered");
      assert.deepEqual(app.to("/app-5").map((r) => r.body.toString()), [body.toString()]);
    } finally {
      cli.proc.kill("SIGINT");
      await cli.exited;
    }
    await assertConservation(relay, ep.id, { received: 1, delivered: 1 });
  });
});

describe("hookrelay tail", () => {
  it("follows the live stream: each status change after it starts, of this endpoint only", async () => {
    const ep = await relay.createEndpoint({ name: "tailed", provider: "none", destination_url: app.route("/tailed") });
    const other = await relay.createEndpoint({ name: "not tailed", provider: "none", destination_url: app.route("/not-tailed") });
    const before = (await relay.ingest(ep.id, "before tail")).json.id;
    await relay.waitForEvent(before, (e) => e.status === "delivered");
    const cli = runCli(["tail", ep.id, "--json"]);
    try {
      await waitUntil("tail started", async () => /watching new events/.test(cli.stderr()));
      await sleep(1_000);
      const id = (await relay.ingest(ep.id, JSON.stringify({ type: "tailed.one" }), { "content-type": "application/json" })).json.id;
      const elsewhere = (await relay.ingest(other.id, "elsewhere")).json.id;
      await waitUntil("received and delivered printed", async () =>
        cli.lines.some((l) => l.id === id && l.status === "delivered"));
      const mine = cli.lines.filter((l) => l.id === id);
      assert.deepEqual(mine.map((l) => l.status), ["received", "delivering", "delivered"]);
      assert.equal(mine[0].event_type, "tailed.one");
      assert.equal(mine[2].attempt, 1);
      assert.equal(cli.lines.some((l) => l.id === before), false, "only what happens after it starts");
      assert.match(cli.stderr(), /watching new events of/);
      assert.equal(cli.lines.some((l) => l.id === elsewhere), false, "only this endpoint's events");
    } finally {
      cli.proc.kill("SIGINT");
      await cli.exited;
    }
  });
});
