// One event: its facts, the attempts timeline (time, duration, status code,
// class, response snippet), the stored request headers with credential and
// signature values redacted, the payload (pretty or raw, downloadable), and
// replay. While the event is in flight the page follows it. An event
// compaction moved to the R2 archive says so; replaying it puts it back.
import { api, endpoints as loadEndpoints } from "../api.js";
import { h, fill, num, ms, bytes, time, ago, status, outcome, toast, failure, SECRET_HEADER, redacted } from "../dom.js";
import { link } from "../nav.js";

const IN_FLIGHT = new Set(["received", "delivering", "retrying"]);
const SHOW_LIMIT = 256 * 1024;

export async function render(ctx) {
  const [id] = ctx.params;
  const [ev, eps] = await Promise.all([api.get(`/events/${id}`), loadEndpoints()]);
  if (!ctx.alive()) return;
  const ep = eps.find((e) => e.id === ev.endpoint_id)
    ?? (await loadEndpoints({ fresh: true })).find((e) => e.id === ev.endpoint_id);
  if (!ctx.alive()) return;

  const head = h("div.page-head");
  const facts = h("dl.facts");
  const timeline = h("ol.timeline", { "data-testid": "attempts" });
  const payload = h("div.payload");
  const headers = h("div.table-wrap");

  fill(ctx.main, h("section.page",
    h("p.crumbs", h("a", { href: link("/events", { endpoint_id: ev.endpoint_id }) }, "← Events"), ep ? ` · ${ep.name}` : ""),
    head,
    h("div.card", facts),
    h("div.card", h("h2", "Attempts"), timeline),
    h("div.card", h("div.card-head", h("h2", "Payload")), payload),
    h("div.card", h("h2", "Request headers"), headers)));

  function draw(e) {
    const archived = e.stored_in === "archive";
    const canReplay = ctx.can("replay") && (e.status === "dead" || e.status === "delivered");
    fill(head,
      h("div",
        h("h1.mono.event-id", e.id),
        h("p.subtitle", status(e.status), " ", e.event_type ? h("span.mono", e.event_type) : null,
          ` · received ${ago(e.received_at)}`)),
      canReplay ? h("button.primary", { type: "button", "data-testid": "replay", onclick: replay }, "Replay") : null);
    fill(facts,
      fact("Endpoint", ep ? h("a", { href: link("/events", { endpoint_id: e.endpoint_id }) }, ep.name) : e.endpoint_id),
      fact("Status", status(e.status)),
      fact("Source", e.source === "catch_up"
        ? h("span", { "data-testid": "source" }, "catch_up: read from the provider's own record by a catch-up")
        : h("span", { "data-testid": "source" }, "webhook: sent to the ingest URL")),
      fact("Stored in", archived
        ? h("span", { "data-testid": "stored-in" }, "the R2 archive (delivered long enough ago to leave D1)")
        : h("span", { "data-testid": "stored-in" }, "D1 (the working set)")),
      fact("Received", time(e.received_at)),
      fact("Updated", time(e.updated_at)),
      e.delivered_at ? fact("Delivered", time(e.delivered_at)) : null,
      e.next_attempt_at ? fact("Next attempt", [time(e.next_attempt_at), ` (${ago(e.next_attempt_at)})`]) : null,
      fact("Attempts", num(e.attempt_count)),
      fact("Dedup key", h("span.mono.break", e.dedup_key)),
      fact("Content type", e.content_type ?? "—"),
      fact("Body size", bytes(e.body_size)),
      e.dead_reason ? fact("Dead because", h("span.bad-text", e.dead_reason)) : null,
      e.last_error ? fact("Last error", h("span.mono.break", e.last_error)) : null);
    fill(timeline, e.attempts.length
      ? [...e.attempts].reverse().map((a, i) => attempt(a, i === 0))
      : h("li.muted", IN_FLIGHT.has(e.status) ? "No attempt yet; delivery is on its way." : "No attempt was made."));
  }

  function attempt(a, latest) {
    return h("li.attempt", { dataset: { outcome: a.outcome } },
      h("div.attempt-head",
        h("strong", `#${a.number}`),
        time(a.started_at),
        h("span.mono", a.status_code ?? "no answer"),
        outcome(a.outcome),
        h("span.muted", ms(a.duration_ms))),
      a.error ? h("p.small.bad-text.mono.break", a.error) : null,
      a.response_snippet ? h("details.snippet", { open: latest }, h("summary.small", "Response"), h("pre", a.response_snippet)) : null);
  }

  async function replay(e) {
    e.target.disabled = true;
    try {
      await api.post(`/events/${id}/replay`);
      toast("Replaying: back to received", "ok");
      await refresh();
    } catch (err) {
      if (err.status !== 401) toast(err.message, "bad");
      e.target.disabled = false;
    }
  }

  async function refresh() {
    const fresh = await api.get(`/events/${id}`);
    if (ctx.alive()) { Object.assign(ev, fresh); draw(ev); }
  }

  draw(ev);
  fill(headers, headerTable(ev.headers));
  loadPayload(ev, payload).catch((err) => { if (err.status !== 401) fill(payload, failure(err)); });
  ctx.onLive(refresh, { wants: (change) => change.id === id });
  ctx.every(2_000, async () => { if (IN_FLIGHT.has(ev.status)) await refresh(); }, { unlessLive: true });
  ctx.every(15_000, refresh, { unlessLive: true });
}

function fact(label, value) {
  return [h("dt", label), h("dd", value)];
}

function headerTable(pairs) {
  if (!pairs.length) return h("p.muted", "No headers were stored.");
  return h("table.headers",
    h("tbody", pairs.map(([name, value]) => h("tr",
      h("th.mono", name),
      h("td.mono.break", SECRET_HEADER.test(name) ? redacted() : value)))));
}

async function loadPayload(ev, box) {
  const res = await api.raw(`/events/${ev.id}/body`);
  const blob = await res.blob();
  const type = res.headers.get("content-type") ?? "application/octet-stream";
  const text = await blob.slice(0, SHOW_LIMIT).text();
  let pretty = null;
  if (/json/i.test(type) || /^\s*[[{]/.test(text)) {
    try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON after all */ }
  }
  const pre = h("pre.code", { "data-testid": "payload", tabindex: "0" });
  let showPretty = Boolean(pretty);
  const toggle = h("button.ghost", { type: "button", "aria-pressed": String(!showPretty), disabled: !pretty, onclick: () => { showPretty = !showPretty; show(); } }, "Raw");
  const ext = /json/.test(type) ? "json" : /xml/.test(type) ? "xml" : /text|form/.test(type) ? "txt" : "bin";
  const download = h("button.ghost", { type: "button", onclick: () => {
    const a = h("a", { href: URL.createObjectURL(blob), download: `${ev.id}.${ext}` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  } }, "Download");
  const show = () => {
    pre.textContent = showPretty ? pretty : text;
    toggle.setAttribute("aria-pressed", String(!showPretty));
  };
  fill(box,
    h("div.payload-bar", h("span.small.muted", `${type} · ${bytes(blob.size)}${blob.size > SHOW_LIMIT ? " · first 256 KB shown" : ""}`),
      h("div.actions", toggle, download)),
    pre);
  show();
}
