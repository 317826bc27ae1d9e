//! What the relay sends alongside its work, coalesced across everything an
//! isolate runs at once: the delivery messages of the events the ack path
//! stored, and what every delivery and ack tells the live hubs.
//!
//! One `queue.send` and one hub request per ack cost more CPU than the rest
//! of the ack path after its storage round trips (measured on workerd: with
//! both, about 7 ms of the runtime's thread per ack at 32 senders; without
//! either, about 4.3), and a queue batch's deliveries told the hub twice
//! more. So each hands its messages or changes to an isolate-wide group
//! ([`Coalesce`]): the first flushes at once, alone; those handed over while
//! it runs go together in the next flush, one `sendBatch` per delivery queue
//! or one hub request per shard. A lone send costs what it did; under load,
//! a flush carries many, in the order they were handed over (so an event's
//! `delivering` reaches its hub before the status it ends in).
//!
//! Every caller awaits its own items' outcome (the ack path inside its
//! `wait_until`) and logs a failed send: the sweeper delivers those events,
//! and the stream is best effort. A flusher is one caller's future, which the
//! runtime may end (a `wait_until` has 30 s after the answer): it flushes at
//! most [`MAX_ROUNDS`] times before handing over to a waiting caller, and
//! gives each flush at most [`FLUSH_TIMEOUT`], so it never holds the group
//! past that. The flusher sends with its own bindings; the others' items are
//! plain data.

use crate::coalesce::{gather, Coalesce};
use crate::hub;
use crate::ledger::Path;
use crate::live::Change;
use crate::relay::Deliveries;
use crate::shards::ShardName;
use futures::future::{join_all, select, Either};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;
use worker::{Delay, Env};

/// How many flushes one caller does for the isolate before it hands the turn
/// to a waiting caller.
const MAX_ROUNDS: usize = 8;

/// How long one flush may take: [`MAX_ROUNDS`] of them stay under the 30 s a
/// `wait_until` has after the answer.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// One caller's delivery messages: the events of one shard a queue must carry.
type Messages = (ShardName, Vec<String>);

/// Whether a send went out; the error as text, as every item of a failed
/// `sendBatch` shares it.
type Sent = Result<(), String>;

thread_local! {
    static MESSAGES: Rc<Coalesce<Messages, Sent>> = Rc::new(Coalesce::with_max_rounds(MAX_ROUNDS));
    static CHANGES: Rc<Coalesce<(ShardName, Vec<Change>), ()>> =
        Rc::new(Coalesce::with_max_rounds(MAX_ROUNDS));
}

/// Sends the delivery messages of `event_ids` (events of `shard`) with those
/// the isolate is sending meanwhile; `Err` when they were not sent.
pub async fn enqueue(env: &Env, path: Path, shard: ShardName, event_ids: Vec<String>) -> Sent {
    let group = MESSAGES.with(Rc::clone);
    group
        .submit((shard, event_ids), |items| send_messages(env, path, items))
        .await
        .unwrap_or_else(|| Err("the send was abandoned".into()))
}

/// Tells `shard`'s hub of `changes`, with those the isolate is telling
/// meanwhile. Best effort, as [`hub::publish_on`]: a failure is logged.
pub async fn publish(env: &Env, shard: ShardName, changes: Vec<Change>) {
    if changes.is_empty() {
        return;
    }
    let group = CHANGES.with(Rc::clone);
    group
        .submit((shard, changes), |items| publish_changes(env, items))
        .await;
}

/// One flush of delivery messages: one `sendBatch` (in chunks of the queue's
/// maximum) per shard's queue, at once; each item gets its shard's outcome.
async fn send_messages(env: &Env, path: Path, items: Vec<Messages>) -> Vec<Sent> {
    let shards = gather(&items);
    let sends = shards.iter().map(|(shard, ids)| async move {
        let deliveries = Deliveries::of_shard(env, shard, path).map_err(|e| e.to_string())?;
        within(FLUSH_TIMEOUT, deliveries.send_many(ids))
            .await
            .ok_or_else(|| format!("no answer within {} s", FLUSH_TIMEOUT.as_secs()))?
            .map_err(|e| e.to_string())
    });
    let outcomes = join_all(sends).await;
    items
        .iter()
        .map(|(shard, _)| outcome_of(&shards, &outcomes, shard))
        .collect()
}

/// One flush of live changes: one request per shard's hub, at once.
async fn publish_changes(env: &Env, items: Vec<(ShardName, Vec<Change>)>) -> Vec<()> {
    let count = items.len();
    let shards = gather(&items);
    let sends = shards.iter().map(|(shard, changes)| async move {
        if within(FLUSH_TIMEOUT, hub::publish_on(env, shard, changes))
            .await
            .is_none()
        {
            worker::console_error!(
                "{}",
                serde_json::json!({"msg": "live stream not told: the hub did not answer in time",
                                   "shard": shard.as_str(), "changes": changes.len()})
            );
        }
    });
    join_all(sends).await;
    vec![(); count]
}

/// The outcome of `shard`'s send among `outcomes` (one per entry of `shards`).
fn outcome_of(shards: &[(ShardName, Vec<String>)], outcomes: &[Sent], shard: &ShardName) -> Sent {
    shards
        .iter()
        .position(|(s, _)| s == shard)
        .and_then(|i| outcomes.get(i).cloned())
        .unwrap_or_else(|| Err("no send for this shard".into()))
}

/// `work`'s output, or `None` when `limit` passes first (the work is then
/// abandoned: what it would have done is logged as not done).
async fn within<T>(limit: Duration, work: impl Future<Output = T>) -> Option<T> {
    match select(pin!(work), Delay::from(limit)).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}
