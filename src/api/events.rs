//! `/api/v1/events` and `/api/v1/replay`: every event, its attempts and its body,
//! and replay (one, or every dead event of an endpoint). The list filters by
//! endpoint, status, event type, receipt time and id or provider delivery id
//! (`event_query` checks those), newest first, with a cursor.
//!
//! Events compaction moved to the R2 archive answer too (`history`): by id,
//! with their body, and in an endpoint's list, merged with D1's rows by id;
//! each answer says where it was read from (`stored_in`).
//!
//! Replay moves `dead` (or `delivered`) back to `received`: the attempt history is
//! kept and numbering continues; the retry schedule starts over.

use super::newest_across_shards;
use super::{endpoint_query, limit_query, next_cursor, parsed_query, query, read_json, routes};
use crate::error::{json_response, ApiError};
use crate::event_query;
use crate::history::{self, ArchivePage, ArchiveQuery, Archived};
use crate::hub;
use crate::inputs::ReplayInput;
use crate::live::Change;
use crate::model::{EndpointId, EventId, IngestSource, RouteRef, Status};
use crate::relay::{now_ms, Relay};
use crate::store::archive::{self, ArchivedEvent};
use crate::store::attempts::{self, AttemptRow};
use crate::store::events::{self, EventRow, ListFilter};
use crate::store::{bodies, ingests};
use crate::time::iso8601;
use crate::views::{AttemptView, EventDetail, EventView, Page, Replayed, Requeued, StoredIn};
use serde_json::json;
use worker::{console_error, Headers, Response, Url};

pub(super) const DEFAULT_PAGE: u32 = 50;
pub(super) const MAX_PAGE: u32 = 200;
const DEFAULT_BULK_REPLAY: u32 = 1_000;
const MAX_BULK_REPLAY: u32 = 5_000;

pub async fn list(relay: &Relay, url: &Url) -> Result<Response, ApiError> {
    let endpoint_id = endpoint_query(url)?;
    let route_id = parsed_query(
        url,
        "route_id",
        RouteRef::parse,
        "route_id is not an ep_ or rt_ id",
    )?;
    let status = query(url, "status")
        .map(|raw| {
            Status::parse(&raw).ok_or_else(|| invalid_query(format!("unknown status {raw}")))
        })
        .transpose()?;
    let cursor = parsed_query(url, "cursor", EventId::parse, "cursor is not an event id")?;
    let limit = limit_query(url, DEFAULT_PAGE, MAX_PAGE)?;
    let event_type = query(url, "event_type")
        .map(|raw| event_query::parse_event_type(&raw).map_err(invalid_query))
        .transpose()?;
    let instant = |name: &str| {
        query(url, name)
            .map(|raw| {
                event_query::parse_instant(&raw).ok_or_else(|| {
                    invalid_query(format!(
                        "{name} must be an RFC 3339 time, a date (YYYY-MM-DD) or unix milliseconds"
                    ))
                })
            })
            .transpose()
    };
    let since_ms = instant("since")?;
    let until_ms = instant("until")?;
    if let (Some(since), Some(until)) = (since_ms, until_ms) {
        if until <= since {
            return Err(invalid_query("until must be later than since"));
        }
    }
    let lookup = query(url, "q")
        .map(|raw| event_query::parse_lookup(&raw).map_err(invalid_query))
        .transpose()?;
    let filter = ListFilter {
        endpoint_id: endpoint_id.as_ref().map(EndpointId::as_str),
        route_id: route_id.as_ref(),
        status,
        event_type: event_type.as_ref(),
        since_ms,
        until_ms,
        lookup: lookup.as_ref(),
        before_id: cursor.as_ref().map(EventId::as_str),
        limit,
    };
    // One endpoint's or route's events are in its shard; the others, in
    // every shard (the archive is read for one endpoint's only).
    let scope = endpoint_id
        .as_ref()
        .map(EndpointId::as_str)
        .or(route_id.as_ref().map(RouteRef::as_str));
    let relay = &match scope {
        Some(id) => relay.for_endpoint(id).await?,
        None => relay.on(relay.shard())?,
    };
    let live = match scope {
        Some(_) => events::list(&relay.db, &filter).await?,
        None => {
            let page = async |shard: &Relay| Ok(events::list(&shard.db, &filter).await?);
            newest_across_shards(relay, limit, page, |r| r.id.as_str()).await?
        }
    };
    let archived = match archive_query(&filter, status) {
        Some(q) => history::page(relay, &q).await?,
        None => ArchivePage {
            events: Vec::new(),
            unread_up_to: None,
        },
    };
    let unread_up_to = archived.unread_up_to.as_ref();
    let rows: Vec<(EventRow, StoredIn)> = merge_newest_first(live, archived.events, limit)
        .into_iter()
        .filter(|(r, _)| unread_up_to.is_none_or(|u| r.id > *u))
        .collect();
    // A page the archive cut short goes on from the newest id it left unread.
    let next_cursor = next_cursor(&rows, limit, |(r, _)| &r.id).or_else(|| {
        unread_up_to
            .and_then(EventId::successor)
            .map(|id| id.to_string())
    });
    let data: Vec<EventView> = rows
        .iter()
        .map(|(row, stored_in)| view(row, *stored_in))
        .collect();
    Ok(json_response(200, &Page { data, next_cursor })?)
}

pub async fn get(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    // The ingest's `headers` column and its body's key.
    let (row, attempts, kept, stored_in) = match find(relay, raw_id).await? {
        Found::Live(row) => {
            let attempts = attempts::list(&relay.db, &row.id).await?;
            let ingest = ingests::get(&relay.db, &row.ingest_id).await?;
            let kept = ingest.map(|i| (i.headers, i.body_key));
            (row, attempts, kept, StoredIn::D1)
        }
        Found::Archived(a) => (
            a.record.event,
            a.record.attempts,
            Some((a.record.headers, a.record.body_key)),
            StoredIn::Archive,
        ),
    };
    let headers = match kept {
        Some((column, body_key)) => {
            bodies::ingest_headers(&relay.bodies()?, &column, &body_key).await?
        }
        None => None,
    }
    .unwrap_or_default();
    let detail = EventDetail {
        event: view(&row, stored_in),
        headers,
        attempts: attempts.iter().map(attempt_view).collect(),
    };
    Ok(json_response(200, &detail)?)
}

/// The stored body, byte for byte, with its original content type.
pub async fn body(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let (body_key, content_type) = match find(relay, raw_id).await? {
        Found::Live(row) => {
            let ingest = ingests::get(&relay.db, &row.ingest_id)
                .await?
                .ok_or_else(|| ApiError::not_found("event body"))?;
            (ingest.body_key, ingest.content_type)
        }
        Found::Archived(a) => (a.record.body_key, a.record.event.content_type),
    };
    let bytes = bodies::get(&relay.bodies()?, &body_key)
        .await?
        .ok_or_else(|| ApiError::not_found("event body"))?;
    let headers = Headers::new();
    headers.set(
        "content-type",
        content_type
            .as_deref()
            .unwrap_or("application/octet-stream"),
    )?;
    Ok(Response::from_bytes(bytes)?.with_headers(headers))
}

pub async fn replay_one(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let row = match find(relay, raw_id).await? {
        Found::Live(row) => row,
        Found::Archived(a) => return replay_archived(relay, a).await,
    };
    if !events::replay_one(&relay.db, &row.id, now_ms()).await? {
        return Err(ApiError::new(
            409,
            "event_in_flight",
            format!(
                "event {} is {}; only dead or delivered events can be replayed",
                row.id, row.status
            ),
        ));
    }
    let sent = relay.enqueue(&row.id, 0).await;
    log_enqueue_failure(sent);
    hub::publish(relay, &[replayed(&row)]).await;
    Ok(json_response(
        202,
        &Requeued {
            id: row.id,
            status: Status::Received,
        },
    )?)
}

/// A replayed event, as the live stream is told of it: `received` again.
fn replayed(row: &EventRow) -> Change {
    Change::new(
        &row.id,
        &row.endpoint_id,
        &row.route_id,
        Status::Received.as_str(),
        row.event_type.as_deref(),
        row.attempt_count as u32,
        now_ms(),
    )
}

/// Replays an archived event: back into D1 as `received` (its attempts and
/// their numbering kept), then delivered like any replay.
async fn replay_archived(relay: &Relay, a: Archived) -> Result<Response, ApiError> {
    let id = a.record.event.id.clone();
    if !archive::restore(&relay.db, &a.record, &a.object_key, now_ms()).await? {
        return Err(ApiError::new(
            409,
            "event_in_flight",
            format!("event {id} is being replayed already"),
        ));
    }
    let sent = relay.enqueue(&id, 0).await;
    log_enqueue_failure(sent);
    hub::publish(relay, &[replayed(&a.record.event)]).await;
    Ok(json_response(
        202,
        &Requeued {
            id,
            status: Status::Received,
        },
    )?)
}

/// Replays up to `limit` (default 1,000, at most 5,000) dead events, oldest first;
/// call again while `remaining` is above zero.
pub async fn replay_bulk(relay: &Relay, req: worker::Request) -> Result<Response, ApiError> {
    let input: ReplayInput = read_json(req).await?;
    if input.status == "filtered" {
        return replay_filtered(relay, input).await;
    }
    if input.status != "dead" {
        return Err(ApiError::bad_request(
            "invalid_replay",
            "only status \"dead\" or \"filtered\" can be replayed in bulk",
        ));
    }
    let endpoint_id = input
        .endpoint_id
        .map(|raw| {
            EndpointId::parse(&raw).ok_or_else(|| {
                ApiError::bad_request("invalid_replay", "endpoint_id is not an ep_ id")
            })
        })
        .transpose()?;
    let route_id = input
        .route_id
        .map(|raw| {
            RouteRef::parse(&raw).ok_or_else(|| {
                ApiError::bad_request("invalid_replay", "route_id is not an ep_ or rt_ id")
            })
        })
        .transpose()?;
    let limit = input
        .limit
        .unwrap_or(DEFAULT_BULK_REPLAY)
        .clamp(1, MAX_BULK_REPLAY);
    let endpoint = endpoint_id.as_ref().map(EndpointId::as_str);
    let route = route_id.as_ref();
    // One endpoint's or route's dead events are in its shard; the others, in
    // every shard, taken in turn up to the limit.
    let shards = relay
        .for_scope(endpoint.or(route.map(RouteRef::as_str)))
        .await?;
    let (mut replayed, mut remaining) = (0, 0);
    for shard in &shards {
        let left = limit.saturating_sub(replayed as u32);
        let (ids, dead) = replay_dead_in(shard, endpoint, route, left).await?;
        replayed += ids;
        remaining += dead;
    }
    Ok(json_response(
        202,
        &Replayed {
            replayed,
            remaining,
        },
    )?)
}

/// Replays up to `limit` dead events of the shard `relay` works in (of one
/// endpoint or route, when named); how many, and how many dead are left.
async fn replay_dead_in(
    relay: &Relay,
    endpoint: Option<&str>,
    route: Option<&RouteRef>,
    limit: u32,
) -> Result<(usize, u64), ApiError> {
    let replayed = match limit {
        0 => Vec::new(),
        _ => events::replay_dead(&relay.db, endpoint, route, limit, now_ms()).await?,
    };
    let ids: Vec<EventId> = replayed.iter().map(|r| r.id.clone()).collect();
    if !ids.is_empty() {
        let sent = relay.enqueue_many(&ids).await;
        log_enqueue_failure(sent);
        hub::publish(relay, &events::changes_at(&replayed, now_ms())).await;
    }
    let remaining = match route {
        Some(route) => events::route_counts(&relay.db, route).await?.dead as u64,
        None => events::counts(&relay.db, endpoint).await?.dead as u64,
    };
    Ok((ids.len(), remaining))
}

/// Routes an endpoint's filtered ingests that its routes now accept.
async fn replay_filtered(relay: &Relay, input: ReplayInput) -> Result<Response, ApiError> {
    let invalid = |m: &str| ApiError::bad_request("invalid_replay", m);
    if input.route_id.is_some() {
        return Err(invalid(
            "a filtered ingest has no route yet: give endpoint_id",
        ));
    }
    let endpoint_id = input
        .endpoint_id
        .as_deref()
        .and_then(EndpointId::parse)
        .ok_or_else(|| invalid("replaying filtered ingests needs the endpoint_id (an ep_ id)"))?;
    let limit = input
        .limit
        .unwrap_or(routes::MAX_FILTERED_REPLAY)
        .clamp(1, routes::MAX_FILTERED_REPLAY);
    let relay = &relay.for_endpoint(endpoint_id.as_str()).await?;
    let (routed, remaining) = routes::replay_filtered(relay, &endpoint_id, limit).await?;
    Ok(json_response(
        202,
        &Replayed {
            replayed: routed,
            remaining,
        },
    )?)
}

/// The sweeper delivers replayed events whose message was lost, so a failed send
/// is not an error for the caller.
fn log_enqueue_failure(result: worker::Result<()>) {
    if let Err(err) = result {
        console_error!(
            "{}",
            json!({"msg": "replay enqueue failed; the sweeper will deliver", "error": err.to_string()})
        );
    }
}

enum Found {
    Live(EventRow),
    Archived(Archived),
}

/// The event from D1, or else from the archive; `404` when neither holds it.
async fn find(relay: &Relay, raw_id: &str) -> Result<Found, ApiError> {
    let id = EventId::parse(raw_id).ok_or_else(|| ApiError::not_found("event"))?;
    if let Some(row) = events::get(&relay.db, id.as_str()).await? {
        return Ok(Found::Live(row));
    }
    match history::find(relay, &id).await? {
        Some(a) => Ok(Found::Archived(a)),
        None => Err(ApiError::not_found("event")),
    }
}

/// The archive's part of an events list: one endpoint's delivered events, and
/// only when the list does not look up ids or delivery ids (those the archive
/// answers by id, through `GET /events/{id}`).
fn archive_query<'a>(f: &ListFilter<'a>, status: Option<Status>) -> Option<ArchiveQuery<'a>> {
    let delivered = status.is_none_or(|s| s == Status::Delivered);
    if !delivered || f.lookup.is_some() {
        return None;
    }
    Some(ArchiveQuery {
        endpoint_id: f.endpoint_id?,
        route_id: f.route_id,
        event_type: f.event_type,
        since_ms: f.since_ms,
        until_ms: f.until_ms,
        before_id: f.before_id,
        limit: f.limit,
    })
}

/// The page: D1's rows and the archive's, newest id first, an event in both
/// shown as D1 has it.
fn merge_newest_first(
    live: Vec<EventRow>,
    archived: Vec<ArchivedEvent>,
    limit: u32,
) -> Vec<(EventRow, StoredIn)> {
    let in_d1: std::collections::HashSet<EventId> = live.iter().map(|r| r.id.clone()).collect();
    let mut rows: Vec<(EventRow, StoredIn)> = live.into_iter().map(|r| (r, StoredIn::D1)).collect();
    rows.extend(
        archived
            .into_iter()
            .filter(|a| !in_d1.contains(&a.event.id))
            .map(|a| (a.event, StoredIn::Archive)),
    );
    rows.sort_by(|a, b| b.0.id.cmp(&a.0.id));
    rows.truncate(limit as usize);
    rows
}

fn view(row: &EventRow, stored_in: StoredIn) -> EventView {
    let in_flight = Status::parse(&row.status).is_some_and(Status::is_in_flight);
    EventView {
        id: row.id.clone(),
        endpoint_id: row.endpoint_id.clone(),
        route_id: row.route_id.clone(),
        status: row.status.clone(),
        attempt_count: row.attempt_count as i64,
        received_at: iso8601(row.received_at as i64),
        updated_at: iso8601(row.updated_at as i64),
        next_attempt_at: in_flight.then(|| iso8601(row.next_attempt_at as i64)),
        delivered_at: row.delivered_at.map(|t| iso8601(t as i64)),
        dead_reason: row.dead_reason.clone(),
        last_error: row.last_error.clone(),
        dedup_key: row.dedup_key.clone(),
        content_type: row.content_type.clone(),
        body_size: row.body_size as i64,
        event_type: row.event_type.clone(),
        source: IngestSource::from_stored(row.source.as_deref()).as_str(),
        stored_in,
    }
}

fn attempt_view(a: &AttemptRow) -> AttemptView {
    AttemptView {
        number: a.number as i64,
        started_at: iso8601(a.started_at as i64),
        duration_ms: a.duration_ms as i64,
        status_code: a.status_code.map(|c| c as i64),
        outcome: a.outcome.clone(),
        error: a.error.clone(),
        response_snippet: a.response_snippet.clone(),
    }
}

fn invalid_query(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_query", message)
}
