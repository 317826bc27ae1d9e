//! The `events` table and its state machine:
//! `received -> delivering -> delivered | retrying | dead`, `retrying -> delivering`,
//! `dead | delivered -> received` (replay).
//!
//! Every transition is a compare-and-set on the current status (and, while
//! delivering, on the lease token), so a duplicate queue message, the sweeper and
//! a replay can race freely: at most one of them moves the event.

use super::attempts::{self, AttemptRow};
use super::{bind, changes, int, opt_int, opt_text, text, Conditions};
use crate::event_query::{EventTypeFilter, Lookup};
use crate::model::Status;
use serde::{Deserialize, Serialize};
use worker::{D1Database, D1PreparedStatement, Result};

/// The timeout assumed for a lease when the endpoint row is gone.
const FALLBACK_TIMEOUT_MS: i64 = 15_000;

/// An event this deliverer now holds until `lease_until`.
#[derive(Debug, Clone, Deserialize)]
pub struct Claim {
    pub id: String,
    /// The source endpoint (whose `ep_` URL received the request).
    pub endpoint_id: String,
    /// The delivery target: the `endpoints` row (the endpoint itself or an `rt_`
    /// route) whose destination, policy and live state govern this delivery.
    pub route_id: String,
    pub ingest_id: String,
    pub attempt_count: f64,
    pub cycle_attempts: f64,
    pub lease_token: String,
    /// The route row's `updated_at` as the claim saw it (`None`: the row is
    /// gone, or a pull lease, which does not read it): a cached copy of the
    /// route older than this is stale.
    #[serde(default)]
    pub route_updated_at: Option<f64>,
}

/// What a delivery claim returns (a [`Claim`]).
const CLAIMED: &str =
    "id, endpoint_id, route_id, ingest_id, attempt_count, cycle_attempts, lease_token, \
     (SELECT updated_at FROM endpoints WHERE endpoints.id = events.route_id) AS route_updated_at";

/// Gates every claim checks in the same statement, so they are fresh and atomic:
/// the event's route is not paused, its circuit is closed (unless this is the
/// probe that tests it), and with FIFO no older event of the route is in flight.
const GATES: &str = "AND NOT EXISTS (SELECT 1 FROM endpoints ep WHERE ep.id = events.route_id \
                       AND (ep.paused = 1 OR ep.destination_type = 'pull' \
                            OR (ep.circuit_state = 'open' AND ?6 = 0))) \
     AND NOT EXISTS (SELECT 1 FROM endpoints ep JOIN events older ON older.route_id = ep.id \
                     WHERE ep.id = events.route_id AND ep.fifo = 1 AND older.id < events.id \
                       AND older.status IN ('received', 'delivering', 'retrying'))";

/// Takes the event if it is due (`received`/`retrying` whose time has come; a
/// probe does not wait) or its previous deliverer's lease has expired, and every
/// gate is open. `None`: someone else has it, it is finished, not yet due, or held.
pub async fn claim(
    db: &D1Database,
    id: &str,
    now_ms: i64,
    lease_margin_ms: i64,
    lease_token: &str,
    probe: bool,
) -> Result<Option<Claim>> {
    let sql = format!(
        "UPDATE events SET status = 'delivering', lease_token = ?3, updated_at = ?2, \
           lease_until = ?2 + ?4 + COALESCE((SELECT timeout_ms FROM endpoints \
                                             WHERE endpoints.id = events.route_id), ?5) \
         WHERE id = ?1 \
           AND ((status IN ('received', 'retrying') AND (next_attempt_at <= ?2 OR ?6 = 1)) \
                OR (status = 'delivering' AND lease_until <= ?2)) \
           {GATES} \
         RETURNING {CLAIMED}"
    );
    bind(
        db.prepare(sql),
        &[
            text(id),
            int(now_ms),
            text(lease_token),
            int(lease_margin_ms),
            int(FALLBACK_TIMEOUT_MS),
            int(i64::from(probe)),
        ],
    )?
    .first(None)
    .await
}

/// Leases up to `max` of a pull destination's due events (oldest first, those
/// whose earlier lease expired included), all under one `lease_token`: the same
/// compare-and-set as a push claim, so a lease and a replay cannot collide.
/// `event_types_json` is a JSON array of GLOB patterns (`charge.*`), or `None`.
pub async fn lease(
    db: &D1Database,
    route_id: &str,
    max: u32,
    now_ms: i64,
    lease_ms: i64,
    lease_token: &str,
    event_types_json: Option<&str>,
) -> Result<Vec<Claim>> {
    let sql = "UPDATE events SET status = 'delivering', lease_token = ?3, lease_until = ?2 + ?4, updated_at = ?2 \
               WHERE id IN ( \
                 SELECT e.id FROM events e JOIN ingests i ON i.id = e.ingest_id \
                 WHERE e.route_id = ?1 \
                   AND ((e.status IN ('received', 'retrying') AND e.next_attempt_at <= ?2) \
                        OR (e.status = 'delivering' AND e.lease_until <= ?2)) \
                   AND (?6 IS NULL OR EXISTS (SELECT 1 FROM json_each(?6) p WHERE i.event_type GLOB p.value)) \
                 ORDER BY e.id LIMIT ?5) \
                 AND NOT EXISTS (SELECT 1 FROM endpoints ep WHERE ep.id = events.route_id AND ep.paused = 1) \
               RETURNING id, endpoint_id, route_id, ingest_id, attempt_count, cycle_attempts, lease_token";
    let mut claims: Vec<Claim> = bind(
        db.prepare(sql),
        &[
            text(route_id),
            int(now_ms),
            text(lease_token),
            int(lease_ms),
            int(i64::from(max)),
            opt_text(event_types_json),
        ],
    )?
    .all()
    .await?
    .results()?;
    claims.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(claims)
}

/// The claim a lease token still holds on an event, if any.
pub async fn held_claim(db: &D1Database, id: &str, lease_token: &str) -> Result<Option<Claim>> {
    bind(
        db.prepare(
            "SELECT id, endpoint_id, route_id, ingest_id, attempt_count, cycle_attempts, lease_token FROM events \
             WHERE id = ?1 AND status = 'delivering' AND lease_token = ?2",
        ),
        &[text(id), text(lease_token)],
    )?
    .first(None)
    .await
}

/// Gives a claim back without an attempt (the rate limit said "later"): the
/// event waits until `next_attempt_at`, its schedule untouched.
pub async fn release(
    db: &D1Database,
    claim: &Claim,
    next_attempt_at: i64,
    now_ms: i64,
) -> Result<bool> {
    let sql = "UPDATE events SET status = CASE WHEN attempt_count = 0 THEN 'received' ELSE 'retrying' END, \
                      next_attempt_at = ?3, lease_until = NULL, lease_token = NULL, updated_at = ?4 \
               WHERE id = ?1 AND status = 'delivering' AND lease_token = ?2";
    let result = bind(
        db.prepare(sql),
        &[
            text(&claim.id),
            text(&claim.lease_token),
            int(next_attempt_at),
            int(now_ms),
        ],
    )?
    .run()
    .await?;
    Ok(changes(&result)? > 0)
}

/// Where a claimed event goes next.
pub struct Transition<'a> {
    pub status: Status,
    pub next_attempt_at: i64,
    pub last_error: Option<&'a str>,
    pub dead_reason: Option<&'a str>,
    /// Whether the attempt counts against the retry schedule (a failed circuit
    /// probe does not: events must not die while the circuit is open).
    pub advance_cycle: bool,
}

/// Records the attempt (if one was made) and moves the event, atomically with
/// `also` (endpoint updates such as the circuit breaker), provided this deliverer
/// still holds the lease. Returns whether it did.
pub async fn complete(
    db: &D1Database,
    claim: &Claim,
    attempt: Option<&AttemptRow>,
    to: &Transition<'_>,
    also: Vec<D1PreparedStatement>,
    now_ms: i64,
) -> Result<bool> {
    let attempt_count = attempt.map_or(claim.attempt_count as i64, |a| a.number as i64);
    let cycle_attempts =
        claim.cycle_attempts as i64 + i64::from(attempt.is_some() && to.advance_cycle);
    let delivered_at = (to.status == Status::Delivered).then_some(now_ms);
    let update = bind(
        db.prepare(
            "UPDATE events SET status = ?3, attempt_count = ?4, cycle_attempts = ?5, \
                    next_attempt_at = ?6, lease_until = NULL, lease_token = NULL, \
                    last_error = COALESCE(?7, last_error), dead_reason = ?8, \
                    delivered_at = COALESCE(?9, delivered_at), updated_at = ?10 \
             WHERE id = ?1 AND status = 'delivering' AND lease_token = ?2",
        ),
        &[
            text(&claim.id),
            text(&claim.lease_token),
            text(to.status.as_str()),
            int(attempt_count),
            int(cycle_attempts),
            int(to.next_attempt_at),
            opt_text(to.last_error),
            opt_text(to.dead_reason),
            opt_int(delivered_at),
            int(now_ms),
        ],
    )?;
    let mut statements = Vec::with_capacity(2 + also.len());
    if let Some(a) = attempt {
        statements.push(attempts::insert_if_leased(
            db,
            &claim.id,
            &claim.lease_token,
            a,
        )?);
    }
    statements.push(update);
    let update_index = statements.len() - 1;
    statements.extend(also);
    let results = db.batch(statements).await?;
    match results.get(update_index) {
        Some(r) => Ok(changes(r)? > 0),
        None => Ok(false),
    }
}

/// An event as the API shows it, joined with its ingest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRow {
    pub id: String,
    pub ingest_id: String,
    pub endpoint_id: String,
    pub route_id: String,
    pub status: String,
    pub attempt_count: f64,
    pub next_attempt_at: f64,
    pub last_error: Option<String>,
    pub dead_reason: Option<String>,
    pub received_at: f64,
    pub updated_at: f64,
    pub delivered_at: Option<f64>,
    pub dedup_key: String,
    pub content_type: Option<String>,
    pub body_size: f64,
    pub event_type: Option<String>,
}

const EVENT_SELECT: &str =
    "SELECT e.id, e.ingest_id, e.endpoint_id, e.route_id, e.status, e.attempt_count, \
       e.next_attempt_at, e.last_error, e.dead_reason, e.received_at, e.updated_at, \
       e.delivered_at, i.dedup_key, i.content_type, i.body_size, i.event_type \
     FROM events e JOIN ingests i ON i.id = e.ingest_id";

pub struct ListFilter<'a> {
    pub endpoint_id: Option<&'a str>,
    pub route_id: Option<&'a str>,
    pub status: Option<Status>,
    pub event_type: Option<&'a EventTypeFilter>,
    /// `received_at >= since_ms`.
    pub since_ms: Option<i64>,
    /// `received_at < until_ms`.
    pub until_ms: Option<i64>,
    /// Events with this id, or whose ingest has one of these dedup keys.
    pub lookup: Option<&'a Lookup>,
    /// Return events older than this id (ids sort by receipt time).
    pub before_id: Option<&'a str>,
    pub limit: u32,
}

/// Newest first. Only the filters given become conditions, so the query planner
/// can pick the index that serves them (`q` is a handful of primary-key lookups).
pub async fn list(db: &D1Database, f: &ListFilter<'_>) -> Result<Vec<EventRow>> {
    let mut w = Conditions::default();
    if let Some(endpoint_id) = f.endpoint_id {
        w.compare("e.endpoint_id =", text(endpoint_id));
    }
    if let Some(route_id) = f.route_id {
        w.compare("e.route_id =", text(route_id));
    }
    if let Some(status) = f.status {
        w.compare("e.status =", text(status.as_str()));
    }
    match f.event_type {
        Some(EventTypeFilter::Exact(name)) => w.compare("i.event_type =", text(name)),
        Some(EventTypeFilter::Prefix { from, before }) => {
            w.compare("i.event_type >=", text(from));
            if let Some(before) = before {
                w.compare("i.event_type <", text(before));
            }
        }
        None => {}
    }
    if let Some(since) = f.since_ms {
        w.compare("e.received_at >=", int(since));
    }
    if let Some(until) = f.until_ms {
        w.compare("e.received_at <", int(until));
    }
    if let Some(lookup) = f.lookup {
        let keys = serde_json::to_string(&lookup.dedup_keys).map_err(worker::Error::from)?;
        let by_key = format!(
            "SELECT k.id FROM ingests ki JOIN events k ON k.ingest_id = ki.id \
             WHERE ki.dedup_key IN (SELECT value FROM json_each({}))",
            w.param(text(&keys))
        );
        let matches = match &lookup.event_id {
            Some(id) => format!("SELECT {} UNION ALL {by_key}", w.param(text(id))),
            None => by_key,
        };
        w.push(format!("e.id IN ({matches})"));
    }
    if let Some(before) = f.before_id {
        w.compare("e.id <", text(before));
    }
    let limit = w.param(int(i64::from(f.limit)));
    let sql = format!(
        "{EVENT_SELECT} {} ORDER BY e.id DESC LIMIT {limit}",
        w.clause()
    );
    bind(db.prepare(sql), w.args())?.all().await?.results()
}

pub async fn get(db: &D1Database, id: &str) -> Result<Option<EventRow>> {
    bind(
        db.prepare(format!("{EVENT_SELECT} WHERE e.id = ?1")),
        &[text(id)],
    )?
    .first(None)
    .await
}

const REPLAY_SET: &str = "status = 'received', cycle_attempts = 0, next_attempt_at = ?2, \
                          lease_until = NULL, lease_token = NULL, dead_reason = NULL, updated_at = ?2";

/// `dead` or `delivered` -> `received`, keeping the attempt history. `false` when
/// the event is missing or still in flight.
pub async fn replay_one(db: &D1Database, id: &str, now_ms: i64) -> Result<bool> {
    let sql =
        format!("UPDATE events SET {REPLAY_SET} WHERE id = ?1 AND status IN ('dead', 'delivered')");
    let result = bind(db.prepare(sql), &[text(id), int(now_ms)])?
        .run()
        .await?;
    Ok(changes(&result)? > 0)
}

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

/// Replays up to `limit` dead events (oldest first), of one endpoint, one
/// route, or all.
pub async fn replay_dead(
    db: &D1Database,
    endpoint_id: Option<&str>,
    route_id: Option<&str>,
    limit: u32,
    now_ms: i64,
) -> Result<Vec<String>> {
    let sql = format!(
        "UPDATE events SET {REPLAY_SET} WHERE id IN \
           (SELECT id FROM events WHERE status = 'dead' AND (?1 IS NULL OR endpoint_id = ?1) \
              AND (?4 IS NULL OR route_id = ?4) \
            ORDER BY id LIMIT ?3) \
         RETURNING id"
    );
    let rows: Vec<IdRow> = bind(
        db.prepare(sql),
        &[
            opt_text(endpoint_id),
            int(now_ms),
            int(i64::from(limit)),
            opt_text(route_id),
        ],
    )?
    .all()
    .await?
    .results()?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Events the queue has not handled in time: `received`/`retrying` due before
/// `due_before`, and `delivering` whose lease expired. Oldest first, skipping
/// routes that are paused or have an open circuit, and FIFO events that are
/// not at the head of their route's line.
pub async fn due_for_sweep(
    db: &D1Database,
    now_ms: i64,
    due_before_ms: i64,
    limit: u32,
) -> Result<Vec<String>> {
    let open = "JOIN endpoints ep ON ep.id = e.route_id AND ep.paused = 0 \
                AND ep.circuit_state = 'closed' AND ep.destination_type = 'push'";
    let sql = format!(
        "SELECT e.id, e.next_attempt_at AS t FROM events e {open} \
           WHERE e.status IN ('received', 'retrying') AND e.next_attempt_at <= ?1 \
             AND (ep.fifo = 0 OR NOT EXISTS (SELECT 1 FROM events older \
                  WHERE older.route_id = e.route_id AND older.id < e.id \
                    AND older.status IN ('received', 'delivering', 'retrying'))) \
         UNION ALL \
         SELECT e.id, e.next_attempt_at AS t FROM events e {open} \
           WHERE e.status = 'delivering' AND e.lease_until <= ?2 \
         ORDER BY t LIMIT ?3"
    );
    let rows: Vec<IdRow> = bind(
        db.prepare(sql),
        &[int(due_before_ms), int(now_ms), int(i64::from(limit))],
    )?
    .all()
    .await?
    .results()?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// An in-flight event waiting for its turn.
#[derive(Debug, Clone, Deserialize)]
pub struct Waiting {
    pub id: String,
    pub status: String,
    pub next_attempt_at: f64,
}

/// The route's waiting events (`received`/`retrying`), oldest first: what a
/// resume or a closing circuit drains.
pub async fn waiting(db: &D1Database, route_id: &str, limit: u32) -> Result<Vec<Waiting>> {
    bind(
        db.prepare(
            "SELECT id, status, next_attempt_at FROM events \
             WHERE route_id = ?1 AND status IN ('received', 'retrying') ORDER BY id LIMIT ?2",
        ),
        &[text(route_id), int(i64::from(limit))],
    )?
    .all()
    .await?
    .results()
}

/// The oldest in-flight event of the route: the head of a FIFO line.
pub async fn head_of_line(db: &D1Database, route_id: &str) -> Result<Option<Waiting>> {
    bind(
        db.prepare(
            "SELECT id, status, next_attempt_at FROM events \
             WHERE route_id = ?1 AND status IN ('received', 'delivering', 'retrying') ORDER BY id LIMIT 1",
        ),
        &[text(route_id)],
    )?
    .first(None)
    .await
}

/// Dead-letters an in-flight event (used by the dead-letter queue consumer).
pub async fn mark_dead(db: &D1Database, id: &str, reason: &str, now_ms: i64) -> Result<bool> {
    let sql = "UPDATE events SET status = 'dead', dead_reason = ?2, lease_until = NULL, \
                      lease_token = NULL, updated_at = ?3 \
               WHERE id = ?1 AND status IN ('received', 'delivering', 'retrying')";
    let result = bind(db.prepare(sql), &[text(id), text(reason), int(now_ms)])?
        .run()
        .await?;
    Ok(changes(&result)? > 0)
}

/// The conservation figures: `received = delivered + dead + in_flight`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    pub received: f64,
    pub delivered: f64,
    pub dead: f64,
    pub in_flight: f64,
}

pub async fn counts(db: &D1Database, endpoint_id: Option<&str>) -> Result<Counts> {
    counts_where(db, endpoint_id, None).await
}

/// The same figures for one route's events: `events = delivered + dead + in_flight`.
pub async fn route_counts(db: &D1Database, route_id: &str) -> Result<Counts> {
    counts_where(db, None, Some(route_id)).await
}

async fn counts_where(
    db: &D1Database,
    endpoint_id: Option<&str>,
    route_id: Option<&str>,
) -> Result<Counts> {
    let sql = "SELECT COUNT(*) AS received, \
                      COALESCE(SUM(status = 'delivered'), 0) AS delivered, \
                      COALESCE(SUM(status = 'dead'), 0) AS dead, \
                      COALESCE(SUM(status IN ('received', 'delivering', 'retrying')), 0) AS in_flight \
               FROM events WHERE (?1 IS NULL OR endpoint_id = ?1) AND (?2 IS NULL OR route_id = ?2)";
    let row: Option<Counts> = bind(
        db.prepare(sql),
        &[opt_text(endpoint_id), opt_text(route_id)],
    )?
    .first(None)
    .await?;
    Ok(row.unwrap_or(Counts {
        received: 0.0,
        delivered: 0.0,
        dead: 0.0,
        in_flight: 0.0,
    }))
}
