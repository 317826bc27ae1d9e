//! The `api_keys` table. Keys are found by the hash of the presented key.

use super::{bind, changes, int, opt_text, text, Db};
use crate::model::{KeyId, RouteRef};
use serde::Deserialize;
use worker::Result;

const COLUMNS: &str = "id, name, role, endpoint_id, prefix, created_at, last_used_at";

#[derive(Debug, Clone, Deserialize)]
pub struct KeyRow {
    pub id: KeyId,
    pub name: String,
    pub role: String,
    /// A pull key's destination.
    pub endpoint_id: Option<RouteRef>,
    pub prefix: String,
    pub created_at: f64,
    pub last_used_at: Option<f64>,
}

pub struct NewKey<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub endpoint_id: Option<&'a str>,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub created_at: i64,
}

pub async fn insert(db: &Db, key: &NewKey<'_>) -> Result<()> {
    bind(
        db.prepare(
            "INSERT INTO api_keys (id, name, role, endpoint_id, prefix, key_hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        ),
        &[
            text(key.id),
            text(key.name),
            text(key.role),
            opt_text(key.endpoint_id),
            text(key.prefix),
            text(key.key_hash),
            int(key.created_at),
        ],
    )?
    .run()
    .await?;
    Ok(())
}

/// Live (unrevoked) keys, oldest first.
pub async fn list(db: &Db) -> Result<Vec<KeyRow>> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY id"
    ))
    .all()
    .await?
    .results()
}

/// The live key with this hash.
pub async fn find_live(db: &Db, key_hash: &str) -> Result<Option<KeyRow>> {
    bind(
        db.prepare(format!(
            "SELECT {COLUMNS} FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL"
        )),
        &[text(key_hash)],
    )?
    .first(None)
    .await
}

/// Stamps `last_used_at`. Callers do it at most once a minute per key, so a
/// dashboard polling every few seconds reads the key but rarely writes it.
pub async fn mark_used(db: &Db, id: &str, now: i64) -> Result<()> {
    bind(
        db.prepare("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1"),
        &[text(id), int(now)],
    )?
    .run()
    .await?;
    Ok(())
}

/// Revokes a live key; false when there is none with this id.
pub async fn revoke(db: &Db, id: &str, now: i64) -> Result<bool> {
    let r = bind(
        db.prepare("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"),
        &[text(id), int(now)],
    )?
    .run()
    .await?;
    Ok(changes(&r)? > 0)
}
