//! The `meta` table: small facts about the relay itself (the sweeper heartbeat).

use super::{bind, int, text};
use serde::Deserialize;
use worker::{D1Database, Result};

pub const SWEEPER_HEARTBEAT: &str = "sweeper_heartbeat";

#[derive(Deserialize)]
pub struct KeyedRow {
    pub key: String,
    pub value: String,
}

/// Every entry whose key starts with `prefix`.
pub async fn with_prefix(db: &D1Database, prefix: &str) -> Result<Vec<KeyedRow>> {
    bind(
        db.prepare("SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1"),
        &[text(prefix)],
    )?
    .all()
    .await?
    .results()
}

pub async fn delete(db: &D1Database, key: &str) -> Result<()> {
    bind(db.prepare("DELETE FROM meta WHERE key = ?1"), &[text(key)])?
        .run()
        .await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct MetaRow {
    pub value: String,
    pub updated_at: f64,
}

pub async fn put(db: &D1Database, key: &str, value: &str, now_ms: i64) -> Result<()> {
    let sql = "INSERT INTO meta (key, value, updated_at) VALUES (?1, ?2, ?3) \
               ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    bind(db.prepare(sql), &[text(key), text(value), int(now_ms)])?
        .run()
        .await?;
    Ok(())
}

pub async fn get(db: &D1Database, key: &str) -> Result<Option<MetaRow>> {
    bind(
        db.prepare("SELECT value, updated_at FROM meta WHERE key = ?1"),
        &[text(key)],
    )?
    .first(None)
    .await
}
