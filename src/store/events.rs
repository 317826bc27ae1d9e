//! The `events` table and its state machine:
//! `received -> delivering -> delivered | retrying | dead`, `retrying -> delivering`,
//! `dead | delivered -> received` (replay).
//!
//! Every transition is a compare-and-set on the current status (and, while
//! delivering, on the lease token), so a duplicate queue message, the sweeper and
//! a replay can race freely: at most one of them moves the event.

use super::attempts::{self, AttemptRow};
use super::ingests::IngestRow;
use super::rollups;
use super::{bind, changes, endpoint_of_route, int, opt_int, opt_text, text, Conditions, Db, Stmt};
use crate::event_query::{EventTypeFilter, Lookup};
use crate::live::Change;
use crate::model::{CarriedBody, EndpointId, EventId, IngestId, RouteRef, Status};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::Result;

/// The timeout assumed for a lease when the endpoint row is gone.
const FALLBACK_TIMEOUT_MS: i64 = 15_000;

/// What a statement that moves many events returns for each (`RETURNING`
/// [`CHANGED`]), so the live stream hears of changes made in bulk too.
#[derive(Debug, Clone, Deserialize)]
pub struct Changed {
    pub id: EventId,
    pub endpoint_id: EndpointId,
    pub route_id: RouteRef,
    /// The status the statement set.
    pub status: String,
    pub attempt_count: f64,
    pub event_type: Option<String>,
}

impl Changed {
    /// The change as the live stream says it, made at `at_ms`.
    pub fn change(&self, at_ms: i64) -> Change {
        Change::new(
            &self.id,
            &self.endpoint_id,
            &self.route_id,
            &self.status,
            self.event_type.as_deref(),
            self.attempt_count as u32,
            at_ms,
        )
    }
}

/// The changes of many [`Changed`] rows, made at `at_ms`.
pub fn changes_at(rows: &[Changed], at_ms: i64) -> Vec<Change> {
    rows.iter().map(|r| r.change(at_ms)).collect()
}

/// The `RETURNING` clause of [`Changed`]: the event type is read from the
/// event's ingest by its primary key, one lookup per row returned (a
/// correlated subquery is the one way `RETURNING` reaches another table).
pub(crate) const CHANGED: &str = "RETURNING id, endpoint_id, route_id, status, attempt_count, \
       (SELECT i.event_type FROM ingests i WHERE i.id = events.ingest_id) AS event_type";

/// An event this deliverer now holds until `lease_until`.
#[derive(Debug, Clone, Deserialize)]
pub struct Claim {
    pub id: EventId,
    /// The source endpoint (whose `ep_` URL received the request).
    pub endpoint_id: EndpointId,
    /// The delivery target: the `endpoints` row (the endpoint itself or an `rt_`
    /// route) whose destination, policy and live state govern this delivery.
    pub route_id: RouteRef,
    pub ingest_id: IngestId,
    pub attempt_count: f64,
    pub cycle_attempts: f64,
    pub lease_token: String,
    /// The route row's `updated_at` as the claim saw it (`None`: the row is
    /// gone, or a pull lease, which does not read it): a cached copy of the
    /// route older than this is stale.
    #[serde(default)]
    pub route_updated_at: Option<f64>,
    /// A delivery slot this event already reserved under its route's rate
    /// limit (see [`release_to_slot`]): a claim at or after it spends no new one.
    #[serde(default)]
    pub rate_slot_at: Option<f64>,
    /// The stored body's size, so delivery can budget memory before loading it.
    #[serde(default)]
    pub body_size: Option<f64>,
    /// The ingest row, read in the claim itself as one JSON value and parsed
    /// once here (`None` when the statement did not read it, as a pull lease
    /// does not, or it is gone).
    #[serde(default, deserialize_with = "ingest_json")]
    pub ingest: Option<IngestRow>,
    /// The body as the event's delivery message carried it (not read from D1):
    /// delivery then reads nothing from R2.
    #[serde(skip)]
    pub carried_body: Option<CarriedBody>,
}

/// A claim's `ingest` column: the ingest row as JSON text, or NULL.
fn ingest_json<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<IngestRow>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|json| serde_json::from_str(&json).map_err(serde::de::Error::custom))
        .transpose()
}

/// What a delivery claim returns (a [`Claim`]).
/// The ingest comes back with the claim (one JSON value from its primary
/// key), so a delivery needs no separate read of it: a round trip saved per
/// delivery.
const CLAIMED: &str =
    "id, endpoint_id, route_id, ingest_id, attempt_count, cycle_attempts, lease_token, rate_slot_at, \
     (SELECT updated_at FROM endpoints WHERE endpoints.id = events.route_id) AS route_updated_at, \
     (SELECT body_size FROM ingests WHERE ingests.id = events.ingest_id) AS body_size, \
     (SELECT json_object('id', i.id, 'endpoint_id', i.endpoint_id, 'dedup_key', i.dedup_key, \
                         'body_key', i.body_key, 'body_size', i.body_size, 'body_sha256', i.body_sha256, \
                         'content_type', i.content_type, 'headers', i.headers, \
                         'received_at', i.received_at, 'event_type', i.event_type) \
        FROM ingests i WHERE i.id = events.ingest_id) AS ingest";

/// Gates every claim checks in the same statement, so they are fresh and atomic:
/// the event's route is not paused, its circuit is closed (unless this is the
/// probe that tests it), and with FIFO no older event of the route is in flight.
/// A deleted route's row holds nothing back: its events are claimed and end
/// dead with "the route was deleted", whatever state the row was left in.
const GATES: &str = "AND NOT EXISTS (SELECT 1 FROM endpoints ep WHERE ep.id = events.route_id \
                       AND ep.deleted_at IS NULL \
                       AND (ep.paused = 1 OR ep.destination_type = 'pull' \
                            OR (ep.circuit_state = 'open' AND ?6 = 0))) \
     AND NOT EXISTS (SELECT 1 FROM endpoints ep JOIN events older ON older.route_id = ep.id \
                     WHERE ep.id = events.route_id AND ep.fifo = 1 AND ep.deleted_at IS NULL \
                       AND older.id < events.id AND older.status <> 'delivered' \
                       AND older.status IN ('received', 'delivering', 'retrying'))";

/// Takes the event if it is due (`received`/`retrying` whose time has come; a
/// probe does not wait) or its previous deliverer's lease has expired, and every
/// gate is open. `None`: someone else has it, it is finished, not yet due, or held.
pub async fn claim(
    db: &Db,
    id: &str,
    now_ms: i64,
    lease_margin_ms: i64,
    lease_token: &str,
    probe: bool,
) -> Result<Option<Claim>> {
    bind(
        db.prepare(claim_sql()),
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

/// The events of `ids` that [`claim`] would take, in one statement and one
/// round trip (a queue batch), all under one lease token; never a probe.
/// Evaluated against the table as it was before the statement, so of two
/// events of one FIFO route only the older is taken.
pub async fn claim_many(
    db: &Db,
    ids: &[&str],
    now_ms: i64,
    lease_margin_ms: i64,
    lease_token: &str,
) -> Result<Vec<Claim>> {
    bind(
        db.prepare(claim_many_sql()),
        &[
            text(&serde_json::to_string(ids)?),
            int(now_ms),
            text(lease_token),
            int(lease_margin_ms),
            int(FALLBACK_TIMEOUT_MS),
            int(0),
        ],
    )?
    .all()
    .await?
    .results()
}

/// The statement of [`claim`]: ?1 = the event, ?2 = now, ?3 = the lease token,
/// ?4 = the lease margin, ?5 = the timeout when the route row is gone, ?6 = probe.
pub(crate) fn claim_sql() -> String {
    claim_where("id = ?1")
}

/// The statement of [`claim_many`]: ?1 = a JSON array of event ids, the rest
/// as [`claim_sql`].
pub(crate) fn claim_many_sql() -> String {
    claim_where("id IN (SELECT value FROM json_each(?1))")
}

/// The claim for the events `which` selects by id. The unary `+` keeps the
/// planner on the id: without it, a batch claim would rather walk every
/// in-flight event through a status index.
fn claim_where(which: &str) -> String {
    format!(
        "UPDATE events SET status = 'delivering', lease_token = ?3, updated_at = ?2, \
           lease_until = ?2 + ?4 + COALESCE((SELECT timeout_ms FROM endpoints \
                                             WHERE endpoints.id = events.route_id), ?5) \
         WHERE {which} \
           AND ((+status IN ('received', 'retrying') AND (+next_attempt_at <= ?2 OR ?6 = 1)) \
                OR (+status = 'delivering' AND +lease_until <= ?2)) \
           {GATES} \
         RETURNING {CLAIMED}"
    )
}

/// Leases up to `max` of a pull destination's due events (oldest first, those
/// whose earlier lease expired included), all under one `lease_token`: the same
/// compare-and-set as a push claim, so a lease and a replay cannot collide.
/// `event_types_json` is a JSON array of GLOB patterns made by
/// `event_query::glob_pattern` (only `*` is a wildcard), or `None`.
pub async fn lease(
    db: &Db,
    route_id: &RouteRef,
    max: u32,
    now_ms: i64,
    lease_ms: i64,
    lease_token: &str,
    event_types_json: Option<&str>,
) -> Result<Vec<Claim>> {
    let sql = "UPDATE events SET status = 'delivering', lease_token = ?3, lease_until = ?2 + ?4, updated_at = ?2 \
               WHERE id IN ( \
                 SELECT e.id FROM events e JOIN ingests i ON i.id = e.ingest_id \
                 WHERE e.route_id = ?1 AND e.status <> 'delivered' \
                   AND ((e.status IN ('received', 'retrying') AND e.next_attempt_at <= ?2) \
                        OR (e.status = 'delivering' AND e.lease_until <= ?2)) \
                   AND (?6 IS NULL OR EXISTS (SELECT 1 FROM json_each(?6) p WHERE i.event_type GLOB p.value)) \
                 ORDER BY e.id LIMIT ?5) \
                 AND NOT EXISTS (SELECT 1 FROM endpoints ep WHERE ep.id = events.route_id AND ep.paused = 1) \
               RETURNING id, endpoint_id, route_id, ingest_id, attempt_count, cycle_attempts, lease_token";
    let mut claims: Vec<Claim> = bind(
        db.prepare(sql),
        &[
            text(route_id.as_str()),
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
pub async fn held_claim(db: &Db, id: &str, lease_token: &str) -> Result<Option<Claim>> {
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

/// Gives a claim back without an attempt because the rate limit reserved it a
/// later slot: the event waits until `slot_at`, its schedule untouched, and
/// keeps the slot, so the claim that comes back at `slot_at` sends at once
/// instead of queueing for another one (each event is scheduled once, at its
/// own slot, however long the backlog).
pub async fn release_to_slot(db: &Db, claim: &Claim, slot_at: i64, now_ms: i64) -> Result<bool> {
    let sql = "UPDATE events SET status = CASE WHEN attempt_count = 0 THEN 'received' ELSE 'retrying' END, \
                      next_attempt_at = ?3, rate_slot_at = ?3, lease_until = NULL, lease_token = NULL, \
                      updated_at = ?4 \
               WHERE id = ?1 AND status = 'delivering' AND lease_token = ?2";
    let result = bind(
        db.prepare(sql),
        &[
            text(&claim.id),
            text(&claim.lease_token),
            int(slot_at),
            int(now_ms),
        ],
    )?
    .run()
    .await?;
    Ok(changes(&result)? > 0)
}

/// Returns up to `limit` events whose deliverer's lease expired (it crashed,
/// or lost its connection to D1) to the waiting states, due now, oldest lease
/// first; returns their ids. After this they are ordinary waiting events: the
/// sweeper delivers them, a probe takes them through an open circuit, a resume
/// drains them, a pull client leases them. A deliverer still running behind an
/// expired lease can no longer record anything (its token is gone).
pub async fn release_expired_leases(db: &Db, now_ms: i64, limit: u32) -> Result<Vec<Changed>> {
    bind(
        db.prepare(format!("{RELEASE_EXPIRED_LEASES} {CHANGED}")),
        &[int(now_ms), int(i64::from(limit))],
    )?
    .all()
    .await?
    .results()
}

/// The statement of [`release_expired_leases`]: ?1 = now, ?2 = the limit.
/// (Its `RETURNING` [`CHANGED`] is added where it runs.)
/// Driven from the routes (the small control table; rows are never deleted,
/// so every event has its route's): for each, `events_route_open
/// (route_id, status, ...)` yields its events being delivered, a handful at
/// any time, and only those are sorted. No index of its own: a claim would pay
/// an entry for it.
pub(crate) const RELEASE_EXPIRED_LEASES: &str =
    "UPDATE events SET status = CASE WHEN attempt_count = 0 THEN 'received' ELSE 'retrying' END, \
            next_attempt_at = lease_until, lease_until = NULL, lease_token = NULL, updated_at = ?1 \
     WHERE id IN (SELECT e.id FROM endpoints ep CROSS JOIN events e \
                  WHERE e.route_id = ep.id AND e.status <> 'delivered' \
                    AND e.status = 'delivering' AND e.lease_until <= ?1 \
                  ORDER BY e.lease_until LIMIT ?2) \
       AND status = 'delivering' AND lease_until <= ?1";

/// SQL for [`EventId::first_minted_at`] of the unix ms that `ms_sql` (an SQL
/// expression) computes: the prefix, the ULID's 48-bit time in ten lowercase
/// Crockford base-32 digits, and a random part of zeros. Every id minted
/// earlier sorts before it, so `id < (this)` is a range over an index of ids.
pub(crate) fn first_event_id_minted_at_sql(ms_sql: &str) -> String {
    const DIGITS: &str = "0123456789abcdefghjkmnpqrstvwxyz";
    let ms = format!("MAX(0, CAST(({ms_sql}) AS INTEGER))");
    let time: Vec<String> = (0..10)
        .rev()
        .map(|k| format!("substr('{DIGITS}', (({ms} >> {}) & 31) + 1, 1)", 5 * k))
        .collect();
    format!(
        "('{}_' || {} || '{}')",
        EventId::PREFIX,
        time.join(" || "),
        "0".repeat(16)
    )
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

/// A condition for a statement that changes route state on behalf of a
/// delivery (circuit, pause on 410): it holds only while the event is still
/// `delivering` under this lease token, so a deliverer whose lease expired and
/// was taken over changes nothing. `event` and `token` are the placeholders
/// (e.g. `?7`, `?8`) the statement binds them to.
pub fn lease_held(event: &str, token: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM events WHERE events.id = {event} \
                   AND events.status = 'delivering' AND events.lease_token = {token})"
    )
}

/// Records the attempt (if one was made) into the event's row, moving the one
/// before it to `attempts` (see [`attempts`]), counts it in the hourly
/// rollups, and moves the event, atomically with `also` (route updates such
/// as the circuit breaker, built with [`lease_held`] so they apply only while
/// this deliverer holds the lease), provided this deliverer still holds the
/// lease. Returns whether it did.
///
/// Order matters: moving the earlier attempt, the rollup and `also` run
/// before the event update, which replaces that attempt and clears the lease
/// token they check. The batch may carry other outcomes of this invocation
/// too ([`Db::batch_outcome`]); these statements stay together and in order.
pub async fn complete(
    db: &Db,
    claim: &Claim,
    attempt: Option<&AttemptRow>,
    to: &Transition<'_>,
    also: Vec<Stmt>,
    now_ms: i64,
) -> Result<bool> {
    let attempt_count = attempt.map_or(claim.attempt_count as i64, |a| a.number as i64);
    let cycle_attempts =
        claim.cycle_attempts as i64 + i64::from(attempt.is_some() && to.advance_cycle);
    let delivered_at = (to.status == Status::Delivered).then_some(now_ms);
    let mut args = vec![
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
    ];
    // The attempt goes into the event's row (the one before it moves to
    // `attempts`, in this batch): see store::attempts. Its values are bound
    // after the ten above.
    let mut record_attempt = String::new();
    if let Some(a) = attempt {
        record_attempt = format!(", {}", attempts::record_in_row(args.len() + 1));
        args.extend(attempts::row_args(a));
    }
    let update = bind(
        db.prepare(format!(
            "UPDATE events SET status = ?3, attempt_count = ?4, cycle_attempts = ?5, \
                    next_attempt_at = ?6, lease_until = NULL, lease_token = NULL, rate_slot_at = NULL, \
                    last_error = COALESCE(?7, last_error), dead_reason = ?8, \
                    delivered_at = COALESCE(?9, delivered_at), updated_at = ?10{record_attempt} \
             WHERE id = ?1 AND status = 'delivering' AND lease_token = ?2",
        )),
        &args,
    )?;
    let mut statements = Vec::with_capacity(3 + also.len());
    if let Some(a) = attempt {
        statements.push(attempts::shelve_latest_if_leased(
            db,
            &claim.id,
            &claim.lease_token,
        )?);
        statements.push(rollups::count_attempt(
            db,
            claim,
            a.started_at as i64,
            a.duration_ms.max(0.0) as u64,
            &a.outcome,
        )?);
    }
    statements.extend(also);
    statements.push(update);
    let update_index = statements.len() - 1;
    let results = db.batch_outcome(statements).await?;
    match results.get(update_index) {
        Some(r) => Ok(changes(r)? > 0),
        None => Ok(false),
    }
}

/// An event as the API shows it, joined with its ingest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRow {
    pub id: EventId,
    pub ingest_id: IngestId,
    pub endpoint_id: EndpointId,
    pub route_id: RouteRef,
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
    /// `ingests.source`: NULL for a webhook (and in archives written before it).
    #[serde(default)]
    pub source: Option<String>,
}

const EVENT_SELECT: &str =
    "SELECT e.id, e.ingest_id, e.endpoint_id, e.route_id, e.status, e.attempt_count, \
       e.next_attempt_at, e.last_error, e.dead_reason, e.received_at, e.updated_at, \
       e.delivered_at, i.dedup_key, i.content_type, i.body_size, i.event_type, i.source \
     FROM events e JOIN ingests i ON i.id = e.ingest_id";

/// How far an event's receipt may be from its id's minting (they are the same
/// instant today; the margin keeps the id range a superset).
const ID_RANGE_SLACK_MS: i64 = 60_000;

pub struct ListFilter<'a> {
    pub endpoint_id: Option<&'a str>,
    pub route_id: Option<&'a RouteRef>,
    pub status: Option<Status>,
    pub event_type: Option<&'a EventTypeFilter>,
    /// `received_at >= since_ms`.
    pub since_ms: Option<i64>,
    /// `received_at < until_ms`.
    pub until_ms: Option<i64>,
    /// Events with this id, whose ingest has one of these dedup keys, or whose
    /// ingest holds this search value.
    pub lookup: Option<&'a Lookup>,
    /// Return events older than this id (ids sort by receipt time).
    pub before_id: Option<&'a str>,
    pub limit: u32,
}

/// Newest first. Only the filters given become conditions, so the query planner
/// can pick the index that serves them (`q` is a handful of primary-key lookups).
pub async fn list(db: &Db, f: &ListFilter<'_>) -> Result<Vec<EventRow>> {
    let (sql, w) = list_sql(f)?;
    bind(db.prepare(sql), &w.args())?.all().await?.results()
}

/// The statement of [`list`] for these filters, with the values it binds.
pub(crate) fn list_sql(f: &ListFilter<'_>) -> Result<(String, Conditions)> {
    let mut w = Conditions::default();
    if let Some(endpoint_id) = f.endpoint_id {
        w.compare("e.endpoint_id =", endpoint_id);
    }
    if let Some(route_id) = f.route_id {
        let route = w.param(route_id.as_str());
        // A route's events are its endpoint's with this route (an entry of
        // `events_endpoint` carries it): no index of routes is written.
        if f.endpoint_id.is_none() {
            w.push(format!("e.endpoint_id = {}", endpoint_of_route(&route)));
        }
        w.push(format!("e.route_id = {route}"));
    }
    if let Some(status) = f.status {
        // A literal (the enum's own name), so the partial indexes that hold
        // only dead events serve the dead letters (of every endpoint, or of
        // one), and the open events' index term (migrations/0016) a route's
        // events not delivered.
        w.push(format!("e.status = '{}'", status.as_str()));
        if status != Status::Delivered {
            w.push("e.status <> 'delivered'".to_string());
        }
    }
    match f.event_type {
        Some(EventTypeFilter::Exact(name)) => w.compare("i.event_type =", name.as_str()),
        Some(EventTypeFilter::Prefix { from, before }) => {
            w.compare("i.event_type >=", from.as_str());
            if let Some(before) = before {
                w.compare("i.event_type <", before.as_str());
            }
        }
        None => {}
    }
    // An event's id is minted at its receipt, so a time range is also a range
    // of ids, which the primary key (or the endpoint's or route's id index)
    // serves in the list's own order. The receipt stays the exact condition;
    // the id bounds are a little wider.
    if let Some(since) = f.since_ms {
        w.compare("e.received_at >=", since);
        w.compare(
            "e.id >=",
            EventId::first_minted_at(since - ID_RANGE_SLACK_MS).as_str(),
        );
    }
    if let Some(until) = f.until_ms {
        w.compare("e.received_at <", until);
        w.compare(
            "e.id <",
            EventId::first_minted_at(until + ID_RANGE_SLACK_MS).as_str(),
        );
    }
    if let Some(lookup) = f.lookup {
        let keys = serde_json::to_string(&lookup.dedup_keys).map_err(worker::Error::from)?;
        // A dedup key names its ingest for as long as the ingest is in D1
        // (migrations/0024): each endpoint's keys by their primary key.
        let by_key = format!(
            concat!(
                "SELECT k.id FROM endpoints kp CROSS JOIN dedup_keys kd \
                   ON kd.endpoint_id = kp.id AND kd.dedup_key IN (SELECT value FROM json_each({})) \
                 JOIN events k ON ",
                event_of_ingest!("k", "kd.ingest_id"),
            ),
            w.param(keys.as_str())
        );
        let by_value = format!(
            concat!(
                "SELECT s.id FROM search_values sv JOIN events s ON ",
                event_of_ingest!("s", "sv.ingest_id"),
                " WHERE sv.value = {}"
            ),
            w.param(lookup.value.as_str())
        );
        let matches = match &lookup.event_id {
            Some(id) => format!(
                "SELECT {} UNION ALL {by_key} UNION ALL {by_value}",
                w.param(id.as_str())
            ),
            None => format!("{by_key} UNION ALL {by_value}"),
        };
        w.push(format!("e.id IN ({matches})"));
    }
    if let Some(before) = f.before_id {
        w.compare("e.id <", before);
    }
    let limit = w.param(i64::from(f.limit));
    let sql = format!(
        "{EVENT_SELECT} {} ORDER BY e.id DESC LIMIT {limit}",
        w.clause()
    );
    Ok((sql, w))
}

/// SQL: whether the database holds an event.
pub(crate) const IS_HERE: &str = "SELECT 1 AS here FROM events WHERE id = ?1";

/// Whether this database holds event `id` (by its primary key).
pub async fn is_here(db: &Db, id: &str) -> Result<bool> {
    let found: Option<serde_json::Value> =
        bind(db.prepare(IS_HERE), &[text(id)])?.first(None).await?;
    Ok(found.is_some())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<EventRow>> {
    bind(
        db.prepare(format!("{EVENT_SELECT} WHERE e.id = ?1")),
        &[text(id)],
    )?
    .first(None)
    .await
}

const REPLAY_SET: &str = "status = 'received', cycle_attempts = 0, next_attempt_at = ?2, \
                          lease_until = NULL, lease_token = NULL, rate_slot_at = NULL, \
                          dead_reason = NULL, updated_at = ?2";

/// `dead` or `delivered` -> `received`, keeping the attempt history. `false` when
/// the event is missing or still in flight.
pub async fn replay_one(db: &Db, id: &str, now_ms: i64) -> Result<bool> {
    let sql =
        format!("UPDATE events SET {REPLAY_SET} WHERE id = ?1 AND status IN ('dead', 'delivered')");
    let result = bind(db.prepare(sql), &[text(id), int(now_ms)])?
        .run()
        .await?;
    Ok(changes(&result)? > 0)
}

/// Replays up to `limit` dead events (oldest first), of one endpoint, one
/// route, or all.
pub async fn replay_dead(
    db: &Db,
    endpoint_id: Option<&str>,
    route_id: Option<&RouteRef>,
    limit: u32,
    now_ms: i64,
) -> Result<Vec<Changed>> {
    let sql = format!(
        "UPDATE events SET {REPLAY_SET} WHERE id IN \
           (SELECT id FROM events WHERE status = 'dead' AND (?1 IS NULL OR endpoint_id = ?1) \
              AND (?4 IS NULL OR route_id = ?4) \
            ORDER BY id LIMIT ?3) \
         {CHANGED}"
    );
    bind(
        db.prepare(sql),
        &[
            opt_text(endpoint_id),
            int(now_ms),
            int(i64::from(limit)),
            opt_text(route_id.map(RouteRef::as_str)),
        ],
    )?
    .all()
    .await?
    .results()
}

/// Where a page of due events ends: the next page starts after it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DueCursor {
    pub next_attempt_at: f64,
    pub id: EventId,
}

#[derive(Deserialize)]
struct DueRow {
    id: EventId,
    next_attempt_at: f64,
}

/// Events the queue has not handled in time: `received`/`retrying` due before
/// `due_before` (expired leases were returned to these states first, see
/// [`release_expired_leases`]). Oldest first, skipping routes that are paused,
/// pulled by a client, or have an open circuit, and FIFO events that are not at
/// the head of their route's line; a deleted route's events are always taken,
/// so they end dead instead of waiting behind the row's old state. A page of
/// at most `limit`, after `after` (keyset order: `next_attempt_at`, then id),
/// so one sweep can walk a whole backlog without taking an event twice.
pub async fn due_for_sweep(
    db: &Db,
    due_before_ms: i64,
    after: Option<&DueCursor>,
    limit: u32,
) -> Result<(Vec<EventId>, Option<DueCursor>)> {
    let rows: Vec<DueRow> = bind(
        db.prepare(DUE_FOR_SWEEP),
        &[
            int(due_before_ms),
            int(i64::from(limit)),
            after.map_or(JsValue::NULL, |c| JsValue::from_f64(c.next_attempt_at)),
            opt_text(after.map(|c| c.id.as_str())),
        ],
    )?
    .all()
    .await?
    .results()?;
    let cursor = rows.last().map(|r| DueCursor {
        next_attempt_at: r.next_attempt_at,
        id: r.id.clone(),
    });
    Ok((rows.into_iter().map(|r| r.id).collect(), cursor))
}

/// The statement of [`due_for_sweep`]: ?1 = due before, ?2 = the limit, ?3
/// and ?4 = the cursor (`next_attempt_at`, id) of the previous page, or NULL.
///
/// Driven from the routes: the outer loop reads the `endpoints` rows (every
/// endpoint and route: the small control table) and keeps a route that is
/// deleted, or open for pushing (not paused, circuit closed, push); only for
/// those does it search `events_route_open (route_id, status,
/// next_attempt_at)`, so the backlog of a paused, open-circuit or pull route is
/// never read. `CROSS JOIN` pins that loop order (SQLite never reorders it).
/// The conditions are those of "deleted, or (open for pushing and (not FIFO or
/// at the head of its line))", split between the two loops. The sort reads
/// the due events of eligible routes only: those are what the sweeper takes.
pub(crate) const DUE_FOR_SWEEP: &str =
    "SELECT e.id, e.next_attempt_at FROM endpoints ep CROSS JOIN events e \
     WHERE (ep.deleted_at IS NOT NULL \
            OR (ep.paused = 0 AND ep.circuit_state = 'closed' AND ep.destination_type = 'push')) \
       AND e.route_id = ep.id \
       AND e.status <> 'delivered' AND e.status IN ('received', 'retrying') \
       AND e.next_attempt_at <= ?1 \
       AND (ep.deleted_at IS NOT NULL OR ep.fifo = 0 \
            OR NOT EXISTS (SELECT 1 FROM events older \
                           WHERE older.route_id = e.route_id AND older.id < e.id \
                             AND older.status <> 'delivered' \
                             AND older.status IN ('received', 'delivering', 'retrying'))) \
       AND (?3 IS NULL OR e.next_attempt_at > ?3 OR (e.next_attempt_at = ?3 AND e.id > ?4)) \
     ORDER BY e.next_attempt_at, e.id LIMIT ?2";

/// An in-flight event waiting for its turn.
#[derive(Debug, Clone, Deserialize)]
pub struct Waiting {
    pub id: EventId,
    pub status: String,
    pub next_attempt_at: f64,
}

/// The route's waiting events (`received`/`retrying`), oldest first: what a
/// resume or a closing circuit drains.
pub async fn waiting(db: &Db, route_id: &RouteRef, limit: u32) -> Result<Vec<Waiting>> {
    bind(
        db.prepare(WAITING),
        &[text(route_id.as_str()), int(i64::from(limit))],
    )?
    .all()
    .await?
    .results()
}

/// The statement of [`waiting`]: ?1 = the route, ?2 = the limit.
pub(crate) const WAITING: &str = "SELECT id, status, next_attempt_at FROM events \
     WHERE route_id = ?1 AND status <> 'delivered' AND status IN ('received', 'retrying') \
     ORDER BY id LIMIT ?2";

/// The oldest in-flight event of the route: the head of a FIFO line.
pub async fn head_of_line(db: &Db, route_id: &RouteRef) -> Result<Option<Waiting>> {
    bind(db.prepare(HEAD_OF_LINE), &[text(route_id.as_str())])?
        .first(None)
        .await
}

/// The statement of [`head_of_line`]: ?1 = the route.
pub(crate) const HEAD_OF_LINE: &str = "SELECT id, status, next_attempt_at FROM events \
     WHERE route_id = ?1 AND status <> 'delivered' \
       AND status IN ('received', 'delivering', 'retrying') ORDER BY id LIMIT 1";

/// Dead-letters an event whose queue message the dead-letter queue received:
/// only one whose deliverer's lease expired mid-attempt (the mark of a message
/// that keeps crashing its consumer). A live lease belongs to a deliverer still
/// at work, and a `received` or `retrying` event was merely not reached
/// (D1 errors, a consumer that failed before claiming): the sweeper delivers
/// those, so marking them dead would kill an event nobody tried.
/// Returns the event when it was marked.
pub async fn mark_dead_letter(
    db: &Db,
    id: &str,
    reason: &str,
    now_ms: i64,
) -> Result<Option<Changed>> {
    let sql = format!(
        "UPDATE events SET status = 'dead', dead_reason = ?2, last_error = ?2, lease_until = NULL, \
                lease_token = NULL, rate_slot_at = NULL, updated_at = ?3 \
         WHERE id = ?1 AND status = 'delivering' AND lease_until <= ?3 {CHANGED}"
    );
    bind(db.prepare(sql), &[text(id), text(reason), int(now_ms)])?
        .first(None)
        .await
}

/// Which deleted routes' waiting events to end.
pub enum Deleted<'a> {
    /// Every route of this endpoint (the endpoint was deleted).
    Endpoint(&'a str),
    /// One extra route.
    Route(&'a str),
}

/// Ends the waiting events of deleted routes: `dead` with "the route was
/// deleted", replayable. Events in `delivering` finish their attempt; their
/// next claim ends them the same way (the claim's gates ignore a deleted row).
pub fn end_events_of_deleted(db: &Db, deleted: Deleted<'_>, now_ms: i64) -> Result<Stmt> {
    let (scope, id) = match deleted {
        Deleted::Endpoint(id) => (OF_THE_ENDPOINTS_ROUTES, id),
        Deleted::Route(id) => ("AND route_id = ?1", id),
    };
    let sql = end_events_of_deleted_sql(scope);
    bind(
        db.prepare(sql),
        &[text(id), text(ROUTE_DELETED), int(now_ms)],
    )
}

/// The statement of [`end_events_of_deleted`] for the routes `scope` names.
pub(crate) fn end_events_of_deleted_sql(scope: &str) -> String {
    format!(
        "UPDATE events SET status = 'dead', dead_reason = ?2, last_error = ?2, \
                rate_slot_at = NULL, updated_at = ?3 \
         WHERE status <> 'delivered' AND status IN ('received', 'retrying') {scope} \
         {CHANGED}"
    )
}

/// Why an event of a deleted route ended.
pub const ROUTE_DELETED: &str = "the route was deleted";

/// The conservation figures: `received = delivered + dead + in_flight`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    pub received: f64,
    pub delivered: f64,
    pub dead: f64,
    pub in_flight: f64,
}

/// One endpoint's events, or every event.
pub async fn counts(db: &Db, endpoint_id: Option<&str>) -> Result<Counts> {
    match endpoint_id {
        Some(id) => counts_where(db, &counts_of_endpoint_sql(), &[text(id)]).await,
        None => counts_where(db, &counts_overall_sql(), &[]).await,
    }
}

/// The same figures for one route's events: `events = delivered + dead + in_flight`.
pub async fn route_counts(db: &Db, route_id: &RouteRef) -> Result<Counts> {
    counts_where(db, &counts_of_route_sql(), &[text(route_id.as_str())]).await
}

/// Rows that count events by status through indexes alone, to sum (by `key`,
/// a column, when given): every event in `scope` (`AND ...` conditions, or
/// none) as delivered, then each event not delivered in `open_scope` (the
/// same events, said so that an index of open events serves it) moved from
/// delivered to its own status. The first row reads an index of ids (every
/// event has one entry), the second an index of the events not delivered
/// (the few in flight and dead; see migrations/0016). Columns: `key`, then
/// received, delivered, dead, in_flight.
pub(crate) fn status_count_rows(key: Option<&str>, scope: &str, open_scope: &str) -> String {
    // The open events are grouped by `+key`: grouping by the column itself
    // would have the planner walk an index of every event in its order.
    let (select, group, open_group) = match key {
        Some(k) => (
            format!("{k}, "),
            format!(" GROUP BY {k}"),
            format!(" GROUP BY +{k}"),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    format!(
        "SELECT {select}COUNT(*) AS received, COUNT(*) AS delivered, 0 AS dead, 0 AS in_flight \
         FROM events WHERE 1 {scope}{group} \
         UNION ALL SELECT {select}0, -COUNT(*), COALESCE(SUM(status = 'dead'), 0), \
                          COALESCE(SUM(status <> 'dead'), 0) \
         FROM events WHERE status <> 'delivered' {open_scope}{open_group}"
    )
}

/// An endpoint's (?1) events as its routes' (for `events_route_open`; see
/// migrations/0023): its first route's id is its own, its extra routes name
/// it as their source, and every event has one of them as its route.
pub(crate) const OF_THE_ENDPOINTS_ROUTES: &str =
    concat!("AND ", route_of_endpoint!("route_id", "?1"));

/// [`Counts`] of the events `scope` selects ([`status_count_rows`]), with the
/// events of the same scope that compaction moved to the archive (all
/// delivered; their `archives` rows count them, `archive_scope` selects
/// those). One statement per scope (not `?1 IS NULL OR ...`), so each is
/// planned for its own indexes.
fn counts_of(scope: &str, open_scope: &str, archive_scope: &str) -> String {
    format!(
        "SELECT SUM(received) AS received, SUM(delivered) AS delivered, \
                SUM(dead) AS dead, SUM(in_flight) AS in_flight FROM (\
           {} \
           UNION ALL SELECT COALESCE(SUM(events), 0), COALESCE(SUM(events), 0), 0, 0 \
           FROM archives WHERE 1 {archive_scope})",
        status_count_rows(None, scope, open_scope)
    )
}

/// One endpoint's events (?1), read from `events_endpoint` and its routes'
/// `events_route_open`, and its archive rows from `archives_endpoint_hour`.
pub(crate) fn counts_of_endpoint_sql() -> String {
    counts_of(
        "AND endpoint_id = ?1",
        OF_THE_ENDPOINTS_ROUTES,
        "AND endpoint_id = ?1",
    )
}

/// One route's events (?1), read from its endpoint's `events_endpoint`
/// entries (which carry the route) and `events_route_open`, and its archive
/// rows from `archives_route`.
pub(crate) fn counts_of_route_sql() -> String {
    let scope = format!(
        "AND endpoint_id = {} AND route_id = ?1",
        endpoint_of_route("?1")
    );
    counts_of(&scope, "AND route_id = ?1", "AND route_id = ?1")
}

/// Every event: necessarily a read of every entry of an index of ids (and of
/// the open events), and of every archive row (one per object of a few
/// hundred events).
pub(crate) fn counts_overall_sql() -> String {
    counts_of("", "", "")
}

async fn counts_where(db: &Db, sql: &str, args: &[JsValue]) -> Result<Counts> {
    let row: Option<Counts> = bind(db.prepare(sql), args)?.first(None).await?;
    Ok(row.unwrap_or(Counts {
        received: 0.0,
        delivered: 0.0,
        dead: 0.0,
        in_flight: 0.0,
    }))
}
