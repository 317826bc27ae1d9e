//! Request headers as plain data: what verification reads, what is stored with an
//! ingest, and what is forwarded to the destination.
//!
//! Names are lower-cased once here so every lookup is case-insensitive.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HeaderList(Vec<(String, String)>);

/// Headers as `[[name, value], ...]`, each name lower-cased.
impl schemars::JsonSchema for HeaderList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HeaderList".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "array",
            "description": "Headers as `[[name, value], ...]`, each name lower-cased",
            "items": {
                "type": "array",
                "description": "`[name, value]`, the name lower-cased",
                "prefixItems": [{ "type": "string" }, { "type": "string" }],
                "items": false,
                "minItems": 2,
            },
        })
    }
}

/// The custom metadata key of a body object (R2) that holds its ingest's
/// headers. Kept there, they cost D1's working set nothing (they were about a
/// third of a webhook's bytes in D1) and arrive with the body that delivery
/// reads anyway; the ingest row's `headers` column is then empty.
pub const BODY_METADATA_KEY: &str = "headers";

/// R2 allows 8,192 bytes of metadata per object (Cloudflare's R2 limits page);
/// the rest is left for the content type. Larger lists stay in the row.
pub const MAX_IN_BODY_METADATA: usize = 7_680;

/// Where [`HeaderList::home`] puts an ingest's headers.
#[derive(Debug, PartialEq)]
pub enum HeaderHome {
    /// In the body object's metadata under [`BODY_METADATA_KEY`], as JSON pairs;
    /// the row's column is empty.
    BodyObject(String),
    /// In the row's column, as [`HeaderList::to_stored`] writes them.
    Row(String),
}

impl HeaderHome {
    /// What the ingest row's `headers` column holds.
    pub fn row_column(&self) -> &str {
        match self {
            HeaderHome::BodyObject(_) => "",
            HeaderHome::Row(stored) => stored,
        }
    }

    /// What the body object's metadata holds under [`BODY_METADATA_KEY`].
    pub fn in_body_object(&self) -> Option<&str> {
        match self {
            HeaderHome::BodyObject(json) => Some(json),
            HeaderHome::Row(_) => None,
        }
    }
}

/// Headers that describe one hop, belong to the platform in front of the Worker,
/// or carry credentials meant for the relay itself: never stored, never forwarded.
const NOT_FORWARDED: &[&str] = &[
    // What the sender accepts in the answer to its own request: the relay
    // answers that request itself, and its outbound request negotiates its own.
    "accept",
    "accept-encoding",
    "accept-language",
    "priority",
    "authorization",
    "cdn-loop",
    "connection",
    "content-length",
    "cookie",
    "expect",
    "forwarded",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "true-client-ip",
    "upgrade",
    "via",
    "x-real-ip",
    // Carry the endpoint's own credential as is (GitLab, `api_key` endpoints).
    "x-api-key",
    "x-gitlab-token",
    // Set by the relay on the outbound request (Standard Webhooks, signed with the
    // endpoint's relay secret); a sender's own copies would clash with them.
    "webhook-id",
    "webhook-signature",
    "webhook-timestamp",
];
/// (`sec-fetch-` is a browser's description of its own request.)
const NOT_FORWARDED_PREFIXES: &[&str] = &["cf-", "sec-fetch-", "x-forwarded-", "x-hookrelay-"];

impl HeaderList {
    pub fn new<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into().to_ascii_lowercase(), v.into()))
                .collect(),
        )
    }

    /// The first value of a header, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The header's value trimmed, or `None` when it is absent or blank: what
    /// provider ids and event types are read from.
    pub fn non_blank(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Without the header `name` (case-insensitive), when given.
    pub fn without(self, name: Option<&str>) -> HeaderList {
        match name {
            Some(n) => HeaderList(
                self.0
                    .into_iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case(n))
                    .collect(),
            ),
            None => self,
        }
    }

    /// The headers as an ingest stores them: one `name: value` line each.
    /// Names are lower-case tokens and values hold no line break (HTTP allows
    /// neither), so the lines say exactly what the list says, in a third
    /// fewer bytes than JSON pairs; D1's working set pays for every byte.
    pub fn to_stored(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
    }

    /// Reads headers as [`to_stored`](Self::to_stored) wrote them, or as JSON
    /// pairs (`[["name", "value"], ...]`), how ingests stored them before.
    pub fn from_stored(stored: &str) -> Result<HeaderList, serde_json::Error> {
        if stored.starts_with('[') {
            return serde_json::from_str(stored);
        }
        Ok(HeaderList(
            stored
                .lines()
                .filter_map(|line| line.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()))
                .collect(),
        ))
    }

    /// Where an ingest keeps these headers: with its body in R2 when they fit
    /// the body object's metadata (JSON pairs, ASCII, at most
    /// [`MAX_IN_BODY_METADATA`] bytes), else in its D1 row.
    pub fn home(&self) -> HeaderHome {
        match serde_json::to_string(self) {
            Ok(json) if json.len() <= MAX_IN_BODY_METADATA && json.is_ascii() => {
                HeaderHome::BodyObject(json)
            }
            _ => HeaderHome::Row(self.to_stored()),
        }
    }

    /// An ingest's headers, from its row's `headers` column or, when that is
    /// empty, from its body object's metadata (`None`: the object holds none).
    pub fn of_ingest(
        row: &str,
        in_body_object: Option<&str>,
    ) -> Result<HeaderList, serde_json::Error> {
        match (row, in_body_object) {
            ("", Some(kept)) => HeaderList::from_stored(kept),
            ("", None) => Ok(HeaderList::default()),
            (row, _) => HeaderList::from_stored(row),
        }
    }

    /// The provider's own headers, fit to store and to replay to the destination.
    pub fn forwardable(&self) -> HeaderList {
        HeaderList(
            self.0
                .iter()
                .filter(|(k, _)| is_forwardable(k))
                .cloned()
                .collect(),
        )
    }
}

fn is_forwardable(name: &str) -> bool {
    !NOT_FORWARDED.contains(&name) && !NOT_FORWARDED_PREFIXES.iter().any(|p| name.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_live_with_the_body_when_they_fit_its_metadata() {
        let h = HeaderList::new([
            ("content-type", "application/json"),
            ("x-github-event", "push"),
        ]);
        let home = h.home();
        assert_eq!(home.row_column(), "");
        let kept = home.in_body_object().expect("kept in the body object");
        assert_eq!(
            HeaderList::of_ingest(home.row_column(), Some(kept)).unwrap(),
            h
        );
        // An object without them (no headers at all) reads as none.
        assert_eq!(
            HeaderList::of_ingest("", None).unwrap(),
            HeaderList::default()
        );
    }

    #[test]
    fn headers_too_large_or_not_ascii_stay_in_the_row() {
        let large = HeaderList::new([("x-big", "v".repeat(MAX_IN_BODY_METADATA))]);
        let accented = HeaderList::new([("x-name", "caf\u{e9}")]);
        for h in [large, accented] {
            let home = h.home();
            assert_eq!(home.in_body_object(), None);
            assert_eq!(home.row_column(), h.to_stored());
            // The row wins whatever the object holds.
            assert_eq!(
                HeaderList::of_ingest(home.row_column(), Some("[]")).unwrap(),
                h
            );
        }
    }

    #[test]
    fn lookup_ignores_case() {
        let h = HeaderList::new([("X-GitHub-Delivery", "abc")]);
        assert_eq!(h.get("x-github-delivery"), Some("abc"));
        assert_eq!(h.get("X-GITHUB-DELIVERY"), Some("abc"));
        assert_eq!(h.get("x-other"), None);
    }

    #[test]
    fn forwardable_drops_hop_by_hop_platform_and_credentials() {
        let h = HeaderList::new([
            ("Content-Type", "application/json"),
            ("Stripe-Signature", "t=1,v1=aa"),
            ("Connection", "keep-alive"),
            ("Host", "relay.example"),
            ("CF-Connecting-IP", "1.2.3.4"),
            ("X-Forwarded-For", "1.2.3.4"),
            ("Authorization", "Bearer secret"),
            ("Transfer-Encoding", "chunked"),
            ("webhook-signature", "v1,xx"),
            ("x-hookrelay-fault", "queue_send"),
            ("X-Gitlab-Token", "secret-token"),
            ("X-Api-Key", "secret-key"),
            ("Accept", "*/*"),
            ("Accept-Encoding", "br, gzip"),
            ("Sec-Fetch-Mode", "cors"),
        ]);
        let kept: Vec<_> = h.forwardable().iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(kept, ["content-type", "stripe-signature"]);
    }

    #[test]
    fn stored_headers_read_back_as_they_were_in_either_form() {
        let h = HeaderList::new([
            ("Content-Type", "application/json; charset=utf-8"),
            ("Stripe-Signature", "t=1,v1=aa,v0=bb"),
            ("X-Empty", ""),
            ("X-Colons", "a: b: c"),
            ("X-Spaced", " leading"),
        ]);
        let stored = h.to_stored();
        assert_eq!(HeaderList::from_stored(&stored).unwrap(), h);
        let json = serde_json::to_string(&h).unwrap();
        assert!(stored.len() < json.len());
        assert_eq!(HeaderList::from_stored(&json).unwrap(), h);
        assert_eq!(HeaderList::from_stored("").unwrap(), HeaderList::default());
        assert_eq!(
            HeaderList::from_stored("[]").unwrap(),
            HeaderList::default()
        );
        assert!(HeaderList::from_stored("[not json").is_err());
    }

    #[test]
    fn without_drops_a_configured_credential_header() {
        let h = HeaderList::new([("X-Custom-Key", "k"), ("X-Event", "e")]);
        let kept: Vec<_> = h
            .without(Some("x-custom-key"))
            .iter()
            .map(|(k, _)| k.to_string())
            .collect();
        assert_eq!(kept, ["x-event"]);
    }
}
