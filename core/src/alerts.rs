//! What an alert says: the events worth waking someone for, rendered for a Slack
//! incoming webhook (`{"text"}`), as a generic JSON webhook payload, or as a
//! PagerDuty Events API v2 event (an incident per condition, keyed so that a
//! circuit's closing resolves the incident its opening triggered).
//!
//! Pure: detection lives in the sweeper (and the API and consumer for a stale
//! sweeper, which cannot report itself); sending lives in `notify`.

use crate::time::iso8601;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Where an alert channel sends, and in which form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "AlertChannelKind")]
pub enum ChannelKind {
    /// A Slack incoming webhook, sent `{"text"}`.
    Slack,
    /// Signed JSON `{"id", "type", "created_at", "text", "data"}` (Standard
    /// Webhooks headers, with the channel's secret).
    Webhook,
    /// PagerDuty Events API v2 `trigger` and `resolve` events.
    PagerDuty,
}

impl ChannelKind {
    const ALL: [ChannelKind; 3] = [
        ChannelKind::Slack,
        ChannelKind::Webhook,
        ChannelKind::PagerDuty,
    ];

    /// The name the API reads and shows, and the store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Webhook => "webhook",
            ChannelKind::PagerDuty => "pagerduty",
        }
    }

    pub fn parse(name: &str) -> Option<ChannelKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointCount {
    pub endpoint_id: String,
    pub name: String,
    pub count: i64,
}

/// What a delivery alert is about: an endpoint's first route (the endpoint
/// itself), or one of its extra routes, named together with its endpoint so an
/// operator knows which destination of which source is failing.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub endpoint_id: String,
    pub endpoint_name: String,
    /// The route's id: the `ep_` id for the first route, else an `rt_` id.
    pub route_id: String,
    pub route_name: String,
}

impl Target {
    pub fn is_first_route(&self) -> bool {
        self.route_id == self.endpoint_id
    }

    /// `billing (ep_…)`, or `billing → analytics (rt_…)` for an extra route.
    pub fn label(&self) -> String {
        if self.is_first_route() {
            format!("{} ({})", self.endpoint_name, self.endpoint_id)
        } else {
            format!(
                "{} → {} ({})",
                self.endpoint_name, self.route_name, self.route_id
            )
        }
    }

    /// `endpoint_id` and `name` (the endpoint's) as before routes existed, the
    /// route's id and name, and the fields of `more` (an object).
    fn data_with(&self, more: Value) -> Value {
        let mut data = json!({
            "endpoint_id": self.endpoint_id,
            "name": self.endpoint_name,
            "route_id": self.route_id,
            "route_name": self.route_name,
        });
        if let (Some(fields), Value::Object(more)) = (data.as_object_mut(), more) {
            fields.extend(more);
        }
        data
    }
}

/// Events of one route that went dead.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteCount {
    pub target: Target,
    pub count: i64,
}

/// A condition of one route that an alert reported and a later one ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RouteCondition {
    FailureStreak,
    OpenCircuit,
}

impl RouteCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteCondition::FailureStreak => "failure_streak",
            RouteCondition::OpenCircuit => "circuit_open",
        }
    }

    /// The PagerDuty incident of the condition on `route_id`.
    fn dedup_key(self, route_id: &str) -> String {
        match self {
            RouteCondition::FailureStreak => format!("hookrelay/failure_streak/{route_id}"),
            RouteCondition::OpenCircuit => format!("hookrelay/circuit/{route_id}"),
        }
    }
}

/// A relay-wide condition that an alert reported and a later one ends
/// ([`Alert::Cleared`]).
#[derive(Debug, Clone, PartialEq)]
pub enum RelayCondition {
    SweeperStale,
    DatabaseFilling,
    /// `recovery`, `compaction` or `retention`.
    FallingBehind(String),
    /// The ack path's storage failed for this endpoint; it ends when the
    /// endpoint has acked a webhook since.
    IngestFailing(String),
}

impl RelayCondition {
    pub fn as_str(&self) -> &'static str {
        match self {
            RelayCondition::SweeperStale => "sweeper_stale",
            RelayCondition::DatabaseFilling => "database_filling",
            RelayCondition::FallingBehind(_) => "falling_behind",
            RelayCondition::IngestFailing(_) => "ingest_failing",
        }
    }

    /// The PagerDuty incident of the condition.
    fn dedup_key(&self) -> String {
        match self {
            RelayCondition::FallingBehind(what) => format!("hookrelay/falling_behind/{what}"),
            // One incident for every endpoint's failures, as they alert once
            // per cooldown together.
            RelayCondition::IngestFailing(_) => "hookrelay/ingest_failing".into(),
            other => format!("hookrelay/{}", other.as_str()),
        }
    }

    fn ended(&self) -> String {
        match self {
            RelayCondition::SweeperStale => "the sweeper runs again".into(),
            RelayCondition::DatabaseFilling => {
                "the fullest D1 database is below 80 % of its cap".into()
            }
            RelayCondition::FallingBehind(what) => format!("the sweeper caught up with {what}"),
            RelayCondition::IngestFailing(endpoint_id) => {
                format!("{endpoint_id} has acked a webhook since")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Alert {
    /// Events that went dead since the previous sweep, per route, one alert per sweep.
    DeadLettered {
        routes: Vec<RouteCount>,
    },
    FailureStreak {
        target: Target,
        streak: i64,
        threshold: i64,
    },
    /// A route whose failure streak was reported is back at zero (a delivery
    /// succeeded, or its circuit was reset by hand): resolves the streak's
    /// PagerDuty incident.
    StreakEnded {
        target: Target,
    },
    CircuitChanged {
        target: Target,
        open: bool,
    },
    /// A route whose failure streak or open circuit was reported is gone
    /// (deleted, or its endpoint was): nothing will end the condition now,
    /// so it is resolved (with its PagerDuty incident).
    RouteGone {
        route_id: String,
        condition: RouteCondition,
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
    /// The ack path answered `503` because storage (R2 or D1) failed: the
    /// provider will retry, but a lasting failure loses events once it gives up.
    IngestFailing {
        endpoint_id: String,
        reason: String,
    },
    /// The D1 database passed 80 % of its size cap: at the cap every ingest
    /// answers 503.
    DatabaseFilling {
        size_bytes: u64,
        max_bytes: u64,
    },
    /// A sweep ran out of its time budget with work left (`what`: `recovery`
    /// of due events, or `retention`): the backlog grows faster than it drains.
    FallingBehind {
        what: String,
    },
    /// A relay-wide condition whose alert was sent has ended: the sweeper
    /// runs again, the database is below 80 % of its cap, or a sweep caught
    /// up with its work. Resolves the condition's PagerDuty incident.
    Cleared {
        condition: RelayCondition,
    },
    /// An operator's alert rule started to hold (`firing`) or stopped
    /// (also when a firing rule is deleted), for the endpoint or the one route
    /// it watches.
    RuleChanged {
        rule_id: String,
        target: Target,
        /// The rule in words (`success rate below 90% over 1 h …`).
        rule: String,
        /// The figure it was checked against, with its unit.
        value: String,
        firing: bool,
    },
    /// Sent on request to check a channel.
    Test,
}

/// PagerDuty's Events API v2 endpoint; a channel may name another URL (a proxy,
/// or a local server in tests).
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty refuses a longer `payload.summary`.
const PAGERDUTY_SUMMARY_CHARS: usize = 1024;

/// `text` without a leading Slack emoji code (`:warning: `).
fn without_leading_emoji(text: &str) -> &str {
    let Some(rest) = text.strip_prefix(':') else {
        return text;
    };
    match rest.split_once(": ") {
        Some((code, after)) if code.chars().all(|c| c.is_ascii_lowercase() || c == '_') => after,
        _ => text,
    }
}

/// Per-route counts summed per endpoint, in the order the endpoints first appear.
fn per_endpoint(routes: &[RouteCount]) -> Vec<EndpointCount> {
    let mut out: Vec<EndpointCount> = Vec::new();
    for r in routes {
        match out
            .iter_mut()
            .find(|e| e.endpoint_id == r.target.endpoint_id)
        {
            Some(e) => e.count += r.count,
            None => out.push(EndpointCount {
                endpoint_id: r.target.endpoint_id.clone(),
                name: r.target.endpoint_name.clone(),
                count: r.count,
            }),
        }
    }
    out
}

impl Alert {
    pub fn kind(&self) -> &'static str {
        match self {
            Alert::DeadLettered { .. } => "events.dead_lettered",
            Alert::FailureStreak { .. } => "endpoint.failure_streak",
            Alert::StreakEnded { .. } => "endpoint.failure_streak_ended",
            Alert::CircuitChanged { open: true, .. } => "endpoint.circuit_opened",
            Alert::CircuitChanged { open: false, .. } => "endpoint.circuit_closed",
            Alert::RouteGone { .. } => "endpoint.route_gone",
            Alert::RefusalSpike { .. } => "endpoint.refusals_spiking",
            Alert::SweeperStale { .. } => "relay.sweeper_stale",
            Alert::IngestFailing { .. } => "relay.ingest_failing",
            Alert::DatabaseFilling { .. } => "relay.database_filling",
            Alert::FallingBehind { .. } => "relay.falling_behind",
            Alert::Cleared { .. } => "relay.cleared",
            Alert::RuleChanged { firing: true, .. } => "rule.firing",
            Alert::RuleChanged { firing: false, .. } => "rule.resolved",
            Alert::Test => "relay.test",
        }
    }

    /// One line for a human; `base_url` (the relay's public URL) adds links.
    pub fn text(&self, base_url: Option<&str>) -> String {
        let dead_link = |route_id: &str| {
            base_url
                .map(|b| format!(" <{b}/api/v1/events?route_id={route_id}&status=dead|view>"))
                .unwrap_or_default()
        };
        match self {
            Alert::DeadLettered { routes } => {
                let total: i64 = routes.iter().map(|r| r.count).sum();
                let parts: Vec<String> = routes
                    .iter()
                    .map(|r| format!("{}: {}{}", r.target.label(), r.count, dead_link(&r.target.route_id)))
                    .collect();
                format!(":rotating_light: {total} event(s) dead-lettered since the last sweep. {}", parts.join("; "))
            }
            Alert::FailureStreak { target, streak, threshold } => format!(
                ":warning: {}: {streak} consecutive delivery failures (threshold {threshold})",
                target.label()
            ),
            Alert::StreakEnded { target } => format!(
                ":white_check_mark: {}: the failure streak ended (a delivery succeeded or the circuit was reset)",
                target.label()
            ),
            Alert::CircuitChanged { target, open: true } => format!(
                ":no_entry: {}: circuit opened; deliveries wait and one probe is sent per interval",
                target.label()
            ),
            Alert::CircuitChanged { target, open: false } => format!(
                ":white_check_mark: {}: circuit closed; the backlog is draining",
                target.label()
            ),
            Alert::RouteGone { route_id, condition } => format!(
                ":wastebasket: {route_id} was deleted: its {} alert is resolved",
                match condition {
                    RouteCondition::FailureStreak => "failure streak",
                    RouteCondition::OpenCircuit => "open circuit",
                }
            ),
            Alert::RefusalSpike { name, endpoint_id, count, window_s } => format!(
                ":shield: {name} ({endpoint_id}): {count} requests refused in the last {window_s} s"
            ),
            Alert::SweeperStale { last_run_at, stale_after_s } => format!(
                ":skull: the sweeper has not run for more than {stale_after_s} s (last run: {}); check the cron trigger",
                last_run_at.map(iso8601).unwrap_or_else(|| "never".into())
            ),
            Alert::IngestFailing { endpoint_id, reason } => format!(
                ":rotating_light: ingest answered 503 to {endpoint_id}: {reason}; providers are retrying"
            ),
            Alert::DatabaseFilling {
                size_bytes,
                max_bytes,
            } => format!(
                ":floppy_disk: the D1 database holds {size_bytes} bytes, {}% of its {max_bytes}-byte cap; at the cap every ingest answers 503",
                size_bytes * 100 / (*max_bytes).max(1)
            ),
            Alert::FallingBehind { what } => format!(
                ":hourglass: the sweeper ran out of time with {what} work left; the backlog grows faster than it drains"
            ),
            Alert::Cleared { condition } => format!(
                ":white_check_mark: resolved ({}): {}",
                condition.as_str(),
                condition.ended()
            ),
            Alert::RuleChanged {
                target,
                rule,
                value,
                firing: true,
                ..
            } => format!(":bell: {}: {rule} (now {value})", target.label()),
            Alert::RuleChanged {
                target,
                rule,
                value,
                firing: false,
                ..
            } => format!(
                ":white_check_mark: {}: resolved: {rule} (now {value})",
                target.label()
            ),
            Alert::Test => "hookrelay test alert: this channel works".into(),
        }
    }

    fn data(&self) -> Value {
        match self {
            Alert::DeadLettered { routes } => json!({
                "total": routes.iter().map(|r| r.count).sum::<i64>(),
                "endpoints": per_endpoint(routes).iter().map(|e| json!({"endpoint_id": e.endpoint_id, "name": e.name, "count": e.count})).collect::<Vec<_>>(),
                "routes": routes.iter().map(|r| r.target.data_with(json!({"count": r.count}))).collect::<Vec<_>>(),
            }),
            Alert::FailureStreak {
                target,
                streak,
                threshold,
            } => target.data_with(json!({"streak": streak, "threshold": threshold})),
            Alert::StreakEnded { target } => target.data_with(json!({"streak": 0})),
            Alert::CircuitChanged { target, open } => {
                target.data_with(json!({"state": if *open { "open" } else { "closed" }}))
            }
            Alert::RouteGone {
                route_id,
                condition,
            } => json!({"route_id": route_id, "condition": condition.as_str()}),
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
            Alert::IngestFailing {
                endpoint_id,
                reason,
            } => json!({"endpoint_id": endpoint_id, "reason": reason}),
            Alert::DatabaseFilling {
                size_bytes,
                max_bytes,
            } => json!({"size_bytes": size_bytes, "max_bytes": max_bytes}),
            Alert::FallingBehind { what } => json!({"what": what}),
            Alert::Cleared { condition } => match condition {
                RelayCondition::FallingBehind(what) => {
                    json!({"condition": condition.as_str(), "what": what})
                }
                RelayCondition::IngestFailing(endpoint_id) => {
                    json!({"condition": condition.as_str(), "endpoint_id": endpoint_id})
                }
                _ => json!({"condition": condition.as_str()}),
            },
            Alert::RuleChanged {
                rule_id,
                target,
                rule,
                value,
                firing,
            } => target.data_with(json!({"rule_id": rule_id, "rule": rule, "value": value,
                                        "state": if *firing { "firing" } else { "resolved" }})),
            Alert::Test => json!({}),
        }
    }

    /// The PagerDuty incident this alert belongs to: one per condition and
    /// what it is about, so a repeat is one incident and a circuit's closing
    /// resolves what its opening triggered.
    pub fn dedup_key(&self) -> String {
        match self {
            Alert::DeadLettered { .. } => "hookrelay/dead_lettered".into(),
            Alert::FailureStreak { target, .. } | Alert::StreakEnded { target } => {
                RouteCondition::FailureStreak.dedup_key(&target.route_id)
            }
            Alert::CircuitChanged { target, .. } => {
                RouteCondition::OpenCircuit.dedup_key(&target.route_id)
            }
            Alert::RouteGone {
                route_id,
                condition,
            } => condition.dedup_key(route_id),
            Alert::RefusalSpike { endpoint_id, .. } => format!("hookrelay/refusals/{endpoint_id}"),
            Alert::SweeperStale { .. } => RelayCondition::SweeperStale.dedup_key(),
            Alert::IngestFailing { endpoint_id, .. } => {
                RelayCondition::IngestFailing(endpoint_id.clone()).dedup_key()
            }
            Alert::DatabaseFilling { .. } => RelayCondition::DatabaseFilling.dedup_key(),
            Alert::FallingBehind { what } => {
                RelayCondition::FallingBehind(what.clone()).dedup_key()
            }
            Alert::Cleared { condition } => condition.dedup_key(),
            Alert::RuleChanged { rule_id, .. } => format!("hookrelay/rule/{rule_id}"),
            Alert::Test => "hookrelay/test".into(),
        }
    }

    /// PagerDuty's severity: events at risk of loss are critical.
    fn severity(&self) -> &'static str {
        match self {
            Alert::SweeperStale { .. }
            | Alert::IngestFailing { .. }
            | Alert::DatabaseFilling { .. } => "critical",
            Alert::DeadLettered { .. }
            | Alert::FailureStreak { .. }
            | Alert::StreakEnded { .. }
            | Alert::CircuitChanged { .. }
            | Alert::RouteGone { .. }
            | Alert::RuleChanged { .. } => "error",
            Alert::RefusalSpike { .. } | Alert::FallingBehind { .. } | Alert::Cleared { .. } => {
                "warning"
            }
            Alert::Test => "info",
        }
    }

    /// The body for PagerDuty's Events API v2 with the channel's integration
    /// (routing) key: `resolve` for a circuit that closed, a streak that
    /// ended, a route gone with either, a relay-wide condition cleared, or a
    /// rule that stopped holding,
    /// `trigger` for everything else. The summary is the
    /// alert's line without Slack's markup (its emoji and links).
    pub fn pagerduty_body(&self, routing_key: &str) -> String {
        let resolves = matches!(
            self,
            Alert::CircuitChanged { open: false, .. }
                | Alert::StreakEnded { .. }
                | Alert::RouteGone { .. }
                | Alert::Cleared { .. }
                | Alert::RuleChanged { firing: false, .. }
        );
        if resolves {
            return json!({
                "routing_key": routing_key,
                "event_action": "resolve",
                "dedup_key": self.dedup_key(),
            })
            .to_string();
        }
        let text = self.text(None);
        let summary: String = without_leading_emoji(&text)
            .chars()
            .take(PAGERDUTY_SUMMARY_CHARS)
            .collect();
        json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": self.dedup_key(),
            "client": "hookrelay",
            "payload": {
                "summary": summary,
                "source": "hookrelay",
                "severity": self.severity(),
                "component": self.kind(),
                "custom_details": self.data(),
            },
        })
        .to_string()
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

    #[test]
    fn channel_kinds_are_named_as_serde_names_them() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(ChannelKind::parse("Slack"), None);
    }

    #[test]
    fn a_rule_triggers_and_resolves_one_pagerduty_incident() {
        let rule = |firing| Alert::RuleChanged {
            rule_id: "alr_1".into(),
            target: extra(),
            rule: "more than 2 dead events in an hour".into(),
            value: "3 dead in the last hour".into(),
            firing,
        };
        let fired: Value = serde_json::from_str(&rule(true).pagerduty_body("key")).unwrap();
        let resolved: Value = serde_json::from_str(&rule(false).pagerduty_body("key")).unwrap();
        assert_eq!(fired["event_action"], "trigger");
        assert_eq!(resolved["event_action"], "resolve");
        assert_eq!(fired["dedup_key"], "hookrelay/rule/alr_1");
        assert_eq!(resolved["dedup_key"], fired["dedup_key"]);
        assert_eq!(
            fired["payload"]["summary"],
            "billing → analytics (rt_x): more than 2 dead events in an hour (now 3 dead in the last hour)"
        );
        assert_eq!(fired["payload"]["custom_details"]["state"], "firing");
        assert_eq!(rule(false).kind(), "rule.resolved");
    }

    fn first(id: &str, name: &str) -> Target {
        Target {
            endpoint_id: id.into(),
            endpoint_name: name.into(),
            route_id: id.into(),
            route_name: name.into(),
        }
    }

    fn extra() -> Target {
        Target {
            endpoint_id: "ep_a".into(),
            endpoint_name: "billing".into(),
            route_id: "rt_x".into(),
            route_name: "analytics".into(),
        }
    }

    fn dead() -> Alert {
        Alert::DeadLettered {
            routes: vec![
                RouteCount {
                    target: first("ep_a", "billing"),
                    count: 3,
                },
                RouteCount {
                    target: first("ep_b", "crm"),
                    count: 1,
                },
                RouteCount {
                    target: extra(),
                    count: 2,
                },
            ],
        }
    }

    #[test]
    fn dead_letter_alert_counts_per_route_and_per_endpoint_with_links() {
        let text = dead().text(Some("https://relay.example"));
        assert!(text.starts_with(":rotating_light: 6 event(s)"), "{text}");
        assert!(text.contains("billing (ep_a): 3 <https://relay.example/api/v1/events?route_id=ep_a&status=dead|view>"), "{text}");
        assert!(text.contains("billing → analytics (rt_x): 2 <https://relay.example/api/v1/events?route_id=rt_x&status=dead|view>"), "{text}");
        let body: Value = serde_json::from_str(&dead().webhook_body("alt_1", 0, None)).unwrap();
        assert_eq!(body["type"], "events.dead_lettered");
        assert_eq!(body["data"]["total"], 6);
        assert_eq!(
            body["data"]["endpoints"],
            json!([
                {"endpoint_id": "ep_a", "name": "billing", "count": 5},
                {"endpoint_id": "ep_b", "name": "crm", "count": 1},
            ]),
            "summed per endpoint, in order of appearance"
        );
        assert_eq!(
            body["data"]["routes"][2],
            json!({"endpoint_id": "ep_a", "name": "billing", "route_id": "rt_x", "route_name": "analytics", "count": 2})
        );
    }

    #[test]
    fn an_extra_route_is_named_with_its_endpoint() {
        assert_eq!(first("ep_a", "billing").label(), "billing (ep_a)");
        assert_eq!(extra().label(), "billing → analytics (rt_x)");
        let streak = Alert::FailureStreak {
            target: extra(),
            streak: 5,
            threshold: 5,
        };
        assert_eq!(
            streak.text(None),
            ":warning: billing → analytics (rt_x): 5 consecutive delivery failures (threshold 5)"
        );
        let body: Value = serde_json::from_str(&streak.webhook_body("alt_1", 0, None)).unwrap();
        assert_eq!(
            body["data"],
            json!({"endpoint_id": "ep_a", "name": "billing", "route_id": "rt_x", "route_name": "analytics", "streak": 5, "threshold": 5})
        );
        let opened = Alert::CircuitChanged {
            target: extra(),
            open: true,
        };
        assert!(opened
            .text(None)
            .starts_with(":no_entry: billing → analytics (rt_x): circuit opened"));
        let body: Value = serde_json::from_str(&opened.webhook_body("alt_2", 0, None)).unwrap();
        assert_eq!(body["data"]["route_id"], "rt_x");
        assert_eq!(body["data"]["state"], "open");
    }

    #[test]
    fn kinds_and_texts() {
        let open = Alert::CircuitChanged {
            target: first("ep_a", "n"),
            open: true,
        };
        let closed = Alert::CircuitChanged {
            target: first("ep_a", "n"),
            open: false,
        };
        assert_eq!(open.text(None), ":no_entry: n (ep_a): circuit opened; deliveries wait and one probe is sent per interval");
        assert_eq!(open.kind(), "endpoint.circuit_opened");
        assert_eq!(closed.kind(), "endpoint.circuit_closed");
        let failing = Alert::IngestFailing {
            endpoint_id: "ep_a".into(),
            reason: "the body could not be stored".into(),
        };
        assert_eq!(failing.kind(), "relay.ingest_failing");
        assert!(failing.text(None).contains("503 to ep_a"));
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

    #[test]
    fn a_cleared_relay_condition_resolves_the_incident_its_alert_triggered() {
        for (condition, raised) in [
            (
                RelayCondition::SweeperStale,
                Alert::SweeperStale {
                    last_run_at: None,
                    stale_after_s: 120,
                },
            ),
            (
                RelayCondition::DatabaseFilling,
                Alert::DatabaseFilling {
                    size_bytes: 9,
                    max_bytes: 10,
                },
            ),
            (
                RelayCondition::FallingBehind("retention".into()),
                Alert::FallingBehind {
                    what: "retention".into(),
                },
            ),
            (
                RelayCondition::IngestFailing("ep_1".into()),
                Alert::IngestFailing {
                    endpoint_id: "ep_1".into(),
                    reason: "storage".into(),
                },
            ),
        ] {
            let cleared = Alert::Cleared {
                condition: condition.clone(),
            };
            assert_eq!(cleared.dedup_key(), raised.dedup_key(), "{condition:?}");
            let body: Value = serde_json::from_str(&cleared.pagerduty_body("rk_1")).unwrap();
            assert_eq!(body["event_action"], "resolve");
            let trigger: Value = serde_json::from_str(&raised.pagerduty_body("rk_1")).unwrap();
            assert_eq!(trigger["event_action"], "trigger");
            assert_eq!(cleared.kind(), "relay.cleared");
            assert_eq!(cleared.data()["condition"], condition.as_str());
            assert!(cleared.text(None).contains("resolved"));
        }
        let behind = Alert::Cleared {
            condition: RelayCondition::FallingBehind("recovery".into()),
        };
        assert_eq!(behind.data()["what"], "recovery");
        assert!(behind.text(None).contains("caught up with recovery"));
        let acking = Alert::Cleared {
            condition: RelayCondition::IngestFailing("ep_1".into()),
        };
        assert_eq!(acking.data()["endpoint_id"], "ep_1");
        assert!(acking.text(None).contains("ep_1 has acked a webhook since"));
    }

    #[test]
    fn a_gone_route_resolves_the_incident_of_its_streak_or_circuit() {
        for (condition, opened) in [
            (
                RouteCondition::FailureStreak,
                Alert::FailureStreak {
                    target: extra(),
                    streak: 5,
                    threshold: 5,
                },
            ),
            (
                RouteCondition::OpenCircuit,
                Alert::CircuitChanged {
                    target: extra(),
                    open: true,
                },
            ),
        ] {
            let gone = Alert::RouteGone {
                route_id: "rt_x".into(),
                condition,
            };
            assert_eq!(gone.dedup_key(), opened.dedup_key(), "{condition:?}");
            let resolve: Value = serde_json::from_str(&gone.pagerduty_body("rk_1")).unwrap();
            assert_eq!(resolve["event_action"], "resolve");
            assert_eq!(gone.kind(), "endpoint.route_gone");
            assert!(gone.text(None).contains("rt_x was deleted"));
            assert_eq!(gone.data()["condition"], condition.as_str());
        }
    }

    #[test]
    fn a_circuit_triggers_and_resolves_one_pagerduty_incident() {
        let opened = Alert::CircuitChanged {
            target: extra(),
            open: true,
        };
        let closed = Alert::CircuitChanged {
            target: extra(),
            open: false,
        };
        let trigger: Value = serde_json::from_str(&opened.pagerduty_body("rk_1")).unwrap();
        assert_eq!(trigger["event_action"], "trigger");
        assert_eq!(trigger["routing_key"], "rk_1");
        assert_eq!(trigger["dedup_key"], "hookrelay/circuit/rt_x");
        assert_eq!(trigger["payload"]["severity"], "error");
        assert_eq!(trigger["payload"]["source"], "hookrelay");
        assert_eq!(trigger["payload"]["component"], "endpoint.circuit_opened");
        assert_eq!(trigger["payload"]["custom_details"]["state"], "open");
        assert!(trigger["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("billing → analytics (rt_x): circuit opened"));
        let resolve: Value = serde_json::from_str(&closed.pagerduty_body("rk_1")).unwrap();
        assert_eq!(
            resolve,
            json!({"routing_key": "rk_1", "event_action": "resolve", "dedup_key": "hookrelay/circuit/rt_x"})
        );
    }

    #[test]
    fn a_failure_streak_triggers_and_its_end_resolves_one_pagerduty_incident() {
        let streak = Alert::FailureStreak {
            target: extra(),
            streak: 5,
            threshold: 5,
        };
        let ended = Alert::StreakEnded { target: extra() };
        let trigger: Value = serde_json::from_str(&streak.pagerduty_body("rk_1")).unwrap();
        assert_eq!(trigger["event_action"], "trigger");
        assert_eq!(trigger["dedup_key"], "hookrelay/failure_streak/rt_x");
        let resolve: Value = serde_json::from_str(&ended.pagerduty_body("rk_1")).unwrap();
        assert_eq!(
            resolve,
            json!({"routing_key": "rk_1", "event_action": "resolve", "dedup_key": "hookrelay/failure_streak/rt_x"})
        );
        assert_eq!(ended.kind(), "endpoint.failure_streak_ended");
        assert_eq!(
            ended.text(None),
            ":white_check_mark: billing → analytics (rt_x): the failure streak ended (a delivery succeeded or the circuit was reset)"
        );
        let body: Value = serde_json::from_str(&ended.webhook_body("alt_1", 0, None)).unwrap();
        assert_eq!(body["data"]["route_id"], "rt_x");
        assert_eq!(body["data"]["streak"], 0);
    }

    #[test]
    fn pagerduty_summaries_fit_its_limit_and_keys_name_what_they_are_about() {
        let routes: Vec<RouteCount> = (0..100)
            .map(|i| RouteCount {
                target: first(&format!("ep_{i:040}"), &"n".repeat(30)),
                count: 1,
            })
            .collect();
        let body: Value =
            serde_json::from_str(&Alert::DeadLettered { routes }.pagerduty_body("k")).unwrap();
        assert_eq!(
            body["payload"]["summary"].as_str().unwrap().chars().count(),
            PAGERDUTY_SUMMARY_CHARS
        );
        let spike = Alert::RefusalSpike {
            endpoint_id: "ep_a".into(),
            name: "n".into(),
            count: 5,
            window_s: 60,
        };
        assert_eq!(spike.dedup_key(), "hookrelay/refusals/ep_a");
        let body: Value = serde_json::from_str(&Alert::Test.pagerduty_body("k")).unwrap();
        assert_eq!(body["payload"]["severity"], "info");
    }
}
