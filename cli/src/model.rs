//! The relay's JSON shapes the CLI reads and writes. Management API answers that
//! are only displayed (events, endpoints) stay `serde_json::Value`, so a field
//! the relay adds later is shown by `--json` without a CLI release.

use base64::Engine;
use serde::{Deserialize, Serialize};

/// `POST /api/v1/pull/{dest}`.
#[derive(Debug, Clone, Serialize)]
pub struct PullRequest<'a> {
    pub max: u32,
    pub wait_s: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<&'a str>>,
}

/// `{"data": [...]}`, the answer of pull and of the list routes.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// An event leased to this client: until `lease_expires_at` nobody else delivers
/// it, and the attempt is reported with `lease_token`. Only the fields `listen`
/// uses are read (`endpoint_id`, `received_at` and `lease_expires_at` are not).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LeasedEvent {
    pub id: String,
    pub attempt: u32,
    pub lease_token: String,
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// Exactly what to send to the local app, relay signature included.
    pub headers: Vec<(String, String)>,
    pub body_base64: String,
}

impl LeasedEvent {
    /// The original body bytes.
    pub fn body(&self) -> Result<Vec<u8>, base64::DecodeError> {
        base64::engine::general_purpose::STANDARD.decode(&self.body_base64)
    }
}

/// `POST /api/v1/events/{id}/attempts`: what happened when the CLI forwarded
/// it, in the relay's own type.
pub use hookrelay_core::inputs::AttemptReport;

/// The relay's answer to a report: the event's status after this attempt.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AttemptAnswer {
    pub id: String,
    /// `delivered`, `retrying` or `dead`.
    pub status: String,
    pub attempt: u32,
    pub next_attempt_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_leased_event_parses_and_its_body_decodes_byte_for_byte() {
        let raw = json!({
            "id": "evt_01", "endpoint_id": "ep_01", "attempt": 2,
            "lease_token": "ab12", "lease_expires_at": "2026-01-01T00:00:30Z",
            "received_at": "2026-01-01T00:00:00Z", "event_type": null,
            "content_type": "application/octet-stream",
            "headers": [["webhook-id", "evt_01"], ["x-hookrelay-attempt", "2"]],
            "body_base64": "AP8Kw6k=",
        });
        let event: LeasedEvent = serde_json::from_value(raw).unwrap();
        assert_eq!(event.attempt, 2);
        assert_eq!(event.event_type, None);
        assert_eq!(event.headers[0], ("webhook-id".into(), "evt_01".into()));
        assert_eq!(event.body().unwrap(), vec![0x00, 0xff, b'\n', 0xc3, 0xa9]);
    }

    #[test]
    fn an_event_without_a_lease_token_is_refused() {
        let raw = json!({"id": "evt_01", "attempt": 1, "headers": [], "body_base64": ""});
        assert!(serde_json::from_value::<LeasedEvent>(raw).is_err());
    }

    #[test]
    fn a_pull_without_types_leaves_the_field_out() {
        let body = PullRequest {
            max: 10,
            wait_s: 20,
            event_types: None,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"max": 10, "wait_s": 20})
        );
        let body = PullRequest {
            event_types: Some(vec!["charge.*"]),
            ..body
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"max": 10, "wait_s": 20, "event_types": ["charge.*"]})
        );
    }

    #[test]
    fn a_report_of_a_refused_connection_has_nulls_not_gaps() {
        let report = AttemptReport {
            lease_token: "ab12".into(),
            status_code: None,
            error: Some("connection refused".into()),
            duration_ms: 3,
            response_snippet: None,
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            json!({"lease_token": "ab12", "status_code": null, "error": "connection refused",
                   "duration_ms": 3, "response_snippet": null})
        );
    }
}
