//! GitLab: no signature; `X-Gitlab-Token` carries the webhook's secret token as is.
//! The token is compared through its SHA-256 digest in constant time.

use super::{any_token_matches, SignedRequest, VerifyError};

const HEADER: &str = "x-gitlab-token";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let token = req.header(HEADER)?;
    if any_token_matches(secrets, token.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    const SECRET: &str = "gitlab-webhook-token";

    fn check(secrets: &[&str], token: Option<&str>) -> Result<(), VerifyError> {
        let headers = HeaderList::new(token.map(|t| ("X-Gitlab-Token", t)));
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
    fn accepts_the_token_and_any_live_one_during_rotation() {
        assert_eq!(check(&[SECRET], Some(SECRET)), Ok(()));
        assert_eq!(check(&["old-token", SECRET], Some(SECRET)), Ok(()));
    }

    #[test]
    fn refuses_another_token_a_prefix_and_a_missing_header() {
        assert_eq!(check(&["other"], Some(SECRET)), Err(VerifyError::Mismatch));
        assert_eq!(
            check(&[SECRET], Some("gitlab-webhook")),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], Some(" gitlab-webhook-token")),
            Err(VerifyError::Mismatch),
            "compared exactly"
        );
        assert_eq!(
            check(&[SECRET], None),
            Err(VerifyError::MissingHeader(HEADER))
        );
        assert_eq!(
            check(&[SECRET], Some("  ")),
            Err(VerifyError::MissingHeader(HEADER))
        );
    }
}
