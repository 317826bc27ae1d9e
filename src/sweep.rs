//! The sweeper (cron): the correctness backstop. D1 is the truth; this finds what
//! the queue did not handle in time and handles it, so every event is delivered
//! even with the queue gone:
//! - `received` not claimed within the grace period (a lost or failed `queue.send`),
//! - `retrying` whose time has come (plus the grace: the delayed message goes first),
//! - `delivering` whose lease expired (a deliverer that crashed): first returned
//!   to `received`/`retrying` in one statement, whatever the route's state, so
//!   a probe, a resume or a pull client can take them like any waiting event.
//!
//! Work is bounded per run and oldest first: the first `SWEEP_DELIVER_LIMIT` are
//! delivered here (fewer when `D1_QUERIES_PER_INVOCATION`, the plan's D1 query
//! budget per invocation, leaves no room for them), the rest up to
//! `SWEEP_DELIVER_LIMIT + SWEEP_ENQUEUE_LIMIT` are re-enqueued. Each run ends
//! with a heartbeat, which health watches.
//!
//! It also drives circuit breakers: each route whose circuit is open and whose
//! probe time has come gets one probe delivery.

use crate::deliver::{deliver_event, probe_route, Delivery};
use crate::relay::{enqueue_many, now_ms, Relay};
use crate::retention::{self, RetentionReport};
use crate::store::{endpoints, events, meta, rejections};
use crate::watch;
use futures::future::join_all;
use serde::Serialize;
use serde_json::json;
use worker::{console_error, console_log, Result};

/// Direct deliveries at once: the six outbound connections of an invocation.
const DIRECT_CONCURRENCY: usize = crate::deliver::CONNECTIONS;
/// Refusal log rows older than 24 h removed per run.
const REJECTION_PURGE_LIMIT: u32 = 1_000;
/// Open circuits probed per run.
const PROBES_PER_RUN: u32 = 6;

#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    pub due: usize,
    /// Expired leases returned to the waiting states this run.
    pub leases_released: usize,
    pub delivered_directly: usize,
    pub not_claimed: usize,
    pub enqueued: usize,
    pub probes: usize,
    pub errors: usize,
    pub retention: Option<RetentionReport>,
    pub alerts: usize,
}

pub async fn run(relay: &Relay) -> Result<SweepReport> {
    let s = &relay.settings;
    let now = now_ms();
    let limit = s.sweep_deliver_limit + s.sweep_enqueue_limit;
    let released = events::release_expired_leases(&relay.db, now, limit).await?;
    let probes = probe_open_circuits(relay, now).await?;
    let due_before = now - s.sweep_grace_s as i64 * 1000;
    let leases_released = released.len();
    let mut due = released;
    for id in events::due_for_sweep(&relay.db, due_before, limit).await? {
        if !due.contains(&id) {
            due.push(id);
        }
    }
    due.truncate(limit as usize);
    let direct_count = due.len().min(s.sweep_direct_deliveries() as usize);
    let (direct, rest) = due.split_at(direct_count);

    let mut report = SweepReport {
        due: due.len(),
        leases_released,
        probes,
        ..SweepReport::default()
    };
    for chunk in direct.chunks(DIRECT_CONCURRENCY) {
        for outcome in join_all(chunk.iter().map(|id| deliver_event(relay, id))).await {
            match outcome {
                Ok(Delivery::Finished(_)) => report.delivered_directly += 1,
                Ok(_) => report.not_claimed += 1,
                Err(err) => {
                    report.errors += 1;
                    console_error!(
                        "{}",
                        json!({"msg": "sweeper delivery failed", "error": err.to_string()})
                    );
                }
            }
        }
    }
    if !rest.is_empty() {
        match relay.queue() {
            Ok(queue) => match enqueue_many(&queue, rest).await {
                Ok(()) => report.enqueued = rest.len(),
                Err(err) => {
                    report.errors += 1;
                    console_error!(
                        "{}",
                        json!({"msg": "sweeper enqueue failed", "error": err.to_string()})
                    );
                }
            },
            Err(err) => console_error!(
                "{}",
                json!({"msg": "no queue binding", "error": err.to_string()})
            ),
        }
    }
    match retention::run(relay, now).await {
        Ok(r) => report.retention = Some(r),
        Err(err) => {
            report.errors += 1;
            console_error!(
                "{}",
                json!({"msg": "retention failed", "error": err.to_string()})
            );
        }
    }
    if let Err(err) = rejections::purge_expired(&relay.db, now, REJECTION_PURGE_LIMIT).await {
        report.errors += 1;
        console_error!(
            "{}",
            json!({"msg": "rejections purge failed", "error": err.to_string()})
        );
    }
    match watch::sweep(relay, now).await {
        Ok(n) => report.alerts = n,
        Err(err) => {
            report.errors += 1;
            console_error!(
                "{}",
                json!({"msg": "alert step failed", "error": err.to_string()})
            );
        }
    }
    let summary = serde_json::to_string(&report)?;
    meta::put(&relay.db, meta::SWEEPER_HEARTBEAT, &summary, now_ms()).await?;
    console_log!(
        "{}",
        json!({"msg": "sweep", "report": report, "ms": now_ms() - now})
    );
    Ok(report)
}

/// One probe per open circuit whose probe time has come; returns how many ran.
async fn probe_open_circuits(relay: &Relay, now: i64) -> Result<usize> {
    let open = endpoints::open_circuits_due(&relay.db, now, PROBES_PER_RUN).await?;
    let outcomes = join_all(open.iter().map(|id| probe_route(relay, id))).await;
    let mut ran = 0;
    for outcome in outcomes {
        match outcome {
            Ok(Delivery::Finished(_)) => ran += 1,
            Ok(_) => {}
            Err(err) => console_error!(
                "{}",
                json!({"msg": "probe failed", "error": err.to_string()})
            ),
        }
    }
    Ok(ran)
}
