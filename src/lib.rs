//! hookrelay: an inbound webhook relay on Cloudflare Workers.
//!
//! This file holds only the entry points; each hands over to the module named for
//! the job: `ingest` (the ack path), `deliver` (the queue consumer), `sweep` (the
//! cron backstop), `api` (management), `recover` (catch-up from a provider's
//! own record). The pure modules (`verify`, `dedup`, `catch_up`,
//! `retry`, `rate`, `destination`, `envelope`, `model`, `settings`,
//! `handshake`, `allowlist`, `redact`, `metrics`, `alerts`, `filter`, `transform`,
//! `stats`, `event_query`, `ledger`, `access`, `headers`, `time`) live in the
//! `hookrelay-core` crate (core/), which does not depend on `worker`; they are
//! re-exported here under their own names.

pub use hookrelay_core::{
    access, alert_rules, alerts, allowlist, catch_up, coalesce, dedup, destination, envelope,
    event_query, filter, handshake, headers, inputs, ledger, live, metrics, model, outbox, queues,
    rate, redact, retry, search, settings, shards, stats, time, transform, verify, views,
};

pub mod after_ack;
pub mod api;
pub mod archive;
pub mod compact;
pub mod deliver;
pub mod error;
pub mod history;
pub mod hub;
pub mod ingest;
pub mod notify;
pub mod outbound;
pub mod recover;
pub mod relay;
pub mod retention;
pub mod store;
pub mod sweep;
pub mod watch;

use error::ApiError;
use ledger::Path;
use model::DeliveryMessage;
use relay::Relay;
use serde_json::json;
use worker::{
    console_error, event, Context, Env, MessageBatch, Request, Response, Result, ScheduleContext,
    ScheduledEvent,
};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let path = req.path();
    let served = if path.starts_with("/ep_") {
        Path::Ingest
    } else {
        Path::Api
    };
    let relay = match Relay::new(env, served) {
        Ok(relay) => relay,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let result = if let Some(endpoint_id) = path.strip_prefix('/').filter(|p| p.starts_with("ep_"))
    {
        let endpoint_id = endpoint_id.to_string();
        ingest::handle(&relay, &ctx, req, &endpoint_id).await
    } else if path == "/api/v1" || path.starts_with("/api/v1/") {
        api::handle(&relay, req).await
    } else if path == "/" {
        dashboard_redirect()
    } else {
        Err(ApiError::not_found("route"))
    };
    result.or_else(ApiError::into_response)
}

/// `/` sends a browser to the operators' dashboard. The dashboard itself is
/// static assets (`dist/`, built by `scripts/build.sh`), served before this
/// Worker runs, so only this redirect is Worker code.
fn dashboard_redirect() -> std::result::Result<Response, ApiError> {
    let mut res = Response::empty()?.with_status(302);
    res.headers_mut().set("location", "/dashboard/")?;
    Ok(res)
}

#[event(queue)]
async fn queue(batch: MessageBatch<DeliveryMessage>, env: Env, _ctx: Context) -> Result<()> {
    let relay = Relay::new(env, Path::Delivery)?;
    let shards = deliver::by_shard(&relay, &batch)
        .into_iter()
        .map(|(shard, messages)| Ok((relay.on(&shard)?, messages)))
        .collect::<Result<Vec<deliver::ShardMessages>>>()?;
    if relay.is_dead_letter_queue(&batch.queue()) {
        for (relay, messages) in &shards {
            deliver::handle_dead_letters(relay, messages).await;
        }
    } else {
        deliver::handle_batch(&shards).await;
    }
    Ok(())
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let outcome = match Relay::new(env, Path::Sweep) {
        Ok(relay) => sweep::run(&relay).await.map(|_| ()),
        Err(err) => Err(err),
    };
    if let Err(err) = outcome {
        console_error!(
            "{}",
            json!({"msg": "sweep failed", "error": err.to_string()})
        );
    }
}
