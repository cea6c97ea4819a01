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

/// One structured log line: a JSON object on one line, so that a log search can filter on its
/// fields. Every field is typed and chosen by the server, never copied from a request: what can
/// appear is an id (request ids are random, user ids are random UUIDs that name no one by
/// themselves), a method, a route template (`/users/:phone`, never the path, which may hold a
/// phone number), a status, a duration, an error code, an event kind, and for `log_error` a
/// detail its callers keep free of secrets. No phone number, token, password, name or ciphertext
/// has a field to go in.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine<'a> {
    /// `info` or `error`.
    pub level: &'static str,
    /// What the line is about: `request`, `hub.event`, or the context of an error.
    pub event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'a str>,
    /// The router's template for the path, or `unmatched` when no route fits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'a str>,
    /// A hub event's kind (`send`, `receipt`, `typing`, `sync`, `commit`, `invalid`), or a sweep
    /// step's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// A pseudonymous account id: a random UUID, which names no one without the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
    /// How many things a sweep step deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// The methods a log line may name as they are; any other is logged as `OTHER`, so that a
/// client cannot write what it likes into the log through the method.
const LOGGED_METHODS: &[&str] = &["GET", "POST", "DELETE", "OPTIONS", "PUT", "PATCH", "HEAD"];

impl<'a> LogLine<'a> {
    /// The line of one HTTP request, as it was answered.
    pub fn request(
        request_id: &'a str,
        method: &'a str,
        route: Option<&'static str>,
        status: u16,
        duration_ms: u64,
        error_code: Option<&'a str>,
    ) -> Self {
        let method = LOGGED_METHODS.iter().copied().find(|m| *m == method).unwrap_or("OTHER");
        Self {
            level: if status >= 500 { "error" } else { "info" },
            event: "request",
            request_id: Some(request_id),
            method: Some(method),
            route: Some(route.unwrap_or("unmatched")),
            status: Some(status),
            duration_ms: Some(duration_ms),
            error_code,
            ..Self::default()
        }
    }

    /// The line of one event a hub handled for a socket of `user_id`.
    pub fn hub_event(kind: &'static str, user_id: uuid::Uuid, duration_ms: u64, error_code: Option<&'a str>) -> Self {
        Self {
            level: "info",
            event: "hub.event",
            kind: Some(kind),
            user_id: Some(user_id),
            duration_ms: Some(duration_ms),
            error_code,
            ..Self::default()
        }
    }

    /// The line of one step of the scheduled sweep (src/sweep.rs), `kind` naming the step.
    pub fn sweep_step(step: &'static str, count: u64, duration_ms: u64) -> Self {
        Self {
            level: "info",
            event: "sweep",
            kind: Some(step),
            count: Some(count),
            duration_ms: Some(duration_ms),
            ..Self::default()
        }
    }

    /// An operator-facing error line.
    pub fn error(context: &'a str, detail: &'a str) -> Self {
        Self { level: "error", event: context, detail: Some(detail), ..Self::default() }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a log line holds only strings, numbers and ids")
    }

    /// Writes the line to the Worker log (errors to the error stream).
    pub fn write(&self) {
        let line = self.to_json();
        #[cfg(target_arch = "wasm32")]
        {
            if self.level == "error" {
                worker::console_error!("{line}");
            } else {
                worker::console_log!("{line}");
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        eprintln!("{line}");
    }
}

/// Writes an operator-facing error line to the Worker log, in the same JSON shape as every other
/// line. Callers pass only what is safe to keep: never a password, token, key or ciphertext.
pub fn log_error(context: &str, detail: &str) {
    LogLine::error(context, detail).write();
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

    fn parsed(line: &LogLine) -> serde_json::Value {
        let text = line.to_json();
        assert!(!text.contains('\n'), "one line: {text}");
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn a_request_line_names_the_route_template_not_the_path() {
        let line = LogLine::request("req-1", "GET", Some("/users/:phone"), 404, 12, Some("not_found"));
        assert_eq!(
            parsed(&line),
            serde_json::json!({
                "level": "info", "event": "request", "requestId": "req-1", "method": "GET",
                "route": "/users/:phone", "status": 404, "durationMs": 12, "errorCode": "not_found",
            })
        );
        let unmatched = parsed(&LogLine::request("req-2", "POST", None, 500, 3, Some("internal")));
        assert_eq!((unmatched["route"].as_str(), unmatched["level"].as_str()), (Some("unmatched"), Some("error")));
        assert!(unmatched.get("errorCode").is_some() && unmatched.get("userId").is_none());
    }

    #[test]
    fn a_method_nobody_defines_is_not_written_into_the_log() {
        let line = parsed(&LogLine::request("r", "X\u{1b}[31m+14155550123", None, 405, 0, None));
        assert_eq!(line["method"], "OTHER");
    }

    #[test]
    fn a_hub_event_line_carries_a_pseudonymous_id_and_nothing_else_of_the_user() {
        let user = uuid::Uuid::new_v4();
        let line = parsed(&LogLine::hub_event("send", user, 4, None));
        assert_eq!(
            line,
            serde_json::json!({
                "level": "info", "event": "hub.event", "kind": "send", "userId": user.to_string(), "durationMs": 4,
            })
        );
    }

    #[test]
    fn no_line_has_room_for_a_phone_token_or_ciphertext() {
        // Every constructor, fed everything it takes, with a phone, a token and ciphertext at
        // hand: none of them can reach the line, as no field takes them.
        let (phone, token, ciphertext) = ("+14155550123", "eyJhbGciOiJIUzI1NiJ9.secret.sig", "AAECAwQFBgc=");
        let request = LogLine::request("8a0c", "GET", Some("/users/:phone"), 200, 1, None).to_json();
        let event = LogLine::hub_event("sync", uuid::Uuid::nil(), 1, Some("forbidden")).to_json();
        for text in [request, event] {
            for secret in [phone, token, ciphertext, "14155550123"] {
                assert!(!text.contains(secret), "{text} holds {secret}");
            }
        }
        let keys: Vec<String> =
            parsed(&LogLine::error("hub.presence", "connection reset")).as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["detail", "event", "level"]); // sorted by serde_json::Value
    }
}
