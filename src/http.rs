//! The wasm glue between workerd and the handlers: routing, body limits, CORS, security headers,
//! turning every error into the one JSON shape, and one structured log line per request.

use crate::api::{self, Ctx, Download, Reply};
use crate::config::Config;
use crate::error::{ApiError, ApiResult, LogLine};
use crate::protocol::{payload_too_large, MAX_BODY_BYTES};
use crate::router::{check_preflight, cors_headers, resolve, Endpoint, Resolution, SECURITY_HEADERS};
use worker::{Env, Headers, Request, Response, ResponseBuilder};

/// The header that carries each request's id back to the client: a user reporting a failure can
/// quote it, and it finds the request's log line.
const REQUEST_ID_HEADER: &str = "X-Request-Id";

pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    let started = js_sys::Date::now();
    // Random, not taken from the client, so that a client cannot forge or collide with another's.
    let request_id = uuid::Uuid::new_v4().to_string();
    let method = req.inner().method();
    let mut route = None;
    let mut error_code = None;
    let result = answer(req, env, &mut route, &mut error_code).await;
    let status = match &result {
        Ok(response) => response.status_code(),
        Err(_) => 500,
    };
    let duration_ms = (js_sys::Date::now() - started).max(0.0) as u64;
    LogLine::request(&request_id, &method, route, status, duration_ms, error_code).write();
    let mut response = result?;
    // A WebSocket upgrade's headers are immutable; its 101 is logged all the same.
    let _ = response.headers_mut().set(REQUEST_ID_HEADER, &request_id);
    Ok(response)
}

/// Answers one request, reporting the route template it matched and the error code it answered
/// with, for the log line.
async fn answer(
    mut req: Request,
    env: Env,
    route: &mut Option<&'static str>,
    error_code: &mut Option<&'static str>,
) -> worker::Result<Response> {
    let config = Config::from_env(&env);
    let origin = req.headers().get("Origin").ok().flatten();
    // The method as the client sent it: workers-rs's `Method` reads every method it has no variant
    // for (QUERY, PROPFIND, …) as GET, which would serve them as GETs.
    let method = req.inner().method();
    let preflight = method == "OPTIONS";
    let error_reply = |e: ApiError| Reply { status: e.status, body: Some(e.to_json()) };
    let mut retry_after = None;
    let (reply, allow) = match respond(&mut req, &method, env, config.clone(), origin.as_deref(), route).await {
        Ok(Outcome::Upgrade(response)) => return Ok(response),
        Ok(Outcome::Download(download)) => return download_response(download, &config, origin.as_deref()),
        Ok(Outcome::Reply(reply)) => (reply, None),
        Ok(Outcome::Preflight { allow }) => (Reply::no_content(), Some(allow)),
        Ok(Outcome::MethodNotAllowed { error, allow }) => {
            *error_code = Some(error.code);
            (error_reply(error), Some(allow))
        }
        Err(e) => {
            *error_code = Some(e.code);
            retry_after = e.retry_after_secs;
            (error_reply(e), None)
        }
    };
    let preflight_methods = if preflight { allow.as_deref() } else { None };
    let headers = common_headers(&config, origin.as_deref(), preflight_methods)?;
    if reply.body.is_some() {
        headers.set("Content-Type", "application/json; charset=utf-8")?;
    }
    if let Some(allow) = &allow {
        headers.set("Allow", allow)?;
    }
    if let Some(seconds) = retry_after {
        headers.set("Retry-After", &seconds.to_string())?;
    }
    let builder = ResponseBuilder::new().with_status(reply.status).with_headers(headers);
    Ok(match reply.body {
        Some(body) => builder.fixed(body.into_bytes()),
        None => builder.empty(),
    })
}

/// The security and CORS headers every answer carries.
fn common_headers(config: &Config, origin: Option<&str>, preflight_methods: Option<&str>) -> worker::Result<Headers> {
    let headers = Headers::new();
    for (name, value) in SECURITY_HEADERS {
        headers.set(name, value)?;
    }
    for (name, value) in cors_headers(config, origin, preflight_methods) {
        headers.set(name, &value)?;
    }
    Ok(headers)
}

/// Bytes streamed through with their length, for the caller alone: no cache may keep them (they
/// are ciphertext, but only the conversation's members may have even that), and a browser that
/// opens the URL saves rather than shows them.
fn download_response(download: Download, config: &Config, origin: Option<&str>) -> worker::Result<Response> {
    let headers = common_headers(config, origin, None)?;
    headers.set("Content-Type", "application/octet-stream")?;
    headers.set("Content-Length", &download.length.to_string())?;
    headers.set("Content-Disposition", "attachment")?;
    headers.set("Cache-Control", "private, no-store")?;
    Ok(ResponseBuilder::new().with_status(200).with_headers(headers).body(download.body))
}

enum Outcome {
    Reply(Reply),
    /// An attachment's bytes (`GET /attachments/:id`).
    Download(Download),
    /// A WebSocket handshake answered by a hub, passed through untouched.
    Upgrade(Response),
    /// An allowed origin's preflight: 204, with the path's methods in `Allow`.
    Preflight {
        allow: String,
    },
    /// 405, with the path's methods in `Allow`.
    MethodNotAllowed {
        error: ApiError,
        allow: String,
    },
}

async fn respond(
    req: &mut Request,
    method: &str,
    env: Env,
    config: Config,
    origin: Option<&str>,
    route: &mut Option<&'static str>,
) -> ApiResult<Outcome> {
    let url = req.url().map_err(|_| ApiError::bad_request("invalid_url", "The request URL could not be read."))?;
    let matched = match resolve(method, url.path())? {
        Resolution::Preflight { allow } => {
            check_preflight(&config, origin)?;
            return Ok(Outcome::Preflight { allow });
        }
        Resolution::MethodNotAllowed { error, allow } => return Ok(Outcome::MethodNotAllowed { error, allow }),
        Resolution::Route(matched) => matched,
    };
    *route = Some(matched.template);
    // An attachment's part is streamed on unread; every other body is JSON, read here.
    let body =
        if matched.endpoint == Endpoint::UploadAttachmentPart { Vec::new() } else { read_body(req, method).await? };
    let query: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if query.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
        return Err(crate::protocol::nul_refused());
    }
    let ctx = Ctx {
        env,
        config,
        params: matched.params,
        query,
        authorization: req.headers().get("Authorization").ok().flatten(),
        client_address: req.headers().get("CF-Connecting-IP").ok().flatten(),
        body,
    };
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let reply = match matched.endpoint {
        Endpoint::WebSocket => {
            let response = api::realtime::upgrade(ctx, header("Upgrade"), header("Sec-WebSocket-Protocol")).await?;
            return Ok(Outcome::Upgrade(response));
        }
        Endpoint::UploadAttachmentPart => {
            let body = req.inner().body();
            api::attachments::upload_part(ctx, body, header("Content-Length")).await
        }
        Endpoint::DownloadAttachment => return Ok(Outcome::Download(api::attachments::download(ctx).await?)),
        Endpoint::CreateAttachment => api::attachments::create(ctx).await,
        Endpoint::CompleteAttachment => api::attachments::complete(ctx).await,
        Endpoint::CancelAttachment => api::attachments::cancel(ctx).await,
        Endpoint::Health => api::meta::health(ctx).await,
        Endpoint::PushServerKey => api::push::server_key(ctx).await,
        Endpoint::SubscribePush => api::push::subscribe(ctx).await,
        Endpoint::UnsubscribePush => api::push::unsubscribe(ctx).await,
        Endpoint::GetNotifications => api::push::get_notifications(ctx).await,
        Endpoint::SetNotifications => api::push::set_notifications(ctx).await,
        Endpoint::OpenApi => api::meta::openapi(ctx).await,
        Endpoint::Register => api::auth::register(ctx).await,
        Endpoint::Login => api::auth::login(ctx).await,
        Endpoint::Logout => api::auth::logout(ctx).await,
        Endpoint::LogoutAll => api::auth::logout_all(ctx).await,
        Endpoint::Me => api::auth::me(ctx).await,
        Endpoint::UpdateMe => api::users::update_me(ctx).await,
        Endpoint::ListUsers => api::users::list(ctx).await,
        Endpoint::GetUser => api::users::get(ctx).await,
        Endpoint::CreateGroup => api::conversations::create(ctx).await,
        Endpoint::ListConversations => api::conversations::list(ctx).await,
        Endpoint::GetConversation => api::conversations::get(ctx).await,
        Endpoint::RegisterDevice => api::devices::register(ctx).await,
        Endpoint::ListUserDevices => api::devices::list_for_user(ctx).await,
        Endpoint::LookupDevices => api::devices::lookup(ctx).await,
        Endpoint::BindDevice => api::devices::bind(ctx).await,
        Endpoint::DeleteDevice => api::devices::delete(ctx).await,
        Endpoint::RequestLink => api::links::request(ctx).await,
        Endpoint::ListPendingLinks => api::links::list_pending(ctx).await,
        Endpoint::LinkStatus => api::links::status(ctx).await,
        Endpoint::ApproveLink => api::links::approve(ctx).await,
        Endpoint::DeleteLink => api::links::delete(ctx).await,
        Endpoint::ResetDevices => api::links::reset(ctx).await,
        Endpoint::UploadKeyPackages => api::devices::upload_key_packages(ctx).await,
        Endpoint::KeyPackageCount => api::devices::key_package_count(ctx).await,
        Endpoint::ClaimKeyPackages => api::devices::claim(ctx).await,
        Endpoint::ListMessages => api::conversations::messages(ctx).await,
        Endpoint::UpdateConversation => api::conversations::update(ctx).await,
        Endpoint::DeleteMessage => api::conversations::delete_message(ctx).await,
        Endpoint::LeaveGroup => api::conversations::leave(ctx).await,
        Endpoint::AdminListUsers => api::admin::list_users(ctx).await,
        Endpoint::AdminDeleteUser => api::admin::delete_user(ctx).await,
        Endpoint::AdminAudit => api::admin::audit(ctx).await,
        Endpoint::AdminStats => api::admin::stats(ctx).await,
    };
    reply.map(Outcome::Reply)
}

/// Reads the body of a POST, PATCH, PUT or DELETE (removing another device carries the password),
/// refusing oversized ones by their declared length before reading, and bodies that are not JSON.
/// A GET's body is not read.
async fn read_body(req: &mut Request, method: &str) -> ApiResult<Vec<u8>> {
    if !matches!(method, "POST" | "PATCH" | "PUT" | "DELETE") {
        return Ok(Vec::new());
    }
    let declared: Option<usize> = req.headers().get("Content-Length").ok().flatten().and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(payload_too_large());
    }
    let body =
        req.bytes().await.map_err(|_| ApiError::bad_request("invalid_body", "The request body could not be read."))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(payload_too_large());
    }
    let content_type = req.headers().get("Content-Type").ok().flatten().unwrap_or_default();
    if !body.is_empty() && !content_type.to_ascii_lowercase().starts_with("application/json") {
        return Err(ApiError::new(
            415,
            "unsupported_media_type",
            "Send the request body as JSON (Content-Type: application/json).",
        ));
    }
    Ok(body)
}
