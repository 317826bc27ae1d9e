//! The arithmetic of the stats API (`/api/v1/stats/*`): time windows and their
//! buckets, the latency histogram, and nearest-rank percentiles.
//!
//! D1 sums the hourly rollups (`GROUP BY` over bucket numbers); this module
//! decides which buckets exist, where they start, which histogram bucket a
//! duration falls in and what a percentile of a histogram reads, so every
//! figure the API shows is aligned the same way and a quiet bucket still
//! appears, with zeros.

/// The span a time series covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// 24 hourly buckets.
    Day,
    /// 28 buckets of 6 hours.
    Week,
    /// 30 daily buckets.
    Month,
}

const HOUR_MS: i64 = 3_600_000;

/// The start of the UTC hour that holds `ms`: the `hour` of a rollup row.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// A window by its name (`24h`, `7d`, `30d`), `24h` when none is asked for.
impl schemars::JsonSchema for Window {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StatsWindow".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names = Window::ALL.map(Window::as_str);
        schemars::json_schema!({ "type": "string", "enum": names, "default": "24h" })
    }
}

impl Window {
    pub const ALL: [Window; 3] = [Window::Day, Window::Week, Window::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
            Window::Month => "30d",
        }
    }

    pub fn parse(s: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.as_str() == s)
    }

    pub fn bucket_ms(self) -> i64 {
        match self {
            Window::Day => HOUR_MS,
            Window::Week => 6 * HOUR_MS,
            Window::Month => 24 * HOUR_MS,
        }
    }

    pub fn bucket_count(self) -> i64 {
        match self {
            Window::Day => 24,
            Window::Week => 28,
            Window::Month => 30,
        }
    }

    pub fn duration_ms(self) -> i64 {
        self.bucket_ms() * self.bucket_count()
    }
}

/// The buckets of a window ending with the one that holds `now`: `[from_ms, to_ms)`,
/// cut into `count` buckets of `bucket_ms`, each starting on a multiple of
/// `bucket_ms` since the unix epoch (so on UTC hours, quarter days and midnights).
/// The last bucket is the current one and still filling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from_ms: i64,
    pub to_ms: i64,
    pub bucket_ms: i64,
    pub count: i64,
}

impl Span {
    pub fn ending_at(window: Window, now_ms: i64) -> Span {
        let bucket_ms = window.bucket_ms();
        let count = window.bucket_count();
        let to_ms = (now_ms.div_euclid(bucket_ms) + 1) * bucket_ms;
        Span {
            from_ms: to_ms - count * bucket_ms,
            to_ms,
            bucket_ms,
            count,
        }
    }

    /// The bucket number (`t / bucket_ms`, as the SQL groups by) of the first bucket.
    pub fn first_bucket(&self) -> i64 {
        self.from_ms.div_euclid(self.bucket_ms)
    }
}

/// One bucket of the time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bucket {
    pub start_ms: i64,
    pub received: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// A count for one bucket number, as a `GROUP BY (t / bucket_ms)` returns it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketCount {
    pub bucket: i64,
    pub n: u64,
}

/// Every bucket of the span, oldest first, zeros included. Counts for bucket
/// numbers outside the span are ignored.
pub fn fill(
    span: &Span,
    received: &[BucketCount],
    delivered: &[BucketCount],
    failed: &[BucketCount],
) -> Vec<Bucket> {
    let mut buckets: Vec<Bucket> = (0..span.count)
        .map(|i| Bucket {
            start_ms: span.from_ms + i * span.bucket_ms,
            ..Bucket::default()
        })
        .collect();
    let first = span.first_bucket();
    let mut add = |rows: &[BucketCount], field: fn(&mut Bucket) -> &mut u64| {
        for row in rows {
            let index = row.bucket - first;
            if let Some(bucket) = usize::try_from(index).ok().and_then(|i| buckets.get_mut(i)) {
                *field(bucket) += row.n;
            }
        }
    };
    add(received, |b| &mut b.received);
    add(delivered, |b| &mut b.delivered);
    add(failed, |b| &mut b.failed);
    buckets
}

/// The 0-based rank of the `percent`-th percentile among `n` sorted values, by the
/// nearest-rank method: the smallest value with at least `percent` % of the values
/// at or below it (`ceil(n * percent / 100) - 1`). `None` when there are no values.
/// The rank is what `ORDER BY duration_ms LIMIT 1 OFFSET rank` reads.
pub fn nearest_rank(n: u64, percent: u32) -> Option<u64> {
    if n == 0 {
        return None;
    }
    let percent = u64::from(percent.min(100));
    let rank = (n * percent).div_ceil(100);
    Some(rank.saturating_sub(1).min(n - 1))
}

/// The upper bounds (ms) of the latency histogram's buckets, as the `rollups`
/// table's columns `l0..l10` hold them; `l11` holds every slower attempt.
pub const LATENCY_BOUNDS_MS: [u64; 11] =
    [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/// How many buckets the histogram has (`l0..l11`).
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The outcomes of failed attempts, each counted by the `rollups` table in a
/// column named as the outcome (`delivered` has its own column too, and
/// `failed` counts them all), so attempts by outcome survive compaction.
pub const FAILED_OUTCOMES: [&str; 7] = [
    "rate_limited",
    "server_error",
    "client_error",
    "gone",
    "timeout",
    "network_error",
    "transform_error",
];

/// The `rollups` column that counts attempts of `outcome`: one of
/// [`FAILED_OUTCOMES`], or `None` for `delivered` (counted in `delivered`)
/// and any other name (counted only in `failed`).
pub fn failed_outcome_column(outcome: &str) -> Option<&'static str> {
    FAILED_OUTCOMES
        .iter()
        .copied()
        .find(|&known| known == outcome)
}

/// The histogram bucket a duration falls in.
pub fn latency_bucket(duration_ms: u64) -> usize {
    LATENCY_BOUNDS_MS
        .iter()
        .position(|&bound| duration_ms <= bound)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

/// The `percent`-th percentile of the durations a histogram counts, by nearest
/// rank, as the upper bound of the bucket that holds that rank, never above the
/// slowest duration (`max_ms`; the last bucket has no bound of its own). So the
/// figure says "at most this", to the histogram's resolution. `None` when the
/// histogram is empty.
pub fn histogram_percentile(
    counts: &[u64; LATENCY_BUCKETS],
    max_ms: u64,
    percent: u32,
) -> Option<u64> {
    let n: u64 = counts.iter().sum();
    let rank = nearest_rank(n, percent)?;
    let mut seen = 0;
    for (bucket, count) in counts.iter().enumerate() {
        seen += count;
        if seen > rank {
            let bound = LATENCY_BOUNDS_MS.get(bucket).copied().unwrap_or(max_ms);
            return Some(bound.min(max_ms));
        }
    }
    Some(max_ms)
}

/// Successful attempts over all attempts; `None` without attempts.
pub fn success_rate(attempts: u64, succeeded: u64) -> Option<f64> {
    (attempts > 0).then(|| succeeded.min(attempts) as f64 / attempts as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_the_bucket_of_their_upper_bound() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(10), 0);
        assert_eq!(latency_bucket(11), 1);
        assert_eq!(latency_bucket(30_000), 10);
        assert_eq!(latency_bucket(30_001), 11);
        assert_eq!(latency_bucket(u64::MAX), LATENCY_BUCKETS - 1);
    }

    #[test]
    fn histogram_percentiles_are_bucket_bounds_capped_by_the_slowest() {
        let mut counts = [0; LATENCY_BUCKETS];
        assert_eq!(histogram_percentile(&counts, 0, 50), None);
        // 40, 80, 120, 200, 400 ms: nearest ranks 2 (120 ms) and 4 (400 ms).
        for d in [40, 80, 120, 200, 400] {
            counts[latency_bucket(d)] += 1;
        }
        assert_eq!(histogram_percentile(&counts, 400, 50), Some(250));
        assert_eq!(
            histogram_percentile(&counts, 400, 95),
            Some(400),
            "capped by the slowest"
        );
        assert_eq!(histogram_percentile(&counts, 400, 0), Some(50));
        let mut slow = [0; LATENCY_BUCKETS];
        slow[LATENCY_BUCKETS - 1] = 3;
        assert_eq!(
            histogram_percentile(&slow, 61_000, 50),
            Some(61_000),
            "the last bucket reads the slowest"
        );
    }

    /// 2023-11-14T22:13:20.123Z
    const NOW: i64 = 1_700_000_000_123;

    #[test]
    fn windows_parse_by_their_names_only() {
        for w in Window::ALL {
            assert_eq!(Window::parse(w.as_str()), Some(w));
        }
        for bad in ["", "24H", "1d", "7", "30days", " 24h"] {
            assert_eq!(Window::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn each_window_has_its_buckets() {
        let cases = [
            (Window::Day, 3_600_000, 24),
            (Window::Week, 21_600_000, 28),
            (Window::Month, 86_400_000, 30),
        ];
        for (window, bucket_ms, count) in cases {
            let span = Span::ending_at(window, NOW);
            assert_eq!(span.bucket_ms, bucket_ms);
            assert_eq!(span.count, count);
            assert_eq!(span.to_ms - span.from_ms, bucket_ms * count);
            assert_eq!(window.duration_ms(), bucket_ms * count);
            assert_eq!(span.from_ms % bucket_ms, 0, "aligned");
            assert!(
                span.to_ms - bucket_ms <= NOW && NOW < span.to_ms,
                "the last bucket holds now"
            );
        }
    }

    #[test]
    fn buckets_start_on_utc_hours_quarter_days_and_midnights() {
        // 22:13:20 UTC: the current hour starts at 22:00, the quarter day at 18:00,
        // the day at midnight.
        let midnight = 1_699_920_000_000; // 2023-11-14T00:00:00Z
        let day = Span::ending_at(Window::Day, NOW);
        assert_eq!(day.to_ms, midnight + 23 * HOUR_MS);
        let week = Span::ending_at(Window::Week, NOW);
        assert_eq!(week.to_ms, midnight + 24 * HOUR_MS);
        assert_eq!(week.to_ms - week.bucket_ms, midnight + 18 * HOUR_MS);
        let month = Span::ending_at(Window::Month, NOW);
        assert_eq!(month.to_ms, midnight + 24 * HOUR_MS);
        assert_eq!(month.from_ms, midnight - 29 * 24 * HOUR_MS);
    }

    #[test]
    fn a_boundary_instant_opens_a_new_bucket() {
        let span = Span::ending_at(Window::Day, 1_699_920_000_000);
        assert_eq!(span.to_ms, 1_699_920_000_000 + HOUR_MS);
        let before = Span::ending_at(Window::Day, 1_699_920_000_000 - 1);
        assert_eq!(before.to_ms, 1_699_920_000_000);
    }

    #[test]
    fn fill_gives_every_bucket_oldest_first_with_zeros() {
        let span = Span::ending_at(Window::Day, NOW);
        let first = span.first_bucket();
        let last = first + span.count - 1;
        let buckets = fill(
            &span,
            &[
                BucketCount { bucket: last, n: 3 },
                BucketCount {
                    bucket: first,
                    n: 1,
                },
            ],
            &[BucketCount { bucket: last, n: 2 }],
            &[
                BucketCount {
                    bucket: first + 5,
                    n: 4,
                },
                BucketCount {
                    bucket: first - 1,
                    n: 99,
                },
                BucketCount {
                    bucket: last + 1,
                    n: 99,
                },
            ],
        );
        assert_eq!(buckets.len(), 24);
        assert!(buckets
            .windows(2)
            .all(|w| w[1].start_ms - w[0].start_ms == HOUR_MS));
        assert_eq!(buckets[0].start_ms, span.from_ms);
        assert_eq!(
            buckets[0],
            Bucket {
                start_ms: span.from_ms,
                received: 1,
                delivered: 0,
                failed: 0
            }
        );
        assert_eq!(buckets[5].failed, 4);
        assert_eq!((buckets[23].received, buckets[23].delivered), (3, 2));
        let total: u64 = buckets
            .iter()
            .map(|b| b.received + b.delivered + b.failed)
            .sum();
        assert_eq!(total, 1 + 3 + 2 + 4, "rows outside the span are ignored");
    }

    #[test]
    fn fill_without_rows_is_all_zeros() {
        let span = Span::ending_at(Window::Month, NOW);
        let buckets = fill(&span, &[], &[], &[]);
        assert_eq!(buckets.len(), 30);
        assert!(buckets
            .iter()
            .all(|b| b.received == 0 && b.delivered == 0 && b.failed == 0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        // (n, percent, 0-based rank)
        let cases = [
            (1, 50, 0),
            (1, 95, 0),
            (2, 50, 0),
            (2, 95, 1),
            (3, 50, 1),
            (4, 50, 1),
            (10, 50, 4),
            (10, 95, 9),
            (20, 95, 18),
            (100, 50, 49),
            (100, 95, 94),
            (101, 95, 95),
            (1000, 99, 989),
            (7, 0, 0),
            (7, 100, 6),
            (7, 250, 6),
        ];
        for (n, p, rank) in cases {
            assert_eq!(nearest_rank(n, p), Some(rank), "n={n} p={p}");
        }
        assert_eq!(nearest_rank(0, 50), None);
    }

    #[test]
    fn nearest_rank_is_always_a_valid_offset() {
        for n in 1..300 {
            for p in [1, 50, 90, 95, 99, 100] {
                let rank = nearest_rank(n, p).unwrap();
                assert!(rank < n);
                // At least p % of the values are at or below the chosen one, and
                // fewer than p % are strictly below it.
                assert!((rank + 1) * 100 >= n * u64::from(p), "n={n} p={p}");
                assert!(rank * 100 < n * u64::from(p), "n={n} p={p}");
            }
        }
    }

    #[test]
    fn success_rate_is_none_without_attempts() {
        assert_eq!(success_rate(0, 0), None);
        assert_eq!(success_rate(4, 3), Some(0.75));
        assert_eq!(success_rate(2, 0), Some(0.0));
        assert_eq!(success_rate(2, 5), Some(1.0));
    }

    #[test]
    fn each_failed_outcome_has_its_own_rollup_column() {
        assert_eq!(failed_outcome_column("server_error"), Some("server_error"));
        assert_eq!(
            failed_outcome_column("transform_error"),
            Some("transform_error")
        );
        assert_eq!(
            failed_outcome_column("delivered"),
            None,
            "counted in `delivered`"
        );
        assert_eq!(failed_outcome_column("x; DROP TABLE rollups"), None);
        use crate::retry::OutcomeClass;
        for class in OutcomeClass::ALL {
            let column = failed_outcome_column(class.as_str());
            assert_eq!(
                column.is_some(),
                class != OutcomeClass::Delivered,
                "{class:?}"
            );
        }
    }
}
