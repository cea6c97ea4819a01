//! sessions: one row per login. A token is valid while the row it names exists, so ending a
//! session is deleting its row, and removing a device deletes the sessions acting as it.

use super::{sql, Client, DbResult};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What authentication needs to know about a token's subject and session.
pub struct AuthState {
    pub is_admin: bool,
    /// False once the session was ended (logged out, its device removed) or never existed.
    pub session_live: bool,
    pub device_id: Option<Uuid>,
}

/// Starts a session for `user`; the caller issues the token that names it. Sessions of the user
/// that have expired go at the same time, so the table holds only live ones per user.
pub async fn start(client: &Client, user: Uuid, expires_at: DateTime<Utc>) -> DbResult<Uuid> {
    let id = Uuid::now_v7();
    sql::execute(
        client,
        "WITH expired AS (DELETE FROM sessions WHERE user_id = $2 AND expires_at < now())
             INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, $3)",
        &[&id, &user, &expires_at],
    )
    .await?;
    Ok(id)
}

/// None when the account does not exist (or was deleted).
pub async fn auth_state(client: &Client, user: Uuid, session: Uuid) -> DbResult<Option<AuthState>> {
    let row = sql::query_opt(
        client,
        "SELECT u.is_admin, s.id IS NOT NULL AS live, s.device_id
             FROM users u LEFT JOIN sessions s ON s.id = $2 AND s.user_id = u.id
             WHERE u.id = $1 AND u.deleted_at IS NULL",
        &[&user, &session],
    )
    .await?;
    Ok(row.map(|row| AuthState { is_admin: row.get(0), session_live: row.get(1), device_id: row.get(2) }))
}

pub async fn exists(client: &Client, session: Uuid) -> DbResult<bool> {
    let row = sql::query_one(client, "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1)", &[&session]).await?;
    Ok(row.get(0))
}

pub async fn end(client: &Client, session: Uuid) -> DbResult<()> {
    sql::execute(client, "DELETE FROM sessions WHERE id = $1", &[&session]).await?;
    Ok(())
}

/// Ends every session of `user` and returns their ids, so their live sockets can be closed.
pub async fn end_all(client: &Client, user: Uuid) -> DbResult<Vec<Uuid>> {
    let rows = sql::query(client, "DELETE FROM sessions WHERE user_id = $1 RETURNING id", &[&user]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Ends every session of `user` but `keep`, and returns their ids.
pub async fn end_others(client: &Client, user: Uuid, keep: Uuid) -> DbResult<Vec<Uuid>> {
    let rows = sql::query(client, "DELETE FROM sessions WHERE user_id = $1 AND id <> $2 RETURNING id", &[&user, &keep])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Makes `session` act as `device` from now on. A session acts as one device for its whole life:
/// false if it already acts as another, so a token taken from a device cannot move to a new one
/// and outlive the removal of the device it was taken from.
pub async fn bind_device(client: &Client, session: Uuid, device: Uuid) -> DbResult<bool> {
    let bound = sql::execute(
        client,
        "UPDATE sessions SET device_id = $2 WHERE id = $1 AND (device_id IS NULL OR device_id = $2)",
        &[&session, &device],
    )
    .await?;
    Ok(bound == 1)
}
