// An endpoint's routes: where its ingests go. Each route is listed with its
// destination, what it selects (event types, filter), whether it transforms,
// and its paused and circuit state (editors may close an open circuit by
// hand). Editors add and edit routes beside the live
// tester (route_tester.js); admins delete extra routes. The endpoint is its own
// first route: editing it edits the endpoint's destination and delivery
// settings, and it goes only with the endpoint.
import { api, forgetEndpoints } from "../api.js";
import { h, fill, num, toast, dialog, reveal, failure } from "../dom.js";
import { link, setQuery } from "../nav.js";
import { field, text, destinationFields, deliveryFields, readDelivery } from "../form.js";
import { routeTester } from "./route_tester.js";

const NEW = "new";

export async function render(ctx) {
  const [id] = ctx.params;
  const ep = await api.get(`/endpoints/${id}`);
  if (!ctx.alive()) return;
  let routes = [];
  let openId = null; // the id of the route in the editor, or NEW

  const list = h("div.table-wrap");
  const editing = h("div");
  fill(ctx.main, h("section.page",
    h("p.crumbs", h("a", { href: "#/endpoints" }, "← Endpoints"), " · ",
      h("a", { href: link("/events", { endpoint_id: id }) }, "Events")),
    h("div.page-head",
      h("div", h("h1", `Routes of ${ep.name}`),
        h("p.subtitle", "Each ingest goes to every route whose event types and filter accept it.")),
      ctx.can("create") ? h("button.primary", { type: "button", "data-testid": "add-route", onclick: () => edit(NEW) }, "Add route") : null),
    list,
    editing));

  async function load() {
    const res = await api.get(`/endpoints/${id}/routes`);
    if (!ctx.alive()) return;
    routes = res.data;
    fill(list, table(routes));
  }

  function table(rows) {
    return h("table.events.routes", { "data-testid": "routes-table" },
      h("thead", h("tr", h("th", "Route"), h("th", "Destination"), h("th", "Takes"), h("th", "Transforms"),
        h("th", "State"), h("th.num", "Delivered / dead / in flight"), h("th", ""))),
      h("tbody", rows.map((r) => h("tr", { dataset: { id: r.id } },
        h("td", { dataset: { label: "Route" } }, h("strong", r.name), r.first ? h("span.badge.info", "first") : null,
          h("div.mono.small.muted", r.id)),
        h("td.mono.break", { dataset: { label: "Destination" } }, r.destination_type === "pull" ? "pulled by a client" : r.destination_url),
        h("td.break", { dataset: { label: "Takes" } }, takes(r)),
        h("td", { dataset: { label: "Transforms" } }, r.transform ? h("span.badge.info", "transforms") : h("span.muted", "as received")),
        h("td", { dataset: { label: "State" } }, h("div.badges.start",
          r.paused ? h("span.badge.warn", { title: r.paused_reason ?? "" }, "paused") : null,
          r.circuit.state === "closed" ? h("span.badge.ok", "circuit closed") : h("span.badge.bad", `circuit ${r.circuit.state.replace("_", " ")}`))),
        h("td.num", { dataset: { label: "Delivered / dead / in flight" } },
          `${num(r.counts.delivered)} / ${num(r.counts.dead)} / ${num(r.counts.in_flight)}`),
        h("td.end", h("div.actions",
          ctx.can("edit") ? h("button.ghost.small-btn", { type: "button", onclick: () => edit(r.id) }, "Edit") : null,
          ctx.can("circuit") && r.circuit.state === "open"
            ? h("button.ghost.small-btn", { type: "button", "data-testid": "close-circuit", onclick: () => closeCircuit(r) }, "Close circuit") : null,
          ctx.can("delete") && !r.first ? h("button.ghost.danger.small-btn", { type: "button", onclick: () => remove(r) }, "Delete") : null))))));
  }

  function edit(routeId) {
    setQuery({ route: routeId });
    openId = routeId;
    const route = routeId === NEW ? null : routes.find((r) => r.id === routeId);
    if (routeId !== NEW && !route) return fill(editing, failure(new Error(`No route ${routeId} on this endpoint.`)));
    fill(editing, editor(route));
    editing.querySelector("input").focus();
    editing.scrollIntoView({ block: "start" });
  }

  function close() {
    setQuery({});
    openId = null;
    fill(editing);
  }

  function editor(route) {
    const json = (name, value) => h("textarea.code", { id: `f-${name}`, name, rows: 7, spellcheck: "false", autocomplete: "off",
      oninput: () => tester.changed() }, value ? JSON.stringify(value, null, 2) : "");
    const types = text("event_types", route?.event_types?.join(", ") ?? "",
      { placeholder: "payment_intent.*, charge.refunded", spellcheck: "false", autocomplete: "off", oninput: () => tester.changed() });
    const error = h("p.notice.bad.break", { role: "alert", "data-testid": "route-error", hidden: true });
    const form = h("form.card.form", { onsubmit: submit, "data-testid": "route-form" },
      h("h2", route ? `Edit ${route.name}` : "New route"),
      route?.first ? h("p.small.muted", "This is the endpoint's own route: its destination and delivery settings are the endpoint's.") : null,
      error,
      field("name", "Name", text("name", route?.name, { required: true, maxlength: 200, autocomplete: "off" })),
      destinationFields(route),
      field("event_types", "Event types", types, "The provider's own event names, * as a wildcard, comma-separated; empty takes every type."),
      field("filter", "Filter (JSON)", json("filter", route?.filter),
        'Over body, headers, query and path: {"body": {"data": {"object": {"amount": {"$gte": 1000}}}}}. Empty takes every request.'),
      field("transform", "Transformation (JSON)", json("transform", route?.transform),
        'e.g. {"headers": {"set": {"x-env": "prod"}}, "body": [{"op": "pick", "paths": ["/id", "/type"]}]}. Empty sends the request as received.'),
      h("details.more",
        h("summary", "Delivery settings"),
        h("div.form-grid", deliveryFields(route))),
      h("div.actions",
        h("button.ghost", { type: "button", onclick: close }, "Cancel"),
        h("button.primary", { type: "submit" }, route ? "Save route" : "Add route")));

    /** The selecting and transforming fields as the API takes them, or why they cannot be sent. */
    function read() {
      const out = { event_types: null, filter: null, transform: null };
      const names = types.value.split(/[\s,]+/).filter(Boolean);
      if (names.length) out.event_types = names;
      for (const name of ["filter", "transform"]) {
        const raw = form.elements[name].value.trim();
        if (!raw) continue;
        try { out[name] = JSON.parse(raw); } catch (err) {
          return { invalid: `The ${name} is not valid JSON: ${err.message}` };
        }
      }
      return out;
    }

    const tester = routeTester(ctx, ep, read);

    async function submit(e) {
      e.preventDefault();
      const fields = read();
      if (fields.invalid) return refuse(fields.invalid);
      const f = new FormData(form);
      const body = readDelivery(f, route, { name: f.get("name").trim(), ...fields });
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const saved = route ? await api.patch(`/routes/${route.id}`, body) : await api.post(`/endpoints/${id}/routes`, body);
        if (route?.first) forgetEndpoints();
        toast(route ? `Saved ${saved.name}` : `Added ${saved.name}`, "ok");
        if (saved.relay_secret) {
          reveal({ title: `Relay secret of ${saved.name}`, secret: saved.relay_secret,
            note: "This route signs what it delivers with its own secret: the destination verifies the webhook-signature header with it. It is shown only now." });
        }
        close();
        await load();
      } catch (err) {
        if (err.status !== 401) refuse(`${err.code ? `${err.code}: ` : ""}${err.message}`);
      } finally {
        button.disabled = false;
      }
    }

    function refuse(message) {
      error.hidden = false;
      error.textContent = message;
      error.scrollIntoView({ block: "nearest" });
    }

    return h("div.route-edit", form, tester.panel);
  }

  async function closeCircuit(r) {
    try {
      const res = await api.post(`/routes/${r.id}/circuit/reset`);
      toast(`Circuit of ${r.name} closed; ${num(res.drained)} waiting event(s) sent on`, "ok");
      await load();
    } catch (err) {
      if (err.status !== 401) toast(err.message, "bad");
    }
  }

  async function remove(r) {
    const v = await dialog({ title: `Delete the route ${r.name}?`,
      body: h("p", "Nothing more is routed to it; its undelivered events go dead with \"the route was deleted\"."), confirm: "Delete", tone: "danger" });
    if (!v) return;
    try {
      await api.del(`/routes/${r.id}`);
      toast(`Deleted ${r.name}`, "ok");
      if (openId === r.id) close();
      await load();
    } catch (err) {
      if (err.status !== 401) toast(err.message, "bad");
    }
  }

  try { await load(); } catch (err) { if (err.status !== 401) fill(list, failure(err)); return; }
  if (ctx.query.route && ctx.can("edit")) edit(ctx.query.route);
  ctx.every(15_000, async () => { if (!openId) await load(); });
}

/** What a route takes, in a line: its event types and filter, or every request. */
function takes(r) {
  const parts = [];
  if (r.event_types) parts.push(h("span.mono", r.event_types.join(", ")));
  if (r.filter) {
    const json = JSON.stringify(r.filter);
    parts.push(h("span.mono.small", { title: json }, json.length > 80 ? `${json.slice(0, 79)}…` : json));
  }
  if (!parts.length) return h("span.muted", "every request");
  return parts.length === 2 ? [parts[0], h("span.muted", " and "), parts[1]] : parts[0];
}
