//! Catch-up, the Worker's half (`POST /api/v1/endpoints/{id}/catch-up`): asks the provider's API for its record of
//! what it sent and recovers what the relay does not hold (what is pure about
//! it, and why two providers are used so differently, is in
//! [`crate::catch_up`]'s core module).
//!
//! An event counts as held when D1 holds its dedup key or an ingest with it,
//! or the archive holds it (compacted objects' filters carry dedup keys).
//! Everything written goes through the ack path's own storing
//! ([`crate::ingest::store_recovered`]): the same dedup, routes and counts, so
//! a catch-up racing a provider's retry, or a second catch-up, stores the event
//! once. A call reads at most [`MAX_FETCHED`] events and answers a cursor for
//! the rest; one that fails half-way may simply be sent again.

use crate::catch_up::{
    github_deliveries_url, github_next_cursor, github_redeliver_url, parse_github_deliveries,
    stripe_events_url, CatchUp, CatchUpOutcome, CatchUpRequest, DeliveryScan, StripePage,
    MAX_FETCHED, PAGE_SIZE,
};
use crate::dedup::key_for_delivery_id;
use crate::error::ApiError;
use crate::history;
use crate::hub;
use crate::ingest::store_recovered;
use crate::live::Change;
use crate::model::{DeliveryMessage, SourceRoutes};
use crate::relay::{now_ms, Relay};
use crate::store::ingests;
use futures::future::{select, Either};
use futures::StreamExt;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use worker::{
    console_error, console_log, AbortController, Delay, Fetch, Headers, Method, Request,
    RequestInit, RequestRedirect, Url,
};

/// How long one request to the provider may take.
const PROVIDER_TIMEOUT_MS: u64 = 15_000;
/// The most of one provider answer read (a page of 100 Stripe events).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// Stripe retries a webhook for up to three days: an event created at `t`
/// reached the relay, if at all, before `t` plus this.
const STRIPE_RETRY_SPAN_MS: i64 = 4 * 24 * 3_600_000;
const HOUR_MS: i64 = 3_600_000;

/// Runs one catch-up call for the endpoint (`found`: its source and routes).
pub async fn run(
    relay: &Relay,
    found: &SourceRoutes,
    config: &CatchUp,
    request: CatchUpRequest,
) -> Result<CatchUpOutcome, ApiError> {
    let endpoint_id = found.source.id.clone();
    let mut progress = CatchUpOutcome::default();
    let result = match config {
        CatchUp::Stripe { .. } => stripe(relay, found, config, &request, &mut progress).await,
        CatchUp::GitHub { .. } => github(relay, found, config, &request, &mut progress).await,
    };
    console_log!(
        "{}",
        json!({"msg": "catch-up", "endpoint_id": endpoint_id, "api": config.api().as_str(),
               "fetched": progress.fetched, "recovered": progress.recovered,
               "duplicates": progress.duplicates, "more": progress.next.is_some(),
               "ok": result.is_ok()})
    );
    match result {
        Ok(()) => Ok(progress),
        Err(err) => {
            let message = format!(
                "{} ({} fetched, {} recovered before it; sending the same request again is safe)",
                err.message, progress.fetched, progress.recovered
            );
            Err(ApiError::new(err.status, err.code, message))
        }
    }
}

/// Stripe: each page's events the relay does not hold become ingests. What
/// was stored is queued even after a failure (the sweeper would deliver it
/// anyway, a little later).
async fn stripe(
    relay: &Relay,
    found: &SourceRoutes,
    config: &CatchUp,
    request: &CatchUpRequest,
    progress: &mut CatchUpOutcome,
) -> Result<(), ApiError> {
    let mut stored = Recovered::default();
    let result = stripe_pages(relay, found, config, request, progress, &mut stored).await;
    send(relay, &stored.pushed).await;
    hub::publish(relay, &stored.received).await;
    result
}

async fn stripe_pages(
    relay: &Relay,
    found: &SourceRoutes,
    config: &CatchUp,
    request: &CatchUpRequest,
    progress: &mut CatchUpOutcome,
    stored: &mut Recovered,
) -> Result<(), ApiError> {
    let CatchUp::Stripe { api_base, .. } = config else {
        return Ok(());
    };
    let mut cursor = request.cursor.clone();
    while progress.fetched + PAGE_SIZE <= MAX_FETCHED {
        let url = stripe_events_url(api_base, request.since_ms, cursor.as_deref())
            .map_err(bad_api_base)?;
        let answer = call(Method::Get, &url, config).await?;
        let page = StripePage::parse(&answer.body).map_err(|e| provider_error(&url, &e))?;
        progress.fetched += page.events.len();
        ingest_page(relay, found, &page, progress, stored).await?;
        cursor = page.next_cursor();
        if cursor.is_none() {
            break;
        }
    }
    progress.next = cursor;
    Ok(())
}

/// What a call stored: the events the queue must carry, and the changes the
/// live stream is told.
#[derive(Default)]
struct Recovered {
    pushed: Vec<DeliveryMessage>,
    received: Vec<Change>,
}

/// Stores the events of one page the relay does not hold.
async fn ingest_page(
    relay: &Relay,
    found: &SourceRoutes,
    page: &StripePage,
    progress: &mut CatchUpOutcome,
    stored: &mut Recovered,
) -> Result<(), ApiError> {
    let keys: Vec<String> = page
        .events
        .iter()
        .map(|e| key_for_delivery_id(&e.id))
        .collect();
    let created = page.events.iter().filter_map(|e| e.created_ms());
    let window = arrival_window(created, STRIPE_RETRY_SPAN_MS);
    let held = held(relay, found, &keys, window).await?;
    for (event, key) in page.events.iter().zip(&keys) {
        if held.contains(key) {
            progress.duplicates += 1;
            continue;
        }
        let one = store_recovered(relay, found, event.body.clone()).await?;
        match one.recorded {
            ingests::Recorded::New => {
                progress.recovered += 1;
                stored.pushed.extend(one.pushed);
                stored.received.extend(one.received);
            }
            ingests::Recorded::Duplicate { .. } => progress.duplicates += 1,
        }
    }
    Ok(())
}

/// GitHub: the hook's deliveries since `since`, then a redelivery of each
/// event that failed, was never delivered later, and the relay does not hold.
async fn github(
    relay: &Relay,
    found: &SourceRoutes,
    config: &CatchUp,
    request: &CatchUpRequest,
    progress: &mut CatchUpOutcome,
) -> Result<(), ApiError> {
    let CatchUp::GitHub {
        api_base,
        repo,
        hook_id,
        ..
    } = config
    else {
        return Ok(());
    };
    let mut scan = DeliveryScan::new(request.since_ms);
    let mut cursor = request.cursor.clone();
    while scan.fetched + PAGE_SIZE <= MAX_FETCHED {
        let url = github_deliveries_url(api_base, repo, *hook_id, cursor.as_deref())
            .map_err(bad_api_base)?;
        let answer = call(Method::Get, &url, config).await?;
        let page = parse_github_deliveries(&answer.body).map_err(|e| provider_error(&url, &e))?;
        scan.add_page(&page);
        cursor = github_next_cursor(answer.link.as_deref());
        if scan.reached_since || cursor.is_none() {
            cursor = None;
            break;
        }
    }
    progress.fetched = scan.fetched;
    progress.duplicates = scan.recovered_later();
    let failed = scan.failed();
    let keys: Vec<String> = failed
        .iter()
        .map(|d| key_for_delivery_id(&d.guid))
        .collect();
    let times = failed
        .iter()
        .filter_map(|d| crate::event_query::parse_instant(&d.delivered_at));
    let window = arrival_window(times, HOUR_MS);
    let held = held(relay, found, &keys, window).await?;
    for (delivery, key) in failed.iter().zip(&keys) {
        if held.contains(key) {
            progress.duplicates += 1;
            continue;
        }
        let url =
            github_redeliver_url(api_base, repo, *hook_id, delivery.id).map_err(bad_api_base)?;
        call(Method::Post, &url, config).await?;
        progress.recovered += 1;
    }
    progress.next = cursor;
    Ok(())
}

/// When the provider's events could have reached the relay: from an hour
/// before the earliest of `sent_at` to `later_ms` after the latest (`None`
/// when the provider said no time).
fn arrival_window(sent_at: impl Iterator<Item = i64> + Clone, later_ms: i64) -> Option<(i64, i64)> {
    let first = sent_at.clone().min()?;
    let last = sent_at.max()?;
    Some((first - HOUR_MS, last + later_ms))
}

/// Which of `keys` the relay holds: in D1, else in the archive objects of
/// `window` (when the provider says when its events were sent).
async fn held(
    relay: &Relay,
    found: &SourceRoutes,
    keys: &[String],
    window: Option<(i64, i64)>,
) -> Result<HashSet<String>, ApiError> {
    let endpoint_id = &found.source.id;
    let mut held = ingests::held_keys(&relay.db, endpoint_id, keys).await?;
    let unknown: Vec<String> = keys
        .iter()
        .filter(|k| !held.contains(*k))
        .cloned()
        .collect();
    if let (false, Some((from, to))) = (unknown.is_empty(), window) {
        let to = to.min(now_ms());
        held.extend(
            history::held_dedup_keys(relay, endpoint_id.as_str(), &unknown, from, to).await?,
        );
    }
    Ok(held)
}

/// Queues the recovered events' deliveries; a failure is logged, and the
/// sweeper delivers them.
async fn send(relay: &Relay, messages: &[DeliveryMessage]) {
    if messages.is_empty() {
        return;
    }
    if let Err(err) = relay.enqueue_all(messages).await {
        console_error!(
            "{}",
            json!({"msg": "queue send failed; the sweeper will deliver", "events": messages.len(),
                   "error": err.to_string()})
        );
    }
}

/// A provider's answer: its `Link` header (GitHub's paging) and its body.
struct Answer {
    link: Option<String>,
    body: Vec<u8>,
}

/// One request to the provider's API with the configuration's credential;
/// anything but a 2xx is an error that names the status, never the credential.
async fn call(method: Method, url: &Url, config: &CatchUp) -> Result<Answer, ApiError> {
    let headers = Headers::new();
    for (name, value) in config.auth_headers() {
        headers.set(name, &value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(method.clone())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    let request = Request::new_with_init(url.as_str(), &init)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        let mut resp = Fetch::Request(request).send_with_signal(&signal).await?;
        let link = resp.headers().get("link")?;
        let body = read_capped(&mut resp).await?;
        Ok::<_, worker::Error>((resp.status_code(), link, body))
    };
    futures::pin_mut!(exchange);
    let timer = Delay::from(Duration::from_millis(PROVIDER_TIMEOUT_MS));
    let what = format!("{} {}", method.as_ref(), url.path());
    let (status, link, body) = match select(exchange, timer).await {
        Either::Left((Ok(answer), _timer)) => answer,
        Either::Left((Err(err), _timer)) => {
            return Err(unreachable(format!("{what} failed: {err}")));
        }
        Either::Right(((), exchange)) => {
            controller.abort();
            // Settles at once with an abort error; awaited so nothing outlives the call.
            let _aborted: worker::Result<_> = exchange.await;
            return Err(unreachable(format!(
                "{what} did not answer within {PROVIDER_TIMEOUT_MS} ms"
            )));
        }
    };
    match status {
        200..=299 => Ok(Answer { link, body }),
        401 | 403 => Err(ApiError::new(
            502,
            "catch_up_refused",
            format!("the provider answered {status} to {what}: check the catch_up credential and its permissions"),
        )),
        _ => Err(ApiError::new(
            502,
            "catch_up_failed",
            format!("the provider answered {status} to {what}"),
        )),
    }
}

async fn read_capped(resp: &mut worker::Response) -> worker::Result<Vec<u8>> {
    let mut stream = resp.stream()?;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk?);
        if body.len() > MAX_ANSWER_BYTES {
            return Err(worker::Error::RustError(format!(
                "the answer is larger than {MAX_ANSWER_BYTES} bytes"
            )));
        }
    }
    Ok(body)
}

fn unreachable(message: String) -> ApiError {
    ApiError::new(502, "catch_up_unreachable", message)
}

fn provider_error(url: &Url, why: &str) -> ApiError {
    ApiError::new(
        502,
        "catch_up_failed",
        format!("the provider's answer to {} is {why}", url.path()),
    )
}

fn bad_api_base(why: String) -> ApiError {
    ApiError::new(
        500,
        "misconfigured_endpoint",
        format!("catch_up.api_base: {why}"),
    )
}
