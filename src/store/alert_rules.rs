//! The `alert_rules` table, and the one read per rule the sweeper checks it
//! against (see [`crate::alert_rules`]).

use super::{bind, changes, int, opt_int, opt_text, text, Db, Stmt};
use crate::alert_rules::{Figure, RuleKind, RuleSpec};
use crate::model::AlertRuleId;
use crate::stats::hour_of;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{Error, Result};

const HOUR_MS: i64 = 3_600_000;

/// A rule as stored, with its state.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: AlertRuleId,
    pub spec: RuleSpec,
    /// When it fired; `None` while it does not hold.
    pub firing_since: Option<i64>,
    pub last_value: Option<f64>,
    pub checked_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Deserialize)]
struct Row {
    id: AlertRuleId,
    endpoint_id: String,
    route_id: Option<String>,
    kind: String,
    threshold: f64,
    window_s: Option<f64>,
    min_attempts: Option<f64>,
    firing_since: Option<f64>,
    last_value: Option<f64>,
    checked_at: Option<f64>,
    created_at: f64,
}

impl Row {
    fn into_rule(self) -> Result<Rule> {
        let kind = RuleKind::parse(&self.kind)
            .ok_or_else(|| Error::RustError(format!("unknown rule kind in D1: {}", self.kind)))?;
        Ok(Rule {
            id: self.id,
            spec: RuleSpec {
                endpoint_id: self.endpoint_id,
                route_id: self.route_id,
                kind,
                threshold: self.threshold,
                window_s: self.window_s.map(|v| v as u32),
                min_attempts: self.min_attempts.map(|v| v as u32),
            },
            firing_since: self.firing_since.map(|v| v as i64),
            last_value: self.last_value,
            checked_at: self.checked_at.map(|v| v as i64),
            created_at: self.created_at as i64,
        })
    }
}

const COLUMNS: &str = "id, endpoint_id, route_id, kind, threshold, window_s, min_attempts, \
     firing_since, last_value, checked_at, created_at";

pub async fn insert(db: &Db, id: &str, spec: &RuleSpec, now_ms: i64) -> Result<()> {
    bind(
        db.prepare(
            "INSERT INTO alert_rules (id, endpoint_id, route_id, kind, threshold, window_s, \
                                      min_attempts, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        ),
        &[
            text(id),
            text(&spec.endpoint_id),
            opt_text(spec.route_id.as_deref()),
            text(spec.kind.as_str()),
            JsValue::from_f64(spec.threshold),
            opt_int(spec.window_s.map(i64::from)),
            opt_int(spec.min_attempts.map(i64::from)),
            int(now_ms),
        ],
    )?
    .run()
    .await?;
    Ok(())
}

/// Every rule, oldest first (at most [`crate::alert_rules::MAX_RULES`]).
pub async fn list(db: &Db) -> Result<Vec<Rule>> {
    let rows: Vec<Row> = db.prepare(list_sql()).all().await?.results()?;
    rows.into_iter().map(Row::into_rule).collect()
}

pub(crate) fn list_sql() -> String {
    format!("SELECT {COLUMNS} FROM alert_rules ORDER BY id")
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Rule>> {
    let row: Option<Row> = bind(
        db.prepare(format!("SELECT {COLUMNS} FROM alert_rules WHERE id = ?1")),
        &[text(id)],
    )?
    .first(None)
    .await?;
    row.map(Row::into_rule).transpose()
}

pub async fn delete(db: &Db, id: &str) -> Result<bool> {
    let result = delete_statement(db, id)?.run().await?;
    Ok(changes(&result)? > 0)
}

pub fn delete_statement(db: &Db, id: &str) -> Result<Stmt> {
    bind(
        db.prepare("DELETE FROM alert_rules WHERE id = ?1"),
        &[text(id)],
    )
}

#[derive(Deserialize)]
struct FigureRow {
    total: Option<f64>,
    delivered: Option<f64>,
    oldest_at: Option<f64>,
    n: Option<f64>,
}

/// Each rule's figure at `now_ms`, in one batch (one indexed read per rule).
pub async fn figures(db: &Db, rules: &[Rule], now_ms: i64) -> Result<Vec<Figure>> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let statements = rules
        .iter()
        .map(|r| figure_statement(db, &r.spec, now_ms))
        .collect::<Result<Vec<_>>>()?;
    let results = db.batch(statements).await?;
    rules
        .iter()
        .zip(results)
        .map(|(rule, result)| {
            let row = result.results::<FigureRow>()?.into_iter().next();
            Ok(into_figure(rule.spec.kind, row, now_ms))
        })
        .collect()
}

fn into_figure(kind: RuleKind, row: Option<FigureRow>, now_ms: i64) -> Figure {
    let row = row.unwrap_or(FigureRow {
        total: None,
        delivered: None,
        oldest_at: None,
        n: None,
    });
    match kind {
        RuleKind::SuccessRate => Figure::Attempts {
            total: row.total.unwrap_or(0.0) as u64,
            delivered: row.delivered.unwrap_or(0.0) as u64,
        },
        RuleKind::OldestInFlight => Figure::OldestInFlightS(
            row.oldest_at
                .map(|at| ((now_ms as f64 - at) / 1000.0).max(0.0)),
        ),
        RuleKind::DeadLetters => Figure::DeadLastHour(row.n.unwrap_or(0.0) as u64),
    }
}

fn figure_statement(db: &Db, spec: &RuleSpec, now_ms: i64) -> Result<Stmt> {
    let route = spec.route_id.as_deref();
    let mut args = match spec.kind {
        RuleKind::SuccessRate => {
            let window_ms = i64::from(spec.window_s.unwrap_or(3600)) * 1000;
            let first_hour = hour_of(now_ms) - window_ms + HOUR_MS;
            vec![text(&spec.endpoint_id), int(first_hour)]
        }
        RuleKind::OldestInFlight => vec![text(route.unwrap_or(&spec.endpoint_id))],
        RuleKind::DeadLetters => vec![text(&spec.endpoint_id), int(now_ms - HOUR_MS)],
    };
    if let (Some(route), false) = (route, spec.kind == RuleKind::OldestInFlight) {
        args.push(text(route));
    }
    bind(db.prepare(figure_sql(spec.kind, route.is_some())), &args)
}

/// A rule's read. `success_rate`: ?1 = the endpoint, ?2 = the window's first
/// hour, ?3 = the route (rollups' primary key); `oldest_in_flight`: ?1 = the
/// endpoint or the route (their open-events indexes; the unary `+` as in the
/// endpoint gauges); `dead_letters`: ?1 = the endpoint, ?2 = an hour ago,
/// ?3 = the route (the dead events' change index, a range of an hour; the
/// unary `+` keeps the planner from walking every event of the endpoint).
pub(crate) fn figure_sql(kind: RuleKind, one_route: bool) -> &'static str {
    match (kind, one_route) {
        (RuleKind::SuccessRate, false) => {
            "SELECT SUM(delivered + failed) AS total, SUM(delivered) AS delivered FROM rollups \
             WHERE endpoint_id = ?1 AND hour >= ?2"
        }
        (RuleKind::SuccessRate, true) => {
            "SELECT SUM(delivered + failed) AS total, SUM(delivered) AS delivered FROM rollups \
             WHERE endpoint_id = ?1 AND hour >= ?2 AND route_id = ?3"
        }
        (RuleKind::OldestInFlight, false) => {
            concat!(
                "SELECT MIN(+received_at) AS oldest_at FROM events WHERE ",
                route_of_endpoint!("route_id", "?1"),
                " AND status <> 'delivered' AND status IN ('received', 'delivering', 'retrying')"
            )
        }
        (RuleKind::OldestInFlight, true) => {
            "SELECT MIN(+received_at) AS oldest_at FROM events WHERE route_id = ?1 \
             AND status <> 'delivered' AND status IN ('received', 'delivering', 'retrying')"
        }
        (RuleKind::DeadLetters, false) => {
            "SELECT COUNT(*) AS n FROM events WHERE status = 'dead' AND updated_at > ?2 \
             AND +endpoint_id = ?1"
        }
        (RuleKind::DeadLetters, true) => {
            "SELECT COUNT(*) AS n FROM events WHERE status = 'dead' AND updated_at > ?2 \
             AND +endpoint_id = ?1 AND +route_id = ?3"
        }
    }
}

/// Records what a check saw: the rule's state (`firing_since`) and figure.
pub fn record_check(
    db: &Db,
    id: &str,
    firing_since: Option<i64>,
    value: Option<f64>,
    now_ms: i64,
) -> Result<Stmt> {
    bind(
        db.prepare(
            "UPDATE alert_rules SET firing_since = ?2, last_value = ?3, checked_at = ?4 WHERE id = ?1",
        ),
        &[
            text(id),
            opt_int(firing_since),
            value.map_or(JsValue::NULL, JsValue::from_f64),
            int(now_ms),
        ],
    )
}
