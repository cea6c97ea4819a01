//! users and devices: accounts, credentials, token versions, the directory.

use super::{db_error, is_unique_violation, like_literal, Client};
use crate::cursor::NameCursor;
use crate::error::ApiError;
use crate::protocol::{Account, Profile, UserSummary};
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

const ACCOUNT_COLUMNS: &str =
    "id, phone, display_name, created_at, last_seen_at, online_since IS NOT NULL AS online, is_admin";

fn summary(row: &Row) -> UserSummary {
    UserSummary {
        id: row.get("id"),
        phone: row.get("phone"),
        display_name: row.get("display_name"),
        created_at: row.get("created_at"),
        last_seen_at: row.get("last_seen_at"),
        online: row.get("online"),
    }
}

fn account(row: &Row) -> Account {
    Account { user: summary(row), is_admin: row.get("is_admin") }
}

/// What authentication needs to know about a token's subject.
pub struct AuthState {
    pub is_admin: bool,
    pub token_version: i32,
}

pub struct Credentials {
    pub account: Account,
    pub password_hash: String,
    pub token_version: i32,
}

/// Creates an account. When `first_user_becomes_admin`, the check for "no users yet" and the
/// insert run under one lock so two simultaneous first sign-ups cannot both become admin.
pub async fn insert(
    client: &mut Client,
    phone: &str,
    display_name: &str,
    password_hash: &str,
    first_user_becomes_admin: bool,
) -> Result<Account, ApiError> {
    let err = db_error("users.insert");
    let tx = client.transaction().await.map_err(&err)?;
    let is_admin = if first_user_becomes_admin {
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('e2e-chat:first-user-admin'))", &[]).await.map_err(&err)?;
        !tx.query_one("SELECT EXISTS (SELECT 1 FROM users)", &[]).await.map_err(&err)?.get::<_, bool>(0)
    } else {
        false
    };
    let sql = format!(
        "INSERT INTO users (id, phone, display_name, password_hash, is_admin) VALUES ($1, $2, $3, $4, $5)
         RETURNING {ACCOUNT_COLUMNS}"
    );
    let row = tx.query_one(&sql, &[&Uuid::new_v4(), &phone, &display_name, &password_hash, &is_admin]).await.map_err(
        |e| {
            if is_unique_violation(&e) {
                ApiError::conflict("phone_taken", "An account with this phone number already exists. Log in instead.")
            } else {
                err(e)
            }
        },
    )?;
    tx.commit().await.map_err(&err)?;
    Ok(account(&row))
}

pub async fn credentials_by_phone(client: &Client, phone: &str) -> Result<Option<Credentials>, ApiError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS}, password_hash, token_version FROM users WHERE phone = $1");
    let row = client.query_opt(&sql, &[&phone]).await.map_err(db_error("users.credentials"))?;
    Ok(row.map(|row| Credentials {
        account: account(&row),
        password_hash: row.get("password_hash"),
        token_version: row.get("token_version"),
    }))
}

pub async fn set_password_hash(client: &Client, id: Uuid, password_hash: &str) -> Result<(), ApiError> {
    client
        .execute("UPDATE users SET password_hash = $2 WHERE id = $1", &[&id, &password_hash])
        .await
        .map_err(db_error("users.set_password_hash"))?;
    Ok(())
}

pub async fn auth_state(client: &Client, id: Uuid) -> Result<Option<AuthState>, ApiError> {
    let row = client
        .query_opt("SELECT is_admin, token_version FROM users WHERE id = $1", &[&id])
        .await
        .map_err(db_error("users.auth_state"))?;
    Ok(row.map(|row| AuthState { is_admin: row.get(0), token_version: row.get(1) }))
}

/// Invalidates every token issued so far: they carry the old version. Returns the new one.
pub async fn bump_token_version(client: &Client, id: Uuid) -> Result<i32, ApiError> {
    let row = client
        .query_one("UPDATE users SET token_version = token_version + 1 WHERE id = $1 RETURNING token_version", &[&id])
        .await
        .map_err(db_error("users.bump_token_version"))?;
    Ok(row.get(0))
}

pub async fn account_by_id(client: &Client, id: Uuid) -> Result<Option<Account>, ApiError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1");
    let row = client.query_opt(&sql, &[&id]).await.map_err(db_error("users.by_id"))?;
    Ok(row.as_ref().map(account))
}

pub async fn exists(client: &Client, id: Uuid) -> Result<bool, ApiError> {
    let row = client
        .query_one("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", &[&id])
        .await
        .map_err(db_error("users.exists"))?;
    Ok(row.get(0))
}

pub async fn owns_device(client: &Client, user: Uuid, device: Uuid) -> Result<bool, ApiError> {
    let row = client
        .query_one("SELECT EXISTS (SELECT 1 FROM devices WHERE id = $1 AND user_id = $2)", &[&device, &user])
        .await
        .map_err(db_error("users.owns_device"))?;
    Ok(row.get(0))
}

/// Marks a user online (their first socket opened) or offline (their last one closed), and
/// returns when they were last seen. With `only_if_online`, changes (and returns) nothing unless
/// the user was marked online.
pub async fn set_online(
    client: &Client,
    user: Uuid,
    online: bool,
    only_if_online: bool,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let row = client
        .query_opt(
            "UPDATE users SET online_since = CASE WHEN $2 THEN coalesce(online_since, now()) END, last_seen_at = now()
             WHERE id = $1 AND (NOT $3 OR online_since IS NOT NULL) RETURNING last_seen_at",
            &[&user, &online, &only_if_online],
        )
        .await
        .map_err(db_error("users.set_online"))?;
    Ok(row.map(|r| r.get(0)))
}

/// Everyone who shares a conversation with `user`: the people their presence matters to.
pub async fn partner_ids(client: &Client, user: Uuid) -> Result<Vec<Uuid>, ApiError> {
    let rows = client
        .query(
            "SELECT DISTINCT other.user_id FROM members mine
             JOIN members other ON other.conversation_id = mine.conversation_id AND other.user_id <> mine.user_id
             WHERE mine.user_id = $1",
            &[&user],
        )
        .await
        .map_err(db_error("users.partner_ids"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub async fn online_ids(client: &Client, except: Uuid) -> Result<Vec<Uuid>, ApiError> {
    let rows = client
        .query("SELECT id FROM users WHERE online_since IS NOT NULL AND id <> $1", &[&except])
        .await
        .map_err(db_error("users.online_ids"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Who may appear in a listing, and from where the page starts.
pub struct ListFilter<'a> {
    /// Left out of the listing (the caller, in the directory).
    pub exclude_id: Option<Uuid>,
    /// Left out too (the bootstrap admin, in the directory).
    pub exclude_phone: Option<&'a str>,
    /// Case-insensitive part of the display name, or the start of the phone number.
    pub search: Option<&'a str>,
    pub after: Option<NameCursor>,
    /// Rows to fetch: the page size plus one, to tell whether more follow.
    pub fetch: i64,
}

/// Accounts in alphabetical order, keyset-paged over (display_name, id).
pub async fn list(client: &Client, filter: ListFilter<'_>) -> Result<Vec<Account>, ApiError> {
    let pattern = filter.search.map(like_literal);
    let (after_name, after_id) = match &filter.after {
        Some(c) => (Some(c.display_name.as_str()), Some(c.id)),
        None => (None, None),
    };
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM users
         WHERE ($1::uuid IS NULL OR id <> $1)
           AND ($2::text IS NULL OR phone <> $2)
           AND ($3::text IS NULL OR display_name ILIKE '%' || $3 || '%' OR phone LIKE $3 || '%')
           AND ($4::text IS NULL OR (display_name, id) > ($4, $5::uuid))
         ORDER BY display_name, id
         LIMIT $6"
    );
    let rows = client
        .query(&sql, &[&filter.exclude_id, &filter.exclude_phone, &pattern, &after_name, &after_id, &filter.fetch])
        .await
        .map_err(db_error("users.list"))?;
    Ok(rows.iter().map(account).collect())
}

pub async fn profile_by_phone(client: &Client, phone: &str) -> Result<Option<Profile>, ApiError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE phone = $1");
    let Some(row) = client.query_opt(&sql, &[&phone]).await.map_err(db_error("users.profile"))? else {
        return Ok(None);
    };
    let user = summary(&row);
    let devices = super::devices::list(client, user.id).await?;
    Ok(Some(Profile { user, devices }))
}

/// Makes the configured admin exist and be an admin. Promotion is tried first so the (slow)
/// password hash is computed only when the account has to be created.
pub async fn ensure_admin(
    client: &Client,
    phone: &str,
    hash_password: impl FnOnce() -> String,
) -> Result<(), ApiError> {
    let err = db_error("users.ensure_admin");
    let promoted =
        client.execute("UPDATE users SET is_admin = true WHERE phone = $1", &[&phone]).await.map_err(&err)?;
    if promoted == 0 {
        client
            .execute(
                "INSERT INTO users (id, phone, display_name, password_hash, is_admin) VALUES ($1, $2, 'Admin', $3, true)
                 ON CONFLICT (phone) DO UPDATE SET is_admin = true",
                &[&Uuid::new_v4(), &phone, &hash_password()],
            )
            .await
            .map_err(&err)?;
    }
    Ok(())
}
