//! `hmac`: an operator-described HMAC scheme, for senders without a scheme of
//! their own here. The endpoint's [`HmacConfig`] names the signature header, the
//! algorithm (SHA-1, SHA-256, SHA-512), the encoding (hex or base64), an optional
//! prefix, and the signed content as a template over `{body}`, `{timestamp}` and
//! `{id}`. A signed timestamp (Unix seconds) is checked against `tolerance_s`.

use super::config::check_header_name;
use super::{
    any_hmac_matches, check_window, HmacAlgorithm, HmacConfig, SignatureEncoding, SignedRequest,
    VerifyError,
};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::Hmac;
use sha1::Sha1;
use sha2::{Sha256, Sha512};

/// Generous enough for any sender's clock; beyond it a replay window is meaningless.
const MAX_TOLERANCE_S: u32 = 86_400;

/// One piece of the signed-content template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'t> {
    Text(&'t str),
    Body,
    Timestamp,
    Id,
}

pub fn verify(
    secrets: &[String],
    config: Option<&HmacConfig>,
    req: &SignedRequest<'_>,
) -> Result<(), VerifyError> {
    let config = config
        .filter(|c| validate(c).is_ok())
        .ok_or(VerifyError::Unconfigured("hmac"))?;
    let template =
        parse_template(&config.template).map_err(|_| VerifyError::Unconfigured("hmac"))?;
    let signature = read_signature(config, req)?;
    let timestamp = signed_timestamp(config, req)?;
    let id = match &config.id_header {
        Some(name) if template.contains(&Piece::Id) => req.named_header(name)?.trim(),
        _ => "",
    };
    let parts: Vec<&[u8]> = template
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.as_bytes(),
            Piece::Body => req.body,
            Piece::Timestamp => timestamp.as_bytes(),
            Piece::Id => id.as_bytes(),
        })
        .collect();
    if any_key_matches(config.algorithm, secrets, &parts, &[signature]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// What [`super::config::validate`] checks for an `hmac` section.
pub(super) fn validate(config: &HmacConfig) -> Result<(), String> {
    check_header_name("hmac.header", &config.header)?;
    if config.prefix.as_deref() == Some("") {
        return Err("hmac.prefix must not be empty; leave it out for no prefix".into());
    }
    let template = parse_template(&config.template)?;
    let signs = |p: Piece| template.contains(&p);
    match (&config.timestamp_header, signs(Piece::Timestamp)) {
        (Some(name), true) => check_header_name("hmac.timestamp_header", name)?,
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
    match (&config.id_header, signs(Piece::Id)) {
        (Some(name), _) => check_header_name("hmac.id_header", name)?,
        (None, true) => return Err("hmac.template uses {id}: set id_header".into()),
        (None, false) => {}
    }
    if !(1..=MAX_TOLERANCE_S).contains(&config.tolerance_s) {
        return Err(format!(
            "hmac.tolerance_s must be within 1..={MAX_TOLERANCE_S}"
        ));
    }
    Ok(())
}

/// Splits a template into text and placeholders. Every `{` must open one of the
/// three placeholders, and `{body}` must appear exactly once, so the signature
/// always covers the whole body.
fn parse_template(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open..];
        let (piece, len) = [
            ("{body}", Piece::Body),
            ("{timestamp}", Piece::Timestamp),
            ("{id}", Piece::Id),
        ]
        .into_iter()
        .find(|(name, _)| after.starts_with(name))
        .map(|(name, piece)| (piece, name.len()))
        .ok_or_else(|| {
            format!(
                "hmac.template has an unknown placeholder at {:?}; use {{body}}, {{timestamp}} or {{id}}",
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

fn read_signature(config: &HmacConfig, req: &SignedRequest<'_>) -> Result<Vec<u8>, VerifyError> {
    let malformed = || VerifyError::MalformedNamedHeader(config.header.clone());
    let value = req.named_header(&config.header)?.trim();
    let encoded = match &config.prefix {
        Some(prefix) => value.strip_prefix(prefix.as_str()).ok_or_else(malformed)?,
        None => value,
    };
    match config.encoding {
        SignatureEncoding::Hex => hex::decode(encoded).map_err(|_| malformed()),
        SignatureEncoding::Base64 => B64.decode(encoded).map_err(|_| malformed()),
    }
}

/// The timestamp text as signed (empty when the template has none), after
/// checking it is a Unix time within the configured tolerance.
fn signed_timestamp<'r>(
    config: &HmacConfig,
    req: &'r SignedRequest<'_>,
) -> Result<&'r str, VerifyError> {
    let Some(name) = &config.timestamp_header else {
        return Ok("");
    };
    let text = req.named_header(name)?.trim();
    let signed_at: i64 = text
        .parse()
        .map_err(|_| VerifyError::MalformedNamedHeader(name.clone()))?;
    let tolerance = i64::from(config.tolerance_s);
    check_window(signed_at, req.now_s, tolerance, tolerance)?;
    Ok(text)
}

fn any_key_matches(
    algorithm: HmacAlgorithm,
    secrets: &[String],
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> bool {
    let keys = secrets.iter().map(|s| s.as_bytes());
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
        let headers = HeaderList::new(headers.iter().copied());
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let req = SignedRequest {
            headers: &headers,
            body,
            now_s,
            url: "https://relay.example/ep_1",
            method: "POST",
        };
        verify(&secrets, Some(config), &req)
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
                Err(VerifyError::MalformedNamedHeader("X-Signature".into())),
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
            Err(VerifyError::MalformedNamedHeader("x-timestamp".into()))
        );
        let no_id = vec![
            ("x-signature", ID_TS_BODY_SHA256_HEX.to_string()),
            ("x-timestamp", ts.clone()),
        ];
        assert_eq!(
            run(no_id, BODY, T),
            Err(VerifyError::MissingNamedHeader("x-delivery".into()))
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
            Err(VerifyError::MissingNamedHeader("X-Signature".into()))
        );
        assert_eq!(
            check(&c, &[SECRET], &[("x-signature", "zz")], BODY, T),
            Err(VerifyError::MalformedNamedHeader("X-Signature".into()))
        );
        let b64 = config(HmacAlgorithm::Sha256, SignatureEncoding::Base64);
        assert_eq!(
            check(&b64, &[SECRET], &[("x-signature", "%%%")], BODY, T),
            Err(VerifyError::MalformedNamedHeader("X-Signature".into()))
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
        assert_eq!(
            verify(&secrets, None, &req),
            Err(VerifyError::Unconfigured("hmac"))
        );
        let unsigned_body = HmacConfig {
            template: "static".into(),
            ..config(HmacAlgorithm::Sha256, SignatureEncoding::Hex)
        };
        assert_eq!(
            verify(&secrets, Some(&unsigned_body), &req),
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
            let err = validate(config).unwrap_err();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
        let id_for_dedup_only = HmacConfig {
            id_header: Some("x-delivery".into()),
            ..base.clone()
        };
        assert_eq!(validate(&id_for_dedup_only), Ok(()));
        assert_eq!(validate(&id_ts_config()), Ok(()));
    }
}
