//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>...]`, HMAC-SHA256
//! of `{ts}:{body}` with the notification destination's secret key. Several `h1`
//! values appear while Paddle rotates a secret; any one may match.

use super::{any_hmac_sha256_matches, check_tolerance, SignedRequest, VerifyError};

const HEADER: &str = "paddle-signature";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let (ts_text, signatures) = parse_header(req.header(HEADER)?)?;
    let timestamp: i64 = ts_text
        .parse()
        .map_err(|_| VerifyError::Malformed(HEADER))?;
    check_tolerance(timestamp, req.now_s)?;
    let keys = secrets.iter().map(|s| s.as_bytes());
    let parts: [&[u8]; 3] = [ts_text.as_bytes(), b":", req.body];
    if any_hmac_sha256_matches(keys, &parts, &signatures) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// The timestamp as signed and every `h1` signature; unknown keys are ignored.
fn parse_header(value: &str) -> Result<(&str, Vec<Vec<u8>>), VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(';') {
        match item.trim().split_once('=') {
            Some(("ts", t)) => timestamp = Some(t),
            Some(("h1", sig)) => {
                signatures.push(hex::decode(sig).map_err(|_| VerifyError::Malformed(HEADER))?)
            }
            _ => {}
        }
    }
    match timestamp {
        Some(t) if !signatures.is_empty() => Ok((t, signatures)),
        _ => Err(VerifyError::Malformed(HEADER)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    // Computed independently: Python `hmac.new(b"pdl_ntfset_test_secret",
    // b'1700000000:' + BODY, hashlib.sha256).hexdigest()`.
    const SECRET: &str = "pdl_ntfset_test_secret";
    const BODY: &[u8] = br#"{"event_id":"evt_01h8","event_type":"transaction.completed"}"#;
    const SIG: &str = "16977c0ccfb070ee9097dd3a4043e4a82f31bb66cb448e39f87a8f2af5060b22";
    const T: i64 = 1_700_000_000;

    fn check(
        secrets: &[&str],
        header: Option<&str>,
        body: &[u8],
        now_s: i64,
    ) -> Result<(), VerifyError> {
        let headers = HeaderList::new(header.map(|h| ("Paddle-Signature", h)));
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let req = SignedRequest {
            headers: &headers,
            body,
            now_s,
            url: "https://relay.example/ep_1",
            method: "POST",
        };
        verify(&secrets, &req)
    }

    #[test]
    fn accepts_the_independent_vector_and_rotation() {
        let good = format!("ts={T};h1={SIG}");
        assert_eq!(check(&[SECRET], Some(&good), BODY, T + 5), Ok(()));
        assert_eq!(check(&["new", SECRET], Some(&good), BODY, T), Ok(()));
    }

    #[test]
    fn accepts_when_any_of_several_h1_matches() {
        let header = format!("ts={T};h1={};h1={SIG}", "00".repeat(32));
        assert_eq!(check(&[SECRET], Some(&header), BODY, T), Ok(()));
    }

    #[test]
    fn refuses_wrong_secret_tampered_body_and_expired() {
        let good = format!("ts={T};h1={SIG}");
        assert_eq!(
            check(&["other"], Some(&good), BODY, T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], Some(&good), b"{}", T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], Some(&good), BODY, T + 301),
            Err(VerifyError::OutsideTolerance)
        );
        let moved = format!("ts={};h1={SIG}", T + 1);
        assert_eq!(
            check(&[SECRET], Some(&moved), BODY, T),
            Err(VerifyError::Mismatch),
            "the timestamp is signed"
        );
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        assert_eq!(
            check(&[SECRET], None, BODY, T),
            Err(VerifyError::MissingHeader(HEADER))
        );
        for bad in [
            format!("h1={SIG}"),
            format!("ts={T}"),
            format!("ts=soon;h1={SIG}"),
            format!("ts={T};h1=xyz"),
        ] {
            assert_eq!(
                check(&[SECRET], Some(&bad), BODY, T),
                Err(VerifyError::Malformed(HEADER)),
                "{bad}"
            );
        }
    }
}
