//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.

use super::{verify_sha256_header, Encoding, SignedRequest, VerifyError};

const HEADER: &str = "x-hub-signature-256";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    verify_sha256_header(secrets, req, HEADER, "sha256=", Encoding::Hex, &[req.body])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    fn check(secret: &str, header: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
        let headers = HeaderList::new(header.map(|h| ("X-Hub-Signature-256", h)));
        let req = SignedRequest {
            headers: &headers,
            body,
            now_s: 0,
            url: "https://relay.example/ep_1",
            method: "POST",
        };
        verify(&[secret.to_string()], &req)
    }

    // Vector published in GitHub's "Validating webhook deliveries" documentation.
    const DOC_SECRET: &str = "It's a Secret to Everybody";
    const DOC_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn accepts_the_documented_vector() {
        assert_eq!(check(DOC_SECRET, Some(DOC_SIG), b"Hello, World!"), Ok(()));
    }

    #[test]
    fn refuses_changed_body_wrong_secret_missing_and_malformed() {
        assert_eq!(
            check(DOC_SECRET, Some(DOC_SIG), b"Hello, World?"),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check("other", Some(DOC_SIG), b"Hello, World!"),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(DOC_SECRET, None, b"x"),
            Err(VerifyError::MissingHeader(HEADER))
        );
        assert_eq!(
            check(DOC_SECRET, Some("sha1=00"), b"x"),
            Err(VerifyError::Malformed(HEADER))
        );
        assert_eq!(
            check(DOC_SECRET, Some("sha256=zz"), b"x"),
            Err(VerifyError::Malformed(HEADER))
        );
    }

    #[test]
    fn any_live_secret_verifies_during_rotation() {
        let headers = HeaderList::new([("x-hub-signature-256", DOC_SIG)]);
        let req = SignedRequest {
            headers: &headers,
            body: b"Hello, World!",
            now_s: 0,
            url: "https://relay.example/ep_1",
            method: "POST",
        };
        let secrets = ["new-secret".to_string(), DOC_SECRET.to_string()];
        assert_eq!(verify(&secrets, &req), Ok(()));
    }
}
