//! In-isolate endpoint cache: the first round trip of the ack path is usually free.
//!
//! Entries live a few seconds (`ENDPOINT_CACHE_TTL_S`); an API write in the same
//! isolate invalidates at once, other isolates see it within the TTL.

use super::endpoints;
use crate::model::{Endpoint, EndpointId};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{D1Database, Result};

thread_local! {
    static CACHE: RefCell<HashMap<String, (i64, Option<Endpoint>)>> = RefCell::new(HashMap::new());
}

/// The endpoint, from the cache when fresh, else from D1 (misses are cached too,
/// so a flood at an unknown id costs one read per TTL).
pub async fn get(
    db: &D1Database,
    id: &EndpointId,
    now_ms: i64,
    ttl_s: u64,
) -> Result<Option<Endpoint>> {
    Ok(lookup(db, id, now_ms, ttl_s).await?.0)
}

/// Like [`get`], and whether it was a cache hit (no D1 round trip).
pub async fn lookup(
    db: &D1Database,
    id: &EndpointId,
    now_ms: i64,
    ttl_s: u64,
) -> Result<(Option<Endpoint>, bool)> {
    let hit = CACHE.with(|c| {
        c.borrow()
            .get(id.as_str())
            .filter(|(expires, _)| *expires > now_ms)
            .map(|(_, ep)| ep.clone())
    });
    if let Some(endpoint) = hit {
        return Ok((endpoint, true));
    }
    let endpoint = endpoints::get(db, id).await?;
    let expires = now_ms + (ttl_s as i64) * 1000;
    CACHE.with(|c| {
        c.borrow_mut()
            .insert(id.as_str().to_string(), (expires, endpoint.clone()))
    });
    Ok((endpoint, false))
}

pub fn invalidate(id: &EndpointId) {
    CACHE.with(|c| c.borrow_mut().remove(id.as_str()));
}
