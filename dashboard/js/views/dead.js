// Dead letters: pick several (or every one of an endpoint) and replay them in
// one action, then watch each move back through delivery to `delivered`.
import { api, endpoints as loadEndpoints } from "../api.js";
import { h, fill, num, time, status, toast, dialog, failure } from "../dom.js";
import { setQuery } from "../nav.js";

const LIMIT = 200;
const FINAL = new Set(["delivered", "dead"]);

export async function render(ctx) {
  const eps = await loadEndpoints({ fresh: true });
  if (!ctx.alive()) return;
  const names = new Map(eps.map((e) => [e.id, e.name]));
  let endpointId = ctx.query.endpoint_id ?? "";
  const canReplay = ctx.can("replay");

  const select = h("select", { id: "dead-endpoint", onchange: () => { endpointId = select.value; setQuery({ endpoint_id: endpointId }); selected.clear(); load(); } },
    h("option", { value: "" }, "All endpoints"),
    eps.map((e) => h("option", { value: e.id, selected: e.id === endpointId }, e.name)));
  const all = h("input", { type: "checkbox", "aria-label": "Select every dead event shown", onchange: () => {
    for (const box of tbody.querySelectorAll("input[type=checkbox]")) { box.checked = all.checked; toggle(box.value, all.checked); }
  } });
  const replaySelected = h("button.primary", { type: "button", "data-testid": "replay-selected", disabled: true, onclick: () => replay([...selected]) }, "Replay selected");
  const replayAll = h("button.warn", { type: "button", "data-testid": "replay-all", onclick: replayEvery }, "Replay all");
  const count = h("p.small.muted.summary", " ");
  const tbody = h("tbody");
  const tracker = h("div.card.tracker", { hidden: true, "data-testid": "tracker" });
  const selected = new Set();
  let shown = [];

  fill(ctx.main, h("section.page",
    h("div.page-head", h("h1", "Dead letters")),
    h("div.toolbar",
      h("div.field", h("label", { for: "dead-endpoint" }, "Endpoint"), select),
      canReplay ? h("div.actions", replaySelected, replayAll) : null),
    canReplay ? null : h("p.notice.small", `Your role (${ctx.role}) can look at dead letters but not replay them.`),
    count,
    tracker,
    h("div.table-wrap", h("table.events.dead", { "data-testid": "dead-table" },
      h("thead", h("tr", canReplay ? h("th.pick", all) : null, h("th", "Received"), h("th", "Endpoint"), h("th", "Type"), h("th.num", "Attempts"), h("th", "Why"), h("th", "Event id"))),
      tbody))));

  function toggle(id, on) {
    if (on) selected.add(id); else selected.delete(id);
    replaySelected.disabled = selected.size === 0;
    replaySelected.textContent = selected.size ? `Replay ${selected.size} selected` : "Replay selected";
  }

  async function load() {
    let res;
    try {
      res = await api.get("/events", { status: "dead", endpoint_id: endpointId, limit: LIMIT });
    } catch (err) {
      if (ctx.alive() && err.status !== 401) fill(tbody, h("tr", h("td", { colspan: 7 }, failure(err))));
      return;
    }
    if (!ctx.alive()) return;
    shown = res.data;
    const ids = new Set(shown.map((e) => e.id));
    for (const id of [...selected]) if (!ids.has(id)) selected.delete(id);
    toggle(null, false);
    all.checked = shown.length > 0 && shown.every((e) => selected.has(e.id));
    const total = (await api.get("/health", { endpoint_id: endpointId })).counts.dead;
    if (!ctx.alive()) return;
    fill(count, `${num(total)} dead ${endpointId ? `for ${names.get(endpointId) ?? endpointId}` : "across every endpoint"}${total > shown.length ? ` · the ${num(shown.length)} newest shown` : ""}`);
    replayAll.disabled = total === 0;
    replayAll.textContent = total ? `Replay all ${num(total)}` : "Replay all";
    fill(tbody, shown.length ? shown.map(row) : h("tr.empty-row", h("td", { colspan: 7 }, "Nothing is dead. ✓")));
  }

  function row(e) {
    return h("tr", { dataset: { id: e.id } },
      canReplay ? h("td.pick", h("input", { type: "checkbox", value: e.id, checked: selected.has(e.id), "aria-label": `Select ${e.id}`, onchange: (ev) => toggle(e.id, ev.target.checked) })) : null,
      h("td", { "data-label": "Received" }, time(e.received_at)),
      h("td", { "data-label": "Endpoint" }, names.get(e.endpoint_id) ?? e.endpoint_id),
      h("td.mono", { "data-label": "Type" }, e.event_type ?? h("span.muted", "—")),
      h("td.num", { "data-label": "Attempts" }, num(e.attempt_count)),
      h("td.why", { "data-label": "Why" }, e.dead_reason ?? e.last_error ?? "—"),
      h("td.mono", { "data-label": "Event id" }, h("a", { href: `#/events/${e.id}` }, e.id)));
  }

  async function replay(ids) {
    if (!ids.length) return;
    replaySelected.disabled = true;
    const failed = [];
    const queue = [...ids];
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        try { await api.post(`/events/${id}/replay`); } catch (err) { if (err.status === 401) return; failed.push(id); }
      }
    }));
    const ok = ids.filter((id) => !failed.includes(id));
    toast(`Replaying ${ok.length} event(s)${failed.length ? `; ${failed.length} could not be replayed` : ""}`, failed.length ? "bad" : "ok");
    track(ok);
    selected.clear();
    await load();
  }

  async function replayEvery() {
    const scope = endpointId ? `every dead event of ${names.get(endpointId) ?? endpointId}` : "every dead event of every endpoint";
    const v = await dialog({ title: "Replay all?", body: h("p", `This replays ${scope}, oldest first.`), confirm: "Replay all", tone: "warn" });
    if (!v) return;
    const watch = shown.map((e) => e.id);
    let replayed = 0;
    try {
      for (let round = 0; round < 20; round++) {
        const res = await api.post("/replay", { status: "dead", endpoint_id: endpointId || null });
        replayed += res.replayed;
        if (res.remaining === 0 || res.replayed === 0) break;
      }
      toast(`Replaying ${num(replayed)} event(s)`, "ok");
    } catch (err) {
      if (err.status !== 401) toast(err.message, "bad");
    }
    track(watch);
    await load();
  }

  // The replayed events, followed until each is delivered (or dead again).
  const followed = new Map();
  function track(ids) {
    for (const id of ids.slice(0, LIMIT)) followed.set(id, { status: "received" });
    drawTracker();
  }
  function drawTracker() {
    tracker.hidden = followed.size === 0;
    const done = [...followed.values()].filter((v) => v.status === "delivered").length;
    fill(tracker,
      h("div.card-head", h("h2", "Replayed"), h("span.small.muted", { "data-testid": "tracker-summary" }, `${done} of ${followed.size} delivered`)),
      h("ul.followed", [...followed].map(([id, v]) =>
        h("li", { dataset: { id, status: v.status } }, h("a.mono", { href: `#/events/${id}` }, id), status(v.status)))));
  }
  ctx.every(1_500, async () => {
    const open = [...followed].filter(([, v]) => !FINAL.has(v.status)).map(([id]) => id);
    if (!open.length) return;
    const fresh = await Promise.all(open.map((id) => api.get(`/events/${id}`).catch(() => null)));
    if (!ctx.alive()) return;
    fresh.forEach((e) => e && followed.set(e.id, { status: e.status }));
    drawTracker();
    if (fresh.some((e) => e?.status === "dead")) load();
  });
  ctx.every(10_000, load);

  await load();
}
