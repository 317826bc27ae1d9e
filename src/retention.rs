//! The sweeper's retention step: expired rows first, then their R2 bodies, then
//! archive objects past retention with the bodies their records point at, then
//! a slow walk over the bucket that removes recent bodies no row points at (a
//! failed D1 insert). The first steps run in each shard; the walk, once per
//! sweep over every shard's rows, since the shards share the bucket.
//!
//! Expired rows go in batches of `RETENTION_BATCH` for as long as batches come
//! back full and the sweep's budget lasts (`behind` says rows were left), so
//! retention keeps up with any volume D1 can delete. The bucket walk resumes
//! where the previous run stopped (a cursor in `meta`) and wraps around at
//! the end.

use crate::relay::Relay;
use crate::store::bodies::{self, Bodies};
use crate::store::{archive, meta, retention};
use crate::sweep::Budget;
use serde_json::json;
use worker::{console_error, Result};

const R2_CURSOR_KEY: &str = "retention_r2_cursor";
/// Objects looked at per run by the bucket walk.
const ORPHAN_SCAN: u32 = 200;
/// A body younger than this may belong to a request still being acked.
const ORPHAN_GRACE_MS: i64 = 3_600_000;

pub use crate::views::RetentionReport;

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
        if !budget.another_batch(full, &mut report.behind) {
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
        if !budget.another_batch(full, &mut report.behind) {
            break;
        }
    }
    let bucket = relay.bodies()?;
    loop {
        let expired =
            archive::expired(&relay.db, now_ms, s.retention_days, s.retention_batch).await?;
        let full = expired.len() == s.retention_batch as usize;
        for object in &expired {
            report.bodies_deleted += remove_archive_object(relay, &bucket, &object.key).await?;
            report.archives_deleted += 1;
        }
        if !budget.another_batch(full, &mut report.behind) {
            break;
        }
    }
    // R2 deletes up to 1,000 keys per call.
    for keys in expired_keys.chunks(1000) {
        bodies::delete_many(&bucket, keys.to_vec()).await?;
        report.bodies_deleted += keys.len();
    }
    Ok(report)
}

/// The bucket walk, once per sweep for every shard (the bucket is shared: a
/// body is an orphan only when no shard's row points at it); a failure is
/// logged and counts as none deleted. `relay` works in the control database,
/// which keeps the walk's cursor.
pub async fn sweep_orphans(relay: &Relay, now_ms: i64) -> usize {
    let walked = match relay.bodies() {
        Ok(bucket) => delete_orphans(relay, &bucket, now_ms).await,
        Err(err) => Err(err),
    };
    walked.unwrap_or_else(|err| {
        console_error!(
            "{}",
            json!({"msg": "orphan body sweep failed", "error": err.to_string()})
        );
        0
    })
}

/// Removes an archive object past retention: the bodies its records point at
/// (but not one an ingest still in D1 shares), then the object, then its row,
/// so a run cut short anywhere is finished by the next. Returns the bodies
/// deleted.
async fn remove_archive_object(relay: &Relay, bucket: &Bodies, key: &str) -> Result<usize> {
    let mut deleted = 0;
    if let Some(bytes) = bodies::get(bucket, key).await? {
        let body_keys = archive_body_keys(&bytes)?;
        let shared = retention::referenced_bodies(&relay.db, &body_keys).await?;
        let unshared: Vec<String> = body_keys
            .into_iter()
            .filter(|k| !shared.contains(k))
            .collect();
        for keys in unshared.chunks(1000) {
            bodies::delete_many(bucket, keys.to_vec()).await?;
            deleted += keys.len();
        }
        bodies::delete(bucket, key).await?;
    }
    archive::forget(&relay.db, key).await?;
    Ok(deleted)
}

/// The body keys an archive object's records point at, each once.
fn archive_body_keys(bytes: &[u8]) -> Result<Vec<String>> {
    let lines = crate::archive::decode(bytes, crate::archive::MAX_OBJECT_BYTES)
        .map_err(|e| worker::Error::RustError(format!("archive object unreadable: {e}")))?;
    let mut keys = std::collections::BTreeSet::new();
    for line in lines {
        let record: archive::ArchivedEvent = serde_json::from_str(&line)?;
        keys.insert(record.body_key);
    }
    Ok(keys.into_iter().collect())
}

/// One page of the bucket walk. A body is an orphan when no ingest row points
/// at it and it is younger than compaction's age (the hot window, at least
/// the dedup window: `Settings::compaction_age_ms`): an older one may belong to an
/// archived event (compaction removes ingest rows, not bodies), and leaves
/// with its archive object; what no archive holds (a body whose delete failed
/// after its rows went) is left to the bucket's lifecycle rule (the deploy
/// step in docs/operations.md).
async fn delete_orphans(relay: &Relay, bucket: &Bodies, now_ms: i64) -> Result<usize> {
    let cursor = meta::get(&relay.control, R2_CURSOR_KEY)
        .await?
        .map(|m| m.value);
    let page = bodies::list(bucket, cursor, ORPHAN_SCAN).await?;
    let hot_since = now_ms - relay.settings.compaction_age_ms();
    let old_enough: Vec<String> = page
        .objects()
        .into_iter()
        .filter(|o| {
            let uploaded = o.uploaded().as_millis() as i64;
            uploaded < now_ms - ORPHAN_GRACE_MS && uploaded > hot_since
        })
        .map(|o| o.key())
        .collect();
    let mut deleted = 0;
    if !old_enough.is_empty() {
        let mut referenced = std::collections::HashSet::new();
        for shard in relay.on_every_shard()? {
            referenced.extend(retention::referenced_bodies(&shard.db, &old_enough).await?);
        }
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
    meta::put(&relay.control, R2_CURSOR_KEY, &next, now_ms).await?;
    Ok(deleted)
}
