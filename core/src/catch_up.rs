//! Catch-up: recovering what a provider sent while the relay did not ack it
//! (the relay was down, a wrong secret answered 401 for a day, the provider
//! gave up after its retries), from the provider's own record of what it sent.
//!
//! Two providers keep such a record behind an API, and they are used
//! differently:
//! - **Stripe** keeps every event for 30 days behind `GET /v1/events`. The
//!   relay pages through the events created since a time and takes each one
//!   it does not hold (dedup on the event's `id`, as for a webhook) as a new
//!   ingest whose body is the event object.
//! - **GitHub** lists a hook's deliveries with their outcome and redelivers
//!   one on request (`POST …/deliveries/{id}/attempts`). The relay asks for
//!   each failed delivery whose event it does not hold and that GitHub did
//!   not deliver later; the redelivery arrives signed at the ingest URL, like
//!   any webhook.
//!
//! This module holds what is pure about it: the endpoint's write-only
//! configuration, the provider URLs, and reading the providers' answers. The
//! Worker does the requests and the writes. Which provider offers which kind
//! is a column of the registry ([`crate::verify::Provider::catch_up`]).

use crate::destination::check_destination;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashSet;
use url::Url;

/// Events or deliveries one catch-up call reads from the provider, at most:
/// ten pages of 100.
pub const MAX_FETCHED: usize = 1_000;
/// The page size both providers allow at most.
pub const PAGE_SIZE: usize = 100;
/// The longest `cursor` accepted back from a client.
const MAX_CURSOR_LEN: usize = 512;

/// How a provider's record of what it sent is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchUpApi {
    /// Stripe's events API; missed events are ingested from it.
    StripeEvents,
    /// GitHub's hook deliveries; failed ones are redelivered by GitHub.
    GitHubRedelivery,
}

impl CatchUpApi {
    /// The name stored with the configuration and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUpApi::StripeEvents => "stripe_events",
            CatchUpApi::GitHubRedelivery => "github_redelivery",
        }
    }

    /// The provider's real API, used when the configuration names none.
    pub fn default_api_base(self) -> &'static str {
        match self {
            CatchUpApi::StripeEvents => "https://api.stripe.com",
            CatchUpApi::GitHubRedelivery => "https://api.github.com",
        }
    }

    /// The fields a configuration of this kind takes, for error messages and
    /// the providers list.
    pub fn fields(self) -> &'static str {
        match self {
            CatchUpApi::StripeEvents => r#"{"api_key", "api_base"?}"#,
            CatchUpApi::GitHubRedelivery => r#"{"token", "repo", "hook_id", "api_base"?}"#,
        }
    }
}

/// An endpoint's catch-up configuration, as stored. The credential is
/// write-only: [`CatchUp::view`] shows everything else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "api")]
pub enum CatchUp {
    #[serde(rename = "stripe_events")]
    Stripe {
        /// A secret or restricted key that may read events.
        api_key: String,
        api_base: String,
    },
    #[serde(rename = "github_redelivery")]
    GitHub {
        /// A token that may read and redeliver the hook's deliveries.
        token: String,
        /// `owner/name`.
        repo: String,
        hook_id: u64,
        api_base: String,
    },
}

/// An endpoint's catch-up configuration as the API shows it: everything but
/// the credential, which it says is set.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "api")]
#[schemars(rename = "CatchUp")]
pub enum CatchUpView {
    #[serde(rename = "stripe_events")]
    Stripe {
        #[schemars(extend("format" = "uri"))]
        api_base: String,
        /// The key is set (it is never shown).
        #[schemars(extend("const" = true))]
        api_key_set: bool,
    },
    #[serde(rename = "github_redelivery")]
    GitHub {
        #[schemars(extend("format" = "uri"))]
        api_base: String,
        /// `owner/name`.
        repo: String,
        hook_id: u64,
        /// The token is set (it is never shown).
        #[schemars(extend("const" = true))]
        token_set: bool,
    },
}

/// Where a Stripe endpoint's events are read by a catch-up.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CatchUpStripeInput")]
pub struct StripeInput {
    /// A key that may read events (a restricted key with `Events: read` is
    /// enough); write-only.
    #[schemars(length(min = 1, max = MAX_CREDENTIAL_LEN))]
    api_key: String,
    /// Default `https://api.stripe.com`; held to the rules of a destination
    /// URL.
    #[schemars(extend("format" = "uri"))]
    api_base: Option<String>,
}

/// Where a GitHub endpoint's hook deliveries are read and redelivered by a
/// catch-up.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CatchUpGitHubInput")]
pub struct GitHubInput {
    /// A token that may read and redeliver the hook's deliveries (repository
    /// webhooks: write); write-only.
    #[schemars(length(min = 1, max = MAX_CREDENTIAL_LEN))]
    token: String,
    /// `owner/name`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$"))]
    repo: String,
    #[schemars(range(min = 1))]
    hook_id: u64,
    /// Default `https://api.github.com`; held to the rules of a destination
    /// URL.
    #[schemars(extend("format" = "uri"))]
    api_base: Option<String>,
}

/// The longest catch-up credential, in bytes.
const MAX_CREDENTIAL_LEN: usize = 500;

impl CatchUp {
    /// The configuration the API was sent, for a provider whose record is
    /// read as `api`. `api_base` is held to the rules of a destination URL
    /// (`allow_private`: plain http and private addresses, for local
    /// development and tests only).
    pub fn parse(api: CatchUpApi, input: Value, allow_private: bool) -> Result<CatchUp, String> {
        let shape = |e: serde_json::Error| format!("catch_up is {}: {e}", api.fields());
        match api {
            CatchUpApi::StripeEvents => {
                let input: StripeInput = serde_json::from_value(input).map_err(shape)?;
                Ok(CatchUp::Stripe {
                    api_key: credential("api_key", input.api_key)?,
                    api_base: api_base(api, input.api_base, allow_private)?,
                })
            }
            CatchUpApi::GitHubRedelivery => {
                let input: GitHubInput = serde_json::from_value(input).map_err(shape)?;
                if !is_repo_name(&input.repo) {
                    return Err("catch_up.repo is owner/name".into());
                }
                if input.hook_id == 0 {
                    return Err("catch_up.hook_id is the hook's positive id".into());
                }
                Ok(CatchUp::GitHub {
                    token: credential("token", input.token)?,
                    repo: input.repo,
                    hook_id: input.hook_id,
                    api_base: api_base(api, input.api_base, allow_private)?,
                })
            }
        }
    }

    pub fn api(&self) -> CatchUpApi {
        match self {
            CatchUp::Stripe { .. } => CatchUpApi::StripeEvents,
            CatchUp::GitHub { .. } => CatchUpApi::GitHubRedelivery,
        }
    }

    /// What the API shows: all but the credential, which it says is set.
    pub fn view(&self) -> CatchUpView {
        match self {
            CatchUp::Stripe { api_base, .. } => CatchUpView::Stripe {
                api_base: api_base.clone(),
                api_key_set: true,
            },
            CatchUp::GitHub {
                repo,
                hook_id,
                api_base,
                ..
            } => CatchUpView::GitHub {
                api_base: api_base.clone(),
                repo: repo.clone(),
                hook_id: *hook_id,
                token_set: true,
            },
        }
    }

    /// The request headers that authenticate the relay to the provider.
    pub fn auth_headers(&self) -> Vec<(&'static str, String)> {
        match self {
            CatchUp::Stripe { api_key, .. } => vec![("authorization", format!("Bearer {api_key}"))],
            CatchUp::GitHub { token, .. } => vec![
                ("authorization", format!("Bearer {token}")),
                ("accept", "application/vnd.github+json".into()),
                ("x-github-api-version", "2022-11-28".into()),
                // GitHub refuses requests without one.
                ("user-agent", "hookrelay".into()),
            ],
        }
    }
}

fn credential(field: &str, value: String) -> Result<String, String> {
    let value = value.trim().to_string();
    if value.is_empty() || value.len() > MAX_CREDENTIAL_LEN || value.chars().any(char::is_control) {
        return Err(format!(
            "catch_up.{field} must be 1 to {MAX_CREDENTIAL_LEN} printable characters"
        ));
    }
    Ok(value)
}

fn api_base(api: CatchUpApi, given: Option<String>, allow_private: bool) -> Result<String, String> {
    let raw = given.unwrap_or_else(|| api.default_api_base().to_string());
    let url = check_destination(&raw, allow_private)
        .map_err(|e| e.replacen("destination_url", "catch_up.api_base", 1))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("catch_up.api_base has no query or fragment".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn is_repo_name(repo: &str) -> bool {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    matches!(repo.split_once('/'), Some((owner, name)) if part_ok(owner) && part_ok(name))
}

/// What a client sends to `POST /endpoints/{id}/catch-up`, checked: where to
/// start, in unix milliseconds, and the `next` cursor of a previous answer.
#[derive(Debug, PartialEq)]
pub struct CatchUpRequest {
    pub since_ms: i64,
    pub cursor: Option<String>,
}

/// A catch-up call, as sent.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CatchUpRequest")]
pub struct RequestInput {
    /// The oldest events to look at: RFC 3339, a date (UTC midnight) or unix
    /// milliseconds; not in the future.
    #[schemars(schema_with = "since_schema")]
    since: Value,
    /// `next` of the previous answer, to go on where it stopped.
    #[schemars(length(max = MAX_CURSOR_LEN))]
    cursor: Option<String>,
}

fn since_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "oneOf": [{ "type": "string", "minLength": 1 }, { "type": "integer", "minimum": 0 }],
    })
}

impl CatchUpRequest {
    /// `since` is RFC 3339, a date or unix milliseconds (a string or a
    /// number), as the events list takes it; it may not be in the future.
    pub fn parse(body: Value, now_ms: i64) -> Result<CatchUpRequest, String> {
        let input: RequestInput = serde_json::from_value(body)
            .map_err(|e| format!("the body is {{\"since\", \"cursor\"?}}: {e}"))?;
        let since_ms = match &input.since {
            Value::String(s) => crate::event_query::parse_instant(s),
            Value::Number(n) => n.as_i64().filter(|ms| *ms >= 0),
            _ => None,
        }
        .ok_or("since is an RFC 3339 time, a date or unix milliseconds")?;
        if since_ms > now_ms {
            return Err("since is in the future".into());
        }
        let cursor = input.cursor.filter(|c| !c.is_empty());
        if cursor
            .as_deref()
            .is_some_and(|c| c.len() > MAX_CURSOR_LEN || c.chars().any(char::is_control))
        {
            return Err("cursor is the next value of an earlier answer".into());
        }
        Ok(CatchUpRequest { since_ms, cursor })
    }
}

/// What one catch-up call did.
#[derive(Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CatchUpOutcome {
    /// Events (Stripe) or deliveries since `since` (GitHub) read from the
    /// provider.
    pub fetched: usize,
    /// Stripe: events ingested; GitHub: redeliveries GitHub accepted.
    pub recovered: usize,
    /// Events the relay already held (GitHub: also failed deliveries GitHub
    /// delivered later); nothing is delivered again.
    pub duplicates: usize,
    /// Present while more remain: send it back as `cursor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub next: Option<String>,
}

// --- Stripe -----------------------------------------------------------------

/// `GET /v1/events` for events created at or after `since_ms`, after the
/// event `cursor` (Stripe lists newest first).
pub fn stripe_events_url(base: &str, since_ms: i64, cursor: Option<&str>) -> Result<Url, String> {
    let mut url = Url::parse(&format!("{base}/v1/events")).map_err(|e| e.to_string())?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("created[gte]", &(since_ms.div_euclid(1000)).to_string());
        query.append_pair("limit", &PAGE_SIZE.to_string());
        if let Some(after) = cursor {
            query.append_pair("starting_after", after);
        }
    }
    Ok(url)
}

/// One page of Stripe's events list: each event's id and its JSON exactly as
/// Stripe served it (it becomes the ingest's body).
#[derive(Debug)]
pub struct StripePage {
    pub events: Vec<StripeEvent>,
    pub has_more: bool,
}

#[derive(Debug)]
pub struct StripeEvent {
    pub id: String,
    /// When Stripe created it (unix seconds), if the event says.
    pub created: Option<i64>,
    pub body: Vec<u8>,
}

impl StripeEvent {
    pub fn created_ms(&self) -> Option<i64> {
        self.created.and_then(|s| s.checked_mul(1000))
    }
}

#[derive(Deserialize)]
struct StripeList<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
    has_more: bool,
}

#[derive(Deserialize)]
struct StripeEventHead {
    id: String,
    created: Option<i64>,
}

impl StripePage {
    pub fn parse(bytes: &[u8]) -> Result<StripePage, String> {
        let list: StripeList =
            serde_json::from_slice(bytes).map_err(|e| format!("not an events list: {e}"))?;
        let events = list
            .data
            .into_iter()
            .map(|raw| {
                let StripeEventHead { id, created } = serde_json::from_str(raw.get())
                    .map_err(|e| format!("an event without an id: {e}"))?;
                Ok(StripeEvent {
                    id,
                    created,
                    body: raw.get().as_bytes().to_vec(),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(StripePage {
            events,
            has_more: list.has_more,
        })
    }

    /// The cursor for the page after this one, when there is one.
    pub fn next_cursor(&self) -> Option<String> {
        self.has_more
            .then(|| self.events.last().map(|e| e.id.clone()))
            .flatten()
    }
}

// --- GitHub -----------------------------------------------------------------

/// `GET /repos/{repo}/hooks/{hook_id}/deliveries`, a page of 100 from `cursor`.
pub fn github_deliveries_url(
    base: &str,
    repo: &str,
    hook_id: u64,
    cursor: Option<&str>,
) -> Result<Url, String> {
    let mut url = Url::parse(&format!("{base}/repos/{repo}/hooks/{hook_id}/deliveries"))
        .map_err(|e| e.to_string())?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("per_page", &PAGE_SIZE.to_string());
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
    }
    Ok(url)
}

/// `POST /repos/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts`.
pub fn github_redeliver_url(
    base: &str,
    repo: &str,
    hook_id: u64,
    delivery_id: u64,
) -> Result<Url, String> {
    Url::parse(&format!(
        "{base}/repos/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts"
    ))
    .map_err(|e| e.to_string())
}

/// The `cursor` of the `rel="next"` link in GitHub's `Link` header.
pub fn github_next_cursor(link: Option<&str>) -> Option<String> {
    link?.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let url = Url::parse(target).ok().filter(|_| is_next)?;
        let cursor = url
            .query_pairs()
            .find(|(k, _)| k == "cursor")
            .map(|(_, v)| v.into_owned());
        cursor
    })
}

/// One delivery as GitHub lists it (the fields catch-up reads).
#[derive(Debug, Clone, Deserialize)]
pub struct GitHubDelivery {
    pub id: u64,
    /// The event's id, the `X-GitHub-Delivery` header; kept by redeliveries.
    pub guid: String,
    pub delivered_at: String,
    /// 0 when the relay did not answer at all.
    pub status_code: u16,
}

impl GitHubDelivery {
    fn succeeded(&self) -> bool {
        (200..300).contains(&self.status_code)
    }
}

pub fn parse_github_deliveries(bytes: &[u8]) -> Result<Vec<GitHubDelivery>, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not a list of deliveries: {e}"))
}

/// Deliveries read so far, newest first as GitHub lists them, down to
/// `since`: which events never reached the relay.
#[derive(Debug)]
pub struct DeliveryScan {
    since_ms: i64,
    /// Deliveries at or after `since`.
    pub fetched: usize,
    /// Every delivery older than `since` is behind: stop paging.
    pub reached_since: bool,
    delivered: HashSet<String>,
    /// The newest failed delivery of each event not delivered, newest first.
    failed: Vec<GitHubDelivery>,
    /// Events that failed and were delivered later (by GitHub's retry or an
    /// earlier redelivery).
    recovered_later: HashSet<String>,
}

impl DeliveryScan {
    pub fn new(since_ms: i64) -> Self {
        Self {
            since_ms,
            fetched: 0,
            reached_since: false,
            delivered: HashSet::new(),
            failed: Vec::new(),
            recovered_later: HashSet::new(),
        }
    }

    /// Reads one page. A delivery whose time cannot be read counts as recent.
    pub fn add_page(&mut self, page: &[GitHubDelivery]) {
        for delivery in page {
            let at = crate::event_query::parse_instant(&delivery.delivered_at);
            if at.is_some_and(|at| at < self.since_ms) {
                self.reached_since = true;
                continue;
            }
            self.fetched += 1;
            self.add(delivery);
        }
    }

    fn add(&mut self, delivery: &GitHubDelivery) {
        let guid = &delivery.guid;
        if delivery.succeeded() {
            self.delivered.insert(guid.clone());
        } else if self.delivered.contains(guid) {
            // A newer delivery of this event succeeded.
            self.recovered_later.insert(guid.clone());
        } else if !self.failed.iter().any(|f| &f.guid == guid) {
            self.failed.push(delivery.clone());
        }
    }

    /// The events to ask GitHub to redeliver (each once, by its newest
    /// failed delivery), newest first.
    pub fn failed(&self) -> &[GitHubDelivery] {
        &self.failed
    }

    /// Events that failed but were delivered afterwards: nothing to ask for.
    pub fn recovered_later(&self) -> usize {
        self.recovered_later.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_767_225_600_000;

    #[test]
    fn a_stripe_configuration_takes_a_key_and_defaults_to_stripes_api() {
        let config = CatchUp::parse(
            CatchUpApi::StripeEvents,
            json!({"api_key": " sk_test_1 "}),
            false,
        )
        .unwrap();
        assert_eq!(
            config,
            CatchUp::Stripe {
                api_key: "sk_test_1".into(),
                api_base: "https://api.stripe.com".into()
            }
        );
        let view = serde_json::to_value(config.view()).unwrap();
        assert_eq!(view["api"], "stripe_events");
        assert_eq!(view["api_key_set"], true);
        assert!(
            !view.to_string().contains("sk_test_1"),
            "write-only: {view}"
        );
        assert_eq!(
            config.auth_headers(),
            [("authorization", "Bearer sk_test_1".to_string())]
        );
        let stored = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<CatchUp>(&stored).unwrap(), config);
        assert!(stored.contains(r#""api":"stripe_events""#), "{stored}");
    }

    #[test]
    fn a_github_configuration_names_the_repo_and_hook() {
        let config = CatchUp::parse(
            CatchUpApi::GitHubRedelivery,
            json!({"token": "ghp_x", "repo": "acme/shop", "hook_id": 12, "api_base": "http://127.0.0.1:9/"}),
            true,
        )
        .unwrap();
        let view = serde_json::to_value(config.view()).unwrap();
        assert_eq!(view["api"], "github_redelivery");
        assert_eq!(view["api_base"], "http://127.0.0.1:9");
        assert_eq!(view["repo"], "acme/shop");
        assert_eq!(view["token_set"], true);
        assert!(!view.to_string().contains("ghp_x"));
        assert!(config
            .auth_headers()
            .contains(&("user-agent", "hookrelay".to_string())));
    }

    #[test]
    fn a_bad_configuration_is_refused_with_a_reason() {
        let refused = |api, input: Value, private| CatchUp::parse(api, input, private).unwrap_err();
        let stripe = CatchUpApi::StripeEvents;
        let github = CatchUpApi::GitHubRedelivery;
        assert!(refused(stripe, json!({}), false).contains("api_key"));
        assert!(refused(stripe, json!({"api_key": ""}), false).contains("printable"));
        assert!(refused(stripe, json!({"api_key": "k", "token": "t"}), false).contains("token"));
        assert!(refused(stripe, json!("k"), false).contains(r#"{"api_key", "api_base"?}"#));
        let private = refused(
            stripe,
            json!({"api_key": "k", "api_base": "http://127.0.0.1:1"}),
            false,
        );
        assert!(private.starts_with("catch_up.api_base"), "{private}");
        let internal = refused(
            stripe,
            json!({"api_key": "k", "api_base": "https://10.0.0.1"}),
            false,
        );
        assert!(internal.contains("private"), "{internal}");
        assert!(refused(
            stripe,
            json!({"api_key": "k", "api_base": "https://x.example?a=1"}),
            false
        )
        .contains("query"));
        for repo in ["acme", "acme/", "/shop", "a/b/c", "acme/sh op"] {
            let input = json!({"token": "t", "repo": repo, "hook_id": 1});
            assert!(
                refused(github, input, false).contains("owner/name"),
                "{repo}"
            );
        }
        let zero = json!({"token": "t", "repo": "a/b", "hook_id": 0});
        assert!(refused(github, zero, false).contains("hook_id"));
    }

    #[test]
    fn a_request_says_since_when_and_may_carry_a_cursor() {
        let parse = |body: Value| CatchUpRequest::parse(body, NOW);
        assert_eq!(
            parse(json!({"since": "2025-12-31T00:00:00Z"})).unwrap(),
            CatchUpRequest {
                since_ms: NOW - 86_400_000,
                cursor: None
            }
        );
        assert_eq!(
            parse(json!({"since": 1000, "cursor": "evt_1"}))
                .unwrap()
                .cursor
                .as_deref(),
            Some("evt_1")
        );
        assert_eq!(
            parse(json!({"since": "1000", "cursor": ""}))
                .unwrap()
                .cursor,
            None
        );
        assert!(parse(json!({})).unwrap_err().contains("since"));
        assert!(parse(json!({"since": "yesterday"}))
            .unwrap_err()
            .contains("RFC 3339"));
        assert!(parse(json!({"since": -1})).is_err());
        assert!(parse(json!({"since": NOW + 1}))
            .unwrap_err()
            .contains("future"));
        assert!(parse(json!({"since": 1, "cursor": "x".repeat(600)})).is_err());
        assert!(parse(json!({"since": 1, "extra": 1})).is_err());
    }

    #[test]
    fn stripe_is_asked_for_a_page_after_the_cursor() {
        let url =
            stripe_events_url("http://127.0.0.1:9", 1_700_000_000_999, Some("evt_9")).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(url.path(), "/v1/events");
        assert_eq!(
            pairs,
            [
                ("created[gte]".into(), "1700000000".into()),
                ("limit".into(), "100".into()),
                ("starting_after".into(), "evt_9".into())
            ]
        );
    }

    #[test]
    fn a_stripe_page_keeps_each_event_as_served() {
        let page = StripePage::parse(
            br#"{"object":"list","data":[{"id":"evt_2","type":"charge.succeeded", "data":{"object":{}}},{"id":"evt_1","type":"x"}],"has_more":true,"url":"/v1/events"}"#,
        )
        .unwrap();
        assert_eq!(page.events.len(), 2);
        assert_eq!(
            page.events[0].body,
            br#"{"id":"evt_2","type":"charge.succeeded", "data":{"object":{}}}"#
        );
        assert_eq!(page.next_cursor().as_deref(), Some("evt_1"));
        assert_eq!(page.events[0].created_ms(), None);
        let last = StripePage::parse(
            br#"{"data":[{"id":"evt_0","created":1700000000}],"has_more":false}"#,
        )
        .unwrap();
        assert_eq!(last.next_cursor(), None);
        assert_eq!(last.events[0].created_ms(), Some(1_700_000_000_000));
        assert!(StripePage::parse(br#"{"data":[{"type":"x"}],"has_more":false}"#).is_err());
        assert!(StripePage::parse(br#"{"error":{"message":"no"}}"#).is_err());
    }

    #[test]
    fn github_urls_and_the_next_link() {
        let url =
            github_deliveries_url("https://api.github.com", "acme/shop", 7, Some("v1_9")).unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.github.com/repos/acme/shop/hooks/7/deliveries?per_page=100&cursor=v1_9"
        );
        assert_eq!(
            github_redeliver_url("https://api.github.com", "acme/shop", 7, 42)
                .unwrap()
                .path(),
            "/repos/acme/shop/hooks/7/deliveries/42/attempts"
        );
        let link = r#"<https://api.github.com/repos/a/b/hooks/7/deliveries?per_page=100&cursor=v1_2>; rel="next", <https://api.github.com/repos/a/b/hooks/7/deliveries?per_page=100>; rel="first""#;
        assert_eq!(github_next_cursor(Some(link)).as_deref(), Some("v1_2"));
        let first_only = r#"<https://api.github.com/x?per_page=100&cursor=v1_0>; rel="first""#;
        assert_eq!(github_next_cursor(Some(first_only)), None);
        assert_eq!(github_next_cursor(None), None);
    }

    fn delivery(id: u64, guid: &str, at: &str, status_code: u16) -> GitHubDelivery {
        GitHubDelivery {
            id,
            guid: guid.into(),
            delivered_at: at.into(),
            status_code,
        }
    }

    #[test]
    fn a_scan_finds_the_events_never_delivered_since_a_time() {
        let since = crate::event_query::parse_instant("2026-01-01T00:00:00Z").unwrap();
        let mut scan = DeliveryScan::new(since);
        scan.add_page(&[
            delivery(9, "g-redelivered", "2026-01-03T00:00:00Z", 200),
            delivery(8, "g-failed-twice", "2026-01-02T12:00:00Z", 503),
            delivery(7, "g-timeout", "2026-01-02T11:00:00Z", 0),
        ]);
        assert!(!scan.reached_since);
        scan.add_page(&[
            delivery(6, "g-redelivered", "2026-01-02T10:00:00Z", 500),
            delivery(5, "g-failed-twice", "2026-01-02T09:00:00Z", 401),
            delivery(4, "g-ok", "2026-01-02T08:00:00Z", 202),
            delivery(3, "g-old", "2025-12-31T23:59:59Z", 500),
        ]);
        assert!(scan.reached_since);
        assert_eq!(scan.fetched, 6, "the old delivery is not counted");
        let asked: Vec<(u64, &str)> = scan
            .failed()
            .iter()
            .map(|d| (d.id, d.guid.as_str()))
            .collect();
        assert_eq!(asked, [(8, "g-failed-twice"), (7, "g-timeout")]);
        assert_eq!(scan.recovered_later(), 1);
        assert!(parse_github_deliveries(br#"[{"id":1,"guid":"g","delivered_at":"2026-01-01T00:00:00Z","status_code":200,"status":"OK","event":"push","redelivery":false}]"#).is_ok());
        assert!(parse_github_deliveries(br#"{"message":"Not Found"}"#).is_err());
    }
}
