//! `/api/v1/keys` and `/api/v1/whoami`: API keys with roles, for people (the
//! dashboard) and scripts. Only a key's hash is stored; the key is in the create
//! answer and nowhere else.

use super::{read_json, Caller};
use crate::access::{self, Role, PULL_ROLE};
use crate::error::{json_response, ApiError};
use crate::inputs::{KeyInput, MAX_KEY_NAME_CHARS};
use crate::model::{KeyId, RouteRef};
use crate::relay::{now_ms, random_bytes, Relay};
use crate::store::keys;
use crate::time::iso8601;
use crate::views::{CreatedKey, KeyView, List, WhoAmI};
use sha2::{Digest, Sha256};
use worker::{Request, Response};

pub async fn create(relay: &Relay, req: Request) -> Result<Response, ApiError> {
    let input: KeyInput = read_json(req).await?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_KEY_NAME_CHARS {
        return Err(ApiError::bad_request(
            "invalid_key",
            format!("name is 1..={MAX_KEY_NAME_CHARS} characters"),
        ));
    }
    let scope = scope_of(relay, &input.role, input.endpoint_id.as_deref()).await?;
    let now = now_ms();
    let key = access::format_key(&random_bytes::<32>());
    let id = KeyId::generate(now as u64, random_bytes());
    let prefix = access::display_prefix(&key);
    keys::insert(
        &relay.control,
        &keys::NewKey {
            id: &id,
            name,
            role: &input.role,
            endpoint_id: scope.as_ref().map(RouteRef::as_str),
            prefix: &prefix,
            key_hash: &hash_key(&key),
            created_at: now,
        },
    )
    .await?;
    let row = keys::KeyRow {
        id,
        name: name.to_string(),
        role: input.role,
        endpoint_id: scope,
        prefix,
        created_at: now as f64,
        last_used_at: None,
    };
    let created = CreatedKey {
        view: view(&row),
        key,
    };
    Ok(json_response(201, &created)?)
}

/// A role key has no destination; a pull key has exactly one, an existing pull
/// destination named by `endpoint_id`: an endpoint (`ep_`) whose first route
/// pulls, or an extra pull route (`rt_`). Returns that route id.
async fn scope_of(
    relay: &Relay,
    role: &str,
    endpoint_id: Option<&str>,
) -> Result<Option<RouteRef>, ApiError> {
    let invalid = |msg: &str| ApiError::bad_request("invalid_key", msg);
    match (role, endpoint_id) {
        (PULL_ROLE, Some(raw)) => {
            RouteRef::parse(raw).ok_or_else(|| invalid("endpoint_id is not an ep_ or rt_ id"))?;
            let shard = relay.for_endpoint(raw).await?;
            Ok(Some(super::pull::pull_route(&shard, raw).await?.id))
        }
        (PULL_ROLE, None) => Err(invalid("a pull key needs endpoint_id")),
        (role, None) if Role::parse(role).is_some() => Ok(None),
        (role, Some(_)) if Role::parse(role).is_some() => {
            Err(invalid("only a pull key is scoped to an endpoint_id"))
        }
        _ => Err(invalid("role is viewer, editor, admin or pull")),
    }
}

pub async fn list(relay: &Relay) -> Result<Response, ApiError> {
    let data: Vec<KeyView> = keys::list(&relay.control).await?.iter().map(view).collect();
    Ok(json_response(200, &List { data })?)
}

pub async fn revoke(relay: &Relay, id: &str) -> Result<Response, ApiError> {
    if !keys::revoke(&relay.control, id, now_ms()).await? {
        return Err(ApiError::not_found("key"));
    }
    Ok(Response::empty()?.with_status(204))
}

/// Who the caller is: the dashboard shows only the actions this role may take.
pub fn whoami(caller: &Caller) -> Result<Response, ApiError> {
    Ok(json_response(
        200,
        &WhoAmI {
            role: caller.grant.role_name(),
            key_id: caller.key_id.as_deref(),
            name: caller.name.as_deref(),
            endpoint_id: match &caller.grant {
                access::Grant::PullFrom(ep) => Some(ep.as_str()),
                access::Grant::Role(_) => None,
            },
        },
    )?)
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn view(k: &keys::KeyRow) -> KeyView {
    KeyView {
        id: k.id.clone(),
        name: k.name.clone(),
        role: k.role.clone(),
        endpoint_id: k.endpoint_id.clone(),
        prefix: k.prefix.clone(),
        created_at: iso8601(k.created_at as i64),
        last_used_at: k.last_used_at.map(|t| iso8601(t as i64)),
    }
}
