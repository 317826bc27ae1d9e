//! `hookrelay tail ENDPOINT`: follows the endpoint's live stream
//! (`GET /api/v1/stream`) and prints each status change as it happens: the
//! time of the change, the event type, the event id, the status and the
//! attempt. It shows what happens after it starts.
//!
//! When the stream drops, tail reconnects (0.5 s doubling to 30 s) and first
//! prints, from the events list, the events that arrived meanwhile (event ids
//! sort by time, so "newer than the newest seen" is a comparison of ids). A
//! relay without a stream (it answers 404) is asked every 2 s instead.

use super::say;
use crate::args::TailArgs;
use crate::backoff::Backoff;
use crate::client::{EventFilter, EventStream, RelayClient};
use crate::error::CliError;
use crate::event_types::EventTypes;
use crate::output;
use crate::reconnect::until_answered;
use crate::stop::{Stop, STOPPING};
use chrono::Local;
use serde_json::{json, Value};
use std::time::Duration;

const INTERVAL: Duration = Duration::from_secs(2);
const PAGE: u32 = 100;
/// A burst larger than this between two looks is shown in part.
const MAX_PAGES_PER_LOOK: usize = 10;

/// What tail prints, and the newest event it has shown arrive.
struct Printer {
    types: Option<EventTypes>,
    json: bool,
    mark: Option<String>,
}

impl Printer {
    fn wants(&self, event_type: Option<&str>) -> bool {
        self.types.as_ref().is_none_or(|t| t.matches(event_type))
    }

    /// Events from the list (newest first), printed oldest first.
    fn arrived(&mut self, newest_first: &[Value]) {
        if let Some(id) = newest_first.first().and_then(|e| e["id"].as_str()) {
            self.mark = Some(id.to_string());
        }
        for event in newest_first.iter().rev() {
            if self.wants(event["event_type"].as_str()) {
                say(&if self.json {
                    event.to_string()
                } else {
                    output::event_row(event, &Local)
                });
            }
        }
    }

    /// One change from the stream. A `received` at or below the mark was
    /// already shown from the list.
    fn change(&mut self, change: &Value) {
        let id = change["id"].as_str().unwrap_or_default();
        if change["status"] == "received" {
            if self.mark.as_deref().is_some_and(|mark| id <= mark) {
                return;
            }
            self.mark = Some(id.to_string());
        }
        if !self.wants(change["event_type"].as_str()) {
            return;
        }
        say(&if self.json {
            change.to_string()
        } else {
            output::event_row(&as_event_row(change), &Local)
        });
    }
}

/// A change in the shape of an events list row: its time where the row has
/// its receipt, its attempt as the attempt count.
fn as_event_row(change: &Value) -> Value {
    json!({
        "received_at": change["at"],
        "event_type": change["event_type"],
        "id": change["id"],
        "status": change["status"],
        "attempt_count": change["attempt"],
    })
}

pub async fn run(client: &RelayClient, args: &TailArgs, json: bool) -> Result<(), CliError> {
    let types = args.events.as_deref().map(EventTypes::parse).transpose()?;
    let stop = Stop::on_ctrl_c(None);
    let mut backoff = Backoff::default();
    let endpoint = args.endpoint.as_str();
    let known = until_answered(&mut backoff, &stop, STOPPING, || client.endpoint(endpoint)).await?;
    if known.is_none() {
        return Ok(());
    }
    eprintln!("watching new events of {endpoint} (Ctrl-C to stop)");
    let start = until_answered(&mut backoff, &stop, STOPPING, || {
        arrivals(client, endpoint, None)
    })
    .await?;
    let Some(start) = start else {
        return Ok(());
    };
    let mut printer = Printer {
        types,
        json,
        mark: start
            .first()
            .and_then(|e| e["id"].as_str())
            .map(str::to_string),
    };
    loop {
        let opened = until_answered(&mut backoff, &stop, STOPPING, || {
            client.open_stream(endpoint)
        })
        .await;
        let mut stream = match opened {
            Ok(Some(stream)) => stream,
            Ok(None) => return Ok(()),
            Err(CliError::NotFound(_)) => {
                return poll(client, endpoint, &mut printer, &stop, &mut backoff).await
            }
            Err(err) => return Err(err),
        };
        // What arrived while no stream was open (before the first, or during a drop).
        let missed = until_answered(&mut backoff, &stop, STOPPING, || {
            arrivals(client, endpoint, printer.mark.as_deref())
        })
        .await?;
        let Some(missed) = missed else {
            return Ok(());
        };
        printer.arrived(&missed);
        if follow(&mut stream, &mut printer, &stop).await? {
            return Ok(());
        }
        let delay = backoff.next_delay();
        eprintln!(
            "the live stream dropped; reconnecting in {:.1} s",
            delay.as_secs_f64()
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.reached(STOPPING) => return Ok(()),
        }
    }
}

/// Prints the stream's changes until it drops (`false`) or Ctrl-C (`true`).
async fn follow(
    stream: &mut EventStream,
    printer: &mut Printer,
    stop: &Stop,
) -> Result<bool, CliError> {
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = stop.reached(STOPPING) => return Ok(true),
        };
        match next {
            Ok(Some(message)) if message.event == "event" => {
                if let Ok(change) = serde_json::from_str::<Value>(&message.data) {
                    printer.change(&change);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => return Ok(false),
            Err(err) if err.is_transient() => return Ok(false),
            Err(err) => return Err(err),
        }
    }
}

/// A relay without a live stream: asks the events list every 2 s.
async fn poll(
    client: &RelayClient,
    endpoint: &str,
    printer: &mut Printer,
    stop: &Stop,
    backoff: &mut Backoff,
) -> Result<(), CliError> {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = stop.reached(STOPPING) => return Ok(()),
        }
        let look = until_answered(backoff, stop, STOPPING, || {
            arrivals(client, endpoint, printer.mark.as_deref())
        })
        .await?;
        let Some(arrived) = look else {
            return Ok(());
        };
        printer.arrived(&arrived);
    }
}

/// The endpoint's events newer than `mark`, newest first, following the pages
/// back until the mark (or the bound) is reached. With no mark, the first page.
async fn arrivals(
    client: &RelayClient,
    endpoint: &str,
    mark: Option<&str>,
) -> Result<Vec<Value>, CliError> {
    let mut filter = EventFilter {
        endpoint_id: Some(endpoint.to_string()),
        limit: Some(PAGE),
        ..EventFilter::default()
    };
    let mut arrived = Vec::new();
    for _ in 0..MAX_PAGES_PER_LOOK {
        let page = client.list_events(&filter).await?;
        let (newer, reached_mark) = newer_than(page.data, mark);
        arrived.extend(newer);
        match page.next_cursor {
            Some(cursor) if !reached_mark && mark.is_some() => filter.cursor = Some(cursor),
            _ => break,
        }
    }
    Ok(arrived)
}

/// Splits a newest-first page at `mark`: the events above it, and whether the
/// page reached it (so older pages hold nothing new).
fn newer_than(page: Vec<Value>, mark: Option<&str>) -> (Vec<Value>, bool) {
    let Some(mark) = mark else {
        return (page, false);
    };
    let total = page.len();
    let newer: Vec<Value> = page
        .into_iter()
        .take_while(|e| e["id"].as_str().is_some_and(|id| id > mark))
        .collect();
    let reached = newer.len() < total;
    (newer, reached)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(ids: &[&str]) -> Vec<Value> {
        ids.iter().map(|id| json!({ "id": id })).collect()
    }

    fn ids(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["id"].as_str().unwrap()).collect()
    }

    #[test]
    fn a_received_change_already_shown_from_the_list_is_not_shown_again() {
        let mut printer = Printer {
            types: None,
            json: true,
            mark: Some("evt_05".into()),
        };
        printer.change(&json!({"id": "evt_04", "status": "received"}));
        assert_eq!(printer.mark.as_deref(), Some("evt_05"));
        printer.change(&json!({"id": "evt_07", "status": "received"}));
        assert_eq!(printer.mark.as_deref(), Some("evt_07"));
        printer.change(&json!({"id": "evt_04", "status": "delivered"}));
        assert_eq!(
            printer.mark.as_deref(),
            Some("evt_07"),
            "later changes do not move it"
        );
        let row = as_event_row(&json!({"id": "evt_07", "status": "delivered", "attempt": 1,
                                       "at": "2026-01-01T00:00:00.000Z", "event_type": "push"}));
        assert_eq!(row["attempt_count"], 1);
        assert_eq!(row["received_at"], "2026-01-01T00:00:00.000Z");
    }

    #[test]
    fn only_events_above_the_mark_are_new() {
        let (newer, reached) = newer_than(page(&["evt_05", "evt_04", "evt_03"]), Some("evt_03"));
        assert_eq!(ids(&newer), ["evt_05", "evt_04"]);
        assert!(reached);
    }

    #[test]
    fn a_page_entirely_above_the_mark_asks_for_the_next() {
        let (newer, reached) = newer_than(page(&["evt_09", "evt_08"]), Some("evt_03"));
        assert_eq!(ids(&newer), ["evt_09", "evt_08"]);
        assert!(!reached);
    }

    #[test]
    fn nothing_new_is_an_empty_list() {
        let (newer, reached) = newer_than(page(&["evt_03", "evt_02"]), Some("evt_03"));
        assert!(newer.is_empty());
        assert!(reached);
        let (newer, _) = newer_than(Vec::new(), Some("evt_03"));
        assert!(newer.is_empty());
    }

    #[test]
    fn without_a_mark_the_whole_page_is_new() {
        let (newer, reached) = newer_than(page(&["evt_02", "evt_01"]), None);
        assert_eq!(ids(&newer), ["evt_02", "evt_01"]);
        assert!(!reached);
    }
}
