// API keys (admin): create one with a name and a role (the key is shown once),
// list them with when each was last used, revoke.
import { api } from "../api.js";
import { h, fill, time, toast, dialog, reveal, failure } from "../dom.js";

const ROLES = [
  ["viewer", "viewer — reads everything but secrets and keys"],
  ["editor", "editor — also replays, pauses, creates and edits endpoints"],
  ["admin", "admin — also keys, secrets and deletes"],
];

export async function render(ctx) {
  if (!ctx.can("keys")) {
    fill(ctx.main, h("section.page", h("h1", "API keys"), h("p", `Only admins manage keys; you are ${ctx.role}.`)));
    return;
  }
  const list = h("div.table-wrap");
  const error = h("p.notice.bad", { role: "alert", hidden: true });
  const form = h("form.card.form.inline-form", { onsubmit: create },
    h("h2", "New key"),
    error,
    h("div.form-grid",
      h("div.field", h("label", { for: "key-name" }, "Name"), h("input", { id: "key-name", name: "name", required: true, maxlength: 200, placeholder: "on-call phone", autocomplete: "off" })),
      h("div.field", h("label", { for: "key-role" }, "Role"), h("select", { id: "key-role", name: "role" }, ROLES.map(([v, label]) => h("option", { value: v }, label))))),
    h("div.actions", h("button.primary", { type: "submit" }, "Create key")));
  fill(ctx.main, h("section.page",
    h("div.page-head", h("h1", "API keys")),
    form,
    h("div.card", h("h2", "Keys"), list)));

  async function load() {
    let res;
    try { res = await api.get("/keys"); } catch (err) {
      if (!ctx.alive() || err.status === 401) return;
      fill(list, failure(err));
      return;
    }
    if (!ctx.alive()) return;
    fill(list, res.data.length ? h("table.events.keys", { "data-testid": "keys-table" },
      h("thead", h("tr", h("th", "Name"), h("th", "Role"), h("th", "Prefix"), h("th", "Created"), h("th", "Last used"), h("th", ""))),
      h("tbody", res.data.map((k) => h("tr", { dataset: { id: k.id } },
        h("td", { "data-label": "Name" }, k.name),
        h("td", { "data-label": "Role" }, h(`span.badge.${k.role === "admin" ? "bad" : k.role === "editor" ? "warn" : "info"}`, k.role)),
        h("td.mono", { "data-label": "Prefix" }, `${k.prefix}…`),
        h("td", { "data-label": "Created" }, time(k.created_at)),
        h("td", { "data-label": "Last used" }, k.last_used_at ? time(k.last_used_at, true) : h("span.muted", "never")),
        h("td.end", h("button.ghost.danger", { type: "button", onclick: () => revoke(k) }, "Revoke"))))))
      : h("p.muted", "No keys yet. The admin token always works."));
  }

  async function create(e) {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    try {
      const created = await api.post("/keys", { name: f.name.trim(), role: f.role });
      error.hidden = true;
      form.reset();
      reveal({ title: `Key for ${created.name} (${created.role})`, secret: created.key, note: "Copy it now: it is shown only once and cannot be read again." });
      await load();
    } catch (err) {
      if (err.status === 401) return;
      error.hidden = false;
      error.textContent = err.message;
    }
  }

  async function revoke(k) {
    const v = await dialog({ title: `Revoke ${k.name}?`, body: h("p", "Whoever holds this key is signed out at their next request."), confirm: "Revoke", tone: "danger" });
    if (!v) return;
    try { await api.del(`/keys/${k.id}`); toast("Key revoked", "ok"); } catch (err) { if (err.status !== 401) toast(err.message, "bad"); }
    await load();
  }

  await load();
}
