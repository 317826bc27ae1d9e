//! `POST /api/v1/endpoints/{id}/catch-up` `{"since", "cursor"?}` (editor):
//! recovers from the provider's own record what the endpoint never acked
//! (see [`crate::recover`]). Answers `200 {"fetched", "recovered",
//! "duplicates", "next"?}`; `next` is sent back as `cursor` while more remain.

use super::read_json;
use crate::catch_up::CatchUpRequest;
use crate::error::{json_response, ApiError};
use crate::model::EndpointId;
use crate::recover;
use crate::relay::{now_ms, Relay};
use crate::store::endpoints;
use serde_json::Value;
use worker::{Request, Response};

pub async fn run(relay: &Relay, req: Request, raw_id: &str) -> Result<Response, ApiError> {
    let body: Value = read_json(req).await?;
    let request = CatchUpRequest::parse(body, now_ms())
        .map_err(|msg| ApiError::bad_request("invalid_catch_up", msg))?;
    let id = EndpointId::parse(raw_id).ok_or_else(|| ApiError::not_found("endpoint"))?;
    // Read from D1, not the ack path's cache: the configuration may have
    // changed a moment ago in another isolate.
    let found = endpoints::get_with_routes(&relay.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    let Some(config) = found.source.catch_up.clone() else {
        return Err(ApiError::new(
            409,
            "catch_up_not_configured",
            "this endpoint has no catch_up configuration; an admin sets it with PATCH /api/v1/endpoints/{id}",
        ));
    };
    if found.source.disabled {
        return Err(ApiError::new(
            409,
            "endpoint_disabled",
            "this endpoint is disabled: it takes no events, recovered ones included",
        ));
    }
    let outcome = recover::run(relay, &found, &config, request).await?;
    Ok(json_response(200, &outcome)?)
}
