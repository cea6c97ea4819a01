//! The one error type of the server. Every failure becomes `{ "error": { "code", "message" } }`
//! with an HTTP status; messages are written for the person reading them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Set on `stale_epoch`: the epoch the conversation is at, so the client knows where to catch up.
    pub current_epoch: Option<i64>,
    /// Set on a 429: how many seconds until a new attempt can succeed (the `Retry-After` header).
    pub retry_after_secs: Option<u32>,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The body of every error response.
#[derive(Debug, Serialize, Deserialize, TS, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, TS, JsonSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable, like `invalid_phone`.
    pub code: String,
    /// Written for the person reading it.
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), current_epoch: None, retry_after_secs: None }
    }

    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after_secs = Some(seconds.max(1));
        self
    }

    pub fn with_current_epoch(mut self, epoch: i64) -> Self {
        self.current_epoch = Some(epoch);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }

    /// The caller is not (or no longer) a member of the conversation named.
    pub fn not_a_member() -> Self {
        Self::new(403, "not_a_member", "You are not a member of this conversation.")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// A fault on our side. The detail goes to the log, never to the client.
    pub fn internal() -> Self {
        Self::new(500, "internal", "Something went wrong on the server. Please try again.")
    }

    pub fn misconfigured(message: impl Into<String>) -> Self {
        Self::new(500, "server_misconfigured", message)
    }

    pub fn database_unavailable() -> Self {
        Self::new(503, "database_unavailable", "The database is not answering. Please try again shortly.")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&ErrorBody {
            error: ErrorDetail { code: self.code.into(), message: self.message.clone() },
        })
        .expect("serializing two strings cannot fail")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Writes an operator-facing line to the Worker log. Callers pass only what is safe to keep:
/// never a password, token, key or ciphertext.
pub fn log_error(context: &str, detail: &str) {
    #[cfg(target_arch = "wasm32")]
    worker::console_error!("[{context}] {detail}");
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{context}] {detail}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_to_the_wire_shape() {
        let json: serde_json::Value =
            serde_json::from_str(&ApiError::not_found("No such user \"x\"").to_json()).unwrap();
        assert_eq!(json, serde_json::json!({ "error": { "code": "not_found", "message": "No such user \"x\"" } }));
    }

    #[test]
    fn internal_errors_reveal_nothing() {
        let e = ApiError::internal();
        assert_eq!(e.status, 500);
        assert!(!e.message.to_lowercase().contains("sql"));
    }
}
