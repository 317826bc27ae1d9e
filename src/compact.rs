//! Compaction, the sweeper's step that keeps D1 a working set: delivered
//! events a hot window (`HOT_WINDOW_S`, 72 h) after their delivery move, with
//! their attempts, into gzip NDJSON objects in R2 (see [`crate::archive`]), and
//! only then leave D1. A failed object write leaves its events in D1 for the
//! next run; nothing is removed that is not in R2 first. A D1 failure after
//! the write leaves an object no `archives` row points at: its events stay in
//! D1 and go into another object later, and the stray one is left to the
//! bucket's lifecycle rule (reads go through the rows, so it is never read).
//!
//! Batches of `COMPACT_BATCH` events go for as long as they come back full and
//! the sweep's budget lasts (`behind` says events were left), so compaction
//! keeps up with any volume D1 can delete. Dead and in-flight events stay in D1
//! whatever their age: they are work, not history.

use crate::archive::{self, IdFilter};
use crate::relay::Relay;
use crate::settings::Fault;
use crate::stats::hour_of;
use crate::store::archive::{self as store, NewArchive};
use crate::store::bodies;
use crate::sweep::Budget;
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use worker::{console_error, Result};

/// Archive objects written at once.
const PUT_CONCURRENCY: usize = 6;

pub use crate::views::CompactionReport;

/// What compaction reads of a record to place it.
#[derive(Deserialize)]
struct Placement {
    id: String,
    ingest_id: String,
    endpoint_id: String,
    route_id: String,
    received_at: f64,
    dedup_key: String,
}

/// One event of a group, with its record line.
struct Member {
    id: String,
    ingest_id: String,
    /// Its ingest's dedup key: the object's filter holds it beside the id,
    /// so a catch-up finds an event the relay already holds.
    dedup_key: String,
    line: String,
}

/// The events of one route received in one hour: one object.
struct Group {
    endpoint_id: String,
    route_id: String,
    hour_ms: i64,
    /// By id.
    events: Vec<Member>,
    /// The newest receipt among them.
    last_received_at: i64,
}

pub async fn run(relay: &Relay, now_ms: i64, budget: &Budget) -> Result<CompactionReport> {
    let s = &relay.settings;
    let cutoff_ms = now_ms - s.compaction_age_ms();
    let mut report = CompactionReport::default();
    loop {
        let lines = store::compactable(&relay.db, cutoff_ms, s.compact_batch).await?;
        let full = lines.len() == s.compact_batch as usize;
        let failed_before = report.objects_failed;
        compact_batch(relay, lines, cutoff_ms, now_ms, &mut report).await?;
        // A failed write would fail again at once: the next run retries.
        let retry_next_run = report.objects_failed > failed_before;
        if retry_next_run || !budget.another_batch(full, &mut report.behind) {
            break;
        }
    }
    Ok(report)
}

async fn compact_batch(
    relay: &Relay,
    lines: Vec<String>,
    cutoff_ms: i64,
    now_ms: i64,
    report: &mut CompactionReport,
) -> Result<()> {
    let groups = group(lines)?;
    let batch = hex::encode(crate::relay::random_bytes::<6>());
    let batch = batch.as_str();
    let written: Vec<(Group, Result<String>)> = stream::iter(groups)
        .map(|g| async move {
            let put = write_object(relay, &g, batch).await;
            (g, put)
        })
        .buffer_unordered(PUT_CONCURRENCY)
        .collect()
        .await;
    let mut archived: Vec<(Group, String, String)> = Vec::new();
    for (g, put) in written {
        match put {
            Ok(key) => {
                let filter = object_filter(&g).to_hex();
                archived.push((g, key, filter));
            }
            Err(err) => {
                report.objects_failed += 1;
                console_error!(
                    "{}",
                    json!({"msg": "archive write failed; the events stay in D1",
                           "endpoint_id": g.endpoint_id, "route_id": g.route_id,
                           "events": g.events.len(), "error": err.to_string()})
                );
            }
        }
    }
    if archived.is_empty() {
        return Ok(());
    }
    let ids_of =
        |g: &Group| serde_json::to_string(&g.events.iter().map(|e| &e.id).collect::<Vec<_>>());
    let mut object_ids = Vec::with_capacity(archived.len());
    for (g, _, _) in &archived {
        object_ids.push(ids_of(g)?);
    }
    let all_ids: Vec<&String> = archived
        .iter()
        .flat_map(|(g, _, _)| g.events.iter().map(|e| &e.id))
        .collect();
    let ingest_ids: Vec<&String> = archived
        .iter()
        .flat_map(|(g, _, _)| g.events.iter().map(|e| &e.ingest_id))
        .collect();
    let objects: Vec<NewArchive> = archived
        .iter()
        .zip(&object_ids)
        .map(|((g, key, filter), ids)| NewArchive {
            key,
            endpoint_id: &g.endpoint_id,
            route_id: &g.route_id,
            hour_ms: g.hour_ms,
            last_received_at: g.last_received_at,
            first_id: g.events.first().map_or("", |e| e.id.as_str()),
            last_id: g.events.last().map_or("", |e| e.id.as_str()),
            id_filter: filter,
            event_ids_json: ids,
        })
        .collect();
    let removed = store::commit(
        &relay.db,
        &objects,
        &serde_json::to_string(&all_ids)?,
        &serde_json::to_string(&ingest_ids)?,
        cutoff_ms,
        now_ms,
    )
    .await?;
    report.objects_written += objects.len();
    report.events_compacted += removed;
    Ok(())
}

/// The batch's records by endpoint, hour of receipt and route, each group's
/// events by id.
fn group(lines: Vec<String>) -> Result<Vec<Group>> {
    let mut groups: BTreeMap<(String, i64, String), Group> = BTreeMap::new();
    for line in lines {
        let p: Placement = serde_json::from_str(&line)?;
        let received_at = p.received_at as i64;
        let hour_ms = hour_of(received_at);
        let g = groups
            .entry((p.endpoint_id.clone(), hour_ms, p.route_id.clone()))
            .or_insert_with(|| Group {
                endpoint_id: p.endpoint_id,
                route_id: p.route_id,
                hour_ms,
                events: Vec::new(),
                last_received_at: received_at,
            });
        g.last_received_at = g.last_received_at.max(received_at);
        g.events.push(Member {
            id: p.id,
            ingest_id: p.ingest_id,
            dedup_key: p.dedup_key,
            line,
        });
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    for g in &mut groups {
        g.events.sort_by(|a, b| a.id.cmp(&b.id));
    }
    Ok(groups)
}

/// The filter of the group's object: its event ids and their dedup keys (a
/// key is never shaped like an id: `id:`, `id-sha256:` or `sha256:` first).
fn object_filter(g: &Group) -> IdFilter {
    let members: Vec<&str> = g
        .events
        .iter()
        .flat_map(|e| [e.id.as_str(), e.dedup_key.as_str()])
        .collect();
    IdFilter::of(members.into_iter())
}

/// Writes the group's object; its key.
async fn write_object(relay: &Relay, g: &Group, batch: &str) -> Result<String> {
    if relay.settings.faults.contains(&Fault::ArchivePut) {
        return Err(worker::Error::RustError(
            "injected fault: archive_put".into(),
        ));
    }
    let first_id = g.events.first().map_or("", |e| e.id.as_str());
    let key = archive::object_key(&g.endpoint_id, &g.route_id, g.hour_ms, first_id, batch);
    let bytes = archive::encode(g.events.iter().map(|e| e.line.as_str()))
        .map_err(|e| worker::Error::RustError(format!("archive encoding: {e}")))?;
    bodies::put(&relay.bodies()?, &key, bytes, Some(archive::CONTENT_TYPE)).await?;
    Ok(key)
}
