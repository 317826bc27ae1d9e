//! `hookrelay listen DEST --forward-to URL`: the pull loop. Lease up to 10 events
//! (the relay holds the call up to 10 s while none is ready), forward them one by
//! one in the order leased, and report each attempt with the lease token; the
//! relay decides from the report whether the event is delivered, retried or dead.
//!
//! The relay being unreachable never ends the loop (see `reconnect`); a bad key,
//! an unknown destination or a push endpoint do, before anything is leased.
//! Ctrl-C stops leasing and lets the events already leased be forwarded and
//! reported. A lease call still open at the first Ctrl-C is awaited (at most
//! `WAIT_S`) and what it brings is forwarded too: dropping it would not stop the
//! relay from granting it, and those events would then wait for the lease to
//! expire and arrive after newer ones. A second Ctrl-C quits at once, and what
//! was left comes back from the relay when its lease expires.

use super::say;
use crate::args::ListenArgs;
use crate::backoff::Backoff;
use crate::client::RelayClient;
use crate::error::CliError;
use crate::event_types::EventTypes;
use crate::forward::{parse_forward_url, Forwarded, LocalApp};
use crate::model::{AttemptReport, LeasedEvent, PullRequest};
use crate::output::{self, AttemptLine};
use crate::reconnect::{until_answered, until_answered_or_abandoned};
use crate::stop::{Stop, NOW, STOPPING};
use chrono::Local;

const MAX_PER_PULL: u32 = 10;
/// How long the relay may hold a lease call open, and so the longest the first
/// Ctrl-C waits for one in flight.
const WAIT_S: u32 = 10;

pub async fn run(client: RelayClient, args: &ListenArgs, json: bool) -> Result<(), CliError> {
    let types = args.events.as_deref().map(EventTypes::parse).transpose()?;
    let app = LocalApp::new(parse_forward_url(&args.forward_to)?)?;
    let stop = Stop::on_ctrl_c(Some(
        "stopping: finishing the lease in flight (at most 10 s) and forwarding what is leased (Ctrl-C again to quit now)",
    ));
    let mut listener = Listener {
        client,
        app,
        stop,
        backoff: Backoff::default(),
        json,
        forwarded: 0,
        failed: 0,
    };
    listener
        .run(&args.dest, types.as_ref(), args.print_secret)
        .await?;
    eprintln!("{}", output::summary(listener.forwarded, listener.failed));
    Ok(())
}

struct Listener {
    client: RelayClient,
    app: LocalApp,
    stop: Stop,
    backoff: Backoff,
    json: bool,
    forwarded: u64,
    failed: u64,
}

impl Listener {
    /// Returns when Ctrl-C stopped it, or with the error that ends it.
    async fn run(
        &mut self,
        dest: &str,
        types: Option<&EventTypes>,
        print_secret: bool,
    ) -> Result<(), CliError> {
        if print_secret {
            let client = &self.client;
            let secret = until_answered(&mut self.backoff, &self.stop, STOPPING, || {
                client.relay_secret(dest)
            })
            .await?;
            let Some(secret) = secret else {
                return Ok(());
            };
            say(&if self.json {
                serde_json::json!({ "relay_secret": secret }).to_string()
            } else {
                format!("relay secret: {secret}")
            });
        }
        eprintln!(
            "forwarding events of {dest} from {} to {} (Ctrl-C to stop)",
            self.client.base_url(),
            self.app.url()
        );
        let pull = PullRequest {
            max: MAX_PER_PULL,
            wait_s: WAIT_S,
            event_types: types.map(EventTypes::patterns),
        };
        while self.stop.level() < STOPPING {
            let client = &self.client;
            let leased =
                until_answered_or_abandoned(&mut self.backoff, &self.stop, STOPPING, NOW, || {
                    client.pull(dest, &pull)
                })
                .await
                .map_err(|e| explain_pull_error(e, dest))?;
            let Some(batch) = leased else {
                break;
            };
            let total = batch.len();
            for (done, event) in batch.iter().enumerate() {
                if !self.deliver(event).await? {
                    eprintln!(
                        "quitting with {} leased event(s) not forwarded; \
                         the relay offers them again when their lease expires",
                        total - done
                    );
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Forwards one event, reports the attempt and prints its line. `false`
    /// when a second Ctrl-C cut it short.
    async fn deliver(&mut self, event: &LeasedEvent) -> Result<bool, CliError> {
        let forwarded = tokio::select! {
            f = self.app.forward(event) => f,
            _ = self.stop.reached(NOW) => return Ok(false),
        };
        if forwarded.succeeded() {
            self.forwarded += 1;
        } else {
            self.failed += 1;
        }
        let Some(outcome) = self.report(event, &forwarded).await? else {
            return Ok(false);
        };
        let line = AttemptLine {
            time: Local::now(),
            event_type: event.event_type.clone(),
            id: event.id.clone(),
            attempt: event.attempt,
            status_code: forwarded.status_code,
            error: forwarded.error,
            duration_ms: forwarded.duration_ms,
            outcome,
        };
        say(&if self.json { line.json() } else { line.text() });
        Ok(true)
    }

    /// The relay's verdict on the attempt: `delivered`, `retrying`, `dead`,
    /// `lease_lost` (someone else has the event now), or `unreported`.
    async fn report(
        &mut self,
        event: &LeasedEvent,
        forwarded: &Forwarded,
    ) -> Result<Option<String>, CliError> {
        let report = AttemptReport {
            lease_token: event.lease_token.clone(),
            status_code: forwarded.status_code,
            error: forwarded.error.clone(),
            duration_ms: forwarded.duration_ms,
            response_snippet: forwarded.snippet.clone(),
        };
        let client = &self.client;
        let answer = until_answered(&mut self.backoff, &self.stop, NOW, || {
            client.report_attempt(&event.id, &report)
        })
        .await;
        match answer {
            Ok(answer) => Ok(answer.map(|a| a.status)),
            Err(e) if e.relay_code() == Some("lease_lost") => {
                eprintln!(
                    "{}: the lease expired and the event went to another delivery; moving on",
                    event.id
                );
                Ok(Some("lease_lost".into()))
            }
            Err(e @ CliError::BadKey { .. }) => Err(e),
            Err(e) => {
                eprintln!("{}: the attempt could not be reported: {e}", event.id);
                Ok(Some("unreported".into()))
            }
        }
    }
}

/// A push endpoint cannot be listened to; say how to get one that can.
fn explain_pull_error(err: CliError, dest: &str) -> CliError {
    match err {
        CliError::Relay { code, message, .. } if code == "not_a_pull_destination" => {
            CliError::Other(format!(
                "{dest} is not a pull destination ({message}); `hookrelay listen` needs \
                 an endpoint created with `hookrelay endpoints create ... --pull`"
            ))
        }
        other => other,
    }
}
