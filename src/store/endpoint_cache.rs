//! In-isolate endpoint cache: the first round trip of the ack path is usually free.
//!
//! An entry is the endpoint with its live routes (one D1 read fills it). Entries
//! live a few seconds (`ENDPOINT_CACHE_TTL_S`); an API write in the same isolate
//! invalidates at once, other isolates see it within the TTL.

use super::endpoints;
use crate::model::{Endpoint, EndpointId, Route};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{D1Database, Result};

type Entry = (i64, Option<Vec<Route>>);

thread_local! {
    static CACHE: RefCell<HashMap<String, Entry>> = RefCell::new(HashMap::new());
}

/// The endpoint, from the cache when fresh, else from D1 (misses are cached too,
/// so a flood at an unknown id costs one read per TTL).
pub async fn get(
    db: &D1Database,
    id: &EndpointId,
    now_ms: i64,
    ttl_s: u64,
) -> Result<Option<Endpoint>> {
    let (routes, _) = lookup(db, id, now_ms, ttl_s).await?;
    Ok(routes.and_then(|r| r.into_iter().next()).map(|r| r.target))
}

/// The endpoint's routes, its own first (`None`: no such endpoint), and
/// whether it was a cache hit (no D1 round trip).
pub async fn lookup(
    db: &D1Database,
    id: &EndpointId,
    now_ms: i64,
    ttl_s: u64,
) -> Result<(Option<Vec<Route>>, bool)> {
    let hit = CACHE.with(|c| {
        c.borrow()
            .get(id.as_str())
            .filter(|(expires, _)| *expires > now_ms)
            .map(|(_, routes)| routes.clone())
    });
    if let Some(routes) = hit {
        return Ok((routes, true));
    }
    let routes = endpoints::get_with_routes(db, id).await?;
    let expires = now_ms + (ttl_s as i64) * 1000;
    CACHE.with(|c| {
        c.borrow_mut()
            .insert(id.as_str().to_string(), (expires, routes.clone()))
    });
    Ok((routes, false))
}

pub fn invalidate(id: &EndpointId) {
    CACHE.with(|c| c.borrow_mut().remove(id.as_str()));
}
