//! Standard Webhooks (the scheme Svix senders such as Clerk and Resend use):
//! `webhook-id`, `webhook-timestamp`, and `webhook-signature: v1,<base64> [v1,<base64>...]`,
//! HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the base64 after `whsec_`.
//!
//! The relay also *signs* its outbound requests with this scheme ([`sign`]), using
//! each endpoint's own relay secret, so a destination verifies one scheme whatever
//! the provider.

use super::{any_hmac_sha256_matches, check_tolerance, hmac_sha256, SignedRequest, VerifyError};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::Mac;

/// The header names a sender uses: the specification's, or the `svix-` ones
/// that Svix (and so Clerk, Resend and others) sends unless it is white-labelled.
struct Names {
    id: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

const STANDARD: Names = Names {
    id: "webhook-id",
    timestamp: "webhook-timestamp",
    signature: "webhook-signature",
};

const SVIX: Names = Names {
    id: "svix-id",
    timestamp: "svix-timestamp",
    signature: "svix-signature",
};

/// The headers the delivery id may be in, in the order they are looked for.
pub const ID_HEADERS: &[&str] = &[STANDARD.id, SVIX.id];
/// The headers the scheme reads under their standard names, the signature's
/// first (for the registry).
pub(super) const HEADERS: &[&str] = &[STANDARD.signature, STANDARD.timestamp, STANDARD.id];
const SECRET_PREFIX: &str = "whsec_";

/// The key bytes of a `whsec_<base64>` secret (the prefix is optional, as in the
/// reference libraries).
pub fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    B64.decode(b64).ok().filter(|k| !k.is_empty())
}

/// A fresh `whsec_` secret from 32 random bytes.
pub fn encode_secret(key: &[u8; 32]) -> String {
    format!("{SECRET_PREFIX}{}", B64.encode(key))
}

/// The `webhook-signature` header value for an outbound request.
pub fn sign(key: &[u8], msg_id: &str, timestamp_s: i64, body: &[u8]) -> String {
    let ts = timestamp_s.to_string();
    let mac = hmac_sha256(key, &[msg_id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let names = match req.headers.non_blank(SVIX.signature) {
        Some(_) if req.headers.non_blank(STANDARD.signature).is_none() => SVIX,
        _ => STANDARD,
    };
    let msg_id = req.header(names.id)?;
    let ts_text = req.header(names.timestamp)?.trim();
    let timestamp: i64 = ts_text
        .parse()
        .map_err(|_| VerifyError::Malformed(names.timestamp.into()))?;
    let signatures = parse_signatures(req.header(names.signature)?, names.signature)?;
    check_tolerance(timestamp, req.now_s)?;
    let keys: Vec<Vec<u8>> = secrets.iter().filter_map(|s| decode_secret(s)).collect();
    let parts: [&[u8]; 5] = [msg_id.as_bytes(), b".", ts_text.as_bytes(), b".", req.body];
    if any_hmac_sha256_matches(keys.iter().map(Vec::as_slice), &parts, &signatures) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Every `v1,<base64>` entry; other versions (e.g. asymmetric `v1a`) are skipped.
fn parse_signatures(value: &str, header: &str) -> Result<Vec<Vec<u8>>, VerifyError> {
    let sigs: Vec<Vec<u8>> = value
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| B64.decode(b64).ok())
        .collect();
    if sigs.is_empty() {
        return Err(VerifyError::Malformed(header.into()));
    }
    Ok(sigs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    // The example published with the Standard Webhooks / Svix verification docs.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(sig: &str) -> HeaderList {
        HeaderList::new([
            ("webhook-id", MSG_ID.to_string()),
            ("webhook-timestamp", TS.to_string()),
            ("webhook-signature", sig.to_string()),
        ])
    }

    fn check(sig: &str, body: &[u8], now_s: i64) -> Result<(), VerifyError> {
        let h = headers(sig);
        verify(
            &[SECRET.into()],
            &SignedRequest {
                headers: &h,
                body,
                now_s,
                url: "https://relay.example/ep_1",
                method: "POST",
            },
        )
    }

    #[test]
    fn accepts_the_published_example() {
        assert_eq!(check(SIG, BODY, TS), Ok(()));
    }

    #[test]
    fn sign_reproduces_the_published_example() {
        let key = decode_secret(SECRET).unwrap();
        assert_eq!(sign(&key, MSG_ID, TS, BODY), SIG);
    }

    #[test]
    fn accepts_any_of_several_signatures() {
        let multi = format!("v1a,abcd v1,{} {SIG}", B64.encode([0u8; 32]));
        assert_eq!(check(&multi, BODY, TS), Ok(()));
    }

    #[test]
    fn refuses_tampered_expired_and_malformed() {
        assert_eq!(check(SIG, b"{}", TS), Err(VerifyError::Mismatch));
        assert_eq!(
            check(SIG, BODY, TS + 301),
            Err(VerifyError::OutsideTolerance)
        );
        assert_eq!(
            check(SIG, BODY, TS - 301),
            Err(VerifyError::OutsideTolerance)
        );
        assert_eq!(
            check("v2,abc", BODY, TS),
            Err(VerifyError::Malformed(STANDARD.signature.into()))
        );
        let no_id = HeaderList::new([("webhook-signature", SIG)]);
        let req = SignedRequest {
            headers: &no_id,
            body: BODY,
            now_s: TS,
            url: "https://relay.example/ep_1",
            method: "POST",
        };
        assert_eq!(
            verify(&[SECRET.into()], &req),
            Err(VerifyError::MissingHeader(STANDARD.id.into()))
        );
    }

    #[test]
    fn svix_header_names_are_read_when_the_standard_ones_are_absent() {
        let svix = HeaderList::new([
            ("svix-id", MSG_ID.to_string()),
            ("svix-timestamp", TS.to_string()),
            ("svix-signature", SIG.to_string()),
        ]);
        let req = |headers| SignedRequest {
            headers,
            body: BODY,
            now_s: TS,
            url: "https://relay.example/ep_1",
            method: "POST",
        };
        assert_eq!(verify(&[SECRET.into()], &req(&svix)), Ok(()));
        let partial = HeaderList::new([("svix-id", MSG_ID), ("svix-signature", SIG)]);
        assert_eq!(
            verify(&[SECRET.into()], &req(&partial)),
            Err(VerifyError::MissingHeader("svix-timestamp".into()))
        );
    }

    #[test]
    fn secret_round_trips() {
        let key = [7u8; 32];
        assert_eq!(decode_secret(&encode_secret(&key)).unwrap(), key);
        assert_eq!(decode_secret("whsec_"), None);
    }
}
