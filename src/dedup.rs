//! Dedup keys: which inbound requests are "the same provider delivery".
//!
//! The key is the provider's own delivery id where it has one (so a retry with a
//! re-signed header is still recognised), else the SHA-256 of the body. Keys are
//! namespaced (`id:` / `sha256:`) so a provider id can never equal a body hash.

use crate::headers::HeaderList;
use crate::verify::{Provider, SchemeConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Provider ids longer than this are hashed so the UNIQUE index stays small.
const MAX_ID_LEN: usize = 200;

/// The key for an endpoint without scheme settings (every named provider).
pub fn dedup_key(provider: Provider, headers: &HeaderList, body: &[u8]) -> String {
    let json = serde_json::from_slice::<Value>(body).ok();
    dedup_key_for(
        provider,
        &SchemeConfig::default(),
        headers,
        body,
        json.as_ref(),
    )
}

/// The key when the endpoint's scheme settings may name the id header (`hmac`).
/// `json` is the body already parsed by the caller (`None` when it is not JSON),
/// so the ack path parses a body once for its id, its event type and the filters.
pub fn dedup_key_for(
    provider: Provider,
    config: &SchemeConfig,
    headers: &HeaderList,
    body: &[u8],
    json: Option<&Value>,
) -> String {
    match provider_delivery_id(provider, config, headers, json) {
        Some(id) => key_for_delivery_id(&id),
        None => format!("sha256:{}", sha256_hex(body)),
    }
}

/// The key stored for a provider's delivery id (what the events search by `q`
/// looks for when given the provider's id).
pub fn key_for_delivery_id(id: &str) -> String {
    if id.len() <= MAX_ID_LEN {
        format!("id:{id}")
    } else {
        format!("id-sha256:{}", sha256_hex(id.as_bytes()))
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn provider_delivery_id(
    provider: Provider,
    config: &SchemeConfig,
    headers: &HeaderList,
    json: Option<&Value>,
) -> Option<String> {
    let header = |name: &str| headers.non_blank(name).map(str::to_string);
    match provider {
        Provider::Stripe | Provider::Intercom | Provider::Discord => body_id(json, BodyId::Id),
        Provider::Paddle | Provider::Square | Provider::Typeform => body_id(json, BodyId::EventId),
        Provider::Github => header("x-github-delivery"),
        Provider::Shopify => header("x-shopify-webhook-id"),
        Provider::Standard => header("webhook-id"),
        Provider::Twitch => header("twitch-eventsub-message-id"),
        Provider::Linear => header("linear-delivery"),
        // Idempotency-Key is per delivery and kept across retries; the event UUID
        // is shared by every webhook the same event triggers.
        Provider::Gitlab => header("idempotency-key").or_else(|| header("x-gitlab-event-uuid")),
        Provider::Hmac => config
            .hmac
            .as_ref()
            .and_then(|c| c.id_header.as_deref())
            .and_then(header),
        Provider::None | Provider::BasicAuth | Provider::ApiKey => header("idempotency-key"),
        // No delivery id in their requests: the key is the body hash.
        Provider::Okta => body_id(json, BodyId::CamelEventId),
        Provider::Slack
        | Provider::Zoom
        | Provider::Hubspot
        | Provider::Meta
        | Provider::Dropbox => None,
    }
}

/// The top-level fields in which providers put their event id in the body.
enum BodyId {
    Id,
    EventId,
    /// `eventId` (Okta).
    CamelEventId,
}

/// A top-level, non-empty string id of a JSON body; anything else is no id.
fn body_id(json: Option<&Value>, which: BodyId) -> Option<String> {
    let field = match which {
        BodyId::Id => "id",
        BodyId::EventId => "event_id",
        BodyId::CamelEventId => "eventId",
    };
    json?
        .get(field)?
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(provider: Provider, headers: &[(&str, &str)], body: &[u8]) -> String {
        dedup_key(provider, &HeaderList::new(headers.iter().copied()), body)
    }

    type Case<'a> = (Provider, &'a [(&'a str, &'a str)], &'a [u8], &'a str);

    #[test]
    fn each_provider_uses_its_own_delivery_id() {
        let cases: &[Case] = &[
            (
                Provider::Stripe,
                &[],
                br#"{"id":"evt_123","object":"event"}"#,
                "id:evt_123",
            ),
            (
                Provider::Github,
                &[("X-GitHub-Delivery", "72d3162e")],
                b"{}",
                "id:72d3162e",
            ),
            (
                Provider::Shopify,
                &[("X-Shopify-Webhook-Id", "b54557e4")],
                b"{}",
                "id:b54557e4",
            ),
            (
                Provider::Standard,
                &[("webhook-id", "msg_2")],
                b"{}",
                "id:msg_2",
            ),
            (
                Provider::None,
                &[("Idempotency-Key", "k-1")],
                b"{}",
                "id:k-1",
            ),
            (
                Provider::Paddle,
                &[],
                br#"{"event_id":"evt_01h8","notification_id":"ntf_1"}"#,
                "id:evt_01h8",
            ),
            (
                Provider::Square,
                &[],
                br#"{"event_id":"ac3ac95b","data":{"id":"bc368e64"}}"#,
                "id:ac3ac95b",
            ),
            (
                Provider::Typeform,
                &[],
                br#"{"event_id":"01HTF","event_type":"form_response"}"#,
                "id:01HTF",
            ),
            (
                Provider::Intercom,
                &[],
                br#"{"type":"notification_event","id":"notif_1"}"#,
                "id:notif_1",
            ),
            (
                Provider::Discord,
                &[],
                br#"{"type":2,"id":"1234567890"}"#,
                "id:1234567890",
            ),
            (
                Provider::Twitch,
                &[("Twitch-Eventsub-Message-Id", "e76c6bd4")],
                b"{}",
                "id:e76c6bd4",
            ),
            (
                Provider::Linear,
                &[("Linear-Delivery", "234d1a4e")],
                b"{}",
                "id:234d1a4e",
            ),
            (
                Provider::Gitlab,
                &[("X-Gitlab-Event-UUID", "evt-uuid")],
                b"{}",
                "id:evt-uuid",
            ),
            (
                Provider::Gitlab,
                &[
                    ("X-Gitlab-Event-UUID", "evt-uuid"),
                    ("Idempotency-Key", "idem-1"),
                ],
                b"{}",
                "id:idem-1",
            ),
            (
                Provider::BasicAuth,
                &[("Idempotency-Key", "k-2")],
                b"{}",
                "id:k-2",
            ),
            (
                Provider::ApiKey,
                &[("Idempotency-Key", "k-3")],
                b"{}",
                "id:k-3",
            ),
        ];
        for (provider, headers, body, expected) in cases {
            assert_eq!(&key(*provider, headers, body), expected, "{provider:?}");
        }
    }

    #[test]
    fn falls_back_to_the_body_hash() {
        let body = b"hello";
        let expected = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert_eq!(key(Provider::None, &[], body), expected);
        assert_eq!(
            key(Provider::Github, &[("x-github-delivery", "  ")], body),
            expected
        );
        assert_eq!(key(Provider::Stripe, &[], body), expected, "not JSON");
        assert_eq!(
            key(Provider::Stripe, &[], br#"{"object":"event"}"#).len(),
            7 + 64
        );
    }

    #[test]
    fn providers_without_a_delivery_id_use_the_body_hash() {
        let body = b"hello";
        let hash = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let cases: &[(Provider, &[(&str, &str)])] = &[
            (
                Provider::Slack,
                &[("X-Slack-Request-Timestamp", "1531420618")],
            ),
            (Provider::Zoom, &[("x-zm-request-timestamp", "1700000000")]),
            (
                Provider::Hubspot,
                &[("X-HubSpot-Request-Timestamp", "1700000000123")],
            ),
            (Provider::Hmac, &[("x-delivery", "d-1")]),
            (Provider::Paddle, &[]),
            (Provider::Discord, &[]),
        ];
        for (provider, headers) in cases {
            assert_eq!(key(*provider, headers, body), hash, "{provider:?}");
        }
        let numeric_id = br#"{"id":42}"#;
        assert!(key(Provider::Intercom, &[], numeric_id).starts_with("sha256:"));
    }

    #[test]
    fn generic_hmac_uses_its_configured_id_header() {
        let config: SchemeConfig =
            serde_json::from_str(r#"{"hmac": {"header": "x-sig", "id_header": "X-Delivery"}}"#)
                .unwrap();
        let headers = HeaderList::new([("x-delivery", "d-1")]);
        assert_eq!(
            dedup_key_for(Provider::Hmac, &config, &headers, b"{}", None),
            "id:d-1"
        );
        let without_id: SchemeConfig =
            serde_json::from_str(r#"{"hmac": {"header": "x-sig"}}"#).unwrap();
        assert!(
            dedup_key_for(Provider::Hmac, &without_id, &headers, b"{}", None)
                .starts_with("sha256:")
        );
    }

    #[test]
    fn headers_of_other_providers_are_ignored() {
        let k = key(Provider::Github, &[("webhook-id", "msg_1")], b"x");
        assert!(k.starts_with("sha256:"));
    }

    #[test]
    fn very_long_ids_are_hashed() {
        let long = "a".repeat(500);
        let k = key(Provider::Standard, &[("webhook-id", &long)], b"x");
        assert!(k.starts_with("id-sha256:"));
    }
}
