//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 of
//! `{t}.{body}` with the endpoint's `whsec_...` secret used as raw bytes.
//! Several `v1` values appear while Stripe rolls a secret; any one may match.

use super::{any_hmac_sha256_matches, check_tolerance, SignedRequest, VerifyError};

const HEADER: &str = "stripe-signature";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let (timestamp, signatures) = parse_header(req.header(HEADER)?)?;
    check_tolerance(timestamp, req.now_s)?;
    let t = timestamp.to_string();
    let keys = secrets.iter().map(|s| s.as_bytes());
    if any_hmac_sha256_matches(keys, &[t.as_bytes(), b".", req.body], &signatures) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Splits the header into its timestamp and every `v1` signature; other schemes
/// (`v0`, test-mode extras) are ignored, as Stripe's own libraries do.
fn parse_header(value: &str) -> Result<(i64, Vec<Vec<u8>>), VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => {
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

    // Computed independently: Python `hmac.new(b"whsec_test_secret",
    // b'1700000000.{"id":"evt_1","object":"event"}', hashlib.sha256).hexdigest()`.
    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
    const SIG: &str = "0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd";
    const T: i64 = 1_700_000_000;

    fn check(header: &str, body: &[u8], now_s: i64) -> Result<(), VerifyError> {
        let headers = HeaderList::new([("Stripe-Signature", header)]);
        verify(
            &[SECRET.into()],
            &SignedRequest {
                headers: &headers,
                body,
                now_s,
                url: "https://relay.example/ep_1",
                method: "POST",
            },
        )
    }

    #[test]
    fn accepts_the_independent_vector() {
        assert_eq!(check(&format!("t={T},v1={SIG}"), BODY, T + 10), Ok(()));
    }

    #[test]
    fn accepts_when_any_of_several_v1_matches() {
        let header = format!("t={T},v1={},v0=ff,v1={SIG}", "00".repeat(32));
        assert_eq!(check(&header, BODY, T), Ok(()));
    }

    #[test]
    fn refuses_expired_future_tampered_and_malformed() {
        let good = format!("t={T},v1={SIG}");
        assert_eq!(
            check(&good, BODY, T + 301),
            Err(VerifyError::OutsideTolerance)
        );
        assert_eq!(
            check(&good, BODY, T - 301),
            Err(VerifyError::OutsideTolerance)
        );
        assert_eq!(check(&good, b"{}", T), Err(VerifyError::Mismatch));
        assert_eq!(
            check(&format!("v1={SIG}"), BODY, T),
            Err(VerifyError::Malformed(HEADER))
        );
        assert_eq!(
            check(&format!("t={T}"), BODY, T),
            Err(VerifyError::Malformed(HEADER))
        );
        assert_eq!(
            check(&format!("t={T},v1=xyz"), BODY, T),
            Err(VerifyError::Malformed(HEADER))
        );
    }

    #[test]
    fn the_timestamp_is_part_of_the_signed_content() {
        let moved = format!("t={},v1={SIG}", T + 1);
        assert_eq!(check(&moved, BODY, T), Err(VerifyError::Mismatch));
    }
}
