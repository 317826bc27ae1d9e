//! Rate limiting by GCRA (the generic cell rate algorithm): one timestamp per
//! endpoint, the theoretical arrival time (TAT), advanced by compare-and-set in D1
//! so every consumer and the sweeper share one limit.
//!
//! A limit of `r` per second spaces deliveries `1000 / r` ms apart and allows a
//! burst of about one second's worth (`r`) after an idle period.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
}

impl RateLimit {
    pub const MAX_PER_SECOND: f64 = 1_000.0;

    /// `None` for "unlimited" (absent or zero).
    pub fn from_setting(per_second: Option<f64>) -> Option<RateLimit> {
        per_second
            .filter(|r| *r > 0.0)
            .map(|per_second| RateLimit { per_second })
    }

    pub fn validate(per_second: f64) -> Result<(), String> {
        if per_second.is_finite() && (0.0..=Self::MAX_PER_SECOND).contains(&per_second) {
            Ok(())
        } else {
            Err(format!(
                "rate_limit_per_s is 0 (unlimited) up to {}",
                Self::MAX_PER_SECOND
            ))
        }
    }

    /// Milliseconds between two deliveries.
    pub fn interval_ms(self) -> i64 {
        (1000.0 / self.per_second).ceil() as i64
    }

    /// How far ahead of now the TAT may run: the burst allowance.
    pub fn tolerance_ms(self) -> i64 {
        (1000 - self.interval_ms()).max(0)
    }

    /// Whether a delivery may start now given the stored TAT.
    pub fn allows(self, tat_ms: i64, now_ms: i64) -> bool {
        tat_ms <= now_ms + self.tolerance_ms()
    }

    /// The TAT after a delivery starts now.
    pub fn next_tat(self, tat_ms: i64, now_ms: i64) -> i64 {
        tat_ms.max(now_ms) + self.interval_ms()
    }

    /// How long a refused delivery should wait before asking again.
    pub fn wait_ms(self, tat_ms: i64, now_ms: i64) -> i64 {
        (tat_ms - self.tolerance_ms() - now_ms).max(1)
    }

    /// When a delivery that reserved a slot may start, given the TAT its
    /// reservation left behind (`next_tat` of the TAT it found): now if the
    /// TAT it found was within the burst allowance, else that TAT less the
    /// allowance. Reserving never refuses: it hands out the next free slot.
    pub fn start_of_slot(self, tat_after_ms: i64, now_ms: i64) -> i64 {
        (tat_after_ms - self.interval_ms() - self.tolerance_ms()).max(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays a burst of `n` requests at `now` and then one every `step` ms,
    /// returning the start time of each.
    fn schedule(limit: RateLimit, n: usize) -> Vec<i64> {
        let (mut tat, mut now, mut starts) = (0_i64, 10_000_i64, Vec::new());
        while starts.len() < n {
            if limit.allows(tat, now) {
                tat = limit.next_tat(tat, now);
                starts.push(now);
            } else {
                now += limit.wait_ms(tat, now);
            }
        }
        starts
    }

    #[test]
    fn five_per_second_over_fifty_takes_about_nine_seconds() {
        let starts = schedule(RateLimit { per_second: 5.0 }, 50);
        let span = starts.last().unwrap() - starts.first().unwrap();
        assert!((8_800..=9_200).contains(&span), "{span}");
        assert_eq!(
            starts.iter().filter(|&&t| t == 10_000).count(),
            5,
            "a burst of five"
        );
    }

    #[test]
    fn never_more_than_the_limit_in_any_second_after_the_burst() {
        let starts = schedule(RateLimit { per_second: 10.0 }, 200);
        for window_start in (11_000..starts[199]).step_by(250) {
            let in_window = starts
                .iter()
                .filter(|&&t| t >= window_start && t < window_start + 1000)
                .count();
            assert!(
                in_window <= 11,
                "{in_window} in the second from {window_start}"
            );
        }
    }

    /// Reserving a slot for each of `n` events that all arrive at `now`.
    fn reserved(limit: RateLimit, n: usize, now: i64) -> Vec<i64> {
        let mut tat = 0_i64;
        (0..n)
            .map(|_| {
                tat = limit.next_tat(tat, now);
                limit.start_of_slot(tat, now)
            })
            .collect()
    }

    #[test]
    fn reserved_slots_follow_the_same_schedule_as_asking_again() {
        for per_second in [0.5, 5.0, 10.0, 333.0] {
            let limit = RateLimit { per_second };
            assert_eq!(
                reserved(limit, 60, 10_000),
                schedule(limit, 60),
                "{per_second}/s"
            );
        }
    }

    #[test]
    fn ten_thousand_events_behind_five_per_second_each_get_their_own_slot_once() {
        let limit = RateLimit { per_second: 5.0 };
        let slots = reserved(limit, 10_000, 10_000);
        assert!(slots.windows(2).all(|w| w[0] <= w[1]), "in order");
        let distinct: std::collections::BTreeSet<_> = slots.iter().collect();
        assert_eq!(
            distinct.len(),
            10_000 - 4,
            "one slot each after the burst of five"
        );
        let span = slots.last().unwrap() - slots.first().unwrap();
        assert!((1_998_000..=2_000_000).contains(&span), "{span}");
    }

    #[test]
    fn slow_rates_have_no_burst() {
        let limit = RateLimit { per_second: 0.5 };
        assert_eq!(limit.interval_ms(), 2_000);
        assert_eq!(limit.tolerance_ms(), 0);
        let starts = schedule(limit, 3);
        assert_eq!(starts, [10_000, 12_000, 14_000]);
    }

    #[test]
    fn settings() {
        assert_eq!(RateLimit::from_setting(None), None);
        assert_eq!(RateLimit::from_setting(Some(0.0)), None);
        assert!(RateLimit::from_setting(Some(2.0)).is_some());
        assert!(RateLimit::validate(0.0).is_ok());
        assert!(RateLimit::validate(-1.0).is_err());
        assert!(RateLimit::validate(f64::NAN).is_err());
        assert!(RateLimit::validate(1e9).is_err());
    }
}
