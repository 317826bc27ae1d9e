//! Event shards: which D1 databases hold endpoints' working sets, and where a
//! new endpoint goes.
//!
//! One D1 database runs one query at a time and holds at most 10 GB, so the
//! relay spreads endpoints over several. The control database (binding `DB`)
//! is also the first shard, so a relay that has only ever had one database
//! keeps every row where it is: adding a shard is one more `[[d1_databases]]`
//! binding named `DB_SHARD_<n>` (numbered from 1 without gaps) plus its
//! migrations, and moves nothing.
//!
//! Placement is recorded, not hashed: a new endpoint goes to the shard with
//! the most room ([`roomiest`]) and the control database remembers it for
//! good. All of an endpoint's rows (its configuration, routes, live delivery
//! state, dedup keys, ingests, events, attempts) live in its shard, so every
//! claim, dedup and FIFO statement stays one statement in one database.

use serde::{Deserialize, Serialize};

/// The control database's binding; it is also the first shard.
pub const CONTROL: &str = "DB";
/// Further shards are bound as `DB_SHARD_1`, `DB_SHARD_2`, ...
pub const SHARD_PREFIX: &str = "DB_SHARD_";
/// The most shards a relay looks for (D1 allows thousands of databases per
/// account; a Worker's bindings are the practical bound).
pub const MAX_SHARDS: usize = 256;
/// Room is compared in whole units of this many bytes, so that pages written
/// a moment ago do not decide placement; among shards equally full, the one
/// holding the fewest endpoints gets the next.
pub const ROOM_UNIT_BYTES: u64 = 1 << 20;

/// A shard, named by its D1 binding. Names are recorded in the control
/// database, so a shard's binding must never be renamed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShardName(String);

impl ShardName {
    /// The control database, the first shard.
    pub fn control() -> ShardName {
        ShardName(CONTROL.to_string())
    }

    /// The `n`th further shard (`n` from 1).
    pub fn numbered(n: usize) -> ShardName {
        ShardName(format!("{SHARD_PREFIX}{n}"))
    }

    /// A name read back from the control database or a queue message: only a
    /// shard binding's name is accepted.
    pub fn parse(name: &str) -> Option<ShardName> {
        let is_numbered = name
            .strip_prefix(SHARD_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=MAX_SHARDS).contains(&n));
        (name == CONTROL || is_numbered).then(|| ShardName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_control(&self) -> bool {
        self.0 == CONTROL
    }
}

impl std::fmt::Display for ShardName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shards bound to this Worker: `DB`, then `DB_SHARD_1`, `DB_SHARD_2`, ...
/// up to the first number with no binding (`is_bound` says whether a binding
/// exists).
pub fn bound(is_bound: impl Fn(&str) -> bool) -> Vec<ShardName> {
    let mut shards = vec![ShardName::control()];
    shards.extend(
        (1..=MAX_SHARDS)
            .map(ShardName::numbered)
            .take_while(|name| is_bound(name.as_str())),
    );
    shards
}

/// What placement knows of one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub shard: ShardName,
    /// The database's size, where D1 reports it.
    pub size_bytes: Option<u64>,
    /// Endpoints placed on it so far.
    pub endpoints: u64,
}

/// The shard a new endpoint goes to: the least full (in whole
/// [`ROOM_UNIT_BYTES`]; a size not reported counts as full, so a shard whose
/// size cannot be read is chosen only when no size can be), then the one with
/// the fewest endpoints, then the first bound. `None` only for no shards.
pub fn roomiest(rooms: &[Room]) -> Option<ShardName> {
    rooms
        .iter()
        .enumerate()
        .min_by_key(|(order, room)| {
            let fullness = room
                .size_bytes
                .map_or(u64::MAX, |bytes| bytes / ROOM_UNIT_BYTES);
            (fullness, room.endpoints, *order)
        })
        .map(|(_, room)| room.shard.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(shard: ShardName, size_bytes: Option<u64>, endpoints: u64) -> Room {
        Room {
            shard,
            size_bytes,
            endpoints,
        }
    }

    #[test]
    fn the_shards_bound_are_the_control_database_then_numbered_ones_without_gaps() {
        let bound_names = ["DB", "DB_SHARD_1", "DB_SHARD_2", "DB_SHARD_4"];
        let shards = bound(|name| bound_names.contains(&name));
        let names: Vec<&str> = shards.iter().map(ShardName::as_str).collect();
        assert_eq!(names, ["DB", "DB_SHARD_1", "DB_SHARD_2"]);
        assert_eq!(bound(|_| false), vec![ShardName::control()]);
    }

    #[test]
    fn only_shard_binding_names_parse() {
        assert_eq!(ShardName::parse("DB"), Some(ShardName::control()));
        assert_eq!(ShardName::parse("DB_SHARD_3"), Some(ShardName::numbered(3)));
        for bad in [
            "",
            "db",
            "DB_SHARD_",
            "DB_SHARD_0",
            "DB_SHARD_x",
            "BODIES",
            "DB_SHARD_999",
        ] {
            assert_eq!(ShardName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_queue_message_names_its_shard_and_one_from_before_shards_means_the_control_database() {
        use crate::model::DeliveryMessage;
        let old: DeliveryMessage = serde_json::from_str(r#"{"event_id":"evt_1"}"#).unwrap();
        assert_eq!(old.shard(), Some(ShardName::control()));
        let control = DeliveryMessage::new("evt_1", &ShardName::control());
        assert_eq!(
            serde_json::to_string(&control).unwrap(),
            r#"{"event_id":"evt_1"}"#
        );
        let sharded = DeliveryMessage::new("evt_2", &ShardName::numbered(1));
        let sent = serde_json::to_string(&sharded).unwrap();
        assert_eq!(sent, r#"{"event_id":"evt_2","shard":"DB_SHARD_1"}"#);
        let read: DeliveryMessage = serde_json::from_str(&sent).unwrap();
        assert_eq!(read.shard(), Some(ShardName::numbered(1)));
        let unknown: DeliveryMessage =
            serde_json::from_str(r#"{"event_id":"evt_3","shard":"BODIES"}"#).unwrap();
        assert_eq!(unknown.shard(), None, "no shard's name");
    }

    #[test]
    fn a_new_endpoint_goes_where_there_is_most_room() {
        let (a, b) = (ShardName::control(), ShardName::numbered(1));
        let mb = ROOM_UNIT_BYTES;
        assert_eq!(
            roomiest(&[
                room(a.clone(), Some(9 * mb), 1),
                room(b.clone(), Some(3 * mb), 50)
            ]),
            Some(b.clone())
        );
        // A few pages apart is equally full: the fewer endpoints win.
        assert_eq!(
            roomiest(&[
                room(a.clone(), Some(mb + 4096), 2),
                room(b.clone(), Some(mb), 3)
            ]),
            Some(a.clone())
        );
        // All else equal, the first bound.
        assert_eq!(
            roomiest(&[room(a.clone(), Some(0), 0), room(b.clone(), Some(0), 0)]),
            Some(a.clone())
        );
        // A size not reported counts as full.
        assert_eq!(
            roomiest(&[room(a.clone(), None, 0), room(b.clone(), Some(8 * mb), 9)]),
            Some(b.clone())
        );
        assert_eq!(
            roomiest(&[room(a.clone(), None, 4), room(b.clone(), None, 1)]),
            Some(b)
        );
        assert_eq!(roomiest(&[]), None);
    }
}
