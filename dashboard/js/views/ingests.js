// Requests an endpoint received (ingests), newest first: those no route accepted
// (`filtered`, the default view from an endpoint card) have no events and are
// seen only here. After a filter change an editor routes them again with
// "Replay filtered" (`POST /api/v1/replay` with status `filtered`), repeated
// while the relay says some were routed and more remain.
import { api, endpoints as loadEndpoints } from "../api.js";
import { h, fill, num, time, bytes, toast, failure } from "../dom.js";
import { setQuery } from "../nav.js";

const PAGE = 50;
const STATUSES = [["filtered", "Filtered"], ["routed", "Routed"], ["", "Any"]];
/** Replay calls per click: each routes at most 100 ingests. */
const MAX_ROUNDS = 20;

export async function render(ctx) {
  const eps = await loadEndpoints({ fresh: true });
  if (!ctx.alive()) return;
  const names = new Map(eps.map((e) => [e.id, e.name]));
  let endpointId = ctx.query.endpoint_id ?? "";
  let statusFilter = ctx.query.status ?? "filtered";
  let cursor = null;
  let appended = false; // older pages shown: the periodic refresh would drop them

  const changed = () => {
    setQuery({ endpoint_id: endpointId, status: statusFilter });
    cursor = null;
    load();
  };
  const endpointSelect = h("select", { id: "ing-endpoint", onchange: () => { endpointId = endpointSelect.value; changed(); } },
    h("option", { value: "" }, "All endpoints"),
    eps.map((e) => h("option", { value: e.id, selected: e.id === endpointId }, e.name)));
  const statusSelect = h("select", { id: "ing-status", onchange: () => { statusFilter = statusSelect.value; changed(); } },
    STATUSES.map(([value, label]) => h("option", { value, selected: value === statusFilter }, label)));
  const replayButton = h("button.warn", { type: "button", "data-testid": "replay-filtered", onclick: replayFiltered }, "Replay filtered");
  const result = h("p.small.summary", { "data-testid": "replay-result", role: "status" }, " ");
  const summary = h("p.small.muted.summary", { "data-testid": "ingests-summary" }, " ");
  const tbody = h("tbody");
  const more = h("button.ghost", { type: "button", hidden: true, onclick: () => load({ append: true }) }, "Older →");

  fill(ctx.main, h("section.page",
    h("div.page-head", h("h1", "Requests")),
    h("p.small.muted", "Every request an endpoint accepted. A filtered one matched no route's filter: it has no events until a replay after a filter change routes it."),
    h("div.toolbar",
      h("div.field", h("label", { for: "ing-endpoint" }, "Endpoint"), endpointSelect),
      h("div.field", h("label", { for: "ing-status" }, "Status"), statusSelect),
      ctx.can("replay") ? h("div.actions", replayButton) : null),
    result,
    summary,
    h("div.table-wrap", h("table.events.ingests", { "data-testid": "ingests-table" },
      h("thead", h("tr", h("th", "Received"), h("th", "Status"), h("th", "Type"), h("th", "Endpoint"), h("th.num", "Size"), h("th", "Events"), h("th", "Ingest id"))),
      tbody)),
    h("div.pager", h("span"), more)));

  async function load({ append = false } = {}) {
    let res;
    try {
      res = await api.get("/ingests", { endpoint_id: endpointId, status: statusFilter, limit: PAGE, cursor: append ? cursor : null });
    } catch (err) {
      if (ctx.alive() && err.status !== 401) fill(tbody, h("tr", h("td", { colspan: 7 }, failure(err))));
      return;
    }
    if (!ctx.alive()) return;
    cursor = res.next_cursor;
    appended = append;
    more.hidden = !cursor;
    const rows = res.data.map(row);
    if (append) tbody.append(...rows);
    else fill(tbody, rows.length ? rows : h("tr.empty-row", h("td", { colspan: 7 }, statusFilter === "filtered" ? "Nothing filtered. ✓" : "No requests.")));
    replayButton.disabled = !endpointId;
    replayButton.title = endpointId ? "" : "Pick an endpoint: its routes decide";
    await drawSummary();
  }

  async function drawSummary() {
    if (!endpointId) { fill(summary, "Pick an endpoint to see its request counts."); return; }
    const { requests } = await api.get("/health", { endpoint_id: endpointId });
    if (!ctx.alive()) return;
    fill(summary, `${names.get(endpointId) ?? endpointId}: received ${num(requests.received)} = routed ${num(requests.routed)} + filtered ${num(requests.filtered)}`);
  }

  function row(i) {
    return h("tr", { dataset: { id: i.id, status: i.status } },
      h("td", { "data-label": "Received" }, time(i.received_at)),
      h("td", { "data-label": "Status" }, h(`span.badge.${i.status === "filtered" ? "warn" : "ok"}`, i.status)),
      h("td.mono", { "data-label": "Type" }, i.event_type ?? h("span.muted", "—")),
      h("td", { "data-label": "Endpoint" }, names.get(i.endpoint_id) ?? i.endpoint_id),
      h("td.num", { "data-label": "Size" }, bytes(i.body_size)),
      h("td", { "data-label": "Events" }, i.event_ids.length
        ? i.event_ids.map((id) => h("a.mono.small", { href: `#/events/${id}` }, id, " "))
        : h("span.muted", "none")),
      h("td.mono", { "data-label": "Ingest id" }, i.id));
  }

  async function replayFiltered() {
    if (!endpointId) return;
    replayButton.disabled = true;
    let routed = 0;
    let remaining = null;
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const res = await api.post("/replay", { status: "filtered", endpoint_id: endpointId });
        routed += res.replayed;
        remaining = res.remaining;
        if (res.replayed === 0 || res.remaining === 0) break;
      }
      const text = `Routed ${num(routed)}; ${num(remaining)} still filtered${remaining ? " (no route accepts them)" : ""}`;
      fill(result, text);
      toast(text, "ok");
    } catch (err) {
      if (err.status !== 401) { fill(result, err.message); toast(err.message, "bad"); }
    }
    await load();
  }

  await load();
  ctx.every(10_000, () => (appended ? null : load()));
}
