//! `api_key`: no signature; a header (`x-api-key` unless the endpoint names
//! another) carries a key equal to one of the endpoint's secrets. Compared through
//! SHA-256 digests in constant time. Only as strong as the transport and the
//! secrecy of the key: prefer a signing scheme when the sender offers one.

use super::config::check_header_name;
use super::{any_token_matches, ApiKeyConfig, SignedRequest, VerifyError, DEFAULT_API_KEY_HEADER};

pub fn verify(
    secrets: &[String],
    config: Option<&ApiKeyConfig>,
    req: &SignedRequest<'_>,
) -> Result<(), VerifyError> {
    let header = config.map_or(DEFAULT_API_KEY_HEADER, |c| c.header.as_str());
    let key = req.named_header(header)?;
    if any_token_matches(secrets, key.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// What [`super::config::validate`] checks for an `api_key` section.
pub(super) fn validate(config: &ApiKeyConfig) -> Result<(), String> {
    check_header_name("api_key.header", &config.header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    const SECRET: &str = "key_live_123";

    fn check(
        secrets: &[&str],
        config: Option<&ApiKeyConfig>,
        headers: &[(&str, &str)],
    ) -> Result<(), VerifyError> {
        let headers = HeaderList::new(headers.iter().copied());
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let req = SignedRequest {
            headers: &headers,
            body: b"{}",
            now_s: 0,
            url: "https://relay.example/ep_1",
            method: "POST",
        };
        verify(&secrets, config, &req)
    }

    #[test]
    fn the_default_and_a_configured_header() {
        let custom = ApiKeyConfig {
            header: "X-Relay-Key".into(),
        };
        let cases: &[(Option<&ApiKeyConfig>, &str)] =
            &[(None, "X-Api-Key"), (Some(&custom), "x-relay-key")];
        for (config, header) in cases {
            assert_eq!(check(&[SECRET], *config, &[(header, SECRET)]), Ok(()));
            assert_eq!(
                check(&["old", SECRET], *config, &[(header, SECRET)]),
                Ok(()),
                "rotation"
            );
            assert_eq!(
                check(&["other"], *config, &[(header, SECRET)]),
                Err(VerifyError::Mismatch)
            );
            assert_eq!(
                check(&[SECRET], *config, &[(header, "key_live_12")]),
                Err(VerifyError::Mismatch)
            );
        }
        assert_eq!(
            check(&[SECRET], Some(&custom), &[("x-api-key", SECRET)]),
            Err(VerifyError::MissingNamedHeader("X-Relay-Key".into()))
        );
        assert_eq!(
            check(&[SECRET], None, &[]),
            Err(VerifyError::MissingNamedHeader("x-api-key".into()))
        );
    }

    #[test]
    fn header_names_are_validated() {
        assert!(validate(&ApiKeyConfig::default()).is_ok());
        let bad = ApiKeyConfig {
            header: "x api key".into(),
        };
        assert!(validate(&bad).unwrap_err().contains("api_key.header"));
    }
}
