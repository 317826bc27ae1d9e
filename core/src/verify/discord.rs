//! Discord interactions: `X-Signature-Ed25519: <hex signature>` over
//! `{X-Signature-Timestamp}{body}`. Asymmetric: the endpoint's "secret" is the
//! application's public key in hex, as shown in the developer portal. The
//! timestamp (Unix seconds) is also held to the relay's ±300 s tolerance.
//!
//! Only the signature is handled here: Discord's endpoint check (a PING that
//! must be answered `{"type":1}`) needs an answer the relay's ack does not give.

use super::{check_tolerance, SignedRequest, VerifyError};
use ed25519_dalek::{Signature, VerifyingKey};

const SIGNATURE: &str = "x-signature-ed25519";
const TIMESTAMP: &str = "x-signature-timestamp";
/// The headers the scheme reads, the signature's first (for the registry).
pub(super) const HEADERS: &[&str] = &[SIGNATURE, TIMESTAMP];

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let ts_text = req.header(TIMESTAMP)?.trim();
    let timestamp: i64 = ts_text
        .parse()
        .map_err(|_| VerifyError::Malformed(TIMESTAMP.into()))?;
    let signature = parse_signature(req.header(SIGNATURE)?)?;
    check_tolerance(timestamp, req.now_s)?;
    let message = [ts_text.as_bytes(), req.body].concat();
    let verifies = |key: &VerifyingKey| key.verify_strict(&message, &signature).is_ok();
    if secrets
        .iter()
        .filter_map(|s| decode_public_key(s))
        .any(|k| verifies(&k))
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

pub(super) fn validate_public_key(secret: &str) -> Result<(), String> {
    decode_public_key(secret)
        .map(|_| ())
        .ok_or_else(|| "discord secrets are the application's public key: 64 hex digits".into())
}

fn decode_public_key(hex_key: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

fn parse_signature(value: &str) -> Result<Signature, VerifyError> {
    let bytes: [u8; 64] = hex::decode(value.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(VerifyError::Malformed(SIGNATURE.into()))?;
    Ok(Signature::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::testing;

    // Computed independently with Python `cryptography`:
    // `k = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))`;
    // PUBLIC_KEY is `k.public_key()` raw, hex; SIG is `k.sign(b"1700000000" + BODY).hex()`.
    // OTHER_KEY is the public key of `bytes(range(32, 64))`.
    const PUBLIC_KEY: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
    const OTHER_KEY: &str = "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7";
    const TS: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"type":1,"id":"1234567890"}"#;
    const SIG: &str = "c3d605151b214b5169bf247b10e84cd47e03853150777c25765590ebea768ff2\
                       c8cbba37683e8d6fd6b8124ca9d3c4e6f3320f965adfe1a054d274d3a9d0b800";

    fn check(
        secrets: &[&str],
        headers: &[(&str, &str)],
        body: &[u8],
        now_s: i64,
    ) -> Result<(), VerifyError> {
        testing::run(verify, secrets, headers, body, now_s)
    }

    fn signed(sig: &str) -> [(&str, &str); 2] {
        [
            ("X-Signature-Ed25519", sig),
            ("X-Signature-Timestamp", "1700000000"),
        ]
    }

    #[test]
    fn accepts_the_independent_vector_and_rotation() {
        assert_eq!(check(&[PUBLIC_KEY], &signed(SIG), BODY, TS), Ok(()));
        assert_eq!(
            check(&[OTHER_KEY, PUBLIC_KEY], &signed(SIG), BODY, TS),
            Ok(())
        );
    }

    #[test]
    fn refuses_another_key_tampering_and_expired() {
        assert_eq!(
            check(&[OTHER_KEY], &signed(SIG), BODY, TS),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[PUBLIC_KEY], &signed(SIG), b"{}", TS),
            Err(VerifyError::Mismatch)
        );
        let moved = [
            ("X-Signature-Ed25519", SIG),
            ("X-Signature-Timestamp", "1700000001"),
        ];
        assert_eq!(
            check(&[PUBLIC_KEY], &moved, BODY, TS),
            Err(VerifyError::Mismatch),
            "the timestamp is signed"
        );
        assert_eq!(
            check(&[PUBLIC_KEY], &signed(SIG), BODY, TS + 301),
            Err(VerifyError::OutsideTolerance)
        );
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        assert_eq!(
            check(&[PUBLIC_KEY], &signed(SIG)[..1], BODY, TS),
            Err(VerifyError::MissingHeader(TIMESTAMP.into()))
        );
        assert_eq!(
            check(&[PUBLIC_KEY], &signed(SIG)[1..], BODY, TS),
            Err(VerifyError::MissingHeader(SIGNATURE.into()))
        );
        assert_eq!(
            check(&[PUBLIC_KEY], &signed(&SIG[..126]), BODY, TS),
            Err(VerifyError::Malformed(SIGNATURE.into())),
            "63 bytes"
        );
        assert_eq!(
            check(&[PUBLIC_KEY], &signed("zz"), BODY, TS),
            Err(VerifyError::Malformed(SIGNATURE.into()))
        );
    }

    #[test]
    fn secrets_must_be_public_keys() {
        assert!(validate_public_key(PUBLIC_KEY).is_ok());
        assert!(validate_public_key(&PUBLIC_KEY[..62]).is_err());
        assert!(validate_public_key("not hex").is_err());
    }
}
