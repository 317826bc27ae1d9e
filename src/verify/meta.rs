//! Meta (Facebook, Instagram, WhatsApp Cloud API): `X-Hub-Signature-256:
//! sha256=<hex HMAC-SHA256 of the body>` keyed with the app secret, the same
//! shape as GitHub's. The subscription handshake (`hub.verify_token`) is answered
//! by the handshake module.

use super::{github, SignedRequest, VerifyError};

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    github::verify(secrets, req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    // Computed independently: Python `hmac.new(b"meta-app-secret",
    // b'{"object":"page","entry":[]}', hashlib.sha256).hexdigest()`.
    const SIG: &str = "sha256=5dcb51eb590634700c8d9cc1fde4d2d5981ca7bb83f250eb3fb71bfd849057ed";
    const BODY: &[u8] = br#"{"object":"page","entry":[]}"#;

    fn check(secret: &str, sig: &str, body: &[u8]) -> Result<(), VerifyError> {
        let headers = HeaderList::new([("X-Hub-Signature-256", sig)]);
        let req = SignedRequest {
            headers: &headers,
            body,
            now_s: 0,
            url: "",
            method: "POST",
        };
        verify(&[secret.to_string()], &req)
    }

    #[test]
    fn verifies_like_github() {
        assert_eq!(check("meta-app-secret", SIG, BODY), Ok(()));
        assert_eq!(check("other", SIG, BODY), Err(VerifyError::Mismatch));
        assert_eq!(
            check("meta-app-secret", SIG, b"{}"),
            Err(VerifyError::Mismatch)
        );
    }
}
