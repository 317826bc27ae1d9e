//! The ack path: `POST /ep_<id>`. Every sequential storage round trip here is
//! latency the provider waits for, so the common path has two (or three on an
//! endpoint-cache miss):
//!
//! 1. endpoint config (in-isolate cache, D1 on a miss);
//! 2. signature check, CPU only, over the raw bytes;
//! 3. R2 put of the body under a key unique to this request;
//! 4. one D1 batch: insert-first dedup + ingest + event;
//! 5. answer 2xx; `queue.send` runs after the answer inside `wait_until`.
//!
//! No 2xx before 3 and 4 succeeded. A failed 3 leaves nothing; a failed 4 rolls
//! back and leaves only an orphan body, so the provider's retry is accepted as new.
//! A failed `queue.send` is logged: the sweeper delivers the event anyway.

use crate::dedup::{dedup_key, sha256_hex};
use crate::error::{json_response, ApiError};
use crate::headers::HeaderList;
use crate::model::{Endpoint, EndpointId, EventId, IngestId};
use crate::relay::{enqueue, now_ms, random_bytes, Relay};
use crate::settings::Fault;
use crate::store::ingests::{self, NewIngest, Recorded};
use crate::store::{bodies, endpoint_cache};
use crate::verify::{self, Provider, SchemeConfig, SignedRequest};
use serde_json::json;
use worker::{console_error, console_log, Context, Request, Response};

pub async fn handle(
    relay: &Relay,
    ctx: &Context,
    mut req: Request,
    raw_endpoint_id: &str,
) -> Result<Response, ApiError> {
    let started = now_ms();
    let endpoint = load_endpoint(relay, raw_endpoint_id, started).await?;
    let body = read_body(&mut req, relay.settings.max_body_bytes).await?;
    let headers = HeaderList::new(req.headers().entries());
    let url = req.url().map(|u| u.to_string()).unwrap_or_default();
    verify_signature(
        &endpoint,
        &headers,
        &body,
        &url,
        req.method().as_ref(),
        started,
    )?;

    let faults = relay.settings.faults_for(headers.get("x-hookrelay-fault"));
    let provider = Provider::parse(&endpoint.provider).unwrap_or(Provider::None);
    let ingest_id = IngestId::generate(started as u64, random_bytes());
    let event_id = EventId::generate(started as u64, random_bytes());
    let body_key = bodies::key_for(&ingest_id, started);
    let content_type = headers.get("content-type").map(str::to_string);
    let new = NewIngest {
        id: &ingest_id,
        event_id: &event_id,
        endpoint_id: &endpoint.id,
        dedup_key: &dedup_key(provider, &headers, &body),
        body_key: &body_key,
        body_size: body.len(),
        body_sha256: &sha256_hex(&body),
        content_type: content_type.as_deref(),
        headers_json: &serde_json::to_string(&headers.forwardable())?,
        now_ms: started,
        dedup_window_ms: relay.settings.dedup_window_s as i64 * 1000,
    };

    store_body(relay, &body_key, body, new.content_type, &faults).await?;
    let recorded = match ingests::record(&relay.db, &new, faults.contains(&Fault::D1Insert)).await {
        Ok(recorded) => recorded,
        Err(err) => {
            // The body is left in place: if the batch did commit and only the
            // answer was lost, a row points at it. Retention removes true orphans.
            log_failure("d1_insert", &endpoint.id, &err);
            return Err(ApiError::unavailable("the event could not be stored"));
        }
    };

    let (id, duplicate) = match recorded {
        Recorded::New => {
            schedule_enqueue(
                relay,
                ctx,
                event_id.to_string(),
                faults.contains(&Fault::QueueSend),
            );
            (Some(event_id.to_string()), false)
        }
        Recorded::Duplicate { original_event_id } => {
            discard_body(relay, &body_key).await;
            (original_event_id, true)
        }
    };
    console_log!(
        "{}",
        json!({"msg": "ingest", "endpoint_id": endpoint.id, "event_id": id,
               "duplicate": duplicate, "ms": now_ms() - started})
    );
    Ok(json_response(
        200,
        &json!({"id": id, "duplicate": duplicate}),
    )?)
}

async fn load_endpoint(relay: &Relay, raw_id: &str, now: i64) -> Result<Endpoint, ApiError> {
    let unknown = || ApiError::new(404, "unknown_endpoint", "no endpoint has this URL");
    let id = EndpointId::parse(raw_id).ok_or_else(unknown)?;
    endpoint_cache::get(&relay.db, &id, now, relay.settings.endpoint_cache_ttl_s)
        .await
        .map_err(|err| {
            log_failure("endpoint_lookup", &id, &err);
            ApiError::unavailable("the endpoint could not be loaded")
        })?
        .ok_or_else(unknown)
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
    headers: &HeaderList,
    body: &[u8],
    url: &str,
    method: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let provider = Provider::parse(&endpoint.provider).ok_or_else(|| {
        ApiError::new(
            500,
            "misconfigured_endpoint",
            "the endpoint's provider is unknown",
        )
    })?;
    let req = SignedRequest {
        headers,
        body,
        now_s: now_ms / 1000,
        url,
        method,
    };
    // Endpoints do not store scheme settings yet: `hmac` refuses every request
    // (scheme_not_configured) and `api_key` reads `x-api-key` until they do.
    let config = SchemeConfig::default();
    verify::verify(provider, &endpoint.secrets, &config, &req).map_err(|e| {
        console_log!(
            "{}",
            json!({"msg": "ingest refused", "endpoint_id": endpoint.id, "reason": e.code()})
        );
        ApiError::new(401, e.code(), e.message())
    })
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

/// Removes the body of a request that lost the dedup race (no row points at it). Awaited;
/// a failure only leaves an orphan that retention removes later.
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

/// Sends the delivery message after the answer, inside `wait_until` (the runtime
/// awaits it). A failure is logged; the sweeper picks the event up.
fn schedule_enqueue(relay: &Relay, ctx: &Context, event_id: String, inject_failure: bool) {
    let queue = relay.queue();
    ctx.wait_until(async move {
        let result = match queue {
            _ if inject_failure => Err(worker::Error::RustError(
                "injected fault: queue_send".into(),
            )),
            Ok(q) => enqueue(&q, &event_id, 0).await,
            Err(e) => Err(e),
        };
        if let Err(err) = result {
            console_error!(
                "{}",
                json!({"msg": "queue send failed; the sweeper will deliver", "event_id": event_id,
                       "error": err.to_string()})
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
