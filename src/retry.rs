//! Retry policy: classifying a delivery outcome and deciding what happens next.
//!
//! Pure functions of the outcome, the attempts made in the current cycle, the
//! endpoint's schedule and a random number, so every branch is table-tested.
//! A "cycle" restarts at replay: the attempt *numbering* continues, the schedule
//! starts over.

use serde::{Deserialize, Serialize};

/// About 5s, 30s, 2m, 10m, 30m, 1h, 2h, 4h, 8h, 12h, 12h: 12 attempts over ~41 h,
/// longer than a day so a weekend-length outage of the destination is ridden out
/// with the provider long satisfied.
pub const DEFAULT_SCHEDULE_S: [u32; 11] = [
    5, 30, 120, 600, 1_800, 3_600, 7_200, 14_400, 28_800, 43_200, 43_200,
];
/// Each delay is spread by +-20 % so a recovered destination is not hit by a herd.
pub const JITTER_FRACTION: f64 = 0.2;
/// The longest delay a Cloudflare Queue message can carry (12 h).
pub const MAX_DELAY_S: u32 = 43_200;
pub const MAX_SCHEDULE_LEN: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeClass {
    Delivered,
    RateLimited,
    ServerError,
    ClientError,
    Timeout,
    NetworkError,
}

impl OutcomeClass {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeClass::Delivered => "delivered",
            OutcomeClass::RateLimited => "rate_limited",
            OutcomeClass::ServerError => "server_error",
            OutcomeClass::ClientError => "client_error",
            OutcomeClass::Timeout => "timeout",
            OutcomeClass::NetworkError => "network_error",
        }
    }

    /// Other 4xx (and 3xx, which are not followed) mean the request itself is wrong
    /// for this destination: retrying cannot help, so the event goes to `dead`
    /// where it can be replayed once the destination is fixed.
    pub fn is_retryable(self) -> bool {
        !matches!(self, OutcomeClass::Delivered | OutcomeClass::ClientError)
    }
}

/// The class of an HTTP answer. Redirects are not followed, like Stripe.
pub fn classify_status(code: u16) -> OutcomeClass {
    match code {
        200..=299 => OutcomeClass::Delivered,
        408 | 425 | 429 => OutcomeClass::RateLimited,
        500..=599 => OutcomeClass::ServerError,
        _ => OutcomeClass::ClientError,
    }
}

/// `Retry-After` in delta-seconds; HTTP dates are treated as absent.
pub fn parse_retry_after_s(value: Option<&str>) -> Option<u32> {
    value?.trim().parse::<u32>().ok()
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
/// [0, 1). A `Retry-After` longer than the scheduled delay wins, up to the queue's
/// 12 h limit.
pub fn decide(
    class: OutcomeClass,
    attempts_in_cycle: u32,
    schedule_s: &[u32],
    retry_after_s: Option<u32>,
    jitter_unit: f64,
) -> Decision {
    if class == OutcomeClass::Delivered {
        return Decision::Delivered;
    }
    if !class.is_retryable() {
        return Decision::Dead {
            reason: format!("{} is not retried", class.as_str()),
        };
    }
    let Some(&base_s) = schedule_s.get(attempts_in_cycle.saturating_sub(1) as usize) else {
        return Decision::Dead {
            reason: format!("{attempts_in_cycle} attempts failed, schedule exhausted"),
        };
    };
    let mut delay_ms = jittered_ms(base_s, jitter_unit);
    if let Some(after) = retry_after_s {
        delay_ms = delay_ms.max(u64::from(after.min(MAX_DELAY_S)) * 1000);
    }
    Decision::Retry { delay_ms }
}

/// `base_s` spread uniformly over +-[`JITTER_FRACTION`].
pub fn jittered_ms(base_s: u32, jitter_unit: f64) -> u64 {
    let unit = jitter_unit.clamp(0.0, 1.0);
    let factor = 1.0 - JITTER_FRACTION + 2.0 * JITTER_FRACTION * unit;
    (f64::from(base_s) * 1000.0 * factor).round() as u64
}

/// Checks an operator-supplied schedule.
pub fn validate_schedule(schedule_s: &[u32]) -> Result<(), String> {
    if schedule_s.len() > MAX_SCHEDULE_LEN {
        return Err(format!(
            "retry.schedule_s has at most {MAX_SCHEDULE_LEN} entries"
        ));
    }
    if let Some(bad) = schedule_s.iter().find(|&&s| s == 0 || s > MAX_DELAY_S) {
        return Err(format!(
            "retry.schedule_s entries are 1..={MAX_DELAY_S} seconds, got {bad}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let table = [
            (200, OutcomeClass::Delivered),
            (204, OutcomeClass::Delivered),
            (299, OutcomeClass::Delivered),
            (301, OutcomeClass::ClientError),
            (400, OutcomeClass::ClientError),
            (404, OutcomeClass::ClientError),
            (408, OutcomeClass::RateLimited),
            (425, OutcomeClass::RateLimited),
            (429, OutcomeClass::RateLimited),
            (500, OutcomeClass::ServerError),
            (503, OutcomeClass::ServerError),
            (100, OutcomeClass::ClientError),
        ];
        for (code, class) in table {
            assert_eq!(classify_status(code), class, "{code}");
        }
    }

    #[test]
    fn retryable_classes() {
        assert!(!OutcomeClass::Delivered.is_retryable());
        assert!(!OutcomeClass::ClientError.is_retryable());
        for c in [
            OutcomeClass::RateLimited,
            OutcomeClass::ServerError,
            OutcomeClass::Timeout,
            OutcomeClass::NetworkError,
        ] {
            assert!(c.is_retryable(), "{c:?}");
        }
    }

    #[test]
    fn default_schedule_spans_more_than_a_day() {
        let total: u32 = DEFAULT_SCHEDULE_S.iter().sum();
        assert!(total > 86_400, "{total}");
        assert_eq!(DEFAULT_SCHEDULE_S[0], 5);
        assert!(validate_schedule(&DEFAULT_SCHEDULE_S).is_ok());
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for base in [1, 5, 30, 43_200] {
            let lo = jittered_ms(base, 0.0);
            let hi = jittered_ms(base, 0.999_999);
            let mid = jittered_ms(base, 0.5);
            let b = u64::from(base) * 1000;
            assert_eq!(lo, b * 8 / 10);
            assert!(hi <= b * 12 / 10 && hi > b * 119 / 100, "{hi}");
            assert_eq!(mid, b);
        }
        assert_eq!(jittered_ms(10, -3.0), 8_000, "clamped");
    }

    #[test]
    fn follows_the_schedule_then_goes_dead() {
        let schedule = [1, 2];
        let d1 = decide(OutcomeClass::ServerError, 1, &schedule, None, 0.5);
        assert_eq!(d1, Decision::Retry { delay_ms: 1_000 });
        let d2 = decide(OutcomeClass::Timeout, 2, &schedule, None, 0.5);
        assert_eq!(d2, Decision::Retry { delay_ms: 2_000 });
        let d3 = decide(OutcomeClass::NetworkError, 3, &schedule, None, 0.5);
        assert!(matches!(d3, Decision::Dead { .. }));
    }

    #[test]
    fn client_errors_die_at_once_and_success_is_final() {
        assert!(matches!(
            decide(OutcomeClass::ClientError, 1, &DEFAULT_SCHEDULE_S, None, 0.5),
            Decision::Dead { .. }
        ));
        assert_eq!(
            decide(OutcomeClass::Delivered, 7, &[], None, 0.5),
            Decision::Delivered
        );
    }

    #[test]
    fn retry_after_lengthens_but_never_shortens_and_is_capped() {
        let s = [10];
        assert_eq!(
            decide(OutcomeClass::RateLimited, 1, &s, Some(60), 0.5),
            Decision::Retry { delay_ms: 60_000 }
        );
        assert_eq!(
            decide(OutcomeClass::RateLimited, 1, &s, Some(1), 0.5),
            Decision::Retry { delay_ms: 10_000 }
        );
        assert_eq!(
            decide(OutcomeClass::RateLimited, 1, &s, Some(u32::MAX), 0.5),
            Decision::Retry {
                delay_ms: u64::from(MAX_DELAY_S) * 1000
            }
        );
        assert_eq!(parse_retry_after_s(Some(" 120 ")), Some(120));
        assert_eq!(
            parse_retry_after_s(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after_s(None), None);
    }

    #[test]
    fn schedule_validation() {
        assert!(
            validate_schedule(&[]).is_ok(),
            "no retries is a valid choice"
        );
        assert!(validate_schedule(&[0]).is_err());
        assert!(validate_schedule(&[MAX_DELAY_S + 1]).is_err());
        assert!(validate_schedule(&[1; MAX_SCHEDULE_LEN + 1]).is_err());
    }
}
