//! Retention: what the sweeper deletes, in bounded batches.
//!
//! Finished events (`delivered`, `dead`) older than their endpoint's retention go
//! with their attempts; an ingest goes when none of its events is left, and its
//! body key is returned so the R2 object is deleted *after* the row. A `filtered`
//! ingest (no events) goes when it is older than its endpoint's retention. In-flight
//! events are never deleted, however old (a paused endpoint may hold them).

use super::{bind, int, text};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, Result};

const DAY_MS: f64 = 86_400_000.0;

#[derive(Deserialize)]
struct Victim {
    event_id: String,
    ingest_id: String,
}

#[derive(Deserialize)]
struct BodyKey {
    body_key: String,
}

/// Deletes up to `limit` expired events and the ingests they leave empty;
/// returns the R2 keys of the bodies that no row points at any more.
pub async fn expire_events(
    db: &D1Database,
    now_ms: i64,
    default_days: f64,
    limit: u32,
) -> Result<Vec<String>> {
    let victims: Vec<Victim> = bind(
        db.prepare(
            "SELECT e.id AS event_id, e.ingest_id FROM events e JOIN endpoints ep ON ep.id = e.endpoint_id \
             WHERE e.status IN ('delivered', 'dead') \
               AND e.received_at < ?1 - COALESCE(ep.retention_days, ?2) * ?3 \
             ORDER BY e.received_at LIMIT ?4",
        ),
        &[int(now_ms), JsValue::from_f64(default_days), JsValue::from_f64(DAY_MS), int(i64::from(limit))],
    )?
    .all()
    .await?
    .results()?;
    if victims.is_empty() {
        return Ok(Vec::new());
    }
    let event_ids =
        serde_json::to_string(&victims.iter().map(|v| &v.event_id).collect::<Vec<_>>())?;
    let ingest_ids =
        serde_json::to_string(&victims.iter().map(|v| &v.ingest_id).collect::<Vec<_>>())?;
    let results = db
        .batch(vec![
            bind(
                db.prepare(
                    "DELETE FROM attempts WHERE event_id IN (SELECT value FROM json_each(?1))",
                ),
                &[text(&event_ids)],
            )?,
            bind(
                db.prepare("DELETE FROM events WHERE id IN (SELECT value FROM json_each(?1))"),
                &[text(&event_ids)],
            )?,
            bind(
                db.prepare(
                    "DELETE FROM ingests WHERE id IN (SELECT value FROM json_each(?1)) \
                     AND NOT EXISTS (SELECT 1 FROM events e WHERE e.ingest_id = ingests.id) \
                     RETURNING body_key",
                ),
                &[text(&ingest_ids)],
            )?,
        ])
        .await?;
    let keys: Vec<BodyKey> = match results.get(2) {
        Some(r) => r.results()?,
        None => Vec::new(),
    };
    Ok(keys.into_iter().map(|k| k.body_key).collect())
}

/// Deletes up to `limit` `filtered` ingests (no route accepted them, so no event
/// will ever expire them) older than their endpoint's retention; returns their
/// body keys. A filtered ingest a replay has routed in the meantime has events
/// and waits for them.
pub async fn expire_filtered_ingests(
    db: &D1Database,
    now_ms: i64,
    default_days: f64,
    limit: u32,
) -> Result<Vec<String>> {
    let keys: Vec<BodyKey> = bind(
        db.prepare(
            "DELETE FROM ingests WHERE id IN ( \
               SELECT i.id FROM ingests i JOIN endpoints ep ON ep.id = i.endpoint_id \
               WHERE i.status = 'filtered' \
                 AND i.received_at < ?1 - COALESCE(ep.retention_days, ?2) * ?3 \
               ORDER BY i.received_at LIMIT ?4) \
             AND NOT EXISTS (SELECT 1 FROM events e WHERE e.ingest_id = ingests.id) \
             RETURNING body_key",
        ),
        &[
            int(now_ms),
            JsValue::from_f64(default_days),
            JsValue::from_f64(DAY_MS),
            int(i64::from(limit)),
        ],
    )?
    .all()
    .await?
    .results()?;
    Ok(keys.into_iter().map(|k| k.body_key).collect())
}

/// Dedup keys past their window do nothing any more; up to `limit` are removed.
pub async fn expire_dedup_keys(db: &D1Database, now_ms: i64, limit: u32) -> Result<()> {
    bind(
        db.prepare(
            "DELETE FROM dedup_keys WHERE rowid IN \
               (SELECT rowid FROM dedup_keys WHERE expires_at < ?1 LIMIT ?2)",
        ),
        &[int(now_ms), int(i64::from(limit))],
    )?
    .run()
    .await?;
    Ok(())
}

/// Of `keys`, the ones some ingest row still points at.
pub async fn referenced_bodies(db: &D1Database, keys: &[String]) -> Result<Vec<String>> {
    let rows: Vec<BodyKey> = bind(
        db.prepare(
            "SELECT body_key FROM ingests WHERE body_key IN (SELECT value FROM json_each(?1))",
        ),
        &[text(&serde_json::to_string(keys)?)],
    )?
    .all()
    .await?
    .results()?;
    Ok(rows.into_iter().map(|r| r.body_key).collect())
}
