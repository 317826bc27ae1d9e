//! Aggregate figures for metrics and the stats API, each read in one D1 batch
//! (indexed GROUP BYs; no event or attempt is loaded one by one).

use super::ingests::{RequestCounts, REQUEST_COUNTS};
use super::{bind, int, text, Db};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Result, Result};

#[derive(Debug, Deserialize)]
pub struct ByEndpoint {
    pub endpoint_id: String,
    pub label: String,
    pub n: f64,
}

#[derive(Debug, Deserialize)]
pub struct EndpointGauges {
    pub endpoint_id: String,
    pub paused: f64,
    pub circuit_open: f64,
    pub circuit_failures: f64,
    pub oldest_in_flight_at: Option<f64>,
}

pub struct Stats {
    pub events_by_status: Vec<ByEndpoint>,
    pub attempts_by_outcome: Vec<ByEndpoint>,
    pub rejections_by_reason: Vec<ByEndpoint>,
    pub endpoints: Vec<EndpointGauges>,
}

/// Every event by endpoint and status: necessarily a read of every row, made
/// over `events_endpoint_inflight` (a covering index scan) rather than the
/// table. Hourly rollups are to replace it.
pub(crate) const EVENTS_BY_STATUS: &str =
    "SELECT endpoint_id, status AS label, COUNT(*) AS n FROM events GROUP BY endpoint_id, status";

/// Every attempt by endpoint and outcome: necessarily a read of every attempt
/// (over the covering `attempts_started`), with one lookup of its event by id.
/// Hourly rollups are to replace it.
pub(crate) const ATTEMPTS_BY_OUTCOME: &str =
    "SELECT e.endpoint_id AS endpoint_id, a.outcome AS label, COUNT(*) AS n \
     FROM attempts a JOIN events e ON e.id = a.event_id GROUP BY e.endpoint_id, a.outcome";

/// Refusal counters (one row per endpoint and reason).
pub(crate) const REJECTIONS_BY_REASON: &str =
    "SELECT endpoint_id, reason AS label, SUM(count) AS n FROM rejection_counts GROUP BY endpoint_id, reason";

/// Each live endpoint's gauges. The oldest in-flight event is read from
/// `events_endpoint_inflight (endpoint_id, status, ...)`, the endpoint's
/// in-flight events only: the unary `+` keeps the planner from walking
/// `events_endpoint_received` from the endpoint's oldest event (finished ones
/// included) for the minimum.
pub(crate) const ENDPOINT_GAUGES: &str = "SELECT ep.id AS endpoint_id, ep.paused AS paused, \
            (ep.circuit_state = 'open') AS circuit_open, ep.circuit_failures AS circuit_failures, \
            (SELECT MIN(+e.received_at) FROM events e WHERE e.endpoint_id = ep.id \
               AND e.status IN ('received', 'delivering', 'retrying')) AS oldest_in_flight_at \
     FROM endpoints ep WHERE ep.deleted_at IS NULL";

pub async fn read(db: &Db) -> Result<Stats> {
    let results = db
        .batch(vec![
            db.prepare(EVENTS_BY_STATUS),
            db.prepare(ATTEMPTS_BY_OUTCOME),
            db.prepare(REJECTIONS_BY_REASON),
            db.prepare(ENDPOINT_GAUGES),
        ])
        .await?;
    let rows = |i: usize| -> Result<Vec<ByEndpoint>> {
        match results.get(i) {
            Some(r) => r.results(),
            None => Ok(Vec::new()),
        }
    };
    Ok(Stats {
        events_by_status: rows(0)?,
        attempts_by_outcome: rows(1)?,
        rejections_by_reason: rows(2)?,
        endpoints: match results.get(3) {
            Some(r) => r.results()?,
            None => Vec::new(),
        },
    })
}

/// The outcome class of a successful attempt (`retry::OutcomeClass::Delivered`);
/// every other class is a failure.
const SUCCESS: &str = "delivered";

fn rows<T: serde::de::DeserializeOwned>(results: &[D1Result], i: usize) -> Result<Vec<T>> {
    match results.get(i) {
        Some(r) => r.results(),
        None => Ok(Vec::new()),
    }
}

/// A count for one bucket number (`t / bucket_ms`).
#[derive(Debug, Deserialize)]
pub struct BucketRow {
    pub bucket: f64,
    pub n: f64,
}

/// The three series of the time series, by bucket number.
pub struct Series {
    pub received: Vec<BucketRow>,
    pub delivered: Vec<BucketRow>,
    pub failed: Vec<BucketRow>,
}

/// Events by `received_at`, events by `delivered_at` and failed attempts (any
/// outcome but `delivered`) by `started_at`, within `[from_ms, to_ms)`, grouped by
/// `t / bucket_ms`; over every endpoint or one. An event delivered again after a
/// replay counts at its latest delivery.
pub async fn series(
    db: &Db,
    from_ms: i64,
    to_ms: i64,
    bucket_ms: i64,
    endpoint_id: Option<&str>,
) -> Result<Series> {
    let mut args = vec![int(from_ms), int(to_ms), int(bucket_ms)];
    if let Some(id) = endpoint_id {
        args.push(text(id));
    }
    let [received, delivered, failed] = series_sql(endpoint_id.is_some());
    let results = db
        .batch(vec![
            bind(db.prepare(received), &args)?,
            bind(db.prepare(delivered), &args)?,
            bind(db.prepare(failed), &args)?,
        ])
        .await?;
    Ok(Series {
        received: rows(&results, 0)?,
        delivered: rows(&results, 1)?,
        failed: rows(&results, 2)?,
    })
}

/// The statements of [`series`] (received, delivered, failed): ?1 = from, ?2 =
/// to, ?3 = the bucket width, and ?4 = the endpoint when `one_endpoint`.
///
/// Each reads its time range from an index (`events_received`,
/// `events_delivered`, or their `events_endpoint_*` forms; `attempts_started`).
/// For one endpoint, the failed attempts too are driven from the range on
/// `attempts_started` (`CROSS JOIN` pins the order), each checked against its
/// event in `events_endpoint (endpoint_id, id)`, rather than from every event
/// the endpoint ever had.
pub(crate) fn series_sql(one_endpoint: bool) -> [String; 3] {
    let (events_scope, attempts_from, attempts_scope) = if one_endpoint {
        (
            "AND endpoint_id = ?4",
            "attempts a CROSS JOIN events e ON e.id = a.event_id",
            "AND e.endpoint_id = ?4",
        )
    } else {
        ("", "attempts a", "")
    };
    let by_bucket = |column: &str| {
        format!(
            "SELECT CAST({column} / ?3 AS INTEGER) AS bucket, COUNT(*) AS n FROM events \
             WHERE {column} >= ?1 AND {column} < ?2 {events_scope} GROUP BY bucket"
        )
    };
    let failed = format!(
        "SELECT CAST(a.started_at / ?3 AS INTEGER) AS bucket, COUNT(*) AS n FROM {attempts_from} \
         WHERE a.started_at >= ?1 AND a.started_at < ?2 AND a.outcome <> '{SUCCESS}' {attempts_scope} \
         GROUP BY bucket"
    );
    [by_bucket("received_at"), by_bucket("delivered_at"), failed]
}

/// A live endpoint and its current streak of consecutive destination-down failures.
#[derive(Debug, Deserialize)]
pub struct EndpointStreak {
    pub endpoint_id: String,
    pub failure_streak: f64,
}

/// Attempts of one endpoint since the window's start.
#[derive(Debug, Deserialize)]
pub struct AttemptTotals {
    pub endpoint_id: String,
    pub attempts: f64,
    pub succeeded: f64,
}

/// Events of one endpoint by status, all-time, as the health API counts them.
#[derive(Debug, Deserialize)]
pub struct StatusCounts {
    pub endpoint_id: String,
    pub received: f64,
    pub delivered: f64,
    pub dead: f64,
    pub in_flight: f64,
}

/// Requests of one endpoint by what became of them (`ingests::REQUEST_COUNTS`).
#[derive(Debug, Deserialize)]
pub struct EndpointRequests {
    pub endpoint_id: String,
    #[serde(flatten)]
    pub counts: RequestCounts,
}

/// A live route of a live endpoint (its first route included: `route_id` is
/// then the `ep_` id), its live state and its events by status, counted by
/// `events.route_id`.
#[derive(Debug, Deserialize)]
pub struct RouteFigures {
    pub endpoint_id: String,
    pub route_id: String,
    pub name: String,
    pub destination_type: String,
    pub destination_url: String,
    pub failure_streak: f64,
    pub circuit_state: String,
    pub paused: f64,
    pub events: f64,
    pub delivered: f64,
    pub dead: f64,
    pub in_flight: f64,
}

pub struct EndpointFigures {
    /// Every endpoint not deleted (or the one asked for), oldest first; routes
    /// are not endpoints.
    pub endpoints: Vec<EndpointStreak>,
    pub attempts: Vec<AttemptTotals>,
    pub counts: Vec<StatusCounts>,
    pub requests: Vec<EndpointRequests>,
    /// Each endpoint's live routes, its first route first, then oldest first.
    pub routes: Vec<RouteFigures>,
}

/// Per-endpoint figures in one batch, however many routes there are: the
/// endpoints, their attempts started at or after `since_ms` (and how many
/// succeeded), their events by status, their requests by outcome, and their
/// routes with each route's events by status.
pub async fn endpoint_figures(
    db: &Db,
    since_ms: i64,
    endpoint_id: Option<&str>,
) -> Result<EndpointFigures> {
    // One endpoint is `?1` (so its indexes serve the counts); all of them, no condition.
    let mut args = match endpoint_id {
        Some(id) => vec![text(id)],
        None => Vec::new(),
    };
    let sql = endpoint_figures_sql(endpoint_id.is_some());
    let statement = |sql: &str, args: &[JsValue]| bind(db.prepare(sql), args);
    let endpoints = statement(&sql.endpoints, &args)?;
    let counts = statement(&sql.counts, &args)?;
    let requests = statement(&sql.requests, &args)?;
    let routes = statement(&sql.routes, &args)?;
    args.push(int(since_ms));
    let attempts = statement(&sql.attempts, &args)?;
    let results = db
        .batch(vec![endpoints, attempts, counts, requests, routes])
        .await?;
    Ok(EndpointFigures {
        endpoints: rows(&results, 0)?,
        attempts: rows(&results, 1)?,
        counts: rows(&results, 2)?,
        requests: rows(&results, 3)?,
        routes: rows(&results, 4)?,
    })
}

/// The statements of [`endpoint_figures`], one endpoint's (?1) or every
/// endpoint's; `attempts` binds the window's start after them (?2, or ?1).
pub(crate) struct FiguresSql {
    pub endpoints: String,
    pub attempts: String,
    pub counts: String,
    pub requests: String,
    pub routes: String,
}

/// For one endpoint each statement searches that endpoint's rows in an index;
/// for every endpoint the counts necessarily read every event and ingest,
/// over covering indexes (hourly rollups are to replace them). The attempts
/// are driven from the window's range on `attempts_started` (`CROSS JOIN` pins
/// the order), each checked against its event, rather than from every event
/// the endpoint ever had.
pub(crate) fn endpoint_figures_sql(one_endpoint: bool) -> FiguresSql {
    let since = if one_endpoint { "?2" } else { "?1" };
    let only = |column: &str| {
        if one_endpoint {
            format!("AND {column} = ?1")
        } else {
            String::new()
        }
    };
    FiguresSql {
        endpoints: format!(
            "SELECT id AS endpoint_id, circuit_failures AS failure_streak FROM endpoints \
             WHERE deleted_at IS NULL AND source_id IS NULL {} ORDER BY id",
            only("id")
        ),
        counts: format!(
            "SELECT endpoint_id, {STATUS_COUNTS} FROM events WHERE 1 {} GROUP BY endpoint_id",
            only("endpoint_id")
        ),
        requests: format!(
            "SELECT endpoint_id, {REQUEST_COUNTS} FROM ingests WHERE 1 {} GROUP BY endpoint_id",
            only("endpoint_id")
        ),
        routes: format!(
            "SELECT COALESCE(r.source_id, r.id) AS endpoint_id, r.id AS route_id, r.name AS name, \
                    r.destination_type AS destination_type, r.destination_url AS destination_url, \
                    r.circuit_failures AS failure_streak, r.circuit_state AS circuit_state, \
                    r.paused AS paused, COALESCE(c.received, 0) AS events, \
                    COALESCE(c.delivered, 0) AS delivered, COALESCE(c.dead, 0) AS dead, \
                    COALESCE(c.in_flight, 0) AS in_flight \
             FROM endpoints r \
             LEFT JOIN (SELECT route_id, {STATUS_COUNTS} FROM events WHERE 1 {} \
                        GROUP BY route_id) c ON c.route_id = r.id \
             WHERE r.deleted_at IS NULL {} \
             ORDER BY endpoint_id, r.source_id IS NOT NULL, r.id",
            only("endpoint_id"),
            if one_endpoint {
                // Deleting an endpoint deletes its routes, so no live route has a
                // deleted endpoint.
                "AND (r.id = ?1 OR r.source_id = ?1)"
            } else {
                ""
            },
        ),
        attempts: format!(
            "SELECT e.endpoint_id AS endpoint_id, COUNT(*) AS attempts, \
                    COALESCE(SUM(a.outcome = '{SUCCESS}'), 0) AS succeeded \
             FROM attempts a CROSS JOIN events e ON e.id = a.event_id \
             WHERE a.started_at >= {since} {} GROUP BY e.endpoint_id",
            only("e.endpoint_id")
        ),
    }
}

/// The `SELECT` list of [`StatusCounts`] (without the key) over `events`.
const STATUS_COUNTS: &str = "COUNT(*) AS received, \
       COALESCE(SUM(status = 'delivered'), 0) AS delivered, \
       COALESCE(SUM(status = 'dead'), 0) AS dead, \
       COALESCE(SUM(status IN ('received', 'delivering', 'retrying')), 0) AS in_flight";

/// Where to read two percentiles of one endpoint's attempt durations: 0-based
/// ranks in ascending order.
pub struct Ranks<'a> {
    pub endpoint_id: &'a str,
    pub p50: u64,
    pub p95: u64,
}

#[derive(Debug, Deserialize)]
pub struct Latency {
    pub endpoint_id: String,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// The durations at the given ranks among each endpoint's attempts started at or
/// after `since_ms`, sorted by D1 (a window function over the indexed range);
/// only the chosen values come back. A rank past the end (attempts deleted in
/// the meantime) reads `null`.
pub async fn latency_at_ranks(db: &Db, since_ms: i64, ranks: &[Ranks<'_>]) -> Result<Vec<Latency>> {
    if ranks.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<serde_json::Value> = ranks
        .iter()
        .map(|r| serde_json::json!([r.endpoint_id, r.p50, r.p95]))
        .collect();
    let wanted = serde_json::Value::Array(wanted).to_string();
    bind(
        db.prepare(LATENCY_AT_RANKS),
        &[int(since_ms), JsValue::from_str(&wanted)],
    )?
    .all()
    .await?
    .results()
}

/// The statement of [`latency_at_ranks`]: ?1 = the window's start, ?2 = a JSON
/// array of `[endpoint_id, p50 rank, p95 rank]`. The attempts are driven from
/// the window's range on `attempts_started` (`CROSS JOIN` pins the order),
/// each checked against its event in `events_endpoint (endpoint_id, id)`,
/// rather than from every event the endpoints ever had.
pub(crate) const LATENCY_AT_RANKS: &str = "SELECT w.endpoint_id AS endpoint_id, \
            MAX(CASE WHEN r.rank = w.p50 THEN r.duration_ms END) AS p50, \
            MAX(CASE WHEN r.rank = w.p95 THEN r.duration_ms END) AS p95 \
     FROM (SELECT json_extract(value, '$[0]') AS endpoint_id, \
                  json_extract(value, '$[1]') AS p50, \
                  json_extract(value, '$[2]') AS p95 FROM json_each(?2)) w \
     LEFT JOIN (SELECT e.endpoint_id AS endpoint_id, a.duration_ms AS duration_ms, \
                       ROW_NUMBER() OVER (PARTITION BY e.endpoint_id ORDER BY a.duration_ms) - 1 AS rank \
                FROM attempts a CROSS JOIN events e ON e.id = a.event_id \
                WHERE a.started_at >= ?1 \
                  AND e.endpoint_id IN (SELECT json_extract(value, '$[0]') FROM json_each(?2))) r \
       ON r.endpoint_id = w.endpoint_id AND r.rank IN (w.p50, w.p95) \
     GROUP BY w.endpoint_id";

#[cfg(test)]
mod tests {
    #[test]
    fn success_is_the_delivered_outcome_class() {
        assert_eq!(
            super::SUCCESS,
            crate::retry::OutcomeClass::Delivered.as_str()
        );
    }
}
