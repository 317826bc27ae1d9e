//! In-isolate endpoint cache: the first round trip of the ack path is usually free.
//!
//! An entry is the endpoint with its live routes (one D1 read fills it). Entries
//! live a few seconds (`ENDPOINT_CACHE_TTL_S`); an API write in the same isolate
//! invalidates at once, other isolates see it within the TTL.
//!
//! Ids that name no endpoint are cached too (a flood at one unknown id costs one
//! read per TTL), in a separate map of at most [`MAX_UNKNOWN`] entries, so
//! requests to ever new made-up ids cannot grow the isolate's memory; known
//! endpoints are held in at most [`MAX_KNOWN`] entries. A full map first drops
//! its expired entries, then the one that expires first.
//!
//! The shard each id was placed on is cached beside them ([`shard_of`]): a
//! placement never changes, so it is kept for [`PLACEMENT_TTL_S`]; an id not
//! placed (yet) is looked up again after the endpoint TTL, like an unknown id.

use super::Db;
use super::{endpoints, shards};
use crate::model::{Endpoint, EndpointId, SourceRoutes};
use crate::shards::ShardName;
use std::cell::RefCell;
use std::collections::HashMap;
use worker::Result;

/// Endpoints (with their routes) cached per isolate.
pub const MAX_KNOWN: usize = 4_096;
/// Ids that name no endpoint cached per isolate.
pub const MAX_UNKNOWN: usize = 1_024;
/// How long a placement is cached: placements never change.
pub const PLACEMENT_TTL_S: u64 = 3_600;

/// A map of entries that expire, holding at most `cap` of them.
#[derive(Debug)]
pub struct Bounded<V> {
    cap: usize,
    entries: HashMap<String, (i64, V)>,
}

impl<V: Clone> Bounded<V> {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            entries: HashMap::new(),
        }
    }

    /// The value, while it has not expired at `now`.
    pub fn get(&self, key: &str, now: i64) -> Option<V> {
        self.entries
            .get(key)
            .filter(|(expires, _)| *expires > now)
            .map(|(_, v)| v.clone())
    }

    /// Stores the value until `expires`, making room when the map is full.
    pub fn insert(&mut self, key: &str, value: V, expires: i64, now: i64) {
        if !self.entries.contains_key(key) && self.entries.len() >= self.cap {
            self.entries.retain(|_, (e, _)| *e > now);
            if self.entries.len() >= self.cap {
                let first = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (e, _))| *e)
                    .map(|(k, _)| k.clone());
                if let Some(first) = first {
                    self.entries.remove(&first);
                }
            }
        }
        self.entries.insert(key.to_string(), (expires, value));
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Known endpoints and unknown ids, each map bounded.
pub struct Cache {
    known: Bounded<SourceRoutes>,
    unknown: Bounded<()>,
}

impl Cache {
    pub fn new(max_known: usize, max_unknown: usize) -> Self {
        Self {
            known: Bounded::new(max_known),
            unknown: Bounded::new(max_unknown),
        }
    }

    /// `Some(None)`: cached as unknown; `None`: not cached (or expired).
    pub fn get(&self, id: &str, now: i64) -> Option<Option<SourceRoutes>> {
        if let Some(routes) = self.known.get(id, now) {
            return Some(Some(routes));
        }
        self.unknown.get(id, now).map(|()| None)
    }

    pub fn put(&mut self, id: &str, routes: Option<SourceRoutes>, expires: i64, now: i64) {
        match routes {
            Some(routes) => {
                self.unknown.remove(id);
                self.known.insert(id, routes, expires, now);
            }
            None => {
                self.known.remove(id);
                self.unknown.insert(id, (), expires, now);
            }
        }
    }

    pub fn remove(&mut self, id: &str) {
        self.known.remove(id);
        self.unknown.remove(id);
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::new(MAX_KNOWN, MAX_UNKNOWN));
    static PLACEMENTS: RefCell<Bounded<ShardName>> =
        RefCell::new(Bounded::new(MAX_KNOWN + MAX_UNKNOWN));
}

/// The shard holding the endpoint or route `id`, from the cache when fresh,
/// else from the control database (`control`); the control database itself
/// for an id never placed, which then names nothing there either. Also
/// whether it was a cache hit (no round trip).
pub async fn shard_of(
    control: &Db,
    id: &str,
    now_ms: i64,
    ttl_s: u64,
) -> Result<(ShardName, bool)> {
    if let Some(shard) = PLACEMENTS.with(|p| p.borrow().get(id, now_ms)) {
        return Ok((shard, true));
    }
    let placed = shards::placed_on(control, id).await?;
    let ttl_s = if placed.is_some() {
        PLACEMENT_TTL_S
    } else {
        ttl_s
    };
    let shard = placed.unwrap_or_else(ShardName::control);
    let expires = now_ms + (ttl_s as i64) * 1000;
    PLACEMENTS.with(|p| p.borrow_mut().insert(id, shard.clone(), expires, now_ms));
    Ok((shard, false))
}

/// Forgets where `id` is placed, once it is placed now (the miss cached
/// before it was would otherwise stand for a TTL).
pub fn forget_placement(id: &str) {
    PLACEMENTS.with(|p| p.borrow_mut().remove(id));
}

/// The endpoint, from the cache when fresh, else from D1 (misses are cached too,
/// so a flood at an unknown id costs one read per TTL).
pub async fn get(db: &Db, id: &EndpointId, now_ms: i64, ttl_s: u64) -> Result<Option<Endpoint>> {
    let (found, _) = lookup(db, id, now_ms, ttl_s).await?;
    Ok(found.as_ref().and_then(SourceRoutes::endpoint))
}

/// The endpoint's source and routes, its own first (`None`: no such
/// endpoint), and whether it was a cache hit (no D1 round trip).
pub async fn lookup(
    db: &Db,
    id: &EndpointId,
    now_ms: i64,
    ttl_s: u64,
) -> Result<(Option<SourceRoutes>, bool)> {
    let hit = CACHE.with(|c| c.borrow().get(id.as_str(), now_ms));
    if let Some(routes) = hit {
        return Ok((routes, true));
    }
    let routes = endpoints::get_with_routes(db, id).await?;
    let expires = now_ms + (ttl_s as i64) * 1000;
    CACHE.with(|c| {
        c.borrow_mut()
            .put(id.as_str(), routes.clone(), expires, now_ms)
    });
    Ok((routes, false))
}

pub fn invalidate(id: &EndpointId) {
    CACHE.with(|c| c.borrow_mut().remove(id.as_str()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Source;
    use crate::verify::Provider;

    #[test]
    fn a_full_map_drops_expired_entries_then_the_first_to_expire() {
        let mut map = Bounded::new(3);
        map.insert("a", 1, 100, 0);
        map.insert("b", 2, 50, 0);
        map.insert("c", 3, 200, 0);
        map.insert("d", 4, 300, 10);
        assert_eq!(map.len(), 3);
        assert_eq!(map.get("b", 10), None, "expires first, so it made room");
        assert_eq!(map.get("a", 10), Some(1));
        // With "a" expired at 150, it is dropped and the others stay.
        map.insert("e", 5, 400, 150);
        assert_eq!(map.len(), 3);
        assert_eq!(
            (map.get("c", 150), map.get("d", 150), map.get("e", 150)),
            (Some(3), Some(4), Some(5))
        );
        // Refreshing a present key needs no room.
        map.insert("c", 6, 500, 150);
        assert_eq!((map.len(), map.get("c", 150)), (3, Some(6)));
        assert_eq!(map.get("c", 500), None, "expired");
    }

    #[test]
    fn a_flood_of_unknown_ids_stays_within_the_bound() {
        let mut cache = Cache::new(8, 16);
        for i in 0..10_000 {
            cache.put(&format!("ep_{i}"), None, 5_000 + i, i);
            assert!(cache.unknown.len() <= 16);
        }
        assert_eq!(
            cache.get("ep_9999", 9_999),
            Some(None),
            "the newest are kept"
        );
        assert_eq!(cache.get("ep_0", 9_999), None, "the oldest made room");
        assert!(cache.known.is_empty());
    }

    #[test]
    fn an_id_is_known_or_unknown_not_both() {
        let mut cache = Cache::new(8, 8);
        cache.put("ep_1", None, 100, 0);
        assert_eq!(cache.get("ep_1", 0), Some(None));
        let id = EndpointId::parse("ep_1").expect("an endpoint id");
        let found = SourceRoutes {
            source: Source::new(id, Provider::none()),
            routes: Vec::new(),
        };
        cache.put("ep_1", Some(found.clone()), 100, 0);
        assert_eq!(cache.get("ep_1", 0), Some(Some(found)));
        assert!(cache.unknown.is_empty());
        cache.put("ep_1", None, 100, 0);
        assert!(cache.known.is_empty());
        cache.remove("ep_1");
        assert_eq!(cache.get("ep_1", 0), None);
    }
}
