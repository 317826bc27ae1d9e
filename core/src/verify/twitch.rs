//! Twitch EventSub: `Twitch-Eventsub-Message-Signature: sha256=<hex>`, HMAC-SHA256
//! of `{Twitch-Eventsub-Message-Id}{Twitch-Eventsub-Message-Timestamp}{body}` with
//! the secret given when the subscription was created. The timestamp is RFC 3339.

use super::{any_hmac_sha256_matches, check_window, SignedRequest, VerifyError, TOLERANCE_S};
use chrono::DateTime;

const ID: &str = "twitch-eventsub-message-id";
const TIMESTAMP: &str = "twitch-eventsub-message-timestamp";
const SIGNATURE: &str = "twitch-eventsub-message-signature";
/// The headers the scheme reads, the signature's first (for the registry).
pub(super) const HEADERS: &[&str] = &[SIGNATURE, TIMESTAMP, ID];

/// Twitch's documentation says to refuse messages older than 10 minutes; the
/// future side keeps the relay's usual ±300 s allowance for clock skew.
pub(super) const MAX_AGE_S: i64 = 600;

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let msg_id = req.header(ID)?.trim();
    let ts_text = req.header(TIMESTAMP)?.trim();
    let signed_at = DateTime::parse_from_rfc3339(ts_text)
        .map_err(|_| VerifyError::Malformed(TIMESTAMP.into()))?
        .timestamp();
    let signature = parse_signature(req.header(SIGNATURE)?)?;
    check_window(signed_at, req.now_s, MAX_AGE_S, TOLERANCE_S)?;
    let keys = secrets.iter().map(|s| s.as_bytes());
    let parts: [&[u8]; 3] = [msg_id.as_bytes(), ts_text.as_bytes(), req.body];
    if any_hmac_sha256_matches(keys, &parts, &[signature]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Twitch accepts secrets of 10 to 100 ASCII characters when a subscription is made.
pub(super) fn validate_secret(secret: &str) -> Result<(), String> {
    if secret.is_ascii() && (10..=100).contains(&secret.len()) {
        Ok(())
    } else {
        Err("twitch secrets are 10 to 100 ASCII characters".into())
    }
}

fn parse_signature(value: &str) -> Result<Vec<u8>, VerifyError> {
    let hex_sig = value
        .trim()
        .strip_prefix("sha256=")
        .ok_or(VerifyError::Malformed(SIGNATURE.into()))?;
    hex::decode(hex_sig).map_err(|_| VerifyError::Malformed(SIGNATURE.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::testing;

    // Computed independently: Python `hmac.new(b"twitch_test_secret",
    // (MSG_ID + TS_TEXT).encode() + BODY, hashlib.sha256).hexdigest()`.
    const SECRET: &str = "twitch_test_secret";
    const MSG_ID: &str = "e76c6bd4-55c9-4987-8304-da1588d8988b";
    const TS_TEXT: &str = "2023-11-14T22:13:20.123456789Z";
    const T: i64 = 1_700_000_000; // TS_TEXT, whole seconds
    const BODY: &[u8] = br#"{"subscription":{"type":"channel.follow"}}"#;
    const SIG: &str = "sha256=5e0279eedc7b63899105bce2532317af7e5e3431e081b89b94e67cde981c2773";

    fn check(
        secrets: &[&str],
        headers: &[(&str, &str)],
        body: &[u8],
        now_s: i64,
    ) -> Result<(), VerifyError> {
        testing::run(verify, secrets, headers, body, now_s)
    }

    fn signed<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> [(&'a str, &'a str); 3] {
        [
            ("Twitch-Eventsub-Message-Id", id),
            ("Twitch-Eventsub-Message-Timestamp", ts),
            ("Twitch-Eventsub-Message-Signature", sig),
        ]
    }

    #[test]
    fn accepts_the_independent_vector_and_rotation() {
        let h = signed(MSG_ID, TS_TEXT, SIG);
        assert_eq!(check(&[SECRET], &h, BODY, T + 1), Ok(()));
        assert_eq!(check(&["new-secret-x", SECRET], &h, BODY, T), Ok(()));
    }

    #[test]
    fn refuses_wrong_secret_tampering_and_a_changed_id() {
        let h = signed(MSG_ID, TS_TEXT, SIG);
        assert_eq!(
            check(&["other-secret"], &h, BODY, T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(check(&[SECRET], &h, b"{}", T), Err(VerifyError::Mismatch));
        let other_id = signed("f00", TS_TEXT, SIG);
        assert_eq!(
            check(&[SECRET], &other_id, BODY, T),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn accepts_ten_minutes_old_and_refuses_older_or_far_ahead() {
        let h = signed(MSG_ID, TS_TEXT, SIG);
        let outside = Err(VerifyError::OutsideWindow {
            max_age_s: 600,
            max_ahead_s: 300,
        });
        assert_eq!(check(&[SECRET], &h, BODY, T + 600), Ok(()));
        assert_eq!(check(&[SECRET], &h, BODY, T + 601), outside);
        assert_eq!(check(&[SECRET], &h, BODY, T - 300), Ok(()));
        assert_eq!(check(&[SECRET], &h, BODY, T - 301), outside);
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        let h = signed(MSG_ID, TS_TEXT, SIG);
        assert_eq!(
            check(&[SECRET], &h[1..], BODY, T),
            Err(VerifyError::MissingHeader(ID.into()))
        );
        assert_eq!(
            check(&[SECRET], &h[..2], BODY, T),
            Err(VerifyError::MissingHeader(SIGNATURE.into()))
        );
        assert_eq!(
            check(&[SECRET], &signed(MSG_ID, "1700000000", SIG), BODY, T),
            Err(VerifyError::Malformed(TIMESTAMP.into()))
        );
        assert_eq!(
            check(&[SECRET], &signed(MSG_ID, TS_TEXT, &SIG[7..]), BODY, T),
            Err(VerifyError::Malformed(SIGNATURE.into()))
        );
    }

    #[test]
    fn secrets_follow_twitch_limits() {
        assert!(validate_secret("123456789").is_err());
        assert!(validate_secret("1234567890").is_ok());
        assert!(validate_secret(&"x".repeat(101)).is_err());
        assert!(validate_secret("sécret-sécret").is_err());
    }
}
