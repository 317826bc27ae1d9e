//! Signature verification, one file per provider scheme.
//!
//! Every scheme is a pure function over the raw body bytes, the request headers and
//! the current time, so each can be tested natively with published or independently
//! computed vectors. Comparisons go through `Mac::verify_slice` (constant time).
//! An endpoint may hold several live secrets (rotation): a request passes if any
//! secret verifies it.
//!
//! Adding a provider: a new file here, one variant in [`Provider`], one match arm.

mod github;
mod none;
mod shopify;
pub mod standard;
mod stripe;

use crate::headers::HeaderList;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a signed timestamp may be from the relay's clock, either way.
pub const TOLERANCE_S: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    None,
    Stripe,
    Github,
    Shopify,
    Standard,
}

impl Provider {
    pub const ALL: [Provider; 5] = [
        Provider::None,
        Provider::Stripe,
        Provider::Github,
        Provider::Shopify,
        Provider::Standard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::None => "none",
            Provider::Stripe => "stripe",
            Provider::Github => "github",
            Provider::Shopify => "shopify",
            Provider::Standard => "standard",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
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
            _ => Ok(()),
        }
    }
}

/// The parts of an inbound request that a signature covers.
pub struct SignedRequest<'a> {
    pub headers: &'a HeaderList,
    pub body: &'a [u8],
    pub now_s: i64,
}

impl SignedRequest<'_> {
    fn header(&self, name: &'static str) -> Result<&str, VerifyError> {
        self.headers
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or(VerifyError::MissingHeader(name))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    MissingHeader(&'static str),
    Malformed(&'static str),
    OutsideTolerance,
    Mismatch,
}

impl VerifyError {
    /// Machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "signature_missing",
            VerifyError::Malformed(_) => "signature_malformed",
            VerifyError::OutsideTolerance => "timestamp_out_of_tolerance",
            VerifyError::Mismatch => "signature_mismatch",
        }
    }

    /// A message that helps the operator and reveals nothing about the secret.
    pub fn message(&self) -> String {
        match self {
            VerifyError::MissingHeader(h) => format!("missing signature header {h}"),
            VerifyError::Malformed(h) => format!("malformed signature header {h}"),
            VerifyError::OutsideTolerance => {
                format!("signed timestamp is more than {TOLERANCE_S} s from the relay's clock")
            }
            VerifyError::Mismatch => "no configured secret matches the signature".into(),
        }
    }
}

/// Verifies `req` with the endpoint's scheme and any of its live secrets.
pub fn verify(
    provider: Provider,
    secrets: &[String],
    req: &SignedRequest<'_>,
) -> Result<(), VerifyError> {
    match provider {
        Provider::None => none::verify(),
        Provider::Stripe => stripe::verify(secrets, req),
        Provider::Github => github::verify(secrets, req),
        Provider::Shopify => shopify::verify(secrets, req),
        Provider::Standard => standard::verify(secrets, req),
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
    keys.into_iter().any(|key| {
        let mac = hmac_sha256(key, parts);
        candidates
            .iter()
            .any(|c| mac.clone().verify_slice(c).is_ok())
    })
}

pub(crate) fn check_tolerance(signed_at_s: i64, now_s: i64) -> Result<(), VerifyError> {
    if (now_s - signed_at_s).abs() > TOLERANCE_S {
        return Err(VerifyError::OutsideTolerance);
    }
    Ok(())
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
    fn standard_secrets_are_checked_at_configuration_time() {
        assert!(Provider::Standard
            .validate_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .is_ok());
        assert!(Provider::Standard.validate_secret("whsec_***").is_err());
        assert!(Provider::Github.validate_secret("").is_err());
        assert!(Provider::Github.validate_secret("anything").is_ok());
    }
}
