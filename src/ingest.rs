//! The ack path: `/ep_<id>`. Every sequential storage round trip here is latency
//! the provider waits for, so the common path has two (or three on an
//! endpoint-cache miss):
//!
//! 1. endpoint config with its routes (in-isolate cache, one D1 read on a miss);
//! 2. source allowlist and signature check, CPU only, over the raw bytes; the
//!    routes' filters, CPU only, over the request parsed once;
//! 3. R2 put of the body under a key unique to this request;
//! 4. one D1 batch: insert-first dedup + ingest + one event per accepting route
//!    (none: the ingest is kept as `filtered`);
//! 5. answer 2xx; `queue.send`, and telling the live stream (see
//!    [`crate::hub`]), run after the answer inside `wait_until`, together
//!    with the other acks under way in the isolate ([`crate::after_ack`]).
//!
//! No 2xx before 3 and 4 succeeded. A failed 3 leaves nothing; a failed 4 rolls
//! back and leaves only an orphan body, so the provider's retry is accepted as new.
//! A failed `queue.send` is logged: the sweeper delivers the event anyway.
//!
//! Each answer carries `Server-Timing` with the storage round trips it waited
//! for (`placement` and `endpoint` each only on a cache miss, `r2`, `d1`),
//! which the benchmark counts.
//!
//! Handshakes (Slack, Zoom, Twitch, Discord after the signature check; Meta, Okta,
//! Dropbox on GET) are answered here and never stored. Every refusal (4xx) is
//! counted after the answer, and logged with signature values redacted; a flood
//! of refusals costs a bounded number of writes (see [`crate::store::rejections`]).
//! After the answer, at most once a minute per isolate, the ack path looks at
//! the sweeper's heartbeat (a dead cron cannot report itself), and a `503`
//! raises `relay.ingest_failing` (see [`crate::watch`]).
//!
//! # Memory
//! An isolate has 128 MB, shared by the requests it serves at once. The ack path
//! holds, per request, about the body's bytes once plus a small parse:
//! - the body: a declared `Content-Length` over `MAX_BODY_BYTES` is refused
//!   before reading; one within it is read whole (HTTP framing holds the body
//!   to it), the runtime's copy and ours briefly side by side; a chunked body
//!   is read as a stream into one buffer that never grows past the limit, and
//!   refused with 413 as soon as the bytes read pass it, without reading on
//!   (while the buffer grows, the old and the new one briefly coexist);
//! - the body's head ([`crate::dedup::body_head`]): the few top-level strings
//!   the dedup id and the event type come from, and the parser's scratch (at
//!   most the longest string); the rest of the body is checked and dropped as it
//!   is read. Hashing and signature checks stream over the bytes (Discord's
//!   Ed25519 check copies the body once more);
//! - while the R2 put runs, the runtime's own copy of the bytes it uploads.
//!
//! The body becomes a `serde_json::Value` (several times its size) only when a
//! route's filter looks into `body`; a body that is an array or a string, or
//! one no filter reads, is never built.

use crate::after_ack;
use crate::allowlist;
use crate::dedup::{body_head, dedup_key_for};
use crate::error::{json_response, ApiError};
use crate::filter;
use crate::handshake::{self, EndpointHandshake, HandshakeReply, HandshakeRequest};
use crate::headers::HeaderList;
use crate::ledger::Path;
use crate::live::Change;
use crate::model::{
    CarriedBody, DeliveryMessage, DestinationType, EndpointId, EventId, IngestId, IngestSource,
    RefusalReason, Route, Source, SourceRoutes,
};
use crate::redact::redacted_headers;
use crate::relay::{now_ms, random_bytes, Relay};
use crate::settings::Fault;
use crate::shards::{self, ShardName};
use crate::store::bodies::{self, RequestBody};
use crate::store::endpoint_cache;
use crate::store::ingests::{self, NewIngest, Recorded, RoutedEvent};
use crate::store::rejections::{self, Admit, Refusal};
use crate::store::Db;
use crate::verify::{self, Provider, SignedRequest};
use crate::views::IngestAck;
use crate::watch;
use futures::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;
use worker::{console_error, console_log, Context, Delay, Headers, Method, Request, Response, Url};

/// What is known about a request by the time it is refused.
#[derive(Default)]
struct Seen {
    endpoint_id: Option<String>,
    body_size: usize,
}

/// When the request arrived, and the storage round trips the answer waited for
/// (as `Server-Timing` entries).
struct Timings {
    started: i64,
    steps: Vec<(&'static str, i64)>,
}

impl Timings {
    fn new(started: i64) -> Self {
        Self {
            started,
            steps: Vec::new(),
        }
    }

    fn record(&mut self, step: &'static str, since_ms: i64) {
        self.steps.push((step, now_ms() - since_ms));
    }

    fn header(&self) -> String {
        let entries: Vec<String> = self
            .steps
            .iter()
            .map(|(n, d)| format!("{n};dur={d}"))
            .collect();
        entries.join(", ")
    }
}

pub async fn handle(
    relay: &Relay,
    ctx: &Context,
    req: Request,
    raw_endpoint_id: &str,
) -> Result<Response, ApiError> {
    let headers = HeaderList::new(req.headers().entries());
    let mut seen = Seen::default();
    let mut timings = Timings::new(now_ms());
    let result = match in_endpoint_shard(relay, raw_endpoint_id, &mut timings).await {
        Ok(relay) => {
            accept(
                &relay,
                ctx,
                req,
                raw_endpoint_id,
                &headers,
                &mut seen,
                timings,
            )
            .await
        }
        Err(err) => Err(err),
    };
    if let Err(err) = &result {
        if (400..500).contains(&err.status) {
            record_refusal(relay, ctx, &seen, &headers, err.code);
        }
        if err.status == 503 {
            schedule_failure_alert(relay, ctx, raw_endpoint_id, &err.message);
        }
    }
    schedule_sweeper_check(relay, ctx);
    result
}

/// The invocation, working in the shard the endpoint was placed on (a cache
/// hit costs no round trip). An id that is not an endpoint's stays in the
/// control database, where it is refused as unknown.
async fn in_endpoint_shard(
    relay: &Relay,
    raw_endpoint_id: &str,
    timings: &mut Timings,
) -> Result<Relay, ApiError> {
    let Some(id) = EndpointId::parse(raw_endpoint_id) else {
        return Ok(relay.on(&ShardName::control())?);
    };
    let asked = now_ms();
    let (relay, cached) = relay.placed(id.as_str()).await.map_err(|err| {
        log_failure("endpoint_lookup", &id, &err);
        ApiError::unavailable("the endpoint could not be loaded")
    })?;
    if !cached {
        timings.record("placement", asked);
    }
    Ok(relay)
}

/// A dead cron cannot report itself: once a minute per isolate, after the
/// answer, the ack path looks at the sweeper's heartbeat (one D1 read), so a
/// stale sweeper is noticed as long as webhooks arrive.
fn schedule_sweeper_check(relay: &Relay, ctx: &Context) {
    if !watch::take_sweeper_check_turn(now_ms()) {
        return;
    }
    let env = relay.env.clone();
    ctx.wait_until(async move {
        match Relay::new(env, Path::Ingest) {
            Ok(relay) => watch::check_sweeper(&relay).await,
            Err(err) => console_error!(
                "{}",
                json!({"msg": "sweeper check failed", "error": err.to_string()})
            ),
        }
    });
}

/// A `503` means the provider retries and, if storage stays down, gives up:
/// raise `relay.ingest_failing` after the answer (at most one try a minute
/// per isolate, once per cooldown overall).
fn schedule_failure_alert(relay: &Relay, ctx: &Context, endpoint_id: &str, reason: &str) {
    if !watch::take_ingest_failure_turn(now_ms()) {
        return;
    }
    let env = relay.env.clone();
    let (endpoint_id, reason) = (endpoint_id.to_string(), reason.to_string());
    ctx.wait_until(async move {
        match Relay::new(env, Path::Ingest) {
            Ok(relay) => watch::report_ingest_failure(&relay, &endpoint_id, &reason).await,
            Err(err) => console_error!(
                "{}",
                json!({"msg": "ingest failure alert not sent", "error": err.to_string()})
            ),
        }
    });
}

/// Checks, verifies and stores a request to the endpoint `raw_endpoint_id`,
/// in the endpoint's shard (`relay`); `timings` began when it arrived.
async fn accept(
    relay: &Relay,
    ctx: &Context,
    mut req: Request,
    raw_endpoint_id: &str,
    headers: &HeaderList,
    seen: &mut Seen,
    mut timings: Timings,
) -> Result<Response, ApiError> {
    let started = timings.started;
    let found = load_endpoint(relay, raw_endpoint_id, now_ms(), &mut timings).await?;
    let (source, routes) = (&found.source, &found.routes);
    seen.endpoint_id = Some(source.id.to_string());
    if source.disabled {
        return Err(ApiError::refused(
            RefusalReason::EndpointDisabled,
            "this endpoint is disabled",
        ));
    }
    check_source(source, headers)?;
    let method = req.method();
    if !matches!(method, Method::Post | Method::Get) {
        return Err(method_not_allowed());
    }
    let body = match method {
        Method::Post => read_body(&mut req, relay.settings.max_body_bytes).await?,
        _ => Vec::new(),
    };
    seen.body_size = body.len();
    let url = req.url()?;
    let provider = source.provider;
    let secrets = source.live_secrets(started);
    let signed_url = signed_url(relay, &url);
    let signed = SignedRequest {
        headers,
        body: &body,
        now_s: started / 1000,
        url: &signed_url,
        method: method.as_ref(),
    };
    let handshake_query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let handshake_req = HandshakeRequest {
        method: method.as_ref(),
        query: &handshake_query,
        headers,
        body: &body,
    };
    if method == Method::Get {
        // Okta authenticates its verification GET like its events; Meta and
        // Dropbox handshakes carry no signature.
        if provider
            .spec()
            .handshake
            .is_some_and(|h| h.is_authenticated())
        {
            verify_signature(source, provider, &secrets, &signed)?;
        }
        return match answer_handshake(source, provider, &secrets, &handshake_req)? {
            Some(reply) => handshake_response(reply),
            None => Err(method_not_allowed()),
        };
    }
    verify_signature(source, provider, &secrets, &signed)?;
    if let Some(reply) = answer_handshake(source, provider, &secrets, &handshake_req)? {
        return handshake_response(reply);
    }
    let head = body_head(&body);
    let facts = ingest_facts(source, headers, &body, head.as_ref());
    let body_for_filters = || filter_body(routes, &body, head);
    let accepting = select_routes(
        routes,
        provider,
        headers,
        body_for_filters,
        &handshake_query,
        url.path(),
    );
    let arrival = Arrival {
        source,
        accepting,
        facts,
        headers,
        body,
        origin: IngestSource::Webhook,
    };
    store_and_ack(relay, ctx, arrival, timings).await
}

/// What the ack path reads from a request: see [`IngestFacts`]. `head` is
/// the body's head ([`body_head`]), `None` when the body is not JSON.
fn ingest_facts(
    source: &Source,
    headers: &HeaderList,
    body: &[u8],
    head: Option<&Value>,
) -> IngestFacts {
    let provider = source.provider;
    IngestFacts {
        provider,
        dedup_key: dedup_key_for(provider, &source.scheme_config, headers, body, head),
        event_type: filter::event_type(provider, headers, head),
        search_values: search_values(source, body, head.is_some()),
    }
}

/// What the ack path reads from the request: its dedup key and event type
/// (from the body's head), and its search values (from the whole body, only
/// for an endpoint with search fields).
struct IngestFacts {
    provider: Provider,
    dedup_key: String,
    event_type: Option<String>,
    /// The values at the endpoint's search fields.
    search_values: Vec<String>,
}

/// The values at the endpoint's search fields. The body is parsed whole only
/// for an endpoint that names search fields, and only when it is JSON.
fn search_values(source: &Source, body: &[u8], is_json: bool) -> Vec<String> {
    if source.search_fields.is_empty() || !is_json {
        return Vec::new();
    }
    serde_json::from_slice::<Value>(body)
        .map(|json| source.search_fields.values(&json))
        .unwrap_or_default()
}

/// The routes whose filter accepts the request, first route first. The filters'
/// view of the request is built once, and only when a route has a filter or
/// event types; `body` gives the body as they need it (see [`filter_body`]).
fn select_routes<'a>(
    routes: &'a [Route],
    provider: Provider,
    headers: &HeaderList,
    body: impl FnOnce() -> Option<Value>,
    query: &[(String, String)],
    path: &str,
) -> Vec<&'a Route> {
    let mut body = Some(body);
    let mut input = None;
    routes
        .iter()
        .filter(|route| match &route.selector {
            None => true,
            Some(selector) => selector.accepts(input.get_or_insert_with(|| {
                let json = body.take().and_then(|read| read());
                filter::FilterInput::from_json(json, headers, query, path, provider)
            })),
        })
        .collect()
}

/// The body as the routes' filters see it: the whole parsed body when a filter
/// looks into `body`, else its head (`None` when it is not JSON). The head
/// serves everything else a selector reads: `event_types` take the same
/// top-level fields as [`filter::event_type`], and a filter on headers, query
/// or path never reads the body.
fn filter_body(routes: &[Route], body: &[u8], head: Option<Value>) -> Option<Value> {
    let reads_body = routes
        .iter()
        .filter_map(|r| r.selector.as_ref()?.filter.as_ref())
        .any(|f| mentions_body(f.as_json()));
    match head {
        Some(_) if reads_body => serde_json::from_slice(body).ok(),
        head => head,
    }
}

/// Whether a filter (as written) has a `body` key anywhere. A filter reads the
/// body only through such a key (at its top or under `$and`, `$or`, `$not`),
/// so `false` means it never does; a header or field named `body` errs on the
/// safe side.
fn mentions_body(filter: &Value) -> bool {
    match filter {
        Value::Object(map) => map.iter().any(|(k, v)| k == "body" || mentions_body(v)),
        Value::Array(items) => items.iter().any(mentions_body),
        _ => false,
    }
}

/// One request (or one event a catch-up read from the provider), ready to
/// store: the routes that accepted it and what was read from it.
struct Arrival<'a> {
    source: &'a Source,
    accepting: Vec<&'a Route>,
    facts: IngestFacts,
    headers: &'a HeaderList,
    body: Vec<u8>,
    /// A webhook, or an event catch-up recovered.
    origin: IngestSource,
}

/// What storing an arrival did: whether it won its dedup key, its events
/// (one per accepting route), and those a push destination delivers.
pub(crate) struct Stored {
    pub recorded: Recorded,
    pub event_ids: Vec<EventId>,
    /// The delivery messages of the new events a push destination takes
    /// (none for a duplicate), each carrying the body when it is small.
    pub pushed: Vec<DeliveryMessage>,
    /// What the live stream is told: each new event `received`.
    pub received: Vec<Change>,
}

/// Steps 3 and 4 of the ack path: the body to R2, then the one D1 batch. A
/// duplicate's body is removed again.
async fn store(
    relay: &Relay,
    arrival: Arrival<'_>,
    faults: &[Fault],
    timings: &mut Timings,
) -> Result<Stored, ApiError> {
    let Arrival {
        source,
        accepting,
        facts,
        headers,
        body,
        origin,
    } = arrival;
    let started = timings.started;
    let ingest_id = IngestId::mint(started as u64, random_bytes());
    let event_ids: Vec<EventId> = (0..accepting.len())
        .map(|index| {
            EventId::of_ingest(&ingest_id, index)
                .unwrap_or_else(|| EventId::generate(started as u64, random_bytes()))
        })
        .collect();
    let body_key = bodies::key_for(&ingest_id, started);
    let content_type = headers.get("content-type").map(str::to_string);
    let header_home = stored_headers(source, facts.provider, headers).home();
    let routed: Vec<RoutedEvent> = accepting
        .iter()
        .zip(&event_ids)
        .map(|(route, id)| RoutedEvent {
            id,
            route_id: &route.id,
        })
        .collect();
    let new = NewIngest {
        id: &ingest_id,
        events: &routed,
        endpoint_id: &source.id,
        dedup_key: &facts.dedup_key,
        body_key: &body_key,
        body_size: body.len(),
        content_type: content_type.as_deref(),
        event_type: facts.event_type.as_deref(),
        search_values: &facts.search_values,
        headers: header_home.row_column(),
        source: origin,
        now_ms: started,
        dedup_window_ms: relay.settings.dedup_window_s as i64 * 1000,
    };

    // The delivery messages' copy of a small body (a pull route takes none).
    let pushes = accepting
        .iter()
        .any(|route| route.destination_type == DestinationType::Push);
    let carried = pushes
        .then(|| CarriedBody::of(&body, header_home.in_body_object()))
        .flatten();
    let r2_started = now_ms();
    let request_body = RequestBody {
        sha256: Sha256::digest(&body).into(),
        bytes: body,
        content_type: new.content_type,
        headers: &header_home,
    };
    store_body(relay, &body_key, request_body, faults).await?;
    timings.record("r2", r2_started);
    let d1_started = now_ms();
    let recorded = match ingests::record(&relay.db, &new, faults.contains(&Fault::D1Insert)).await {
        Ok(recorded) => recorded,
        Err(err) => {
            // The body is left in place: if the batch did commit and only the
            // answer was lost, a row points at it. Retention removes true orphans.
            log_failure("d1_insert", &source.id, &err);
            return Err(ApiError::unavailable("the event could not be stored"));
        }
    };
    timings.record("d1", d1_started);
    let (pushed, received) = match recorded {
        // A pull destination waits for its client to lease; nothing to push.
        Recorded::New => (
            accepting
                .iter()
                .zip(&event_ids)
                .filter(|(route, _)| route.destination_type == DestinationType::Push)
                .map(|(_, id)| {
                    DeliveryMessage::carrying(id.as_str(), relay.shard(), carried.clone())
                })
                .collect(),
            accepting
                .iter()
                .zip(&event_ids)
                .map(|(route, id)| {
                    let (endpoint_id, route_id) = (source.id.as_str(), route.id.as_str());
                    Change::received(id.as_str(), endpoint_id, route_id, new.event_type, started)
                })
                .collect(),
        ),
        Recorded::Duplicate { .. } => {
            discard_body(relay, &body_key).await;
            (Vec::new(), Vec::new())
        }
    };
    Ok(Stored {
        recorded,
        event_ids,
        pushed,
        received,
    })
}

async fn store_and_ack(
    relay: &Relay,
    ctx: &Context,
    arrival: Arrival<'_>,
    mut timings: Timings,
) -> Result<Response, ApiError> {
    let started = timings.started;
    let endpoint_id = arrival.source.id.clone();
    let faults = relay
        .settings
        .faults_for(arrival.headers.get("x-hookrelay-fault"));
    let stored = store(relay, arrival, &faults, &mut timings).await?;
    let event_ids = &stored.event_ids;
    let answer = match &stored.recorded {
        Recorded::New => {
            let fail_send = faults.contains(&Fault::QueueSend);
            schedule_after_ack(relay, ctx, stored.pushed, stored.received, fail_send);
            IngestAck::stored(event_ids)
        }
        Recorded::Duplicate { original_event_id } => {
            IngestAck::duplicate(original_event_id.as_deref())
        }
    };
    if relay.settings.log_each_webhook {
        console_log!(
            "{}",
            json!({"msg": "ingest", "endpoint_id": endpoint_id, "event_id": answer.id,
                   "events": event_ids.len(), "duplicate": answer.duplicate,
                   "ms": now_ms() - started})
        );
    }
    let response = json_response(200, &answer)?;
    response.headers().set("server-timing", &timings.header())?;
    Ok(response)
}

/// Stores one event a catch-up read from the provider's own record, as a
/// webhook with this body and no headers but its content type would be
/// stored: the same dedup key, event type, routes and search values, marked
/// `source: catch_up`. The caller sends the queue messages.
pub(crate) async fn store_recovered(
    relay: &Relay,
    found: &SourceRoutes,
    body: Vec<u8>,
) -> Result<Stored, ApiError> {
    let (source, routes) = (&found.source, &found.routes);
    let headers = HeaderList::new([("content-type", "application/json")]);
    let head = body_head(&body);
    let facts = ingest_facts(source, &headers, &body, head.as_ref());
    let path = format!("/{}", source.id);
    let accepting = select_routes(
        routes,
        source.provider,
        &headers,
        || filter_body(routes, &body, head),
        &[],
        &path,
    );
    let arrival = Arrival {
        source,
        accepting,
        facts,
        headers: &headers,
        body,
        origin: IngestSource::CatchUp,
    };
    store(relay, arrival, &[], &mut Timings::new(now_ms())).await
}

/// The endpoint's source and routes, its own first.
async fn load_endpoint(
    relay: &Relay,
    raw_id: &str,
    now: i64,
    timings: &mut Timings,
) -> Result<SourceRoutes, ApiError> {
    let unknown = || ApiError::refused(RefusalReason::UnknownEndpoint, "no endpoint has this URL");
    let id = EndpointId::parse(raw_id).ok_or_else(unknown)?;
    let ttl_s = relay.settings.endpoint_cache_ttl_s;
    let (source, cached) = endpoint_cache::lookup(&relay.db, &id, now, ttl_s)
        .await
        .map_err(|err| {
            log_failure("endpoint_lookup", &id, &err);
            ApiError::unavailable("the endpoint could not be loaded")
        })?;
    if !cached {
        timings.record("endpoint", now);
    }
    source.ok_or_else(unknown)
}

/// The endpoint's source allowlist, against the client address Cloudflare reports.
fn check_source(source: &Source, headers: &HeaderList) -> Result<(), ApiError> {
    if source.allowed_cidrs.is_empty() {
        return Ok(());
    }
    let list = allowlist::parse_cidrs(&source.allowed_cidrs).map_err(|_| {
        ApiError::new(
            500,
            "misconfigured_endpoint",
            "the endpoint's allowlist is invalid",
        )
    })?;
    if allowlist::is_allowed(&list, headers.get("cf-connecting-ip")) {
        Ok(())
    } else {
        Err(ApiError::refused(
            RefusalReason::IpNotAllowed,
            "the source address is not on this endpoint's allowlist",
        ))
    }
}

fn method_not_allowed() -> ApiError {
    ApiError::refused(
        RefusalReason::MethodNotAllowed,
        "webhooks are sent with POST",
    )
}

/// The URL the sender signed (Square, Trello, HubSpot): the public one when `PUBLIC_URL`
/// is set (a proxy in front), else the request's own.
fn signed_url(relay: &Relay, url: &Url) -> String {
    match &relay.settings.public_url {
        Some(base) => {
            let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
            format!("{base}{}{query}", url.path())
        }
        None => url.to_string(),
    }
}

/// Reads the body: whole when `Content-Length` declares it (an oversize one is
/// refused before reading), and otherwise (chunked uploads) as a stream,
/// refused as soon as the bytes read pass the limit, without reading on.
async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::refused(
            RefusalReason::PayloadTooLarge,
            format!("the body is larger than the limit of {limit} bytes"),
        )
    };
    let unreadable = || {
        ApiError::refused(
            RefusalReason::UnreadableBody,
            "the request body could not be read",
        )
    };
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    if req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    if declared.is_some() {
        // HTTP framing holds the body to its declared length, which is within
        // the limit: read it whole, in one call instead of one per chunk.
        return req.bytes().await.map_err(|_| unreadable());
    }
    let mut stream = req.stream().map_err(|_| unreadable())?;
    let mut body = BodyBuffer::new(limit);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        body.push(&chunk).map_err(|TooLarge| too_large())?;
    }
    Ok(body.into_bytes())
}

/// The body is larger than the limit.
#[derive(Debug, PartialEq)]
struct TooLarge;

/// A body read chunk by chunk into one buffer whose capacity never passes the
/// limit (a `Vec` left to itself may double to twice the limit).
struct BodyBuffer {
    bytes: Vec<u8>,
    limit: usize,
}

impl BodyBuffer {
    fn new(limit: usize) -> Self {
        Self {
            bytes: Vec::new(),
            limit,
        }
    }

    fn push(&mut self, chunk: &[u8]) -> Result<(), TooLarge> {
        let len = self
            .bytes
            .len()
            .checked_add(chunk.len())
            .filter(|n| *n <= self.limit)
            .ok_or(TooLarge)?;
        if len > self.bytes.capacity() {
            let grown = self
                .bytes
                .capacity()
                .saturating_mul(2)
                .clamp(len, self.limit);
            self.bytes.reserve_exact(grown - self.bytes.len());
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

fn verify_signature(
    source: &Source,
    provider: Provider,
    secrets: &[String],
    req: &SignedRequest<'_>,
) -> Result<(), ApiError> {
    verify::verify(provider, secrets, &source.scheme_config, req)
        .map_err(|e| ApiError::refused(e.reason(), e.message()))
}

fn answer_handshake(
    source: &Source,
    provider: Provider,
    secrets: &[String],
    req: &HandshakeRequest<'_>,
) -> Result<Option<HandshakeReply>, ApiError> {
    let known = EndpointHandshake {
        provider,
        secrets,
        verify_token: source.verify_token.as_deref(),
    };
    handshake::answer(req, &known).map_err(|r| ApiError::new(r.status(), r.code(), r.message()))
}

fn handshake_response(reply: HandshakeReply) -> Result<Response, ApiError> {
    let headers = Headers::new();
    headers.set("content-type", reply.content_type)?;
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    let response = if reply.body.is_empty() {
        Response::empty()?
    } else {
        Response::from_bytes(reply.body)?
    };
    Ok(response.with_status(reply.status).with_headers(headers))
}

/// The provider's headers to replay to the destination, without any header that
/// carries the endpoint's own credential as is (a token, an `api_key` header).
fn stored_headers(source: &Source, provider: Provider, headers: &HeaderList) -> HeaderList {
    let credential = provider.credential_header(&source.scheme_config);
    headers.forwardable().without(credential)
}

async fn store_body(
    relay: &Relay,
    key: &str,
    body: RequestBody<'_>,
    faults: &[Fault],
) -> Result<(), ApiError> {
    let result = if faults.contains(&Fault::R2Put) {
        Err(worker::Error::RustError("injected fault: r2_put".into()))
    } else {
        match relay.bodies() {
            Ok(bucket) => bodies::put_request(&bucket, key, body).await,
            Err(e) => Err(e),
        }
    };
    result.map_err(|err| {
        console_error!(
            "{}",
            json!({"msg": "r2 put failed", "key": key, "error": err.to_string()})
        );
        ApiError::unavailable("the body could not be stored")
    })
}

/// Removes the body of a request that lost the dedup race (no row points at it).
/// Awaited; a failure only leaves an orphan that retention removes later.
async fn discard_body(relay: &Relay, key: &str) {
    let result = match relay.bodies() {
        Ok(bucket) => bodies::delete(&bucket, key).await,
        Err(e) => Err(e),
    };
    if let Err(err) = result {
        console_error!(
            "{}",
            json!({"msg": "orphan body not deleted", "key": key, "error": err.to_string()})
        );
    }
}

/// After the answer, inside `wait_until` (the runtime awaits it): hands the
/// delivery messages of the events a push destination takes, and what the
/// live stream is told, to the isolate's outbox ([`crate::after_ack`]), which
/// sends them with those of the other acks under way. A send that fails is
/// logged; the sweeper delivers those events.
fn schedule_after_ack(
    relay: &Relay,
    ctx: &Context,
    pushed: Vec<DeliveryMessage>,
    received: Vec<Change>,
    inject_failure: bool,
) {
    if inject_failure && !pushed.is_empty() {
        after_ack::log_not_sent(&pushed, relay.shard(), "injected fault: queue_send");
    }
    let pushed = if inject_failure { Vec::new() } else { pushed };
    if pushed.is_empty() && received.is_empty() {
        return;
    }
    let (env, shard, path) = (relay.env.clone(), relay.shard().clone(), relay.path());
    ctx.wait_until(async move {
        let enqueue = async {
            if !pushed.is_empty() {
                after_ack::enqueue(&env, path, shard.clone(), pushed).await;
            }
        };
        let publish = async {
            if !received.is_empty() {
                after_ack::publish(&env, shard.clone(), received).await;
            }
        };
        futures::join!(enqueue, publish);
    });
}

/// Counts a refusal, and logs it, after the answer (inside `wait_until`), so
/// refusing costs the sender no storage round trip. Within the minute's
/// allowance it is written at once; beyond it, only counted in memory for the
/// isolate's next delayed flush (see [`crate::store::rejections`]). Header values
/// that carry signatures or credentials are redacted first; the body is never kept.
fn record_refusal(
    relay: &Relay,
    ctx: &Context,
    seen: &Seen,
    headers: &HeaderList,
    reason: &'static str,
) {
    console_log!(
        "{}",
        json!({"msg": "ingest refused", "endpoint_id": seen.endpoint_id, "reason": reason})
    );
    let at_ms = now_ms();
    let endpoint_id = seen.endpoint_id.clone();
    let admit = rejections::admit(
        endpoint_id.as_deref(),
        reason,
        at_ms,
        relay.settings.alert_refusal_spike,
    );
    let db = match admit {
        Admit::Counted => return,
        Admit::Write | Admit::FlushIn(_) => match relay.env.d1(shards::CONTROL) {
            Ok(db) => Db::new(db, Path::Ingest, ShardName::control()),
            Err(err) => {
                console_error!(
                    "{}",
                    json!({"msg": "refusal not recorded", "error": err.to_string()})
                );
                return;
            }
        },
    };
    if let Admit::FlushIn(delay_ms) = admit {
        ctx.wait_until(async move { flush_refusals(&db, delay_ms).await });
        return;
    }
    let source_ip = headers.get("cf-connecting-ip").map(str::to_string);
    let headers_json =
        serde_json::to_string(&redacted_headers(headers)).unwrap_or_else(|_| "[]".into());
    let body_size = seen.body_size;
    ctx.wait_until(async move {
        let refusal = Refusal {
            endpoint_id: endpoint_id.as_deref(),
            reason,
            source_ip: source_ip.as_deref(),
            headers_json: &headers_json,
            body_size,
            at_ms,
        };
        if let Err(err) = rejections::record(&db, &refusal).await {
            console_error!(
                "{}",
                json!({"msg": "refusal not recorded; counted for the next flush",
                       "error": err.to_string()})
            );
            if let Admit::FlushIn(delay_ms) =
                rejections::defer(endpoint_id.as_deref(), reason, now_ms())
            {
                flush_refusals(&db, delay_ms).await;
            }
        }
    });
}

/// Waits `delay_ms`, then writes the isolate's pending refusal counts; a failed
/// write is tried again after the flush interval, a few times.
async fn flush_refusals(db: &Db, delay_ms: i64) {
    let mut delay_ms = delay_ms;
    for attempt in 1..=rejections::FLUSH_ATTEMPTS {
        if delay_ms > 0 {
            Delay::from(Duration::from_millis(delay_ms as u64)).await;
        }
        match rejections::flush(db, now_ms()).await {
            Ok(flushed) => {
                if flushed.rows > 0 {
                    console_log!(
                        "{}",
                        json!({"msg": "refusals flushed", "rows": flushed.rows,
                               "refusals": flushed.refusals})
                    );
                }
                return;
            }
            Err(err) => {
                console_error!(
                    "{}",
                    json!({"msg": "refusal counts not flushed; kept for the next flush",
                           "attempt": attempt, "error": err.to_string()})
                );
                let retry = (attempt < rejections::FLUSH_ATTEMPTS)
                    .then(|| rejections::retry_flush(now_ms()))
                    .flatten();
                match retry {
                    Some(ms) => delay_ms = ms,
                    None => return,
                }
            }
        }
    }
}

fn log_failure(stage: &str, endpoint_id: &EndpointId, err: &worker::Error) {
    console_error!(
        "{}",
        json!({"msg": "ingest failed", "stage": stage, "endpoint_id": endpoint_id, "error": err.to_string()})
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{FilterInput, RouteSelector};

    #[test]
    fn a_body_is_refused_as_soon_as_it_passes_the_limit() {
        let mut body = BodyBuffer::new(10);
        assert_eq!(body.push(b"hello"), Ok(()));
        assert_eq!(body.push(b"world"), Ok(()), "exactly the limit is allowed");
        assert_eq!(body.push(b"!"), Err(TooLarge));
        assert_eq!(body.into_bytes(), b"helloworld");

        let mut body = BodyBuffer::new(10);
        assert_eq!(
            body.push(&[0; 11]),
            Err(TooLarge),
            "one chunk over the limit"
        );
        assert!(body.bytes.is_empty(), "nothing of it is kept");
    }

    #[test]
    fn the_buffer_never_grows_past_the_limit() {
        let limit = 1_000_003;
        let mut body = BodyBuffer::new(limit);
        for _ in 0..1_000 {
            body.push(&[7; 1_000]).unwrap();
            assert!(body.bytes.capacity() <= limit, "{}", body.bytes.capacity());
        }
        body.push(&[7; 3]).unwrap();
        assert_eq!(body.push(&[7]), Err(TooLarge));
        assert_eq!(body.bytes.len(), limit);
        assert!(body.bytes.capacity() <= limit);
    }

    #[test]
    fn a_filter_reads_the_body_only_through_a_body_key() {
        let reads = |f: Value| mentions_body(&f);
        assert!(reads(json!({"body": {"type": "a"}})));
        assert!(reads(
            json!({"$or": [{"path": "/x"}, {"body": {"n": {"$gt": 1}}}]})
        ));
        assert!(reads(
            json!({"$not": {"$and": [{"body": {"$exist": true}}]}})
        ));
        assert!(!reads(
            json!({"headers": {"x-kind": "a"}, "query": {"v": ["1", "2"]}})
        ));
        assert!(!reads(json!({"$or": [{"path": {"$startsWith": "/ep_"}}]})));
        assert!(reads(json!({"headers": {"body": "x"}})), "on the safe side");
    }

    /// Whether each selector accepts the request, seen through the body's head
    /// and through the whole body.
    fn accepts_both_ways(
        selector: &RouteSelector,
        provider: Provider,
        body: &[u8],
        headers: &HeaderList,
    ) -> (bool, bool) {
        let query = vec![("v".to_string(), "1".to_string())];
        let seen = |json: Option<Value>| {
            selector.accepts(&FilterInput::from_json(
                json, headers, &query, "/ep_1", provider,
            ))
        };
        (
            seen(body_head(body)),
            seen(serde_json::from_slice::<Value>(body).ok()),
        )
    }

    #[test]
    fn the_head_serves_event_types_and_filters_that_do_not_read_the_body() {
        let selectors = [
            (None, Some(json!(["charge.*"]))),
            (None, Some(json!(["pull_request.opened"]))),
            (None, Some(json!(["pull_request"]))),
            (None, Some(json!(["*"]))),
            (Some(json!({"headers": {"x-kind": "a"}})), None),
            (
                Some(json!({"query": {"v": "1"}, "path": {"$endsWith": "_1"}})),
                Some(json!(["charge.*"])),
            ),
            (Some(json!({"$not": {"headers": {"x-kind": "b"}}})), None),
        ];
        let bodies: [&[u8]; 7] = [
            br#"{"type":"charge.refunded","action":"opened","data":[1,2]}"#,
            br#"{"type":"invoice.paid","type":"charge.failed"}"#,
            br#"{"action":"opened","number":1}"#,
            br#"[{"type":"charge.refunded"}]"#,
            br#""charge.refunded""#,
            b"not json",
            b"",
        ];
        let header_sets = [
            HeaderList::new([("x-kind", "a"), ("x-github-event", "pull_request")]),
            HeaderList::new([("x-kind", "b")]),
        ];
        for (filter, types) in &selectors {
            let selector = RouteSelector::parse(filter.as_ref(), types.as_ref()).unwrap();
            for provider in [
                Provider::parse("stripe").unwrap(),
                Provider::parse("github").unwrap(),
                Provider::parse("none").unwrap(),
            ] {
                for body in bodies {
                    for headers in &header_sets {
                        let (head, full) = accepts_both_ways(&selector, provider, body, headers);
                        assert_eq!(
                            head,
                            full,
                            "{filter:?} {types:?} {provider:?} {}",
                            String::from_utf8_lossy(body)
                        );
                    }
                }
            }
        }
    }
}
