//! Query plans: the store's real SQL, prepared against the real migrations in
//! SQLite (the engine D1 runs), must read through its indexes.
//!
//! Every query the sweeper runs each minute, and every count and list the
//! dashboard and the health API read, is planned here with `EXPLAIN QUERY
//! PLAN`. Each check names the plan rows it expects, in plan order, and fails
//! on any full read of `events`, `ingests` or `attempts` (a `SCAN`, or an
//! automatic index built from one) that it does not name itself: the named
//! ones are the all-time totals, which read every row over a covering index
//! until rollups replace them, and list pages walked in index order that stop
//! at the page size.
//!
//! The database has never been analyzed (no `sqlite_stat1`), like a new D1
//! database, so the planner decides from the schema and the SQL alone.

use super::{
    alert_rules, alerts, archive, attempts, endpoints, events, ingests, meta, retention, rollups,
    shards, stats,
};
use crate::alert_rules::RuleKind;
use crate::event_query::{EventTypeFilter, Lookup};
use crate::model::{EventId, IngestStatus, RouteRef, Status};
use rusqlite::types::Null;
use rusqlite::Connection;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// An in-memory database with every migration applied, in name order, the
/// way wrangler applies them.
fn migrated() -> Connection {
    let db = Connection::open_in_memory().expect("an in-memory SQLite database");
    for file in &migration_files() {
        apply(&db, file);
    }
    db
}

fn apply(db: &Connection, file: &Path) {
    let sql = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    db.execute_batch(&sql)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

/// The migration files, in name order.
fn migration_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a migrations entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no migrations in {}", dir.display());
    files
}

/// A database with the migrations before `first` applied, and the rest to
/// apply once the test has written rows in the old shape.
fn migrated_before(first: &str) -> (Connection, Vec<PathBuf>) {
    let db = Connection::open_in_memory().expect("an in-memory SQLite database");
    let (before, after): (Vec<_>, Vec<_>) = migration_files().into_iter().partition(|f| {
        f.file_name()
            .is_some_and(|n| n.to_string_lossy().as_ref() < first)
    });
    for file in &before {
        apply(&db, file);
    }
    (db, after)
}

/// The rollups migration counts what is already on record the way the relay
/// counts it from then on: each event received in its hour and route, each
/// attempt in the histogram bucket `stats::latency_bucket` gives it.
#[test]
fn the_rollups_migration_counts_what_is_on_record() {
    let (db, after) = migrated_before("0012");
    let hour = 1_700_000_000_000 / 3_600_000 * 3_600_000;
    db.execute(
        "INSERT INTO ingests (id, endpoint_id, dedup_key, body_key, body_size, body_sha256, headers, received_at) \
         VALUES ('in_1', 'ep_1', 'k', 'b', 0, '', '[]', ?1)",
        [hour + 5],
    )
    .expect("an ingest");
    db.execute(
        "INSERT INTO events (id, ingest_id, endpoint_id, route_id, status, next_attempt_at, received_at, updated_at) \
         VALUES ('evt_1', 'in_1', 'ep_1', 'rt_1', 'delivered', 0, ?1, ?1)",
        [hour + 5],
    )
    .expect("an event");
    let durations = [0_u64, 10, 11, 25, 999, 1000, 1001, 30_000, 30_001, 90_000];
    for (n, d) in durations.iter().enumerate() {
        db.execute(
            "INSERT INTO attempts (event_id, number, started_at, duration_ms, outcome) VALUES ('evt_1', ?1, ?2, ?3, ?4)",
            rusqlite::params![n as i64, hour + 10, *d as i64, if n == 0 { "delivered" } else { "server_error" }],
        )
        .expect("an attempt");
    }
    for file in &after {
        apply(&db, file);
    }
    let mut expected = [0_i64; crate::stats::LATENCY_BUCKETS];
    for d in durations {
        expected[crate::stats::latency_bucket(d)] += 1;
    }
    let columns: Vec<String> = (0..crate::stats::LATENCY_BUCKETS)
        .map(|i| format!("l{i}"))
        .collect();
    let row: (String, i64, i64, i64, i64, Vec<i64>, i64) = db
        .query_row(
            &format!(
                "SELECT route_id, hour, received, delivered, failed, {}, max_ms FROM rollups",
                columns.join(", ")
            ),
            [],
            |r| {
                let histogram = (0..crate::stats::LATENCY_BUCKETS)
                    .map(|i| r.get(5 + i))
                    .collect::<Result<Vec<i64>, _>>()?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    histogram,
                    r.get(5 + crate::stats::LATENCY_BUCKETS)?,
                ))
            },
        )
        .expect("one rollup row");
    assert_eq!(
        row,
        ("rt_1".into(), hour, 1, 1, 9, expected.to_vec(), 90_000)
    );
}

/// One row of `EXPLAIN QUERY PLAN`.
struct Step {
    id: i64,
    parent: i64,
    detail: String,
}

/// The plan of `sql`, every parameter bound to NULL (the plan is made when
/// the statement is prepared, before any value is bound).
fn plan(db: &Connection, sql: &str) -> Vec<Step> {
    let mut stmt = db
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("does not prepare: {e}\n{sql}"));
    let nulls = vec![Null; stmt.parameter_count()];
    stmt.query_map(rusqlite::params_from_iter(nulls), |row| {
        Ok(Step {
            id: row.get(0)?,
            parent: row.get(1)?,
            detail: row.get(3)?,
        })
    })
    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
    .unwrap_or_else(|e| panic!("EXPLAIN QUERY PLAN failed: {e}\n{sql}"))
}

/// The plan as SQLite's shell draws it: one line per step, nested under its parent.
fn render(steps: &[Step]) -> String {
    let mut depth: HashMap<i64, usize> = HashMap::new();
    let mut out = String::new();
    for step in steps {
        let d = depth.get(&step.parent).map_or(0, |p| p + 1);
        depth.insert(step.id, d);
        out.push_str(&format!("{}{}\n", "  ".repeat(d + 1), step.detail));
    }
    out
}

/// Tables that grow with traffic, and the aliases the store's SQL gives them.
const GROWING: &[&str] = &[
    "events",
    "ingests",
    "attempts",
    "dedup_keys",
    "e",
    "i",
    "a",
    "d",
    "older",
    "k",
    "kd",
    "search_values",
    "sv",
    "s",
];

/// Whether a step reads a growing table whole: a `SCAN` of it (through an
/// index or not), or an automatic index built from it.
fn full_read(detail: &str) -> bool {
    let mut words = detail.split_whitespace();
    let (verb, table) = (words.next(), words.next());
    let growing = table.is_some_and(|t| GROWING.contains(&t));
    growing && (verb == Some("SCAN") || detail.contains("AUTOMATIC"))
}

/// Asserts that the plan of `sql` has a step starting with each of `expected`,
/// in that order, and no full read of a growing table but those it names.
/// Prints the plan when it does not.
fn check(name: &str, sql: &str, expected: &[&str]) {
    let steps = plan(&migrated(), sql);
    let fail = |why: String| -> ! {
        panic!("{name}: {why}\nplan:\n{}sql: {sql}", render(&steps));
    };
    let mut rest = steps.iter();
    for want in expected {
        if !rest.any(|s| s.detail.starts_with(want)) {
            fail(format!("no step `{want}` (in this order)"));
        }
    }
    for step in &steps {
        if full_read(&step.detail) && !expected.iter().any(|w| step.detail.starts_with(w)) {
            fail(format!("reads a whole table: `{}`", step.detail));
        }
    }
}

/// Asserts that the rows come out of the plan in index order: no sort, so a
/// `LIMIT` stops the walk at the page size.
fn check_no_sort(name: &str, sql: &str) {
    let steps = plan(&migrated(), sql);
    if let Some(sort) = steps
        .iter()
        .find(|s| s.detail.contains("TEMP B-TREE FOR ORDER BY"))
    {
        panic!(
            "{name}: sorts (`{}`) instead of walking an index in order\nplan:\n{}sql: {sql}",
            sort.detail,
            render(&steps)
        );
    }
}

// The sweeper, every minute (src/sweep.rs, src/retention.rs, src/watch.rs).

#[test]
fn release_expired_leases_ranges_over_expired_leases() {
    check(
        "release_expired_leases",
        &format!("{} {}", events::RELEASE_EXPIRED_LEASES, events::CHANGED),
        &[
            "SEARCH events USING PRIMARY KEY (id=?)",
            "SCAN ep USING COVERING INDEX sqlite_autoindex_endpoints_1",
            "SEARCH e USING INDEX events_route_open (route_id=? AND status=?)",
            // The live stream's event type, one ingest by its key per row.
            "CORRELATED SCALAR SUBQUERY",
            "SEARCH i USING PRIMARY KEY (id=?)",
        ],
    );
}

#[test]
fn open_circuits_due_ranges_over_open_circuits() {
    check(
        "open_circuits_due",
        endpoints::OPEN_CIRCUITS_DUE,
        &["SEARCH endpoints USING INDEX endpoints_open_circuits (circuit_state=? AND circuit_next_probe_at<?)"],
    );
}

#[test]
fn due_for_sweep_reads_the_due_events_of_eligible_routes_only() {
    // The routes first (the control table), then each eligible route's due
    // events; a paused, open-circuit or pull route's backlog is never read.
    check(
        "due_for_sweep",
        events::DUE_FOR_SWEEP,
        &[
            "SCAN ep",
            "SEARCH e USING COVERING INDEX events_route_open (route_id=? AND status=? AND next_attempt_at<?)",
            // FIFO's line: the route's older events not delivered, from the
            // index that holds only those.
            "SEARCH older USING COVERING INDEX events_route_open (route_id=? AND status=?)",
            "USE TEMP B-TREE FOR ORDER BY",
        ],
    );
}

// Shards: the ack path's placement lookup (on a cache miss), and the API's
// search for the shard holding an event.

#[test]
fn a_placement_is_read_by_its_key() {
    check(
        "placed_on",
        shards::PLACED_ON,
        &["SEARCH endpoint_shards USING PRIMARY KEY (id=?)"],
    );
}

#[test]
fn an_event_is_found_in_a_shard_by_its_key() {
    check(
        "is_here",
        events::IS_HERE,
        &["SEARCH events USING PRIMARY KEY (id=?)"],
    );
}

#[test]
fn claim_many_finds_each_event_by_id() {
    check(
        "claim_many",
        &events::claim_many_sql(),
        &["SEARCH events USING PRIMARY KEY (id=?)", "LIST SUBQUERY"],
    );
}

#[test]
fn claim_finds_its_event_by_id() {
    check(
        "claim",
        &events::claim_sql(),
        &[
            "SEARCH events USING PRIMARY KEY (id=?)",
            "SEARCH ep USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
            "SEARCH ep USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
            "SEARCH older USING COVERING INDEX events_route_open (route_id=? AND status=?)",
            "SEARCH endpoints USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
            "SEARCH endpoints USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
            "SEARCH ingests USING PRIMARY KEY (id=?)",
        ],
    );
}

#[test]
fn waiting_and_head_of_line_search_the_routes_open_events() {
    // The route's events not delivered (a backlog at most), sorted by id.
    for (name, sql) in [
        ("waiting", events::WAITING),
        ("head_of_line", events::HEAD_OF_LINE),
    ] {
        check(
            name,
            sql,
            &[
                "SEARCH events USING COVERING INDEX events_route_open (route_id=? AND status=?)",
                "USE TEMP B-TREE FOR ORDER BY",
            ],
        );
    }
}

#[test]
fn expired_events_reads_each_endpoints_expired_events() {
    check(
        "expired_events",
        &retention::expired_events_sql(),
        &[
            "SCAN ep",
            "SEARCH e USING INDEX events_endpoint (endpoint_id=? AND id<?)",
        ],
    );
}

#[test]
fn an_id_bound_made_in_sql_is_the_one_minted_in_rust() {
    let db = Connection::open_in_memory().unwrap();
    let sql = format!("SELECT {}", events::first_event_id_minted_at_sql("?1 - ?2"));
    for ms in [
        0_i64,
        1,
        31,
        32,
        1_700_000_000_123,
        1_764_633_600_000,
        (1 << 48) - 1,
    ] {
        let bound: String = db
            .query_row(&sql, rusqlite::params![ms + 5, 5.0], |r| r.get(0))
            .unwrap();
        assert_eq!(bound, EventId::first_minted_at(ms).as_str(), "at {ms}");
    }
    let before_epoch: String = db
        .query_row(&sql, rusqlite::params![0, 10.0], |r| r.get(0))
        .unwrap();
    assert_eq!(before_epoch, EventId::first_minted_at(0).as_str());
}

#[test]
fn retention_deletes_look_up_the_chosen_rows() {
    check(
        "delete_expired: attempts",
        &retention::delete_expired_attempts_sql(),
        &[
            "SEARCH attempts USING PRIMARY KEY (event_id=?)",
            "SCAN chosen VIRTUAL TABLE",
            "SEARCH events USING PRIMARY KEY (id=?)",
            "SEARCH ep USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
        ],
    );
    check(
        "delete_expired: events",
        &retention::delete_expired_events_sql(),
        &[
            "SEARCH events USING PRIMARY KEY (id=?)",
            "SCAN chosen VIRTUAL TABLE",
            "SEARCH events USING PRIMARY KEY (id=?)",
            "SEARCH ep USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
        ],
    );
    check(
        "delete_expired: ingests",
        retention::DELETE_EMPTIED_INGESTS,
        &[
            "SEARCH ingests USING PRIMARY KEY (id=?)",
            "SEARCH e USING PRIMARY KEY (id>? AND id<?)",
            "SEARCH e USING INDEX events_kept_ingest (kept_ingest_id=?)",
        ],
    );
}

#[test]
fn search_values_are_written_and_removed_by_their_ingest() {
    check(
        "insert search values",
        ingests::INSERT_SEARCH_VALUES,
        &["SEARCH ingests EXISTS USING PRIMARY KEY (id=?)"],
    );
    check(
        "delete emptied search values",
        ingests::DELETE_EMPTIED_SEARCH_VALUES,
        &[
            "SEARCH search_values USING PRIMARY KEY (ingest_id=?)",
            "SEARCH e USING PRIMARY KEY (id>? AND id<?)",
            "SEARCH e USING INDEX events_kept_ingest (kept_ingest_id=?)",
        ],
    );
}

#[test]
fn expire_filtered_ingests_reads_each_endpoints_expired_filtered_ingests() {
    check(
        "filtered ingests past retention",
        retention::FILTERED_PAST_RETENTION,
        &[
            "SCAN ep",
            "SEARCH i USING COVERING INDEX ingests_filtered_received (endpoint_id=? AND received_at<?)",
        ],
    );
}

#[test]
fn dedup_keys_leave_with_their_ingest_by_primary_key() {
    check(
        "delete emptied dedup keys",
        ingests::DELETE_EMPTIED_DEDUP_KEYS,
        &[
            "SEARCH dedup_keys USING PRIMARY KEY (endpoint_id=? AND dedup_key=?)",
            "SEARCH i USING PRIMARY KEY (id=?)",
            "SEARCH e USING PRIMARY KEY (id>? AND id<?)",
            "SEARCH e USING INDEX events_kept_ingest (kept_ingest_id=?)",
        ],
    );
}

#[test]
fn referenced_bodies_looks_up_each_key() {
    check(
        "referenced_bodies",
        retention::REFERENCED_BODIES,
        &["SEARCH ingests USING PRIMARY KEY (id=?)"],
    );
}

#[test]
fn dead_between_ranges_over_the_interval() {
    check(
        "dead_between",
        alerts::DEAD_BETWEEN,
        &[
            "SEARCH e USING INDEX events_dead_changed (updated_at>? AND updated_at<?)",
            "SEARCH ep USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
            "SEARCH r USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
        ],
    );
}

#[test]
fn refusals_since_ranges_over_the_window() {
    check(
        "refusals_since",
        alerts::REFUSALS_SINCE,
        &["SEARCH r USING INDEX rejections_at (at>?)"],
    );
}

#[test]
fn alert_reads_of_control_tables_touch_no_event() {
    check(
        "route_health",
        alerts::ROUTE_HEALTH,
        &[
            "SCAN r",
            "SEARCH src USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
        ],
    );
    check("alert channels", alerts::LIST, &["SCAN alert_channels"]);
    check(
        "alert rules",
        &alert_rules::list_sql(),
        &["SCAN alert_rules"],
    );
}

#[test]
fn each_alert_rule_reads_one_index_range() {
    let expected = [
        (
            RuleKind::SuccessRate,
            false,
            "SEARCH rollups USING PRIMARY KEY (endpoint_id=? AND hour>?)",
        ),
        (
            RuleKind::SuccessRate,
            true,
            "SEARCH rollups USING PRIMARY KEY (endpoint_id=? AND hour>?)",
        ),
        (
            RuleKind::OldestInFlight,
            false,
            "SEARCH events USING INDEX events_route_open (route_id=? AND status=?)",
        ),
        (
            RuleKind::OldestInFlight,
            true,
            "SEARCH events USING INDEX events_route_open (route_id=? AND status=?)",
        ),
        (
            RuleKind::DeadLetters,
            false,
            "SEARCH events USING INDEX events_dead_changed (updated_at>?)",
        ),
        (
            RuleKind::DeadLetters,
            true,
            "SEARCH events USING INDEX events_dead_changed (updated_at>?)",
        ),
    ];
    for (kind, one_route, step) in expected {
        let name = format!("{} rule, one route: {one_route}", kind.as_str());
        check(&name, alert_rules::figure_sql(kind, one_route), &[step]);
    }
}

// Health (src/api/health.rs) and the counts of the dashboard and the API.

#[test]
fn event_counts_search_the_endpoint_or_route() {
    check(
        "counts of an endpoint",
        &events::counts_of_endpoint_sql(),
        &[
            "SEARCH events USING COVERING INDEX events_endpoint (endpoint_id=?)",
            "SEARCH events USING COVERING INDEX events_route_open (route_id=?)",
        ],
    );
    check(
        "counts of a route",
        &events::counts_of_route_sql(),
        &[
            "SEARCH events USING COVERING INDEX events_endpoint (endpoint_id=?)",
            "SEARCH r USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
            "SEARCH events USING COVERING INDEX events_route_open (route_id=?)",
        ],
    );
    // Every event: a read of every entry of an index (rollups replace it).
    check(
        "counts overall",
        &events::counts_overall_sql(),
        &[
            "SCAN events USING COVERING INDEX",
            // An index of the open events (either serves).
            "SCAN events USING COVERING INDEX events_",
        ],
    );
}

#[test]
fn request_counts_search_the_endpoint() {
    check(
        "request counts of an endpoint",
        ingests::REQUEST_COUNTS_OF_ENDPOINT,
        &["SEARCH ingests USING COVERING INDEX ingests_endpoint_status (endpoint_id=?)"],
    );
    // Every request: a read of every row, over an index (rollups replace it).
    check(
        "request counts overall",
        ingests::REQUEST_COUNTS_OVERALL,
        &["SCAN ingests USING COVERING INDEX"],
    );
    check(
        "count_filtered",
        ingests::COUNT_FILTERED,
        &["SEARCH ingests USING COVERING INDEX ingests_endpoint_status (endpoint_id=? AND status=?)"],
    );
    check(
        "filtered",
        ingests::FILTERED,
        &["SEARCH ingests USING INDEX ingests_endpoint_status (endpoint_id=? AND status=?)"],
    );
    check_no_sort("filtered", ingests::FILTERED);
}

// The stats API (src/api/stats.rs) and the metrics (src/api/metrics.rs).

#[test]
fn series_and_attempt_figures_read_the_window_of_the_rollups() {
    check(
        "series of an endpoint",
        &rollups::series_sql(true),
        &["SEARCH rollups USING PRIMARY KEY (endpoint_id=? AND hour>? AND hour<?)"],
    );
    check(
        "series",
        &rollups::series_sql(false),
        &["SEARCH rollups USING INDEX rollups_hour (hour>? AND hour<?)"],
    );
    check(
        "attempt figures of an endpoint",
        &rollups::attempt_figures_sql(true),
        &["SEARCH rollups USING PRIMARY KEY (endpoint_id=? AND hour>?)"],
    );
    check(
        "attempt figures",
        &rollups::attempt_figures_sql(false),
        &["SEARCH rollups USING INDEX rollups_hour (hour>?)"],
    );
}

#[test]
fn rollups_are_counted_through_their_primary_key() {
    check(
        "count received",
        rollups::COUNT_RECEIVED,
        &[
            "SCAN json_each VIRTUAL TABLE INDEX 1:",
            "SEARCH e USING PRIMARY KEY (id>? AND id<?)",
            "SEARCH e USING INDEX events_kept_ingest (kept_ingest_id=?)",
        ],
    );
    for outcome in [None, Some("server_error")] {
        check(
            "count an attempt",
            &rollups::count_attempt_sql(3, outcome),
            &["SEARCH events EXISTS USING PRIMARY KEY (id=?)"],
        );
    }
}

#[test]
fn endpoint_figures_of_one_endpoint_search_it() {
    let sql = stats::endpoint_figures_sql(true);
    check(
        "figures of an endpoint: endpoints",
        &sql.endpoints,
        &["SEARCH endpoints USING INDEX sqlite_autoindex_endpoints_1 (id=?)"],
    );
    check(
        "figures of an endpoint: counts",
        &sql.counts,
        &[
            "SEARCH events USING COVERING INDEX events_endpoint (endpoint_id=?)",
            "SEARCH events USING INDEX events_route_open (route_id=?)",
        ],
    );
    check(
        "figures of an endpoint: requests",
        &sql.requests,
        &["SEARCH ingests USING COVERING INDEX ingests_endpoint_status (endpoint_id=?)"],
    );
    check(
        "figures of an endpoint: routes",
        &sql.routes,
        &[
            "SEARCH events USING COVERING INDEX events_endpoint (endpoint_id=?)",
            "SEARCH events USING COVERING INDEX events_route_open (route_id=?)",
            "SEARCH r USING INDEX sqlite_autoindex_endpoints_1 (id=?)",
            "SEARCH r USING INDEX endpoints_source (source_id=?)",
        ],
    );
}

#[test]
fn endpoint_figures_of_every_endpoint_read_over_covering_indexes() {
    let sql = stats::endpoint_figures_sql(false);
    // All-time totals of every endpoint and route: a read of every row, over
    // an index (rollups replace them).
    check(
        "figures: counts",
        &sql.counts,
        // Every event over its endpoint's index, then the open events (the
        // partial index of the few in flight and dead, each read for its endpoint).
        &[
            "SCAN events USING COVERING INDEX events_endpoint",
            "SCAN events USING INDEX events_route_open",
        ],
    );
    check(
        "figures: requests",
        &sql.requests,
        &["SCAN ingests USING COVERING INDEX"],
    );
    check(
        "figures: routes",
        &sql.routes,
        &["SCAN events USING COVERING INDEX"],
    );
}

#[test]
fn the_sweepers_alert_marks_are_read_by_key() {
    check(
        "marks present",
        meta::PRESENT,
        &["SEARCH meta USING COVERING INDEX sqlite_autoindex_meta_1 (key=?)"],
    );
    check(
        "an endpoint stored an ingest since",
        ingests::STORED_SINCE,
        &["SEARCH ingests USING COVERING INDEX ingests_endpoint_status (endpoint_id=? AND status=? AND id>?)"],
    );
    check(
        "marks by prefix",
        meta::WITH_PREFIX,
        &["SEARCH meta USING INDEX sqlite_autoindex_meta_1 (key>? AND key<?)"],
    );
}

#[test]
fn metrics_read_totals_over_covering_indexes() {
    // Gauges of what is on record: a read of every row; attempts are counted
    // from the hourly rollups (one row per route and hour), never the attempts.
    check(
        "events by status",
        stats::EVENTS_BY_STATUS,
        &[
            "SCAN events USING COVERING INDEX events_endpoint",
            "SCAN events USING INDEX events_route_open",
        ],
    );
    check(
        "attempts by outcome",
        &stats::attempts_by_outcome_sql(),
        &["SCAN rollups"],
    );
    check(
        "rejections by reason",
        stats::REJECTIONS_BY_REASON,
        &["SCAN rejection_counts"],
    );
    check(
        "endpoint gauges",
        stats::ENDPOINT_GAUGES,
        &[
            "SCAN ep",
            "SEARCH e USING INDEX events_route_open (route_id=? AND status=?)",
        ],
    );
}

// The events and ingests lists (src/api/events.rs, src/api/ingests.rs).

fn events_list(f: events::ListFilter<'_>) -> String {
    events::list_sql(&f).expect("the events list SQL").0
}

fn every_event() -> events::ListFilter<'static> {
    events::ListFilter {
        endpoint_id: None,
        route_id: None,
        status: None,
        event_type: None,
        since_ms: None,
        until_ms: None,
        lookup: None,
        before_id: None,
        limit: 50,
    }
}

#[test]
fn events_list_pages_walk_an_index_in_order() {
    let route = RouteRef::parse("rt_x").expect("a route id");
    let cases: [(&str, events::ListFilter, &str); 8] = [
        (
            "newest events",
            every_event(),
            // An ordered walk that stops at the page size (the table is
            // stored in its primary key: no temporary b-tree follows).
            "SCAN e",
        ),
        (
            "next page",
            events::ListFilter {
                before_id: Some("evt_x"),
                ..every_event()
            },
            "SEARCH e USING PRIMARY KEY (id<?)",
        ),
        (
            "an endpoint's events",
            events::ListFilter {
                endpoint_id: Some("ep_x"),
                before_id: Some("evt_x"),
                ..every_event()
            },
            "SEARCH e USING INDEX events_endpoint (endpoint_id=? AND id<?)",
        ),
        (
            "an endpoint's dead events",
            events::ListFilter {
                endpoint_id: Some("ep_x"),
                status: Some(Status::Dead),
                ..every_event()
            },
            "SEARCH e USING INDEX events_endpoint_dead (endpoint_id=?)",
        ),
        (
            "an endpoint's retrying events",
            events::ListFilter {
                endpoint_id: Some("ep_x"),
                status: Some(Status::Retrying),
                ..every_event()
            },
            // Its events newest first, skipping other statuses until the
            // page is full (migrations/0023).
            "SEARCH e USING INDEX events_endpoint (endpoint_id=?)",
        ),
        (
            "dead events",
            events::ListFilter {
                status: Some(Status::Dead),
                ..every_event()
            },
            // A walk of the partial index that holds dead events only.
            "SCAN e USING INDEX events_dead_id",
        ),
        (
            "retrying events",
            events::ListFilter {
                status: Some(Status::Retrying),
                ..every_event()
            },
            // The primary key in id order, skipping other statuses until the
            // page is full (no index holds every status any more).
            "SCAN e",
        ),
        (
            "a route's events",
            events::ListFilter {
                route_id: Some(&route),
                ..every_event()
            },
            // Its endpoint's events newest first, keeping the route's
            // (migrations/0025).
            "SEARCH e USING INDEX events_endpoint (endpoint_id=?)",
        ),
    ];
    for (name, filter, step) in cases {
        let sql = events_list(filter);
        check(name, &sql, &[step, "SEARCH i USING PRIMARY KEY (id=?)"]);
        check_no_sort(name, &sql);
    }
}

#[test]
fn events_list_searches_serve_other_filters() {
    let exact = EventTypeFilter::Exact("invoice.paid".into());
    let lookup = Lookup {
        value: "evt_x".into(),
        event_id: Some("evt_x".into()),
        dedup_keys: vec!["id:evt_x".into()],
    };
    let cases: [(&str, events::ListFilter, &[&str]); 4] = [
        (
            "by event type",
            events::ListFilter {
                event_type: Some(&exact),
                ..every_event()
            },
            // No index of event types (each would cost every ingest an
            // entry): the events newest first, each one's ingest by its key,
            // until the page is full. An operator's query, off the hot paths.
            &["SCAN e", "SEARCH i USING PRIMARY KEY (id=?)"],
        ),
        (
            "by time",
            events::ListFilter {
                since_ms: Some(0),
                until_ms: Some(1),
                ..every_event()
            },
            // Ids are minted at receipt: the time range is an id range.
            &["SEARCH e USING PRIMARY KEY (id>? AND id<?)"],
        ),
        (
            "an endpoint's events by time",
            events::ListFilter {
                endpoint_id: Some("ep_x"),
                since_ms: Some(0),
                ..every_event()
            },
            &["SEARCH e USING INDEX events_endpoint (endpoint_id=? AND id>?)"],
        ),
        (
            "by id or delivery id",
            events::ListFilter {
                lookup: Some(&lookup),
                ..every_event()
            },
            &[
                "SEARCH e USING PRIMARY KEY (id=?)",
                "SCAN kp USING COVERING INDEX sqlite_autoindex_endpoints_1",
                "SEARCH kd USING PRIMARY KEY (endpoint_id=? AND dedup_key=?)",
                "SEARCH k USING PRIMARY KEY (id>? AND id<?)",
                "SEARCH k USING INDEX events_kept_ingest (kept_ingest_id=?)",
                "SEARCH sv USING COVERING INDEX search_values_value (value=?)",
                "SEARCH s USING PRIMARY KEY (id>? AND id<?)",
                "SEARCH s USING INDEX events_kept_ingest (kept_ingest_id=?)",
            ],
        ),
    ];
    for (name, filter, steps) in cases {
        check(name, &events_list(filter), steps);
    }
}

#[test]
fn ingests_list_pages_search_their_indexes() {
    let every = || ingests::ListFilter {
        endpoint_id: None,
        status: None,
        before_id: None,
        limit: 50,
    };
    let cases: [(&str, ingests::ListFilter, &str); 3] = [
        (
            "newest ingests",
            every(),
            // An ordered walk that stops at the page size (the table is
            // stored in its primary key: no temporary b-tree follows).
            "SCAN i",
        ),
        (
            "an endpoint's filtered ingests",
            ingests::ListFilter {
                endpoint_id: Some("ep_x"),
                status: Some(IngestStatus::Filtered),
                before_id: Some("ing_x"),
                ..every()
            },
            "SEARCH i USING INDEX ingests_endpoint_status (endpoint_id=? AND status=? AND id<?)",
        ),
        (
            "an endpoint's ingests",
            ingests::ListFilter {
                endpoint_id: Some("ep_x"),
                ..every()
            },
            "SEARCH i USING INDEX ingests_endpoint_status (endpoint_id=?)",
        ),
    ];
    for (name, filter, step) in cases {
        let (sql, _) = ingests::list_sql(&filter);
        check(
            name,
            &sql,
            &[
                step,
                "SEARCH e USING PRIMARY KEY (id>? AND id<?)",
                "SEARCH e USING INDEX events_kept_ingest (kept_ingest_id=?)",
            ],
        );
    }
}

#[test]
fn a_new_ingest_stores_no_body_key_and_reads_the_one_its_id_names() {
    let db = migrated();
    let at = 1_700_000_000_000_i64;
    let id = crate::model::IngestId::generate(at as u64, [3; 10]);
    db.execute(
        "INSERT INTO ingests (id, endpoint_id, dedup_key, kept_body_key, body_size, body_sha256, headers, received_at) \
         VALUES (?1, 'ep_1', 'k', '', 0, '', '', ?2), ('ing_old', 'ep_1', 'k2', 'bodies/x/ing_old', 0, '', '', ?2)",
        rusqlite::params![id.as_str(), at],
    )
    .unwrap();
    let key = |id: &str| -> String {
        db.query_row("SELECT body_key FROM ingests WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert_eq!(key(id.as_str()), super::bodies::key_for(&id, at));
    assert_eq!(
        key("ing_old"),
        "bodies/x/ing_old",
        "a key stored before is kept"
    );
}

/// Migration 0022 keeps the ingest of every event written before it, whose
/// random id names none.
#[test]
fn events_written_before_ids_named_their_ingest_keep_it() {
    let (db, after) = migrated_before("0022");
    db.execute_batch(
        "INSERT INTO ingests (id, endpoint_id, dedup_key, kept_body_key, body_size, body_sha256, headers, received_at) \
         VALUES ('ing_01hf0000000000000000000abc', 'ep_1', 'k', '', 0, '', '', 0); \
         INSERT INTO events (id, ingest_id, endpoint_id, route_id, status, next_attempt_at, received_at, updated_at) \
         VALUES ('evt_01hf0000000000000000000xyz', 'ing_01hf0000000000000000000abc', 'ep_1', 'ep_1', 'received', 0, 0, 0), \
                ('evt_01hf0000000000000000000xz0', 'ing_01hf0000000000000000000abc', 'ep_1', 'ep_1', 'dead', 0, 0, 0);",
    )
    .unwrap();
    for file in &after {
        apply(&db, file);
    }
    let mut stmt = db
        .prepare(concat!(
            "SELECT e.id, e.kept_ingest_id, e.status FROM events e WHERE ",
            event_of_ingest!("e", "?1"),
            " ORDER BY e.id"
        ))
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map(["ing_01hf0000000000000000000abc"], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let kept = "ing_01hf0000000000000000000abc".to_string();
    assert_eq!(
        rows,
        [
            (
                "evt_01hf0000000000000000000xyz".into(),
                kept.clone(),
                "received".into()
            ),
            ("evt_01hf0000000000000000000xz0".into(), kept, "dead".into()),
        ]
    );
}

/// A dedup key leaves D1 with the ingest it names, once no event of that
/// ingest is left; a key a later request took over stays with the later one.
#[test]
fn a_dedup_key_leaves_with_the_ingest_it_names() {
    let db = migrated();
    db.execute_batch(
        "INSERT INTO ingests (id, endpoint_id, dedup_key, kept_body_key, body_size, body_sha256, headers, received_at) \
         VALUES ('ing_old', 'ep_1', 'k', '', 0, '', '', 0), ('ing_new', 'ep_1', 'k', '', 0, '', '', 0), \
                ('ing_busy', 'ep_1', 'b', '', 0, '', '', 0); \
         INSERT INTO dedup_keys (endpoint_id, dedup_key, ingest_id, expires_at) \
         VALUES ('ep_1', 'k', 'ing_new', 0), ('ep_1', 'b', 'ing_busy', 0); \
         INSERT INTO events (id, kept_ingest_id, endpoint_id, route_id, status, next_attempt_at, received_at, updated_at) \
         VALUES ('evt_busy', 'ing_busy', 'ep_1', 'ep_1', 'dead', 0, 0, 0);",
    )
    .unwrap();
    let keys = || -> Vec<String> {
        let mut stmt = db
            .prepare("SELECT dedup_key || '>' || ingest_id FROM dedup_keys ORDER BY 1")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let delete = |ids: &str| {
        db.execute(ingests::DELETE_EMPTIED_DEDUP_KEYS, [ids])
            .unwrap()
    };
    assert_eq!(
        delete(r#"["ing_old", "ing_busy"]"#),
        0,
        "taken over, or still has an event"
    );
    assert_eq!(keys(), ["b>ing_busy", "k>ing_new"]);
    assert_eq!(delete(r#"["ing_new"]"#), 1);
    assert_eq!(keys(), ["b>ing_busy"]);
}

/// Migration 0024 removes the keys whose ingest already left D1 (the expiry
/// job that would have removed them goes) and keeps the others.
#[test]
fn keys_whose_ingest_left_go_with_the_expiry_job() {
    let (db, after) = migrated_before("0024");
    db.execute_batch(
        "INSERT INTO ingests (id, endpoint_id, dedup_key, kept_body_key, body_size, body_sha256, headers, received_at) \
         VALUES ('ing_here', 'ep_1', 'h', '', 0, '', '', 0); \
         INSERT INTO dedup_keys (endpoint_id, dedup_key, ingest_id, expires_at) \
         VALUES ('ep_1', 'h', 'ing_here', 9), ('ep_1', 'g', 'ing_gone', 9);",
    )
    .unwrap();
    for file in &after {
        apply(&db, file);
    }
    let left: Vec<String> = db
        .prepare("SELECT ingest_id FROM dedup_keys")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(left, ["ing_here"]);
}

#[test]
fn an_events_ingest_is_read_from_its_id_or_from_the_row() {
    use crate::model::{EventId, IngestId};
    let db = migrated();
    let at = 1_700_000_000_000_i64;
    let minted = IngestId::mint(at as u64, [9; 10]);
    let legacy = IngestId::generate(at as u64, [7; 10]);
    let named: Vec<EventId> = (0..3)
        .map(|i| EventId::of_ingest(&minted, i).unwrap())
        .collect();
    let numbered_from_legacy = EventId::of_ingest(&legacy, 0).unwrap();
    let random = EventId::generate(at as u64 + 5, [1; 10]);
    for ingest in [&minted, &legacy] {
        db.execute(
            "INSERT INTO ingests (id, endpoint_id, dedup_key, kept_body_key, body_size, body_sha256, headers, received_at) \
             VALUES (?1, 'ep_1', ?1, '', 0, '', '', ?2)",
            rusqlite::params![ingest.as_str(), at],
        )
        .unwrap();
    }
    let insert = |event: &EventId, ingest: &IngestId| {
        db.execute(
            ingests::INSERT_EVENT,
            rusqlite::params![event.as_str(), ingest.as_str(), "ep_1", at, "ep_1"],
        )
        .unwrap();
    };
    for event in &named {
        insert(event, &minted);
    }
    insert(&numbered_from_legacy, &legacy);
    insert(&random, &minted);
    let row = |event: &EventId| -> (String, String) {
        db.query_row(
            "SELECT kept_ingest_id, ingest_id FROM events WHERE id = ?1",
            [event.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    for event in &named {
        assert_eq!(row(event), (String::new(), minted.to_string()), "{event}");
        assert_eq!(
            event.named_ingest().map(|i| i.to_string()),
            Some(row(event).1),
            "the store computes the ingest EventId::named_ingest names"
        );
    }
    assert_eq!(row(&numbered_from_legacy).1, legacy.to_string());
    assert_eq!(row(&random), (minted.to_string(), minted.to_string()));
    let events_of = |ingest: &IngestId| -> Vec<String> {
        let sql = concat!(
            "SELECT e.id FROM events e WHERE ",
            event_of_ingest!("e", "?1"),
            " ORDER BY e.id"
        );
        let mut stmt = db.prepare(sql).unwrap();
        stmt.query_map([ingest.as_str()], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let mut of_minted: Vec<String> = named.iter().map(|e| e.to_string()).collect();
    of_minted.push(random.to_string());
    assert_eq!(events_of(&minted), of_minted);
    assert_eq!(events_of(&legacy), [numbered_from_legacy.to_string()]);
}

// What the rewritten sweep query returns, on real rows.

#[test]
fn due_for_sweep_takes_due_events_of_open_and_deleted_routes_oldest_first() {
    let db = migrated();
    db.execute_batch(
        "INSERT INTO ingests (id, endpoint_id, dedup_key, kept_body_key, body_size, body_sha256, headers, received_at) \
         VALUES ('ing_1', 'ep_open', 'k', 'b', 0, 's', '[]', 0);",
    )
    .unwrap();
    // (id, paused, circuit_state, destination_type, fifo, deleted_at)
    let routes = [
        ("ep_open", 0, "closed", "push", 0, None),
        ("ep_paused", 1, "closed", "push", 0, None),
        ("ep_circuit", 0, "open", "push", 0, None),
        ("ep_pull", 0, "closed", "pull", 0, None),
        ("rt_fifo_held", 0, "closed", "push", 1, None),
        ("rt_fifo_head", 0, "closed", "push", 1, None),
        ("rt_deleted", 1, "open", "pull", 1, Some(5)),
    ];
    for (id, paused, circuit, destination, fifo, deleted_at) in routes {
        db.execute(
            "INSERT INTO endpoints (id, name, provider, secrets, relay_secret, destination_url, \
                                    retry_schedule, timeout_ms, created_at, updated_at, paused, \
                                    circuit_state, destination_type, fifo, deleted_at) \
             VALUES (?1, ?1, 'generic', '[]', 's', 'https://x', '[]', 1000, 0, 0, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![id, paused, circuit, destination, fifo, deleted_at],
        )
        .unwrap();
    }
    // (id, route, status, next_attempt_at); the sweep is for due before 1000.
    let rows = [
        ("evt_01", "ep_open", "received", 100),
        ("evt_02", "ep_open", "retrying", 500),
        ("evt_03", "ep_open", "retrying", 2000),
        ("evt_04", "ep_open", "delivering", 0),
        ("evt_05", "ep_open", "delivered", 0),
        ("evt_06", "ep_paused", "received", 50),
        ("evt_07", "ep_circuit", "retrying", 50),
        ("evt_08", "ep_pull", "received", 50),
        ("evt_09", "rt_fifo_held", "delivering", 0),
        ("evt_10", "rt_fifo_held", "received", 50),
        ("evt_11", "rt_fifo_head", "retrying", 300),
        ("evt_12", "rt_fifo_head", "received", 200),
        ("evt_13", "rt_deleted", "received", 400),
        ("evt_14", "rt_gone", "received", 50),
    ];
    for (id, route, status, next) in rows {
        db.execute(
            "INSERT INTO events (id, kept_ingest_id, endpoint_id, route_id, status, next_attempt_at, \
                                 received_at, updated_at) \
             VALUES (?1, 'ing_1', 'ep_open', ?2, ?3, ?4, 0, 0)",
            rusqlite::params![id, route, status, next],
        )
        .unwrap();
    }
    let due = |limit: i64| -> Vec<String> {
        let mut stmt = db.prepare(events::DUE_FOR_SWEEP).unwrap();
        stmt.query_map(
            rusqlite::params![1000, limit, None::<i64>, None::<String>],
            |r| r.get(0),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    assert_eq!(due(10), ["evt_01", "evt_11", "evt_13", "evt_02"]);
    assert_eq!(due(2), ["evt_01", "evt_11"]);
    // The next page starts after the cursor (evt_11 at 300), in keyset order;
    // an event at the cursor's time with a greater id is not skipped.
    db.execute(
        "INSERT INTO events (id, kept_ingest_id, endpoint_id, route_id, status, next_attempt_at, \
                             received_at, updated_at) \
         VALUES ('evt_15', 'ing_1', 'ep_open', 'ep_open', 'received', 300, 0, 0)",
        [],
    )
    .unwrap();
    let mut stmt = db.prepare(events::DUE_FOR_SWEEP).unwrap();
    let next: Vec<String> = stmt
        .query_map(rusqlite::params![1000, 10, 300, "evt_11"], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(next, ["evt_15", "evt_13", "evt_02"]);
}

#[test]
fn attempts_are_read_and_shelved_by_primary_key() {
    check(
        "attempts of an event",
        attempts::LIST,
        &[
            "SEARCH attempts USING PRIMARY KEY (event_id=?)",
            "SEARCH le USING PRIMARY KEY (id=?)",
        ],
    );
    check(
        "shelve the latest attempt",
        attempts::SHELVE_LATEST,
        &["SEARCH e USING PRIMARY KEY (id=?)"],
    );
}

// Compaction and the archive (src/compact.rs, src/history.rs).

#[test]
fn compaction_ranges_over_delivered_events_in_change_order() {
    check(
        "compactable",
        archive::COMPACTABLE,
        &[
            "SEARCH e USING INDEX events_delivered_changed (updated_at<?)",
            "SEARCH i USING PRIMARY KEY (id=?)",
            "CORRELATED SCALAR SUBQUERY",
            // Its attempts: the earlier by primary key, the latest from its row.
            "SEARCH attempts USING PRIMARY KEY (event_id=?)",
            "SEARCH le USING PRIMARY KEY (id=?)",
            // The event's own attempts, merged in number order.
            "SCAN a",
        ],
    );
    check_no_sort("compactable", archive::COMPACTABLE);
}

#[test]
fn compaction_removes_the_chosen_rows_by_key() {
    let chosen = "SEARCH events USING PRIMARY KEY (id=?)";
    check("insert archive", archive::INSERT_ARCHIVE, &[chosen]);
    check(
        "delete attempts",
        &archive::delete_attempts_sql(),
        &[chosen],
    );
    check("delete events", &archive::delete_events_sql(), &[chosen]);
    check(
        "count emptied ingests",
        archive::COUNT_EMPTIED_INGESTS,
        &[
            "SEARCH archives USING INDEX sqlite_autoindex_archives_1 (key=?)",
            "SEARCH ingests USING PRIMARY KEY (id=?)",
            "SEARCH e USING PRIMARY KEY (id>? AND id<?)",
            "SEARCH e USING INDEX events_kept_ingest (kept_ingest_id=?)",
        ],
    );
    check(
        "delete emptied ingests",
        archive::DELETE_EMPTIED_INGESTS,
        &[
            "SEARCH ingests USING PRIMARY KEY (id=?)",
            "SEARCH e USING PRIMARY KEY (id>? AND id<?)",
            "SEARCH e USING INDEX events_kept_ingest (kept_ingest_id=?)",
        ],
    );
}

#[test]
fn archive_rows_are_found_by_hour_and_endpoint() {
    check(
        "of hours",
        &archive::of_hours_sql(),
        &["SEARCH archives USING INDEX archives_hour (hour>? AND hour<?)"],
    );
    check(
        "of endpoint",
        &archive::of_endpoint_sql(),
        &["SEARCH archives USING INDEX archives_endpoint_hour (endpoint_id=? AND hour>? AND hour<?)"],
    );
    check_no_sort("of endpoint", &archive::of_endpoint_sql());
    check(
        "expired archives",
        archive::EXPIRED,
        &[
            "SCAN ep",
            "SEARCH a USING INDEX archives_endpoint_hour (endpoint_id=? AND hour<?)",
        ],
    );
}

#[test]
fn deleting_a_route_or_endpoint_ends_its_routes_waiting_events() {
    check(
        "end the events of a deleted route",
        &events::end_events_of_deleted_sql("AND route_id = ?1"),
        &["SEARCH events USING INDEX events_route_open (route_id=? AND status=?)"],
    );
    check(
        "end the events of a deleted endpoint",
        &events::end_events_of_deleted_sql(events::OF_THE_ENDPOINTS_ROUTES),
        &[
            "SEARCH events USING INDEX events_route_open (route_id=? AND status=?)",
            "LIST SUBQUERY 1",
        ],
    );
}

#[test]
fn counts_add_the_archive_rows_of_their_scope() {
    check(
        "counts of an endpoint",
        &events::counts_of_endpoint_sql(),
        &[
            "SEARCH events USING COVERING INDEX events_route_open (route_id=?)",
            "SEARCH archives USING INDEX archives_endpoint_hour (endpoint_id=?)",
        ],
    );
    check(
        "counts of a route",
        &events::counts_of_route_sql(),
        &[
            "SEARCH events USING COVERING INDEX events_route_open (route_id=?)",
            "SEARCH archives USING COVERING INDEX archives_route (route_id=?)",
        ],
    );
}

#[test]
fn catch_up_asks_for_held_keys_by_key() {
    check(
        "held keys",
        ingests::HELD_KEYS,
        &[
            "SCAN k VIRTUAL TABLE",
            "SEARCH d EXISTS USING PRIMARY KEY (endpoint_id=? AND dedup_key=?)",
        ],
    );
}

#[test]
fn a_restore_looks_up_by_key() {
    check(
        "uncount restored",
        archive::UNCOUNT_RESTORED,
        &[
            "SEARCH archives USING INDEX sqlite_autoindex_archives_1 (key=?)",
            "SEARCH events USING PRIMARY KEY (id=?)",
        ],
    );
    check(
        "restore ingest",
        archive::RESTORE_INGEST,
        &[
            "SEARCH ingests USING PRIMARY KEY (id=?)",
            "SEARCH events USING PRIMARY KEY (id=?)",
        ],
    );
    check(
        "restore event",
        archive::RESTORE_EVENT,
        &["SEARCH events USING PRIMARY KEY (id=?)"],
    );
    check(
        "restore attempts",
        archive::RESTORE_ATTEMPTS,
        &["SCAN json_each VIRTUAL TABLE"],
    );
    check(
        "restore dedup key",
        archive::RESTORE_DEDUP_KEY,
        &["SEARCH ingests EXISTS USING PRIMARY KEY (id=?)"],
    );
}

/// An event keeps its latest attempt in its row; recording the next one moves
/// it to `attempts` (under the lease), and the list reads both in order.
#[test]
fn an_event_keeps_its_latest_attempt_and_shelves_the_one_before() {
    let db = migrated();
    db.execute_batch(
        "INSERT INTO events (id, kept_ingest_id, endpoint_id, route_id, status, next_attempt_at, \
                             received_at, updated_at, lease_token) \
         VALUES ('evt_1', 'ing_1', 'ep_1', 'ep_1', 'delivering', 0, 0, 0, 'lease');",
    )
    .unwrap();
    let record = |number: i64, status_code: i64, token: &str| {
        db.execute(attempts::SHELVE_LATEST, rusqlite::params!["evt_1", token])
            .unwrap();
        db.execute(
            &format!(
                "UPDATE events SET attempt_count = ?1, {} WHERE id = 'evt_1'",
                attempts::record_in_row(2)
            ),
            rusqlite::params![
                number,
                number * 100,
                5,
                status_code,
                if status_code == 200 {
                    "delivered"
                } else {
                    "server_error"
                },
                Null,
                Null
            ],
        )
        .unwrap();
    };
    let listed = || -> Vec<(i64, i64, i64)> {
        let mut stmt = db.prepare(attempts::LIST).unwrap();
        stmt.query_map(["evt_1"], |r| Ok((r.get(0)?, r.get(1)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let shelved = || -> i64 {
        db.query_row(
            "SELECT COUNT(*) FROM attempts WHERE event_id = 'evt_1'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(listed().is_empty());
    record(1, 500, "lease");
    assert_eq!(shelved(), 0, "a first attempt writes no attempts row");
    assert_eq!(listed(), [(1, 100, 500)]);
    record(2, 500, "lease");
    record(3, 200, "lease");
    assert_eq!(shelved(), 2);
    assert_eq!(listed(), [(1, 100, 500), (2, 200, 500), (3, 300, 200)]);
    // A deliverer whose lease was taken over moves nothing.
    db.execute(attempts::SHELVE_LATEST, rusqlite::params!["evt_1", "stale"])
        .unwrap();
    assert_eq!(shelved(), 2);
}
