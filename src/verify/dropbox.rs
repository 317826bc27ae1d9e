//! Dropbox: `X-Dropbox-Signature: <hex HMAC-SHA256 of the body>` keyed with the
//! app secret. The `?challenge=` handshake is answered by the handshake module.

use super::{verify_sha256_header, Encoding, SignedRequest, VerifyError};

const HEADER: &str = "x-dropbox-signature";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    verify_sha256_header(secrets, req, HEADER, "", Encoding::Hex, &[req.body])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    // Computed independently: Python `hmac.new(b"dropbox-app-secret",
    // b'{"list_folder":{"accounts":["dbid:AAH4f99"]}}', hashlib.sha256).hexdigest()`.
    const SIG: &str = "18f76222ee77a991c2620dad650ef5b1b5035e4bb754e63d495cfde6b6d0e902";
    const BODY: &[u8] = br#"{"list_folder":{"accounts":["dbid:AAH4f99"]}}"#;

    fn check(secrets: &[&str], sig: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
        let headers = HeaderList::new(sig.map(|s| ("X-Dropbox-Signature", s)));
        let req = SignedRequest {
            headers: &headers,
            body,
            now_s: 0,
            url: "",
            method: "POST",
        };
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        verify(&secrets, &req)
    }

    #[test]
    fn valid_tampered_wrong_missing_malformed_rotated() {
        assert_eq!(check(&["dropbox-app-secret"], Some(SIG), BODY), Ok(()));
        assert_eq!(
            check(&["old", "dropbox-app-secret"], Some(SIG), BODY),
            Ok(())
        );
        assert_eq!(
            check(&["dropbox-app-secret"], Some(SIG), b"{}"),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(check(&["x"], Some(SIG), BODY), Err(VerifyError::Mismatch));
        assert_eq!(
            check(&["x"], None, BODY),
            Err(VerifyError::MissingHeader(HEADER))
        );
        assert_eq!(
            check(&["x"], Some("zz"), BODY),
            Err(VerifyError::Malformed(HEADER))
        );
    }
}
