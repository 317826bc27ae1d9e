//! What an alert says: the events worth waking someone for, rendered for a Slack
//! incoming webhook (`{"text"}`) or as a generic JSON webhook payload.
//!
//! Pure: detection lives in the sweeper (and the API and consumer for a stale
//! sweeper, which cannot report itself); sending lives in `notify`.

use crate::time::iso8601;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointCount {
    pub endpoint_id: String,
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Alert {
    /// Events that went dead since the previous sweep, one alert per sweep.
    DeadLettered { endpoints: Vec<EndpointCount> },
    FailureStreak {
        endpoint_id: String,
        name: String,
        streak: i64,
        threshold: i64,
    },
    CircuitChanged {
        endpoint_id: String,
        name: String,
        open: bool,
    },
    RefusalSpike {
        endpoint_id: String,
        name: String,
        count: i64,
        window_s: i64,
    },
    SweeperStale {
        last_run_at: Option<i64>,
        stale_after_s: i64,
    },
    /// Sent on request to check a channel.
    Test,
}

impl Alert {
    pub fn kind(&self) -> &'static str {
        match self {
            Alert::DeadLettered { .. } => "events.dead_lettered",
            Alert::FailureStreak { .. } => "endpoint.failure_streak",
            Alert::CircuitChanged { open: true, .. } => "endpoint.circuit_opened",
            Alert::CircuitChanged { open: false, .. } => "endpoint.circuit_closed",
            Alert::RefusalSpike { .. } => "endpoint.refusals_spiking",
            Alert::SweeperStale { .. } => "relay.sweeper_stale",
            Alert::Test => "relay.test",
        }
    }

    /// One line for a human; `base_url` (the relay's public URL) adds links.
    pub fn text(&self, base_url: Option<&str>) -> String {
        let dead_link = |id: &str| {
            base_url
                .map(|b| format!(" <{b}/api/v1/events?endpoint_id={id}&status=dead|view>"))
                .unwrap_or_default()
        };
        match self {
            Alert::DeadLettered { endpoints } => {
                let total: i64 = endpoints.iter().map(|e| e.count).sum();
                let parts: Vec<String> = endpoints
                    .iter()
                    .map(|e| format!("{} ({}): {}{}", e.name, e.endpoint_id, e.count, dead_link(&e.endpoint_id)))
                    .collect();
                format!(":rotating_light: {total} event(s) dead-lettered since the last sweep. {}", parts.join("; "))
            }
            Alert::FailureStreak { name, endpoint_id, streak, threshold } => format!(
                ":warning: {name} ({endpoint_id}): {streak} consecutive delivery failures (threshold {threshold})"
            ),
            Alert::CircuitChanged { name, endpoint_id, open: true } => format!(
                ":no_entry: {name} ({endpoint_id}): circuit opened; deliveries wait and one probe is sent per interval"
            ),
            Alert::CircuitChanged { name, endpoint_id, open: false } => {
                format!(":white_check_mark: {name} ({endpoint_id}): circuit closed; the backlog is draining")
            }
            Alert::RefusalSpike { name, endpoint_id, count, window_s } => format!(
                ":shield: {name} ({endpoint_id}): {count} requests refused in the last {window_s} s"
            ),
            Alert::SweeperStale { last_run_at, stale_after_s } => format!(
                ":skull: the sweeper has not run for more than {stale_after_s} s (last run: {}); check the cron trigger",
                last_run_at.map(iso8601).unwrap_or_else(|| "never".into())
            ),
            Alert::Test => "hookrelay test alert: this channel works".into(),
        }
    }

    fn data(&self) -> Value {
        match self {
            Alert::DeadLettered { endpoints } => json!({
                "total": endpoints.iter().map(|e| e.count).sum::<i64>(),
                "endpoints": endpoints.iter().map(|e| json!({"endpoint_id": e.endpoint_id, "name": e.name, "count": e.count})).collect::<Vec<_>>(),
            }),
            Alert::FailureStreak {
                endpoint_id,
                name,
                streak,
                threshold,
            } => {
                json!({"endpoint_id": endpoint_id, "name": name, "streak": streak, "threshold": threshold})
            }
            Alert::CircuitChanged {
                endpoint_id,
                name,
                open,
            } => {
                json!({"endpoint_id": endpoint_id, "name": name, "state": if *open { "open" } else { "closed" }})
            }
            Alert::RefusalSpike {
                endpoint_id,
                name,
                count,
                window_s,
            } => {
                json!({"endpoint_id": endpoint_id, "name": name, "count": count, "window_s": window_s})
            }
            Alert::SweeperStale {
                last_run_at,
                stale_after_s,
            } => {
                json!({"last_run_at": last_run_at.map(iso8601), "stale_after_s": stale_after_s})
            }
            Alert::Test => json!({}),
        }
    }

    /// The body for a Slack incoming webhook.
    pub fn slack_body(&self, base_url: Option<&str>) -> String {
        json!({ "text": self.text(base_url) }).to_string()
    }

    /// The body for a generic webhook channel (signed by the sender).
    pub fn webhook_body(&self, alert_id: &str, now_ms: i64, base_url: Option<&str>) -> String {
        json!({
            "id": alert_id,
            "type": self.kind(),
            "created_at": iso8601(now_ms),
            "text": self.text(base_url),
            "data": self.data(),
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead() -> Alert {
        Alert::DeadLettered {
            endpoints: vec![
                EndpointCount {
                    endpoint_id: "ep_a".into(),
                    name: "billing".into(),
                    count: 3,
                },
                EndpointCount {
                    endpoint_id: "ep_b".into(),
                    name: "crm".into(),
                    count: 1,
                },
            ],
        }
    }

    #[test]
    fn dead_letter_alert_counts_per_endpoint_with_links() {
        let text = dead().text(Some("https://relay.example"));
        assert!(text.starts_with(":rotating_light: 4 event(s)"), "{text}");
        assert!(text.contains("billing (ep_a): 3 <https://relay.example/api/v1/events?endpoint_id=ep_a&status=dead|view>"));
        let body: Value = serde_json::from_str(&dead().webhook_body("alt_1", 0, None)).unwrap();
        assert_eq!(body["type"], "events.dead_lettered");
        assert_eq!(body["data"]["total"], 4);
        assert_eq!(body["data"]["endpoints"][1]["count"], 1);
    }

    #[test]
    fn kinds_and_texts() {
        let open = Alert::CircuitChanged {
            endpoint_id: "ep_a".into(),
            name: "n".into(),
            open: true,
        };
        let closed = Alert::CircuitChanged {
            endpoint_id: "ep_a".into(),
            name: "n".into(),
            open: false,
        };
        assert_eq!(open.kind(), "endpoint.circuit_opened");
        assert_eq!(closed.kind(), "endpoint.circuit_closed");
        let stale = Alert::SweeperStale {
            last_run_at: None,
            stale_after_s: 120,
        };
        assert!(stale.text(None).contains("last run: never"));
        let slack: Value = serde_json::from_str(&stale.slack_body(None)).unwrap();
        assert!(slack["text"].as_str().unwrap().contains("120 s"));
        let spike = Alert::RefusalSpike {
            endpoint_id: "ep_a".into(),
            name: "n".into(),
            count: 60,
            window_s: 60,
        };
        assert_eq!(spike.kind(), "endpoint.refusals_spiking");
        assert!(
            dead().text(None).contains("billing (ep_a): 3;"),
            "no links without a base URL"
        );
    }
}
