//! Admin operations: deleting accounts under the last-admin guard, the audit log, and the counts
//! of the admin page.

use super::{sql, Client, DbResult};
use crate::cursor::{PageRequest, SequenceCursor};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_postgres::Transaction;
use uuid::Uuid;

pub enum DeleteOutcome {
    Deleted,
    NotFound,
    LastAdmin,
    /// The acting admin was deleted or demoted while the request was on its way.
    ActorNoLongerAdmin,
}

/// Deletes a user's account: sessions, devices and key packages, receipts, memberships, their
/// direct conversations and groups left empty go; the account row stays as a nameless tombstone
/// so that what they sent to groups (MLS commits and Welcomes other members still need, each
/// checked against its sender) keeps its sender. Runs as one transaction under a lock, so two
/// admins deleting each other cannot leave none.
pub async fn delete_user(client: &mut Client, actor: Uuid, target: Uuid) -> DbResult<DeleteOutcome> {
    let tx = client.transaction().await?;
    sql::execute(&tx, "SELECT pg_advisory_xact_lock(hashtext('e2e-chat:admins'))", &[]).await?;
    let actor_is_admin = sql::query_opt(&tx, "SELECT is_admin FROM users WHERE id = $1", &[&actor])
        .await?
        .is_some_and(|r| r.get::<_, bool>(0));
    if !actor_is_admin {
        return Ok(DeleteOutcome::ActorNoLongerAdmin);
    }
    let Some(user) =
        sql::query_opt(&tx, "SELECT is_admin FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", &[&target])
            .await?
    else {
        return Ok(DeleteOutcome::NotFound);
    };
    let is_admin: bool = user.get("is_admin");
    if is_admin {
        let admins: i64 = sql::query_one(&tx, "SELECT count(*) FROM users WHERE is_admin", &[]).await?.get(0);
        if admins <= 1 {
            return Ok(DeleteOutcome::LastAdmin);
        }
    }
    let emptied_groups = erase(&tx, target).await?;
    // Ids only: the account is deleted so that its phone number and name are not kept, and the
    // audit log is no exception (the tombstone keeps the id the entry names).
    let detail = json!({ "wasAdmin": is_admin, "emptiedGroups": emptied_groups });
    sql::execute(
        &tx,
        "INSERT INTO audit_log (actor_id, action, target, detail) VALUES ($1, 'user.delete', $2, $3)",
        &[&actor, &target.to_string(), &detail],
    )
    .await?;
    tx.commit().await?;
    Ok(DeleteOutcome::Deleted)
}

/// Removes everything of `target` but their tombstone, in `delete_user`'s transaction. Returns
/// how many of their groups it left empty, and so deleted.
async fn erase(tx: &Transaction<'_>, target: Uuid) -> DbResult<u64> {
    let groups: Vec<Uuid> = sql::query(
        tx,
        "SELECT m.conversation_id FROM members m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.user_id = $1 AND c.kind = 'group'",
        &[&target],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    for statement in [
        "DELETE FROM sessions WHERE user_id = $1",
        // Where they logged in from (throttles, 5.) is theirs, and not kept either.
        "DELETE FROM login_networks WHERE user_id = $1",
        // Key packages go with the devices; messages keep their sender and lose the device.
        "DELETE FROM devices WHERE user_id = $1",
        "DELETE FROM key_package_claims WHERE claimer_id = $1 OR target_id = $1",
        "DELETE FROM receipts WHERE user_id = $1",
        // A direct conversation is the two people's; with one gone it goes, messages and all.
        "DELETE FROM conversations WHERE kind = 'direct' AND (user_lo = $1 OR user_hi = $1)",
        "DELETE FROM members WHERE user_id = $1",
        // Their devices are gone, which is evidence enough for any member to remove their leaves.
        "DELETE FROM departures WHERE user_id = $1",
        "UPDATE users SET phone = NULL, display_name = 'Deleted account', password_hash = '', is_admin = false,
                online_since = NULL, deleted_at = now()
         WHERE id = $1",
    ] {
        sql::execute(tx, statement, &[&target]).await?;
    }
    let emptied = sql::execute(
        tx,
        "DELETE FROM conversations c WHERE c.id = ANY($1)
             AND NOT EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = c.id)",
        &[&groups],
    )
    .await?;
    // A group whose owner this was is not left without a manager.
    super::members::pass_ownership(tx, &groups).await?;
    Ok(emptied)
}

/// One audit_log row.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// A page of audit entries, newest first.
pub async fn audit_page(client: &Client, page: &PageRequest<SequenceCursor>) -> DbResult<Vec<AuditRow>> {
    let before_id = page.after.map(|c| c.id);
    let rows = sql::query(
        client,
        "SELECT id, actor_id, action, target, detail, at FROM audit_log
             WHERE ($1::int8 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        &[&before_id, &page.fetch()],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| AuditRow {
            id: r.get("id"),
            actor_id: r.get("actor_id"),
            action: r.get("action"),
            target: r.get("target"),
            detail: r.get("detail"),
            at: r.get("at"),
        })
        .collect())
}

/// The admin page's counts, in one statement so that they are read at one moment.
#[derive(Debug, Clone)]
pub struct StatsRow {
    pub users: i64,
    pub online_now: i64,
    pub messages_today: i64,
    pub active_sessions: i64,
    pub at: DateTime<Utc>,
}

pub async fn stats(client: &Client) -> DbResult<StatsRow> {
    let row = sql::query_one(
        client,
        "SELECT
               (SELECT count(*) FROM users WHERE deleted_at IS NULL) AS users,
               (SELECT count(*) FROM users WHERE online_since IS NOT NULL AND deleted_at IS NULL) AS online_now,
               (SELECT count(*) FROM messages
                 WHERE kind = 'app' AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
                 AS messages_today,
               (SELECT count(*) FROM sessions WHERE expires_at > now()) AS active_sessions,
               now() AS at",
        &[],
    )
    .await?;
    Ok(StatsRow {
        users: row.get("users"),
        online_now: row.get("online_now"),
        messages_today: row.get("messages_today"),
        active_sessions: row.get("active_sessions"),
        at: row.get("at"),
    })
}
