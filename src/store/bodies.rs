//! Raw request bodies in R2, byte-exact.
//!
//! Keys are `bodies/<yyyy-mm-dd>/<ingest_id>`: unique per request (a duplicate with
//! a different body can never overwrite an acked one) and date-prefixed so
//! retention is a prefix listing.

use crate::model::IngestId;
use worker::{Bucket, HttpMetadata, Result};

pub const PREFIX: &str = "bodies/";

pub fn key_for(ingest_id: &IngestId, now_ms: i64) -> String {
    let day = chrono::DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "unknown-date".into());
    format!("{PREFIX}{day}/{ingest_id}")
}

pub async fn put(
    bucket: &Bucket,
    key: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> Result<()> {
    let metadata = HttpMetadata {
        content_type: content_type.map(str::to_string),
        ..HttpMetadata::default()
    };
    bucket
        .put(key, body)
        .http_metadata(metadata)
        .execute()
        .await?;
    Ok(())
}

/// The stored bytes, or `None` when the object is gone (retention, manual deletion).
pub async fn get(bucket: &Bucket, key: &str) -> Result<Option<Vec<u8>>> {
    match bucket.get(key).execute().await? {
        Some(object) => match object.body() {
            Some(body) => Ok(Some(body.bytes().await?)),
            None => Ok(Some(Vec::new())),
        },
        None => Ok(None),
    }
}

pub async fn delete(bucket: &Bucket, key: &str) -> Result<()> {
    bucket.delete(key).await
}
