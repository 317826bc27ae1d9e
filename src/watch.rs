//! Watching the relay: the sweeper's alert step, and the stale-sweeper check the
//! API and the consumer run (a dead sweeper cannot report itself).
//!
//! What was already reported lives in `meta` under `alert:` keys, so each
//! condition alerts once when it starts (and a circuit again when it closes):
//! - dead letters since the previous sweep, one alert for all endpoints, counted
//!   per route so the failing destination is named;
//! - a failure streak reaching `ALERT_FAILURE_STREAK` and ending (back at
//!   zero, which re-arms it), and a circuit opening or closing, per route:
//!   every route has its own breaker, and an extra route's alert names its
//!   endpoint too; a route deleted with its streak or open circuit reported
//!   has them resolved (`endpoint.route_gone`) and its marks removed;
//! - refusals per endpoint within one sweep interval reaching
//!   `ALERT_REFUSAL_SPIKE` (then quiet for `ALERT_COOLDOWN_S`);
//! - the sweeper's heartbeat older than two intervals (then quiet for the
//!   cooldown, or until the next sweep clears it), checked at most once a
//!   minute per isolate by whatever runs: the health API, the delivery
//!   consumer and the ack path, so a dead cron is noticed as long as
//!   webhooks arrive;
//! - the ack path answering `503` (storage failed), at most once per cooldown,
//!   cleared by the first sweep after the endpoint that failed has stored an
//!   ingest again;
//! - capacity: the D1 database past 80 % of `D1_MAX_BYTES`, and a sweep that
//!   ran out of its budget with due events or expired rows left, each at most
//!   once per cooldown and cleared (`relay.cleared`) by the first sweep that
//!   no longer sees it, as a reported stale sweeper is by the next sweep; a
//!   cleared condition alerts again as soon as it holds again;
//! - the operators' own alert rules ([`rules`]), whose state lives in their
//!   rows: each fires once and resolves once.

use crate::alert_rules::{transition, Transition};
use crate::alerts::{Alert, RelayCondition, RouteCondition, Target};
use crate::model::EndpointId;
use crate::notify;
use crate::relay::{now_ms, Relay};
use crate::store::alert_rules::{self, Rule};
use crate::store::{alerts, endpoint_cache, ingests, meta};
use crate::sweep::SweepReport;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use worker::{console_error, Result};

const PREFIX: &str = "alert:";
/// The marks of a route's reported failure streak (`alert:streak:<route>`)
/// and circuit state (`alert:circuit:<route>`).
const STREAK_MARK: &str = "streak";
const CIRCUIT_MARK: &str = "circuit";
const DEAD_WATERMARK: &str = "alert:dead_watermark";
const STALE: &str = "alert:stale";
const INGEST_FAILING: &str = "alert:ingest_failing";

thread_local! {
    static LAST_SWEEPER_CHECK: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
    static LAST_INGEST_FAILURE_ALERT: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// Whether this isolate should look at the sweeper's heartbeat now: at most
/// once a minute (this takes the minute's turn).
pub fn take_sweeper_check_turn(now: i64) -> bool {
    take_turn(&LAST_SWEEPER_CHECK, now)
}

/// Whether this isolate may try an ingest-failure alert now: at most once a
/// minute, so a failing database is not asked on every request.
pub fn take_ingest_failure_turn(now: i64) -> bool {
    take_turn(&LAST_INGEST_FAILURE_ALERT, now)
}

fn take_turn(last: &'static std::thread::LocalKey<std::cell::Cell<i64>>, now: i64) -> bool {
    if now - last.with(|c| c.get()) < 60_000 {
        return false;
    }
    last.with(|c| c.set(now));
    true
}

/// [`check_sweeper`] when this isolate's turn has come (see
/// [`take_sweeper_check_turn`]).
pub async fn check_sweeper_now_and_then(relay: &Relay) {
    if take_sweeper_check_turn(now_ms()) {
        check_sweeper(relay).await;
    }
}

/// Reads the sweeper's heartbeat (one D1 read) and alerts when it is stale.
/// Errors are logged, never raised: the callers (the consumer after its acks,
/// the ack path after its answer) must not fail for it.
pub async fn check_sweeper(relay: &Relay) {
    let now = now_ms();
    let result = match meta::get(&relay.control, meta::SWEEPER_HEARTBEAT).await {
        Ok(heartbeat) => {
            let last_run = heartbeat.map(|h| h.updated_at as i64);
            if is_stale(relay, last_run, now) {
                report_stale_sweeper(relay, last_run).await
            } else {
                Ok(())
            }
        }
        Err(e) => Err(e),
    };
    if let Err(err) = result {
        console_error!(
            "{}",
            json!({"msg": "sweeper check failed", "error": err.to_string()})
        );
    }
}

/// The share of its cap at which the database raises `relay.database_filling`.
const FILLING_RATIO: f64 = 0.8;

/// The sweeper's capacity step: the database's size against its cap, and
/// whether this run fell behind; a condition alerted before that holds no
/// more is cleared. Returns how many alerts were sent.
pub async fn capacity(relay: &Relay, report: &SweepReport, now: i64) -> Result<usize> {
    let max_bytes = relay.settings.d1_max_bytes;
    let filling = report
        .sum
        .d1_size_bytes
        .filter(|&size| size as f64 >= FILLING_RATIO * max_bytes as f64);
    let mut conditions = vec![(
        FILLING,
        RelayCondition::DatabaseFilling,
        filling.map(|size_bytes| Alert::DatabaseFilling {
            size_bytes,
            max_bytes,
        }),
    )];
    for (behind, what, key) in [
        (report.sum.backlog_left, "recovery", BEHIND_RECOVERY),
        (report.compaction_behind(), "compaction", BEHIND_COMPACTION),
        (report.retention_behind(), "retention", BEHIND_RETENTION),
    ] {
        let alert = behind.then(|| Alert::FallingBehind { what: what.into() });
        conditions.push((key, RelayCondition::FallingBehind(what.into()), alert));
    }
    let keys: Vec<&str> = conditions.iter().map(|(key, ..)| *key).collect();
    let marks = meta::present(&relay.control, &keys).await?;
    let mut sent = 0;
    for (key, condition, alert) in conditions {
        let was_sent = match alert {
            Some(alert) => raise_once_per_cooldown(relay, key, &alert, now).await?,
            None if marks.iter().any(|m| m == key) => clear(relay, key, condition).await?,
            None => false,
        };
        sent += usize::from(was_sent);
    }
    Ok(sent)
}

/// After a sweep has written its heartbeat: a stale sweeper that was
/// reported is cleared. Returns whether an alert was sent.
pub async fn sweeper_back(relay: &Relay) -> Result<bool> {
    clear(relay, STALE, RelayCondition::SweeperStale).await
}

/// Ends the condition marked under `key`, if it is: removes the mark (so
/// the next time it holds it alerts at once) and sends [`Alert::Cleared`].
/// Returns whether it was marked (and the alert sent).
async fn clear(relay: &Relay, key: &str, condition: RelayCondition) -> Result<bool> {
    if !meta::delete(&relay.control, key).await? {
        return Ok(false);
    }
    notify::send(relay, &Alert::Cleared { condition }).await?;
    Ok(true)
}

/// Sends `alert` unless the one marked under `key` in `meta` was sent within
/// `ALERT_COOLDOWN_S`, or there is no channel; marks it when sent. Returns
/// whether it was sent.
async fn raise_once_per_cooldown(
    relay: &Relay,
    key: &str,
    alert: &Alert,
    now: i64,
) -> Result<bool> {
    let last = meta::get(&relay.control, key).await?.map(|m| m.value);
    if cooling_down(relay, last.as_ref(), now) || alerts::list(&relay.control).await?.is_empty() {
        return Ok(false);
    }
    meta::put(&relay.control, key, &now.to_string(), now).await?;
    notify::send(relay, alert).await?;
    Ok(true)
}

const FILLING: &str = "alert:database_filling";
const BEHIND_RECOVERY: &str = "alert:behind_recovery";
const BEHIND_RETENTION: &str = "alert:behind_retention";
const BEHIND_COMPACTION: &str = "alert:behind_compaction";

/// Alerts that the ack path answered `503` because storage failed: at most
/// once per cooldown across isolates (a `meta` mark); the caller takes
/// [`take_ingest_failure_turn`] first. Alert channels live in D1, so when D1
/// itself is down this can only log.
pub async fn report_ingest_failure(relay: &Relay, endpoint_id: &str, reason: &str) {
    let alert = Alert::IngestFailing {
        endpoint_id: endpoint_id.to_string(),
        reason: reason.to_string(),
    };
    let now = now_ms();
    let raised = match raise_once_per_cooldown(relay, INGEST_FAILING, &alert, now).await {
        // Which endpoint failed, for the sweep that sees it ack again.
        Ok(true) => {
            let at = now.to_string();
            meta::put(&relay.control, &failing_mark(endpoint_id), &at, now).await
        }
        Ok(false) => Ok(()),
        Err(err) => Err(err),
    };
    if let Err(err) = raised {
        console_error!(
            "{}",
            json!({"msg": "ingest failure alert not sent", "error": err.to_string()})
        );
    }
}

/// The mark of an endpoint whose failing ingest was alerted:
/// `alert:ingest_failing:<endpoint>`, written when the alert is.
fn failing_mark(endpoint_id: &str) -> String {
    format!("{INGEST_FAILING}:{endpoint_id}")
}

/// The endpoints whose failing ingest was alerted and that have stored an
/// ingest since: cleared (`relay.cleared`), their marks removed with the
/// cooldown's, so the next failure alerts at once.
async fn ingest_back(relay: &Relay, state: &HashMap<String, String>) -> Result<Vec<Alert>> {
    let prefix = failing_mark("");
    let mut cleared = Vec::new();
    for (key, alerted_at) in state {
        let Some(endpoint_id) = key.strip_prefix(&prefix) else {
            continue;
        };
        let since = alerted_at.parse::<i64>().unwrap_or_default();
        let shard = relay.for_endpoint(endpoint_id).await?;
        if !ingests::stored_since(&shard.db, endpoint_id, since).await? {
            continue;
        }
        meta::delete(&relay.control, key).await?;
        meta::delete(&relay.control, INGEST_FAILING).await?;
        cleared.push(Alert::Cleared {
            condition: RelayCondition::IngestFailing(endpoint_id.to_string()),
        });
    }
    Ok(cleared)
}

/// The sweeper's alert step; returns how many alerts were raised.
pub async fn sweep(relay: &Relay, now: i64) -> Result<usize> {
    if alerts::list(&relay.control).await?.is_empty() {
        return Ok(0);
    }
    let state: HashMap<String, String> = meta::with_prefix(&relay.control, PREFIX)
        .await?
        .into_iter()
        .map(|r| (r.key, r.value))
        .collect();
    let mut raised = Vec::new();
    raised.extend(dead_letters(relay, &state, now).await?);
    raised.extend(endpoint_changes(relay, &state, now).await?);
    raised.extend(refusal_spikes(relay, &state, now).await?);
    raised.extend(ingest_back(relay, &state).await?);
    for alert in &raised {
        notify::send(relay, alert).await?;
    }
    Ok(raised.len())
}

/// The sweeper's rule step: every alert rule checked against its figure (one
/// batch of reads, one of writes), each raising an alert when it starts to
/// hold and when it stops. A rule whose endpoint or route is gone is resolved
/// (if it was firing) and removed. Returns how many alerts were raised.
pub async fn rules(relay: &Relay, now: i64) -> Result<usize> {
    let rules = alert_rules::list(&relay.control).await?;
    if rules.is_empty() {
        return Ok(0);
    }
    let figures = figures_in_their_shards(relay, &rules, now).await?;
    let targets: HashMap<String, Target> = route_health_everywhere(relay)
        .await?
        .into_iter()
        .map(|r| (r.target.route_id.clone(), r.target))
        .collect();
    let mut writes = Vec::new();
    let mut raised = Vec::new();
    for (rule, figure) in rules.iter().zip(&figures) {
        let value = rule.spec.value(figure);
        let Some(target) = targets.get(watched_route(rule)) else {
            if rule.firing_since.is_some() {
                raised.push(rule_alert(rule, gone_target(rule), value, false));
            }
            writes.push(alert_rules::delete_statement(&relay.control, &rule.id)?);
            continue;
        };
        let firing_since = match transition(rule.firing_since.is_some(), rule.spec.holds(figure)) {
            Transition::Fire => {
                raised.push(rule_alert(rule, target.clone(), value, true));
                Some(now)
            }
            Transition::Resolve => {
                raised.push(rule_alert(rule, target.clone(), value, false));
                None
            }
            Transition::Stay => rule.firing_since,
        };
        writes.push(alert_rules::record_check(
            &relay.control,
            &rule.id,
            firing_since,
            value,
            now,
        )?);
    }
    relay.control.batch(writes).await?;
    for alert in &raised {
        notify::send(relay, alert).await?;
    }
    Ok(raised.len())
}

/// Each rule's figure, read in the shard of its endpoint (one batch per
/// shard), in the order of `rules`.
async fn figures_in_their_shards(
    relay: &Relay,
    rules: &[Rule],
    now: i64,
) -> Result<Vec<crate::alert_rules::Figure>> {
    let mut by_shard: Vec<(Relay, Vec<usize>)> = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let shard = relay.for_endpoint(&rule.spec.endpoint_id).await?;
        match by_shard
            .iter_mut()
            .find(|(r, _)| r.shard() == shard.shard())
        {
            Some((_, indexes)) => indexes.push(i),
            None => by_shard.push((shard, vec![i])),
        }
    }
    let mut figures: Vec<Option<crate::alert_rules::Figure>> = vec![None; rules.len()];
    for (shard, indexes) in &by_shard {
        let own: Vec<Rule> = indexes.iter().map(|&i| rules[i].clone()).collect();
        let read = alert_rules::figures(&shard.db, &own, now).await?;
        for (&i, figure) in indexes.iter().zip(read) {
            figures[i] = Some(figure);
        }
    }
    figures
        .into_iter()
        .map(|f| f.ok_or_else(|| worker::Error::RustError("a rule's figure was not read".into())))
        .collect()
}

/// Every live route's health, from every shard.
async fn route_health_everywhere(relay: &Relay) -> Result<Vec<alerts::RouteHealth>> {
    let mut all = Vec::new();
    for shard in relay.on_every_shard()? {
        all.extend(alerts::route_health(&shard.db).await?);
    }
    Ok(all)
}

/// The route a rule watches: its own, or its endpoint's first route.
pub fn watched_route(rule: &Rule) -> &str {
    rule.spec
        .route_id
        .as_deref()
        .unwrap_or(&rule.spec.endpoint_id)
}

/// A rule's endpoint or route that no longer exists, named by its ids.
fn gone_target(rule: &Rule) -> Target {
    Target {
        endpoint_id: rule.spec.endpoint_id.clone(),
        endpoint_name: rule.spec.endpoint_id.clone(),
        route_id: watched_route(rule).to_string(),
        route_name: watched_route(rule).to_string(),
    }
}

/// The alert of a rule that started (`firing`) or stopped holding.
pub fn rule_alert(rule: &Rule, target: Target, value: Option<f64>, firing: bool) -> Alert {
    Alert::RuleChanged {
        rule_id: rule.id.to_string(),
        target,
        rule: rule.spec.describe(),
        value: rule.spec.value_text(value),
        firing,
    }
}

async fn dead_letters(
    relay: &Relay,
    state: &HashMap<String, String>,
    now: i64,
) -> Result<Option<Alert>> {
    let since = state
        .get(DEAD_WATERMARK)
        .and_then(|v| v.parse().ok())
        .unwrap_or(now);
    let mut routes = Vec::new();
    for shard in relay.on_every_shard()? {
        routes.extend(alerts::dead_between(&shard.db, since, now).await?);
    }
    meta::put(&relay.control, DEAD_WATERMARK, &now.to_string(), now).await?;
    Ok((!routes.is_empty()).then_some(Alert::DeadLettered { routes }))
}

async fn endpoint_changes(
    relay: &Relay,
    state: &HashMap<String, String>,
    now: i64,
) -> Result<Vec<Alert>> {
    let threshold = i64::from(relay.settings.alert_failure_streak);
    let routes = route_health_everywhere(relay).await?;
    let live: HashSet<&str> = routes.iter().map(|r| r.target.route_id.as_str()).collect();
    let mut raised = forget_gone_routes(relay, state, &live).await?;
    for route in &routes {
        let id = &route.target.route_id;
        let streak = route.circuit_failures as i64;
        let streak_key = format!("{PREFIX}{STREAK_MARK}:{id}");
        match (streak >= threshold, state.contains_key(&streak_key)) {
            (true, false) => {
                raised.push(Alert::FailureStreak {
                    target: route.target.clone(),
                    streak,
                    threshold,
                });
                meta::put(&relay.control, &streak_key, &streak.to_string(), now).await?;
            }
            (false, true) if streak == 0 => {
                raised.push(Alert::StreakEnded {
                    target: route.target.clone(),
                });
                meta::delete(&relay.control, &streak_key).await?;
            }
            _ => {}
        }
        let circuit_key = format!("{PREFIX}{CIRCUIT_MARK}:{id}");
        let known = state.get(&circuit_key).map_or("closed", String::as_str);
        if known != route.circuit_state {
            raised.push(Alert::CircuitChanged {
                target: route.target.clone(),
                open: route.circuit_state == "open",
            });
            // No mark means closed: a closed circuit leaves none behind.
            if route.circuit_state == "closed" {
                meta::delete(&relay.control, &circuit_key).await?;
            } else {
                meta::put(&relay.control, &circuit_key, &route.circuit_state, now).await?;
            }
        }
    }
    Ok(raised)
}

/// The streak and circuit marks of routes no longer live (deleted, or their
/// endpoint was): a reported streak or open circuit is resolved, since
/// nothing will end it now, and every such mark is removed.
async fn forget_gone_routes(
    relay: &Relay,
    state: &HashMap<String, String>,
    live: &HashSet<&str>,
) -> Result<Vec<Alert>> {
    let mut resolved = Vec::new();
    for (key, value) in state {
        let Some((kind, route_id)) = key.strip_prefix(PREFIX).and_then(|k| k.split_once(':'))
        else {
            continue;
        };
        let condition = match kind {
            STREAK_MARK => Some(RouteCondition::FailureStreak),
            CIRCUIT_MARK if value == "open" => Some(RouteCondition::OpenCircuit),
            CIRCUIT_MARK => None,
            _ => continue,
        };
        if live.contains(route_id) {
            continue;
        }
        resolved.extend(condition.map(|condition| Alert::RouteGone {
            route_id: route_id.to_string(),
            condition,
        }));
        meta::delete(&relay.control, key).await?;
    }
    Ok(resolved)
}

async fn refusal_spikes(
    relay: &Relay,
    state: &HashMap<String, String>,
    now: i64,
) -> Result<Vec<Alert>> {
    let window_s = relay.settings.sweep_interval_s as i64;
    let mut raised = Vec::new();
    for count in alerts::refusals_since(&relay.control, now - window_s * 1000).await? {
        let key = format!("{PREFIX}refusals:{}", count.endpoint_id);
        if count.count >= i64::from(relay.settings.alert_refusal_spike)
            && !cooling_down(relay, state.get(&key), now)
        {
            meta::put(&relay.control, &key, &now.to_string(), now).await?;
            raised.push(Alert::RefusalSpike {
                name: name_in_its_shard(relay, &count.endpoint_id, count.name).await,
                endpoint_id: count.endpoint_id,
                count: count.count,
                window_s,
            });
        }
    }
    Ok(raised)
}

/// An endpoint's name: refusals are logged in the control database, which
/// names only the endpoints placed there (`known` is then the id); the
/// others are named from their shard.
async fn name_in_its_shard(relay: &Relay, endpoint_id: &str, known: String) -> String {
    let Some(id) = EndpointId::parse(endpoint_id).filter(|_| known == endpoint_id) else {
        return known;
    };
    let ttl_s = relay.settings.endpoint_cache_ttl_s;
    let found = match relay.for_endpoint(endpoint_id).await {
        Ok(shard) => endpoint_cache::get(&shard.db, &id, now_ms(), ttl_s).await,
        Err(err) => Err(err),
    };
    match found {
        Ok(Some(endpoint)) => endpoint.source.name,
        _ => known,
    }
}

fn cooling_down(relay: &Relay, last: Option<&String>, now: i64) -> bool {
    let cooldown_ms = relay.settings.alert_cooldown_s as i64 * 1000;
    last.and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|at| now - at < cooldown_ms)
}

/// Alerts once per cooldown when the heartbeat is stale; `last_run_ms` is what
/// the caller already read (or `None` when the sweeper never ran).
pub async fn report_stale_sweeper(relay: &Relay, last_run_ms: Option<i64>) -> Result<()> {
    let alert = Alert::SweeperStale {
        last_run_at: last_run_ms,
        stale_after_s: 2 * relay.settings.sweep_interval_s as i64,
    };
    raise_once_per_cooldown(relay, STALE, &alert, now_ms())
        .await
        .map(|_| ())
}

/// Whether the heartbeat is older than two sweep intervals (or missing).
pub fn is_stale(relay: &Relay, last_run_ms: Option<i64>, now: i64) -> bool {
    let stale_after_ms = 2 * relay.settings.sweep_interval_s as i64 * 1000;
    last_run_ms.is_none_or(|at| now - at > stale_after_ms)
}
