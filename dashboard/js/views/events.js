// Events, newest first: filter by endpoint, status, event type and time; search
// by event id, provider delivery id or a search field value (the box says
// which fields); cursor pagination. The first page
// follows the live stream while open, or polls every few seconds while the
// stream is down (rows are replaced in place).
import { api, endpoints as loadEndpoints } from "../api.js";
import { h, fill, num, time, ago, status, failure } from "../dom.js";
import { link, setQuery } from "../nav.js";

const STATUSES = ["received", "delivering", "retrying", "delivered", "dead"];
const PAGE = 50;

export async function render(ctx) {
  const q = { ...ctx.query };
  const eps = await loadEndpoints({ fresh: true });
  if (!ctx.alive()) return;
  const names = new Map(eps.map((e) => [e.id, e.name]));

  const input = (name, attrs) => h("input", { id: `flt-${name}`, name, value: q[name] ?? "", ...attrs });
  // Which body fields the search box also matches: the chosen endpoint's, or every endpoint's.
  const searchHint = h("p.help", { id: "flt-q-fields" });
  const form = h("form.filters", { role: "search", onsubmit: (e) => { e.preventDefault(); apply(); } },
    h("div.field.grow", h("label", { for: "flt-q" }, "Search"),
      input("q", { type: "search", placeholder: "evt_…, provider delivery id or a search field value", spellcheck: "false", autocomplete: "off" }),
      searchHint),
    h("div.field", h("label", { for: "flt-endpoint_id" }, "Endpoint"),
      h("select", { id: "flt-endpoint_id", name: "endpoint_id" }, h("option", { value: "" }, "All endpoints"),
        eps.map((e) => h("option", { value: e.id, selected: q.endpoint_id === e.id }, e.name)))),
    h("div.field", h("label", { for: "flt-status" }, "Status"),
      h("select", { id: "flt-status", name: "status" }, h("option", { value: "" }, "Any status"),
        STATUSES.map((s) => h("option", { value: s, selected: q.status === s }, s)))),
    h("div.field.extra", h("label", { for: "flt-event_type" }, "Event type"),
      input("event_type", { placeholder: "invoice.* or push", spellcheck: "false", autocomplete: "off" })),
    h("div.field.extra", h("label", { for: "flt-since" }, "Since"), input("since", { type: "datetime-local" })),
    h("div.field.extra", h("label", { for: "flt-until" }, "Until"), input("until", { type: "datetime-local" })),
    h("div.field.buttons",
      h("button.ghost.more-toggle", { type: "button", "aria-expanded": "false", onclick: (e) => {
        const open = form.classList.toggle("show-extra");
        e.target.setAttribute("aria-expanded", String(open));
      } }, "Type and time"),
      h("button.primary", { type: "submit" }, "Filter"),
      h("button.ghost", { type: "button", onclick: () => { form.reset(); for (const el of form.elements) if (el.name) el.value = ""; apply(); } }, "Clear")));
  function describeSearch() {
    const chosen = form.elements.endpoint_id.value;
    const scope = chosen ? eps.filter((e) => e.id === chosen) : eps;
    const fields = [...new Set(scope.flatMap((e) => e.search_fields ?? []))];
    searchHint.textContent = fields.length
      ? `Also matches exactly: ${fields.join(", ")}`
      : "An endpoint's search_fields make its events findable by what is in them.";
  }
  describeSearch();
  form.elements.endpoint_id.addEventListener("change", describeSearch);
  for (const sel of form.querySelectorAll("select, input[type=datetime-local]")) sel.addEventListener("change", apply);
  if (q.event_type || q.since || q.until) form.classList.add("show-extra");

  const live = h("input", { type: "checkbox", id: "live", checked: true });
  const liveLabel = h("label.live", { for: "live" }, live, " Follow changes");
  const summary = h("p.small.muted.summary", " ");
  const tbody = h("tbody");
  const table = h("table.events", { "data-testid": "events-table" },
    h("thead", h("tr", h("th", "Received"), h("th", "Status"), h("th", "Type"), h("th", "Endpoint"), h("th.num", "Attempts"), h("th", "Event id"))),
    tbody);
  const newer = h("button.ghost", { type: "button", onclick: () => page(-1) }, "← Newer");
  const older = h("button.ghost", { type: "button", onclick: () => page(1) }, "Older →");
  const pager = h("div.pager", newer, h("span.small.muted.page-no"), older);

  fill(ctx.main, h("section.page",
    h("div.page-head", h("h1", "Events"), liveLabel),
    form, summary,
    h("div.table-wrap", table),
    pager));

  const cursors = [null]; // cursors[i] opens page i
  let pageIndex = 0;
  let next = null;

  function filters() {
    const f = Object.fromEntries(new FormData(form));
    for (const k of ["since", "until"]) if (f[k]) f[k] = new Date(f[k]).toISOString();
    return f;
  }

  async function apply() {
    const f = Object.fromEntries(new FormData(form));
    setQuery(f);
    // An exact event id opens the event itself.
    if (/^evt_[0-9A-Za-z]+$/.test(f.q?.trim() ?? "")) {
      location.hash = `#/events/${f.q.trim()}`;
      return;
    }
    cursors.length = 1;
    pageIndex = 0;
    await load();
  }

  async function page(step) {
    if (step > 0 && !next) return;
    if (step > 0) { cursors[pageIndex + 1] = next; pageIndex += 1; } else if (pageIndex > 0) pageIndex -= 1;
    await load();
    ctx.main.querySelector(".table-wrap").scrollIntoView({ block: "start" });
  }

  async function load() {
    const f = filters();
    let res;
    try {
      res = await api.get("/events", { ...f, limit: PAGE, cursor: cursors[pageIndex] });
    } catch (err) {
      if (ctx.alive() && err.status !== 401) fill(tbody, h("tr", h("td", { colspan: 6 }, failure(err))));
      return;
    }
    if (!ctx.alive()) return;
    next = res.next_cursor;
    fill(tbody, res.data.length
      ? res.data.map((e) => row(e))
      : h("tr.empty-row", h("td", { colspan: 6 }, "No events match.")));
    newer.disabled = pageIndex === 0;
    older.disabled = !next;
    fill(pager.querySelector(".page-no"), `page ${pageIndex + 1}`);
    fill(summary, `${num(res.data.length)} event(s)${next ? " on this page" : ""}${pageIndex === 0 && live.checked ? ` · updated ${ago(new Date().toISOString())}` : ""}`);
  }

  function row(e) {
    const href = `#/events/${e.id}`;
    return h("tr", { dataset: { id: e.id, status: e.status } },
      h("td", { "data-label": "Received" }, time(e.received_at)),
      h("td", { "data-label": "Status" }, status(e.status)),
      h("td.mono", { "data-label": "Type" }, e.event_type ?? h("span.muted", "—")),
      h("td", { "data-label": "Endpoint" }, h("a", { href: link("/events", { ...ctx.query, endpoint_id: e.endpoint_id }) }, names.get(e.endpoint_id) ?? e.endpoint_id)),
      h("td.num", { "data-label": "Attempts" }, num(e.attempt_count)),
      h("td.mono", { "data-label": "Event id" }, h("a", { href }, e.id)));
  }

  await load();
  // The first page follows the live stream (and polls while it is down).
  const following = () => live.checked && pageIndex === 0;
  const shown = (change) => !form.elements.endpoint_id.value || change.endpoint_id === form.elements.endpoint_id.value;
  ctx.onLive(load, { wants: (change) => following() && shown(change) });
  ctx.every(4_000, async () => { if (following()) await load(); }, { unlessLive: true });
}
