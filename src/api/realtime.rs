//! GET /ws: authenticates a WebSocket upgrade and hands it to the caller's UserHub.

use super::Ctx;
use crate::auth::websocket_credentials;
use crate::error::{ApiError, ApiResult};
use crate::hub;
use crate::protocol::parse_uuid;
use worker::{Headers, Method, Request, RequestInit, Response};

pub async fn upgrade(ctx: Ctx, upgrade_header: Option<String>, protocols: Option<String>) -> ApiResult<Response> {
    if ctx.query("token").is_some() {
        // Refused before it is even read: a URL is written down by proxies, servers and browser
        // history, so a token in one can outlive the session it was meant for.
        return Err(ApiError::bad_request(
            "token_in_url",
            "Do not put the session token in the URL, where logs keep it: pass it as the \"bearer.<token>\" \
             subprotocol beside \"e2e-chat.v1\". Log out that session if the URL may have been logged.",
        ));
    }
    if !upgrade_header.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(ApiError::new(
            426,
            "upgrade_required",
            "GET /ws is a WebSocket endpoint; send an Upgrade: websocket request.",
        ));
    }
    let (token, selected) = websocket_credentials(protocols.as_deref())?;
    let (db, caller) = ctx.authenticate_token(token).await?;
    let asked = ctx.query("device").map(|d| parse_uuid(d, "device")).transpose()?;
    // A session acts as one device: a socket of a session that has one is that device's socket,
    // so removing the device closes it, whether or not the client named the device.
    let device = match (asked, caller.device_id) {
        (Some(asked), Some(bound)) if asked != bound => {
            return Err(ApiError::forbidden("This session belongs to another of your devices; log in again."))
        }
        // Naming a device is not proof of running on it: that is POST /devices/:id/bind's job.
        (Some(asked), None) => {
            if !crate::db::devices::belongs_to(&db, asked, caller.id).await? {
                return Err(ApiError::forbidden("This device is not one of yours."));
            }
            return Err(super::devices::device_not_bound());
        }
        (asked, bound) => bound.or(asked),
    };
    // A fresh request: nothing the client sent reaches the hub except what was verified here.
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value).map_err(|_| ApiError::internal());
    set("Upgrade", "websocket")?;
    set(hub::HEADER_USER, &caller.id.to_string())?;
    set(hub::HEADER_SESSION, &caller.session_id.to_string())?;
    set(hub::HEADER_EXPIRES, &caller.expires_at.to_string())?;
    if let Some(device) = device {
        set(hub::HEADER_DEVICE, &device.to_string())?;
    }
    set(hub::HEADER_PROTOCOL, selected)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init("https://hub/connect", &init).map_err(|_| ApiError::internal())?;
    let stub =
        ctx.env.durable_object(hub::BINDING).and_then(|ns| ns.get_by_name(&caller.id.to_string())).map_err(|_| {
            ApiError::misconfigured("The USER_HUB Durable Object binding is missing from wrangler.toml.")
        })?;
    stub.fetch_with_request(request).await.map_err(|e| {
        crate::error::log_error("ws.upgrade", &format!("hub did not accept the socket: {e}"));
        ApiError::new(503, "hub_unavailable", "The realtime service is not answering. Please reconnect shortly.")
    })
}
