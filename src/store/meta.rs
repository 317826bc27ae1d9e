//! The `meta` table: small facts about the relay itself (the sweeper
//! heartbeat, the alert marks).

use super::{bind, changes, int, text, Db};
use serde::Deserialize;
use worker::Result;

pub const SWEEPER_HEARTBEAT: &str = "sweeper_heartbeat";

#[derive(Deserialize)]
pub struct KeyedRow {
    pub key: String,
    pub value: String,
}

/// Every entry whose key starts with `prefix` (an ASCII one, such as
/// `alert:`), read as a range of the primary key.
pub async fn with_prefix(db: &Db, prefix: &str) -> Result<Vec<KeyedRow>> {
    bind(
        db.prepare(WITH_PREFIX),
        &[text(prefix), text(&past_prefix(prefix))],
    )?
    .all()
    .await?
    .results()
}

/// The statement of [`with_prefix`]: ?1 the prefix, ?2 [`past_prefix`] of it.
pub(crate) const WITH_PREFIX: &str = "SELECT key, value FROM meta WHERE key >= ?1 AND key < ?2";

/// The least key after every key starting with `prefix`: its last character
/// incremented (`alert:` → `alert;`), as keys compare byte by byte.
fn past_prefix(prefix: &str) -> String {
    let mut past = prefix.to_string();
    match past.pop().and_then(|last| char::from_u32(last as u32 + 1)) {
        Some(next) => past.push(next),
        // An empty prefix, or one ending at the last code point: no bound
        // short of every key.
        None => return char::MAX.to_string(),
    }
    past
}

/// Which of `keys` have an entry (one read, by primary key).
pub async fn present(db: &Db, keys: &[&str]) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Key {
        key: String,
    }
    let keys = serde_json::to_string(keys)?;
    let rows: Vec<Key> = bind(db.prepare(PRESENT), &[text(&keys)])?
        .all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(|r| r.key).collect())
}

/// The statement of [`present`]: ?1 = the keys as a JSON array.
pub(crate) const PRESENT: &str =
    "SELECT key FROM meta WHERE key IN (SELECT value FROM json_each(?1))";

/// Removes the entry of `key`; returns whether there was one.
pub async fn delete(db: &Db, key: &str) -> Result<bool> {
    let result = bind(db.prepare("DELETE FROM meta WHERE key = ?1"), &[text(key)])?
        .run()
        .await?;
    Ok(changes(&result)? > 0)
}

#[derive(Deserialize)]
pub struct MetaRow {
    pub value: String,
    pub updated_at: f64,
}

pub async fn put(db: &Db, key: &str, value: &str, now_ms: i64) -> Result<()> {
    let sql = "INSERT INTO meta (key, value, updated_at) VALUES (?1, ?2, ?3) \
               ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    bind(db.prepare(sql), &[text(key), text(value), int(now_ms)])?
        .run()
        .await?;
    Ok(())
}

/// The database's size in bytes as D1 reports it with every result
/// (`meta.size_after`), read from the cheapest statement there is; `None`
/// where the runtime does not report it.
pub async fn database_size(db: &Db) -> Result<Option<u64>> {
    let result = db.prepare("SELECT 1").all().await?;
    Ok(result
        .meta()?
        .and_then(|m| m.size_after)
        .map(|bytes| bytes as u64))
}

pub async fn get(db: &Db, key: &str) -> Result<Option<MetaRow>> {
    bind(
        db.prepare("SELECT value, updated_at FROM meta WHERE key = ?1"),
        &[text(key)],
    )?
    .first(None)
    .await
}

#[cfg(test)]
mod tests {
    use super::past_prefix;

    #[test]
    fn a_prefix_range_ends_just_past_every_key_that_starts_with_it() {
        assert_eq!(past_prefix("alert:"), "alert;");
        for inside in ["alert:", "alert:streak:rt_1", "alert:~~~"] {
            assert!(inside >= "alert:" && inside < past_prefix("alert:").as_str());
        }
        for outside in ["alert", "alert;", "alerts", "sweeper_heartbeat"] {
            assert!(!(outside >= "alert:" && outside < past_prefix("alert:").as_str()));
        }
    }
}
