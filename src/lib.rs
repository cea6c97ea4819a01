//! E2E Chat server: one Cloudflare Worker (REST API) compiled from Rust to wasm.
//! Pure logic lives in modules without worker types and is unit-tested natively; the wasm-only
//! glue (HTTP handling, database access through Hyperdrive) sits behind `cfg(target_arch = "wasm32")`.

pub mod attachments;
pub mod auth;
pub mod config;
pub mod cursor;
pub mod db;
pub mod deliveries;
pub mod error;
#[cfg(test)]
mod openapi;
pub mod protocol;
pub mod push;
pub mod ratelimit;
pub mod router;
pub mod sweep;
pub mod views;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
pub mod hub;

#[cfg(target_arch = "wasm32")]
#[worker::event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(req: worker::Request, env: worker::Env, _ctx: worker::Context) -> worker::Result<worker::Response> {
    http::handle(req, env).await
}

/// The cron in wrangler.toml: the sweep (src/sweep.rs).
#[cfg(target_arch = "wasm32")]
#[worker::event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: worker::Env, _ctx: worker::ScheduleContext) {
    sweep::run(&env).await;
}
