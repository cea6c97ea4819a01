//! device_links: new browsers waiting for one of their account's devices to approve them.

use super::devices::{insert_linked, lock_user, DeviceRow};
use super::{sql, Client, DbResult};
use crate::protocol::{NewDevice, NewLink, LINK_REQUEST_TTL_SECONDS, MAX_PENDING_LINKS_PER_USER};
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

const COLUMNS: &str =
    "id, session_id, label, credential, code_mac, approved_at, approver_proof, created_at, expires_at";

#[derive(Debug, Clone)]
pub struct LinkRow {
    pub id: Uuid,
    pub session_id: Uuid,
    pub label: String,
    pub credential: Vec<u8>,
    pub code_mac: Vec<u8>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approver_proof: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<&Row> for LinkRow {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            session_id: row.get("session_id"),
            label: row.get("label"),
            credential: row.get("credential"),
            code_mac: row.get("code_mac"),
            approved_at: row.get("approved_at"),
            approver_proof: row.get("approver_proof"),
            created_at: row.get("created_at"),
            expires_at: row.get("expires_at"),
        }
    }
}

/// What asking to link did.
pub enum Requested {
    Created(LinkRow),
    /// The account has no device to approve the request: the browser registers as the first.
    NoDevices,
    /// The account has `MAX_PENDING_LINKS_PER_USER` requests waiting already.
    TooMany,
}

/// Records `session`'s request to join `user`'s account, replacing one it made before. Expired
/// requests of the user are dropped on the way.
pub async fn request(client: &mut Client, user: Uuid, session: Uuid, link: &NewLink) -> DbResult<Requested> {
    let tx = client.transaction().await?;
    lock_user(&tx, user).await?;
    // Dropped: this session's earlier request, requests that expired unanswered, and approved ones
    // old enough that their browser has long read the outcome.
    sql::execute(
        &tx,
        "DELETE FROM device_links WHERE user_id = $1 AND (session_id = $2
            OR (approved_at IS NULL AND expires_at <= now()) OR approved_at < now() - interval '1 hour')",
        &[&user, &session],
    )
    .await?;
    let state = sql::query_one(
        &tx,
        "SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = $1),
                    (SELECT count(*) FROM device_links WHERE user_id = $1 AND approved_at IS NULL)",
        &[&user],
    )
    .await?;
    if !state.get::<_, bool>(0) {
        return Ok(Requested::NoDevices);
    }
    if state.get::<_, i64>(1) >= MAX_PENDING_LINKS_PER_USER {
        return Ok(Requested::TooMany);
    }
    let sql = format!(
        "INSERT INTO device_links (id, user_id, session_id, label, credential, code_mac, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) RETURNING {COLUMNS}"
    );
    let ttl = LINK_REQUEST_TTL_SECONDS as f64;
    let row = sql::query_one(
        &tx,
        &sql,
        &[&Uuid::now_v7(), &user, &session, &link.label, &link.credential, &link.code_mac, &ttl],
    )
    .await?;
    tx.commit().await?;
    Ok(Requested::Created(LinkRow::from(&row)))
}

/// `user`'s requests that still wait for approval, oldest first.
pub async fn pending(client: &Client, user: Uuid) -> DbResult<Vec<LinkRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM device_links
         WHERE user_id = $1 AND approved_at IS NULL AND expires_at > now() ORDER BY created_at, id"
    );
    Ok(sql::query(client, &sql, &[&user]).await?.iter().map(LinkRow::from).collect())
}

/// One of `user`'s requests that is pending and unexpired, or approved (an approval that came
/// just before the request expired must still reach its browser).
pub async fn get(client: &Client, user: Uuid, link: Uuid) -> DbResult<Option<LinkRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM device_links WHERE id = $1 AND user_id = $2 AND (approved_at IS NOT NULL OR expires_at > now())"
    );
    Ok(sql::query_opt(client, &sql, &[&link, &user]).await?.as_ref().map(LinkRow::from))
}

/// What approving a request did.
pub enum Approved {
    Linked(Box<DeviceRow>),
    /// Gone meanwhile: expired, cancelled, declined or approved by another device.
    NotPending,
    /// The user has `MAX_DEVICES_PER_USER` devices.
    TooManyDevices,
}

/// Approves a pending request in one transaction: registers its device with the approval, binds
/// the asking session to it, and keeps the approver's proof for that session to read.
pub async fn approve(
    client: &mut Client,
    user: Uuid,
    link: &LinkRow,
    approved_by: Uuid,
    approval: &[u8],
    approver_proof: &[u8],
) -> DbResult<Approved> {
    let tx = client.transaction().await?;
    lock_user(&tx, user).await?;
    // The approving device may have been removed since its signature was checked.
    let approver_exists = sql::query_one(
        &tx,
        "SELECT EXISTS (SELECT 1 FROM devices WHERE id = $1 AND user_id = $2)",
        &[&approved_by, &user],
    )
    .await?;
    if !approver_exists.get::<_, bool>(0) {
        return Ok(Approved::NotPending);
    }
    let claimed = sql::execute(
        &tx,
        "UPDATE device_links SET approved_at = now(), approver_proof = $3
             WHERE id = $1 AND user_id = $2 AND approved_at IS NULL AND expires_at > now()",
        &[&link.id, &user, &approver_proof],
    )
    .await?;
    if claimed != 1 {
        return Ok(Approved::NotPending);
    }
    let device = NewDevice { label: link.label.clone(), credential: link.credential.clone() };
    let Some(row) = insert_linked(&tx, user, link.id, &device, approved_by, approval).await? else {
        return Ok(Approved::TooManyDevices);
    };
    let bound = sql::execute(
        &tx,
        "UPDATE sessions SET device_id = $2 WHERE id = $1 AND device_id IS NULL",
        &[&link.session_id, &row.id],
    )
    .await?;
    if bound != 1 {
        // The asking session ended or became a device meanwhile: nobody would hold this device.
        return Ok(Approved::NotPending);
    }
    tx.commit().await?;
    Ok(Approved::Linked(Box::new(row)))
}

/// Drops one of `user`'s requests (cancelled by its browser or declined by a device). False if
/// there was none.
pub async fn delete(client: &Client, user: Uuid, link: Uuid) -> DbResult<bool> {
    Ok(sql::execute(client, "DELETE FROM device_links WHERE id = $1 AND user_id = $2", &[&link, &user]).await? == 1)
}
