//! users: accounts, credentials, presence, the directory. A deleted account is a tombstone row
//! (see migrations/0006) that no lookup here returns.

use super::{like_literal, sql, Client, DbResult};
use crate::cursor::{NameCursor, PageRequest};
use crate::protocol::GroupAdds;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

const COLUMNS: &str =
    "id, phone, display_name, created_at, last_seen_at, online_since IS NOT NULL AS online, is_admin, group_adds";

/// An account as stored (without its password hash).
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    /// Only a deleted account's tombstone has none, and lookups leave those out.
    pub phone: Option<String>,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// At least one of their sockets is open.
    pub online: bool,
    pub is_admin: bool,
    pub group_adds: GroupAdds,
}

impl From<&Row> for UserRow {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            phone: row.get("phone"),
            display_name: row.get("display_name"),
            created_at: row.get("created_at"),
            last_seen_at: row.get("last_seen_at"),
            online: row.get("online"),
            is_admin: row.get("is_admin"),
            // The column's CHECK allows only the values GroupAdds has; were a newer schema to add
            // one, the account would read as the strictest setting rather than fail every lookup.
            group_adds: row.try_get("group_adds").unwrap_or(GroupAdds::Nobody),
        }
    }
}

pub struct Credentials {
    pub user: UserRow,
    pub password_hash: String,
}

/// Creates an account. When `first_user_becomes_admin`, the check for "no users yet" and the
/// insert run under one lock so two simultaneous first sign-ups cannot both become admin. A
/// phone number already taken fails with a unique violation.
pub async fn insert(
    client: &mut Client,
    phone: &str,
    display_name: &str,
    password_hash: &str,
    first_user_becomes_admin: bool,
) -> DbResult<UserRow> {
    let tx = client.transaction().await?;
    let is_admin = if first_user_becomes_admin {
        sql::execute(&tx, "SELECT pg_advisory_xact_lock(hashtext('e2e-chat:first-user-admin'))", &[]).await?;
        !sql::query_one(&tx, "SELECT EXISTS (SELECT 1 FROM users)", &[]).await?.get::<_, bool>(0)
    } else {
        false
    };
    let sql = format!(
        "INSERT INTO users (id, phone, display_name, password_hash, is_admin) VALUES ($1, $2, $3, $4, $5)
         RETURNING {COLUMNS}"
    );
    let row = sql::query_one(&tx, &sql, &[&Uuid::new_v4(), &phone, &display_name, &password_hash, &is_admin]).await?;
    tx.commit().await?;
    Ok(UserRow::from(&row))
}

pub async fn credentials_by_phone(client: &Client, phone: &str) -> DbResult<Option<Credentials>> {
    let sql = format!("SELECT {COLUMNS}, password_hash FROM users WHERE phone = $1 AND deleted_at IS NULL");
    let row = sql::query_opt(client, &sql, &[&phone]).await?;
    Ok(row.map(|row| Credentials { user: UserRow::from(&row), password_hash: row.get("password_hash") }))
}

pub async fn set_password_hash(client: &Client, id: Uuid, password_hash: &str) -> DbResult<()> {
    sql::execute(client, "UPDATE users SET password_hash = $2 WHERE id = $1", &[&id, &password_hash]).await?;
    Ok(())
}

pub async fn by_id(client: &Client, id: Uuid) -> DbResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
    Ok(sql::query_opt(client, &sql, &[&id]).await?.as_ref().map(UserRow::from))
}

pub async fn by_phone(client: &Client, phone: &str) -> DbResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE phone = $1 AND deleted_at IS NULL");
    Ok(sql::query_opt(client, &sql, &[&phone]).await?.as_ref().map(UserRow::from))
}

pub async fn exists(client: &Client, id: Uuid) -> DbResult<bool> {
    let sql = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL)";
    Ok(sql::query_one(client, sql, &[&id]).await?.get(0))
}

/// Marks a user online (their first socket opened) or offline (their last one closed), and
/// returns when they were last seen. With `only_if_online`, changes (and returns) nothing unless
/// the user was marked online.
pub async fn set_online(
    client: &Client,
    user: Uuid,
    online: bool,
    only_if_online: bool,
) -> DbResult<Option<DateTime<Utc>>> {
    let row = sql::query_opt(
        client,
        "UPDATE users SET online_since = CASE WHEN $2 THEN coalesce(online_since, now()) END, last_seen_at = now()
             WHERE id = $1 AND (NOT $3 OR online_since IS NOT NULL) RETURNING last_seen_at",
        &[&user, &online, &only_if_online],
    )
    .await?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn online_ids(client: &Client, except: Uuid) -> DbResult<Vec<Uuid>> {
    let rows =
        sql::query(client, "SELECT id FROM users WHERE online_since IS NOT NULL AND id <> $1", &[&except]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Who may appear in a listing, and which page of it.
pub struct ListFilter<'a> {
    /// Left out of the listing (the caller, in the directory).
    pub exclude_id: Option<Uuid>,
    /// Left out too (the bootstrap admin, in the directory).
    pub exclude_phone: Option<&'a str>,
    /// Case-insensitive part of the display name, or the start of the phone number.
    pub search: Option<&'a str>,
    pub page: PageRequest<NameCursor>,
}

/// Accounts in alphabetical order, keyset-paged over (display_name, id).
pub async fn list(client: &Client, filter: &ListFilter<'_>) -> DbResult<Vec<UserRow>> {
    let pattern = filter.search.map(like_literal);
    let (after_name, after_id) = match &filter.page.after {
        Some(c) => (Some(c.display_name.as_str()), Some(c.id)),
        None => (None, None),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM users
         WHERE deleted_at IS NULL
           AND ($1::uuid IS NULL OR id <> $1)
           AND ($2::text IS NULL OR phone <> $2)
           AND ($3::text IS NULL OR display_name ILIKE '%' || $3 || '%' OR phone LIKE $3 || '%')
           AND ($4::text IS NULL OR (display_name, id) > ($4, $5::uuid))
         ORDER BY display_name, id
         LIMIT $6"
    );
    let fetch = filter.page.fetch();
    let rows = sql::query(
        client,
        &sql,
        &[&filter.exclude_id, &filter.exclude_phone, &pattern, &after_name, &after_id, &fetch],
    )
    .await?;
    Ok(rows.iter().map(UserRow::from).collect())
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
) -> DbResult<AdminBootstrap> {
    let existing = sql::query_opt(
        client,
        "SELECT id, is_admin, password_hash FROM users WHERE phone = $1 AND deleted_at IS NULL",
        &[&phone],
    )
    .await?;
    match existing {
        Some(row) if row.get::<_, bool>("is_admin") => Ok(AdminBootstrap::Ready),
        Some(row) if holds_admin_password(row.get("password_hash")) => {
            sql::execute(client, "UPDATE users SET is_admin = true WHERE id = $1", &[&row.get::<_, Uuid>("id")])
                .await?;
            Ok(AdminBootstrap::Ready)
        }
        Some(_) => Ok(AdminBootstrap::PhoneHeldByAnother),
        None => {
            // A registration of the same phone in between wins; the next isolate looks again.
            sql::execute(client,
                    "INSERT INTO users (id, phone, display_name, password_hash, is_admin) VALUES ($1, $2, 'Admin', $3, true)
                     ON CONFLICT (phone) DO NOTHING",
                    &[&Uuid::new_v4(), &phone, &hash_admin_password()],
                )
                .await?;
            Ok(AdminBootstrap::Ready)
        }
    }
}

/// Sets who may add `user` to groups; None if the account is gone.
pub async fn set_group_adds(client: &Client, user: Uuid, group_adds: GroupAdds) -> DbResult<Option<UserRow>> {
    let sql = format!("UPDATE users SET group_adds = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING {COLUMNS}");
    Ok(sql::query_opt(client, &sql, &[&user, &group_adds]).await?.as_ref().map(UserRow::from))
}

/// The users among `targets` whom `adder` may not add to a group (to `conversation`, whose
/// members are left out: someone already in it stays, whatever they chose), with their names:
/// those who chose nobody, and those who chose contacts and never wrote to `adder` in a 1:1.
/// "Wrote" is an application message they sent there, not the commit that set the 1:1 up, which
/// the first of the two to open it makes.
pub async fn group_add_refusals(
    client: &Client,
    adder: Uuid,
    conversation: Option<Uuid>,
    targets: &[Uuid],
) -> DbResult<Vec<(Uuid, String)>> {
    let rows = sql::query(
        client,
        "SELECT u.id, u.display_name FROM users u
             WHERE u.id = ANY($2) AND u.id <> $1 AND u.deleted_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = $3 AND m.user_id = u.id)
               AND (u.group_adds = 'nobody' OR (u.group_adds = 'contacts' AND NOT EXISTS (
                 SELECT 1 FROM conversations c JOIN messages msg ON msg.conversation_id = c.id
                 WHERE c.kind = 'direct' AND c.user_lo = least($1, u.id) AND c.user_hi = greatest($1, u.id)
                   AND msg.sender_id = u.id AND msg.kind = 'app')))
             ORDER BY u.display_name, u.id",
        &[&adder, &targets, &conversation],
    )
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
