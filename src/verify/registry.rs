//! The provider registry: one row per sender, saying how it signs, where its
//! delivery id and event type are, whether it handshakes, and who chooses its
//! secret. Verification, dedup, event types, handshakes, secret generation and
//! `GET /api/v1/providers` all read the row; nothing else matches on provider
//! names. Adding a provider is one row here (in [`ROWS`]) and one test vector
//! in `vectors.rs`.
//!
//! Most senders sign with an HMAC the row describes as data ([`HmacScheme`]);
//! a plain shared token is [`Signing::Token`]; the few truly different schemes
//! are named [`Custom`] verifiers with files of their own.

use super::hmac_scheme::{
    HmacScheme, KeyEncoding, SignatureFormat, TimeUnit, Timestamp, TimestampSource,
};
use super::{HmacAlgorithm, SignatureEncoding, TOLERANCE_S};

/// A provider: a handle on its registry row. Endpoints hold one; its name is
/// what the API and the store carry.
#[derive(Clone, Copy)]
pub struct Provider(&'static ProviderSpec);

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

    /// A provider the caller knows exists (tests and the registry's own rows).
    #[cfg(test)]
    pub fn named(name: &str) -> Provider {
        Provider::parse(name).unwrap_or_else(|| panic!("no provider {name}"))
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
            Signing::Custom(Custom::Twitch) => Some(600),
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
            Custom::StandardWebhooks => &["webhook-signature", "webhook-timestamp", "webhook-id"],
            Custom::Twitch => &[
                "twitch-eventsub-message-signature",
                "twitch-eventsub-message-timestamp",
                "twitch-eventsub-message-id",
            ],
            Custom::Hubspot => &["x-hubspot-signature-v3", "x-hubspot-request-timestamp"],
            Custom::Discord => &["x-signature-ed25519", "x-signature-timestamp"],
            Custom::BasicAuth => &["authorization"],
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
}

/// The usual header HMAC over the raw body.
const fn body_hmac(
    header: &'static str,
    algorithm: HmacAlgorithm,
    encoding: SignatureEncoding,
    prefix: &'static str,
) -> Signing {
    Signing::Hmac(HmacScheme {
        header,
        algorithm,
        encoding,
        format: SignatureFormat::Prefixed(prefix),
        template: "{body}",
        timestamp: None,
        id_header: None,
        key: KeyEncoding::Raw,
    })
}

/// A timestamp header in Unix seconds, within the relay's usual tolerance.
const fn seconds_header(header: &'static str) -> Option<Timestamp<'static>> {
    Some(Timestamp {
        source: TimestampSource::Header(header),
        unit: TimeUnit::Seconds,
        tolerance_s: TOLERANCE_S as u32,
    })
}

/// The timestamp item of a keyed signature header, in Unix seconds.
const KEYED_SECONDS: Option<Timestamp<'static>> = Some(Timestamp {
    source: TimestampSource::Keyed,
    unit: TimeUnit::Seconds,
    tolerance_s: TOLERANCE_S as u32,
});

/// Slack's scheme, which Zoom copied: `v0=<hex>` over `v0:{timestamp}:{body}`.
const fn v0_timestamped(header: &'static str, timestamp_header: &'static str) -> Signing {
    Signing::Hmac(HmacScheme {
        header,
        algorithm: HmacAlgorithm::Sha256,
        encoding: SignatureEncoding::Hex,
        format: SignatureFormat::Prefixed("v0="),
        template: "v0:{timestamp}:{body}",
        timestamp: seconds_header(timestamp_header),
        id_header: None,
        key: KeyEncoding::Raw,
    })
}

const IDEMPOTENCY_KEY: DeliveryId = DeliveryId::Header(&["idempotency-key"]);

use HmacAlgorithm::{Sha1, Sha256};
use SignatureEncoding::{Base64, Hex};

/// Every provider. The first row is `none`; generic schemes come before named senders.
pub static ROWS: &[ProviderSpec] = &[
    ProviderSpec {
        name: "none",
        title: "No verification",
        aliases: &[],
        category: Category::Generic,
        signing: Signing::None,
        delivery_id: IDEMPOTENCY_KEY,
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Generated,
        docs: "",
    },
    ProviderSpec {
        name: "hmac",
        title: "Any HMAC signature",
        aliases: &[],
        category: Category::Generic,
        signing: Signing::ConfiguredHmac,
        delivery_id: DeliveryId::Configured,
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Generated,
        docs: "",
    },
    ProviderSpec {
        name: "api_key",
        title: "API key header",
        aliases: &[],
        category: Category::Generic,
        signing: Signing::ConfiguredApiKey,
        delivery_id: IDEMPOTENCY_KEY,
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Generated,
        docs: "",
    },
    ProviderSpec {
        name: "basic_auth",
        title: "HTTP Basic authentication",
        aliases: &[],
        category: Category::Generic,
        signing: Signing::Custom(Custom::BasicAuth),
        delivery_id: IDEMPOTENCY_KEY,
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://www.rfc-editor.org/rfc/rfc7617",
    },
    ProviderSpec {
        name: "standard",
        title: "Standard Webhooks (Svix, Clerk, Resend)",
        aliases: &["svix", "clerk", "resend"],
        category: Category::Generic,
        signing: Signing::Custom(Custom::StandardWebhooks),
        delivery_id: DeliveryId::Header(super::standard::ID_HEADERS),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
    },
    ProviderSpec {
        name: "stripe",
        title: "Stripe",
        aliases: &[],
        category: Category::Payments,
        // `t=<unix>,v1=<hex>[,v1=<hex>]`: several `v1` while Stripe rolls a secret.
        signing: Signing::Hmac(HmacScheme {
            header: "stripe-signature",
            algorithm: Sha256,
            encoding: Hex,
            format: SignatureFormat::Keyed {
                separator: ',',
                timestamp_key: "t",
                signature_key: "v1",
            },
            template: "{timestamp}.{body}",
            timestamp: KEYED_SECONDS,
            id_header: None,
            key: KeyEncoding::Raw,
        }),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.stripe.com/webhooks#verify-manually",
    },
    ProviderSpec {
        name: "paddle",
        title: "Paddle Billing",
        aliases: &[],
        category: Category::Payments,
        // `ts=<unix>;h1=<hex>[;h1=<hex>]`: several `h1` while Paddle rotates a secret.
        signing: Signing::Hmac(HmacScheme {
            header: "paddle-signature",
            algorithm: Sha256,
            encoding: Hex,
            format: SignatureFormat::Keyed {
                separator: ';',
                timestamp_key: "ts",
                signature_key: "h1",
            },
            template: "{timestamp}:{body}",
            timestamp: KEYED_SECONDS,
            id_header: None,
            key: KeyEncoding::Raw,
        }),
        delivery_id: DeliveryId::BodyField("event_id"),
        event_type: EventType::BodyField("event_type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developer.paddle.com/webhooks/signature-verification",
    },
    ProviderSpec {
        name: "square",
        title: "Square",
        aliases: &[],
        category: Category::Payments,
        // The notification URL as registered, then the body.
        signing: Signing::Hmac(HmacScheme {
            header: "x-square-hmacsha256-signature",
            algorithm: Sha256,
            encoding: Base64,
            format: SignatureFormat::Prefixed(""),
            template: "{url}{body}",
            timestamp: None,
            id_header: None,
            key: KeyEncoding::Raw,
        }),
        delivery_id: DeliveryId::BodyField("event_id"),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developer.squareup.com/docs/webhooks/step3validate",
    },
    ProviderSpec {
        name: "shopify",
        title: "Shopify",
        aliases: &[],
        category: Category::Commerce,
        signing: body_hmac("x-shopify-hmac-sha256", Sha256, Base64, ""),
        delivery_id: DeliveryId::Header(&["x-shopify-webhook-id"]),
        event_type: EventType::Header("x-shopify-topic"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-2-validate-the-origin-of-your-webhook-to-ensure-its-coming-from-shopify",
    },
    ProviderSpec {
        name: "github",
        title: "GitHub",
        aliases: &[],
        category: Category::Code,
        signing: body_hmac("x-hub-signature-256", Sha256, Hex, "sha256="),
        delivery_id: DeliveryId::Header(&["x-github-delivery"]),
        event_type: EventType::HeaderWithAction("x-github-event"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries",
    },
    ProviderSpec {
        name: "gitlab",
        title: "GitLab",
        aliases: &[],
        category: Category::Code,
        signing: Signing::Token {
            header: "x-gitlab-token",
            prefix: "",
        },
        // Idempotency-Key is per delivery and kept across retries; the event UUID
        // is shared by every webhook the same event triggers.
        delivery_id: DeliveryId::Header(&["idempotency-key", "x-gitlab-event-uuid"]),
        event_type: EventType::BodyField("object_kind"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://docs.gitlab.com/user/project/integrations/webhooks/#validate-requests-with-a-secret-token",
    },
    ProviderSpec {
        name: "linear",
        title: "Linear",
        aliases: &[],
        category: Category::Productivity,
        signing: body_hmac("linear-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::Header(&["linear-delivery"]),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://linear.app/developers/webhooks#securing-webhooks",
    },
    ProviderSpec {
        name: "dropbox",
        title: "Dropbox",
        aliases: &[],
        category: Category::Productivity,
        signing: body_hmac("x-dropbox-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: Some(Handshake::Dropbox),
        secret: Secret::Issued,
        docs: "https://www.dropbox.com/developers/reference/webhooks",
    },
    ProviderSpec {
        name: "slack",
        title: "Slack",
        aliases: &[],
        category: Category::Messaging,
        signing: v0_timestamped("x-slack-signature", "x-slack-request-timestamp"),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("type"),
        handshake: Some(Handshake::Slack),
        secret: Secret::Issued,
        docs: "https://api.slack.com/authentication/verifying-requests-from-slack",
    },
    ProviderSpec {
        name: "zoom",
        title: "Zoom",
        aliases: &[],
        category: Category::Messaging,
        signing: v0_timestamped("x-zm-signature", "x-zm-request-timestamp"),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("event"),
        handshake: Some(Handshake::Zoom),
        secret: Secret::Issued,
        docs: "https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events",
    },
    ProviderSpec {
        name: "discord",
        title: "Discord interactions",
        aliases: &[],
        category: Category::Messaging,
        signing: Signing::Custom(Custom::Discord),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::None,
        handshake: Some(Handshake::Discord),
        secret: Secret::Issued,
        docs: "https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers",
    },
    ProviderSpec {
        name: "twitch",
        title: "Twitch EventSub",
        aliases: &[],
        category: Category::Messaging,
        signing: Signing::Custom(Custom::Twitch),
        delivery_id: DeliveryId::Header(&["twitch-eventsub-message-id"]),
        event_type: EventType::Header("twitch-eventsub-subscription-type"),
        handshake: Some(Handshake::Twitch),
        secret: Secret::Issued,
        docs: "https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message",
    },
    ProviderSpec {
        name: "meta",
        title: "Meta (Facebook, Instagram, WhatsApp)",
        aliases: &["whatsapp"],
        category: Category::Messaging,
        signing: body_hmac("x-hub-signature-256", Sha256, Hex, "sha256="),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("object"),
        handshake: Some(Handshake::Meta),
        secret: Secret::Issued,
        docs: "https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads",
    },
    ProviderSpec {
        name: "intercom",
        title: "Intercom",
        aliases: &[],
        category: Category::Crm,
        signing: body_hmac("x-hub-signature", Sha1, Hex, "sha1="),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("topic"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developers.intercom.com/docs/references/webhooks/webhook-models#signed-notifications",
    },
    ProviderSpec {
        name: "hubspot",
        title: "HubSpot",
        aliases: &[],
        category: Category::Crm,
        signing: Signing::Custom(Custom::Hubspot),
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developers.hubspot.com/docs/api/webhooks/validating-requests",
    },
    ProviderSpec {
        name: "okta",
        title: "Okta event hooks",
        aliases: &[],
        category: Category::Identity,
        // The whole header value, as configured in Okta (often `Bearer ...`).
        signing: Signing::Token {
            header: "authorization",
            prefix: "",
        },
        delivery_id: DeliveryId::BodyField("eventId"),
        event_type: EventType::BodyField("eventType"),
        handshake: Some(Handshake::Okta),
        secret: Secret::Issued,
        docs: "https://developer.okta.com/docs/concepts/event-hooks/",
    },
    ProviderSpec {
        name: "typeform",
        title: "Typeform",
        aliases: &[],
        category: Category::Forms,
        signing: body_hmac("typeform-signature", Sha256, Base64, "sha256="),
        delivery_id: DeliveryId::BodyField("event_id"),
        event_type: EventType::BodyField("event_type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://www.typeform.com/developers/webhooks/secure-your-webhooks/",
    },
];
