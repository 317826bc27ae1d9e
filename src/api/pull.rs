//! Pull destinations: a client (the `hookrelay listen` CLI) leases events instead
//! of the relay pushing them, and reports each attempt. Leasing is the same
//! compare-and-set claim as push delivery, and a report goes through the same
//! retry policy, dead letter and replay, so a laptop that sleeps loses nothing:
//! an unreported lease expires and the event is offered again.
//!
//! `POST /api/v1/pull/{route_id}` `{"max"?, "wait_s"?, "lease_s"?, "event_types"?}`
//! long-polls up to `wait_s` (at most 25) while nothing is ready. The id names
//! a pull destination: an endpoint whose first route pulls (`ep_`), or an
//! extra route of `destination_type` `pull` (`rt_`).
//! `POST /api/v1/events/{id}/attempts` `{"lease_token", "status_code"?, "error"?,
//! "duration_ms", "response_snippet"?}` records what happened.

use super::read_json;
use crate::access::Grant;
use crate::deliver::{
    finish_dead, outbound_for, record_attempt, transform_failed, Delivery, Unbuildable,
};
use crate::error::{json_response, ApiError};
use crate::event_query::validate_event_types;
use crate::hub;
use crate::inputs::{AttemptReport, LeaseInput, LEASE_RANGE_S};
use crate::live::Change;
use crate::model::{DestinationType, EndpointId, EventId, Route, RouteId, RouteRef, Status};
use crate::outbound::{AttemptResult, SNIPPET_BYTES};
use crate::relay::{now_ms, random_bytes, Relay};
use crate::retry::{classify_status, OutcomeClass};
use crate::store::{endpoint_cache, endpoints, events};
use crate::time::iso8601;
use crate::views::{LeasedEvent, List, ReportedAttempt};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use std::time::Duration;
use worker::{Delay, Request, Response};

const DEFAULT_MAX: u32 = 10;
const MAX_MAX: u32 = 100;
const MAX_WAIT_S: u32 = 25;
const POLL_EVERY_MS: u64 = 500;

pub async fn lease(relay: &Relay, req: Request, raw_id: &str) -> Result<Response, ApiError> {
    let route = pull_route(relay, raw_id).await?;
    let input: LeaseInput = read_json(req).await?;
    let max = input.max.unwrap_or(DEFAULT_MAX).clamp(1, MAX_MAX);
    let wait_ms = i64::from(input.wait_s.unwrap_or(0).min(MAX_WAIT_S)) * 1000;
    let lease_s = input.lease_s.unwrap_or(relay.settings.pull_lease_s);
    if !LEASE_RANGE_S.contains(&lease_s) {
        return Err(ApiError::bad_request("invalid_lease", "lease_s is 2..=900"));
    }
    let globs = validate_event_types(&input.event_types.unwrap_or_default())
        .map_err(|why| ApiError::bad_request("invalid_event_types", why))?;
    let types = (!globs.is_empty())
        .then(|| serde_json::to_string(&globs))
        .transpose()?;
    let deadline = now_ms() + wait_ms;
    let claims = loop {
        let token = hex::encode(random_bytes::<16>());
        let now = now_ms();
        let claims = events::lease(
            &relay.db,
            &route.id,
            max,
            now,
            i64::from(lease_s) * 1000,
            &token,
            types.as_deref(),
        )
        .await?;
        if !claims.is_empty() || now >= deadline {
            break claims;
        }
        Delay::from(Duration::from_millis(POLL_EVERY_MS)).await;
    };
    let mut data = Vec::with_capacity(claims.len());
    let mut leased = Vec::with_capacity(claims.len());
    for claim in &claims {
        match outbound_for(relay, claim, &route).await? {
            Ok(o) => {
                leased.push(Change::new(
                    &claim.id,
                    &claim.endpoint_id,
                    claim.route_id.as_str(),
                    Status::Delivering.as_str(),
                    o.event_type.as_deref(),
                    o.number,
                    now_ms(),
                ));
                data.push(LeasedEvent {
                    id: claim.id.clone(),
                    endpoint_id: claim.endpoint_id.clone(),
                    route_id: claim.route_id.clone(),
                    attempt: o.number,
                    lease_token: claim.lease_token.clone(),
                    lease_expires_at: iso8601(now_ms() + i64::from(lease_s) * 1000),
                    received_at: iso8601(o.received_at),
                    body_base64: B64.encode(&o.body),
                    event_type: o.event_type,
                    content_type: o.content_type,
                    headers: o.headers,
                });
            }
            Err(Unbuildable::Transform { number, reason }) => {
                transform_failed(relay, claim, number, &reason).await?;
            }
            Err(why) => {
                finish_dead(relay, claim, why.reason()).await?;
            }
        }
    }
    hub::publish(relay, &leased).await;
    Ok(json_response(200, &List { data })?)
}

pub async fn report(
    relay: &Relay,
    req: Request,
    raw_id: &str,
    grant: &Grant,
) -> Result<Response, ApiError> {
    let id = EventId::parse(raw_id).ok_or_else(|| ApiError::not_found("event"))?;
    let input: AttemptReport = read_json(req).await?;
    let Some(claim) = events::held_claim(&relay.db, id.as_str(), &input.lease_token).await? else {
        return Err(lease_lost(relay, id.as_str()).await?);
    };
    if !grant.may_pull(claim.route_id.as_str()) {
        return Err(ApiError::new(
            403,
            "forbidden",
            "this key may not report attempts for this event's destination",
        ));
    }
    let route = pull_route(relay, claim.route_id.as_str()).await?;
    let finished = now_ms();
    let started = finished - input.duration_ms.min(3_600_000) as i64;
    let number = claim.attempt_count as u32 + 1;
    let result = reported_result(input);
    match record_attempt(
        relay,
        &claim,
        &route,
        number,
        (started, finished),
        result,
        false,
    )
    .await?
    {
        Delivery::Finished(_) => {}
        _ => return Err(lease_lost(relay, id.as_str()).await?),
    }
    let event = events::get(&relay.db, id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    let reported = Change::new(
        &event.id,
        &event.endpoint_id,
        &event.route_id,
        &event.status,
        event.event_type.as_deref(),
        number,
        finished,
    );
    hub::publish(relay, &[reported]).await;
    let retrying = event.status == "retrying";
    let body = ReportedAttempt {
        id: event.id,
        status: event.status,
        attempt: number,
        next_attempt_at: retrying.then(|| iso8601(event.next_attempt_at as i64)),
    };
    Ok(json_response(200, &body)?)
}

/// A client's report as an attempt result: a status code is classified like a
/// pushed answer; no code means the local app could not be reached.
fn reported_result(input: AttemptReport) -> AttemptResult {
    let snippet = input.response_snippet.map(|s| truncate(s, SNIPPET_BYTES));
    match input.status_code {
        Some(code) => {
            let class = classify_status(code);
            AttemptResult {
                status_code: Some(code),
                class,
                error: input
                    .error
                    .map(|e| truncate(e, SNIPPET_BYTES))
                    .or_else(|| (class != OutcomeClass::Delivered).then(|| format!("HTTP {code}"))),
                snippet,
                retry_after: None,
            }
        }
        None => {
            let error = input
                .error
                .unwrap_or_else(|| "the local app could not be reached".into());
            let class =
                if error.to_ascii_lowercase().contains("timed out") || error.contains("timeout") {
                    OutcomeClass::Timeout
                } else {
                    OutcomeClass::NetworkError
                };
            AttemptResult {
                status_code: None,
                class,
                error: Some(truncate(error, SNIPPET_BYTES)),
                snippet,
                retry_after: None,
            }
        }
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

async fn lease_lost(relay: &Relay, id: &str) -> Result<ApiError, ApiError> {
    Ok(match events::get(&relay.db, id).await? {
        None => ApiError::not_found("event"),
        Some(_) => ApiError::new(
            409,
            "lease_lost",
            "the lease expired or the event was finished; it is offered again when due",
        ),
    })
}

/// The pull route `raw_id` names: an endpoint's own (from the endpoint
/// cache) or an extra route (from D1); `404` when there is none,
/// `409 not_a_pull_destination` when it pushes.
pub(super) async fn pull_route(relay: &Relay, raw_id: &str) -> Result<Route, ApiError> {
    let not_found = || ApiError::not_found("pull destination");
    let route = if let Some(id) = EndpointId::parse(raw_id) {
        let ttl_s = relay.settings.endpoint_cache_ttl_s;
        endpoint_cache::get(&relay.db, &id, now_ms(), ttl_s)
            .await?
            .map(|endpoint| endpoint.route)
    } else if let Some(id) = RouteId::parse(raw_id) {
        endpoints::get_route(&relay.db, &RouteRef::Extra(id))
            .await?
            .map(|(route, _)| route)
    } else {
        None
    };
    let route = route.ok_or_else(not_found)?;
    if route.destination_type != DestinationType::Pull {
        return Err(ApiError::new(
            409,
            "not_a_pull_destination",
            "this route pushes to its destination_url",
        ));
    }
    Ok(route)
}
