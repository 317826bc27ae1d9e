// Refused requests: counts per reason across every endpoint (unknown endpoints
// included), and one endpoint's last 100 refusals of the last 24 h with the
// headers as logged (signature and credential values already redacted).
import { api, endpoints as loadEndpoints } from "../api.js";
import { h, fill, num, time, bytes, failure } from "../dom.js";
import { setQuery } from "../nav.js";

export async function render(ctx) {
  const [eps, overall] = await Promise.all([loadEndpoints({ fresh: true }), api.get("/rejections")]);
  if (!ctx.alive()) return;
  let endpointId = ctx.query.endpoint_id ?? eps[0]?.id ?? "";
  const select = h("select", { id: "ref-endpoint", onchange: () => { endpointId = select.value; setQuery({ endpoint_id: endpointId }); load(); } },
    eps.map((e) => h("option", { value: e.id, selected: e.id === endpointId }, e.name)));
  const detail = h("div");
  fill(ctx.main, h("section.page",
    h("div.page-head", h("h1", "Refused requests")),
    h("div.card", h("h2", "Every endpoint, by reason"), counts(overall.counts, "Nothing refused on record.")),
    h("div.card",
      h("div.card-head", h("h2", "One endpoint, last 24 h"),
        eps.length ? h("div.field.inline", h("label", { for: "ref-endpoint" }, "Endpoint"), select) : null),
      detail)));

  async function load() {
    if (!endpointId) { fill(detail, h("p.muted", "No endpoints yet.")); return; }
    let res;
    try { res = await api.get(`/endpoints/${endpointId}/rejections`); } catch (err) {
      if (ctx.alive() && err.status !== 401) fill(detail, failure(err));
      return;
    }
    if (!ctx.alive()) return;
    fill(detail,
      counts(res.counts, "No refusals for this endpoint."),
      res.data.length ? h("div.table-wrap", h("table.events.refusals", { "data-testid": "refusals-table" },
        h("thead", h("tr", h("th", "When"), h("th", "Reason"), h("th", "Source IP"), h("th.num", "Body"), h("th", "Headers"))),
        h("tbody", res.data.map((r) => h("tr",
          h("td", { "data-label": "When" }, time(r.at)),
          h("td", { "data-label": "Reason" }, h("span.badge.bad", r.reason.replaceAll("_", " "))),
          h("td.mono", { "data-label": "Source IP" }, r.source_ip ?? "—"),
          h("td.num", { "data-label": "Body" }, bytes(r.body_size)),
          h("td", { "data-label": "Headers" }, r.headers?.length
            ? h("details", h("summary.small", `${r.headers.length} header(s)`),
              h("table.headers", h("tbody", r.headers.map(([k, v]) => h("tr", h("th.mono", k), h("td.mono.break", v))))))
            : "—")))))) : null);
  }

  await load();
  ctx.every(15_000, load);
}

function counts(map, empty) {
  const rows = Object.entries(map ?? {}).sort((a, b) => b[1] - a[1]);
  if (!rows.length) return h("p.muted", empty);
  return h("ul.counts", rows.map(([reason, n]) =>
    h("li", h("span.mono", reason), h("strong.num", num(n)))));
}
