// Create or edit an endpoint: the fields an operator changes at 2 am (name,
// provider, secret, destination, retries, timeout, rate limit, FIFO, disabled).
// Anything else stays as the API has it.
import { api, forgetEndpoints } from "../api.js";
import { h, fill, toast } from "../dom.js";
import { field, text, destinationFields, deliveryFields, readDelivery } from "../form.js";

const PROVIDERS = ["github", "stripe", "shopify", "standard", "slack", "paddle", "linear", "typeform", "intercom",
  "zoom", "twitch", "square", "hubspot", "gitlab", "discord", "meta", "okta", "dropbox", "basic_auth", "api_key", "hmac", "none"];

export async function render(ctx) {
  const [id] = ctx.params;
  if (!ctx.can(id ? "edit" : "create")) {
    fill(ctx.main, h("section.page", h("h1", "Not allowed"), h("p", `Your role (${ctx.role}) cannot ${id ? "edit" : "create"} endpoints.`)));
    return;
  }
  const ep = id ? await api.get(`/endpoints/${id}`) : null;
  if (!ctx.alive()) return;

  // What an endpoint accepts is an admin's to change, as its secrets are.
  const lockedScheme = Boolean(id) && !ctx.can("rotate");
  const provider = h("select", { id: "f-provider", name: "provider", disabled: lockedScheme },
    PROVIDERS.map((p) => h("option", { value: p, selected: (ep?.provider ?? "github") === p }, p)));

  const error = h("p.notice.bad", { role: "alert", hidden: true });
  const form = h("form.card.form", { novalidate: false, onsubmit: submit },
    error,
    field("name", "Name", text("name", ep?.name, { required: true, maxlength: 200, autocomplete: "off" })),
    field("provider", "Provider (signature scheme)", provider,
      lockedScheme ? "Only an admin may change how an endpoint verifies requests." : undefined),
    // Replacing an endpoint's secrets is an admin's (as rotation is); a new
    // endpoint's first secret is anyone's who may create it.
    !id || ctx.can("rotate") ? field("secret", id ? "Replace secrets with" : "Provider secret",
      text("secret", "", { type: "password", autocomplete: "off", spellcheck: "false" }),
      id ? `Leave empty to keep the ${ep.secrets_count} current secret(s). To roll over without downtime, use Rotate secret on the card.`
        : "The signing secret the provider shows you (not needed for provider none).") : null,
    destinationFields(ep),
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
