//! The `endpoints` table: configuration, and the live delivery state (pause,
//! circuit breaker, rate-limit TAT) that the delivery claim checks.
//!
//! A row is either an endpoint (`source_id` NULL; it is also its own first
//! route) or an extra route of one (`rt_` id, `source_id` = the endpoint).
//! Both are delivery targets, so the claim's gates read either alike.

use super::events::{self, Changed, Deleted};
use super::{bind, changes, int, opt_int, opt_text, text, Db, Stmt};
use crate::model::{
    CircuitConfig, DestinationType, Endpoint, EndpointId, EndpointState, Route, RouteId, RouteRef,
    Secret, Source, SourceRoutes,
};
use crate::rate::RateLimit;
use crate::retry::RetryPolicy;
use crate::verify::Provider;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{Error, Result};

const COLUMNS: &str = "id, name, provider, secrets, relay_secret, destination_url, \
     retry_schedule, timeout_ms, created_at, updated_at, max_attempts, jitter, max_delay_s, \
     retry_client_errors, circuit_threshold, circuit_probe_base_s, rate_limit_per_s, fifo, \
     scheme_config, verify_token, allowed_cidrs, disabled, retention_days, destination_type, \
     paused, paused_reason, paused_at, circuit_state, circuit_failures, circuit_changed_at, \
     circuit_next_probe_at, circuit_probe_interval_s, source_id, filter, transform, search_fields, \
     catch_up";

#[derive(Deserialize)]
struct Row {
    id: String,
    name: String,
    provider: String,
    secrets: String,
    relay_secret: String,
    destination_url: String,
    retry_schedule: String,
    timeout_ms: f64,
    created_at: f64,
    updated_at: f64,
    max_attempts: Option<f64>,
    jitter: f64,
    max_delay_s: f64,
    retry_client_errors: f64,
    circuit_threshold: f64,
    circuit_probe_base_s: f64,
    rate_limit_per_s: Option<f64>,
    fifo: f64,
    scheme_config: String,
    verify_token: Option<String>,
    allowed_cidrs: String,
    disabled: f64,
    retention_days: Option<f64>,
    destination_type: String,
    paused: f64,
    paused_reason: Option<String>,
    paused_at: Option<f64>,
    circuit_state: String,
    circuit_failures: f64,
    circuit_changed_at: Option<f64>,
    circuit_next_probe_at: Option<f64>,
    circuit_probe_interval_s: f64,
    source_id: Option<String>,
    filter: Option<String>,
    transform: Option<String>,
    search_fields: Option<String>,
    catch_up: Option<String>,
}

impl Row {
    /// The row of an endpoint: its source and its first route.
    fn into_parts(self) -> Result<(Endpoint, EndpointState)> {
        let source = self.source()?;
        let (route, state) = self.into_route()?;
        Ok((Endpoint { source, route }, state))
    }

    /// The source settings of the row (a route row has none of its own: its
    /// provider is `none` and its lists empty).
    fn source(&self) -> Result<Source> {
        let id = EndpointId::parse(&self.id)
            .ok_or_else(|| Error::RustError(format!("bad endpoint id in D1: {}", self.id)))?;
        Ok(Source {
            id,
            name: self.name.clone(),
            provider: Provider::parse(&self.provider).ok_or_else(|| {
                Error::RustError(format!("unknown provider in D1: {}", self.provider))
            })?,
            secrets: parse_secrets(&self.secrets)?,
            scheme_config: serde_json::from_str(&self.scheme_config)?,
            verify_token: self.verify_token.clone(),
            search_fields: self
                .search_fields
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?
                .unwrap_or_default(),
            catch_up: self
                .catch_up
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
            allowed_cidrs: serde_json::from_str(&self.allowed_cidrs)?,
            disabled: self.disabled != 0.0,
            retention_days: self.retention_days,
        })
    }

    /// The row as a route (of its own source, or the endpoint's first), with
    /// its live state.
    fn into_route(self) -> Result<(Route, EndpointState)> {
        let owner = self.source_id.as_deref().unwrap_or(&self.id);
        let source_id = EndpointId::parse(owner)
            .ok_or_else(|| Error::RustError(format!("bad endpoint id in D1: {owner}")))?;
        let selector = self
            .filter
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?;
        let transform = self
            .transform
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?;
        let state = EndpointState {
            paused: self.paused != 0.0,
            paused_reason: self.paused_reason,
            paused_at: self.paused_at.map(|t| t as i64),
            circuit_state: self.circuit_state,
            circuit_failures: self.circuit_failures as u32,
            circuit_changed_at: self.circuit_changed_at.map(|t| t as i64),
            circuit_next_probe_at: self.circuit_next_probe_at.map(|t| t as i64),
            circuit_probe_interval_s: self.circuit_probe_interval_s as u32,
        };
        let id = RouteRef::parse(&self.id)
            .ok_or_else(|| Error::RustError(format!("bad route id in D1: {}", self.id)))?;
        let route = Route {
            id,
            source_id,
            name: self.name,
            relay_secret: self.relay_secret,
            destination_url: self.destination_url,
            destination_type: DestinationType::parse(&self.destination_type)
                .unwrap_or(DestinationType::Push),
            retry: RetryPolicy {
                schedule_s: serde_json::from_str(&self.retry_schedule)?,
                max_attempts: self.max_attempts.map(|n| n as u32),
                jitter: self.jitter,
                max_delay_s: self.max_delay_s as u32,
                retry_client_errors: self.retry_client_errors != 0.0,
            },
            timeout_ms: self.timeout_ms as u32,
            circuit: CircuitConfig {
                threshold: self.circuit_threshold as u32,
                probe_interval_s: self.circuit_probe_base_s as u32,
            },
            rate_limit_per_s: self.rate_limit_per_s,
            fifo: self.fifo != 0.0,
            selector,
            transform,
            created_at: self.created_at as i64,
            updated_at: self.updated_at as i64,
        };
        Ok((route, state))
    }
}

/// Secrets as stored: `{"value", "expires_at"}` objects, or plain strings (no expiry).
fn parse_secrets(json: &str) -> Result<Vec<Secret>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Plain(String),
        Full(Secret),
    }
    let stored: Vec<Stored> = serde_json::from_str(json)?;
    Ok(stored
        .into_iter()
        .map(|s| match s {
            Stored::Plain(value) => Secret::new(value),
            Stored::Full(secret) => secret,
        })
        .collect())
}

fn real(v: f64) -> JsValue {
    JsValue::from_f64(v)
}

fn flag(b: bool) -> JsValue {
    int(i64::from(b))
}

/// Bindings ?1..?28 for insert and update, in CONFIG_COLUMNS order; `row_id`
/// is the endpoint's id, or an extra route's. The source's columns (?3, ?4,
/// ?19..?23, ?27, ?28) are NULL until [`bind_source`] fills them.
fn config_args(row_id: &str, route: &Route) -> Result<Vec<JsValue>> {
    Ok(vec![
        text(row_id),
        text(&route.name),
        JsValue::NULL,
        JsValue::NULL,
        text(&route.relay_secret),
        text(&route.destination_url),
        text(&serde_json::to_string(&route.retry.schedule_s)?),
        int(i64::from(route.timeout_ms)),
        int(route.created_at),
        int(route.updated_at),
        opt_int(route.retry.max_attempts.map(i64::from)),
        real(route.retry.jitter),
        int(i64::from(route.retry.max_delay_s)),
        flag(route.retry.retry_client_errors),
        int(i64::from(route.circuit.threshold)),
        int(i64::from(route.circuit.probe_interval_s)),
        route.rate_limit_per_s.map_or(JsValue::NULL, real),
        flag(route.fifo),
        JsValue::NULL,
        JsValue::NULL,
        JsValue::NULL,
        JsValue::NULL,
        JsValue::NULL,
        text(route.destination_type.as_str()),
        json_or_null(route.selector.as_ref())?,
        json_or_null(route.transform.as_ref())?,
        JsValue::NULL,
        JsValue::NULL,
    ])
}

/// Fills the source's columns of [`config_args`].
fn bind_source(args: &mut [JsValue], source: &Source) -> Result<()> {
    args[2] = text(source.provider.as_str());
    args[3] = text(&serde_json::to_string(&source.secrets)?);
    args[18] = text(&serde_json::to_string(&source.scheme_config)?);
    args[19] = opt_text(source.verify_token.as_deref());
    args[20] = text(&serde_json::to_string(&source.allowed_cidrs)?);
    args[21] = flag(source.disabled);
    args[22] = source.retention_days.map_or(JsValue::NULL, real);
    let fields = (!source.search_fields.is_empty()).then_some(&source.search_fields);
    args[26] = json_or_null(fields)?;
    args[27] = json_or_null(source.catch_up.as_ref())?;
    Ok(())
}

/// The value as JSON text, or NULL.
fn json_or_null<T: serde::Serialize>(value: Option<&T>) -> Result<JsValue> {
    Ok(match value {
        Some(v) => text(&serde_json::to_string(v)?),
        None => JsValue::NULL,
    })
}

const CONFIG_COLUMNS: &str = "id, name, provider, secrets, relay_secret, destination_url, \
     retry_schedule, timeout_ms, created_at, updated_at, max_attempts, jitter, max_delay_s, \
     retry_client_errors, circuit_threshold, circuit_probe_base_s, rate_limit_per_s, fifo, \
     scheme_config, verify_token, allowed_cidrs, disabled, retention_days, destination_type, \
     filter, transform, search_fields, catch_up";

pub async fn insert(db: &Db, ep: &Endpoint) -> Result<()> {
    let mut args = config_args(ep.source.id.as_str(), &ep.route)?;
    bind_source(&mut args, &ep.source)?;
    args.push(JsValue::NULL);
    insert_row(db, args).await
}

/// Adds an extra route to its source. The row keeps the source's settings
/// as they are (nothing reads them from a route row) but no provider
/// secrets, search fields or catch-up: the source's own row verifies
/// requests.
pub async fn insert_route(db: &Db, source: &Source, route: &Route) -> Result<()> {
    let mut args = config_args(route.id.as_str(), route)?;
    bind_source(&mut args, source)?;
    args[3] = text("[]");
    args[26] = JsValue::NULL;
    args[27] = JsValue::NULL;
    args.push(text(route.source_id.as_str()));
    insert_row(db, args).await
}

/// Inserts a row from ?1..?28 ([`config_args`]) and ?29, its source (NULL
/// for an endpoint's own row).
async fn insert_row(db: &Db, args: Vec<JsValue>) -> Result<()> {
    let placeholders: Vec<String> = (1..=28).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO endpoints ({CONFIG_COLUMNS}, circuit_probe_interval_s, source_id) \
         VALUES ({}, ?16, ?29)",
        placeholders.join(", ")
    );
    bind(db.prepare(sql), &args)?.run().await?;
    Ok(())
}

/// Saves a route's delivery settings (destination, controls, filter,
/// transformation); `false` when it does not exist (or was deleted).
pub async fn update_route(db: &Db, route: &Route) -> Result<bool> {
    let sql = "UPDATE endpoints SET name = ?2, destination_url = ?6, retry_schedule = ?7, \
               timeout_ms = ?8, updated_at = ?10, max_attempts = ?11, jitter = ?12, \
               max_delay_s = ?13, retry_client_errors = ?14, circuit_threshold = ?15, \
               circuit_probe_base_s = ?16, rate_limit_per_s = ?17, fifo = ?18, \
               destination_type = ?24, filter = ?25, transform = ?26 \
               WHERE id = ?1 AND deleted_at IS NULL";
    let mut args = config_args(route.id.as_str(), route)?;
    // ?27, ?28 (search fields, catch-up) are the source's own.
    args.truncate(26);
    let result = bind(db.prepare(sql), &args)?.run().await?;
    Ok(changes(&result)? > 0)
}

/// Saves every editable field; `false` when the endpoint does not exist (or was deleted).
pub async fn update(db: &Db, ep: &Endpoint) -> Result<bool> {
    let sql = "UPDATE endpoints SET name = ?2, provider = ?3, secrets = ?4, relay_secret = ?5, \
               destination_url = ?6, retry_schedule = ?7, timeout_ms = ?8, updated_at = ?10, \
               max_attempts = ?11, jitter = ?12, max_delay_s = ?13, retry_client_errors = ?14, \
               circuit_threshold = ?15, circuit_probe_base_s = ?16, rate_limit_per_s = ?17, fifo = ?18, \
               scheme_config = ?19, verify_token = ?20, allowed_cidrs = ?21, disabled = ?22, \
               retention_days = ?23, destination_type = ?24, filter = ?25, transform = ?26, \
               search_fields = ?27, catch_up = ?28 \
               WHERE id = ?1 AND deleted_at IS NULL AND source_id IS NULL";
    let mut args = config_args(ep.source.id.as_str(), &ep.route)?;
    bind_source(&mut args, &ep.source)?;
    let result = bind(db.prepare(sql), &args)?.run().await?;
    Ok(changes(&result)? > 0)
}

pub async fn get_with_state(db: &Db, id: &EndpointId) -> Result<Option<(Endpoint, EndpointState)>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM endpoints WHERE id = ?1 AND deleted_at IS NULL AND source_id IS NULL"
    );
    let row: Option<Row> = bind(db.prepare(sql), &[text(id.as_str())])?
        .first(None)
        .await?;
    row.map(Row::into_parts).transpose()
}

pub async fn get(db: &Db, id: &EndpointId) -> Result<Option<Endpoint>> {
    Ok(get_with_state(db, id).await?.map(|(ep, _)| ep))
}

pub async fn list(db: &Db) -> Result<Vec<(Endpoint, EndpointState)>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM endpoints WHERE deleted_at IS NULL AND source_id IS NULL ORDER BY id"
    );
    let rows: Vec<Row> = db.prepare(sql).all().await?.results()?;
    rows.into_iter().map(Row::into_parts).collect()
}

/// The endpoint's source and its live routes, first route (the endpoint)
/// first: one read, so the ack path's endpoint lookup costs no extra round
/// trip.
pub async fn get_with_routes(db: &Db, id: &EndpointId) -> Result<Option<SourceRoutes>> {
    Ok(routes_with_state(db, id)
        .await?
        .map(|(source, routes)| SourceRoutes {
            source,
            routes: routes.into_iter().map(|(r, _)| r).collect(),
        }))
}

/// Like [`get_with_routes`], with each route's live state.
pub async fn routes_with_state(
    db: &Db,
    id: &EndpointId,
) -> Result<Option<(Source, Vec<(Route, EndpointState)>)>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM endpoints \
         WHERE (id = ?1 OR source_id = ?1) AND deleted_at IS NULL \
         ORDER BY source_id IS NOT NULL, id"
    );
    let rows: Vec<Row> = bind(db.prepare(sql), &[text(id.as_str())])?
        .all()
        .await?
        .results()?;
    let Some(source) = rows
        .first()
        .filter(|first| first.id == id.as_str() && first.source_id.is_none())
        .map(Row::source)
        .transpose()?
    else {
        return Ok(None);
    };
    let routes = rows
        .into_iter()
        .map(Row::into_route)
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((source, routes)))
}

/// Any delivery target by its id: an endpoint (its first route) or an extra route.
pub async fn get_route(db: &Db, route_id: &RouteRef) -> Result<Option<(Route, EndpointState)>> {
    let sql = format!("SELECT {COLUMNS} FROM endpoints WHERE id = ?1 AND deleted_at IS NULL");
    let row: Option<Row> = bind(db.prepare(sql), &[text(route_id.as_str())])?
        .first(None)
        .await?;
    row.map(Row::into_route).transpose()
}

/// What deleting an endpoint or a route did.
pub struct Deletion {
    /// `false`: it was already deleted, or never existed.
    pub deleted: bool,
    /// The waiting events it ended dead.
    pub ended: Vec<Changed>,
}

/// The events the batch's second statement ([`events::end_events_of_deleted`]) ended.
fn ended(results: &[worker::D1Result]) -> Result<Vec<Changed>> {
    match results.get(1) {
        Some(r) => r.results(),
        None => Ok(Vec::new()),
    }
}

/// Deletes the endpoint and, with it, its routes; their waiting events end
/// dead ("the route was deleted") in the same batch, so none waits forever
/// behind a row nobody can resume, probe or lease any more.
pub async fn soft_delete(db: &Db, id: &EndpointId, now_ms: i64) -> Result<Deletion> {
    let delete = bind(
        db.prepare(
            "UPDATE endpoints SET deleted_at = ?2, updated_at = ?2 \
             WHERE (id = ?1 OR source_id = ?1) AND deleted_at IS NULL \
             RETURNING id",
        ),
        &[text(id.as_str()), int(now_ms)],
    )?;
    let end = events::end_events_of_deleted(db, Deleted::Endpoint(id.as_str()), now_ms)?;
    let results = db.batch(vec![delete, end]).await?;
    let rows: Vec<IdRow> = match results.first() {
        Some(r) => r.results()?,
        None => Vec::new(),
    };
    Ok(Deletion {
        deleted: rows.iter().any(|r| r.id == id.as_str()),
        ended: ended(&results)?,
    })
}

/// Deletes an extra route (never an endpoint's first route), and ends its
/// waiting events as [`soft_delete`] does.
pub async fn soft_delete_route(db: &Db, route_id: &RouteId, now_ms: i64) -> Result<Deletion> {
    let delete = bind(
        db.prepare(
            "UPDATE endpoints SET deleted_at = ?2, updated_at = ?2 \
             WHERE id = ?1 AND source_id IS NOT NULL AND deleted_at IS NULL",
        ),
        &[text(route_id.as_str()), int(now_ms)],
    )?;
    let end = events::end_events_of_deleted(db, Deleted::Route(route_id.as_str()), now_ms)?;
    let results = db.batch(vec![delete, end]).await?;
    let deleted = match results.first() {
        Some(r) => changes(r)? > 0,
        None => false,
    };
    Ok(Deletion {
        deleted,
        ended: ended(&results)?,
    })
}

/// Holds deliveries (ingest continues). `false` if already paused or missing.
pub fn pause_statement(db: &Db, id: &RouteRef, reason: &str, now_ms: i64) -> Result<Stmt> {
    bind(
        db.prepare(
            "UPDATE endpoints SET paused = 1, paused_reason = ?2, paused_at = ?3 \
             WHERE id = ?1 AND paused = 0 AND deleted_at IS NULL",
        ),
        &[text(id.as_str()), text(reason), int(now_ms)],
    )
}

/// [`pause_statement`] for a delivery that got `410 Gone`: it applies only
/// while that delivery still holds its lease (a stale answer pauses nothing).
pub fn pause_if_leased(
    db: &Db,
    id: &RouteRef,
    reason: &str,
    now_ms: i64,
    (event_id, lease_token): (&str, &str),
) -> Result<Stmt> {
    let sql = format!(
        "UPDATE endpoints SET paused = 1, paused_reason = ?2, paused_at = ?3 \
         WHERE id = ?1 AND paused = 0 AND deleted_at IS NULL AND {}",
        events::lease_held("?4", "?5")
    );
    bind(
        db.prepare(sql),
        &[
            text(id.as_str()),
            text(reason),
            int(now_ms),
            text(event_id),
            text(lease_token),
        ],
    )
}

pub async fn pause(db: &Db, id: &EndpointId, reason: &str, now_ms: i64) -> Result<bool> {
    let result = pause_statement(db, &RouteRef::First(id.clone()), reason, now_ms)?
        .run()
        .await?;
    Ok(changes(&result)? > 0)
}

pub async fn resume(db: &Db, id: &EndpointId) -> Result<bool> {
    let result = bind(
        db.prepare(
            "UPDATE endpoints SET paused = 0, paused_reason = NULL, paused_at = NULL \
             WHERE id = ?1 AND paused = 1 AND deleted_at IS NULL",
        ),
        &[text(id.as_str())],
    )?
    .run()
    .await?;
    Ok(changes(&result)? > 0)
}

#[derive(Deserialize)]
struct TatRow {
    rate_tat: f64,
}

/// Reserves the route's next delivery slot under its rate limit (GCRA, one
/// statement, so every consumer and the sweeper share one limit) and returns
/// when it may start: now, or a later time the caller schedules the event at.
/// Every call takes a slot, so a backlog is spread over future slots once
/// instead of asking again every second.
pub async fn reserve_rate_slot(
    db: &Db,
    id: &RouteRef,
    limit: RateLimit,
    now_ms: i64,
) -> Result<i64> {
    let row: Option<TatRow> = bind(
        db.prepare(
            "UPDATE endpoints SET rate_tat = MAX(rate_tat, ?2) + ?3 WHERE id = ?1 RETURNING rate_tat",
        ),
        &[text(id.as_str()), int(now_ms), int(limit.interval_ms())],
    )?
    .first(None)
    .await?;
    Ok(row.map_or(now_ms, |r| limit.start_of_slot(r.rate_tat as i64, now_ms)))
}

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

/// Endpoints whose circuit is open and whose next probe is due, oldest due first.
pub async fn open_circuits_due(db: &Db, now_ms: i64, limit: u32) -> Result<Vec<RouteRef>> {
    #[derive(Deserialize)]
    struct Due {
        id: RouteRef,
    }
    let due: Vec<Due> = bind(
        db.prepare(OPEN_CIRCUITS_DUE),
        &[int(now_ms), int(i64::from(limit))],
    )?
    .all()
    .await?
    .results()?;
    Ok(due.into_iter().map(|d| d.id).collect())
}

/// The statement of [`open_circuits_due`]: ?1 = now, ?2 = the limit. A range on
/// `endpoints_open_circuits (circuit_state, circuit_next_probe_at)`.
pub(crate) const OPEN_CIRCUITS_DUE: &str =
    "SELECT id FROM endpoints WHERE circuit_state = 'open' AND circuit_next_probe_at <= ?1 \
     AND paused = 0 AND deleted_at IS NULL ORDER BY circuit_next_probe_at LIMIT ?2";

/// Takes the right to send one probe through an open circuit (compare-and-set:
/// one prober per interval, whoever asks).
pub async fn take_probe_slot(db: &Db, id: &RouteRef, now_ms: i64) -> Result<bool> {
    let result = bind(
        db.prepare(
            "UPDATE endpoints SET circuit_next_probe_at = ?2 + circuit_probe_interval_s * 1000 \
             WHERE id = ?1 AND circuit_state = 'open' AND circuit_next_probe_at <= ?2",
        ),
        &[text(id.as_str()), int(now_ms)],
    )?
    .run()
    .await?;
    Ok(changes(&result)? > 0)
}

/// What an attempt means for the circuit breaker.
pub struct CircuitInput {
    pub success: bool,
    /// A failure that means the destination is down.
    pub counted_failure: bool,
    pub probe: bool,
}

/// The circuit-breaker update that goes into the attempt's completion batch.
/// Success closes and resets; a counted failure adds to the streak and opens the
/// circuit at the threshold; a failed probe doubles the probe interval (capped).
/// SQLite evaluates every right-hand side against the row's old values.
pub fn circuit_statement(
    db: &Db,
    id: &RouteRef,
    input: &CircuitInput,
    now_ms: i64,
    (event_id, lease_token): (&str, &str),
) -> Result<Stmt> {
    let opening =
        "(?3 = 1 AND circuit_state = 'closed' AND circuit_failures + 1 >= circuit_threshold)";
    let failed_probe = "(?5 = 1 AND ?3 = 1)";
    // Most attempts succeed against a closed circuit with no streak: writing
    // the same values back would still cost the row (and D1 bills it), so the
    // statement only runs when it changes something.
    let changes_something =
        "(?3 = 1 OR (?2 = 1 AND (circuit_failures <> 0 OR circuit_state <> 'closed' \
                                OR circuit_next_probe_at IS NOT NULL \
                                OR circuit_probe_interval_s <> circuit_probe_base_s)))";
    let sql = format!(
        "UPDATE endpoints SET \
           circuit_failures = CASE WHEN ?2 = 1 THEN 0 WHEN ?3 = 1 THEN circuit_failures + 1 ELSE circuit_failures END, \
           circuit_state = CASE WHEN ?2 = 1 THEN 'closed' WHEN {opening} THEN 'open' ELSE circuit_state END, \
           circuit_changed_at = CASE WHEN ?2 = 1 AND circuit_state = 'open' THEN ?4 \
                                     WHEN {opening} THEN ?4 ELSE circuit_changed_at END, \
           circuit_probe_interval_s = CASE WHEN ?2 = 1 OR {opening} THEN circuit_probe_base_s \
                                           WHEN {failed_probe} THEN MIN(circuit_probe_interval_s * 2, ?6) \
                                           ELSE circuit_probe_interval_s END, \
           circuit_next_probe_at = CASE WHEN ?2 = 1 THEN NULL \
                                        WHEN {opening} THEN ?4 + circuit_probe_base_s * 1000 \
                                        WHEN {failed_probe} THEN ?4 + MIN(circuit_probe_interval_s * 2, ?6) * 1000 \
                                        ELSE circuit_next_probe_at END \
         WHERE id = ?1 AND {changes_something} AND {held}",
        held = events::lease_held("?7", "?8")
    );
    bind(
        db.prepare(sql),
        &[
            text(id.as_str()),
            flag(input.success),
            flag(input.counted_failure),
            int(now_ms),
            flag(input.probe),
            int(i64::from(CircuitConfig::MAX_PROBE_INTERVAL_S)),
            text(event_id),
            text(lease_token),
        ],
    )
}

/// Closes a route's circuit by hand (an operator who knows the destination is
/// back): streak reset, probe interval back to its base. `false` when the
/// route does not exist; closing a closed circuit is not an error.
pub async fn reset_circuit(db: &Db, id: &RouteRef, now_ms: i64) -> Result<bool> {
    let result = bind(
        db.prepare(
            "UPDATE endpoints SET circuit_failures = 0, \
               circuit_changed_at = CASE WHEN circuit_state = 'open' THEN ?2 ELSE circuit_changed_at END, \
               circuit_state = 'closed', circuit_next_probe_at = NULL, \
               circuit_probe_interval_s = circuit_probe_base_s \
             WHERE id = ?1 AND deleted_at IS NULL",
        ),
        &[text(id.as_str()), int(now_ms)],
    )?
    .run()
    .await?;
    Ok(changes(&result)? > 0)
}
