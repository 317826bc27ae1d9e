//! What the API answers, as types: endpoints, routes, events, ingests, API
//! keys, alerts, replays, pull leases, refusals, health, stats, the ingest
//! ack and every error, and the lists that hold them. Every field a client
//! reads is named here once, built from the stored [`Endpoint`] or [`Route`]
//! and its live state, or from a stored row. A secret can only reach an
//! answer through a field that says so (`relay_secret` when an endpoint or
//! route is created, `secret` when the relay chose a rotated one); the
//! source's own secrets show as their expiries only.
//!
//! Each type also says its JSON Schema (`schemars`): the `openapi/` crate
//! builds the API document's schemas from them, so the document describes
//! what is serialized, under each type's name or the `rename` it gives. Doc
//! comments become the schemas' descriptions, so they speak to the API's
//! reader.

use crate::access::KeyRole;
use crate::alerts::ChannelKind;
use crate::catch_up::{CatchUp, CatchUpView};
use crate::headers::HeaderList;
use crate::model::{
    AlertChannelId, AlertRuleId, DestinationType, Endpoint, EndpointId, EndpointState, EventId,
    IngestId, IngestStatus, KeyId, RefusalReason, Route, RouteRef, Status,
};
use crate::retry::RetryPolicy;
use crate::search::SearchFields;
use crate::time::iso8601;
use crate::verify::{Provider, SchemeConfig};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A list: `{"data": [...]}`.
#[derive(Debug, Serialize)]
pub struct List<T> {
    pub data: Vec<T>,
}

/// One page of a list walked by cursor, newest first.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "{T}List")]
pub struct Page<T: Listed> {
    /// Newest first.
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; set whenever the page is full,
    /// null on the last.
    #[schemars(with = "Option<T::Id>")]
    pub next_cursor: Option<String>,
}

/// What a list walked by cursor holds: the cursor is the last item's id.
pub trait Listed {
    type Id: JsonSchema;
}

impl Listed for EventView {
    type Id = EventId;
}

impl Listed for IngestView {
    type Id = IngestId;
}

/// A replayed event: back to `received`; attempt numbering continues.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Requeued {
    pub id: EventId,
    #[schemars(with = "String", extend("const" = "received"))]
    pub status: Status,
}

/// A bulk replay: how many were replayed, and how many are left.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Replayed {
    pub replayed: usize,
    /// Dead events left (of this endpoint or route, if given), or the
    /// endpoint's ingests still filtered.
    pub remaining: u64,
}

/// The secret that signs what a route delivers.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "RouteSecret")]
pub struct RelaySecretView {
    #[schemars(schema_with = "relay_secret")]
    pub relay_secret: String,
}

/// A test alert: whether the channel accepted it (answered 2xx).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChannelTested {
    pub delivered: bool,
}

/// Refusals per reason across every endpoint, including requests to unknown
/// ones.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Refusals")]
pub struct RefusalCounts {
    #[schemars(schema_with = "refusal_counts")]
    pub counts: BTreeMap<String, i64>,
}

/// One refused request, as recorded.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Rejection")]
pub struct RejectionView {
    /// RFC 3339, UTC, milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub at: String,
    #[schemars(with = "RefusalReason")]
    pub reason: String,
    /// `CF-Connecting-IP`.
    pub source_ip: Option<String>,
    /// Request headers with credential and signature values redacted.
    #[schemars(with = "Option<HeaderList>")]
    pub headers: Value,
    #[schemars(range(min = 0))]
    pub body_size: i64,
}

/// An endpoint's newest 100 refusals, and its counts per reason.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Rejections {
    pub data: Vec<RejectionView>,
    #[schemars(schema_with = "refusal_counts")]
    pub counts: BTreeMap<String, i64>,
}

/// An event leased to a pull client: what a push delivery would have sent,
/// with the lease.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LeasedEvent {
    pub id: EventId,
    pub endpoint_id: EndpointId,
    /// The pull destination it was leased from: the endpoint's own id (its
    /// first route) or an `rt_` route.
    #[schemars(with = "String", regex(pattern = r"^(ep|rt)_[0-9A-Za-z]+$"))]
    pub route_id: RouteRef,
    /// The number this attempt will have; numbering continues across replays.
    #[schemars(range(min = 1))]
    pub attempt: u32,
    /// Pass back in the attempt report; shared by the events of one lease call.
    #[schemars(regex(pattern = r"^[0-9a-f]{32}$"))]
    pub lease_token: String,
    /// After this the event is offered again; RFC 3339, UTC, milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub lease_expires_at: String,
    /// RFC 3339, UTC, milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    /// The provider's event type, as `event_types` filters match it
    /// (`issues.opened`); null when the provider names none.
    pub event_type: Option<String>,
    pub content_type: Option<String>,
    /// The headers a push would send: the stored provider headers that are
    /// forwarded, and the relay's Standard Webhooks signature (`webhook-id`,
    /// `webhook-timestamp`, `webhook-signature`) with the route's relay secret.
    #[schemars(with = "HeaderList")]
    pub headers: Vec<(String, String)>,
    /// The stored body, byte for byte, in standard base64.
    #[schemars(extend("contentEncoding" = "base64"))]
    pub body_base64: String,
}

/// A retry policy as in effect.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Retry")]
pub struct RetryView {
    #[schemars(inner(range(min = 1)))]
    pub schedule_s: Vec<u32>,
    /// Effective attempts per cycle.
    #[schemars(range(min = 1))]
    pub max_attempts: u32,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub jitter: f64,
    #[schemars(range(min = 1))]
    pub max_delay_s: u32,
    pub retry_client_errors: bool,
}

impl From<&RetryPolicy> for RetryView {
    fn from(p: &RetryPolicy) -> RetryView {
        RetryView {
            schedule_s: p.schedule_s.clone(),
            max_attempts: p.attempts_allowed(),
            jitter: p.jitter,
            max_delay_s: p.max_delay_s,
            retry_client_errors: p.retry_client_errors,
        }
    }
}

/// A provider secret as shown: when it expires, never its value.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SecretExpiry")]
pub struct SecretView {
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: Option<String>,
}

/// An endpoint's circuit breaker: its live state and its threshold.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EndpointCircuit {
    #[schemars(extend("enum" = ["closed", "open"]))]
    pub state: String,
    pub consecutive_failures: u32,
    #[schemars(extend("format" = "date-time"))]
    pub changed_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub next_probe_at: Option<String>,
    /// The current interval; doubles after each failed probe.
    #[schemars(range(min = 1))]
    pub probe_interval_s: u32,
    #[schemars(range(min = 1))]
    pub threshold: u32,
}

/// An endpoint as listed, edited, paused: its source and its first route.
/// Provider secrets are never shown.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Endpoint", extend(
    "if" = { "type": "object", "properties": { "destination_type": { "const": "pull" } } },
    "then" = { "type": "object", "properties": { "destination_url": { "const": "" } } },
    "else" = {
        "type": "object",
        "properties": { "destination_url": { "type": "string", "format": "uri" } },
    },
))]
pub struct EndpointView {
    pub id: EndpointId,
    pub name: String,
    pub provider: Provider,
    /// Where deliveries are pushed; empty for a `pull` endpoint.
    pub destination_url: String,
    pub destination_type: DestinationType,
    /// Where the provider posts: `PUBLIC_URL` (or this request's origin) +
    /// `/ep_...`.
    #[schemars(extend("format" = "uri"))]
    pub ingest_url: String,
    pub retry: RetryView,
    pub timeout_ms: u32,
    /// Secrets still valid now.
    pub secrets_count: usize,
    /// Every stored secret, newest first, without its value.
    pub secrets: Vec<SecretView>,
    pub scheme_config: SchemeConfig,
    pub verify_token_set: bool,
    pub allowed_cidrs: Vec<String>,
    /// The body paths whose values the events list's `q` matches.
    #[schemars(with = "Vec<String>")]
    pub search_fields: SearchFields,
    /// The catch-up configuration without its credential.
    pub catch_up: Option<CatchUpView>,
    pub disabled: bool,
    /// How many days this endpoint's events are kept; null uses the relay's
    /// `RETENTION_DAYS`.
    #[schemars(range(max = 3650.0), extend("exclusiveMinimum" = 0))]
    pub retention_days: Option<f64>,
    pub paused: bool,
    pub paused_reason: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub paused_at: Option<String>,
    pub circuit: EndpointCircuit,
    /// Null is unlimited.
    pub rate_limit_per_s: Option<f64>,
    pub fifo: bool,
    /// RFC 3339, UTC, milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    /// RFC 3339, UTC, milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub updated_at: String,
}

impl EndpointView {
    /// The endpoint as shown at `now_ms` (which secrets are still live),
    /// with the URL senders post to.
    pub fn new(ep: &Endpoint, state: &EndpointState, ingest_url: String, now_ms: i64) -> Self {
        let (source, route) = (&ep.source, &ep.route);
        EndpointView {
            id: source.id.clone(),
            name: source.name.clone(),
            provider: source.provider,
            destination_url: route.destination_url.clone(),
            destination_type: route.destination_type,
            ingest_url,
            retry: RetryView::from(&route.retry),
            timeout_ms: route.timeout_ms,
            secrets_count: source.live_secrets(now_ms).len(),
            secrets: source
                .secrets
                .iter()
                .map(|s| SecretView {
                    expires_at: s.expires_at.map(iso8601),
                })
                .collect(),
            scheme_config: source.scheme_config.clone(),
            verify_token_set: source.verify_token.is_some(),
            allowed_cidrs: source.allowed_cidrs.clone(),
            search_fields: source.search_fields.clone(),
            catch_up: source.catch_up.as_ref().map(CatchUp::view),
            disabled: source.disabled,
            retention_days: source.retention_days,
            paused: state.paused,
            paused_reason: state.paused_reason.clone(),
            paused_at: state.paused_at.map(iso8601),
            circuit: EndpointCircuit {
                state: state.circuit_state.clone(),
                consecutive_failures: state.circuit_failures,
                changed_at: state.circuit_changed_at.map(iso8601),
                next_probe_at: state.circuit_next_probe_at.map(iso8601),
                probe_interval_s: state.circuit_probe_interval_s,
                threshold: route.circuit.threshold,
            },
            rate_limit_per_s: route.rate_limit_per_s,
            fifo: route.fifo,
            created_at: iso8601(route.created_at),
            updated_at: iso8601(route.updated_at),
        }
    }
}

/// An endpoint as read by id: a FIFO endpoint also names the event holding
/// its line.
#[derive(Debug, Serialize, JsonSchema)]
// The FIFO condition sits in `allOf`: the flattened endpoint's own
// `if`/`then`/`else` (pull or push) stays beside it.
#[schemars(extend("allOf" = [{
    "if": { "type": "object", "properties": { "fifo": { "const": true } } },
    "then": { "type": "object", "required": ["fifo_blocked_by"] },
    "else": { "not": { "type": "object", "required": ["fifo_blocked_by"] } },
}]))]
pub struct EndpointDetail {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The head of the line when it has failed at least once.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<EventId>")]
    pub fifo_blocked_by: Option<Option<EventId>>,
}

/// What was made, with the relay secret that signs what it delivers (shown
/// here, and by the secret's own route).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Created{T}")]
pub struct Created<T> {
    #[serde(flatten)]
    pub view: T,
    #[schemars(schema_with = "relay_secret")]
    pub relay_secret: String,
}

/// Resumed, or its circuit closed by hand: with how many waiting events were
/// enqueued again.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Drained{T}")]
pub struct Drained<T> {
    #[serde(flatten)]
    pub view: T,
    /// Waiting events re-enqueued now (at most 1,000; the sweeper takes the
    /// rest).
    pub drained: usize,
}

/// The endpoint with its secrets rotated.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "RotatedEndpoint")]
pub struct Rotated {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The secret the relay made; present only when none was given, and
    /// shown only here.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub secret: Option<String>,
}

/// A route's circuit breaker: its live state and its threshold.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RouteCircuit {
    #[schemars(extend("enum" = ["closed", "open"]))]
    pub state: String,
    pub consecutive_failures: u32,
    #[schemars(range(min = 1))]
    pub threshold: u32,
}

/// This route's events: `events = delivered + dead + in_flight`.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct RouteCounts {
    #[schemars(range(min = 0))]
    pub events: i64,
    #[schemars(range(min = 0))]
    pub delivered: i64,
    #[schemars(range(min = 0))]
    pub dead: i64,
    #[schemars(range(min = 0))]
    pub in_flight: i64,
}

/// A route as listed, read, edited.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Route")]
pub struct RouteView {
    #[schemars(with = "String", regex(pattern = r"^(ep|rt)_[0-9A-Za-z]{1,64}$"))]
    pub id: RouteRef,
    pub endpoint_id: EndpointId,
    /// The endpoint itself (its `id` is the endpoint's).
    pub first: bool,
    pub name: String,
    pub destination_url: String,
    pub destination_type: DestinationType,
    #[schemars(with = "Option<BTreeMap<String, Value>>")]
    pub filter: Option<Value>,
    #[schemars(with = "Option<Vec<String>>")]
    pub event_types: Option<Value>,
    #[schemars(with = "Option<BTreeMap<String, Value>>")]
    pub transform: Option<Value>,
    pub retry: RetryView,
    pub timeout_ms: u32,
    pub paused: bool,
    pub paused_reason: Option<String>,
    pub circuit: RouteCircuit,
    /// Null is unlimited.
    pub rate_limit_per_s: Option<f64>,
    pub fifo: bool,
    pub counts: RouteCounts,
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    #[schemars(extend("format" = "date-time"))]
    pub updated_at: String,
}

impl RouteView {
    pub fn new(route: &Route, state: &EndpointState, counts: RouteCounts) -> Self {
        let selector = route.selector.clone().unwrap_or_default();
        RouteView {
            id: route.id.clone(),
            endpoint_id: route.source_id.clone(),
            first: route.is_first(),
            name: route.name.clone(),
            destination_url: route.destination_url.clone(),
            destination_type: route.destination_type,
            filter: selector.filter.map(|f| f.as_json().clone()),
            event_types: selector.event_types.map(Value::from),
            transform: route.transform.as_ref().map(|t| t.as_json().clone()),
            retry: RetryView::from(&route.retry),
            timeout_ms: route.timeout_ms,
            paused: state.paused,
            paused_reason: state.paused_reason.clone(),
            circuit: RouteCircuit {
                state: state.circuit_state.clone(),
                consecutive_failures: state.circuit_failures,
                threshold: route.circuit.threshold,
            },
            rate_limit_per_s: route.rate_limit_per_s,
            fifo: route.fifo,
            counts,
            created_at: iso8601(route.created_at),
            updated_at: iso8601(route.updated_at),
        }
    }
}

/// Where an event the API shows was read from.
/// Where the answer was read from: `d1`, the working set, or `archive`, the R2
/// object compaction moved the event to once it had been delivered for
/// `HOT_WINDOW_S` (72 h by default). Archived events are read by id, with
/// their body, listed by endpoint, and replayed (back into D1 as `received`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoredIn {
    /// The working set: the event is in D1.
    D1,
    /// Compaction moved it (delivered) to an R2 archive object.
    Archive,
}

/// An event as listed: one delivery of a request to one route, with what its
/// ingest says of the request.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Event")]
pub struct EventView {
    pub id: EventId,
    pub endpoint_id: EndpointId,
    /// The route that delivers this event: the endpoint's own id for its
    /// first route, else an `rt_` id.
    #[schemars(with = "String", regex(pattern = r"^(ep|rt)_[0-9A-Za-z]{1,64}$"))]
    pub route_id: RouteRef,
    #[schemars(with = "Status")]
    pub status: String,
    /// Across every replay.
    #[schemars(range(min = 0))]
    pub attempt_count: i64,
    /// RFC 3339, UTC, milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    /// RFC 3339, UTC, milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub updated_at: String,
    /// Null unless in flight.
    #[schemars(extend("format" = "date-time"))]
    pub next_attempt_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub delivered_at: Option<String>,
    pub dead_reason: Option<String>,
    pub last_error: Option<String>,
    pub dedup_key: String,
    pub content_type: Option<String>,
    #[schemars(range(min = 0))]
    pub body_size: i64,
    /// The provider's name for the event (Stripe's `type`, GitHub's
    /// `X-GitHub-Event` and `action`, Shopify's topic, ...); null when it has
    /// none.
    pub event_type: Option<String>,
    /// How the request reached the relay: sent to the ingest URL, or read
    /// from the provider's own record by a catch-up.
    #[schemars(extend("enum" = ["webhook", "catch_up"]))]
    pub source: &'static str,
    pub stored_in: StoredIn,
}

/// One attempt to deliver an event.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Attempt")]
pub struct AttemptView {
    /// Numbering continues across replays.
    #[schemars(range(min = 1))]
    pub number: i64,
    /// RFC 3339, UTC, milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub started_at: String,
    #[schemars(range(min = 0))]
    pub duration_ms: i64,
    /// Null when there was no answer.
    pub status_code: Option<i64>,
    #[schemars(extend("enum" = ["delivered", "rate_limited", "server_error", "client_error",
        "gone", "timeout", "network_error", "transform_error"]))]
    pub outcome: String,
    pub error: Option<String>,
    /// The first 1 KB of the answer.
    pub response_snippet: Option<String>,
}

/// An event with the headers stored at ingest (credential headers are never
/// stored) and every attempt, oldest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EventDetail {
    #[serde(flatten)]
    pub event: EventView,
    pub headers: HeaderList,
    pub attempts: Vec<AttemptView>,
}

/// An ingest as listed: one accepted request and the events it made (none
/// while `filtered`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Ingest")]
pub struct IngestView {
    pub id: IngestId,
    pub endpoint_id: EndpointId,
    #[schemars(with = "IngestStatus")]
    pub status: String,
    /// The provider's name for the event; null when it has none.
    pub event_type: Option<String>,
    pub dedup_key: String,
    /// RFC 3339, UTC, milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    #[schemars(range(min = 0))]
    pub body_size: i64,
    pub content_type: Option<String>,
    /// One event per route that accepted the request, oldest first; empty
    /// while `filtered`.
    #[schemars(with = "Vec<EventId>")]
    pub event_ids: Vec<String>,
}

/// An ingest with the headers stored when it was received (credential
/// headers are never stored).
#[derive(Debug, Serialize, JsonSchema)]
pub struct IngestDetail {
    #[serde(flatten)]
    pub ingest: IngestView,
    pub headers: HeaderList,
}

/// An API key as listed, never its value or hash.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "ApiKey")]
pub struct KeyView {
    pub id: KeyId,
    pub name: String,
    #[schemars(with = "KeyRole")]
    pub role: String,
    /// The destination of a `pull` key (`ep_` or `rt_`).
    #[schemars(with = "Option<String>")]
    pub endpoint_id: Option<RouteRef>,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    #[schemars(extend("format" = "date-time"))]
    pub last_used_at: Option<String>,
}

/// A new API key, with its value: shown only here.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "CreatedApiKey")]
pub struct CreatedKey {
    #[serde(flatten)]
    pub view: KeyView,
    #[schemars(regex(pattern = r"^hrk_[0-9a-f]{64}$"))]
    pub key: String,
}

/// An alert channel as listed; its secret is never shown again.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "AlertChannel")]
pub struct AlertChannelView {
    pub id: AlertChannelId,
    pub kind: ChannelKind,
    #[schemars(extend("format" = "uri"))]
    pub url: String,
    /// RFC 3339, UTC, milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
}

/// The new channel; a `webhook` channel with the secret that signs its alerts.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(extend(
    "if" = { "type": "object", "properties": { "kind": { "const": "webhook" } } },
    "then" = { "type": "object", "required": ["secret"] },
    "else" = { "not": { "type": "object", "required": ["secret"] } },
))]
pub struct CreatedAlertChannel {
    #[serde(flatten)]
    pub channel: AlertChannelView,
    /// A `webhook` channel's signing key (Standard Webhooks), the relay's
    /// own, shown only here; a PagerDuty routing key is the operator's and
    /// never shown back.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", regex(pattern = r"^whsec_[A-Za-z0-9+/]+={0,2}$"))]
    pub secret: Option<String>,
}

/// An alert rule: what it checks, in words too, and its last verdict.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "AlertRule")]
pub struct AlertRuleView {
    pub id: AlertRuleId,
    #[schemars(with = "EndpointId")]
    pub endpoint_id: String,
    pub route_id: Option<String>,
    #[schemars(extend("enum" = ["success_rate", "oldest_in_flight", "dead_letters"]))]
    pub kind: &'static str,
    pub threshold: f64,
    pub window_s: Option<u32>,
    pub min_attempts: Option<u32>,
    /// The rule in words.
    pub description: String,
    #[schemars(extend("enum" = ["ok", "firing"]))]
    pub state: &'static str,
    #[schemars(extend("format" = "date-time"))]
    pub firing_since: Option<String>,
    /// What the last check saw: a percentage, seconds or a count; null
    /// before the first check or without attempts.
    pub last_value: Option<f64>,
    #[schemars(extend("format" = "date-time"))]
    pub checked_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
}

/// Events on record by status: `received = delivered + dead + in_flight`.
#[derive(Debug, Clone, Copy, Default, Serialize, JsonSchema)]
pub struct EventCounts {
    #[schemars(range(min = 0))]
    pub received: i64,
    #[schemars(range(min = 0))]
    pub delivered: i64,
    #[schemars(range(min = 0))]
    pub dead: i64,
    #[schemars(range(min = 0))]
    pub in_flight: i64,
}

/// Requests (ingests) on record by what became of them: `received = routed +
/// filtered`. Duplicates are not counted.
#[derive(Debug, Clone, Copy, Default, Serialize, JsonSchema)]
pub struct RequestCounts {
    #[schemars(range(min = 0))]
    pub received: i64,
    #[schemars(range(min = 0))]
    pub routed: i64,
    #[schemars(range(min = 0))]
    pub filtered: i64,
}

/// Conservation counts, whether the safety net (the sweeper) is running, and
/// the databases' room: summed over the shards (the fullest database's room),
/// and each shard's own in `shards`. With `endpoint_id`, its shard alone.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    pub status: HealthStatus,
    pub sweeper: SweeperHealth,
    pub counts: EventCounts,
    pub requests: RequestCounts,
    /// The `endpoint_id` asked for, as given; null for all.
    #[schemars(with = "Option<String>", regex(pattern = r"^ep_[0-9A-Za-z]{1,64}$"))]
    pub endpoint_id: Option<EndpointId>,
    pub database: DatabaseRoom,
    pub shards: Vec<ShardHealth>,
}

/// One shard's figures in health.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ShardHealth {
    /// The shard's D1 binding (`DB` is the control database).
    pub shard: String,
    pub counts: EventCounts,
    pub requests: RequestCounts,
    pub database: DatabaseRoom,
}

/// `degraded` when the sweeper's heartbeat is missing or older than two
/// `SWEEP_INTERVAL_S`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

/// The sweeper's last heartbeat and the report it wrote then.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SweeperHealth {
    #[schemars(extend("format" = "date-time"))]
    pub last_run_at: Option<String>,
    pub stale: bool,
    /// What the last run did; null before the first run.
    #[schemars(with = "Option<SweepReport>")]
    pub last_report: Option<Value>,
}

/// The D1 database's size as D1 reports it (null where the runtime does not),
/// its cap (`D1_MAX_BYTES`) and the share used; `relay.database_filling`
/// fires at 0.8.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DatabaseRoom {
    pub size_bytes: Option<u64>,
    #[schemars(range(min = 1))]
    pub max_bytes: u64,
    #[schemars(range(min = 0.0))]
    pub used: Option<f64>,
}

impl DatabaseRoom {
    pub fn new(size_bytes: Option<u64>, max_bytes: u64) -> Self {
        DatabaseRoom {
            size_bytes,
            max_bytes,
            used: size_bytes.map(|b| b as f64 / max_bytes.max(1) as f64),
        }
    }
}

/// Received, delivered and failed per bucket over a window, every bucket
/// present, aligned in UTC.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Timeseries {
    #[schemars(with = "crate::stats::Window")]
    pub window: &'static str,
    /// Each bucket's length in seconds.
    #[schemars(extend("enum" = [3600, 21600, 86400]))]
    pub bucket_s: i64,
    /// The first bucket's start.
    #[schemars(extend("format" = "date-time"))]
    pub from: String,
    /// The last bucket's end (exclusive): the buckets cover [from, to).
    #[schemars(extend("format" = "date-time"))]
    pub to: String,
    /// Oldest first: 24 for `24h`, 28 for `7d`, 30 for `30d`.
    #[schemars(length(min = 24, max = 30))]
    pub buckets: Vec<TimeseriesBucket>,
}

/// What happened in one bucket of a time series.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TimeseriesBucket {
    /// The bucket's start.
    #[schemars(extend("format" = "date-time"))]
    pub t: String,
    /// Events received in the bucket.
    pub received: u64,
    /// Events delivered in the bucket.
    pub delivered: u64,
    /// Attempts started in the bucket that did not deliver.
    pub failed: u64,
}

/// Every endpoint's delivery figures.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EndpointStatsList {
    /// What `attempts`, `success_rate` and `latency_ms` cover.
    #[schemars(extend("enum" = ["24h"]))]
    pub window: &'static str,
    /// Oldest endpoint first.
    pub data: Vec<EndpointStats>,
}

/// One endpoint's attempts over the window, its failure streak, its counts,
/// and its routes.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EndpointStats {
    #[schemars(with = "EndpointId")]
    pub endpoint_id: String,
    /// Attempts started in the window.
    pub attempts: u64,
    /// Delivered attempts over attempts in the window; null without attempts.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub success_rate: Option<f64>,
    pub latency_ms: Latency,
    /// Consecutive destination-down failures now (reset by a success).
    #[schemars(range(min = 0))]
    pub failure_streak: i64,
    pub counts: EventCounts,
    pub requests: RequestCounts,
    /// The endpoint's live routes, its first route (the endpoint itself)
    /// first, then oldest first.
    #[schemars(length(min = 1))]
    pub routes: Vec<RouteStats>,
}

/// Attempt durations in the window (nearest rank, the upper bound of their
/// latency bucket); null without attempts.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Latency {
    pub p50: Option<u64>,
    pub p95: Option<u64>,
}

/// One route of an endpoint: its live state and its events (counted by
/// `route_id`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct RouteStats {
    /// The endpoint's own id for its first route, else an `rt_` id.
    #[schemars(with = "String", regex(pattern = r"^(ep|rt)_[0-9a-z]{26}$"))]
    pub route_id: RouteRef,
    pub name: String,
    #[schemars(extend("enum" = ["push", "pull"]))]
    pub destination_type: String,
    /// The destination URL; null for a pull route.
    pub destination: Option<String>,
    /// The route's consecutive destination-down failures now.
    #[schemars(range(min = 0))]
    pub failure_streak: i64,
    #[schemars(extend("enum" = ["closed", "open"]))]
    pub circuit_state: String,
    pub paused: bool,
    pub events: RouteEventCounts,
}

/// A route's events on record by status: `total = delivered + dead + in_flight`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RouteEventCounts {
    #[schemars(range(min = 0))]
    pub total: i64,
    #[schemars(range(min = 0))]
    pub delivered: i64,
    #[schemars(range(min = 0))]
    pub dead: i64,
    #[schemars(range(min = 0))]
    pub in_flight: i64,
}

/// The caller: its role, and the key's id and name (null for the bootstrap
/// `ADMIN_TOKEN`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct WhoAmI<'a> {
    #[schemars(with = "KeyRole")]
    pub role: &'static str,
    #[schemars(with = "Option<KeyId>")]
    pub key_id: Option<&'a str>,
    pub name: Option<&'a str>,
    /// The endpoint a `pull` key leases from.
    pub endpoint_id: Option<&'a str>,
}

/// The route tester's verdict: does the filter match, and what would be sent.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RouteTested<'a> {
    pub matches: bool,
    pub event_type: Option<&'a str>,
    /// The document the filter was matched against.
    #[schemars(with = "BTreeMap<String, Value>")]
    pub request: &'a Value,
    /// Null when the filter does not match or the transformation fails.
    pub sent: Option<Sent>,
    /// Why the transformation cannot send this request; null when it can, or
    /// when the filter does not match.
    pub transform_error: Option<String>,
}

/// What a route would send: the payload, with the stored headers delivery
/// passes on (the relay's own headers are made per attempt and left out).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Sent {
    #[schemars(with = "HeaderList")]
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// Null when the body is not UTF-8.
    pub body: Option<String>,
    pub body_base64: String,
}

/// The event after the reported attempt.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(extend(
    "if" = { "type": "object", "properties": { "status": { "const": "retrying" } } },
    "then" = { "type": "object", "properties": { "next_attempt_at": { "type": "string" } } },
    "else" = { "type": "object", "properties": { "next_attempt_at": { "type": "null" } } },
))]
pub struct ReportedAttempt {
    pub id: EventId,
    /// `delivered`, `retrying` (leased again when due) or `dead`.
    #[schemars(with = "Status")]
    pub status: String,
    /// The number the reported attempt got.
    #[schemars(range(min = 1))]
    pub attempt: u32,
    /// When the event is due again; null unless `retrying`.
    #[schemars(extend("format" = "date-time"))]
    pub next_attempt_at: Option<String>,
}

/// The answer to a provider once its request is durable (the body in R2, the
/// request and its events in D1).
#[derive(Debug, Serialize, JsonSchema)]
pub struct IngestAck<'a> {
    /// The first new event (one per route that accepted the request; null
    /// when none did), or for a duplicate the original's first (null if it no
    /// longer exists).
    #[schemars(with = "Option<EventId>")]
    pub id: Option<&'a str>,
    pub duplicate: bool,
    /// New requests only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "IngestStatus")]
    pub status: Option<IngestStatus>,
    /// New requests only: one event per accepting route, the first route's
    /// first.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<EventId>")]
    pub events: Option<&'a [EventId]>,
}

impl<'a> IngestAck<'a> {
    /// A new request: its events, none when every route filtered it out.
    pub fn stored(events: &'a [EventId]) -> Self {
        IngestAck {
            id: events.first().map(EventId::as_str),
            duplicate: false,
            status: Some(IngestStatus::of_routed_events(events.len())),
            events: Some(events),
        }
    }

    /// A request whose dedup key another request holds.
    pub fn duplicate(original_event_id: Option<&'a str>) -> Self {
        IngestAck {
            id: original_event_id,
            duplicate: true,
            status: None,
            events: None,
        }
    }
}

/// Every error answer: a status code and this body.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

/// What went wrong.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDetail<'a> {
    /// Machine-readable, stable.
    pub code: &'a str,
    /// For people; may change.
    pub message: &'a str,
}

/// What the sweeper's last run did (the heartbeat health shows): the sums
/// over the shards, and each shard's own run in `shards`.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct SweepReport {
    /// Summed over the shards (the fullest database's size, not a sum); a
    /// shard whose sweep failed as a whole counts one error.
    #[serde(flatten)]
    pub sum: SweepCounts,
    /// Alerts raised (each sent to every channel).
    pub alerts: usize,
    /// Each shard's run, the control database first.
    pub shards: Vec<ShardSweep>,
}

/// What the sweeper's run did in one shard.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct ShardSweep {
    /// The shard's D1 binding (`DB` is the control database).
    pub shard: String,
    /// The shard's sweep failed as a whole (its figures are then empty and
    /// `errors` is 1); a step that failed alone only counts in `errors`.
    pub failed: bool,
    #[serde(flatten)]
    pub run: SweepCounts,
}

/// The figures of a sweep, in one shard or summed over them.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct SweepCounts {
    pub due: usize,
    /// Events whose deliverer's lease had expired, returned to
    /// `received`/`retrying`.
    pub leases_released: usize,
    pub delivered_directly: usize,
    pub not_claimed: usize,
    pub enqueued: usize,
    pub probes: usize,
    pub errors: usize,
    /// Null when the compaction step failed (in a shard, for the sum;
    /// counted in `errors`).
    pub compaction: Option<CompactionReport>,
    /// Null when the retention step failed (in a shard, for the sum;
    /// counted in `errors`).
    pub retention: Option<RetentionReport>,
    /// Due events were left when the run's time budget (`SWEEP_BUDGET_S`)
    /// ran out; the next run goes on.
    pub backlog_left: bool,
    /// The D1 database's size after the run, as D1 reports it (for the sum,
    /// the fullest: the one nearest its cap).
    pub d1_size_bytes: Option<u64>,
}

impl SweepReport {
    /// Adds one shard's run (named `shard`) to the sums and to `shards`.
    pub fn add_shard(&mut self, shard: String, run: SweepCounts) {
        self.add(ShardSweep {
            shard,
            failed: false,
            run,
        });
    }

    /// Adds a shard whose sweep failed as a whole: one error, and no
    /// compaction or retention figures in the sums.
    pub fn add_failed_shard(&mut self, shard: String) {
        let run = SweepCounts {
            errors: 1,
            ..SweepCounts::default()
        };
        self.add(ShardSweep {
            shard,
            failed: true,
            run,
        });
    }

    fn add(&mut self, shard: ShardSweep) {
        let first = self.shards.is_empty();
        self.sum.add(&shard.run, first);
        self.shards.push(shard);
    }

    /// Whether compaction reported being behind in any shard (the sum is
    /// null once it failed in one).
    pub fn compaction_behind(&self) -> bool {
        self.shards
            .iter()
            .any(|s| s.run.compaction.as_ref().is_some_and(|c| c.behind))
    }

    /// Whether retention reported being behind in any shard.
    pub fn retention_behind(&self) -> bool {
        self.shards
            .iter()
            .any(|s| s.run.retention.as_ref().is_some_and(|r| r.behind))
    }
}

impl SweepCounts {
    /// Adds `run` to these sums; `first` when these are still empty.
    fn add(&mut self, run: &SweepCounts, first: bool) {
        self.due += run.due;
        self.leases_released += run.leases_released;
        self.delivered_directly += run.delivered_directly;
        self.not_claimed += run.not_claimed;
        self.enqueued += run.enqueued;
        self.probes += run.probes;
        self.errors += run.errors;
        self.backlog_left |= run.backlog_left;
        self.compaction = summed(first, self.compaction.take(), run.compaction.as_ref());
        self.retention = summed(first, self.retention.take(), run.retention.as_ref());
        self.d1_size_bytes = match (self.d1_size_bytes, run.d1_size_bytes) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// A report that adds up over shards: none once a shard's step failed.
trait Summable: Sized {
    fn add(self, other: &Self) -> Self;
}

fn summed<T: Summable + Default>(first: bool, sum: Option<T>, run: Option<&T>) -> Option<T> {
    let sum = if first { Some(T::default()) } else { sum };
    Some(sum?.add(run?))
}

impl Summable for CompactionReport {
    fn add(self, other: &Self) -> Self {
        CompactionReport {
            events_compacted: self.events_compacted + other.events_compacted,
            objects_written: self.objects_written + other.objects_written,
            objects_failed: self.objects_failed + other.objects_failed,
            behind: self.behind || other.behind,
        }
    }
}

impl Summable for RetentionReport {
    fn add(self, other: &Self) -> Self {
        RetentionReport {
            events_deleted: self.events_deleted + other.events_deleted,
            bodies_deleted: self.bodies_deleted + other.bodies_deleted,
            orphans_deleted: self.orphans_deleted + other.orphans_deleted,
            archives_deleted: self.archives_deleted + other.archives_deleted,
            behind: self.behind || other.behind,
        }
    }
}

/// What one run's compaction did.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct CompactionReport {
    /// Delivered events moved from D1 into R2 archive objects
    /// (`HOT_WINDOW_S` after their delivery).
    pub events_compacted: usize,
    /// Archive objects written.
    pub objects_written: usize,
    /// Archive objects whose write failed; their events stay in D1 for the
    /// next run.
    pub objects_failed: usize,
    /// Compactable events were left when the run's time budget ran out.
    pub behind: bool,
}

/// What one run's retention did.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct RetentionReport {
    /// Finished events removed with their attempts.
    pub events_deleted: usize,
    /// Bodies of expired events and of expired archive objects' events
    /// removed from R2.
    pub bodies_deleted: usize,
    /// Recent R2 bodies no ingest refers to, removed.
    pub orphans_deleted: usize,
    /// Archive objects past their endpoint's retention removed, with their
    /// bodies.
    pub archives_deleted: usize,
    /// Expired rows or archive objects were left when the run's time budget
    /// ran out.
    pub behind: bool,
}

/// A relay secret: the Standard Webhooks key the relay signs deliveries with.
fn relay_secret(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": "^whsec_[A-Za-z0-9+/]+={0,2}$",
        "description": "Standard Webhooks key that signs every delivery (`webhook-signature`)",
    })
}

/// Counts per refusal reason: only reasons seen, each at least once.
fn refusal_counts(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "description": "refusals per reason, since the relay began counting",
        "propertyNames": generator.subschema_for::<RefusalReason>(),
        "additionalProperties": { "type": "integer", "minimum": 1 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Secret, Source};

    #[test]
    fn a_sweep_report_sums_its_shards_and_keeps_each() {
        let shard = |due, compacted: Option<usize>, size| SweepCounts {
            due,
            compaction: compacted.map(|n| CompactionReport {
                events_compacted: n,
                ..Default::default()
            }),
            retention: Some(RetentionReport::default()),
            d1_size_bytes: size,
            ..Default::default()
        };
        let mut report = SweepReport::default();
        report.add_shard("DB".into(), shard(2, Some(5), Some(4096)));
        report.add_shard("DB_SHARD_1".into(), shard(3, Some(7), Some(8192)));
        assert_eq!(report.sum.due, 5);
        assert_eq!(
            report.sum.compaction.as_ref().map(|c| c.events_compacted),
            Some(12)
        );
        assert_eq!(report.sum.d1_size_bytes, Some(8192), "the fullest database");
        let names: Vec<&str> = report.shards.iter().map(|s| s.shard.as_str()).collect();
        assert_eq!(names, ["DB", "DB_SHARD_1"]);
        // A step that failed in one shard is null in the sums, kept in the others.
        report.add_shard("DB_SHARD_2".into(), shard(0, None, None));
        assert!(report.sum.compaction.is_none());
        assert!(report.sum.retention.is_some());
        assert_eq!(
            report.shards[1]
                .run
                .compaction
                .as_ref()
                .map(|c| c.events_compacted),
            Some(7)
        );
        assert_eq!(report.sum.d1_size_bytes, Some(8192));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["due"], 5, "the sums are at the top level");
        assert_eq!(
            json["shards"][1]["due"], 3,
            "and each shard's figures in its entry"
        );
        assert_eq!(json["shards"][1]["shard"], "DB_SHARD_1");
    }

    #[test]
    fn a_shard_whose_sweep_failed_is_listed_and_a_step_behind_anywhere_is_seen() {
        let behind = SweepCounts {
            compaction: Some(CompactionReport {
                behind: true,
                ..Default::default()
            }),
            retention: Some(RetentionReport::default()),
            ..Default::default()
        };
        let mut report = SweepReport::default();
        report.add_failed_shard("DB".into());
        report.add_shard("DB_SHARD_1".into(), behind);
        assert_eq!(report.sum.errors, 1);
        assert!(report.shards[0].failed && !report.shards[1].failed);
        assert!(
            report.sum.compaction.is_none(),
            "a failed shard has no sums"
        );
        assert!(
            report.compaction_behind(),
            "yet compaction is behind in a shard"
        );
        assert!(!report.retention_behind());
    }

    fn endpoint() -> Endpoint {
        let id = EndpointId::parse("ep_01jabc").unwrap();
        let mut source = Source::new(id.clone(), Provider::parse("github").unwrap());
        source.name = "shop".into();
        source.secrets = vec![
            Secret::new("whsec-live-value"),
            Secret {
                value: "whsec-old-value".into(),
                expires_at: Some(1_000),
            },
        ];
        source.verify_token = Some("meta-token-value".into());
        let mut route = Route::new(
            RouteRef::First(id.clone()),
            id,
            "relay-secret-value".into(),
            DestinationType::Push,
            0,
        );
        route.name = "shop".into();
        route.destination_url = "https://example.com/hook".into();
        Endpoint { source, route }
    }

    fn state() -> EndpointState {
        EndpointState {
            paused: false,
            paused_reason: None,
            paused_at: None,
            circuit_state: "closed".into(),
            circuit_failures: 0,
            circuit_changed_at: None,
            circuit_next_probe_at: None,
            circuit_probe_interval_s: 30,
        }
    }

    #[test]
    fn an_endpoint_shows_its_secrets_as_expiries_and_no_secret_value() {
        let ep = endpoint();
        let view = EndpointView::new(&ep, &state(), "https://relay/ep_01jabc".into(), 2_000);
        let json = serde_json::to_string(&view).unwrap();
        for secret in [
            "whsec-live-value",
            "whsec-old-value",
            "meta-token-value",
            "relay-secret-value",
        ] {
            assert!(!json.contains(secret), "{secret} leaked into {json}");
        }
        let value = serde_json::to_value(&view).unwrap();
        assert_eq!(value["secrets_count"], 1, "the old secret expired at 1,000");
        assert_eq!(
            value["secrets"][1]["expires_at"],
            "1970-01-01T00:00:01.000Z"
        );
        assert_eq!(value["verify_token_set"], true);
        assert_eq!(value["provider"], "github");
        assert_eq!(value["destination_type"], "push");
    }

    #[test]
    fn extras_sit_beside_the_view_and_only_when_given() {
        let ep = endpoint();
        let shown = |fifo_blocked_by| {
            serde_json::to_value(EndpointDetail {
                endpoint: EndpointView::new(&ep, &state(), String::new(), 0),
                fifo_blocked_by,
            })
            .unwrap()
        };
        assert!(shown(None).get("fifo_blocked_by").is_none());
        assert_eq!(shown(Some(None))["fifo_blocked_by"], Value::Null);
        let created = Created {
            view: RouteView::new(
                &ep.route,
                &state(),
                RouteCounts {
                    events: 3,
                    delivered: 2,
                    dead: 1,
                    in_flight: 0,
                },
            ),
            relay_secret: ep.route.relay_secret.clone(),
        };
        let value = serde_json::to_value(&created).unwrap();
        assert_eq!(value["relay_secret"], "relay-secret-value");
        assert_eq!(value["id"], "ep_01jabc");
        assert_eq!(value["first"], true);
        assert_eq!(value["counts"]["events"], 3);
    }
}
