//! Dedup keys: which inbound requests are "the same provider delivery".
//!
//! The key is the provider's own delivery id where it has one (so a retry with a
//! re-signed header is still recognised), else the SHA-256 of the body. Keys are
//! namespaced (`id:` / `sha256:`) so a provider id can never equal a body hash.
//!
//! # Reading a body's ids without building it
//! The ack path needs only a few top-level string fields of a JSON body, those
//! the provider registry names for delivery ids and event types
//! ([`HEAD_FIELDS`]). [`body_head`] reads exactly those in one
//! pass over the bytes and keeps nothing else: other values are checked the way
//! `serde_json::Value` checks them (so a body is JSON here exactly when it parses
//! as a `Value`) and dropped as they are read. Its memory is the kept strings
//! plus the parser's scratch buffer (at most the longest string), whatever the
//! body's size or shape; an array or a string body keeps nothing.

use crate::headers::HeaderList;
use crate::verify::{DeliveryId, Provider, SchemeConfig};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt;

/// Provider ids longer than this are hashed so the UNIQUE index stays small.
const MAX_ID_LEN: usize = 200;

/// The key for an endpoint without scheme settings (every named provider).
pub fn dedup_key(provider: Provider, headers: &HeaderList, body: &[u8]) -> String {
    let json = body_head(body);
    dedup_key_for(
        provider,
        &SchemeConfig::default(),
        headers,
        body,
        json.as_ref(),
    )
}

/// The key when the endpoint's scheme settings may name the id header (`hmac`).
/// `json` is the body as the caller read it (`None` when it is not JSON): its
/// [`body_head`], or the whole parsed body; only top-level string fields are read.
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

/// The delivery id where the provider's registry row says it is.
fn provider_delivery_id(
    provider: Provider,
    config: &SchemeConfig,
    headers: &HeaderList,
    json: Option<&Value>,
) -> Option<String> {
    let header = |name: &str| headers.non_blank(name).map(str::to_string);
    match provider.spec().delivery_id {
        DeliveryId::None => None,
        DeliveryId::Header(names) => names.iter().find_map(|name| header(name)),
        DeliveryId::BodyField(field) => body_string(json, field),
        DeliveryId::Configured => config
            .hmac
            .as_ref()
            .and_then(|c| c.id_header.as_deref())
            .and_then(header),
    }
}

/// A top-level, non-empty string field of a JSON body; anything else is no id.
fn body_string(json: Option<&Value>, field: &str) -> Option<String> {
    json?
        .get(field)?
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

/// The top-level fields of a JSON body that the ack path reads: those the
/// provider registry takes delivery ids and event types from (a test keeps the
/// two in step), and GitHub's `action`.
pub const HEAD_FIELDS: &[&str] = &[
    "id",
    "event_id",
    "eventId",
    "type",
    "action",
    "event_type",
    "eventType",
    "event",
    "topic",
    "object",
    "object_kind",
    "_id",
    "messageId",
    "webhookEvent",
    "triggerEvent",
    "triggerType",
    "RecordType",
    "metric",
    "resource",
    "kind",
    "description",
    "alert_type",
    "status",
];

/// The body's [`HEAD_FIELDS`] that hold strings, as a small JSON object, without
/// building the rest of the body. `None` when the body is not JSON (exactly when
/// `serde_json::from_slice::<Value>` fails); `Some(Value::Null)` for JSON that is
/// not an object. A field given twice counts as `Value` counts it: the last one.
///
/// For every field `f` of [`HEAD_FIELDS`],
/// `head.get(f).and_then(Value::as_str)` equals the same read on the full body,
/// which is all [`dedup_key_for`] and [`crate::filter::event_type`] do.
pub fn body_head(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Head>(body).ok().map(|h| h.0)
}

/// What [`body_head`] returns, as a `Deserialize` over the whole document.
struct Head(Value);

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(HeadVisitor)
    }
}

struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Head;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        let mut kept = Map::new();
        while let Some(FieldName(field)) = map.next_key()? {
            match field {
                Some(name) => match map.next_value::<MaybeString>()?.0 {
                    Some(value) => {
                        kept.insert(name.to_string(), Value::String(value));
                    }
                    None => {
                        kept.remove(name);
                    }
                },
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Head(Value::Object(kept)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Head, A::Error> {
        SkipVisitor.visit_seq(seq).map(|()| Head(Value::Null))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Head, E> {
        Ok(Head(Value::Null))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Head, E> {
        Ok(Head(Value::Null))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Head, E> {
        Ok(Head(Value::Null))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Head, E> {
        Ok(Head(Value::Null))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Head, E> {
        Ok(Head(Value::Null))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Head, E> {
        Ok(Head(Value::Null))
    }
}

/// An object key: which of [`HEAD_FIELDS`] it names, if any (never allocated).
struct FieldName(Option<&'static str>);

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = FieldName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<FieldName, E> {
                Ok(FieldName(HEAD_FIELDS.iter().copied().find(|f| *f == key)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A value kept when it is a string; any other value is checked and dropped.
struct MaybeString(Option<String>);

impl<'de> Deserialize<'de> for MaybeString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StringVisitor;
        impl<'de> Visitor<'de> for StringVisitor {
            type Value = MaybeString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<MaybeString, E> {
                Ok(MaybeString(Some(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<MaybeString, E> {
                Ok(MaybeString(Some(s)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MaybeString, A::Error> {
                SkipVisitor.visit_map(map).map(|()| MaybeString(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MaybeString, A::Error> {
                SkipVisitor.visit_seq(seq).map(|()| MaybeString(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
        }
        d.deserialize_any(StringVisitor)
    }
}

/// Any JSON value, parsed as `Value` parses it (same depth limit, number and
/// string checks) and dropped as it is read. Unlike `serde::de::IgnoredAny`,
/// which skips without those checks, it accepts exactly what `Value` accepts.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor).map(|()| Skip)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
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
                Provider::named("stripe"),
                &[],
                br#"{"id":"evt_123","object":"event"}"#,
                "id:evt_123",
            ),
            (
                Provider::named("github"),
                &[("X-GitHub-Delivery", "72d3162e")],
                b"{}",
                "id:72d3162e",
            ),
            (
                Provider::named("shopify"),
                &[("X-Shopify-Webhook-Id", "b54557e4")],
                b"{}",
                "id:b54557e4",
            ),
            (
                Provider::named("standard"),
                &[("webhook-id", "msg_2")],
                b"{}",
                "id:msg_2",
            ),
            (
                Provider::named("none"),
                &[("Idempotency-Key", "k-1")],
                b"{}",
                "id:k-1",
            ),
            (
                Provider::named("paddle"),
                &[],
                br#"{"event_id":"evt_01h8","notification_id":"ntf_1"}"#,
                "id:evt_01h8",
            ),
            (
                Provider::named("square"),
                &[],
                br#"{"event_id":"ac3ac95b","data":{"id":"bc368e64"}}"#,
                "id:ac3ac95b",
            ),
            (
                Provider::named("typeform"),
                &[],
                br#"{"event_id":"01HTF","event_type":"form_response"}"#,
                "id:01HTF",
            ),
            (
                Provider::named("intercom"),
                &[],
                br#"{"type":"notification_event","id":"notif_1"}"#,
                "id:notif_1",
            ),
            (
                Provider::named("discord"),
                &[],
                br#"{"type":2,"id":"1234567890"}"#,
                "id:1234567890",
            ),
            (
                Provider::named("twitch"),
                &[("Twitch-Eventsub-Message-Id", "e76c6bd4")],
                b"{}",
                "id:e76c6bd4",
            ),
            (
                Provider::named("linear"),
                &[("Linear-Delivery", "234d1a4e")],
                b"{}",
                "id:234d1a4e",
            ),
            (
                Provider::named("gitlab"),
                &[("X-Gitlab-Event-UUID", "evt-uuid")],
                b"{}",
                "id:evt-uuid",
            ),
            (
                Provider::named("gitlab"),
                &[
                    ("X-Gitlab-Event-UUID", "evt-uuid"),
                    ("Idempotency-Key", "idem-1"),
                ],
                b"{}",
                "id:idem-1",
            ),
            (
                Provider::named("basic_auth"),
                &[("Idempotency-Key", "k-2")],
                b"{}",
                "id:k-2",
            ),
            (
                Provider::named("api_key"),
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
        assert_eq!(key(Provider::named("none"), &[], body), expected);
        assert_eq!(
            key(
                Provider::named("github"),
                &[("x-github-delivery", "  ")],
                body
            ),
            expected
        );
        assert_eq!(
            key(Provider::named("stripe"), &[], body),
            expected,
            "not JSON"
        );
        assert_eq!(
            key(Provider::named("stripe"), &[], br#"{"object":"event"}"#).len(),
            7 + 64
        );
    }

    #[test]
    fn providers_without_a_delivery_id_use_the_body_hash() {
        let body = b"hello";
        let hash = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let cases: &[(Provider, &[(&str, &str)])] = &[
            (
                Provider::named("slack"),
                &[("X-Slack-Request-Timestamp", "1531420618")],
            ),
            (
                Provider::named("zoom"),
                &[("x-zm-request-timestamp", "1700000000")],
            ),
            (
                Provider::named("hubspot"),
                &[("X-HubSpot-Request-Timestamp", "1700000000123")],
            ),
            (Provider::named("hmac"), &[("x-delivery", "d-1")]),
            (Provider::named("paddle"), &[]),
            (Provider::named("discord"), &[]),
        ];
        for (provider, headers) in cases {
            assert_eq!(key(*provider, headers, body), hash, "{provider:?}");
        }
        let numeric_id = br#"{"id":42}"#;
        assert!(key(Provider::named("intercom"), &[], numeric_id).starts_with("sha256:"));
    }

    #[test]
    fn generic_hmac_uses_its_configured_id_header() {
        let config: SchemeConfig =
            serde_json::from_str(r#"{"hmac": {"header": "x-sig", "id_header": "X-Delivery"}}"#)
                .unwrap();
        let headers = HeaderList::new([("x-delivery", "d-1")]);
        assert_eq!(
            dedup_key_for(Provider::named("hmac"), &config, &headers, b"{}", None),
            "id:d-1"
        );
        let without_id: SchemeConfig =
            serde_json::from_str(r#"{"hmac": {"header": "x-sig"}}"#).unwrap();
        assert!(
            dedup_key_for(Provider::named("hmac"), &without_id, &headers, b"{}", None)
                .starts_with("sha256:")
        );
    }

    /// Every field the ack path reads, from the head and from the whole body.
    fn reads(json: Option<&Value>) -> Vec<Option<String>> {
        HEAD_FIELDS
            .iter()
            .map(|f| {
                json.and_then(|j| j.get(*f))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect()
    }

    #[test]
    fn the_body_head_reads_what_the_whole_body_would() {
        let deep_array = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let deep_id = format!(
            r#"{{"id":"deep","x":{}1{}}}"#,
            "[".repeat(130),
            "]".repeat(130)
        );
        let shallow_id = format!(
            r#"{{"id":"ok","x":{}1{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        let bodies: Vec<&[u8]> = vec![
            br#"{"id":"evt_1","type":"charge.refunded","data":{"id":"inner"}}"#,
            br#"{"data":{"id":"inner","type":"nested"},"action":"opened"}"#,
            br#"{"id":"first","id":"second"}"#,
            br#"{"id":"first","id":7}"#,
            br#"{"type":7,"type":"last"}"#,
            br#"{"id":42,"event_id":["a"],"eventId":{"x":1},"type":null,"action":true}"#,
            br#"{"id":"a\"b\u00e9\ud83d\ude00","type":"t\n"}"#,
            br#"{"id":"","type":""}"#,
            br#" {"eventId":"okta-1"} "#,
            br#"{"id":"x","n":1e400}"#,
            br#"{"id":"x","s":"\ud800"}"#,
            br#"{"id":"x"} trailing"#,
            br#"{"id":"x",}"#,
            br#"{"id":"x""#,
            br#"[{"id":"in-array"}]"#,
            br#""a string""#,
            b"12.5",
            b"null",
            b"true",
            b"",
            b"   ",
            b"not json",
            b"{\"id\":\"\xff\"}",
            b"{\"id\":\"x\",\"k\xff\":1}",
            deep_array.as_bytes(),
            deep_id.as_bytes(),
            shallow_id.as_bytes(),
        ];
        for body in bodies {
            let full = serde_json::from_slice::<Value>(body).ok();
            let head = body_head(body);
            let shown = String::from_utf8_lossy(body);
            assert_eq!(head.is_some(), full.is_some(), "is JSON: {shown}");
            assert_eq!(reads(head.as_ref()), reads(full.as_ref()), "{shown}");
            if full.as_ref().is_some_and(|f| !f.is_object()) {
                assert_eq!(head, Some(Value::Null), "nothing kept: {shown}");
            }
        }
    }

    #[test]
    fn the_body_head_keeps_only_its_fields() {
        let head = body_head(br#"{"id":"e","big":[1,2,3],"type":"t","other":"x"}"#).unwrap();
        assert_eq!(head, serde_json::json!({"id": "e", "type": "t"}));
        let big_array = format!("[{}0]", "1234567890,".repeat(100_000));
        assert_eq!(body_head(big_array.as_bytes()), Some(Value::Null));
    }

    #[test]
    fn headers_of_other_providers_are_ignored() {
        let k = key(Provider::named("github"), &[("webhook-id", "msg_1")], b"x");
        assert!(k.starts_with("sha256:"));
    }

    #[test]
    fn very_long_ids_are_hashed() {
        let long = "a".repeat(500);
        let k = key(Provider::named("standard"), &[("webhook-id", &long)], b"x");
        assert!(k.starts_with("id-sha256:"));
    }
}
