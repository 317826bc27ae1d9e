//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`.

use super::{any_hmac_sha256_matches, SignedRequest, VerifyError};
use base64::{engine::general_purpose::STANDARD as B64, Engine};

const HEADER: &str = "x-shopify-hmac-sha256";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let value = req.header(HEADER)?;
    let sig = B64
        .decode(value.trim())
        .map_err(|_| VerifyError::Malformed(HEADER))?;
    let keys = secrets.iter().map(|s| s.as_bytes());
    if any_hmac_sha256_matches(keys, &[req.body], &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    // Computed independently: Python `base64.b64encode(hmac.new(b"shpss_secret",
    // b'{"id":820982911946154508}', hashlib.sha256).digest())`.
    const SECRET: &str = "shpss_secret";
    const BODY: &[u8] = br#"{"id":820982911946154508}"#;
    const SIG: &str = "jqbalbO3Z8mDmrF2/+wzM3KYvbgqzVBF969vgiIy80I=";

    fn check(secret: &str, sig: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
        let headers = HeaderList::new(sig.map(|s| ("X-Shopify-Hmac-Sha256", s)));
        verify(
            &[secret.into()],
            &SignedRequest {
                headers: &headers,
                body,
                now_s: 0,
                url: "https://relay.example/ep_1",
                method: "POST",
            },
        )
    }

    #[test]
    fn accepts_the_independent_vector() {
        assert_eq!(check(SECRET, Some(SIG), BODY), Ok(()));
    }

    #[test]
    fn refuses_tampering_and_garbage() {
        assert_eq!(check(SECRET, Some(SIG), b"{}"), Err(VerifyError::Mismatch));
        assert_eq!(check("x", Some(SIG), BODY), Err(VerifyError::Mismatch));
        assert_eq!(
            check(SECRET, Some("%%%"), BODY),
            Err(VerifyError::Malformed(HEADER))
        );
        assert_eq!(
            check(SECRET, None, BODY),
            Err(VerifyError::MissingHeader(HEADER))
        );
    }
}
