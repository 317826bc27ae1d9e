//! What the live stream (`GET /api/v1/stream`) carries: one message per
//! status change of an event, as a server-sent event, and the comment that
//! keeps an idle stream open. The Worker's `hub` module fans them out.
//!
//! There is one hub per shard ([`hub_name`]): a Durable Object takes about
//! 1,000 requests a second, and every ack and delivery tells its hub. A
//! stream of one endpoint reads its shard's hub; the stream of every
//! endpoint reads them all and merges them, whole messages at a time
//! ([`Messages`]).

use crate::model::Status;
use crate::shards::ShardName;
use crate::time::iso8601;
use serde::{Deserialize, Serialize};

/// How often an idle stream gets a comment line, so proxies and clients see
/// it is alive.
pub const HEARTBEAT_S: u64 = 15;

/// One status change of one event, as the stream's `data` says it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub id: String,
    pub endpoint_id: String,
    pub route_id: String,
    /// `received`, `delivering`, `retrying`, `delivered` or `dead`.
    pub status: String,
    pub event_type: Option<String>,
    /// The attempt the change belongs to (0 before the first).
    pub attempt: u32,
    /// RFC 3339.
    pub at: String,
}

impl Change {
    pub fn new(
        id: &str,
        endpoint_id: &str,
        route_id: &str,
        status: &str,
        event_type: Option<&str>,
        attempt: u32,
        at_ms: i64,
    ) -> Change {
        Change {
            id: id.to_string(),
            endpoint_id: endpoint_id.to_string(),
            route_id: route_id.to_string(),
            status: status.to_string(),
            event_type: event_type.map(str::to_string),
            attempt,
            at: iso8601(at_ms),
        }
    }

    /// A new event of `route_id`: `received`, before its first attempt.
    pub fn received(
        id: &str,
        endpoint_id: &str,
        route_id: &str,
        event_type: Option<&str>,
        at_ms: i64,
    ) -> Change {
        let status = Status::Received.as_str();
        Change::new(id, endpoint_id, route_id, status, event_type, 0, at_ms)
    }

    /// The change as one server-sent event: `event: event`, the JSON as `data`.
    pub fn to_sse(&self) -> String {
        let data = serde_json::to_string(self).unwrap_or_default();
        format!("event: event\ndata: {data}\n\n")
    }
}

/// A comment line: ignored by clients, but it keeps the stream open.
pub fn heartbeat() -> &'static str {
    ": keep-alive\n\n"
}

/// The name of the hub object that carries `shard`'s changes. The first
/// shard's hub keeps the name the one hub had before there were several.
pub fn hub_name(shard: &ShardName) -> String {
    match shard.as_str() {
        crate::shards::CONTROL => "live".to_string(),
        other => format!("live-{}", other.to_ascii_lowercase().replace('_', "-")),
    }
}

/// The comment a hub opens each stream with, naming itself (so a stream
/// shows which hubs it reads).
pub fn connected(hub: &str) -> String {
    format!(": connected {hub}\n\n")
}

/// Cuts one hub's stream into whole messages, so that streams merged into
/// one never interleave inside a message: a chunk read from a hub may end
/// in the middle of one. A message ends with a blank line; the hubs write
/// `\n` line ends only (as [`Change::to_sse`], [`heartbeat`] and
/// [`connected`] do). A few lines rather than an SSE parser crate: the
/// messages pass through as bytes, comments included, and are never
/// interpreted.
#[derive(Debug, Default)]
pub struct Messages {
    pending: Vec<u8>,
}

impl Messages {
    /// Takes the next chunk; returns the whole messages now complete (all
    /// bytes up to the last blank line), or `None` while a message is still
    /// incomplete.
    pub fn push(&mut self, chunk: &[u8]) -> Option<Vec<u8>> {
        self.pending.extend_from_slice(chunk);
        let end = self.pending.windows(2).rposition(|w| w == b"\n\n")? + 2;
        let rest = self.pending.split_off(end);
        Some(std::mem::replace(&mut self.pending, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_one_server_sent_event_of_one_data_line() {
        let c = Change::new(
            "evt_1",
            "ep_1",
            "rt_2",
            "delivered",
            Some("charge.succeeded"),
            2,
            1_700_000_000_000,
        );
        assert_eq!(
            c.to_sse(),
            "event: event\ndata: {\"id\":\"evt_1\",\"endpoint_id\":\"ep_1\",\"route_id\":\"rt_2\",\"status\":\"delivered\",\"event_type\":\"charge.succeeded\",\"attempt\":2,\"at\":\"2023-11-14T22:13:20.000Z\"}\n\n"
        );
        let multiline = Change::new("evt_1", "ep_1", "ep_1", "received", Some("a\nb"), 0, 0);
        assert_eq!(
            multiline.to_sse().matches("\ndata:").count(),
            1,
            "JSON escapes newlines"
        );
        assert!(heartbeat().starts_with(':'));
    }

    #[test]
    fn each_shard_has_its_own_hub_and_the_first_keeps_the_old_name() {
        assert_eq!(hub_name(&ShardName::control()), "live");
        assert_eq!(hub_name(&ShardName::numbered(1)), "live-db-shard-1");
        assert_eq!(hub_name(&ShardName::numbered(12)), "live-db-shard-12");
        assert_eq!(connected("live"), ": connected live\n\n");
    }

    #[test]
    fn a_hub_stream_is_cut_into_whole_messages_whatever_the_chunks() {
        let a = Change::received("evt_1", "ep_1", "ep_1", None, 0).to_sse();
        let b = Change::received("evt_2", "ep_1", "ep_1", None, 0).to_sse();
        let whole = format!("{}{a}{}{b}", connected("live"), heartbeat());
        for size in [1, 2, 3, 7, 50, whole.len()] {
            let mut messages = Messages::default();
            let mut out = Vec::new();
            for chunk in whole.as_bytes().chunks(size) {
                if let Some(complete) = messages.push(chunk) {
                    assert!(complete.ends_with(b"\n\n"), "chunks of {size}");
                    assert!(complete.starts_with(b": ") || complete.starts_with(b"event:"));
                    out.extend(complete);
                }
            }
            assert_eq!(String::from_utf8(out).unwrap(), whole, "chunks of {size}");
        }
        let mut messages = Messages::default();
        assert_eq!(messages.push(b"event: event\ndata: {}\n"), None);
        assert_eq!(
            messages.push(b"\nevent: ev"),
            Some(b"event: event\ndata: {}\n\n".to_vec())
        );
        assert_eq!(
            messages.push(b"ent\n\n"),
            Some(b"event: event\n\n".to_vec())
        );
    }
}
