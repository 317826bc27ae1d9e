//! The live hub: the Durable Object (`LiveHub`, binding `LIVE`) that fans out
//! event status changes to `GET /api/v1/stream`'s open streams
//! (`text/event-stream`; the messages are [`crate::live`]'s).
//!
//! Ingest (after its answer) and delivery tell the hub what changed, one
//! request per batch of changes; the hub writes each change to every open
//! stream that wants it (all endpoints, or the one in `?endpoint_id=`) at
//! once. An open stream costs no D1 query at all: it is fed by what the
//! relay does, and sent a comment every [`HEARTBEAT_S`] seconds when idle.
//!
//! Streamed: `received` (ingest, catch-up, replays of one event or many, a
//! filtered request a replay routes, a lease the sweeper releases), and
//! `delivering`, `retrying`, `delivered` and `dead` of push deliveries (the
//! queue, the sweeper, circuit probes) and of pull leases and their reports;
//! `dead` by a route's deletion or the dead-letter queue too. A statement
//! that moves many events returns them (`store::events::Changed`) to be told.
//! Telling the hub is best effort: a failure is logged and the event goes on.

use crate::coalesce::Coalesce;
use crate::live::{heartbeat, Change, HEARTBEAT_S};
use crate::model::EndpointId;
use crate::relay::Relay;
use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::stream::{self, StreamExt};
use serde_json::json;
use std::cell::RefCell;
use std::time::Duration;
use worker::{
    console_error, durable_object, Delay, DurableObject, Env, Headers, Method, Request,
    RequestInit, Response, Result, State,
};

/// The hub's binding, and the one hub every stream and change goes through.
const BINDING: &str = "LIVE";
const HUB: &str = "live";

/// One open stream: what it wants, and where its messages go.
struct Subscriber {
    endpoint_id: Option<String>,
    sender: UnboundedSender<String>,
}

impl Subscriber {
    fn wants(&self, change: &Change) -> bool {
        self.endpoint_id
            .as_deref()
            .is_none_or(|id| id == change.endpoint_id)
    }
}

/// The fan-out: `GET /subscribe?endpoint_id=` opens a stream, `POST /publish`
/// with a JSON array of changes writes them to every stream that wants them.
#[durable_object(fetch)]
pub struct LiveHub {
    subscribers: RefCell<Vec<Subscriber>>,
}

impl DurableObject for LiveHub {
    fn new(_state: State, _env: Env) -> Self {
        Self {
            subscribers: RefCell::new(Vec::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match req.method() {
            Method::Get => {
                let url = req.url()?;
                let endpoint_id = url
                    .query_pairs()
                    .find(|(k, _)| k == "endpoint_id")
                    .map(|(_, v)| v.into_owned());
                self.subscribe(endpoint_id)
            }
            Method::Post => {
                let changes: Vec<Change> = req.json().await?;
                let reached = self.publish(&changes);
                Response::from_json(&json!({ "subscribers": reached }))
            }
            _ => Response::error("method not allowed", 405),
        }
    }
}

impl LiveHub {
    /// A new stream: a first comment (so the answer starts at once), then the
    /// changes it wants and a heartbeat when idle. It ends when the client
    /// goes; its sender is dropped at the next publish.
    fn subscribe(&self, endpoint_id: Option<String>) -> Result<Response> {
        let (sender, receiver) = unbounded::<String>();
        self.subscribers.borrow_mut().push(Subscriber {
            endpoint_id,
            sender,
        });
        let beats = stream::unfold((), |()| async {
            Delay::from(Duration::from_secs(HEARTBEAT_S)).await;
            Some((heartbeat().to_string(), ()))
        });
        let body = stream::once(async { ": connected\n\n".to_string() })
            .chain(stream::select(receiver, beats))
            .map(|text| Ok::<Vec<u8>, worker::Error>(text.into_bytes()));
        let headers = Headers::new();
        headers.set("content-type", "text/event-stream; charset=utf-8")?;
        headers.set("cache-control", "no-store")?;
        Ok(Response::from_stream(body)?.with_headers(headers))
    }

    /// Writes each change to the streams that want it; forgets closed
    /// streams. Returns how many streams are open.
    fn publish(&self, changes: &[Change]) -> usize {
        let mut subscribers = self.subscribers.borrow_mut();
        subscribers.retain(|s| !s.sender.is_closed());
        for change in changes {
            let message = change.to_sse();
            for s in subscribers.iter().filter(|s| s.wants(change)) {
                // A stream closed since the check is dropped at the next publish.
                let _closed = s.sender.unbounded_send(message.clone());
            }
        }
        subscribers.len()
    }
}

/// A new stream from the hub (of one endpoint's events, or all), passed
/// through as the hub writes it.
pub async fn open_stream(relay: &Relay, endpoint_id: Option<&EndpointId>) -> Result<Response> {
    let target = match endpoint_id {
        Some(id) => format!("https://{HUB}/subscribe?endpoint_id={id}"),
        None => format!("https://{HUB}/subscribe"),
    };
    let stub = relay
        .env
        .durable_object(BINDING)?
        .id_from_name(HUB)?
        .get_stub()?;
    stub.fetch_with_str(&target).await
}

/// What one invocation tells the hub, coalesced ([`Coalesce`]): the changes
/// published while a request to the hub is under way go in the next one
/// together. A queue batch's deliveries each tell it twice (delivering, then
/// the status they end in); one request each would be three requests per
/// webhook to the one hub object, with the ack's.
#[derive(Default)]
pub struct Outbox(Coalesce<Vec<Change>, ()>);

impl Outbox {
    /// As [`publish`], in one request with whatever else this invocation is
    /// publishing meanwhile.
    pub async fn publish(&self, env: &Env, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let sent = self
            .0
            .submit(changes, |groups: Vec<Vec<Change>>| async move {
                let published = groups.len();
                let all: Vec<Change> = groups.into_iter().flatten().collect();
                publish(env, &all).await;
                vec![(); published]
            })
            .await;
        if sent.is_none() {
            console_error!(
                "{}",
                json!({"msg": "live stream not told: the publish was abandoned"})
            );
        }
    }
}

/// Tells the hub what changed (one request for all of `changes`); a failure
/// is logged, never raised: nothing waits on a stream.
pub async fn publish(env: &Env, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    if let Err(err) = send(env, changes).await {
        console_error!(
            "{}",
            json!({"msg": "live stream not told", "changes": changes.len(), "error": err.to_string()})
        );
    }
}

async fn send(env: &Env, changes: &[Change]) -> Result<()> {
    let stub = env.durable_object(BINDING)?.id_from_name(HUB)?.get_stub()?;
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(serde_json::to_string(changes)?.into()));
    let request = Request::new_with_init(&format!("https://{HUB}/publish"), &init)?;
    let mut answer = stub.fetch_with_request(request).await?;
    let _subscribers: serde_json::Value = answer.json().await?;
    Ok(())
}
