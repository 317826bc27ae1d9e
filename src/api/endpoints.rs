//! `/api/v1/endpoints`: create, read, edit and delete the `ep_` URLs.
//!
//! Provider secrets are write-only: the API reports how many are configured,
//! never their values. The relay secret (which signs outbound requests) is shown
//! at creation and at `GET /endpoints/{id}/secret`.

use super::{base_url, read_json};
use crate::destination::check_destination;
use crate::error::{json_response, ApiError};
use crate::model::{Endpoint, EndpointId};
use crate::relay::{now_ms, random_bytes, Relay};
use crate::retry::{validate_schedule, DEFAULT_SCHEDULE_S};
use crate::store::{endpoint_cache, endpoints};
use crate::time::iso8601;
use crate::verify::{standard, Provider};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response, Url};

const DEFAULT_TIMEOUT_MS: u32 = 15_000;
const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u32> = 100..=60_000;
const MAX_SECRETS: usize = 10;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EndpointInput {
    name: Option<String>,
    provider: Option<String>,
    secrets: Option<Vec<String>>,
    destination_url: Option<String>,
    retry: Option<RetryInput>,
    timeout_ms: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryInput {
    schedule_s: Vec<u32>,
}

pub async fn create(relay: &Relay, req: Request, url: &Url) -> Result<Response, ApiError> {
    let input: EndpointInput = read_json(req).await?;
    let now = now_ms();
    let blank = Endpoint {
        id: EndpointId::generate(now as u64, random_bytes()),
        name: String::new(),
        provider: String::new(),
        secrets: Vec::new(),
        relay_secret: standard::encode_secret(&random_bytes::<32>()),
        destination_url: String::new(),
        retry_schedule_s: DEFAULT_SCHEDULE_S.to_vec(),
        timeout_ms: DEFAULT_TIMEOUT_MS,
        created_at: now,
        updated_at: now,
    };
    let endpoint = apply(relay, blank, input, true)?;
    endpoints::insert(&relay.db, &endpoint).await?;
    endpoint_cache::invalidate(&endpoint.id);
    let mut view = view(relay, &endpoint, url);
    view["relay_secret"] = json!(endpoint.relay_secret);
    Ok(json_response(201, &view)?)
}

pub async fn list(relay: &Relay, url: &Url) -> Result<Response, ApiError> {
    let all = endpoints::list(&relay.db).await?;
    let data: Vec<Value> = all.iter().map(|ep| view(relay, ep, url)).collect();
    Ok(json_response(200, &json!({ "data": data }))?)
}

pub async fn get(relay: &Relay, raw_id: &str, url: &Url) -> Result<Response, ApiError> {
    let endpoint = load(relay, raw_id).await?;
    Ok(json_response(200, &view(relay, &endpoint, url))?)
}

pub async fn relay_secret(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let endpoint = load(relay, raw_id).await?;
    Ok(json_response(
        200,
        &json!({ "relay_secret": endpoint.relay_secret }),
    )?)
}

pub async fn update(
    relay: &Relay,
    req: Request,
    raw_id: &str,
    url: &Url,
) -> Result<Response, ApiError> {
    let current = load(relay, raw_id).await?;
    let input: EndpointInput = read_json(req).await?;
    let mut endpoint = apply(relay, current, input, false)?;
    endpoint.updated_at = now_ms();
    let saved = endpoints::update(&relay.db, &endpoint).await?;
    endpoint_cache::invalidate(&endpoint.id);
    if !saved {
        return Err(ApiError::not_found("endpoint"));
    }
    Ok(json_response(200, &view(relay, &endpoint, url))?)
}

pub async fn delete(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let id = parse_id(raw_id)?;
    let deleted = endpoints::soft_delete(&relay.db, &id, now_ms()).await?;
    endpoint_cache::invalidate(&id);
    if !deleted {
        return Err(ApiError::not_found("endpoint"));
    }
    Ok(Response::empty()?.with_status(204))
}

fn parse_id(raw_id: &str) -> Result<EndpointId, ApiError> {
    EndpointId::parse(raw_id).ok_or_else(|| ApiError::not_found("endpoint"))
}

async fn load(relay: &Relay, raw_id: &str) -> Result<Endpoint, ApiError> {
    let id = parse_id(raw_id)?;
    endpoints::get(&relay.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))
}

/// Applies the given fields to `ep` and validates the result as a whole.
/// `creating` makes name, provider and destination_url required.
fn apply(
    relay: &Relay,
    mut ep: Endpoint,
    input: EndpointInput,
    creating: bool,
) -> Result<Endpoint, ApiError> {
    let invalid = |msg: String| ApiError::bad_request("invalid_endpoint", msg);
    let required = |field: &str| invalid(format!("{field} is required"));
    match input.name {
        Some(name) => ep.name = name.trim().to_string(),
        None if creating => return Err(required("name")),
        None => {}
    }
    match input.provider {
        Some(p) => ep.provider = p,
        None if creating => return Err(required("provider")),
        None => {}
    }
    match input.destination_url {
        Some(u) => ep.destination_url = u,
        None if creating => return Err(required("destination_url")),
        None => {}
    }
    if let Some(secrets) = input.secrets {
        ep.secrets = secrets;
    }
    if let Some(retry) = input.retry {
        ep.retry_schedule_s = retry.schedule_s;
    }
    if let Some(t) = input.timeout_ms {
        ep.timeout_ms = t;
    }

    if ep.name.is_empty() || ep.name.len() > 200 {
        return Err(invalid("name must be 1 to 200 characters".into()));
    }
    let provider = Provider::parse(&ep.provider).ok_or_else(|| {
        let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        invalid(format!("provider must be one of {}", known.join(", ")))
    })?;
    if provider.needs_secret() && ep.secrets.is_empty() {
        return Err(invalid(format!(
            "provider {} needs at least one secret",
            provider.as_str()
        )));
    }
    if ep.secrets.len() > MAX_SECRETS {
        return Err(invalid(format!("at most {MAX_SECRETS} secrets")));
    }
    for secret in &ep.secrets {
        provider.validate_secret(secret).map_err(invalid)?;
    }
    check_destination(
        &ep.destination_url,
        relay.settings.allow_private_destinations,
    )
    .map_err(|why| ApiError::bad_request("invalid_destination", why))?;
    validate_schedule(&ep.retry_schedule_s).map_err(invalid)?;
    if !TIMEOUT_RANGE_MS.contains(&ep.timeout_ms) {
        return Err(invalid(format!(
            "timeout_ms must be within {}..={}",
            TIMEOUT_RANGE_MS.start(),
            TIMEOUT_RANGE_MS.end()
        )));
    }
    Ok(ep)
}

fn view(relay: &Relay, ep: &Endpoint, url: &Url) -> Value {
    json!({
        "id": ep.id,
        "name": ep.name,
        "provider": ep.provider,
        "destination_url": ep.destination_url,
        "ingest_url": format!("{}/{}", base_url(relay, url), ep.id),
        "retry": { "schedule_s": ep.retry_schedule_s },
        "timeout_ms": ep.timeout_ms,
        "secrets_count": ep.secrets.len(),
        "created_at": iso8601(ep.created_at),
        "updated_at": iso8601(ep.updated_at),
    })
}
