// Runs the built Worker on workerd through `wrangler dev`, with local D1, R2 and
// Queues, from a config derived from the repository's own wrangler.toml (so the
// tests exercise the shipped bindings). Each relay gets its own state directory,
// ports and log file, and is stopped by process group id.
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, openSync, readdirSync, statSync, existsSync, cpSync, renameSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { promisify } from "node:util";
import { parse, stringify } from "smol-toml";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "node_modules/.bin");
export const OUTPUT_DIR = join(ROOT, "test-output");
const ENV = {
  ...process.env,
  PATH: `${BIN}:${process.env.PATH}`,
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  NO_COLOR: "1",
  // wrangler dev's local trace collector (a dev-only explorer of every
  // invocation's spans) runs on the Worker's own thread and costs a quarter
  // of its CPU; nothing here reads it, and no deployed Worker pays for it.
  X_LOCAL_OBSERVABILITY: "false",
};

export const ADMIN_TOKEN = "test-admin-token";

/** Vars every test relay gets: local destinations, a short sweep grace and lease margin. */
const TEST_VARS = {
  ADMIN_TOKEN,
  ALLOW_PRIVATE_DESTINATIONS: "true",
  SWEEP_GRACE_S: "1",
  LEASE_MARGIN_S: "1",
  MAX_BODY_BYTES: "65536",
  FAULTS: "per_request",
};

export async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
    srv.on("error", rej);
  });
}

/** Writes a wrangler config for a test relay and returns its directory. */
function writeConfig({ consumer = true, vars = {}, edit }, dir = mkdtempSync(join(tmpdir(), "hookrelay-test-"))) {
  const config = parse(readFileSync(join(ROOT, "wrangler.toml"), "utf8"));
  delete config.build; // the tests build once, up front
  config.main = join(ROOT, "build/index.js");
  for (const db of config.d1_databases) db.migrations_dir = join(ROOT, db.migrations_dir);
  if (config.assets) config.assets.directory = join(ROOT, config.assets.directory);
  config.vars = { ...config.vars, ...TEST_VARS, ...vars };
  if (!consumer) delete config.queues.consumers;
  edit?.(config);
  writeFileSync(join(dir, "wrangler.toml"), stringify(config));
  return dir;
}

/** `wrangler d1 migrations apply` for every database `config` binds, into `stateDir`. */
async function applyMigrations(config, stateDir) {
  for (const { binding } of parse(readFileSync(config, "utf8")).d1_databases) {
    await promisify(execFile)(
      join(BIN, "wrangler"),
      ["d1", "migrations", "apply", binding, "--local", "--config", config, "--persist-to", stateDir],
      { env: ENV, cwd: dirname(config) },
    );
  }
}

/**
 * A local state with every migration applied to every database `config`
 * binds, made once per set of databases and migrations (applying them takes
 * seconds per database, for every relay a test starts) and kept in the
 * temporary directory under a name hashed from both. Local D1 files are
 * named after the database, not the config's path, so a copy is the state
 * `applyMigrations` would have made.
 */
async function migratedState(config) {
  const hash = createHash("sha256");
  const databases = parse(readFileSync(config, "utf8")).d1_databases;
  hash.update(JSON.stringify(databases.map((d) => [d.binding, d.database_name, d.database_id])));
  const migrations = join(ROOT, "migrations");
  for (const file of readdirSync(migrations).sort()) hash.update(file).update(readFileSync(join(migrations, file)));
  const dir = join(tmpdir(), `hookrelay-migrated-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(dir)) return dir;
  const building = mkdtempSync(join(tmpdir(), "hookrelay-migrating-"));
  await applyMigrations(config, join(building, "state"));
  try {
    renameSync(join(building, "state"), dir);
  } catch (err) {
    if (!existsSync(dir)) throw err; // another run made it meanwhile
  }
  rmSync(building, { recursive: true, force: true });
  return dir;
}

export class Relay {
  /** `edit(config)` may change the parsed wrangler.toml before it is written. */
  constructor({ name, consumer = true, vars = {}, edit }) {
    this.name = name;
    this.options = { consumer, vars, edit };
    this.configDir = writeConfig(this.options);
    this.stateDir = join(this.configDir, "state");
    this.config = join(this.configDir, "wrangler.toml");
    this.starts = 0;
  }

  static async start(opts) {
    const relay = new Relay(opts);
    await relay.migrate();
    await relay.boot();
    return relay;
  }

  /**
   * Applies the migrations to every database of the config: the control
   * database and each shard. A new relay's state starts as a copy of a state
   * they were applied to once (see `migratedState`); a relay that already
   * holds data (a redeploy) has them applied as an operator would.
   */
  async migrate() {
    if (existsSync(this.stateDir)) {
      await applyMigrations(this.config, this.stateDir);
      return;
    }
    cpSync(await migratedState(this.config), this.stateDir, { recursive: true });
  }

  /**
   * Runs SQL on the relay's local D1 (`DB`, or the shard `binding`) from
   * outside the Worker, as a write from another isolate (or an operator's
   * console) would land: no cache of the running Worker hears of it.
   */
  async d1(sql, binding = "DB") {
    await promisify(execFile)(
      join(BIN, "wrangler"),
      ["d1", "execute", binding, "--local", "--config", this.config, "--persist-to", this.stateDir, "--command", sql],
      { env: ENV, cwd: this.configDir },
    );
  }

  /** Runs one read on the relay's local D1 (`DB`, or the shard `binding`) from outside the Worker; returns its rows. */
  async d1Rows(sql, binding = "DB") {
    const { stdout } = await promisify(execFile)(
      join(BIN, "wrangler"),
      ["d1", "execute", binding, "--local", "--json", "--config", this.config, "--persist-to", this.stateDir, "--command", sql],
      { env: ENV, cwd: this.configDir },
    );
    const [result] = JSON.parse(stdout.slice(stdout.indexOf("[")));
    return result.results;
  }

  /** The shard binding holding an endpoint or route, as the control database records it. */
  async shardOf(id) {
    const [row] = await this.d1Rows(`SELECT shard FROM endpoint_shards WHERE id = '${id}'`);
    if (!row) throw new Error(`${id} is placed on no shard`);
    return row.shard;
  }

  /** The shard binding holding an event: its endpoint's. */
  async shardOfEvent(eventId) {
    return this.shardOf((await this.event(eventId)).endpoint_id);
  }

  /** Starts (or restarts) wrangler dev on the same state directory. */
  /** Starts wrangler dev on a free port, or on `port` (a restart the dashboard reconnects to). */
  async boot({ port } = {}) {
    this.port = port ?? await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    const inspector = await freePort();
    mkdirSync(OUTPUT_DIR, { recursive: true });
    this.logPath = join(OUTPUT_DIR, `${this.name}-wrangler-${++this.starts}.log`);
    const log = openSync(this.logPath, "w");
    this.proc = spawn(
      join(BIN, "wrangler"),
      ["dev", "--local", "--config", this.config, "--ip", "127.0.0.1", "--port", String(this.port),
       "--inspector-port", String(inspector), "--persist-to", this.stateDir],
      { env: ENV, cwd: this.configDir, detached: true, stdio: ["ignore", log, log] },
    );
    this.exited = new Promise((res) => this.proc.once("exit", res));
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.url}/`);
        if (res.ok) return;
      } catch {}
      await sleep(250);
    }
    throw new Error(`${this.name}: wrangler dev did not become ready`);
  }

  /** Objects in the relay's local R2 bucket: files of its blob store (miniflare keeps one per object). */
  r2BlobCount() {
    let count = 0;
    const walk = (dir) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (dir.includes("blobs")) count++;
      }
    };
    walk(join(this.stateDir, "v3", "r2"));
    return count;
  }

  /** What the running relay has logged so far (the Worker's JSON lines among them). */
  logs() {
    return readFileSync(this.logPath, "utf8");
  }

  /** Stops, rewrites the config with more vars, and starts again on the same state. */
  async restartWith(vars) {
    await this.stop();
    this.options = { ...this.options, vars: { ...this.options.vars, ...vars } };
    writeConfig(this.options, this.configDir);
    await this.boot();
  }

  /**
   * Stops, rewrites the config with `edit` (a binding added, say), applies
   * the migrations to every database it names, and starts again on the same state.
   */
  async redeployWith(edit) {
    await this.stop();
    this.options = { ...this.options, edit };
    writeConfig(this.options, this.configDir);
    await this.migrate();
    await this.boot();
  }

  /** SIGKILL the whole process group (wrangler and workerd): a crash, not a shutdown. */
  async kill() {
    try { process.kill(-this.proc.pid, "SIGKILL"); } catch {}
    await this.exited;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try { process.kill(-this.proc.pid, "SIGTERM"); } catch {}
    const timer = setTimeout(() => { try { process.kill(-this.proc.pid, "SIGKILL"); } catch {} }, 5000);
    await this.exited;
    clearTimeout(timer);
  }

  async api(method, path, body) {
    const res = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch {}
    return { status: res.status, json, text };
  }

  async createEndpoint(fields) {
    const res = await this.api("POST", "/endpoints", fields);
    if (res.status !== 201) throw new Error(`create endpoint: ${res.status} ${res.text}`);
    return res.json;
  }

  /** POSTs raw bytes to an ingest URL. */
  async ingest(endpointId, body, headers = {}) {
    const res = await fetch(`${this.url}/${endpointId}`, { method: "POST", headers, body });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch {}
    return { status: res.status, json, text, headers: res.headers };
  }

  /** Acks `n` bodies `<prefix>-<i>` one after another; returns their event ids. */
  async ingestMany(endpointId, n, prefix) {
    const ids = [];
    for (let i = 0; i < n; i++) {
      const res = await this.ingest(endpointId, `${prefix}-${i}`);
      if (res.status !== 200) throw new Error(`ingest ${prefix}-${i}: ${res.status} ${res.text}`);
      ids.push(res.json.id);
    }
    return ids;
  }

  async event(id) {
    const res = await this.api("GET", `/events/${id}`);
    if (res.status !== 200) throw new Error(`event ${id}: ${res.status} ${res.text}`);
    return res.json;
  }

  async health(endpointId) {
    const q = endpointId ? `?endpoint_id=${endpointId}` : "";
    return (await this.api("GET", `/health${q}`)).json;
  }

  /** Fires the cron the way the platform would; resolves when the sweep finished. */
  async fireCron() {
    const res = await fetch(`${this.url}/cdn-cgi/local/scheduled?cron=*/1+*+*+*+*`);
    await res.text();
    if (!res.ok) throw new Error(`cron: ${res.status}`);
  }

  /** Polls the event until `predicate(event)` holds. */
  async waitForEvent(id, predicate, { timeoutMs = 30_000, cronEveryMs = 0 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let lastCron = Date.now();
    let event;
    while (Date.now() < deadline) {
      event = await this.event(id);
      if (predicate(event)) return event;
      if (cronEveryMs && Date.now() - lastCron >= cronEveryMs) {
        await this.fireCron();
        lastCron = Date.now();
      }
      await sleep(200);
    }
    throw new Error(`event ${id} never satisfied the wait; last: ${JSON.stringify(event)}`);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` until it returns something truthy, which it returns. */
export async function waitFor(what, predicate, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await predicate();
    if (value) return value;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}
