// Form pieces the endpoint and route editors share: a labelled field, a text
// input, the destination (push URL or pull) and the delivery settings (retry
// schedule, attempts, timeout, rate limit, FIFO), and how the form's values
// become the API's fields. `current` is the endpoint or route being edited, or
// null for a new one.
import { h } from "./dom.js";

export const field = (name, label, input, help) =>
  h("div.field", { dataset: { field: name } }, h("label", { for: `f-${name}` }, label), input, help ? h("p.help", help) : null);

export const text = (name, value = "", attrs = {}) => h("input", { id: `f-${name}`, name, value: value ?? "", ...attrs });

/** The destination type and URL; the URL is hidden (and optional) for pull. */
export function destinationFields(current) {
  const type = h("select", { id: "f-destination_type", name: "destination_type" },
    h("option", { value: "push", selected: current?.destination_type !== "pull" }, "push — the relay POSTs to a URL"),
    h("option", { value: "pull", selected: current?.destination_type === "pull" }, "pull — a client leases events"));
  const url = field("destination_url", "Destination URL",
    text("destination_url", current?.destination_url, { type: "url", placeholder: "https://app.example.com/webhooks", inputmode: "url" }));
  const sync = () => { url.hidden = type.value === "pull"; url.querySelector("input").required = type.value !== "pull"; };
  type.addEventListener("change", sync);
  sync();
  return [field("destination_type", "Destination", type), url];
}

export function deliveryFields(current) {
  return [
    field("schedule", "Retry schedule (seconds)", text("schedule", current?.retry.schedule_s.join(", "), { placeholder: "5, 30, 120, 600, …", inputmode: "numeric" }),
      "Delay after each failed attempt; empty keeps the default."),
    field("max_attempts", "Max attempts", text("max_attempts", current?.retry.max_attempts, { type: "number", min: 1, max: 100 })),
    field("timeout_ms", "Timeout (ms)", text("timeout_ms", current?.timeout_ms, { type: "number", min: 100, max: 60000, placeholder: "15000" })),
    field("rate_limit_per_s", "Rate limit (per second)", text("rate_limit_per_s", current?.rate_limit_per_s, { type: "number", min: 0, step: "any", placeholder: "unlimited" })),
    h("label.check", h("input", { type: "checkbox", name: "fifo", checked: Boolean(current?.fifo) }), " Deliver in order (FIFO)"),
  ];
}

/** Adds the destination and delivery settings of FormData `f` to the request `body`. */
export function readDelivery(f, current, body) {
  body.destination_type = f.get("destination_type");
  body.destination_url = body.destination_type === "pull" ? "" : f.get("destination_url").trim();
  const retry = {};
  const schedule = f.get("schedule").trim();
  if (schedule) retry.schedule_s = schedule.split(/[\s,]+/).filter(Boolean).map(Number);
  if (f.get("max_attempts")) retry.max_attempts = Number(f.get("max_attempts"));
  if (Object.keys(retry).length) body.retry = retry;
  if (f.get("timeout_ms")) body.timeout_ms = Number(f.get("timeout_ms"));
  if (f.get("rate_limit_per_s") !== "") body.rate_limit_per_s = Number(f.get("rate_limit_per_s"));
  else if (current && current.rate_limit_per_s !== null) body.rate_limit_per_s = 0;
  body.fifo = f.get("fifo") === "on";
  return body;
}
