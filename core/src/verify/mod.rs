//! Signature verification, driven by the provider registry.
//!
//! Every scheme is a pure function over the raw body bytes, the request headers, URL
//! and method, and the current time, so each can be tested natively with published or
//! independently computed vectors (`vectors.rs` holds one per provider). Comparisons
//! are constant time: HMACs through `Mac::verify_slice`, plain tokens through their
//! SHA-256 digests and `subtle` (`any_token_matches`); Discord's Ed25519 signatures
//! through `ed25519-dalek`. An endpoint may hold several live secrets (rotation): a
//! request passes if any secret verifies it.
//!
//! Adding a provider: one row in `providers.rs` (what a row says is in
//! [`registry`]) and its vector in `vectors.rs`. Most rows are an
//! [`HmacScheme`]; the schemes that are really different have files of their own.
//! The operator-configured schemes (`hmac`, `api_key`) read their settings from
//! [`SchemeConfig`].

mod basic_auth;
pub mod catalog;
mod config;
mod discord;
pub mod hmac_scheme;
mod hubspot;
mod providers;
pub mod registry;
pub mod standard;
mod twitch;
#[cfg(test)]
mod vectors;

pub use config::{
    ApiKeyConfig, HmacAlgorithm, HmacConfig, SchemeConfig, SignatureEncoding,
    DEFAULT_API_KEY_HEADER,
};
pub use hmac_scheme::HmacScheme;
pub use registry::{
    Category, Custom, DeliveryId, EventType, Handshake, Provider, ProviderSpec, Secret,
    SecretFormat, Signing,
};

use crate::headers::HeaderList;
use crate::model::RefusalReason;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How far a signed timestamp may be from the relay's clock, either way.
pub const TOLERANCE_S: i64 = 300;

impl Provider {
    /// Checks a secret's shape when an endpoint is created or edited, so a typo is
    /// refused then rather than silently failing every ingest later.
    pub fn validate_secret(self, secret: &str) -> Result<(), String> {
        if secret.is_empty() {
            return Err("secrets must not be empty".into());
        }
        match self.spec().signing {
            Signing::Custom(Custom::StandardWebhooks) => standard::decode_secret(secret)
                .map(|_| ())
                .ok_or_else(|| "standard secrets are 'whsec_' followed by base64".into()),
            Signing::Custom(Custom::Discord) => discord::validate_public_key(secret),
            Signing::Custom(Custom::Twitch) => twitch::validate_secret(secret),
            Signing::Custom(Custom::BasicAuth) => basic_auth::validate_secret(secret),
            Signing::Hmac(scheme) => hmac_scheme::validate_key(scheme.key, secret),
            _ => Ok(()),
        }
    }

    /// The header that carries the endpoint's own secret as is (a token), which
    /// must be neither stored nor forwarded.
    pub fn credential_header(self, config: &SchemeConfig) -> Option<&str> {
        match self.spec().signing {
            Signing::Token { header, .. } => Some(header),
            Signing::ConfiguredApiKey => Some(
                config
                    .api_key
                    .as_ref()
                    .map_or(DEFAULT_API_KEY_HEADER, |c| c.header.as_str()),
            ),
            Signing::Custom(Custom::BasicAuth) => Some("authorization"),
            _ => None,
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
    /// A header's value; absent or blank is [`VerifyError::MissingHeader`].
    fn header(&self, name: &str) -> Result<&str, VerifyError> {
        self.headers
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| VerifyError::MissingHeader(name.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The named header is absent or blank.
    MissingHeader(String),
    /// The named header cannot be read.
    Malformed(String),
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
    /// Why the request is refused, as ingest answers and records it.
    pub fn reason(&self) -> RefusalReason {
        match self {
            VerifyError::MissingHeader(_) => RefusalReason::SignatureMissing,
            VerifyError::Malformed(_) => RefusalReason::SignatureMalformed,
            VerifyError::OutsideTolerance | VerifyError::OutsideWindow { .. } => {
                RefusalReason::TimestampOutOfTolerance
            }
            VerifyError::Unconfigured(_) => RefusalReason::SchemeNotConfigured,
            VerifyError::Mismatch => RefusalReason::SignatureMismatch,
        }
    }

    /// Machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        self.reason().as_str()
    }

    /// A message that helps the operator and reveals nothing about the secret.
    pub fn message(&self) -> String {
        match self {
            VerifyError::MissingHeader(h) => format!("missing signature header {h}"),
            VerifyError::Malformed(h) => format!("malformed signature header {h}"),
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
    match provider.spec().signing {
        Signing::None => Ok(()),
        Signing::Hmac(scheme) => hmac_scheme::verify(&scheme, secrets, req),
        Signing::Token { header, prefix } => verify_token(secrets, req, header, prefix),
        Signing::ConfiguredHmac => match &config.hmac {
            Some(hmac) if hmac.validate().is_ok() => {
                hmac_scheme::verify(&hmac.scheme(), secrets, req)
            }
            _ => Err(VerifyError::Unconfigured("hmac")),
        },
        Signing::ConfiguredApiKey => {
            let header = config
                .api_key
                .as_ref()
                .map_or(DEFAULT_API_KEY_HEADER, |c| c.header.as_str());
            verify_token(secrets, req, header, "")
        }
        Signing::Custom(Custom::StandardWebhooks) => standard::verify(secrets, req),
        Signing::Custom(Custom::Twitch) => twitch::verify(secrets, req),
        Signing::Custom(Custom::Hubspot) => hubspot::verify(secrets, req),
        Signing::Custom(Custom::Discord) => discord::verify(secrets, req),
        Signing::Custom(Custom::BasicAuth) => basic_auth::verify(secrets, req),
    }
}

/// A shared token: `header` holds `prefix` and then, exactly, one of the
/// endpoint's secrets. Only as strong as the transport and the secrecy of the
/// token: prefer a signing scheme when the sender offers one.
fn verify_token(
    secrets: &[String],
    req: &SignedRequest<'_>,
    header: &str,
    prefix: &str,
) -> Result<(), VerifyError> {
    let token = req
        .header(header)?
        .strip_prefix(prefix)
        .ok_or_else(|| VerifyError::Malformed(header.to_string()))?;
    if any_token_matches(secrets, token.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
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
        for p in Provider::all() {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
        }
        assert_eq!(Provider::parse("paypal"), None);
    }

    #[test]
    fn svix_senders_are_standard_webhooks() {
        for alias in ["svix", "clerk", "resend"] {
            assert_eq!(
                Provider::parse(alias),
                Some(Provider::named("standard")),
                "{alias}"
            );
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
        assert!(Provider::named("standard")
            .validate_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .is_ok());
        assert!(Provider::named("standard")
            .validate_secret("whsec_***")
            .is_err());
        assert!(Provider::named("github").validate_secret("").is_err());
        assert!(Provider::named("github")
            .validate_secret("anything")
            .is_ok());
    }

    #[test]
    fn secrets_of_the_new_schemes_are_checked_at_configuration_time() {
        let discord_key = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
        assert!(Provider::named("discord")
            .validate_secret(discord_key)
            .is_ok());
        assert!(Provider::named("discord").validate_secret("03a1").is_err());
        assert!(Provider::named("twitch").validate_secret("short").is_err());
        assert!(Provider::named("twitch")
            .validate_secret("long-enough-secret")
            .is_ok());
        assert!(Provider::named("basic_auth")
            .validate_secret("no-colon")
            .is_err());
        assert!(Provider::named("basic_auth")
            .validate_secret("user:pass")
            .is_ok());
        assert!(Provider::named("slack").validate_secret("anything").is_ok());
    }

    #[test]
    fn the_header_that_carries_a_secret_as_is_is_named() {
        let none = SchemeConfig::default();
        let named = |name: &str| Provider::named(name).credential_header(&none);
        assert_eq!(named("gitlab"), Some("x-gitlab-token"));
        assert_eq!(named("telegram"), Some("x-telegram-bot-api-secret-token"));
        assert_eq!(named("basic_auth"), Some("authorization"));
        assert_eq!(named("api_key"), Some(DEFAULT_API_KEY_HEADER));
        assert_eq!(named("github"), None, "a signature is no secret");
        let custom = SchemeConfig {
            hmac: None,
            api_key: Some(ApiKeyConfig {
                header: "x-relay-key".into(),
            }),
        };
        assert_eq!(
            Provider::named("api_key").credential_header(&custom),
            Some("x-relay-key")
        );
    }
}
