//! The management API under `/api/v1`: a small explicit router, bearer auth with
//! roles (see `access`), and one file per resource. Outside tools script against these shapes; keep
//! them stable.

mod alert_rules;
mod alerts;
mod catch_up;
mod endpoints;
mod events;
mod health;
mod ingests;
mod keys;
mod metrics;
mod pull;
mod routes;
mod stats;
mod stream;

use crate::access::{self, Grant, Role};
use crate::error::ApiError;
use crate::model::EndpointId;
use crate::relay::{now_ms, Relay};
use crate::store::keys as keys_store;
use futures::future::join_all;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Method, Request, Response, Url};

pub async fn handle(relay: &Relay, req: Request) -> Result<Response, ApiError> {
    let url = req.url()?;
    let path = url.path().trim_start_matches("/api/v1").to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method();
    let caller = authenticate(relay, &req).await?;
    let Some(need) = access::need(method.as_ref(), &segments) else {
        return Err(unrouted(&method, &segments));
    };
    if !access::permits(&caller.grant, need, &segments) {
        return Err(ApiError::new(
            403,
            "forbidden",
            access::refusal_message(&caller.grant, need),
        ));
    }
    let scoped = in_named_shard(relay, &segments).await?;
    let relay = &scoped;
    match (method.clone(), segments.as_slice()) {
        (Method::Get, ["whoami"]) => keys::whoami(&caller),
        (Method::Post, ["keys"]) => keys::create(relay, req).await,
        (Method::Get, ["keys"]) => keys::list(relay).await,
        (Method::Delete, ["keys", id]) => keys::revoke(relay, id).await,
        (Method::Get, ["health"]) => health::get(relay, &url).await,
        (Method::Get, ["metrics"]) => metrics::get(relay).await,
        (Method::Get, ["stream"]) => stream::open(relay, &url).await,
        (Method::Get, ["stats", "timeseries"]) => stats::timeseries(relay, &url).await,
        (Method::Get, ["stats", "endpoints"]) => stats::endpoints(relay, &url).await,
        (Method::Post, ["alerts"]) => alerts::create(relay, req).await,
        (Method::Get, ["alerts"]) => alerts::list(relay).await,
        (Method::Delete, ["alerts", id]) => alerts::delete(relay, id).await,
        (Method::Post, ["alerts", id, "test"]) => alerts::test(relay, id).await,
        (Method::Post, ["alert-rules"]) => alert_rules::create(relay, req).await,
        (Method::Get, ["alert-rules"]) => alert_rules::list(relay, &url).await,
        (Method::Delete, ["alert-rules", id]) => alert_rules::delete(relay, id).await,
        (Method::Get, ["openapi.json"]) => openapi(),
        (Method::Get, ["providers"]) => providers(),
        (Method::Post, ["endpoints"]) => endpoints::create(relay, req, &url).await,
        (Method::Get, ["endpoints"]) => endpoints::list(relay, &url).await,
        (Method::Get, ["endpoints", id]) => endpoints::get(relay, id, &url).await,
        (Method::Patch, ["endpoints", id]) => {
            endpoints::update(relay, req, id, &url, &caller.grant).await
        }
        (Method::Delete, ["endpoints", id]) => endpoints::delete(relay, id).await,
        (Method::Get, ["endpoints", id, "secret"]) => endpoints::relay_secret(relay, id).await,
        (Method::Post, ["endpoints", id, "pause"]) => endpoints::pause(relay, req, id, &url).await,
        (Method::Post, ["endpoints", id, "resume"]) => endpoints::resume(relay, id, &url).await,
        (Method::Post, ["endpoints", id, "catch-up"]) => catch_up::run(relay, req, id).await,
        (Method::Post, ["endpoints", id, "secrets", "rotate"]) => {
            endpoints::rotate_secret(relay, req, id, &url).await
        }
        (Method::Get, ["endpoints", id, "rejections"]) => endpoints::rejections(relay, id).await,
        (Method::Get, ["endpoints", id, "routes"]) => routes::list(relay, id).await,
        (Method::Post, ["endpoints", id, "routes"]) => routes::create(relay, req, id).await,
        (Method::Post, ["routes", "test"]) => routes::test(relay, req).await,
        // Not a route id: the tester answers POST only.
        (_, ["routes", "test"]) => Err(ApiError::new(
            405,
            "method_not_allowed",
            format!("{method:?} is not allowed on this route"),
        )),
        (Method::Get, ["routes", id]) => routes::get(relay, id).await,
        (Method::Patch, ["routes", id]) => routes::update(relay, req, id).await,
        (Method::Delete, ["routes", id]) => routes::delete(relay, id).await,
        (Method::Post, ["routes", id, "circuit", "reset"]) => {
            routes::reset_circuit(relay, id).await
        }
        (Method::Get, ["rejections"]) => rejection_counts(relay).await,
        (Method::Get, ["events"]) => events::list(relay, &url).await,
        (Method::Get, ["ingests"]) => ingests::list(relay, &url).await,
        (Method::Get, ["ingests", id]) => {
            in_holding_shard(relay, async |r| ingests::get(r, id).await).await
        }
        (Method::Get, ["events", id]) => {
            in_holding_shard(relay, async |r| events::get(r, id).await).await
        }
        (Method::Get, ["events", id, "body"]) => {
            in_holding_shard(relay, async |r| events::body(r, id).await).await
        }
        (Method::Post, ["events", id, "replay"]) => {
            in_holding_shard(relay, async |r| events::replay_one(r, id).await).await
        }
        (Method::Post, ["replay"]) => events::replay_bulk(relay, req).await,
        (Method::Post, ["pull", id]) => pull::lease(relay, req, id).await,
        (Method::Post, ["events", id, "attempts"]) => {
            let relay = &in_shard_with_event(relay, id).await?;
            pull::report(relay, req, id, &caller.grant).await
        }
        _ => Err(unrouted(&method, &segments)),
    }
}

/// The invocation, working in the shard of the endpoint or route a path
/// names (`/endpoints/{id}/...`, `/routes/{id}/...`, `/pull/{id}`); else in
/// the control database.
async fn in_named_shard(relay: &Relay, segments: &[&str]) -> Result<Relay, ApiError> {
    let named = match segments {
        ["endpoints", id, ..] | ["pull", id, ..] => Some(*id),
        ["routes", id, ..] if *id != "test" => Some(*id),
        _ => None,
    };
    Ok(match named {
        Some(id) => relay.for_endpoint(id).await?,
        None => relay.on(relay.shard())?,
    })
}

/// Runs `handler` in every shard at once and answers with the first shard's
/// (in shard order) that holds what it looks for: every answer but a 404 is
/// final. Only for handlers that change nothing where they do not find what
/// they look for; one round trip however many shards there are.
pub(crate) async fn in_holding_shard<T>(
    relay: &Relay,
    handler: impl AsyncFn(&Relay) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let shards = relay.on_every_shard()?;
    let answers = join_all(shards.iter().map(|here| handler(here))).await;
    let mut not_found = Err(ApiError::not_found("resource"));
    for answer in answers {
        match answer {
            Err(err) if err.status == 404 => not_found = Err(err),
            found => return found,
        }
    }
    not_found
}

/// The invocation, working in the shard whose D1 holds event `id` (the
/// control database when none does); every shard is asked at once.
async fn in_shard_with_event(relay: &Relay, id: &str) -> Result<Relay, ApiError> {
    let shards = relay.on_every_shard()?;
    let held = join_all(
        shards
            .iter()
            .map(|here| crate::store::events::is_here(&here.db, id)),
    )
    .await;
    for (here, held) in shards.into_iter().zip(held) {
        if held? {
            return Ok(here);
        }
    }
    Ok(relay.on(&crate::shards::ShardName::control())?)
}

/// One page of rows, newest (greatest id) first, across every shard: each
/// shard's own page of `limit` (read at once), merged. `page` reads one
/// shard's.
pub(crate) async fn newest_across_shards<T>(
    relay: &Relay,
    limit: u32,
    page: impl AsyncFn(&Relay) -> Result<Vec<T>, ApiError>,
    id: impl Fn(&T) -> &str,
) -> Result<Vec<T>, ApiError> {
    let shards = relay.on_every_shard()?;
    let pages = join_all(shards.iter().map(|here| page(here))).await;
    let mut rows = Vec::new();
    for shard_page in pages {
        rows.extend(shard_page?);
    }
    rows.sort_by(|a, b| id(b).cmp(id(a)));
    rows.truncate(limit as usize);
    Ok(rows)
}

/// 405 for another method on a known path, else 404.
fn unrouted(method: &Method, segments: &[&str]) -> ApiError {
    if access::is_known_path(segments) {
        ApiError::new(
            405,
            "method_not_allowed",
            format!("{method:?} is not allowed on this route"),
        )
    } else {
        ApiError::not_found("route")
    }
}

/// Refusals per reason across every endpoint, including requests to unknown ones.
async fn rejection_counts(relay: &Relay) -> Result<Response, ApiError> {
    let counts = crate::store::rejections::counts(&relay.control, None).await?;
    Ok(crate::error::json_response(
        200,
        &crate::views::RefusalCounts { counts },
    )?)
}

/// This API described as OpenAPI 3.1; `tests/openapi.test.mjs` calls every
/// operation in it and checks each answer against it.
const OPENAPI_JSON: &str = include_str!("openapi.json");

fn openapi() -> Result<Response, ApiError> {
    let mut res = Response::ok(OPENAPI_JSON)?;
    res.headers_mut().set("content-type", "application/json")?;
    Ok(res)
}

/// The provider registry, described (see `verify::catalog`).
fn providers() -> Result<Response, ApiError> {
    let views = crate::verify::catalog::views();
    Ok(crate::error::json_response(
        200,
        &crate::views::List { data: views },
    )?)
}

/// Who is calling, once their bearer token checked out.
pub struct Caller {
    pub grant: Grant,
    /// `None` for the bootstrap `ADMIN_TOKEN`.
    pub key_id: Option<String>,
    pub name: Option<String>,
}

/// `Authorization: Bearer <token>`: the bootstrap `ADMIN_TOKEN` (compared in
/// constant time over hashes, so its length is not revealed either), else an API
/// key looked up by its hash.
async fn authenticate(relay: &Relay, req: &Request) -> Result<Caller, ApiError> {
    let unauthorized = |msg: &str| ApiError::new(401, "unauthorized", msg);
    let header = req.headers().get("authorization").ok().flatten();
    let given = header
        .as_deref()
        .and_then(bearer_token)
        .ok_or_else(|| unauthorized("missing bearer token"))?;
    let given_hash = Sha256::digest(given.as_bytes());
    if let Some(admin) = relay.admin_token() {
        if bool::from(given_hash.ct_eq(&Sha256::digest(admin.as_bytes()))) {
            return Ok(Caller {
                grant: Grant::Role(Role::Admin),
                key_id: None,
                name: None,
            });
        }
    }
    if !given.starts_with(access::KEY_PREFIX) {
        return Err(unauthorized("invalid bearer token"));
    }
    let row = keys_store::find_live(&relay.control, &hex::encode(given_hash))
        .await?
        .ok_or_else(|| unauthorized("invalid or revoked API key"))?;
    let now = now_ms();
    if access::use_is_worth_recording(row.last_used_at.map(|t| t as i64), now) {
        keys_store::mark_used(&relay.control, &row.id, now).await?;
    }
    let grant = match (Role::parse(&row.role), row.endpoint_id) {
        (Some(role), _) => Grant::Role(role),
        (None, Some(endpoint_id)) => Grant::PullFrom(endpoint_id.to_string()),
        (None, None) => return Err(unauthorized("invalid API key")),
    };
    Ok(Caller {
        grant,
        key_id: Some(row.id.to_string()),
        name: Some(row.name),
    })
}

/// The token of an `Authorization` header value that uses the `Bearer` scheme.
/// The scheme is case-insensitive (RFC 9110 §11.1), so `bearer` and `BEARER`
/// count; any run of spaces or tabs may separate it from the token, and blanks
/// around the token are ignored. `None` for another scheme or an empty token.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(rest.trim()).filter(|t| !t.is_empty())
}

/// The public base URL for ingest links: `PUBLIC_URL` if set, else this request's origin.
fn base_url(relay: &Relay, url: &Url) -> String {
    relay
        .settings
        .public_url
        .clone()
        .unwrap_or_else(|| url.origin().ascii_serialization())
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// `?endpoint_id=`, checked: `400 invalid_query` unless it is an `ep_` id.
fn endpoint_query(url: &Url) -> Result<Option<EndpointId>, ApiError> {
    query(url, "endpoint_id")
        .map(|raw| {
            EndpointId::parse(&raw).ok_or_else(|| {
                ApiError::bad_request("invalid_query", "endpoint_id is not an ep_ id")
            })
        })
        .transpose()
}

/// `?limit=` for a page: `default` when absent, else 1..=`max` or `400 invalid_query`.
fn limit_query(url: &Url, default: u32, max: u32) -> Result<u32, ApiError> {
    match query(url, "limit") {
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("invalid_query", format!("limit must be 1..={max}"))
            }),
        None => Ok(default),
    }
}

/// The cursor of a page of `limit` rows, newest first: the last row's id when
/// the page is full (a next page may exist), else none.
fn next_cursor<T>(rows: &[T], limit: u32, id: impl Fn(&T) -> &str) -> Option<String> {
    (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| id(r).to_string()))
        .flatten()
}

/// `?<name>=` parsed by `parse`, or `400 invalid_query` with `message`.
fn parsed_query<T>(
    url: &Url,
    name: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    message: &str,
) -> Result<Option<T>, ApiError> {
    query(url, name)
        .map(|raw| parse(&raw).ok_or_else(|| ApiError::bad_request("invalid_query", message)))
        .transpose()
}

/// The largest management API request body: 256 KiB. Every body the API takes
/// is a small JSON document (an endpoint, a route, a key, a replay request);
/// only a route test's sample `body` can come near it, and a larger webhook is
/// tested from its stored event (`event_id`) instead. Larger bodies get
/// `413 payload_too_large`.
const MAX_API_BODY_BYTES: usize = 256 * 1024;

/// The body as JSON of type `T`, at most [`MAX_API_BODY_BYTES`] long (`413`
/// otherwise); `400 invalid_body` when it is not JSON of that shape.
async fn read_json<T: serde::de::DeserializeOwned>(mut req: Request) -> Result<T, ApiError> {
    let body = read_body_capped(&mut req, MAX_API_BODY_BYTES).await?;
    parse_json(&body)
}

/// The whole body, refused with `413` as soon as it is known to be longer than
/// `limit`: before reading when `Content-Length` says so, else (a chunked
/// upload) while reading, so an oversize body is never held whole. A request
/// without a body reads as empty.
async fn read_body_capped(req: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = req.headers().get("content-length").ok().flatten();
    check_declared_length(declared.as_deref(), limit)?;
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request("invalid_body", "the request body could not be read")
        })?;
        append_capped(&mut body, &chunk, limit)?;
    }
    Ok(body)
}

fn payload_too_large(limit: usize) -> ApiError {
    ApiError::new(
        413,
        "payload_too_large",
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

/// `413` when a `Content-Length` header declares more than `limit` bytes (a
/// number too big for `u64` included). A missing or unreadable header is left
/// to the check while reading.
fn check_declared_length(content_length: Option<&str>, limit: usize) -> Result<(), ApiError> {
    let Some(digits) = content_length
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    else {
        return Ok(());
    };
    match digits.parse::<u64>() {
        Ok(n) if n <= limit as u64 => Ok(()),
        _ => Err(payload_too_large(limit)),
    }
}

/// Adds `chunk` to `body`, or `413` if that would make it longer than `limit`.
fn append_capped(body: &mut Vec<u8>, chunk: &[u8], limit: usize) -> Result<(), ApiError> {
    if body.len().saturating_add(chunk.len()) > limit {
        return Err(payload_too_large(limit));
    }
    body.extend_from_slice(chunk);
    Ok(())
}

/// Bytes that are not UTF-8 are read as U+FFFD, as the runtime's `text()` does.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_str(&String::from_utf8_lossy(body))
        .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for header in [
            "Bearer tok",
            "bearer tok",
            "BEARER tok",
            "bEaReR tok",
            "Bearer   tok",
            "bearer\ttok",
            "Bearer \t tok  ",
            "  Bearer tok",
        ] {
            assert_eq!(bearer_token(header), Some("tok"), "{header:?}");
        }
        assert_eq!(
            bearer_token("bearer hrk_0123abcd"),
            Some("hrk_0123abcd"),
            "an API key is kept whole"
        );
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_not_bearer_tokens() {
        for header in [
            "",
            "Bearer",
            "Bearer ",
            "bearer    ",
            "Bearertok",
            "Basic dXNlcjpwYXNz",
            "Token tok",
            "Bearer-x tok",
            "tok",
        ] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }

    #[test]
    fn api_bodies_are_capped_at_256_kib() {
        assert_eq!(MAX_API_BODY_BYTES, 262_144);
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_reading() {
        let limit = MAX_API_BODY_BYTES;
        for ok in [
            None,
            Some("0"),
            Some("262144"),
            Some(" 100 "),
            Some("x"),
            Some(""),
        ] {
            assert!(check_declared_length(ok, limit).is_ok(), "{ok:?}");
        }
        for big in ["262145", "99999999999999999999"] {
            let err = check_declared_length(Some(big), limit).unwrap_err();
            assert_eq!((err.status, err.code), (413, "payload_too_large"), "{big}");
            assert!(err.message.contains("262144"), "{}", err.message);
        }
    }

    #[test]
    fn a_chunked_body_is_refused_once_it_passes_the_limit() {
        let limit = 10;
        let mut body = Vec::new();
        append_capped(&mut body, b"12345", limit).unwrap();
        append_capped(&mut body, b"67890", limit).unwrap();
        assert_eq!(body, b"1234567890", "exactly the limit is fine");
        let err = append_capped(&mut body, b"!", limit).unwrap_err();
        assert_eq!((err.status, err.code), (413, "payload_too_large"));
        assert_eq!(body.len(), limit, "the refused chunk is not kept");

        let mut one_big_chunk = Vec::new();
        let err = append_capped(&mut one_big_chunk, &[b' '; 11], limit).unwrap_err();
        assert_eq!(err.status, 413);
        assert!(one_big_chunk.is_empty());
    }

    #[test]
    fn bodies_within_the_limit_parse_as_json() {
        let value: serde_json::Value = parse_json(br#"{"name":"x"}"#).unwrap();
        assert_eq!(value["name"], "x");
        for bad in [&b""[..], b"{", b"[1,"] {
            let err = parse_json::<serde_json::Value>(bad).unwrap_err();
            assert_eq!((err.status, err.code), (400, "invalid_body"));
        }
    }

    /// The document is parsed here so a broken file fails `cargo test`, not only
    /// the black-box test that checks every answer against it.
    /// The document's operations and `OPERATIONS` are the same set, with the same
    /// roles: nothing routed goes undocumented, nothing documented goes unrouted.
    #[test]
    fn openapi_operations_and_roles_are_the_enforced_table() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        let mut documented = std::collections::BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            let Some(path) = path.strip_prefix("/api/v1") else {
                continue; // ingest: the provider's signature, not a key
            };
            for (method, op) in ops.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let method = method.to_ascii_uppercase();
                let role = op["x-required-role"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no x-required-role"));
                documented.insert((method, path.to_string(), role.to_string()));
            }
        }
        let enforced: std::collections::BTreeSet<_> = access::OPERATIONS
            .iter()
            .map(|(m, t, n)| (m.to_string(), t.to_string(), n.as_str().to_string()))
            .collect();
        assert_eq!(documented, enforced);
        assert_eq!(
            enforced.len(),
            access::OPERATIONS.len(),
            "an operation is listed twice"
        );
    }

    #[test]
    fn the_openapi_document_is_json_of_version_3_1_for_this_release() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI_JSON).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        assert!(doc["paths"]["/api/v1/openapi.json"]["get"].is_object());
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
