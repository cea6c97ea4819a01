//! HTTP handlers, one module per resource. Each is thin: parse → authorize → db → reply.

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod conversations;
pub mod devices;
pub mod links;
pub mod meta;
pub mod push;
pub mod realtime;
pub mod users;

use crate::auth::{bearer_token, hash_password, verify_password, verify_token};
use crate::config::Config;
use crate::cursor::{Cursor, PageRequest};
use crate::db::{self, sessions::AuthState, Client};
use crate::error::{log_error, ApiError, ApiResult};
use crate::protocol::parse_json;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use uuid::Uuid;

/// One request as the handlers see it: already routed, body already read and size-checked.
pub struct Ctx {
    pub env: worker::Env,
    pub config: Config,
    pub params: Vec<String>,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    /// The client's address as the platform tells it (`CF-Connecting-IP`).
    pub client_address: Option<String>,
    pub body: Vec<u8>,
}

pub struct Reply {
    pub status: u16,
    pub body: Option<String>,
}

impl Reply {
    pub fn json<T: Serialize>(status: u16, value: &T) -> ApiResult<Reply> {
        let body = serde_json::to_string(value).map_err(|_| ApiError::internal())?;
        Ok(Reply { status, body: Some(body) })
    }

    pub fn raw_json(body: &str) -> Reply {
        Reply { status: 200, body: Some(body.to_string()) }
    }

    pub fn no_content() -> Reply {
        Reply { status: 204, body: None }
    }
}

/// A download: bytes streamed through as they are (an attachment's ciphertext from R2), not JSON.
pub struct Download {
    pub body: worker::ResponseBody,
    pub length: u64,
}

/// The authenticated user making the request.
pub struct Caller {
    pub id: Uuid,
    pub is_admin: bool,
    /// The session the token names; a socket keeps it so ending the session can close it.
    pub session_id: Uuid,
    /// The device the session acts as, once it has registered or connected as one.
    pub device_id: Option<Uuid>,
    /// When the token expires (seconds since the epoch); a socket closes then.
    pub expires_at: i64,
}

thread_local! {
    /// The admin phone this isolate has already made sure of, so the check runs once, not per request.
    static ADMIN_ENSURED_FOR: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

impl Ctx {
    pub fn param(&self, index: usize) -> &str {
        self.params.get(index).map(String::as_str).unwrap_or_default()
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The page asked for with `?limit=` and `?cursor=`.
    pub fn page<C: Cursor>(&self) -> ApiResult<PageRequest<C>> {
        PageRequest::parse(self.query("cursor"), self.query("limit"))
    }

    pub fn json<T: DeserializeOwned>(&self) -> ApiResult<T> {
        parse_json(&self.body)
    }

    pub fn jwt_secret(&self) -> ApiResult<&[u8]> {
        self.config.jwt_secret.as_deref().map_err(Clone::clone)
    }

    pub fn pbkdf2_iterations(&self) -> ApiResult<u32> {
        self.config.pbkdf2_iterations.clone()
    }

    /// Opens a database connection; the first one in an isolate also makes sure the configured
    /// bootstrap admin exists.
    pub async fn connect(&self) -> ApiResult<Client> {
        let client = db::connect(&self.env).await?;
        if let Some(admin) = &self.config.bootstrap_admin {
            let done = ADMIN_ENSURED_FOR.with(|d| d.borrow().as_deref() == Some(admin.phone.as_str()));
            if !done {
                let iterations = self.pbkdf2_iterations()?;
                let outcome = db::users::ensure_admin(
                    &client,
                    &admin.phone,
                    |stored| verify_password(&admin.password, stored),
                    || hash_password(&admin.password, iterations),
                )
                .await?;
                if outcome == db::users::AdminBootstrap::PhoneHeldByAnother {
                    log_error(
                        "bootstrap_admin",
                        "ADMIN_PHONE belongs to an account that does not hold ADMIN_PASSWORD; it was not made an admin",
                    );
                }
                ADMIN_ENSURED_FOR.with(|d| *d.borrow_mut() = Some(admin.phone.clone()));
            }
        }
        Ok(client)
    }

    /// Checks the bearer token (signature and expiry first, without touching the database), then
    /// that its account still exists and its session has not ended.
    pub async fn authenticate(&self) -> ApiResult<(Client, Caller)> {
        self.authenticate_token(bearer_token(self.authorization.as_deref())?).await
    }

    pub async fn authenticate_token(&self, token: &str) -> ApiResult<(Client, Caller)> {
        let secret = self.jwt_secret()?;
        let claims = verify_token(token, now_secs(), secret)?;
        let db = self.connect().await?;
        let Some(AuthState { is_admin, session_live, device_id }) =
            db::sessions::auth_state(&db, claims.sub, claims.sid).await?
        else {
            return Err(ApiError::unauthorized("This account no longer exists."));
        };
        if !session_live {
            return Err(ApiError::new(
                401,
                "token_revoked",
                "This session has ended (logged out, or its device was removed). Please log in again.",
            ));
        }
        Ok((db, Caller { id: claims.sub, is_admin, session_id: claims.sid, device_id, expires_at: claims.exp }))
    }

    pub async fn authenticate_admin(&self) -> ApiResult<(Client, Caller)> {
        let (db, caller) = self.authenticate().await?;
        if !caller.is_admin {
            return Err(ApiError::forbidden("Only administrators can do this."));
        }
        Ok((db, caller))
    }
}
