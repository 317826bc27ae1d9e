//! Dedup keys: which inbound requests are "the same provider delivery".
//!
//! The key is the provider's own delivery id where it has one (so a retry with a
//! re-signed header is still recognised), else the SHA-256 of the body. Keys are
//! namespaced (`id:` / `sha256:`) so a provider id can never equal a body hash.

use crate::headers::HeaderList;
use crate::verify::Provider;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Provider ids longer than this are hashed so the UNIQUE index stays small.
const MAX_ID_LEN: usize = 200;

pub fn dedup_key(provider: Provider, headers: &HeaderList, body: &[u8]) -> String {
    match provider_delivery_id(provider, headers, body) {
        Some(id) if id.len() <= MAX_ID_LEN => format!("id:{id}"),
        Some(id) => format!("id-sha256:{}", sha256_hex(id.as_bytes())),
        None => format!("sha256:{}", sha256_hex(body)),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn provider_delivery_id(provider: Provider, headers: &HeaderList, body: &[u8]) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match provider {
        Provider::Stripe => stripe_event_id(body),
        Provider::Github => header("x-github-delivery"),
        Provider::Shopify => header("x-shopify-webhook-id"),
        Provider::Standard => header("webhook-id"),
        Provider::None => header("idempotency-key"),
    }
}

/// Stripe puts its event id (`evt_...`) in the body, not in a header.
fn stripe_event_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct StripeEvent {
        id: Option<String>,
    }
    serde_json::from_slice::<StripeEvent>(body)
        .ok()?
        .id
        .filter(|id| !id.is_empty())
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
