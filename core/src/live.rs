//! What the live stream (`GET /api/v1/stream`) carries: one message per
//! status change of an event, as a server-sent event, and the comment that
//! keeps an idle stream open. The Worker's `live` module fans them out.

use crate::model::Status;
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
}
