//! The one error shape every route answers with: a status code and
//! `{"error": {"code", "message"}}`. Storage errors are logged in full and
//! answered with a generic message (they may quote SQL or bindings).

use crate::model::RefusalReason;
use crate::views::{ErrorBody, ErrorDetail};
use serde::Serialize;
use serde_json::json;
use worker::{console_error, Response, Result};

#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// An ingest refusal, answered with its reason's status and code.
    pub fn refused(reason: RefusalReason, message: impl Into<String>) -> Self {
        Self::new(reason.status(), reason.as_str(), message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(404, "not_found", format!("{what} not found"))
    }

    pub fn unavailable(what: &str) -> Self {
        Self::new(503, "storage_unavailable", format!("{what}; retry later"))
    }

    pub fn into_response(self) -> Result<Response> {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
            },
        };
        json_response(self.status, &body)
    }
}

impl From<worker::Error> for ApiError {
    fn from(err: worker::Error) -> Self {
        console_error!(
            "{}",
            json!({"msg": "internal error", "error": err.to_string()})
        );
        ApiError::new(500, "internal", "internal error")
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        ApiError::from(worker::Error::from(err))
    }
}

pub fn json_response<T: Serialize>(status: u16, body: &T) -> Result<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}
