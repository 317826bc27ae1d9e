//! The relay's management API over HTTP: one method per route the CLI uses, the
//! bearer key on every call, and every failure turned into a `CliError` with its
//! exit code (401 bad key, 403 role too low, 404 unknown, no answer unreachable).

use crate::config::Credentials;
use crate::error::{describe_cause, CliError};
use crate::model::{AttemptAnswer, AttemptReport, LeasedEvent, Page, PullRequest};
use crate::sse::{Message, SseBuffer};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// A pull may be held open for `wait_s`; this much more covers the trip.
const PULL_GRACE: Duration = Duration::from_secs(15);
/// The live stream sends a comment every 15 s; this long without a byte means
/// it is gone.
const STREAM_SILENCE: Duration = Duration::from_secs(40);

pub struct RelayClient {
    http: reqwest::Client,
    /// For the live stream: no overall timeout (it stays open), a read timeout instead.
    stream_http: reqwest::Client,
    creds: Credentials,
}

/// An open `GET /api/v1/stream`, read message by message.
pub struct EventStream {
    response: reqwest::Response,
    buffer: SseBuffer,
    ready: VecDeque<Message>,
    url: String,
}

impl EventStream {
    /// The next message; `Ok(None)` when the relay ended the stream. A read
    /// that fails (or waits longer than [`STREAM_SILENCE`]) is `Unreachable`.
    pub async fn next(&mut self) -> Result<Option<Message>, CliError> {
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Ok(Some(message));
            }
            let chunk = self
                .response
                .chunk()
                .await
                .map_err(|e| CliError::Unreachable {
                    url: self.url.clone(),
                    reason: if e.is_timeout() {
                        format!(
                            "the live stream was silent for {} s",
                            STREAM_SILENCE.as_secs()
                        )
                    } else {
                        describe_cause(&e)
                    },
                })?;
            match chunk {
                Some(bytes) => self.ready.extend(self.buffer.push(&bytes)),
                None => return Ok(None),
            }
        }
    }
}

/// Filters of `GET /api/v1/events`; empty ones are left out of the query.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub endpoint_id: Option<String>,
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl RelayClient {
    pub fn new(creds: Credentials) -> Result<RelayClient, CliError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("hookrelay-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| CliError::Other(format!("HTTP client: {e}")))?;
        let stream_http = reqwest::Client::builder()
            .user_agent(concat!("hookrelay-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(STREAM_SILENCE)
            .build()
            .map_err(|e| CliError::Other(format!("HTTP client: {e}")))?;
        Ok(RelayClient {
            http,
            stream_http,
            creds,
        })
    }

    /// Opens the live stream of one endpoint's event status changes.
    pub async fn open_stream(&self, endpoint: &str) -> Result<EventStream, CliError> {
        let url = api_url(
            &self.creds.url,
            &["stream"],
            &[("endpoint_id", Some(endpoint))],
        )?;
        let unreachable = |e: reqwest::Error| CliError::Unreachable {
            url: url.to_string(),
            reason: describe_cause(&e),
        };
        let response = self
            .stream_http
            .get(url.clone())
            .bearer_auth(&self.creds.key)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = response.text().await.unwrap_or_default();
            return Err(answer_error(
                status,
                &text,
                &self.creds.url,
                "the live stream",
            ));
        }
        Ok(EventStream {
            response,
            buffer: SseBuffer::default(),
            ready: VecDeque::new(),
            url: url.to_string(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.creds.url
    }

    /// Leases up to `body.max` events, waiting up to `body.wait_s` while none is ready.
    pub async fn pull(
        &self,
        dest: &str,
        body: &PullRequest<'_>,
    ) -> Result<Vec<LeasedEvent>, CliError> {
        let timeout = Duration::from_secs(body.wait_s.into()) + PULL_GRACE;
        let subject = format!("destination {dest}");
        let page: Page<LeasedEvent> = self
            .call(
                Method::POST,
                &["pull", dest],
                &[],
                Some(body),
                timeout,
                &subject,
            )
            .await?;
        Ok(page.data)
    }

    pub async fn report_attempt(
        &self,
        event_id: &str,
        report: &AttemptReport,
    ) -> Result<AttemptAnswer, CliError> {
        let subject = format!("event {event_id}");
        self.call(
            Method::POST,
            &["events", event_id, "attempts"],
            &[],
            Some(report),
            CALL_TIMEOUT,
            &subject,
        )
        .await
    }

    pub async fn list_events(&self, filter: &EventFilter) -> Result<Page<Value>, CliError> {
        let limit = filter.limit.map(|n| n.to_string());
        let query = [
            ("endpoint_id", filter.endpoint_id.as_deref()),
            ("status", filter.status.as_deref()),
            ("limit", limit.as_deref()),
            ("cursor", filter.cursor.as_deref()),
        ];
        self.get(&["events"], &query, "events").await
    }

    pub async fn event(&self, id: &str) -> Result<Value, CliError> {
        self.get(&["events", id], &[], &format!("event {id}")).await
    }

    pub async fn replay(&self, id: &str) -> Result<Value, CliError> {
        let subject = format!("event {id}");
        self.call(
            Method::POST,
            &["events", id, "replay"],
            &[],
            None::<&()>,
            CALL_TIMEOUT,
            &subject,
        )
        .await
    }

    /// The key's role (`viewer`, `editor`, `admin`, or `pull` for a key scoped to
    /// one pull destination); works with every valid key.
    pub async fn whoami(&self) -> Result<Value, CliError> {
        self.get(&["whoami"], &[], "whoami").await
    }

    pub async fn endpoints(&self) -> Result<Page<Value>, CliError> {
        self.get(&["endpoints"], &[], "endpoints").await
    }

    pub async fn endpoint(&self, id: &str) -> Result<Value, CliError> {
        self.get(&["endpoints", id], &[], &format!("endpoint {id}"))
            .await
    }

    pub async fn create_endpoint(&self, body: &Value) -> Result<Value, CliError> {
        self.call(
            Method::POST,
            &["endpoints"],
            &[],
            Some(body),
            CALL_TIMEOUT,
            "endpoint",
        )
        .await
    }

    pub async fn relay_secret(&self, endpoint_id: &str) -> Result<String, CliError> {
        #[derive(Deserialize)]
        struct Secret {
            relay_secret: String,
        }
        let subject = format!("endpoint {endpoint_id}");
        let secret: Secret = self
            .get(&["endpoints", endpoint_id, "secret"], &[], &subject)
            .await?;
        Ok(secret.relay_secret)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, Option<&str>)],
        subject: &str,
    ) -> Result<T, CliError> {
        self.call(Method::GET, path, query, None::<&()>, CALL_TIMEOUT, subject)
            .await
    }

    /// One call: `subject` names what the path points at, for a 404's message.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, Option<&str>)],
        body: Option<&impl Serialize>,
        timeout: Duration,
        subject: &str,
    ) -> Result<T, CliError> {
        let url = api_url(&self.creds.url, path, query)?;
        let mut req = self
            .http
            .request(method, url.clone())
            .bearer_auth(&self.creds.key)
            .timeout(timeout);
        if let Some(body) = body {
            req = req.json(body);
        }
        let unreachable = |e: reqwest::Error| CliError::Unreachable {
            url: url.to_string(),
            reason: if e.is_timeout() {
                format!("no answer within {} s", timeout.as_secs())
            } else {
                describe_cause(&e)
            },
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(unreachable)?;
        if !(200..300).contains(&status) {
            return Err(answer_error(status, &text, &self.creds.url, subject));
        }
        serde_json::from_str(&text).map_err(|e| {
            CliError::Other(format!(
                "{url} answered {status} with a body the CLI does not understand ({e}); \
                 is {} a hookrelay relay?",
                self.creds.url
            ))
        })
    }
}

/// `{base}/api/v1/{path...}?{query}`, each path segment percent-encoded, so an
/// id can never change the route.
pub fn api_url(base: &str, path: &[&str], query: &[(&str, Option<&str>)]) -> Result<Url, CliError> {
    let mut url =
        Url::parse(base).map_err(|e| CliError::Usage(format!("relay URL {base:?}: {e}")))?;
    url.path_segments_mut()
        .map_err(|_| CliError::Usage(format!("relay URL {base:?} cannot have a path")))?
        .pop_if_empty()
        .extend(["api", "v1"])
        .extend(path);
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .filter_map(|(k, v)| v.map(|v| (*k, v)))
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    Ok(url)
}

/// A non-2xx answer: `{"error": {"code", "message"}}` when the relay sent one,
/// else the status and the start of the body.
pub fn answer_error(status: u16, body: &str, base_url: &str, subject: &str) -> CliError {
    #[derive(Deserialize)]
    struct Envelope {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        code: String,
        message: String,
    }
    let (code, message) = match serde_json::from_str::<Envelope>(body) {
        Ok(e) => (e.error.code, e.error.message),
        Err(_) => (
            format!("http_{status}"),
            crate::output::truncate_bytes(body.trim(), 200).to_string(),
        ),
    };
    match status {
        401 => CliError::BadKey {
            url: base_url.to_string(),
            message,
        },
        403 => CliError::Forbidden {
            url: base_url.to_string(),
            message,
        },
        404 => CliError::NotFound(format!("{subject} is unknown to the relay ({message})")),
        _ => CliError::Relay {
            status,
            code,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_appended_to_the_base_and_encoded() {
        let url = api_url("https://r.example", &["pull", "ep_1"], &[]).unwrap();
        assert_eq!(url.as_str(), "https://r.example/api/v1/pull/ep_1");
        let url = api_url("https://r.example/relay", &["events", "a/b?c"], &[]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://r.example/relay/api/v1/events/a%2Fb%3Fc"
        );
    }

    #[test]
    fn empty_query_values_are_left_out() {
        let url = api_url(
            "http://127.0.0.1:8787",
            &["events"],
            &[
                ("endpoint_id", Some("ep_1")),
                ("status", None),
                ("limit", Some("5")),
            ],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8787/api/v1/events?endpoint_id=ep_1&limit=5"
        );
        let url = api_url("http://h", &["events"], &[("status", None)]).unwrap();
        assert_eq!(url.as_str(), "http://h/api/v1/events");
    }

    #[test]
    fn answers_map_to_exit_codes() {
        let body = |code: &str, msg: &str| {
            serde_json::json!({"error": {"code": code, "message": msg}}).to_string()
        };
        let bad_key = answer_error(
            401,
            &body("unauthorized", "invalid bearer token"),
            "https://r",
            "x",
        );
        assert_eq!(bad_key.exit_code(), 3);
        assert!(bad_key.to_string().contains("invalid bearer token"));

        let forbidden = answer_error(
            403,
            &body(
                "forbidden",
                "this route needs the editor role; this key is viewer",
            ),
            "https://r",
            "x",
        );
        assert_eq!(forbidden.exit_code(), 3);
        assert!(!forbidden.is_transient());
        assert!(forbidden.to_string().contains("this key is viewer"));

        let unknown = answer_error(
            404,
            &body("not_found", "endpoint not found"),
            "https://r",
            "destination ep_9",
        );
        assert_eq!(unknown.exit_code(), 4);
        assert!(
            unknown.to_string().contains("destination ep_9"),
            "{unknown}"
        );

        let push = answer_error(
            409,
            &body("not_a_pull_destination", "ep_9 pushes"),
            "https://r",
            "x",
        );
        assert_eq!(push.exit_code(), 1);
        assert_eq!(push.relay_code(), Some("not_a_pull_destination"));

        let busy = answer_error(
            503,
            &body("storage_unavailable", "retry later"),
            "https://r",
            "x",
        );
        assert!(busy.is_transient());
    }

    #[test]
    fn an_answer_without_the_error_envelope_keeps_its_status() {
        let err = answer_error(502, "<html>Bad gateway</html>", "https://r", "x");
        assert_eq!(err.relay_code(), Some("http_502"));
        assert!(err.to_string().contains("Bad gateway"), "{err}");
        assert_eq!(
            answer_error(404, "", "https://r", "event evt_1").exit_code(),
            4
        );
    }
}
