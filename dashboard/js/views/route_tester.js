// The live tester beside the route editor: the filter, event types and
// transformation being typed, tried on one of the endpoint's recent events or
// on a pasted sample (`POST /api/v1/routes/test`; nothing is stored or sent).
// It answers whether the route would take the request and what it would send,
// or why it cannot: the editor's JSON that does not parse (shown without asking
// the relay), the API's refusal with the JSON path of the problem, or the
// transformation's error on this request.
import { api } from "../api.js";
import { h, fill, ago, SECRET_HEADER, redacted } from "../dom.js";

const DEBOUNCE_MS = 300;
const SAMPLE = "sample";

/**
 * `read()` gives the editor's `{filter, event_types, transform}`, or
 * `{invalid: message}` when its JSON does not parse. Returns the panel and
 * `changed()`, which the editor calls on every edit.
 */
export function routeTester(ctx, endpoint, read) {
  const source = h("select", { id: "t-source", "data-testid": "tester-source", onchange: changed },
    h("option", { value: SAMPLE }, "A sample request (below)"));
  const body = h("textarea.code", { id: "t-body", rows: 6, spellcheck: "false", oninput: changed,
    placeholder: '{"type": "payment_intent.succeeded", "data": {"object": {"amount": 1050}}}' });
  const headers = h("textarea.code", { id: "t-headers", rows: 3, spellcheck: "false", oninput: changed,
    placeholder: "content-type: application/json" });
  const sample = h("div.stack.tight",
    h("div.field", h("label", { for: "t-body" }, "Sample body"), body),
    h("div.field", h("label", { for: "t-headers" }, "Sample headers (one name: value a line)"), headers));
  const verdict = h("div.verdict", { "data-testid": "verdict", "aria-live": "polite" });
  const result = h("div.stack.tight");

  const panel = h("aside.card.tester", { "data-testid": "route-tester", "aria-label": "Live tester" },
    h("h2", "Live tester"),
    h("p.small.muted", `Tries what you type on a request to ${endpoint.name} (provider ${endpoint.provider}); nothing is stored or sent.`),
    h("div.field", h("label", { for: "t-source" }, "Request"), source),
    sample,
    verdict,
    result);

  let timer = null;
  let seq = 0;
  ctx.onCleanup(() => clearTimeout(timer));

  function changed() {
    sample.hidden = source.value !== SAMPLE;
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  }

  async function run() {
    const mine = ++seq;
    const route = read();
    if (route.invalid) return show(null, route.invalid);
    const req = { filter: route.filter, event_types: route.event_types, transform: route.transform };
    if (source.value === SAMPLE) {
      if (!body.value.trim()) return show(null, null, "Paste a sample body, or pick a recent event.");
      req.body = body.value;
      req.headers = parseHeaders(headers.value);
      req.provider = endpoint.provider;
    } else if (source.value.startsWith("ing_")) {
      req.ingest_id = source.value;
    } else {
      req.event_id = source.value;
    }
    fill(verdict, h("span.muted.small", "Trying…"));
    try {
      const res = await api.post("/routes/test", req);
      if (mine === seq && ctx.alive()) show(res);
    } catch (err) {
      if (mine === seq && ctx.alive() && err.status !== 401) show(null, `${err.code ? `${err.code}: ` : ""}${err.message}`);
    }
  }

  function show(res, error, note) {
    if (!res) {
      fill(verdict, note ? h("span.muted.small", note) : null);
      fill(result, error ? h("p.notice.bad.break", { role: "alert", "data-testid": "tester-error" }, error) : null);
      return;
    }
    fill(verdict,
      h(`span.pill.${res.matches ? "ok" : "bad"}`, res.matches ? "matches" : "does not match"),
      h("span.small.muted", res.event_type ? ["event type ", h("span.mono", res.event_type)] : "no event type"));
    fill(result,
      res.transform_error
        ? h("p.notice.bad.break", { role: "alert", "data-testid": "tester-error" }, `The transformation fails on this request: ${res.transform_error}`)
        : null,
      res.sent ? sent(res.sent) : null,
      h("details.snippet", h("summary.small", "What the filter sees"), h("pre.code", JSON.stringify(withoutSecrets(res.request), null, 2))));
  }

  /**
   * Offers the endpoint's recent requests (one per ingest: its routes' events
   * share the dedup key), then the ones no route took (filtered ingests, which
   * have no event).
   */
  async function loadEvents() {
    const [res, filtered] = await Promise.all([
      api.get("/events", { endpoint_id: endpoint.id, limit: 50 }),
      api.get("/ingests", { endpoint_id: endpoint.id, status: "filtered", limit: 10 }),
    ]);
    if (!ctx.alive()) return;
    const seen = new Set();
    const recent = res.data.filter((e) => !seen.has(e.dedup_key) && seen.add(e.dedup_key)).slice(0, 20);
    const option = (id, type, at, note = "") =>
      h("option", { value: id }, `${note}${type ?? "(no type)"} · ${ago(at)} · ${id}`);
    source.prepend(
      ...recent.map((e) => option(e.id, e.event_type, e.received_at)),
      ...filtered.data.map((i) => option(i.id, i.event_type, i.received_at, "filtered: ")));
    source.selectedIndex = 0;
    changed();
  }
  loadEvents().catch((err) => { if (err.status !== 401) show(null, err.message); });

  return { panel, changed };
}

function sent(s) {
  let text = s.body;
  if (text !== null && /json/i.test(s.content_type ?? "")) {
    try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as sent */ }
  }
  return h("div.stack.tight",
    h("h3", "Would send"),
    h("table.headers", { "data-testid": "sent-headers" },
      h("tbody",
        h("tr", h("th.mono", "content-type"), h("td.mono.break", s.content_type ?? "—")),
        s.headers.map(([name, value]) => h("tr", h("th.mono", name), h("td.mono.break", SECRET_HEADER.test(name) ? redacted() : value))))),
    h("pre.code", { "data-testid": "sent-body", tabindex: "0" }, text ?? `(binary, base64) ${s.body_base64}`));
}

/** The request as the filter sees it, with credential and signature header values masked. */
function withoutSecrets(request) {
  const headers = Object.fromEntries(Object.entries(request?.headers ?? {})
    .map(([name, value]) => [name, SECRET_HEADER.test(name) ? "••••••" : value]));
  return { ...request, headers };
}

/** "name: value" lines into [[name, value]]; lines without a colon are skipped. */
function parseHeaders(text) {
  return text.split("\n")
    .map((line) => line.match(/^\s*([^:\s][^:]*?)\s*:\s*(.*?)\s*$/))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]);
}
