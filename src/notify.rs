//! Sends an alert to every configured channel, each with its own bounded retries,
//! concurrently. Never called on the ack path; the consumer calls it only after
//! its messages are acked, so an alert target that is down delays nothing.

use crate::alerts::{Alert, ChannelKind};
use crate::destination::check_destination;
use crate::model::new_id;
use crate::outbound;
use crate::relay::{now_ms, random_bytes, Relay};
use crate::retry::OutcomeClass;
use crate::store::alerts::{self, Channel};
use crate::verify::standard;
use futures::future::join_all;
use serde_json::json;
use std::time::Duration;
use worker::{console_error, console_log, Delay, Result};

const TIMEOUT_MS: u32 = 5_000;
const RETRY_DELAYS_MS: [u64; 2] = [500, 1_500];

/// Sends `alert` everywhere; returns how many channels accepted it.
pub async fn send(relay: &Relay, alert: &Alert) -> Result<usize> {
    let channels = alerts::list(&relay.control).await?;
    let outcomes = join_all(channels.iter().map(|c| send_to(relay, c, alert))).await;
    let reached = outcomes.iter().filter(|ok| **ok).count();
    console_log!(
        "{}",
        json!({"msg": "alert", "type": alert.kind(), "channels": channels.len(), "reached": reached})
    );
    Ok(reached)
}

/// One channel, tried up to three times.
pub async fn send_to(relay: &Relay, channel: &Channel, alert: &Alert) -> bool {
    let Ok(url) = check_destination(&channel.url, relay.settings.allow_private_destinations) else {
        console_error!(
            "{}",
            json!({"msg": "alert channel refused", "channel": channel.id})
        );
        return false;
    };
    let base = relay.settings.public_url.as_deref();
    for attempt in 0..=RETRY_DELAYS_MS.len() {
        let (headers, body) = request(channel, alert, base);
        let result = outbound::post(&url, &headers, body.as_bytes(), TIMEOUT_MS).await;
        if result.class == OutcomeClass::Delivered {
            return true;
        }
        console_error!(
            "{}",
            json!({"msg": "alert send failed", "channel": channel.id, "attempt": attempt + 1, "error": result.error})
        );
        if let Some(ms) = RETRY_DELAYS_MS.get(attempt) {
            Delay::from(Duration::from_millis(*ms)).await;
        }
    }
    false
}

fn request(
    channel: &Channel,
    alert: &Alert,
    base: Option<&str>,
) -> (Vec<(String, String)>, String) {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    match channel.kind {
        ChannelKind::Slack => return (headers, alert.slack_body(base)),
        ChannelKind::PagerDuty => {
            let routing_key = channel.secret.as_deref().unwrap_or_default();
            return (headers, alert.pagerduty_body(routing_key));
        }
        ChannelKind::Webhook => {}
    }
    let now = now_ms();
    let id = new_id("alt", now as u64, random_bytes());
    let body = alert.webhook_body(&id, now, base);
    if let Some(key) = channel.secret.as_deref().and_then(standard::decode_secret) {
        headers.push(("webhook-id".into(), id.clone()));
        headers.push(("webhook-timestamp".into(), (now / 1000).to_string()));
        headers.push((
            "webhook-signature".into(),
            standard::sign(&key, &id, now / 1000, body.as_bytes()),
        ));
    }
    (headers, body)
}
