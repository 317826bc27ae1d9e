//! What the API reads from request bodies, as types: each is deserialized as
//! it arrives (unknown fields are refused, so a misspelt field is an error,
//! not a silent no-op), then checked by the handler that takes it.
//!
//! Each type also says its JSON Schema (`schemars`, as deserialized): the
//! `openapi/` crate puts them in the API document as request bodies, with the
//! bounds the handlers enforce, so the document refuses what the relay
//! refuses. Doc comments become the schemas' descriptions.

use crate::model::{EventId, IngestId};
use crate::verify::Provider;
use crate::views::written::{alert_channel_kind, header_pairs, key_role};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The longest API key name, in characters.
pub const MAX_KEY_NAME_CHARS: u32 = 100;
/// PagerDuty routing keys are 32 characters; anything printable up to this is taken.
pub const MAX_ROUTING_KEY_CHARS: u32 = 128;
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
    #[schemars(schema_with = "key_role")]
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
                "not": { "type": "object", "required": ["routing_key"] },
            },
        },
        {
            "if": { "type": "object", "properties": { "kind": { "const": "pagerduty" } } },
            "then": { "type": "object", "required": ["routing_key"] },
        },
    ])
)]
pub struct ChannelInput {
    #[schemars(schema_with = "alert_channel_kind")]
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
#[derive(Debug, Deserialize, JsonSchema)]
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
    #[schemars(schema_with = "header_pairs")]
    pub headers: Vec<(String, String)>,
    /// The sample's provider, which names its event type; `none` by default.
    #[serde(default)]
    #[schemars(with = "Provider")]
    pub provider: Option<String>,
}
