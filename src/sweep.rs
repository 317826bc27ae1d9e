//! The sweeper (cron): the correctness backstop. D1 is the truth; this finds what
//! the queue did not handle in time and handles it, so every event is delivered
//! even with the queue gone:
//! - `received` not claimed within the grace period (a lost or failed `queue.send`),
//! - `retrying` whose time has come (plus the grace: the delayed message goes first),
//! - `delivering` whose lease expired (a deliverer that crashed): first returned
//!   to `received`/`retrying` in one statement, whatever the route's state, so
//!   a probe, a resume or a pull client can take them like any waiting event.
//!
//! Work grows with the backlog, within a time budget (`SWEEP_BUDGET_S`, 25 s):
//! expired leases are released page after page, and due events are walked in
//! keyset pages oldest first: of the first page, up to `SWEEP_DELIVER_LIMIT`
//! are delivered here (fewer when `D1_QUERIES_PER_INVOCATION`, the plan's D1
//! query budget per invocation, leaves no room), and every other due event is
//! re-enqueued, page by page, until the backlog is walked or the budget is
//! spent (`backlog_left` then says the next run goes on). Compaction (delivered
//! events leave D1 for the R2 archive a hot window after delivery) and
//! retention work the same way. So a backlog drains at the speed of D1 and the queue, not at a
//! fixed count per minute. Each run ends with a heartbeat, which health
//! watches, carrying every database's size.
//!
//! All of that is done in every shard at once, within the one budget, each
//! shard's sweep with a share of the invocation's connections and probes;
//! then, once, what is relay-wide: the bucket walk for orphan bodies (over
//! every shard's rows), the refusal log, alerts and rules, and the heartbeat
//! in the control database.
//!
//! It also drives circuit breakers: each route whose circuit is open and whose
//! probe time has come gets one probe delivery.

use crate::compact;
use crate::deliver::{deliver_event, probe_route, Delivery};
use crate::hub;
use crate::model::EventId;
use crate::relay::{now_ms, Relay};
use crate::retention;
use crate::store::events::Changed;
use crate::store::{endpoints, events, meta, rejections};
use crate::watch;
use futures::future::join_all;
use serde_json::json;
use worker::{console_error, console_log, Result};

/// Direct deliveries at once: the six outbound connections of an invocation.
const DIRECT_CONCURRENCY: usize = crate::deliver::CONNECTIONS;
/// Refusal log rows older than 24 h removed per run.
const REJECTION_PURGE_LIMIT: u32 = 1_000;
/// Open circuits probed per run.
const PROBES_PER_RUN: u32 = 6;

pub use crate::views::{SweepCounts, SweepReport};

pub async fn run(relay: &Relay) -> Result<SweepReport> {
    let now = now_ms();
    let budget = Budget::starting(now, relay.settings.sweep_budget_ms);
    let shards = relay.shards();
    let share = Share::of(shards.len());
    let runs = join_all(shards.iter().map(|shard| async {
        let shard_relay = relay.on(shard)?;
        sweep_shard(&shard_relay, now, &budget, share).await
    }))
    .await;
    let mut report = SweepReport::default();
    for (shard, run) in shards.into_iter().zip(runs) {
        match run {
            Ok(run) => report.add_shard(shard.to_string(), run),
            Err(err) => {
                report.add_failed_shard(shard.to_string());
                console_error!(
                    "{}",
                    json!({"msg": "shard sweep failed", "shard": shard, "error": err.to_string()})
                );
            }
        }
    }
    let orphans = retention::sweep_orphans(relay, now).await;
    if let Some(retention) = report.sum.retention.as_mut() {
        retention.orphans_deleted = orphans;
    }
    let purged = rejections::purge_expired(&relay.control, now, REJECTION_PURGE_LIMIT).await;
    counted(&mut report, "rejections purge failed", purged);
    let alerts = watch::sweep(relay, now).await;
    report.alerts = counted(&mut report, "alert step failed", alerts).unwrap_or(0);
    let rules = watch::rules(relay, now).await;
    report.alerts += counted(&mut report, "alert rule step failed", rules).unwrap_or(0);
    let capacity = watch::capacity(relay, &report, now).await;
    report.alerts += counted(&mut report, "capacity check failed", capacity).unwrap_or(0);
    let summary = serde_json::to_string(&report)?;
    meta::put(&relay.control, meta::SWEEPER_HEARTBEAT, &summary, now_ms()).await?;
    if let Err(err) = watch::sweeper_back(relay).await {
        console_error!(
            "{}",
            json!({"msg": "stale sweeper alert not cleared", "error": err.to_string()})
        );
    }
    console_log!(
        "{}",
        json!({"msg": "sweep", "report": report, "ms": now_ms() - now})
    );
    Ok(report)
}

/// What each shard's sweep may use of the invocation's six outbound
/// connections and of the probes per run: shards are swept concurrently.
#[derive(Clone, Copy)]
struct Share {
    connections: usize,
    probes: u32,
}

impl Share {
    fn of(shards: usize) -> Share {
        let shards = shards.max(1);
        Share {
            connections: (DIRECT_CONCURRENCY / shards).max(1),
            probes: (PROBES_PER_RUN / shards as u32).max(1),
        }
    }
}

/// One shard's backlogs (expired leases, open circuits, due events,
/// compaction, retention) within the run's budget, and its size.
async fn sweep_shard(
    relay: &Relay,
    now: i64,
    budget: &Budget,
    share: Share,
) -> Result<SweepCounts> {
    let s = &relay.settings;
    let page = (s.sweep_deliver_limit + s.sweep_enqueue_limit).max(1);
    let mut report = SweepCounts::default();
    let released = release_expired_leases(relay, now, page, budget).await?;
    report.leases_released = released.len();
    hub::publish(relay, &events::changes_at(&released, now_ms())).await;
    let released: Vec<EventId> = released.into_iter().map(|r| r.id).collect();
    report.probes = probe_open_circuits(relay, now, share.probes).await?;
    let due_before = now - s.sweep_grace_s as i64 * 1000;
    let (first_page, mut cursor) = events::due_for_sweep(&relay.db, due_before, None, page).await?;
    let full_page = first_page.len() == page as usize;
    let seen: std::collections::HashSet<EventId> = released.iter().cloned().collect();
    let mut due = released;
    due.extend(first_page.into_iter().filter(|id| !seen.contains(id)));
    report.due = due.len();
    let direct_count = due.len().min(s.sweep_direct_deliveries() as usize);
    let (direct, rest) = due.split_at(direct_count);
    deliver_directly(relay, direct, share.connections, &mut report).await;
    enqueue(relay, rest, &mut report).await;
    let mut more = full_page;
    while more && !budget.spent(now_ms()) {
        let (ids, next) =
            events::due_for_sweep(&relay.db, due_before, cursor.as_ref(), page).await?;
        more = ids.len() == page as usize;
        report.due += ids.len();
        enqueue(relay, &ids, &mut report).await;
        cursor = next;
    }
    report.backlog_left = more;
    let compaction = compact::run(relay, now, budget).await;
    report.compaction = counted_in(&mut report.errors, "compaction failed", compaction);
    let retention = retention::run(relay, now, budget).await;
    report.retention = counted_in(&mut report.errors, "retention failed", retention);
    let size = meta::database_size(&relay.db).await;
    report.d1_size_bytes = counted_in(&mut report.errors, "database size not read", size).flatten();
    Ok(report)
}

/// A step's result, or `None` once its failure is counted in the report and
/// logged: one failing step must not keep the others (and the heartbeat)
/// from running.
fn counted<T>(report: &mut SweepReport, what: &str, result: Result<T>) -> Option<T> {
    counted_in(&mut report.sum.errors, what, result)
}

/// As [`counted`], for a count of errors of its own.
fn counted_in<T>(errors: &mut usize, what: &str, result: Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            *errors += 1;
            console_error!("{}", json!({"msg": what, "error": err.to_string()}));
            None
        }
    }
}

/// The wall time a sweep may spend on backlogs.
pub struct Budget {
    until_ms: i64,
}

impl Budget {
    pub fn starting(now_ms: i64, budget_ms: u64) -> Budget {
        Budget {
            until_ms: now_ms + budget_ms as i64,
        }
    }

    pub fn spent(&self, now_ms: i64) -> bool {
        now_ms >= self.until_ms
    }

    /// Whether a step working in batches goes on: its last batch came back
    /// full and the budget lasts. When the budget is what stops it, `behind`
    /// is set: work was left for the next run.
    pub fn another_batch(&self, full: bool, behind: &mut bool) -> bool {
        if !full {
            return false;
        }
        if self.spent(now_ms()) {
            *behind = true;
            return false;
        }
        true
    }
}

/// Returns expired leases to the waiting states, page after page while pages
/// come back full and the budget lasts; the events, oldest lease first.
async fn release_expired_leases(
    relay: &Relay,
    now: i64,
    page: u32,
    budget: &Budget,
) -> Result<Vec<Changed>> {
    let mut released = Vec::new();
    loop {
        let rows = events::release_expired_leases(&relay.db, now, page).await?;
        let full = rows.len() == page as usize;
        released.extend(rows);
        if !full || budget.spent(now_ms()) {
            return Ok(released);
        }
    }
}

/// Delivers the oldest due events here, six at a time: with no queue at all
/// the relay still delivers.
async fn deliver_directly(
    relay: &Relay,
    ids: &[EventId],
    connections: usize,
    report: &mut SweepCounts,
) {
    for chunk in ids.chunks(connections.max(1)) {
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
}

/// Hands due events to the queue; a failure is counted and logged (the next
/// run finds them again).
async fn enqueue(relay: &Relay, ids: &[EventId], report: &mut SweepCounts) {
    if ids.is_empty() {
        return;
    }
    match relay.enqueue_many(ids).await {
        Ok(()) => report.enqueued += ids.len(),
        Err(err) => {
            report.errors += 1;
            console_error!(
                "{}",
                json!({"msg": "sweeper enqueue failed", "error": err.to_string()})
            );
        }
    }
}

/// One probe per open circuit whose probe time has come, at most `limit`;
/// returns how many ran.
async fn probe_open_circuits(relay: &Relay, now: i64, limit: u32) -> Result<usize> {
    let open = endpoints::open_circuits_due(&relay.db, now, limit).await?;
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
