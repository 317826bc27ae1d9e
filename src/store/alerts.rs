//! The `alert_channels` table, and the reads the sweeper's alert step needs.

use super::{bind, changes, int, opt_text, text, Db};
use crate::alerts::{ChannelKind, EndpointCount, RouteCount, Target};
use crate::model::AlertChannelId;
use serde::Deserialize;
use worker::Result;

#[derive(Debug, Clone, Deserialize)]
pub struct Channel {
    pub id: AlertChannelId,
    pub kind: ChannelKind,
    pub url: String,
    pub secret: Option<String>,
    pub created_at: f64,
}

pub async fn insert(db: &Db, c: &Channel) -> Result<()> {
    bind(
        db.prepare("INSERT INTO alert_channels (id, kind, url, secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"),
        &[text(&c.id), text(c.kind.as_str()), text(&c.url), opt_text(c.secret.as_deref()), int(c.created_at as i64)],
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn list(db: &Db) -> Result<Vec<Channel>> {
    db.prepare(LIST).all().await?.results()
}

/// The statement of [`list`]: every channel (a handful of rows).
pub(crate) const LIST: &str =
    "SELECT id, kind, url, secret, created_at FROM alert_channels ORDER BY id";

pub async fn get(db: &Db, id: &str) -> Result<Option<Channel>> {
    bind(
        db.prepare("SELECT id, kind, url, secret, created_at FROM alert_channels WHERE id = ?1"),
        &[text(id)],
    )?
    .first(None)
    .await
}

pub async fn delete(db: &Db, id: &str) -> Result<bool> {
    let r = bind(
        db.prepare("DELETE FROM alert_channels WHERE id = ?1"),
        &[text(id)],
    )?
    .run()
    .await?;
    Ok(changes(&r)? > 0)
}

#[derive(Deserialize)]
struct CountRow {
    endpoint_id: String,
    name: Option<String>,
    n: f64,
}

fn into_counts(rows: Vec<CountRow>) -> Vec<EndpointCount> {
    rows.into_iter()
        .map(|r| EndpointCount {
            name: r.name.unwrap_or_else(|| r.endpoint_id.clone()),
            endpoint_id: r.endpoint_id,
            count: r.n as i64,
        })
        .collect()
}

#[derive(Deserialize)]
struct RouteCountRow {
    endpoint_id: String,
    name: Option<String>,
    route_id: String,
    route_name: Option<String>,
    n: f64,
}

/// Events that went dead in `(after_ms, until_ms]`, per route (with its
/// endpoint), each endpoint's first route first.
pub async fn dead_between(db: &Db, after_ms: i64, until_ms: i64) -> Result<Vec<RouteCount>> {
    let rows: Vec<RouteCountRow> = bind(db.prepare(DEAD_BETWEEN), &[int(after_ms), int(until_ms)])?
        .all()
        .await?
        .results()?;
    Ok(rows
        .into_iter()
        .map(|r| RouteCount {
            target: target(r.endpoint_id, r.name, r.route_id, r.route_name),
            count: r.n as i64,
        })
        .collect())
}

/// The statement of [`dead_between`]: ?1 = after, ?2 = until. A range on
/// `events_dead_changed (updated_at) WHERE status = 'dead'`: the events that went dead in
/// the interval, not every dead event.
pub(crate) const DEAD_BETWEEN: &str =
    "SELECT e.endpoint_id AS endpoint_id, ep.name AS name, e.route_id AS route_id, \
            r.name AS route_name, COUNT(*) AS n FROM events e \
     LEFT JOIN endpoints ep ON ep.id = e.endpoint_id \
     LEFT JOIN endpoints r ON r.id = e.route_id \
     WHERE e.status = 'dead' AND e.updated_at > ?1 AND e.updated_at <= ?2 \
     GROUP BY e.endpoint_id, e.route_id \
     ORDER BY e.endpoint_id, e.route_id <> e.endpoint_id, e.route_id";

/// A route named for alerts; a row that is gone is named by its id.
fn target(
    endpoint_id: String,
    endpoint_name: Option<String>,
    route_id: String,
    route_name: Option<String>,
) -> Target {
    Target {
        endpoint_name: endpoint_name.unwrap_or_else(|| endpoint_id.clone()),
        route_name: route_name.unwrap_or_else(|| route_id.clone()),
        endpoint_id,
        route_id,
    }
}

/// Refusals logged since `since_ms`, per endpoint.
pub async fn refusals_since(db: &Db, since_ms: i64) -> Result<Vec<EndpointCount>> {
    let rows: Vec<CountRow> = bind(db.prepare(REFUSALS_SINCE), &[int(since_ms)])?
        .all()
        .await?
        .results()?;
    Ok(into_counts(rows))
}

/// The statement of [`refusals_since`]: ?1 = since. A range on `rejections_at`,
/// its rows grouped with a sort; the unary `+` in `GROUP BY` keeps the planner
/// from walking the whole of `rejections_endpoint` to get the groups in order.
pub(crate) const REFUSALS_SINCE: &str =
    "SELECT r.endpoint_id AS endpoint_id, ep.name AS name, COUNT(*) AS n FROM rejections r \
     LEFT JOIN endpoints ep ON ep.id = r.endpoint_id \
     WHERE r.at > ?1 GROUP BY +r.endpoint_id ORDER BY r.endpoint_id";

/// The statement of [`route_health`]: every live route (a read of `endpoints`,
/// the control table, and no event).
pub(crate) const ROUTE_HEALTH: &str = "SELECT COALESCE(r.source_id, r.id) AS endpoint_id, \
            COALESCE(src.name, r.name) AS name, r.id AS route_id, r.name AS route_name, \
            r.circuit_state, r.circuit_failures FROM endpoints r \
     LEFT JOIN endpoints src ON src.id = r.source_id \
     WHERE r.deleted_at IS NULL";

#[derive(Deserialize)]
struct RouteHealthRow {
    endpoint_id: String,
    name: Option<String>,
    route_id: String,
    route_name: String,
    circuit_state: String,
    circuit_failures: f64,
}

/// A live route's breaker state (every endpoint's first route included).
#[derive(Debug)]
pub struct RouteHealth {
    pub target: Target,
    pub circuit_state: String,
    pub circuit_failures: f64,
}

pub async fn route_health(db: &Db) -> Result<Vec<RouteHealth>> {
    let rows: Vec<RouteHealthRow> = db.prepare(ROUTE_HEALTH).all().await?.results()?;
    Ok(rows
        .into_iter()
        .map(|r| RouteHealth {
            target: target(r.endpoint_id, r.name, r.route_id, Some(r.route_name)),
            circuit_state: r.circuit_state,
            circuit_failures: r.circuit_failures,
        })
        .collect())
}
