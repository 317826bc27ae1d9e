//! D1 and R2 access. Every SQL string of the relay lives in this folder, one file
//! per table; the rest of the crate calls these functions with typed values.
//!
//! Timestamps are unix milliseconds bound as JS numbers (exact up to 2^53).

/// SQL: event `$e` (a table alias) is one of the events of ingest `$x` (an
/// expression). A new event's id names its ingest (`EventId::of_ingest`), so
/// its events are a range of the primary key; the others keep their ingest's
/// id in `kept_ingest_id`, under a partial index (migration 0022). SQLite
/// reads the two through their indexes and unites them (`MULTI-INDEX OR`).
macro_rules! event_of_ingest {
    ($e:literal, $x:literal) => {
        concat!(
            "((",
            $e,
            ".id BETWEEN 'evt_' || substr(",
            $x,
            ", 5, 23) || '000' \
             AND 'evt_' || substr(",
            $x,
            ", 5, 23) || 'zzz' AND ",
            $e,
            ".ingest_id = ",
            $x,
            ") \
             OR (",
            $e,
            ".kept_ingest_id = ",
            $x,
            " AND ",
            $e,
            ".kept_ingest_id <> ''))"
        )
    };
}

/// SQL: what a new event `$id` of ingest `$x` stores in `kept_ingest_id`:
/// nothing when its id names the ingest, else the ingest's id.
macro_rules! kept_ingest_id {
    ($id:literal, $x:literal) => {
        concat!(
            "CASE WHEN ",
            $x,
            " = 'ing_' || substr(",
            $id,
            ", 5, 23) || '000' THEN '' ELSE ",
            $x,
            " END"
        )
    };
}

/// SQL: the latest attempt of event `$e` as its row holds it (migration
/// 0026), as the columns of an `attempts` row, number first.
macro_rules! latest_attempt_columns {
    ($e:literal) => {
        concat!(
            $e,
            ".attempt_count, ",
            $e,
            ".attempt_started_at, ",
            $e,
            ".attempt_duration_ms, ",
            $e,
            ".attempt_status_code, ",
            $e,
            ".attempt_outcome, ",
            $e,
            ".attempt_error, ",
            $e,
            ".attempt_snippet"
        )
    };
}

/// SQL: every attempt of the event whose id is `$id` (a placeholder or a
/// column), as `attempts` rows in number order: the earlier ones from the
/// table, the latest from the event's row (migration 0026).
macro_rules! attempts_of_event {
    ($id:literal) => {
        concat!(
            "SELECT number, started_at, duration_ms, status_code, outcome, error, response_snippet \
             FROM attempts WHERE event_id = ",
            $id,
            " UNION ALL SELECT ",
            latest_attempt_columns!("le"),
            " FROM events le WHERE le.id = ",
            $id,
            " AND le.attempt_outcome IS NOT NULL ORDER BY 1"
        )
    };
}

/// SQL: the route column `$col` names one of endpoint `$x`'s routes: its
/// first route, whose id is the endpoint's, or an extra route whose source
/// it is. Every event has one of them as its route, so this reads an
/// endpoint's events through the routes' indexes (migration 0023).
macro_rules! route_of_endpoint {
    ($col:literal, $x:literal) => {
        concat!(
            $col,
            " IN (SELECT r.id FROM endpoints r WHERE r.id = ",
            $x,
            " OR r.source_id = ",
            $x,
            ")"
        )
    };
}

/// SQL: the endpoint whose events `route` (a placeholder or column naming a
/// route) delivers: the route's source, or the route itself when it is an
/// endpoint's first route. Route rows are never deleted, so an unknown id
/// gives NULL and matches nothing. A route's events are read as its
/// endpoint's with that route, through `events_endpoint (endpoint_id, id,
/// route_id)`, whose entries carry the route (migration 0025).
pub(crate) fn endpoint_of_route(route: &str) -> String {
    format!("(SELECT COALESCE(r.source_id, r.id) FROM endpoints r WHERE r.id = {route})")
}

pub mod alert_rules;
pub mod alerts;
pub mod archive;
pub mod attempts;
pub mod bodies;
pub mod endpoint_cache;
pub mod endpoints;
pub mod events;
mod group;
pub mod ingests;
pub mod keys;
pub mod meta;
pub mod rejections;
pub mod retention;
pub mod rollups;
pub mod shards;
pub mod stats;

#[cfg(test)]
mod plans;

use crate::ledger::{self, D1Call, Path};
use crate::shards::ShardName;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Result};

/// The D1 database as the store uses it: every call it awaits adds D1's own
/// figures (statements, rows read, rows written as billed) to the capacity
/// ledger of the path it serves (see [`crate::ledger`]).
pub struct Db {
    inner: D1Database,
    path: Path,
    shard: ShardName,
    outcomes: group::GroupCommit,
}

impl Db {
    /// The database bound as `shard`, serving `path`.
    pub fn new(inner: D1Database, path: Path, shard: ShardName) -> Db {
        Db {
            inner,
            path,
            shard,
            outcomes: group::GroupCommit::default(),
        }
    }

    pub fn path(&self) -> Path {
        self.path
    }

    /// The shard this database is (the control database is the first).
    pub fn shard(&self) -> &ShardName {
        &self.shard
    }

    pub fn prepare<T: Into<String>>(&self, query: T) -> Stmt {
        Stmt {
            inner: self.inner.prepare(query),
            path: self.path,
        }
    }

    /// The statements in one round trip and one transaction.
    pub async fn batch(&self, statements: Vec<Stmt>) -> Result<Vec<D1Result>> {
        let statements = statements.into_iter().map(|s| s.inner).collect();
        let results = self.inner.batch(statements).await?;
        record(self.path, &results);
        Ok(results)
    }

    /// As [`batch`](Db::batch), for a delivery's outcome: written together
    /// with the other outcomes of this invocation that finish while a write
    /// is under way (see [`group`]).
    pub async fn batch_outcome(&self, statements: Vec<Stmt>) -> Result<Vec<D1Result>> {
        self.outcomes.write(self, statements).await
    }
}

/// A prepared statement of a [`Db`].
#[derive(Clone)]
pub struct Stmt {
    inner: D1PreparedStatement,
    path: Path,
}

impl Stmt {
    pub fn bind(self, values: &[JsValue]) -> Result<Stmt> {
        Ok(Stmt {
            inner: self.inner.bind(values)?,
            path: self.path,
        })
    }

    pub async fn run(&self) -> Result<D1Result> {
        let result = self.inner.run().await?;
        record(self.path, std::slice::from_ref(&result));
        Ok(result)
    }

    pub async fn all(&self) -> Result<D1Result> {
        let result = self.inner.all().await?;
        record(self.path, std::slice::from_ref(&result));
        Ok(result)
    }

    /// The `id` column of every row the statement returns.
    pub async fn ids(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct IdRow {
            id: String,
        }
        let rows: Vec<IdRow> = self.all().await?.results()?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// The first row, if any (read through `all`, so D1's figures are kept;
    /// every statement that uses it returns at most a handful of rows).
    pub async fn first<T: DeserializeOwned>(&self, _column: Option<&str>) -> Result<Option<T>> {
        Ok(self.all().await?.results::<T>()?.into_iter().next())
    }
}

/// Adds one awaited call's results to the ledger.
fn record(path: Path, results: &[D1Result]) {
    let mut call = D1Call {
        statements: results.len() as u64,
        ..D1Call::default()
    };
    for meta in results.iter().filter_map(|r| r.meta().ok().flatten()) {
        call.rows_read += meta.rows_read.unwrap_or(0) as u64;
        call.rows_written += meta.rows_written.unwrap_or(0) as u64;
        call.duration_ms += meta.duration.unwrap_or(0.0);
    }
    ledger::d1(path, call);
}

pub(crate) fn int(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

pub(crate) fn text(v: &str) -> JsValue {
    JsValue::from_str(v)
}

pub(crate) fn opt_text(v: Option<&str>) -> JsValue {
    v.map_or(JsValue::NULL, text)
}

pub(crate) fn opt_int(v: Option<i64>) -> JsValue {
    v.map_or(JsValue::NULL, int)
}

/// Rows changed by a write statement.
pub(crate) fn changes(result: &D1Result) -> Result<usize> {
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0))
}

pub(crate) fn bind(stmt: Stmt, args: &[JsValue]) -> Result<Stmt> {
    stmt.bind(args)
}

/// A value for a numbered parameter, kept as plain Rust until the statement is
/// bound, so the SQL of a query built from [`Conditions`] can be made (and its
/// plan tested) natively.
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

impl Arg {
    fn js(&self) -> JsValue {
        match self {
            Arg::Text(v) => text(v),
            Arg::Int(v) => int(*v),
        }
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

/// A `WHERE` clause made of only the filters a caller gave, so the query
/// planner can pick the index that serves them, with numbered parameters.
#[derive(Default)]
pub(crate) struct Conditions {
    conditions: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    /// Binds `value`; returns its placeholder (`?n`) for a condition or clause.
    pub fn param(&mut self, value: impl Into<Arg>) -> String {
        self.args.push(value.into());
        format!("?{}", self.args.len())
    }

    /// Adds `<left> <value's placeholder>`, e.g. `compare("e.id <", id)`.
    pub fn compare(&mut self, left: &str, value: impl Into<Arg>) {
        let placeholder = self.param(value);
        self.conditions.push(format!("{left} {placeholder}"));
    }

    pub fn push(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// `WHERE a AND b ...`, or nothing without conditions.
    pub fn clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// The values to bind, in placeholder order.
    pub fn args(&self) -> Vec<JsValue> {
        self.args.iter().map(Arg::js).collect()
    }
}
