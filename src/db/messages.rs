//! messages and receipts: keyset pages over (created_at, id), per-conversation sequence numbers
//! for sends and catch-up, delivery and read receipts.

use super::{db_error, Client};
use crate::cursor::MessageCursor;
use crate::error::ApiError;
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
pub const PAGE_AFTER_CURSOR_SQL: &str = "SELECT id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at
     FROM messages
     WHERE conversation_id = $1 AND (created_at, id) < ($2, $3)
     ORDER BY created_at DESC, id DESC
     LIMIT $4";

/// Stores a message if the sender is a member and returns it with the conversation's members (to
/// deliver to), in one statement and one round trip. Bumping the conversation's `last_seq` takes
/// its row lock, so sends in one conversation commit in seq order; `created_at` is read after
/// the lock for the same reason. Returns no row when the sender is not a member or the
/// clientMsgId was used before.
pub const SEND_SQL: &str = "WITH allowed AS (
       SELECT 1 FROM members WHERE conversation_id = $2 AND user_id = $3
     ), bumped AS (
       UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $2 AND EXISTS (SELECT 1 FROM allowed) RETURNING last_seq
     ), inserted AS (
       INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at)
       SELECT $1, $2, last_seq, $3, $4, 'app', $5, $6, $7, clock_timestamp() FROM bumped
       ON CONFLICT (sender_id, client_msg_id) DO NOTHING
       RETURNING id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at
     )
     SELECT inserted.*, ARRAY(SELECT user_id FROM members WHERE conversation_id = $2) AS member_ids FROM inserted";

pub const BY_CLIENT_ID_SQL: &str = "SELECT id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at
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

/// Up to `fetch` messages of a conversation, newest first, older than `before` when given.
pub async fn page(
    client: &Client,
    conversation: Uuid,
    before: Option<MessageCursor>,
    fetch: i64,
) -> Result<Vec<MessageView>, ApiError> {
    let err = db_error("messages.page");
    let rows = match before {
        Some(c) => client.query(PAGE_AFTER_CURSOR_SQL, &[&conversation, &c.created_at, &c.id, &fetch]).await,
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
            );
            client.query(&sql, &[&conversation, &fetch]).await
        }
    }
    .map_err(err)?;
    Ok(rows.iter().map(view).collect())
}

/// Messages of one conversation after `after_seq`, oldest first.
pub async fn after_seq(client: &Client, conversation: Uuid, after_seq: i64, fetch: i64) -> Result<Vec<MessageView>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
    let rows = client.query(&sql, &[&conversation, &after_seq, &fetch]).await.map_err(db_error("messages.after_seq"))?;
    Ok(rows.iter().map(view).collect())
}

/// The conversations a user belongs to, with each one's latest seq.
pub async fn conversation_heads(client: &Client, user: Uuid) -> Result<Vec<(Uuid, i64)>, ApiError> {
    let rows = client
        .query(
            "SELECT c.id, c.last_seq FROM members m JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = $1",
            &[&user],
        )
        .await
        .map_err(db_error("messages.conversation_heads"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
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
             WHERE m.id = $1",
            &[&message, &user],
        )
        .await
        .map_err(db_error("messages.receipt_target"))?;
    Ok(row.map(|r| ReceiptTarget { conversation_id: r.get(0), sender_id: r.get(1) }))
}

/// Records a receipt idempotently: the first time of each kind wins, and "read" implies
/// "delivered" so delivered ≤ read always holds. Returns when the receipt's kind took effect.
pub async fn record_receipt(client: &Client, message: Uuid, user: Uuid, kind: ReceiptKind) -> Result<DateTime<Utc>, ApiError> {
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
