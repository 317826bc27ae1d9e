//! `GET /api/v1/health`: conservation counts and whether the safety net is running.
//! Two lines hold: per request `received = routed + filtered` (`requests`, from
//! the ingests), per event `received = delivered + dead + in_flight` (`counts`).
//! `degraded` when the sweeper's heartbeat is missing or older than two intervals,
//! which also raises the stale-sweeper alert (once per cooldown). `database`
//! is the fullest D1 database's size against its cap. The figures are summed
//! over the shards and also given per shard; an endpoint's are its shard's.

use super::query;
use crate::error::{json_response, ApiError};
use crate::model::EndpointId;
use crate::relay::{now_ms, Relay};
use crate::store::ingests::{self, RequestCounts};
use crate::store::{events, meta};
use crate::time::iso8601;
use crate::views::{
    self, DatabaseRoom, EventCounts, Health, HealthStatus, ShardHealth, SweeperHealth,
};
use crate::watch;
use futures::future::try_join_all;
use serde_json::json;
use worker::{console_error, Response, Url};

pub async fn get(relay: &Relay, url: &Url) -> Result<Response, ApiError> {
    let endpoint_id = match query(url, "endpoint_id") {
        Some(raw) => Some(EndpointId::parse(&raw).ok_or_else(|| {
            ApiError::bad_request("invalid_endpoint_id", "endpoint_id is not an ep_ id")
        })?),
        None => None,
    };
    let scope = endpoint_id.as_ref().map(EndpointId::as_str);
    // One endpoint's figures are its shard's; the relay's, every shard's summed.
    let shards = relay.for_scope(scope).await?;
    let per_shard = try_join_all(shards.iter().map(|shard| {
        futures::future::try_join3(
            events::counts(&shard.db, scope),
            ingests::request_counts(&shard.db, scope),
            meta::database_size(&shard.db),
        )
    }))
    .await?;
    let max_bytes = relay.settings.d1_max_bytes;
    let shard_views: Vec<ShardHealth> = shards
        .iter()
        .zip(&per_shard)
        .map(|(shard, (counts, requests, size))| ShardHealth {
            shard: shard.shard().to_string(),
            counts: event_counts_view(counts),
            requests: request_counts_view(requests),
            database: DatabaseRoom::new(*size, max_bytes),
        })
        .collect();
    let (counts, requests, size_bytes) = summed(per_shard);
    let heartbeat = meta::get(&relay.control, meta::SWEEPER_HEARTBEAT).await?;
    let last_run_ms = heartbeat.as_ref().map(|h| h.updated_at as i64);
    let stale = watch::is_stale(relay, last_run_ms, now_ms());
    if stale {
        // The sweeper cannot report its own death; whoever notices does.
        if let Err(err) = watch::report_stale_sweeper(relay, last_run_ms).await {
            console_error!(
                "{}",
                json!({"msg": "stale-sweeper alert failed", "error": err.to_string()})
            );
        }
    }
    let last_report: Option<serde_json::Value> =
        heartbeat.and_then(|h| serde_json::from_str(&h.value).ok());
    let body = Health {
        status: if stale {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        },
        sweeper: SweeperHealth {
            last_run_at: last_run_ms.map(iso8601),
            stale,
            last_report,
        },
        counts: event_counts_view(&counts),
        requests: request_counts_view(&requests),
        endpoint_id,
        database: DatabaseRoom::new(size_bytes, max_bytes),
        shards: shard_views,
    };
    Ok(json_response(200, &body)?)
}

/// The shards' figures added up; the size is the fullest database's, the
/// one nearest its cap.
fn summed(
    per_shard: Vec<(events::Counts, RequestCounts, Option<u64>)>,
) -> (events::Counts, RequestCounts, Option<u64>) {
    let mut counts = events::Counts::default();
    let mut requests = RequestCounts::default();
    let mut size_bytes: Option<u64> = None;
    for (c, r, size) in per_shard {
        counts.received += c.received;
        counts.delivered += c.delivered;
        counts.dead += c.dead;
        counts.in_flight += c.in_flight;
        requests.received += r.received;
        requests.routed += r.routed;
        requests.filtered += r.filtered;
        size_bytes = size_bytes.max(size);
    }
    (counts, requests, size_bytes)
}

/// Events by status as health shows them.
fn event_counts_view(c: &events::Counts) -> EventCounts {
    EventCounts {
        received: c.received as i64,
        delivered: c.delivered as i64,
        dead: c.dead as i64,
        in_flight: c.in_flight as i64,
    }
}

/// `requests` as health and the stats API show it.
pub(super) fn request_counts_view(r: &RequestCounts) -> views::RequestCounts {
    views::RequestCounts {
        received: r.received as i64,
        routed: r.routed as i64,
        filtered: r.filtered as i64,
    }
}
