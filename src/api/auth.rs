//! POST /auth/register, POST /auth/login, POST /auth/logout-all, GET /auth/me.

use super::{now_secs, Ctx, Reply};
use crate::auth::{
    burn_equal_time, hash_password, issue_token, stored_iterations, verify_password, TOKEN_LIFETIME_SECS,
};
use crate::db::users;
use crate::error::{ApiError, ApiResult};
use crate::hub;
use crate::protocol::{validate_phone, Account, AuthResponse, LoginRequest, RegisterRequest};
use chrono::DateTime;

fn session(ctx: &Ctx, user: Account, token_version: i32) -> ApiResult<AuthResponse> {
    let now = now_secs();
    let token = issue_token(user.user.id, token_version, now, ctx.jwt_secret()?);
    let expires_at = DateTime::from_timestamp(now + TOKEN_LIFETIME_SECS, 0).ok_or_else(ApiError::internal)?;
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
    let user =
        users::insert(&mut db, &account.phone, &account.display_name, &password_hash, first_user_becomes_admin).await?;
    crate::hub::broadcast_registration(&ctx.env, &db, user.user.clone()).await;
    Reply::json(201, &session(&ctx, user, 0)?)
}

pub async fn login(ctx: Ctx) -> ApiResult<Reply> {
    ctx.jwt_secret()?;
    let iterations = ctx.pbkdf2_iterations()?;
    let request = ctx.json::<LoginRequest>()?;
    let phone = validate_phone(&request.phone)?;
    let wrong = || ApiError::new(401, "invalid_credentials", "Wrong phone number or password.");
    let db = ctx.connect().await?;
    let Some(found) = users::credentials_by_phone(&db, &phone).await? else {
        burn_equal_time(&request.password, iterations);
        return Err(wrong());
    };
    if !verify_password(&request.password, &found.password_hash) {
        return Err(wrong());
    }
    // Hashes made at an older, lower count are upgraded while the password is at hand.
    if stored_iterations(&found.password_hash).is_some_and(|n| n < iterations) {
        users::set_password_hash(&db, found.account.user.id, &hash_password(&request.password, iterations)).await?;
    }
    Reply::json(200, &session(&ctx, found.account, found.token_version)?)
}

pub async fn logout_all(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let current = users::bump_token_version(&db, caller.id).await?;
    // Revoking a session also ends its live sockets, not only its next request.
    hub::disconnect(&ctx.env, caller.id, hub::Disconnect::sessions_before(current)).await;
    Ok(Reply::no_content())
}

pub async fn me(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let account = users::account_by_id(&db, caller.id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    Reply::json(200, &account)
}
