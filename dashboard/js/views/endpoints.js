// Endpoints: one health card each (success rate and p50/p95 latency over 24 h,
// failure streak, dead letters, paused and circuit state, the requests line
// `received = routed + filtered` and one line per route) with the actions the
// role allows: copy the ingest URL, edit, pause/resume, catch up from the
// provider's own record (Stripe, GitHub), rotate secrets, show the relay
// secret, delete.
import { api, endpoints as loadEndpoints, forgetEndpoints } from "../api.js";
import { h, fill, num, pct, ms, ago, copy, dialog, reveal, toast, failure } from "../dom.js";
import { link } from "../nav.js";

export async function render(ctx) {
  const grid = h("div.cards", { "aria-live": "off" });
  fill(ctx.main, h("section.page",
    h("div.page-head", h("h1", "Endpoints"),
      ctx.can("create") ? h("a.button.primary", { href: "#/endpoints/new" }, "New endpoint") : null),
    grid));

  async function load() {
    const [list, stats] = await Promise.all([loadEndpoints({ fresh: true }), endpointStats()]);
    if (!ctx.alive()) return;
    if (!list.length) {
      fill(grid, h("div.empty", h("p", "No endpoints yet."),
        ctx.can("create") ? h("a.button.primary", { href: "#/endpoints/new" }, "Create the first one") : null));
      return;
    }
    fill(grid, list.map((ep) => card(ep, stats.get(ep.id))));
    if (ctx.query.created) document.getElementById(`card-${ctx.query.created}`)?.classList.add("fresh");
  }

  function card(ep, st) {
    const counts = st?.counts ?? {};
    const streak = st?.failure_streak ?? ep.circuit.consecutive_failures;
    const state = [
      ep.disabled ? h("span.badge.bad", "disabled") : null,
      ep.paused ? h("span.badge.warn", { title: ep.paused_reason ?? "" }, "paused") : null,
      ep.circuit.state === "open" ? h("span.badge.bad", { title: `next probe ${ago(ep.circuit.next_probe_at)}` }, "circuit open") : h("span.badge.ok", "circuit closed"),
      ep.destination_type === "pull" ? h("span.badge.info", "pull") : null,
      ep.fifo ? h("span.badge.info", "FIFO") : null,
    ];
    const actions = [
      h("a.button.ghost", { href: link("/events", { endpoint_id: ep.id }) }, "Events"),
      h("a.button.ghost", { href: `#/endpoints/${ep.id}/routes` }, "Routes"),
      ctx.can("edit") ? h("a.button.ghost", { href: `#/endpoints/${ep.id}/edit` }, "Edit") : null,
      ctx.can("pause") ? (ep.paused
        ? h("button.ghost", { type: "button", onclick: () => resume(ep) }, "Resume")
        : h("button.ghost", { type: "button", onclick: () => pause(ep) }, "Pause")) : null,
      ctx.can("catch_up") && ep.catch_up
        ? h("button.ghost", { type: "button", "data-testid": "catch-up", onclick: () => catchUp(ep) }, "Catch up") : null,
      ctx.can("circuit") && ep.circuit.state === "open"
        ? h("button.ghost", { type: "button", "data-testid": "close-circuit", onclick: () => closeCircuit(ep) }, "Close circuit") : null,
      ctx.can("rotate") ? h("button.ghost", { type: "button", onclick: () => rotate(ep) }, "Rotate secret") : null,
      ctx.can("secret") ? h("button.ghost", { type: "button", onclick: () => relaySecret(ep) }, "Relay secret") : null,
      ctx.can("delete") ? h("button.ghost.danger", { type: "button", onclick: () => remove(ep) }, "Delete") : null,
    ];
    return h("article.card.endpoint", { id: `card-${ep.id}`, "data-testid": "endpoint-card", dataset: { id: ep.id } },
      h("div.card-head",
        h("div", h("h2", ep.name), h("p.mono.small.muted", ep.id, " · ", ep.provider)),
        h("div.badges", state)),
      ep.paused && ep.paused_reason ? h("p.notice.warn.small", `Paused ${ago(ep.paused_at)}: ${ep.paused_reason}`) : null,
      h("div.ingest",
        h("div", h("span.small.muted", "Ingest URL"),
          h("code.mono.ingest-url", { "data-testid": "ingest-url" }, ep.ingest_url)),
        h("button.ghost.small-btn", { type: "button", onclick: () => copy(ep.ingest_url, "Ingest URL copied") }, "Copy")),
      h("p.small.muted.dest", ep.destination_type === "pull" ? "Pulled by a client (hookrelay listen)" : ["→ ", h("span.mono", ep.destination_url)]),
      h("dl.metrics",
        metric("Success 24 h", pct(st?.success_rate), rateTone(st?.success_rate)),
        metric("p50 latency", ms(st?.latency_ms?.p50)),
        metric("p95 latency", ms(st?.latency_ms?.p95)),
        metric("Failure streak", num(streak), streak > 0 ? "bad" : ""),
        metric("Dead letters", counts.dead === undefined ? "—" : h("a", { href: link("/dead", { endpoint_id: ep.id }) }, num(counts.dead)), counts.dead > 0 ? "bad" : ""),
        metric("In flight", num(counts.in_flight))),
      requestLine(ep, st?.requests),
      routeLines(st?.routes ?? []),
      h("div.actions.wrap", actions));
  }

  async function pause(ep) {
    const v = await dialog({ title: `Pause ${ep.name}?`, body: h("p", "Ingest keeps accepting and storing events; nothing is delivered until you resume."),
      fields: [{ name: "reason", label: "Reason (optional)", placeholder: "destination deploying" }], confirm: "Pause", tone: "warn" });
    if (!v) return;
    await act(() => api.post(`/endpoints/${ep.id}/pause`, v.reason ? { reason: v.reason } : {}), "Paused");
  }
  async function catchUp(ep) {
    const what = ep.catch_up.api === "stripe_events"
      ? "Stripe's events API is read; each event the relay does not hold is ingested and delivered like a webhook."
      : "GitHub's deliveries of this hook are read; GitHub is asked to redeliver each failed one the relay never received.";
    const dayAgo = new Date(Date.now() - 86_400_000 - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    const v = await dialog({ title: `Catch up ${ep.name}`, body: h("p", what),
      fields: [{ name: "since", label: "Since (your local time)", type: "datetime-local", value: dayAgo, required: true }],
      confirm: "Catch up" });
    if (!v) return;
    const since = new Date(v.since).toISOString();
    await act(async () => {
      // Up to 10 calls of 1,000; what is left is said, and a later run goes on.
      const total = { fetched: 0, recovered: 0, duplicates: 0 };
      let cursor;
      for (let call = 0; call < 10; call++) {
        const res = await api.post(`/endpoints/${ep.id}/catch-up`, cursor ? { since, cursor } : { since });
        for (const k of Object.keys(total)) total[k] += res[k];
        cursor = res.next;
        if (!cursor) break;
      }
      const verb = ep.catch_up.api === "stripe_events" ? "recovered" : "redelivery requested for";
      return `Catch-up: ${num(total.fetched)} read, ${verb} ${num(total.recovered)}, ${num(total.duplicates)} already received`
        + (cursor ? "; more remain, run it again" : "");
    });
  }
  async function closeCircuit(ep) {
    await act(async () => {
      const res = await api.post(`/routes/${ep.id}/circuit/reset`);
      return `Circuit closed; ${num(res.drained)} waiting event(s) sent on`;
    });
  }
  async function resume(ep) {
    await act(async () => {
      const res = await api.post(`/endpoints/${ep.id}/resume`);
      return `Resumed; ${num(res.drained)} waiting event(s) sent on`;
    });
  }
  async function rotate(ep) {
    const relayMakes = ["standard", "hmac", "api_key", "gitlab", "none"].includes(ep.provider);
    const v = await dialog({
      title: `Rotate the secret of ${ep.name}`,
      body: h("p", relayMakes ? "Leave the secret empty and the relay makes one (shown once)." : `Paste the new secret ${ep.provider} issued.`),
      fields: [
        { name: "secret", label: "New secret", type: "password", required: !relayMakes },
        { name: "hours", label: "Older secrets stay valid for (hours)", type: "number", value: "24" },
      ],
      confirm: "Rotate", tone: "warn",
    });
    if (!v) return;
    const body = { expire_previous_in_s: Math.max(0, Math.round(Number(v.hours || 0) * 3600)) };
    if (v.secret) body.secret = v.secret;
    await act(async () => {
      const res = await api.post(`/endpoints/${ep.id}/secrets/rotate`, body);
      if (res.secret) reveal({ title: "New secret", secret: res.secret, note: "Configure it at the sender. It is shown only now." });
      return "Secret rotated";
    });
  }
  async function relaySecret(ep) {
    try {
      const res = await api.get(`/endpoints/${ep.id}/secret`);
      reveal({ title: `Relay secret of ${ep.name}`, secret: res.relay_secret, note: "Your destination verifies the webhook-signature header with it." });
    } catch (err) { toast(err.message, "bad"); }
  }
  async function remove(ep) {
    const v = await dialog({ title: `Delete ${ep.name}?`, body: h("p", "Its ingest URL will answer 404. Stored events stay until retention removes them."), confirm: "Delete", tone: "danger" });
    if (!v) return;
    await act(async () => { await api.del(`/endpoints/${ep.id}`); forgetEndpoints(); return "Deleted"; });
  }
  async function act(fn, done) {
    try {
      const msg = await fn();
      toast(typeof msg === "string" ? msg : done, "ok");
      await load();
    } catch (err) {
      if (err.status !== 401) toast(err.message, "bad");
    }
  }

  try { await load(); } catch (err) { if (err.status !== 401) fill(grid, failure(err)); }
  ctx.every(15_000, load);
}

/** The stats API's per-endpoint figures (24 h success rate, latency, counts) by id. */
async function endpointStats() {
  const res = await api.get("/stats/endpoints");
  return new Map(res.data.map((d) => [d.endpoint_id, d]));
}

/** received = routed + filtered; the filtered count opens the list of filtered ingests. */
function requestLine(ep, requests) {
  if (!requests) return null;
  return h("p.small.requests", { "data-testid": "requests" },
    h("span.muted", "Requests "),
    `received ${num(requests.received)} = routed ${num(requests.routed)} + `,
    h("a", { href: link("/ingests", { endpoint_id: ep.id, status: "filtered" }), "data-testid": "filtered-link", title: "Requests no route accepted" },
      `filtered ${num(requests.filtered)}`));
}

/** One line per route (the endpoint's own first): where it delivers and how it is doing. */
function routeLines(routes) {
  if (!routes.length) return null;
  return h("ul.routes", { "data-testid": "routes", "aria-label": "Routes" }, routes.map((r) => {
    const e = r.events;
    return h("li.route", { dataset: { routeId: r.route_id } },
      h("div.route-head",
        h("strong.route-name", r.name),
        h("span.badges",
          r.paused ? h("span.badge.warn", "paused") : null,
          h(`span.badge.${r.circuit_state === "open" ? "bad" : "ok"}`, `circuit ${r.circuit_state}`))),
      h("span.mono.small.muted.route-dest", r.destination ?? "pulled by a client"),
      h("span.small.route-figures", { "data-testid": "route-figures" },
        `${num(e.delivered)} delivered · ${num(e.dead)} dead · ${num(e.in_flight)} in flight · streak ${num(r.failure_streak)}`));
  }));
}

function metric(label, value, tone = "") {
  return h("div.metric", { dataset: { tone } }, h("dt", label), h("dd", value));
}

function rateTone(rate) {
  if (rate === null || rate === undefined) return "";
  return rate >= 0.99 ? "ok" : rate >= 0.9 ? "warn" : "bad";
}
