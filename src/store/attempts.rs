//! An event's delivery attempts, kept across replays: the latest in the
//! event's own row (`events.attempt_*`, migration 0026), the earlier ones in
//! the `attempts` table, one row each. Recording an outcome writes the
//! event's row anyway, so a webhook delivered on its first try writes no
//! `attempts` row; the next attempt moves the one in the row to the table, in
//! the same batch and under the same lease.

use super::{bind, int, opt_int, opt_text, text, Db, Stmt};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
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

/// Moves the event's latest attempt from its row into `attempts`, only while
/// `lease_token` still holds the event (so a deliverer whose lease expired,
/// and was superseded, moves nothing). Run in the batch that records the next
/// attempt into the row (`events::complete`), before it. `OR IGNORE`: a row
/// of that number already there (none is, as the number only grows) must not
/// fail the batch and with it the delivery's outcome.
pub fn shelve_latest_if_leased(db: &Db, event_id: &str, lease_token: &str) -> Result<Stmt> {
    bind(
        db.prepare(SHELVE_LATEST),
        &[text(event_id), text(lease_token)],
    )
}

/// The statement of [`shelve_latest_if_leased`]: ?1 = the event, ?2 = the
/// lease token.
pub(crate) const SHELVE_LATEST: &str = concat!(
    "INSERT OR IGNORE INTO attempts (event_id, number, started_at, duration_ms, status_code, \
                                     outcome, error, response_snippet) \
     SELECT e.id, ",
    latest_attempt_columns!("e"),
    " FROM events e WHERE e.id = ?1 AND e.status = 'delivering' AND e.lease_token = ?2 \
       AND e.attempt_outcome IS NOT NULL"
);

/// The `SET` terms that put an attempt into the event's row, binding
/// `?{first}` to `?{first + 5}` with [`row_args`].
pub fn record_in_row(first: usize) -> String {
    format!(
        "attempt_started_at = ?{}, attempt_duration_ms = ?{}, attempt_status_code = ?{}, \
         attempt_outcome = ?{}, attempt_error = ?{}, attempt_snippet = ?{}",
        first,
        first + 1,
        first + 2,
        first + 3,
        first + 4,
        first + 5
    )
}

/// The values [`record_in_row`] binds, in its order (the number is the
/// event's `attempt_count`, set with them).
pub fn row_args(row: &AttemptRow) -> [JsValue; 6] {
    [
        int(row.started_at as i64),
        int(row.duration_ms as i64),
        opt_int(row.status_code.map(|c| c as i64)),
        text(&row.outcome),
        opt_text(row.error.as_deref()),
        opt_text(row.response_snippet.as_deref()),
    ]
}

/// Every attempt of the event, in number order: the earlier ones from
/// `attempts`, the latest from its row.
pub async fn list(db: &Db, event_id: &str) -> Result<Vec<AttemptRow>> {
    bind(db.prepare(LIST), &[text(event_id)])?
        .all()
        .await?
        .results()
}

/// The statement of [`list`]: ?1 = the event.
pub(crate) const LIST: &str = attempts_of_event!("?1");
