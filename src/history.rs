//! Reading the archive: an archived event by id, an endpoint's archived
//! events by time, and which dedup keys it holds (for catch-up), so the events API answers for events compaction moved out
//! of D1 as it does for the rest (and says which answered: `stored_in`).
//!
//! An event found in D1 always wins over an archived copy: a replay keeps an
//! event in D1, and an event compacted again after a replay is in two objects,
//! of which the newer one counts.

use crate::archive::{self, IdFilter};
use crate::event_query::EventTypeFilter;
use crate::model::{EventId, RouteRef};
use crate::relay::Relay;
use crate::stats::hour_of;
use crate::store::archive::{self as store, ArchiveRow, ArchivedEvent};
use crate::store::bodies;
use std::collections::{HashMap, HashSet};
use worker::Result;

const HOUR_MS: i64 = 3_600_000;
/// Archive rows one page looks at (rows are small; objects are what cost).
const ROWS_PER_PAGE: u32 = 500;
/// Archive rows a catch-up looks at for one page of the provider's events
/// (a few days of one endpoint's objects).
const CATCH_UP_ROWS: u32 = 5_000;

/// An archived event, and the object it was read from.
pub struct Archived {
    pub record: ArchivedEvent,
    pub object_key: String,
}

/// The archived event with this id, if the archive holds it (its newest copy:
/// an event replayed and compacted again is in two objects): only the objects
/// of the hours around its id's minting whose filter may hold it are read.
pub async fn find(relay: &Relay, id: &EventId) -> Result<Option<Archived>> {
    let Some(minted) = id.minted_at_ms() else {
        return Ok(None);
    };
    let hour = hour_of(minted);
    let rows = store::of_hours(&relay.db, hour - HOUR_MS, hour + HOUR_MS).await?;
    let candidates = rows.into_iter().filter(|r| may_hold(r, id.as_str()));
    let mut found: Option<Archived> = None;
    for row in candidates {
        for record in read_object(relay, &row.key).await? {
            if record.event.id == *id && is_newer(&record, found.as_ref().map(|f| &f.record)) {
                found = Some(Archived {
                    record,
                    object_key: row.key.clone(),
                });
            }
        }
    }
    Ok(found)
}

/// Which of `keys` (dedup keys of the endpoint) the archive holds, among the
/// objects of events received in `[from_ms, to_ms]`: only objects whose filter
/// may hold one of them are read.
pub async fn held_dedup_keys(
    relay: &Relay,
    endpoint_id: &str,
    keys: &[String],
    from_ms: i64,
    to_ms: i64,
) -> Result<HashSet<String>> {
    let mut held = HashSet::new();
    if keys.is_empty() {
        return Ok(held);
    }
    let rows = store::of_endpoint(
        &relay.db,
        endpoint_id,
        hour_of(from_ms),
        hour_of(to_ms),
        CATCH_UP_ROWS,
    )
    .await?;
    for row in rows {
        let Some(filter) = IdFilter::from_hex(&row.id_filter) else {
            continue;
        };
        if !keys
            .iter()
            .any(|k| !held.contains(k) && filter.may_contain(k))
        {
            continue;
        }
        for record in read_object(relay, &row.key).await? {
            if keys.contains(&record.event.dedup_key) {
                held.insert(record.event.dedup_key);
            }
        }
    }
    Ok(held)
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
    pub route_id: Option<&'a RouteRef>,
    pub event_type: Option<&'a EventTypeFilter>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub before_id: Option<&'a str>,
    pub limit: u32,
}

/// Up to `limit` of the endpoint's archived events that pass the query, newest
/// id first. Objects are read newest first (by hour, then by their last id);
/// an object whose ids are all below the page's current last is skipped, and
/// the walk ends once the page is full and no object left can hold a newer
/// event (ids are minted at receipt, so an object an hour older holds older
/// ids). At most `ARCHIVE_PAGE_OBJECTS` objects are read: a page cut short holds
/// only events newer than every object left unread, so the list's cursor,
/// which goes on from the last event, skips nothing.
pub async fn page(relay: &Relay, q: &ArchiveQuery<'_>) -> Result<ArchivePage> {
    let from_hour = q.since_ms.map_or(0, hour_of);
    let before_hour = q
        .before_id
        .and_then(EventId::parse)
        .and_then(|id| id.minted_at_ms())
        .map(|t| hour_of(t) + HOUR_MS);
    let until_hour = q.until_ms.map(|t| hour_of(t - 1) + HOUR_MS);
    let to_hour = match (before_hour, until_hour) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(i64::MAX / 2),
    };
    let rows =
        store::of_endpoint(&relay.db, q.endpoint_id, from_hour, to_hour, ROWS_PER_PAGE).await?;
    let mut kept: HashMap<EventId, ArchivedEvent> = HashMap::new();
    let mut read = 0;
    let mut unread_above: Option<EventId> = None;
    let mut walked_all = true;
    for row in &rows {
        if q.before_id.is_some_and(|b| row.first_id.as_str() >= b) {
            continue;
        }
        let floor = page_floor(&kept, q.limit);
        if floor.as_ref().is_some_and(|(id, _)| row.last_id <= *id) {
            continue;
        }
        if floor.is_some_and(|(_, received)| row.hour as i64 + HOUR_MS < hour_of(received)) {
            walked_all = false;
            break;
        }
        if read == relay.settings.archive_page_objects {
            let highest = unread_above.get_or_insert_with(|| row.last_id.clone());
            if row.last_id > *highest {
                *highest = row.last_id.clone();
            }
            continue;
        }
        read += 1;
        for record in read_object(relay, &row.key).await? {
            if passes(&record, q) && is_newer(&record, kept.get(&record.event.id)) {
                kept.insert(record.event.id.clone(), record);
            }
        }
        keep_newest(&mut kept, q.limit);
    }
    // Rows past the first ROWS_PER_PAGE are older hours, or the same hour with
    // smaller last ids: none holds an id above the last row's.
    if walked_all && rows.len() == ROWS_PER_PAGE as usize {
        if let Some(last) = rows.last() {
            if unread_above.as_ref().is_none_or(|u| last.last_id > *u) {
                unread_above = Some(last.last_id.clone());
            }
        }
    }
    let mut events: Vec<ArchivedEvent> = kept
        .into_values()
        .filter(|r| unread_above.as_ref().is_none_or(|u| r.event.id > *u))
        .collect();
    events.sort_by(|a, b| b.event.id.cmp(&a.event.id));
    events.truncate(q.limit as usize);
    Ok(ArchivePage {
        events,
        unread_up_to: unread_above,
    })
}

/// One page of an endpoint's archived events.
pub struct ArchivePage {
    /// Newest id first.
    pub events: Vec<ArchivedEvent>,
    /// The page was cut short: objects holding ids up to this one are left
    /// unread. The page (D1's rows too) holds only newer ids, and the next
    /// one starts here.
    pub unread_up_to: Option<EventId>,
}

/// Drops all but the `limit` newest ids (a page never shows more).
fn keep_newest(kept: &mut HashMap<EventId, ArchivedEvent>, limit: u32) {
    if kept.len() <= limit as usize {
        return;
    }
    let mut ids: Vec<EventId> = kept.keys().cloned().collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    for id in ids.into_iter().skip(limit as usize) {
        kept.remove(&id);
    }
}

/// When the page is full: the id and receipt of its last (oldest) event.
fn page_floor(kept: &HashMap<EventId, ArchivedEvent>, limit: u32) -> Option<(EventId, i64)> {
    if kept.len() < limit as usize {
        return None;
    }
    let mut ids: Vec<(&EventId, f64)> = kept
        .iter()
        .map(|(id, r)| (id, r.event.received_at))
        .collect();
    ids.sort_by(|a, b| b.0.cmp(a.0));
    ids.get(limit as usize - 1)
        .map(|(id, received)| ((*id).clone(), *received as i64))
}

fn passes(record: &ArchivedEvent, q: &ArchiveQuery<'_>) -> bool {
    let e = &record.event;
    let received = e.received_at as i64;
    q.route_id.is_none_or(|r| *r == e.route_id)
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
