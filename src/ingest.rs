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
//! 5. answer 2xx; `queue.send` runs after the answer inside `wait_until`.
//!
//! No 2xx before 3 and 4 succeeded. A failed 3 leaves nothing; a failed 4 rolls
//! back and leaves only an orphan body, so the provider's retry is accepted as new.
//! A failed `queue.send` is logged: the sweeper delivers the event anyway.
//!
//! Each answer carries `Server-Timing` with the storage round trips it waited
//! for (`endpoint` only on a cache miss, `r2`, `d1`), which the benchmark counts.
//!
//! Handshakes (Slack, Zoom, Twitch, Discord after the signature check; Meta, Okta,
//! Dropbox on GET) are answered here and never stored. Every refusal (4xx) is
//! logged and counted after the answer, with signature values redacted.

use crate::allowlist;
use crate::dedup::{dedup_key_for, sha256_hex};
use crate::error::{json_response, ApiError};
use crate::filter;
use crate::handshake::{self, EndpointHandshake, HandshakeReply, HandshakeRequest};
use crate::headers::HeaderList;
use crate::model::{DestinationType, Endpoint, EndpointId, EventId, IngestId, Route};
use crate::redact::redacted_headers;
use crate::relay::{enqueue, enqueue_many, now_ms, random_bytes, Relay};
use crate::settings::Fault;
use crate::store::ingests::{self, NewIngest, Recorded, RoutedEvent};
use crate::store::rejections::{self, Refusal};
use crate::store::{bodies, endpoint_cache};
use crate::verify::{self, Provider, SignedRequest};
use serde_json::{json, Value};
use worker::{console_error, console_log, Context, Headers, Method, Request, Response, Url};

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
    let result = accept(relay, ctx, req, raw_endpoint_id, &headers, &mut seen).await;
    if let Err(err) = &result {
        if (400..500).contains(&err.status) {
            record_refusal(relay, ctx, &seen, &headers, err.code);
        }
    }
    result
}

async fn accept(
    relay: &Relay,
    ctx: &Context,
    mut req: Request,
    raw_endpoint_id: &str,
    headers: &HeaderList,
    seen: &mut Seen,
) -> Result<Response, ApiError> {
    let started = now_ms();
    let mut timings = Timings::new(started);
    let routes = load_endpoint(relay, raw_endpoint_id, started, &mut timings).await?;
    let endpoint = &routes[0].target;
    seen.endpoint_id = Some(endpoint.id.to_string());
    if endpoint.disabled {
        return Err(ApiError::new(
            403,
            "endpoint_disabled",
            "this endpoint is disabled",
        ));
    }
    check_source(endpoint, headers)?;
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
    let provider = provider_of(endpoint)?;
    let secrets = endpoint.live_secrets(started);
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
        if provider == Provider::Okta {
            verify_signature(endpoint, provider, &secrets, &signed)?;
        }
        return match answer_handshake(endpoint, &secrets, &handshake_req)? {
            Some(reply) => handshake_response(reply),
            None => Err(method_not_allowed()),
        };
    }
    verify_signature(endpoint, provider, &secrets, &signed)?;
    if let Some(reply) = answer_handshake(endpoint, &secrets, &handshake_req)? {
        return handshake_response(reply);
    }
    let json = serde_json::from_slice::<Value>(&body).ok();
    let facts = IngestFacts {
        dedup_key: dedup_key_for(
            provider,
            &endpoint.scheme_config,
            headers,
            &body,
            json.as_ref(),
        ),
        event_type: filter::event_type(provider, headers, json.as_ref()),
    };
    let accepting = select_routes(&routes, provider, headers, json, &handshake_query, &url);
    store_and_ack(
        relay, ctx, endpoint, &accepting, facts, headers, body, timings,
    )
    .await
}

/// What the ack path reads from the request's content, from one parse of its body.
struct IngestFacts {
    dedup_key: String,
    event_type: Option<String>,
}

/// The routes whose filter accepts the request, first route first. The filters'
/// view of the request is built once, and only when a route has a filter.
fn select_routes<'a>(
    routes: &'a [Route],
    provider: Provider,
    headers: &HeaderList,
    mut json: Option<Value>,
    query: &[(String, String)],
    url: &Url,
) -> Vec<&'a Route> {
    let mut input = None;
    routes
        .iter()
        .filter(|route| match &route.target.selector {
            None => true,
            Some(selector) => selector.accepts(input.get_or_insert_with(|| {
                filter::FilterInput::from_json(json.take(), headers, query, url.path(), provider)
            })),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn store_and_ack(
    relay: &Relay,
    ctx: &Context,
    endpoint: &Endpoint,
    accepting: &[&Route],
    facts: IngestFacts,
    headers: &HeaderList,
    body: Vec<u8>,
    mut timings: Timings,
) -> Result<Response, ApiError> {
    let started = timings.started;
    let faults = relay.settings.faults_for(headers.get("x-hookrelay-fault"));
    let ingest_id = IngestId::generate(started as u64, random_bytes());
    let event_ids: Vec<EventId> = accepting
        .iter()
        .map(|_| EventId::generate(started as u64, random_bytes()))
        .collect();
    let body_key = bodies::key_for(&ingest_id, started);
    let content_type = headers.get("content-type").map(str::to_string);
    let stored_headers = stored_headers(endpoint, headers);
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
        endpoint_id: &endpoint.id,
        dedup_key: &facts.dedup_key,
        body_key: &body_key,
        body_size: body.len(),
        body_sha256: &sha256_hex(&body),
        content_type: content_type.as_deref(),
        event_type: facts.event_type.as_deref(),
        headers_json: &serde_json::to_string(&stored_headers)?,
        now_ms: started,
        dedup_window_ms: relay.settings.dedup_window_s as i64 * 1000,
    };

    let r2_started = now_ms();
    store_body(relay, &body_key, body, new.content_type, &faults).await?;
    timings.record("r2", r2_started);
    let d1_started = now_ms();
    let recorded = match ingests::record(&relay.db, &new, faults.contains(&Fault::D1Insert)).await {
        Ok(recorded) => recorded,
        Err(err) => {
            // The body is left in place: if the batch did commit and only the
            // answer was lost, a row points at it. Retention removes true orphans.
            log_failure("d1_insert", &endpoint.id, &err);
            return Err(ApiError::unavailable("the event could not be stored"));
        }
    };
    timings.record("d1", d1_started);

    let answer = match recorded {
        Recorded::New => {
            // A pull destination waits for its client to lease; nothing to push.
            let pushed: Vec<String> = accepting
                .iter()
                .zip(&event_ids)
                .filter(|(route, _)| route.target.destination_type == DestinationType::Push)
                .map(|(_, id)| id.to_string())
                .collect();
            if !pushed.is_empty() {
                let fail_send = faults.contains(&Fault::QueueSend);
                schedule_enqueue(relay, ctx, pushed, fail_send);
            }
            let status = if event_ids.is_empty() {
                "filtered"
            } else {
                "routed"
            };
            json!({"id": event_ids.first(), "duplicate": false, "status": status,
                   "events": event_ids})
        }
        Recorded::Duplicate { original_event_id } => {
            discard_body(relay, &body_key).await;
            json!({"id": original_event_id, "duplicate": true})
        }
    };
    console_log!(
        "{}",
        json!({"msg": "ingest", "endpoint_id": endpoint.id, "event_id": answer["id"],
               "events": event_ids.len(), "duplicate": answer["duplicate"],
               "ms": now_ms() - started})
    );
    let response = json_response(200, &answer)?;
    response.headers().set("server-timing", &timings.header())?;
    Ok(response)
}

/// The endpoint's routes, its own first.
async fn load_endpoint(
    relay: &Relay,
    raw_id: &str,
    now: i64,
    timings: &mut Timings,
) -> Result<Vec<Route>, ApiError> {
    let unknown = || ApiError::new(404, "unknown_endpoint", "no endpoint has this URL");
    let id = EndpointId::parse(raw_id).ok_or_else(unknown)?;
    let ttl_s = relay.settings.endpoint_cache_ttl_s;
    let (endpoint, cached) = endpoint_cache::lookup(&relay.db, &id, now, ttl_s)
        .await
        .map_err(|err| {
            log_failure("endpoint_lookup", &id, &err);
            ApiError::unavailable("the endpoint could not be loaded")
        })?;
    if !cached {
        timings.record("endpoint", now);
    }
    endpoint.ok_or_else(unknown)
}

/// The endpoint's verification scheme; an unknown one is the relay's fault (500),
/// since create and update refuse it.
pub(crate) fn provider_of(endpoint: &Endpoint) -> Result<Provider, ApiError> {
    Provider::parse(&endpoint.provider).ok_or_else(|| {
        ApiError::new(
            500,
            "misconfigured_endpoint",
            "the endpoint's provider is unknown",
        )
    })
}

/// The endpoint's source allowlist, against the client address Cloudflare reports.
fn check_source(endpoint: &Endpoint, headers: &HeaderList) -> Result<(), ApiError> {
    if endpoint.allowed_cidrs.is_empty() {
        return Ok(());
    }
    let list = allowlist::parse_cidrs(&endpoint.allowed_cidrs).map_err(|_| {
        ApiError::new(
            500,
            "misconfigured_endpoint",
            "the endpoint's allowlist is invalid",
        )
    })?;
    if allowlist::is_allowed(&list, headers.get("cf-connecting-ip")) {
        Ok(())
    } else {
        Err(ApiError::new(
            403,
            "ip_not_allowed",
            "the source address is not on this endpoint's allowlist",
        ))
    }
}

fn method_not_allowed() -> ApiError {
    ApiError::new(405, "method_not_allowed", "webhooks are sent with POST")
}

/// The URL the sender signed (Square, HubSpot): the public one when `PUBLIC_URL`
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

/// Refuses oversize bodies before reading them when `Content-Length` says so, and
/// after reading otherwise (chunked uploads).
async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            413,
            "payload_too_large",
            format!("the body is larger than the limit of {limit} bytes"),
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
    let body = req.bytes().await.map_err(|_| {
        ApiError::bad_request("unreadable_body", "the request body could not be read")
    })?;
    if body.len() > limit {
        return Err(too_large());
    }
    Ok(body)
}

fn verify_signature(
    endpoint: &Endpoint,
    provider: Provider,
    secrets: &[String],
    req: &SignedRequest<'_>,
) -> Result<(), ApiError> {
    verify::verify(provider, secrets, &endpoint.scheme_config, req)
        .map_err(|e| ApiError::new(401, e.code(), e.message()))
}

fn answer_handshake(
    endpoint: &Endpoint,
    secrets: &[String],
    req: &HandshakeRequest<'_>,
) -> Result<Option<HandshakeReply>, ApiError> {
    let known = EndpointHandshake {
        provider: &endpoint.provider,
        secrets,
        verify_token: endpoint.verify_token.as_deref(),
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
/// carries the endpoint's own credential (an `api_key` endpoint's key header).
fn stored_headers(endpoint: &Endpoint, headers: &HeaderList) -> HeaderList {
    let key_header = endpoint
        .scheme_config
        .api_key
        .as_ref()
        .map(|c| c.header.as_str());
    headers.forwardable().without(key_header)
}

async fn store_body(
    relay: &Relay,
    key: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
    faults: &[Fault],
) -> Result<(), ApiError> {
    let result = if faults.contains(&Fault::R2Put) {
        Err(worker::Error::RustError("injected fault: r2_put".into()))
    } else {
        match relay.bodies() {
            Ok(bucket) => bodies::put(&bucket, key, body, content_type).await,
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

/// Sends the delivery messages after the answer, inside `wait_until` (the
/// runtime awaits it). A failure is logged; the sweeper picks the events up.
fn schedule_enqueue(relay: &Relay, ctx: &Context, event_ids: Vec<String>, inject_failure: bool) {
    let queue = relay.queue();
    ctx.wait_until(async move {
        let result = match queue {
            _ if inject_failure => Err(worker::Error::RustError(
                "injected fault: queue_send".into(),
            )),
            Ok(q) if event_ids.len() == 1 => enqueue(&q, &event_ids[0], 0).await,
            Ok(q) => enqueue_many(&q, &event_ids).await,
            Err(e) => Err(e),
        };
        if let Err(err) = result {
            console_error!(
                "{}",
                json!({"msg": "queue send failed; the sweeper will deliver", "event_ids": event_ids,
                       "error": err.to_string()})
            );
        }
    });
}

/// Logs and counts a refusal after the answer (inside `wait_until`), so refusing
/// costs the sender no storage round trip. Header values that carry signatures or
/// credentials are redacted first; the body is never kept.
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
    let db = relay.env.d1("DB");
    let endpoint_id = seen.endpoint_id.clone();
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
            at_ms: now_ms(),
        };
        let result = match db {
            Ok(db) => rejections::record(&db, &refusal).await,
            Err(e) => Err(e),
        };
        if let Err(err) = result {
            console_error!(
                "{}",
                json!({"msg": "refusal not recorded", "error": err.to_string()})
            );
        }
    });
}

fn log_failure(stage: &str, endpoint_id: &EndpointId, err: &worker::Error) {
    console_error!(
        "{}",
        json!({"msg": "ingest failed", "stage": stage, "endpoint_id": endpoint_id, "error": err.to_string()})
    );
}
