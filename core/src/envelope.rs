//! What the destination receives: the original body byte-for-byte with the
//! original content type and the provider's own headers, plus Standard Webhooks
//! headers signed with the endpoint's relay secret.
//!
//! `webhook-id` is the event id, so it is stable across attempts and replays and
//! the destination can dedup on it.
//!
//! A route with a transformation sends what the transformation makes of the
//! stored request instead ([`route_payload`]); delivery and the route tester
//! both build it here, so the tester shows exactly what delivery sends.

use crate::headers::HeaderList;
use crate::transform::{self, Transform};
use crate::validation::ValidationError;
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

/// The body, headers and content type a route sends, before the relay's own
/// headers are added.
pub struct Payload {
    pub body: Vec<u8>,
    pub headers: HeaderList,
    pub content_type: Option<String>,
}

/// The stored request as the route sends it: unchanged, or what the route's
/// transformation makes of it (which keeps the stored content type unless it
/// sets one).
pub fn route_payload(
    transform: Option<&Transform>,
    body: Vec<u8>,
    headers: HeaderList,
    content_type: Option<String>,
) -> Result<Payload, ValidationError> {
    let Some(t) = transform else {
        return Ok(Payload {
            body,
            headers,
            content_type,
        });
    };
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let out = transform::apply(t, &body, &pairs)?;
    Ok(Payload {
        body: out.body,
        headers: HeaderList::new(out.headers),
        content_type: out.content_type.or(content_type),
    })
}

/// The stored headers passed on to the destination: the forwardable ones,
/// without those the relay writes itself (`content-type`, `user-agent`).
pub fn passed_on(headers: &HeaderList) -> Vec<(String, String)> {
    headers
        .forwardable()
        .iter()
        .filter(|(k, _)| *k != "content-type" && *k != "user-agent")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The outbound header list, or an error when the relay secret is unusable.
pub fn outbound_headers(e: &Envelope<'_>) -> Result<Vec<(String, String)>, String> {
    let key = standard::decode_secret(e.relay_secret)
        .ok_or_else(|| "the endpoint's relay_secret is not a valid whsec_ secret".to_string())?;
    let mut out = passed_on(e.stored_headers);
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
            verify::verify(Provider::named("standard"), &[secret], &no_settings, &req),
            Ok(())
        );
    }

    #[test]
    fn a_route_payload_is_the_stored_request_or_its_transformation() {
        let stored = HeaderList::new([("x-a", "1"), ("user-agent", "Stripe/1.0")]);
        let body = br#"{"id":"evt_1","secret":"s"}"#.to_vec();
        let ct = Some("application/json".to_string());
        let same = route_payload(None, body.clone(), stored.clone(), ct.clone()).unwrap();
        assert_eq!(
            (same.body.as_slice(), same.content_type.as_deref()),
            (body.as_slice(), ct.as_deref())
        );
        assert_eq!(
            passed_on(&same.headers),
            vec![("x-a".to_string(), "1".to_string())]
        );

        let t = transform::parse_transform(&serde_json::json!({
            "headers": {"set": {"x-b": "2"}, "remove": ["x-a"]},
            "body": [{"op": "omit", "paths": ["/secret"]}],
        }))
        .unwrap();
        let out = route_payload(Some(&t), body, stored, ct).unwrap();
        assert_eq!(out.body, br#"{"id":"evt_1"}"#);
        assert_eq!(
            out.content_type.as_deref(),
            Some("application/json"),
            "kept unless set"
        );
        assert_eq!(
            passed_on(&out.headers),
            vec![("x-b".to_string(), "2".to_string())],
            "the sender's user-agent is not passed on: the relay writes its own"
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
