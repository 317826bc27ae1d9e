//! Zoom: `x-zm-signature: v0=<hex>`, HMAC-SHA256 of
//! `v0:{x-zm-request-timestamp}:{body}` with the app's secret token.

use super::{verify_v0_timestamped, SignedRequest, VerifyError};

const SIGNATURE: &str = "x-zm-signature";
const TIMESTAMP: &str = "x-zm-request-timestamp";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    verify_v0_timestamped(secrets, req, SIGNATURE, TIMESTAMP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::testing;

    // Computed independently: Python `hmac.new(b"zoom_secret_token",
    // b'v0:1700000000:{"event":"meeting.started","payload":{}}', hashlib.sha256).hexdigest()`.
    const SECRET: &str = "zoom_secret_token";
    const TS: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"event":"meeting.started","payload":{}}"#;
    const SIG: &str = "v0=4deeff0e090b0b04feb5548e0a13a9274ed24a54dd7a9ba7a91a116514bec6a6";

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
            ("x-zm-signature", sig),
            ("x-zm-request-timestamp", "1700000000"),
        ]
    }

    #[test]
    fn accepts_the_independent_vector_and_rotation() {
        assert_eq!(check(&[SECRET], &signed(SIG), BODY, TS), Ok(()));
        assert_eq!(check(&["new", SECRET], &signed(SIG), BODY, TS), Ok(()));
    }

    #[test]
    fn refuses_wrong_secret_tampered_body_and_expired() {
        assert_eq!(
            check(&["other"], &signed(SIG), BODY, TS),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], &signed(SIG), b"{}", TS),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], &signed(SIG), BODY, TS + 301),
            Err(VerifyError::OutsideTolerance)
        );
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        assert_eq!(
            check(&[SECRET], &signed(SIG)[..1], BODY, TS),
            Err(VerifyError::MissingHeader(TIMESTAMP))
        );
        assert_eq!(
            check(&[SECRET], &signed(SIG)[1..], BODY, TS),
            Err(VerifyError::MissingHeader(SIGNATURE))
        );
        assert_eq!(
            check(&[SECRET], &signed(&SIG[3..]), BODY, TS),
            Err(VerifyError::Malformed(SIGNATURE))
        );
        let bad_ts = [("x-zm-signature", SIG), ("x-zm-request-timestamp", "x")];
        assert_eq!(
            check(&[SECRET], &bad_ts, BODY, TS),
            Err(VerifyError::Malformed(TIMESTAMP))
        );
    }
}
