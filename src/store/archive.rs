//! The `archives` table and the D1 side of compaction: which delivered events
//! leave D1, the batch that removes them once their archive object is in R2,
//! and the index rows that find archived events again.
//!
//! An event leaves D1 only in the batch that records the object holding it,
//! and only if it is still as it was chosen (delivered, untouched since before
//! the hot window's cutoff): a replay in the meantime keeps it in D1, where
//! reads look first. Its attempts go with it; its ingest goes once no event of
//! the ingest is left, and the archive row counts it, so the request counts
//! stay whole (`received = routed + filtered`).

use super::attempts::AttemptRow;
use super::events::EventRow;
use super::{bind, int, text, Db, Stmt};
use crate::model::{EndpointId, EventId, RouteRef};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::Result;

/// An event as an archive object holds it: the event as the API lists it, its
/// ingest's stored parts, and its attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedEvent {
    #[serde(flatten)]
    pub event: EventRow,
    pub body_key: String,
    pub body_sha256: String,
    /// The forwardable headers, as the ingest stored them (a JSON array).
    pub headers: String,
    pub attempts: Vec<AttemptRow>,
}

#[derive(Deserialize)]
struct RecordRow {
    record: String,
}

/// Up to `limit` delivered events last changed before `cutoff_ms`, oldest
/// change first, each as the JSON line of its archive record.
pub async fn compactable(db: &Db, cutoff_ms: i64, limit: u32) -> Result<Vec<String>> {
    let rows: Vec<RecordRow> = bind(
        db.prepare(COMPACTABLE),
        &[int(cutoff_ms), int(i64::from(limit))],
    )?
    .all()
    .await?
    .results()?;
    Ok(rows.into_iter().map(|r| r.record).collect())
}

/// The statement of [`compactable`]: ?1 = the cutoff, ?2 = the limit. A range
/// over the partial `events_delivered_changed (updated_at) WHERE status =
/// 'delivered'`, in its order (an event
/// is delivered at its last change, so it leaves D1 a hot window after its
/// delivery); its ingest by id and its attempts in number order (the earlier
/// by primary key, the latest from the event's row), built into one JSON
/// object by D1 (`json(..)` keeps the attempts an
/// array rather than a string).
pub(crate) const COMPACTABLE: &str = concat!(
    "SELECT json_object( \
       'id', e.id, 'ingest_id', e.ingest_id, 'endpoint_id', e.endpoint_id, 'route_id', e.route_id, \
       'status', e.status, 'attempt_count', e.attempt_count, 'next_attempt_at', e.next_attempt_at, \
       'last_error', e.last_error, 'dead_reason', e.dead_reason, 'received_at', e.received_at, \
       'updated_at', e.updated_at, 'delivered_at', e.delivered_at, 'dedup_key', i.dedup_key, \
       'content_type', i.content_type, 'body_size', i.body_size, 'event_type', i.event_type, \
       'source', i.source, 'body_key', i.body_key, 'body_sha256', i.body_sha256, 'headers', i.headers, \
       'attempts', json((SELECT json_group_array(json_object( \
           'number', a.number, 'started_at', a.started_at, 'duration_ms', a.duration_ms, \
           'status_code', a.status_code, 'outcome', a.outcome, 'error', a.error, \
           'response_snippet', a.response_snippet)) \
         FROM (",
    attempts_of_event!("e.id"),
    ") a))) AS record \
     FROM events e JOIN ingests i ON i.id = e.ingest_id \
     WHERE e.status = 'delivered' AND e.updated_at < ?1 \
     ORDER BY e.updated_at LIMIT ?2"
);

/// One archive object as its `archives` row records it.
pub struct NewArchive<'a> {
    pub key: &'a str,
    pub endpoint_id: &'a str,
    pub route_id: &'a str,
    pub hour_ms: i64,
    /// When the newest event inside was received: retention goes by it.
    pub last_received_at: i64,
    pub first_id: &'a str,
    pub last_id: &'a str,
    pub id_filter: &'a str,
    /// The ids inside, as a JSON array.
    pub event_ids_json: &'a str,
}

/// Whether a chosen event (?1 a JSON array of ids) is still as compaction
/// chose it: delivered, and last changed before the cutoff (?2). A replay
/// since then changed it after the cutoff.
const STILL_COMPACTABLE: &str = "SELECT events.id FROM json_each(?1) chosen \
     CROSS JOIN events ON events.id = chosen.value \
     WHERE events.status = 'delivered' AND events.updated_at < ?2";

/// Records the written objects and removes their events still as chosen, with
/// their attempts and the ingests they leave empty, in one batch. The first
/// object's row counts the ingests removed. `ingest_ids_json` is every chosen
/// event's ingest id.
pub async fn commit(
    db: &Db,
    objects: &[NewArchive<'_>],
    all_ids_json: &str,
    ingest_ids_json: &str,
    cutoff_ms: i64,
    now_ms: i64,
) -> Result<usize> {
    let Some(first) = objects.first() else {
        return Ok(0);
    };
    let mut statements: Vec<Stmt> = Vec::with_capacity(objects.len() + 4);
    for o in objects {
        statements.push(bind(
            db.prepare(INSERT_ARCHIVE),
            &[
                text(o.event_ids_json),
                int(cutoff_ms),
                text(o.key),
                text(o.endpoint_id),
                text(o.route_id),
                int(o.hour_ms),
                text(o.first_id),
                text(o.last_id),
                text(o.id_filter),
                int(now_ms),
                int(o.last_received_at),
            ],
        )?);
    }
    let chosen = [text(all_ids_json), int(cutoff_ms)];
    statements.push(bind(db.prepare(delete_attempts_sql()), &chosen)?);
    statements.push(bind(db.prepare(delete_events_sql()), &chosen)?);
    let deleted_index = statements.len() - 1;
    statements.push(bind(
        db.prepare(COUNT_EMPTIED_INGESTS),
        &[text(ingest_ids_json), text(first.key)],
    )?);
    statements.push(bind(
        db.prepare(super::ingests::DELETE_EMPTIED_SEARCH_VALUES),
        &[text(ingest_ids_json)],
    )?);
    statements.push(bind(
        db.prepare(super::ingests::DELETE_EMPTIED_DEDUP_KEYS),
        &[text(ingest_ids_json)],
    )?);
    statements.push(bind(
        db.prepare(DELETE_EMPTIED_INGESTS),
        &[text(ingest_ids_json)],
    )?);
    let results = db.batch(statements).await?;
    match results.get(deleted_index) {
        Some(r) => super::changes(r),
        None => Ok(0),
    }
}

/// ?1 = the object's ids, ?2 = the cutoff, ?3.. its fields: `events` counts
/// only those still as chosen, which the same batch then removes.
pub(crate) const INSERT_ARCHIVE: &str = "INSERT INTO archives \
       (key, endpoint_id, route_id, hour, first_id, last_id, events, id_filter, created_at, \
        last_received_at) \
     SELECT ?3, ?4, ?5, ?6, ?7, ?8, COUNT(*), ?9, ?10, ?11 FROM (\
       SELECT events.id FROM json_each(?1) chosen CROSS JOIN events ON events.id = chosen.value \
       WHERE events.status = 'delivered' AND events.updated_at < ?2)";

pub(crate) fn delete_attempts_sql() -> String {
    format!("DELETE FROM attempts WHERE event_id IN ({STILL_COMPACTABLE})")
}

pub(crate) fn delete_events_sql() -> String {
    format!("DELETE FROM events WHERE id IN ({STILL_COMPACTABLE})")
}

/// The chosen ingests (?1) no event is left for, counted on the row ?2.
pub(crate) const COUNT_EMPTIED_INGESTS: &str = concat!(
    "UPDATE archives SET ingests = (\
       SELECT COUNT(*) FROM ingests WHERE id IN (SELECT value FROM json_each(?1)) \
         AND NOT EXISTS (SELECT 1 FROM events e WHERE ",
    event_of_ingest!("e", "ingests.id"),
    ")) WHERE key = ?2"
);

/// The chosen ingests (?1) no event is left for. Their bodies stay in R2: the
/// archive's records point at them until retention removes both.
pub(crate) const DELETE_EMPTIED_INGESTS: &str = concat!(
    "DELETE FROM ingests WHERE id IN (SELECT value FROM json_each(?1)) \
     AND NOT EXISTS (SELECT 1 FROM events e WHERE ",
    event_of_ingest!("e", "ingests.id"),
    ")"
);

/// Puts an archived event back into D1 as `received`, to be delivered again
/// (a replay): its ingest (if no other event kept it in D1), the event with
/// its attempt count and receipt, and its attempts, in one batch that also
/// takes it out of the counts of the archive object it was read from (the
/// object keeps its copy; reads prefer D1's). `false` when the event is in
/// D1 already (a replay raced this one).
pub async fn restore(db: &Db, a: &ArchivedEvent, object_key: &str, now_ms: i64) -> Result<bool> {
    let e = &a.event;
    let attempts = serde_json::to_string(&a.attempts)?;
    let statements = vec![
        bind(
            db.prepare(UNCOUNT_RESTORED),
            &[text(object_key), text(&e.id), text(&e.ingest_id)],
        )?,
        bind(
            db.prepare(RESTORE_INGEST),
            &[
                text(&e.ingest_id),
                text(&e.endpoint_id),
                text(&e.dedup_key),
                text(&a.body_key),
                JsValue::from_f64(e.body_size),
                text(&a.body_sha256),
                super::opt_text(e.content_type.as_deref()),
                text(&a.headers),
                JsValue::from_f64(e.received_at),
                super::opt_text(e.event_type.as_deref()),
                text(&e.id),
                super::opt_text(e.source.as_deref()),
            ],
        )?,
        bind(
            db.prepare(RESTORE_EVENT),
            &[
                text(&e.id),
                text(&e.ingest_id),
                text(&e.endpoint_id),
                text(&e.route_id),
                JsValue::from_f64(e.attempt_count),
                int(now_ms),
                super::opt_text(e.last_error.as_deref()),
                JsValue::from_f64(e.received_at),
                super::opt_int(e.delivered_at.map(|t| t as i64)),
            ],
        )?,
        bind(
            db.prepare(RESTORE_ATTEMPTS),
            &[text(&e.id), text(&attempts)],
        )?,
        bind(
            db.prepare(RESTORE_DEDUP_KEY),
            &[text(&e.ingest_id), text(&e.endpoint_id), text(&e.dedup_key)],
        )?,
    ];
    let results = db.batch(statements).await?;
    match results.get(2) {
        Some(r) => Ok(super::changes(r)? > 0),
        None => Ok(false),
    }
}

/// ?1 = the object, ?2 = the event, ?3 = its ingest: the object counts the
/// event no more, nor its ingest when the restore brings that back (another
/// object of the same batch may hold the count of that ingest; the sums per
/// endpoint stay exact). Only while the event is not in D1 already.
pub(crate) const UNCOUNT_RESTORED: &str = "UPDATE archives SET events = events - 1,        ingests = ingests - NOT EXISTS (SELECT 1 FROM ingests WHERE id = ?3)      WHERE key = ?1 AND NOT EXISTS (SELECT 1 FROM events WHERE id = ?2)";

/// The ingest back (routed), unless it is in D1 or the event is (?11).
pub(crate) const RESTORE_INGEST: &str = "INSERT INTO ingests (id, endpoint_id, dedup_key, kept_body_key,        body_size, body_sha256, content_type, headers, received_at, event_type, status, source)      SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'routed', ?12      WHERE NOT EXISTS (SELECT 1 FROM ingests WHERE id = ?1)        AND NOT EXISTS (SELECT 1 FROM events WHERE id = ?11)";

/// The event back as `received`, due now, its attempt numbering continued
/// and its schedule started over, as a replay in D1 leaves it.
pub(crate) const RESTORE_EVENT: &str = concat!(
    "INSERT INTO events (id, kept_ingest_id, endpoint_id, route_id, \
       status, attempt_count, cycle_attempts, next_attempt_at, last_error, received_at, updated_at, \
       delivered_at) \
     SELECT ?1, ",
    kept_ingest_id!("?1", "?2"),
    ", ?3, ?4, 'received', ?5, 0, ?6, ?7, ?8, ?6, ?9 \
     WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = ?1)"
);

/// Its ingest's dedup key back, so that a search by delivery id finds it in
/// D1 again, unless a later request holds the key: its window ended long ago
/// (an event is archived after it), so `expires_at` is 0 and a request with
/// the key takes it over. ?1 = the ingest, ?2 = its endpoint, ?3 = the key.
pub(crate) const RESTORE_DEDUP_KEY: &str = "INSERT OR IGNORE INTO dedup_keys \
       (endpoint_id, dedup_key, ingest_id, expires_at) \
     SELECT ?2, ?3, ?1, 0 WHERE EXISTS (SELECT 1 FROM ingests WHERE id = ?1)";

/// Its attempts back (those already there stay).
pub(crate) const RESTORE_ATTEMPTS: &str = "INSERT OR IGNORE INTO attempts (event_id, number,        started_at, duration_ms, status_code, outcome, error, response_snippet)      SELECT ?1, json_extract(value, '$.number'), json_extract(value, '$.started_at'),             json_extract(value, '$.duration_ms'), json_extract(value, '$.status_code'),             json_extract(value, '$.outcome'), json_extract(value, '$.error'),             json_extract(value, '$.response_snippet')      FROM json_each(?2)";

/// An `archives` row, as reads use it.
#[derive(Debug, Clone, Deserialize)]
pub struct ArchiveRow {
    pub key: String,
    pub endpoint_id: EndpointId,
    pub route_id: RouteRef,
    pub hour: f64,
    pub first_id: EventId,
    pub last_id: EventId,
    pub events: f64,
    pub id_filter: String,
}

const ARCHIVE_COLUMNS: &str =
    "key, endpoint_id, route_id, hour, first_id, last_id, events, id_filter";

/// The objects of events received in the hours `[from_hour, to_hour]`.
pub async fn of_hours(db: &Db, from_hour: i64, to_hour: i64) -> Result<Vec<ArchiveRow>> {
    bind(db.prepare(of_hours_sql()), &[int(from_hour), int(to_hour)])?
        .all()
        .await?
        .results()
}

pub(crate) fn of_hours_sql() -> String {
    format!("SELECT {ARCHIVE_COLUMNS} FROM archives WHERE hour >= ?1 AND hour <= ?2")
}

/// An endpoint's objects of the hours `[from_hour, to_hour]`, newest hour
/// first (and within an hour, newest last id first), up to `limit`.
pub async fn of_endpoint(
    db: &Db,
    endpoint_id: &str,
    from_hour: i64,
    to_hour: i64,
    limit: u32,
) -> Result<Vec<ArchiveRow>> {
    bind(
        db.prepare(of_endpoint_sql()),
        &[
            text(endpoint_id),
            int(from_hour),
            int(to_hour),
            int(i64::from(limit)),
        ],
    )?
    .all()
    .await?
    .results()
}

pub(crate) fn of_endpoint_sql() -> String {
    format!(
        "SELECT {ARCHIVE_COLUMNS} FROM archives \
         WHERE endpoint_id = ?1 AND hour >= ?2 AND hour <= ?3 \
         ORDER BY hour DESC, last_id DESC LIMIT ?4"
    )
}

/// Up to `limit` objects whose newest event is older than its endpoint's
/// retention, oldest first.
pub async fn expired(
    db: &Db,
    now_ms: i64,
    default_days: f64,
    limit: u32,
) -> Result<Vec<ArchiveRow>> {
    super::retention::past_retention(db, EXPIRED, now_ms, default_days, limit).await
}

/// ?1 = now, ?2 = the default days, ?3 = one day in ms, ?4 = the limit. Driven
/// from the endpoints (`CROSS JOIN` pins the order), each one's old hours read
/// from `archives_endpoint_hour` (an object's hour is at most the receipt of
/// its newest event). An object goes when its newest event's receipt is past
/// retention, as an event in D1 goes by its receipt.
pub(crate) const EXPIRED: &str =
    "SELECT a.key AS key, a.endpoint_id AS endpoint_id, a.route_id AS route_id, a.hour AS hour, \
            a.first_id AS first_id, a.last_id AS last_id, a.events AS events, a.id_filter AS id_filter \
     FROM endpoints ep CROSS JOIN archives a \
     WHERE a.endpoint_id = ep.id AND a.hour < ?1 - COALESCE(ep.retention_days, ?2) * ?3 \
       AND a.last_received_at < ?1 - COALESCE(ep.retention_days, ?2) * ?3 \
     ORDER BY a.hour LIMIT ?4";

/// Removes an object's row, once the object and its bodies are gone.
pub async fn forget(db: &Db, key: &str) -> Result<()> {
    bind(
        db.prepare("DELETE FROM archives WHERE key = ?1"),
        &[text(key)],
    )?
    .run()
    .await?;
    Ok(())
}
