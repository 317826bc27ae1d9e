//! Aggregate figures for metrics and the stats API, each read in one D1 batch
//! (indexed GROUP BYs; no event or attempt is loaded one by one).

use super::ingests::{RequestCounts, REQUEST_COUNTS};
use super::rollups::{self, AttemptFigures};
use super::{bind, events, text, Db};
use crate::model::{EndpointId, RouteRef};
use crate::stats::FAILED_OUTCOMES;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Result, Result};

#[derive(Debug, Deserialize)]
pub struct ByEndpoint {
    pub endpoint_id: EndpointId,
    pub label: String,
    pub n: f64,
}

#[derive(Debug, Deserialize)]
pub struct EndpointGauges {
    pub endpoint_id: EndpointId,
    pub paused: f64,
    pub circuit_open: f64,
    pub circuit_failures: f64,
    pub oldest_in_flight_at: Option<f64>,
}

#[derive(Default)]
pub struct Stats {
    pub events_by_status: Vec<ByEndpoint>,
    pub attempts_by_outcome: Vec<ByEndpoint>,
    pub rejections_by_reason: Vec<ByEndpoint>,
    pub endpoints: Vec<EndpointGauges>,
}

impl Stats {
    /// Adds another shard's rows: each endpoint's are in one shard, so the
    /// rows are kept side by side.
    pub fn extend(&mut self, other: Stats) {
        self.events_by_status.extend(other.events_by_status);
        self.attempts_by_outcome.extend(other.attempts_by_outcome);
        self.rejections_by_reason.extend(other.rejections_by_reason);
        self.endpoints.extend(other.endpoints);
    }
}

/// Every event by endpoint and status: necessarily a read of every entry of
/// `events_endpoint` (covering), then of the open events (see
/// [`events::status_count_rows`]: each counted as delivered, then moved to
/// its own status), and of every archive row (its events are delivered).
pub(crate) const EVENTS_BY_STATUS: &str = "SELECT endpoint_id, label, SUM(n) AS n FROM (\
       SELECT endpoint_id, 'delivered' AS label, COUNT(*) AS n FROM events GROUP BY endpoint_id \
       UNION ALL SELECT endpoint_id, 'delivered', -COUNT(*) FROM events \
         WHERE status <> 'delivered' GROUP BY +endpoint_id \
       UNION ALL SELECT endpoint_id, status, COUNT(*) FROM events \
         WHERE status <> 'delivered' GROUP BY +endpoint_id, status \
       UNION ALL SELECT endpoint_id, 'delivered', SUM(events) FROM archives GROUP BY endpoint_id) \
     GROUP BY endpoint_id, label";

/// Every attempt by endpoint and outcome, from the hourly rollups (a read of
/// every rollup row, one per route and hour with traffic; no attempt is
/// read, and compaction changes nothing): `delivered`, each of
/// [`FAILED_OUTCOMES`] (zeros included), and `unclassified` for failures
/// counted before the rollups had a column per outcome whose attempts had
/// already left D1 (migration 0028), only where there are some. The totals
/// are unpivoted by a join with the labels, not a `UNION ALL` per outcome:
/// D1 caps the terms of a compound `SELECT` below their number.
pub(crate) fn attempts_by_outcome_sql() -> String {
    let sums: Vec<String> = FAILED_OUTCOMES
        .iter()
        .map(|o| format!("SUM({o}) AS {o}"))
        .collect();
    let picks: Vec<String> = FAILED_OUTCOMES
        .iter()
        .map(|o| format!("WHEN '{o}' THEN {o} "))
        .collect();
    let labels: Vec<String> = std::iter::once("delivered")
        .chain(FAILED_OUTCOMES)
        .chain(std::iter::once("unclassified"))
        .map(|label| format!("\"{label}\""))
        .collect();
    format!(
        "WITH totals AS (SELECT endpoint_id, SUM(delivered) AS delivered, \
            SUM(failed) AS failed, {sums} FROM rollups GROUP BY endpoint_id) \
         SELECT endpoint_id, labels.value AS label, \
           CASE labels.value WHEN 'delivered' THEN delivered {picks}\
             ELSE failed - ({classified}) END AS n \
         FROM totals, json_each('[{labels}]') AS labels \
         WHERE labels.value <> 'unclassified' OR failed > {classified}",
        sums = sums.join(", "),
        picks = picks.concat(),
        labels = labels.join(","),
        classified = FAILED_OUTCOMES.join(" + "),
    )
}

/// Refusal counters (one row per endpoint and reason).
pub(crate) const REJECTIONS_BY_REASON: &str =
    "SELECT endpoint_id, reason AS label, SUM(count) AS n FROM rejection_counts GROUP BY endpoint_id, reason";

/// Each live endpoint's gauges. The oldest in-flight event is read from its
/// routes' `events_route_open (route_id, status, next_attempt_at)`, their
/// in-flight events only (the unary `+` keeps the planner from looking for an
/// index of `received_at` to walk for the minimum, finished events included).
pub(crate) const ENDPOINT_GAUGES: &str = concat!(
    "SELECT ep.id AS endpoint_id, ep.paused AS paused, \
            (ep.circuit_state = 'open') AS circuit_open, ep.circuit_failures AS circuit_failures, \
            (SELECT MIN(+e.received_at) FROM events e WHERE ",
    route_of_endpoint!("e.route_id", "ep.id"),
    " AND e.status <> 'delivered' \
               AND e.status IN ('received', 'delivering', 'retrying')) AS oldest_in_flight_at \
     FROM endpoints ep WHERE ep.deleted_at IS NULL"
);

pub async fn read(db: &Db) -> Result<Stats> {
    let results = db
        .batch(vec![
            db.prepare(EVENTS_BY_STATUS),
            db.prepare(attempts_by_outcome_sql()),
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

fn rows<T: serde::de::DeserializeOwned>(results: &[D1Result], i: usize) -> Result<Vec<T>> {
    match results.get(i) {
        Some(r) => r.results(),
        None => Ok(Vec::new()),
    }
}

/// A live endpoint and its current streak of consecutive destination-down failures.
#[derive(Debug, Deserialize)]
pub struct EndpointStreak {
    pub endpoint_id: EndpointId,
    pub failure_streak: f64,
}

/// Events of one endpoint by status, all-time, as the health API counts them.
#[derive(Debug, Deserialize)]
pub struct StatusCounts {
    pub endpoint_id: EndpointId,
    pub received: f64,
    pub delivered: f64,
    pub dead: f64,
    pub in_flight: f64,
}

/// Requests of one endpoint by what became of them (`ingests::REQUEST_COUNTS`).
#[derive(Debug, Deserialize)]
pub struct EndpointRequests {
    pub endpoint_id: EndpointId,
    #[serde(flatten)]
    pub counts: RequestCounts,
}

/// A live route of a live endpoint (its first route included: `route_id` is
/// then the `ep_` id), its live state and its events by status, counted by
/// `events.route_id`.
#[derive(Debug, Deserialize)]
pub struct RouteFigures {
    pub endpoint_id: EndpointId,
    pub route_id: RouteRef,
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

#[derive(Default)]
pub struct EndpointFigures {
    /// Every endpoint not deleted (or the one asked for), oldest first; routes
    /// are not endpoints.
    pub endpoints: Vec<EndpointStreak>,
    /// Attempts in the window, from the hourly rollups.
    pub attempts: Vec<AttemptFigures>,
    pub counts: Vec<StatusCounts>,
    pub requests: Vec<EndpointRequests>,
    /// Each endpoint's live routes, its first route first, then oldest first.
    pub routes: Vec<RouteFigures>,
}

impl EndpointFigures {
    /// The figures of several shards as one: an endpoint's are all in its
    /// own shard, so nothing is added up; endpoints stay oldest first.
    pub fn merged(shards: Vec<EndpointFigures>) -> EndpointFigures {
        let mut all = EndpointFigures::default();
        for shard in shards {
            all.endpoints.extend(shard.endpoints);
            all.attempts.extend(shard.attempts);
            all.counts.extend(shard.counts);
            all.requests.extend(shard.requests);
            all.routes.extend(shard.routes);
        }
        all.endpoints
            .sort_by(|a, b| a.endpoint_id.as_str().cmp(b.endpoint_id.as_str()));
        all
    }
}

/// Per-endpoint figures in one batch, however many routes there are: the
/// endpoints, their attempts in the hours from `since_ms` on (how many
/// succeeded, their latency histogram), their events by status, their
/// requests by outcome, and their routes with each route's events by status.
pub async fn endpoint_figures(
    db: &Db,
    since_ms: i64,
    endpoint_id: Option<&str>,
) -> Result<EndpointFigures> {
    // One endpoint is `?1` (so its indexes serve the counts); all of them, no condition.
    let args = match endpoint_id {
        Some(id) => vec![text(id)],
        None => Vec::new(),
    };
    let sql = endpoint_figures_sql(endpoint_id.is_some());
    let statement = |sql: &str, args: &[JsValue]| bind(db.prepare(sql), args);
    let endpoints = statement(&sql.endpoints, &args)?;
    let counts = statement(&sql.counts, &args)?;
    let requests = statement(&sql.requests, &args)?;
    let routes = statement(&sql.routes, &args)?;
    let attempts = rollups::attempt_figures_statement(db, since_ms, endpoint_id)?;
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
/// endpoint's (the attempts are `rollups::attempt_figures_sql`).
pub(crate) struct FiguresSql {
    pub endpoints: String,
    pub counts: String,
    pub requests: String,
    pub routes: String,
}

/// For one endpoint each statement searches that endpoint's rows in an index;
/// for every endpoint the counts necessarily read every event and ingest,
/// over covering indexes.
pub(crate) fn endpoint_figures_sql(one_endpoint: bool) -> FiguresSql {
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
            "SELECT endpoint_id, SUM(received) AS received, SUM(delivered) AS delivered, \
                    SUM(dead) AS dead, SUM(in_flight) AS in_flight FROM (\
               {events} \
               UNION ALL {ARCHIVED_COUNTS} WHERE 1 {only} GROUP BY endpoint_id) \
             GROUP BY endpoint_id",
            events = events::status_count_rows(
                Some("endpoint_id"),
                &only("endpoint_id"),
                if one_endpoint {
                    events::OF_THE_ENDPOINTS_ROUTES
                } else {
                    ""
                }
            ),
            only = only("endpoint_id")
        ),
        requests: format!(
            "SELECT endpoint_id, SUM(received) AS received, SUM(routed) AS routed, \
                    SUM(filtered) AS filtered FROM (\
               SELECT endpoint_id, {REQUEST_COUNTS} FROM ingests WHERE 1 {only} GROUP BY endpoint_id \
               UNION ALL SELECT endpoint_id, SUM(ingests), SUM(ingests), 0 FROM archives \
                 WHERE 1 {only} GROUP BY endpoint_id) \
             GROUP BY endpoint_id",
            only = only("endpoint_id")
        ),
        routes: format!(
            "SELECT COALESCE(r.source_id, r.id) AS endpoint_id, r.id AS route_id, r.name AS name, \
                    r.destination_type AS destination_type, r.destination_url AS destination_url, \
                    r.circuit_failures AS failure_streak, r.circuit_state AS circuit_state, \
                    r.paused AS paused, COALESCE(c.received, 0) AS events, \
                    COALESCE(c.delivered, 0) AS delivered, COALESCE(c.dead, 0) AS dead, \
                    COALESCE(c.in_flight, 0) AS in_flight \
             FROM endpoints r \
             LEFT JOIN (SELECT route_id, SUM(received) AS received, SUM(delivered) AS delivered, \
                               SUM(dead) AS dead, SUM(in_flight) AS in_flight FROM (\
                          {events} \
                          UNION ALL SELECT route_id, SUM(events), SUM(events), 0, 0 FROM archives \
                            WHERE 1 {only} GROUP BY route_id) \
                        GROUP BY route_id) c ON c.route_id = r.id \
             WHERE r.deleted_at IS NULL {this_endpoint} \
             ORDER BY endpoint_id, r.source_id IS NOT NULL, r.id",
            // The endpoint's events by route (`events_endpoint` entries carry
            // the route), and its routes' open events.
            events = events::status_count_rows(
                Some("route_id"),
                &only("endpoint_id"),
                if one_endpoint {
                    events::OF_THE_ENDPOINTS_ROUTES
                } else {
                    ""
                }
            ),
            only = only("endpoint_id"),
            this_endpoint = if one_endpoint {
                // Deleting an endpoint deletes its routes, so no live route has a
                // deleted endpoint.
                "AND (r.id = ?1 OR r.source_id = ?1)"
            } else {
                ""
            },
        ),
    }
}

/// The archived events of each endpoint as a row of [`StatusCounts`]
/// (archived events are delivered), to `UNION ALL` with the rows of `events`.
const ARCHIVED_COUNTS: &str = "SELECT endpoint_id, SUM(events), SUM(events), 0, 0 FROM archives";
