//! The provider registry: one row per sender, saying how it signs, where its
//! delivery id and event type are, whether it handshakes, and who chooses its
//! secret. Verification, dedup, event types, handshakes, secret generation and
//! `GET /api/v1/providers` all read the row; nothing else matches on provider
//! names. Adding a provider is one row (in `providers.rs`) and one test vector
//! (in `vectors.rs`).
//!
//! Most senders sign with an HMAC the row describes as data ([`HmacScheme`]);
//! a plain shared token is [`Signing::Token`]; the few truly different schemes
//! are named [`Custom`] verifiers with files of their own.

use super::hmac_scheme::{HmacScheme, TimestampSource};
use super::providers::{CATCH_UP, ROWS};
use super::TOLERANCE_S;
use crate::catch_up::CatchUpApi;

/// A provider: a handle on its registry row. Endpoints hold one; its name is
/// what the API and the store carry.
#[derive(Clone, Copy)]
pub struct Provider(&'static ProviderSpec);

/// By name, as the API and the store carry it.
/// Every provider's canonical name: the registry is the enum.
impl schemars::JsonSchema for Provider {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Provider".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Provider::all().map(Provider::as_str).collect();
        schemars::json_schema!({
            "type": "string",
            "enum": names,
            "description": "The signature scheme, by its canonical name.",
        })
    }
}

impl serde::Serialize for Provider {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A name or an alias; any other name is an error.
impl<'de> serde::Deserialize<'de> for Provider {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Provider::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown provider {name:?}")))
    }
}

impl PartialEq for Provider {
    fn eq(&self, other: &Provider) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Provider {}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl Provider {
    /// A provider by name or alias (`svix`, `clerk` and `resend` are `standard`).
    pub fn parse(name: &str) -> Option<Provider> {
        ROWS.iter()
            .find(|row| row.name == name || row.aliases.contains(&name))
            .map(Provider)
    }

    /// Every provider, in the registry's order (generic schemes first).
    pub fn all() -> impl Iterator<Item = Provider> {
        ROWS.iter().map(Provider)
    }

    /// The scheme of an endpoint that verifies nothing.
    pub fn none() -> Provider {
        Provider(&ROWS[0])
    }

    pub fn as_str(self) -> &'static str {
        self.0.name
    }

    pub fn spec(self) -> &'static ProviderSpec {
        self.0
    }

    /// A provider the test knows exists.
    #[cfg(test)]
    pub fn named(name: &str) -> Provider {
        Provider::parse(name).unwrap_or_else(|| panic!("no provider {name}"))
    }

    /// How the provider's record of what it sent is read to catch up, if it
    /// keeps one behind an API.
    pub fn catch_up(self) -> Option<CatchUpApi> {
        CATCH_UP
            .iter()
            .find(|(name, _)| *name == self.0.name)
            .map(|(_, api)| *api)
    }

    /// Whether the scheme needs at least one secret to verify anything.
    pub fn needs_secret(self) -> bool {
        !matches!(self.0.signing, Signing::None)
    }

    /// The shape of a secret the relay may generate for this provider, when the
    /// operator (not the provider) chooses it.
    pub fn generated_secret(self) -> Option<SecretFormat> {
        match (self.0.secret, self.0.signing) {
            (Secret::Issued, _) => None,
            (Secret::Generated, Signing::Custom(Custom::StandardWebhooks)) => {
                Some(SecretFormat::StandardWebhooks)
            }
            (Secret::Generated, Signing::Custom(Custom::BasicAuth)) => {
                Some(SecretFormat::BasicCredentials)
            }
            (Secret::Generated, _) => Some(SecretFormat::Hex32),
        }
    }
}

/// One sender, as data.
#[derive(Debug)]
pub struct ProviderSpec {
    /// The name endpoints are created with (`provider` in the API).
    pub name: &'static str,
    /// How people write it.
    pub title: &'static str,
    /// Other names accepted on input; the endpoint stores `name`.
    pub aliases: &'static [&'static str],
    pub category: Category,
    pub signing: Signing,
    pub delivery_id: DeliveryId,
    pub event_type: EventType,
    pub handshake: Option<Handshake>,
    pub secret: Secret,
    /// The provider's page that documents its signature.
    pub docs: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Generic,
    Payments,
    Commerce,
    Code,
    Infrastructure,
    Messaging,
    Crm,
    Identity,
    Forms,
    Productivity,
    Content,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Generic => "generic",
            Category::Payments => "payments",
            Category::Commerce => "commerce",
            Category::Code => "code",
            Category::Infrastructure => "infrastructure",
            Category::Messaging => "messaging",
            Category::Crm => "crm",
            Category::Identity => "identity",
            Category::Forms => "forms",
            Category::Productivity => "productivity",
            Category::Content => "content",
        }
    }
}

/// How a provider proves a request is its own.
#[derive(Debug, Clone, Copy)]
pub enum Signing {
    /// Nothing: the unguessable endpoint URL is the only protection.
    None,
    /// An HMAC the row describes.
    Hmac(HmacScheme<'static>),
    /// `header` carries `prefix` and then one of the endpoint's secrets.
    Token {
        header: &'static str,
        prefix: &'static str,
    },
    /// A scheme with code of its own.
    Custom(Custom),
    /// `hmac`: the HMAC the endpoint's `scheme_config.hmac` describes.
    ConfiguredHmac,
    /// `api_key`: a token in the header `scheme_config.api_key` names.
    ConfiguredApiKey,
}

impl Signing {
    /// The headers a request must carry to verify, the signature's first.
    /// Empty for the operator-configured schemes (their settings name them).
    pub fn headers(&self) -> Vec<&'static str> {
        match self {
            Signing::None | Signing::ConfiguredHmac | Signing::ConfiguredApiKey => Vec::new(),
            Signing::Hmac(scheme) => {
                let timestamp = match scheme.timestamp.map(|t| t.source) {
                    Some(TimestampSource::Header(name)) => Some(name),
                    _ => None,
                };
                [Some(scheme.header), timestamp, scheme.id_header]
                    .into_iter()
                    .flatten()
                    .collect()
            }
            Signing::Token { header, .. } => vec![header],
            Signing::Custom(custom) => custom.headers().to_vec(),
        }
    }

    /// How far a signed time may be from the relay's clock, for schemes that sign one.
    pub fn tolerance_s(&self) -> Option<u32> {
        match self {
            Signing::Hmac(scheme) => scheme.timestamp.map(|t| t.tolerance_s),
            Signing::Custom(Custom::Twitch) => Some(super::twitch::MAX_AGE_S as u32),
            Signing::Custom(Custom::BasicAuth) => None,
            Signing::Custom(_) => Some(TOLERANCE_S as u32),
            _ => None,
        }
    }

    /// Whether the body is signed (a token or a password proves only the sender).
    pub fn signs_body(&self) -> bool {
        matches!(
            self,
            Signing::Hmac(_)
                | Signing::ConfiguredHmac
                | Signing::Custom(
                    Custom::StandardWebhooks | Custom::Twitch | Custom::Hubspot | Custom::Discord
                )
        )
    }
}

/// The schemes that are not an HMAC over a template or a plain token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Custom {
    /// Standard Webhooks: `whsec_` base64 keys and a list of `v1,` signatures.
    StandardWebhooks,
    /// RFC 3339 timestamps and a 10-minute window.
    Twitch,
    /// HubSpot v3 signs the URL with some escapes decoded.
    Hubspot,
    /// Ed25519 with the application's public key.
    Discord,
    /// `Authorization: Basic` with `user:password` secrets.
    BasicAuth,
}

impl Custom {
    /// The headers the scheme reads, the signature's first.
    pub fn headers(self) -> &'static [&'static str] {
        match self {
            Custom::StandardWebhooks => super::standard::HEADERS,
            Custom::Twitch => super::twitch::HEADERS,
            Custom::Hubspot => super::hubspot::HEADERS,
            Custom::Discord => super::discord::HEADERS,
            Custom::BasicAuth => super::basic_auth::HEADERS,
        }
    }
}

/// Where a provider puts its delivery id, the dedup key; with none, the key is
/// the body's hash.
#[derive(Debug, Clone, Copy)]
pub enum DeliveryId {
    None,
    /// The first of these headers that is present and not blank.
    Header(&'static [&'static str]),
    /// A top-level string field of the JSON body.
    BodyField(&'static str),
    /// The `id_header` of the endpoint's `hmac` settings.
    Configured,
}

/// Where a provider names its event (what routes' `event_types` match).
#[derive(Debug, Clone, Copy)]
pub enum EventType {
    None,
    /// A top-level string field of the JSON body.
    BodyField(&'static str),
    Header(&'static str),
    /// GitHub's form: the header's event, then `.` and the body's `action` when
    /// there is one (`pull_request.opened`); the bare event name also matches.
    HeaderWithAction(&'static str),
}

/// The providers that check a URL before sending to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    Slack,
    Zoom,
    Twitch,
    Meta,
    Okta,
    Dropbox,
    Discord,
}

impl Handshake {
    /// The request method of the handshake.
    pub fn method(self) -> &'static str {
        match self {
            Handshake::Slack | Handshake::Zoom | Handshake::Twitch | Handshake::Discord => "POST",
            Handshake::Meta | Handshake::Okta | Handshake::Dropbox => "GET",
        }
    }

    /// Whether the handshake request carries the provider's authentication
    /// (Okta's verification GET does; Meta's and Dropbox's do not).
    pub fn is_authenticated(self) -> bool {
        self == Handshake::Okta
    }
}

/// Who chooses the endpoint's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The provider issues it; the operator copies it into the relay.
    Issued,
    /// The operator chooses it, so the relay may generate one.
    Generated,
}

/// The shape of a secret the relay generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFormat {
    /// 32 random bytes, hex.
    Hex32,
    /// `whsec_` and 32 random bytes in base64.
    StandardWebhooks,
    /// `relay:` and 32 random bytes, hex: a user name and password for Basic
    /// authentication.
    BasicCredentials,
}
