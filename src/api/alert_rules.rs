//! `/api/v1/alert-rules`: the operators' own alert conditions per endpoint (or
//! one of its routes), checked by the sweeper each minute (see
//! [`crate::alert_rules`] and [`crate::watch::rules`]). Editors set them;
//! every role reads them with their state. Deleting a firing rule resolves it.

use super::{endpoint_query, read_json};
use crate::alert_rules::{RuleSpec, MAX_RULES};
use crate::error::{json_response, ApiError};
use crate::model::{AlertRuleId, EndpointId, RouteRef};
use crate::notify;
use crate::relay::{now_ms, random_bytes, Relay};
use crate::store::alert_rules::{self, Rule};
use crate::store::{alerts, endpoints};
use crate::time::iso8601;
use crate::views::{AlertRuleView, List};
use crate::watch::{rule_alert, watched_route};
use serde_json::Value;
use worker::{Request, Response, Url};

pub async fn create(relay: &Relay, req: Request) -> Result<Response, ApiError> {
    let body: Value = read_json(req).await?;
    let invalid = |msg: String| ApiError::bad_request("invalid_alert_rule", msg);
    let spec = RuleSpec::parse(body).map_err(invalid)?;
    check_target(relay, &spec).await?;
    if alert_rules::list(&relay.control).await?.len() >= MAX_RULES {
        return Err(invalid(format!("at most {MAX_RULES} alert rules")));
    }
    let now = now_ms();
    let id = AlertRuleId::generate(now as u64, random_bytes());
    alert_rules::insert(&relay.control, &id, &spec, now).await?;
    let rule = alert_rules::get(&relay.control, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert rule"))?;
    Ok(json_response(201, &view(&rule))?)
}

/// The endpoint must be live, and the route, if named, one of its own.
async fn check_target(relay: &Relay, spec: &RuleSpec) -> Result<(), ApiError> {
    let missing = |what: &str| {
        ApiError::bad_request("invalid_alert_rule", format!("no live {what} has this id"))
    };
    let id = EndpointId::parse(&spec.endpoint_id).ok_or_else(|| missing("endpoint"))?;
    let relay = relay.for_endpoint(id.as_str()).await?;
    if endpoints::get(&relay.db, &id).await?.is_none() {
        return Err(missing("endpoint"));
    }
    if let Some(raw) = &spec.route_id {
        let route_id = RouteRef::parse(raw).ok_or_else(|| missing("route of this endpoint"))?;
        let route = endpoints::get_route(&relay.db, &route_id).await?;
        if route.is_none_or(|(r, _)| r.source_id != id) {
            return Err(missing("route of this endpoint"));
        }
    }
    Ok(())
}

/// Every rule, oldest first; `?endpoint_id=` for one endpoint's.
pub async fn list(relay: &Relay, url: &Url) -> Result<Response, ApiError> {
    let only = endpoint_query(url)?;
    let data: Vec<AlertRuleView> = alert_rules::list(&relay.control)
        .await?
        .iter()
        .filter(|r| {
            only.as_ref()
                .is_none_or(|id| r.spec.endpoint_id == id.as_str())
        })
        .map(view)
        .collect();
    Ok(json_response(200, &List { data })?)
}

/// Removes the rule; one that was firing is resolved first, so its incident
/// does not stay open.
pub async fn delete(relay: &Relay, id: &str) -> Result<Response, ApiError> {
    let rule = alert_rules::get(&relay.control, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert rule"))?;
    if !alert_rules::delete(&relay.control, id).await? {
        return Err(ApiError::not_found("alert rule"));
    }
    if rule.firing_since.is_some() {
        let shard = relay.for_endpoint(&rule.spec.endpoint_id).await?;
        let target = alerts::route_health(&shard.db)
            .await?
            .into_iter()
            .map(|r| r.target)
            .find(|t| t.route_id == watched_route(&rule));
        if let Some(target) = target {
            notify::send(relay, &rule_alert(&rule, target, rule.last_value, false)).await?;
        }
    }
    Ok(Response::empty()?.with_status(204))
}

fn view(r: &Rule) -> AlertRuleView {
    AlertRuleView {
        id: r.id.clone(),
        endpoint_id: r.spec.endpoint_id.clone(),
        route_id: r.spec.route_id.clone(),
        kind: r.spec.kind.as_str(),
        threshold: r.spec.threshold,
        window_s: r.spec.window_s,
        min_attempts: r.spec.min_attempts,
        description: r.spec.describe(),
        state: if r.firing_since.is_some() {
            "firing"
        } else {
            "ok"
        },
        firing_since: r.firing_since.map(iso8601),
        last_value: r.last_value,
        checked_at: r.checked_at.map(iso8601),
        created_at: iso8601(r.created_at),
    }
}
