//! What the API answers for endpoints, routes, events, ingests, API keys,
//! alerts, replays and pull leases, and the lists that hold them, as types: every field a client reads is named here once, built
//! from the stored [`Endpoint`] or [`Route`] and its live state, or from a
//! stored row. A secret can only reach an answer through a
//! field that says so (`relay_secret` when an endpoint or route is created,
//! `secret` when the relay chose a rotated one); the source's own secrets
//! show as their expiries only.

use crate::catch_up::CatchUp;
use crate::headers::HeaderList;
use crate::model::{
    DestinationType, Endpoint, EndpointId, EndpointState, EventId, Route, RouteRef, Status,
};
use crate::retry::RetryPolicy;
use crate::search::SearchFields;
use crate::time::iso8601;
use crate::verify::{Provider, SchemeConfig};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A list: `{"data": [...]}`.
#[derive(Debug, Serialize)]
pub struct List<T> {
    pub data: Vec<T>,
}

/// One page of a list walked by cursor: `next_cursor` is `null` on the last.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `202` to a replay of one event: it is waiting for delivery again.
#[derive(Debug, Serialize)]
pub struct Requeued {
    pub id: String,
    pub status: Status,
}

/// `202` to a bulk replay: how many were replayed, and how many are left.
#[derive(Debug, Serialize)]
pub struct Replayed {
    pub replayed: usize,
    pub remaining: u64,
}

/// `RelaySecret`: the secret that signs what a route delivers.
#[derive(Debug, Serialize)]
pub struct RelaySecretView {
    pub relay_secret: String,
}

/// A test alert: whether the channel accepted it.
#[derive(Debug, Serialize)]
pub struct ChannelTested {
    pub delivered: bool,
}

/// `RefusalCounts`: refusals per reason.
#[derive(Debug, Serialize)]
pub struct RefusalCounts {
    pub counts: BTreeMap<String, i64>,
}

/// `Rejection`: one refused request, as recorded (its headers redacted).
#[derive(Debug, Serialize)]
pub struct RejectionView {
    pub at: String,
    pub reason: String,
    pub source_ip: Option<String>,
    pub headers: Value,
    pub body_size: i64,
}

/// An endpoint's recent refusals and its counts per reason.
#[derive(Debug, Serialize)]
pub struct Rejections {
    pub data: Vec<RejectionView>,
    pub counts: BTreeMap<String, i64>,
}

/// `LeasedEvent`: an event a pull client holds until `lease_expires_at`,
/// with the request as the route would send it.
#[derive(Debug, Serialize)]
pub struct LeasedEvent {
    pub id: String,
    pub endpoint_id: String,
    pub route_id: RouteRef,
    pub attempt: u32,
    pub lease_token: String,
    pub lease_expires_at: String,
    pub received_at: String,
    pub event_type: Option<String>,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body_base64: String,
}

/// A retry policy as the API shows it (`max_attempts` resolved).
#[derive(Debug, Serialize)]
pub struct RetryView {
    pub schedule_s: Vec<u32>,
    pub max_attempts: u32,
    pub jitter: f64,
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
#[derive(Debug, Serialize)]
pub struct SecretView {
    pub expires_at: Option<String>,
}

/// An endpoint's circuit: its live state and its threshold.
#[derive(Debug, Serialize)]
pub struct EndpointCircuit {
    pub state: String,
    pub consecutive_failures: u32,
    pub changed_at: Option<String>,
    pub next_probe_at: Option<String>,
    pub probe_interval_s: u32,
    pub threshold: u32,
}

/// `Endpoint` in the API document: the source and its first route.
#[derive(Debug, Serialize)]
pub struct EndpointView {
    pub id: EndpointId,
    pub name: String,
    pub provider: Provider,
    pub destination_url: String,
    pub destination_type: DestinationType,
    pub ingest_url: String,
    pub retry: RetryView,
    pub timeout_ms: u32,
    pub secrets_count: usize,
    pub secrets: Vec<SecretView>,
    pub scheme_config: SchemeConfig,
    pub verify_token_set: bool,
    pub allowed_cidrs: Vec<String>,
    pub search_fields: SearchFields,
    /// The configuration without its credential ([`CatchUp::view`]).
    pub catch_up: Option<Value>,
    pub disabled: bool,
    pub retention_days: Option<f64>,
    pub paused: bool,
    pub paused_reason: Option<String>,
    pub paused_at: Option<String>,
    pub circuit: EndpointCircuit,
    pub rate_limit_per_s: Option<f64>,
    pub fifo: bool,
    pub created_at: String,
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

/// `EndpointDetail`: one endpoint, and for a FIFO one the event holding its
/// line back (`null` when none is).
#[derive(Debug, Serialize)]
pub struct EndpointDetail {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fifo_blocked_by: Option<Option<String>>,
}

/// `CreatedEndpoint` and `CreatedRoute`: what was made, with the relay secret
/// that signs what it delivers (shown here, and by the secret's own route).
#[derive(Debug, Serialize)]
pub struct Created<T> {
    #[serde(flatten)]
    pub view: T,
    pub relay_secret: String,
}

/// `ResumedEndpoint`, and a route whose circuit was closed by hand: how many
/// waiting events were enqueued again.
#[derive(Debug, Serialize)]
pub struct Drained<T> {
    #[serde(flatten)]
    pub view: T,
    pub drained: usize,
}

/// `RotatedEndpoint`: the endpoint, and the new secret when the relay chose it.
#[derive(Debug, Serialize)]
pub struct Rotated {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A route's circuit: its live state and its threshold.
#[derive(Debug, Serialize)]
pub struct RouteCircuit {
    pub state: String,
    pub consecutive_failures: u32,
    pub threshold: u32,
}

/// A route's events: `events = delivered + dead + in_flight`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RouteCounts {
    pub events: i64,
    pub delivered: i64,
    pub dead: i64,
    pub in_flight: i64,
}

/// `Route` in the API document.
#[derive(Debug, Serialize)]
pub struct RouteView {
    pub id: RouteRef,
    pub endpoint_id: EndpointId,
    pub first: bool,
    pub name: String,
    pub destination_url: String,
    pub destination_type: DestinationType,
    pub filter: Option<Value>,
    pub event_types: Option<Value>,
    pub transform: Option<Value>,
    pub retry: RetryView,
    pub timeout_ms: u32,
    pub paused: bool,
    pub paused_reason: Option<String>,
    pub circuit: RouteCircuit,
    pub rate_limit_per_s: Option<f64>,
    pub fifo: bool,
    pub counts: RouteCounts,
    pub created_at: String,
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredIn {
    /// The working set: the event is in D1.
    D1,
    /// Compaction moved it (delivered) to an R2 archive object.
    Archive,
}

/// `Event` in the API document: one delivery of a request to one route, with
/// what its ingest says of the request.
#[derive(Debug, Serialize)]
pub struct EventView {
    pub id: String,
    pub endpoint_id: String,
    pub route_id: String,
    pub status: String,
    pub attempt_count: i64,
    pub received_at: String,
    pub updated_at: String,
    /// While the event is in flight only.
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub dead_reason: Option<String>,
    pub last_error: Option<String>,
    pub dedup_key: String,
    pub content_type: Option<String>,
    pub body_size: i64,
    pub event_type: Option<String>,
    /// `webhook`, or `catch_up` when a catch-up read it from the provider.
    pub source: &'static str,
    pub stored_in: StoredIn,
}

/// One attempt as `EventDetail` lists it.
#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub number: i64,
    pub started_at: String,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub outcome: String,
    pub error: Option<String>,
    pub response_snippet: Option<String>,
}

/// `EventDetail`: the event with its request's stored headers (credential
/// headers were never stored) and its attempts, oldest first.
#[derive(Debug, Serialize)]
pub struct EventDetail {
    #[serde(flatten)]
    pub event: EventView,
    pub headers: HeaderList,
    pub attempts: Vec<AttemptView>,
}

/// `Ingest` in the API document: one accepted request and the events it made
/// (none while `filtered`).
#[derive(Debug, Serialize)]
pub struct IngestView {
    pub id: String,
    pub endpoint_id: String,
    pub status: String,
    pub event_type: Option<String>,
    pub dedup_key: String,
    pub received_at: String,
    pub body_size: i64,
    pub content_type: Option<String>,
    pub event_ids: Vec<String>,
}

/// `IngestDetail`: the ingest with its stored headers.
#[derive(Debug, Serialize)]
pub struct IngestDetail {
    #[serde(flatten)]
    pub ingest: IngestView,
    pub headers: HeaderList,
}

/// `ApiKey` in the API document: a key as listed, never its value or hash.
#[derive(Debug, Serialize)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub role: String,
    /// A pull key's one destination (`ep_` or `rt_`).
    pub endpoint_id: Option<String>,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// `CreatedApiKey`: the key, and its value, shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub view: KeyView,
    pub key: String,
}

/// `AlertChannel` in the API document.
#[derive(Debug, Serialize)]
pub struct AlertChannelView {
    pub id: String,
    pub kind: String,
    pub url: String,
    pub created_at: String,
    /// A webhook channel's signing secret, the relay's own, when the channel is
    /// created only; a PagerDuty routing key is the operator's and never shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `AlertRule` in the API document: the rule, what it checks in words, and
/// its last verdict.
#[derive(Debug, Serialize)]
pub struct AlertRuleView {
    pub id: String,
    pub endpoint_id: String,
    pub route_id: Option<String>,
    pub kind: &'static str,
    pub threshold: f64,
    pub window_s: Option<u32>,
    pub min_attempts: Option<u32>,
    pub description: String,
    /// `firing` or `ok`.
    pub state: &'static str,
    pub firing_since: Option<String>,
    pub last_value: Option<f64>,
    pub checked_at: Option<String>,
    pub created_at: String,
}

// The answers below carry their JSON Schema (`schemars`): the `openapi/`
// crate puts them in the API document under their type's name, or the
// `rename` given. Doc comments become the schema's descriptions, so they
// speak to the API's reader.

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
/// the database's room.
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
    #[schemars(schema_with = "sweep_report_or_null")]
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
    #[schemars(schema_with = "stats_window")]
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
    #[schemars(regex(pattern = r"^(ep|rt)_[0-9a-z]{26}$"))]
    pub route_id: String,
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
    #[schemars(schema_with = "key_role")]
    pub role: &'static str,
    #[schemars(regex(pattern = r"^key_[0-9a-z]+$"))]
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
    #[schemars(schema_with = "header_pairs")]
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// Null when the body is not UTF-8.
    pub body: Option<String>,
    pub body_base64: String,
}

/// The event after the reported attempt.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(extend(
    "if" = { "properties": { "status": { "const": "retrying" } } },
    "then" = { "properties": { "next_attempt_at": { "type": "string" } } },
    "else" = { "properties": { "next_attempt_at": { "type": "null" } } },
))]
pub struct ReportedAttempt {
    #[schemars(with = "EventId")]
    pub id: String,
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

/// `routed`: at least one route accepted the request; `filtered`: none did
/// (the request is kept, and a replay after a filter change can route it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IngestStatus {
    Routed,
    Filtered,
}

impl<'a> IngestAck<'a> {
    /// A new request: its events, none when every route filtered it out.
    pub fn stored(events: &'a [EventId]) -> Self {
        IngestAck {
            id: events.first().map(EventId::as_str),
            duplicate: false,
            status: Some(if events.is_empty() {
                IngestStatus::Filtered
            } else {
                IngestStatus::Routed
            }),
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

/// Schemas of the API document that no type carries yet, by reference.
mod written {
    use schemars::{json_schema, Schema, SchemaGenerator};

    fn reference(name: &str) -> Schema {
        json_schema!({ "$ref": format!("#/components/schemas/{name}") })
    }

    pub fn sweep_report_or_null(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "oneOf": [reference("SweepReport"), { "type": "null" }] })
    }

    pub fn stats_window(_: &mut SchemaGenerator) -> Schema {
        reference("StatsWindow")
    }

    pub fn key_role(_: &mut SchemaGenerator) -> Schema {
        reference("KeyRole")
    }

    pub fn header_pairs(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "array", "items": reference("HeaderPair") })
    }
}
use written::{header_pairs, key_role, stats_window, sweep_report_or_null};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Secret, Source};

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
