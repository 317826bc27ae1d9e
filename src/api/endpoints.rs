//! `/api/v1/endpoints`: create, read, edit and delete the `ep_` URLs, and pause or
//! resume their deliveries.
//!
//! Provider secrets are write-only: the API reports how many are configured,
//! never their values. The relay secret (which signs outbound requests) is shown
//! at creation and at `GET /endpoints/{id}/secret`.

use super::{base_url, parse_json, read_body_capped, read_json, MAX_API_BODY_BYTES};
use crate::access::{Grant, Role};
use crate::allowlist::parse_cidrs;
use crate::catch_up::CatchUp;
use crate::deliver::drain;
use crate::destination::check_destination;
use crate::error::{json_response, ApiError};
use crate::hub;
use crate::inputs::{
    EndpointInput, PauseInput, RetryInput, RotateInput, MAX_NAME_CHARS, MAX_RETENTION_DAYS,
    MAX_SECRETS, TIMEOUT_RANGE_MS,
};
use crate::model::{
    rotate_secrets, DestinationType, Endpoint, EndpointId, EndpointState, EventId, Route, RouteId,
    RouteRef, Secret, Source,
};
use crate::rate::RateLimit;
use crate::relay::{now_ms, random_bytes, Relay};
use crate::retry::RetryPolicy;
use crate::search::SearchFields;
use crate::shards::{self, Room, ShardName};
use crate::store::shards as store_shards;
use crate::store::{endpoint_cache, endpoints, events, meta, rejections};
use crate::time::iso8601;
use crate::verify::{standard, Provider, SchemeConfig, SecretFormat};
use crate::views::{
    Created, Drained, EndpointDetail, EndpointView, List, RejectionView, Rejections,
    RelaySecretView, Rotated,
};
use futures::future::{join_all, try_join_all};
use serde_json::Value;
use worker::{Request, Response, Url};

/// How long the previous secrets stay valid after a rotation, by default.
const DEFAULT_SECRET_OVERLAP_S: u32 = 24 * 3600;

pub async fn create(relay: &Relay, req: Request, url: &Url) -> Result<Response, ApiError> {
    let input: EndpointInput = read_json(req).await?;
    let now = now_ms();
    let id = EndpointId::generate(now as u64, random_bytes());
    let blank = Endpoint {
        source: Source::new(id.clone(), Provider::none()),
        route: Route::new(
            RouteRef::First(id.clone()),
            id,
            standard::encode_secret(&random_bytes::<32>()),
            DestinationType::Push,
            now,
        ),
    };
    let endpoint = apply(relay, blank, input, true)?;
    let relay = &placed(relay, endpoint.id()).await?;
    endpoints::insert(&relay.db, &endpoint).await?;
    endpoint_cache::invalidate(endpoint.id());
    let (endpoint, state) = load(relay, endpoint.id().as_str()).await?;
    let created = Created {
        view: view(relay, &endpoint, &state, url),
        relay_secret: endpoint.route.relay_secret,
    };
    Ok(json_response(201, &created)?)
}

/// The invocation, working in the shard a new endpoint `id` is placed on:
/// the one with the most room (`core::shards::roomiest`), recorded in the
/// control database before the endpoint is written there.
async fn placed(relay: &Relay, id: &EndpointId) -> Result<Relay, ApiError> {
    let bound = relay.shards();
    let counts = store_shards::endpoints_per_shard(&relay.control).await?;
    let sizes = join_all(bound.iter().map(|shard| async {
        let db = relay.on(shard)?;
        meta::database_size(&db.db).await
    }))
    .await;
    let rooms: Vec<Room> = bound
        .iter()
        .zip(sizes)
        .map(|(shard, size)| Room {
            shard: shard.clone(),
            size_bytes: size.ok().flatten(),
            endpoints: counts
                .iter()
                .find(|(s, _)| s == shard)
                .map_or(0, |(_, n)| *n),
        })
        .collect();
    let shard = shards::roomiest(&rooms).unwrap_or_else(ShardName::control);
    store_shards::place(&relay.control, id.as_str(), &shard).await?;
    endpoint_cache::forget_placement(id.as_str());
    Ok(relay.on(&shard)?)
}

/// Every endpoint of every shard (read at once), oldest first.
pub async fn list(relay: &Relay, url: &Url) -> Result<Response, ApiError> {
    let shards = relay.on_every_shard()?;
    let lists = try_join_all(shards.iter().map(|shard| endpoints::list(&shard.db))).await?;
    let mut all: Vec<_> = lists.into_iter().flatten().collect();
    all.sort_by(|(a, _), (b, _)| a.id().as_str().cmp(b.id().as_str()));
    let data: Vec<EndpointView> = all
        .iter()
        .map(|(ep, st)| view(relay, ep, st, url))
        .collect();
    Ok(json_response(200, &List { data })?)
}

pub async fn get(relay: &Relay, raw_id: &str, url: &Url) -> Result<Response, ApiError> {
    let (endpoint, state) = load(relay, raw_id).await?;
    let fifo_blocked_by = match endpoint.route.fifo {
        true => Some(fifo_blocker(relay, &endpoint).await?),
        false => None,
    };
    let detail = EndpointDetail {
        endpoint: view(relay, &endpoint, &state, url),
        fifo_blocked_by,
    };
    Ok(json_response(200, &detail)?)
}

/// `GET /endpoints/{id}/secret`: the relay secret that signs what the
/// endpoint's first route delivers, or, for an `rt_` id, what that route
/// delivers (so `hookrelay listen --print-secret` works for a pull route).
pub async fn relay_secret(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let secret = match RouteId::parse(raw_id) {
        Some(route_id) => {
            endpoints::get_route(&relay.db, &RouteRef::Extra(route_id))
                .await?
                .ok_or_else(|| ApiError::not_found("endpoint"))?
                .0
                .relay_secret
        }
        None => load(relay, raw_id).await?.0.route.relay_secret,
    };
    Ok(json_response(
        200,
        &RelaySecretView {
            relay_secret: secret,
        },
    )?)
}

/// `PATCH /endpoints/{id}`. Only an admin may send `secrets`: replacing them
/// would let an editor take over verification, which rotation
/// (`POST /endpoints/{id}/secrets/rotate`) keeps to admins. For the same
/// reason only an admin may change what the endpoint accepts (its provider,
/// the scheme's settings, the sources it allows): an editor could otherwise
/// switch verification off and send events of their own into the routes.
pub async fn update(
    relay: &Relay,
    req: Request,
    raw_id: &str,
    url: &Url,
    grant: &Grant,
) -> Result<Response, ApiError> {
    let (current, _) = load(relay, raw_id).await?;
    let input: EndpointInput = read_json(req).await?;
    may_set_secrets(grant, &input)?;
    let accepted_before = Acceptance::of(&current.source);
    let mut endpoint = apply(relay, current, input, false)?;
    may_change_acceptance(grant, &accepted_before, &Acceptance::of(&endpoint.source))?;
    endpoint.route.updated_at = now_ms();
    let saved = endpoints::update(&relay.db, &endpoint).await?;
    endpoint_cache::invalidate(endpoint.id());
    if !saved {
        return Err(ApiError::not_found("endpoint"));
    }
    let (endpoint, state) = load(relay, raw_id).await?;
    Ok(json_response(200, &view(relay, &endpoint, &state, url))?)
}

pub async fn delete(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let id = parse_id(raw_id)?;
    let deletion = endpoints::soft_delete(&relay.db, &id, now_ms()).await?;
    endpoint_cache::invalidate(&id);
    hub::publish(relay, &events::changes_at(&deletion.ended, now_ms())).await;
    if !deletion.deleted {
        return Err(ApiError::not_found("endpoint"));
    }
    Ok(Response::empty()?.with_status(204))
}

/// Holds deliveries; ingest keeps accepting and storing every request.
pub async fn pause(
    relay: &Relay,
    req: Request,
    raw_id: &str,
    url: &Url,
) -> Result<Response, ApiError> {
    let (endpoint, _) = load(relay, raw_id).await?;
    let input: PauseInput = read_optional_json(req).await?;
    let reason = input
        .reason
        .unwrap_or_else(|| "paused by an operator".into());
    endpoints::pause(&relay.db, endpoint.id(), &reason, now_ms()).await?;
    let (endpoint, state) = load(relay, raw_id).await?;
    Ok(json_response(200, &view(relay, &endpoint, &state, url))?)
}

/// Releases held deliveries and drains them, oldest first.
pub async fn resume(relay: &Relay, raw_id: &str, url: &Url) -> Result<Response, ApiError> {
    let (endpoint, _) = load(relay, raw_id).await?;
    endpoints::resume(&relay.db, endpoint.id()).await?;
    let drained = drain(relay, &endpoint.route.id, None).await?;
    let (endpoint, state) = load(relay, raw_id).await?;
    let resumed = Drained {
        view: view(relay, &endpoint, &state, url),
        drained,
    };
    Ok(json_response(200, &resumed)?)
}

/// Adds a secret and gives every older one an expiry (default 24 h), so senders
/// still signing with the old secret keep working while they switch. Without a
/// `secret`, the relay makes one where the scheme allows; it is shown only here.
pub async fn rotate_secret(
    relay: &Relay,
    req: Request,
    raw_id: &str,
    url: &Url,
) -> Result<Response, ApiError> {
    let (mut endpoint, _) = load(relay, raw_id).await?;
    let input: RotateInput = read_optional_json(req).await?;
    let provider = endpoint.source.provider;
    let generated = input.secret.is_none();
    let secret = match input.secret {
        Some(s) => s,
        None => generate_secret(provider).ok_or_else(|| {
            ApiError::bad_request(
                "secret_required",
                format!(
                    "{} issues its own secrets: pass the new one as \"secret\"",
                    provider.as_str()
                ),
            )
        })?,
    };
    provider
        .validate_secret(&secret)
        .map_err(|m| ApiError::bad_request("invalid_endpoint", m))?;
    let now = now_ms();
    let expire_in_ms = i64::from(
        input
            .expire_previous_in_s
            .unwrap_or(DEFAULT_SECRET_OVERLAP_S),
    ) * 1000;
    let source = &mut endpoint.source;
    source.secrets = rotate_secrets(&source.secrets, &secret, now + expire_in_ms, now);
    if source.secrets.len() > MAX_SECRETS {
        return Err(ApiError::bad_request(
            "invalid_endpoint",
            format!("at most {MAX_SECRETS} live secrets"),
        ));
    }
    endpoint.route.updated_at = now;
    endpoints::update(&relay.db, &endpoint).await?;
    endpoint_cache::invalidate(endpoint.id());
    let (endpoint, state) = load(relay, raw_id).await?;
    let rotated = Rotated {
        endpoint: view(relay, &endpoint, &state, url),
        secret: generated.then_some(secret),
    };
    Ok(json_response(200, &rotated)?)
}

/// A fresh secret for the schemes whose secret the relay may choose.
fn generate_secret(provider: Provider) -> Option<String> {
    match provider.generated_secret()? {
        SecretFormat::StandardWebhooks => Some(standard::encode_secret(&random_bytes::<32>())),
        SecretFormat::Hex32 => Some(hex::encode(random_bytes::<32>())),
        SecretFormat::BasicCredentials => {
            Some(format!("relay:{}", hex::encode(random_bytes::<32>())))
        }
    }
}

/// The endpoint's refusals of the last 24 hours (newest 100) and its counts per reason.
pub async fn rejections(relay: &Relay, raw_id: &str) -> Result<Response, ApiError> {
    let (endpoint, _) = load(relay, raw_id).await?;
    let id = endpoint.id().as_str();
    let rows = rejections::list(&relay.control, id, now_ms()).await?;
    let counts = rejections::counts(&relay.control, Some(id)).await?;
    let data: Vec<RejectionView> = rows
        .iter()
        .map(|r| RejectionView {
            at: iso8601(r.at as i64),
            reason: r.reason.clone(),
            source_ip: r.source_ip.clone(),
            headers: serde_json::from_str(&r.headers).unwrap_or(Value::Null),
            body_size: r.body_size as i64,
        })
        .collect();
    Ok(json_response(200, &Rejections { data, counts })?)
}

/// The event at the head of a FIFO line that has failed at least once: the one
/// holding the others back.
async fn fifo_blocker(relay: &Relay, endpoint: &Endpoint) -> Result<Option<EventId>, ApiError> {
    let head = events::head_of_line(&relay.db, &endpoint.route.id).await?;
    Ok(head.filter(|h| h.status == "retrying").map(|h| h.id))
}

/// `403` when a caller other than an admin sends `secrets` (an empty list
/// included: it would remove them). `secrets: null` sets nothing and passes.
///
/// The same holds for `catch_up`: it holds a credential, and what it points at
/// becomes events in the routes.
fn may_set_secrets(grant: &Grant, input: &EndpointInput) -> Result<(), ApiError> {
    if *grant == Grant::Role(Role::Admin) {
        return Ok(());
    }
    let forbidden = |message| Err(ApiError::new(403, "forbidden", message));
    if input.secrets.is_some() {
        return forbidden(
            "only an admin may set secrets; use POST /api/v1/endpoints/{id}/secrets/rotate",
        );
    }
    if input.catch_up.is_some() {
        return forbidden("only an admin may set catch_up");
    }
    Ok(())
}

/// What decides which requests an endpoint accepts, besides its secrets.
#[derive(Debug, Clone, PartialEq)]
struct Acceptance {
    provider: Provider,
    scheme_config: SchemeConfig,
    allowed_cidrs: Vec<String>,
}

impl Acceptance {
    fn of(source: &Source) -> Acceptance {
        Acceptance {
            provider: source.provider,
            scheme_config: source.scheme_config.clone(),
            allowed_cidrs: source.allowed_cidrs.clone(),
        }
    }
}

/// `403` when a caller other than an admin changes what the endpoint accepts
/// (compared as stored, so a form that sends the same values back passes).
fn may_change_acceptance(
    grant: &Grant,
    before: &Acceptance,
    after: &Acceptance,
) -> Result<(), ApiError> {
    if before == after || *grant == Grant::Role(Role::Admin) {
        return Ok(());
    }
    Err(ApiError::new(
        403,
        "forbidden",
        "only an admin may change provider, scheme_config or allowed_cidrs",
    ))
}

/// An empty body reads as `T::default()`; the size limit is `read_json`'s.
async fn read_optional_json<T: serde::de::DeserializeOwned + Default>(
    mut req: Request,
) -> Result<T, ApiError> {
    let body = match read_body_capped(&mut req, MAX_API_BODY_BYTES).await {
        Ok(body) => body,
        Err(e) if e.status == 413 => return Err(e),
        Err(_) => Vec::new(),
    };
    if String::from_utf8_lossy(&body).trim().is_empty() {
        return Ok(T::default());
    }
    parse_json(&body)
}

fn parse_id(raw_id: &str) -> Result<EndpointId, ApiError> {
    EndpointId::parse(raw_id).ok_or_else(|| ApiError::not_found("endpoint"))
}

async fn load(relay: &Relay, raw_id: &str) -> Result<(Endpoint, EndpointState), ApiError> {
    let id = parse_id(raw_id)?;
    endpoints::get_with_state(&relay.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))
}

/// Applies the given fields to the endpoint (its source, and its first
/// route's delivery settings) and validates the result as a whole.
/// `creating` makes name, provider and destination_url required.
pub(super) fn apply(
    relay: &Relay,
    mut ep: Endpoint,
    mut input: EndpointInput,
    creating: bool,
) -> Result<Endpoint, ApiError> {
    // The first thing a create without a name is told, whatever else is
    // wrong with it (the source's fields are checked before the route's).
    if creating && input.name.is_none() {
        return Err(ApiError::bad_request(
            "invalid_endpoint",
            "name is required",
        ));
    }
    apply_source(relay, &mut ep.source, &mut input, creating)?;
    let route = apply_delivery(relay, ep.route, input, creating)?;
    ep.source.name = route.name.clone();
    Ok(Endpoint { route, ..ep })
}

/// Takes the source's fields out of `input` (provider, secrets, scheme
/// settings, verify token, allowlist, search fields, catch-up, disabled,
/// retention) and applies them to `source`, then validates it.
fn apply_source(
    relay: &Relay,
    source: &mut Source,
    input: &mut EndpointInput,
    creating: bool,
) -> Result<(), ApiError> {
    let invalid = |msg: String| ApiError::bad_request("invalid_endpoint", msg);
    match input.provider.take() {
        // Stored under its canonical name (`svix` is `standard`, `whatsapp` is `meta`).
        Some(p) => {
            source.provider = Provider::parse(&p).ok_or_else(|| {
                let known: Vec<&str> = Provider::all().map(Provider::as_str).collect();
                invalid(format!("provider must be one of {}", known.join(", ")))
            })?
        }
        None if creating => return Err(invalid("provider is required".into())),
        None => {}
    }
    if let Some(secrets) = input.secrets.take() {
        source.secrets = secrets.into_iter().map(Secret::new).collect();
    }
    if let Some(config) = input.scheme_config.take() {
        source.scheme_config = config;
    }
    if let Some(token) = input.verify_token.take() {
        source.verify_token = Some(token).filter(|t| !t.is_empty());
    }
    if let Some(cidrs) = input.allowed_cidrs.take() {
        source.allowed_cidrs = cidrs;
    }
    if let Some(paths) = input.search_fields.take() {
        source.search_fields = SearchFields::parse(&paths).map_err(invalid)?;
    }
    if let Some(config) = input.catch_up.take() {
        source.catch_up = parse_catch_up(relay, source.provider, config)?;
    }
    if let Some(disabled) = input.disabled.take() {
        source.disabled = disabled;
    }
    if let Some(days) = input.retention_days.take() {
        if !(days.is_finite() && (0.0..=MAX_RETENTION_DAYS).contains(&days)) {
            return Err(invalid(format!(
                "retention_days is 0 (the default) up to {MAX_RETENTION_DAYS}"
            )));
        }
        source.retention_days = (days > 0.0).then_some(days);
    }
    validate_source(source)
}

/// Applies the delivery fields of `input` (name, destination, retry,
/// timeout, circuit, rate limit, FIFO) to a route, an endpoint's first or an
/// extra one, and validates them; the source's fields must have been taken
/// out already. `creating` makes name and a push destination's URL required.
pub(super) fn apply_delivery(
    relay: &Relay,
    mut route: Route,
    input: EndpointInput,
    creating: bool,
) -> Result<Route, ApiError> {
    let invalid = |msg: String| ApiError::bad_request("invalid_endpoint", msg);
    let required = |field: &str| invalid(format!("{field} is required"));
    match input.name {
        Some(name) => route.name = name.trim().to_string(),
        None if creating => return Err(required("name")),
        None => {}
    }
    if let Some(kind) = input.destination_type {
        route.destination_type = DestinationType::parse(&kind)
            .ok_or_else(|| invalid("destination_type is \"push\" or \"pull\"".into()))?;
    }
    match input.destination_url {
        Some(u) => route.destination_url = u,
        None if creating && route.destination_type == DestinationType::Push => {
            return Err(required("destination_url"))
        }
        None => {}
    }
    if let Some(retry) = input.retry {
        apply_retry(&mut route.retry, retry);
    }
    if let Some(t) = input.timeout_ms {
        route.timeout_ms = t;
    }
    if let Some(c) = input.circuit {
        route.circuit.threshold = c.threshold.unwrap_or(route.circuit.threshold);
        route.circuit.probe_interval_s =
            c.probe_interval_s.unwrap_or(route.circuit.probe_interval_s);
    }
    if let Some(rate) = input.rate_limit_per_s {
        RateLimit::validate(rate).map_err(invalid)?;
        route.rate_limit_per_s = (rate > 0.0).then_some(rate);
    }
    if let Some(fifo) = input.fifo {
        route.fifo = fifo;
    }
    validate_delivery(relay, &route)?;
    Ok(route)
}

fn apply_retry(policy: &mut RetryPolicy, input: RetryInput) {
    if let Some(schedule_s) = input.schedule_s {
        policy.schedule_s = schedule_s;
    }
    if input.max_attempts.is_some() {
        policy.max_attempts = input.max_attempts;
    }
    policy.jitter = input.jitter.unwrap_or(policy.jitter);
    policy.max_delay_s = input.max_delay_s.unwrap_or(policy.max_delay_s);
    policy.retry_client_errors = input
        .retry_client_errors
        .unwrap_or(policy.retry_client_errors);
}

/// An endpoint's `catch_up` as sent (`null` clears it), for its provider.
fn parse_catch_up(
    relay: &Relay,
    provider: Provider,
    config: Value,
) -> Result<Option<CatchUp>, ApiError> {
    if config.is_null() {
        return Ok(None);
    }
    let api = provider.catch_up().ok_or_else(|| {
        let offered: Vec<&str> = Provider::all()
            .filter(|p| p.catch_up().is_some())
            .map(Provider::as_str)
            .collect();
        ApiError::bad_request(
            "invalid_endpoint",
            format!(
                "provider {} keeps no record to catch up from; catch_up is offered for {}",
                provider.as_str(),
                offered.join(", ")
            ),
        )
    })?;
    CatchUp::parse(api, config, relay.settings.allow_private_destinations)
        .map(Some)
        .map_err(|msg| ApiError::bad_request("invalid_endpoint", msg))
}

/// The source side: provider, its secrets and settings, the allowlist, catch-up.
fn validate_source(ep: &Source) -> Result<(), ApiError> {
    let invalid = |msg: String| ApiError::bad_request("invalid_endpoint", msg);
    let provider = ep.provider;
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
        provider.validate_secret(&secret.value).map_err(invalid)?;
    }
    provider
        .validate_config(&ep.scheme_config)
        .map_err(invalid)?;
    parse_cidrs(&ep.allowed_cidrs).map_err(invalid)?;
    if let Some(config) = &ep.catch_up {
        if provider.catch_up() != Some(config.api()) {
            return Err(invalid(format!(
                "catch_up is set for another provider than {}: send catch_up (or null) with it",
                provider.as_str()
            )));
        }
    }
    Ok(())
}

/// The delivery side, the same for an endpoint's first route and an extra one.
fn validate_delivery(relay: &Relay, ep: &Route) -> Result<(), ApiError> {
    let invalid = |msg: String| ApiError::bad_request("invalid_endpoint", msg);
    if ep.name.is_empty() || ep.name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    validate_destination(relay, ep)?;
    ep.retry.validate().map_err(invalid)?;
    ep.circuit.validate().map_err(invalid)?;
    if !TIMEOUT_RANGE_MS.contains(&ep.timeout_ms) {
        return Err(invalid(format!(
            "timeout_ms must be within {}..={}",
            TIMEOUT_RANGE_MS.start(),
            TIMEOUT_RANGE_MS.end()
        )));
    }
    Ok(())
}

/// A push destination needs a safe URL; a pull destination has none.
fn validate_destination(relay: &Relay, ep: &Route) -> Result<(), ApiError> {
    let invalid = |why: String| ApiError::bad_request("invalid_destination", why);
    match ep.destination_type {
        DestinationType::Push => check_destination(
            &ep.destination_url,
            relay.settings.allow_private_destinations,
        )
        .map(|_| ())
        .map_err(invalid),
        DestinationType::Pull if ep.destination_url.is_empty() => Ok(()),
        DestinationType::Pull => Err(invalid(
            "a pull destination has no destination_url: its client leases events".into(),
        )),
    }
}

/// The endpoint as the API shows it.
fn view(relay: &Relay, ep: &Endpoint, state: &EndpointState, url: &Url) -> EndpointView {
    let ingest_url = format!("{}/{}", base_url(relay, url), ep.id());
    EndpointView::new(ep, state, ingest_url, now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_secrets(secrets: Option<Vec<String>>) -> EndpointInput {
        EndpointInput {
            secrets,
            ..EndpointInput::default()
        }
    }

    #[test]
    fn only_an_admin_may_set_secrets_by_patch() {
        let editor = Grant::Role(Role::Editor);
        for secrets in [vec!["taken-over".to_string()], vec![]] {
            let err = may_set_secrets(&editor, &with_secrets(Some(secrets))).unwrap_err();
            assert_eq!((err.status, err.code), (403, "forbidden"));
            assert_eq!(
                err.message,
                "only an admin may set secrets; use POST /api/v1/endpoints/{id}/secrets/rotate"
            );
        }
        for grant in [
            Grant::Role(Role::Viewer),
            Grant::PullFrom("ep_00000000000000000000000000".into()),
        ] {
            assert!(may_set_secrets(&grant, &with_secrets(Some(vec!["s".into()]))).is_err());
        }
        let admin = Grant::Role(Role::Admin);
        assert!(may_set_secrets(&admin, &with_secrets(Some(vec!["s".into()]))).is_ok());
        assert!(may_set_secrets(&admin, &with_secrets(Some(vec![]))).is_ok());
    }

    #[test]
    fn only_an_admin_may_change_what_an_endpoint_accepts() {
        let before = Acceptance {
            provider: Provider::parse("github").unwrap(),
            scheme_config: SchemeConfig::default(),
            allowed_cidrs: vec!["192.30.252.0/22".into()],
        };
        let unverified = Acceptance {
            provider: Provider::parse("none").unwrap(),
            ..before.clone()
        };
        let from_anywhere = Acceptance {
            allowed_cidrs: vec![],
            ..before.clone()
        };
        let editor = Grant::Role(Role::Editor);
        assert!(may_change_acceptance(&editor, &before, &before.clone()).is_ok());
        for after in [&unverified, &from_anywhere] {
            let err = may_change_acceptance(&editor, &before, after).unwrap_err();
            assert_eq!((err.status, err.code), (403, "forbidden"));
            assert!(may_change_acceptance(&Grant::Role(Role::Admin), &before, after).is_ok());
        }
    }

    #[test]
    fn an_editor_may_patch_everything_but_secrets() {
        let editor = Grant::Role(Role::Editor);
        assert!(may_set_secrets(&editor, &with_secrets(None)).is_ok());
        let input: EndpointInput =
            serde_json::from_str(r#"{"name":"renamed","secrets":null,"timeout_ms":5000}"#).unwrap();
        assert!(
            may_set_secrets(&editor, &input).is_ok(),
            "null sets nothing"
        );
        let input: EndpointInput = serde_json::from_str(r#"{"secrets":["s"]}"#).unwrap();
        assert!(may_set_secrets(&editor, &input).is_err());
    }
}
