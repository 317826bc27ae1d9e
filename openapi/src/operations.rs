//! The API's operations, as data: each path and method, what it reads and
//! every answer it gives, with the types those bodies are.
//!
//! The role an operation needs is not here: it comes from
//! `hookrelay_core::access::OPERATIONS`, the table the router enforces, and
//! the document is not built when the two tables list different operations.
//! Answers every keyed operation shares (`401`; `403` unless any key may
//! call it; `500`) are added by the document unless the operation gives its
//! own.

use hookrelay_core::catch_up::{self, CatchUpOutcome};
use hookrelay_core::event_query::InstantQuery;
use hookrelay_core::handshake::{DiscordPong, OktaVerification, ZoomUrlValidation};
use hookrelay_core::model::{IngestStatus, Status as EventStatus};
use hookrelay_core::stats::Window;
use hookrelay_core::verify::catalog::ProviderView;
use hookrelay_core::{alert_rules::RuleInput, inputs, views};
use schemars::generate::SchemaGenerator;
use schemars::{JsonSchema, Schema};
use serde_json::{json, Value};

/// Adds a type's schema to the document and gives its reference.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

pub fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// One operation of the document.
pub struct Operation {
    /// Upper case, as `access::OPERATIONS` has it.
    pub method: &'static str,
    /// As documented: `/api/v1/…`, or the ingest URL `/{endpoint_id}`.
    pub path: &'static str,
    pub id: &'static str,
    /// One of the tags the written frame lists.
    pub tag: &'static str,
    pub summary: &'static str,
    pub description: Option<&'static str>,
    /// The path's one parameter; every method of a path gives the same.
    pub path_param: Option<Param>,
    pub query: &'static [Param],
    pub body: Option<Body>,
    /// The answers particular to this operation.
    pub answers: &'static [Answer],
}

impl Operation {
    pub(crate) const fn new(
        method: &'static str,
        path: &'static str,
        id: &'static str,
        tag: &'static str,
        summary: &'static str,
    ) -> Self {
        Operation {
            method,
            path,
            id,
            tag,
            summary,
            description: None,
            path_param: None,
            query: &[],
            body: None,
            answers: &[],
        }
    }

    pub(crate) const fn get(
        path: &'static str,
        id: &'static str,
        tag: &'static str,
        summary: &'static str,
    ) -> Self {
        Self::new("GET", path, id, tag, summary)
    }

    pub(crate) const fn post(
        path: &'static str,
        id: &'static str,
        tag: &'static str,
        summary: &'static str,
    ) -> Self {
        Self::new("POST", path, id, tag, summary)
    }

    pub(crate) const fn patch(
        path: &'static str,
        id: &'static str,
        tag: &'static str,
        summary: &'static str,
    ) -> Self {
        Self::new("PATCH", path, id, tag, summary)
    }

    pub(crate) const fn delete(
        path: &'static str,
        id: &'static str,
        tag: &'static str,
        summary: &'static str,
    ) -> Self {
        Self::new("DELETE", path, id, tag, summary)
    }

    const fn described(self, description: &'static str) -> Self {
        Operation {
            description: Some(description),
            ..self
        }
    }

    const fn path_param(self, param: Param) -> Self {
        Operation {
            path_param: Some(param),
            ..self
        }
    }

    const fn query(self, query: &'static [Param]) -> Self {
        Operation { query, ..self }
    }

    const fn body(self, body: Body) -> Self {
        Operation {
            body: Some(body),
            ..self
        }
    }

    const fn answers(self, answers: &'static [Answer]) -> Self {
        Operation { answers, ..self }
    }

    /// The path under `/api/v1`, as `access::OPERATIONS` lists it; `None`
    /// for ingest, which the provider's signature guards, not a key.
    pub fn keyed_path(&self) -> Option<&'static str> {
        self.path.strip_prefix("/api/v1")
    }
}

/// A path or query parameter.
pub struct Param {
    pub name: &'static str,
    pub in_path: bool,
    pub description: Option<&'static str>,
    pub schema: ParamSchema,
    /// Named in `components/parameters` and referred to by that name.
    pub shared_as: Option<&'static str>,
}

impl Param {
    const fn path(
        name: &'static str,
        description: Option<&'static str>,
        schema: ParamSchema,
    ) -> Self {
        Param {
            name,
            in_path: true,
            description,
            schema,
            shared_as: None,
        }
    }

    const fn query(
        name: &'static str,
        description: Option<&'static str>,
        schema: ParamSchema,
    ) -> Self {
        Param {
            name,
            in_path: false,
            description,
            schema,
            shared_as: None,
        }
    }

    /// The `{id}` of a path, any text (the handler answers 404 to an id it
    /// does not know), named `name` in `components/parameters`.
    const fn shared_id(name: &'static str, description: &'static str) -> Self {
        Self::path("id", Some(description), ParamSchema::ANY_TEXT).shared_as(name)
    }

    const fn shared_as(self, name: &'static str) -> Self {
        Param {
            shared_as: Some(name),
            ..self
        }
    }
}

/// What a parameter's value may be.
pub enum ParamSchema {
    /// A string, with these bounds.
    Text {
        min_len: Option<u32>,
        max_len: Option<u32>,
        pattern: Option<&'static str>,
    },
    /// This one string.
    Const(&'static str),
    Integer {
        min: u32,
        max: u32,
        default: u32,
    },
    /// A type's schema.
    Type(SchemaFn),
}

impl ParamSchema {
    /// Any string: the handler checks it (an unknown id answers 404).
    const ANY_TEXT: ParamSchema = ParamSchema::Text {
        min_len: None,
        max_len: None,
        pattern: None,
    };

    const fn pattern(pattern: &'static str) -> Self {
        ParamSchema::Text {
            min_len: None,
            max_len: None,
            pattern: Some(pattern),
        }
    }
}

/// A request body.
pub struct Body {
    pub required: bool,
    pub description: Option<&'static str>,
    pub schema: BodySchema,
}

impl Body {
    /// A required JSON body of a type.
    const fn json(schema: SchemaFn) -> Self {
        Body {
            required: true,
            description: None,
            schema: BodySchema::Type(schema),
        }
    }
}

pub enum BodySchema {
    /// JSON of a type, as it is deserialized.
    Type(SchemaFn),
    /// JSON of a schema of the written frame, by name.
    Written(&'static str),
    /// Any bytes (a provider's body, stored as it came).
    Raw,
}

/// One status an operation answers, and what comes with it.
pub struct Answer {
    pub status: u16,
    pub description: &'static str,
    pub content: Content,
    /// Named in `components/responses` and referred to by that name.
    pub shared_as: Option<&'static str>,
}

pub enum Content {
    None,
    /// JSON of a type, as it is serialized.
    Json(SchemaFn),
    /// `{"data": [...]}` of a type, with at most this many items when bounded.
    List(SchemaFn, Option<u32>),
    /// The error body, with one of these codes.
    Refused(&'static [&'static str]),
    /// Anything else: the `content` map, media type to schema.
    Custom(fn(&mut SchemaGenerator) -> Value),
}

impl Answer {
    const fn new(status: u16, description: &'static str, content: Content) -> Self {
        Answer {
            status,
            description,
            content,
            shared_as: None,
        }
    }

    const fn empty(status: u16, description: &'static str) -> Self {
        Self::new(status, description, Content::None)
    }

    const fn json(status: u16, description: &'static str, schema: SchemaFn) -> Self {
        Self::new(status, description, Content::Json(schema))
    }

    const fn list(status: u16, description: &'static str, items: SchemaFn) -> Self {
        Self::new(status, description, Content::List(items, None))
    }

    const fn list_of_at_most(
        status: u16,
        description: &'static str,
        items: SchemaFn,
        max: u32,
    ) -> Self {
        Self::new(status, description, Content::List(items, Some(max)))
    }

    const fn refused(
        status: u16,
        description: &'static str,
        codes: &'static [&'static str],
    ) -> Self {
        Self::new(status, description, Content::Refused(codes))
    }

    const fn custom(
        status: u16,
        description: &'static str,
        content: fn(&mut SchemaGenerator) -> Value,
    ) -> Self {
        Self::new(status, description, Content::Custom(content))
    }

    const fn shared_as(self, name: &'static str) -> Self {
        Answer {
            shared_as: Some(name),
            ..self
        }
    }
}

/// `401` to every keyed operation.
pub const UNAUTHORIZED: Answer = Answer::refused(
    401,
    "No bearer token, or one that is neither ADMIN_TOKEN nor a live API key.",
    &["unauthorized"],
)
.shared_as("Unauthorized");

/// `403` to every keyed operation some key may not call.
pub const FORBIDDEN: Answer = Answer::refused(
    403,
    "The key's role does not allow this route (see `x-required-role` on each operation: `viewer` < `editor` < `admin`; `pull` is an editor or a pull key for this destination).",
    &["forbidden"],
)
.shared_as("Forbidden");

/// `500` to every keyed operation.
pub const INTERNAL: Answer = Answer::refused(
    500,
    "An internal error (storage, a binding); details are only logged.",
    &["internal"],
)
.shared_as("Internal");

const ENDPOINT_NOT_FOUND: Answer = Answer::refused(
    404,
    "No live endpoint has this id (deleted endpoints included).",
    &["not_found"],
)
.shared_as("EndpointNotFound");

const ROUTE_NOT_FOUND: Answer = Answer::refused(
    404,
    "No live route has this id (an `ep_` id is its endpoint's first route; deleted routes included)",
    &["not_found"],
)
.shared_as("RouteNotFound");

const EVENT_NOT_FOUND: Answer =
    Answer::refused(404, "No event has this id.", &["not_found"]).shared_as("EventNotFound");

const INGEST_NOT_FOUND: Answer =
    Answer::refused(404, "No ingest has this id.", &["not_found"]).shared_as("IngestNotFound");

const ALERT_CHANNEL_NOT_FOUND: Answer =
    Answer::refused(404, "No alert channel has this id.", &["not_found"])
        .shared_as("AlertChannelNotFound");

/// An `endpoint_id` filter that is not an endpoint id.
const ENDPOINT_FILTER_REFUSED: Answer =
    Answer::refused(400, "`endpoint_id` is not an `ep_` id", &["invalid_query"]);

/// An endpoint's body, created or edited, refused.
const ENDPOINT_REFUSED: Answer = Answer::refused(400, "The body is not JSON of this shape (`invalid_body`, which includes unknown fields), a value is out of range (`invalid_endpoint`), or the destination is refused: a `push` endpoint's URL is not allowed, or a `pull` endpoint has one (`invalid_destination`)", &["invalid_body", "invalid_endpoint", "invalid_destination"]);

/// A route's body, created or edited, refused.
const ROUTE_REFUSED: Answer = Answer::refused(400, "The body is not JSON of this shape (`invalid_body`, which includes unknown fields), a value is out of range (`invalid_endpoint`), the destination is refused (`invalid_destination`), or the filter, `event_types` or transformation is malformed (`invalid_filter`, `invalid_transform`; the message starts with the JSON path of the problem)", &["invalid_body", "invalid_endpoint", "invalid_destination", "invalid_filter", "invalid_transform"]);

const ENDPOINT_ID_PATH: Param =
    Param::shared_id("EndpointIdPath", "an `ep_` id; anything else answers 404");

const ROUTE_ID_PATH: Param = Param::shared_id(
    "RouteIdPath",
    "an `rt_` id, or an endpoint's `ep_` id for its first route; anything else answers 404",
);

const EVENT_ID_PATH: Param =
    Param::shared_id("EventIdPath", "an `evt_` id; anything else answers 404");

const INGEST_ID_PATH: Param =
    Param::shared_id("IngestIdPath", "an `ing_` id; anything else answers 404");

const ALERT_CHANNEL_ID_PATH: Param = Param::shared_id(
    "AlertChannelIdPath",
    "an alert channel's `alc_` id; anything else answers 404",
);

/// An endpoint id in a query.
const EP_ID: ParamSchema = ParamSchema::pattern("^ep_[0-9A-Za-z]{1,64}$");

fn stream_content(_: &mut SchemaGenerator) -> Value {
    json!({ "text/event-stream": { "schema": { "type": "string" } } })
}

fn metrics_content(_: &mut SchemaGenerator) -> Value {
    json!({ "text/plain": { "schema": {
        "type": "string",
        "pattern": "^# HELP hookrelay_events ",
        "description": "`# HELP` and `# TYPE` lines, then one sample per line, for each family"
    } } })
}

fn document_content(_: &mut SchemaGenerator) -> Value {
    json!({ "application/json": { "schema": {
        "type": "object",
        "required": ["openapi", "info", "paths"],
        "properties": {
            "openapi": { "type": "string", "pattern": "^3\\.1\\.\\d+$" },
            "info": { "type": "object" },
            "paths": { "type": "object" }
        }
    } } })
}

fn raw_body_content(_: &mut SchemaGenerator) -> Value {
    json!({ "*/*": { "schema": {} } })
}

/// An ack, or a handshake's reply: JSON, or a challenge as text.
fn ingest_content(generator: &mut SchemaGenerator) -> Value {
    json!({
        "application/json": { "schema": { "oneOf": [
            schema_of::<views::IngestAck>(generator),
            schema_of::<ZoomUrlValidation>(generator),
            schema_of::<DiscordPong>(generator),
        ] } },
        "text/plain": { "schema": { "type": "string" } }
    })
}

fn handshake_content(generator: &mut SchemaGenerator) -> Value {
    json!({
        "application/json": { "schema": schema_of::<OktaVerification>(generator) },
        "text/plain": { "schema": { "type": "string" } }
    })
}

/// Every operation the API documents.
pub const OPERATIONS: &[Operation] = &[
    Operation::get("/api/v1/health", "getHealth", "health", "Conservation counts and whether the sweeper runs")
        .query(&[
            Param::query("endpoint_id", Some("counts for this endpoint only (an unknown id counts nothing)"), EP_ID),
        ])
        .answers(&[
            Answer::json(200, "Health, overall or for one endpoint", schema_of::<views::Health>),
            Answer::refused(400, "`endpoint_id` is not an `ep_` id", &["invalid_endpoint_id"]),
        ]),
    Operation::get("/api/v1/stream", "openStream", "events", "Event status changes as they happen (server-sent events)")
        .described("A `text/event-stream` that stays open: a first comment naming the hub (`: connected live`; the stream of every endpoint has one per shard), then one message per status change of an event, `event: event` with JSON `data` `{\"id\", \"endpoint_id\", \"route_id\", \"status\", \"event_type\", \"attempt\", \"at\"}` (`status`: `received`, `delivering`, `retrying`, `delivered` or `dead`), and a comment (`: keep-alive`) after 15 s without one. Fanned out by a Durable Object per shard that ingest and delivery tell: an open stream costs no D1 query. The stream of every endpoint merges every shard's, whole messages at a time, and ends when any of them does: reconnect. Send the key as a bearer header (a browser reads it with `fetch`, not `EventSource`). Every change is streamed, those made in bulk too: replays of many events, filtered requests a replay routes, leases the sweeper releases, deaths by a route's deletion or the dead-letter queue.")
        .query(&[
            Param::query("endpoint_id", Some("only this endpoint's events"), EP_ID),
        ])
        .answers(&[
            Answer::custom(200, "The stream", stream_content),
            ENDPOINT_FILTER_REFUSED,
        ]),
    Operation::get("/api/v1/metrics", "getMetrics", "metrics", "Prometheus metrics")
        .described("Events by endpoint and status, attempts by outcome class, refusals by reason, dead-letter depth, the oldest in-flight age, pause, circuit and failure-streak gauges per endpoint, and the sweeper's lag (`-1` before its first run).")
        .answers(&[
            Answer::custom(200, "The Prometheus text exposition format, version 0.0.4 (`text/plain; version=0.0.4; charset=utf-8`)", metrics_content),
        ]),
    Operation::get("/api/v1/whoami", "whoami", "keys", "The caller's role")
        .described("Any valid key, pull keys included. The dashboard shows only the actions this role may take; the server enforces them anyway.")
        .answers(&[
            Answer::json(200, "The role, and the key's id and name (`null` for the bootstrap ADMIN_TOKEN)", schema_of::<views::WhoAmI>),
        ]),
    Operation::post("/api/v1/keys", "createKey", "keys", "Create an API key")
        .described("The key (`hrk_…`) is in this answer only; the relay keeps its SHA-256. A `pull` key is scoped to one pull endpoint (`endpoint_id`): it may lease and report that endpoint's events and read its relay secret, nothing else.")
        .body(Body::json(schema_of::<inputs::KeyInput>))
        .answers(&[
            Answer::json(201, "Created; `key` is shown only here", schema_of::<views::CreatedKey>),
            Answer::refused(400, "The body is not JSON of this shape (`invalid_body`), or the name, role or endpoint_id is not valid (`invalid_key`)", &["invalid_body", "invalid_key"]),
            ENDPOINT_NOT_FOUND,
            Answer::refused(409, "A `pull` key for an endpoint that pushes", &["not_a_pull_destination"]),
        ]),
    Operation::get("/api/v1/keys", "listKeys", "keys", "Every live API key, oldest first")
        .answers(&[
            Answer::list(200, "The keys, without the keys themselves", schema_of::<views::KeyView>),
        ]),
    Operation::delete("/api/v1/keys/{id}", "revokeKey", "keys", "Revoke an API key")
        .described("The key stops working at once; it leaves the list.")
        .path_param(Param::path("id", Some("a key's `key_` id"), ParamSchema::ANY_TEXT))
        .answers(&[
            Answer::empty(204, "Revoked"),
            Answer::refused(404, "No live key has this id", &["not_found"]),
        ]),
    Operation::get("/api/v1/stats/timeseries", "getStatsTimeseries", "stats", "Received, delivered and failed per time bucket")
        .described("Every bucket of the window is present, zeros included, oldest first. Buckets start on multiples of `bucket_s` since the unix epoch (UTC hours, 00/06/12/18 UTC, midnights); the last one holds the current time and is still filling. `received` counts events (one per route that accepted a request) by `received_at`, `delivered` attempts that delivered and `failed` attempts whose outcome is not `delivered`, both by `started_at` (an event delivered again after a replay counts at each delivery). The figures come from hourly rollups counted as things happen: compaction and retention do not change them.")
        .query(&[
            Param::query("window", Some("`24h`: 24 hourly buckets; `7d`: 28 buckets of 6 hours; `30d`: 30 daily buckets"), ParamSchema::Type(schema_of::<Window>)),
            Param::query("endpoint_id", Some("this endpoint's figures only (an unknown id counts nothing)"), EP_ID),
        ])
        .answers(&[
            Answer::json(200, "The time series", schema_of::<views::Timeseries>),
            Answer::refused(400, "`window` is not one of `24h`, `7d`, `30d`, or `endpoint_id` is not an `ep_` id", &["invalid_query"]),
        ]),
    Operation::get("/api/v1/stats/endpoints", "getStatsEndpoints", "stats", "Per-endpoint delivery figures")
        .described("One entry per endpoint that is not deleted, oldest first. `attempts`, `success_rate` and `latency_ms` cover the attempts started in the 24 UTC hours ending with the current one, read from the hourly rollups (latency is the attempt's `duration_ms`; a percentile is the upper bound (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 or 30000 ms) of the latency histogram bucket that holds its nearest-rank value, never above the slowest attempt); `failure_streak` is the endpoint's (its first route's) current run of consecutive destination-down failures (5xx, timeout, network error; the circuit breaker's count); `counts` are all-time event counts by status, as in `/api/v1/health`; `requests` the endpoint's requests (`received = routed + filtered`); `routes` each live route (routes are not endpoints and are not listed as such) with its own streak, circuit, pause state and events counted by the route that delivers them. Read in one D1 batch however many routes there are.")
        .query(&[
            Param::query("endpoint_id", Some("this endpoint only (an unknown or deleted id gives an empty list)"), EP_ID),
        ])
        .answers(&[
            Answer::json(200, "The figures of every endpoint, or of the one asked for", schema_of::<views::EndpointStatsList>),
            ENDPOINT_FILTER_REFUSED,
        ]),
    Operation::post("/api/v1/alerts", "createAlertChannel", "alerts", "Add a channel that receives every alert")
        .described("A `slack` channel is a Slack incoming-webhook URL and gets `{\"text\"}`. A `webhook` channel gets JSON signed with Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`) using the channel's `secret`, shown only in this answer. A `pagerduty` channel sends PagerDuty Events API v2 events with its `routing_key` (never shown back) to `url` (PagerDuty's own, `https://events.pagerduty.com/v2/enqueue`, when left out): each condition is one incident (`dedup_key`), and a circuit that closes resolves the incident its opening triggered. Dead letters are reported from the first channel's creation on, not for the whole history.")
        .body(Body::json(schema_of::<inputs::ChannelInput>))
        .answers(&[
            Answer::json(201, "Created", schema_of::<views::CreatedAlertChannel>),
            Answer::refused(400, "The body is not JSON of this shape (`invalid_body`, which includes unknown fields), `kind` is not `slack`, `webhook` or `pagerduty` or its fields do not fit it (`invalid_alert_channel`), or the URL is refused (`invalid_destination`)", &["invalid_body", "invalid_alert_channel", "invalid_destination"]),
        ]),
    Operation::get("/api/v1/alerts", "listAlertChannels", "alerts", "Every alert channel, by id")
        .answers(&[
            Answer::list(200, "The channels, without their secrets", schema_of::<views::AlertChannelView>),
        ]),
    Operation::get("/api/v1/alert-rules", "listAlertRules", "alerts", "Every alert rule with its state, oldest first")
        .query(&[
            Param::query("endpoint_id", Some("one endpoint's rules"), EP_ID),
        ])
        .answers(&[
            Answer::list(200, "The rules", schema_of::<views::AlertRuleView>),
            ENDPOINT_FILTER_REFUSED,
        ]),
    Operation::post("/api/v1/alert-rules", "createAlertRule", "alerts", "Add an alert rule to an endpoint or one of its routes")
        .described("Checked by the sweeper every minute; the rule fires once when its condition starts to hold and resolves once when it stops, to every alert channel (PagerDuty: trigger and resolve with the dedup key `hookrelay/rule/<id>`). At most 100 rules.")
        .body(Body::json(schema_of::<RuleInput>))
        .answers(&[
            Answer::json(201, "The rule", schema_of::<views::AlertRuleView>),
            Answer::refused(400, "The body is not JSON of this shape, the rule is not valid, its endpoint or route does not exist, or there are 100 rules already", &["invalid_body", "invalid_alert_rule"]),
        ]),
    Operation::delete("/api/v1/alert-rules/{id}", "deleteAlertRule", "alerts", "Remove a rule; one that is firing is resolved first")
        .path_param(Param::path("id", Some("an alert rule's `alr_` id; anything else answers 404"), ParamSchema::ANY_TEXT))
        .answers(&[
            Answer::empty(204, "Deleted"),
            Answer::refused(404, "No alert rule has this id.", &["not_found"]),
        ]),
    Operation::delete("/api/v1/alerts/{id}", "deleteAlertChannel", "alerts", "Remove a channel")
        .path_param(ALERT_CHANNEL_ID_PATH)
        .answers(&[
            Answer::empty(204, "Deleted"),
            ALERT_CHANNEL_NOT_FOUND,
        ]),
    Operation::post("/api/v1/alerts/{id}/test", "testAlertChannel", "alerts", "Send a test alert to one channel")
        .described("The alert (`relay.test`) is sent like any other: up to three tries, each with a 5 s timeout. No request body is read.")
        .path_param(ALERT_CHANNEL_ID_PATH)
        .answers(&[
            Answer::json(200, "Whether the channel accepted the alert (answered 2xx)", schema_of::<views::ChannelTested>),
            ALERT_CHANNEL_NOT_FOUND,
        ]),
    Operation::get("/api/v1/providers", "listProviders", "meta", "Every provider the relay verifies")
        .described("The provider registry as data: how each provider signs, the headers verification reads, where its delivery id and event type come from, who chooses its secret, and what an endpoint of it needs. The dashboard's endpoint form and `docs/providers.md` are built from the same list.")
        .answers(&[
            Answer::list(200, "The providers, generic schemes first", schema_of::<ProviderView>),
        ]),
    Operation::get("/api/v1/openapi.json", "getOpenApi", "meta", "This document")
        .described("Behind the bearer token like every `/api/v1` route: it lists nothing secret, but whoever reads it is whoever scripts against the API.")
        .answers(&[
            Answer::custom(200, "The OpenAPI 3.1 document of this API", document_content),
        ]),
    Operation::post("/api/v1/endpoints", "createEndpoint", "endpoints", "Create an endpoint")
        .body(Body { required: true, description: None, schema: BodySchema::Written("EndpointCreate") })
        .answers(&[
            Answer::json(201, "Created", schema_of::<views::Created<views::EndpointView>>),
            ENDPOINT_REFUSED,
        ]),
    Operation::get("/api/v1/endpoints", "listEndpoints", "endpoints", "Every live endpoint, oldest first")
        .answers(&[
            Answer::list(200, "The endpoints", schema_of::<views::EndpointView>),
        ]),
    Operation::get("/api/v1/endpoints/{id}", "getEndpoint", "endpoints", "Read an endpoint")
        .path_param(ENDPOINT_ID_PATH)
        .answers(&[
            Answer::json(200, "The endpoint", schema_of::<views::EndpointDetail>),
            ENDPOINT_NOT_FOUND,
        ]),
    Operation::patch("/api/v1/endpoints/{id}", "updateEndpoint", "endpoints", "Edit any of the create fields")
        .described("An editor may change every field but `secrets`: replacing the provider secrets needs an admin (as `POST /api/v1/endpoints/{id}/secrets/rotate` does), and an editor's request with a `secrets` field (even an empty list) is refused with `403 forbidden` and changes nothing. `secrets: null` or leaving it out keeps the secrets.")
        .path_param(ENDPOINT_ID_PATH)
        .body(Body::json(schema_of::<inputs::EndpointInput>))
        .answers(&[
            Answer::json(200, "The endpoint as saved", schema_of::<views::EndpointView>),
            ENDPOINT_REFUSED,
            Answer::refused(403, "The key's role does not allow this route (`viewer` or `pull`), or a caller other than an admin sent `secrets` (`only an admin may set secrets; use POST /api/v1/endpoints/{id}/secrets/rotate`) or changed what the endpoint accepts (`only an admin may change provider, scheme_config or allowed_cidrs`); nothing is changed", &["forbidden"]),
            ENDPOINT_NOT_FOUND,
        ]),
    Operation::delete("/api/v1/endpoints/{id}", "deleteEndpoint", "endpoints", "Soft-delete; its ingest URL then answers 404")
        .path_param(ENDPOINT_ID_PATH)
        .answers(&[
            Answer::empty(204, "Deleted"),
            ENDPOINT_NOT_FOUND,
        ]),
    Operation::get("/api/v1/endpoints/{id}/secret", "getRelaySecret", "endpoints", "The key that signs deliveries")
        .described("Besides an endpoint's `ep_` id (its first route's secret), the `{id}` may be an extra route's `rt_` id: that route's secret, which a pull key scoped to the route may read.")
        .path_param(ENDPOINT_ID_PATH)
        .answers(&[
            Answer::json(200, "The relay secret", schema_of::<views::RelaySecretView>),
            ENDPOINT_NOT_FOUND,
        ]),
    Operation::post("/api/v1/endpoints/{id}/pause", "pauseEndpoint", "endpoints", "Hold deliveries; ingest keeps accepting")
        .path_param(ENDPOINT_ID_PATH)
        .body(Body { required: false, description: Some("optional; an empty body is `{}`"), schema: BodySchema::Type(schema_of::<inputs::PauseInput>) })
        .answers(&[
            Answer::json(200, "The endpoint, paused (an endpoint already paused keeps its reason)", schema_of::<views::EndpointView>),
            Answer::refused(400, "The body is not JSON of this shape", &["invalid_body"]),
            ENDPOINT_NOT_FOUND,
        ]),
    Operation::post("/api/v1/endpoints/{id}/resume", "resumeEndpoint", "endpoints", "Release held deliveries, oldest first")
        .described("No request body is read.")
        .path_param(ENDPOINT_ID_PATH)
        .answers(&[
            Answer::json(200, "The endpoint, with how many events were re-enqueued", schema_of::<views::Drained<views::EndpointView>>),
            ENDPOINT_NOT_FOUND,
        ]),
    Operation::post("/api/v1/endpoints/{id}/catch-up", "catchUpEndpoint", "endpoints", "Recover from the provider's own record what never arrived")
        .described("Needs the endpoint's `catch_up` configuration. Stripe (`stripe_events`): pages through `GET /v1/events?created[gte]=…` and ingests each event the relay does not hold (dedup on the event's `id`) with the event object as its body, routed and delivered like any webhook and shown with `source: catch_up`. GitHub (`github_redelivery`): lists the hook's deliveries since `since` and asks GitHub to redeliver each failed one whose event was not delivered later and that the relay does not hold; it arrives signed at the ingest URL. One call reads at most 1,000 events or deliveries; sending a failed call again is safe.")
        .path_param(ENDPOINT_ID_PATH)
        .body(Body::json(schema_of::<catch_up::RequestInput>))
        .answers(&[
            Answer::json(200, "What the call read and recovered", schema_of::<CatchUpOutcome>),
            Answer::refused(400, "The body is not JSON of this shape (`invalid_body`, `invalid_catch_up`)", &["invalid_body", "invalid_catch_up"]),
            ENDPOINT_NOT_FOUND,
            Answer::refused(409, "The endpoint has no `catch_up` configuration (`catch_up_not_configured`) or is disabled (`endpoint_disabled`)", &["catch_up_not_configured", "endpoint_disabled"]),
            Answer::refused(502, "The provider's API refused the credential (`catch_up_refused`), answered anything else but a 2xx or an answer that is not its documented shape (`catch_up_failed`), or did not answer within 15 s (`catch_up_unreachable`). The message says how far the call got; what it stored stays stored", &["catch_up_refused", "catch_up_failed", "catch_up_unreachable"]),
        ]),
    Operation::post("/api/v1/endpoints/{id}/secrets/rotate", "rotateEndpointSecret", "endpoints", "Add a provider secret; older ones expire later")
        .described("Without `secret` the relay makes one for `standard`, `hmac`, `api_key`, `gitlab` and `none`; every other provider issues its own.")
        .path_param(ENDPOINT_ID_PATH)
        .body(Body { required: false, description: Some("optional; an empty body is `{}`"), schema: BodySchema::Type(schema_of::<inputs::RotateInput>) })
        .answers(&[
            Answer::json(200, "The endpoint; `secret` when the relay made it", schema_of::<views::Rotated>),
            Answer::refused(400, "The body is not JSON of this shape (`invalid_body`), the provider issues its own secrets and none was given (`secret_required`), or the secret is unfit or too many are live (`invalid_endpoint`)", &["invalid_body", "secret_required", "invalid_endpoint"]),
            ENDPOINT_NOT_FOUND,
            Answer::refused(500, "A storage error, or the stored provider is unknown", &["internal", "misconfigured_endpoint"]),
        ]),
    Operation::get("/api/v1/endpoints/{id}/rejections", "listEndpointRejections", "rejections", "The endpoint's refusals of the last 24 hours")
        .path_param(ENDPOINT_ID_PATH)
        .answers(&[
            Answer::json(200, "The newest 100 refusals, and the counts per reason", schema_of::<views::Rejections>),
            ENDPOINT_NOT_FOUND,
        ]),
    Operation::get("/api/v1/endpoints/{id}/routes", "listRoutes", "routes", "An endpoint's routes, its own first")
        .path_param(ENDPOINT_ID_PATH)
        .answers(&[
            Answer::list(200, "Every live route of the endpoint", schema_of::<views::RouteView>),
            ENDPOINT_NOT_FOUND,
        ]),
    Operation::post("/api/v1/endpoints/{id}/routes", "createRoute", "routes", "Add a route: a destination with its own filter, transformation and delivery controls")
        .path_param(ENDPOINT_ID_PATH)
        .body(Body { required: true, description: None, schema: BodySchema::Written("RouteCreate") })
        .answers(&[
            Answer::json(201, "The route, with its relay secret (shown here and at creation only)", schema_of::<views::Created<views::RouteView>>),
            ROUTE_REFUSED,
            ENDPOINT_NOT_FOUND,
        ]),
    Operation::post("/api/v1/routes/test", "testRoute", "routes", "Try a filter and a transformation on a stored request (an event's, or a filtered ingest's by `ingest_id`) or a sample: does it match, and what would be sent")
        .described("Nothing is stored or sent. The filter sees the request as `request` shows it (a stored event's query string is not kept, so `query` is empty). `sent` leaves out the headers the relay writes on each attempt: its signature headers, `user-agent` and `x-hookrelay-attempt`.")
        .body(Body::json(schema_of::<inputs::RouteTestInput>))
        .answers(&[
            Answer::json(200, "The verdict", schema_of::<views::RouteTested>),
            Answer::refused(400, "The body is not JSON of this shape, names neither or both of `event_id` and `body`, or the filter or transformation is malformed (the message starts with the JSON path)", &["invalid_body", "invalid_filter", "invalid_transform"]),
            Answer::refused(404, "No such event (or its stored request is gone)", &["not_found"]),
        ]),
    Operation::get("/api/v1/routes/{id}", "getRoute", "routes", "Read a route")
        .path_param(ROUTE_ID_PATH)
        .answers(&[
            Answer::json(200, "The route", schema_of::<views::RouteView>),
            ROUTE_NOT_FOUND,
        ]),
    Operation::patch("/api/v1/routes/{id}", "updateRoute", "routes", "Edit any of the route fields; `filter`, `event_types` or `transform` set to null clears it")
        .path_param(ROUTE_ID_PATH)
        .body(Body::json(schema_of::<inputs::RouteInput>))
        .answers(&[
            Answer::json(200, "The route as saved", schema_of::<views::RouteView>),
            ROUTE_REFUSED,
            ROUTE_NOT_FOUND,
        ]),
    Operation::delete("/api/v1/routes/{id}", "deleteRoute", "routes", "Soft-delete an extra route; its undelivered events go dead with the reason")
        .path_param(ROUTE_ID_PATH)
        .answers(&[
            Answer::empty(204, "Deleted"),
            ROUTE_NOT_FOUND,
            Answer::refused(409, "The id is an endpoint's: its first route goes with the endpoint only", &["first_route"]),
        ]),
    Operation::post("/api/v1/routes/{id}/circuit/reset", "resetRouteCircuit", "routes", "Close a route's circuit by hand and drain its waiting events")
        .described("For an operator who knows the destination is back: the circuit closes, its failure streak and probe interval reset, and the route's waiting events are re-enqueued oldest first (none for a paused or pull route). Closing a closed circuit is not an error. No request body is read.")
        .path_param(ROUTE_ID_PATH)
        .answers(&[
            Answer::json(200, "The route, with how many waiting events were re-enqueued", schema_of::<views::Drained<views::RouteView>>),
            ROUTE_NOT_FOUND,
        ]),
    Operation::get("/api/v1/rejections", "getRejectionCounts", "rejections", "Refusals per reason across every endpoint")
        .answers(&[
            Answer::json(200, "Counts, including requests to unknown endpoints", schema_of::<views::RefusalCounts>),
        ]),
    Operation::get("/api/v1/events", "listEvents", "events", "Events, newest first")
        .described("With `endpoint_id`, delivered events compaction moved to the archive are listed too (`stored_in: archive`), merged by id with those in D1, unless `status` asks for another status or `q` looks up ids; without it, the list holds the events in D1.")
        .query(&[
            Param::query("endpoint_id", None, EP_ID),
            Param::query("route_id", Some("the events one route delivers (an endpoint's own id is its first route)"), ParamSchema::pattern("^(ep|rt)_[0-9A-Za-z]{1,64}$")),
            Param::query("status", None, ParamSchema::Type(schema_of::<EventStatus>)),
            Param::query("limit", None, ParamSchema::Integer { min: 1, max: 200, default: 50 }),
            Param::query("cursor", Some("the previous page's `next_cursor`: events older than it (the other filters still apply)"), ParamSchema::pattern("^evt_[0-9A-Za-z]{1,64}$")),
            Param::query("event_type", Some("the provider's event type, exactly (`payment_intent.succeeded`), or with one trailing `*` every type that starts with what precedes it (`payment_intent.*`; a lone `*`: every event that has a type); no control characters"), ParamSchema::Text { min_len: Some(1), max_len: Some(200), pattern: Some("^[^*]*[*]?$") }),
            Param::query("since", Some("events received at or after this time"), ParamSchema::Type(schema_of::<InstantQuery>)),
            Param::query("until", Some("events received before this time (exclusive); must be later than `since`"), ParamSchema::Type(schema_of::<InstantQuery>)),
            Param::query("q", Some("an event id (`evt_…`), or a provider delivery id: the provider's own id (`X-GitHub-Delivery`, Stripe's `evt_…`, `webhook-id`, …) or an event's `dedup_key` as shown (`id:…`, `sha256:…`), or a value at one of the endpoint's `search_fields`; exact matches only"), ParamSchema::Text { min_len: Some(1), max_len: Some(512), pattern: None }),
        ])
        .answers(&[
            Answer::json(200, "A page of events", schema_of::<views::Page<views::EventView>>),
            Answer::refused(400, "A query parameter is invalid (an unknown status, a limit out of range, a malformed id, cursor, event type or time, or `until` not later than `since`)", &["invalid_query"]),
        ]),
    Operation::get("/api/v1/events/{id}", "getEvent", "events", "An event with its stored headers and attempts")
        .path_param(EVENT_ID_PATH)
        .answers(&[
            Answer::json(200, "The event", schema_of::<views::EventDetail>),
            EVENT_NOT_FOUND,
        ]),
    Operation::get("/api/v1/events/{id}/body", "getEventBody", "events", "The stored body, byte for byte")
        .path_param(EVENT_ID_PATH)
        .answers(&[
            Answer::custom(200, "The raw body with its original content type (`application/octet-stream` when it had none)", raw_body_content),
            Answer::refused(404, "No event has this id, or its stored body is gone", &["not_found"]),
        ]),
    Operation::get("/api/v1/ingests", "listIngests", "ingests", "Requests received, newest first, routed or filtered")
        .described("Every request an endpoint accepted (signature checked, stored) is an ingest: `routed` when at least one route accepted it (it then has one event per accepting route, `event_ids`), `filtered` when none did (it has no events; `POST /api/v1/replay` with `\"status\": \"filtered\"` routes it after a filter change). Duplicates are not ingests.")
        .query(&[
            Param::query("endpoint_id", None, EP_ID),
            Param::query("status", None, ParamSchema::Type(schema_of::<IngestStatus>)),
            Param::query("limit", None, ParamSchema::Integer { min: 1, max: 200, default: 50 }),
            Param::query("cursor", Some("the previous page's `next_cursor`: ingests older than it (the other filters still apply)"), ParamSchema::pattern("^ing_[0-9A-Za-z]{1,64}$")),
        ])
        .answers(&[
            Answer::json(200, "A page of ingests", schema_of::<views::Page<views::IngestView>>),
            Answer::refused(400, "A query parameter is invalid (an unknown status, a limit out of range, a malformed endpoint id or cursor)", &["invalid_query"]),
        ]),
    Operation::get("/api/v1/ingests/{id}", "getIngest", "ingests", "An ingest with its stored headers and the ids of its events")
        .path_param(INGEST_ID_PATH)
        .answers(&[
            Answer::json(200, "The ingest", schema_of::<views::IngestDetail>),
            INGEST_NOT_FOUND,
        ]),
    Operation::post("/api/v1/events/{id}/replay", "replayEvent", "events", "Deliver a dead or delivered event again")
        .described("No request body is read. An event compaction moved to the archive is put back into D1 first (with its attempts; numbering continues).")
        .path_param(EVENT_ID_PATH)
        .answers(&[
            Answer::json(202, "Back to `received`; attempt numbering continues", schema_of::<views::Requeued>),
            EVENT_NOT_FOUND,
            Answer::refused(409, "The event is still in flight", &["event_in_flight"]),
        ]),
    Operation::post("/api/v1/replay", "replayDeadEvents", "events", "Replay dead events in bulk, or route filtered ingests after a filter change; oldest first")
        .body(Body::json(schema_of::<inputs::ReplayInput>))
        .answers(&[
            Answer::json(202, "Call again while `remaining` is above zero (for `filtered`, `remaining` also counts ingests no route accepts yet)", schema_of::<views::Replayed>),
            Answer::refused(400, "The body is not JSON of this shape, or `status` is neither `dead` nor `filtered`, or `endpoint_id` is not an `ep_` id (or is missing for `filtered`), or `route_id` is not a route id (or given for `filtered`)", &["invalid_body", "invalid_replay"]),
        ]),
    Operation::post("/api/v1/pull/{endpoint_id}", "leaseEvents", "pull", "Lease the endpoint's due events, oldest first")
        .described("Leasing is the same claim as a push delivery: a leased event is `delivering` until its attempt is reported or the lease expires, and then it is offered again (same `webhook-id`). While nothing is due the call waits up to `wait_s`. A paused endpoint leases nothing.")
        .path_param(Param::path("endpoint_id", Some("the pull destination: an endpoint's `ep_` id (its first route pulls) or the `rt_` id of a route whose `destination_type` is `pull`; anything else answers 404"), ParamSchema::ANY_TEXT))
        .body(Body { required: true, description: Some("a JSON object; `{}` takes the defaults"), schema: BodySchema::Type(schema_of::<inputs::LeaseInput>) })
        .answers(&[
            Answer::list_of_at_most(200, "The leased events (none when nothing was due within `wait_s`). An event that can no longer be sent (its stored body is gone) is dead-lettered instead of leased.", schema_of::<views::LeasedEvent>, 100),
            Answer::refused(400, "The body is not JSON of this shape (`invalid_body`, which includes unknown fields and an empty body), `lease_s` is outside 2..=900 (`invalid_lease`), or `event_types` holds more than 20 patterns, an empty one or one too long (`invalid_event_types`)", &["invalid_body", "invalid_lease", "invalid_event_types"]),
            ENDPOINT_NOT_FOUND,
            Answer::refused(409, "The route pushes to its `destination_url`", &["not_a_pull_destination"]),
        ]),
    Operation::post("/api/v1/events/{id}/attempts", "reportAttempt", "pull", "Report what happened to a leased event")
        .described("The report goes through the endpoint's retry policy like a pushed answer: a `status_code` is classified as one (2xx delivers; 408, 425, 429 and 5xx are retried; 410 pauses the endpoint; any other code is a client error, dead unless `retry_client_errors`); no `status_code` means the local app could not be reached (`timeout` when `error` says it timed out, else `network_error`).")
        .path_param(EVENT_ID_PATH)
        .body(Body::json(schema_of::<inputs::AttemptReport>))
        .answers(&[
            Answer::json(200, "The attempt is recorded; the event's state after it", schema_of::<views::ReportedAttempt>),
            Answer::refused(400, "The body is not JSON of this shape (`invalid_body`, which includes unknown fields)", &["invalid_body"]),
            Answer::refused(404, "No event has this id, or its endpoint is gone", &["not_found"]),
            Answer::refused(409, "The lease is no longer held: it expired (the event is offered again when due) or the event was finished (`lease_lost`); or the endpoint was switched to push since the lease (`not_a_pull_destination`)", &["lease_lost", "not_a_pull_destination"]),
        ]),
    Operation::post("/{endpoint_id}", "ingest", "ingest", "Receive a webhook")
        .described("The provider's own signature authenticates the request (see docs/providers.md); there is no bearer token. `200` only after the body is in R2 and the event in D1. Methods other than GET and POST answer `405 method_not_allowed`.")
        .path_param(Param::path("endpoint_id", Some("the endpoint's `id`: the path is `/ep_…`"), EP_ID))
        .body(Body { required: false, description: Some("the provider's body, stored byte for byte"), schema: BodySchema::Raw })
        .answers(&[
            Answer::custom(200, "Stored (or a duplicate of an event already stored), or a handshake answered: Slack and Twitch get their challenge as text, Zoom its validation, Discord its PONG. Handshakes are never stored.", ingest_content),
            Answer::empty(204, "Discord's webhook-event PING (`type` 0), answered and not stored"),
            Answer::refused(400, "The body could not be read, or a handshake is malformed", &["unreadable_body", "handshake_malformed", "challenge_too_large"]),
            Answer::refused(401, "The provider's signature does not verify", &["signature_missing", "signature_malformed", "signature_mismatch", "timestamp_out_of_tolerance", "scheme_not_configured"]),
            Answer::refused(403, "The endpoint is disabled, or the source address is not on its allowlist", &["endpoint_disabled", "ip_not_allowed"]),
            Answer::refused(404, "No live endpoint has this URL", &["unknown_endpoint"]),
            Answer::refused(413, "The body is larger than MAX_BODY_BYTES", &["payload_too_large"]),
            Answer::refused(500, "The endpoint is misconfigured, or an internal error", &["misconfigured_endpoint", "internal"]),
            Answer::refused(503, "Storage failed; nothing was acknowledged, so the provider's retry is accepted", &["storage_unavailable"]),
        ]),
    Operation::get("/{endpoint_id}", "ingestHandshake", "ingest", "Answer a provider's GET verification")
        .described("Meta (`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`), Okta (`x-okta-verification-challenge`) and Dropbox (`challenge`) check a URL with a GET. Nothing is stored.")
        .path_param(Param::path("endpoint_id", Some("the endpoint's `id`: the path is `/ep_…`"), EP_ID))
        .query(&[
            Param::query("hub.mode", None, ParamSchema::Const("subscribe")),
            Param::query("hub.verify_token", None, ParamSchema::ANY_TEXT),
            Param::query("hub.challenge", None, ParamSchema::Text { min_len: None, max_len: Some(1024), pattern: None }),
            Param::query("challenge", None, ParamSchema::Text { min_len: None, max_len: Some(1024), pattern: None }),
        ])
        .answers(&[
            Answer::custom(200, "Meta's `hub.challenge` and Dropbox's `challenge` as text; Okta's verification as JSON", handshake_content),
            Answer::refused(400, "A malformed handshake", &["handshake_malformed", "challenge_too_large"]),
            Answer::refused(401, "Okta's verification request does not authenticate", &["signature_missing", "signature_malformed", "signature_mismatch", "timestamp_out_of_tolerance", "scheme_not_configured"]),
            Answer::refused(403, "The endpoint is disabled, the source address is not on its allowlist, or (Meta) the verify token is wrong or not set", &["endpoint_disabled", "ip_not_allowed", "verify_token_mismatch", "verify_token_not_configured"]),
            Answer::refused(404, "No live endpoint has this URL", &["unknown_endpoint"]),
            Answer::refused(405, "Not a handshake this endpoint's provider makes", &["method_not_allowed"]),
            Answer::refused(500, "The endpoint is misconfigured, or an internal error", &["misconfigured_endpoint", "internal"]),
            Answer::refused(503, "Storage failed; nothing was acknowledged, so the provider's retry is accepted", &["storage_unavailable"]),
        ]),
];
