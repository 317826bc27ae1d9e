//! The provider registry's rows: every sender the relay verifies, as data.
//! Generic schemes come first, then named senders by category. Each row cites
//! the page that documents its signature; `vectors.rs` holds a test vector for
//! each. What the types mean is in [`super::registry`].

use super::hmac_scheme::{
    HmacScheme, KeyEncoding, SignatureFormat, TimeUnit, Timestamp, TimestampSource,
};
use super::registry::{
    Category, Custom, DeliveryId, EventType, Handshake, ProviderSpec, Secret, Signing,
};
use super::{HmacAlgorithm, SignatureEncoding, TOLERANCE_S};
use crate::catch_up::CatchUpApi;

/// The providers whose own API keeps a record of what they sent, so an
/// endpoint can catch up on what it missed (see [`crate::catch_up`]).
pub(super) const CATCH_UP: &[(&str, CatchUpApi)] = &[
    ("stripe", CatchUpApi::StripeEvents),
    ("github", CatchUpApi::GitHubRedelivery),
];

/// What most rows start from: HMAC-SHA256, hex, over the raw body, keyed with
/// the secret as written. A row names only what its provider does otherwise.
const HMAC: HmacScheme<'static> = HmacScheme {
    header: "",
    algorithm: HmacAlgorithm::Sha256,
    encoding: SignatureEncoding::Hex,
    format: SignatureFormat::Prefixed(""),
    template: "{body}",
    timestamp: None,
    id_header: None,
    key: KeyEncoding::Raw,
};

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
        ..HMAC
    })
}

/// `key=value` items such as `t=1700000000,v1=<mac>`.
const fn keyed(
    separator: char,
    timestamp_key: &'static str,
    signature_key: &'static str,
) -> SignatureFormat<'static> {
    SignatureFormat::Keyed {
        separator,
        timestamp_key,
        signature_key,
    }
}

/// A signed time in a header of its own, within the relay's usual tolerance.
const fn time_header(header: &'static str, unit: TimeUnit) -> Option<Timestamp<'static>> {
    Some(Timestamp {
        source: TimestampSource::Header(header),
        unit,
        tolerance_s: TOLERANCE_S as u32,
    })
}

/// A signed time in the keyed signature header's timestamp item.
const fn keyed_time(unit: TimeUnit, tolerance_s: u32) -> Option<Timestamp<'static>> {
    Some(Timestamp {
        source: TimestampSource::Keyed,
        unit,
        tolerance_s,
    })
}

/// The scheme Stripe made common: `t=<time>,v1=<hex>[,v1=<hex>]` over
/// `{t}.{body}`, several `v1` while a secret rolls.
const fn t_v1(header: &'static str, unit: TimeUnit, tolerance_s: u32) -> Signing {
    Signing::Hmac(HmacScheme {
        header,
        format: keyed(',', "t", "v1"),
        template: "{timestamp}.{body}",
        timestamp: keyed_time(unit, tolerance_s),
        ..HMAC
    })
}

/// Slack's scheme, which Zoom copied: `v0=<hex>` over `v0:{timestamp}:{body}`.
const fn v0_timestamped(header: &'static str, timestamp_header: &'static str) -> Signing {
    Signing::Hmac(HmacScheme {
        header,
        format: SignatureFormat::Prefixed("v0="),
        template: "v0:{timestamp}:{body}",
        timestamp: time_header(timestamp_header, TimeUnit::Seconds),
        ..HMAC
    })
}

const IDEMPOTENCY_KEY: DeliveryId = DeliveryId::Header(&["idempotency-key"]);

use HmacAlgorithm::{Sha1, Sha256, Sha512};
use SignatureEncoding::{Base64, Base64Url, Hex};
use TimeUnit::{Millis, Seconds};

/// Every provider. The first row is `none`; generic schemes come before named
/// senders. Endpoints store a row's `name`: a name, once released, is never
/// renamed or removed (an alias may be added).
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
        signing: t_v1("stripe-signature", Seconds, 300),
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
            format: keyed(';', "ts", "h1"),
            template: "{timestamp}:{body}",
            timestamp: keyed_time(Seconds, 300),
            ..HMAC
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
            encoding: Base64,
            template: "{url}{body}",
            ..HMAC
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
    // Razorpay: hex HMAC-SHA256 of the raw body in X-Razorpay-Signature, keyed with the webhook secret the merchant types in the Dashboard.
    ProviderSpec {
        name: "razorpay",
        title: "Razorpay",
        aliases: &[],
        category: Category::Payments,
        signing: body_hmac("x-razorpay-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::Header(&["x-razorpay-event-id"]),
        event_type: EventType::BodyField("event"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://razorpay.com/docs/webhooks/validate-test/",
    },
    // Lemon Squeezy: hex HMAC-SHA256 of the raw body in X-Signature, keyed with the signing secret the merchant chooses; event name in X-Event-Name.
    ProviderSpec {
        name: "lemon_squeezy",
        title: "Lemon Squeezy",
        aliases: &["lemonsqueezy"],
        category: Category::Payments,
        signing: body_hmac("x-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::None,
        event_type: EventType::Header("x-event-name"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://docs.lemonsqueezy.com/help/webhooks/signing-requests",
    },
    // Checkout.com: hex HMAC-SHA256 of the raw body in Cko-Signature, keyed with the signature key the merchant sets on the workflow's webhook action.
    ProviderSpec {
        name: "checkout_com",
        title: "Checkout.com",
        aliases: &["checkout", "cko"],
        category: Category::Payments,
        signing: body_hmac("cko-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://www.checkout.com/docs/developer-resources/webhooks/manage-webhooks/set-up-your-webhook-receiver",
    },
    // Coinbase Commerce: hex HMAC-SHA256 of the raw body in X-CC-Webhook-Signature, keyed with the shared secret shown in Settings; event type is nested (event.type).
    ProviderSpec {
        name: "coinbase_commerce",
        title: "Coinbase Commerce",
        aliases: &[],
        category: Category::Payments,
        signing: body_hmac("x-cc-webhook-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.cdp.coinbase.com/commerce/api-arcitecture/webhooks-security",
    },
    // Paystack: hex HMAC-SHA512 of the raw body in x-paystack-signature, keyed with the account's secret API key (sk_live_/sk_test_).
    ProviderSpec {
        name: "paystack",
        title: "Paystack",
        aliases: &[],
        category: Category::Payments,
        signing: body_hmac("x-paystack-signature", Sha512, Hex, ""),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("event"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://paystack.com/docs/payments/webhooks/",
    },
    // GoCardless: hex HMAC-SHA256 of the raw body in Webhook-Signature, keyed with the webhook endpoint secret; one request carries a batch of events (no top-level id/type).
    ProviderSpec {
        name: "gocardless",
        title: "GoCardless",
        aliases: &[],
        category: Category::Payments,
        signing: body_hmac("webhook-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developer.gocardless.com/getting-started/staying-up-to-date-with-webhooks/",
    },
    // Flutterwave (v3): no MAC; the verif-hash header carries the secret hash the merchant set in the dashboard, compared as a token.
    ProviderSpec {
        name: "flutterwave",
        title: "Flutterwave",
        aliases: &[],
        category: Category::Payments,
        signing: Signing::Token { header: "verif-hash", prefix: "" },
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("event"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://developer.flutterwave.com/v3.0.0/docs/webhooks",
    },
    // Xendit: no MAC; the x-callback-token header carries the account's callback verification token from the dashboard, compared as a token.
    ProviderSpec {
        name: "xendit",
        title: "Xendit",
        aliases: &[],
        category: Category::Payments,
        signing: Signing::Token { header: "x-callback-token", prefix: "" },
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("event"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.xendit.co/api-integration/callback/setup",
    },
    // Chargebee: no MAC; optional HTTP Basic Authentication with the username/password the merchant sets on the webhook.
    ProviderSpec {
        name: "chargebee",
        title: "Chargebee",
        aliases: &[],
        category: Category::Payments,
        signing: Signing::Custom(Custom::BasicAuth),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("event_type"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://www.chargebee.com/docs/2.0/webhook_settings.html",
    },
    // Revolut (Business and Merchant APIs): Revolut-Signature `v1=<hex>` of HMAC-SHA256 over "v1.{Revolut-Request-Timestamp}.{body}", timestamp in ms, 5-minute tolerance.
    ProviderSpec {
        name: "revolut",
        title: "Revolut",
        aliases: &["revolut_business", "revolut_merchant"],
        category: Category::Payments,
        signing: Signing::Hmac(HmacScheme {
            header: "revolut-signature",
            // Several signatures, comma-separated, while a secret is rolled.
            format: keyed(',', "t", "v1"),
            template: "v1.{timestamp}.{body}",
            timestamp: time_header("revolut-request-timestamp", Millis),
            ..HMAC
        }),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("event"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developer.revolut.com/docs/guides/manage-accounts/webhooks/verify-the-payload-signature",
    },
    // Polar: Standard Webhooks headers, but the HMAC key is the secret's raw UTF-8 bytes (Polar's SDK base64-encodes the secret before handing it to standardwebhooks), so expressed as Hmac with a Raw key.
    ProviderSpec {
        name: "polar",
        title: "Polar",
        aliases: &["polar_sh"],
        category: Category::Payments,
        signing: Signing::Hmac(HmacScheme {
            header: "webhook-signature",
            encoding: Base64,
            format: SignatureFormat::Prefixed("v1,"),
            template: "{id}.{timestamp}.{body}",
            timestamp: time_header("webhook-timestamp", Seconds),
            id_header: Some("webhook-id"),
            ..HMAC
        }),
        delivery_id: DeliveryId::Header(&["webhook-id"]),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.polar.sh/integrate/webhooks/delivery",
    },
    // Mollie (next-gen webhooks only): X-Mollie-Signature `sha256=<hex>` of HMAC-SHA256 over the raw body, keyed with the subscription's signing secret. Classic per-payment webhooks are unsigned.
    ProviderSpec {
        name: "mollie",
        title: "Mollie",
        aliases: &[],
        category: Category::Payments,
        signing: Signing::Hmac(HmacScheme {
            header: "x-mollie-signature",
            // Several signatures, comma-separated, while a secret is rolled.
            format: keyed(',', "t", "sha256"),
            ..HMAC
        }),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.mollie.com/reference/webhooks-new",
    },
    // Maxio Advanced Billing (Chargify): hex HMAC-SHA256 of the raw form-encoded body in X-Chargify-Webhook-Signature-Hmac-Sha-256, keyed with the Site shared key; id in X-Chargify-Webhook-Id.
    ProviderSpec {
        name: "maxio",
        title: "Maxio (Chargify)",
        aliases: &["chargify"],
        category: Category::Payments,
        signing: body_hmac("x-chargify-webhook-signature-hmac-sha-256", Sha256, Hex, ""),
        delivery_id: DeliveryId::Header(&["x-chargify-webhook-id"]),
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.maxio.com/hc/en-us/articles/24266136649869-Webhooks-Reference",
    },
    // WooCommerce: base64 HMAC-SHA256 of the raw body in X-WC-Webhook-Signature, keyed with the webhook's secret set in the store admin; topic and delivery id in headers.
    ProviderSpec {
        name: "woocommerce",
        title: "WooCommerce",
        aliases: &["woo"],
        category: Category::Commerce,
        signing: body_hmac("x-wc-webhook-signature", Sha256, Base64, ""),
        delivery_id: DeliveryId::Header(&["x-wc-webhook-delivery-id"]),
        event_type: EventType::Header("x-wc-webhook-topic"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/",
    },
    // Squarespace: hex HMAC-SHA256 of the raw body in Squarespace-Signature, keyed with the subscription secret hex-decoded to bytes.
    ProviderSpec {
        name: "squarespace",
        title: "Squarespace",
        aliases: &[],
        category: Category::Commerce,
        signing: Signing::Hmac(HmacScheme {
            header: "squarespace-signature",
            key: KeyEncoding::Hex,
            ..HMAC
        }),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("topic"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developers.squarespace.com/commerce-apis/webhooks/verifying-notifications",
    },
    // EasyPost: X-Hmac-Signature `hmac-sha256-hex=<hex>` of HMAC-SHA256 over the raw body, keyed with the webhook_secret the user sets (NFKD-normalised, UTF-8).
    ProviderSpec {
        name: "easypost",
        title: "EasyPost",
        aliases: &[],
        category: Category::Commerce,
        signing: body_hmac("x-hmac-signature", Sha256, Hex, "hmac-sha256-hex="),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("description"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://docs.easypost.com/guides/webhooks-guide",
    },
    // Etsy: Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature, whsec_ signing secret from the Webhook portal).
    ProviderSpec {
        name: "etsy",
        title: "Etsy",
        aliases: &[],
        category: Category::Commerce,
        signing: Signing::Custom(Custom::StandardWebhooks),
        delivery_id: DeliveryId::Header(&["webhook-id"]),
        event_type: EventType::BodyField("event_type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developers.etsy.com/documentation/essentials/webhooks",
    },
    // Bitbucket Cloud: HMAC-SHA256 of the raw body, hex, in X-Hub-Signature as `sha256=<hex>`; event in X-Event-Key, delivery in X-Request-UUID; no timestamp
    ProviderSpec {
        name: "bitbucket",
        title: "Bitbucket Cloud",
        aliases: &[],
        category: Category::Code,
        signing: body_hmac("x-hub-signature", Sha256, Hex, "sha256="),
        delivery_id: DeliveryId::Header(&["x-request-uuid"]),
        event_type: EventType::Header("x-event-key"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/",
    },
    // Gitea: HMAC-SHA256 of the raw body, bare hex, in X-Gitea-Signature; event X-Gitea-Event, delivery X-Gitea-Delivery; no timestamp
    ProviderSpec {
        name: "gitea",
        title: "Gitea",
        aliases: &[],
        category: Category::Code,
        signing: body_hmac("x-gitea-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::Header(&["x-gitea-delivery"]),
        event_type: EventType::Header("x-gitea-event"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://docs.gitea.com/features/webhooks",
    },
    // Gogs: HMAC-SHA256 of the raw body, bare hex, in X-Gogs-Signature; event X-Gogs-Event, delivery X-Gogs-Delivery; no timestamp
    ProviderSpec {
        name: "gogs",
        title: "Gogs",
        aliases: &[],
        category: Category::Code,
        signing: body_hmac("x-gogs-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::Header(&["x-gogs-delivery"]),
        event_type: EventType::Header("x-gogs-event"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://gogs.io/advancing/webhooks",
    },
    // Forgejo: HMAC-SHA256 of the raw body, bare hex, in X-Forgejo-Signature (same value also in X-Gitea-Signature); event X-Forgejo-Event, delivery X-Forgejo-Delivery
    ProviderSpec {
        name: "forgejo",
        title: "Forgejo",
        aliases: &[],
        category: Category::Code,
        signing: body_hmac("x-forgejo-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::Header(&["x-forgejo-delivery", "x-gitea-delivery"]),
        event_type: EventType::Header("x-forgejo-event"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://forgejo.org/docs/latest/user/webhooks/",
    },
    // CircleCI: Outbound webhooks: HMAC-SHA256 of the raw body, hex, in circleci-signature as `v1=<hex>`; event in circleci-event-type, event id top-level `id`; no timestamp
    ProviderSpec {
        name: "circleci",
        title: "CircleCI",
        aliases: &[],
        category: Category::Code,
        signing: Signing::Hmac(HmacScheme {
            header: "circleci-signature",
            // Several signatures, comma-separated, while a secret is rolled.
            format: keyed(',', "t", "v1"),
            ..HMAC
        }),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::Header("circleci-event-type"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://circleci.com/docs/guides/integration/outbound-webhooks/",
    },
    // Buildkite: Signature mode: X-Buildkite-Signature `timestamp=<unix s>,signature=<hex HMAC-SHA256 of "<timestamp>.<body>">` keyed by the webhook token; event in X-Buildkite-Event
    ProviderSpec {
        name: "buildkite",
        title: "Buildkite",
        aliases: &[],
        category: Category::Code,
        signing: Signing::Hmac(HmacScheme {
            header: "x-buildkite-signature",
            format: keyed(',', "timestamp", "signature"),
            template: "{timestamp}.{body}",
            timestamp: keyed_time(Seconds, 300),
            ..HMAC
        }),
        delivery_id: DeliveryId::None,
        event_type: EventType::Header("x-buildkite-event"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://buildkite.com/docs/apis/webhooks/pipelines#webhook-signature",
    },
    // Azure DevOps: Service hooks (Web Hooks consumer) have no HMAC; the subscription's basic-auth username/password arrive as Authorization: Basic; event id `id`, type `eventType` top-level
    ProviderSpec {
        name: "azure_devops",
        title: "Azure DevOps",
        aliases: &["azure_devops_service_hooks", "vsts"],
        category: Category::Code,
        signing: Signing::Custom(Custom::BasicAuth),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("eventType"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://learn.microsoft.com/en-us/azure/devops/service-hooks/services/webhooks",
    },
    // Vercel: HMAC-SHA1 of the raw body, bare hex, in x-vercel-signature (key: webhook secret, or the integration's client secret); event id and type are top-level body fields
    ProviderSpec {
        name: "vercel",
        title: "Vercel",
        aliases: &[],
        category: Category::Infrastructure,
        signing: body_hmac("x-vercel-signature", Sha1, Hex, ""),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://vercel.com/docs/webhooks/webhooks-api#securing-webhooks",
    },
    // Sentry: Integration-platform webhooks: HMAC-SHA256 of the body, hex, in Sentry-Hook-Signature keyed by the integration's Client Secret; Sentry-Hook-Timestamp is sent but not signed
    ProviderSpec {
        name: "sentry",
        title: "Sentry",
        aliases: &[],
        category: Category::Infrastructure,
        signing: body_hmac("sentry-hook-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::Header(&["request-id"]),
        event_type: EventType::Header("sentry-hook-resource"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.sentry.io/integrations/integration-platform/webhooks/",
    },
    // Heroku: App webhooks: HMAC-SHA256 of the raw body, standard base64, in Heroku-Webhook-Hmac-SHA256; event id top-level `id`, entity top-level `resource`; no timestamp
    ProviderSpec {
        name: "heroku",
        title: "Heroku",
        aliases: &[],
        category: Category::Infrastructure,
        signing: body_hmac("heroku-webhook-hmac-sha256", Sha256, Base64, ""),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("resource"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://devcenter.heroku.com/articles/app-webhooks#securing-webhook-requests",
    },
    // HCP Terraform (Terraform Cloud / Enterprise): Generic notifications: HMAC-SHA512 of the raw body, hex, in X-TFE-Notification-Signature keyed by the configuration's token; no timestamp, no id header
    ProviderSpec {
        name: "terraform_cloud",
        title: "HCP Terraform (Terraform Cloud / Enterprise)",
        aliases: &["terraform", "hcp_terraform", "tfe"],
        category: Category::Infrastructure,
        signing: body_hmac("x-tfe-notification-signature", Sha512, Hex, ""),
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Generated,
        docs: "https://developer.hashicorp.com/terraform/cloud-docs/api-docs/notification-configurations#notification-authenticity",
    },
    // PagerDuty: V3 webhooks: X-PagerDuty-Signature holds one or more comma-separated `v1=<hex HMAC-SHA256 of the body>` (several during secret rotation); no timestamp; event type nested (event.event_type)
    ProviderSpec {
        name: "pagerduty",
        title: "PagerDuty",
        aliases: &[],
        category: Category::Infrastructure,
        signing: Signing::Hmac(HmacScheme {
            header: "x-pagerduty-signature",
            format: keyed(',', "t", "v1"),
            ..HMAC
        }),
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://github.com/PagerDuty/developer-docs/blob/main/docs/webhooks/04-Signatures.md",
    },
    // LaunchDarkly: Signed webhooks: HMAC-SHA256 of the body, hex, in X-LD-Signature; payload is an audit-log entry (top-level `_id`, `kind`); no timestamp
    ProviderSpec {
        name: "launchdarkly",
        title: "LaunchDarkly",
        aliases: &[],
        category: Category::Infrastructure,
        signing: body_hmac("x-ld-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::BodyField("_id"),
        event_type: EventType::BodyField("kind"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://launchdarkly.com/docs/home/infrastructure/webhooks#sign-a-webhook",
    },
    // Alchemy: Notify webhooks: HMAC-SHA256 of the raw body, bare hex, in X-Alchemy-Signature keyed by the webhook's signing key; event id and type top-level; no timestamp
    ProviderSpec {
        name: "alchemy",
        title: "Alchemy",
        aliases: &[],
        category: Category::Infrastructure,
        signing: body_hmac("x-alchemy-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://www.alchemy.com/docs/reference/notify-api-quickstart",
    },
    // Render: Standard Webhooks (webhook-id/-timestamp/-signature `v1,<base64>`, whsec_ secret); event type top-level `type`
    ProviderSpec {
        name: "render",
        title: "Render",
        aliases: &[],
        category: Category::Infrastructure,
        signing: Signing::Custom(Custom::StandardWebhooks),
        delivery_id: DeliveryId::Header(&["webhook-id"]),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://render.com/docs/webhooks",
    },
    // OpenAI: Standard Webhooks (webhook-id/-timestamp/-signature `v1,<base64>`, whsec_ secret); event type top-level `type`
    ProviderSpec {
        name: "openai",
        title: "OpenAI",
        aliases: &[],
        category: Category::Infrastructure,
        signing: Signing::Custom(Custom::StandardWebhooks),
        delivery_id: DeliveryId::Header(&["webhook-id"]),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://platform.openai.com/docs/guides/webhooks",
    },
    // Replicate: Standard Webhooks (webhook-id/-timestamp/-signature `v1,<base64>`, whsec_ secret); body is the prediction; top-level `status` stands in for the event
    ProviderSpec {
        name: "replicate",
        title: "Replicate",
        aliases: &[],
        category: Category::Infrastructure,
        signing: Signing::Custom(Custom::StandardWebhooks),
        delivery_id: DeliveryId::Header(&["webhook-id"]),
        event_type: EventType::BodyField("status"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://replicate.com/docs/topics/webhooks/verify-webhook",
    },
    // Cloudflare Notifications: Generic webhook destinations: the configured secret is sent verbatim in cf-webhook-auth (no HMAC); alert type top-level `alert_type`
    ProviderSpec {
        name: "cloudflare",
        title: "Cloudflare Notifications",
        aliases: &["cloudflare_notifications"],
        category: Category::Infrastructure,
        signing: Signing::Token { header: "cf-webhook-auth", prefix: "" },
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("alert_type"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://developers.cloudflare.com/notifications/get-started/configure-webhooks/",
    },
    // Grafana Alerting: Webhook contact point with Authorization header credentials (default scheme Bearer): header value `Bearer <credentials>` equals the secret; top-level `status` (firing/resolved)
    ProviderSpec {
        name: "grafana",
        title: "Grafana Alerting",
        aliases: &["grafana_alerting"],
        category: Category::Infrastructure,
        signing: Signing::Token { header: "authorization", prefix: "Bearer " },
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("status"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/",
    },
    // Telegram Bot API: no MAC; setWebhook's secret_token (1-256 chars of A-Za-z0-9_-) is echoed verbatim in X-Telegram-Bot-Api-Secret-Token.
    ProviderSpec {
        name: "telegram",
        title: "Telegram Bot API",
        aliases: &[],
        category: Category::Messaging,
        signing: Signing::Token { header: "x-telegram-bot-api-secret-token", prefix: "" },
        // update_id is a top-level *integer*, not a string, so it cannot be the BodyField dedup key.
        delivery_id: DeliveryId::None,
        // The update kind is whichever optional key is present (message, callback_query, ...).
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Generated,
        docs: "https://core.telegram.org/bots/api#setwebhook",
    },
    // Customer.io reporting webhooks: X-CIO-Signature = hex HMAC-SHA256 of `v0:{X-CIO-Timestamp}:{body}` (Slack-style, no prefix in the header).
    ProviderSpec {
        name: "customerio",
        title: "Customer.io",
        aliases: &["customer_io"],
        category: Category::Messaging,
        signing: Signing::Hmac(HmacScheme {
            header: "x-cio-signature",
            template: "v0:{timestamp}:{body}",
            timestamp: time_header("x-cio-timestamp", Seconds),
            ..HMAC
        }),
        delivery_id: DeliveryId::BodyField("event_id"),
        event_type: EventType::BodyField("metric"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.customer.io/journeys/webhooks/",
    },
    // Knock outbound webhooks: x-knock-signature `t=<unix ms>,s=<base64>`, s = HMAC-SHA256 of `{t}.{body}` with the endpoint's signing secret.
    ProviderSpec {
        name: "knock",
        title: "Knock",
        aliases: &[],
        category: Category::Messaging,
        signing: Signing::Hmac(HmacScheme {
            header: "x-knock-signature",
            encoding: Base64,
            format: keyed(',', "t", "s"),
            template: "{timestamp}.{body}",
            timestamp: keyed_time(Millis, 300),
            ..HMAC
        }),
        delivery_id: DeliveryId::None,
        event_type: EventType::Header("x-knock-event"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.knock.app/developer-tools/outbound-webhooks",
    },
    // Postmark: no signature; HTTP Basic credentials embedded in the webhook URL (https://user:pass@host/...).
    ProviderSpec {
        name: "postmark",
        title: "Postmark",
        aliases: &[],
        category: Category::Messaging,
        signing: Signing::Custom(Custom::BasicAuth),
        // MessageID is shared by the Delivery, Open, Click, ... records of one message.
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("RecordType"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://postmarkapp.com/developer/webhooks/webhooks-overview",
    },
    // Brevo: no signature; HTTP Basic credentials embedded in the webhook URL (the bearer-token option is not covered by this row).
    ProviderSpec {
        name: "brevo",
        title: "Brevo",
        aliases: &["sendinblue"],
        category: Category::Messaging,
        signing: Signing::Custom(Custom::BasicAuth),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("event"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://developers.brevo.com/docs/secured-webhooks",
    },
    // Segment (Webhooks / Webhooks (Actions) destination): X-Signature = hex HMAC-SHA1 of the JSON body with the destination's shared secret.
    ProviderSpec {
        name: "segment",
        title: "Segment",
        aliases: &[],
        category: Category::Crm,
        signing: body_hmac("x-signature", Sha1, Hex, ""),
        // Both hold for the default (full-event) mapping; a custom Actions mapping can drop them.
        delivery_id: DeliveryId::BodyField("messageId"),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://segment.com/docs/connections/destinations/catalog/actions-webhook/",
    },
    // Help Scout: X-HelpScout-Signature = base64 HMAC-SHA1 of the raw body with the secret key typed into the Webhooks app; event name in X-HelpScout-Event.
    ProviderSpec {
        name: "help_scout",
        title: "Help Scout",
        aliases: &["helpscout"],
        category: Category::Crm,
        signing: body_hmac("x-helpscout-signature", Sha1, Base64, ""),
        delivery_id: DeliveryId::None,
        event_type: EventType::Header("x-helpscout-event"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://developer.helpscout.com/webhooks/",
    },
    // Attio: Attio-Signature (duplicated as X-Attio-Signature) = hex HMAC-SHA256 of the raw body; Idempotency-Key is per message and stable across retries.
    ProviderSpec {
        name: "attio",
        title: "Attio",
        aliases: &[],
        category: Category::Crm,
        signing: body_hmac("attio-signature", Sha256, Hex, ""),
        delivery_id: DeliveryId::Header(&["idempotency-key"]),
        // Body is {"webhook_id":..,"events":[{"event_type":..}, ...]}: types are per array item.
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.attio.com/rest-api/guides/webhooks",
    },
    // Close: close-sig-hash = hex HMAC-SHA256 of `{close-sig-timestamp}{body}` (no separator), keyed with the HEX-DECODED signature_key of the subscription.
    ProviderSpec {
        name: "close",
        title: "Close",
        aliases: &["close_crm", "closeio"],
        category: Category::Crm,
        signing: Signing::Hmac(HmacScheme {
            header: "close-sig-hash",
            template: "{timestamp}{body}",
            timestamp: time_header("close-sig-timestamp", Seconds),
            key: KeyEncoding::Hex,
            ..HMAC
        }),
        // {"subscription_id":..,"event":{"id":"ev_..","object_type":..,"action":..}}: all nested.
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developer.close.com/api/resources/webhooks",
    },
    // Pipedrive: no signature; HTTP Basic with the http_auth_user / http_auth_password set on the webhook.
    ProviderSpec {
        name: "pipedrive",
        title: "Pipedrive",
        aliases: &[],
        category: Category::Crm,
        signing: Signing::Custom(Custom::BasicAuth),
        // v2 body: {"meta":{"action","entity","id",..},"data":..,"previous":..}: all nested.
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Generated,
        docs: "https://pipedrive.readme.io/docs/guide-for-webhooks-v2",
    },
    // WorkOS: WorkOS-Signature `t=<unix ms>, v1=<hex>`, v1 = HMAC-SHA256 of `{t}.{body}`; SDK default tolerance 3 minutes.
    ProviderSpec {
        name: "workos",
        title: "WorkOS",
        aliases: &[],
        category: Category::Identity,
        signing: t_v1("workos-signature", Millis, 180),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("event"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://workos.com/docs/events/data-syncing/webhooks",
    },
    // Persona: Persona-Signature `t=<unix s>,v1=<hex>`, v1 = HMAC-SHA256 of `{t}.{body}` with the webhook secret (wbhsec_...).
    ProviderSpec {
        name: "persona",
        title: "Persona",
        aliases: &[],
        category: Category::Identity,
        signing: t_v1("persona-signature", Seconds, 300),
        // JSON:API envelope: the event id and name are nested under data (data.id, data.attributes.name).
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://docs.withpersona.com/v2022-09-01/docs/best-practices",
    },
    // Onfido: X-SHA2-Signature = hex HMAC-SHA256 of the raw body with the webhook token.
    ProviderSpec {
        name: "onfido",
        title: "Onfido",
        aliases: &[],
        category: Category::Identity,
        signing: body_hmac("x-sha2-signature", Sha256, Hex, ""),
        // {"payload":{"resource_type":..,"action":..,"object":{..}}}: all nested.
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://documentation.onfido.com/api/latest/#webhooks",
    },
    // Veriff: X-HMAC-SIGNATURE = hex HMAC-SHA256 of the raw body with the integration's shared secret key.
    ProviderSpec {
        name: "veriff",
        title: "Veriff",
        aliases: &[],
        category: Category::Identity,
        signing: body_hmac("x-hmac-signature", Sha256, Hex, ""),
        // Top-level id is the verification session id (shared by many webhooks), so not a dedup key.
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://devdocs.veriff.com/docs/hmac-authentication-and-endpoint-security",
    },
    // Auth0 log streams (Custom Webhook): no MAC; the stream's "Authorization Token" is sent verbatim as the Authorization header.
    ProviderSpec {
        name: "auth0",
        title: "Auth0 log streams",
        aliases: &[],
        category: Category::Identity,
        // Whole header value, as typed in Auth0 (like the okta row): a generated hex secret
        // pasted as-is works; a token typed as "Bearer xyz" must be stored with "Bearer ".
        signing: Signing::Token { header: "authorization", prefix: "" },
        // Body is JSON lines, a JSON array or one object, depending on the stream's Content Format.
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Generated,
        docs: "https://auth0.com/docs/customize/log-streams/custom-log-streams",
    },
    // Tally: Tally-Signature = base64 HMAC-SHA256 of the raw body with the optional signing secret set on the webhook; no timestamp.
    ProviderSpec {
        name: "tally",
        title: "Tally",
        aliases: &[],
        category: Category::Forms,
        signing: body_hmac("tally-signature", Sha256, Base64, ""),
        delivery_id: DeliveryId::BodyField("eventId"),
        event_type: EventType::BodyField("eventType"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://tally.so/help/webhooks",
    },
    // Jira Cloud: Admin webhooks with a secret: HMAC-SHA256 of the raw body, hex, in X-Hub-Signature as `sha256=<hex>` (WebSub); delivery X-Atlassian-Webhook-Identifier, event top-level `webhookEvent`
    ProviderSpec {
        name: "jira",
        title: "Jira Cloud",
        aliases: &["jira_cloud"],
        category: Category::Productivity,
        signing: body_hmac("x-hub-signature", Sha256, Hex, "sha256="),
        delivery_id: DeliveryId::Header(&["x-atlassian-webhook-identifier"]),
        event_type: EventType::BodyField("webhookEvent"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks",
    },
    // Calendly: Calendly-Webhook-Signature `t=<unix s>,v1=<hex>`, v1 = HMAC-SHA256 of `{t}.{body}` with the subscription's signing key; 3-minute window.
    ProviderSpec {
        name: "calendly",
        title: "Calendly",
        aliases: &[],
        category: Category::Productivity,
        signing: t_v1("calendly-webhook-signature", Seconds, 180),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("event"),
        handshake: None,
        // signing_key is chosen by the caller of POST /webhook_subscriptions (personal access
        // tokens); OAuth apps get one generated by Calendly, which the operator pastes instead.
        secret: Secret::Generated,
        docs: "https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures",
    },
    // ClickUp: X-Signature = hex HMAC-SHA256 of the raw body with the webhook.secret returned when the webhook is created.
    ProviderSpec {
        name: "clickup",
        title: "ClickUp",
        aliases: &[],
        category: Category::Productivity,
        signing: body_hmac("x-signature", Sha256, Hex, ""),
        // webhook_id identifies the subscription, not the delivery.
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("event"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developer.clickup.com/docs/webhooksignature",
    },
    // Trello: X-Trello-Webhook = base64 HMAC-SHA1 of `{body}{callbackURL}` keyed with the Power-Up's OAuth 1.0 application secret.
    ProviderSpec {
        name: "trello",
        title: "Trello",
        aliases: &[],
        category: Category::Productivity,
        signing: Signing::Hmac(HmacScheme {
            // {url} must be byte-for-byte the callbackURL the webhook was registered with.
            header: "x-trello-webhook",
            algorithm: Sha1,
            encoding: Base64,
            template: "{body}{url}",
            ..HMAC
        }),
        // action.id / action.type are nested.
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/",
    },
    // Airtable: X-Airtable-Content-MAC `hmac-sha256=<hex>`, HMAC-SHA256 of the body keyed with base64-DECODED macSecretBase64 (returned once at webhook creation).
    ProviderSpec {
        name: "airtable",
        title: "Airtable",
        aliases: &[],
        category: Category::Productivity,
        signing: Signing::Hmac(HmacScheme {
            header: "x-airtable-content-mac",
            format: SignatureFormat::Prefixed("hmac-sha256="),
            key: KeyEncoding::Base64,
            ..HMAC
        }),
        // Thin ping: {"base":{"id"},"webhook":{"id"},"timestamp"}; changes are fetched from the payloads API.
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Issued,
        docs: "https://airtable.com/developers/web/api/webhooks-overview",
    },
    // Cal.com: X-Cal-Signature-256 = hex HMAC-SHA256 of the raw body with the (optional) secret typed into the webhook form.
    ProviderSpec {
        name: "cal_com",
        title: "Cal.com",
        aliases: &["calcom"],
        category: Category::Productivity,
        signing: body_hmac("x-cal-signature-256", Sha256, Hex, ""),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("triggerEvent"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://cal.com/docs/developing/guides/automation/webhooks",
    },
    // DocuSign Connect (HMAC): X-DocuSign-Signature-1 = base64 HMAC-SHA256 of the raw body with the Connect HMAC key (extra keys arrive as -2, -3, ...).
    ProviderSpec {
        name: "docusign",
        title: "DocuSign Connect",
        aliases: &["docusign_connect"],
        category: Category::Productivity,
        signing: body_hmac("x-docusign-signature-1", Sha256, Base64, ""),
        delivery_id: DeliveryId::None,
        // JSON (SIM / Connect 2.x) payloads; XML configurations have no top-level event field.
        event_type: EventType::BodyField("event"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developers.docusign.com/platform/webhooks/connect/hmac/",
    },
    // Mux: mux-signature `t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, Stripe-style; event id and type top-level
    ProviderSpec {
        name: "mux",
        title: "Mux",
        aliases: &[],
        category: Category::Content,
        signing: t_v1("mux-signature", Seconds, 300),
        delivery_id: DeliveryId::BodyField("id"),
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://www.mux.com/docs/core/verify-webhook-signatures",
    },
    // Webflow: x-webflow-signature = hex HMAC-SHA256 of `{x-webflow-timestamp}:{body}`; the timestamp is Unix milliseconds; key = OAuth app client secret (or the webhook's own secret).
    ProviderSpec {
        name: "webflow",
        title: "Webflow",
        aliases: &[],
        category: Category::Content,
        signing: Signing::Hmac(HmacScheme {
            header: "x-webflow-signature",
            template: "{timestamp}:{body}",
            timestamp: time_header("x-webflow-timestamp", Millis),
            ..HMAC
        }),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("triggerType"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developers.webflow.com/data/docs/working-with-webhooks",
    },
    // Sanity GROQ webhooks: sanity-webhook-signature `t=<unix ms>,v1=<base64url, unpadded>`, v1 = HMAC-SHA256 of `{t}.{body}` with the secret set on the webhook.
    ProviderSpec {
        name: "sanity",
        title: "Sanity",
        aliases: &[],
        category: Category::Content,
        signing: Signing::Hmac(HmacScheme {
            header: "sanity-webhook-signature",
            encoding: Base64Url,
            format: keyed(',', "t", "v1"),
            template: "{timestamp}.{body}",
            timestamp: keyed_time(Millis, 300),
            ..HMAC
        }),
        // The body is the webhook's own GROQ projection, so nothing in it is reliable; the
        // delivery headers are.
        delivery_id: DeliveryId::Header(&["idempotency-key"]),
        event_type: EventType::Header("sanity-operation"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://www.sanity.io/docs/webhooks",
    },
    // Ghost (custom integration webhooks): X-Ghost-Signature `sha256=<hex>, t=<unix ms>`, hex = HMAC-SHA256 of `{body}{t}` (body THEN timestamp, no separator).
    ProviderSpec {
        name: "ghost",
        title: "Ghost",
        aliases: &[],
        category: Category::Content,
        signing: Signing::Hmac(HmacScheme {
            header: "x-ghost-signature",
            format: keyed(',', "t", "sha256"),
            template: "{body}{timestamp}",
            timestamp: keyed_time(Millis, 300),
            ..HMAC
        }),
        // Body is `{"post":{"current":..,"previous":..}}` (or member/page/tag); no id or event name at top level.
        delivery_id: DeliveryId::None,
        event_type: EventType::None,
        handshake: None,
        secret: Secret::Generated,
        docs: "https://github.com/TryGhost/Ghost/blob/main/ghost/core/core/server/services/webhooks/webhook-trigger.js",
    },
    // Storyblok: webhook-signature = hex HMAC-SHA1 of the raw body with the webhook secret set in Settings > Webhooks.
    ProviderSpec {
        name: "storyblok",
        title: "Storyblok",
        aliases: &[],
        category: Category::Content,
        signing: body_hmac("webhook-signature", Sha1, Hex, ""),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("action"),
        handshake: None,
        secret: Secret::Generated,
        docs: "https://www.storyblok.com/docs/Guides/using-storyblok-webhooks#securing-your-webhooks",
    },
    // Frame.io: X-Frameio-Signature `v0=<hex>`, HMAC-SHA256 of `v0:{X-Frameio-Request-Timestamp}:{body}` (Slack-style), secret returned at webhook creation.
    ProviderSpec {
        name: "frame_io",
        title: "Frame.io",
        aliases: &["frameio"],
        category: Category::Content,
        signing: Signing::Hmac(HmacScheme {
            header: "x-frameio-signature",
            format: SignatureFormat::Prefixed("v0="),
            template: "v0:{timestamp}:{body}",
            timestamp: time_header("x-frameio-request-timestamp", Seconds),
            ..HMAC
        }),
        delivery_id: DeliveryId::None,
        event_type: EventType::BodyField("type"),
        handshake: None,
        secret: Secret::Issued,
        docs: "https://developer.frame.io/platform/v4/docs/guides/webhooks",
    },
];
