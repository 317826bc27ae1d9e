//! Alert rules: conditions an operator sets per endpoint (or one of its
//! routes), checked by the sweeper every minute. Each rule fires once when its
//! condition starts to hold and resolves once when it stops (a PagerDuty
//! incident per rule, triggered and resolved with the rule's dedup key).
//!
//! Three kinds, each read from what the relay already keeps, so a rule costs
//! one indexed read a minute and no scan:
//! - `success_rate`: delivered attempts over all attempts in the window, from
//!   the hourly rollups, so the window is whole UTC hours (the current one and
//!   those before it back to `window_s`); below `min_attempts` there is nothing
//!   to judge and the rule does not hold;
//! - `oldest_in_flight`: the age of the oldest event still on its way;
//! - `dead_letters`: events that went dead in the last hour.
//!
//! Pure: the store reads the figures, the sweeper keeps the state and sends.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The most rules the relay keeps (a rule is one read a minute).
pub const MAX_RULES: usize = 100;
const MAX_WINDOW_S: u32 = 7 * 24 * 3600;
const HOUR_S: u32 = 3600;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "AlertRuleKind")]
pub enum RuleKind {
    SuccessRate,
    OldestInFlight,
    DeadLetters,
}

impl RuleKind {
    pub const ALL: [RuleKind; 3] = [
        RuleKind::SuccessRate,
        RuleKind::OldestInFlight,
        RuleKind::DeadLetters,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::SuccessRate => "success_rate",
            RuleKind::OldestInFlight => "oldest_in_flight",
            RuleKind::DeadLetters => "dead_letters",
        }
    }

    pub fn parse(s: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What the threshold measures, for messages.
    fn unit(self) -> &'static str {
        match self {
            RuleKind::SuccessRate => "%",
            RuleKind::OldestInFlight => " s",
            RuleKind::DeadLetters => " dead in the last hour",
        }
    }
}

/// A rule's condition, checked: what is measured, where, and its bound.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    pub endpoint_id: String,
    /// One route of the endpoint; `None`: all of them.
    pub route_id: Option<String>,
    pub kind: RuleKind,
    /// `success_rate`: a percentage it must not fall below; `oldest_in_flight`:
    /// seconds an event may wait; `dead_letters`: dead events an hour it may reach.
    pub threshold: f64,
    /// `success_rate` only: how far back attempts count.
    pub window_s: Option<u32>,
    /// `success_rate` only: fewer attempts than this judge nothing.
    pub min_attempts: Option<u32>,
}

/// A new alert rule, as sent.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AlertRuleCreate")]
pub struct RuleInput {
    #[schemars(with = "crate::model::EndpointId")]
    endpoint_id: String,
    /// One route of the endpoint; left out, the rule watches the endpoint
    /// (success rate and dead letters over all its routes, the oldest
    /// in-flight event of any).
    #[schemars(regex(pattern = r"^(ep|rt)_[0-9A-Za-z]{1,64}$"))]
    route_id: Option<String>,
    #[schemars(with = "RuleKind")]
    kind: String,
    /// `success_rate`: fires below this percentage (0 to 100);
    /// `oldest_in_flight`: above this many seconds (1 to 604800);
    /// `dead_letters`: above this many events gone dead in the last hour (a
    /// whole number).
    #[schemars(range(min = 0.0))]
    threshold: f64,
    /// `success_rate` only, default 3600: whole hours, because rates come
    /// from the hourly rollups (the current hour and those before it).
    #[schemars(range(min = HOUR_S, max = MAX_WINDOW_S), extend("multipleOf" = HOUR_S))]
    window_s: Option<u32>,
    /// `success_rate` only, default 10: with fewer attempts in the window the
    /// rule does not hold.
    min_attempts: Option<u32>,
}

impl RuleSpec {
    /// The rule the API was sent; `Err` says what is wrong. Whether the
    /// endpoint and route exist is the caller's to check.
    pub fn parse(body: Value) -> Result<RuleSpec, String> {
        let input: RuleInput = serde_json::from_value(body).map_err(|e| {
            format!("a rule is {{\"endpoint_id\", \"route_id\"?, \"kind\", \"threshold\", \"window_s\"?, \"min_attempts\"?}}: {e}")
        })?;
        let kind = RuleKind::parse(&input.kind)
            .ok_or("kind is \"success_rate\", \"oldest_in_flight\" or \"dead_letters\"")?;
        let t = input.threshold;
        let bounds_ok = match kind {
            RuleKind::SuccessRate => (0.0..=100.0).contains(&t),
            RuleKind::OldestInFlight => (1.0..=f64::from(MAX_WINDOW_S)).contains(&t),
            RuleKind::DeadLetters => (0.0..=1e9).contains(&t) && t.fract() == 0.0,
        };
        if !t.is_finite() || !bounds_ok {
            return Err(match kind {
                RuleKind::SuccessRate => "threshold is a percentage, 0 to 100",
                RuleKind::OldestInFlight => "threshold is seconds, 1 up to 7 days",
                RuleKind::DeadLetters => "threshold is a whole number of dead events an hour",
            }
            .into());
        }
        let (window_s, min_attempts) = match kind {
            RuleKind::SuccessRate => {
                let window = input.window_s.unwrap_or(HOUR_S);
                if window == 0 || window > MAX_WINDOW_S || !window.is_multiple_of(HOUR_S) {
                    return Err("window_s is whole hours (3600 to 604800): success rates come from hourly figures".into());
                }
                (Some(window), Some(input.min_attempts.unwrap_or(10).max(1)))
            }
            _ if input.window_s.is_some() || input.min_attempts.is_some() => {
                return Err(format!(
                    "window_s and min_attempts are for success_rate rules, not {}",
                    kind.as_str()
                ))
            }
            _ => (None, None),
        };
        Ok(RuleSpec {
            endpoint_id: input.endpoint_id,
            route_id: input.route_id,
            kind,
            threshold: t,
            window_s,
            min_attempts,
        })
    }

    /// The rule in words: `success rate below 90% over 1 h (at least 10 attempts)`.
    pub fn describe(&self) -> String {
        match self.kind {
            RuleKind::SuccessRate => format!(
                "success rate below {}% over {} h (at least {} attempts)",
                self.threshold,
                self.window_s.unwrap_or(HOUR_S) / HOUR_S,
                self.min_attempts.unwrap_or(1)
            ),
            RuleKind::OldestInFlight => {
                format!("an event in flight for more than {} s", self.threshold)
            }
            RuleKind::DeadLetters => {
                format!("more than {} dead events in an hour", self.threshold)
            }
        }
    }

    /// Whether the figure breaks the rule. A success rate with fewer attempts
    /// than the minimum judges nothing and does not.
    pub fn holds(&self, figure: &Figure) -> bool {
        match (self.kind, figure) {
            (RuleKind::SuccessRate, Figure::Attempts { total, delivered }) => {
                *total >= u64::from(self.min_attempts.unwrap_or(1))
                    && success_percent(*total, *delivered) < self.threshold
            }
            (RuleKind::OldestInFlight, Figure::OldestInFlightS(age)) => {
                age.is_some_and(|s| s > self.threshold)
            }
            (RuleKind::DeadLetters, Figure::DeadLastHour(n)) => *n as f64 > self.threshold,
            _ => false,
        }
    }

    /// The figure as a number with its unit, for the message and the API.
    pub fn value(&self, figure: &Figure) -> Option<f64> {
        match figure {
            Figure::Attempts { total, delivered } => {
                (*total > 0).then(|| success_percent(*total, *delivered))
            }
            Figure::OldestInFlightS(age) => Some(age.unwrap_or(0.0)),
            Figure::DeadLastHour(n) => Some(*n as f64),
        }
    }

    pub fn value_text(&self, value: Option<f64>) -> String {
        match value {
            Some(v) => format!("{}{}", (v * 10.0).round() / 10.0, self.kind.unit()),
            None => "no attempts".into(),
        }
    }
}

fn success_percent(total: u64, delivered: u64) -> f64 {
    delivered as f64 * 100.0 / total.max(1) as f64
}

/// What a rule is checked against, as the store read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// Attempts in the window, and how many delivered.
    Attempts { total: u64, delivered: u64 },
    /// How long the oldest event in flight has waited; `None`: none is.
    OldestInFlightS(Option<f64>),
    /// Events that went dead in the last hour.
    DeadLastHour(u64),
}

/// What a check does to a rule: it starts firing, it resolves, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Fire,
    Resolve,
    Stay,
}

/// Each rule fires once when it starts to hold and resolves once when it
/// stops; `firing`: whether it is firing now.
pub fn transition(firing: bool, holds: bool) -> Transition {
    match (firing, holds) {
        (false, true) => Transition::Fire,
        (true, false) => Transition::Resolve,
        _ => Transition::Stay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(body: Value) -> RuleSpec {
        RuleSpec::parse(body).unwrap()
    }

    #[test]
    fn a_success_rate_rule_defaults_to_an_hour_and_ten_attempts() {
        let r = rule(json!({"endpoint_id": "ep_1", "kind": "success_rate", "threshold": 90}));
        assert_eq!(r.window_s, Some(3600));
        assert_eq!(r.min_attempts, Some(10));
        assert_eq!(
            r.describe(),
            "success rate below 90% over 1 h (at least 10 attempts)"
        );
        let few = Figure::Attempts {
            total: 9,
            delivered: 0,
        };
        assert!(!r.holds(&few), "too few attempts judge nothing");
        let bad = Figure::Attempts {
            total: 10,
            delivered: 8,
        };
        assert!(r.holds(&bad));
        assert_eq!(r.value_text(r.value(&bad)), "80%");
        let good = Figure::Attempts {
            total: 10,
            delivered: 9,
        };
        assert!(!r.holds(&good), "at the threshold is not below it");
        assert_eq!(
            r.value(&Figure::Attempts {
                total: 0,
                delivered: 0
            }),
            None
        );
    }

    #[test]
    fn age_and_dead_letter_rules_hold_above_their_threshold() {
        let age = rule(
            json!({"endpoint_id": "ep_1", "route_id": "rt_2", "kind": "oldest_in_flight", "threshold": 300}),
        );
        assert_eq!(age.route_id.as_deref(), Some("rt_2"));
        assert!(!age.holds(&Figure::OldestInFlightS(None)));
        assert!(!age.holds(&Figure::OldestInFlightS(Some(300.0))));
        assert!(age.holds(&Figure::OldestInFlightS(Some(301.5))));
        assert_eq!(age.value_text(Some(301.54)), "301.5 s");
        let dead = rule(json!({"endpoint_id": "ep_1", "kind": "dead_letters", "threshold": 3}));
        assert!(!dead.holds(&Figure::DeadLastHour(3)));
        assert!(dead.holds(&Figure::DeadLastHour(4)));
        assert!(
            !dead.holds(&Figure::OldestInFlightS(Some(1e9))),
            "another kind's figure"
        );
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        let refused = |body: Value| RuleSpec::parse(body).unwrap_err();
        assert!(
            refused(json!({"endpoint_id": "ep_1", "kind": "latency", "threshold": 1}))
                .contains("kind is")
        );
        assert!(
            refused(json!({"endpoint_id": "ep_1", "kind": "success_rate", "threshold": 101}))
                .contains("percentage")
        );
        assert!(refused(
            json!({"endpoint_id": "ep_1", "kind": "success_rate", "threshold": 90, "window_s": 900})
        )
        .contains("whole hours"));
        assert!(refused(
            json!({"endpoint_id": "ep_1", "kind": "oldest_in_flight", "threshold": 0})
        )
        .contains("seconds"));
        assert!(
            refused(json!({"endpoint_id": "ep_1", "kind": "dead_letters", "threshold": 1.5}))
                .contains("whole number")
        );
        assert!(refused(
            json!({"endpoint_id": "ep_1", "kind": "dead_letters", "threshold": 1, "window_s": 3600})
        )
        .contains("success_rate rules"));
        assert!(refused(json!({"kind": "dead_letters", "threshold": 1})).contains("endpoint_id"));
        assert!(refused(
            json!({"endpoint_id": "ep_1", "kind": "dead_letters", "threshold": 1, "x": 1})
        )
        .contains("unknown field"));
    }

    #[test]
    fn a_rule_fires_once_and_resolves_once() {
        let checks = [false, true, true, true, false, false, true];
        let mut firing = false;
        let mut seen = Vec::new();
        for holds in checks {
            let t = transition(firing, holds);
            firing = match t {
                Transition::Fire => true,
                Transition::Resolve => false,
                Transition::Stay => firing,
            };
            seen.push(t);
        }
        use Transition::*;
        assert_eq!(seen, [Stay, Fire, Stay, Stay, Resolve, Stay, Fire]);
    }
}
