//! `/api/v1/alerts`: where alerts go. A `slack` channel is a Slack incoming-webhook
//! URL; a `webhook` channel gets JSON signed with Standard Webhooks headers using
//! the channel's secret, shown once at creation.

use super::read_json;
use crate::alerts::Alert;
use crate::destination::check_destination;
use crate::error::{json_response, ApiError};
use crate::model::new_id;
use crate::notify;
use crate::relay::{now_ms, random_bytes, Relay};
use crate::store::{alerts, meta};
use crate::time::iso8601;
use crate::verify::standard;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelInput {
    kind: String,
    url: String,
}

pub async fn create(relay: &Relay, req: Request) -> Result<Response, ApiError> {
    let input: ChannelInput = read_json(req).await?;
    if input.kind != "slack" && input.kind != "webhook" {
        return Err(ApiError::bad_request(
            "invalid_alert_channel",
            "kind is \"slack\" or \"webhook\"",
        ));
    }
    check_destination(&input.url, relay.settings.allow_private_destinations)
        .map_err(|why| ApiError::bad_request("invalid_destination", why))?;
    let now = now_ms();
    let channel = alerts::Channel {
        id: new_id("alc", now as u64, random_bytes()),
        secret: (input.kind == "webhook").then(|| standard::encode_secret(&random_bytes::<32>())),
        kind: input.kind,
        url: input.url,
        created_at: now as f64,
    };
    alerts::insert(&relay.db, &channel).await?;
    // Dead letters are reported from now on, not the whole history.
    if meta::get(&relay.db, "alert:dead_watermark")
        .await?
        .is_none()
    {
        meta::put(&relay.db, "alert:dead_watermark", &now.to_string(), now).await?;
    }
    let mut body = view(&channel);
    if let Some(secret) = &channel.secret {
        body["secret"] = json!(secret);
    }
    Ok(json_response(201, &body)?)
}

pub async fn list(relay: &Relay) -> Result<Response, ApiError> {
    let data: Vec<Value> = alerts::list(&relay.db).await?.iter().map(view).collect();
    Ok(json_response(200, &json!({ "data": data }))?)
}

pub async fn delete(relay: &Relay, id: &str) -> Result<Response, ApiError> {
    if !alerts::delete(&relay.db, id).await? {
        return Err(ApiError::not_found("alert channel"));
    }
    Ok(Response::empty()?.with_status(204))
}

/// Sends a test alert to one channel and says whether it was accepted.
pub async fn test(relay: &Relay, id: &str) -> Result<Response, ApiError> {
    let channel = alerts::get(&relay.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert channel"))?;
    let delivered = notify::send_to(relay, &channel, &Alert::Test).await;
    Ok(json_response(200, &json!({ "delivered": delivered }))?)
}

fn view(c: &alerts::Channel) -> Value {
    json!({"id": c.id, "kind": c.kind, "url": c.url, "created_at": iso8601(c.created_at as i64)})
}
