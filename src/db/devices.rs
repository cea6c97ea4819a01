//! devices and key_packages: each device's MLS credential, its one-time KeyPackages and its
//! last-resort one, and the atomic claim that hands out one package per device.

use super::{sql, Client, DbResult};
use crate::protocol::{KeyPackageUpload, NewDevice};
use crate::protocol::{
    KEY_PACKAGE_CLAIMS_PER_WINDOW, KEY_PACKAGE_CLAIM_WINDOW_SECONDS, MAX_DEVICES_PER_USER, MAX_KEY_PACKAGES_PER_DEVICE,
};
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

const COLUMNS: &str = "id, label, credential, created_at, last_seen_at, approved_by, approval";

/// One devices row.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: Uuid,
    pub label: String,
    /// The device's MLS credential (its signature public key).
    pub credential: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The device that approved this one's link, and its signature (see `LINK_APPROVAL_CONTEXT`).
    pub approved_by: Option<Uuid>,
    pub approval: Option<Vec<u8>>,
    /// Set for a row of `removed_devices`: when the device left its account, and its revocation.
    pub removed_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Uuid>,
    pub revocation: Option<Vec<u8>>,
    pub revocation_keeps: Option<Vec<Uuid>>,
}

impl From<&Row> for DeviceRow {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            label: row.get("label"),
            credential: row.get("credential"),
            created_at: row.get("created_at"),
            last_seen_at: row.get("last_seen_at"),
            approved_by: row.get("approved_by"),
            approval: row.get("approval"),
            removed_at: row.try_get::<_, Option<DateTime<Utc>>>("removed_at").ok().flatten(),
            revoked_by: row.try_get::<_, Option<Uuid>>("revoked_by").ok().flatten(),
            revocation: row.try_get::<_, Option<Vec<u8>>>("revocation").ok().flatten(),
            revocation_keeps: row.try_get::<_, Option<Vec<Uuid>>>("revocation_keeps").ok().flatten(),
        }
    }
}

/// Registers `user`'s first device. None when they already have one: further devices join by
/// being linked (`links::approve`) or by a reset. A credential another device uses fails with a
/// unique violation.
pub async fn register_first(client: &mut Client, user: Uuid, device: &NewDevice) -> DbResult<Option<DeviceRow>> {
    let tx = client.transaction().await?;
    // The user's row lock serializes registrations, links and resets of one user. The count is a
    // statement of its own, after the lock: a statement's snapshot is taken when it starts, so a
    // count in the same statement as the lock would not see a registration committed while it waited.
    lock_user(&tx, user).await?;
    let sql = format!(
        "INSERT INTO devices (id, user_id, label, credential)
         SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM devices WHERE user_id = $2)
         RETURNING {COLUMNS}"
    );
    let row = sql::query_opt(&tx, &sql, &[&Uuid::now_v7(), &user, &device.label, &device.credential]).await?;
    tx.commit().await?;
    Ok(row.as_ref().map(DeviceRow::from))
}

/// Serializes changes to one user's set of devices (see `register_first`).
pub(super) async fn lock_user(tx: &tokio_postgres::Transaction<'_>, user: Uuid) -> DbResult<()> {
    sql::execute(tx, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user]).await?;
    Ok(())
}

/// Inserts a linked device with its approval, if `user` has room for another. Runs inside the
/// caller's transaction, after `lock_user`.
pub(super) async fn insert_linked(
    tx: &tokio_postgres::Transaction<'_>,
    user: Uuid,
    id: Uuid,
    device: &NewDevice,
    approved_by: Uuid,
    approval: &[u8],
) -> DbResult<Option<DeviceRow>> {
    let sql = format!(
        "INSERT INTO devices (id, user_id, label, credential, approved_by, approval)
         SELECT $1, $2, $3, $4, $5, $6 WHERE (SELECT count(*) FROM devices WHERE user_id = $2) < $7
         RETURNING {COLUMNS}"
    );
    let row = sql::query_opt(
        tx,
        &sql,
        &[&id, &user, &device.label, &device.credential, &approved_by, &approval, &MAX_DEVICES_PER_USER],
    )
    .await?;
    Ok(row.as_ref().map(DeviceRow::from))
}

/// Starting over (every device lost): deletes all of `user`'s devices and registers `device` as
/// the only one, in one transaction. Returns the new device and the ids of those removed.
pub async fn replace_all(client: &mut Client, user: Uuid, device: &NewDevice) -> DbResult<(DeviceRow, Vec<Uuid>)> {
    let tx = client.transaction().await?;
    lock_user(&tx, user).await?;
    let removed = sql::query(&tx, "DELETE FROM devices WHERE user_id = $1 RETURNING id", &[&user]).await?;
    sql::execute(&tx, "DELETE FROM device_links WHERE user_id = $1", &[&user]).await?;
    let sql =
        format!("INSERT INTO devices (id, user_id, label, credential) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}");
    let row = sql::query_one(&tx, &sql, &[&Uuid::now_v7(), &user, &device.label, &device.credential]).await?;
    tx.commit().await?;
    Ok((DeviceRow::from(&row), removed.iter().map(|r| r.get(0)).collect()))
}

pub async fn get(client: &Client, device: Uuid) -> DbResult<Option<DeviceRow>> {
    let sql = format!("SELECT {COLUMNS} FROM devices WHERE id = $1");
    Ok(sql::query_opt(client, &sql, &[&device]).await?.as_ref().map(DeviceRow::from))
}

pub async fn list(client: &Client, user: Uuid) -> DbResult<Vec<DeviceRow>> {
    let sql = format!("SELECT {COLUMNS} FROM devices WHERE user_id = $1 ORDER BY created_at, id");
    Ok(sql::query(client, &sql, &[&user]).await?.iter().map(DeviceRow::from).collect())
}

/// Removed devices listed per user in a lookup: the most recent ones. A member catching up
/// further back than this many removals of one user meets a device it cannot check, and refuses.
pub const REMOVED_DEVICES_LISTED: i64 = 50;

/// The devices these users have removed, most recent first, at most `REMOVED_DEVICES_LISTED` each.
pub async fn removed_for_users(client: &Client, users: &[Uuid]) -> DbResult<Vec<(Uuid, DeviceRow)>> {
    let rows = sql::query(
        client,
        "SELECT user_id, id, label, credential, created_at, NULL::timestamptz AS last_seen_at, approved_by, approval,
                    removed_at, revoked_by, revocation, revocation_keeps
             FROM (SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY removed_at DESC, id) AS n
                   FROM removed_devices WHERE user_id = ANY($1)) recent
             WHERE n <= $2 ORDER BY user_id, removed_at DESC, id",
        &[&users, &REMOVED_DEVICES_LISTED],
    )
    .await?;
    Ok(rows.iter().map(|row| (row.get("user_id"), DeviceRow::from(row))).collect())
}

/// The devices of each of these users that exists (not deleted), oldest first: every such user is
/// in the result, with no devices if they have none.
pub async fn list_for_users(client: &Client, users: &[Uuid]) -> DbResult<Vec<(Uuid, Vec<DeviceRow>)>> {
    let rows = sql::query(
        client,
        "SELECT u.id AS user_id, d.id, d.label, d.credential, d.created_at, d.last_seen_at, d.approved_by, d.approval
             FROM users u LEFT JOIN devices d ON d.user_id = u.id
             WHERE u.id = ANY($1) AND u.deleted_at IS NULL
             ORDER BY u.id, d.created_at, d.id",
        &[&users],
    )
    .await?;
    let mut out: Vec<(Uuid, Vec<DeviceRow>)> = Vec::new();
    for row in &rows {
        let user: Uuid = row.get("user_id");
        if out.last().is_none_or(|(last, _)| *last != user) {
            out.push((user, Vec::new()));
        }
        // A user without devices comes as one row whose device columns are all NULL.
        if row.get::<_, Option<Uuid>>("id").is_some() {
            out.last_mut().expect("pushed above").1.push(DeviceRow::from(row));
        }
    }
    Ok(out)
}

pub async fn belongs_to(client: &Client, device: Uuid, user: Uuid) -> DbResult<bool> {
    let sql = "SELECT EXISTS (SELECT 1 FROM devices WHERE id = $1 AND user_id = $2)";
    Ok(sql::query_one(client, sql, &[&device, &user]).await?.get(0))
}

/// A removing device's signed revocation of the removed one (see `DEVICE_REVOCATION_CONTEXT`).
pub struct Revocation<'a> {
    pub by: Uuid,
    pub signature: &'a [u8],
    pub keep: &'a [Uuid],
}

/// Deletes one of `user`'s devices (its key packages go with it; the history keeps it, with the
/// revocation given). False if they have no such device.
pub async fn delete(
    client: &mut Client,
    user: Uuid,
    device: Uuid,
    revocation: Option<Revocation<'_>>,
) -> DbResult<Option<Vec<Uuid>>> {
    let tx = client.transaction().await?;
    // The sessions acting as it end with it (the foreign key cascades): their ids, so that their
    // sockets close too, a socket opened before its session was bound to the device among them.
    let sessions: Vec<Uuid> = sql::query(
        &tx,
        "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id WHERE d.id = $1 AND d.user_id = $2",
        &[&device, &user],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let deleted = sql::execute(&tx, "DELETE FROM devices WHERE id = $1 AND user_id = $2", &[&device, &user]).await?;
    if deleted != 1 {
        return Ok(None);
    }
    if let Some(Revocation { by, signature, keep }) = revocation {
        sql::execute(
            &tx,
            "UPDATE removed_devices SET revoked_by = $2, revocation = $3, revocation_keeps = $4 WHERE id = $1",
            &[&device, &by, &signature, &keep],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Some(sessions))
}

/// What an upload of key packages did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploaded {
    /// Stored; `became_addable` when the device had no package at all before.
    Stored { became_addable: bool },
    /// Nothing stored: the batch would take the device past its quota of unclaimed packages.
    OverQuota { unclaimed: i64 },
}

/// Stores a batch of one-time packages and, if given, replaces the last-resort one, in one
/// statement. Refuses (and stores nothing of) a batch that would take the device past its quota.
pub async fn upload_key_packages(client: &mut Client, device: Uuid, upload: &KeyPackageUpload) -> DbResult<Uploaded> {
    let tx = client.transaction().await?;
    // Locked in a statement of its own so the count below, in the next statement, sees every
    // upload committed while this one waited (see `register`).
    sql::execute(&tx, "SELECT 1 FROM devices WHERE id = $1 FOR UPDATE", &[&device]).await?;
    let row = sql::query_one(
        &tx,
        "WITH dev AS (SELECT id FROM devices WHERE id = $1),
             room AS (
               SELECT $4 - (SELECT count(*) FROM key_packages WHERE device_id = $1 AND NOT last_resort) AS n
             ),
             fresh AS (
               INSERT INTO key_packages (device_id, data)
               SELECT dev.id, kp FROM dev, unnest($2::bytea[]) AS kp
               WHERE cardinality($2::bytea[]) <= (SELECT n FROM room)
               RETURNING 1
             ),
             last AS (
               INSERT INTO key_packages (device_id, data, last_resort)
               SELECT dev.id, $3, true FROM dev
               WHERE $3::bytea IS NOT NULL AND cardinality($2::bytea[]) <= (SELECT n FROM room)
               ON CONFLICT (device_id) WHERE last_resort DO UPDATE SET data = EXCLUDED.data, created_at = now()
               RETURNING 1
             )
             SELECT (SELECT n FROM room) AS room, (SELECT count(*) FROM fresh) + (SELECT count(*) FROM last) AS stored,
                    NOT EXISTS (SELECT 1 FROM key_packages WHERE device_id = $1) AS was_empty",
        &[&device, &upload.key_packages, &upload.last_resort, &MAX_KEY_PACKAGES_PER_DEVICE],
    )
    .await?;
    tx.commit().await?;
    let room: i64 = row.get("room");
    if (upload.key_packages.len() as i64) > room {
        return Ok(Uploaded::OverQuota { unclaimed: MAX_KEY_PACKAGES_PER_DEVICE - room });
    }
    Ok(Uploaded::Stored { became_addable: row.get::<_, i64>("stored") > 0 && row.get::<_, bool>("was_empty") })
}

/// A device's supply of key packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageCount {
    /// One-time packages not yet claimed.
    pub available: i64,
    pub has_last_resort: bool,
}

pub async fn key_package_count(client: &Client, device: Uuid) -> DbResult<PackageCount> {
    let row = sql::query_one(
        client,
        "SELECT count(*) FILTER (WHERE NOT last_resort) AS available, bool_or(last_resort) AS has_last_resort
             FROM key_packages WHERE device_id = $1",
        &[&device],
    )
    .await?;
    Ok(PackageCount {
        available: row.get("available"),
        has_last_resort: row.get::<_, Option<bool>>("has_last_resort").unwrap_or(false),
    })
}

/// What a claim handed out for one device.
#[derive(Debug, Clone)]
pub struct ClaimedRow {
    pub device_id: Uuid,
    /// None when the device has no package at all.
    pub key_package: Option<Vec<u8>>,
    /// The device had no one-time package left; this one is shared and was not consumed.
    pub last_resort: bool,
}

/// Hands out one package for each of `user`'s devices (or of `only` among them): the oldest
/// one-time package, deleted in the same statement, else the last-resort one, which stays. Rows
/// another claim holds are skipped rather than waited for, so two concurrent claims never get
/// the same one-time package. A `claimer` past `KEY_PACKAGE_CLAIMS_PER_WINDOW` claims of this
/// user within `KEY_PACKAGE_CLAIM_WINDOW_SECONDS` gets last-resort packages only, so no account
/// can drain another's one-time supply; its counter's row lock also serialises its own claims.
pub async fn claim(client: &Client, claimer: Uuid, user: Uuid, only: Option<&[Uuid]>) -> DbResult<Vec<ClaimedRow>> {
    let rows = sql::query(client,
            "WITH counted AS (
               INSERT INTO key_package_claims AS c (claimer_id, target_id) VALUES ($3, $1)
               ON CONFLICT (claimer_id, target_id) DO UPDATE SET
                 claims = CASE WHEN c.window_start > now() - make_interval(secs => $5) THEN c.claims + 1 ELSE 1 END,
                 window_start = CASE WHEN c.window_start > now() - make_interval(secs => $5) THEN c.window_start ELSE now() END
               RETURNING claims
             ),
             target AS (
               SELECT id FROM devices WHERE user_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2))
             ),
             picked AS (
               SELECT kp.id FROM target t CROSS JOIN LATERAL (
                 SELECT id FROM key_packages
                 WHERE device_id = t.id AND NOT last_resort ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
               ) kp
               WHERE (SELECT claims FROM counted) <= $4
             ),
             consumed AS (
               DELETE FROM key_packages WHERE id IN (SELECT id FROM picked) RETURNING device_id, data
             )
             SELECT t.id AS device_id, coalesce(c.data, lr.data) AS data, c.data IS NULL AND lr.data IS NOT NULL AS last_resort
             FROM target t
             LEFT JOIN consumed c ON c.device_id = t.id
             LEFT JOIN key_packages lr ON lr.device_id = t.id AND lr.last_resort
             ORDER BY t.id",
            &[&user, &only, &claimer, &KEY_PACKAGE_CLAIMS_PER_WINDOW, &KEY_PACKAGE_CLAIM_WINDOW_SECONDS],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| ClaimedRow {
            device_id: row.get("device_id"),
            key_package: row.get("data"),
            last_resort: row.get("last_resort"),
        })
        .collect())
}
