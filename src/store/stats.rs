//! Aggregate figures for metrics, read in one D1 batch (indexed GROUP BYs; no
//! event is loaded one by one).

use serde::Deserialize;
use worker::{D1Database, Result};

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

pub async fn read(db: &D1Database) -> Result<Stats> {
    let results = db
        .batch(vec![
            db.prepare("SELECT endpoint_id, status AS label, COUNT(*) AS n FROM events GROUP BY endpoint_id, status"),
            db.prepare(
                "SELECT e.endpoint_id AS endpoint_id, a.outcome AS label, COUNT(*) AS n \
                 FROM attempts a JOIN events e ON e.id = a.event_id GROUP BY e.endpoint_id, a.outcome",
            ),
            db.prepare("SELECT endpoint_id, reason AS label, SUM(count) AS n FROM rejection_counts GROUP BY endpoint_id, reason"),
            db.prepare(
                "SELECT ep.id AS endpoint_id, ep.paused AS paused, \
                        (ep.circuit_state = 'open') AS circuit_open, ep.circuit_failures AS circuit_failures, \
                        (SELECT MIN(e.received_at) FROM events e WHERE e.endpoint_id = ep.id \
                           AND e.status IN ('received', 'delivering', 'retrying')) AS oldest_in_flight_at \
                 FROM endpoints ep WHERE ep.deleted_at IS NULL",
            ),
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
