//! `hookrelay tail ENDPOINT`: asks the events list every 2 s for what arrived
//! since the newest event seen and prints it oldest first. Event ids sort by
//! time, so "newer than the last one printed" is a comparison of ids. The
//! first look only sets the mark: tail shows what arrives after it starts.

use super::say;
use crate::args::TailArgs;
use crate::backoff::Backoff;
use crate::client::{EventFilter, RelayClient};
use crate::error::CliError;
use crate::event_types::EventTypes;
use crate::output;
use crate::reconnect::until_answered;
use crate::stop::{Stop, STOPPING};
use chrono::Local;
use serde_json::Value;
use std::time::Duration;

const INTERVAL: Duration = Duration::from_secs(2);
const PAGE: u32 = 100;
/// A burst larger than this between two looks is shown in part.
const MAX_PAGES_PER_LOOK: usize = 10;

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
    let mut mark: Option<String> = None;
    let mut first = true;
    loop {
        let look = until_answered(&mut backoff, &stop, STOPPING, || {
            arrivals(client, endpoint, mark.as_deref())
        })
        .await?;
        let Some(arrived) = look else {
            return Ok(());
        };
        if let Some(newest) = arrived.first() {
            mark = newest["id"].as_str().map(str::to_string);
        }
        if !first {
            let shown = arrived.iter().rev().filter(|e| {
                types
                    .as_ref()
                    .is_none_or(|t| t.matches(e["event_type"].as_str()))
            });
            for event in shown {
                say(&if json {
                    event.to_string()
                } else {
                    output::event_row(event, &Local)
                });
            }
        }
        first = false;
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = stop.reached(STOPPING) => return Ok(()),
        }
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
