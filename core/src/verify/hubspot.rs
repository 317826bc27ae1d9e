//! HubSpot (v3): `X-HubSpot-Signature-v3: <base64 HMAC-SHA256>` over
//! `{method}{uri}{body}{X-HubSpot-Request-Timestamp}`, keyed with the app's client
//! secret. The timestamp is in milliseconds, held to the relay's ±300 s (HubSpot
//! says to refuse anything older than five minutes). The URI is the full public URL with
//! the characters HubSpot lists (`%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B`)
//! decoded before signing, as HubSpot's "Validating requests" page documents;
//! every other escape is kept as sent.

use super::{any_hmac_sha256_matches, check_tolerance, SignedRequest, VerifyError};
use base64::{engine::general_purpose::STANDARD as B64, Engine};

const SIGNATURE: &str = "x-hubspot-signature-v3";
const TIMESTAMP: &str = "x-hubspot-request-timestamp";
/// The headers the scheme reads, the signature's first (for the registry).
pub(super) const HEADERS: &[&str] = &[SIGNATURE, TIMESTAMP];

/// The escapes HubSpot decodes before signing, and what they decode to.
const DECODED_ESCAPES: [(&str, char); 12] = [
    ("3A", ':'),
    ("2F", '/'),
    ("3F", '?'),
    ("40", '@'),
    ("21", '!'),
    ("24", '$'),
    ("27", '\''),
    ("28", '('),
    ("29", ')'),
    ("2A", '*'),
    ("2C", ','),
    ("3B", ';'),
];

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let ts_text = req.header(TIMESTAMP)?.trim();
    let signed_at_ms: i64 = ts_text
        .parse()
        .map_err(|_| VerifyError::Malformed(TIMESTAMP.into()))?;
    let sig = B64
        .decode(req.header(SIGNATURE)?.trim())
        .map_err(|_| VerifyError::Malformed(SIGNATURE.into()))?;
    check_tolerance(signed_at_ms.div_euclid(1000), req.now_s)?;
    let uri = decode_signed_uri(req.url);
    let keys = secrets.iter().map(|s| s.as_bytes());
    let parts: [&[u8]; 4] = [
        req.method.as_bytes(),
        uri.as_bytes(),
        req.body,
        ts_text.as_bytes(),
    ];
    if any_hmac_sha256_matches(keys, &parts, &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Decodes only HubSpot's listed escapes, in either hex case.
fn decode_signed_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let escape = rest.get(pos + 1..pos + 3);
        let decoded = DECODED_ESCAPES
            .iter()
            .find(|(hex, _)| escape.is_some_and(|e| e.eq_ignore_ascii_case(hex)))
            .map(|(_, c)| *c);
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[pos + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::testing;

    // Computed independently: Python `base64.b64encode(hmac.new(b"hubspot_client_secret",
    // b'POST' + SIGNED_URI + BODY + b'1700000000123', hashlib.sha256).digest())`, where
    // SIGNED_URI is URL with %40 and %2C decoded by hand and %20 kept.
    const SECRET: &str = "hubspot_client_secret";
    const URL: &str = "https://relay.example/ep_01?who=a%40b%2Cc&sp=%20x";
    const BODY: &[u8] = br#"[{"eventId":1,"subscriptionType":"contact.creation"}]"#;
    const TS_MS: &str = "1700000000123";
    const T: i64 = 1_700_000_000;
    const SIG: &str = "V/1cT95T8PiEFeb6/XQ2yihXYvZJgmSz2c2Q74tcxS4=";

    fn check(
        secrets: &[&str],
        headers: &[(&str, &str)],
        method: &str,
        body: &[u8],
        now_s: i64,
    ) -> Result<(), VerifyError> {
        testing::run_as(verify, secrets, headers, body, now_s, method, URL)
    }

    fn signed(sig: &str) -> [(&str, &str); 2] {
        [
            ("X-HubSpot-Signature-v3", sig),
            ("X-HubSpot-Request-Timestamp", TS_MS),
        ]
    }

    #[test]
    fn accepts_the_independent_vector_and_rotation() {
        assert_eq!(check(&[SECRET], &signed(SIG), "POST", BODY, T), Ok(()));
        assert_eq!(
            check(&["new", SECRET], &signed(SIG), "POST", BODY, T + 300),
            Ok(())
        );
    }

    #[test]
    fn refuses_wrong_secret_tampering_another_method_and_expired() {
        let h = signed(SIG);
        assert_eq!(
            check(&["x"], &h, "POST", BODY, T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], &h, "POST", b"[]", T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], &h, "PUT", BODY, T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], &h, "POST", BODY, T + 301),
            Err(VerifyError::OutsideTolerance)
        );
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        assert_eq!(
            check(&[SECRET], &signed(SIG)[..1], "POST", BODY, T),
            Err(VerifyError::MissingHeader(TIMESTAMP.into()))
        );
        assert_eq!(
            check(&[SECRET], &signed(SIG)[1..], "POST", BODY, T),
            Err(VerifyError::MissingHeader(SIGNATURE.into()))
        );
        assert_eq!(
            check(&[SECRET], &signed("%%%"), "POST", BODY, T),
            Err(VerifyError::Malformed(SIGNATURE.into()))
        );
        let seconds = [
            ("X-HubSpot-Signature-v3", SIG),
            ("X-HubSpot-Request-Timestamp", "soon"),
        ];
        assert_eq!(
            check(&[SECRET], &seconds, "POST", BODY, T),
            Err(VerifyError::Malformed(TIMESTAMP.into()))
        );
    }

    #[test]
    fn only_the_listed_escapes_are_decoded() {
        assert_eq!(
            decode_signed_uri("https://h/p%3Aq%2f%3F%40%21%24%27%28%29%2A%2C%3B"),
            "https://h/p:q/?@!$'()*,;"
        );
        assert_eq!(decode_signed_uri("/a%20b%25c%2"), "/a%20b%25c%2");
        assert_eq!(decode_signed_uri("/%"), "/%");
        assert_eq!(decode_signed_uri("/ü%3a"), "/ü:");
    }
}
