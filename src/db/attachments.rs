//! attachments: what the server knows of each encrypted upload (its size, uploader, conversation
//! and referring message; see migrations/0018_attachments.sql), the per-user quota and caps, and
//! the states an upload goes through: `uploading`, `complete`, and `deleting` once it is on its
//! way out. The R2 side is in `crate::attachments`; every path that deletes an upload first marks
//! its row `deleting` here (so nothing reads, writes or refers to it any more), then deletes the
//! R2 object, then the row.

use super::devices::lock_user;
use super::{sql, Client, DbResult};
use crate::protocol::{part_count, MAX_UNFINISHED_UPLOADS_PER_USER, UNREFERENCED_ATTACHMENT_GRACE_SECONDS};
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

const COLUMNS: &str = "id, conversation_id, uploader_id, size, state, upload_id, part_etags, message_id, created_at";

/// One attachments row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRow {
    pub id: Uuid,
    /// None once the conversation is deleted (the sweep then deletes the upload).
    pub conversation_id: Option<Uuid>,
    pub uploader_id: Option<Uuid>,
    pub size: i64,
    pub state: String,
    /// The open R2 multipart upload, while `uploading`.
    pub upload_id: Option<String>,
    /// The etag of each part sent, at its number - 1; None for a part not sent yet.
    pub part_etags: Vec<Option<String>>,
    pub message_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<&Row> for AttachmentRow {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            conversation_id: row.get("conversation_id"),
            uploader_id: row.get("uploader_id"),
            size: row.get("size"),
            state: row.get("state"),
            upload_id: row.get("upload_id"),
            part_etags: row.get("part_etags"),
            message_id: row.get("message_id"),
            created_at: row.get("created_at"),
        }
    }
}

impl AttachmentRow {
    pub fn is_uploading(&self) -> bool {
        self.state == "uploading"
    }

    pub fn is_complete(&self) -> bool {
        self.state == "complete"
    }
}

/// What a user has stored, counted when they start another upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub conversation_exists: bool,
    pub member: bool,
    /// Bytes of all their uploads, unfinished ones included (reserved when started).
    pub stored_bytes: i64,
    pub unfinished: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    Reserved(AttachmentRow),
    NoConversation,
    NotAMember,
    /// `stored_bytes` plus this upload would pass the quota.
    OverQuota {
        stored_bytes: i64,
    },
    TooManyUnfinished,
}

/// Whether an upload of `size` bytes may start, given what the user has already. Pure, so the
/// policy is tested on its own; `reserve` applies it under the user's row lock.
pub fn judge(usage: Usage, size: i64, quota: i64) -> Option<Reservation> {
    if !usage.conversation_exists {
        Some(Reservation::NoConversation)
    } else if !usage.member {
        Some(Reservation::NotAMember)
    } else if usage.unfinished >= MAX_UNFINISHED_UPLOADS_PER_USER {
        Some(Reservation::TooManyUnfinished)
    } else if usage.stored_bytes + size > quota {
        Some(Reservation::OverQuota { stored_bytes: usage.stored_bytes })
    } else {
        None
    }
}

/// Reserves an upload of `size` bytes by `uploader` for `conversation`, if they are a member and
/// it fits their quota and cap. The user's row lock serializes their reservations, and the usage
/// is read in a statement of its own after it, so parallel uploads cannot all pass one count.
pub async fn reserve(
    client: &mut Client,
    id: Uuid,
    conversation: Uuid,
    uploader: Uuid,
    size: i64,
    quota: i64,
) -> DbResult<Reservation> {
    let tx = client.transaction().await?;
    lock_user(&tx, uploader).await?;
    let row = sql::query_one(
        &tx,
        "SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1) AS conversation_exists,
                    EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2) AS member,
                    COALESCE((SELECT sum(size) FROM attachments WHERE uploader_id = $2), 0)::bigint AS stored_bytes,
                    (SELECT count(*) FROM attachments WHERE uploader_id = $2 AND state = 'uploading') AS unfinished",
        &[&conversation, &uploader],
    )
    .await?;
    let usage = Usage {
        conversation_exists: row.get("conversation_exists"),
        member: row.get("member"),
        stored_bytes: row.get("stored_bytes"),
        unfinished: row.get("unfinished"),
    };
    if let Some(refused) = judge(usage, size, quota) {
        return Ok(refused);
    }
    // One slot per part, from 1: assigning element n of an empty array would make n its first.
    let sql = format!(
        "INSERT INTO attachments (id, conversation_id, uploader_id, size, part_etags)
         VALUES ($1, $2, $3, $4, array_fill(NULL::text, ARRAY[$5::int])) RETURNING {COLUMNS}"
    );
    let parts = part_count(size) as i32;
    let row = sql::query_one(&tx, &sql, &[&id, &conversation, &uploader, &size, &parts]).await?;
    tx.commit().await?;
    Ok(Reservation::Reserved(AttachmentRow::from(&row)))
}

/// Notes the R2 multipart upload a reservation writes to.
pub async fn set_upload_id(client: &Client, id: Uuid, upload_id: &str) -> DbResult<bool> {
    let n = sql::execute(
        client,
        "UPDATE attachments SET upload_id = $2 WHERE id = $1 AND state = 'uploading'",
        &[&id, &upload_id],
    )
    .await?;
    Ok(n == 1)
}

/// An upload, with whether `user` is a member of its conversation now.
pub async fn get_for(client: &Client, id: Uuid, user: Uuid) -> DbResult<Option<(AttachmentRow, bool)>> {
    let sql = format!(
        "SELECT {COLUMNS}, EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = a.conversation_id AND m.user_id = $2)
         AS member FROM attachments a WHERE id = $1"
    );
    let row = sql::query_opt(client, &sql, &[&id, &user]).await?;
    Ok(row.map(|row| (AttachmentRow::from(&row), row.get("member"))))
}

/// Records part `n`'s etag (n from 1, checked against the upload's parts), if the upload is still
/// open. A part sent again replaces the first.
pub async fn record_part(client: &Client, id: Uuid, n: i32, etag: &str) -> DbResult<bool> {
    let updated = sql::execute(
        client,
        "UPDATE attachments SET part_etags[$2] = $3 WHERE id = $1 AND state = 'uploading'",
        &[&id, &n, &etag],
    )
    .await?;
    Ok(updated == 1)
}

/// Marks an upload whole, if it is still open; its multipart upload is closed.
pub async fn mark_complete(client: &Client, id: Uuid) -> DbResult<Option<AttachmentRow>> {
    let sql = format!(
        "UPDATE attachments SET state = 'complete', completed_at = now(), upload_id = NULL
         WHERE id = $1 AND state = 'uploading' RETURNING {COLUMNS}"
    );
    Ok(sql::query_opt(client, &sql, &[&id]).await?.as_ref().map(AttachmentRow::from))
}

/// Why the uploads a `send-message` names cannot all be referred to, when its send stored nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReferable {
    /// Not an upload, not the sender's, for another conversation, or not complete.
    Invalid,
    /// Another message refers to it already.
    InUse,
}

/// Tells why `ids` could not all be attached by `sender` to a message in `conversation` (the send
/// statement checks the same atomically), or None if they could be now.
pub async fn not_referable(
    client: &Client,
    ids: &[Uuid],
    sender: Uuid,
    conversation: Uuid,
) -> DbResult<Option<NotReferable>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let row = sql::query_one(
        client,
        "SELECT count(*) FILTER (WHERE message_id IS NULL) AS free, count(*) AS valid FROM attachments
             WHERE id = ANY($1) AND uploader_id = $2 AND conversation_id = $3 AND state = 'complete'",
        &[&ids, &sender, &conversation],
    )
    .await?;
    let (free, valid): (i64, i64) = (row.get("free"), row.get("valid"));
    let wanted = ids.len() as i64;
    Ok(if valid < wanted {
        Some(NotReferable::Invalid)
    } else if free < wanted {
        Some(NotReferable::InUse)
    } else {
        None
    })
}

/// An upload marked `deleting`: what its R2 side needs to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doomed {
    pub id: Uuid,
    /// Its multipart upload, if it was never completed.
    pub upload_id: Option<String>,
}

fn doomed(rows: Vec<Row>) -> Vec<Doomed> {
    rows.iter().map(|r| Doomed { id: r.get("id"), upload_id: r.get("upload_id") }).collect()
}

/// What cancelling an upload found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    Doomed(Doomed),
    NotFound,
    /// A message refers to it: it goes with that message, not on its own.
    Referenced,
}

/// Marks `uploader`'s upload `deleting`, unless a message refers to it. Cancelling one already on
/// its way out finds it again, so a cancel that failed halfway can be repeated.
pub async fn doom_own(client: &Client, id: Uuid, uploader: Uuid) -> DbResult<Cancel> {
    let row = sql::query_opt(
        client,
        "WITH target AS (SELECT id, message_id FROM attachments WHERE id = $1 AND uploader_id = $2 FOR UPDATE),
                  doomed AS (UPDATE attachments a SET state = 'deleting' FROM target
                             WHERE a.id = target.id AND target.message_id IS NULL RETURNING a.id, a.upload_id)
             SELECT target.message_id IS NOT NULL AS referenced, doomed.id, doomed.upload_id
             FROM target LEFT JOIN doomed ON true",
        &[&id, &uploader],
    )
    .await?;
    Ok(match row {
        None => Cancel::NotFound,
        Some(row) if row.get("referenced") => Cancel::Referenced,
        Some(row) => Cancel::Doomed(Doomed { id: row.get("id"), upload_id: row.get("upload_id") }),
    })
}

/// Marks `deleting` the uploads these messages refer to (the messages were deleted for everyone,
/// or expired).
pub async fn doom_for_messages(client: &Client, messages: &[Uuid]) -> DbResult<Vec<Doomed>> {
    let rows = sql::query(
        client,
        "UPDATE attachments SET state = 'deleting' WHERE message_id = ANY($1) RETURNING id, upload_id",
        &[&messages],
    )
    .await?;
    Ok(doomed(rows))
}

/// Marks `deleting` up to `limit` uploads nothing will refer to, and returns them with those a
/// previous pass marked but did not finish: uploads no message referred to within the grace
/// period (finished or not), those whose conversation or uploader is gone, and those of a message
/// deleted for everyone or expired (which `delete_for_messages` deletes at once; this catches what
/// it could not). Rows another pass holds are skipped, not waited for.
pub async fn doom_abandoned(client: &Client, limit: i64) -> DbResult<Vec<Doomed>> {
    let rows = sql::query(
        client,
        "UPDATE attachments SET state = 'deleting' WHERE id IN (
               SELECT a.id FROM attachments a LEFT JOIN users u ON u.id = a.uploader_id
                 LEFT JOIN messages m ON m.id = a.message_id
               WHERE a.state = 'deleting'
                  OR a.conversation_id IS NULL OR a.uploader_id IS NULL OR u.deleted_at IS NOT NULL
                  OR m.deleted IS NOT NULL
                  OR (a.message_id IS NULL AND a.created_at < now() - make_interval(secs => $1))
               ORDER BY a.created_at LIMIT $2 FOR UPDATE OF a SKIP LOCKED)
             RETURNING id, upload_id",
        &[&(UNREFERENCED_ATTACHMENT_GRACE_SECONDS as f64), &limit],
    )
    .await?;
    Ok(doomed(rows))
}

/// Deletes the rows of uploads whose R2 side is gone.
pub async fn forget(client: &Client, ids: &[Uuid]) -> DbResult<u64> {
    Ok(sql::execute(client, "DELETE FROM attachments WHERE id = ANY($1) AND state = 'deleting'", &[&ids]).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: i64 = 1000;

    fn usage() -> Usage {
        Usage { conversation_exists: true, member: true, stored_bytes: 0, unfinished: 0 }
    }

    #[test]
    fn an_upload_starts_only_for_a_member_within_quota_and_cap() {
        assert_eq!(judge(usage(), QUOTA, QUOTA), None);
        assert_eq!(judge(Usage { stored_bytes: 999, ..usage() }, 1, QUOTA), None);
        assert_eq!(
            judge(Usage { stored_bytes: 999, ..usage() }, 2, QUOTA),
            Some(Reservation::OverQuota { stored_bytes: 999 })
        );
        let cap = MAX_UNFINISHED_UPLOADS_PER_USER;
        assert_eq!(judge(Usage { unfinished: cap - 1, ..usage() }, 1, QUOTA), None);
        assert_eq!(judge(Usage { unfinished: cap, ..usage() }, 1, QUOTA), Some(Reservation::TooManyUnfinished));
        assert_eq!(judge(Usage { member: false, ..usage() }, 1, QUOTA), Some(Reservation::NotAMember));
        let gone = Usage { conversation_exists: false, member: false, ..usage() };
        assert_eq!(judge(gone, 1, QUOTA), Some(Reservation::NoConversation));
    }
}
