//! The `rejections` and `rejection_counts` tables: why requests were refused.
//!
//! Each refusal is counted per endpoint and reason in `rejection_counts` (kept
//! for good; a request to no known endpoint counts under the endpoint id `''`).
//! Refusals of a known endpoint are also logged in `rejections` (time, reason,
//! source, redacted headers, body size; kept: the newest 100 per endpoint, for
//! 24 hours).
//!
//! # What a refusal costs
//! Refusals are what junk traffic produces, so writing each one would let any
//! sender spend the database's write budget. Per isolate, a [`Tally`] decides:
//! - the first refusals of each (endpoint or unknown, reason) in each clock
//!   minute are written at once, after the answer: a known endpoint's with its
//!   log row, as one batch ([`record`]). For a known endpoint that is
//!   [`LOGGED_PER_MINUTE`] (or `ALERT_REFUSAL_SPIKE` when higher, since the
//!   spike alert counts log rows); for unknown ids [`UNKNOWN_PER_MINUTE`];
//! - every further refusal is only counted in the isolate's memory. One delayed
//!   flush per isolate, at most every [`FLUSH_INTERVAL_MS`], adds the counts
//!   gathered meanwhile with one upsert per (endpoint, reason) in one batch
//!   ([`flush`]); it runs inside the `wait_until` of the refusal that found none
//!   scheduled, so the runtime awaits it.
//!
//! So the counts stay exact: every refusal is added once, the ones beyond the
//! per-minute allowance up to [`FLUSH_INTERVAL_MS`] late. They are lost only
//! when the isolate dies in between, or when a flush fails [`FLUSH_ATTEMPTS`]
//! times in a row (they then wait in memory for the next flush). The log is a
//! sample under a flood: the first rows of each minute and reason, not all.
//!
//! Writes per isolate per minute are bounded whatever the request rate. Unknown
//! endpoint ids: at most `UNKNOWN_PER_MINUTE + 60 s / FLUSH_INTERVAL_MS` (22)
//! single-row upserts, all on the one `('', 'unknown_endpoint')` row, and no log
//! row. A known endpoint and reason: at most the allowance in log rows (each with
//! its count upsert and the trim of the log to 100), plus its share of the flushes.
//!
//! The tally's memory is one entry per (endpoint, reason) refused in the current
//! minute (known endpoints only, plus the one unknown key), at most [`MAX_KEYS`]:
//! beyond that, a new key is counted without the allowance.

use super::{bind, int, opt_text, text, Db};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use worker::Result;

pub const KEEP_PER_ENDPOINT: i64 = 100;
pub const KEEP_FOR_MS: i64 = 24 * 3600 * 1000;

/// Refusals of one known endpoint and reason written (and logged) at once per
/// minute and isolate, at least.
pub const LOGGED_PER_MINUTE: u32 = 20;
/// Refusals of unknown endpoint ids written at once per minute and isolate.
pub const UNKNOWN_PER_MINUTE: u32 = 10;
/// The least time between two delayed flushes of one isolate.
pub const FLUSH_INTERVAL_MS: i64 = 5_000;
/// Tries of one delayed flush before its counts wait for the next one.
pub const FLUSH_ATTEMPTS: u32 = 3;
/// A flush scheduled this long ago that never ran was cut off with its request;
/// the next refusal schedules another.
const FLUSH_STALE_MS: i64 = 60_000;
/// (endpoint, reason) pairs the tally keeps an allowance for.
pub const MAX_KEYS: usize = 4_096;

const MINUTE_MS: i64 = 60_000;

pub struct Refusal<'a> {
    pub endpoint_id: Option<&'a str>,
    pub reason: &'a str,
    pub source_ip: Option<&'a str>,
    /// Already redacted.
    pub headers_json: &'a str,
    pub body_size: usize,
    pub at_ms: i64,
}

/// What to do about one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Within the minute's allowance: write it (and its log row) now.
    Write,
    /// Counted in memory; a flush is already scheduled.
    Counted,
    /// Counted in memory; run [`flush`] after this many milliseconds.
    FlushIn(i64),
}

/// Refusals counted in memory and not yet written, for one (endpoint, reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// `""`: requests to no known endpoint.
    pub endpoint_id: String,
    pub reason: &'static str,
    pub count: i64,
    pub last_at: i64,
}

type Key = (String, &'static str);

/// One isolate's refusal bookkeeping (pure: no clock, no storage).
#[derive(Debug, Default)]
pub struct Tally {
    /// Per key: the minute and how many refusals were written at once in it.
    allowance: HashMap<Key, (i64, u32)>,
    /// Per key: counted, not yet written.
    pending: HashMap<Key, (i64, i64)>,
    /// When the scheduled delayed flush runs; `None`: none is scheduled.
    flush_due: Option<i64>,
    /// When the last delayed flush took the pending counts.
    last_flush: Option<i64>,
}

impl Tally {
    /// Decides about one refusal at `now`; `allowance` is the key's per-minute
    /// number of refusals written at once.
    pub fn admit(
        &mut self,
        endpoint_id: Option<&str>,
        reason: &'static str,
        now: i64,
        allowance: u32,
    ) -> Admit {
        let key = (endpoint_id.unwrap_or("").to_string(), reason);
        let minute = now.div_euclid(MINUTE_MS);
        if !self.allowance.contains_key(&key) && self.allowance.len() >= MAX_KEYS {
            self.allowance.retain(|_, (m, _)| *m == minute);
        }
        if self.allowance.contains_key(&key) || self.allowance.len() < MAX_KEYS {
            let used = self.allowance.entry(key.clone()).or_insert((minute, 0));
            if used.0 != minute {
                *used = (minute, 0);
            }
            if used.1 < allowance {
                used.1 += 1;
                return Admit::Write;
            }
        }
        self.count_later(key, now)
    }

    /// Counts a refusal that was to be written at once but could not be.
    pub fn defer(&mut self, endpoint_id: Option<&str>, reason: &'static str, now: i64) -> Admit {
        self.count_later((endpoint_id.unwrap_or("").to_string(), reason), now)
    }

    fn count_later(&mut self, key: Key, now: i64) -> Admit {
        let entry = self.pending.entry(key).or_insert((0, now));
        entry.0 += 1;
        entry.1 = entry.1.max(now);
        self.schedule(now)
    }

    fn schedule(&mut self, now: i64) -> Admit {
        if self
            .flush_due
            .is_some_and(|due| now <= due + FLUSH_STALE_MS)
        {
            return Admit::Counted;
        }
        let due = self
            .last_flush
            .map_or(now, |last| (last + FLUSH_INTERVAL_MS).max(now));
        self.flush_due = Some(due);
        Admit::FlushIn(due - now)
    }

    /// Takes every pending count for a flush at `now`.
    pub fn take(&mut self, now: i64) -> Vec<Pending> {
        self.flush_due = None;
        self.last_flush = Some(now);
        let mut taken: Vec<Pending> = self
            .pending
            .drain()
            .map(|((endpoint_id, reason), (count, last_at))| Pending {
                endpoint_id,
                reason,
                count,
                last_at,
            })
            .collect();
        taken.sort_by(|a, b| (&a.endpoint_id, a.reason).cmp(&(&b.endpoint_id, b.reason)));
        taken
    }

    /// Puts back the counts of a flush that failed.
    pub fn restore(&mut self, counts: Vec<Pending>) {
        for p in counts {
            let entry = self
                .pending
                .entry((p.endpoint_id, p.reason))
                .or_insert((0, p.last_at));
            entry.0 += p.count;
            entry.1 = entry.1.max(p.last_at);
        }
    }

    /// After a failed flush: when to try again, unless another flush is already
    /// scheduled or nothing is pending.
    pub fn retry(&mut self, now: i64) -> Option<i64> {
        if self.pending.is_empty() || self.flush_due.is_some() {
            return None;
        }
        let due = now + FLUSH_INTERVAL_MS;
        self.flush_due = Some(due);
        Some(due - now)
    }
}

thread_local! {
    static TALLY: RefCell<Tally> = RefCell::new(Tally::default());
}

/// The per-minute allowance of written refusals: unknown ids get
/// [`UNKNOWN_PER_MINUTE`]; a known endpoint [`LOGGED_PER_MINUTE`], or the
/// refusal-spike alert's threshold when higher, so the alert (which counts log
/// rows) still fires under a flood.
pub fn allowance(endpoint_id: Option<&str>, alert_threshold: u32) -> u32 {
    match endpoint_id {
        None => UNKNOWN_PER_MINUTE,
        Some(_) => LOGGED_PER_MINUTE.max(alert_threshold),
    }
}

/// Decides about one refusal in this isolate (see the module docs).
pub fn admit(
    endpoint_id: Option<&str>,
    reason: &'static str,
    now_ms: i64,
    alert_threshold: u32,
) -> Admit {
    let allowance = allowance(endpoint_id, alert_threshold);
    TALLY.with(|t| t.borrow_mut().admit(endpoint_id, reason, now_ms, allowance))
}

/// Counts in memory a refusal whose own write failed; see [`Tally::defer`].
pub fn defer(endpoint_id: Option<&str>, reason: &'static str, now_ms: i64) -> Admit {
    TALLY.with(|t| t.borrow_mut().defer(endpoint_id, reason, now_ms))
}

/// What a flush wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Count rows upserted.
    pub rows: usize,
    /// Refusals they added.
    pub refusals: i64,
}

/// Adds this isolate's pending counts with one batch, one upsert per (endpoint,
/// reason). On failure the counts go back to the tally for the next flush.
pub async fn flush(db: &Db, now_ms: i64) -> Result<Flushed> {
    let taken = TALLY.with(|t| t.borrow_mut().take(now_ms));
    if taken.is_empty() {
        return Ok(Flushed::default());
    }
    let flushed = Flushed {
        rows: taken.len(),
        refusals: taken.iter().map(|p| p.count).sum(),
    };
    match add_counts(db, &taken).await {
        Ok(()) => Ok(flushed),
        Err(err) => {
            TALLY.with(|t| t.borrow_mut().restore(taken));
            Err(err)
        }
    }
}

/// After a failed [`flush`]: in how many milliseconds to try again (the flush
/// is then scheduled), or `None` when another flush is scheduled already or
/// nothing is pending.
pub fn retry_flush(now_ms: i64) -> Option<i64> {
    TALLY.with(|t| t.borrow_mut().retry(now_ms))
}

const COUNT_UPSERT: &str = "INSERT INTO rejection_counts (endpoint_id, reason, count, last_at) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (endpoint_id, reason) DO UPDATE \
     SET count = count + excluded.count, last_at = max(last_at, excluded.last_at)";

async fn add_counts(db: &Db, counts: &[Pending]) -> Result<()> {
    let statements = counts
        .iter()
        .map(|p| {
            bind(
                db.prepare(COUNT_UPSERT),
                &[
                    text(&p.endpoint_id),
                    text(p.reason),
                    int(p.count),
                    int(p.last_at),
                ],
            )
        })
        .collect::<Result<Vec<_>>>()?;
    db.batch(statements).await?;
    Ok(())
}

/// Logs and counts one refusal in a single batch (a refusal to no known
/// endpoint is only counted).
pub async fn record(db: &Db, r: &Refusal<'_>) -> Result<()> {
    let endpoint = r.endpoint_id.unwrap_or("");
    let mut statements = vec![bind(
        db.prepare(COUNT_UPSERT),
        &[text(endpoint), text(r.reason), int(1), int(r.at_ms)],
    )?];
    if let Some(id) = r.endpoint_id {
        statements.push(bind(
            db.prepare(
                "INSERT INTO rejections (endpoint_id, at, reason, source_ip, headers, body_size) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            ),
            &[
                text(id),
                int(r.at_ms),
                text(r.reason),
                opt_text(r.source_ip),
                text(r.headers_json),
                int(r.body_size as i64),
            ],
        )?);
        statements.push(bind(
            db.prepare(
                "DELETE FROM rejections WHERE endpoint_id = ?1 AND id <= \
                   (SELECT id FROM rejections WHERE endpoint_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            ),
            &[text(id), int(KEEP_PER_ENDPOINT)],
        )?);
    }
    db.batch(statements).await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejectionRow {
    pub at: f64,
    pub reason: String,
    pub source_ip: Option<String>,
    pub headers: String,
    pub body_size: f64,
}

/// The endpoint's refusals of the last 24 hours, newest first.
pub async fn list(db: &Db, endpoint_id: &str, now_ms: i64) -> Result<Vec<RejectionRow>> {
    bind(
        db.prepare(
            "SELECT at, reason, source_ip, headers, body_size FROM rejections \
             WHERE endpoint_id = ?1 AND at > ?2 ORDER BY id DESC LIMIT ?3",
        ),
        &[
            text(endpoint_id),
            int(now_ms - KEEP_FOR_MS),
            int(KEEP_PER_ENDPOINT),
        ],
    )?
    .all()
    .await?
    .results()
}

#[derive(Deserialize)]
struct CountRow {
    reason: String,
    count: f64,
}

/// Refusals per reason, for one endpoint or (with `None`) everything, including
/// requests to unknown endpoints.
pub async fn counts(db: &Db, endpoint_id: Option<&str>) -> Result<BTreeMap<String, i64>> {
    let rows: Vec<CountRow> = bind(
        db.prepare(
            "SELECT reason, SUM(count) AS count FROM rejection_counts \
             WHERE (?1 IS NULL OR endpoint_id = ?1) GROUP BY reason ORDER BY reason",
        ),
        &[opt_text(endpoint_id)],
    )?
    .all()
    .await?
    .results()?;
    Ok(rows
        .into_iter()
        .map(|r| (r.reason, r.count as i64))
        .collect())
}

/// Removes log rows older than 24 hours, at most `limit` per call.
pub async fn purge_expired(db: &Db, now_ms: i64, limit: u32) -> Result<()> {
    bind(
        db.prepare("DELETE FROM rejections WHERE id IN (SELECT id FROM rejections WHERE at <= ?1 LIMIT ?2)"),
        &[int(now_ms - KEEP_FOR_MS), int(i64::from(limit))],
    )?
    .run()
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000; // a minute boundary
    const EP: Option<&str> = Some("ep_1");

    /// Writes and flushes a tally would do for `n` refusals of one key, one per
    /// `gap_ms`, with every flush run when it falls due.
    fn simulate(
        tally: &mut Tally,
        id: Option<&str>,
        n: u32,
        gap_ms: i64,
        allowance: u32,
    ) -> (u32, Vec<Vec<Pending>>) {
        let (mut written, mut flushes) = (0, Vec::new());
        let mut due: Option<i64> = None;
        for i in 0..n {
            let now = T0 + i64::from(i) * gap_ms;
            if let Some(at) = due.filter(|at| *at <= now) {
                flushes.push(tally.take(at));
                due = None;
            }
            match tally.admit(id, "unknown_endpoint", now, allowance) {
                Admit::Write => written += 1,
                Admit::Counted => {}
                Admit::FlushIn(ms) => {
                    assert!(due.is_none(), "one flush at a time");
                    due = Some(now + ms);
                }
            }
        }
        if let Some(at) = due {
            flushes.push(tally.take(at));
        }
        (written, flushes)
    }

    fn total(flushes: &[Vec<Pending>]) -> i64 {
        flushes.iter().flatten().map(|p| p.count).sum()
    }

    #[test]
    fn the_first_refusals_of_a_minute_are_written_at_once() {
        let mut tally = Tally::default();
        for _ in 0..3 {
            assert_eq!(
                tally.admit(EP, "signature_mismatch", T0 + 10, 3),
                Admit::Write
            );
        }
        assert_eq!(
            tally.admit(EP, "signature_mismatch", T0 + 20, 3),
            Admit::FlushIn(0)
        );
        assert_eq!(
            tally.admit(EP, "signature_mismatch", T0 + 30, 3),
            Admit::Counted
        );
        // Another reason, another endpoint, another minute: their own allowance.
        assert_eq!(
            tally.admit(EP, "timestamp_out_of_tolerance", T0 + 40, 3),
            Admit::Write
        );
        assert_eq!(
            tally.admit(Some("ep_2"), "signature_mismatch", T0 + 40, 3),
            Admit::Write
        );
        assert_eq!(
            tally.admit(EP, "signature_mismatch", T0 + MINUTE_MS, 3),
            Admit::Write
        );
        assert_eq!(
            tally.take(T0 + 50),
            vec![Pending {
                endpoint_id: "ep_1".into(),
                reason: "signature_mismatch",
                count: 2,
                last_at: T0 + 30,
            }]
        );
    }

    #[test]
    fn a_flood_of_unknown_ids_writes_a_bounded_number_of_rows_and_counts_every_one() {
        let mut tally = Tally::default();
        // 100,000 requests in a minute, then 10 minutes at 1,000 a second.
        let (written, flushes) = simulate(&mut tally, None, 100_000, 0, UNKNOWN_PER_MINUTE);
        assert_eq!(written, UNKNOWN_PER_MINUTE);
        assert_eq!(i64::from(written) + total(&flushes), 100_000);
        assert_eq!(flushes.len(), 2, "one at once, then one after the interval");

        let mut tally = Tally::default();
        let n = 600_000;
        let (written, flushes) = simulate(&mut tally, None, n, 1, UNKNOWN_PER_MINUTE);
        assert_eq!(
            i64::from(written) + total(&flushes),
            i64::from(n),
            "nothing lost"
        );
        let minutes = 10;
        assert!(written <= UNKNOWN_PER_MINUTE * minutes, "{written}");
        let max_flushes = (minutes as i64 * MINUTE_MS / FLUSH_INTERVAL_MS + 1) as usize;
        assert!(flushes.len() <= max_flushes, "{} flushes", flushes.len());
        assert!(flushes.iter().all(|f| f.len() == 1), "one row per flush");
        let per_minute = i64::from(UNKNOWN_PER_MINUTE) + MINUTE_MS / FLUSH_INTERVAL_MS;
        assert_eq!(per_minute, 22, "the bound the module docs state");
    }

    #[test]
    fn flushes_are_spaced_by_the_interval() {
        let mut tally = Tally::default();
        let (_, flushes) = simulate(&mut tally, EP, 2_000, 10, 1);
        assert!(flushes.len() >= 3);
        let mut tally = Tally::default();
        assert_eq!(tally.admit(EP, "r", T0, 0), Admit::FlushIn(0));
        tally.take(T0);
        assert_eq!(tally.admit(EP, "r", T0 + 1_000, 0), Admit::FlushIn(4_000));
        assert_eq!(tally.admit(EP, "r", T0 + 2_000, 0), Admit::Counted);
        tally.take(T0 + 5_000);
        assert_eq!(tally.admit(EP, "r", T0 + 60_000, 0), Admit::FlushIn(0));
    }

    #[test]
    fn a_failed_flush_puts_its_counts_back_and_tries_again() {
        let mut tally = Tally::default();
        assert_eq!(
            tally.admit(None, "unknown_endpoint", T0, 0),
            Admit::FlushIn(0)
        );
        tally.admit(None, "unknown_endpoint", T0 + 1, 0);
        let taken = tally.take(T0 + 2);
        assert_eq!(taken[0].count, 2);
        // A refusal arrives while the flush is failing: it schedules a flush of its own.
        assert_eq!(
            tally.admit(None, "unknown_endpoint", T0 + 3, 0),
            Admit::FlushIn(FLUSH_INTERVAL_MS - 1)
        );
        tally.restore(taken);
        assert_eq!(tally.retry(T0 + 4), None, "the other flush takes them");
        let taken = tally.take(T0 + FLUSH_INTERVAL_MS + 2);
        assert_eq!(taken[0].count, 3);
        assert_eq!(taken[0].last_at, T0 + 3);
        // Alone, the failed flush tries again after the interval.
        tally.restore(taken);
        assert_eq!(tally.retry(T0 + 10_000), Some(FLUSH_INTERVAL_MS));
        assert_eq!(tally.take(T0 + 15_000)[0].count, 3);
        assert_eq!(tally.retry(T0 + 15_001), None, "nothing pending");
    }

    #[test]
    fn a_failed_write_is_counted_for_the_next_flush() {
        let mut tally = Tally::default();
        assert_eq!(tally.admit(EP, "r", T0, 5), Admit::Write);
        assert_eq!(tally.defer(EP, "r", T0 + 5), Admit::FlushIn(0));
        assert_eq!(tally.take(T0 + 6)[0].count, 1);
    }

    #[test]
    fn a_flush_cut_off_with_its_request_is_replaced() {
        let mut tally = Tally::default();
        assert_eq!(tally.admit(EP, "r", T0, 0), Admit::FlushIn(0));
        assert_eq!(tally.admit(EP, "r", T0 + FLUSH_STALE_MS, 0), Admit::Counted);
        assert_eq!(
            tally.admit(EP, "r", T0 + FLUSH_STALE_MS + 1, 0),
            Admit::FlushIn(0)
        );
        assert_eq!(tally.take(T0 + FLUSH_STALE_MS + 2)[0].count, 3);
    }

    #[test]
    fn the_tally_keeps_a_bounded_number_of_keys() {
        let mut tally = Tally::default();
        let ids: Vec<String> = (0..MAX_KEYS + 10).map(|i| format!("ep_{i}")).collect();
        for id in &ids {
            tally.admit(Some(id), "r", T0, 1);
        }
        assert_eq!(tally.allowance.len(), MAX_KEYS);
        // Beyond the bound a key is counted, not dropped.
        let pending: i64 = tally.take(T0).iter().map(|p| p.count).sum();
        assert_eq!(pending, 10);
        // A new minute frees the old keys.
        assert_eq!(
            tally.admit(Some("ep_new"), "r", T0 + MINUTE_MS, 1),
            Admit::Write
        );
        assert_eq!(tally.allowance.len(), 1);
    }

    #[test]
    fn known_endpoints_log_at_least_the_spike_threshold() {
        assert_eq!(allowance(None, 500), UNKNOWN_PER_MINUTE);
        assert_eq!(allowance(EP, 5), LOGGED_PER_MINUTE);
        assert_eq!(allowance(EP, 50), 50);
    }
}
