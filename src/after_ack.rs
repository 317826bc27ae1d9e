//! What the ack path sends after its answer, together with the other acks its
//! isolate serves at once: the delivery messages of the events it stored,
//! and what it tells the live hubs.
//!
//! One `queue.send` and one hub request per ack cost more of the runtime's
//! CPU than the rest of the ack path after its storage round trips (measured
//! on workerd at 32 senders, with no consumer: about 7 ms of its thread per
//! ack with both, about 4.3 without either). So each ack hands its messages
//! and changes to the isolate's outbox ([`Outbox`]): the ack that finds no
//! send under way sends its own at once, then whatever the other acks handed
//! over meanwhile, one `sendBatch` per delivery queue and one hub request per
//! shard a round; the others return at once. A lone ack costs what it did;
//! under load, a round carries many.
//!
//! The sender logs what it could not send: the sweeper delivers those events
//! (D1 is the truth; a queue message is only the fast path), and the stream is
//! best effort. A round may take at most [`ROUND_TIMEOUT`]; a sender starts no
//! round after [`BUDGET_MS`] of sending, and a round older than
//! [`STALE_AFTER_MS`] is taken to be gone (its request ended mid-send), so a
//! sender stays well within the 30 s a `wait_until` has after the answer.

use crate::hub;
use crate::ledger::Path;
use crate::live::Change;
use crate::model::DeliveryMessage;
use crate::outbox::{gather, Outbox};
use crate::relay::{now_ms, Deliveries};
use crate::shards::ShardName;
use futures::future::{join_all, select, Either};
use serde_json::json;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;
use worker::{console_error, Delay, Env};

/// How long one round's sends may take before what they carry is given up
/// (logged as not sent).
const ROUND_TIMEOUT: Duration = Duration::from_secs(3);

/// A sender starts no round after this long: what is left goes with the next
/// ack's send.
const BUDGET_MS: i64 = 10_000;

/// A round that began this long ago is taken to be gone. Longer than
/// [`ROUND_TIMEOUT`], so a live round is never taken over.
const STALE_AFTER_MS: i64 = 15_000;

/// One ack's delivery messages: for the events of one shard.
type Messages = (ShardName, Vec<DeliveryMessage>);

/// One ack's live changes, for one shard's hub.
type Changes = (ShardName, Vec<Change>);

thread_local! {
    static MESSAGES: Rc<Outbox<Messages>> = Rc::new(Outbox::new(BUDGET_MS, STALE_AFTER_MS));
    static CHANGES: Rc<Outbox<Changes>> = Rc::new(Outbox::new(BUDGET_MS, STALE_AFTER_MS));
}

/// Hands over the delivery messages of events of `shard`, sent with those
/// of the isolate's other acks.
pub async fn enqueue(env: &Env, path: Path, shard: ShardName, messages: Vec<DeliveryMessage>) {
    let outbox = MESSAGES.with(Rc::clone);
    outbox
        .hand_over((shard, messages), now_ms, |items| {
            send_messages(env, path, items)
        })
        .await;
}

/// Hands over what `shard`'s hub is told, sent with the isolate's other acks'.
pub async fn publish(env: &Env, shard: ShardName, changes: Vec<Change>) {
    let outbox = CHANGES.with(Rc::clone);
    outbox
        .hand_over((shard, changes), now_ms, |items| {
            publish_changes(env, items)
        })
        .await;
}

/// One round of delivery messages: one `sendBatch` (in chunks within the
/// queue's limits) per shard's queue, at once; a failure is logged with its
/// events.
async fn send_messages(env: &Env, path: Path, items: Vec<Messages>) {
    let sends = gather(&items)
        .into_iter()
        .map(|(shard, messages)| async move {
            let sent = match Deliveries::of_shard(env, &shard, path) {
                Ok(deliveries) => within(ROUND_TIMEOUT, deliveries.send_all(&messages))
                    .await
                    .unwrap_or_else(|| Err(no_answer_in_time())),
                Err(err) => Err(err),
            };
            if let Err(err) = sent {
                log_not_sent(&messages, &shard, &err.to_string());
            }
        });
    join_all(sends).await;
}

/// Logs delivery messages that were not sent: the sweeper delivers their
/// events.
pub fn log_not_sent(messages: &[DeliveryMessage], shard: &ShardName, error: &str) {
    let event_ids: Vec<&str> = messages.iter().map(|m| m.event_id.as_str()).collect();
    console_error!(
        "{}",
        json!({"msg": "queue send failed; the sweeper will deliver", "event_ids": event_ids,
               "shard": shard.as_str(), "error": error})
    );
}

/// One round of live changes: one request per shard's hub, at once.
async fn publish_changes(env: &Env, items: Vec<Changes>) {
    let sends = gather(&items)
        .into_iter()
        .map(|(shard, changes)| async move {
            if within(ROUND_TIMEOUT, hub::publish_on(env, &shard, &changes))
                .await
                .is_none()
            {
                console_error!(
                    "{}",
                    json!({"msg": "live stream not told", "changes": changes.len(),
                       "shard": shard.as_str(), "error": no_answer_in_time().to_string()})
                );
            }
        });
    join_all(sends).await;
}

fn no_answer_in_time() -> worker::Error {
    worker::Error::RustError(format!("no answer within {} s", ROUND_TIMEOUT.as_secs()))
}

/// `work`'s output, or `None` when `limit` passes first (the work is then
/// abandoned, and the caller logs what it did not do).
async fn within<T>(limit: Duration, work: impl Future<Output = T>) -> Option<T> {
    match select(pin!(work), Delay::from(limit)).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}
