//! GET /health and GET /openapi.json.

use super::{Ctx, Reply};
use crate::error::ApiResult;
use crate::protocol::{DatabaseHealth, Health};

pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Answers 200 when the database answers, 503 when it does not, so a load balancer can act on it.
pub async fn health(ctx: Ctx) -> ApiResult<Reply> {
    let started = js_sys::Date::now();
    let database = match ctx.connect().await {
        Ok(db) => match db.simple_query("SELECT 1").await {
            Ok(_) => DatabaseHealth { ok: true, latency_ms: Some(js_sys::Date::now() - started), error: None },
            Err(_) => DatabaseHealth {
                ok: false,
                latency_ms: None,
                error: Some("the database did not answer a query".into()),
            },
        },
        Err(e) => DatabaseHealth { ok: false, latency_ms: None, error: Some(e.message) },
    };
    let status = if database.ok { 200 } else { 503 };
    Reply::json(status, &Health { ok: database.ok, version: env!("CARGO_PKG_VERSION"), database })
}

pub async fn openapi(_ctx: Ctx) -> ApiResult<Reply> {
    Ok(Reply::raw_json(OPENAPI_JSON))
}
