//! One delivery attempt to the local app: POST the original bytes with the headers
//! the relay chose, wait at most 15 s, and keep the status, the time taken and
//! the first 1 KB of the answer (the rest is never read). Redirects are not
//! followed, as the relay does not follow them either, and no proxy is used:
//! the app is local.

use crate::error::{describe_cause, CliError};
use crate::model::LeasedEvent;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Url;
use std::time::{Duration, Instant};

pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(15);
pub const SNIPPET_BYTES: usize = 1024;

/// Headers the HTTP client sets itself from the request it sends.
const CLIENT_OWNED: [&str; 4] = ["host", "content-length", "transfer-encoding", "connection"];

/// What came of one forward: a status and a snippet, or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub snippet: Option<String>,
}

impl Forwarded {
    /// The app took the event: it answered 2xx.
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

pub struct LocalApp {
    http: reqwest::Client,
    url: Url,
}

impl LocalApp {
    pub fn new(url: Url) -> Result<LocalApp, CliError> {
        let http = reqwest::Client::builder()
            .timeout(FORWARD_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| CliError::Other(format!("HTTP client: {e}")))?;
        Ok(LocalApp { http, url })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub async fn forward(&self, event: &LeasedEvent) -> Forwarded {
        let started = Instant::now();
        let elapsed = || started.elapsed().as_millis() as u64;
        let failed = |error: String, duration_ms: u64| Forwarded {
            status_code: None,
            error: Some(error),
            duration_ms,
            snippet: None,
        };
        let body = match event.body() {
            Ok(body) => body,
            Err(e) => return failed(format!("the relay sent a body that is not base64: {e}"), 0),
        };
        let headers = request_headers(&event.headers, event.content_type.as_deref());
        let sent = self
            .http
            .post(self.url.clone())
            .headers(headers)
            .body(body)
            .send()
            .await;
        let mut resp = match sent {
            Ok(resp) => resp,
            Err(e) if e.is_timeout() => {
                let error = format!("timed out after {} s", FORWARD_TIMEOUT.as_secs());
                return failed(error, elapsed());
            }
            Err(e) => return failed(describe_cause(&e), elapsed()),
        };
        let status_code = Some(resp.status().as_u16());
        // The status counts even when the body stalls or breaks off: keep what came.
        let mut head = Vec::new();
        while head.len() < SNIPPET_BYTES {
            match resp.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        Forwarded {
            status_code,
            error: None,
            duration_ms: elapsed(),
            snippet: snippet(&head),
        }
    }
}

/// `--forward-to`: a URL, or `host:port[/path]` taken as http.
pub fn parse_forward_url(raw: &str) -> Result<Url, CliError> {
    let raw = raw.trim();
    let full = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("http://{raw}")
    };
    let invalid = |why: String| CliError::Usage(format!("--forward-to {raw:?}: {why}"));
    let url = Url::parse(&full).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must be an http or https URL".into()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host".into()));
    }
    Ok(url)
}

/// The relay's header list as a request's headers: every pair kept in order
/// (repeated names stay repeated) except the ones the client owns; a pair that
/// is not valid HTTP is dropped. `content_type` fills in a missing content type.
pub fn request_headers(pairs: &[(String, String)], content_type: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        if CLIENT_OWNED.contains(&name.as_str()) {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.append(name, value);
        }
    }
    if !headers.contains_key(CONTENT_TYPE) {
        if let Some(value) = content_type.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(CONTENT_TYPE, value);
        }
    }
    headers
}

/// At most the first 1 KB of an answer as text: invalid UTF-8 is replaced, and
/// the cut never splits a character. An empty answer has no snippet.
pub fn snippet(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let head = &bytes[..bytes.len().min(SNIPPET_BYTES)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text.to_string(),
        // Only the last character was cut short: drop it rather than mangle it.
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&head[..e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(head).into_owned(),
    };
    // Replacement characters are longer than the bytes they replace.
    Some(crate::output::truncate_bytes(&text, SNIPPET_BYTES).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn relay_headers_are_sent_as_given_except_what_the_client_owns() {
        let given = pairs(&[
            ("webhook-id", "evt_1"),
            ("webhook-signature", "v1,abc v1,def"),
            ("Content-Type", "application/json"),
            ("Content-Length", "999"),
            ("host", "relay.example"),
            ("x-github-event", "push"),
            ("x-multi", "a"),
            ("x-multi", "b"),
        ]);
        let headers = request_headers(&given, Some("text/plain"));
        assert_eq!(headers["webhook-id"], "evt_1");
        assert_eq!(headers["webhook-signature"], "v1,abc v1,def");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["x-github-event"], "push");
        let multi: Vec<_> = headers.get_all("x-multi").iter().collect();
        assert_eq!(multi, ["a", "b"]);
        assert!(!headers.contains_key("content-length"));
        assert!(!headers.contains_key("host"));
    }

    #[test]
    fn invalid_pairs_are_dropped_and_a_missing_content_type_is_filled_in() {
        let given = pairs(&[("bad name", "x"), ("x-ok", "1"), ("x-bad-value", "a\nb")]);
        let headers = request_headers(&given, Some("application/json"));
        assert_eq!(headers.len(), 2);
        assert_eq!(headers["x-ok"], "1");
        assert_eq!(headers["content-type"], "application/json");
        assert!(request_headers(&[], None).is_empty());
    }

    #[test]
    fn forward_urls_default_to_http() {
        let cases = [
            (
                "localhost:3000/webhooks",
                Some("http://localhost:3000/webhooks"),
            ),
            (
                "http://127.0.0.1:4242/hook",
                Some("http://127.0.0.1:4242/hook"),
            ),
            ("https://app.test/in", Some("https://app.test/in")),
            ("ftp://x/y", None),
            ("http://", None),
            ("", None),
        ];
        for (raw, want) in cases {
            match (parse_forward_url(raw), want) {
                (Ok(url), Some(want)) => assert_eq!(url.as_str(), want, "{raw}"),
                (Err(e), None) => assert_eq!(e.exit_code(), 2, "{raw}"),
                (got, want) => panic!("{raw:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_snippet_is_the_first_kilobyte() {
        assert_eq!(snippet(b""), None);
        assert_eq!(snippet(b"ok").as_deref(), Some("ok"));
        let long = vec![b'a'; 5000];
        assert_eq!(snippet(&long).unwrap().len(), SNIPPET_BYTES);
    }

    #[test]
    fn a_snippet_never_splits_a_character() {
        // 1023 ASCII bytes, then 'é' (2 bytes) straddling the 1 KB line.
        let mut bytes = vec![b'a'; 1023];
        bytes.extend("é and more".as_bytes());
        let text = snippet(&bytes).unwrap();
        assert_eq!(text.len(), 1023);
        assert!(text.bytes().all(|b| b == b'a'));
    }

    #[test]
    fn a_binary_answer_becomes_text_within_the_limit() {
        let bytes = vec![0xff; 2000];
        let text = snippet(&bytes).unwrap();
        assert!(text.len() <= SNIPPET_BYTES);
        assert!(text.chars().all(|c| c == char::REPLACEMENT_CHARACTER));
    }

    #[test]
    fn only_a_2xx_answer_is_a_success() {
        let with = |status_code: Option<u16>| Forwarded {
            status_code,
            error: None,
            duration_ms: 1,
            snippet: None,
        };
        assert!(with(Some(200)).succeeded());
        assert!(with(Some(204)).succeeded());
        assert!(!with(Some(302)).succeeded());
        assert!(!with(Some(500)).succeeded());
        assert!(!with(None).succeeded());
    }
}
