// Small helpers to build DOM without innerHTML (so nothing from the relay is ever
// parsed as markup), and the formatting every page shares.

/** h("a.btn", {href}, "text", child, [more]) — attributes starting with "on" are listeners. */
export function h(spec, attrs, ...children) {
  if (attrs === null || typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = [el.className, v].filter(Boolean).join(" ");
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** Replaces an element's content in one step (no flash of empty content). */
export function fill(el, ...children) {
  const frag = document.createDocumentFragment();
  append(frag, children);
  el.replaceChildren(frag);
  return el;
}

const nf = new Intl.NumberFormat();
export const num = (n) => (n === null || n === undefined ? "—" : nf.format(n));
export const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(x >= 0.999 || x === 0 ? 0 : 1)} %`);
export function ms(n) {
  if (n === null || n === undefined) return "—";
  if (n < 1000) return `${Math.round(n)} ms`;
  return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`;
}
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const dtf = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
export function when(iso) {
  if (!iso) return "—";
  return dtf.format(new Date(iso));
}
function span(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}
export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (Math.abs(s) < 5) return "just now";
  return s < 0 ? `in ${span(-s)}` : `${span(s)} ago`;
}
/** A <time> with the local date, the exact ISO time as its tooltip. */
export const time = (iso, rel = false) =>
  iso ? h("time", { datetime: iso, title: iso }, rel ? ago(iso) : when(iso)) : h("span.muted", "—");

const STATUS_TONE = { delivered: "ok", dead: "bad", retrying: "warn", delivering: "info", received: "info" };
export const status = (s) => h(`span.badge.${STATUS_TONE[s] ?? "info"}`, { dataset: { status: s } }, s);

const OUTCOME_TONE = { delivered: "ok", rate_limited: "warn", server_error: "bad", client_error: "bad", gone: "bad", timeout: "warn", network_error: "warn" };
export const outcome = (o) => h(`span.badge.${OUTCOME_TONE[o] ?? "info"}`, o.replace("_", " "));

/** Header names whose values the dashboard never shows (the relay already drops the endpoint's own credential). */
export const SECRET_HEADER = /authorization|cookie|signature|hmac|token|secret|api[-_]?key|password|^x-hub-signature/i;
export const redacted = () => h("span.redacted", { title: "redacted" }, "•••••• redacted");

/** A short toast in the corner; `tone` is ok | bad | info. */
export function toast(text, tone = "info") {
  const el = h(`div.toast.${tone}`, text);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), tone === "bad" ? 8000 : 4000);
}

export async function copy(text, what = "Copied") {
  try {
    await navigator.clipboard.writeText(text);
    toast(`${what} to the clipboard`, "ok");
  } catch {
    window.prompt("Copy this:", text);
  }
}

/** Modal dialog: resolves with the form's values, or null when cancelled. */
export function dialog({ title, body = [], confirm = "OK", tone = "primary", fields = [] }) {
  return new Promise((resolve) => {
    const inputs = fields.map((f) => {
      const id = `dlg-${f.name}`;
      const input = f.type === "select"
        ? h("select", { id, name: f.name }, f.options.map(([v, label]) => h("option", { value: v, selected: v === f.value }, label)))
        : h("input", { id, name: f.name, type: f.type ?? "text", value: f.value ?? "", placeholder: f.placeholder ?? "", required: f.required });
      return h("div.field", h("label", { for: id }, f.label), input, f.help ? h("p.help", f.help) : null);
    });
    const dlg = h("dialog.dialog",
      h("form", { method: "dialog" },
        h("h2", title),
        body,
        inputs,
        h("div.actions",
          h("button.ghost", { type: "button", value: "cancel", onclick: () => dlg.close("cancel") }, "Cancel"),
          h(`button.${tone}`, { type: "submit", value: "ok" }, confirm))));
    dlg.addEventListener("close", () => {
      const ok = dlg.returnValue === "ok";
      const values = Object.fromEntries(fields.map((f) => [f.name, dlg.querySelector(`[name="${f.name}"]`).value]));
      dlg.remove();
      resolve(ok ? values : null);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** A dialog that shows a secret once, with a copy button. */
export function reveal({ title, secret, note }) {
  const dlg = h("dialog.dialog",
    h("form", { method: "dialog" },
      h("h2", title),
      note ? h("p", note) : null,
      h("div.secret", h("code", { "data-testid": "revealed-secret" }, secret),
        h("button.ghost", { type: "button", onclick: () => copy(secret, "Secret copied") }, "Copy")),
      h("div.actions", h("button.primary", { type: "submit" }, "Done"))));
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}

/** An error box in place of content. */
export const failure = (err) => h("div.notice.bad", { role: "alert" }, err?.message ?? String(err));
