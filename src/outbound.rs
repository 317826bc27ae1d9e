//! One HTTP attempt to a destination, bounded in time and in what it reads.
//!
//! The request is aborted when the endpoint's timeout passes; the aborted fetch is
//! still awaited (it settles at once), so nothing is left running. Only the first
//! [`SNIPPET_BYTES`] of the answer are read.

use crate::retry::{classify_status, OutcomeClass};
use futures::future::{select, Either};
use futures::StreamExt;
use std::time::Duration;
use worker::js_sys::Uint8Array;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
    Response, Url,
};

pub const SNIPPET_BYTES: usize = 1024;

#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub status_code: Option<u16>,
    pub class: OutcomeClass,
    pub error: Option<String>,
    pub snippet: Option<String>,
    /// The raw `Retry-After` header; parsed by the retry policy.
    pub retry_after: Option<String>,
}

impl AttemptResult {
    fn failed(class: OutcomeClass, error: String) -> Self {
        Self {
            status_code: None,
            class,
            error: Some(error),
            snippet: None,
            retry_after: None,
        }
    }
}

pub async fn post(
    url: &Url,
    headers: &[(String, String)],
    body: &[u8],
    timeout_ms: u32,
) -> AttemptResult {
    let request = match build_request(url, headers, body) {
        Ok(r) => r,
        Err(e) => {
            return AttemptResult::failed(
                OutcomeClass::NetworkError,
                format!("request not built: {e}"),
            )
        }
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        let mut resp = Fetch::Request(request).send_with_signal(&signal).await?;
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        let snippet = read_prefix(&mut resp, SNIPPET_BYTES).await;
        Ok::<_, worker::Error>((resp.status_code(), retry_after, snippet))
    };
    futures::pin_mut!(exchange);
    let timer = Delay::from(Duration::from_millis(u64::from(timeout_ms)));
    match select(exchange, timer).await {
        Either::Left((Ok((code, retry_after, snippet)), _timer)) => {
            let class = classify_status(code);
            AttemptResult {
                status_code: Some(code),
                class,
                error: (class != OutcomeClass::Delivered).then(|| format!("HTTP {code}")),
                snippet: Some(snippet),
                retry_after,
            }
        }
        Either::Left((Err(e), _timer)) => {
            AttemptResult::failed(OutcomeClass::NetworkError, e.to_string())
        }
        Either::Right(((), exchange)) => {
            controller.abort();
            // Settles immediately with an abort error; awaited so nothing outlives the attempt.
            let _aborted: worker::Result<_> = exchange.await;
            AttemptResult::failed(
                OutcomeClass::Timeout,
                format!("no answer within {timeout_ms} ms"),
            )
        }
    }
}

fn build_request(url: &Url, headers: &[(String, String)], body: &[u8]) -> worker::Result<Request> {
    let out = Headers::new();
    for (name, value) in headers {
        out.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(out)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(Uint8Array::from(body).into()));
    Request::new_with_init(url.as_str(), &init)
}

async fn read_prefix(resp: &mut Response, max: usize) -> String {
    let Ok(mut stream) = resp.stream() else {
        return String::new();
    };
    let mut buf = Vec::new();
    while buf.len() < max {
        match stream.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(max);
    String::from_utf8_lossy(&buf).into_owned()
}
