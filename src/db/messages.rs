//! messages and receipts: keyset pages over (created_at, id), per-conversation sequence numbers
//! for sends and catch-up, delivery and read receipts.

use super::{db_error, is_unique_violation, Client};
use crate::cursor::MessageCursor;
use crate::error::ApiError;
use crate::protocol::{CommitRequest, MAX_GROUP_MEMBERS};
use crate::protocol::{MessageView, ReceiptKind};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

const COLUMNS: &str =
    "id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at";

/// The page query after a cursor. Kept as one literal so the pagination test can `EXPLAIN` exactly
/// what the server runs; the row comparison lets PostgreSQL start the index scan at the cursor.
pub const PAGE_AFTER_CURSOR_SQL: &str =
    "SELECT id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at
     FROM messages
     WHERE conversation_id = $1 AND (created_at, id) < ($2, $3) AND seq > $5
     ORDER BY created_at DESC, id DESC
     LIMIT $4";

/// Stores a message if the sender is a member and returns it with the conversation's members (to
/// deliver to), in one statement and one round trip. Bumping the conversation's `last_seq` takes
/// its row lock, so sends in one conversation commit in seq order; `created_at` is read after
/// the lock for the same reason. The message must carry the conversation's current epoch, so no
/// message is ordered after a commit it predates. Returns no row when the sender is not a member,
/// the epoch is stale or the clientMsgId was used before.
///
/// A seq taken must be a seq stored: clients apply a conversation's messages strictly in seq order
/// and would wait forever at a hole. So a resend takes no seq (the NOT EXISTS), and when two equal
/// sends race past that check, the second one's insert fails on the unique key instead of doing
/// nothing, which rolls its seq back with the whole statement; the caller answers it as a resend.
pub const SEND_SQL: &str = "WITH allowed AS (
       SELECT 1 FROM members WHERE conversation_id = $2 AND user_id = $3
     ), bumped AS (
       UPDATE conversations SET last_seq = last_seq + 1
       WHERE id = $2 AND epoch = $5 AND EXISTS (SELECT 1 FROM allowed)
         AND NOT EXISTS (SELECT 1 FROM messages WHERE sender_id = $3 AND client_msg_id = $7)
       RETURNING last_seq
     ), inserted AS (
       INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at)
       SELECT $1, $2, last_seq, $3, $4, 'app', $5, $6, $7, clock_timestamp() FROM bumped
       RETURNING id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at
     )
     SELECT inserted.*, ARRAY(SELECT user_id FROM members WHERE conversation_id = $2) AS member_ids FROM inserted";

pub const BY_CLIENT_ID_SQL: &str =
    "SELECT id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at
     FROM messages WHERE sender_id = $1 AND client_msg_id = $2";

pub fn view(row: &Row) -> MessageView {
    MessageView {
        id: row.get("id"),
        conversation_id: row.get("conversation_id"),
        seq: row.get("seq"),
        sender_id: row.get("sender_id"),
        sender_device_id: row.get("sender_device_id"),
        kind: row.get("kind"),
        epoch: row.get("epoch"),
        ciphertext: B64.encode(row.get::<_, &[u8]>("ciphertext")),
        client_msg_id: row.get("client_msg_id"),
        created_at: row.get("created_at"),
    }
}

/// Up to `fetch` messages of a conversation after `joined_seq` (what the reader may see), newest
/// first, older than `before` when given.
pub async fn page(
    client: &Client,
    conversation: Uuid,
    joined_seq: i64,
    before: Option<MessageCursor>,
    fetch: i64,
) -> Result<Vec<MessageView>, ApiError> {
    let err = db_error("messages.page");
    let rows = match before {
        Some(c) => {
            client.query(PAGE_AFTER_CURSOR_SQL, &[&conversation, &c.created_at, &c.id, &fetch, &joined_seq]).await
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $3
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            );
            client.query(&sql, &[&conversation, &fetch, &joined_seq]).await
        }
    }
    .map_err(err)?;
    Ok(rows.iter().map(view).collect())
}

/// Messages of one conversation after `after_seq`, oldest first.
pub async fn after_seq(
    client: &Client,
    conversation: Uuid,
    after_seq: i64,
    fetch: i64,
) -> Result<Vec<MessageView>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
    let rows =
        client.query(&sql, &[&conversation, &after_seq, &fetch]).await.map_err(db_error("messages.after_seq"))?;
    Ok(rows.iter().map(view).collect())
}

/// A receipt on one of the caller's messages, as it stands: read if it was read, else delivered.
pub struct StoredReceipt {
    pub message_id: Uuid,
    pub user_id: Uuid,
    pub kind: ReceiptKind,
    pub at: DateTime<Utc>,
}

/// The receipts others made on `sender`'s messages in one conversation from `from_seq` on, oldest
/// message first.
pub async fn receipts_on_own(
    client: &Client,
    conversation: Uuid,
    sender: Uuid,
    from_seq: i64,
    fetch: i64,
) -> Result<Vec<StoredReceipt>, ApiError> {
    let rows = client
        .query(
            "SELECT m.id, r.user_id, r.delivered_at, r.read_at FROM messages m JOIN receipts r ON r.message_id = m.id
             WHERE m.conversation_id = $1 AND m.seq >= $3 AND m.sender_id = $2
             ORDER BY m.seq LIMIT $4",
            &[&conversation, &sender, &from_seq, &fetch],
        )
        .await
        .map_err(db_error("messages.receipts_on_own"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let read_at: Option<DateTime<Utc>> = r.get("read_at");
            StoredReceipt {
                message_id: r.get("id"),
                user_id: r.get("user_id"),
                kind: if read_at.is_some() { ReceiptKind::Read } else { ReceiptKind::Delivered },
                at: read_at.unwrap_or_else(|| r.get("delivered_at")),
            }
        })
        .collect())
}

/// Where a member stands in one conversation: its latest seq, and the seq after which they may
/// read (the commit that added them).
pub struct Head {
    pub conversation_id: Uuid,
    pub last_seq: i64,
    pub joined_seq: i64,
}

/// The conversations a user belongs to, with each one's latest seq and the user's join point.
pub async fn conversation_heads(client: &Client, user: Uuid) -> Result<Vec<Head>, ApiError> {
    let rows = client
        .query(
            "SELECT c.id, c.last_seq, m.joined_seq FROM members m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.user_id = $1",
            &[&user],
        )
        .await
        .map_err(db_error("messages.conversation_heads"))?;
    Ok(rows.iter().map(|r| Head { conversation_id: r.get(0), last_seq: r.get(1), joined_seq: r.get(2) }).collect())
}

/// What a receipt may touch: the message's conversation and sender, if `user` is a member.
pub struct ReceiptTarget {
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
}

pub async fn receipt_target(client: &Client, message: Uuid, user: Uuid) -> Result<Option<ReceiptTarget>, ApiError> {
    let row = client
        .query_opt(
            "SELECT m.conversation_id, m.sender_id FROM messages m
             JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = $2
             WHERE m.id = $1 AND m.kind = 'app' AND m.seq > mb.joined_seq",
            &[&message, &user],
        )
        .await
        .map_err(db_error("messages.receipt_target"))?;
    Ok(row.map(|r| ReceiptTarget { conversation_id: r.get(0), sender_id: r.get(1) }))
}

/// Records a receipt idempotently: the first time of each kind wins, and "read" implies
/// "delivered" so delivered ≤ read always holds. Returns when the receipt's kind took effect.
pub async fn record_receipt(
    client: &Client,
    message: Uuid,
    user: Uuid,
    kind: ReceiptKind,
) -> Result<DateTime<Utc>, ApiError> {
    let sql = match kind {
        ReceiptKind::Delivered => {
            "INSERT INTO receipts (message_id, user_id, delivered_at) VALUES ($1, $2, now())
             ON CONFLICT (message_id, user_id) DO UPDATE SET delivered_at = coalesce(receipts.delivered_at, excluded.delivered_at)
             RETURNING delivered_at"
        }
        ReceiptKind::Read => {
            "INSERT INTO receipts (message_id, user_id, delivered_at, read_at) VALUES ($1, $2, now(), now())
             ON CONFLICT (message_id, user_id) DO UPDATE SET
               delivered_at = coalesce(receipts.delivered_at, excluded.delivered_at),
               read_at = coalesce(receipts.read_at, excluded.read_at)
             RETURNING read_at"
        }
    };
    let row = client.query_one(sql, &[&message, &user]).await.map_err(db_error("messages.record_receipt"))?;
    Ok(row.get(0))
}

pub async fn member_ids(client: &Client, conversation: Uuid) -> Result<Vec<Uuid>, ApiError> {
    let rows = client
        .query("SELECT user_id FROM members WHERE conversation_id = $1", &[&conversation])
        .await
        .map_err(db_error("messages.member_ids"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The members a message of `seq` is for: those who joined before it. A member added later
/// starts after their Welcome and is never handed anything older.
pub async fn member_ids_before(client: &Client, conversation: Uuid, seq: i64) -> Result<Vec<Uuid>, ApiError> {
    let rows = client
        .query("SELECT user_id FROM members WHERE conversation_id = $1 AND joined_seq < $2", &[&conversation, &seq])
        .await
        .map_err(db_error("messages.member_ids_before"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A commit that was stored: its message, the Welcome stored right after it, who was a member
/// before it (they all need the commit, the removed included) and who it added.
pub struct AppliedCommit {
    pub commit: MessageView,
    pub welcome: Option<MessageView>,
    pub members_before: Vec<Uuid>,
    pub added: Vec<Uuid>,
}

/// Applies a commit in one statement under the conversation's row lock: accepted only if the
/// conversation is still at `epoch`, the sender is a member (an owner or admin when members
/// change) and the clientMsgId is new. Then it bumps the epoch, stores the commit and its Welcome,
/// records the epoch and changes the members, all or nothing. Added users read from their
/// Welcome on. Returns None when it was not accepted; the caller finds out why.
pub async fn apply_commit(
    client: &Client,
    sender: Uuid,
    device: Option<Uuid>,
    c: &CommitRequest,
) -> Result<Option<AppliedCommit>, ApiError> {
    let (commit_id, welcome_id) = (Uuid::now_v7(), Uuid::now_v7());
    let row = client
        .query_one(
            "WITH conv AS (
               SELECT id, kind, epoch, last_seq FROM conversations WHERE id = $1 FOR UPDATE
             ), actor AS (
               SELECT role FROM members WHERE conversation_id = $1 AND user_id = $2
             ), ok AS (
               SELECT conv.last_seq FROM conv, actor
               WHERE conv.epoch = $4
                 AND ((cardinality($9::uuid[]) = 0 AND cardinality($10::uuid[]) = 0)
                      OR (conv.kind = 'group' AND actor.role IN ('owner', 'admin')))
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE sender_id = $2 AND client_msg_id = $8)
             ), bumped AS (
               UPDATE conversations c SET epoch = c.epoch + 1,
                 last_seq = c.last_seq + CASE WHEN $6::bytea IS NULL THEN 1 ELSE 2 END,
                 group_info = coalesce($7::bytea, c.group_info)
               FROM ok WHERE c.id = $1 RETURNING ok.last_seq AS base
             ), commit_msg AS (
               INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at)
               SELECT $11, $1, base + 1, $2, $3, 'commit', $4, $5, $8, clock_timestamp() FROM bumped
               RETURNING id, seq
             ), welcome_msg AS (
               INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at)
               SELECT $12, $1, base + 2, $2, $3, 'welcome', $4 + 1, $6, 'welcome:' || $11::text, clock_timestamp()
               FROM bumped WHERE $6::bytea IS NOT NULL
               RETURNING id
             ), epoch_row AS (
               INSERT INTO epochs (conversation_id, epoch, commit_message_id) SELECT $1, $4, id FROM commit_msg
             ), removed AS (
               DELETE FROM members WHERE conversation_id = $1 AND user_id = ANY($10::uuid[]) AND role <> 'owner'
                 AND EXISTS (SELECT 1 FROM commit_msg)
             ), added AS (
               INSERT INTO members (conversation_id, user_id, role, joined_seq)
               SELECT $1, u.id, 'member', (SELECT seq FROM commit_msg) FROM users u
               WHERE u.id = ANY($9::uuid[]) AND u.deleted_at IS NULL AND EXISTS (SELECT 1 FROM commit_msg)
               ON CONFLICT (conversation_id, user_id) DO NOTHING
               RETURNING user_id
             )
             SELECT (SELECT id FROM commit_msg) AS commit_id, (SELECT id FROM welcome_msg) AS welcome_id,
               ARRAY(SELECT user_id FROM members WHERE conversation_id = $1) AS members_before,
               ARRAY(SELECT user_id FROM added) AS added",
            &[
                &c.conversation_id,
                &sender,
                &device,
                &c.epoch,
                &c.commit,
                &c.welcome,
                &c.group_info,
                &c.client_msg_id,
                &c.add_user_ids,
                &c.remove_user_ids,
                &commit_id,
                &welcome_id,
            ],
        )
        .await;
    let row = match row {
        // The same clientMsgId, stored by a concurrent commit while this one waited for the lock.
        Err(e) if is_unique_violation(&e) => return Ok(None),
        other => other.map_err(db_error("messages.apply_commit"))?,
    };
    if row.get::<_, Option<Uuid>>("commit_id").is_none() {
        return Ok(None);
    }
    let mut stored = by_ids(client, &[commit_id, welcome_id]).await?;
    let welcome = stored.iter().position(|m| m.id == welcome_id).map(|i| stored.remove(i));
    let commit = stored.pop().ok_or_else(ApiError::internal)?;
    Ok(Some(AppliedCommit { commit, welcome, members_before: row.get("members_before"), added: row.get("added") }))
}

/// The commit this sender stored under `client_msg_id`, with its Welcome, for answering a resend.
pub async fn earlier_commit(
    client: &Client,
    sender: Uuid,
    client_msg_id: &str,
) -> Result<Option<(MessageView, Option<MessageView>)>, ApiError> {
    let Some(row) = client
        .query_opt(BY_CLIENT_ID_SQL, &[&sender, &client_msg_id])
        .await
        .map_err(db_error("messages.earlier_commit"))?
    else {
        return Ok(None);
    };
    let commit = view(&row);
    let welcome = client
        .query_opt(BY_CLIENT_ID_SQL, &[&sender, &format!("welcome:{}", commit.id)])
        .await
        .map_err(db_error("messages.earlier_commit"))?
        .map(|r| view(&r));
    Ok(Some((commit, welcome)))
}

async fn by_ids(client: &Client, ids: &[Uuid]) -> Result<Vec<MessageView>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = ANY($1) ORDER BY seq");
    let rows = client.query(&sql, &[&ids]).await.map_err(db_error("messages.by_ids"))?;
    Ok(rows.iter().map(view).collect())
}

/// Checks a commit's member changes against the group before it is applied, so a bad one gets a
/// precise error: added users must exist and fit, removed ones must be members and not owners.
pub async fn check_member_changes(client: &Client, conversation: Uuid, c: &CommitRequest) -> Result<(), ApiError> {
    let row = client
        .query_one(
            "SELECT
               (SELECT count(*) FROM users WHERE id = ANY($2) AND deleted_at IS NULL) AS added_exist,
               (SELECT count(*) FROM members WHERE conversation_id = $1 AND NOT (user_id = ANY($2))) AS staying_base,
               (SELECT count(*) FROM members WHERE conversation_id = $1 AND user_id = ANY($3)) AS removed_members,
               (SELECT count(*) FROM members WHERE conversation_id = $1 AND user_id = ANY($3) AND role = 'owner') AS removed_owners",
            &[&conversation, &c.add_user_ids, &c.remove_user_ids],
        )
        .await
        .map_err(db_error("messages.check_member_changes"))?;
    let count = |name: &str| row.get::<_, i64>(name) as usize;
    if count("added_exist") != c.add_user_ids.len() {
        return Err(ApiError::not_found("Some of addUserIds are not users."));
    }
    if count("removed_members") != c.remove_user_ids.len() {
        return Err(ApiError::bad_request("not_a_member", "Some of removeUserIds are not members of this group."));
    }
    if count("removed_owners") > 0 {
        return Err(ApiError::new(403, "forbidden", "The group's owner cannot be removed."));
    }
    let after = count("staying_base") + c.add_user_ids.len() - c.remove_user_ids.len();
    if after > MAX_GROUP_MEMBERS {
        return Err(ApiError::bad_request(
            "too_many_members",
            format!("A group has at most {MAX_GROUP_MEMBERS} members."),
        ));
    }
    Ok(())
}
