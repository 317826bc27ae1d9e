//! What a refused request looks like in the rejections log: enough headers to
//! tell which sender, which event and which scheme it was, and no secret
//! material.
//!
//! A refused request is by definition untrusted, and its credentials may be
//! real ones sent to the wrong place (a rotated secret, a token pasted into the
//! wrong endpoint). So the log keeps a bounded selection:
//!
//! - `content-type` and `user-agent`;
//! - headers that name the delivery: names containing `event`, `delivery`,
//!   `topic` or `timestamp`, or ending in `-id`, `_id` or `-uuid`
//!   (`X-GitHub-Event`, `X-Shopify-Topic`, `webhook-id`, `X-Slack-Request-Timestamp`);
//!   timestamps are kept because they explain tolerance refusals;
//! - every header whose name suggests a credential (signature, HMAC, token,
//!   authorization, cookie, key, secret, password, session, verification), with
//!   its VALUE replaced by a marker that keeps only a known scheme prefix and the
//!   length: `sha256=[redacted 64 chars]`, `Basic [redacted]`,
//!   `[redacted 40 chars]`.
//!
//! Everything else is dropped. The credential test wins over the others, so a
//! header such as `X-Session-Id` is kept but redacted. At most [`MAX_HEADERS`]
//! headers are kept, ranked content-type/user-agent first, credentials next, then
//! the rest in request order; names and values are cut to [`MAX_CHARS`].

use crate::headers::HeaderList;

pub const MAX_HEADERS: usize = 20;
pub const MAX_CHARS: usize = 256;

/// A header name containing any of these carries, or may carry, a credential.
/// Matching is deliberately broad: a redacted timestamp costs nothing, a leaked
/// secret costs a rotation.
const CREDENTIAL_NAME_PARTS: &[&str] = &[
    "sig", "hmac", "token", "auth", "cookie", "key", "secret", "pass", "cred", "session", "verif",
    "jwt",
];

/// A header name containing any of these names the delivery rather than proving it.
const DESCRIPTIVE_NAME_PARTS: &[&str] = &["event", "delivery", "topic", "timestamp"];
const DESCRIPTIVE_NAME_SUFFIXES: &[&str] = &["-id", "_id", "-uuid"];
const ESSENTIAL_NAMES: &[&str] = &["content-type", "user-agent"];

/// Prefixes that name a signature's algorithm or version, never part of it.
/// Anything not listed here is treated as secret from its first character.
const SIGNATURE_PREFIXES: &[&str] = &[
    "sha1=", "sha256=", "sha512=", "v0=", "v1=", "v1,", "t=", "ts=",
];
/// `Authorization` schemes (RFC 9110 and common extensions), kept as the word only.
const AUTH_SCHEMES: &[&str] = &[
    "basic",
    "bearer",
    "digest",
    "token",
    "hmac",
    "signature",
    "hawk",
    "negotiate",
    "aws4-hmac-sha256",
];

/// Why a header is kept; the order is the priority when the cap is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kept {
    Essential,
    Credential,
    Descriptive,
}

/// The headers of a refused request, fit to log. Names are lower-case.
pub fn redacted_headers(headers: &HeaderList) -> Vec<(String, String)> {
    let mut kept: Vec<(Kept, &str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| classify(name).map(|why| (why, name, value)))
        .collect();
    kept.sort_by_key(|(why, ..)| *why);
    kept.into_iter()
        .take(MAX_HEADERS)
        .map(|(why, name, value)| {
            let value = match why {
                Kept::Credential => redact_value(value),
                Kept::Essential | Kept::Descriptive => value.to_string(),
            };
            (truncate(name), truncate(&value))
        })
        .collect()
}

fn classify(name: &str) -> Option<Kept> {
    let name = name.to_ascii_lowercase();
    if CREDENTIAL_NAME_PARTS.iter().any(|p| name.contains(p)) {
        Some(Kept::Credential)
    } else if ESSENTIAL_NAMES.contains(&name.as_str()) {
        Some(Kept::Essential)
    } else if is_descriptive(&name) {
        Some(Kept::Descriptive)
    } else {
        None
    }
}

fn is_descriptive(name: &str) -> bool {
    DESCRIPTIVE_NAME_PARTS.iter().any(|p| name.contains(p))
        || DESCRIPTIVE_NAME_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// The marker that stands in for a credential: a known scheme word or prefix,
/// and the length of what follows it, never any of its characters.
fn redact_value(value: &str) -> String {
    let value = value.trim();
    if let Some(scheme) = auth_scheme(value) {
        return format!("{scheme} [redacted]");
    }
    match signature_prefix(value) {
        Some((prefix, rest)) => format!("{prefix}[redacted {} chars]", rest.chars().count()),
        None => format!("[redacted {} chars]", value.chars().count()),
    }
}

fn auth_scheme(value: &str) -> Option<&str> {
    let (scheme, _) = value.split_once(' ')?;
    AUTH_SCHEMES
        .iter()
        .any(|known| known.eq_ignore_ascii_case(scheme))
        .then_some(scheme)
}

fn signature_prefix(value: &str) -> Option<(&str, &str)> {
    SIGNATURE_PREFIXES.iter().find_map(|known| {
        let head = value.get(..known.len())?;
        head.eq_ignore_ascii_case(known)
            .then(|| (head, &value[known.len()..]))
    })
}

/// At most [`MAX_CHARS`] characters, the last one `…` when something was cut.
fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_CHARS {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        redacted_headers(&HeaderList::new(pairs.iter().copied()))
    }

    fn one(name: &str, value: &str) -> Option<String> {
        redacted(&[(name, value)]).pop().map(|(_, v)| v)
    }

    const HEX64: &str = "5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd";
    const B64: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn descriptive_headers_are_kept_verbatim_and_the_rest_dropped() {
        let cases = [
            ("Content-Type", "application/json", true),
            ("User-Agent", "GitHub-Hookshot/abc123", true),
            ("X-GitHub-Event", "push", true),
            (
                "X-GitHub-Delivery",
                "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                true,
            ),
            ("X-GitHub-Hook-ID", "292430182", true),
            ("X-Shopify-Topic", "orders/create", true),
            (
                "X-Shopify-Webhook-Id",
                "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
                true,
            ),
            (
                "X-Gitlab-Event-UUID",
                "13792a34-cac6-4fda-95a8-c58e00a3954e",
                true,
            ),
            ("webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", true),
            ("webhook-timestamp", "1674087231", true),
            ("X-Slack-Request-Timestamp", "1531420618", true),
            (
                "Twitch-Eventsub-Message-Id",
                "befa7b53-d79d-478f-86b9-120f112b044e",
                true,
            ),
            (
                "Linear-Delivery",
                "234d1a4e-b617-4388-90fe-adc3633d6b72",
                true,
            ),
            ("X-Request-Id", "req_123", true),
            ("Host", "relay.example", false),
            ("Accept", "*/*", false),
            ("Content-Length", "123", false),
            ("CF-Connecting-IP", "192.0.2.1", false),
            ("X-Forwarded-For", "192.0.2.1", false),
            ("X-Hookrelay-Fault", "queue_send", false),
            ("X-Custom", "anything", false),
        ];
        for (name, value, kept) in cases {
            let expected = kept.then(|| value.to_string());
            assert_eq!(one(name, value), expected, "{name}");
        }
    }

    #[test]
    fn credential_values_keep_only_a_known_prefix_and_the_length() {
        let sha256 = format!("sha256={HEX64}");
        let stripe = format!("t=1492774577,v1={HEX64}");
        let slack = format!("v0={HEX64}");
        let standard = format!("v1,{B64} v1,{B64}");
        let paddle = format!("ts=1671552777;h1={HEX64}");
        let unknown_prefix = format!("h1={HEX64}");
        let cases = [
            (
                "X-Hub-Signature-256",
                sha256.as_str(),
                "sha256=[redacted 64 chars]",
            ),
            ("Stripe-Signature", &stripe, "t=[redacted 78 chars]"),
            ("X-Slack-Signature", &slack, "v0=[redacted 64 chars]"),
            ("webhook-signature", &standard, "v1,[redacted 68 chars]"),
            ("Paddle-Signature", &paddle, "ts=[redacted 78 chars]"),
            ("Linear-Signature", HEX64, "[redacted 64 chars]"),
            ("X-Shopify-Hmac-Sha256", B64, "[redacted 32 chars]"),
            ("X-Some-Signature", &unknown_prefix, "[redacted 67 chars]"),
            ("Authorization", "Basic dXNlcjpwYXNz", "Basic [redacted]"),
            (
                "Authorization",
                "bearer eyJhbGciOi.x.y",
                "bearer [redacted]",
            ),
            (
                "Authorization",
                "s3cr3t-without-scheme",
                "[redacted 21 chars]",
            ),
            ("Authorization", "Custom s3cr3t", "[redacted 13 chars]"),
            (
                "Proxy-Authorization",
                "Digest username=x",
                "Digest [redacted]",
            ),
            ("Cookie", "session=abc; theme=dark", "[redacted 23 chars]"),
            ("X-Api-Key", "sk_live_123", "[redacted 11 chars]"),
            ("X-Gitlab-Token", "glpat-secret", "[redacted 12 chars]"),
            ("X-Session-Id", "sess_1", "[redacted 6 chars]"),
            ("X-Signature-Timestamp", "1700000000", "[redacted 10 chars]"),
            (
                "X-Hub-Signature",
                "  sha1=abcd  ",
                "sha1=[redacted 4 chars]",
            ),
            (
                "X-Hub-Signature",
                "SHA256=abcd",
                "SHA256=[redacted 4 chars]",
            ),
            ("X-Hub-Signature", "sha256=", "sha256=[redacted 0 chars]"),
            ("X-Hub-Signature", "", "[redacted 0 chars]"),
            ("X-Signature", "é€ü", "[redacted 3 chars]"),
        ];
        for (name, value, expected) in cases {
            assert_eq!(
                one(name, value).as_deref(),
                Some(expected),
                "{name}: {value}"
            );
        }
    }

    /// Every 5-character window of the secret material; none may appear in the log.
    fn fragments(secret: &str) -> Vec<String> {
        let chars: Vec<char> = secret.chars().collect();
        chars.windows(5).map(|w| w.iter().collect()).collect()
    }

    #[test]
    fn no_signature_value_survives_for_any_provider_header() {
        let names = [
            "Stripe-Signature",
            "X-Hub-Signature-256",
            "X-Hub-Signature",
            "X-Shopify-Hmac-Sha256",
            "webhook-signature",
            "svix-signature",
            "X-Slack-Signature",
            "Paddle-Signature",
            "Linear-Signature",
            "Typeform-Signature",
            "x-zm-signature",
            "Twitch-Eventsub-Message-Signature",
            "x-square-hmacsha256-signature",
            "X-Square-Signature",
            "X-HubSpot-Signature-v3",
            "X-HubSpot-Signature",
            "X-Gitlab-Token",
            "X-Signature-Ed25519",
            "X-Twilio-Signature",
            "X-Line-Signature",
            "X-Razorpay-Signature",
            "X-WC-Webhook-Signature",
            "X-PagerDuty-Signature",
            "X-Zendesk-Webhook-Signature",
            "X-Vercel-Signature",
            "Sentry-Hook-Signature",
            "X-Cal-Signature-256",
            "X-Telegram-Bot-Api-Secret-Token",
            "X-Goog-Channel-Token",
            "X-Hook-Secret",
            "Plaid-Verification",
            "X-Okta-Verification-Challenge",
            "Authorization",
            "Proxy-Authorization",
            "X-Api-Key",
            "Ocp-Apim-Subscription-Key",
            "Cookie",
        ];
        let shapes = [
            HEX64.to_string(),
            B64.to_string(),
            format!("sha256={HEX64}"),
            format!("sha1={HEX64}"),
            format!("v0={HEX64}"),
            format!("v1,{B64}"),
            format!("t=1492774577,v1={HEX64},v0={B64}"),
            format!("ts=1671552777;h1={HEX64}"),
            format!("Bearer {B64}"),
            format!("Basic {B64}"),
            format!("{B64} {HEX64}"),
        ];
        let secret_fragments: Vec<String> =
            fragments(HEX64).into_iter().chain(fragments(B64)).collect();
        for name in names {
            for value in &shapes {
                let log = redacted(&[(name, value), ("Content-Type", "application/json")]);
                let lower = name.to_ascii_lowercase();
                let kept = log.iter().find(|(n, _)| *n == lower);
                let (_, logged) = kept.unwrap_or_else(|| panic!("{name} was not logged"));
                assert!(logged.contains("[redacted"), "{name}: {logged}");
                for fragment in &secret_fragments {
                    assert!(!logged.contains(fragment.as_str()), "{name}: {logged}");
                }
            }
        }
    }

    #[test]
    fn at_most_twenty_headers_with_credentials_ranked_before_descriptions() {
        let names: Vec<String> = (0..30).map(|i| format!("x-thing-{i:02}-id")).collect();
        let mut pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        pairs.push(("X-Hub-Signature-256", "sha256=00"));
        pairs.push(("Content-Type", "application/json"));
        let log = redacted(&pairs);
        assert_eq!(log.len(), MAX_HEADERS);
        assert_eq!(log[0].0, "content-type");
        assert_eq!(
            log[1],
            (
                "x-hub-signature-256".into(),
                "sha256=[redacted 2 chars]".into()
            )
        );
        assert_eq!(log[2].0, "x-thing-00-id");
        assert_eq!(log[19].0, "x-thing-17-id");
    }

    #[test]
    fn long_names_and_values_are_cut_to_the_limit() {
        let long_value = "a".repeat(1000);
        let long_name = format!("x-{}-event", "n".repeat(1000));
        let log = redacted(&[
            ("X-GitHub-Event", long_value.as_str()),
            (long_name.as_str(), "push"),
            ("User-Agent", &"é".repeat(MAX_CHARS)),
        ]);
        assert_eq!(log.len(), 3);
        for (name, value) in &log {
            assert!(name.chars().count() <= MAX_CHARS, "{name}");
            assert!(value.chars().count() <= MAX_CHARS, "{value}");
        }
        assert_eq!(log[0], ("user-agent".into(), "é".repeat(MAX_CHARS)));
        assert_eq!(log[1].0, "x-github-event");
        assert!(log[1].1.ends_with('…'));
        assert!(log[2].0.ends_with('…'));
        assert_eq!(log[2].1, "push");
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(redacted(&[]).is_empty());
        assert!(redacted(&[("Host", "x"), ("Accept", "*/*")]).is_empty());
    }
}
