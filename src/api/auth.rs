//! POST /auth/register, POST /auth/login, POST /auth/logout, POST /auth/logout-all, GET /auth/me.

use super::{now_secs, Caller, Ctx, Reply};
use crate::auth::{
    burn_equal_time, hash_password, issue_token, stored_iterations, verify_password, TOKEN_LIFETIME_SECS,
};
use crate::db::throttles::{self, describe_wait, Claim, Counted, Throttle};
use crate::db::{login_networks, sessions, users, Client};
use crate::error::{ApiError, ApiResult};
use crate::hub;
use crate::protocol::{validate_phone, Account, AuthResponse, LoginRequest, RegisterRequest};
use crate::views;
use chrono::DateTime;

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
    let first_user_becomes_admin = ctx.config.first_user_admin && ctx.config.bootstrap_admin.is_none();
    let mut db = ctx.connect().await?;
    // Bounds sign-up floods from one address, counted before the hash so parallel sign-ups cannot
    // all pass one count; an address the platform does not tell is not limited.
    let limited = ctx
        .config
        .registrations_per_address_per_hour
        .zip(ctx.client_address.as_deref())
        .map(|(per_hour, address)| Throttle::RegistrationsFromAddress { address, per_hour });
    if let Some(throttle) = limited {
        if let Claim::Refused { retry_after_secs } = throttles::claim(&db, throttle).await? {
            return Err(ApiError::new(
                429,
                "too_many_registrations",
                format!(
                    "Too many sign-ups from this network in the last hour. Try again in {}.",
                    describe_wait(retry_after_secs)
                ),
            )
            .with_retry_after(retry_after_secs.max(0) as u32));
        }
    }
    let phone_taken =
        || ApiError::conflict("phone_taken", "An account with this phone number already exists. Log in instead.");
    // A taken number stays counted, like any attempt: an answer that tells whether a number has
    // an account is limited as much as a sign-up. Checked before the hash, so it costs none; the
    // unique key still decides between two registrations racing for one number.
    if users::by_phone(&db, &account.phone).await?.is_some() {
        return Err(phone_taken());
    }
    let password_hash = hash_password(&account.password, iterations);
    let inserted =
        users::insert(&mut db, &account.phone, &account.display_name, &password_hash, first_user_becomes_admin).await;
    let user = match inserted {
        Err(e) if e.is_unique_violation() => return Err(phone_taken()),
        other => views::account(other?),
    };
    // Registering is the first login: the owner's network is theirs from now on (throttles, 5.).
    if let Some(address) = ctx.client_address.as_deref() {
        login_networks::remember(&db, user.user.id, address).await?;
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
    // Every limit is counted before the (costly) hash, so a refused attempt costs no PBKDF2 and
    // parallel guesses are counted one after another. The policy is in db::throttles.
    let address = ctx.client_address.as_deref();
    // (5.) From a network the number's owner has logged in from, only the number's count from
    // that network applies: strangers elsewhere, or guessing at other numbers, hold no one there.
    let owners_network = match address {
        Some(address) => login_networks::is_known(&db, &phone, address).await?,
        None => false,
    };
    let to_number_from_address = address.map(|address| Throttle::LoginsToNumberFromAddress { phone: &phone, address });
    let to_number = Throttle::LoginsToNumber { phone: &phone };
    let from_address = match address.filter(|_| !owners_network) {
        Some(address) => Some(admit(&db, Throttle::LoginsFromAddress { address }, "from this network").await?),
        None => None,
    };
    // The address's count stays taken by an attempt a later limit refuses: hammering a number
    // that is waiting still uses up the address's allowance.
    let counted_to_number_from_address = match to_number_from_address {
        Some(throttle) => Some(admit(&db, throttle, "for this number").await?),
        None => None,
    };
    if !owners_network {
        if let Claim::Refused { retry_after_secs } = throttles::claim(&db, to_number).await? {
            // Not tried, so not counted against the number from this address: the owner, waiting
            // out a stranger's guesses, does not use up their own allowance meanwhile.
            if let Some(counted) = counted_to_number_from_address {
                throttles::give_back(&db, counted).await?;
            }
            return Err(too_many_attempts("for this number", retry_after_secs));
        }
    }
    let found = users::credentials_by_phone(&db, &phone).await?;
    let matched = match &found {
        Some(found) => verify_password(&request.password, &found.password_hash),
        None => {
            burn_equal_time(&request.password, iterations);
            false
        }
    };
    // A wrong password stays counted, and needs no write.
    let Some(found) = found.filter(|_| matched) else { return Err(wrong()) };
    // The password is proven: the owner's counters for this number go. A stranger's counter for
    // their own address stays; the address keeps its other attempts, this one given back.
    throttles::reset(&db, to_number).await?;
    if let Some(throttle) = to_number_from_address {
        throttles::reset(&db, throttle).await?;
    }
    if let Some(counted) = from_address {
        throttles::give_back(&db, counted).await?;
    }
    if let Some(address) = address {
        login_networks::remember(&db, found.user.id, address).await?;
    }
    // Hashes made at an older, lower count are upgraded while the password is at hand.
    if stored_iterations(&found.password_hash).is_some_and(|n| n < iterations) {
        users::set_password_hash(&db, found.user.id, &hash_password(&request.password, iterations)).await?;
    }
    Reply::json(200, &session(&ctx, &db, views::account(found.user)).await?)
}

/// Counts an attempt, or refuses it with the wait `whom` (see [`too_many_attempts`]) is under.
async fn admit<'a>(db: &Client, throttle: Throttle<'a>, whom: &str) -> ApiResult<Counted<'a>> {
    match throttles::claim(db, throttle).await? {
        Claim::Admitted(counted) => Ok(counted),
        Claim::Refused { retry_after_secs } => Err(too_many_attempts(whom, retry_after_secs)),
    }
}

/// `whom`: "from this network", "for this number" or "for this session".
fn too_many_attempts(whom: &str, retry_after_secs: i32) -> ApiError {
    ApiError::new(
        429,
        "too_many_attempts",
        format!("Too many wrong passwords {whom}. Try again in {}.", describe_wait(retry_after_secs)),
    )
    .with_retry_after(retry_after_secs.max(0) as u32)
}

/// The signed-in user's password, entered again for an action a stolen token alone must not do
/// (removing another of their devices, replacing them all). A wrong one counts against the
/// session's own limit (the session the token names), checked before the hash, so a token cannot
/// be used to guess the password quickly either. Per session, not per account, so a stolen
/// token's wrong passwords do not stop the owner, in a session of their own, from removing the
/// stolen device; and apart from the number's login limit, so a stranger's wrong logins do not
/// either. A new session takes the password (a login), so a token cannot multiply its count.
pub async fn confirm_password(db: &Client, caller: &Caller, password: &str) -> ApiResult<()> {
    let phone = users::by_id(db, caller.id)
        .await?
        .and_then(|u| u.phone)
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    let throttle = Throttle::PasswordConfirmations { session: caller.session_id };
    admit(db, throttle, "for this session").await?;
    let found = users::credentials_by_phone(db, &phone).await?;
    if !found.is_some_and(|found| verify_password(password, &found.password_hash)) {
        return Err(ApiError::new(403, "wrong_password", "That is not this account's password."));
    }
    throttles::reset(db, throttle).await?;
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
