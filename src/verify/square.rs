//! Square: `x-square-hmacsha256-signature: <base64 HMAC-SHA256>` over the
//! subscription's notification URL followed by the body, keyed with the
//! subscription's signature key. The URL is the relay endpoint's public URL, so
//! it must be exactly the one registered with Square.

use super::{any_hmac_sha256_matches, SignedRequest, VerifyError};
use base64::{engine::general_purpose::STANDARD as B64, Engine};

const HEADER: &str = "x-square-hmacsha256-signature";

pub fn verify(secrets: &[String], req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let sig = B64
        .decode(req.header(HEADER)?.trim())
        .map_err(|_| VerifyError::Malformed(HEADER))?;
    let keys = secrets.iter().map(|s| s.as_bytes());
    if any_hmac_sha256_matches(keys, &[req.url.as_bytes(), req.body], &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderList;

    // The vector in Square's own SDK tests (WebhooksHelper / verify_signature,
    // e.g. square-python-sdk and square-nodejs-sdk), reproduced with Python hmac.
    const SECRET: &str = "Ibxx_5AKakO-3qeNVR61Dw";
    const URL: &str = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9";
    const BODY: &[u8] = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#;
    const SIG: &str = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=";

    fn check(
        secrets: &[&str],
        sig: Option<&str>,
        url: &str,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        let headers = HeaderList::new(sig.map(|s| ("X-Square-HmacSha256-Signature", s)));
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let req = SignedRequest {
            headers: &headers,
            body,
            now_s: 0,
            url,
            method: "POST",
        };
        verify(&secrets, &req)
    }

    #[test]
    fn accepts_the_published_vector_and_rotation() {
        assert_eq!(check(&[SECRET], Some(SIG), URL, BODY), Ok(()));
        assert_eq!(check(&["new", SECRET], Some(SIG), URL, BODY), Ok(()));
    }

    #[test]
    fn refuses_wrong_secret_tampered_body_and_another_url() {
        assert_eq!(
            check(&["x"], Some(SIG), URL, BODY),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], Some(SIG), URL, b"{}"),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], Some(SIG), "https://relay.example/ep_1", BODY),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        assert_eq!(
            check(&[SECRET], None, URL, BODY),
            Err(VerifyError::MissingHeader(HEADER))
        );
        assert_eq!(
            check(&[SECRET], Some("not base64!"), URL, BODY),
            Err(VerifyError::Malformed(HEADER))
        );
    }
}
