//! The delivery path: the queue consumer, and [`deliver_event`], which the sweeper
//! also calls when the queue is not doing its job.
//!
//! One deliverer at a time: an event is first claimed by a compare-and-set with a
//! lease (a queue batch's events in one statement); a duplicate message, a
//! sweeper run or a replay that finds nothing to claim simply acks. The
//! attempt and the status change are written in one batch (shared with the
//! other outcomes of the invocation that finish meanwhile, see
//! `store::group`), and a queue message is acked only after that batch
//! completed.

use crate::destination::check_destination;
use crate::envelope::{outbound_headers, route_payload, Envelope, Payload};
use crate::headers::HeaderList;
use crate::hub;
use crate::live::Change;
use crate::model::{DeliveryMessage, DestinationType, EventId, Route, RouteRef, Status};
use crate::outbound::{self, AttemptResult};
use crate::rate::RateLimit;
use crate::relay::{now_ms, random_bytes, random_unit, Relay};
use crate::retry::{closes_circuit, decide, parse_retry_after_s, Decision, OutcomeClass};
use crate::settings::Fault;
use crate::shards::ShardName;
use crate::store::attempts::AttemptRow;
use crate::store::bodies::{self, StoredBody};
use crate::store::endpoints::{self, CircuitInput};
use crate::store::events::{self, Claim, Transition};
use crate::store::{endpoint_cache, ingests};
use crate::watch;

/// Waiting events re-enqueued per drain; the sweeper delivers any beyond.
const DRAIN_LIMIT: u32 = 1_000;
/// Deliveries in flight at once per invocation. Workers open at most six
/// outbound connections per invocation and queue the rest, and a queued
/// fetch's timeout clock would already be running: a slow queue would look
/// like a slow destination and open its circuit.
pub const CONNECTIONS: usize = 6;
use futures::future::join_all;
use futures::stream::{self, StreamExt};
use serde_json::json;
use worker::{console_error, console_log, MessageBatch, MessageExt, RawMessage, Result};

/// What one delivery call did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delivery {
    /// Someone else holds the event, it is finished, not yet due, or a gate
    /// (pause, open circuit, FIFO line) holds it.
    NotClaimed,
    /// The rate limit said "later": the event was given back and re-enqueued
    /// with a delay.
    Deferred,
    /// An attempt (or a definitive refusal) moved the event to this status.
    Finished(Status),
    /// The lease expired mid-attempt and another deliverer took over.
    LeaseLost,
}

/// A batch's messages for one shard, with the invocation working in it.
pub type ShardMessages = (Relay, Vec<(RawMessage, DeliveryMessage)>);

/// Queue consumer for `DELIVERIES`: each shard's events of the batch are
/// claimed in one statement (one D1 round trip per shard, the shards at
/// once), then all are delivered at most [`CONNECTIONS`] at a time whatever
/// their shard (each also within the isolate's body budget), each message
/// acked after its writes, retried by the queue if they failed. A message
/// whose event was not claimed (someone else has it, it is finished or held,
/// or a second message for the same event) is acked.
pub async fn handle_batch(shards: &[ShardMessages]) {
    let Some((first, _)) = shards.first() else {
        return;
    };
    if first.settings.faults.contains(&Fault::Consume) {
        for (message, msg) in shards.iter().flat_map(|(_, messages)| messages) {
            console_error!(
                "{}",
                json!({"msg": "injected fault: consume", "event_id": msg.event_id})
            );
            message.retry();
        }
        return;
    }
    let claimed = join_all(
        shards
            .iter()
            .map(|(relay, messages)| claim_batch(relay, messages)),
    )
    .await;
    let mut work: Vec<(&Relay, &RawMessage, String, Option<Claim>)> = Vec::new();
    for ((relay, messages), claims) in shards.iter().zip(claimed) {
        let mut claims = match claims {
            Ok(claims) => claims,
            Err(err) => {
                console_error!(
                    "{}",
                    json!({"msg": "batch claim failed; the queue will retry",
                           "shard": relay.shard(), "error": err.to_string()})
                );
                for (message, _) in messages {
                    message.retry();
                }
                continue;
            }
        };
        work.extend(messages.iter().map(|(message, msg)| {
            let claim = claims.remove(msg.event_id.as_str()).map(|claim| Claim {
                carried_body: msg.body.clone(),
                ..claim
            });
            (relay, message, msg.event_id.clone(), claim)
        }));
    }
    stream::iter(
        work.into_iter().map(|(relay, message, event_id, claim)| {
            handle_message(relay, message, event_id, claim)
        }),
    )
    .buffer_unordered(CONNECTIONS)
    .collect::<Vec<()>>()
    .await;
    // A dead cron cannot report itself; the consumer keeps an eye on it.
    watch::check_sweeper_now_and_then(first).await;
}

/// Claims every event the batch names in one statement, by event id.
async fn claim_batch(
    relay: &Relay,
    parsed: &[(RawMessage, DeliveryMessage)],
) -> Result<std::collections::HashMap<EventId, Claim>> {
    injected_d1_outage(relay)?;
    let ids: Vec<&str> = parsed.iter().map(|(_, m)| m.event_id.as_str()).collect();
    let token = hex::encode(random_bytes::<16>());
    let margin_ms = relay.settings.lease_margin_s as i64 * 1000;
    let claims = events::claim_many(&relay.db, &ids, now_ms(), margin_ms, &token).await?;
    Ok(claims.into_iter().map(|c| (c.id.clone(), c)).collect())
}

/// Delivers one message's event if the batch claim took it; acks once its
/// writes are done (or when there was nothing to do), else the queue retries.
async fn handle_message(
    relay: &Relay,
    message: &RawMessage,
    event_id: String,
    claim: Option<Claim>,
) {
    let Some(claim) = claim else {
        return message.ack();
    };
    match deliver_claimed(relay, claim, false).await {
        Ok(_) => message.ack(),
        Err(err) => {
            console_error!(
                "{}",
                json!({"msg": "delivery failed to record; the queue will retry",
                       "event_id": event_id, "error": err.to_string()})
            );
            message.retry();
        }
    }
}

/// Consumer for the dead-letter queue: a message lands there after the queue gave
/// up on it (the consumer kept failing). Its event is marked `dead` with the
/// reason (replayable) only if a deliverer's lease on it expired mid-attempt;
/// an event nobody tried, or one whose lease is still live, is left to the
/// sweeper (see [`events::mark_dead_letter`]).
pub async fn handle_dead_letters(relay: &Relay, parsed: &[(RawMessage, DeliveryMessage)]) {
    for (message, msg) in parsed {
        let reason = "the delivery message was dead-lettered after repeated consumer failures";
        match events::mark_dead_letter(&relay.db, &msg.event_id, reason, now_ms()).await {
            Ok(marked) => {
                console_log!(
                    "{}",
                    json!({"msg": "dead-lettered message", "event_id": msg.event_id,
                           "marked_dead": marked.is_some()})
                );
                if let Some(dead) = marked {
                    hub::publish(relay, &[dead.change(now_ms())]).await;
                }
                message.ack()
            }
            Err(err) => {
                console_error!(
                    "{}",
                    json!({"msg": "dead-letter not recorded", "event_id": msg.event_id, "error": err.to_string()})
                );
                message.retry();
            }
        }
    }
}

/// A batch's messages, each with its parsed body, grouped by the shard
/// holding their events. A malformed message, or one naming no bound shard,
/// is logged and acked: D1 is the truth, and the sweeper finds its event.
pub fn by_shard(
    relay: &Relay,
    batch: &MessageBatch<DeliveryMessage>,
) -> Vec<(ShardName, Vec<(RawMessage, DeliveryMessage)>)> {
    let bound = relay.shards();
    let mut groups: Vec<(ShardName, Vec<(RawMessage, DeliveryMessage)>)> = Vec::new();
    for message in batch.raw_iter() {
        let Some(msg) = parse_message(&message) else {
            message.ack();
            continue;
        };
        let Some(shard) = msg.shard().filter(|s| bound.contains(s)) else {
            console_error!(
                "{}",
                json!({"msg": "queue message for no bound shard dropped",
                       "event_id": msg.event_id, "shard": msg.shard})
            );
            message.ack();
            continue;
        };
        match groups.iter_mut().find(|(s, _)| *s == shard) {
            Some((_, group)) => group.push((message, msg)),
            None => groups.push((shard, vec![(message, msg)])),
        }
    }
    groups
}

fn parse_message(message: &RawMessage) -> Option<DeliveryMessage> {
    let parsed = serde_wasm_bindgen::from_value::<DeliveryMessage>(message.body());
    if parsed.is_err() {
        console_error!(
            "{}",
            json!({"msg": "malformed queue message dropped", "id": message.id()})
        );
    }
    parsed.ok()
}

/// Claims the event and makes one attempt. `Err` only when D1 could not be
/// read or written; the event is then still covered by its lease and the sweeper.
pub async fn deliver_event(relay: &Relay, event_id: &str) -> Result<Delivery> {
    deliver(relay, event_id, false).await
}

/// Sends one probe through a route's open circuit: its oldest waiting event,
/// if the probe slot for this interval is free. Any answer but a "down" one
/// (5xx, timeout, network error) closes the circuit and drains the backlog,
/// and the probed event follows its own answer (a `422` goes dead, a `429`
/// waits): the circuit is about the destination, not about one event. A down
/// answer doubles the probe interval and does not count against the event's
/// schedule.
pub async fn probe_route(relay: &Relay, route_id: &RouteRef) -> Result<Delivery> {
    if !endpoints::take_probe_slot(&relay.db, route_id, now_ms()).await? {
        return Ok(Delivery::NotClaimed);
    }
    match events::waiting(&relay.db, route_id, 1).await?.first() {
        Some(oldest) => deliver(relay, &oldest.id, true).await,
        None => Ok(Delivery::NotClaimed),
    }
}

async fn deliver(relay: &Relay, event_id: &str, probe: bool) -> Result<Delivery> {
    injected_d1_outage(relay)?;
    let token = hex::encode(random_bytes::<16>());
    let lease_margin_ms = relay.settings.lease_margin_s as i64 * 1000;
    let claimed = events::claim(
        &relay.db,
        event_id,
        now_ms(),
        lease_margin_ms,
        &token,
        probe,
    )
    .await?;
    match claimed {
        Some(claim) => deliver_claimed(relay, claim, probe).await,
        None => Ok(Delivery::NotClaimed),
    }
}

/// One attempt for an event this deliverer holds, told to the live hub: that
/// it is being delivered (while the attempt runs, so it costs no latency),
/// then the status it ended in.
async fn deliver_claimed(relay: &Relay, claim: Claim, probe: bool) -> Result<Delivery> {
    let event_type = claim.ingest.as_ref().and_then(|i| i.event_type.clone());
    let attempt = claim.attempt_count as u32 + 1;
    let change = |status: &str| {
        Change::new(
            &claim.id,
            &claim.endpoint_id,
            claim.route_id.as_str(),
            status,
            event_type.as_deref(),
            attempt,
            now_ms(),
        )
    };
    let delivering = vec![change(Status::Delivering.as_str())];
    let (outcome, ()) = futures::join!(
        attempt_claimed(relay, &claim, probe),
        relay.live.publish(&relay.env, relay.shard(), delivering)
    );
    if let Ok(Delivery::Finished(status)) = &outcome {
        relay
            .live
            .publish(&relay.env, relay.shard(), vec![change(status.as_str())])
            .await;
    }
    outcome
}

/// One attempt for an event this deliverer holds: its route, the rate limit,
/// the body within the budget, the request, and the outcome recorded.
async fn attempt_claimed(relay: &Relay, claim: &Claim, probe: bool) -> Result<Delivery> {
    let Some(route) = load_target(relay, claim).await? else {
        return finish_dead(relay, claim, events::ROUTE_DELETED).await;
    };
    if !probe {
        if let Some(slot_at) = later_rate_slot(relay, claim, &route).await? {
            return defer_to_slot(relay, claim, slot_at).await;
        }
    }
    let body_size = claim.body_size.unwrap_or(0.0) as usize;
    let _budget = BodyBudget::acquire(body_size).await;
    match prepare(relay, claim, &route).await? {
        Prepared::Ready(plan) => attempt_and_record(relay, claim, &route, plan, probe).await,
        Prepared::Refused(reason) => finish_dead(relay, claim, &reason).await,
        Prepared::TransformFailed { number, reason } => {
            transform_failed(relay, claim, number, &reason).await
        }
    }
}

/// The `d1_deliver_outage` test fault: D1 is unreachable for delivery.
fn injected_d1_outage(relay: &Relay) -> Result<()> {
    if relay.settings.d1_down_for_delivery(now_ms()) {
        return Err(worker::Error::RustError(
            "injected fault: D1 is unavailable".into(),
        ));
    }
    Ok(())
}

/// Bytes of stored bodies that deliveries in this isolate may hold at once.
/// An isolate has 128 MB; one delivery holds about three copies of its body
/// (the R2 read, the payload, the request), so this leaves room for the rest.
const BODY_BUDGET_BYTES: usize = 48 * 1024 * 1024;
/// Copies of a body one delivery holds at its peak.
const BODY_COPIES: usize = 3;

thread_local! {
    static BODY_BYTES_IN_USE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A share of [`BODY_BUDGET_BYTES`] held while one delivery loads and sends
/// its body; given back when dropped. A delivery waits while the others hold
/// too much, except that one delivery alone may always go (so a body bigger
/// than the budget is still delivered, just never beside another).
struct BodyBudget {
    bytes: usize,
}

impl BodyBudget {
    async fn acquire(body_size: usize) -> BodyBudget {
        let bytes = body_size.saturating_mul(BODY_COPIES);
        loop {
            let in_use = BODY_BYTES_IN_USE.with(|c| c.get());
            if in_use == 0 || in_use.saturating_add(bytes) <= BODY_BUDGET_BYTES {
                BODY_BYTES_IN_USE.with(|c| c.set(in_use + bytes));
                return BodyBudget { bytes };
            }
            worker::Delay::from(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for BodyBudget {
    fn drop(&mut self) {
        BODY_BYTES_IN_USE.with(|c| c.set(c.get().saturating_sub(self.bytes)));
    }
}

/// Records the failed transformation as an attempt (class `transform_error`,
/// nothing sent) and sends the event to dead with the reason; fixing the
/// transformation and replaying delivers it.
pub(crate) async fn transform_failed(
    relay: &Relay,
    claim: &Claim,
    number: u32,
    reason: &str,
) -> Result<Delivery> {
    let now = now_ms();
    let row = AttemptRow {
        number: f64::from(number),
        started_at: now as f64,
        duration_ms: 0.0,
        status_code: None,
        outcome: TRANSFORM_ERROR.to_string(),
        error: Some(reason.to_string()),
        response_snippet: None,
    };
    let transition = Transition {
        status: Status::Dead,
        next_attempt_at: now,
        last_error: Some(reason),
        dead_reason: Some(reason),
        advance_cycle: true,
    };
    let held = events::complete(&relay.db, claim, Some(&row), &transition, Vec::new(), now).await?;
    log_attempt(relay, claim, &row, Status::Dead, held);
    Ok(if held {
        Delivery::Finished(Status::Dead)
    } else {
        Delivery::LeaseLost
    })
}

/// The attempt class of a transformation that could not serve the request.
pub const TRANSFORM_ERROR: &str = "transform_error";

/// The delivery target of the claim: the `endpoints` row named by its
/// `route_id` (destination, retry policy, timeout, relay secret, transformation).
/// It comes from the endpoint cache entry of the endpoint that received the
/// request, which holds its live routes, when that copy is as new as the row the
/// claim saw (so a fixed transformation or a new destination applies to the very
/// next attempt); otherwise from D1, and the stale entry is dropped.
async fn load_target(relay: &Relay, claim: &Claim) -> Result<Option<Route>> {
    let source = &claim.endpoint_id;
    let ttl_s = relay.settings.endpoint_cache_ttl_s;
    let (found, _) = endpoint_cache::lookup(&relay.db, source, now_ms(), ttl_s).await?;
    let seen_at = claim.route_updated_at.map(|at| at as i64);
    let cached = found
        .into_iter()
        .flat_map(|f| f.routes)
        .find(|route| route.id == claim.route_id);
    match cached {
        Some(route) if Some(route.updated_at) == seen_at => return Ok(Some(route)),
        Some(_) => endpoint_cache::invalidate(source),
        None => {}
    }
    Ok(endpoints::get_route(&relay.db, &claim.route_id)
        .await?
        .map(|(route, _)| route))
}

/// `Some(slot_at)` when the route's rate limit gives this event a later slot
/// than now. An event that already holds a slot (it was deferred to it) and
/// whose slot has come spends no new one.
async fn later_rate_slot(relay: &Relay, claim: &Claim, target: &Route) -> Result<Option<i64>> {
    let Some(limit) = RateLimit::from_setting(target.rate_limit_per_s) else {
        return Ok(None);
    };
    let now = now_ms();
    if claim.rate_slot_at.is_some_and(|slot| slot as i64 <= now) {
        return Ok(None);
    }
    let slot_at = endpoints::reserve_rate_slot(&relay.db, &claim.route_id, limit, now).await?;
    Ok((slot_at > now).then_some(slot_at))
}

/// Gives the claim back until its reserved slot and asks again then with a
/// fresh delayed message (not a queue retry, which would count towards
/// dead-lettering).
async fn defer_to_slot(relay: &Relay, claim: &Claim, slot_at: i64) -> Result<Delivery> {
    let now = now_ms();
    if events::release_to_slot(&relay.db, claim, slot_at, now).await? {
        requeue_later(relay, &claim.id, (slot_at - now).max(0) as u64).await;
    }
    Ok(Delivery::Deferred)
}

/// What the destination receives for one attempt: the relay's outbound headers
/// and the stored body. Shared by push delivery and pull leases.
pub struct Outbound {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub number: u32,
    pub content_type: Option<String>,
    pub event_type: Option<String>,
    pub received_at: i64,
}

/// Everything one push attempt needs, loaded after the claim.
struct AttemptPlan {
    url: worker::Url,
    outbound: Outbound,
}

enum Prepared {
    Ready(AttemptPlan),
    /// The event can never be delivered as things stand (body gone, destination
    /// refused): dead, replayable after the fix.
    Refused(String),
    /// The route's transformation cannot serve this request: an attempt of
    /// class `transform_error`, then dead with the reason.
    TransformFailed {
        number: u32,
        reason: String,
    },
}

/// Why an outbound request cannot be built.
pub enum Unbuildable {
    /// The ingest or body is gone, or the relay secret is unusable.
    Missing(String),
    /// The route's transformation failed on this request (attempt `number`).
    Transform { number: u32, reason: String },
}

impl Unbuildable {
    pub fn reason(&self) -> &str {
        match self {
            Unbuildable::Missing(reason) | Unbuildable::Transform { reason, .. } => reason,
        }
    }
}

async fn prepare(relay: &Relay, claim: &Claim, route: &Route) -> Result<Prepared> {
    let url = match check_destination(
        &route.destination_url,
        relay.settings.allow_private_destinations,
    ) {
        Ok(url) => url,
        Err(why) => return Ok(Prepared::Refused(format!("destination refused: {why}"))),
    };
    Ok(match outbound_for(relay, claim, route).await? {
        Ok(outbound) => Prepared::Ready(AttemptPlan { url, outbound }),
        Err(Unbuildable::Missing(why)) => Prepared::Refused(why),
        Err(Unbuildable::Transform { number, reason }) => {
            Prepared::TransformFailed { number, reason }
        }
    })
}

/// Builds the outbound request for the claimed event: the stored request, put
/// through the route's transformation if it has one, then signed with the
/// route's relay secret (so the signature covers the bytes sent). `Ok(Err(_))`
/// when it can never be built.
pub async fn outbound_for(
    relay: &Relay,
    claim: &Claim,
    route: &Route,
) -> Result<std::result::Result<Outbound, Unbuildable>> {
    let read_again;
    let ingest = match &claim.ingest {
        Some(ingest) => Some(ingest),
        None => {
            read_again = ingests::get(&relay.db, &claim.ingest_id).await?;
            read_again.as_ref()
        }
    };
    let Some(ingest) = ingest else {
        return Ok(Err(Unbuildable::Missing(
            "the ingest record is gone".into(),
        )));
    };
    let stored = match &claim.carried_body {
        Some(carried) => Some(StoredBody::from(carried.clone())),
        None => bodies::get_request(&relay.bodies()?, &ingest.body_key).await?,
    };
    let Some(stored) = stored else {
        return Ok(Err(Unbuildable::Missing("the stored body is gone".into())));
    };
    let stored_headers = HeaderList::of_ingest(&ingest.headers, stored.headers.as_deref())?;
    let body = stored.bytes;
    let number = claim.attempt_count as u32 + 1;
    let payload = route_payload(
        route.transform.as_ref(),
        body,
        stored_headers,
        ingest.content_type.clone(),
    );
    let Payload {
        body,
        headers: stored_headers,
        content_type,
    } = match payload {
        Ok(payload) => payload,
        Err(e) => {
            let reason = format!("the route's transformation failed: {e}");
            return Ok(Err(Unbuildable::Transform { number, reason }));
        }
    };
    let envelope = Envelope {
        stored_headers: &stored_headers,
        content_type: content_type.as_deref(),
        event_id: &claim.id,
        attempt_number: number,
        timestamp_s: now_ms() / 1000,
        relay_secret: &route.relay_secret,
        body: &body,
    };
    Ok(match outbound_headers(&envelope) {
        Ok(headers) => Ok(Outbound {
            headers,
            body,
            number,
            content_type,
            event_type: ingest.event_type.clone(),
            received_at: ingest.received_at as i64,
        }),
        Err(why) => Err(Unbuildable::Missing(why)),
    })
}

async fn attempt_and_record(
    relay: &Relay,
    claim: &Claim,
    route: &Route,
    plan: AttemptPlan,
    probe: bool,
) -> Result<Delivery> {
    let started = now_ms();
    let o = &plan.outbound;
    let result = outbound::post(&plan.url, &o.headers, &o.body, route.timeout_ms).await;
    let finished = now_ms();
    record_attempt(
        relay,
        claim,
        route,
        o.number,
        (started, finished),
        result,
        probe,
    )
    .await
}

/// Applies one attempt's result, wherever it was made (pushed here, or reported
/// by a pull client): classification, retry policy, circuit breaker, the attempt
/// row and the event's new state in one batch, then the follow-ups.
pub async fn record_attempt(
    relay: &Relay,
    claim: &Claim,
    route: &Route,
    number: u32,
    (started, finished): (i64, i64),
    result: AttemptResult,
    probe: bool,
) -> Result<Delivery> {
    let counted_failure = result.class.means_destination_down();
    // A probe that finds the destination still down neither spends the event's
    // schedule nor moves it on: the event waits for the circuit like every
    // other. Any other answer is an ordinary attempt.
    let free_probe = probe && counted_failure;
    let decision = if free_probe {
        Decision::Retry { delay_ms: 0 }
    } else {
        let cycle_attempts = claim.cycle_attempts as u32 + 1;
        let retry_after = parse_retry_after_s(result.retry_after.as_deref(), finished / 1000);
        decide(
            result.class,
            cycle_attempts,
            &route.retry,
            retry_after,
            random_unit(),
        )
    };
    let row = attempt_row(number, started, finished, &result);
    let (status, next_attempt_at, dead_reason) = match &decision {
        Decision::Delivered => (Status::Delivered, finished, None),
        Decision::Retry { delay_ms } => (Status::Retrying, finished + *delay_ms as i64, None),
        Decision::Dead { reason } => (Status::Dead, finished, Some(reason.as_str())),
    };
    let transition = Transition {
        status,
        next_attempt_at,
        last_error: result.error.as_deref(),
        dead_reason,
        advance_cycle: !free_probe,
    };
    let circuit = CircuitInput {
        success: closes_circuit(result.class, probe),
        counted_failure,
        probe,
    };
    let lease = (claim.id.as_str(), claim.lease_token.as_str());
    let mut also = vec![endpoints::circuit_statement(
        &relay.db,
        &claim.route_id,
        &circuit,
        finished,
        lease,
    )?];
    if result.class == OutcomeClass::Gone {
        let reason = "paused: the destination answered 410 Gone";
        also.push(endpoints::pause_if_leased(
            &relay.db,
            &claim.route_id,
            reason,
            finished,
            lease,
        )?);
    }
    injected_d1_outage(relay)?;
    let event_type = claim.ingest.as_ref().and_then(|i| i.event_type.as_deref());
    if relay.settings.outcome_write_fails(event_type) {
        also.push(relay.db.prepare("SELECT hookrelay_injected_fault()"));
    }
    let held = events::complete(&relay.db, claim, Some(&row), &transition, also, finished).await?;
    log_attempt(relay, claim, &row, status, held);
    if !held {
        return Ok(Delivery::LeaseLost);
    }
    // A pull destination's client leases the event again when it is due.
    let pushed = route.destination_type == DestinationType::Push;
    match decision {
        Decision::Retry { delay_ms } if !free_probe && pushed => {
            requeue_later(relay, &claim.id, delay_ms).await
        }
        _ => {}
    }
    if probe && circuit.success {
        drain(relay, &claim.route_id, Some(&claim.id)).await?;
    }
    if route.fifo && pushed && status != Status::Retrying {
        advance_line(relay, &claim.route_id).await?;
    }
    Ok(Delivery::Finished(status))
}

/// Re-enqueues a route's waiting events, oldest first, after a resume or a
/// closing circuit (except `requeued`, which already has its message).
/// Bounded; the sweeper takes any rest, and any the queue refused.
pub async fn drain(relay: &Relay, route_id: &RouteRef, requeued: Option<&str>) -> Result<usize> {
    let waiting = events::waiting(&relay.db, route_id, DRAIN_LIMIT).await?;
    let ids: Vec<EventId> = waiting
        .into_iter()
        .map(|w| w.id)
        .filter(|id| Some(id.as_str()) != requeued)
        .collect();
    if let Err(err) = relay.enqueue_many(&ids).await {
        console_error!(
            "{}",
            json!({"msg": "drain enqueue failed; the sweeper will deliver", "events": ids.len(),
                   "error": err.to_string()})
        );
    }
    Ok(ids.len())
}

/// FIFO: the head finished, so wake the next event in line (its earlier
/// messages were refused while it waited).
async fn advance_line(relay: &Relay, route_id: &RouteRef) -> Result<()> {
    if let Some(head) = events::head_of_line(&relay.db, route_id).await? {
        if head.status != Status::Delivering.as_str() {
            let wait_ms = (head.next_attempt_at as i64 - now_ms()).max(0) as u64;
            requeue_later(relay, &head.id, wait_ms).await;
        }
    }
    Ok(())
}

fn attempt_row(number: u32, started: i64, finished: i64, r: &AttemptResult) -> AttemptRow {
    AttemptRow {
        number: f64::from(number),
        started_at: started as f64,
        duration_ms: (finished - started) as f64,
        status_code: r.status_code.map(f64::from),
        outcome: r.class.as_str().to_string(),
        error: r.error.clone(),
        response_snippet: r.snippet.clone(),
    }
}

/// The delayed message that brings the event back when its time has come. The
/// delay is rounded up so the message never arrives before `next_attempt_at`.
async fn requeue_later(relay: &Relay, event_id: &str, delay_ms: u64) {
    let delay_s = delay_ms.div_ceil(1000) as u32;
    if let Err(err) = relay.enqueue(event_id, delay_s).await {
        console_error!(
            "{}",
            json!({"msg": "retry enqueue failed; the sweeper will retry", "event_id": event_id,
                   "error": err.to_string()})
        );
    }
}

pub(crate) async fn finish_dead(relay: &Relay, claim: &Claim, reason: &str) -> Result<Delivery> {
    let now = now_ms();
    let transition = Transition {
        status: Status::Dead,
        next_attempt_at: now,
        last_error: Some(reason),
        dead_reason: Some(reason),
        advance_cycle: false,
    };
    let held = events::complete(&relay.db, claim, None, &transition, Vec::new(), now).await?;
    console_log!(
        "{}",
        json!({"msg": "dead without attempt", "event_id": claim.id, "reason": reason})
    );
    Ok(if held {
        Delivery::Finished(Status::Dead)
    } else {
        Delivery::LeaseLost
    })
}

/// Logs an attempt: always one that did not deliver (or lost its lease),
/// a delivered one only with `LOG_EACH_WEBHOOK` on.
fn log_attempt(relay: &Relay, claim: &Claim, row: &AttemptRow, status: Status, held: bool) {
    if status == Status::Delivered && held && !relay.settings.log_each_webhook {
        return;
    }
    console_log!(
        "{}",
        json!({"msg": "attempt", "event_id": claim.id, "endpoint_id": claim.endpoint_id,
               "route_id": claim.route_id,
               "number": row.number, "code": row.status_code, "outcome": row.outcome,
               "ms": row.duration_ms, "status": status.as_str(), "lease_held": held})
    );
}
