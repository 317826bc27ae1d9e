//! The `events` table and its state machine:
//! `received -> delivering -> delivered | retrying | dead`, `retrying -> delivering`,
//! `dead | delivered -> received` (replay).
//!
//! Every transition is a compare-and-set on the current status (and, while
//! delivering, on the lease token), so a duplicate queue message, the sweeper and
//! a replay can race freely: at most one of them moves the event.

use super::attempts::{self, AttemptRow};
use super::{bind, changes, int, opt_int, opt_text, text};
use crate::model::Status;
use serde::{Deserialize, Serialize};
use worker::{D1Database, Result};

/// The timeout assumed for a lease when the endpoint row is gone.
const FALLBACK_TIMEOUT_MS: i64 = 15_000;

/// An event this deliverer now holds until `lease_until`.
#[derive(Debug, Clone, Deserialize)]
pub struct Claim {
    pub id: String,
    pub endpoint_id: String,
    pub ingest_id: String,
    pub attempt_count: f64,
    pub cycle_attempts: f64,
    pub lease_token: String,
}

/// Takes the event if it is due (`received`/`retrying` whose time has come) or its
/// previous deliverer's lease has expired. `None`: someone else has it, or it is
/// finished, or not yet due.
pub async fn claim(
    db: &D1Database,
    id: &str,
    now_ms: i64,
    lease_margin_ms: i64,
    lease_token: &str,
) -> Result<Option<Claim>> {
    let sql = "UPDATE events SET status = 'delivering', lease_token = ?3, updated_at = ?2, \
                 lease_until = ?2 + ?4 + COALESCE((SELECT timeout_ms FROM endpoints \
                                                   WHERE endpoints.id = events.endpoint_id), ?5) \
               WHERE id = ?1 \
                 AND ((status IN ('received', 'retrying') AND next_attempt_at <= ?2) \
                      OR (status = 'delivering' AND lease_until <= ?2)) \
               RETURNING id, endpoint_id, ingest_id, attempt_count, cycle_attempts, lease_token";
    bind(
        db.prepare(sql),
        &[
            text(id),
            int(now_ms),
            text(lease_token),
            int(lease_margin_ms),
            int(FALLBACK_TIMEOUT_MS),
        ],
    )?
    .first(None)
    .await
}

/// Where a claimed event goes next.
pub struct Transition<'a> {
    pub status: Status,
    pub next_attempt_at: i64,
    pub last_error: Option<&'a str>,
    pub dead_reason: Option<&'a str>,
}

/// Records the attempt (if one was made) and moves the event, atomically, provided
/// this deliverer still holds the lease. Returns whether it did.
pub async fn complete(
    db: &D1Database,
    claim: &Claim,
    attempt: Option<&AttemptRow>,
    to: &Transition<'_>,
    now_ms: i64,
) -> Result<bool> {
    let (attempt_count, cycle_attempts) = match attempt {
        Some(a) => (a.number as i64, claim.cycle_attempts as i64 + 1),
        None => (claim.attempt_count as i64, claim.cycle_attempts as i64),
    };
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
    let mut statements = Vec::with_capacity(2);
    if let Some(a) = attempt {
        statements.push(attempts::insert_if_leased(
            db,
            &claim.id,
            &claim.lease_token,
            a,
        )?);
    }
    statements.push(update);
    let results = db.batch(statements).await?;
    match results.last() {
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
}

const EVENT_SELECT: &str = "SELECT e.id, e.ingest_id, e.endpoint_id, e.status, e.attempt_count, \
       e.next_attempt_at, e.last_error, e.dead_reason, e.received_at, e.updated_at, \
       e.delivered_at, i.dedup_key, i.content_type, i.body_size \
     FROM events e JOIN ingests i ON i.id = e.ingest_id";

pub struct ListFilter<'a> {
    pub endpoint_id: Option<&'a str>,
    pub status: Option<Status>,
    /// Return events older than this id (ids sort by receipt time).
    pub before_id: Option<&'a str>,
    pub limit: u32,
}

/// Newest first.
pub async fn list(db: &D1Database, f: &ListFilter<'_>) -> Result<Vec<EventRow>> {
    let sql = format!(
        "{EVENT_SELECT} WHERE (?1 IS NULL OR e.endpoint_id = ?1) AND (?2 IS NULL OR e.status = ?2) \
         AND (?3 IS NULL OR e.id < ?3) ORDER BY e.id DESC LIMIT ?4"
    );
    bind(
        db.prepare(sql),
        &[
            opt_text(f.endpoint_id),
            opt_text(f.status.map(Status::as_str)),
            opt_text(f.before_id),
            int(i64::from(f.limit)),
        ],
    )?
    .all()
    .await?
    .results()
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

/// Replays up to `limit` dead events (oldest first), of one endpoint or all.
pub async fn replay_dead(
    db: &D1Database,
    endpoint_id: Option<&str>,
    limit: u32,
    now_ms: i64,
) -> Result<Vec<String>> {
    let sql = format!(
        "UPDATE events SET {REPLAY_SET} WHERE id IN \
           (SELECT id FROM events WHERE status = 'dead' AND (?1 IS NULL OR endpoint_id = ?1) \
            ORDER BY id LIMIT ?3) \
         RETURNING id"
    );
    let rows: Vec<IdRow> = bind(
        db.prepare(sql),
        &[opt_text(endpoint_id), int(now_ms), int(i64::from(limit))],
    )?
    .all()
    .await?
    .results()?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Events the queue has not handled in time: `received`/`retrying` due before
/// `due_before`, and `delivering` whose lease expired. Oldest first.
pub async fn due_for_sweep(
    db: &D1Database,
    now_ms: i64,
    due_before_ms: i64,
    limit: u32,
) -> Result<Vec<String>> {
    let sql = "SELECT id, next_attempt_at AS t FROM events \
                 WHERE status IN ('received', 'retrying') AND next_attempt_at <= ?1 \
               UNION ALL \
               SELECT id, next_attempt_at AS t FROM events \
                 WHERE status = 'delivering' AND lease_until <= ?2 \
               ORDER BY t LIMIT ?3";
    let rows: Vec<IdRow> = bind(
        db.prepare(sql),
        &[int(due_before_ms), int(now_ms), int(i64::from(limit))],
    )?
    .all()
    .await?
    .results()?;
    Ok(rows.into_iter().map(|r| r.id).collect())
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
    let sql = "SELECT COUNT(*) AS received, \
                      COALESCE(SUM(status = 'delivered'), 0) AS delivered, \
                      COALESCE(SUM(status = 'dead'), 0) AS dead, \
                      COALESCE(SUM(status IN ('received', 'delivering', 'retrying')), 0) AS in_flight \
               FROM events WHERE (?1 IS NULL OR endpoint_id = ?1)";
    let row: Option<Counts> = bind(db.prepare(sql), &[opt_text(endpoint_id)])?
        .first(None)
        .await?;
    Ok(row.unwrap_or(Counts {
        received: 0.0,
        delivered: 0.0,
        dead: 0.0,
        in_flight: 0.0,
    }))
}
