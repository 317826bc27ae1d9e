//! `hookrelay events list | show ID | replay ID`.

use super::say;
use crate::args::{EventsCommand, EventsListArgs};
use crate::client::{EventFilter, RelayClient};
use crate::error::CliError;
use crate::event_types::EventTypes;
use crate::output;
use chrono::Local;
use serde_json::Value;

pub async fn run(client: &RelayClient, command: EventsCommand, json: bool) -> Result<(), CliError> {
    match command {
        EventsCommand::List(args) => list(client, args, json).await,
        EventsCommand::Show { id } => {
            let event = client.event(&id).await?;
            if json {
                say(&pretty(&event));
            } else {
                say(output::event_detail(&event, &Local).trim_end());
            }
            Ok(())
        }
        EventsCommand::Replay { id } => {
            let answer = client.replay(&id).await?;
            if json {
                say(&pretty(&answer));
            } else {
                let status = answer["status"].as_str().unwrap_or("received");
                say(&format!("{id} replayed: {status}, delivery starts over"));
            }
            Ok(())
        }
    }
}

async fn list(client: &RelayClient, args: EventsListArgs, json: bool) -> Result<(), CliError> {
    let types = args.events.as_deref().map(EventTypes::parse).transpose()?;
    let filter = EventFilter {
        endpoint_id: args.endpoint,
        status: args.status,
        limit: args.limit,
        cursor: args.cursor,
    };
    let page = client.list_events(&filter).await?;
    let shown: Vec<&Value> = page
        .data
        .iter()
        .filter(|e| {
            types
                .as_ref()
                .is_none_or(|t| t.matches(e["event_type"].as_str()))
        })
        .collect();
    for event in &shown {
        say(&if json {
            event.to_string()
        } else {
            output::event_row(event, &Local)
        });
    }
    if shown.is_empty() && !json {
        eprintln!("no events");
    }
    if let Some(cursor) = page.next_cursor {
        eprintln!("more with --cursor {cursor}");
    }
    Ok(())
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}
