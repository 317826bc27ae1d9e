//! One test vector per provider, and the checks every vector goes through: it
//! verifies (also beside another live secret), and a changed body, another
//! secret, a missing signature header and (for signed times) an old request
//! are each refused. Each vector says where it comes from: a page of the
//! provider's docs that prints it, or how it was computed independently.
//!
//! The registry's own invariants (unique names, usable HMAC presets, fields the
//! ack path reads) are checked here too, since they are data as well.

use super::hmac_scheme::{self, KeyEncoding};
use super::registry::ROWS;
use super::{
    verify, Custom, DeliveryId, EventType, Provider, SchemeConfig, SignedRequest, Signing,
};
use crate::dedup::HEAD_FIELDS;
use crate::headers::HeaderList;

const URL: &str = "https://relay.example/ep_1";

struct Vector {
    provider: &'static str,
    secret: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    url: &'static str,
    method: &'static str,
    /// The relay's clock: within tolerance of any signed time.
    now_s: i64,
}

/// The generic `hmac` scheme needs settings of its own and is tested in
/// `hmac_scheme`; `none` verifies nothing.
const WITHOUT_VECTORS: [&str; 2] = ["none", "hmac"];

static VECTORS: &[Vector] = &[
    // Computed independently: Python `base64.b64encode(b"relay:pa:ss")`.
    Vector {
        provider: "basic_auth",
        secret: "relay:pa:ss",
        headers: &[("Authorization", "Basic cmVsYXk6cGE6c3M=")],
        body: b"{}",
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // The key itself, in the default header.
    Vector {
        provider: "api_key",
        secret: "key_live_123",
        headers: &[("X-Api-Key", "key_live_123")],
        body: b"{}",
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Published: the example in the Standard Webhooks / Svix verification docs.
    Vector {
        provider: "standard",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        headers: &[
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            (
                "webhook-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
        ],
        body: br#"{"test": 2432232314}"#,
        url: URL,
        method: "POST",
        now_s: 1_614_265_330,
    },
    // Computed independently: Python `hmac.new(b"whsec_test_secret",
    // b'1700000000.{"id":"evt_1","object":"event"}', hashlib.sha256).hexdigest()`.
    Vector {
        provider: "stripe",
        secret: "whsec_test_secret",
        headers: &[(
            "Stripe-Signature",
            "t=1700000000,v1=0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd",
        )],
        body: br#"{"id":"evt_1","object":"event"}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_010,
    },
    // Computed independently: Python `hmac.new(b"pdl_ntfset_test_secret",
    // b'1700000000:' + BODY, hashlib.sha256).hexdigest()`.
    Vector {
        provider: "paddle",
        secret: "pdl_ntfset_test_secret",
        headers: &[(
            "Paddle-Signature",
            "ts=1700000000;h1=16977c0ccfb070ee9097dd3a4043e4a82f31bb66cb448e39f87a8f2af5060b22",
        )],
        body: br#"{"event_id":"evt_01h8","event_type":"transaction.completed"}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_005,
    },
    // Published: the vector in Square's own SDK tests (WebhooksHelper /
    // verify_signature in square-python-sdk and square-nodejs-sdk).
    Vector {
        provider: "square",
        secret: "Ibxx_5AKakO-3qeNVR61Dw",
        headers: &[(
            "X-Square-HmacSha256-Signature",
            "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=",
        )],
        body: br#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#,
        url: "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9",
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Computed independently: Python `base64.b64encode(hmac.new(b"shpss_secret",
    // b'{"id":820982911946154508}', hashlib.sha256).digest())`.
    Vector {
        provider: "shopify",
        secret: "shpss_secret",
        headers: &[(
            "X-Shopify-Hmac-Sha256",
            "jqbalbO3Z8mDmrF2/+wzM3KYvbgqzVBF969vgiIy80I=",
        )],
        body: br#"{"id":820982911946154508}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Published: GitHub's "Validating webhook deliveries" page.
    Vector {
        provider: "github",
        secret: "It's a Secret to Everybody",
        headers: &[(
            "X-Hub-Signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        )],
        body: b"Hello, World!",
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // The token itself, as GitLab sends it.
    Vector {
        provider: "gitlab",
        secret: "gitlab-webhook-token",
        headers: &[("X-Gitlab-Token", "gitlab-webhook-token")],
        body: br#"{"object_kind":"push"}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Computed independently: Python `hmac.new(b"lin_wh_test_secret",
    // b'{"action":"create","type":"Issue"}', hashlib.sha256).hexdigest()`.
    Vector {
        provider: "linear",
        secret: "lin_wh_test_secret",
        headers: &[(
            "Linear-Signature",
            "f94173456225cddb0497ce1f384bd4b3498257e64ab2c50019730e6b7c678325",
        )],
        body: br#"{"action":"create","type":"Issue"}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Computed independently: Python `hmac.new(b"dropbox-app-secret",
    // b'{"list_folder":{"accounts":["dbid:AAH4f99"]}}', hashlib.sha256).hexdigest()`.
    Vector {
        provider: "dropbox",
        secret: "dropbox-app-secret",
        headers: &[(
            "X-Dropbox-Signature",
            "18f76222ee77a991c2620dad650ef5b1b5035e4bb754e63d495cfde6b6d0e902",
        )],
        body: br#"{"list_folder":{"accounts":["dbid:AAH4f99"]}}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Published: the example in Slack's "Verifying requests from Slack" page.
    Vector {
        provider: "slack",
        secret: "8f742231b10e8888abcd99yyyzzz85a5",
        headers: &[
            (
                "X-Slack-Signature",
                "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            ),
            ("X-Slack-Request-Timestamp", "1531420618"),
        ],
        body: b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow\
&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner\
&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands\
%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN\
&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        url: URL,
        method: "POST",
        now_s: 1_531_420_628,
    },
    // Computed independently: Python `hmac.new(b"zoom_secret_token",
    // b'v0:1700000000:{"event":"meeting.started","payload":{}}', hashlib.sha256).hexdigest()`.
    Vector {
        provider: "zoom",
        secret: "zoom_secret_token",
        headers: &[
            (
                "x-zm-signature",
                "v0=4deeff0e090b0b04feb5548e0a13a9274ed24a54dd7a9ba7a91a116514bec6a6",
            ),
            ("x-zm-request-timestamp", "1700000000"),
        ],
        body: br#"{"event":"meeting.started","payload":{}}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Computed independently with Python `cryptography`:
    // `k = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))`; the secret is
    // `k.public_key()` raw, hex; the signature `k.sign(b"1700000000" + BODY).hex()`.
    Vector {
        provider: "discord",
        secret: "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
        headers: &[
            (
                "X-Signature-Ed25519",
                "c3d605151b214b5169bf247b10e84cd47e03853150777c25765590ebea768ff2\
                 c8cbba37683e8d6fd6b8124ca9d3c4e6f3320f965adfe1a054d274d3a9d0b800",
            ),
            ("X-Signature-Timestamp", "1700000000"),
        ],
        body: br#"{"type":1,"id":"1234567890"}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Computed independently: Python `hmac.new(b"twitch_test_secret",
    // (MSG_ID + TIMESTAMP).encode() + BODY, hashlib.sha256).hexdigest()`.
    Vector {
        provider: "twitch",
        secret: "twitch_test_secret",
        headers: &[
            (
                "Twitch-Eventsub-Message-Id",
                "e76c6bd4-55c9-4987-8304-da1588d8988b",
            ),
            (
                "Twitch-Eventsub-Message-Timestamp",
                "2023-11-14T22:13:20.123456789Z",
            ),
            (
                "Twitch-Eventsub-Message-Signature",
                "sha256=5e0279eedc7b63899105bce2532317af7e5e3431e081b89b94e67cde981c2773",
            ),
        ],
        body: br#"{"subscription":{"type":"channel.follow"}}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Computed independently: Python `hmac.new(b"meta-app-secret",
    // b'{"object":"page","entry":[]}', hashlib.sha256).hexdigest()`.
    Vector {
        provider: "meta",
        secret: "meta-app-secret",
        headers: &[(
            "X-Hub-Signature-256",
            "sha256=5dcb51eb590634700c8d9cc1fde4d2d5981ca7bb83f250eb3fb71bfd849057ed",
        )],
        body: br#"{"object":"page","entry":[]}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Computed independently: Python `hmac.new(b"intercom_client_secret",
    // b'{"type":"notification_event","id":"notif_1"}', hashlib.sha1).hexdigest()`.
    Vector {
        provider: "intercom",
        secret: "intercom_client_secret",
        headers: &[(
            "X-Hub-Signature",
            "sha1=3faebb0034e47694de045ab8bc314399711ff673",
        )],
        body: br#"{"type":"notification_event","id":"notif_1"}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Computed independently: Python `base64.b64encode(hmac.new(b"hubspot_client_secret",
    // b'POST' + SIGNED_URI + BODY + b'1700000000123', hashlib.sha256).digest())`, where
    // SIGNED_URI is the URL with %40 and %2C decoded by hand and %20 kept.
    Vector {
        provider: "hubspot",
        secret: "hubspot_client_secret",
        headers: &[
            (
                "X-HubSpot-Signature-v3",
                "V/1cT95T8PiEFeb6/XQ2yihXYvZJgmSz2c2Q74tcxS4=",
            ),
            ("X-HubSpot-Request-Timestamp", "1700000000123"),
        ],
        body: br#"[{"eventId":1,"subscriptionType":"contact.creation"}]"#,
        url: "https://relay.example/ep_01?who=a%40b%2Cc&sp=%20x",
        method: "POST",
        now_s: 1_700_000_000,
    },
    // The header's whole value, as configured in Okta.
    Vector {
        provider: "okta",
        secret: "Bearer okta-hook",
        headers: &[("Authorization", "Bearer okta-hook")],
        body: br#"{"eventType":"com.okta.event_hook","eventId":"e1"}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
    // Computed independently: Python `base64.b64encode(hmac.new(b"typeform_test_secret",
    // b'{"event_id":"01HTF","event_type":"form_response"}', hashlib.sha256).digest())`.
    Vector {
        provider: "typeform",
        secret: "typeform_test_secret",
        headers: &[(
            "Typeform-Signature",
            "sha256=vq7Ra6Mizphn6e3c0lusCzNmvkp7o0mFMdUEAKuO1FE=",
        )],
        body: br#"{"event_id":"01HTF","event_type":"form_response"}"#,
        url: URL,
        method: "POST",
        now_s: 1_700_000_000,
    },
];

impl Vector {
    fn provider(&self) -> Provider {
        Provider::named(self.provider)
    }

    fn check(
        &self,
        secrets: &[&str],
        headers: &[(&str, &str)],
        body: &[u8],
        now_s: i64,
    ) -> Result<(), &'static str> {
        let headers = HeaderList::new(headers.iter().copied());
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let req = SignedRequest {
            headers: &headers,
            body,
            now_s,
            url: self.url,
            method: self.method,
        };
        verify(self.provider(), &secrets, &SchemeConfig::default(), &req).map_err(|e| e.code())
    }

    /// The vector as given.
    fn run(&self, secrets: &[&str]) -> Result<(), &'static str> {
        self.check(secrets, self.headers, self.body, self.now_s)
    }

    /// Another secret of the same shape, which must not verify the vector.
    fn other_secret(&self) -> &'static str {
        match self.provider().spec().signing {
            Signing::Custom(Custom::StandardWebhooks) => "whsec_b3RoZXIta2V5LW9mLTMyLWJ5dGVz",
            // The public key of `bytes(range(32, 64))`.
            Signing::Custom(Custom::Discord) => {
                "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7"
            }
            Signing::Custom(Custom::BasicAuth) => "relay:other",
            Signing::Hmac(scheme) if scheme.key == KeyEncoding::Base64 => "b3RoZXIta2V5",
            Signing::Hmac(scheme) if scheme.key == KeyEncoding::Hex => "6f746865722d6b6579",
            _ => "other-secret-value",
        }
    }
}

#[test]
fn every_vector_verifies_alone_and_beside_another_live_secret() {
    for v in VECTORS {
        assert_eq!(v.run(&[v.secret]), Ok(()), "{}", v.provider);
        assert_eq!(
            v.run(&[v.other_secret(), v.secret]),
            Ok(()),
            "{} with a second secret",
            v.provider
        );
        assert_eq!(
            v.provider().validate_secret(v.secret),
            Ok(()),
            "{}",
            v.provider
        );
    }
}

#[test]
fn another_secret_is_refused() {
    for v in VECTORS {
        assert_eq!(
            v.provider().validate_secret(v.other_secret()),
            Ok(()),
            "{}",
            v.provider
        );
        assert_eq!(
            v.run(&[v.other_secret()]),
            Err("signature_mismatch"),
            "{}",
            v.provider
        );
    }
}

#[test]
fn a_changed_body_is_refused_wherever_the_body_is_signed() {
    for v in VECTORS {
        let mut body = v.body.to_vec();
        body.push(b' ');
        let expected = if v.provider().spec().signing.signs_body() {
            Err("signature_mismatch")
        } else {
            Ok(())
        };
        assert_eq!(
            v.check(&[v.secret], v.headers, &body, v.now_s),
            expected,
            "{}",
            v.provider
        );
    }
}

#[test]
fn a_missing_signature_header_is_named_as_missing() {
    for v in VECTORS {
        let signing = v.provider().spec().signing;
        let signature = match signing {
            Signing::ConfiguredApiKey => super::DEFAULT_API_KEY_HEADER,
            _ => signing.headers()[0],
        };
        let without: Vec<(&str, &str)> = v
            .headers
            .iter()
            .copied()
            .filter(|(name, _)| !name.eq_ignore_ascii_case(signature))
            .collect();
        assert!(without.len() < v.headers.len(), "{}", v.provider);
        assert_eq!(
            v.check(&[v.secret], &without, v.body, v.now_s),
            Err("signature_missing"),
            "{}",
            v.provider
        );
    }
}

#[test]
fn an_old_signed_time_is_refused() {
    for v in VECTORS {
        let Some(tolerance) = v.provider().spec().signing.tolerance_s() else {
            continue;
        };
        let later = v.now_s + 2 * i64::from(tolerance) + 1;
        assert_eq!(
            v.check(&[v.secret], v.headers, v.body, later),
            Err("timestamp_out_of_tolerance"),
            "{}",
            v.provider
        );
    }
}

#[test]
fn every_provider_has_a_vector_and_every_vector_a_provider() {
    for p in Provider::all() {
        let has_vector = VECTORS.iter().any(|v| v.provider == p.as_str());
        let exempt = WITHOUT_VECTORS.contains(&p.as_str());
        assert!(has_vector != exempt, "{}", p.as_str());
    }
    for v in VECTORS {
        assert!(Provider::parse(v.provider).is_some(), "{}", v.provider);
    }
}

#[test]
fn names_and_aliases_are_unique_lowercase_and_none_comes_first() {
    assert_eq!(ROWS[0].name, "none");
    let mut seen = std::collections::HashSet::new();
    for row in ROWS {
        for name in std::iter::once(&row.name).chain(row.aliases) {
            let well_formed = name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            assert!(well_formed, "{name}");
            assert!(seen.insert(*name), "{name} is given twice");
        }
        assert_eq!(Provider::parse(row.name).unwrap().as_str(), row.name);
    }
}

#[test]
fn every_hmac_row_is_a_usable_scheme() {
    for row in ROWS {
        if let Signing::Hmac(scheme) = row.signing {
            assert_eq!(hmac_scheme::validate(&scheme), Ok(()), "{}", row.name);
        }
    }
}

#[test]
fn named_providers_name_their_docs() {
    for row in ROWS {
        let generic = matches!(
            row.signing,
            Signing::None | Signing::ConfiguredHmac | Signing::ConfiguredApiKey
        );
        assert!(
            generic || row.docs.starts_with("https://"),
            "{} has no docs page",
            row.name
        );
    }
}

/// The ack path reads only [`HEAD_FIELDS`] of a body, so every field a row
/// takes a delivery id or an event type from must be one of them.
#[test]
fn the_body_fields_rows_read_are_head_fields() {
    for row in ROWS {
        let fields = [
            match row.delivery_id {
                DeliveryId::BodyField(f) => Some(f),
                _ => None,
            },
            match row.event_type {
                EventType::BodyField(f) => Some(f),
                _ => None,
            },
        ];
        for field in fields.into_iter().flatten() {
            assert!(HEAD_FIELDS.contains(&field), "{}: {field}", row.name);
        }
    }
}
