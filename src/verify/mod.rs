//! Signature verification, one file per provider scheme.
//!
//! Every scheme is a pure function over the raw body bytes, the request headers, URL
//! and method, and the current time, so each can be tested natively with published or
//! independently computed vectors. Comparisons are constant time: HMACs through
//! `Mac::verify_slice`, plain tokens through their SHA-256 digests and `subtle`
//! (`any_token_matches`); Discord's Ed25519 signatures through `ed25519-dalek`.
//! An endpoint may hold several live secrets (rotation): a request passes if any
//! secret verifies it.
//!
//! Adding a provider: a new file here, one variant in [`Provider`], one match arm.
//! The operator-configured schemes (`hmac`, `api_key`) also read their settings
//! from [`SchemeConfig`].

mod api_key;
mod basic_auth;
mod config;
mod discord;
mod dropbox;
mod generic_hmac;
mod github;
mod gitlab;
mod hubspot;
mod intercom;
mod linear;
mod meta;
mod none;
mod okta;
mod paddle;
mod shopify;
mod slack;
mod square;
pub mod standard;
mod stripe;
mod twitch;
mod typeform;
mod zoom;

pub use config::{
    ApiKeyConfig, HmacAlgorithm, HmacConfig, SchemeConfig, SignatureEncoding,
    DEFAULT_API_KEY_HEADER,
};

use crate::headers::HeaderList;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How far a signed timestamp may be from the relay's clock, either way.
pub const TOLERANCE_S: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    None,
    Stripe,
    Github,
    Shopify,
    Standard,
    Slack,
    Paddle,
    Linear,
    Typeform,
    Intercom,
    Zoom,
    Twitch,
    Square,
    Hubspot,
    Gitlab,
    Discord,
    Hmac,
    BasicAuth,
    ApiKey,
    Meta,
    Okta,
    Dropbox,
}

/// Names that parse to [`Provider::Standard`]: Svix and the senders built on it
/// sign with Standard Webhooks. They are accepted on input only; `as_str` answers
/// `standard`, and [`Provider::ALL`] lists each scheme once.
const STANDARD_ALIASES: [&str; 3] = ["svix", "clerk", "resend"];

impl Provider {
    pub const ALL: [Provider; 22] = [
        Provider::None,
        Provider::Stripe,
        Provider::Github,
        Provider::Shopify,
        Provider::Standard,
        Provider::Slack,
        Provider::Paddle,
        Provider::Linear,
        Provider::Typeform,
        Provider::Intercom,
        Provider::Zoom,
        Provider::Twitch,
        Provider::Square,
        Provider::Hubspot,
        Provider::Gitlab,
        Provider::Discord,
        Provider::Hmac,
        Provider::BasicAuth,
        Provider::ApiKey,
        Provider::Meta,
        Provider::Okta,
        Provider::Dropbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::None => "none",
            Provider::Stripe => "stripe",
            Provider::Github => "github",
            Provider::Shopify => "shopify",
            Provider::Standard => "standard",
            Provider::Slack => "slack",
            Provider::Paddle => "paddle",
            Provider::Linear => "linear",
            Provider::Typeform => "typeform",
            Provider::Intercom => "intercom",
            Provider::Zoom => "zoom",
            Provider::Twitch => "twitch",
            Provider::Square => "square",
            Provider::Hubspot => "hubspot",
            Provider::Gitlab => "gitlab",
            Provider::Discord => "discord",
            Provider::Hmac => "hmac",
            Provider::BasicAuth => "basic_auth",
            Provider::ApiKey => "api_key",
            Provider::Meta => "meta",
            Provider::Okta => "okta",
            Provider::Dropbox => "dropbox",
        }
    }

    /// A provider by name; `svix`, `clerk` and `resend` are [`Provider::Standard`].
    pub fn parse(s: &str) -> Option<Provider> {
        if STANDARD_ALIASES.contains(&s) {
            return Some(Provider::Standard);
        }
        if s == "whatsapp" {
            return Some(Provider::Meta);
        }
        Provider::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether the scheme needs at least one secret to verify anything.
    pub fn needs_secret(self) -> bool {
        self != Provider::None
    }

    /// Checks a secret's shape when an endpoint is created or edited, so a typo is
    /// refused then rather than silently failing every ingest later.
    pub fn validate_secret(self, secret: &str) -> Result<(), String> {
        if secret.is_empty() {
            return Err("secrets must not be empty".into());
        }
        match self {
            Provider::Standard => standard::decode_secret(secret)
                .map(|_| ())
                .ok_or_else(|| "standard secrets are 'whsec_' followed by base64".into()),
            Provider::Discord => discord::validate_public_key(secret),
            Provider::Twitch => twitch::validate_secret(secret),
            Provider::BasicAuth => basic_auth::validate_secret(secret),
            _ => Ok(()),
        }
    }

    /// Checks the endpoint's scheme settings when it is created or edited; the
    /// message is fit for a 400 answer.
    pub fn validate_config(self, config: &SchemeConfig) -> Result<(), String> {
        config::validate(self, config)
    }
}

/// The parts of an inbound request that a signature covers.
pub struct SignedRequest<'a> {
    pub headers: &'a HeaderList,
    pub body: &'a [u8],
    pub now_s: i64,
    /// The full public URL the provider posted to (Square and HubSpot sign it).
    pub url: &'a str,
    /// The request method as sent, e.g. `POST` (HubSpot signs it).
    pub method: &'a str,
}

impl SignedRequest<'_> {
    fn header(&self, name: &'static str) -> Result<&str, VerifyError> {
        self.headers
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or(VerifyError::MissingHeader(name))
    }

    /// Like `header`, for a name the operator configured.
    fn named_header(&self, name: &str) -> Result<&str, VerifyError> {
        self.headers
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| VerifyError::MissingNamedHeader(name.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    MissingHeader(&'static str),
    Malformed(&'static str),
    /// A header named in the endpoint's [`SchemeConfig`] is absent.
    MissingNamedHeader(String),
    /// A header named in the endpoint's [`SchemeConfig`] cannot be read.
    MalformedNamedHeader(String),
    OutsideTolerance,
    /// The signed timestamp is outside a window other than ±[`TOLERANCE_S`].
    OutsideWindow {
        max_age_s: i64,
        max_ahead_s: i64,
    },
    /// The endpoint's scheme needs settings it does not have (or has unusable ones).
    Unconfigured(&'static str),
    Mismatch,
}

impl VerifyError {
    /// Machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) | VerifyError::MissingNamedHeader(_) => {
                "signature_missing"
            }
            VerifyError::Malformed(_) | VerifyError::MalformedNamedHeader(_) => {
                "signature_malformed"
            }
            VerifyError::OutsideTolerance | VerifyError::OutsideWindow { .. } => {
                "timestamp_out_of_tolerance"
            }
            VerifyError::Unconfigured(_) => "scheme_not_configured",
            VerifyError::Mismatch => "signature_mismatch",
        }
    }

    /// A message that helps the operator and reveals nothing about the secret.
    pub fn message(&self) -> String {
        match self {
            VerifyError::MissingHeader(h) => format!("missing signature header {h}"),
            VerifyError::MissingNamedHeader(h) => format!("missing signature header {h}"),
            VerifyError::Malformed(h) => format!("malformed signature header {h}"),
            VerifyError::MalformedNamedHeader(h) => format!("malformed signature header {h}"),
            VerifyError::OutsideTolerance => {
                format!("signed timestamp is more than {TOLERANCE_S} s from the relay's clock")
            }
            VerifyError::OutsideWindow {
                max_age_s,
                max_ahead_s,
            } if max_age_s == max_ahead_s => {
                format!("signed timestamp is more than {max_age_s} s from the relay's clock")
            }
            VerifyError::OutsideWindow {
                max_age_s,
                max_ahead_s,
            } => format!(
                "signed timestamp is older than {max_age_s} s or more than {max_ahead_s} s \
                 ahead of the relay's clock"
            ),
            VerifyError::Unconfigured(scheme) => {
                format!("the endpoint has no usable {scheme} settings")
            }
            VerifyError::Mismatch => "no configured secret matches the signature".into(),
        }
    }
}

/// Verifies `req` with the endpoint's scheme and any of its live secrets.
/// `config` matters only to the operator-configured schemes (`hmac`, `api_key`).
pub fn verify(
    provider: Provider,
    secrets: &[String],
    config: &SchemeConfig,
    req: &SignedRequest<'_>,
) -> Result<(), VerifyError> {
    match provider {
        Provider::None => none::verify(),
        Provider::Stripe => stripe::verify(secrets, req),
        Provider::Github => github::verify(secrets, req),
        Provider::Shopify => shopify::verify(secrets, req),
        Provider::Standard => standard::verify(secrets, req),
        Provider::Slack => slack::verify(secrets, req),
        Provider::Paddle => paddle::verify(secrets, req),
        Provider::Linear => linear::verify(secrets, req),
        Provider::Typeform => typeform::verify(secrets, req),
        Provider::Intercom => intercom::verify(secrets, req),
        Provider::Zoom => zoom::verify(secrets, req),
        Provider::Twitch => twitch::verify(secrets, req),
        Provider::Square => square::verify(secrets, req),
        Provider::Hubspot => hubspot::verify(secrets, req),
        Provider::Gitlab => gitlab::verify(secrets, req),
        Provider::Discord => discord::verify(secrets, req),
        Provider::Hmac => generic_hmac::verify(secrets, config.hmac.as_ref(), req),
        Provider::BasicAuth => basic_auth::verify(secrets, req),
        Provider::ApiKey => api_key::verify(secrets, config.api_key.as_ref(), req),
        Provider::Meta => meta::verify(secrets, req),
        Provider::Okta => okta::verify(secrets, req),
        Provider::Dropbox => dropbox::verify(secrets, req),
    }
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 over the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// True when any key's HMAC over `parts` equals any candidate, compared in constant time.
pub(crate) fn any_hmac_sha256_matches<'k>(
    keys: impl IntoIterator<Item = &'k [u8]>,
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> bool {
    any_hmac_matches::<HmacSha256>(keys, parts, candidates)
}

/// [`any_hmac_sha256_matches`] for any HMAC, e.g. `Hmac<Sha1>` or `Hmac<Sha512>`.
pub(crate) fn any_hmac_matches<'k, M: Mac + hmac::digest::KeyInit + Clone>(
    keys: impl IntoIterator<Item = &'k [u8]>,
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> bool {
    keys.into_iter().any(|key| {
        let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        for part in parts {
            mac.update(part);
        }
        candidates
            .iter()
            .any(|c| mac.clone().verify_slice(c).is_ok())
    })
}

/// True when `presented` equals any secret. The SHA-256 digests are compared in
/// constant time, so neither the contents nor the length of a secret leak.
pub(crate) fn any_token_matches(secrets: &[String], presented: &[u8]) -> bool {
    let presented = Sha256::digest(presented);
    secrets
        .iter()
        .any(|s| bool::from(Sha256::digest(s.as_bytes()).ct_eq(&presented)))
}

/// How a signature header encodes its MAC.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Encoding {
    Hex,
    Base64,
}

/// The shape most providers share: `header: {prefix}{encoding(HMAC-SHA256(secret,
/// parts...))}`, with any live secret.
pub(crate) fn verify_sha256_header(
    secrets: &[String],
    req: &SignedRequest<'_>,
    header: &'static str,
    prefix: &str,
    encoding: Encoding,
    parts: &[&[u8]],
) -> Result<(), VerifyError> {
    use base64::{engine::general_purpose::STANDARD as B64, Engine};
    let encoded = req
        .header(header)?
        .trim()
        .strip_prefix(prefix)
        .ok_or(VerifyError::Malformed(header))?;
    let signature = match encoding {
        Encoding::Hex => hex::decode(encoded).ok(),
        Encoding::Base64 => B64.decode(encoded).ok(),
    }
    .ok_or(VerifyError::Malformed(header))?;
    let keys = secrets.iter().map(|s| s.as_bytes());
    if any_hmac_sha256_matches(keys, parts, &[signature]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Slack's scheme, which Zoom copied: `{signature_header}: v0=<hex>` over
/// `v0:{timestamp}:{body}`, the timestamp in `timestamp_header`, 300 s tolerance.
pub(crate) fn verify_v0_timestamped(
    secrets: &[String],
    req: &SignedRequest<'_>,
    signature_header: &'static str,
    timestamp_header: &'static str,
) -> Result<(), VerifyError> {
    let ts_text = req.header(timestamp_header)?.trim();
    let timestamp: i64 = ts_text
        .parse()
        .map_err(|_| VerifyError::Malformed(timestamp_header))?;
    check_tolerance(timestamp, req.now_s)?;
    let parts: [&[u8]; 4] = [b"v0:", ts_text.as_bytes(), b":", req.body];
    verify_sha256_header(secrets, req, signature_header, "v0=", Encoding::Hex, &parts)
}

pub(crate) fn check_tolerance(signed_at_s: i64, now_s: i64) -> Result<(), VerifyError> {
    if (now_s - signed_at_s).abs() > TOLERANCE_S {
        return Err(VerifyError::OutsideTolerance);
    }
    Ok(())
}

/// Like [`check_tolerance`], with a window of its own on each side of the clock.
pub(crate) fn check_window(
    signed_at_s: i64,
    now_s: i64,
    max_age_s: i64,
    max_ahead_s: i64,
) -> Result<(), VerifyError> {
    let age = now_s - signed_at_s;
    if age > max_age_s || -age > max_ahead_s {
        return Err(VerifyError::OutsideWindow {
            max_age_s,
            max_ahead_s,
        });
    }
    Ok(())
}

/// Test support: runs a scheme over a request built from plain test data.
#[cfg(test)]
pub(crate) mod testing {
    use super::{SignedRequest, VerifyError};
    use crate::headers::HeaderList;

    pub const URL: &str = "https://relay.example/ep_1";

    pub fn run(
        verify: impl Fn(&[String], &SignedRequest<'_>) -> Result<(), VerifyError>,
        secrets: &[&str],
        headers: &[(&str, &str)],
        body: &[u8],
        now_s: i64,
    ) -> Result<(), VerifyError> {
        run_as(verify, secrets, headers, body, now_s, "POST", URL)
    }

    pub fn run_as(
        verify: impl Fn(&[String], &SignedRequest<'_>) -> Result<(), VerifyError>,
        secrets: &[&str],
        headers: &[(&str, &str)],
        body: &[u8],
        now_s: i64,
        method: &str,
        url: &str,
    ) -> Result<(), VerifyError> {
        let headers = HeaderList::new(headers.iter().copied());
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let req = SignedRequest {
            headers: &headers,
            body,
            now_s,
            url,
            method,
        };
        verify(&secrets, &req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
        }
        assert_eq!(Provider::parse("paypal"), None);
    }

    #[test]
    fn svix_senders_are_standard_webhooks() {
        for alias in ["svix", "clerk", "resend"] {
            assert_eq!(Provider::parse(alias), Some(Provider::Standard), "{alias}");
        }
        assert_eq!(Provider::parse("clerk").unwrap().as_str(), "standard");
    }

    #[test]
    fn tolerance_applies_both_ways() {
        assert!(check_tolerance(1000, 1300).is_ok());
        assert!(check_tolerance(1300, 1000).is_ok());
        assert_eq!(
            check_tolerance(1000, 1301),
            Err(VerifyError::OutsideTolerance)
        );
        assert_eq!(
            check_tolerance(1301, 1000),
            Err(VerifyError::OutsideTolerance)
        );
    }

    #[test]
    fn a_window_may_differ_on_each_side() {
        let outside = Err(VerifyError::OutsideWindow {
            max_age_s: 600,
            max_ahead_s: 300,
        });
        assert!(check_window(1000, 1600, 600, 300).is_ok());
        assert!(check_window(1300, 1000, 600, 300).is_ok());
        assert_eq!(check_window(1000, 1601, 600, 300), outside);
        assert_eq!(check_window(1301, 1000, 600, 300), outside);
    }

    #[test]
    fn window_messages_name_both_limits_only_when_they_differ() {
        let same = VerifyError::OutsideWindow {
            max_age_s: 60,
            max_ahead_s: 60,
        };
        assert!(same.message().contains("more than 60 s from"));
        let different = VerifyError::OutsideWindow {
            max_age_s: 600,
            max_ahead_s: 300,
        };
        assert!(different.message().contains("older than 600 s"));
        assert_eq!(different.code(), "timestamp_out_of_tolerance");
    }

    #[test]
    fn tokens_match_in_constant_time_whatever_their_length() {
        let secrets = ["old-token".to_string(), "new-token".to_string()];
        assert!(any_token_matches(&secrets, b"new-token"));
        assert!(!any_token_matches(&secrets, b"new-toke"));
        assert!(!any_token_matches(&secrets, b""));
        assert!(!any_token_matches(&[], b"new-token"));
    }

    #[test]
    fn standard_secrets_are_checked_at_configuration_time() {
        assert!(Provider::Standard
            .validate_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .is_ok());
        assert!(Provider::Standard.validate_secret("whsec_***").is_err());
        assert!(Provider::Github.validate_secret("").is_err());
        assert!(Provider::Github.validate_secret("anything").is_ok());
    }

    #[test]
    fn secrets_of_the_new_schemes_are_checked_at_configuration_time() {
        let discord_key = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
        assert!(Provider::Discord.validate_secret(discord_key).is_ok());
        assert!(Provider::Discord.validate_secret("03a1").is_err());
        assert!(Provider::Twitch.validate_secret("short").is_err());
        assert!(Provider::Twitch
            .validate_secret("long-enough-secret")
            .is_ok());
        assert!(Provider::BasicAuth.validate_secret("no-colon").is_err());
        assert!(Provider::BasicAuth.validate_secret("user:pass").is_ok());
        assert!(Provider::Slack.validate_secret("anything").is_ok());
    }
}
