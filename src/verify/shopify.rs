//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`.

use super::{verify_sha256_header, Encoding, SignedRequest, VerifyError};

const HEADER: &str = "x-shopify-hmac-sha256";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    verify_sha256_header(secrets, req, HEADER, "", Encoding::Base64, &[req.body])
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
