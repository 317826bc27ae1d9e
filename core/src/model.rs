//! The relay's vocabulary: typed ids, event status, and the endpoint's stored shape.
//!
//! Pure data, no `worker` types, so it is shared by the edge modules and the native
//! unit tests. Ids are ULIDs behind a prefix: they sort by creation time, which gives
//! "oldest first" and cursor pagination for free.

use crate::catch_up::CatchUp;
use crate::filter::RouteSelector;
use crate::retry::RetryPolicy;
use crate::search::SearchFields;
use crate::transform::Transform;
use crate::verify::{Provider, SchemeConfig};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Builds a prefixed, time-sortable id from a millisecond timestamp and 80 random bits.
pub fn new_id(prefix: &str, now_ms: u64, random: [u8; 10]) -> String {
    let mut r = [0u8; 16];
    r[6..].copy_from_slice(&random);
    let ulid = ulid::Ulid::from_parts(now_ms, u128::from_be_bytes(r));
    format!("{prefix}_{}", ulid.to_string().to_ascii_lowercase())
}

macro_rules! typed_id {
    ($name:ident, $prefix:literal, $what:literal) => {
        /// Ordered as its text, which sorts by the time it was minted.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate(now_ms: u64, random: [u8; 10]) -> Self {
                Self(new_id($prefix, now_ms, random))
            }

            /// Accepts only `<prefix>_<alphanumerics>`, so an id from the URL can be
            /// bound into SQL and used as an R2 key without surprises.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix(concat!($prefix, "_"))?;
                let ok = !rest.is_empty()
                    && rest.len() <= 64
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric());
                ok.then(|| Self(s.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The smallest id minted at `ms` (no id minted earlier sorts
            /// at or after it): a bound for a range of ids by time.
            pub fn first_minted_at(ms: i64) -> Self {
                Self(new_id($prefix, ms.max(0) as u64, [0; 10]))
            }

            /// The id right after this one in sort order (a cursor that
            /// keeps this id on the next page); `None` at the very end.
            pub fn successor(&self) -> Option<Self> {
                let ulid = self.0.strip_prefix(concat!($prefix, "_"))?;
                let n = ulid::Ulid::from_string(&ulid.to_ascii_uppercase()).ok()?.0;
                let next = ulid::Ulid(n.checked_add(1)?);
                Some(Self(format!(
                    "{}_{}",
                    $prefix,
                    next.to_string().to_ascii_lowercase()
                )))
            }

            /// When the id was minted (the ULID's timestamp), unix ms.
            pub fn minted_at_ms(&self) -> Option<i64> {
                let ulid = self.0.strip_prefix(concat!($prefix, "_"))?;
                let ulid = ulid::Ulid::from_string(&ulid.to_ascii_uppercase()).ok()?;
                i64::try_from(ulid.timestamp_ms()).ok()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// An id reads as its text: it binds into SQL, keys R2 and fills
        /// answers as it is.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        /// Sets and maps of ids are looked up by text (a queue message's id).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        /// As minted: the prefix and a lower-case ULID.
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": concat!("^", $prefix, "_[0-9a-z]{26}$"),
                    "description": concat!("`", $prefix, "_` and a lower-case ULID; sorts by ", $what),
                })
            }
        }
    };
}

typed_id!(EndpointId, "ep", "creation time");
typed_id!(EventId, "evt", "receipt time");
typed_id!(IngestId, "ing", "receipt time");
typed_id!(RouteId, "rt", "creation time");
typed_id!(KeyId, "key", "creation time");
typed_id!(AlertChannelId, "alc", "creation time");
typed_id!(AlertRuleId, "alr", "creation time");

/// How many events an ingest's id can number: an event's id is its ingest's
/// with the last 15 bits (three characters) replaced by the event's index.
pub const EVENTS_AN_INGEST_ID_NUMBERS: usize = 1 << INGEST_ID_FREE_BITS;

/// The low bits of a new ingest's id left zero for its events' indexes.
const INGEST_ID_FREE_BITS: u32 = 15;

impl IngestId {
    /// A new ingest's id: time-sortable like any id, with its last 15 bits
    /// zero so that its events' ids can name it ([`EventId::of_ingest`]).
    /// 65 random bits stay for ingests minted in the same millisecond.
    pub fn mint(now_ms: u64, random: [u8; 10]) -> Self {
        let mut random = random;
        random[8] &= 0x80;
        random[9] = 0;
        Self::generate(now_ms, random)
    }
}

impl EventId {
    /// The id of the `index`th event an ingest fans out to: the ingest's id
    /// with `index` in its last 15 bits. The events of an ingest are then a
    /// range of ids, and the store computes an event's ingest from its id
    /// (migration 0022) instead of storing and indexing it. `None` past
    /// [`EVENTS_AN_INGEST_ID_NUMBERS`] or for an id that is not a ULID; such
    /// an event takes a generated id, and the store keeps its ingest's.
    pub fn of_ingest(ingest: &IngestId, index: usize) -> Option<Self> {
        let index = u128::try_from(index)
            .ok()
            .filter(|&i| i < 1 << INGEST_ID_FREE_BITS)?;
        let ulid = ingest
            .as_str()
            .strip_prefix(IngestId::PREFIX)?
            .strip_prefix('_')?;
        let bits = ulid::Ulid::from_string(&ulid.to_ascii_uppercase()).ok()?.0;
        let named = ulid::Ulid((bits >> INGEST_ID_FREE_BITS << INGEST_ID_FREE_BITS) | index);
        Some(Self(format!(
            "{}_{}",
            Self::PREFIX,
            named.to_string().to_ascii_lowercase()
        )))
    }

    /// The ingest this id names, as migration 0022's `ingest_id` computes it
    /// for an event stored without one.
    pub fn named_ingest(&self) -> Option<IngestId> {
        let ulid = self.0.strip_prefix(Self::PREFIX)?.strip_prefix('_')?;
        Some(IngestId(format!(
            "{}_{}000",
            IngestId::PREFIX,
            ulid.get(..23)?
        )))
    }
}

/// A route's id: its endpoint's own (`ep_`, the endpoint's first route) or
/// an extra route's (`rt_`). Routes are rows of one table, so either names
/// a delivery target; the variant says which kind of route it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RouteRef {
    First(EndpointId),
    Extra(RouteId),
}

impl RouteRef {
    /// An `ep_` or `rt_` id; anything else is none.
    pub fn parse(s: &str) -> Option<RouteRef> {
        EndpointId::parse(s)
            .map(RouteRef::First)
            .or_else(|| RouteId::parse(s).map(RouteRef::Extra))
    }

    pub fn as_str(&self) -> &str {
        match self {
            RouteRef::First(id) => id.as_str(),
            RouteRef::Extra(id) => id.as_str(),
        }
    }
}

impl fmt::Display for RouteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As the typed ids: a route's id reads as its text.
impl std::ops::Deref for RouteRef {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl TryFrom<String> for RouteRef {
    type Error = String;

    fn try_from(s: String) -> Result<RouteRef, String> {
        RouteRef::parse(&s).ok_or_else(|| format!("not a route id (ep_ or rt_): {s}"))
    }
}

impl From<RouteRef> for String {
    fn from(id: RouteRef) -> String {
        id.as_str().to_string()
    }
}

impl PartialEq<str> for RouteRef {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<String> for RouteRef {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// Where an event is in its life. `received`, `delivering` and `retrying` are in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "EventStatus")]
pub enum Status {
    Received,
    Delivering,
    Retrying,
    Delivered,
    Dead,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Received,
        Status::Delivering,
        Status::Retrying,
        Status::Delivered,
        Status::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Delivering => "delivering",
            Status::Retrying => "retrying",
            Status::Delivered => "delivered",
            Status::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_in_flight(self) -> bool {
        matches!(
            self,
            Status::Received | Status::Delivering | Status::Retrying
        )
    }
}

/// The error code an ingest request was refused with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    UnknownEndpoint,
    EndpointDisabled,
    IpNotAllowed,
    MethodNotAllowed,
    PayloadTooLarge,
    UnreadableBody,
    SignatureMissing,
    SignatureMalformed,
    SignatureMismatch,
    TimestampOutOfTolerance,
    SchemeNotConfigured,
    HandshakeMalformed,
    ChallengeTooLarge,
    VerifyTokenMismatch,
    VerifyTokenNotConfigured,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 15] = [
        RefusalReason::UnknownEndpoint,
        RefusalReason::EndpointDisabled,
        RefusalReason::IpNotAllowed,
        RefusalReason::MethodNotAllowed,
        RefusalReason::PayloadTooLarge,
        RefusalReason::UnreadableBody,
        RefusalReason::SignatureMissing,
        RefusalReason::SignatureMalformed,
        RefusalReason::SignatureMismatch,
        RefusalReason::TimestampOutOfTolerance,
        RefusalReason::SchemeNotConfigured,
        RefusalReason::HandshakeMalformed,
        RefusalReason::ChallengeTooLarge,
        RefusalReason::VerifyTokenMismatch,
        RefusalReason::VerifyTokenNotConfigured,
    ];

    /// The code, as answered and recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::UnknownEndpoint => "unknown_endpoint",
            RefusalReason::EndpointDisabled => "endpoint_disabled",
            RefusalReason::IpNotAllowed => "ip_not_allowed",
            RefusalReason::MethodNotAllowed => "method_not_allowed",
            RefusalReason::PayloadTooLarge => "payload_too_large",
            RefusalReason::UnreadableBody => "unreadable_body",
            RefusalReason::SignatureMissing => "signature_missing",
            RefusalReason::SignatureMalformed => "signature_malformed",
            RefusalReason::SignatureMismatch => "signature_mismatch",
            RefusalReason::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            RefusalReason::SchemeNotConfigured => "scheme_not_configured",
            RefusalReason::HandshakeMalformed => "handshake_malformed",
            RefusalReason::ChallengeTooLarge => "challenge_too_large",
            RefusalReason::VerifyTokenMismatch => "verify_token_mismatch",
            RefusalReason::VerifyTokenNotConfigured => "verify_token_not_configured",
        }
    }

    pub fn parse(code: &str) -> Option<RefusalReason> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == code)
    }

    /// The status the refusal is answered with.
    pub fn status(self) -> u16 {
        match self {
            RefusalReason::UnknownEndpoint => 404,
            RefusalReason::EndpointDisabled
            | RefusalReason::IpNotAllowed
            | RefusalReason::VerifyTokenMismatch
            | RefusalReason::VerifyTokenNotConfigured => 403,
            RefusalReason::MethodNotAllowed => 405,
            RefusalReason::PayloadTooLarge => 413,
            RefusalReason::UnreadableBody
            | RefusalReason::HandshakeMalformed
            | RefusalReason::ChallengeTooLarge => 400,
            RefusalReason::SignatureMissing
            | RefusalReason::SignatureMalformed
            | RefusalReason::SignatureMismatch
            | RefusalReason::TimestampOutOfTolerance
            | RefusalReason::SchemeNotConfigured => 401,
        }
    }
}

/// What became of an inbound request: `routed` (at least one route accepted it
/// and it has an event per accepting route) or `filtered` (none did; it is kept,
/// without events, until a replay after a filter change routes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IngestStatus {
    Routed,
    Filtered,
}

impl IngestStatus {
    pub const ALL: [IngestStatus; 2] = [IngestStatus::Routed, IngestStatus::Filtered];

    pub fn as_str(self) -> &'static str {
        match self {
            IngestStatus::Routed => "routed",
            IngestStatus::Filtered => "filtered",
        }
    }

    pub fn parse(s: &str) -> Option<IngestStatus> {
        IngestStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// An ingest is `filtered` exactly when no route accepted it.
    pub fn of_routed_events(events: usize) -> IngestStatus {
        if events == 0 {
            IngestStatus::Filtered
        } else {
            IngestStatus::Routed
        }
    }
}

/// How an ingest reached the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestSource {
    /// Sent to the ingest URL (stored as NULL: the common case costs nothing).
    Webhook,
    /// Read from the provider's own record by a catch-up.
    CatchUp,
}

impl IngestSource {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestSource::Webhook => "webhook",
            IngestSource::CatchUp => "catch_up",
        }
    }

    /// The `ingests.source` column.
    pub fn stored(self) -> Option<&'static str> {
        (self != IngestSource::Webhook).then(|| self.as_str())
    }

    /// From the `ingests.source` column.
    pub fn from_stored(column: Option<&str>) -> IngestSource {
        match column {
            Some("catch_up") => IngestSource::CatchUp,
            _ => IngestSource::Webhook,
        }
    }
}

/// The queue message: the event's id and shard, and, from the ack path, a
/// copy of the request's body when it is at most [`CARRIED_BODY_MAX`] bytes,
/// so a first delivery reads nothing from R2. R2 keeps the body all the same
/// (it is what made the ack durable); every other message (the sweeper's, a
/// replay's, a delayed retry's) carries the id only, and its delivery reads R2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryMessage {
    pub event_id: String,
    /// The shard holding the event; absent for the control database's, as in
    /// every message sent before there were shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<CarriedBody>,
}

/// The largest body a delivery message carries. A queue message may be
/// 128 KB and a `sendBatch` 256 KB in all; bodies this small keep a message
/// far below the first (and within one 64 KB unit of Queues' billing), and
/// [`crate::queues::send_batches`] keeps batches below the second.
pub const CARRIED_BODY_MAX: usize = 16 * 1024;

/// A request's body as a delivery message carries it: the bytes (base64 in
/// the message's JSON) and the headers its R2 object keeps in its metadata,
/// if it keeps them there (else the ingest row has them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarriedBody {
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<String>,
}

impl CarriedBody {
    /// The copy a message carries, or `None` for a body too large to carry.
    pub fn of(bytes: &[u8], headers: Option<&str>) -> Option<CarriedBody> {
        (bytes.len() <= CARRIED_BODY_MAX).then(|| CarriedBody {
            bytes: bytes.to_vec(),
            headers: headers.map(str::to_string),
        })
    }
}

/// Bytes as standard base64 text, for JSON.
mod base64_bytes {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

impl DeliveryMessage {
    /// A message naming the event only: its delivery reads the body from R2.
    pub fn new(event_id: &str, shard: &crate::shards::ShardName) -> DeliveryMessage {
        DeliveryMessage {
            event_id: event_id.to_string(),
            shard: (!shard.is_control()).then(|| shard.to_string()),
            body: None,
        }
    }

    /// A message carrying the body as well (when it was small enough to copy).
    pub fn carrying(
        event_id: &str,
        shard: &crate::shards::ShardName,
        body: Option<CarriedBody>,
    ) -> DeliveryMessage {
        DeliveryMessage {
            body,
            ..DeliveryMessage::new(event_id, shard)
        }
    }

    /// About how many bytes the message's JSON takes in a batch.
    pub fn approximate_size(&self) -> usize {
        let carried = self.body.as_ref().map_or(0, |body| {
            body.bytes.len().div_ceil(3) * 4 + body.headers.as_ref().map_or(0, |h| h.len() * 2)
        });
        64 + self.event_id.len() + self.shard.as_ref().map_or(0, String::len) + carried
    }

    /// The shard the event is in; `None` for a name that is no shard's.
    pub fn shard(&self) -> Option<crate::shards::ShardName> {
        match &self.shard {
            None => Some(crate::shards::ShardName::control()),
            Some(name) => crate::shards::ShardName::parse(name),
        }
    }
}

/// A source: the `ep_` URL senders post to, and how its requests are
/// checked and kept. Secrets never leave the Worker through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub id: EndpointId,
    pub name: String,
    /// How its requests are verified; stored and shown by name.
    pub provider: Provider,
    /// Newest first; several are live during a rotation.
    pub secrets: Vec<Secret>,
    /// Settings of the operator-configured schemes (`hmac`, `api_key`).
    pub scheme_config: SchemeConfig,
    /// The token Meta sends in its subscription handshake.
    pub verify_token: Option<String>,
    /// Where in a body the values the events list's `q` finds are (none by
    /// default).
    pub search_fields: SearchFields,
    /// Where the provider's own record of what it sent is read, to recover
    /// what never arrived (Stripe and GitHub); holds a credential, never shown.
    pub catch_up: Option<CatchUp>,
    /// Source CIDRs allowed to post (from `CF-Connecting-IP`); empty allows all.
    pub allowed_cidrs: Vec<String>,
    /// Refuse every request (`endpoint_disabled`).
    pub disabled: bool,
    /// Overrides the `RETENTION_DAYS` var for this endpoint's events.
    pub retention_days: Option<f64>,
}

impl Source {
    /// A source of `provider` with nothing else set yet: no name, secrets,
    /// allowlist, search fields or catch-up; enabled, default retention.
    pub fn new(id: EndpointId, provider: Provider) -> Source {
        Source {
            id,
            name: String::new(),
            provider,
            secrets: Vec::new(),
            scheme_config: SchemeConfig::default(),
            verify_token: None,
            search_fields: SearchFields::default(),
            catch_up: None,
            allowed_cidrs: Vec::new(),
            disabled: false,
            retention_days: None,
        }
    }

    /// The secret values still valid at `now_ms`, newest first.
    pub fn live_secrets(&self, now_ms: i64) -> Vec<String> {
        self.secrets
            .iter()
            .filter(|s| s.is_live(now_ms))
            .map(|s| s.value.clone())
            .collect()
    }
}

/// A route: one delivery target of a source, with its own destination,
/// delivery controls, relay secret, filter and transformation. A source is
/// its own first route (`id` is its `ep_` id); extra routes have `rt_` ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// `ep_` (the source's first route) or `rt_`.
    pub id: RouteRef,
    /// The source the route belongs to.
    pub source_id: EndpointId,
    pub name: String,
    pub relay_secret: String,
    /// Empty for a pull destination.
    pub destination_url: String,
    /// `Push` delivers to `destination_url`; `Pull` waits for a client to lease.
    pub destination_type: DestinationType,
    pub retry: RetryPolicy,
    pub timeout_ms: u32,
    pub circuit: CircuitConfig,
    /// Deliveries per second across every consumer; `None` is unlimited.
    pub rate_limit_per_s: Option<f64>,
    /// Deliver strictly in receipt order; a failing head blocks the rest.
    pub fifo: bool,
    /// Which requests this route accepts (`filter`, `event_types`); `None`: all.
    pub selector: Option<RouteSelector>,
    /// What this route sends instead of the stored request; `None`: as received.
    pub transform: Option<Transform>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Route {
    /// How long a delivery waits for the destination's answer, by default.
    pub const DEFAULT_TIMEOUT_MS: u32 = 15_000;

    /// A route of `source_id` with the default delivery settings (retry
    /// policy, timeout, circuit; no rate limit, filter or transformation), no
    /// name or destination yet, made at `now_ms`.
    pub fn new(
        id: RouteRef,
        source_id: EndpointId,
        relay_secret: String,
        destination_type: DestinationType,
        now_ms: i64,
    ) -> Route {
        Route {
            id,
            source_id,
            name: String::new(),
            relay_secret,
            destination_url: String::new(),
            destination_type,
            retry: RetryPolicy::default(),
            timeout_ms: Route::DEFAULT_TIMEOUT_MS,
            circuit: CircuitConfig::default(),
            rate_limit_per_s: None,
            fifo: false,
            selector: None,
            transform: None,
            created_at: now_ms,
            updated_at: now_ms,
        }
    }

    /// Whether this route is the source itself.
    pub fn is_first(&self) -> bool {
        matches!(&self.id, RouteRef::First(id) if *id == self.source_id)
    }
}

/// An endpoint as the API shows and edits it: a source and its first route,
/// stored as one row (extra routes are rows of their own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub source: Source,
    pub route: Route,
}

impl Endpoint {
    pub fn id(&self) -> &EndpointId {
        &self.source.id
    }
}

/// A source with its live routes, its own first route first: what the ack
/// path reads (in one query) to verify a request and route it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRoutes {
    pub source: Source,
    pub routes: Vec<Route>,
}

impl SourceRoutes {
    /// The endpoint: the source and its first route (`None` if the first
    /// route is missing, which a source's own row rules out).
    pub fn endpoint(&self) -> Option<Endpoint> {
        let route = self.routes.first().filter(|r| r.is_first())?;
        Some(Endpoint {
            source: self.source.clone(),
            route: route.clone(),
        })
    }
}

/// `push`: the relay posts each event to `destination_url`; `pull`: a client
/// (`hookrelay listen`) leases events and reports each attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DestinationType {
    Push,
    Pull,
}

impl DestinationType {
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationType::Push => "push",
            DestinationType::Pull => "pull",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "push" => Some(DestinationType::Push),
            "pull" => Some(DestinationType::Pull),
            _ => None,
        }
    }
}

/// A provider secret. During a rotation the old one gets an expiry and stays
/// valid until then, so in-flight retries signed with it are still accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub value: String,
    pub expires_at: Option<i64>,
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            expires_at: None,
        }
    }

    pub fn is_live(&self, now_ms: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now_ms)
    }
}

/// Adds `new` as the newest secret; every older one still live expires at
/// `expire_old_at` (or keeps an earlier expiry). Secrets already expired are dropped.
pub fn rotate_secrets(
    secrets: &[Secret],
    new: &str,
    expire_old_at: i64,
    now_ms: i64,
) -> Vec<Secret> {
    let mut out = vec![Secret::new(new)];
    out.extend(
        secrets
            .iter()
            .filter(|s| s.is_live(now_ms) && s.value != new)
            .map(|s| Secret {
                value: s.value.clone(),
                expires_at: Some(
                    s.expires_at
                        .map_or(expire_old_at, |at| at.min(expire_old_at)),
                ),
            }),
    );
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CircuitConfig {
    /// Consecutive "destination down" failures that open the circuit.
    pub threshold: u32,
    /// The first probe interval; it doubles after each failed probe up to
    /// [`CircuitConfig::MAX_PROBE_INTERVAL_S`].
    pub probe_interval_s: u32,
}

impl CircuitConfig {
    pub const MAX_PROBE_INTERVAL_S: u32 = 600;
    pub const MAX_THRESHOLD: u32 = 1000;

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=Self::MAX_THRESHOLD).contains(&self.threshold) {
            return Err(format!("circuit.threshold is 1..={}", Self::MAX_THRESHOLD));
        }
        if !(1..=Self::MAX_PROBE_INTERVAL_S).contains(&self.probe_interval_s) {
            return Err(format!(
                "circuit.probe_interval_s is 1..={}",
                Self::MAX_PROBE_INTERVAL_S
            ));
        }
        Ok(())
    }
}

impl Default for CircuitConfig {
    fn default() -> Self {
        Self {
            threshold: 10,
            probe_interval_s: 60,
        }
    }
}

/// An endpoint's live delivery state, always read fresh from D1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointState {
    pub paused: bool,
    pub paused_reason: Option<String>,
    pub paused_at: Option<i64>,
    pub circuit_state: String,
    pub circuit_failures: u32,
    pub circuit_changed_at: Option<i64>,
    pub circuit_next_probe_at: Option<i64>,
    pub circuit_probe_interval_s: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids order by when they were minted, and sets of them are looked up by
    /// text (a queue message carries the id as text).
    #[test]
    fn typed_ids_sort_by_mint_time_and_are_found_by_text() {
        let older = EventId::generate(1_000, [9; 10]);
        let newer = EventId::generate(1_001, [0; 10]);
        assert!(older < newer);
        let held: std::collections::HashSet<EventId> = [older.clone()].into();
        assert!(held.contains(older.as_str()));
        assert!(!held.contains(newer.as_str()));
        assert_eq!(&*older, older.as_str(), "reads as its text");
    }

    #[test]
    fn refusal_reasons_are_named_as_serde_names_them() {
        for reason in RefusalReason::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
            assert_eq!(RefusalReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(RefusalReason::parse("internal"), None);
    }

    /// Verification and handshakes name their refusals themselves; each is
    /// a reason the rejections API lists, answered with the reason's status.
    #[test]
    fn verification_and_handshake_refusals_are_refusal_reasons() {
        use crate::handshake::HandshakeRefusal;
        use crate::verify::VerifyError;
        let verification = [
            VerifyError::MissingHeader("x-signature".into()),
            VerifyError::Malformed("x-signature".into()),
            VerifyError::OutsideTolerance,
            VerifyError::OutsideWindow {
                max_age_s: 300,
                max_ahead_s: 60,
            },
            VerifyError::Unconfigured("hmac"),
            VerifyError::Mismatch,
        ];
        for err in verification {
            let code = err.code();
            let reason = RefusalReason::parse(code).unwrap_or_else(|| panic!("{code}"));
            assert_eq!(reason.status(), 401, "{reason:?}");
        }
        let handshakes = [
            (HandshakeRefusal::Malformed("no challenge"), 400),
            (HandshakeRefusal::ChallengeTooLarge, 400),
            (HandshakeRefusal::VerifyTokenMismatch, 403),
            (HandshakeRefusal::VerifyTokenNotConfigured, 403),
        ];
        for (refusal, status) in handshakes {
            let code = refusal.code();
            let reason = RefusalReason::parse(code).unwrap_or_else(|| panic!("{code}"));
            assert_eq!(reason.status(), refusal.status(), "{reason:?}");
            assert_eq!(refusal.status(), status, "{reason:?}");
        }
        let misconfigured = HandshakeRefusal::NoSecret;
        assert_eq!(misconfigured.status(), 500, "not the sender's fault");
        assert_eq!(RefusalReason::parse(misconfigured.code()), None);
    }

    #[test]
    fn ids_bound_ranges_by_the_time_they_were_minted() {
        let at = 1_700_000_000_123;
        let first = EventId::first_minted_at(at);
        assert_eq!(first.minted_at_ms(), Some(at));
        for random in [[0; 10], [0xff; 10], [0x5a; 10]] {
            let id = EventId::generate(at as u64, random);
            assert_eq!(id.minted_at_ms(), Some(at));
            assert!(
                first.as_str() <= id.as_str(),
                "{id} sorts at or after {first}"
            );
            assert!(EventId::generate(at as u64 - 1, random).as_str() < first.as_str());
        }
        let id = EventId::generate(at as u64, [0x5a; 10]);
        let next = id.successor().unwrap();
        assert!(id.as_str() < next.as_str());
        assert_eq!(EventId::parse(next.as_str()), Some(next.clone()));
        let last_of_its_ms = EventId::generate(at as u64, [0xff; 10]);
        assert_eq!(
            last_of_its_ms.successor(),
            Some(EventId::first_minted_at(at + 1))
        );
        assert_eq!(EventId::parse("evt_nope!"), None);
        assert_eq!(
            EventId::parse("evt_zzzz").and_then(|i| i.minted_at_ms()),
            None
        );
    }

    #[test]
    fn an_ingests_events_are_numbered_in_its_ids_free_bits() {
        let at = 1_700_000_000_123;
        let ingest = IngestId::mint(at, [0xff; 10]);
        assert!(ingest.as_str().ends_with("000"), "{ingest}");
        assert_eq!(
            IngestId::mint(at, [0xff; 10]).minted_at_ms(),
            Some(at as i64)
        );
        let first = EventId::of_ingest(&ingest, 0).unwrap();
        let second = EventId::of_ingest(&ingest, 1).unwrap();
        let last = EventId::of_ingest(&ingest, EVENTS_AN_INGEST_ID_NUMBERS - 1).unwrap();
        assert_eq!(first.as_str()[4..], ingest.as_str()[4..]);
        assert!(first.as_str() < second.as_str() && second.as_str() < last.as_str());
        assert!(last.as_str().ends_with("zzz"), "{last}");
        for id in [&first, &second, &last] {
            assert_eq!(id.named_ingest().as_ref(), Some(&ingest));
            assert_eq!(id.minted_at_ms(), Some(at as i64));
            assert_eq!(EventId::parse(id.as_str()).as_ref(), Some(id));
        }
        assert_eq!(
            EventId::of_ingest(&ingest, EVENTS_AN_INGEST_ID_NUMBERS),
            None
        );
        // An ingest minted before ids named events: its events' ids name another.
        let legacy = IngestId::generate(at, [0x5a; 10]);
        let event = EventId::of_ingest(&legacy, 2).unwrap();
        assert_ne!(event.named_ingest().as_ref(), Some(&legacy));
        assert_eq!(
            EventId::of_ingest(&IngestId::parse("ing_nope").unwrap(), 0),
            None
        );
    }

    #[test]
    fn ingest_statuses_parse_by_name_and_follow_the_routed_events() {
        for st in IngestStatus::ALL {
            assert_eq!(IngestStatus::parse(st.as_str()), Some(st));
        }
        for bad in ["", "Routed", "dead", "filtered "] {
            assert_eq!(IngestStatus::parse(bad), None, "{bad:?}");
        }
        assert_eq!(IngestStatus::of_routed_events(0), IngestStatus::Filtered);
        assert_eq!(IngestStatus::of_routed_events(3), IngestStatus::Routed);
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = EventId::generate(1_000, [0xff; 10]);
        let b = EventId::generate(1_001, [0x00; 10]);
        assert!(a.as_str() < b.as_str());
        assert!(a.as_str().starts_with("evt_"));
        assert_eq!(a.as_str().len(), 4 + 26);
    }

    #[test]
    fn id_parse_rejects_wrong_prefix_and_odd_characters() {
        assert!(EventId::parse("evt_01jabc").is_some());
        assert!(EventId::parse("ep_01jabc").is_none());
        assert!(EventId::parse("evt_").is_none());
        assert!(EventId::parse("evt_../x").is_none());
        assert!(EndpointId::parse("ep_x'; drop").is_none());
        let first = RouteRef::parse("ep_01jabc").expect("an endpoint's own id");
        assert!(matches!(first, RouteRef::First(_)));
        assert_eq!(first.as_str(), "ep_01jabc");
        let extra = RouteRef::parse("rt_01jabc").expect("an extra route's id");
        assert!(matches!(extra, RouteRef::Extra(_)));
        assert_eq!(extra.to_string(), "rt_01jabc");
        assert!(RouteRef::parse("evt_01jabc").is_none());
        assert!(RouteRef::parse("rt_x'").is_none());
        let json = serde_json::to_string(&extra).unwrap();
        assert_eq!(json, "\"rt_01jabc\"");
        assert_eq!(serde_json::from_str::<RouteRef>(&json).unwrap(), extra);
        assert!(serde_json::from_str::<RouteRef>("\"evt_1\"").is_err());
    }

    #[test]
    fn rotation_keeps_old_secrets_live_until_their_expiry() {
        let old = [
            Secret::new("a"),
            Secret {
                value: "b".into(),
                expires_at: Some(500),
            },
        ];
        let rotated = rotate_secrets(&old, "c", 1_000, 100);
        assert_eq!(rotated[0], Secret::new("c"));
        assert_eq!(
            rotated[1],
            Secret {
                value: "a".into(),
                expires_at: Some(1_000)
            }
        );
        assert_eq!(
            rotated[2],
            Secret {
                value: "b".into(),
                expires_at: Some(500)
            },
            "an earlier expiry stays"
        );
        let ep_secrets = |now| rotated.iter().filter(|s| s.is_live(now)).count();
        assert_eq!(
            (ep_secrets(400), ep_secrets(600), ep_secrets(1_000)),
            (3, 2, 1)
        );
        let again = rotate_secrets(&rotated, "d", 2_000, 700);
        assert_eq!(
            again.iter().map(|s| s.value.as_str()).collect::<Vec<_>>(),
            ["d", "c", "a"],
            "expired b dropped"
        );
    }

    #[test]
    fn status_round_trips_and_in_flight_set() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        let in_flight: Vec<_> = Status::ALL
            .into_iter()
            .filter(|s| s.is_in_flight())
            .collect();
        assert_eq!(
            in_flight,
            [Status::Received, Status::Delivering, Status::Retrying]
        );
        assert_eq!(Status::parse("gone"), None);
    }
}
