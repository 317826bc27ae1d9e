// The relay's figures, all measured in one run on this machine, on workerd:
// - ingest latency and acks/s at 1, 8 and 32 concurrent senders, next to a bare
//   Rust Worker (bench/bare: reads the body, answers its length; built and run
//   the same way) given the same requests, with delivery running (the ratios
//   are what counts; these machines are noisy), and next to the minimal relay
//   (the same Worker's `POST /minimal`: an R2 put and one D1 row before the
//   answer, then a queue message, a batch claim in one statement, a POST to
//   the destination and the outcome in one batch, nothing else: the relay's
//   storage steps alone), its delivery running too, and next to the durable
//   ack alone (`POST /durable`: the R2 put and the D1 row, then the answer,
//   and nothing after);
// - the storage round trips each ack waited for (from its Server-Timing header);
// - CPU at 32 senders: what wrangler and workerd used per webhook acked and
//   delivered, next to the bare Worker's per request (the steadiest figure on
//   a noisy machine: it does not move with what else the machine runs);
// - fan-out: ingest into an endpoint with three routes next to one route;
// - shards: ingest at 32 senders into endpoints on two D1 shards next to one;
// - end to end: delivery lag p50/p99 and deliveries/s into a local destination
//   for N events, with the check that every one arrived exactly once;
// - the capacity ledger: per webhook (GitHub-signed, 1.4 KB body, one route,
//   delivered on the first try), the D1 round trips, statements, rows read and
//   written (as D1 reports and bills them) and D1 time of the ack path and of
//   delivery, R2 and queue operations, D1 bytes added to the working set and
//   what stays after compaction, compaction's own cost; one sweep's cost; and
//   from these and Cloudflare's published limits the webhooks/s one database
//   carries (docs/capacity.md explains the model);
// - backlogs: cron runs to drain 10,000 due events whose queue messages were
//   lost, and to compact 20,000 delivered events into the archive;
// - wasm size raw and gzipped.
// Usage: node scripts/bench.mjs [requests-per-level] [end-to-end-events] [sections]
// (after `make build`); sections is a comma list of ingest, fanout, e2e, pull,
// shards, ledger, backlog (default: all).
import { Relay, freePort } from "../tests/support/relay.mjs";
import { startDestination } from "../tests/support/destination.mjs";
import { github } from "../tests/support/providers.mjs";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const perLevel = Number(process.argv[2] ?? 400);
const endToEnd = Number(process.argv[3] ?? 5000);
const levels = [1, 8, 32];
const sections = process.argv[4]?.split(",");
const wanted = (name) => !sections || sections.includes(name);

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const f = (n, w = 7) => n.toFixed(1).padStart(w);

async function measure(concurrency, total, send, onResponse = () => {}) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      const res = await send(i);
      // 2xx, or the bare route's own redirect (`/` answers 302 to the dashboard).
      if (res.status >= 400 || res.status < 200) throw new Error(`status ${res.status}: ${await res.text()}`);
      const body = await res.text();
      latencies.push(performance.now() - t0);
      onResponse(i, res, body);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), rate: total / seconds };
}

/** Storage round trips named in a Server-Timing header. */
const roundTrips = (res) => (res.headers.get("server-timing") ?? "").split(",").filter((e) => /^\s*(placement|endpoint|r2|d1);/.test(e)).length;

const dest = await startDestination();
// A hot window of one second: events are compacted when the bench fires the
// cron (nothing fires it on its own under wrangler dev), not before. An event
// leaves D1 no sooner than its dedup key's window ends, so that is a second too.
const HOT_WINDOW_S = 1;
const WINDOWS = { HOT_WINDOW_S: String(HOT_WINDOW_S), DEDUP_WINDOW_S: String(HOT_WINDOW_S) };
const relay = await Relay.start({ name: "bench", vars: WINDOWS });
const bareWorker = await startBareWorker(dest.route("/minimal"));
try {
  const secret = "bench-secret";
  const ep = await relay.createEndpoint({ name: "bench", provider: "github", secrets: [secret], destination_url: dest.route("/bench") });
  const body = Buffer.from(JSON.stringify({ action: "opened", pull_request: { title: "x".repeat(1200) } }));
  let seq = 0;
  const ingest = () => {
    const delivery = `bench-${++seq}`;
    return fetch(`${relay.url}/${ep.id}`, { method: "POST", body, headers: github(secret, body, { delivery }) });
  };
  const bare = () => fetch(`${bareWorker.url}/`, { method: "POST", body, headers: github(secret, body, { delivery: `bare-${++seq}` }) });
  const minimal = () => fetch(`${bareWorker.url}/minimal`, { method: "POST", body, headers: github(secret, body, { delivery: `minimal-${++seq}` }) });
  const durable = () => fetch(`${bareWorker.url}/durable`, { method: "POST", body, headers: github(secret, body, { delivery: `durable-${++seq}` }) });

  if (wanted("ingest")) await ingestVsBare(ingest, { bare, minimal, durable }, body);
  if (wanted("fanout")) await fanOut(relay, dest, body);
  if (wanted("shards")) await twoShardsNextToOne(relay, ep, secret, body);
  if (wanted("e2e")) await endToEndLag(relay, dest);
  if (wanted("pull")) await pullOverPush(relay, dest);
  if (wanted("ledger")) await capacityLedger(relay, dest, body);
  if (wanted("backlog")) await backlogs(dest);

  const wasm = readFileSync(new URL("../build/index_bg.wasm", import.meta.url));
  console.log(`\nwasm: ${wasm.length} bytes raw, ${gzipSync(wasm).length} bytes gzipped`);
} finally {
  await relay.stop();
  await bareWorker.stop();
  await dest.close();
}

/**
 * The bare Worker and the minimal relay (bench/bare, built by
 * scripts/build-bare.sh) on workerd, its local R2, D1 and queue in a
 * temporary directory removed when it stops; the minimal relay delivers to
 * `minimalDestination`. Like the relay (tests/support/relay.mjs), it runs
 * without wrangler dev's local trace collector.
 */
async function startBareWorker(minimalDestination) {
  const dir = new URL("../bench/bare/", import.meta.url).pathname;
  if (!existsSync(join(dir, "build/index.js"))) throw new Error("bench/bare is not built: bash scripts/build-bare.sh");
  const port = await freePort();
  const inspector = await freePort();
  const state = mkdtempSync(join(tmpdir(), "hookrelay-bare-"));
  const proc = spawn("wrangler", ["dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", state,
    "--var", `MINIMAL_DESTINATION:${minimalDestination}`],
    { cwd: dir, detached: true, stdio: "ignore", env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", X_LOCAL_OBSERVABILITY: "false" } });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    try { if ((await fetch(url, { method: "POST", body: "x" })).ok) break; } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  const stop = async () => {
    try { process.kill(-proc.pid, "SIGTERM"); } catch {}
    await new Promise((r) => setTimeout(r, 500));
    rmSync(state, { recursive: true, force: true });
  };
  return { url, pgid: proc.pid, stop };
}

/**
 * Ingest at 32 senders into one endpoint (one shard) next to two endpoints on
 * two shards, alternately. Locally every shard is a SQLite file of the same
 * workerd on the same CPUs, so this shows what spreading costs the ack path,
 * not the scale-out itself (each D1 database in Cloudflare runs its own queries).
 */
async function twoShardsNextToOne(relay, ep, secret, body) {
  const other = await relay.createEndpoint({ name: "bench-shard-2", provider: "github", secrets: [secret], destination_url: dest.route("/bench") });
  const shards = [await relay.shardOf(ep.id), await relay.shardOf(other.id)];
  if (shards[0] === shards[1]) throw new Error(`both bench endpoints were placed on ${shards[0]}`);
  let seq = 0;
  const send = (target) => fetch(`${relay.url}/${target.id}`, { method: "POST", body, headers: github(secret, body, { delivery: `shards-${++seq}` }) });
  const one = () => send(ep);
  const two = () => send(seq % 2 === 0 ? ep : other);
  await measure(4, 50, two); // warm both endpoints in the cache
  const c = 32;
  const single = await measure(c, perLevel, one);
  const spread = await measure(c, perLevel, two);
  console.log(`\nshards: ingest at ${c} senders, ${perLevel} requests per run, into one endpoint on ${shards[0]} next to two endpoints on ${shards.join(" and ")}, ms`);
  console.log("          |    p50    p95    p99  acks/s");
  console.log(`one shard | ${f(single.p50)}${f(single.p95)}${f(single.p99)}${f(single.rate)}`);
  console.log(`two shards| ${f(spread.p50)}${f(spread.p95)}${f(spread.p99)}${f(spread.rate)}`);
  console.log(`two shards / one: acks/s ${(spread.rate / single.rate).toFixed(2)}x, p99 ${(spread.p99 / single.p99).toFixed(2)}x (locally both share one workerd)`);
}

/**
 * CPU time (ms) the processes of a process group (wrangler and its workerd)
 * have used so far, from Linux's /proc (utime + stime of every process, all
 * threads counted, in clock ticks of 10 ms).
 */
function groupCpuMs(pgid) {
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let stat;
    try { stat = readFileSync(`/proc/${pid}/stat`, "utf8"); } catch { continue; }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10;
}

/** Waits until `path` of the destination has received `n` deliveries (at most a minute). */
async function deliveredTo(n, path = "/bench") {
  const deadline = Date.now() + 60_000;
  while (dest.requests.filter((r) => r.path === path).length < n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Ingest latency and acks/s next to the bare Worker, the minimal relay and
 * the durable ack alone, level by level.
 */
async function ingestVsBare(ingest, { bare, minimal, durable }, body) {
  const trips = new Map();
  let acked = 0;
  const countTrips = (_i, res) => { const n = roundTrips(res); trips.set(n, (trips.get(n) ?? 0) + 1); };
  const counted = () => ingest().then((res) => { acked++; return res; });
  let minimalAcked = 0;
  const minimalCounted = () => minimal().then((res) => { minimalAcked++; return res; });
  await measure(4, 50, counted); // warm the isolate and the endpoint cache
  await measure(4, 50, bare);
  await measure(4, 50, minimalCounted); // and the minimal relay's table
  await measure(4, 50, durable);
  const rows = [];
  const cpu = {};
  for (const c of levels) {
    const last = c === levels[levels.length - 1];
    // No delivery of an earlier level runs alongside.
    await deliveredTo(acked);
    await deliveredTo(minimalAcked, "/minimal");
    const bareCpu = groupCpuMs(bareWorker.pgid);
    const b = await measure(c, perLevel, bare);
    if (last) cpu.bare = (groupCpuMs(bareWorker.pgid) - bareCpu) / perLevel;
    const minimalCpu = groupCpuMs(bareWorker.pgid);
    const d = await measure(c, perLevel, minimalCounted);
    await deliveredTo(minimalAcked, "/minimal");
    if (last) cpu.minimal = (groupCpuMs(bareWorker.pgid) - minimalCpu) / perLevel;
    const durableCpu = groupCpuMs(bareWorker.pgid);
    const a = await measure(c, perLevel, durable);
    if (last) cpu.durable = (groupCpuMs(bareWorker.pgid) - durableCpu) / perLevel;
    const relayCpu = groupCpuMs(relay.proc.pid);
    const g = await measure(c, perLevel, counted, countTrips);
    await deliveredTo(acked);
    if (last) cpu.relay = (groupCpuMs(relay.proc.pid) - relayCpu) / perLevel;
    rows.push({ c, b, d, a, g });
  }
  console.log(`\ningest (GitHub-signed, ${body.length} B body: verify + R2 put + D1 batch, delivery running) vs the bare Rust Worker (reads the body, answers its length), ${perLevel} requests per level, ms`);
  console.log("conc |  bare p50    p95    p99   req/s | ingest p50    p95    p99  acks/s | p99 ratio (target <= 2) | rate ratio (target >= 0.5)");
  for (const { c, b, g } of rows) {
    console.log(`${String(c).padStart(4)} | ${f(b.p50)}${f(b.p95)}${f(b.p99)}${f(b.rate)} | ${f(g.p50)}${f(g.p95)}${f(g.p99)}${f(g.rate)} | ${(g.p99 / b.p99).toFixed(2).padStart(9)}x${" ".repeat(14)} | ${(g.rate / b.rate).toFixed(2).padStart(9)}x`);
  }
  console.log("the minimal relay (bench/bare's POST /minimal: R2 put, then one D1 row, then the answer; its delivery running: a queue message, a batch claim, a POST, the outcomes in one batch; no signature, dedup or live stream) vs the bare Worker:");
  const minimalDelivered = dest.requests.filter((r) => r.path === "/minimal").length;
  console.log(`(the minimal relay delivered ${minimalDelivered} of its ${minimalAcked} acked requests${minimalDelivered === minimalAcked ? "" : ": NOT ALL, its figures do not count"})`);
  console.log("conc | minim p50    p95    p99   req/s | p99 ratio | rate ratio | ingest vs minimal: p99, rate");
  for (const { c, b, d, g } of rows) {
    console.log(`${String(c).padStart(4)} | ${f(d.p50)}${f(d.p95)}${f(d.p99)}${f(d.rate)} | ${(d.p99 / b.p99).toFixed(2).padStart(8)}x | ${(d.rate / b.rate).toFixed(2).padStart(9)}x | ${(g.p99 / d.p99).toFixed(2)}x, ${(g.rate / d.rate).toFixed(2)}x`);
  }
  console.log("the durable ack alone (bench/bare's POST /durable: R2 put, then one D1 row, then the answer; no queue message, no delivery: the least a relay that acks only what it stored does per request) vs the bare Worker:");
  console.log("conc | durab p50    p95    p99   req/s | p99 ratio | rate ratio");
  for (const { c, b, a } of rows) {
    console.log(`${String(c).padStart(4)} | ${f(a.p50)}${f(a.p95)}${f(a.p99)}${f(a.rate)} | ${(a.p99 / b.p99).toFixed(2).padStart(8)}x | ${(a.rate / b.rate).toFixed(2).padStart(9)}x`);
  }
  const tripSummary = [...trips].sort().map(([n, count]) => `${n} round trips: ${count} acks`).join(", ");
  console.log(`sequential storage round trips before the ack (Server-Timing): ${tripSummary}`);
  console.log(`CPU at ${levels[levels.length - 1]} senders, all threads of wrangler and workerd (the senders, this process, are not counted): ` +
    `the relay ${cpu.relay.toFixed(2)} ms per webhook acked and delivered, the bare Worker ${cpu.bare.toFixed(2)} ms per request (${(cpu.relay / cpu.bare).toFixed(2)}x), ` +
    `the minimal relay ${cpu.minimal.toFixed(2)} ms per webhook acked and delivered (${(cpu.minimal / cpu.bare).toFixed(2)}x), ` +
    `the durable ack alone ${cpu.durable.toFixed(2)} ms per request (${(cpu.durable / cpu.bare).toFixed(2)}x)`);
}

/** End to end: N events into a fresh endpoint; lag = destination receipt - ack. */
async function endToEndLag(relay, dest) {
  const e2e = await relay.createEndpoint({ name: "bench-e2e", provider: "none", destination_url: dest.route("/e2e") });
  const ackedAt = new Map();
  const started = performance.now();
  await measure(16, endToEnd, (i) => fetch(`${relay.url}/${e2e.id}`, { method: "POST", body: `e2e-${i}`, headers: { "idempotency-key": `e2e-${i}` } }),
    (_i, _res, text) => ackedAt.set(JSON.parse(text).id, Date.now()));
  const deadline = Date.now() + 15 * 60_000;
  let lastFire = Date.now();
  while (dest.to("/e2e").length < endToEnd && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    if (Date.now() - lastFire > 30_000) { await relay.fireCron(); lastFire = Date.now(); }
  }
  const got = dest.to("/e2e");
  const ids = got.map((r) => r.headers["webhook-id"]);
  const unique = new Set(ids);
  const lags = got.filter((r) => ackedAt.has(r.headers["webhook-id"])).map((r) => r.at - ackedAt.get(r.headers["webhook-id"])).sort((a, b) => a - b);
  const spanS = (Math.max(...got.map((r) => r.at)) - Math.min(...got.map((r) => r.at))) / 1000;
  console.log(`\nend to end, ${endToEnd} events (16 senders, queue consumer, local destination):`);
  console.log(`  delivered ${got.length}, distinct ${unique.size}, acked ${ackedAt.size} -> ${got.length === endToEnd && unique.size === endToEnd ? "every event exactly once" : "MISMATCH"}`);
  console.log(`  delivery lag p50 ${lags.length ? percentile(lags, 50) : "-"} ms, p99 ${lags.length ? percentile(lags, 99) : "-"} ms; ${(got.length / spanS).toFixed(1)} deliveries/s; total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * What fan-out costs on the ack path: the same GitHub requests into an endpoint
 * with one route and into one with three (two of them filtered: an event-type
 * shortcut and a body filter, both accepting), interleaved level by level in
 * one run. Three routes write three events in the same D1 batch.
 */
async function fanOut(relay, dest, body) {
  const secret = "bench-fanout";
  const one = await relay.createEndpoint({ name: "fan-1", provider: "github", secrets: [secret], destination_url: dest.route("/fan-1") });
  const three = await relay.createEndpoint({ name: "fan-3", provider: "github", secrets: [secret], destination_url: dest.route("/fan-3a") });
  for (const route of [
    { name: "by type", destination_url: dest.route("/fan-3b"), event_types: ["pull_request.*"] },
    { name: "by body", destination_url: dest.route("/fan-3c"), filter: { body: { action: { $in: ["opened", "closed"] } } } },
  ]) {
    const res = await relay.api("POST", `/endpoints/${three.id}/routes`, route);
    if (res.status !== 201) throw new Error(`route: ${res.status} ${res.text}`);
  }
  let seq = 0;
  const to = (ep) => () => fetch(`${relay.url}/${ep.id}`, {
    method: "POST", body, headers: github(secret, body, { delivery: `fan-${++seq}`, event: "pull_request" }),
  });
  const trips = new Set();
  await measure(4, 50, to(one));
  await measure(4, 50, to(three));
  console.log(`
fan-out: the same requests into 1 route and into 3 routes (3 events per ack), ${perLevel} per level, ms`);
  console.log("conc | 1 route p50    p95  acks/s | 3 routes p50    p95  acks/s | p50 ratio");
  for (const c of levels) {
    const a = await measure(c, perLevel, to(one));
    const b = await measure(c, perLevel, to(three), (_i, res) => trips.add(roundTrips(res)));
    console.log(`${String(c).padStart(4)} | ${f(a.p50, 11)}${f(a.p95)}${f(a.rate)} | ${f(b.p50, 12)}${f(b.p95)}${f(b.rate)} | ${(b.p50 / a.p50).toFixed(2)}x`);
  }
  console.log(`storage round trips before a 3-route ack: ${[...trips].sort().join(" or ")}`);

  // What the body's size costs the same 3-route ack (up to the test relay's
  // 64 KB limit): read, verify, parse once for the dedup id, event type and
  // filters, hash, and store in R2.
  const large = Buffer.from(JSON.stringify({
    action: "opened", pull_request: { title: "x", commits: Array.from({ length: 450 }, (_, i) => ({ sha: `${i}`.padStart(40, "0"), message: "y".repeat(60) })) },
  }));
  const sized = (b) => () => fetch(`${relay.url}/${three.id}`, {
    method: "POST", body: b, headers: github(secret, b, { delivery: `fan-${++seq}`, event: "pull_request" }),
  });
  const small = await measure(1, perLevel, sized(body));
  const big = await measure(1, perLevel, sized(large));
  console.log(`body size, 3 routes, sequential: ${body.length} B p50 ${f(small.p50, 0)} ms, ${(large.length / 1024).toFixed(0)} KB JSON p50 ${f(big.p50, 0)} ms (${(big.p50 / small.p50).toFixed(2)}x)`);
}

/**
 * The latency `hookrelay listen` adds: the same 200 events sent to a push
 * endpoint and to a pull endpoint forwarded by the CLI into the same local app;
 * lag = app receipt - ack, in one run. Skipped when the CLI is not built.
 */
async function pullOverPush(relay, dest) {
  const cli = new URL("../target/debug/hookrelay", import.meta.url).pathname;
  if (!existsSync(cli)) {
    console.log("\npull over push: skipped (cargo build -p hookrelay-cli first)");
    return;
  }
  const n = 200;
  const push = await relay.createEndpoint({ name: "lag-push", provider: "none", destination_url: dest.route("/lag-push") });
  const pull = await relay.createEndpoint({ name: "lag-pull", provider: "none", destination_type: "pull" });
  const home = mkdtempSync(join(tmpdir(), "hookrelay-bench-cli-"));
  const listener = spawn(cli, ["listen", pull.id, "--forward-to", `${dest.base}/lag-pull`, "--json"], {
    env: { ...process.env, HOME: home, HOOKRELAY_URL: relay.url, HOOKRELAY_KEY: "test-admin-token" },
    stdio: "ignore",
  });
  const acked = new Map();
  const sendTo = async (ep, i) => {
    const res = await fetch(`${relay.url}/${ep.id}`, { method: "POST", body: `lag-${i}` });
    acked.set((await res.json()).id, Date.now());
  };
  for (let i = 0; i < n; i++) {
    await Promise.all([sendTo(push, i), sendTo(pull, i)]);
    await new Promise((r) => setTimeout(r, 20));
  }
  const deadline = Date.now() + 120_000;
  while ((dest.to("/lag-push").length < n || dest.to("/lag-pull").length < n) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  listener.kill("SIGINT");
  const lags = (path) => dest.to(path).map((r) => r.at - acked.get(r.headers["webhook-id"])).sort((a, b) => a - b);
  const show = (name, l) => `${name}: ${l.length} delivered, lag p50 ${percentile(l, 50)} ms, p99 ${percentile(l, 99)} ms`;
  console.log(`\npull over push, ${n} events each, same run, 50/s:`);
  console.log(`  ${show("push (queue consumer)", lags("/lag-push"))}`);
  console.log(`  ${show("pull (hookrelay listen)", lags("/lag-pull"))}`);
}

/** The relay's metrics as `name{labels}` -> value. */
async function metrics(relay) {
  const res = await relay.api("GET", "/metrics");
  const out = new Map();
  for (const line of res.text.split("\n")) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  }
  return out;
}

/** Waits until no event of the relay is in flight (the cron fired now and then for stragglers). */
async function settled(relay) {
  const deadline = Date.now() + 3 * 60_000;
  let inFlight = (await relay.health()).counts.in_flight;
  for (let round = 1; inFlight > 0 && Date.now() < deadline; round++) {
    await new Promise((r) => setTimeout(r, 500));
    if (round % 20 === 0) await relay.fireCron();
    inFlight = (await relay.health()).counts.in_flight;
  }
  if (inFlight > 0) console.log(`  (${inFlight} events of the sections before still in flight: the ledger's delivery figures include their work)`);
}

/**
 * The capacity ledger: what one webhook costs D1, R2 and the queue, read from
 * the relay's own counters (D1 reports rows read and written with every
 * result, index entries included, as it bills them) around N webhooks sent
 * and delivered; then what one D1 database carries at that cost.
 */
async function capacityLedger(relay, dest, body) {
  const n = 400;
  const secret = "bench-ledger";
  const ep = await relay.createEndpoint({ name: "ledger", provider: "github", secrets: [secret], destination_url: dest.route("/ledger") });
  // The sections before leave deliveries running; counted here, they would
  // be charged to the ledger's webhooks.
  await settled(relay);
  await relay.fireCron();
  const before = await metrics(relay);
  const sizeBefore = (await relay.health(ep.id)).database.size_bytes;
  let seq = 0;
  const sendRound = () => measure(4, n, () => {
    const delivery = `ledger-${++seq}`;
    return fetch(`${relay.url}/${ep.id}`, { method: "POST", body, headers: github(secret, body, { delivery, event: "pull_request" }) });
  });
  const deliveredAll = async (count) => {
    const deadline = Date.now() + 5 * 60_000;
    while ((await relay.health(ep.id)).counts.delivered < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 300));
    return (await relay.health(ep.id)).counts.delivered;
  };
  await sendRound();
  const delivered = await deliveredAll(n);
  const after = await metrics(relay);
  const sizeAfter = (await relay.health(ep.id)).database.size_bytes;
  // Past the hot window: this sweep compacts the round into the archive.
  await new Promise((r) => setTimeout(r, HOT_WINDOW_S * 1000 + 200));
  await relay.fireCron();
  const compacted = await metrics(relay);
  const compaction = (await relay.health()).sweeper.last_report.compaction;
  // A second round, delivered and compacted the same way, reuses the pages the
  // first one freed: what the database grows by is what stays per webhook.
  const sizeBeforeSecond = (await relay.health(ep.id)).database.size_bytes;
  await sendRound();
  await deliveredAll(2 * n);
  await new Promise((r) => setTimeout(r, HOT_WINDOW_S * 1000 + 200));
  await relay.fireCron();
  const sizeAfterSecond = (await relay.health(ep.id)).database.size_bytes;
  const beforeIdle = await metrics(relay);
  await relay.fireCron();
  const swept = await metrics(relay);

  const per = (name, path, from = before, to = after, count = n) =>
    ((to.get(`${name}{path="${path}"}`) ?? 0) - (from.get(`${name}{path="${path}"}`) ?? 0)) / count;
  const r2 = (path, op) => ((after.get(`hookrelay_r2_operations_total{path="${path}",op="${op}"}`) ?? 0) - (before.get(`hookrelay_r2_operations_total{path="${path}",op="${op}"}`) ?? 0)) / n;
  const row = (label, path) => {
    const rt = per("hookrelay_d1_round_trips_total", path);
    const st = per("hookrelay_d1_statements_total", path);
    const rr = per("hookrelay_d1_rows_read_total", path);
    const rw = per("hookrelay_d1_rows_written_total", path);
    const ms = per("hookrelay_d1_duration_ms_total", path);
    console.log(`  ${label.padEnd(9)} ${f(rt, 6)} ${f(st, 10)} ${f(rr, 9)} ${f(rw, 12)} ${ms.toFixed(3).padStart(10)}`);
    return { rt, rw, ms };
  };
  console.log(`\ncapacity ledger: ${n} GitHub webhooks (${body.length} B body), one route, delivered on the first try (${delivered} delivered), per webhook`);
  console.log("  path      round trips statements rows read rows written  D1 ms");
  const ingest = row("ack path", "ingest");
  const delivery = row("delivery", "delivery");
  const bytes = sizeBefore !== null && sizeAfter !== null ? (sizeAfter - sizeBefore) / n : null;
  console.log(`  total rows written ${(ingest.rw + delivery.rw).toFixed(1)} (target at most 12); D1 round trips ${(ingest.rt + delivery.rt).toFixed(2)}`);
  console.log(`  R2: ${r2("ingest", "put").toFixed(2)} put (ack path), ${r2("delivery", "get").toFixed(2)} get (delivery); queue: ${per("hookrelay_queue_messages_total", "ingest").toFixed(2)} message(s) from the ack path, ${per("hookrelay_queue_messages_total", "delivery").toFixed(2)} from delivery`);
  console.log(`  D1 bytes added: ${bytes === null ? "not reported" : `${bytes.toFixed(0)} per webhook`} (the working set, until the hot window ends)`);
  const kept = sizeBeforeSecond !== null && sizeAfterSecond !== null ? (sizeAfterSecond - sizeBeforeSecond) / n : null;
  console.log(`  D1 bytes that stay after compaction: ${kept === null ? "not reported" : `${kept.toFixed(0)} per webhook`} (a second round into the pages the first one freed: the archive's index; the dedup key leaves with its ingest)`);
  // What stays per archived event: the archive's own rows
  // (one per object), their bytes as stored plus an estimate of the two
  // index entries each, spread over the events they hold.
  const [archived] = await relay.d1Rows(
    "SELECT SUM(length(key) * 2 + length(endpoint_id) * 2 + length(route_id) * 2 + length(first_id) + length(last_id) + length(id_filter) / 2 + 64) AS bytes, SUM(events) AS events FROM archives",
    await relay.shardOf(ep.id));
  const history = archived?.events ? archived.bytes / archived.events : null;
  console.log(`  D1 bytes per archived event: ${history === null ? "-" : history.toFixed(1)} (its share of the archive's index row)`);
  const c = (name) => ((compacted.get(`${name}{path="sweep"}`) ?? 0) - (after.get(`${name}{path="sweep"}`) ?? 0)) / n;
  const r2Sweep = (op) => ((compacted.get(`hookrelay_r2_operations_total{path="sweep",op="${op}"}`) ?? 0) - (after.get(`hookrelay_r2_operations_total{path="sweep",op="${op}"}`) ?? 0)) / n;
  console.log(`  compaction (${compaction?.events_compacted ?? 0} events into ${compaction?.objects_written ?? 0} archive objects): ${c("hookrelay_d1_round_trips_total").toFixed(3)} D1 round trips, ${c("hookrelay_d1_rows_written_total").toFixed(1)} rows written, ${r2Sweep("put").toFixed(3)} R2 puts per webhook (the sweep's whole cost, divided)`);
  const sweepRows = per("hookrelay_d1_rows_written_total", "sweep", beforeIdle, swept, 1);
  const sweepTrips = per("hookrelay_d1_round_trips_total", "sweep", beforeIdle, swept, 1);
  console.log(`  one sweep with nothing due: ${sweepTrips.toFixed(0)} D1 round trips, ${sweepRows.toFixed(0)} rows written`);

  // What one database carries (docs/capacity.md): 10 GB per D1 database
  // (Workers Paid), one query at a time, 5,000 messages/s per queue.
  const D1_BYTES = 10e9;
  const QUEUE_MSGS = 5000;
  const day = 86_400;
  const msgs = per("hookrelay_queue_messages_total", "ingest") + per("hookrelay_queue_messages_total", "delivery");
  console.log("  sustained webhooks/s one D1 database carries at these figures:");
  if (bytes) {
    console.log(`    storage, everything kept in D1 for 30 days (no compaction): ${(D1_BYTES / (bytes * 30 * day)).toFixed(1)}/s`);
    // The working set (the dedup key in it) for the hot window, and at least
    // the dedup window (an event leaves D1 no sooner than its key's window
    // ends), then the archive's index for the rest of the history.
    const indexBytes = history ?? 1;
    for (const [hot, dedup, days] of [[3, 1, 30], [1, 1, 30], [0.25, 0.25, 30], [3, 1, 90]]) {
      const inD1 = Math.max(hot, dedup);
      const perWebhookDays = bytes * inD1 + indexBytes * (days - inD1);
      console.log(`    storage, hot window ${hot} d, dedup window ${dedup} d, history ${days} d in R2: ${(D1_BYTES / (perWebhookDays * day)).toFixed(1)}/s`);
    }
  }
  const dbMs = ingest.ms + delivery.ms;
  console.log(`    one query at a time: ${dbMs > 0 ? (1000 / dbMs).toFixed(0) : "-"}/s (${dbMs.toFixed(3)} ms of D1 time per webhook, local SQLite)`);
  console.log(`    queue: ${msgs > 0 ? (QUEUE_MSGS / msgs).toFixed(0) : "-"}/s (${msgs.toFixed(2)} messages per webhook)`);
}

/**
 * Backlogs: how many cron runs compact 20,000 delivered events into the
 * archive, and drain 10,000 due events whose queue messages were lost (each
 * must be delivered once). Each run works within its time budget.
 */
async function backlogs(dest) {
  const finished = Number(process.env.BENCH_COMPACT ?? 20_000);
  const due = Number(process.env.BENCH_DUE ?? 10_000);
  // Its own relay, whose consumer takes batches of 100 (the repository's
  // config takes 10, for latency): wrangler's local queue hands batches over
  // one at a time, and 30,000 deliveries in batches of 10 take most of an hour.
  const relay = await Relay.start({
    name: "bench-backlog",
    vars: WINDOWS,
    edit: (config) => {
      for (const c of config.queues.consumers.filter((c) => c.dead_letter_queue)) c.max_batch_size = 100;
    },
  });
  try {
    await backlogsOn(relay, dest, finished, due);
  } finally {
    await relay.stop();
  }
}

async function backlogsOn(relay, dest, finished, due) {
  const ep = await relay.createEndpoint({ name: "backlog", provider: "none", destination_url: dest.route("/backlog") });
  const quick = (i) => fetch(`${relay.url}/${ep.id}`, { method: "POST", body: `done-${i}` });
  await measure(16, finished, quick);
  const deadline = Date.now() + 10 * 60_000;
  while ((await relay.health(ep.id)).counts.delivered < finished && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, HOT_WINDOW_S * 1000 + 200));
  let compactRuns = 0;
  let moved = 0;
  let objects = 0;
  const t0 = performance.now();
  for (;;) {
    await relay.fireCron();
    compactRuns++;
    const report = (await relay.health()).sweeper.last_report.compaction;
    moved += report?.events_compacted ?? 0;
    objects += report?.objects_written ?? 0;
    if (!report?.behind || compactRuns >= 20) break;
  }
  const [left] = await relay.d1Rows(`SELECT COUNT(*) AS n FROM events WHERE endpoint_id = '${ep.id}' AND status = 'delivered'`, await relay.shardOf(ep.id));
  console.log(`\nbacklogs: ${finished} delivered events compacted by ${compactRuns} cron run(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${moved} moved into ${objects} archive objects, ${left.n} left in D1`);

  const lost = (i) => fetch(`${relay.url}/${ep.id}`, { method: "POST", body: `due-${i}`, headers: { "x-hookrelay-fault": "queue_send" } });
  const ack = await measure(16, due, lost);
  await new Promise((r) => setTimeout(r, 1500)); // past the sweep grace
  let runs = 0;
  const started = performance.now();
  const target = finished + due;
  let first = null;
  while ((await relay.health(ep.id)).counts.delivered < target && runs < 50) {
    await relay.fireCron();
    runs++;
    first ??= (await relay.health()).sweeper.last_report;
    const until = Date.now() + 20_000;
    while ((await relay.health(ep.id)).counts.in_flight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 500));
  }
  const delivered = (await relay.health(ep.id)).counts.delivered - finished;
  const once = new Map();
  for (const r of dest.to("/backlog").filter((r) => r.answered === 200 && r.body.toString().startsWith("due-"))) once.set(r.headers["webhook-id"], (once.get(r.headers["webhook-id"]) ?? 0) + 1);
  console.log(`  ${due} events acked with their queue message lost (${ack.rate.toFixed(0)} acks/s): the first cron run found ${first?.due} due, delivered ${first?.delivered_directly} itself and enqueued ${first?.enqueued} (backlog left: ${first?.backlog_left})`);
  console.log(`  drained by ${runs} cron run(s) in ${((performance.now() - started) / 1000).toFixed(1)} s (the local queue's pace): ${delivered} delivered, ${once.size} distinct at the destination, ${[...once.values()].filter((n) => n > 1).length} more than once`);
}
