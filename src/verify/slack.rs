//! Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of
//! `v0:{X-Slack-Request-Timestamp}:{body}` with the app's signing secret.

use super::{verify_v0_timestamped, SignedRequest, VerifyError};

const SIGNATURE: &str = "x-slack-signature";
const TIMESTAMP: &str = "x-slack-request-timestamp";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    verify_v0_timestamped(secrets, req, SIGNATURE, TIMESTAMP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::testing;

    // The example published in Slack's "Verifying requests from Slack" documentation.
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: i64 = 1_531_420_618;
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow\
&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner\
&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands\
%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN\
&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

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
            ("X-Slack-Signature", sig),
            ("X-Slack-Request-Timestamp", "1531420618"),
        ]
    }

    #[test]
    fn accepts_the_published_example() {
        assert_eq!(check(&[SECRET], &signed(SIG), BODY, TS + 10), Ok(()));
    }

    #[test]
    fn any_live_secret_verifies_during_rotation() {
        assert_eq!(check(&["new", SECRET], &signed(SIG), BODY, TS), Ok(()));
    }

    #[test]
    fn refuses_wrong_secret_tampered_body_and_expired() {
        assert_eq!(
            check(&["other"], &signed(SIG), BODY, TS),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], &signed(SIG), b"token=x", TS),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], &signed(SIG), BODY, TS + 301),
            Err(VerifyError::OutsideTolerance)
        );
        assert_eq!(
            check(&[SECRET], &signed(SIG), BODY, TS - 301),
            Err(VerifyError::OutsideTolerance)
        );
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        assert_eq!(
            check(&[SECRET], &[("X-Slack-Signature", SIG)], BODY, TS),
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
        assert_eq!(
            check(&[SECRET], &signed("v0=xyz"), BODY, TS),
            Err(VerifyError::Malformed(SIGNATURE))
        );
        let bad_ts = [
            ("X-Slack-Signature", SIG),
            ("X-Slack-Request-Timestamp", "now"),
        ];
        assert_eq!(
            check(&[SECRET], &bad_ts, BODY, TS),
            Err(VerifyError::Malformed(TIMESTAMP))
        );
    }
}
