//! The registry described for operators: what `GET /api/v1/providers` answers,
//! what the dashboard's endpoint form offers and what `docs/providers.md`
//! lists. All three are built here from the same rows, so none can drift from
//! what verification does.

use super::hmac_scheme::{HmacScheme, KeyEncoding, SignatureFormat, TimeUnit, TimestampSource};
use super::{
    Custom, DeliveryId, EventType, Handshake, HmacAlgorithm, Provider, Secret, SignatureEncoding,
    Signing,
};
use crate::catch_up::CatchUpApi;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

/// A provider the relay verifies, and what an endpoint of it needs.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "ProviderInfo")]
pub struct ProviderView {
    #[schemars(with = "Provider")]
    pub name: &'static str,
    pub title: &'static str,
    /// Other names accepted on input; endpoints store `name`.
    pub aliases: &'static [&'static str],
    #[schemars(extend("enum" = CATEGORIES))]
    pub category: &'static str,
    /// How requests are proven.
    #[schemars(extend("enum" = SCHEMES))]
    pub scheme: &'static str,
    /// The scheme in words.
    pub signature: String,
    /// The headers verification reads, the signature's first.
    pub headers: Vec<&'static str>,
    /// How far a signed time may be from the relay's clock.
    pub tolerance_s: Option<u32>,
    /// `issued`: copy it from the provider; `chosen`: the operator picks it,
    /// and rotating without a secret makes one.
    #[schemars(extend("enum" = ["issued", "chosen", "none"]))]
    pub secret: &'static str,
    /// What an endpoint of this provider must be given besides a name and a destination.
    #[schemars(schema_with = "needs_schema")]
    pub needs: Vec<&'static str>,
    /// Where the dedup key comes from (the body's hash when absent).
    pub delivery_id: Option<Source>,
    /// Where the name `event_types` match comes from.
    pub event_type: Option<Source>,
    /// The subscription check the relay answers itself, if any.
    pub handshake: Option<&'static str>,
    /// The provider's page about its signature.
    pub docs: Option<&'static str>,
    /// How `POST /api/v1/endpoints/{id}/catch-up` reads the provider's own
    /// record of what it sent; null when it keeps none.
    #[schemars(extend("enum" = ["stripe_events", "github_redelivery", null]))]
    pub catch_up: Option<&'static str>,
}

/// Where a value is read from.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "ProviderSource")]
pub struct Source {
    /// `header`, `body` (a top-level JSON field), `header_and_action` (GitHub's
    /// `event.action`) or `settings` (the endpoint's `scheme_config.hmac.id_header`).
    #[schemars(extend("enum" = ["header", "body", "header_and_action", "settings"]))]
    pub from: &'static str,
    pub names: Vec<&'static str>,
}

/// Every `category` a provider has.
const CATEGORIES: [&str; 11] = [
    "generic",
    "payments",
    "commerce",
    "code",
    "infrastructure",
    "messaging",
    "crm",
    "identity",
    "forms",
    "productivity",
    "content",
];

/// Every `scheme` [`scheme_name`] answers.
const SCHEMES: [&str; 10] = [
    "none",
    "hmac",
    "token",
    "standard_webhooks",
    "twitch",
    "hubspot_v3",
    "ed25519",
    "basic_auth",
    "configured_hmac",
    "configured_api_key",
];

/// Every entry [`needs`] can list.
const NEEDS: [&str; 3] = ["secrets", "scheme_config.hmac", "verify_token"];

fn needs_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "array", "items": { "type": "string", "enum": NEEDS } })
}

/// Every provider, in the registry's order.
pub fn views() -> Vec<ProviderView> {
    Provider::all().map(view).collect()
}

fn view(provider: Provider) -> ProviderView {
    let spec = provider.spec();
    ProviderView {
        name: spec.name,
        title: spec.title,
        aliases: spec.aliases,
        category: spec.category.as_str(),
        scheme: scheme_name(&spec.signing),
        signature: describe(&spec.signing),
        headers: spec.signing.headers(),
        tolerance_s: spec.signing.tolerance_s(),
        secret: match (provider.needs_secret(), spec.secret) {
            (false, _) => "none",
            (true, Secret::Issued) => "issued",
            (true, Secret::Generated) => "chosen",
        },
        needs: needs(provider),
        delivery_id: delivery_id_source(spec.delivery_id),
        event_type: event_type_source(spec.event_type),
        handshake: spec.handshake.map(handshake_name),
        docs: Some(spec.docs).filter(|d| !d.is_empty()),
        catch_up: provider.catch_up().map(CatchUpApi::as_str),
    }
}

fn scheme_name(signing: &Signing) -> &'static str {
    match signing {
        Signing::None => "none",
        Signing::Hmac(_) => "hmac",
        Signing::Token { .. } => "token",
        Signing::Custom(Custom::StandardWebhooks) => "standard_webhooks",
        Signing::Custom(Custom::Twitch) => "twitch",
        Signing::Custom(Custom::Hubspot) => "hubspot_v3",
        Signing::Custom(Custom::Discord) => "ed25519",
        Signing::Custom(Custom::BasicAuth) => "basic_auth",
        Signing::ConfiguredHmac => "configured_hmac",
        Signing::ConfiguredApiKey => "configured_api_key",
    }
}

fn needs(provider: Provider) -> Vec<&'static str> {
    let spec = provider.spec();
    let mut needs = Vec::new();
    if provider.needs_secret() {
        needs.push("secrets");
    }
    if matches!(spec.signing, Signing::ConfiguredHmac) {
        needs.push("scheme_config.hmac");
    }
    if spec.handshake == Some(Handshake::Meta) {
        needs.push("verify_token");
    }
    needs
}

fn delivery_id_source(id: DeliveryId) -> Option<Source> {
    match id {
        DeliveryId::None => None,
        DeliveryId::Header(names) => Some(source("header", names)),
        DeliveryId::BodyField(field) => Some(source("body", &[field])),
        DeliveryId::Configured => Some(source("settings", &[])),
    }
}

fn event_type_source(event_type: EventType) -> Option<Source> {
    match event_type {
        EventType::None => None,
        EventType::BodyField(field) => Some(source("body", &[field])),
        EventType::Header(name) => Some(source("header", &[name])),
        EventType::HeaderWithAction(name) => Some(source("header_and_action", &[name])),
    }
}

fn source(from: &'static str, names: &[&'static str]) -> Source {
    Source {
        from,
        names: names.to_vec(),
    }
}

fn handshake_name(handshake: Handshake) -> &'static str {
    match handshake {
        Handshake::Slack => "slack_url_verification",
        Handshake::Zoom => "zoom_url_validation",
        Handshake::Twitch => "twitch_callback_verification",
        Handshake::Meta => "meta_subscribe",
        Handshake::Okta => "okta_verification",
        Handshake::Dropbox => "dropbox_challenge",
        Handshake::Discord => "discord_ping",
    }
}

/// The scheme in a sentence, for people.
fn describe(signing: &Signing) -> String {
    match signing {
        Signing::None => "nothing: the unguessable `ep_` id is the only protection".into(),
        Signing::Hmac(scheme) => describe_hmac(scheme),
        Signing::Token { header, prefix: "" } => format!("`{header}` is the secret itself"),
        Signing::Token { header, prefix } => format!("`{header}` is `{prefix}` and the secret"),
        Signing::Custom(Custom::StandardWebhooks) => "Standard Webhooks: HMAC-SHA256 base64 of \
             `{id}.{timestamp}.{body}` keyed with the `whsec_` secret's bytes; the `svix-` \
             header names are read too"
            .into(),
        Signing::Custom(Custom::Twitch) => {
            "HMAC-SHA256 hex of message id + timestamp + body; at most 10 min old".into()
        }
        Signing::Custom(Custom::Hubspot) => {
            "HMAC-SHA256 base64 of method + URI + body + timestamp (v3)".into()
        }
        Signing::Custom(Custom::Discord) => "Ed25519 over timestamp + body; the secret is the \
             application's public key (hex)"
            .into(),
        Signing::Custom(Custom::BasicAuth) => "`Authorization: Basic`; the secret is \
             `user:password`"
            .into(),
        Signing::ConfiguredHmac => "an HMAC the endpoint's `scheme_config.hmac` describes: \
             `header`, `algorithm`, `encoding`, `prefix`, `template`, `timestamp_header`, \
             `id_header`, `tolerance_s`"
            .into(),
        Signing::ConfiguredApiKey => "the key itself, in `scheme_config.api_key.header` \
             (default `x-api-key`)"
            .into(),
    }
}

fn describe_hmac(scheme: &HmacScheme<'_>) -> String {
    let algorithm = match scheme.algorithm {
        HmacAlgorithm::Sha1 => "HMAC-SHA1",
        HmacAlgorithm::Sha256 => "HMAC-SHA256",
        HmacAlgorithm::Sha512 => "HMAC-SHA512",
    };
    let encoding = match scheme.encoding {
        SignatureEncoding::Hex => "hex",
        SignatureEncoding::Base64 => "base64",
        SignatureEncoding::Base64Url => "base64url",
    };
    let mut text = format!("{algorithm} {encoding} of `{}`", scheme.template);
    match scheme.format {
        SignatureFormat::Prefixed("") => {}
        SignatureFormat::Prefixed(prefix) => text += &format!(", after `{prefix}`"),
        SignatureFormat::Keyed {
            separator,
            timestamp_key,
            signature_key,
        } => {
            text += &format!(", as `{signature_key}=` items split by `{separator}`");
            if matches!(
                scheme.timestamp.map(|t| t.source),
                Some(TimestampSource::Keyed)
            ) {
                text += &format!(" with the time in `{timestamp_key}=`");
            }
        }
    }
    if let Some(ts) = scheme.timestamp {
        if let TimestampSource::Header(name) = ts.source {
            text += &format!("; time in `{name}`");
        }
        let unit = match ts.unit {
            TimeUnit::Seconds => "s",
            TimeUnit::Millis => "ms",
        };
        text += &format!(" ({unit}), within {} s", ts.tolerance_s);
    }
    match scheme.key {
        KeyEncoding::Raw => {}
        KeyEncoding::Base64 => text += "; the secret is the key in base64",
        KeyEncoding::Hex => text += "; the secret is the key in hex",
    }
    text
}

/// The table `docs/providers.md` holds between its generated-region markers.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| provider | category | signature | headers | delivery id | event type | secret |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for v in views() {
        let name = match v.docs {
            Some(url) => format!("[`{}`]({url})", v.name),
            None => format!("`{}`", v.name),
        };
        let aliases = if v.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also {})", code_list(v.aliases))
        };
        out += &format!(
            "| {name}{aliases} | {} | {} | {} | {} | {} | {} |\n",
            v.category,
            v.signature.replace('|', "\\|"),
            code_list(&v.headers),
            source_text(v.delivery_id.as_ref()),
            source_text(v.event_type.as_ref()),
            v.secret,
        );
    }
    out
}

fn code_list(names: &[&str]) -> String {
    if names.is_empty() {
        return "–".into();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn source_text(source: Option<&Source>) -> String {
    match source {
        None => "–".into(),
        Some(s) if s.from == "settings" => "`scheme_config.hmac.id_header`".into(),
        Some(s) if s.from == "header_and_action" => {
            format!("header {} + body `action`", code_list(&s.names))
        }
        Some(s) => format!("{} {}", s.from, code_list(&s.names)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- providers table: generated from the registry -->\n";
    const END: &str = "<!-- end of generated table -->\n";

    /// `docs/providers.md` lists exactly the registry. Run with
    /// `HOOKRELAY_WRITE_DOCS=1` (`make docs`) to rewrite the table.
    #[test]
    fn the_providers_doc_is_the_registry() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/providers.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
        let end = doc.find(END).expect("end marker");
        let expected = markdown_table();
        if std::env::var_os("HOOKRELAY_WRITE_DOCS").is_some() {
            let rewritten = format!("{}{expected}{}", &doc[..start], &doc[end..]);
            std::fs::write(path, rewritten).unwrap();
            return;
        }
        assert!(
            doc[start..end] == expected,
            "docs/providers.md is out of date: run `make docs`"
        );
    }

    /// The document's enums hold every value a provider shows.
    #[test]
    fn the_schema_enums_hold_every_value_shown() {
        for view in views() {
            assert!(CATEGORIES.contains(&view.category), "{}", view.category);
            assert!(SCHEMES.contains(&view.scheme), "{}", view.scheme);
            assert!(
                view.needs.iter().all(|n| NEEDS.contains(n)),
                "{:?}",
                view.needs
            );
        }
    }

    #[test]
    fn views_say_what_an_operator_must_supply() {
        let by_name = |name: &str| views().into_iter().find(|v| v.name == name).unwrap();
        let github = by_name("github");
        assert_eq!(github.secret, "issued");
        assert_eq!(github.needs, ["secrets"]);
        assert_eq!(github.headers, ["x-hub-signature-256"]);
        assert_eq!(github.event_type.unwrap().from, "header_and_action");
        assert!(github.signature.contains("after `sha256=`"));
        let hmac = by_name("hmac");
        assert_eq!(hmac.secret, "chosen");
        assert_eq!(hmac.needs, ["secrets", "scheme_config.hmac"]);
        assert_eq!(by_name("meta").needs, ["secrets", "verify_token"]);
        let none = by_name("none");
        assert_eq!((none.secret, none.needs.len()), ("none", 0));
        let stripe = by_name("stripe");
        assert_eq!(stripe.tolerance_s, Some(300));
        assert!(
            stripe.signature.contains("time in `t=`"),
            "{}",
            stripe.signature
        );
        assert_eq!(stripe.delivery_id.unwrap().names, ["id"]);
        assert!(by_name("standard").aliases.contains(&"svix"));
    }
}
