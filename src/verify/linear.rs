//! Linear: `Linear-Signature: <hex HMAC-SHA256 of the body>`. Linear's
//! `webhookTimestamp` sits inside the signed body and is not checked here; a
//! replay within the dedup window is caught by its `Linear-Delivery` id.

use super::{verify_sha256_header, Encoding, SignedRequest, VerifyError};

const HEADER: &str = "linear-signature";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    verify_sha256_header(secrets, req, HEADER, "", Encoding::Hex, &[req.body])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    // Computed independently: Python `hmac.new(b"lin_wh_test_secret",
    // b'{"action":"create","type":"Issue"}', hashlib.sha256).hexdigest()`.
    const SECRET: &str = "lin_wh_test_secret";
    const BODY: &[u8] = br#"{"action":"create","type":"Issue"}"#;
    const SIG: &str = "f94173456225cddb0497ce1f384bd4b3498257e64ab2c50019730e6b7c678325";

    fn check(secrets: &[&str], sig: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
        let headers = HeaderList::new(sig.map(|s| ("Linear-Signature", s)));
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
            check(&[SECRET], Some("sha256=abc"), BODY),
            Err(VerifyError::Malformed(HEADER))
        );
    }
}
