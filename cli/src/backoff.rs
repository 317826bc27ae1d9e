//! How long `listen` and `tail` wait before talking to the relay again after a
//! network error or a 5xx: 0.5 s, doubling up to 30 s, and back to 0.5 s after
//! the first call that succeeds. No jitter: one client, one relay.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(500);
const MAX: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    /// The wait before the next try; each call doubles the one after, up to 30 s.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(MAX);
        delay
    }

    /// A call succeeded: the next failure waits the shortest time again.
    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_from_half_a_second_up_to_thirty_seconds() {
        let mut backoff = Backoff::default();
        let delays: Vec<Duration> = (0..9).map(|_| backoff.next_delay()).collect();
        let want = [
            500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
        ];
        assert_eq!(delays, want.map(ms));
    }

    #[test]
    fn a_success_starts_the_schedule_over() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay();
        }
        backoff.reset();
        assert_eq!(backoff.next_delay(), ms(500));
        assert_eq!(backoff.next_delay(), ms(1_000));
    }
}
