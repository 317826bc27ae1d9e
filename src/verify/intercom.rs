//! Intercom: `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>`, keyed with the
//! app's client secret. SHA-1 is Intercom's choice, not ours.

use super::{any_hmac_matches, SignedRequest, VerifyError};
use hmac::Hmac;
use sha1::Sha1;

const HEADER: &str = "x-hub-signature";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let hex_sig = req
        .header(HEADER)?
        .trim()
        .strip_prefix("sha1=")
        .ok_or(VerifyError::Malformed(HEADER))?;
    let sig = hex::decode(hex_sig).map_err(|_| VerifyError::Malformed(HEADER))?;
    let keys = secrets.iter().map(|s| s.as_bytes());
    if any_hmac_matches::<Hmac<Sha1>>(keys, &[req.body], &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    // Computed independently: Python `hmac.new(b"intercom_client_secret",
    // b'{"type":"notification_event","id":"notif_1"}', hashlib.sha1).hexdigest()`.
    const SECRET: &str = "intercom_client_secret";
    const BODY: &[u8] = br#"{"type":"notification_event","id":"notif_1"}"#;
    const SIG: &str = "sha1=3faebb0034e47694de045ab8bc314399711ff673";

    fn check(secrets: &[&str], sig: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
        let headers = HeaderList::new(sig.map(|s| ("X-Hub-Signature", s)));
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
            check(&[SECRET], Some("sha256=00"), BODY),
            Err(VerifyError::Malformed(HEADER))
        );
        assert_eq!(
            check(&[SECRET], Some("sha1=zz"), BODY),
            Err(VerifyError::Malformed(HEADER))
        );
    }
}
