//! The live hubs: the Durable Objects (`LiveHub`, binding `LIVE`) that fan
//! out event status changes to `GET /api/v1/stream`'s open streams
//! (`text/event-stream`; the messages are [`crate::live`]'s).
//!
//! Each shard has its own hub ([`live::hub_name`]), so no one object takes
//! every ack and delivery of the relay. Ingest (after its answer) tells its
//! shard's hub what changed through [`crate::after_ack`], with the other
//! acks of its isolate; a queue batch's deliveries through their
//! invocation's [`Outbox`]; the rarer paths (replays, pull leases, the
//! sweeper) through [`publish`], one request per batch of changes. The hub
//! writes each change to every open stream that wants it (all endpoints, or
//! the one in `?endpoint_id=`) at once. A stream of one
//! endpoint reads its shard's hub; the stream of every endpoint reads every
//! shard's hub and merges them a whole message at a time, and ends when any
//! of them does (so the client reconnects to all). An open stream costs no
//! D1 query after it opens: it is fed by what the relay does, and sent a
//! comment every [`HEARTBEAT_S`] seconds when idle.
//!
//! Streamed: `received` (ingest, catch-up, replays of one event or many, a
//! filtered request a replay routes, a lease the sweeper releases), and
//! `delivering`, `retrying`, `delivered` and `dead` of push deliveries (the
//! queue, the sweeper, circuit probes) and of pull leases and their reports;
//! `dead` by a route's deletion or the dead-letter queue too. A statement
//! that moves many events returns them (`store::events::Changed`) to be told.
//! Telling the hub is best effort: a failure is logged and the event goes on.

use crate::coalesce::Coalesce;
use crate::live::{self, connected, heartbeat, Change, Messages, HEARTBEAT_S};
use crate::model::EndpointId;
use crate::relay::Relay;
use crate::shards::ShardName;
use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::future::{ready, try_join_all};
use futures::stream::{self, StreamExt};
use serde_json::json;
use std::cell::RefCell;
use std::time::Duration;
use worker::{
    console_error, durable_object, Delay, DurableObject, Env, Headers, Method, Request,
    RequestInit, Response, Result, State, Stub,
};

/// The hubs' binding; each shard's hub is the object of its name.
const BINDING: &str = "LIVE";

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
                // The opener addresses the hub by its name (`https://<name>/`).
                let hub = url.host_str().unwrap_or_default().to_string();
                self.subscribe(&hub, endpoint_id)
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
    /// A new stream: a first comment naming the hub (so the answer starts at
    /// once), then the changes it wants and a heartbeat when idle. It ends
    /// when the client goes; its sender is dropped at the next publish.
    fn subscribe(&self, hub: &str, endpoint_id: Option<String>) -> Result<Response> {
        let (sender, receiver) = unbounded::<String>();
        self.subscribers.borrow_mut().push(Subscriber {
            endpoint_id,
            sender,
        });
        let beats = stream::unfold((), |()| async {
            Delay::from(Duration::from_secs(HEARTBEAT_S)).await;
            Some((heartbeat().to_string(), ()))
        });
        let body = stream::once(ready(connected(hub)))
            .chain(stream::select(receiver, beats))
            .map(|text| Ok::<Vec<u8>, worker::Error>(text.into_bytes()));
        event_stream(body)
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

/// A new stream of one endpoint's events (from its shard's hub, passed
/// through as the hub writes it), or of every endpoint's (every shard's
/// hub, merged).
pub async fn open_stream(relay: &Relay, endpoint_id: Option<&EndpointId>) -> Result<Response> {
    match endpoint_id {
        Some(id) => {
            let shard = relay.for_endpoint(id.as_str()).await?;
            let url = format!("{}?endpoint_id={id}", subscribe_url(shard.shard()));
            hub(&relay.env, shard.shard())?.fetch_with_str(&url).await
        }
        None => match relay.shards().as_slice() {
            [only] => {
                hub(&relay.env, only)?
                    .fetch_with_str(&subscribe_url(only))
                    .await
            }
            shards => merged_stream(&relay.env, shards).await,
        },
    }
}

/// Every shard's hub stream, opened at once and merged a whole message at a
/// time ([`Messages`]); the merged stream ends when any of them ends.
async fn merged_stream(env: &Env, shards: &[ShardName]) -> Result<Response> {
    let opened =
        try_join_all(shards.iter().map(|shard| async move {
            hub(env, shard)?.fetch_with_str(&subscribe_url(shard)).await
        }))
        .await?;
    let hubs = opened
        .into_iter()
        .map(|mut answer| {
            let whole_messages = answer
                .stream()?
                .scan(Messages::default(), |messages, chunk| {
                    ready(Some(chunk.map(|bytes| messages.push(&bytes))))
                });
            // `None` marks the end of this hub's stream.
            Ok(whole_messages.map(Some).chain(stream::once(ready(None))))
        })
        .collect::<Result<Vec<_>>>()?;
    let body = stream::select_all(hubs)
        .take_while(|item| ready(item.is_some()))
        .filter_map(|item| {
            ready(match item {
                Some(Ok(Some(messages))) => Some(Ok(messages)),
                Some(Ok(None)) | None => None,
                Some(Err(err)) => Some(Err(err)),
            })
        });
    event_stream(body)
}

/// A `text/event-stream` answer of `body`.
fn event_stream(
    body: impl futures::TryStream<Ok = Vec<u8>, Error = worker::Error> + 'static,
) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "text/event-stream; charset=utf-8")?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::from_stream(body)?.with_headers(headers))
}

/// The hub object of `shard`.
fn hub(env: &Env, shard: &ShardName) -> Result<Stub> {
    env.durable_object(BINDING)?
        .id_from_name(&live::hub_name(shard))?
        .get_stub()
}

fn subscribe_url(shard: &ShardName) -> String {
    format!("https://{}/subscribe", live::hub_name(shard))
}

/// What one invocation tells the hub, coalesced ([`Coalesce`]): the changes
/// published while a request to the hub is under way go in the next one
/// together. A queue batch's deliveries each tell it twice (delivering, then
/// the status they end in); one request each would be three requests per
/// webhook to the one hub object, with the ack's.
#[derive(Default)]
pub struct Outbox(Coalesce<Vec<Change>, ()>);

impl Outbox {
    /// As [`publish_on`], in one request with whatever else this invocation
    /// is publishing meanwhile (an outbox belongs to one shard's `Relay`).
    pub async fn publish(&self, env: &Env, shard: &ShardName, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let sent = self
            .0
            .submit(changes, |groups: Vec<Vec<Change>>| async move {
                let published = groups.len();
                let all: Vec<Change> = groups.into_iter().flatten().collect();
                publish_on(env, shard, &all).await;
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

/// Tells the hub of `relay`'s shard what changed ([`publish_on`]).
pub async fn publish(relay: &Relay, changes: &[Change]) {
    publish_on(&relay.env, relay.shard(), changes).await;
}

/// Tells `shard`'s hub what changed (one request for all of `changes`); a
/// failure is logged, never raised: nothing waits on a stream.
pub async fn publish_on(env: &Env, shard: &ShardName, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    if let Err(err) = send(env, shard, changes).await {
        console_error!(
            "{}",
            json!({"msg": "live stream not told", "changes": changes.len(), "shard": shard.as_str(),
                   "error": err.to_string()})
        );
    }
}

async fn send(env: &Env, shard: &ShardName, changes: &[Change]) -> Result<()> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(serde_json::to_string(changes)?.into()));
    let url = format!("https://{}/publish", live::hub_name(shard));
    let request = Request::new_with_init(&url, &init)?;
    let answer = hub(env, shard)?.fetch_with_request(request).await?;
    // Only the status matters: the answer's body (the hub's subscriber
    // count) is not read, which costs the publisher nothing.
    match answer.status_code() {
        200..=299 => Ok(()),
        status => Err(worker::Error::RustError(format!(
            "the hub answered {status}"
        ))),
    }
}
