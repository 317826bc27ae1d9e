//! `/api/v1/alerts`: where alerts go. A `slack` channel is a Slack incoming-webhook
//! URL; a `webhook` channel gets JSON signed with Standard Webhooks headers using
//! the channel's secret, shown once at creation; a `pagerduty` channel sends
//! Events API v2 events with the operator's integration (routing) key, which is
//! write-only, to PagerDuty's own URL unless `url` names another.

use super::read_json;
use crate::alerts::{Alert, ChannelKind, PAGERDUTY_EVENTS_URL};
use crate::destination::check_destination;
use crate::error::{json_response, ApiError};
use crate::inputs::{ChannelInput, MAX_ROUTING_KEY_CHARS};
use crate::model::AlertChannelId;
use crate::notify;
use crate::relay::{now_ms, random_bytes, Relay};
use crate::store::{alerts, meta};
use crate::time::iso8601;
use crate::verify::standard;
use crate::views::{AlertChannelView, ChannelTested, CreatedAlertChannel, List};
use worker::{Request, Response};

pub async fn create(relay: &Relay, req: Request) -> Result<Response, ApiError> {
    let input: ChannelInput = read_json(req).await?;
    let invalid = |msg: &str| ApiError::bad_request("invalid_alert_channel", msg);
    let kind = ChannelKind::parse(&input.kind)
        .ok_or_else(|| invalid("kind is \"slack\", \"webhook\" or \"pagerduty\""))?;
    let (url, secret) = match (kind, input.url, input.routing_key) {
        (ChannelKind::Slack, Some(url), None) => (url, None),
        (ChannelKind::Webhook, Some(url), None) => {
            (url, Some(standard::encode_secret(&random_bytes::<32>())))
        }
        (ChannelKind::PagerDuty, url, Some(key)) => {
            let printable = key.chars().all(|c| c.is_ascii_graphic());
            if key.is_empty() || key.chars().count() > MAX_ROUTING_KEY_CHARS || !printable {
                return Err(invalid("routing_key is PagerDuty's integration key (printable, at most 128 characters)"));
            }
            (
                url.unwrap_or_else(|| PAGERDUTY_EVENTS_URL.to_string()),
                Some(key),
            )
        }
        (ChannelKind::Slack | ChannelKind::Webhook, None, _) => {
            return Err(invalid("url is required"))
        }
        (ChannelKind::Slack | ChannelKind::Webhook, Some(_), Some(_)) => {
            return Err(invalid("routing_key is for pagerduty channels only"))
        }
        (ChannelKind::PagerDuty, _, None) => return Err(invalid("routing_key is required")),
    };
    check_destination(&url, relay.settings.allow_private_destinations)
        .map_err(|why| ApiError::bad_request("invalid_destination", why))?;
    let now = now_ms();
    let channel = alerts::Channel {
        id: AlertChannelId::generate(now as u64, random_bytes()),
        secret,
        kind,
        url,
        created_at: now as f64,
    };
    alerts::insert(&relay.control, &channel).await?;
    // Dead letters are reported from now on, not the whole history.
    if meta::get(&relay.control, "alert:dead_watermark")
        .await?
        .is_none()
    {
        meta::put(
            &relay.control,
            "alert:dead_watermark",
            &now.to_string(),
            now,
        )
        .await?;
    }
    // A webhook channel's signing secret is the relay's, shown once; a
    // routing key is the operator's, never shown back.
    let body = CreatedAlertChannel {
        channel: view(&channel),
        secret: channel
            .secret
            .clone()
            .filter(|_| channel.kind == ChannelKind::Webhook),
    };
    Ok(json_response(201, &body)?)
}

pub async fn list(relay: &Relay) -> Result<Response, ApiError> {
    let data: Vec<AlertChannelView> = alerts::list(&relay.control)
        .await?
        .iter()
        .map(view)
        .collect();
    Ok(json_response(200, &List { data })?)
}

pub async fn delete(relay: &Relay, id: &str) -> Result<Response, ApiError> {
    if !alerts::delete(&relay.control, id).await? {
        return Err(ApiError::not_found("alert channel"));
    }
    Ok(Response::empty()?.with_status(204))
}

/// Sends a test alert to one channel and says whether it was accepted.
pub async fn test(relay: &Relay, id: &str) -> Result<Response, ApiError> {
    let channel = alerts::get(&relay.control, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert channel"))?;
    let delivered = notify::send_to(relay, &channel, &Alert::Test).await;
    Ok(json_response(200, &ChannelTested { delivered })?)
}

/// A channel as listed: no secret of any kind.
fn view(c: &alerts::Channel) -> AlertChannelView {
    AlertChannelView {
        id: c.id.clone(),
        kind: c.kind,
        url: c.url.clone(),
        created_at: iso8601(c.created_at as i64),
    }
}
