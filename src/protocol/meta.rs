//! Shapes shared by every resource (paging) and the service's own endpoints.

use schemars::JsonSchema;
use serde::Serialize;
use ts_rs::TS;

/// One keyset page. `nextCursor` is null on the last page.
#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "{T}Page")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub ok: bool,
    pub version: &'static str,
    pub database: DatabaseHealth,
}

#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseHealth {
    pub ok: bool,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
}

/// The error body is declared beside `ApiError`, which serializes it; it is a wire type all the same.
pub use crate::error::{ErrorBody, ErrorDetail};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    #[test]
    fn the_error_body_type_is_what_api_errors_serialize_to() {
        let json = ApiError::not_found("No such user.").to_json();
        let body: ErrorBody = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&body).unwrap(), json);
    }
}
