// Overview: the conservation line (received = delivered + dead + in flight), the
// sweeper's heartbeat, and received / delivered / failed over 24 h, 7 d or 30 d
// from the stats API's aggregate buckets.
import { api } from "../api.js";
import { h, fill, num, time, ago, failure } from "../dom.js";
import { trafficChart } from "../chart.js";
import { link, setQuery } from "../nav.js";

const WINDOWS = [["24h", "24 h"], ["7d", "7 d"], ["30d", "30 d"]];

export async function render(ctx) {
  const win = WINDOWS.some(([w]) => w === ctx.query.window) ? ctx.query.window : "24h";
  const tiles = h("div.tiles");
  const balance = h("p.balance");
  const sweeper = h("div.card.sweeper");
  const chartBox = h("div.chart", { "data-testid": "chart" });
  const chartNote = h("p.muted.small.chart-note");
  const refusals = h("div.card");
  const statusPill = h("span.pill");
  const windowButtons = WINDOWS.map(([w, label]) =>
    h("button.seg", { type: "button", "aria-pressed": String(w === win), onclick: () => pick(w) }, label));

  fill(ctx.main, h("section.page",
    h("div.page-head", h("h1", "Overview"), statusPill),
    tiles,
    balance,
    h("div.grid-2",
      h("div.card.traffic",
        h("div.card-head", h("h2", "Traffic"), h("div.segmented", { role: "group", "aria-label": "Window" }, windowButtons)),
        chartBox, chartNote),
      h("div.stack", sweeper, refusals))));

  let chart = null;
  let currentWindow = win;
  ctx.onCleanup(() => chart?.destroy());

  async function loadHealth() {
    const health = await api.get("/health");
    if (!ctx.alive()) return;
    const c = health.counts;
    fill(tiles,
      tile("Received", c.received, "received", link("/events")),
      tile("Delivered", c.delivered, "delivered", link("/events", { status: "delivered" })),
      tile("Dead", c.dead, "dead", link("/dead")),
      tile("In flight", c.in_flight, "inflight", link("/events", { status: "retrying" })));
    const holds = c.received === c.delivered + c.dead + c.in_flight;
    balance.className = `balance ${holds ? "ok" : "bad"}`;
    fill(balance,
      h("span.balance-mark", { "aria-hidden": "true" }, holds ? "✓" : "✗"),
      ` received ${num(c.received)} = delivered ${num(c.delivered)} + dead ${num(c.dead)} + in flight ${num(c.in_flight)}`,
      holds ? "" : " — the counts do not add up");
    statusPill.className = `pill ${health.status === "ok" ? "ok" : "bad"}`;
    statusPill.textContent = health.status === "ok" ? "Healthy" : "Degraded";
    const s = health.sweeper;
    const r = s.last_report;
    fill(sweeper,
      h("h2", "Sweeper heartbeat"),
      h("p.heartbeat",
        h("span", h(`span.dot.${s.stale ? "bad" : "ok"}`, { "aria-hidden": "true" }),
          s.last_run_at ? ["Last run ", h("strong", ago(s.last_run_at)), " · ", time(s.last_run_at)] : "Has not run yet"),
        s.stale ? h("span.badge.bad", "stale") : null),
      r ? h("dl.facts.compact",
        fact("Due", r.due), fact("Delivered directly", r.delivered_directly), fact("Enqueued", r.enqueued),
        fact("Probes", r.probes), fact("Alerts", r.alerts), fact("Errors", r.errors)) : h("p.muted.small", "No report yet."));
  }

  async function loadRefusals() {
    const { counts } = await api.get("/rejections");
    if (!ctx.alive()) return;
    const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
    const total = rows.reduce((n, [, v]) => n + v, 0);
    fill(refusals,
      h("div.card-head", h("h2", "Refused requests"), h("a.small", { href: "#/refusals" }, "Details")),
      rows.length
        ? h("ul.bars", rows.slice(0, 5).map(([reason, n]) =>
          h("li", h("span.bar-label", reason.replaceAll("_", " ")), h("span.bar", h("span.bar-fill")), h("span.num", num(n)))))
        : h("p.muted.small", "None on record."));
    // Bar widths are set through the CSSOM (the CSP forbids inline style attributes).
    refusals.querySelectorAll(".bar-fill").forEach((el, i) => { el.style.width = `${(rows[i][1] / total) * 100}%`; });
  }

  async function loadChart() {
    try {
      const ts = await api.get("/stats/timeseries", { window: currentWindow });
      if (!ctx.alive()) return;
      const total = ts.buckets.reduce((n, b) => n + b.received, 0);
      fill(chartNote, `${num(total)} received in the last ${WINDOWS.find(([w]) => w === currentWindow)[1]}, in buckets of ${bucketLabel(ts.bucket_s)}.`);
      if (chart) chart.update(ts);
      else { chartBox.replaceChildren(); chart = trafficChart(chartBox, ts); }
    } catch (err) {
      if (!ctx.alive() || err.status === 401) return;
      chart?.destroy();
      chart = null;
      fill(chartBox, h("div.chart-empty", failure(err)));
      fill(chartNote, "");
    }
  }

  function pick(w) {
    currentWindow = w;
    setQuery({ window: w === "24h" ? "" : w });
    windowButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(WINDOWS[i][0] === w)));
    loadChart();
  }

  await Promise.all([loadHealth(), loadRefusals().catch(() => {}), loadChart()]);
  ctx.onLive(loadHealth, { delayMs: 1_000 });
  ctx.every(10_000, loadHealth, { unlessLive: true });
  ctx.every(30_000, () => Promise.all([loadChart(), loadRefusals()]));
}

function tile(label, value, tone, href) {
  return h("a.tile", { href, dataset: { tone }, "data-testid": `tile-${tone}` },
    h("span.tile-label", label), h("span.tile-value", num(value)));
}

function fact(label, value) {
  return [h("dt", label), h("dd", num(value))];
}

function bucketLabel(s) {
  if (s % 86400 === 0) return `${s / 86400} d`;
  if (s % 3600 === 0) return `${s / 3600} h`;
  return `${Math.round(s / 60)} min`;
}
