//! The `attempts` table: one row per delivery attempt, kept across replays.

use super::{bind, int, opt_int, opt_text, text, Db, Stmt};
use serde::{Deserialize, Serialize};
use worker::Result;

/// One finished attempt, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptRow {
    pub number: f64,
    pub started_at: f64,
    pub duration_ms: f64,
    pub status_code: Option<f64>,
    pub outcome: String,
    pub error: Option<String>,
    pub response_snippet: Option<String>,
}

/// Inserts the attempt only while `lease_token` still holds the event, so a
/// deliverer whose lease expired (and was superseded) cannot write a second row
/// with the same number.
pub fn insert_if_leased(
    db: &Db,
    event_id: &str,
    lease_token: &str,
    row: &AttemptRow,
) -> Result<Stmt> {
    bind(
        db.prepare(
            "INSERT INTO attempts (event_id, number, started_at, duration_ms, status_code, outcome, \
                                   error, response_snippet) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 \
             WHERE EXISTS (SELECT 1 FROM events \
                           WHERE id = ?1 AND status = 'delivering' AND lease_token = ?9)",
        ),
        &[
            text(event_id),
            int(row.number as i64),
            int(row.started_at as i64),
            int(row.duration_ms as i64),
            opt_int(row.status_code.map(|c| c as i64)),
            text(&row.outcome),
            opt_text(row.error.as_deref()),
            opt_text(row.response_snippet.as_deref()),
            text(lease_token),
        ],
    )
}

pub async fn list(db: &Db, event_id: &str) -> Result<Vec<AttemptRow>> {
    bind(
        db.prepare(
            "SELECT number, started_at, duration_ms, status_code, outcome, error, response_snippet \
             FROM attempts WHERE event_id = ?1 ORDER BY number",
        ),
        &[text(event_id)],
    )?
    .all()
    .await?
    .results()
}
