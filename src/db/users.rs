//! users: accounts, credentials, presence, the directory. A deleted account is a tombstone row
//! (see migrations/0006) that no lookup here returns.

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
        // Only a deleted account's tombstone has no phone, and lookups leave those out.
        phone: row.get::<_, Option<String>>("phone").unwrap_or_default(),
        display_name: row.get("display_name"),
        created_at: row.get("created_at"),
        last_seen_at: row.get("last_seen_at"),
        online: row.get("online"),
    }
}

fn account(row: &Row) -> Account {
    Account { user: summary(row), is_admin: row.get("is_admin") }
}

pub struct Credentials {
    pub account: Account,
    pub password_hash: String,
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
    let sql = format!("SELECT {ACCOUNT_COLUMNS}, password_hash FROM users WHERE phone = $1 AND deleted_at IS NULL");
    let row = client.query_opt(&sql, &[&phone]).await.map_err(db_error("users.credentials"))?;
    Ok(row.map(|row| Credentials { account: account(&row), password_hash: row.get("password_hash") }))
}

pub async fn set_password_hash(client: &Client, id: Uuid, password_hash: &str) -> Result<(), ApiError> {
    client
        .execute("UPDATE users SET password_hash = $2 WHERE id = $1", &[&id, &password_hash])
        .await
        .map_err(db_error("users.set_password_hash"))?;
    Ok(())
}

pub async fn account_by_id(client: &Client, id: Uuid) -> Result<Option<Account>, ApiError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
    let row = client.query_opt(&sql, &[&id]).await.map_err(db_error("users.by_id"))?;
    Ok(row.as_ref().map(account))
}

pub async fn exists(client: &Client, id: Uuid) -> Result<bool, ApiError> {
    let row = client
        .query_one("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL)", &[&id])
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
         WHERE deleted_at IS NULL
           AND ($1::uuid IS NULL OR id <> $1)
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
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE phone = $1 AND deleted_at IS NULL");
    let Some(row) = client.query_opt(&sql, &[&phone]).await.map_err(db_error("users.profile"))? else {
        return Ok(None);
    };
    let user = summary(&row);
    let devices = super::devices::list(client, user.id).await?;
    Ok(Some(Profile { user, devices }))
}

/// What making sure of the configured admin found.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminBootstrap {
    Ready,
    /// An account with the admin's phone exists but does not hold the admin's password. Phone
    /// numbers are not verified, so whoever registered it first is not made an admin.
    PhoneHeldByAnother,
}

/// Makes the configured admin exist and be an admin: an existing account with that phone is
/// promoted only if it holds the configured password; otherwise the account is created.
pub async fn ensure_admin(
    client: &Client,
    phone: &str,
    holds_admin_password: impl FnOnce(&str) -> bool,
    hash_admin_password: impl FnOnce() -> String,
) -> Result<AdminBootstrap, ApiError> {
    let err = db_error("users.ensure_admin");
    let existing = client
        .query_opt("SELECT id, is_admin, password_hash FROM users WHERE phone = $1 AND deleted_at IS NULL", &[&phone])
        .await
        .map_err(&err)?;
    match existing {
        Some(row) if row.get::<_, bool>("is_admin") => Ok(AdminBootstrap::Ready),
        Some(row) if holds_admin_password(row.get("password_hash")) => {
            client
                .execute("UPDATE users SET is_admin = true WHERE id = $1", &[&row.get::<_, Uuid>("id")])
                .await
                .map_err(&err)?;
            Ok(AdminBootstrap::Ready)
        }
        Some(_) => Ok(AdminBootstrap::PhoneHeldByAnother),
        None => {
            // A registration of the same phone in between wins; the next isolate looks again.
            client
                .execute(
                    "INSERT INTO users (id, phone, display_name, password_hash, is_admin) VALUES ($1, $2, 'Admin', $3, true)
                     ON CONFLICT (phone) DO NOTHING",
                    &[&Uuid::new_v4(), &phone, &hash_admin_password()],
                )
                .await
                .map_err(&err)?;
            Ok(AdminBootstrap::Ready)
        }
    }
}
