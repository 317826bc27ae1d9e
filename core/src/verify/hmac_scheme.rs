//! An HMAC signature described as data: which header carries it and how
//! (a prefix, or a keyed list such as `t=<time>,v1=<mac>`), the algorithm, the
//! encoding, the signed content as a template over `{body}`, `{timestamp}`,
//! `{id}`, `{url}` and `{method}`, a signed timestamp and its tolerance, and how
//! the secret turns into key bytes. Most providers' rows in the registry are
//! one of these, and so is an operator's `hmac` endpoint ([`super::HmacConfig`]).

use super::config::check_header_name;
use super::{
    any_hmac_matches, check_window, HmacAlgorithm, SignatureEncoding, SignedRequest, VerifyError,
};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64_URL};
use base64::Engine;
use hmac::Hmac;
use sha1::Sha1;
use sha2::{Sha256, Sha512};

/// Generous enough for any sender's clock; beyond it a replay window is meaningless.
pub const MAX_TOLERANCE_S: u32 = 86_400;

/// How a sender signs. Borrowed, so a registry row (`'static`) and an
/// endpoint's own settings share the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HmacScheme<'a> {
    /// The header that carries the signature.
    pub header: &'a str,
    pub algorithm: HmacAlgorithm,
    pub encoding: SignatureEncoding,
    pub format: SignatureFormat<'a>,
    /// The signed content: `{body}` exactly once, and any of `{timestamp}`,
    /// `{id}`, `{url}`, `{method}` and literal text.
    pub template: &'a str,
    pub timestamp: Option<Timestamp<'a>>,
    /// The header whose value is `{id}`.
    pub id_header: Option<&'a str>,
    pub key: KeyEncoding,
}

/// How the signature header's value holds the MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureFormat<'a> {
    /// `{prefix}{mac}`; the prefix may be empty.
    Prefixed(&'a str),
    /// `key=value` items split by `separator` or whitespace, such as
    /// `t=1700000000,v1=<mac>,v1=<mac>`: every `signature_key` item is a
    /// candidate (senders list several while they roll a secret), and the
    /// `timestamp_key` item is the signed time. Other keys are ignored.
    Keyed {
        separator: char,
        timestamp_key: &'a str,
        signature_key: &'a str,
    },
}

/// A signed time, checked against the relay's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp<'a> {
    pub source: TimestampSource<'a>,
    pub unit: TimeUnit,
    /// How far the signed time may be from the relay's clock, either way.
    pub tolerance_s: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampSource<'a> {
    Header(&'a str),
    /// The `timestamp_key` item of a [`SignatureFormat::Keyed`] header.
    Keyed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Millis,
}

/// How an endpoint's secret becomes the HMAC key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEncoding {
    /// The secret's bytes as written.
    Raw,
    /// The secret is base64 (standard alphabet) of the key.
    Base64,
    /// The secret is hex of the key.
    Hex,
}

/// One piece of the signed-content template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'t> {
    Text(&'t str),
    Body,
    Timestamp,
    Id,
    Url,
    Method,
}

const PLACEHOLDERS: [(&str, Piece<'static>); 5] = [
    ("{body}", Piece::Body),
    ("{timestamp}", Piece::Timestamp),
    ("{id}", Piece::Id),
    ("{url}", Piece::Url),
    ("{method}", Piece::Method),
];

/// Verifies `req` against `scheme` with any of `secrets`.
pub fn verify(
    scheme: &HmacScheme<'_>,
    secrets: &[String],
    req: &SignedRequest<'_>,
) -> Result<(), VerifyError> {
    let template =
        parse_template(scheme.template).map_err(|_| VerifyError::Unconfigured("hmac"))?;
    let header = read_signature_header(scheme, req)?;
    let timestamp = signed_timestamp(scheme, req, header.timestamp)?;
    let id = match scheme.id_header {
        Some(name) if template.contains(&Piece::Id) => req.header(name)?.trim(),
        _ => "",
    };
    let parts: Vec<&[u8]> = template
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.as_bytes(),
            Piece::Body => req.body,
            Piece::Timestamp => timestamp.as_bytes(),
            Piece::Id => id.as_bytes(),
            Piece::Url => req.url.as_bytes(),
            Piece::Method => req.method.as_bytes(),
        })
        .collect();
    let keys: Vec<Vec<u8>> = secrets
        .iter()
        .filter_map(|s| decode_key(scheme.key, s))
        .collect();
    if any_key_matches(scheme.algorithm, &keys, &parts, &header.signatures) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Whether a scheme is usable: header names are tokens, the template signs the
/// whole body once and every value it names has a source, and a timestamp is
/// signed whenever one is read. Messages name the `hmac.` settings.
pub fn validate(scheme: &HmacScheme<'_>) -> Result<(), String> {
    check_header_name("hmac.header", scheme.header)?;
    let template = parse_template(scheme.template)?;
    let signs = |p: Piece| template.contains(&p);
    match (&scheme.timestamp, signs(Piece::Timestamp)) {
        (Some(ts), true) => validate_timestamp(scheme, ts)?,
        (None, true) => return Err("hmac.template uses {timestamp}: set timestamp_header".into()),
        (Some(_), false) => {
            return Err(
                "hmac.timestamp_header is set but the template does not sign {timestamp}; \
                 an unsigned timestamp protects nothing"
                    .into(),
            )
        }
        (None, false) => {}
    }
    match (scheme.id_header, signs(Piece::Id)) {
        (Some(name), _) => check_header_name("hmac.id_header", name)?,
        (None, true) => return Err("hmac.template uses {id}: set id_header".into()),
        (None, false) => {}
    }
    if let SignatureFormat::Keyed {
        timestamp_key,
        signature_key,
        ..
    } = scheme.format
    {
        if signature_key.is_empty() || timestamp_key == signature_key {
            return Err("a keyed signature needs its own signature key".into());
        }
    }
    Ok(())
}

fn validate_timestamp(scheme: &HmacScheme<'_>, ts: &Timestamp<'_>) -> Result<(), String> {
    match (ts.source, scheme.format) {
        (TimestampSource::Header(name), _) => check_header_name("hmac.timestamp_header", name)?,
        (TimestampSource::Keyed, SignatureFormat::Keyed { timestamp_key, .. })
            if !timestamp_key.is_empty() => {}
        (TimestampSource::Keyed, _) => {
            return Err("a keyed timestamp needs a keyed signature header".into())
        }
    }
    if !(1..=MAX_TOLERANCE_S).contains(&ts.tolerance_s) {
        return Err(format!(
            "hmac.tolerance_s must be within 1..={MAX_TOLERANCE_S}"
        ));
    }
    Ok(())
}

/// Whether `secret` can be a key under `encoding` (checked when an endpoint is
/// created or edited).
pub fn validate_key(encoding: KeyEncoding, secret: &str) -> Result<(), String> {
    match decode_key(encoding, secret) {
        Some(_) => Ok(()),
        None if encoding == KeyEncoding::Base64 => Err("this provider's secrets are base64".into()),
        None => Err("this provider's secrets are hex".into()),
    }
}

fn decode_key(encoding: KeyEncoding, secret: &str) -> Option<Vec<u8>> {
    let key = match encoding {
        KeyEncoding::Raw => Some(secret.as_bytes().to_vec()),
        KeyEncoding::Base64 => B64.decode(secret.trim()).ok(),
        KeyEncoding::Hex => hex::decode(secret.trim()).ok(),
    };
    key.filter(|k| !k.is_empty())
}

/// Splits a template into text and placeholders. Every `{` must open one of the
/// placeholders, and `{body}` must appear exactly once, so the signature always
/// covers the whole body.
fn parse_template(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open..];
        let (piece, len) = PLACEHOLDERS
            .into_iter()
            .find(|(name, _)| after.starts_with(name))
            .map(|(name, piece)| (piece, name.len()))
            .ok_or_else(|| {
                format!(
                    "hmac.template has an unknown placeholder at {:?}; use {{body}}, \
                     {{timestamp}}, {{id}}, {{url}} or {{method}}",
                    after.chars().take(12).collect::<String>()
                )
            })?;
        pieces.push(piece);
        rest = &after[len..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    if pieces.iter().filter(|p| **p == Piece::Body).count() != 1 {
        return Err("hmac.template must contain {body} exactly once".into());
    }
    Ok(pieces)
}

/// What the signature header holds: candidate MACs, and a keyed list's timestamp.
struct SignatureHeader<'r> {
    signatures: Vec<Vec<u8>>,
    timestamp: Option<&'r str>,
}

fn read_signature_header<'r>(
    scheme: &HmacScheme<'_>,
    req: &'r SignedRequest<'_>,
) -> Result<SignatureHeader<'r>, VerifyError> {
    let malformed = || VerifyError::Malformed(scheme.header.to_string());
    let value = req.header(scheme.header)?.trim();
    match scheme.format {
        SignatureFormat::Prefixed(prefix) => {
            let encoded = value.strip_prefix(prefix).ok_or_else(malformed)?;
            let signature = decode_signature(scheme.encoding, encoded).ok_or_else(malformed)?;
            Ok(SignatureHeader {
                signatures: vec![signature],
                timestamp: None,
            })
        }
        SignatureFormat::Keyed {
            separator,
            timestamp_key,
            signature_key,
        } => {
            let mut found = SignatureHeader {
                signatures: Vec::new(),
                timestamp: None,
            };
            // Whitespace also separates items: senders put a space after the
            // separator, or list a second `t=..,v1=..` group while rolling a secret.
            let items = value.split(|c: char| c == separator || c.is_whitespace());
            for (key, item) in items.filter_map(|i| i.split_once('=')) {
                if key == signature_key {
                    let signature =
                        decode_signature(scheme.encoding, item).ok_or_else(malformed)?;
                    found.signatures.push(signature);
                } else if key == timestamp_key {
                    found.timestamp = Some(item);
                }
            }
            if found.signatures.is_empty() {
                return Err(malformed());
            }
            Ok(found)
        }
    }
}

fn decode_signature(encoding: SignatureEncoding, encoded: &str) -> Option<Vec<u8>> {
    match encoding {
        SignatureEncoding::Hex => hex::decode(encoded).ok(),
        SignatureEncoding::Base64 => B64.decode(encoded).ok(),
        SignatureEncoding::Base64Url => B64_URL.decode(encoded.trim_end_matches('=')).ok(),
    }
}

/// The timestamp text as signed (empty when the scheme has none), after
/// checking it is a Unix time within the scheme's tolerance.
fn signed_timestamp<'r>(
    scheme: &HmacScheme<'_>,
    req: &'r SignedRequest<'_>,
    keyed: Option<&'r str>,
) -> Result<&'r str, VerifyError> {
    let Some(ts) = scheme.timestamp else {
        return Ok("");
    };
    let (text, malformed) = match ts.source {
        TimestampSource::Header(name) => (req.header(name)?.trim(), name),
        TimestampSource::Keyed => (keyed.unwrap_or(""), scheme.header),
    };
    let value: i64 = text
        .parse()
        .map_err(|_| VerifyError::Malformed(malformed.to_string()))?;
    let signed_at_s = match ts.unit {
        TimeUnit::Seconds => value,
        TimeUnit::Millis => value.div_euclid(1000),
    };
    let tolerance = i64::from(ts.tolerance_s);
    check_window(signed_at_s, req.now_s, tolerance, tolerance)?;
    Ok(text)
}

fn any_key_matches(
    algorithm: HmacAlgorithm,
    keys: &[Vec<u8>],
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> bool {
    let keys = keys.iter().map(Vec::as_slice);
    match algorithm {
        HmacAlgorithm::Sha1 => any_hmac_matches::<Hmac<Sha1>>(keys, parts, candidates),
        HmacAlgorithm::Sha256 => any_hmac_matches::<Hmac<Sha256>>(keys, parts, candidates),
        HmacAlgorithm::Sha512 => any_hmac_matches::<Hmac<Sha512>>(keys, parts, candidates),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;
    use crate::verify::{testing, HmacConfig, Provider, SchemeConfig};

    // Computed independently with Python's hmac/hashlib/base64:
    // `hmac.new(b"generic_secret", b'{"id":"gen_1"}', hashlib.<alg>).digest()`,
    // then `.hex()` or `base64.b64encode(...)`.
    const SECRET: &str = "generic_secret";
    const BODY: &[u8] = br#"{"id":"gen_1"}"#;
    const SHA1_HEX: &str = "8420119f10f05d313afefef409af976e808cd5e5";
    const SHA1_B64: &str = "hCARnxDwXTE6/v70Ca+XboCM1eU=";
    const SHA256_HEX: &str = "f1ebfb2f7c0617933cf51f6c7805984533b8888fb6012fea6fbaef6ac8219561";
    const SHA256_B64: &str = "8ev7L3wGF5M89R9seAWYRTO4iI+2AS/qb7rvasghlWE=";
    const SHA512_HEX: &str = "49fd48d3cbf5832030d1d074f4b098c3a68a0ee0122ec11a7329c80b59a8db58\
                              a2fe471ee56329a01553812728f6fecb79d3350e1d21e71a1fe76372847c8654";
    const SHA512_B64: &str = "Sf1I08v1gyAw0dB09LCYw6aKDuASLsEacynIC1mo21ii/kce5WMpoBVTgSco9v7L\
                              edM1Dh0h5xof52NyhHyGVA==";
    // Python: `hmac.new(b"generic_secret", b'msg_7.1700000000.' + BODY,
    // hashlib.sha256).hexdigest()`.
    const ID_TS_BODY_SHA256_HEX: &str =
        "0736be0a51aede76f4deb7863cae3d618d2fe9eb5c2c4e5807bc1c6ec4d4a945";
    // Python: `base64.b64encode(hmac.new(b"generic_secret", b'1700000000:' + BODY,
    // hashlib.sha512).digest())`.
    const TS_BODY_SHA512_B64: &str = "0OxUoDK0D47DhCFLtOkyHUlmyTVB0YMVsnHOkWHRH8N0D3N2uF0kFddD\
                                      EYvzasoB9OKa5y6Ozctyq5Pjaijn+w==";
    const T: i64 = 1_700_000_000;

    fn config(algorithm: HmacAlgorithm, encoding: SignatureEncoding) -> HmacConfig {
        HmacConfig {
            header: "X-Signature".into(),
            algorithm,
            encoding,
            prefix: None,
            template: "{body}".into(),
            timestamp_header: None,
            id_header: None,
            tolerance_s: 300,
        }
    }

    /// A config signing `{id}.{timestamp}.{body}` with SHA-256, hex.
    fn id_ts_config() -> HmacConfig {
        HmacConfig {
            template: "{id}.{timestamp}.{body}".into(),
            timestamp_header: Some("x-timestamp".into()),
            id_header: Some("x-delivery".into()),
            ..config(HmacAlgorithm::Sha256, SignatureEncoding::Hex)
        }
    }

    fn check(
        config: &HmacConfig,
        secrets: &[&str],
        headers: &[(&str, &str)],
        body: &[u8],
        now_s: i64,
    ) -> Result<(), VerifyError> {
        let scheme = config.scheme();
        testing::run(|s, r| verify(&scheme, s, r), secrets, headers, body, now_s)
    }

    #[test]
    fn every_algorithm_and_encoding_with_and_without_prefix() {
        use HmacAlgorithm::*;
        use SignatureEncoding::*;
        let cases = [
            (Sha1, Hex, SHA1_HEX),
            (Sha1, Base64, SHA1_B64),
            (Sha256, Hex, SHA256_HEX),
            (Sha256, Base64, SHA256_B64),
            (Sha512, Hex, SHA512_HEX),
            (Sha512, Base64, SHA512_B64),
        ];
        for (algorithm, encoding, sig) in cases {
            let plain = config(algorithm, encoding);
            let prefixed = HmacConfig {
                prefix: Some("sha=".into()),
                ..plain.clone()
            };
            let with_prefix = format!("sha={sig}");
            let label = format!("{algorithm:?}/{encoding:?}");
            let ok = |c: &HmacConfig, header: &str, secrets: &[&str]| {
                check(c, secrets, &[("x-signature", header)], BODY, T)
            };
            assert_eq!(ok(&plain, sig, &[SECRET]), Ok(()), "{label}");
            assert_eq!(ok(&prefixed, &with_prefix, &[SECRET]), Ok(()), "{label}");
            assert_eq!(
                ok(&plain, sig, &["old", SECRET]),
                Ok(()),
                "{label} rotation"
            );
            assert_eq!(
                ok(&plain, sig, &["other"]),
                Err(VerifyError::Mismatch),
                "{label} wrong secret"
            );
            assert_eq!(
                ok(&prefixed, sig, &[SECRET]),
                Err(VerifyError::Malformed("X-Signature".into())),
                "{label} prefix missing"
            );
            assert_eq!(
                check(&plain, &[SECRET], &[("x-signature", sig)], b"{}", T),
                Err(VerifyError::Mismatch),
                "{label} tampered body"
            );
        }
    }

    #[test]
    fn the_algorithm_is_part_of_the_configuration() {
        let sha1 = config(HmacAlgorithm::Sha1, SignatureEncoding::Hex);
        assert_eq!(
            check(&sha1, &[SECRET], &[("x-signature", SHA256_HEX)], BODY, T),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn a_template_with_timestamp_and_id() {
        let c = id_ts_config();
        let headers = |ts: &str, id: &str| {
            vec![
                ("x-signature", ID_TS_BODY_SHA256_HEX.to_string()),
                ("x-timestamp", ts.to_string()),
                ("x-delivery", id.to_string()),
            ]
        };
        let run = |h: Vec<(&str, String)>, body: &[u8], now: i64| {
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            check(&c, &["old", SECRET], &h, body, now)
        };
        let ts = T.to_string();
        assert_eq!(run(headers(&ts, "msg_7"), BODY, T + 300), Ok(()));
        assert_eq!(
            run(headers(&ts, "msg_8"), BODY, T),
            Err(VerifyError::Mismatch),
            "the id is signed"
        );
        assert_eq!(
            run(headers("1700000001", "msg_7"), BODY, T),
            Err(VerifyError::Mismatch),
            "the timestamp is signed"
        );
        assert_eq!(
            run(headers(&ts, "msg_7"), b"{}", T),
            Err(VerifyError::Mismatch)
        );
        let outside = Err(VerifyError::OutsideWindow {
            max_age_s: 300,
            max_ahead_s: 300,
        });
        assert_eq!(run(headers(&ts, "msg_7"), BODY, T + 301), outside);
        assert_eq!(run(headers(&ts, "msg_7"), BODY, T - 301), outside);
        assert_eq!(
            run(headers("soon", "msg_7"), BODY, T),
            Err(VerifyError::Malformed("x-timestamp".into()))
        );
        let no_id = vec![
            ("x-signature", ID_TS_BODY_SHA256_HEX.to_string()),
            ("x-timestamp", ts.clone()),
        ];
        assert_eq!(
            run(no_id, BODY, T),
            Err(VerifyError::MissingHeader("x-delivery".into()))
        );
    }

    #[test]
    fn a_template_with_timestamp_only_and_its_own_tolerance() {
        let c = HmacConfig {
            template: "{timestamp}:{body}".into(),
            timestamp_header: Some("x-timestamp".into()),
            prefix: Some("v1=".into()),
            tolerance_s: 60,
            ..config(HmacAlgorithm::Sha512, SignatureEncoding::Base64)
        };
        let sig = format!("v1={TS_BODY_SHA512_B64}");
        let h = [("x-signature", sig.as_str()), ("x-timestamp", "1700000000")];
        assert_eq!(check(&c, &[SECRET], &h, BODY, T + 60), Ok(()));
        assert_eq!(
            check(&c, &[SECRET], &h, BODY, T + 61),
            Err(VerifyError::OutsideWindow {
                max_age_s: 60,
                max_ahead_s: 60
            })
        );
    }

    #[test]
    fn missing_and_malformed_signatures() {
        let c = config(HmacAlgorithm::Sha256, SignatureEncoding::Hex);
        assert_eq!(
            check(&c, &[SECRET], &[], BODY, T),
            Err(VerifyError::MissingHeader("X-Signature".into()))
        );
        assert_eq!(
            check(&c, &[SECRET], &[("x-signature", "zz")], BODY, T),
            Err(VerifyError::Malformed("X-Signature".into()))
        );
        let b64 = config(HmacAlgorithm::Sha256, SignatureEncoding::Base64);
        assert_eq!(
            check(&b64, &[SECRET], &[("x-signature", "%%%")], BODY, T),
            Err(VerifyError::Malformed("X-Signature".into()))
        );
    }

    #[test]
    fn an_absent_or_unusable_config_refuses_everything() {
        let headers = HeaderList::new([("x-signature", SHA256_HEX)]);
        let req = SignedRequest {
            headers: &headers,
            body: BODY,
            now_s: T,
            url: "",
            method: "POST",
        };
        let secrets = [SECRET.to_string()];
        let configured = |hmac: Option<HmacConfig>| {
            let config = SchemeConfig {
                hmac,
                api_key: None,
            };
            crate::verify::verify(Provider::named("hmac"), &secrets, &config, &req)
        };
        assert_eq!(configured(None), Err(VerifyError::Unconfigured("hmac")));
        let unsigned_body = HmacConfig {
            template: "static".into(),
            ..config(HmacAlgorithm::Sha256, SignatureEncoding::Hex)
        };
        assert_eq!(
            configured(Some(unsigned_body)),
            Err(VerifyError::Unconfigured("hmac"))
        );
    }

    #[test]
    fn templates_parse_into_text_and_placeholders() {
        assert_eq!(
            parse_template("v0:{timestamp}:{body}"),
            Ok(vec![
                Piece::Text("v0:"),
                Piece::Timestamp,
                Piece::Text(":"),
                Piece::Body
            ])
        );
        assert_eq!(
            parse_template("{id}{body}"),
            Ok(vec![Piece::Id, Piece::Body])
        );
        assert!(parse_template("{body}{body}").is_err());
        assert!(parse_template("{timestamp}").is_err());
        assert!(parse_template("{bdy}")
            .unwrap_err()
            .contains("unknown placeholder"));
        assert!(parse_template("{body").is_err());
    }

    #[test]
    fn validation_explains_what_is_wrong() {
        let base = config(HmacAlgorithm::Sha256, SignatureEncoding::Hex);
        let cases: &[(HmacConfig, &str)] = &[
            (
                HmacConfig {
                    header: "bad header".into(),
                    ..base.clone()
                },
                "hmac.header must be an HTTP header name",
            ),
            (
                HmacConfig {
                    prefix: Some(String::new()),
                    ..base.clone()
                },
                "hmac.prefix must not be empty",
            ),
            (
                HmacConfig {
                    template: "{timestamp}.{body}".into(),
                    ..base.clone()
                },
                "set timestamp_header",
            ),
            (
                HmacConfig {
                    timestamp_header: Some("x-ts".into()),
                    ..base.clone()
                },
                "an unsigned timestamp protects nothing",
            ),
            (
                HmacConfig {
                    template: "{id}.{body}".into(),
                    ..base.clone()
                },
                "set id_header",
            ),
            (
                HmacConfig {
                    tolerance_s: 0,
                    ..base.clone()
                },
                "hmac.tolerance_s must be within",
            ),
        ];
        for (config, expected) in cases {
            let err = config.validate().unwrap_err();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
        let id_for_dedup_only = HmacConfig {
            id_header: Some("x-delivery".into()),
            ..base.clone()
        };
        assert_eq!(id_for_dedup_only.validate(), Ok(()));
        assert_eq!(id_ts_config().validate(), Ok(()));
    }

    /// Runs a preset scheme over one header map, at `now_s`.
    fn run_scheme(
        scheme: &HmacScheme<'_>,
        secret: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        now_s: i64,
    ) -> Result<(), VerifyError> {
        testing::run(|s, r| verify(scheme, s, r), &[secret], headers, body, now_s)
    }

    fn row_scheme(name: &str) -> HmacScheme<'static> {
        match Provider::named(name).spec().signing {
            crate::verify::Signing::Hmac(scheme) => scheme,
            other => panic!("{name} signs with {other:?}"),
        }
    }

    // Python: `hmac.new(b"whsec_test_secret", b'1700000000.' + BODY,
    // hashlib.sha256).hexdigest()`.
    const STRIPE_BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
    const STRIPE_SIG: &str = "0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd";

    #[test]
    fn a_keyed_header_takes_any_listed_signature_and_ignores_other_keys() {
        let stripe = row_scheme("stripe");
        let check = |value: &str| {
            run_scheme(
                &stripe,
                "whsec_test_secret",
                &[("stripe-signature", value)],
                STRIPE_BODY,
                T,
            )
        };
        let rolling = format!("t={T},v1={},v0=ff,v1={STRIPE_SIG}", "00".repeat(32));
        assert_eq!(check(&rolling), Ok(()));
        assert_eq!(
            check(&format!("t={}, v1={STRIPE_SIG}", T + 1)),
            Err(VerifyError::Mismatch)
        );
        let malformed = Err(VerifyError::Malformed("stripe-signature".into()));
        for bad in [
            format!("v1={STRIPE_SIG}"),
            format!("t={T}"),
            format!("t=soon,v1={STRIPE_SIG}"),
            format!("t={T},v1=xyz"),
        ] {
            assert_eq!(check(&bad), malformed, "{bad}");
        }
    }

    // Python: `base64.urlsafe_b64encode(hmac.new(base64.b64decode("c2VjcmV0LWtleQ=="),
    // b"POST https://relay.example/ep_1 1700000000123 {}", hashlib.sha256).digest())`,
    // padding stripped.
    #[test]
    fn millisecond_times_the_url_the_method_base64url_and_a_base64_key() {
        let scheme = HmacScheme {
            header: "x-sig",
            algorithm: HmacAlgorithm::Sha256,
            encoding: SignatureEncoding::Base64Url,
            format: SignatureFormat::Prefixed(""),
            template: "{method} {url} {timestamp} {body}",
            timestamp: Some(Timestamp {
                source: TimestampSource::Header("x-ts"),
                unit: TimeUnit::Millis,
                tolerance_s: 300,
            }),
            id_header: None,
            key: KeyEncoding::Base64,
        };
        assert_eq!(validate(&scheme), Ok(()));
        let sig = "7p7zoeSGtalCTOFkmEd0CuvnERnAsoVffR9_94NF-K4";
        let headers = [("x-sig", sig), ("x-ts", "1700000000123")];
        assert_eq!(
            run_scheme(&scheme, "c2VjcmV0LWtleQ==", &headers, b"{}", T + 300),
            Ok(())
        );
        assert_eq!(
            run_scheme(&scheme, "c2VjcmV0LWtleQ==", &headers, b"{}", T + 301),
            Err(VerifyError::OutsideWindow {
                max_age_s: 300,
                max_ahead_s: 300
            })
        );
        assert_eq!(
            run_scheme(&scheme, "c2VjcmV0LWtleQ", &headers, b"{}", T),
            Err(VerifyError::Mismatch),
            "a secret that is not base64 is no key"
        );
        assert!(validate_key(KeyEncoding::Base64, "%%%").is_err());
        assert!(validate_key(KeyEncoding::Hex, "6b6579").is_ok());
        assert!(validate_key(KeyEncoding::Hex, "key").is_err());
    }

    #[test]
    fn a_keyed_timestamp_needs_a_keyed_header() {
        let scheme = HmacScheme {
            format: SignatureFormat::Prefixed(""),
            ..row_scheme("stripe")
        };
        assert!(validate(&scheme).unwrap_err().contains("keyed"));
    }
}
