//! Per-endpoint settings for the operator-configured schemes: `hmac` (any sender
//! that signs with an HMAC the operator can describe) and `api_key` (a header that
//! carries a shared key). The named providers need none: their scheme is fixed.
//!
//! The settings arrive as JSON when an endpoint is created or edited; unknown
//! fields are refused so a misspelt setting is not silently ignored, and
//! [`validate`] explains what is wrong in words fit for a 400 answer.

use super::hmac_scheme::{
    self, HmacScheme, KeyEncoding, SignatureFormat, TimeUnit, Timestamp, TimestampSource,
    MAX_TOLERANCE_S,
};
use super::{Provider, Signing, TOLERANCE_S};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The header an `api_key` endpoint reads when it names none.
pub const DEFAULT_API_KEY_HEADER: &str = "x-api-key";

/// Everything an endpoint may configure about its scheme. Each section belongs to
/// one provider; the default (no section) suits every named provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemeConfig {
    /// Required when the provider is `hmac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<HmacConfig>,
    /// Optional when the provider is `api_key` (the header defaults to `x-api-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKeyConfig>,
}

/// How a sender signs: `header` carries `{prefix}{encoding(HMAC(secret, content))}`,
/// where the content is `template` with `{body}`, `{timestamp}` and `{id}` replaced
/// by the raw body and the values of `timestamp_header` and `id_header`, `{url}`
/// by the URL the sender posted to and `{method}` by the request method.
///
/// ```json
/// {"header": "x-signature", "algorithm": "sha256", "encoding": "hex",
///  "prefix": "sha256=", "template": "{id}.{timestamp}.{body}",
///  "timestamp_header": "x-timestamp", "id_header": "x-delivery", "tolerance_s": 300}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HmacConfig {
    /// The header that carries the signature.
    pub header: String,
    #[serde(default)]
    pub algorithm: HmacAlgorithm,
    #[serde(default)]
    pub encoding: SignatureEncoding,
    /// Text before the encoded signature, such as `sha256=`; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The signed content; `{body}` by default.
    #[serde(default = "default_template")]
    pub template: String,
    /// The header with the signed Unix time in seconds; required by `{timestamp}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// The header with the sender's delivery id; required by `{id}`, and used as
    /// the dedup key when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_header: Option<String>,
    /// How far the signed time may be from the relay's clock, either way.
    #[serde(default = "default_tolerance_s")]
    #[schemars(range(min = 1, max = MAX_TOLERANCE_S))]
    pub tolerance_s: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    Sha1,
    #[default]
    Sha256,
    Sha512,
}

/// How the signature is written in its header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    #[default]
    Hex,
    /// Standard alphabet, padded.
    Base64,
    /// URL-safe alphabet, padding optional.
    Base64Url,
}

/// Where an `api_key` endpoint's sender puts its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The header whose whole value must equal one of the endpoint's secrets.
    #[serde(default = "default_api_key_header")]
    pub header: String,
}

impl Default for ApiKeyConfig {
    fn default() -> Self {
        ApiKeyConfig {
            header: default_api_key_header(),
        }
    }
}

impl HmacConfig {
    /// The scheme these settings describe (the secret is the key as written).
    pub fn scheme(&self) -> HmacScheme<'_> {
        HmacScheme {
            header: &self.header,
            algorithm: self.algorithm,
            encoding: self.encoding,
            format: SignatureFormat::Prefixed(self.prefix.as_deref().unwrap_or("")),
            template: &self.template,
            timestamp: self.timestamp_header.as_deref().map(|name| Timestamp {
                source: TimestampSource::Header(name),
                unit: TimeUnit::Seconds,
                tolerance_s: self.tolerance_s,
            }),
            id_header: self.id_header.as_deref(),
            key: KeyEncoding::Raw,
        }
    }

    /// What [`validate`] checks for an `hmac` section.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.prefix.as_deref() == Some("") {
            return Err("hmac.prefix must not be empty; leave it out for no prefix".into());
        }
        if !(1..=MAX_TOLERANCE_S).contains(&self.tolerance_s) {
            return Err(format!(
                "hmac.tolerance_s must be within 1..={MAX_TOLERANCE_S}"
            ));
        }
        hmac_scheme::validate(&self.scheme())
    }
}

impl ApiKeyConfig {
    /// What [`validate`] checks for an `api_key` section.
    pub(super) fn validate(&self) -> Result<(), String> {
        check_header_name("api_key.header", &self.header)
    }
}

fn default_template() -> String {
    "{body}".into()
}

fn default_tolerance_s() -> u32 {
    TOLERANCE_S as u32
}

fn default_api_key_header() -> String {
    DEFAULT_API_KEY_HEADER.into()
}

/// Whether `config` fits `provider`: the provider's own section is present when
/// required and valid, and no other provider's section is given.
pub fn validate(provider: Provider, config: &SchemeConfig) -> Result<(), String> {
    let stray = |section: &str| {
        Err(format!(
            "'{section}' settings apply only to provider {section}, not {}",
            provider.as_str()
        ))
    };
    let signing = provider.spec().signing;
    let is_hmac = matches!(signing, Signing::ConfiguredHmac);
    let is_api_key = matches!(signing, Signing::ConfiguredApiKey);
    match (&config.hmac, &config.api_key) {
        (Some(_), _) if !is_hmac => stray("hmac"),
        (_, Some(_)) if !is_api_key => stray("api_key"),
        (None, _) if is_hmac => {
            Err("provider hmac needs 'hmac' settings, at least {\"header\": ...}".into())
        }
        (Some(hmac), _) => hmac.validate(),
        (_, Some(key)) => key.validate(),
        (None, None) => Ok(()),
    }
}

/// An HTTP header name (RFC 9110 token), so a lookup can ever match.
pub(super) fn check_header_name(field: &str, name: &str) -> Result<(), String> {
    let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token_char) {
        return Err(format!("{field} must be an HTTP header name, got {name:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac_provider() -> Provider {
        Provider::parse("hmac").unwrap()
    }

    fn api_key_provider() -> Provider {
        Provider::parse("api_key").unwrap()
    }

    fn parse(json: &str) -> Result<SchemeConfig, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn a_minimal_hmac_config_takes_the_defaults() {
        let config = parse(r#"{"hmac": {"header": "X-Signature"}}"#).unwrap();
        let hmac = config.hmac.unwrap();
        assert_eq!(hmac.algorithm, HmacAlgorithm::Sha256);
        assert_eq!(hmac.encoding, SignatureEncoding::Hex);
        assert_eq!(hmac.prefix, None);
        assert_eq!(hmac.template, "{body}");
        assert_eq!(hmac.tolerance_s, 300);
    }

    #[test]
    fn a_full_hmac_config_round_trips() {
        let json = r#"{"hmac": {"header": "x-sig", "algorithm": "sha512", "encoding": "base64",
            "prefix": "v1=", "template": "{id}.{timestamp}.{body}",
            "timestamp_header": "x-ts", "id_header": "x-id", "tolerance_s": 60}}"#;
        let config = parse(json).unwrap();
        let again = parse(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(config, again);
        assert_eq!(validate(hmac_provider(), &config), Ok(()));
    }

    #[test]
    fn unknown_fields_and_values_are_refused() {
        assert!(parse(r#"{"hmac": {"header": "x", "algo": "sha1"}}"#).is_err());
        assert!(parse(r#"{"hmac": {"header": "x", "algorithm": "md5"}}"#).is_err());
        assert!(parse(r#"{"hmac": {"header": "x", "encoding": "base32"}}"#).is_err());
        assert!(parse(r#"{"hmac": {}}"#).is_err(), "header is required");
        assert!(parse(r#"{"jwt": {}}"#).is_err());
    }

    #[test]
    fn api_key_header_defaults_to_x_api_key() {
        let config = parse(r#"{"api_key": {}}"#).unwrap();
        assert_eq!(config.api_key.unwrap().header, "x-api-key");
        assert_eq!(ApiKeyConfig::default().header, DEFAULT_API_KEY_HEADER);
    }

    #[test]
    fn sections_belong_to_their_provider() {
        let hmac = parse(r#"{"hmac": {"header": "x-sig"}}"#).unwrap();
        let api_key = parse(r#"{"api_key": {"header": "x-token"}}"#).unwrap();
        let none = SchemeConfig::default();
        assert_eq!(validate(hmac_provider(), &hmac), Ok(()));
        assert_eq!(validate(api_key_provider(), &api_key), Ok(()));
        assert_eq!(validate(api_key_provider(), &none), Ok(()));
        assert_eq!(validate(Provider::parse("stripe").unwrap(), &none), Ok(()));
        let err = validate(Provider::parse("stripe").unwrap(), &hmac).unwrap_err();
        assert!(err.contains("only to provider hmac"), "{err}");
        assert!(validate(hmac_provider(), &api_key).is_err());
        let err = validate(hmac_provider(), &none).unwrap_err();
        assert!(err.contains("needs 'hmac' settings"), "{err}");
    }

    #[test]
    fn header_names_must_be_tokens() {
        assert_eq!(check_header_name("h", "X-Hub-Signature"), Ok(()));
        assert!(check_header_name("h", "").is_err());
        assert!(check_header_name("h", "x signature").is_err());
        assert!(check_header_name("h", "x-sig:").is_err());
    }
}
