//! Request headers as plain data: what verification reads, what is stored with an
//! ingest, and what is forwarded to the destination.
//!
//! Names are lower-cased once here so every lookup is case-insensitive.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HeaderList(Vec<(String, String)>);

/// Headers that describe one hop, belong to the platform in front of the Worker,
/// or carry credentials meant for the relay itself: never stored, never forwarded.
const NOT_FORWARDED: &[&str] = &[
    "authorization",
    "cdn-loop",
    "connection",
    "content-length",
    "cookie",
    "expect",
    "forwarded",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "true-client-ip",
    "upgrade",
    "via",
    "x-real-ip",
    // Carry the endpoint's own credential as is (GitLab, `api_key` endpoints).
    "x-api-key",
    "x-gitlab-token",
    // Set by the relay on the outbound request (Standard Webhooks, signed with the
    // endpoint's relay secret); a sender's own copies would clash with them.
    "webhook-id",
    "webhook-signature",
    "webhook-timestamp",
];
const NOT_FORWARDED_PREFIXES: &[&str] = &["cf-", "x-forwarded-", "x-hookrelay-"];

impl HeaderList {
    pub fn new<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into().to_ascii_lowercase(), v.into()))
                .collect(),
        )
    }

    /// The first value of a header, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The header's value trimmed, or `None` when it is absent or blank: what
    /// provider ids and event types are read from.
    pub fn non_blank(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Without the header `name` (case-insensitive), when given.
    pub fn without(self, name: Option<&str>) -> HeaderList {
        match name {
            Some(n) => HeaderList(
                self.0
                    .into_iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case(n))
                    .collect(),
            ),
            None => self,
        }
    }

    /// The provider's own headers, fit to store and to replay to the destination.
    pub fn forwardable(&self) -> HeaderList {
        HeaderList(
            self.0
                .iter()
                .filter(|(k, _)| is_forwardable(k))
                .cloned()
                .collect(),
        )
    }
}

fn is_forwardable(name: &str) -> bool {
    !NOT_FORWARDED.contains(&name) && !NOT_FORWARDED_PREFIXES.iter().any(|p| name.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        let h = HeaderList::new([("X-GitHub-Delivery", "abc")]);
        assert_eq!(h.get("x-github-delivery"), Some("abc"));
        assert_eq!(h.get("X-GITHUB-DELIVERY"), Some("abc"));
        assert_eq!(h.get("x-other"), None);
    }

    #[test]
    fn forwardable_drops_hop_by_hop_platform_and_credentials() {
        let h = HeaderList::new([
            ("Content-Type", "application/json"),
            ("Stripe-Signature", "t=1,v1=aa"),
            ("Connection", "keep-alive"),
            ("Host", "relay.example"),
            ("CF-Connecting-IP", "1.2.3.4"),
            ("X-Forwarded-For", "1.2.3.4"),
            ("Authorization", "Bearer secret"),
            ("Transfer-Encoding", "chunked"),
            ("webhook-signature", "v1,xx"),
            ("x-hookrelay-fault", "queue_send"),
            ("X-Gitlab-Token", "secret-token"),
            ("X-Api-Key", "secret-key"),
        ]);
        let kept: Vec<_> = h.forwardable().iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(kept, ["content-type", "stripe-signature"]);
    }

    #[test]
    fn without_drops_a_configured_credential_header() {
        let h = HeaderList::new([("X-Custom-Key", "k"), ("X-Event", "e")]);
        let kept: Vec<_> = h
            .without(Some("x-custom-key"))
            .iter()
            .map(|(k, _)| k.to_string())
            .collect();
        assert_eq!(kept, ["x-event"]);
    }
}
