//! `basic_auth`: no signature; `Authorization: Basic <base64(user:password)>` must
//! carry one of the endpoint's secrets, each written `user:password`. The decoded
//! credentials are compared through SHA-256 digests in constant time.

use super::{any_token_matches, SignedRequest, VerifyError};
use base64::{engine::general_purpose::STANDARD as B64, Engine};

const HEADER: &str = "authorization";
/// The headers the scheme reads (for the registry).
pub(super) const HEADERS: &[&str] = &[HEADER];

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let credentials = decode_basic(req.header(HEADER)?)?;
    if any_token_matches(secrets, &credentials) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// RFC 7617: the user id cannot contain a colon; the password may.
pub(super) fn validate_secret(secret: &str) -> Result<(), String> {
    match secret.split_once(':') {
        Some((user, _)) if !user.is_empty() => Ok(()),
        _ => Err("basic_auth secrets are written 'user:password'".into()),
    }
}

/// The `user:password` bytes; the scheme name is case-insensitive (RFC 9110).
fn decode_basic(value: &str) -> Result<Vec<u8>, VerifyError> {
    let (scheme, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or(VerifyError::Malformed(HEADER.into()))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(VerifyError::Malformed(HEADER.into()));
    }
    B64.decode(encoded.trim())
        .map_err(|_| VerifyError::Malformed(HEADER.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    // `relay:pa:ss` in base64 (Python `base64.b64encode(b"relay:pa:ss")`).
    const SECRET: &str = "relay:pa:ss";
    const HEADER_VALUE: &str = "Basic cmVsYXk6cGE6c3M=";

    fn check(secrets: &[&str], authorization: Option<&str>) -> Result<(), VerifyError> {
        let headers = HeaderList::new(authorization.map(|a| ("Authorization", a)));
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let req = SignedRequest {
            headers: &headers,
            body: b"{}",
            now_s: 0,
            url: "https://relay.example/ep_1",
            method: "POST",
        };
        verify(&secrets, &req)
    }

    #[test]
    fn accepts_the_credentials_in_any_scheme_case_and_during_rotation() {
        assert_eq!(check(&[SECRET], Some(HEADER_VALUE)), Ok(()));
        assert_eq!(check(&[SECRET], Some("basic cmVsYXk6cGE6c3M=")), Ok(()));
        assert_eq!(check(&["relay:old", SECRET], Some(HEADER_VALUE)), Ok(()));
    }

    #[test]
    fn refuses_other_credentials_missing_and_malformed() {
        assert_eq!(
            check(&["relay:pa"], Some(HEADER_VALUE)),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], None),
            Err(VerifyError::MissingHeader(HEADER.into()))
        );
        for bad in ["Bearer cmVsYXk6cGE6c3M=", "Basic", "Basic %%%"] {
            assert_eq!(
                check(&[SECRET], Some(bad)),
                Err(VerifyError::Malformed(HEADER.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn secrets_are_user_colon_password() {
        assert!(validate_secret("user:").is_ok());
        assert!(validate_secret(":password").is_err());
        assert!(validate_secret("userpassword").is_err());
    }
}
