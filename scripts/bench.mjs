// Ingest latency on workerd, measured against a bare route of the same Worker in
// the same run (the ratio is the figure that counts; these machines are noisy).
// Usage: node scripts/bench.mjs [requests-per-level]   (after `make build`)
import { Relay } from "../tests/support/relay.mjs";
import { startDestination } from "../tests/support/destination.mjs";
import { github } from "../tests/support/providers.mjs";
import { readFileSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";

const perLevel = Number(process.argv[2] ?? 400);
const levels = [1, 8, 32];

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(concurrency, total, send) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      const res = await send(i);
      if (!res.ok) throw new Error(`status ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), rate: total / seconds };
}

const dest = await startDestination();
const relay = await Relay.start({ name: "bench" });
try {
  const secret = "bench-secret";
  const ep = await relay.createEndpoint({ name: "bench", provider: "github", secrets: [secret], destination_url: dest.route("/bench") });
  const body = Buffer.from(JSON.stringify({ action: "opened", pull_request: { title: "x".repeat(1200) } }));
  const ingest = (i) => fetch(`${relay.url}/${ep.id}`, { method: "POST", body, headers: github(secret, body, { delivery: `bench-${Date.now()}-${i}` }) });
  const bare = () => fetch(`${relay.url}/`);
  await measure(4, 50, ingest); // warm the isolate and the endpoint cache
  await measure(4, 50, bare);

  const rows = [];
  for (const c of levels) {
    const b = await measure(c, perLevel, bare);
    const g = await measure(c, perLevel, ingest);
    rows.push({ c, b, g });
  }
  const f = (n) => n.toFixed(1).padStart(7);
  console.log(`\ningest (GitHub-signed, ${body.length} B body, verify + R2 put + D1 batch) vs bare GET /, ${perLevel} requests per level`);
  console.log("conc |  bare p50    p95    p99   req/s | ingest p50    p95    p99  acks/s | p50 ratio");
  for (const { c, b, g } of rows) {
    console.log(`${String(c).padStart(4)} | ${f(b.p50)}${f(b.p95)}${f(b.p99)}${f(b.rate)} | ${f(g.p50)}${f(g.p95)}${f(g.p99)}${f(g.rate)} | ${(g.p50 / b.p50).toFixed(2)}x`);
  }
  const wasm = readFileSync(new URL("../build/index_bg.wasm", import.meta.url));
  console.log(`\nwasm: ${statSync(new URL("../build/index_bg.wasm", import.meta.url)).size} bytes raw, ${gzipSync(wasm).length} bytes gzipped`);
  console.log("sequential storage round trips before the ack: 2 (R2 put, D1 batch), +1 D1 read on an endpoint-cache miss");
} finally {
  await relay.stop();
  await dest.close();
}
