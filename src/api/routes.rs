//! `/api/v1/endpoints/{id}/routes` and `/api/v1/routes/{id}`: an endpoint's
//! delivery targets.
//!
//! The endpoint is its own first route (its `ep_` id); extra routes have `rt_`
//! ids. A route takes the delivery fields of an endpoint (destination, retry,
//! timeout, circuit, rate limit, FIFO) plus `filter`, `event_types` and
//! `transform`, and the same code applies and validates them. A malformed filter
//! or transformation is refused with the JSON path of the problem.

use super::endpoints::apply_delivery;
use super::in_holding_shard;
use crate::envelope;
use crate::error::{json_response, ApiError};
use crate::filter::{FilterInput, RouteSelector};
use crate::headers::HeaderList;
use crate::hub;
use crate::inputs::{EndpointInput, RouteInput, RouteTestInput};
use crate::live::Change;
use crate::model::{
    DestinationType, EndpointId, EndpointState, EventId, IngestId, Route, RouteId, RouteRef,
};
use crate::relay::{now_ms, random_bytes, Relay};
use crate::store::shards as store_shards;
use crate::store::{bodies, endpoint_cache, endpoints, events, ingests};
use crate::transform::parse_transform;
use crate::verify::{standard, Provider};
use crate::views::{Created, Drained, List, RouteCounts, RouteTested, RouteView, Sent};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde_json::{json, Value};
use worker::{Request, Response};

pub async fn list(relay: &Relay, raw_endpoint_id: &str) -> Result<Response, ApiError> {
    let id = EndpointId::parse(raw_endpoint_id).ok_or_else(|| ApiError::not_found("endpoint"))?;
    let (_, routes) = endpoints::routes_with_state(&relay.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    let mut data = Vec::with_capacity(routes.len());
    for (route, state) in &routes {
        data.push(view(relay, route, state).await?);
    }
    Ok(json_response(200, &List { data })?)
}

pub async fn create(
    relay: &Relay,
    req: Request,
    raw_endpoint_id: &str,
) -> Result<Response, ApiError> {
    let id = EndpointId::parse(raw_endpoint_id).ok_or_else(|| ApiError::not_found("endpoint"))?;
    let endpoint = endpoints::get(&relay.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    let input: RouteInput = super::read_json(req).await?;
    if input.name.is_none() {
        return Err(ApiError::bad_request(
            "invalid_endpoint",
            "name is required",
        ));
    }
    let now = now_ms();
    // A new route starts from the defaults, but for its destination type,
    // which it takes from the endpoint's first route unless it says its own.
    let blank = Route::new(
        RouteRef::Extra(RouteId::generate(now as u64, random_bytes())),
        endpoint.source.id.clone(),
        standard::encode_secret(&random_bytes::<32>()),
        endpoint.route.destination_type,
        now,
    );
    let route = apply_input(relay, blank, input, true)?;
    // Placed with its endpoint (the shard this request works in).
    store_shards::place(&relay.control, route.id.as_str(), relay.shard()).await?;
    endpoint_cache::forget_placement(route.id.as_str());
    endpoints::insert_route(&relay.db, &endpoint.source, &route).await?;
    endpoint_cache::invalidate(&route.source_id);
    let (route, state) = load(relay, route.id.as_str()).await?;
    let created = Created {
        view: view(relay, &route, &state).await?,
        relay_secret: route.relay_secret,
    };
    Ok(json_response(201, &created)?)
}

pub async fn get(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let (route, state) = load(relay, raw_id).await?;
    Ok(json_response(200, &view(relay, &route, &state).await?)?)
}

pub async fn update(relay: &Relay, req: Request, raw_id: &str) -> Result<Response, ApiError> {
    let (current, _) = load(relay, raw_id).await?;
    let input: RouteInput = super::read_json(req).await?;
    let mut route = apply_input(relay, current, input, false)?;
    route.updated_at = now_ms();
    let saved = endpoints::update_route(&relay.db, &route).await?;
    endpoint_cache::invalidate(&route.source_id);
    if !saved {
        return Err(ApiError::not_found("route"));
    }
    let (route, state) = load(relay, raw_id).await?;
    Ok(json_response(200, &view(relay, &route, &state).await?)?)
}

/// `POST /routes/{id}/circuit/reset`: closes the route's circuit by hand (the
/// operator knows the destination is back) and re-enqueues its waiting
/// events, as a successful probe would. Answers the route with `drained`.
pub async fn reset_circuit(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let (route, _) = load(relay, raw_id).await?;
    if !endpoints::reset_circuit(&relay.db, &route.id, now_ms()).await? {
        return Err(ApiError::not_found("route"));
    }
    endpoint_cache::invalidate(&route.source_id);
    let (route, state) = load(relay, raw_id).await?;
    let pushes = route.destination_type == DestinationType::Push;
    let drained = if pushes && !state.paused {
        crate::deliver::drain(relay, &route.id, None).await?
    } else {
        0
    };
    let reset = Drained {
        view: view(relay, &route, &state).await?,
        drained,
    };
    Ok(json_response(200, &reset)?)
}

/// Deletes an extra route; its waiting events end dead with "the route was
/// deleted" at once, and one being delivered when its attempt ends. An
/// endpoint's first route goes with the endpoint only (409).
pub async fn delete(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let (route, _) = load(relay, raw_id).await?;
    let RouteRef::Extra(extra) = &route.id else {
        return Err(ApiError::new(
            409,
            "first_route",
            "an endpoint's first route is the endpoint itself: delete the endpoint instead",
        ));
    };
    let deletion = endpoints::soft_delete_route(&relay.db, extra, now_ms()).await?;
    endpoint_cache::invalidate(&route.source_id);
    hub::publish(relay, &events::changes_at(&deletion.ended, now_ms())).await;
    if !deletion.deleted {
        return Err(ApiError::not_found("route"));
    }
    Ok(Response::empty()?.with_status(204))
}

/// The endpoint code path applies and validates the delivery fields; the
/// filter and the transformation are checked here.
fn apply_input(
    relay: &Relay,
    mut route: Route,
    input: RouteInput,
    creating: bool,
) -> Result<Route, ApiError> {
    if input.filter.is_some() || input.event_types.is_some() {
        let current = route.selector.clone().unwrap_or_default();
        let current_filter = current.filter.map(|f| f.as_json().clone());
        let current_types = current.event_types.map(Value::from);
        let filter = input.filter.or(current_filter);
        let event_types = input.event_types.or(current_types);
        let selector = RouteSelector::parse(filter.as_ref(), event_types.as_ref())
            .map_err(|e| ApiError::bad_request("invalid_filter", e.to_string()))?;
        route.selector =
            (selector.filter.is_some() || selector.event_types.is_some()).then_some(selector);
    }
    if let Some(transform) = input.transform {
        route.transform = match transform {
            Value::Null => None,
            value => Some(
                parse_transform(&value)
                    .map_err(|e| ApiError::bad_request("invalid_transform", e.to_string()))?,
            ),
        };
    }
    let delivery = EndpointInput {
        name: input.name,
        destination_url: input.destination_url,
        destination_type: input.destination_type,
        retry: input.retry,
        timeout_ms: input.timeout_ms,
        circuit: input.circuit,
        rate_limit_per_s: input.rate_limit_per_s,
        fifo: input.fifo,
        ..EndpointInput::default()
    };
    apply_delivery(relay, route, delivery, creating)
}

async fn load(relay: &Relay, raw_id: &str) -> Result<(Route, EndpointState), ApiError> {
    let id = RouteRef::parse(raw_id).ok_or_else(|| ApiError::not_found("route"))?;
    endpoints::get_route(&relay.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("route"))
}

/// The route as the API shows it, with its events' counts.
async fn view(relay: &Relay, route: &Route, state: &EndpointState) -> Result<RouteView, ApiError> {
    let counts = events::route_counts(&relay.db, &route.id).await?;
    let counts = RouteCounts {
        events: counts.received as i64,
        delivered: counts.delivered as i64,
        dead: counts.dead as i64,
        in_flight: counts.in_flight as i64,
    };
    Ok(RouteView::new(route, state, counts))
}

/// `POST /api/v1/routes/test`: whether a filter accepts a request (a stored
/// event's, or a sample), and what a transformation would make of it. Nothing
/// is stored or sent; the headers the relay writes on each attempt (its
/// signature headers, `user-agent`, `x-hookrelay-attempt`) are not shown.
pub async fn test(relay: &Relay, req: Request) -> Result<Response, ApiError> {
    let input: RouteTestInput = super::read_json(req).await?;
    let selector = RouteSelector::parse(input.filter.as_ref(), input.event_types.as_ref())
        .map_err(|e| ApiError::bad_request("invalid_filter", e.to_string()))?;
    let transform = input
        .transform
        .as_ref()
        .filter(|t| !t.is_null())
        .map(parse_transform)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_transform", e.to_string()))?;
    let sample = match (&input.event_id, &input.ingest_id, input.body) {
        (Some(id), None, None) => stored_event_request(relay, id).await?,
        (None, Some(id), None) => stored_ingest_request(relay, id).await?,
        (None, None, Some(body)) => {
            let provider = match input.provider.as_deref() {
                None => Provider::none(),
                Some(p) => Provider::parse(p).ok_or_else(|| {
                    ApiError::bad_request("invalid_body", format!("unknown provider {p}"))
                })?,
            };
            let headers = HeaderList::new(input.headers);
            let content_type = headers.get("content-type").map(str::to_string);
            Sample {
                body: body.into_bytes(),
                headers,
                content_type,
                provider,
                path: "/ep_sample".into(),
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "give one of event_id, ingest_id or body",
            ))
        }
    };
    let request = FilterInput::new(
        &sample.body,
        &sample.headers,
        &[],
        &sample.path,
        sample.provider,
    );
    let matches = selector.accepts(&request);
    // As delivery builds it (envelope.rs), without the headers the relay adds.
    let payload = envelope::route_payload(
        transform.as_ref(),
        sample.body,
        sample.headers,
        sample.content_type,
    );
    let (sent, transform_error) = match payload {
        Ok(payload) => (matches.then(|| sent_view(&payload)), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(json_response(
        200,
        &RouteTested {
            matches,
            event_type: request.event_type(),
            request: request.request(),
            sent,
            transform_error: transform_error.filter(|_| matches),
        },
    )?)
}

struct Sample {
    body: Vec<u8>,
    headers: HeaderList,
    content_type: Option<String>,
    provider: Provider,
    path: String,
}

/// What the tester shows as sent: the payload with the stored headers delivery
/// passes on (the relay's own headers are made per attempt and left out).
fn sent_view(payload: &envelope::Payload) -> Sent {
    Sent {
        headers: envelope::passed_on(&payload.headers),
        content_type: payload.content_type.clone(),
        body: std::str::from_utf8(&payload.body).ok().map(str::to_string),
        body_base64: B64.encode(&payload.body),
    }
}

/// The request of a stored event (its ingest's), from the shard that holds it.
async fn stored_event_request(relay: &Relay, raw_id: &str) -> Result<Sample, ApiError> {
    let not_found = || ApiError::not_found("event");
    let id = EventId::parse(raw_id).ok_or_else(not_found)?;
    in_holding_shard(relay, async |shard| {
        let event = events::get(&shard.db, id.as_str())
            .await?
            .ok_or_else(not_found)?;
        stored_request(shard, &event.ingest_id, "event").await
    })
    .await
}

/// The request of a stored ingest, from the shard that holds it.
async fn stored_ingest_request(relay: &Relay, raw_id: &str) -> Result<Sample, ApiError> {
    let id = IngestId::parse(raw_id).ok_or_else(|| ApiError::not_found("ingest"))?;
    in_holding_shard(relay, async |shard| {
        stored_request(shard, id.as_str(), "ingest").await
    })
    .await
}

/// A stored request as the filters saw it: its body, forwardable headers and
/// endpoint's provider; `what` names the thing asked for when it is gone.
async fn stored_request(
    relay: &Relay,
    ingest_id: &str,
    what: &'static str,
) -> Result<Sample, ApiError> {
    let not_found = || ApiError::not_found(what);
    let ingest = ingests::get(&relay.db, ingest_id)
        .await?
        .ok_or_else(not_found)?;
    let stored = bodies::get_request(&relay.bodies()?, &ingest.body_key)
        .await?
        .ok_or_else(not_found)?;
    let headers = HeaderList::of_ingest(&ingest.headers, stored.headers.as_deref())?;
    let body = stored.bytes;
    let provider = match EndpointId::parse(&ingest.endpoint_id) {
        Some(ep) => endpoints::get(&relay.db, &ep)
            .await?
            .map(|e| e.source.provider),
        None => None,
    }
    .unwrap_or(Provider::none());
    Ok(Sample {
        body,
        headers,
        content_type: ingest.content_type,
        provider,
        path: format!("/{}", ingest.endpoint_id),
    })
}

/// Filtered ingests examined per call: each is an R2 read.
pub const MAX_FILTERED_REPLAY: u32 = 100;

/// `POST /api/v1/replay` with `"status": "filtered"`: the endpoint's filtered
/// ingests (up to `limit`, oldest first) are matched against its routes as they
/// are now; each that a route accepts gets its events and is delivered. The
/// filters see the stored (forwardable) headers and no query string. Returns
/// how many were routed, and how many filtered ingests are left.
pub async fn replay_filtered(
    relay: &Relay,
    endpoint_id: &EndpointId,
    limit: u32,
) -> Result<(usize, u64), ApiError> {
    let Some(found) = endpoints::get_with_routes(&relay.db, endpoint_id).await? else {
        // A deleted or unknown endpoint routes nothing.
        return Ok((0, 0));
    };
    let (provider, routes) = (found.source.provider, &found.routes);
    let path = format!("/{endpoint_id}");
    let bucket = relay.bodies()?;
    let mut routed = 0;
    let mut pushed = Vec::new();
    let mut received = Vec::new();
    for ingest in ingests::filtered(&relay.db, endpoint_id.as_str(), limit).await? {
        let Some(stored) = bodies::get_request(&bucket, &ingest.body_key).await? else {
            continue;
        };
        let headers = HeaderList::of_ingest(&ingest.headers, stored.headers.as_deref())?;
        let body = stored.bytes;
        let request = FilterInput::new(&body, &headers, &[], &path, provider);
        let accepting: Vec<&Route> = routes
            .iter()
            .filter(|r| r.selector.as_ref().is_none_or(|s| s.accepts(&request)))
            .collect();
        if accepting.is_empty() {
            continue;
        }
        let now = now_ms();
        // Minted now, as their receipt is: ids that named the ingest would
        // date them to its arrival. The store keeps their ingest's id.
        let ids: Vec<EventId> = accepting
            .iter()
            .map(|_| EventId::generate(now as u64, random_bytes()))
            .collect();
        let events: Vec<ingests::RoutedEvent> = accepting
            .iter()
            .zip(&ids)
            .map(|(route, id)| ingests::RoutedEvent {
                id,
                route_id: &route.id,
            })
            .collect();
        if ingests::route_filtered(&relay.db, &ingest, &events, now).await? {
            routed += 1;
            received.extend(accepting.iter().zip(&ids).map(|(route, id)| {
                let event_type = ingest.event_type.as_deref();
                Change::received(
                    id.as_str(),
                    &ingest.endpoint_id,
                    route.id.as_str(),
                    event_type,
                    now,
                )
            }));
            pushed.extend(
                accepting
                    .iter()
                    .zip(&ids)
                    .filter(|(r, _)| r.destination_type == DestinationType::Push)
                    .map(|(_, id)| id.to_string()),
            );
        }
    }
    if !pushed.is_empty() {
        if let Err(err) = relay.enqueue_many(&pushed).await {
            worker::console_error!(
                "{}",
                json!({"msg": "replay enqueue failed; the sweeper will deliver", "error": err.to_string()})
            );
        }
    }
    hub::publish(relay, &received).await;
    let remaining = ingests::count_filtered(&relay.db, endpoint_id.as_str()).await?;
    Ok((routed, remaining))
}
