// Alerts: where alerts go (channels: Slack, a signed webhook, PagerDuty;
// admins create, test and delete them) and the operators' own rules per
// endpoint or route (success rate, oldest event in flight, dead letters an
// hour), each with its state; editors add and delete rules, everyone reads them.
import { api, endpoints as loadEndpoints } from "../api.js";
import { h, fill, time, toast, dialog, reveal, failure, num } from "../dom.js";

const KINDS = [
  ["success_rate", "Success rate below (%)"],
  ["oldest_in_flight", "An event in flight longer than (s)"],
  ["dead_letters", "Dead events in an hour more than"],
];
const CHANNELS = [["slack", "Slack incoming webhook"], ["webhook", "Signed webhook"], ["pagerduty", "PagerDuty (Events API v2)"]];

export async function render(ctx) {
  const admin = ctx.can("keys");
  const editor = ctx.can("edit");
  const channelList = h("div.table-wrap", { "data-testid": "channels" });
  const ruleList = h("div.table-wrap", { "data-testid": "rules" });
  const known = await loadEndpoints({ fresh: true });
  if (!ctx.alive()) return;
  const nameOf = new Map(known.map((e) => [e.id, e.name]));

  fill(ctx.main, h("section.page",
    h("div.page-head", h("h1", "Alerts")),
    editor ? ruleForm() : null,
    h("div.card", h("h2", "Rules"), ruleList),
    admin ? channelForm() : null,
    admin ? h("div.card", h("h2", "Channels"), channelList)
      : h("p.muted", "Only admins see and manage where alerts go."),
  ));

  function ruleForm() {
    const error = h("p.notice.bad", { role: "alert", hidden: true });
    const kind = h("select", { id: "rule-kind", name: "kind" }, KINDS.map(([v, label]) => h("option", { value: v }, label)));
    const successOnly = h("div.form-grid", { id: "rule-success-only" },
      h("div.field", h("label", { for: "rule-window" }, "Over (hours)"), h("input", { id: "rule-window", name: "window_h", type: "number", min: 1, max: 168, value: 1 })),
      h("div.field", h("label", { for: "rule-min" }, "At least (attempts)"), h("input", { id: "rule-min", name: "min_attempts", type: "number", min: 1, value: 10 })));
    kind.addEventListener("change", () => { successOnly.hidden = kind.value !== "success_rate"; });
    const form = h("form.card.form.inline-form", { onsubmit: create },
      h("h2", "New rule"),
      error,
      h("div.form-grid",
        h("div.field", h("label", { for: "rule-endpoint" }, "Endpoint"),
          h("select", { id: "rule-endpoint", name: "endpoint_id", required: true }, known.map((e) => h("option", { value: e.id }, `${e.name} (${e.id})`)))),
        h("div.field", h("label", { for: "rule-kind" }, "When"), kind),
        h("div.field", h("label", { for: "rule-threshold" }, "Threshold"), h("input", { id: "rule-threshold", name: "threshold", type: "number", step: "any", min: 0, required: true }))),
      successOnly,
      h("p.help", "Checked every minute; a rule alerts once when it starts to hold and once when it stops, on every channel. A success rate comes from hourly figures; with fewer attempts than the minimum it does not hold."),
      h("div.actions", h("button.primary", { type: "submit" }, "Add rule")));
    async function create(e) {
      e.preventDefault();
      const f = Object.fromEntries(new FormData(form));
      const body = { endpoint_id: f.endpoint_id, kind: f.kind, threshold: Number(f.threshold) };
      if (f.kind === "success_rate") {
        body.window_s = Math.round(Number(f.window_h || 1)) * 3600;
        body.min_attempts = Number(f.min_attempts || 1);
      }
      try {
        await api.post("/alert-rules", body);
        error.hidden = true;
        toast("Rule added", "ok");
        await loadRules();
      } catch (err) {
        if (err.status === 401) return;
        error.hidden = false;
        error.textContent = err.message;
      }
    }
    return form;
  }

  function channelForm() {
    const error = h("p.notice.bad", { role: "alert", hidden: true });
    const kind = h("select", { id: "channel-kind", name: "kind" }, CHANNELS.map(([v, label]) => h("option", { value: v }, label)));
    const key = h("div.field", { hidden: true }, h("label", { for: "channel-key" }, "Routing key"),
      h("input", { id: "channel-key", name: "routing_key", type: "password", autocomplete: "off" }));
    const url = h("input", { id: "channel-url", name: "url", type: "url", placeholder: "https://hooks.slack.com/services/…", autocomplete: "off" });
    kind.addEventListener("change", () => {
      key.hidden = kind.value !== "pagerduty";
      url.placeholder = kind.value === "pagerduty" ? "PagerDuty's own (leave empty)" : "https://…";
    });
    const form = h("form.card.form.inline-form", { onsubmit: create },
      h("h2", "New channel"),
      error,
      h("div.form-grid",
        h("div.field", h("label", { for: "channel-kind" }, "Kind"), kind),
        h("div.field", h("label", { for: "channel-url" }, "URL"), url),
        key),
      h("div.actions", h("button.primary", { type: "submit" }, "Add channel")));
    async function create(e) {
      e.preventDefault();
      const f = Object.fromEntries(new FormData(form));
      const body = { kind: f.kind };
      if (f.url) body.url = f.url.trim();
      if (f.kind === "pagerduty") body.routing_key = f.routing_key;
      try {
        const created = await api.post("/alerts", body);
        error.hidden = true;
        form.reset();
        if (created.secret) reveal({ title: "Webhook channel secret", secret: created.secret, note: "Alerts are signed with it (Standard Webhooks headers). It is shown only now." });
        else toast("Channel added", "ok");
        await loadChannels();
      } catch (err) {
        if (err.status === 401) return;
        error.hidden = false;
        error.textContent = err.message;
      }
    }
    return form;
  }

  async function loadRules() {
    let res;
    try { res = await api.get("/alert-rules"); } catch (err) {
      if (ctx.alive() && err.status !== 401) fill(ruleList, failure(err));
      return;
    }
    if (!ctx.alive()) return;
    fill(ruleList, res.data.length ? h("table.events", { "data-testid": "rules-table" },
      h("thead", h("tr", h("th", "Endpoint"), h("th", "Rule"), h("th", "State"), h("th", "Last seen"), h("th", "Checked"), h("th", ""))),
      h("tbody", res.data.map((r) => h("tr", { dataset: { id: r.id, state: r.state } },
        h("td", { "data-label": "Endpoint" }, nameOf.get(r.endpoint_id) ?? r.endpoint_id, r.route_id && r.route_id !== r.endpoint_id ? h("span.mono.small", ` → ${r.route_id}`) : null),
        h("td", { "data-label": "Rule" }, r.description),
        h("td", { "data-label": "State" }, r.state === "firing"
          ? h("span.badge.bad", { title: `since ${r.firing_since}` }, "firing") : h("span.badge.ok", "ok")),
        h("td", { "data-label": "Last seen" }, r.last_value === null ? h("span.muted", "—") : num(Math.round(r.last_value * 10) / 10)),
        h("td", { "data-label": "Checked" }, r.checked_at ? time(r.checked_at, true) : h("span.muted", "not yet")),
        h("td.end", editor ? h("button.ghost.danger", { type: "button", onclick: () => removeRule(r) }, "Delete") : null)))))
      : h("p.muted", "No rules yet."));
  }

  async function loadChannels() {
    let res;
    try { res = await api.get("/alerts"); } catch (err) {
      if (ctx.alive() && err.status !== 401) fill(channelList, failure(err));
      return;
    }
    if (!ctx.alive()) return;
    fill(channelList, res.data.length ? h("table.events", { "data-testid": "channels-table" },
      h("thead", h("tr", h("th", "Kind"), h("th", "URL"), h("th", "Created"), h("th", ""))),
      h("tbody", res.data.map((c) => h("tr", { dataset: { id: c.id } },
        h("td", { "data-label": "Kind" }, h("span.badge.info", c.kind)),
        h("td.mono.break", { "data-label": "URL" }, c.url),
        h("td", { "data-label": "Created" }, time(c.created_at, true)),
        h("td.end",
          h("button.ghost", { type: "button", onclick: () => testChannel(c) }, "Test"),
          h("button.ghost.danger", { type: "button", onclick: () => removeChannel(c) }, "Delete"))))))
      : h("p.muted", "No channels: alerts go nowhere. Add Slack, a webhook or PagerDuty."));
  }

  async function testChannel(c) {
    try {
      const res = await api.post(`/alerts/${c.id}/test`);
      toast(res.delivered ? "Test alert delivered" : "The channel did not accept the test alert", res.delivered ? "ok" : "bad");
    } catch (err) { if (err.status !== 401) toast(err.message, "bad"); }
  }
  async function removeChannel(c) {
    const v = await dialog({ title: `Delete the ${c.kind} channel?`, body: h("p", "Alerts stop going there at once."), confirm: "Delete", tone: "danger" });
    if (!v) return;
    try { await api.del(`/alerts/${c.id}`); toast("Channel deleted", "ok"); } catch (err) { if (err.status !== 401) toast(err.message, "bad"); }
    await loadChannels();
  }
  async function removeRule(r) {
    const v = await dialog({ title: "Delete this rule?", body: h("p", r.state === "firing" ? "It is firing: its incident is resolved." : r.description), confirm: "Delete", tone: "danger" });
    if (!v) return;
    try { await api.del(`/alert-rules/${r.id}`); toast("Rule deleted", "ok"); } catch (err) { if (err.status !== 401) toast(err.message, "bad"); }
    await loadRules();
  }

  await Promise.all([loadRules(), admin ? loadChannels() : null]);
  ctx.every(15_000, loadRules);
}

