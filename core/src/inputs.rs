//! What the API reads from request bodies, as types: each is deserialized as
//! it arrives (unknown fields are refused, so a misspelt field is an error,
//! not a silent no-op), then checked by the handler that takes it.
//!
//! Each type also says its JSON Schema (`schemars`, as deserialized): the
//! `openapi/` crate puts them in the API document as request bodies, with the
//! bounds the handlers enforce, so the document refuses what the relay
//! refuses. Doc comments become the schemas' descriptions.

use crate::access::KeyRole;
use crate::alerts::ChannelKind;
use crate::catch_up;
use crate::headers::HeaderList;
use crate::model::{CircuitConfig, DestinationType, EventId, IngestId};
use crate::rate::RateLimit;
use crate::retry::{MAX_ATTEMPTS_LIMIT, MAX_DELAY_S, MAX_SCHEDULE_LEN};
use crate::search::MAX_SEARCH_FIELDS;
use crate::verify::{Provider, SchemeConfig};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The longest API key name, in characters.
pub const MAX_KEY_NAME_CHARS: usize = 100;
/// PagerDuty routing keys are 32 characters; anything printable up to this is taken.
pub const MAX_ROUTING_KEY_CHARS: usize = 128;
/// How long a pull client may hold a leased event, in seconds.
pub const LEASE_RANGE_S: std::ops::RangeInclusive<u32> = 2..=900;

/// A new API key.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KeyCreate")]
pub struct KeyInput {
    /// Trimmed; 1 to 100 characters.
    #[schemars(length(min = 1, max = MAX_KEY_NAME_CHARS))]
    pub name: String,
    #[schemars(with = "KeyRole")]
    pub role: String,
    /// Required for, and only for, a `pull` key: the pull destination it may
    /// lease from, an endpoint's `ep_` id or a pull route's `rt_` id.
    #[schemars(regex(pattern = r"^(ep|rt)_[0-9A-Za-z]{1,64}$"))]
    pub endpoint_id: Option<String>,
}

/// A new alert channel.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "AlertChannelCreate",
    extend("allOf" = [
        {
            "if": { "type": "object", "properties": { "kind": { "enum": ["slack", "webhook"] } } },
            "then": {
                "type": "object",
                "required": ["url"],
                "properties": { "url": { "type": "string" } },
                // A null `routing_key` is one left out.
                "not": {
                    "type": "object",
                    "required": ["routing_key"],
                    "properties": { "routing_key": { "type": "string" } },
                },
            },
        },
        {
            "if": { "type": "object", "properties": { "kind": { "const": "pagerduty" } } },
            "then": {
                "type": "object",
                "required": ["routing_key"],
                "properties": { "routing_key": { "type": "string" } },
            },
        },
    ])
)]
pub struct ChannelInput {
    // Read as a string, so an unknown kind is refused as
    // `invalid_alert_channel` rather than as a body of the wrong shape.
    #[schemars(with = "ChannelKind")]
    pub kind: String,
    /// Required for `slack` and `webhook`; `https`, and not a private address
    /// unless `ALLOW_PRIVATE_DESTINATIONS`. `pagerduty` defaults to
    /// PagerDuty's own.
    #[schemars(extend("format" = "uri"))]
    pub url: Option<String>,
    /// `pagerduty` only, and required there: the integration key of a
    /// PagerDuty service.
    #[schemars(length(min = 1, max = MAX_ROUTING_KEY_CHARS))]
    pub routing_key: Option<String>,
}

/// A secret rotation; an empty body is `{}`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SecretRotation")]
pub struct RotateInput {
    /// The new secret; the relay makes one when none is given (for providers
    /// whose secret the operator chooses).
    #[schemars(length(min = 1))]
    pub secret: Option<String>,
    /// How long the older secrets stay valid.
    #[schemars(extend("default" = 86400))]
    pub expire_previous_in_s: Option<u32>,
}

/// Why deliveries are held; an empty body is `{}`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Pause")]
pub struct PauseInput {
    #[schemars(extend("default" = "paused by an operator"))]
    pub reason: Option<String>,
}

/// A bulk replay.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BulkReplay")]
pub struct ReplayInput {
    #[schemars(regex(pattern = r"^ep_[0-9A-Za-z]{1,64}$"))]
    pub endpoint_id: Option<String>,
    /// Only this route's dead events.
    #[schemars(regex(pattern = r"^(ep|rt)_[0-9A-Za-z]{1,64}$"))]
    pub route_id: Option<String>,
    /// `dead`: replay dead events (of one endpoint or route, or all);
    /// `filtered`: match the endpoint's filtered ingests (`endpoint_id`
    /// required) against its routes as they are now, and route those
    /// accepted.
    #[schemars(extend("enum" = ["dead", "filtered"]))]
    pub status: String,
    /// Clamped to 1..=5000 for `dead` (default 1,000), 1..=100 (default 100)
    /// for `filtered`.
    pub limit: Option<u32>,
}

/// A pull lease; `{}` takes the defaults.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LeaseRequest")]
pub struct LeaseInput {
    /// Events to lease at most; clamped to 1..=100.
    #[schemars(extend("default" = 10))]
    pub max: Option<u32>,
    /// Long-poll this long while nothing is due; at most 25.
    #[schemars(extend("default" = 0))]
    pub wait_s: Option<u32>,
    /// How long the client holds each event before it is offered again
    /// (`PULL_LEASE_S` by default).
    #[schemars(range(min = *LEASE_RANGE_S.start(), max = *LEASE_RANGE_S.end()))]
    pub lease_s: Option<u32>,
    /// Only events whose type matches one of these patterns, where `*` is the
    /// only wildcard (`issues.*`; `?` and `[` are literal); at most 20, each
    /// at most 50 bytes once escaped; empty or null leases every event.
    pub event_types: Option<Vec<String>>,
}

/// A pull client's report of one attempt.
// The command line sends this same type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptReport {
    /// The `lease_token` of the leased event.
    pub lease_token: String,
    /// The local app's HTTP status; null when it gave none.
    pub status_code: Option<u16>,
    /// What went wrong (by default `HTTP {status_code}` for a failing
    /// status); truncated to 1 KB without a status code.
    pub error: Option<String>,
    /// How long the attempt took; counted up to one hour.
    pub duration_ms: u64,
    /// The start of the answer; truncated to 1 KB.
    pub response_snippet: Option<String>,
}

/// A route tried on a request without storing or sending anything: a stored
/// event's request, a stored ingest's (a filtered one has no event), or a
/// sample; exactly one of `event_id`, `ingest_id` and `body`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "RouteTest",
    extend("oneOf" = [
        {
            "required": ["event_id"],
            "not": { "anyOf": [{ "required": ["ingest_id"] }, { "required": ["body"] }] },
        },
        {
            "required": ["ingest_id"],
            "not": { "anyOf": [{ "required": ["event_id"] }, { "required": ["body"] }] },
        },
        {
            "required": ["body"],
            "not": { "anyOf": [{ "required": ["event_id"] }, { "required": ["ingest_id"] }] },
        },
    ])
)]
pub struct RouteTestInput {
    /// The filter to try; null or left out accepts every request.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, Value>>")]
    pub filter: Option<Value>,
    /// Event-type patterns to try.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>", length(max = 100))]
    pub event_types: Option<Value>,
    /// The transformation to try; null or left out sends the request as
    /// received.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, Value>>")]
    pub transform: Option<Value>,
    /// A stored event whose request is tried.
    #[serde(default)]
    #[schemars(with = "EventId")]
    pub event_id: Option<String>,
    /// A stored ingest whose request is tried (a filtered one has no event).
    #[serde(default)]
    #[schemars(with = "IngestId")]
    pub ingest_id: Option<String>,
    /// A sample request body (UTF-8).
    #[serde(default)]
    #[schemars(with = "String")]
    pub body: Option<String>,
    /// The sample's headers, `[[name, value], ...]`.
    #[serde(default)]
    #[schemars(with = "HeaderList")]
    pub headers: Vec<(String, String)>,
    /// The sample's provider, which names its event type; `none` by default.
    #[serde(default)]
    #[schemars(with = "Provider")]
    pub provider: Option<String>,
}

/// A delivery attempt's time limit, in milliseconds.
pub const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u32> = 100..=60_000;
/// The most secrets an endpoint keeps.
pub const MAX_SECRETS: usize = 10;
/// The longest an endpoint may keep its events, in days.
pub const MAX_RETENTION_DAYS: f64 = 3650.0;
/// The longest endpoint or route name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The fields of an endpoint, to create one or edit it. A field left out,
/// or null, keeps its value (`verify_token: ""` clears the token,
/// `rate_limit_per_s: 0` the limit, `retention_days: 0` the endpoint's own
/// retention). The endpoint as edited must still be valid as a whole:
/// switching a `push` endpoint to `pull` also needs `destination_url: ""`,
/// and switching to `push` needs a `destination_url`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "EndpointPatch")]
pub struct EndpointInput {
    /// Trimmed; 1 to 200 characters.
    #[schemars(length(min = 1, max = MAX_NAME_CHARS))]
    pub name: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "provider_or_alias")]
    pub provider: Option<String>,
    /// Write-only; replaces every secret (none expires); admin only: an
    /// editor sending this field gets `403 forbidden` (rotate with `POST
    /// /api/v1/endpoints/{id}/secrets/rotate`, also admin only).
    #[schemars(length(max = MAX_SECRETS), inner(length(min = 1)))]
    pub secrets: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(schema_with = "destination_url")]
    pub destination_url: Option<String>,
    pub retry: Option<RetryInput>,
    /// Per attempt; 15000 when an endpoint is created without it.
    #[schemars(range(min = *TIMEOUT_RANGE_MS.start(), max = *TIMEOUT_RANGE_MS.end()))]
    pub timeout_ms: Option<u32>,
    pub circuit: Option<CircuitInput>,
    /// Deliveries per second; 0 means unlimited.
    #[schemars(range(min = 0.0, max = RateLimit::MAX_PER_SECOND))]
    pub rate_limit_per_s: Option<f64>,
    pub fifo: Option<bool>,
    pub scheme_config: Option<SchemeConfig>,
    /// The token Meta's subscription check must send; an empty string clears
    /// it.
    pub verify_token: Option<String>,
    /// Source CIDRs allowed to post (by `CF-Connecting-IP`); empty allows all.
    pub allowed_cidrs: Option<Vec<String>>,
    /// Refuse every ingest with `403 endpoint_disabled`.
    pub disabled: Option<bool>,
    /// How many days this endpoint's events are kept (fractions allowed); 0
    /// uses the relay's `RETENTION_DAYS`.
    #[schemars(range(min = 0.0, max = MAX_RETENTION_DAYS))]
    pub retention_days: Option<f64>,
    /// `push` (the default) delivers to `destination_url`; a `pull`
    /// endpoint's client leases its events instead.
    #[schemars(with = "Option<DestinationType>")]
    pub destination_type: Option<String>,
    /// Up to 5 dotted paths into the JSON body (`data.object.customer_email`;
    /// a number segment indexes an array); the strings and numbers found
    /// there at receipt (at most 200 characters each) are what the events
    /// list's `q` also matches, exactly. `[]` clears them.
    #[schemars(length(max = MAX_SEARCH_FIELDS), inner(length(min = 1, max = 200)))]
    pub search_fields: Option<Vec<String>>,
    /// Where the provider's own record of what it sent is read by `POST
    /// /api/v1/endpoints/{id}/catch-up`: for `stripe` `{api_key, api_base?}`,
    /// for `github` `{token, repo, hook_id, api_base?}` (no other provider
    /// keeps such a record). Write-only; `null` clears it; admin only: an
    /// editor sending this field gets `403 forbidden`.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "catch_up_input")]
    pub catch_up: Option<Value>,
}

/// A retry policy's fields; those left out (or null) keep their value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryInput {
    /// Delay after each failed attempt; the last one repeats.
    #[schemars(length(max = MAX_SCHEDULE_LEN), inner(range(min = 1, max = MAX_DELAY_S)))]
    pub schedule_s: Option<Vec<u32>>,
    /// Attempts per cycle; by default one more than the schedule.
    #[schemars(range(min = 1, max = MAX_ATTEMPTS_LIMIT))]
    pub max_attempts: Option<u32>,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub jitter: Option<f64>,
    /// The longest a `Retry-After` may make the relay wait.
    #[schemars(range(min = 1, max = MAX_DELAY_S))]
    pub max_delay_s: Option<u32>,
    pub retry_client_errors: Option<bool>,
}

/// A circuit breaker's fields; those left out (or null) keep their value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitInput {
    #[schemars(range(min = 1, max = CircuitConfig::MAX_THRESHOLD))]
    pub threshold: Option<u32>,
    #[schemars(range(min = 1, max = CircuitConfig::MAX_PROBE_INTERVAL_S))]
    pub probe_interval_s: Option<u32>,
}

/// The fields of a route, to create one or edit it. A field left out keeps
/// its value; `filter`, `event_types` and `transform` set to null clear it,
/// the other fields set to null keep theirs.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RoutePatch")]
pub struct RouteInput {
    /// Trimmed; 1 to 200 characters.
    #[schemars(length(min = 1, max = MAX_NAME_CHARS))]
    pub name: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "destination_url")]
    pub destination_url: Option<String>,
    /// `push` (the default) delivers to `destination_url`; a `pull` route's
    /// client leases its events instead.
    #[schemars(with = "Option<DestinationType>")]
    pub destination_type: Option<String>,
    pub retry: Option<RetryInput>,
    /// Per attempt.
    #[schemars(range(min = *TIMEOUT_RANGE_MS.start(), max = *TIMEOUT_RANGE_MS.end()))]
    pub timeout_ms: Option<u32>,
    pub circuit: Option<CircuitInput>,
    /// Deliveries per second; 0 means unlimited.
    #[schemars(range(min = 0.0, max = RateLimit::MAX_PER_SECOND))]
    pub rate_limit_per_s: Option<f64>,
    pub fifo: Option<bool>,
    /// Which requests the route accepts (`body`, `headers`, `query`, `path`
    /// and `$` operators); null or absent: every request.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<BTreeMap<String, Value>>")]
    pub filter: Option<Value>,
    /// The provider's event names the route accepts, `*` as a wildcard
    /// (`payment_intent.*`); with a filter both must match.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<Vec<String>>", length(max = 100))]
    pub event_types: Option<Value>,
    /// What the route sends instead of the stored request (`headers`
    /// set/remove, `body` operations); applied at delivery, signed after.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<BTreeMap<String, Value>>")]
    pub transform: Option<Value>,
}

/// Tells a field given as `null` (`Some(Value::Null)`) from one left out
/// (`None`, through `#[serde(default)]`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A provider by its canonical name or one of its aliases.
fn provider_or_alias(generator: &mut SchemaGenerator) -> Schema {
    let aliases: Vec<&str> = Provider::all()
        .flat_map(|p| p.spec().aliases.iter().copied())
        .collect();
    json_schema!({
        "oneOf": [
            generator.subschema_for::<Provider>(),
            {
                "type": "string",
                "enum": aliases,
                "description": "another name of a provider; stored as the provider's own",
            },
            { "type": "null" },
        ],
    })
}

/// Where a `push` endpoint or route delivers: `https`, and not a private
/// address unless `ALLOW_PRIVATE_DESTINATIONS`; a `pull` one has none (`""`
/// clears it).
fn destination_url(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "string", "format": "uri" },
            { "type": "string", "maxLength": 0 },
            { "type": "null" },
        ],
        "description": "Where a `push` endpoint or route delivers: `https`, and not a private address unless `ALLOW_PRIVATE_DESTINATIONS`; a `pull` one has none (`\"\"` clears it).",
    })
}

fn catch_up_input(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "oneOf": [
            generator.subschema_for::<catch_up::StripeInput>(),
            generator.subschema_for::<catch_up::GitHubInput>(),
            { "type": "null" },
        ],
    })
}
