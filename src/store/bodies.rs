//! Raw request bodies in R2, byte-exact.
//!
//! Keys are `bodies/<yyyy-mm-dd>/<ingest_id>`: unique per request (a duplicate with
//! a different body can never overwrite an acked one) and date-prefixed so
//! retention is a prefix listing.

use crate::ledger::{self, Path};
use crate::model::IngestId;
use worker::{Bucket, HttpMetadata, Objects, Result};

pub const PREFIX: &str = "bodies/";

/// The bodies bucket as the relay uses it: every operation counts towards the
/// capacity ledger of the path it serves.
pub struct Bodies {
    bucket: Bucket,
    path: Path,
}

impl Bodies {
    pub fn new(bucket: Bucket, path: Path) -> Bodies {
        Bodies { bucket, path }
    }
}

pub fn key_for(ingest_id: &IngestId, now_ms: i64) -> String {
    let day = chrono::DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "unknown-date".into());
    format!("{PREFIX}{day}/{ingest_id}")
}

/// The ingest id a body key ends with ([`key_for`]), if it has that shape.
pub fn ingest_id_of(key: &str) -> Option<&str> {
    let id = key.strip_prefix(PREFIX)?.rsplit_once('/')?.1;
    IngestId::parse(id).map(|_| id)
}

pub async fn put(
    bodies: &Bodies,
    key: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> Result<()> {
    let metadata = HttpMetadata {
        content_type: content_type.map(str::to_string),
        ..HttpMetadata::default()
    };
    ledger::r2_put(bodies.path);
    bodies
        .bucket
        .put(key, body)
        .http_metadata(metadata)
        .execute()
        .await?;
    Ok(())
}

/// The stored bytes, or `None` when the object is gone (retention, manual deletion).
pub async fn get(bodies: &Bodies, key: &str) -> Result<Option<Vec<u8>>> {
    ledger::r2_get(bodies.path);
    match bodies.bucket.get(key).execute().await? {
        Some(object) => match object.body() {
            Some(body) => Ok(Some(body.bytes().await?)),
            None => Ok(Some(Vec::new())),
        },
        None => Ok(None),
    }
}

pub async fn delete(bodies: &Bodies, key: &str) -> Result<()> {
    ledger::r2_delete(bodies.path, 1);
    bodies.bucket.delete(key).await
}

/// Deletes up to 1,000 objects in one call (R2's limit per call).
pub async fn delete_many(bodies: &Bodies, keys: Vec<String>) -> Result<()> {
    ledger::r2_delete(bodies.path, keys.len() as u64);
    bodies.bucket.delete_multiple(keys).await
}

/// One page of up to `limit` bodies, from `cursor` (the previous page's).
pub async fn list(bodies: &Bodies, cursor: Option<String>, limit: u32) -> Result<Objects> {
    ledger::r2_list(bodies.path);
    let mut listing = bodies.bucket.list().prefix(PREFIX).limit(limit);
    if let Some(c) = cursor.filter(|c| !c.is_empty()) {
        listing = listing.cursor(c);
    }
    listing.execute().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_key_names_its_ingest() {
        let id = IngestId::generate(1_700_000_000_000, [7; 10]);
        let key = key_for(&id, 1_700_000_000_000);
        assert_eq!(key, format!("bodies/2023-11-14/{id}"));
        assert_eq!(ingest_id_of(&key), Some(id.as_str()));
        assert_eq!(
            ingest_id_of("archive/ep_1/2023-11-14T22/rt_1/evt_1.ndjson.gz"),
            None
        );
        assert_eq!(ingest_id_of("bodies/2023-11-14/not-an-id"), None);
    }
}
