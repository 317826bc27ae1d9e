//! Raw request bodies in R2, byte-exact, with what an ingest keeps beside its
//! body: the headers (object metadata) and the SHA-256 (object checksum), so
//! that D1's working set holds neither.
//!
//! Keys are `bodies/<yyyy-mm-dd>/<ingest_id>`: unique per request (a duplicate with
//! a different body can never overwrite an acked one) and date-prefixed so
//! retention is a prefix listing.

use crate::headers::{HeaderHome, HeaderList, BODY_METADATA_KEY};
use crate::ledger::{self, Path};
use crate::model::{CarriedBody, IngestId};
use std::collections::HashMap;
use worker::{Bucket, HttpMetadata, Object, Objects, Result};

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

/// A request body as the ack path keeps it: byte-exact, with its content type,
/// its SHA-256 (R2 checks the upload against it and keeps it as the object's
/// checksum) and, when they fit there, its ingest's headers as custom metadata
/// ([`HeaderHome`]).
pub struct RequestBody<'a> {
    pub bytes: Vec<u8>,
    pub content_type: Option<&'a str>,
    pub sha256: [u8; 32],
    pub headers: &'a HeaderHome,
}

/// A stored body and the headers its object keeps (JSON pairs), if any.
pub struct StoredBody {
    pub bytes: Vec<u8>,
    pub headers: Option<String>,
}

/// A delivery message's copy of a body is the stored body, byte for byte.
impl From<CarriedBody> for StoredBody {
    fn from(carried: CarriedBody) -> StoredBody {
        StoredBody {
            bytes: carried.bytes,
            headers: carried.headers,
        }
    }
}

/// Stores any object (archives use it) with its content type.
pub async fn put(
    bodies: &Bodies,
    key: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> Result<()> {
    ledger::r2_put(bodies.path);
    bodies
        .bucket
        .put(key, body)
        .http_metadata(http_metadata(content_type))
        .execute()
        .await?;
    Ok(())
}

/// Stores a request's body with what the ack path keeps beside it.
pub async fn put_request(bodies: &Bodies, key: &str, body: RequestBody<'_>) -> Result<()> {
    ledger::r2_put(bodies.path);
    let metadata: HashMap<String, String> = body
        .headers
        .in_body_object()
        .map(|json| (BODY_METADATA_KEY.to_string(), json.to_string()))
        .into_iter()
        .collect();
    bodies
        .bucket
        .put(key, body.bytes)
        .http_metadata(http_metadata(body.content_type))
        .custom_metadata(metadata)
        .sha256(body.sha256.to_vec())
        .execute()
        .await?;
    Ok(())
}

fn http_metadata(content_type: Option<&str>) -> HttpMetadata {
    HttpMetadata {
        content_type: content_type.map(str::to_string),
        ..HttpMetadata::default()
    }
}

/// The stored bytes, or `None` when the object is gone (retention, manual deletion).
pub async fn get(bodies: &Bodies, key: &str) -> Result<Option<Vec<u8>>> {
    Ok(get_request(bodies, key).await?.map(|stored| stored.bytes))
}

/// The stored bytes with the headers kept in the object, or `None` when it is gone.
pub async fn get_request(bodies: &Bodies, key: &str) -> Result<Option<StoredBody>> {
    ledger::r2_get(bodies.path);
    let Some(object) = bodies.bucket.get(key).execute().await? else {
        return Ok(None);
    };
    let headers = kept_headers(&object)?;
    let bytes = match object.body() {
        Some(body) => body.bytes().await?,
        None => Vec::new(),
    };
    Ok(Some(StoredBody { bytes, headers }))
}

/// An ingest's headers, from its row's `headers` column or, when that is
/// empty, from its body object's metadata (one R2 `head`, no body read).
/// `None` when they were kept in the object and it is gone.
pub async fn ingest_headers(
    bodies: &Bodies,
    row_column: &str,
    key: &str,
) -> Result<Option<HeaderList>> {
    if !row_column.is_empty() {
        return Ok(Some(HeaderList::from_stored(row_column)?));
    }
    ledger::r2_get(bodies.path);
    let Some(object) = bodies.bucket.head(key).await? else {
        return Ok(None);
    };
    let kept = kept_headers(&object)?;
    Ok(Some(HeaderList::of_ingest("", kept.as_deref())?))
}

fn kept_headers(object: &Object) -> Result<Option<String>> {
    Ok(object.custom_metadata()?.remove(BODY_METADATA_KEY))
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
