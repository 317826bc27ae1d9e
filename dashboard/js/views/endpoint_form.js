// Create or edit an endpoint: the fields an operator changes at 2 am (name,
// provider, secret, destination, retries, timeout, rate limit, FIFO, disabled).
// Anything else stays as the API has it.
import { api, forgetEndpoints } from "../api.js";
import { h, fill, toast } from "../dom.js";

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

  const field = (name, label, input, help) =>
    h("div.field", { dataset: { field: name } }, h("label", { for: `f-${name}` }, label), input, help ? h("p.help", help) : null);
  const text = (name, value = "", attrs = {}) => h("input", { id: `f-${name}`, name, value: value ?? "", ...attrs });

  const provider = h("select", { id: "f-provider", name: "provider" },
    PROVIDERS.map((p) => h("option", { value: p, selected: (ep?.provider ?? "github") === p }, p)));
  const destType = h("select", { id: "f-destination_type", name: "destination_type" },
    h("option", { value: "push", selected: ep?.destination_type !== "pull" }, "push — the relay POSTs to a URL"),
    h("option", { value: "pull", selected: ep?.destination_type === "pull" }, "pull — a client leases events"));
  const destUrl = field("destination_url", "Destination URL",
    text("destination_url", ep?.destination_url, { type: "url", placeholder: "https://app.example.com/webhooks", inputmode: "url" }));
  const syncDest = () => { destUrl.hidden = destType.value === "pull"; destUrl.querySelector("input").required = destType.value !== "pull"; };
  destType.addEventListener("change", syncDest);

  const error = h("p.notice.bad", { role: "alert", hidden: true });
  const form = h("form.card.form", { novalidate: false, onsubmit: submit },
    error,
    field("name", "Name", text("name", ep?.name, { required: true, maxlength: 200, autocomplete: "off" })),
    field("provider", "Provider (signature scheme)", provider),
    field("secret", id ? "Replace secrets with" : "Provider secret",
      text("secret", "", { type: "password", autocomplete: "off", spellcheck: "false" }),
      id ? `Leave empty to keep the ${ep.secrets_count} current secret(s). To roll over without downtime, use Rotate secret on the card.`
        : "The signing secret the provider shows you (not needed for provider none)."),
    field("destination_type", "Destination", destType),
    destUrl,
    h("details.more", { open: Boolean(id) },
      h("summary", "Delivery settings"),
      h("div.form-grid",
        field("schedule", "Retry schedule (seconds)", text("schedule", ep?.retry.schedule_s.join(", "), { placeholder: "5, 30, 120, 600, …", inputmode: "numeric" }),
          "Delay after each failed attempt; empty keeps the default."),
        field("max_attempts", "Max attempts", text("max_attempts", ep?.retry.max_attempts, { type: "number", min: 1, max: 100 })),
        field("timeout_ms", "Timeout (ms)", text("timeout_ms", ep?.timeout_ms, { type: "number", min: 100, max: 60000, placeholder: "15000" })),
        field("rate_limit_per_s", "Rate limit (per second)", text("rate_limit_per_s", ep?.rate_limit_per_s, { type: "number", min: 0, step: "any", placeholder: "unlimited" })),
        h("label.check", h("input", { type: "checkbox", name: "fifo", checked: Boolean(ep?.fifo) }), " Deliver in order (FIFO)"),
        h("label.check", h("input", { type: "checkbox", name: "disabled", checked: Boolean(ep?.disabled) }), " Disabled (refuse every ingest)"))),
    h("div.actions",
      h("a.button.ghost", { href: "#/endpoints" }, "Cancel"),
      h("button.primary", { type: "submit" }, id ? "Save" : "Create endpoint")));
  syncDest();

  fill(ctx.main, h("section.page.narrow",
    h("div.page-head", h("h1", id ? `Edit ${ep.name}` : "New endpoint")),
    form));
  form.querySelector("input").focus();

  async function submit(e) {
    e.preventDefault();
    const f = new FormData(form);
    const body = { name: f.get("name").trim(), provider: f.get("provider"), destination_type: f.get("destination_type") };
    body.destination_url = body.destination_type === "pull" ? "" : f.get("destination_url").trim();
    const secret = f.get("secret");
    if (secret) body.secrets = [secret];
    const retry = {};
    const schedule = f.get("schedule").trim();
    if (schedule) retry.schedule_s = schedule.split(/[\s,]+/).filter(Boolean).map(Number);
    if (f.get("max_attempts")) retry.max_attempts = Number(f.get("max_attempts"));
    if (Object.keys(retry).length) body.retry = retry;
    if (f.get("timeout_ms")) body.timeout_ms = Number(f.get("timeout_ms"));
    if (f.get("rate_limit_per_s") !== "") body.rate_limit_per_s = Number(f.get("rate_limit_per_s"));
    else if (id && ep.rate_limit_per_s !== null) body.rate_limit_per_s = 0;
    body.fifo = f.get("fifo") === "on";
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
