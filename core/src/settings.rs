//! Runtime settings read from Worker vars, with the defaults an operator expects.
//!
//! Parsing is pure (a lookup function in, a struct out) so the defaults and the
//! handling of bad values are unit-tested; `lib.rs` passes the real `Env` lookup.

/// Points where a test configuration may inject a failure (see docs/testing.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The R2 body write fails.
    R2Put,
    /// The D1 ingest batch fails (a failing statement inside the transaction).
    D1Insert,
    /// `queue.send` fails.
    QueueSend,
    /// The delivery consumer fails every message before claiming it (a consumer
    /// crash), so the queue retries and finally dead-letters the message.
    Consume,
    /// `d1_deliver_outage=<from ms>-<until ms>` (unix ms): in that window
    /// every delivery's D1 work fails (an outage of a few seconds), before the
    /// claim and again when the attempt is recorded.
    D1DeliverOutage { from: i64, until: i64 },
    /// `retention_gap_ms=<ms>`: retention waits this long between choosing
    /// expired events and deleting them, widening the window in which a
    /// replay can revive one (the delete must notice).
    RetentionGapMs(u64),
    /// Compaction's R2 archive write fails: the events must stay in D1.
    ArchivePut,
    /// `outcome_write_fails=<event type>`: the D1 batch that records an
    /// attempt of an event of this type fails (a failing statement inside
    /// it), so the outcomes written in the same batch must be written again
    /// without it.
    OutcomeWriteFails(String),
}

impl Fault {
    pub fn parse(s: &str) -> Option<Fault> {
        match s.trim() {
            "r2_put" => Some(Fault::R2Put),
            "d1_insert" => Some(Fault::D1Insert),
            "queue_send" => Some(Fault::QueueSend),
            "consume" => Some(Fault::Consume),
            "archive_put" => Some(Fault::ArchivePut),
            word => {
                if let Some(event_type) = word.strip_prefix("outcome_write_fails=") {
                    Some(Fault::OutcomeWriteFails(event_type.to_string()))
                } else if let Some(window) = word.strip_prefix("d1_deliver_outage=") {
                    let (from, until) = window.split_once('-')?;
                    Some(Fault::D1DeliverOutage {
                        from: from.parse().ok()?,
                        until: until.parse().ok()?,
                    })
                } else {
                    let gap = word.strip_prefix("retention_gap_ms=")?;
                    gap.parse().ok().map(Fault::RetentionGapMs)
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub max_body_bytes: usize,
    pub dedup_window_s: u64,
    pub allow_private_destinations: bool,
    /// A `received` or due `retrying` event is the sweeper's after this long
    /// unclaimed: the queue gets the first chance.
    pub sweep_grace_s: u64,
    /// The cron interval; the heartbeat is stale after two of them.
    pub sweep_interval_s: u64,
    /// Events the sweeper delivers itself per run (works with no queue at all).
    pub sweep_deliver_limit: u32,
    /// Further due events the sweeper re-enqueues per run.
    pub sweep_enqueue_limit: u32,
    /// Wall time one sweep may spend walking backlogs (expired leases, due
    /// events, retention) before it stops and leaves the rest to the next run;
    /// 0: one page of each per run.
    pub sweep_budget_ms: u64,
    /// The D1 database's size cap (Workers Paid: 10 GB); an alert fires at 80 %.
    pub d1_max_bytes: u64,
    /// D1 queries one invocation may make (Workers Paid: 1,000; Free: 50).
    /// The sweeper sizes its direct deliveries to it.
    pub d1_queries_per_invocation: u32,
    /// A claim lasts the endpoint's timeout plus this margin.
    pub lease_margin_s: u64,
    pub endpoint_cache_ttl_s: u64,
    /// Finished events, their attempts and bodies older than this are deleted
    /// (an endpoint may override it). Fractional days are allowed.
    pub retention_days: f64,
    /// Events expired per sweep.
    pub retention_batch: u32,
    /// Delivered events stay in D1 this long after they were received; then
    /// compaction moves them, with their attempts, into R2 archive objects.
    pub hot_window_ms: i64,
    /// Events compacted per batch (one batch writes at most one archive object
    /// per route and hour, and one D1 batch).
    pub compact_batch: u32,
    /// Archive objects one page of the events list reads at most (a page cut
    /// short says where the next one goes on).
    pub archive_page_objects: u32,
    /// Consecutive failures of an endpoint that raise an alert.
    pub alert_failure_streak: u32,
    /// Refusals of one endpoint within a sweep interval that raise an alert.
    pub alert_refusal_spike: u32,
    /// How long a refusal-spike or stale-sweeper alert stays quiet after firing.
    pub alert_cooldown_s: u64,
    /// A pull lease's length when the client does not ask for one.
    pub pull_lease_s: u32,
    pub public_url: Option<String>,
    /// Whether every ack and every delivered attempt is logged (one JSON
    /// line each). Off by default: what needs attention (refusals, failed
    /// attempts and sends, sweeps, alerts) is always logged, the events API,
    /// metrics and the live stream show every webhook, and a line per
    /// webhook costs CPU on the ack path and, in Workers Logs, a billed event.
    pub log_each_webhook: bool,
    /// Faults active for every request (test configurations only).
    pub faults: Vec<Fault>,
    /// Whether the `x-hookrelay-fault` request header may add faults (tests only).
    pub faults_per_request: bool,
}

impl Settings {
    /// Whether delivery's D1 calls are failing at `now_ms` (a configured
    /// `d1_deliver_outage` window).
    pub fn d1_down_for_delivery(&self, now_ms: i64) -> bool {
        self.faults.iter().any(|f| {
            matches!(f, Fault::D1DeliverOutage { from, until } if (*from..*until).contains(&now_ms))
        })
    }

    /// Whether recording an attempt of an event of `event_type` is to fail
    /// (a configured `outcome_write_fails`).
    pub fn outcome_write_fails(&self, event_type: Option<&str>) -> bool {
        self.faults
            .iter()
            .any(|f| matches!(f, Fault::OutcomeWriteFails(t) if Some(t.as_str()) == event_type))
    }

    /// How many due events the sweeper delivers itself in one run: at most
    /// `SWEEP_DELIVER_LIMIT`, and no more than the invocation's D1 query
    /// budget leaves room for after the sweep's own queries, at the most a
    /// direct delivery makes (claim, route, rate slot, ingest, completion,
    /// FIFO or drain read).
    pub fn sweep_direct_deliveries(&self) -> u32 {
        const SWEEP_OWN_QUERIES: u32 = 40;
        const QUERIES_PER_DELIVERY: u32 = 7;
        let room = self
            .d1_queries_per_invocation
            .saturating_sub(SWEEP_OWN_QUERIES)
            / QUERIES_PER_DELIVERY;
        self.sweep_deliver_limit.min(room)
    }

    /// How long after its last change a delivered event stays in D1 before
    /// compaction moves it to the archive: the hot window, and no less than
    /// the dedup window, as an ingest's dedup key leaves D1 with the ingest
    /// (migrations/0024) and must outlive its window.
    pub fn compaction_age_ms(&self) -> i64 {
        let dedup_ms = i64::try_from(self.dedup_window_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        self.hot_window_ms.max(dedup_ms)
    }

    /// The configured pause inside a retention batch, if any.
    pub fn retention_gap_ms(&self) -> Option<u64> {
        self.faults.iter().find_map(|f| match f {
            Fault::RetentionGapMs(ms) => Some(*ms),
            _ => None,
        })
    }

    /// The faults for one request: the configured ones, plus those named in the
    /// `x-hookrelay-fault` header when per-request faults are enabled.
    pub fn faults_for(&self, fault_header: Option<&str>) -> Vec<Fault> {
        let mut faults = self.faults.clone();
        if self.faults_per_request {
            faults.extend(
                fault_header
                    .unwrap_or("")
                    .split(',')
                    .filter_map(Fault::parse),
            );
        }
        faults
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Settings {
        let num = |name: &str, default: u64| {
            lookup(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        let fault_words = lookup("FAULTS").unwrap_or_default();
        Settings {
            max_body_bytes: num("MAX_BODY_BYTES", 10 * 1024 * 1024) as usize,
            dedup_window_s: num("DEDUP_WINDOW_S", 24 * 3600),
            allow_private_destinations: lookup("ALLOW_PRIVATE_DESTINATIONS").as_deref()
                == Some("true"),
            sweep_grace_s: num("SWEEP_GRACE_S", 30),
            sweep_interval_s: num("SWEEP_INTERVAL_S", 60),
            sweep_deliver_limit: num("SWEEP_DELIVER_LIMIT", 25) as u32,
            sweep_enqueue_limit: num("SWEEP_ENQUEUE_LIMIT", 500) as u32,
            d1_queries_per_invocation: num("D1_QUERIES_PER_INVOCATION", 1000) as u32,
            sweep_budget_ms: num("SWEEP_BUDGET_S", 25) * 1000,
            d1_max_bytes: num("D1_MAX_BYTES", 10_000_000_000),
            lease_margin_s: num("LEASE_MARGIN_S", 30),
            endpoint_cache_ttl_s: num("ENDPOINT_CACHE_TTL_S", 5),
            retention_days: lookup("RETENTION_DAYS")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|d| d.is_finite() && *d > 0.0)
                .unwrap_or(30.0),
            retention_batch: num("RETENTION_BATCH", 200) as u32,
            hot_window_ms: num("HOT_WINDOW_S", 72 * 3600) as i64 * 1000,
            compact_batch: num("COMPACT_BATCH", 500).clamp(1, 5_000) as u32,
            archive_page_objects: num("ARCHIVE_PAGE_OBJECTS", 24).clamp(1, 200) as u32,
            alert_failure_streak: num("ALERT_FAILURE_STREAK", 5).max(1) as u32,
            alert_refusal_spike: num("ALERT_REFUSAL_SPIKE", 50).max(1) as u32,
            alert_cooldown_s: num("ALERT_COOLDOWN_S", 3600),
            pull_lease_s: num("PULL_LEASE_S", 60).clamp(2, 900) as u32,
            public_url: lookup("PUBLIC_URL")
                .map(|u| u.trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty()),
            log_each_webhook: lookup("LOG_EACH_WEBHOOK").as_deref() == Some("true"),
            faults: fault_words.split(',').filter_map(Fault::parse).collect(),
            faults_per_request: fault_words.split(',').any(|w| w.trim() == "per_request"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_production_safe() {
        let s = settings(&[]);
        assert_eq!(s.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(s.dedup_window_s, 86_400);
        assert!(!s.allow_private_destinations);
        assert_eq!(s.sweep_grace_s, 30);
        assert!(s.faults.is_empty());
        assert!(!s.faults_per_request);
        assert_eq!(s.public_url, None);
        assert_eq!(s.retention_days, 30.0);
        assert_eq!(s.hot_window_ms, 72 * 3_600_000);
        assert_eq!(s.compaction_age_ms(), 72 * 3_600_000);
        assert_eq!(s.compact_batch, 500);
        assert_eq!(s.archive_page_objects, 24);
        assert!(!s.log_each_webhook);
    }

    #[test]
    fn values_are_read_and_bad_ones_fall_back() {
        let s = settings(&[
            ("MAX_BODY_BYTES", "1024"),
            ("SWEEP_GRACE_S", "soon"),
            ("ALLOW_PRIVATE_DESTINATIONS", "true"),
            ("FAULTS", "queue_send, per_request,bogus"),
            ("PUBLIC_URL", "https://relay.example/"),
            ("RETENTION_DAYS", "0.5"),
            ("LOG_EACH_WEBHOOK", "true"),
        ]);
        assert_eq!(s.retention_days, 0.5);
        assert!(s.log_each_webhook);
        assert_eq!(s.max_body_bytes, 1024);
        assert_eq!(s.sweep_grace_s, 30);
        assert!(s.allow_private_destinations);
        assert_eq!(s.faults, [Fault::QueueSend]);
        assert!(s.faults_per_request);
        assert_eq!(s.public_url.as_deref(), Some("https://relay.example"));
        assert_eq!(
            s.faults_for(Some("r2_put")),
            [Fault::QueueSend, Fault::R2Put]
        );
    }

    #[test]
    fn the_sweep_fits_the_plans_d1_query_budget() {
        assert_eq!(settings(&[]).sweep_direct_deliveries(), 25, "Workers Paid");
        let free = settings(&[("D1_QUERIES_PER_INVOCATION", "50")]);
        assert_eq!(free.sweep_direct_deliveries(), 1);
        assert!(40 + 7 * free.sweep_direct_deliveries() <= 50);
        let tiny = settings(&[("D1_QUERIES_PER_INVOCATION", "10")]);
        assert_eq!(
            tiny.sweep_direct_deliveries(),
            0,
            "then it only re-enqueues"
        );
    }

    #[test]
    fn timed_faults_carry_their_number() {
        let s = settings(&[(
            "FAULTS",
            "d1_deliver_outage=1000-5000,retention_gap_ms=1500,d1_deliver_outage=soon",
        )]);
        assert_eq!(
            s.faults,
            [
                Fault::D1DeliverOutage {
                    from: 1000,
                    until: 5000
                },
                Fault::RetentionGapMs(1500)
            ]
        );
        assert!(!s.d1_down_for_delivery(999));
        assert!(s.d1_down_for_delivery(1000));
        assert!(s.d1_down_for_delivery(4999));
        assert!(!s.d1_down_for_delivery(5000));
        assert_eq!(s.retention_gap_ms(), Some(1500));
        assert_eq!(settings(&[]).retention_gap_ms(), None);
    }

    #[test]
    fn an_outcome_write_fault_names_its_event_type() {
        let s = settings(&[("FAULTS", "outcome_write_fails=poison.pill")]);
        assert_eq!(s.faults, [Fault::OutcomeWriteFails("poison.pill".into())]);
        assert!(s.outcome_write_fails(Some("poison.pill")));
        assert!(!s.outcome_write_fails(Some("push")));
        assert!(!s.outcome_write_fails(None));
    }

    #[test]
    fn fault_header_is_ignored_unless_enabled() {
        let s = settings(&[("FAULTS", "")]);
        assert!(s.faults_for(Some("r2_put,d1_insert")).is_empty());
    }

    #[test]
    fn compaction_waits_for_the_dedup_window() {
        let short_hot = settings(&[("HOT_WINDOW_S", "3600")]);
        assert_eq!(short_hot.compaction_age_ms(), 86_400_000);
        let both_short = settings(&[("HOT_WINDOW_S", "2"), ("DEDUP_WINDOW_S", "1")]);
        assert_eq!(both_short.compaction_age_ms(), 2_000);
    }
}
