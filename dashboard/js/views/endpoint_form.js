// Create or edit an endpoint: the fields an operator changes at 2 am (name,
// provider, secret, destination, retries, timeout, rate limit, FIFO, disabled),
// and for an admin, where a provider that keeps a record of what it sent
// (Stripe, GitHub) is read to catch up. Anything else stays as the API has it.
import { api, forgetEndpoints, providers } from "../api.js";
import { h, fill, toast } from "../dom.js";
import { field, text, destinationFields, deliveryFields, readDelivery } from "../form.js";

// The choice of provider comes from the relay's registry, grouped by category.
function providerSelect(list, current, disabled) {
  const groups = new Map();
  for (const p of list) groups.set(p.category, [...(groups.get(p.category) ?? []), p]);
  return h("select", { id: "f-provider", name: "provider", disabled },
    [...groups].map(([category, items]) => h("optgroup", { label: category },
      items.map((p) => h("option", { value: p.name, selected: current === p.name }, `${p.title} (${p.name})`)))));
}

/** What the chosen provider signs with and what its secret is, in a line. */
function providerHint(p) {
  if (!p) return "";
  const secret = { issued: "Paste the secret the provider shows you.",
    chosen: "Choose a secret and type it into the provider too.", none: "No secret." }[p.secret];
  const headers = p.headers.length ? ` Reads ${p.headers.join(", ")}.` : "";
  return `${p.signature.replaceAll("`", "")}.${headers} ${secret}`;
}

/** The catch-up fields of a provider that keeps a record, for an admin. */
function catchUpFields(p, current) {
  if (!p?.catch_up) return [];
  const configured = current?.api === p.catch_up;
  const keep = configured ? "Leave empty to keep the configuration as it is; to change any field, enter it again." : "";
  const credential = p.catch_up === "stripe_events"
    ? field("catch_up_key", "Stripe API key", text("catch_up_key", "", { type: "password", autocomplete: "off" }),
      `A restricted key with Events: read is enough. ${keep}`)
    : field("catch_up_key", "GitHub token", text("catch_up_key", "", { type: "password", autocomplete: "off" }),
      `A token that may read and redeliver this hook's deliveries. ${keep}`);
  const github = p.catch_up === "github_redelivery" ? [
    field("catch_up_repo", "Repository (owner/name)", text("catch_up_repo", configured ? current.repo : "", { autocomplete: "off" })),
    field("catch_up_hook", "Hook id", text("catch_up_hook", configured ? String(current.hook_id) : "", { inputmode: "numeric", autocomplete: "off" })),
  ] : [];
  return [
    h("p.help", "Catch-up reads the provider's own record of what it sent and recovers what never reached the relay (Catch up, on the endpoint's card)."),
    credential, ...github,
    field("catch_up_base", "API base (optional)", text("catch_up_base", configured ? current.api_base : "", { type: "url", autocomplete: "off" }),
      "Defaults to the provider's real API."),
    configured ? h("label.check", h("input", { type: "checkbox", name: "catch_up_remove" }), " Remove catch-up") : null,
  ];
}

/** What the form says about catch-up: a configuration, `null` to remove it, or nothing to keep it. */
function readCatchUp(f, p, body) {
  if (f.get("catch_up_remove") === "on") {
    body.catch_up = null;
    return;
  }
  const key = f.get("catch_up_key");
  if (!p?.catch_up || !key) return;
  const base = f.get("catch_up_base")?.trim() || undefined;
  body.catch_up = p.catch_up === "stripe_events"
    ? { api_key: key, api_base: base }
    : { token: key, repo: f.get("catch_up_repo").trim(), hook_id: Number(f.get("catch_up_hook")), api_base: base };
}

export async function render(ctx) {
  const [id] = ctx.params;
  if (!ctx.can(id ? "edit" : "create")) {
    fill(ctx.main, h("section.page", h("h1", "Not allowed"), h("p", `Your role (${ctx.role}) cannot ${id ? "edit" : "create"} endpoints.`)));
    return;
  }
  const [ep, known] = await Promise.all([id ? api.get(`/endpoints/${id}`) : null, providers()]);
  if (!ctx.alive()) return;

  // What an endpoint accepts is an admin's to change, as its secrets are.
  const lockedScheme = Boolean(id) && !ctx.can("rotate");
  const provider = providerSelect(known, ep?.provider ?? "github", lockedScheme);
  const hint = h("p.help", { id: "f-provider-hint" });
  const showHint = () => { hint.textContent = providerHint(known.find((p) => p.name === provider.value)); };
  provider.addEventListener("change", showHint);
  showHint();
  const providerField = field("provider", "Provider (signature scheme)", provider,
    lockedScheme ? "Only an admin may change how an endpoint verifies requests." : undefined);
  providerField.append(hint);

  // Catch-up holds a credential: an admin's to set, as secrets are.
  const catchUp = h("div.form-grid", { id: "f-catch-up" });
  const catchUpBox = h("details.more", { "data-testid": "catch-up-settings", open: Boolean(ep?.catch_up) },
    h("summary", "Catch-up"), catchUp);
  const chosen = () => known.find((p) => p.name === provider.value);
  const showCatchUp = () => {
    fill(catchUp, catchUpFields(chosen(), ep?.catch_up));
    catchUpBox.hidden = !chosen()?.catch_up;
  };
  if (ctx.can("rotate")) {
    provider.addEventListener("change", showCatchUp);
    showCatchUp();
  }

  const error = h("p.notice.bad", { role: "alert", hidden: true });
  const form = h("form.card.form", { novalidate: false, onsubmit: submit },
    error,
    field("name", "Name", text("name", ep?.name, { required: true, maxlength: 200, autocomplete: "off" })),
    providerField,
    // Replacing an endpoint's secrets is an admin's (as rotation is); a new
    // endpoint's first secret is anyone's who may create it.
    !id || ctx.can("rotate") ? field("secret", id ? "Replace secrets with" : "Provider secret",
      text("secret", "", { type: "password", autocomplete: "off", spellcheck: "false" }),
      id ? `Leave empty to keep the ${ep.secrets_count} current secret(s). To roll over without downtime, use Rotate secret on the card.`
        : "The signing secret the provider shows you (not needed for provider none).") : null,
    destinationFields(ep),
    ctx.can("rotate") ? catchUpBox : null,
    h("details.more", { open: Boolean(id) },
      h("summary", "Delivery settings"),
      h("div.form-grid",
        deliveryFields(ep),
        h("label.check", h("input", { type: "checkbox", name: "disabled", checked: Boolean(ep?.disabled) }), " Disabled (refuse every ingest)"))),
    h("div.actions",
      h("a.button.ghost", { href: "#/endpoints" }, "Cancel"),
      h("button.primary", { type: "submit" }, id ? "Save" : "Create endpoint")));

  fill(ctx.main, h("section.page.narrow",
    h("div.page-head", h("h1", id ? `Edit ${ep.name}` : "New endpoint"),
      id ? h("a.button.ghost", { href: `#/endpoints/${id}/routes` }, "Routes") : null),
    form));
  form.querySelector("input").focus();

  async function submit(e) {
    e.preventDefault();
    const f = new FormData(form);
    const body = { name: f.get("name").trim() };
    if (!lockedScheme) body.provider = f.get("provider");
    const secret = f.get("secret");
    if (secret) body.secrets = [secret];
    readDelivery(f, ep, body);
    body.disabled = f.get("disabled") === "on";
    if (ctx.can("rotate")) readCatchUp(f, chosen(), body);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const saved = id ? await api.patch(`/endpoints/${id}`, body) : await api.post("/endpoints", body);
      forgetEndpoints();
      toast(id ? "Saved" : `Created ${saved.name}`, "ok");
      location.hash = `#/endpoints?created=${saved.id}`;
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
      error.scrollIntoView({ block: "nearest" });
    } finally {
      button.disabled = false;
    }
  }
}
