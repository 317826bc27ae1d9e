//! The `dedup_keys` and `ingests` tables: accepting an inbound request exactly once.
//!
//! [`record`] is the ack path's single D1 round trip: one batch (a transaction)
//! that claims the dedup key insert-first, writes the ingest and its events (one
//! per accepting route) and counts them in the hourly rollups only if this
//! request won the key, and reads back who won.
//!
//! A dedup key lives as long as the ingest it names (migrations/0024): it is
//! deleted in the batch that deletes its ingest ([`DELETE_EMPTIED_DEDUP_KEYS`]),
//! and its `expires_at` only ends its window (a later request with the same
//! key takes it over). So a key finds its ingest for as long as both are in
//! D1, without an index of the ingests' keys.

use super::{bind, bodies, int, opt_text, text, Conditions, Db};
use crate::model::{EndpointId, EventId, IngestId, IngestSource, IngestStatus, RouteRef};
use serde::Deserialize;
use std::collections::HashSet;
use worker::Result;

/// One event of a new ingest: its id and the route that delivers it.
pub struct RoutedEvent<'a> {
    pub id: &'a EventId,
    pub route_id: &'a RouteRef,
}

pub struct NewIngest<'a> {
    pub id: &'a IngestId,
    /// One per route whose filter accepted the request; none makes the ingest
    /// `filtered`.
    pub events: &'a [RoutedEvent<'a>],
    pub endpoint_id: &'a EndpointId,
    pub dedup_key: &'a str,
    pub body_key: &'a str,
    pub body_size: usize,
    pub content_type: Option<&'a str>,
    pub event_type: Option<&'a str>,
    /// The values at the endpoint's search fields; stored only for an ingest
    /// that has events (search finds events).
    pub search_values: &'a [String],
    /// As [`HeaderHome::row_column`](crate::headers::HeaderHome::row_column)
    /// says: empty when the body object keeps them.
    pub headers: &'a str,
    pub source: IngestSource,
    pub now_ms: i64,
    pub dedup_window_ms: i64,
}

#[derive(Debug, PartialEq)]
pub enum Recorded {
    New,
    /// Another request already holds this dedup key; its first event, when it
    /// still exists.
    Duplicate {
        original_event_id: Option<String>,
    },
}

#[derive(Deserialize)]
struct Winner {
    ingest_id: String,
    event_id: Option<String>,
}

/// What the row's `kept_body_key` holds: nothing when the key is the one the
/// ingest's id and receipt time name ([`bodies::key_for`]), which the
/// `body_key` column computes.
fn kept_body_key<'a>(n: &NewIngest<'a>) -> &'a str {
    if n.body_key == bodies::key_for(n.id, n.now_ms) {
        ""
    } else {
        n.body_key
    }
}

/// Writes the ingest and its events (one per accepting route, or none and the
/// ingest is `filtered`), unless the dedup key is already held.
///
/// `inject_failure` appends a statement that fails, so the whole transaction rolls
/// back: the fault tests use it to prove a failed write leaves nothing behind.
pub async fn record(db: &Db, n: &NewIngest<'_>, inject_failure: bool) -> Result<Recorded> {
    let claim_key = bind(
        db.prepare(
            "INSERT INTO dedup_keys (endpoint_id, dedup_key, ingest_id, expires_at) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (endpoint_id, dedup_key) DO UPDATE \
             SET ingest_id = excluded.ingest_id, expires_at = excluded.expires_at \
             WHERE dedup_keys.expires_at <= ?5",
        ),
        &[
            text(n.endpoint_id.as_str()),
            text(n.dedup_key),
            text(n.id.as_str()),
            int(n.now_ms + n.dedup_window_ms),
            int(n.now_ms),
        ],
    )?;
    let insert_ingest = bind(
        db.prepare(
            // The body's SHA-256 is its R2 object's checksum (`bodies::put_request`);
            // the column stays for rows written before. `body_key` is computed
            // from the id and receipt time when `kept_body_key` is empty
            // (migration 0021).
            "INSERT INTO ingests (id, endpoint_id, dedup_key, kept_body_key, body_size, body_sha256, \
                                  content_type, headers, received_at, event_type, status, source) \
             SELECT ?1, ?2, ?3, ?4, ?5, '', ?6, ?7, ?8, ?9, ?10, ?11 \
             WHERE EXISTS (SELECT 1 FROM dedup_keys \
                           WHERE endpoint_id = ?2 AND dedup_key = ?3 AND ingest_id = ?1)",
        ),
        &[
            text(n.id.as_str()),
            text(n.endpoint_id.as_str()),
            text(n.dedup_key),
            text(kept_body_key(n)),
            int(n.body_size as i64),
            opt_text(n.content_type),
            text(n.headers),
            int(n.now_ms),
            opt_text(n.event_type),
            text(IngestStatus::of_routed_events(n.events.len()).as_str()),
            opt_text(n.source.stored()),
        ],
    )?;
    let mut statements = vec![claim_key, insert_ingest];
    for event in n.events {
        statements.push(bind(
            db.prepare(INSERT_EVENT),
            &[
                text(event.id.as_str()),
                text(n.id.as_str()),
                text(n.endpoint_id.as_str()),
                int(n.now_ms),
                text(event.route_id.as_str()),
            ],
        )?);
    }
    if !n.events.is_empty() && !n.search_values.is_empty() {
        statements.push(bind(
            db.prepare(INSERT_SEARCH_VALUES),
            &[
                text(n.id.as_str()),
                text(n.endpoint_id.as_str()),
                text(&serde_json::to_string(n.search_values)?),
            ],
        )?);
    }
    if !n.events.is_empty() {
        let routes: Vec<&str> = n.events.iter().map(|e| e.route_id.as_str()).collect();
        statements.push(super::rollups::count_received(
            db,
            n.endpoint_id.as_str(),
            n.id.as_str(),
            &serde_json::to_string(&routes)?,
            n.now_ms,
        )?);
    }
    let read_winner = bind(
        db.prepare(READ_WINNER),
        &[text(n.endpoint_id.as_str()), text(n.dedup_key)],
    )?;
    let winner_index = statements.len();
    statements.push(read_winner);
    if inject_failure {
        statements.push(db.prepare("SELECT hookrelay_injected_fault()"));
    }
    let results = db.batch(statements).await?;
    let winner: Option<Winner> = results
        .get(winner_index)
        .map(|r| r.results::<Winner>())
        .transpose()?
        .and_then(|rows| rows.into_iter().next());
    match winner {
        Some(w) if w.ingest_id == n.id.as_str() => Ok(Recorded::New),
        Some(w) => Ok(Recorded::Duplicate {
            original_event_id: w.event_id,
        }),
        None => Err(worker::Error::RustError(
            "dedup key vanished inside its own transaction".into(),
        )),
    }
}

/// Which of `keys` (dedup keys of the endpoint) D1 holds: a key lives as long
/// as its ingest, in its window or after. Catch-up asks before it stores;
/// what compaction moved out is asked of the archive.
pub async fn held_keys(
    db: &Db,
    endpoint_id: &EndpointId,
    keys: &[String],
) -> Result<HashSet<String>> {
    #[derive(Deserialize)]
    struct Held {
        dedup_key: String,
    }
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<Held> = bind(
        db.prepare(HELD_KEYS),
        &[
            text(endpoint_id.as_str()),
            text(&serde_json::to_string(keys)?),
        ],
    )?
    .all()
    .await?
    .results()?;
    Ok(rows.into_iter().map(|h| h.dedup_key).collect())
}

/// The statement of [`held_keys`]: ?1 = the endpoint, ?2 = the keys (a JSON
/// array), each looked up by the dedup keys' primary key.
pub(crate) const HELD_KEYS: &str = "SELECT k.value AS dedup_key FROM json_each(?2) k \
     WHERE EXISTS (SELECT 1 FROM dedup_keys d WHERE d.endpoint_id = ?1 AND d.dedup_key = k.value)";

/// An event (?1) of the ingest ?2 just inserted in the same batch (it is not
/// when the request lost its dedup key): endpoint ?3, route ?5, due at ?4.
pub(crate) const INSERT_EVENT: &str = concat!(
    "INSERT INTO events (id, kept_ingest_id, endpoint_id, route_id, status, next_attempt_at, \
                         received_at, updated_at) \
     SELECT ?1, ",
    kept_ingest_id!("?1", "?2"),
    ", ?3, ?5, 'received', ?4, ?4, ?4 WHERE EXISTS (SELECT 1 FROM ingests WHERE id = ?2)"
);

/// As [`INSERT_EVENT`], for an ingest routed after a filter change: only while
/// it is still `filtered`, so two replays racing route it once.
pub(crate) const INSERT_EVENT_OF_FILTERED: &str = concat!(
    "INSERT INTO events (id, kept_ingest_id, endpoint_id, route_id, status, next_attempt_at, \
                         received_at, updated_at) \
     SELECT ?1, ",
    kept_ingest_id!("?1", "?2"),
    ", ?3, ?5, 'received', ?4, ?4, ?4 \
     WHERE EXISTS (SELECT 1 FROM ingests WHERE id = ?2 AND status = 'filtered')"
);

/// Who holds the dedup key (?2 of endpoint ?1) once the batch has run: the
/// winning ingest and its first event.
pub(crate) const READ_WINNER: &str = concat!(
    "SELECT d.ingest_id AS ingest_id, \
            (SELECT e.id FROM events e WHERE ",
    event_of_ingest!("e", "d.ingest_id"),
    " ORDER BY e.id LIMIT 1) AS event_id \
     FROM dedup_keys d WHERE d.endpoint_id = ?1 AND d.dedup_key = ?2"
);

/// The ingest's (?1, of endpoint ?2) search values (?3, a JSON array), if
/// this request won its dedup key.
pub(crate) const INSERT_SEARCH_VALUES: &str =
    "INSERT OR IGNORE INTO search_values (ingest_id, value, endpoint_id) \
     SELECT ?1, value, ?2 FROM json_each(?3) WHERE EXISTS (SELECT 1 FROM ingests WHERE id = ?1)";

/// The dedup keys of the chosen ingests (?1, a JSON array of ids) no event is
/// left for, while they still name them (a key a later request took over
/// names that one): run in the batch that deletes those ingests (retention,
/// compaction, a filtered request's expiry), before it, with the same
/// condition. Each key by its primary key.
pub(crate) const DELETE_EMPTIED_DEDUP_KEYS: &str = concat!(
    "DELETE FROM dedup_keys WHERE (endpoint_id, dedup_key, ingest_id) IN ( \
       SELECT i.endpoint_id, i.dedup_key, i.id FROM ingests i \
       WHERE i.id IN (SELECT value FROM json_each(?1)) \
         AND NOT EXISTS (SELECT 1 FROM events e WHERE ",
    event_of_ingest!("e", "i.id"),
    "))"
);

/// The search values of the chosen ingests (?1, a JSON array of ids) no event
/// is left for: run in the batch that deletes those ingests (retention and
/// compaction), after their events, with the same condition.
pub(crate) const DELETE_EMPTIED_SEARCH_VALUES: &str = concat!(
    "DELETE FROM search_values WHERE ingest_id IN (SELECT value FROM json_each(?1)) \
     AND NOT EXISTS (SELECT 1 FROM events e WHERE ",
    event_of_ingest!("e", "search_values.ingest_id"),
    ")"
);

#[derive(Debug, Clone, Deserialize)]
pub struct IngestRow {
    pub id: IngestId,
    pub endpoint_id: EndpointId,
    pub dedup_key: String,
    pub body_key: String,
    pub body_size: f64,
    pub body_sha256: String,
    pub content_type: Option<String>,
    pub headers: String,
    pub received_at: f64,
    pub event_type: Option<String>,
}

pub async fn get(db: &Db, id: &str) -> Result<Option<IngestRow>> {
    bind(
        db.prepare(
            "SELECT id, endpoint_id, dedup_key, body_key, body_size, body_sha256, content_type, \
                    headers, received_at, event_type FROM ingests WHERE id = ?1",
        ),
        &[text(id)],
    )?
    .first(None)
    .await
}

/// Whether the endpoint has stored an ingest (routed or filtered) since
/// `since_ms`: its ack path works again.
pub async fn stored_since(db: &Db, endpoint_id: &str, since_ms: i64) -> Result<bool> {
    #[derive(Deserialize)]
    struct Stored {
        stored: i64,
    }
    let first = IngestId::first_minted_at(since_ms);
    let row: Option<Stored> = bind(
        db.prepare(STORED_SINCE),
        &[text(endpoint_id), text(first.as_str())],
    )?
    .first(None)
    .await?;
    Ok(row.is_some_and(|r| r.stored == 1))
}

/// The statement of [`stored_since`]: ?1 the endpoint, ?2 the first ingest id
/// minted at the time (ids sort by when they were minted).
pub(crate) const STORED_SINCE: &str = "SELECT EXISTS (SELECT 1 FROM ingests \
     WHERE endpoint_id = ?1 AND status IN ('routed', 'filtered') AND id >= ?2) AS stored";

/// An endpoint's `filtered` ingests, oldest first.
pub async fn filtered(db: &Db, endpoint_id: &str, limit: u32) -> Result<Vec<IngestRow>> {
    bind(
        db.prepare(FILTERED),
        &[text(endpoint_id), int(i64::from(limit))],
    )?
    .all()
    .await?
    .results()
}

/// The statement of [`filtered`]: ?1 = the endpoint, ?2 = the limit.
pub(crate) const FILTERED: &str =
    "SELECT id, endpoint_id, dedup_key, body_key, body_size, body_sha256, content_type, \
            headers, received_at, event_type FROM ingests \
     WHERE endpoint_id = ?1 AND status = 'filtered' ORDER BY id LIMIT ?2";

/// An ingest as the API lists it, with the ids of its events (none while
/// `filtered`).
#[derive(Debug, Clone, Deserialize)]
pub struct IngestSummary {
    pub id: IngestId,
    pub endpoint_id: EndpointId,
    pub status: String,
    pub dedup_key: String,
    pub event_type: Option<String>,
    pub received_at: f64,
    pub body_size: f64,
    pub content_type: Option<String>,
    /// A JSON array of event ids, oldest first (a range of event ids, and the
    /// partial index of events that keep their ingest's id).
    pub event_ids: String,
    /// The row's `headers` column and the body's key, read for one ingest only
    /// (the headers may be kept in the body object, see `bodies::ingest_headers`).
    pub headers: Option<String>,
    pub body_key: Option<String>,
}

const SUMMARY_SELECT: &str = concat!(
    "SELECT i.id, i.endpoint_id, i.status, i.dedup_key, i.event_type, i.received_at, i.body_size, \
            i.content_type, \
            (SELECT json_group_array(x.id) FROM (SELECT e.id FROM events e WHERE ",
    event_of_ingest!("e", "i.id"),
    " ORDER BY e.id) x) AS event_ids"
);

pub struct ListFilter<'a> {
    pub endpoint_id: Option<&'a str>,
    pub status: Option<IngestStatus>,
    /// Return ingests older than this id (ids sort by receipt time).
    pub before_id: Option<&'a str>,
    pub limit: u32,
}

/// Newest first; only the filters given become conditions, so an endpoint and
/// status are served by `ingests_endpoint_status`.
pub async fn list(db: &Db, f: &ListFilter<'_>) -> Result<Vec<IngestSummary>> {
    let (sql, w) = list_sql(f);
    bind(db.prepare(sql), &w.args())?.all().await?.results()
}

/// The statement of [`list`] for these filters, with the values it binds.
pub(crate) fn list_sql(f: &ListFilter<'_>) -> (String, Conditions) {
    let mut w = Conditions::default();
    if let Some(endpoint_id) = f.endpoint_id {
        w.compare("i.endpoint_id =", endpoint_id);
    }
    if let Some(status) = f.status {
        w.compare("i.status =", status.as_str());
    }
    if let Some(before) = f.before_id {
        w.compare("i.id <", before);
    }
    let limit = w.param(i64::from(f.limit));
    let sql = format!(
        "{SUMMARY_SELECT}, NULL AS headers FROM ingests i {} ORDER BY i.id DESC LIMIT {limit}",
        w.clause()
    );
    (sql, w)
}

/// One ingest with its stored headers.
pub async fn summary(db: &Db, id: &str) -> Result<Option<IngestSummary>> {
    bind(
        db.prepare(format!(
            "{SUMMARY_SELECT}, i.headers, i.body_key FROM ingests i WHERE i.id = ?1"
        )),
        &[text(id)],
    )?
    .first(None)
    .await
}

/// Requests on record by what became of them: `received = routed + filtered`.
#[derive(Debug, Default, Deserialize)]
pub struct RequestCounts {
    pub received: f64,
    pub routed: f64,
    pub filtered: f64,
}

impl RequestCounts {
    pub const NONE: RequestCounts = RequestCounts {
        received: 0.0,
        routed: 0.0,
        filtered: 0.0,
    };
}

/// The `SELECT` list of [`RequestCounts`] over `ingests`, as a literal.
macro_rules! request_counts {
    () => {
        "COUNT(*) AS received, \
         COALESCE(SUM(status = 'routed'), 0) AS routed, \
         COALESCE(SUM(status = 'filtered'), 0) AS filtered"
    };
}

/// The `SELECT` list of [`RequestCounts`] over `ingests`.
pub const REQUEST_COUNTS: &str = request_counts!();

/// [`RequestCounts`] over `ingests`, then `$scope`, with the ingests of the
/// same scope that left D1 with their events for the archive (all routed;
/// their `archives` rows count them).
macro_rules! request_counts_of {
    ($scope:literal) => {
        concat!(
            "SELECT SUM(received) AS received, SUM(routed) AS routed, SUM(filtered) AS filtered FROM (",
            "SELECT ",
            request_counts!(),
            " FROM ingests ",
            $scope,
            " UNION ALL SELECT COALESCE(SUM(ingests), 0), COALESCE(SUM(ingests), 0), 0 FROM archives ",
            $scope,
            ")"
        )
    };
}

/// One endpoint's requests (?1), read from `ingests_endpoint_status
/// (endpoint_id, status, id)` alone, and its archive rows.
pub(crate) const REQUEST_COUNTS_OF_ENDPOINT: &str = request_counts_of!("WHERE endpoint_id = ?1");

/// Every request: necessarily a read of every row in D1, made over an index
/// that holds `status` (a covering index scan) rather than the table, and of
/// every archive row.
pub(crate) const REQUEST_COUNTS_OVERALL: &str = request_counts_of!("");

/// Every endpoint's requests, or one endpoint's.
pub async fn request_counts(db: &Db, endpoint_id: Option<&str>) -> Result<RequestCounts> {
    let statement = match endpoint_id {
        Some(id) => bind(db.prepare(REQUEST_COUNTS_OF_ENDPOINT), &[text(id)])?,
        None => db.prepare(REQUEST_COUNTS_OVERALL),
    };
    let row: Option<RequestCounts> = statement.first(None).await?;
    Ok(row.unwrap_or(RequestCounts::NONE))
}

#[derive(Deserialize)]
struct CountRow {
    n: f64,
}

/// How many of the endpoint's ingests no route accepted.
pub async fn count_filtered(db: &Db, endpoint_id: &str) -> Result<u64> {
    let row: Option<CountRow> = bind(db.prepare(COUNT_FILTERED), &[text(endpoint_id)])?
        .first(None)
        .await?;
    Ok(row.map_or(0, |r| r.n as u64))
}

/// The statement of [`count_filtered`]: ?1 = the endpoint.
pub(crate) const COUNT_FILTERED: &str =
    "SELECT COUNT(*) AS n FROM ingests WHERE endpoint_id = ?1 AND status = 'filtered'";

/// Routes a `filtered` ingest after a filter change: its events and the status
/// change in one batch, the events only while it is still filtered (so two
/// replays racing route it once). Returns whether this call routed it.
pub async fn route_filtered(
    db: &Db,
    ingest: &IngestRow,
    events: &[RoutedEvent<'_>],
    now_ms: i64,
) -> Result<bool> {
    let mut statements = Vec::with_capacity(events.len() + 1);
    for event in events {
        statements.push(bind(
            db.prepare(INSERT_EVENT_OF_FILTERED),
            &[
                text(event.id.as_str()),
                text(&ingest.id),
                text(&ingest.endpoint_id),
                int(now_ms),
                text(event.route_id.as_str()),
            ],
        )?);
    }
    let routes: Vec<&str> = events.iter().map(|e| e.route_id.as_str()).collect();
    statements.push(super::rollups::count_received(
        db,
        &ingest.endpoint_id,
        &ingest.id,
        &serde_json::to_string(&routes)?,
        now_ms,
    )?);
    statements.push(bind(
        db.prepare("UPDATE ingests SET status = 'routed' WHERE id = ?1 AND status = 'filtered'"),
        &[text(&ingest.id)],
    )?);
    let results = db.batch(statements).await?;
    match results.last() {
        Some(r) => Ok(super::changes(r)? > 0),
        None => Ok(false),
    }
}
