//! Okta event hooks: no signature; Okta sends the `Authorization` header value the
//! operator configured for the hook, compared in constant time against the
//! endpoint's secrets. The one-time verification GET is answered by the handshake
//! module after this check.

use super::{any_token_matches, SignedRequest, VerifyError};

const HEADER: &str = "authorization";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let value = req.header(HEADER)?;
    if any_token_matches(secrets, value.trim().as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    fn check(secrets: &[&str], auth: Option<&str>) -> Result<(), VerifyError> {
        let headers = HeaderList::new(auth.map(|a| ("Authorization", a)));
        let req = SignedRequest {
            headers: &headers,
            body: b"{}",
            now_s: 0,
            url: "",
            method: "POST",
        };
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        verify(&secrets, &req)
    }

    #[test]
    fn the_configured_header_value_must_match() {
        assert_eq!(
            check(&["Bearer okta-hook"], Some("Bearer okta-hook")),
            Ok(())
        );
        assert_eq!(
            check(&["old", "Bearer okta-hook"], Some("Bearer okta-hook")),
            Ok(())
        );
        assert_eq!(
            check(&["Bearer okta-hook"], Some("Bearer other")),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&["Bearer okta-hook"], None),
            Err(VerifyError::MissingHeader(HEADER))
        );
    }
}
