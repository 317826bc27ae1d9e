//! `GET /api/v1/metrics`: Prometheus text with events by status, attempts by
//! class, refusals by reason, DLQ depth, oldest in-flight age, pause and circuit
//! state per endpoint, the sweeper's lag, each D1 database's size and the cap, and
//! this isolate's capacity ledger (D1 round trips, statements, rows read and
//! written, R2 and queue operations, per path; counters from the isolate's
//! start, so per isolate: what `make bench` reads from its one local isolate).

use crate::error::ApiError;
use crate::ledger::{self, Tally};
use crate::metrics::{render, Family, Kind};
use crate::relay::{now_ms, Relay};
use crate::store::meta;
use crate::store::stats::{self, ByEndpoint, Stats};
use futures::future::try_join_all;
use worker::{Headers, Response};

pub async fn get(relay: &Relay) -> Result<Response, ApiError> {
    let now = now_ms();
    let shards = relay.on_every_shard()?;
    let per_shard = try_join_all(shards.iter().map(|shard| async {
        let read = stats::read(&shard.db).await?;
        let size = meta::database_size(&shard.db).await?;
        Ok::<_, worker::Error>((shard.shard().to_string(), read, size))
    }))
    .await?;
    let heartbeat = meta::get(&relay.control, meta::SWEEPER_HEARTBEAT).await?;
    let mut s = Stats::default();
    let mut sizes = Vec::new();
    for (shard, read, size) in per_shard {
        s.extend(read);
        sizes.extend(size.map(|bytes| (shard, bytes)));
    }
    let mut families = vec![
        labelled(
            Family::new("hookrelay_events", Kind::Gauge, "Events on record by endpoint and status."),
            &s.events_by_status,
            "status",
        ),
        s.events_by_status.iter().filter(|r| r.label == "dead").fold(
            Family::new("hookrelay_dlq_depth", Kind::Gauge, "Dead-lettered events waiting for replay."),
            |f, r| f.sample(vec![("endpoint_id", r.endpoint_id.to_string())], r.n),
        ),
        labelled(
            Family::new("hookrelay_attempts_total", Kind::Counter, "Delivery attempts by endpoint and outcome class, from the hourly rollups."),
            &s.attempts_by_outcome,
            "outcome",
        ),
        labelled(
            Family::new("hookrelay_rejections_total", Kind::Counter, "Refused requests by endpoint and reason (endpoint_id \"\" is an unknown endpoint)."),
            &s.rejections_by_reason,
            "reason",
        ),
        per_endpoint(&s.endpoints, "hookrelay_oldest_in_flight_age_seconds", "Age of the oldest undelivered event.", |e| {
            e.oldest_in_flight_at.map(|t| ((now as f64 - t) / 1000.0).max(0.0)).unwrap_or(0.0)
        }),
        per_endpoint(&s.endpoints, "hookrelay_endpoint_paused", "1 when deliveries are paused.", |e| e.paused),
        per_endpoint(&s.endpoints, "hookrelay_circuit_open", "1 when the circuit breaker is open.", |e| e.circuit_open),
        per_endpoint(&s.endpoints, "hookrelay_failure_streak", "Consecutive destination-down failures.", |e| e.circuit_failures),
        Family::new("hookrelay_sweeper_lag_seconds", Kind::Gauge, "Seconds since the sweeper last completed (-1: never).")
            .sample(vec![], heartbeat.map_or(-1.0, |h| ((now as f64 - h.updated_at) / 1000.0).max(0.0))),
        sizes.into_iter().fold(
            Family::new("hookrelay_d1_size_bytes", Kind::Gauge, "Each D1 database's size as D1 reports it, by shard (DB is the control database)."),
            |f, (shard, bytes)| f.sample(vec![("shard", shard)], bytes as f64),
        ),
        Family::new("hookrelay_d1_max_bytes", Kind::Gauge, "A D1 database's size cap (D1_MAX_BYTES).")
            .sample(vec![], relay.settings.d1_max_bytes as f64),
    ];
    families.extend(ledger_families());
    let headers = Headers::new();
    headers.set("content-type", "text/plain; version=0.0.4; charset=utf-8")?;
    Ok(Response::ok(render(&families))?.with_headers(headers))
}

/// This isolate's capacity ledger, per path: D1 calls and what D1 reported
/// for them, R2 operations and queue sends. Counters from the isolate's start.
fn ledger_families() -> Vec<Family> {
    let tallies = ledger::snapshot();
    let family = |name: &'static str, help: &'static str, value: fn(&Tally) -> f64| {
        tallies
            .iter()
            .fold(Family::new(name, Kind::Counter, help), |f, (path, t)| {
                f.sample(vec![("path", path.as_str().to_string())], value(t))
            })
    };
    let r2 = tallies.iter().fold(
        Family::new(
            "hookrelay_r2_operations_total",
            Kind::Counter,
            "R2 operations of this isolate by path and operation (deletes count objects).",
        ),
        |f, (path, t)| {
            [
                ("put", t.r2_puts),
                ("get", t.r2_gets),
                ("delete", t.r2_deletes),
                ("list", t.r2_lists),
            ]
            .into_iter()
            .fold(f, |f, (op, n)| {
                f.sample(
                    vec![("path", path.as_str().to_string()), ("op", op.to_string())],
                    n as f64,
                )
            })
        },
    );
    vec![
        family("hookrelay_d1_round_trips_total", "D1 calls this isolate awaited, by path (a batch is one).", |t| t.d1_round_trips as f64),
        family("hookrelay_d1_statements_total", "D1 statements this isolate ran, by path.", |t| t.d1_statements as f64),
        family("hookrelay_d1_rows_read_total", "Rows D1 reported reading for this isolate, by path.", |t| t.d1_rows_read as f64),
        family("hookrelay_d1_rows_written_total", "Rows D1 reported writing for this isolate, by path (each index entry is a row, as billed).", |t| t.d1_rows_written as f64),
        family("hookrelay_d1_duration_ms_total", "Milliseconds D1 reported spending on this isolate's statements, by path.", |t| t.d1_duration_ms),
        r2,
        family("hookrelay_queue_sends_total", "Delivery queue send calls of this isolate, by path.", |t| t.queue_sends as f64),
        family("hookrelay_queue_messages_total", "Delivery queue messages this isolate sent, by path.", |t| t.queue_messages as f64),
    ]
}

fn labelled(family: Family, rows: &[ByEndpoint], label: &'static str) -> Family {
    rows.iter().fold(family, |f, r| {
        f.sample(
            vec![
                ("endpoint_id", r.endpoint_id.to_string()),
                (label, r.label.clone()),
            ],
            r.n,
        )
    })
}

fn per_endpoint(
    endpoints: &[stats::EndpointGauges],
    name: &'static str,
    help: &'static str,
    value: impl Fn(&stats::EndpointGauges) -> f64,
) -> Family {
    endpoints
        .iter()
        .fold(Family::new(name, Kind::Gauge, help), |f, e| {
            f.sample(vec![("endpoint_id", e.endpoint_id.to_string())], value(e))
        })
}
