//! What the destination receives: the original body byte-for-byte with the
//! original content type and the provider's own headers, plus Standard Webhooks
//! headers signed with the endpoint's relay secret.
//!
//! `webhook-id` is the event id, so it is stable across attempts and replays and
//! the destination can dedup on it.

use crate::headers::HeaderList;
use crate::verify::standard;

pub const USER_AGENT: &str = concat!("hookrelay/", env!("CARGO_PKG_VERSION"));

pub struct Envelope<'a> {
    pub stored_headers: &'a HeaderList,
    pub content_type: Option<&'a str>,
    pub event_id: &'a str,
    pub attempt_number: u32,
    pub timestamp_s: i64,
    pub relay_secret: &'a str,
    pub body: &'a [u8],
}

/// The outbound header list, or an error when the relay secret is unusable.
pub fn outbound_headers(e: &Envelope<'_>) -> Result<Vec<(String, String)>, String> {
    let key = standard::decode_secret(e.relay_secret)
        .ok_or_else(|| "the endpoint's relay_secret is not a valid whsec_ secret".to_string())?;
    let mut out: Vec<(String, String)> = e
        .stored_headers
        .forwardable()
        .iter()
        .filter(|(k, _)| *k != "content-type" && *k != "user-agent")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(ct) = e.content_type {
        out.push(("content-type".into(), ct.into()));
    }
    out.push(("user-agent".into(), USER_AGENT.into()));
    out.push(("webhook-id".into(), e.event_id.into()));
    out.push(("webhook-timestamp".into(), e.timestamp_s.to_string()));
    out.push((
        "webhook-signature".into(),
        standard::sign(&key, e.event_id, e.timestamp_s, e.body),
    ));
    out.push(("x-hookrelay-attempt".into(), e.attempt_number.to_string()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{self, Provider, SignedRequest};

    #[test]
    fn the_destination_can_verify_the_relay_signature() {
        let secret = standard::encode_secret(&[9u8; 32]);
        let stored = HeaderList::new([
            ("x-github-event", "push"),
            ("x-hub-signature-256", "sha256=abc"),
            ("content-type", "application/json"),
        ]);
        let body = br#"{"a":1}"#;
        let env = Envelope {
            stored_headers: &stored,
            content_type: Some("application/json; charset=utf-8"),
            event_id: "evt_01",
            attempt_number: 3,
            timestamp_s: 1_700_000_000,
            relay_secret: &secret,
            body,
        };
        let out = HeaderList::new(outbound_headers(&env).unwrap());
        assert_eq!(out.get("x-github-event"), Some("push"));
        assert_eq!(out.get("x-hub-signature-256"), Some("sha256=abc"));
        assert_eq!(
            out.get("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(out.iter().filter(|(k, _)| *k == "content-type").count(), 1);
        assert_eq!(out.get("webhook-id"), Some("evt_01"));
        assert_eq!(out.get("x-hookrelay-attempt"), Some("3"));
        let req = SignedRequest {
            headers: &out,
            body,
            now_s: 1_700_000_000,
            url: "https://relay.example/ep_1",
            method: "POST",
        };
        let no_settings = verify::SchemeConfig::default();
        assert_eq!(
            verify::verify(Provider::Standard, &[secret], &no_settings, &req),
            Ok(())
        );
    }

    #[test]
    fn an_unusable_relay_secret_is_an_error() {
        let stored = HeaderList::default();
        let env = Envelope {
            stored_headers: &stored,
            content_type: None,
            event_id: "evt_01",
            attempt_number: 1,
            timestamp_s: 0,
            relay_secret: "not-base64!",
            body: b"",
        };
        assert!(outbound_headers(&env).is_err());
    }
}
