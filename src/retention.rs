//! The sweeper's retention step: expired rows first, then their R2 bodies, then
//! a slow walk over the bucket that removes bodies no row points at (a failed D1
//! insert, or a body delete that failed after its row went).
//!
//! Expired rows go in batches of `RETENTION_BATCH` for as long as batches come
//! back full and the sweep's budget lasts (`behind` says rows were left), so
//! retention keeps up with any volume D1 can delete. The bucket walk resumes
//! where the previous run stopped (a cursor in `meta`) and wraps around at
//! the end.

use crate::relay::Relay;
use crate::store::bodies::{self, Bodies};
use crate::store::{meta, retention};
use crate::sweep::Budget;
use serde::Serialize;
use serde_json::json;
use worker::{console_error, Result};

const R2_CURSOR_KEY: &str = "retention_r2_cursor";
/// Objects looked at per run by the bucket walk.
const ORPHAN_SCAN: u32 = 200;
/// A body younger than this may belong to a request still being acked.
const ORPHAN_GRACE_MS: i64 = 3_600_000;

#[derive(Debug, Default, Serialize)]
pub struct RetentionReport {
    /// Finished events deleted (with their attempts).
    pub events_deleted: usize,
    pub bodies_deleted: usize,
    pub orphans_deleted: usize,
    /// Expired rows were left when the sweep's budget ran out.
    pub behind: bool,
}

pub async fn run(relay: &Relay, now_ms: i64, budget: &Budget) -> Result<RetentionReport> {
    let s = &relay.settings;
    let mut report = RetentionReport::default();
    let mut expired_keys = Vec::new();
    loop {
        let victims =
            retention::expired_events(&relay.db, now_ms, s.retention_days, s.retention_batch)
                .await?;
        if let Some(gap_ms) = s.retention_gap_ms().filter(|_| !victims.is_empty()) {
            worker::Delay::from(std::time::Duration::from_millis(gap_ms)).await;
        }
        let full = victims.len() == s.retention_batch as usize;
        let deleted =
            retention::delete_expired(&relay.db, &victims, now_ms, s.retention_days).await?;
        report.events_deleted += deleted.events;
        expired_keys.extend(deleted.body_keys);
        if !full {
            break;
        }
        if budget.spent(crate::relay::now_ms()) {
            report.behind = true;
            break;
        }
    }
    loop {
        let keys = retention::expire_filtered_ingests(
            &relay.db,
            now_ms,
            s.retention_days,
            s.retention_batch,
        )
        .await?;
        let full = keys.len() == s.retention_batch as usize;
        expired_keys.extend(keys);
        if !full {
            break;
        }
        if budget.spent(crate::relay::now_ms()) {
            report.behind = true;
            break;
        }
    }
    retention::expire_dedup_keys(&relay.db, now_ms, s.retention_batch).await?;
    let bucket = relay.bodies()?;
    // R2 deletes up to 1,000 keys per call.
    for keys in expired_keys.chunks(1000) {
        bodies::delete_many(&bucket, keys.to_vec()).await?;
        report.bodies_deleted += keys.len();
    }
    report.orphans_deleted = delete_orphans(relay, &bucket, now_ms)
        .await
        .unwrap_or_else(|err| {
            console_error!(
                "{}",
                json!({"msg": "orphan body sweep failed", "error": err.to_string()})
            );
            0
        });
    Ok(report)
}

async fn delete_orphans(relay: &Relay, bucket: &Bodies, now_ms: i64) -> Result<usize> {
    let cursor = meta::get(&relay.db, R2_CURSOR_KEY).await?.map(|m| m.value);
    let page = bodies::list(bucket, cursor, ORPHAN_SCAN).await?;
    let old_enough: Vec<String> = page
        .objects()
        .into_iter()
        .filter(|o| (o.uploaded().as_millis() as i64) < now_ms - ORPHAN_GRACE_MS)
        .map(|o| o.key())
        .collect();
    let mut deleted = 0;
    if !old_enough.is_empty() {
        let referenced = retention::referenced_bodies(&relay.db, &old_enough).await?;
        let orphans: Vec<String> = old_enough
            .into_iter()
            .filter(|k| !referenced.contains(k))
            .collect();
        if !orphans.is_empty() {
            deleted = orphans.len();
            bodies::delete_many(bucket, orphans).await?;
        }
    }
    let next = if page.truncated() {
        page.cursor().unwrap_or_default()
    } else {
        String::new()
    };
    meta::put(&relay.db, R2_CURSOR_KEY, &next, now_ms).await?;
    Ok(deleted)
}
