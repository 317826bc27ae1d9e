//! Retry policy: classifying a delivery outcome and deciding what happens next.
//!
//! Pure functions of the outcome, the attempts made in the current cycle, the
//! endpoint's policy and a random number, so every branch is table-tested.
//! A "cycle" restarts at replay: the attempt *numbering* continues, the schedule
//! starts over.

use serde::{Deserialize, Serialize};
use std::time::{Duration, UNIX_EPOCH};

/// About 5s, 30s, 2m, 10m, 30m, 1h, 2h, 4h, 8h, 12h, 12h: 12 attempts over ~41 h,
/// longer than a day so a long outage of the destination is ridden out.
pub const DEFAULT_SCHEDULE_S: [u32; 11] = [
    5, 30, 120, 600, 1_800, 3_600, 7_200, 14_400, 28_800, 43_200, 43_200,
];
/// Each delay is spread by +-20 % by default so a recovered destination is not hit by a herd.
pub const DEFAULT_JITTER: f64 = 0.2;
/// The longest delay a Cloudflare Queue message can carry (12 h).
pub const MAX_DELAY_S: u32 = 43_200;
pub const MAX_SCHEDULE_LEN: usize = 30;
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeClass {
    Delivered,
    RateLimited,
    ServerError,
    ClientError,
    /// 410: the destination says it is gone for good.
    Gone,
    Timeout,
    NetworkError,
}

impl OutcomeClass {
    /// Every class, `Delivered` first.
    pub const ALL: [OutcomeClass; 7] = [
        OutcomeClass::Delivered,
        OutcomeClass::RateLimited,
        OutcomeClass::ServerError,
        OutcomeClass::ClientError,
        OutcomeClass::Gone,
        OutcomeClass::Timeout,
        OutcomeClass::NetworkError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeClass::Delivered => "delivered",
            OutcomeClass::RateLimited => "rate_limited",
            OutcomeClass::ServerError => "server_error",
            OutcomeClass::ClientError => "client_error",
            OutcomeClass::Gone => "gone",
            OutcomeClass::Timeout => "timeout",
            OutcomeClass::NetworkError => "network_error",
        }
    }

    /// Failures that mean "the destination is down", the ones the circuit breaker
    /// counts. A 4xx or 429 comes from a destination that is up.
    pub fn means_destination_down(self) -> bool {
        matches!(
            self,
            OutcomeClass::ServerError | OutcomeClass::Timeout | OutcomeClass::NetworkError
        )
    }
}

/// Whether an answer closes the route's circuit breaker. A delivery always
/// does. For the probe that tests an open circuit, so does any answer that
/// does not mean "down": a `3xx`, `4xx` or `429` comes from a destination that
/// is up, and that one event's trouble must not hold back every other event of
/// the route. (Outside a probe such answers neither add to nor reset the streak.)
pub fn closes_circuit(class: OutcomeClass, probe: bool) -> bool {
    class == OutcomeClass::Delivered || (probe && !class.means_destination_down())
}

/// The class of an HTTP answer. Redirects are not followed (like Stripe), so a
/// 3xx is a client error: the destination URL needs fixing.
pub fn classify_status(code: u16) -> OutcomeClass {
    match code {
        200..=299 => OutcomeClass::Delivered,
        408 | 425 | 429 => OutcomeClass::RateLimited,
        410 => OutcomeClass::Gone,
        500..=599 => OutcomeClass::ServerError,
        _ => OutcomeClass::ClientError,
    }
}

/// `Retry-After` as delta-seconds or an HTTP date, as seconds from `now_s`
/// (a date in the past means "now").
pub fn parse_retry_after_s(value: Option<&str>, now_s: i64) -> Option<u32> {
    let value = value?.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(seconds);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at_s = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    Some((at_s - now_s).clamp(0, i64::from(u32::MAX)) as u32)
}

/// An endpoint's retry settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub schedule_s: Vec<u32>,
    /// Attempts per cycle; `None` means one more than the schedule. Beyond the
    /// schedule the last delay repeats.
    pub max_attempts: Option<u32>,
    /// Fraction of each delay spread either way (0.2 = +-20 %).
    pub jitter: f64,
    /// The longest a `Retry-After` may make the relay wait.
    pub max_delay_s: u32,
    /// Retry 4xx answers (other than 408/425/429/410) instead of dead-lettering them.
    pub retry_client_errors: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            schedule_s: DEFAULT_SCHEDULE_S.to_vec(),
            max_attempts: None,
            jitter: DEFAULT_JITTER,
            max_delay_s: MAX_DELAY_S,
            retry_client_errors: false,
        }
    }
}

impl RetryPolicy {
    pub fn attempts_allowed(&self) -> u32 {
        self.max_attempts
            .unwrap_or(self.schedule_s.len() as u32 + 1)
    }

    /// The scheduled delay after the `n`th failed attempt of a cycle (1-based).
    fn base_delay_s(&self, n: u32) -> u32 {
        let i = (n.saturating_sub(1) as usize).min(self.schedule_s.len().saturating_sub(1));
        self.schedule_s.get(i).copied().unwrap_or(0)
    }

    /// Checks an operator-supplied policy.
    pub fn validate(&self) -> Result<(), String> {
        if self.schedule_s.len() > MAX_SCHEDULE_LEN {
            return Err(format!(
                "retry.schedule_s has at most {MAX_SCHEDULE_LEN} entries"
            ));
        }
        if let Some(bad) = self.schedule_s.iter().find(|&&s| s == 0 || s > MAX_DELAY_S) {
            return Err(format!(
                "retry.schedule_s entries are 1..={MAX_DELAY_S} seconds, got {bad}"
            ));
        }
        if let Some(n) = self.max_attempts {
            if n == 0 || n > MAX_ATTEMPTS_LIMIT {
                return Err(format!("retry.max_attempts is 1..={MAX_ATTEMPTS_LIMIT}"));
            }
            if n > 1 && self.schedule_s.is_empty() {
                return Err("retry.max_attempts above 1 needs a retry.schedule_s".into());
            }
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err("retry.jitter is a fraction within 0..=1".into());
        }
        if self.max_delay_s == 0 || self.max_delay_s > MAX_DELAY_S {
            return Err(format!("retry.max_delay_s is 1..={MAX_DELAY_S}"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Delivered,
    Retry { delay_ms: u64 },
    Dead { reason: String },
}

/// What to do after an attempt.
///
/// `attempts_in_cycle` counts the attempt just made. `jitter_unit` is uniform in
/// [0, 1). A `Retry-After` longer than the scheduled delay wins, up to the
/// policy's `max_delay_s`.
pub fn decide(
    class: OutcomeClass,
    attempts_in_cycle: u32,
    policy: &RetryPolicy,
    retry_after_s: Option<u32>,
    jitter_unit: f64,
) -> Decision {
    match class {
        OutcomeClass::Delivered => return Decision::Delivered,
        OutcomeClass::Gone => {
            return Decision::Dead {
                reason: "the destination answered 410 Gone".into(),
            }
        }
        OutcomeClass::ClientError if !policy.retry_client_errors => {
            return Decision::Dead {
                reason: "client_error is not retried".into(),
            }
        }
        _ => {}
    }
    if attempts_in_cycle >= policy.attempts_allowed() {
        return Decision::Dead {
            reason: format!("{attempts_in_cycle} attempts failed, retries exhausted"),
        };
    }
    let mut delay_ms = jittered_ms(
        policy.base_delay_s(attempts_in_cycle),
        policy.jitter,
        jitter_unit,
    );
    if let Some(after) = retry_after_s {
        delay_ms = delay_ms.max(u64::from(after.min(policy.max_delay_s)) * 1000);
    }
    Decision::Retry { delay_ms }
}

/// `base_s` spread uniformly over +-`jitter`.
pub fn jittered_ms(base_s: u32, jitter: f64, jitter_unit: f64) -> u64 {
    let unit = jitter_unit.clamp(0.0, 1.0);
    let factor = 1.0 - jitter + 2.0 * jitter * unit;
    (f64::from(base_s) * 1000.0 * factor).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(schedule_s: &[u32]) -> RetryPolicy {
        RetryPolicy {
            schedule_s: schedule_s.to_vec(),
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn a_probe_answered_by_a_destination_that_is_up_closes_the_circuit() {
        for code in [200, 301, 400, 404, 410, 422, 429] {
            assert!(closes_circuit(classify_status(code), true), "probe {code}");
        }
        for class in [
            OutcomeClass::ServerError,
            OutcomeClass::Timeout,
            OutcomeClass::NetworkError,
        ] {
            assert!(!closes_circuit(class, true), "probe {class:?}");
        }
        assert!(closes_circuit(OutcomeClass::Delivered, false));
        assert!(!closes_circuit(OutcomeClass::ClientError, false));
        assert!(!closes_circuit(OutcomeClass::RateLimited, false));
    }

    #[test]
    fn classification_table() {
        let table = [
            (200, OutcomeClass::Delivered),
            (204, OutcomeClass::Delivered),
            (299, OutcomeClass::Delivered),
            (301, OutcomeClass::ClientError),
            (302, OutcomeClass::ClientError),
            (308, OutcomeClass::ClientError),
            (400, OutcomeClass::ClientError),
            (401, OutcomeClass::ClientError),
            (404, OutcomeClass::ClientError),
            (408, OutcomeClass::RateLimited),
            (410, OutcomeClass::Gone),
            (422, OutcomeClass::ClientError),
            (425, OutcomeClass::RateLimited),
            (429, OutcomeClass::RateLimited),
            (500, OutcomeClass::ServerError),
            (502, OutcomeClass::ServerError),
            (503, OutcomeClass::ServerError),
            (599, OutcomeClass::ServerError),
            (100, OutcomeClass::ClientError),
        ];
        for (code, class) in table {
            assert_eq!(classify_status(code), class, "{code}");
        }
    }

    #[test]
    fn only_down_classes_count_for_the_circuit() {
        let down = [
            OutcomeClass::ServerError,
            OutcomeClass::Timeout,
            OutcomeClass::NetworkError,
        ];
        let up = [
            OutcomeClass::Delivered,
            OutcomeClass::RateLimited,
            OutcomeClass::ClientError,
            OutcomeClass::Gone,
        ];
        assert!(down.iter().all(|c| c.means_destination_down()));
        assert!(up.iter().all(|c| !c.means_destination_down()));
    }

    #[test]
    fn default_schedule_spans_more_than_a_day() {
        let total: u32 = DEFAULT_SCHEDULE_S.iter().sum();
        assert!(total > 86_400, "{total}");
        assert_eq!(RetryPolicy::default().attempts_allowed(), 12);
        assert!(RetryPolicy::default().validate().is_ok());
    }

    #[test]
    fn jitter_stays_within_bounds() {
        for base in [1, 5, 30, 43_200] {
            let b = u64::from(base) * 1000;
            assert_eq!(jittered_ms(base, 0.2, 0.0), b * 8 / 10);
            let hi = jittered_ms(base, 0.2, 0.999_999);
            assert!(hi <= b * 12 / 10 && hi > b * 119 / 100, "{hi}");
            assert_eq!(jittered_ms(base, 0.2, 0.5), b);
            assert_eq!(jittered_ms(base, 0.0, 0.9), b, "no jitter");
        }
        assert_eq!(jittered_ms(10, 0.2, -3.0), 8_000, "clamped");
    }

    #[test]
    fn follows_the_schedule_then_goes_dead() {
        let p = policy(&[1, 2]);
        let at = |n, class| decide(class, n, &p, None, 0.5);
        assert_eq!(
            at(1, OutcomeClass::ServerError),
            Decision::Retry { delay_ms: 1_000 }
        );
        assert_eq!(
            at(2, OutcomeClass::Timeout),
            Decision::Retry { delay_ms: 2_000 }
        );
        assert!(matches!(
            at(3, OutcomeClass::NetworkError),
            Decision::Dead { .. }
        ));
    }

    #[test]
    fn max_attempts_shortens_or_repeats_the_last_delay() {
        let short = RetryPolicy {
            max_attempts: Some(2),
            ..policy(&[1, 2, 3])
        };
        assert!(matches!(
            decide(OutcomeClass::ServerError, 1, &short, None, 0.5),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            decide(OutcomeClass::ServerError, 2, &short, None, 0.5),
            Decision::Dead { .. }
        ));
        let long = RetryPolicy {
            max_attempts: Some(5),
            ..policy(&[1, 2])
        };
        assert_eq!(
            decide(OutcomeClass::ServerError, 4, &long, None, 0.5),
            Decision::Retry { delay_ms: 2_000 }
        );
        assert!(matches!(
            decide(OutcomeClass::ServerError, 5, &long, None, 0.5),
            Decision::Dead { .. }
        ));
    }

    #[test]
    fn client_errors_die_unless_configured_and_gone_always_dies() {
        let p = policy(&[1]);
        assert!(matches!(
            decide(OutcomeClass::ClientError, 1, &p, None, 0.5),
            Decision::Dead { .. }
        ));
        let lenient = RetryPolicy {
            retry_client_errors: true,
            ..policy(&[1])
        };
        assert_eq!(
            decide(OutcomeClass::ClientError, 1, &lenient, None, 0.5),
            Decision::Retry { delay_ms: 1_000 }
        );
        match decide(OutcomeClass::Gone, 1, &lenient, None, 0.5) {
            Decision::Dead { reason } => assert!(reason.contains("410")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decide(OutcomeClass::Delivered, 7, &p, None, 0.5),
            Decision::Delivered
        );
    }

    #[test]
    fn retry_after_lengthens_but_never_shortens_and_is_capped() {
        let p = RetryPolicy {
            max_delay_s: 600,
            ..policy(&[10])
        };
        let d = |after| decide(OutcomeClass::RateLimited, 1, &p, after, 0.5);
        assert_eq!(d(Some(60)), Decision::Retry { delay_ms: 60_000 });
        assert_eq!(d(Some(1)), Decision::Retry { delay_ms: 10_000 });
        assert_eq!(d(Some(u32::MAX)), Decision::Retry { delay_ms: 600_000 });
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let now = 1_445_412_480; // Wed, 21 Oct 2015 07:28:00 GMT
        let cases: [(Option<&str>, Option<u32>); 8] = [
            (Some(" 120 "), Some(120)),
            (Some("0"), Some(0)),
            (Some("Wed, 21 Oct 2015 07:28:30 GMT"), Some(30)),
            (Some("Wednesday, 21-Oct-15 07:29:00 GMT"), Some(60)),
            (Some("Wed Oct 21 07:28:10 2015"), Some(10)),
            (Some("Tue, 20 Oct 2015 07:28:00 GMT"), Some(0)),
            (Some("soon"), None),
            (None, None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_retry_after_s(value, now), expected, "{value:?}");
        }
    }

    #[test]
    fn policy_validation() {
        assert!(
            policy(&[]).validate().is_ok(),
            "no retries is a valid choice"
        );
        assert!(policy(&[0]).validate().is_err());
        assert!(policy(&[MAX_DELAY_S + 1]).validate().is_err());
        assert!(policy(&[1; MAX_SCHEDULE_LEN + 1]).validate().is_err());
        assert!(RetryPolicy {
            max_attempts: Some(0),
            ..policy(&[1])
        }
        .validate()
        .is_err());
        assert!(RetryPolicy {
            max_attempts: Some(3),
            ..policy(&[])
        }
        .validate()
        .is_err());
        assert!(RetryPolicy {
            jitter: 1.5,
            ..policy(&[1])
        }
        .validate()
        .is_err());
        assert!(RetryPolicy {
            max_delay_s: 0,
            ..policy(&[1])
        }
        .validate()
        .is_err());
    }
}
