//! Every line the CLI prints about events and endpoints, as pure functions of the
//! data and a time zone (tests pass a fixed offset, the commands pass `Local`).
//! Text lines are for people; `--json` lines are one object each, for scripts.
//! Management API objects are read leniently: a missing field prints as `-`.

use chrono::{DateTime, SecondsFormat, TimeZone};
use serde::Serialize;
use serde_json::Value;
use std::fmt::Display;

/// One forward by `listen` and what the relay made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptLine<Tz: TimeZone> {
    pub time: DateTime<Tz>,
    pub event_type: Option<String>,
    pub id: String,
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The relay's status after the report (`delivered`, `retrying`, `dead`),
    /// `lease_lost`, or `unreported` when the report did not go through.
    pub outcome: String,
}

impl<Tz: TimeZone> AttemptLine<Tz>
where
    Tz::Offset: Display,
{
    /// `14:03:22  charge.succeeded  evt_…  200  12 ms  delivered`
    pub fn text(&self) -> String {
        let result = match (self.status_code, &self.error) {
            (Some(code), _) => code.to_string(),
            (None, Some(error)) => format!("error: {error}"),
            (None, None) => "error".to_string(),
        };
        format!(
            "{}  {}  {}  {}  {} ms  {}",
            self.time.format("%H:%M:%S"),
            self.event_type.as_deref().unwrap_or("-"),
            self.id,
            result,
            self.duration_ms,
            self.outcome.replace('_', " "),
        )
    }

    /// `{"time","event_type","id","attempt","status_code","error","duration_ms","outcome"}`,
    /// in that order.
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            time: String,
            event_type: Option<&'a str>,
            id: &'a str,
            attempt: u32,
            status_code: Option<u16>,
            error: Option<&'a str>,
            duration_ms: u64,
            outcome: &'a str,
        }
        let line = Line {
            time: self.time.to_rfc3339_opts(SecondsFormat::Millis, false),
            event_type: self.event_type.as_deref(),
            id: &self.id,
            attempt: self.attempt,
            status_code: self.status_code,
            error: self.error.as_deref(),
            duration_ms: self.duration_ms,
            outcome: &self.outcome,
        };
        serde_json::to_string(&line).expect("a line of strings and numbers serialises")
    }
}

/// The last words of `listen`.
pub fn summary(forwarded: u64, failed: u64) -> String {
    format!("stopped: {forwarded} forwarded, {failed} failed")
}

/// An RFC 3339 time from the relay in the given zone, `2026-01-31 14:03:22`;
/// anything unparsable is shown as it came.
pub fn local_datetime<Tz: TimeZone>(raw: &str, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    match DateTime::parse_from_rfc3339(raw) {
        Ok(t) => t.with_timezone(tz).format("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => raw.to_string(),
    }
}

/// One event of `events list` and `tail`:
/// `2026-01-31 14:03:22  charge.succeeded  evt_…  delivered  1 attempt`
pub fn event_row<Tz: TimeZone>(event: &Value, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    let attempts = event["attempt_count"].as_u64().unwrap_or(0);
    format!(
        "{}  {}  {}  {}  {} attempt{}",
        text(&event["received_at"]).map_or("-".into(), |t| local_datetime(t, tz)),
        text(&event["event_type"]).unwrap_or("-"),
        text(&event["id"]).unwrap_or("-"),
        text(&event["status"]).unwrap_or("-"),
        attempts,
        if attempts == 1 { "" } else { "s" },
    )
}

/// One endpoint of `endpoints list`: `ep_…  name  provider  destination[  paused]`.
pub fn endpoint_row(endpoint: &Value) -> String {
    let mut row = format!(
        "{}  {}  {}  {}",
        text(&endpoint["id"]).unwrap_or("-"),
        text(&endpoint["name"]).unwrap_or("-"),
        text(&endpoint["provider"]).unwrap_or("-"),
        destination(endpoint),
    );
    if endpoint["paused"].as_bool() == Some(true) {
        row.push_str("  paused");
    }
    row
}

/// Where an endpoint delivers: its URL, or `pull` for a pull destination.
pub fn destination(endpoint: &Value) -> String {
    match text(&endpoint["destination_url"]) {
        Some(url) => url.to_string(),
        None if is_pull(endpoint) => "pull (hookrelay listen)".to_string(),
        None => "-".to_string(),
    }
}

fn is_pull(endpoint: &Value) -> bool {
    text(&endpoint["destination_type"]) == Some("pull")
        || text(&endpoint["destination"]["type"]) == Some("pull")
}

/// `events show`: the event, its headers and every attempt.
pub fn event_detail<Tz: TimeZone>(event: &Value, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    let time = |key: &str| text(&event[key]).map(|t| local_datetime(t, tz));
    let mut out = format!(
        "{}  {}\n",
        text(&event["id"]).unwrap_or("-"),
        text(&event["status"]).unwrap_or("-")
    );
    let fields = [
        ("endpoint", text(&event["endpoint_id"]).map(str::to_string)),
        ("event type", text(&event["event_type"]).map(str::to_string)),
        ("received", time("received_at")),
        (
            "attempts",
            event["attempt_count"].as_u64().map(|n| n.to_string()),
        ),
        ("next attempt", time("next_attempt_at")),
        ("delivered", time("delivered_at")),
        (
            "dead reason",
            text(&event["dead_reason"]).map(str::to_string),
        ),
        ("last error", text(&event["last_error"]).map(str::to_string)),
        (
            "content type",
            text(&event["content_type"]).map(str::to_string),
        ),
        (
            "body size",
            event["body_size"].as_u64().map(|n| format!("{n} bytes")),
        ),
    ];
    for (label, value) in fields {
        if let Some(value) = value {
            out.push_str(&format!("  {label:<13}{value}\n"));
        }
    }
    if let Some(headers) = event["headers"].as_array().filter(|h| !h.is_empty()) {
        out.push_str("headers\n");
        for pair in headers {
            let name = text(&pair[0]).unwrap_or("?");
            let value = text(&pair[1]).unwrap_or("");
            out.push_str(&format!("  {name}: {value}\n"));
        }
    }
    if let Some(attempts) = event["attempts"].as_array().filter(|a| !a.is_empty()) {
        out.push_str("attempts\n");
        for a in attempts {
            out.push_str(&format!("  {}\n", attempt_row(a, tz)));
        }
    }
    out
}

/// `#2  2026-01-31 14:03:22  500  12 ms  server_error  <error>`
fn attempt_row<Tz: TimeZone>(attempt: &Value, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    let mut row = format!(
        "#{}  {}  {}  {} ms  {}",
        attempt["number"].as_u64().unwrap_or(0),
        text(&attempt["started_at"]).map_or("-".into(), |t| local_datetime(t, tz)),
        attempt["status_code"]
            .as_u64()
            .map_or("-".into(), |c| c.to_string()),
        attempt["duration_ms"].as_u64().unwrap_or(0),
        text(&attempt["outcome"]).unwrap_or("-"),
    );
    if let Some(error) = text(&attempt["error"]) {
        row.push_str(&format!("  {error}"));
    }
    row
}

fn text(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;
    use serde_json::json;

    fn paris() -> FixedOffset {
        FixedOffset::east_opt(3600).unwrap()
    }

    fn line(status_code: Option<u16>, error: Option<&str>) -> AttemptLine<FixedOffset> {
        AttemptLine {
            time: paris().with_ymd_and_hms(2026, 1, 31, 14, 3, 22).unwrap(),
            event_type: Some("charge.succeeded".into()),
            id: "evt_01".into(),
            attempt: 1,
            status_code,
            error: error.map(str::to_string),
            duration_ms: 12,
            outcome: "delivered".into(),
        }
    }

    #[test]
    fn an_answered_forward_prints_time_type_id_status_and_duration() {
        assert_eq!(
            line(Some(200), None).text(),
            "14:03:22  charge.succeeded  evt_01  200  12 ms  delivered"
        );
    }

    #[test]
    fn a_failed_forward_prints_the_error_and_an_untyped_event_a_dash() {
        let mut l = line(None, Some("connection refused"));
        l.event_type = None;
        l.outcome = "lease_lost".into();
        assert_eq!(
            l.text(),
            "14:03:22  -  evt_01  error: connection refused  12 ms  lease lost"
        );
    }

    #[test]
    fn json_lines_carry_every_field_with_nulls() {
        let l = line(None, Some("timed out after 15 s"));
        let v: Value = serde_json::from_str(&l.json()).unwrap();
        assert_eq!(
            v,
            json!({
                "time": "2026-01-31T14:03:22.000+01:00",
                "event_type": "charge.succeeded",
                "id": "evt_01",
                "attempt": 1,
                "status_code": null,
                "error": "timed out after 15 s",
                "duration_ms": 12,
                "outcome": "delivered",
            })
        );
        assert!(!l.json().contains('\n'));
        assert_eq!(
            l.json(),
            r#"{"time":"2026-01-31T14:03:22.000+01:00","event_type":"charge.succeeded","id":"evt_01","attempt":1,"status_code":null,"error":"timed out after 15 s","duration_ms":12,"outcome":"delivered"}"#,
            "the fields come in the documented order"
        );
    }

    #[test]
    fn the_summary_counts_both_kinds() {
        assert_eq!(summary(3, 1), "stopped: 3 forwarded, 1 failed");
    }

    #[test]
    fn relay_times_are_shown_in_the_local_zone() {
        assert_eq!(
            local_datetime("2026-01-31T13:03:22.123Z", &paris()),
            "2026-01-31 14:03:22"
        );
        assert_eq!(local_datetime("yesterday", &paris()), "yesterday");
    }

    #[test]
    fn event_rows_show_what_the_relay_sent_and_dashes_for_the_rest() {
        let event = json!({
            "id": "evt_01", "status": "retrying", "attempt_count": 2,
            "received_at": "2026-01-31T13:03:22Z", "event_type": "invoice.paid",
        });
        assert_eq!(
            event_row(&event, &paris()),
            "2026-01-31 14:03:22  invoice.paid  evt_01  retrying  2 attempts"
        );
        let bare =
            json!({"id": "evt_02", "status": "received", "attempt_count": 1, "event_type": null});
        assert_eq!(
            event_row(&bare, &paris()),
            "-  -  evt_02  received  1 attempt"
        );
    }

    #[test]
    fn endpoint_rows_name_the_destination() {
        let push = json!({"id": "ep_1", "name": "shop", "provider": "shopify",
                          "destination_url": "https://app.example/in", "paused": true});
        assert_eq!(
            endpoint_row(&push),
            "ep_1  shop  shopify  https://app.example/in  paused"
        );
        let pull = json!({"id": "ep_2", "name": "dev", "provider": "stripe",
                          "destination_url": null, "destination_type": "pull", "paused": false});
        assert_eq!(
            endpoint_row(&pull),
            "ep_2  dev  stripe  pull (hookrelay listen)"
        );
    }

    #[test]
    fn event_detail_lists_fields_headers_and_attempts() {
        let event = json!({
            "id": "evt_01", "endpoint_id": "ep_1", "status": "dead",
            "attempt_count": 1, "received_at": "2026-01-31T13:03:22Z",
            "dead_reason": "client_error", "content_type": "application/json",
            "body_size": 42, "last_error": null,
            "headers": [["content-type", "application/json"], ["x-github-event", "push"]],
            "attempts": [{"number": 1, "started_at": "2026-01-31T13:03:23Z", "duration_ms": 7,
                          "status_code": 400, "outcome": "client_error", "error": null}],
        });
        let text = event_detail(&event, &paris());
        assert!(text.starts_with("evt_01  dead\n"), "{text}");
        assert!(text.contains("  endpoint     ep_1\n"), "{text}");
        assert!(text.contains("  body size    42 bytes\n"), "{text}");
        assert!(!text.contains("last error"), "{text}");
        assert!(text.contains("  x-github-event: push\n"), "{text}");
        assert!(
            text.contains("  #1  2026-01-31 14:03:23  400  7 ms  client_error\n"),
            "{text}"
        );
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate_bytes("hello", 10), "hello");
        assert_eq!(truncate_bytes("hello", 3), "hel");
        assert_eq!(truncate_bytes("héllo", 2), "h");
        assert_eq!(truncate_bytes("", 0), "");
    }
}
