//! `/api/v1/stats`: the aggregate figures a dashboard draws.
//!
//! - `timeseries`: received, delivered and failed per bucket over 24 h, 7 d or 30 d
//!   (every bucket present, oldest first, aligned in UTC; see `stats::Span`).
//! - `endpoints`: per endpoint, the attempts of the 24 hours ending with the
//!   current one (success rate, p50/p95 duration as the upper bound of its
//!   latency histogram bucket), the current failure streak, the all-time counts of its
//!   events and of its requests (`received = routed + filtered`), and each of
//!   its routes with that route's live state and events.
//!
//! The charts, rates and percentiles read the hourly rollups (`store::rollups`),
//! never events; only aggregates reach the Worker.

use super::health::request_counts_view;
use super::{endpoint_query, query};
use crate::error::{json_response, ApiError};
use crate::model::{DestinationType, EndpointId};
use crate::relay::{now_ms, Relay};
use crate::stats::{self, BucketCount, Span, Window};
use crate::store::ingests::RequestCounts;
use crate::store::rollups::{self, AttemptFigures, SeriesRow};
use crate::store::stats as figures;
use crate::time::iso8601;
use crate::views::{
    EndpointStats, EndpointStatsList, EventCounts, Latency, RouteEventCounts, RouteStats,
    Timeseries, TimeseriesBucket,
};
use futures::future::try_join_all;
use std::collections::HashMap;
use worker::{Response, Url};

/// The window of `stats/endpoints`.
const ENDPOINTS_WINDOW: Window = Window::Day;

pub async fn timeseries(relay: &Relay, url: &Url) -> Result<Response, ApiError> {
    let window = match query(url, "window") {
        Some(raw) => Window::parse(&raw).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("unknown window {raw}; use 24h, 7d or 30d"),
            )
        })?,
        None => Window::Day,
    };
    let endpoint_id = endpoint_query(url)?;
    let scope = endpoint_id.as_ref().map(EndpointId::as_str);
    let span = Span::ending_at(window, now_ms());
    // Each shard's buckets; `stats::fill` adds up those of the same bucket.
    let shards = relay.for_scope(scope).await?;
    let rows: Vec<SeriesRow> =
        try_join_all(shards.iter().map(|shard| {
            rollups::series(&shard.db, span.from_ms, span.to_ms, span.bucket_ms, scope)
        }))
        .await?
        .into_iter()
        .flatten()
        .collect();
    let counts = |n: fn(&SeriesRow) -> f64| -> Vec<BucketCount> {
        rows.iter()
            .map(|r| BucketCount {
                bucket: r.bucket as i64,
                n: n(r) as u64,
            })
            .collect()
    };
    let buckets: Vec<TimeseriesBucket> = stats::fill(
        &span,
        &counts(|r| r.received),
        &counts(|r| r.delivered),
        &counts(|r| r.failed),
    )
    .iter()
    .map(|b| TimeseriesBucket {
        t: iso8601(b.start_ms),
        received: b.received,
        delivered: b.delivered,
        failed: b.failed,
    })
    .collect();
    Ok(json_response(
        200,
        &Timeseries {
            window: window.as_str(),
            bucket_s: span.bucket_ms / 1000,
            from: iso8601(span.from_ms),
            to: iso8601(span.to_ms),
            buckets,
        },
    )?)
}

pub async fn endpoints(relay: &Relay, url: &Url) -> Result<Response, ApiError> {
    let endpoint_id = endpoint_query(url)?;
    let since_ms = Span::ending_at(ENDPOINTS_WINDOW, now_ms()).from_ms;
    let scope = endpoint_id.as_ref().map(EndpointId::as_str);
    let shards = relay.for_scope(scope).await?;
    let found = figures::EndpointFigures::merged(
        try_join_all(
            shards
                .iter()
                .map(|shard| figures::endpoint_figures(&shard.db, since_ms, scope)),
        )
        .await?,
    );
    let attempts: HashMap<&str, &AttemptFigures> = found
        .attempts
        .iter()
        .map(|a| (a.endpoint_id.as_str(), a))
        .collect();
    let counts: HashMap<&str, &figures::StatusCounts> = found
        .counts
        .iter()
        .map(|c| (c.endpoint_id.as_str(), c))
        .collect();
    let requests: HashMap<&str, &RequestCounts> = found
        .requests
        .iter()
        .map(|r| (r.endpoint_id.as_str(), &r.counts))
        .collect();
    let mut routes: HashMap<&str, Vec<RouteStats>> = HashMap::new();
    for route in &found.routes {
        routes
            .entry(route.endpoint_id.as_str())
            .or_default()
            .push(route_view(route));
    }
    let data: Vec<EndpointStats> = found
        .endpoints
        .iter()
        .map(|ep| {
            let id = ep.endpoint_id.as_str();
            let found = attempts.get(id);
            let n = found.map_or(0, |a| a.attempts as u64);
            let succeeded = found.map_or(0, |a| a.succeeded as u64);
            let percentile = |p: u32| {
                found.and_then(|a| stats::histogram_percentile(&a.histogram(), a.max_ms as u64, p))
            };
            let count =
                |f: fn(&figures::StatusCounts) -> f64| counts.get(id).map_or(0, |c| f(c) as i64);
            EndpointStats {
                endpoint_id: id.to_string(),
                attempts: n,
                success_rate: stats::success_rate(n, succeeded),
                latency_ms: Latency {
                    p50: percentile(50),
                    p95: percentile(95),
                },
                failure_streak: ep.failure_streak as i64,
                counts: EventCounts {
                    received: count(|c| c.received),
                    delivered: count(|c| c.delivered),
                    dead: count(|c| c.dead),
                    in_flight: count(|c| c.in_flight),
                },
                requests: request_counts_view(
                    requests.get(id).copied().unwrap_or(&RequestCounts::NONE),
                ),
                routes: routes.remove(id).unwrap_or_default(),
            }
        })
        .collect();
    Ok(json_response(
        200,
        &EndpointStatsList {
            window: ENDPOINTS_WINDOW.as_str(),
            data,
        },
    )?)
}

/// One route's live state and its events by status (`events = delivered + dead
/// + in_flight`); `destination` is null for a pull route.
fn route_view(r: &figures::RouteFigures) -> RouteStats {
    let pushed = r.destination_type == DestinationType::Push.as_str();
    RouteStats {
        route_id: r.route_id.clone(),
        name: r.name.clone(),
        destination_type: r.destination_type.clone(),
        destination: pushed.then(|| r.destination_url.clone()),
        failure_streak: r.failure_streak as i64,
        circuit_state: r.circuit_state.clone(),
        paused: r.paused != 0.0,
        events: RouteEventCounts {
            total: r.events as i64,
            delivered: r.delivered as i64,
            dead: r.dead as i64,
            in_flight: r.in_flight as i64,
        },
    }
}
