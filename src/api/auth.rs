//! POST /auth/register, POST /auth/login, POST /auth/logout, POST /auth/logout-all, GET /auth/me.

use super::{now_secs, Ctx, Reply};
use crate::auth::{
    burn_equal_time, hash_password, issue_token, stored_iterations, verify_password, TOKEN_LIFETIME_SECS,
};
use crate::db::attempts::{self, Attempt};
use crate::db::{sessions, users, Client};
use crate::error::{ApiError, ApiResult};
use crate::hub;
use crate::protocol::{validate_phone, Account, AuthResponse, LoginRequest, RegisterRequest};
use crate::views;
use chrono::DateTime;

/// Wrong passwords allowed per phone number within the window, before logins to it are refused.
const LOGIN_FAILURES_ALLOWED: i64 = 10;

/// Starts a session and issues the token that names it.
async fn session(ctx: &Ctx, db: &Client, user: Account) -> ApiResult<AuthResponse> {
    let now = now_secs();
    let expires_at = DateTime::from_timestamp(now + TOKEN_LIFETIME_SECS, 0).ok_or_else(ApiError::internal)?;
    let session_id = sessions::start(db, user.user.id, expires_at).await?;
    let token = issue_token(user.user.id, session_id, now, ctx.jwt_secret()?);
    Ok(AuthResponse { user, token, expires_at })
}

pub async fn register(ctx: Ctx) -> ApiResult<Reply> {
    // Configuration faults come first: never create an account that could not log in.
    ctx.jwt_secret()?;
    let iterations = ctx.pbkdf2_iterations()?;
    let account = ctx.json::<RegisterRequest>()?.validate()?;
    let password_hash = hash_password(&account.password, iterations);
    let first_user_becomes_admin = ctx.config.first_user_admin && ctx.config.bootstrap_admin.is_none();
    let mut db = ctx.connect().await?;
    // Bounds sign-up floods from one address; an address the platform does not tell is not limited.
    let limited_address = ctx.config.registrations_per_address_per_hour.zip(ctx.client_address.as_deref());
    if let Some((allowed, address)) = limited_address {
        if attempts::recent(&db, Attempt::Registration, address).await? >= i64::from(allowed) {
            return Err(ApiError::new(
                429,
                "too_many_registrations",
                "Too many new accounts from this network in the last hour. Try again later.",
            ));
        }
    }
    let inserted =
        users::insert(&mut db, &account.phone, &account.display_name, &password_hash, first_user_becomes_admin).await;
    let user = match inserted {
        Err(e) if e.is_unique_violation() => {
            return Err(ApiError::conflict(
                "phone_taken",
                "An account with this phone number already exists. Log in instead.",
            ))
        }
        other => views::account(other?),
    };
    if let Some((_, address)) = limited_address {
        attempts::record(&db, Attempt::Registration, address).await?;
    }
    crate::hub::broadcast_registration(&ctx.env, &db, user.user.clone()).await;
    Reply::json(201, &session(&ctx, &db, user).await?)
}

pub async fn login(ctx: Ctx) -> ApiResult<Reply> {
    ctx.jwt_secret()?;
    let iterations = ctx.pbkdf2_iterations()?;
    let request = ctx.json::<LoginRequest>()?;
    let phone = validate_phone(&request.phone)?;
    let wrong = || ApiError::new(401, "invalid_credentials", "Wrong phone number or password.");
    let db = ctx.connect().await?;
    // Bounds password guessing per account; checked before the (costly) hash, so a refused
    // attempt costs no PBKDF2 either.
    if attempts::recent(&db, Attempt::LoginFailure, &phone).await? >= LOGIN_FAILURES_ALLOWED {
        return Err(too_many_attempts());
    }
    let found = users::credentials_by_phone(&db, &phone).await?;
    let matched = match &found {
        Some(found) => verify_password(&request.password, &found.password_hash),
        None => {
            burn_equal_time(&request.password, iterations);
            false
        }
    };
    let Some(found) = found.filter(|_| matched) else {
        attempts::record(&db, Attempt::LoginFailure, &phone).await?;
        return Err(wrong());
    };
    attempts::clear(&db, Attempt::LoginFailure, &phone).await?;
    // Hashes made at an older, lower count are upgraded while the password is at hand.
    if stored_iterations(&found.password_hash).is_some_and(|n| n < iterations) {
        users::set_password_hash(&db, found.user.id, &hash_password(&request.password, iterations)).await?;
    }
    Reply::json(200, &session(&ctx, &db, views::account(found.user)).await?)
}

fn too_many_attempts() -> ApiError {
    ApiError::new(
        429,
        "too_many_attempts",
        format!(
            "Too many wrong passwords for this number. Try again in {} minutes.",
            Attempt::LoginFailure.window_minutes()
        ),
    )
}

/// The signed-in user's password, entered again for an action a stolen token alone must not do
/// (removing another of their devices). A wrong one counts against the number like a failed
/// login, under the same limit, so a token cannot be used to guess the password either.
pub async fn confirm_password(db: &Client, user: uuid::Uuid, password: &str) -> ApiResult<()> {
    let phone = users::by_id(db, user)
        .await?
        .and_then(|u| u.phone)
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    if attempts::recent(db, Attempt::LoginFailure, &phone).await? >= LOGIN_FAILURES_ALLOWED {
        return Err(too_many_attempts());
    }
    let found = users::credentials_by_phone(db, &phone).await?;
    if !found.is_some_and(|found| verify_password(password, &found.password_hash)) {
        attempts::record(db, Attempt::LoginFailure, &phone).await?;
        return Err(ApiError::new(403, "wrong_password", "That is not this account's password."));
    }
    Ok(())
}

/// Ends the session of the token presented: the token stops working at once, here and on its
/// sockets, instead of lingering until it expires.
pub async fn logout(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    sessions::end(&db, caller.session_id).await?;
    hub::disconnect(&ctx.env, caller.id, hub::Disconnect::sessions(vec![caller.session_id])).await;
    Ok(Reply::no_content())
}

pub async fn logout_all(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let ended = sessions::end_all(&db, caller.id).await?;
    // Revoking a session also ends its live sockets, not only its next request.
    hub::disconnect(&ctx.env, caller.id, hub::Disconnect::sessions(ended)).await;
    Ok(Reply::no_content())
}

pub async fn me(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let user =
        users::by_id(&db, caller.id).await?.ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    Reply::json(200, &views::account(user))
}
