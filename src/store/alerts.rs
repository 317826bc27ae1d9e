//! The `alert_channels` table, and the reads the sweeper's alert step needs.

use super::{bind, changes, int, opt_text, text};
use crate::alerts::EndpointCount;
use serde::Deserialize;
use worker::{D1Database, Result};

#[derive(Debug, Clone, Deserialize)]
pub struct Channel {
    pub id: String,
    pub kind: String,
    pub url: String,
    pub secret: Option<String>,
    pub created_at: f64,
}

pub async fn insert(db: &D1Database, c: &Channel) -> Result<()> {
    bind(
        db.prepare("INSERT INTO alert_channels (id, kind, url, secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"),
        &[text(&c.id), text(&c.kind), text(&c.url), opt_text(c.secret.as_deref()), int(c.created_at as i64)],
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn list(db: &D1Database) -> Result<Vec<Channel>> {
    db.prepare("SELECT id, kind, url, secret, created_at FROM alert_channels ORDER BY id")
        .all()
        .await?
        .results()
}

pub async fn get(db: &D1Database, id: &str) -> Result<Option<Channel>> {
    bind(
        db.prepare("SELECT id, kind, url, secret, created_at FROM alert_channels WHERE id = ?1"),
        &[text(id)],
    )?
    .first(None)
    .await
}

pub async fn delete(db: &D1Database, id: &str) -> Result<bool> {
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

/// Events that went dead in `(after_ms, until_ms]`, per endpoint.
pub async fn dead_between(
    db: &D1Database,
    after_ms: i64,
    until_ms: i64,
) -> Result<Vec<EndpointCount>> {
    let rows: Vec<CountRow> = bind(
        db.prepare(
            "SELECT e.endpoint_id AS endpoint_id, ep.name AS name, COUNT(*) AS n FROM events e \
             LEFT JOIN endpoints ep ON ep.id = e.endpoint_id \
             WHERE e.status = 'dead' AND e.updated_at > ?1 AND e.updated_at <= ?2 \
             GROUP BY e.endpoint_id ORDER BY e.endpoint_id",
        ),
        &[int(after_ms), int(until_ms)],
    )?
    .all()
    .await?
    .results()?;
    Ok(into_counts(rows))
}

/// Refusals logged since `since_ms`, per endpoint.
pub async fn refusals_since(db: &D1Database, since_ms: i64) -> Result<Vec<EndpointCount>> {
    let rows: Vec<CountRow> = bind(
        db.prepare(
            "SELECT r.endpoint_id AS endpoint_id, ep.name AS name, COUNT(*) AS n FROM rejections r \
             LEFT JOIN endpoints ep ON ep.id = r.endpoint_id \
             WHERE r.at > ?1 GROUP BY r.endpoint_id ORDER BY r.endpoint_id",
        ),
        &[int(since_ms)],
    )?
    .all()
    .await?
    .results()?;
    Ok(into_counts(rows))
}

#[derive(Debug, Deserialize)]
pub struct EndpointHealth {
    pub id: String,
    pub name: String,
    pub circuit_state: String,
    pub circuit_failures: f64,
}

pub async fn endpoint_health(db: &D1Database) -> Result<Vec<EndpointHealth>> {
    db.prepare(
        "SELECT id, name, circuit_state, circuit_failures FROM endpoints WHERE deleted_at IS NULL",
    )
    .all()
    .await?
    .results()
}
