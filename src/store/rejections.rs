//! The `rejections` and `rejection_counts` tables: why requests were refused.
//!
//! Each refusal of a known endpoint is logged (kept: the newest 100 per endpoint,
//! for 24 hours) and counted per reason; a request to no known endpoint is only
//! counted, under the endpoint id `''`.

use super::{bind, int, opt_text, text};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use worker::{D1Database, Result};

pub const KEEP_PER_ENDPOINT: i64 = 100;
pub const KEEP_FOR_MS: i64 = 24 * 3600 * 1000;

pub struct Refusal<'a> {
    pub endpoint_id: Option<&'a str>,
    pub reason: &'a str,
    pub source_ip: Option<&'a str>,
    /// Already redacted.
    pub headers_json: &'a str,
    pub body_size: usize,
    pub at_ms: i64,
}

/// Logs and counts one refusal in a single batch.
pub async fn record(db: &D1Database, r: &Refusal<'_>) -> Result<()> {
    let endpoint = r.endpoint_id.unwrap_or("");
    let mut statements = vec![bind(
        db.prepare(
            "INSERT INTO rejection_counts (endpoint_id, reason, count, last_at) VALUES (?1, ?2, 1, ?3) \
             ON CONFLICT (endpoint_id, reason) DO UPDATE SET count = count + 1, last_at = excluded.last_at",
        ),
        &[text(endpoint), text(r.reason), int(r.at_ms)],
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
pub async fn list(db: &D1Database, endpoint_id: &str, now_ms: i64) -> Result<Vec<RejectionRow>> {
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
pub async fn counts(db: &D1Database, endpoint_id: Option<&str>) -> Result<BTreeMap<String, i64>> {
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
pub async fn purge_expired(db: &D1Database, now_ms: i64, limit: u32) -> Result<()> {
    bind(
        db.prepare("DELETE FROM rejections WHERE id IN (SELECT id FROM rejections WHERE at <= ?1 LIMIT ?2)"),
        &[int(now_ms - KEEP_FOR_MS), int(i64::from(limit))],
    )?
    .run()
    .await?;
    Ok(())
}
