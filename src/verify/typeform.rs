//! Typeform: `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>`.

use super::{verify_sha256_header, Encoding, SignedRequest, VerifyError};

const HEADER: &str = "typeform-signature";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    verify_sha256_header(
        secrets,
        req,
        HEADER,
        "sha256=",
        Encoding::Base64,
        &[req.body],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    // Computed independently: Python `base64.b64encode(hmac.new(b"typeform_test_secret",
    // b'{"event_id":"01HTF","event_type":"form_response"}', hashlib.sha256).digest())`.
    const SECRET: &str = "typeform_test_secret";
    const BODY: &[u8] = br#"{"event_id":"01HTF","event_type":"form_response"}"#;
    const SIG: &str = "sha256=vq7Ra6Mizphn6e3c0lusCzNmvkp7o0mFMdUEAKuO1FE=";

    fn check(secrets: &[&str], sig: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
        let headers = HeaderList::new(sig.map(|s| ("Typeform-Signature", s)));
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let req = SignedRequest {
            headers: &headers,
            body,
            now_s: 0,
            url: "https://relay.example/ep_1",
            method: "POST",
        };
        verify(&secrets, &req)
    }

    #[test]
    fn accepts_the_independent_vector_and_rotation() {
        assert_eq!(check(&[SECRET], Some(SIG), BODY), Ok(()));
        assert_eq!(check(&["new", SECRET], Some(SIG), BODY), Ok(()));
    }

    #[test]
    fn refuses_wrong_secret_tampering_missing_and_malformed() {
        assert_eq!(check(&["x"], Some(SIG), BODY), Err(VerifyError::Mismatch));
        assert_eq!(
            check(&[SECRET], Some(SIG), b"{}"),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], None, BODY),
            Err(VerifyError::MissingHeader(HEADER))
        );
        assert_eq!(
            check(&[SECRET], Some(&SIG[7..]), BODY),
            Err(VerifyError::Malformed(HEADER)),
            "prefix missing"
        );
        assert_eq!(
            check(&[SECRET], Some("sha256=%%%"), BODY),
            Err(VerifyError::Malformed(HEADER))
        );
    }
}
