//! The `rollups` table: per endpoint, UTC hour and route, the events received,
//! the attempts that delivered or failed (and the failed by outcome), and a
//! latency histogram.
//!
//! The figures are counted as things happen, inside the batches that make them
//! happen (the ack's, an attempt's), so they cost no round trip of their own,
//! and they are what the charts, success rates and percentiles read: those
//! never scan events or attempts, and stay the same when events leave D1 for
//! the archive. Reading a 30-day window is at most 720 rows per route.

use super::events::{lease_held, Claim};
use super::{bind, int, text, Db, Stmt};
use crate::model::EndpointId;
use crate::retry::OutcomeClass;
use crate::stats::{failed_outcome_column, hour_of, latency_bucket, LATENCY_BUCKETS};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::Result;

/// Counts one received event per route in `routes_json` (a JSON array of route
/// ids) in the hour of `now_ms`, for each route whose event of the ingest
/// `ingest_id` exists by then in the batch: the ack's batch (and a filtered
/// ingest's replay) runs it after inserting the events, whose own guards
/// decide (the request won its dedup key; the ingest was still filtered).
pub fn count_received(
    db: &Db,
    endpoint_id: &str,
    ingest_id: &str,
    routes_json: &str,
    now_ms: i64,
) -> Result<Stmt> {
    bind(
        db.prepare(COUNT_RECEIVED),
        &[
            text(endpoint_id),
            int(hour_of(now_ms)),
            text(routes_json),
            text(ingest_id),
        ],
    )
}

/// The statement of [`count_received`]. (`WHERE` before `ON CONFLICT` keeps
/// SQLite from reading the upsert as a join; `+route_id` keeps it from reading
/// all of a route's events through `events_route` instead of the ingest's few.)
pub(crate) const COUNT_RECEIVED: &str = concat!(
    "INSERT INTO rollups (endpoint_id, hour, route_id, received) \
     SELECT ?1, ?2, value, 1 FROM json_each(?3) \
     WHERE EXISTS (SELECT 1 FROM events e WHERE ",
    event_of_ingest!("e", "?4"),
    " AND +e.route_id = value) \
     ON CONFLICT (endpoint_id, hour, route_id) DO UPDATE SET received = received + 1"
);

/// Counts one attempt of the claimed event, in the hour it started: delivered or
/// failed (and its failed outcome's own column), and its duration in the
/// histogram. Only while the claim's lease holds, so an attempt is counted
/// exactly when its row is recorded.
pub fn count_attempt(
    db: &Db,
    claim: &Claim,
    started_at_ms: i64,
    duration_ms: u64,
    outcome: &str,
) -> Result<Stmt> {
    let delivered = outcome == OutcomeClass::Delivered.as_str();
    let sql = count_attempt_sql(latency_bucket(duration_ms), failed_outcome_column(outcome));
    bind(
        db.prepare(sql),
        &[
            text(&claim.endpoint_id),
            int(hour_of(started_at_ms)),
            text(claim.route_id.as_str()),
            int(i64::from(delivered)),
            int(i64::from(!delivered)),
            JsValue::from_f64(duration_ms as f64),
            text(&claim.id),
            text(&claim.lease_token),
        ],
    )
}

/// The statement of [`count_attempt`] for an attempt in histogram bucket
/// `bucket` whose failed outcome, if any, has the column `outcome` (a
/// [`FAILED_OUTCOMES`](crate::stats::FAILED_OUTCOMES) name): ?1 endpoint,
/// ?2 hour, ?3 route, ?4 delivered (0/1), ?5 failed (0/1), ?6 the duration,
/// ?7 the event, ?8 its lease token.
pub(crate) fn count_attempt_sql(bucket: usize, outcome: Option<&str>) -> String {
    let column = format!("l{}", bucket.min(LATENCY_BUCKETS - 1));
    let (outcome_column, outcome_one, outcome_add) = match outcome {
        Some(o) => (format!(", {o}"), ", 1", format!(", {o} = {o} + 1")),
        None => (String::new(), "", String::new()),
    };
    format!(
        "INSERT INTO rollups (endpoint_id, hour, route_id, delivered, failed, {column}, max_ms{outcome_column}) \
         SELECT ?1, ?2, ?3, ?4, ?5, 1, ?6{outcome_one} WHERE {held} \
         ON CONFLICT (endpoint_id, hour, route_id) DO UPDATE SET \
           delivered = delivered + excluded.delivered, failed = failed + excluded.failed, \
           {column} = {column} + 1, max_ms = MAX(max_ms, excluded.max_ms){outcome_add}",
        held = lease_held("?7", "?8"),
    )
}

/// A bucket of the time series, by bucket number (`hour / bucket_ms`).
#[derive(Debug, Deserialize)]
pub struct SeriesRow {
    pub bucket: f64,
    pub received: f64,
    pub delivered: f64,
    pub failed: f64,
}

/// The hourly figures within `[from_ms, to_ms)`, summed by `hour / bucket_ms`,
/// over every endpoint or one.
pub async fn series(
    db: &Db,
    from_ms: i64,
    to_ms: i64,
    bucket_ms: i64,
    endpoint_id: Option<&str>,
) -> Result<Vec<SeriesRow>> {
    let mut args = vec![int(from_ms), int(to_ms), int(bucket_ms)];
    if let Some(id) = endpoint_id {
        args.push(text(id));
    }
    bind(db.prepare(series_sql(endpoint_id.is_some())), &args)?
        .all()
        .await?
        .results()
}

/// The statement of [`series`]: ?1 = from, ?2 = to, ?3 = the bucket width, ?4 =
/// the endpoint when `one_endpoint` (then the primary key serves the range,
/// else `rollups_hour`).
pub(crate) fn series_sql(one_endpoint: bool) -> String {
    let scope = if one_endpoint {
        "AND endpoint_id = ?4"
    } else {
        ""
    };
    format!(
        "SELECT CAST(hour / ?3 AS INTEGER) AS bucket, SUM(received) AS received, \
                SUM(delivered) AS delivered, SUM(failed) AS failed \
         FROM rollups WHERE hour >= ?1 AND hour < ?2 {scope} GROUP BY bucket"
    )
}

/// One endpoint's attempts over a window: how many, how many delivered, the
/// latency histogram and the slowest.
#[derive(Debug, Deserialize)]
pub struct AttemptFigures {
    pub endpoint_id: EndpointId,
    pub attempts: f64,
    pub succeeded: f64,
    /// `l0..l11` as a JSON array (D1 returns one column per field otherwise).
    latency: String,
    pub max_ms: f64,
}

impl AttemptFigures {
    /// The histogram's counts, bucket by bucket.
    pub fn histogram(&self) -> [u64; LATENCY_BUCKETS] {
        let counts: Vec<f64> = serde_json::from_str(&self.latency).unwrap_or_default();
        let mut histogram = [0; LATENCY_BUCKETS];
        for (slot, n) in histogram.iter_mut().zip(counts) {
            *slot = n as u64;
        }
        histogram
    }
}

/// Every endpoint's (or one endpoint's) attempt figures in the hours from
/// `since_ms` on.
pub async fn attempt_figures(
    db: &Db,
    since_ms: i64,
    endpoint_id: Option<&str>,
) -> Result<Vec<AttemptFigures>> {
    attempt_figures_statement(db, since_ms, endpoint_id)?
        .all()
        .await?
        .results()
}

/// The statement of [`attempt_figures`], to run alone or in a batch.
pub fn attempt_figures_statement(
    db: &Db,
    since_ms: i64,
    endpoint_id: Option<&str>,
) -> Result<Stmt> {
    let mut args = vec![int(hour_of(since_ms))];
    if let Some(id) = endpoint_id {
        args.push(text(id));
    }
    bind(
        db.prepare(attempt_figures_sql(endpoint_id.is_some())),
        &args,
    )
}

/// The statement of [`attempt_figures`]: ?1 = the first hour, ?2 = the
/// endpoint when `one_endpoint`.
pub(crate) fn attempt_figures_sql(one_endpoint: bool) -> String {
    // Every endpoint's: the planner would rather walk the primary key in
    // `GROUP BY` order than range over the window.
    let (from, scope) = if one_endpoint {
        ("rollups", "AND endpoint_id = ?2")
    } else {
        ("rollups INDEXED BY rollups_hour", "")
    };
    let buckets: Vec<String> = (0..LATENCY_BUCKETS).map(|i| format!("SUM(l{i})")).collect();
    format!(
        "SELECT endpoint_id, SUM(delivered + failed) AS attempts, SUM(delivered) AS succeeded, \
                json_array({}) AS latency, MAX(max_ms) AS max_ms \
         FROM {from} WHERE hour >= ?1 {scope} GROUP BY endpoint_id",
        buckets.join(", ")
    )
}
