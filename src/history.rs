//! Reading the archive: an archived event by id, and an endpoint's archived
//! events by time, so the events API answers for events compaction moved out
//! of D1 as it does for the rest (and says which answered: `stored_in`).
//!
//! An event found in D1 always wins over an archived copy: a replay keeps an
//! event in D1, and an event compacted again after a replay is in two objects,
//! of which the newer one counts.

use crate::archive::{self, IdFilter};
use crate::event_query::EventTypeFilter;
use crate::model::EventId;
use crate::relay::Relay;
use crate::stats::hour_of;
use crate::store::archive::{self as store, ArchiveRow, ArchivedEvent};
use crate::store::bodies;
use std::collections::HashMap;
use worker::Result;

const HOUR_MS: i64 = 3_600_000;
/// Archive objects one page of the events list reads at most.
const OBJECTS_PER_PAGE: u32 = 24;

/// The archived event with this id, if the archive holds it: only the objects
/// of the hours around its id's minting whose filter may hold it are read.
pub async fn find(relay: &Relay, id: &EventId) -> Result<Option<ArchivedEvent>> {
    let Some(minted) = id.minted_at_ms() else {
        return Ok(None);
    };
    let hour = hour_of(minted);
    let rows = store::of_hours(&relay.db, hour - HOUR_MS, hour + HOUR_MS).await?;
    let candidates = rows.into_iter().filter(|r| may_hold(r, id.as_str()));
    let mut found: Option<ArchivedEvent> = None;
    for row in candidates {
        for record in read_object(relay, &row.key).await? {
            if record.event.id == id.as_str() && is_newer(&record, found.as_ref()) {
                found = Some(record);
            }
        }
    }
    Ok(found)
}

fn may_hold(row: &ArchiveRow, id: &str) -> bool {
    row.first_id.as_str() <= id
        && id <= row.last_id.as_str()
        && IdFilter::from_hex(&row.id_filter).is_none_or(|f| f.may_contain(id))
}

fn is_newer(record: &ArchivedEvent, than: Option<&ArchivedEvent>) -> bool {
    than.is_none_or(|t| record.event.updated_at > t.event.updated_at)
}

/// What the events list asks of the archive (one endpoint's events).
pub struct ArchiveQuery<'a> {
    pub endpoint_id: &'a str,
    pub route_id: Option<&'a str>,
    pub event_type: Option<&'a EventTypeFilter>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub before_id: Option<&'a str>,
    pub limit: u32,
}

/// Up to `limit` of the endpoint's archived events that pass the query, newest
/// id first. Objects are read newest hour first until the page is full and
/// no object left can hold a newer event (ids are minted at receipt, so an
/// object an hour older holds older ids), reading at most
/// [`OBJECTS_PER_PAGE`]; the list's cursor goes on from the last event.
pub async fn page(relay: &Relay, q: &ArchiveQuery<'_>) -> Result<Vec<ArchivedEvent>> {
    let from_hour = q.since_ms.map_or(0, hour_of);
    let before_hour = q
        .before_id
        .and_then(EventId::parse)
        .and_then(|id| id.minted_at_ms())
        .map(|t| hour_of(t) + HOUR_MS);
    let until_hour = q.until_ms.map(|t| hour_of(t - 1));
    let to_hour = match (before_hour, until_hour) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(i64::MAX / 2),
    };
    let rows = store::of_endpoint(
        &relay.db,
        q.endpoint_id,
        from_hour,
        to_hour,
        OBJECTS_PER_PAGE,
    )
    .await?;
    let mut kept: HashMap<String, ArchivedEvent> = HashMap::new();
    for row in rows {
        if enough(&kept, q.limit, row.hour as i64) {
            break;
        }
        for record in read_object(relay, &row.key).await? {
            if passes(&record, q) && is_newer(&record, kept.get(&record.event.id)) {
                kept.insert(record.event.id.clone(), record);
            }
        }
    }
    let mut events: Vec<ArchivedEvent> = kept.into_values().collect();
    events.sort_by(|a, b| b.event.id.cmp(&a.event.id));
    events.truncate(q.limit as usize);
    Ok(events)
}

/// Whether the page is full and an object of `hour` cannot change it: every
/// event it holds was received in that hour, so its ids were minted before
/// the end of it, earlier than the page's oldest event by more than an hour.
fn enough(kept: &HashMap<String, ArchivedEvent>, limit: u32, hour: i64) -> bool {
    if kept.len() < limit as usize {
        return false;
    }
    let mut received: Vec<f64> = kept.values().map(|r| r.event.received_at).collect();
    received.sort_by(|a, b| b.total_cmp(a));
    received
        .get(limit as usize - 1)
        .is_some_and(|&t| hour + HOUR_MS < hour_of(t as i64))
}

fn passes(record: &ArchivedEvent, q: &ArchiveQuery<'_>) -> bool {
    let e = &record.event;
    let received = e.received_at as i64;
    q.route_id.is_none_or(|r| e.route_id == r)
        && q.event_type
            .is_none_or(|f| e.event_type.as_deref().is_some_and(|t| f.matches(t)))
        && q.since_ms.is_none_or(|t| received >= t)
        && q.until_ms.is_none_or(|t| received < t)
        && q.before_id.is_none_or(|b| e.id.as_str() < b)
}

/// The records of one archive object (none when the object is gone).
async fn read_object(relay: &Relay, key: &str) -> Result<Vec<ArchivedEvent>> {
    let Some(bytes) = bodies::get(&relay.bodies()?, key).await? else {
        return Ok(Vec::new());
    };
    let lines = archive::decode(&bytes, archive::MAX_OBJECT_BYTES)
        .map_err(|e| worker::Error::RustError(format!("archive object {key}: {e}")))?;
    lines
        .iter()
        .map(|l| serde_json::from_str(l).map_err(worker::Error::from))
        .collect()
}
