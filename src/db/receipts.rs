//! receipts: one row per message and reader, with when it was delivered to them and read.

use super::{sql, Client, DbResult};
use crate::protocol::ReceiptKind;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One receipts row.
#[derive(Debug, Clone)]
pub struct ReceiptRow {
    pub message_id: Uuid,
    pub user_id: Uuid,
    /// Nullable in the schema, but every receipt is written with it; read as `coalesce(delivered_at,
    /// read_at)` all the same, since a read implies delivery and a NULL here would be a panic.
    pub delivered_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// Records a receipt idempotently: the first time of each kind wins, and "read" implies
/// "delivered" so delivered ≤ read always holds. Returns when the receipt's kind took effect.
pub async fn record(client: &Client, message: Uuid, user: Uuid, kind: ReceiptKind) -> DbResult<DateTime<Utc>> {
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
    Ok(sql::query_one(client, sql, &[&message, &user]).await?.get(0))
}

/// The receipts others made on `sender`'s messages in one conversation from `from_seq` on, oldest
/// message first.
pub async fn on_own_messages(
    client: &Client,
    conversation: Uuid,
    sender: Uuid,
    from_seq: i64,
    fetch: i64,
) -> DbResult<Vec<ReceiptRow>> {
    let rows = sql::query(
        client,
        "SELECT m.id, r.user_id, coalesce(r.delivered_at, r.read_at) AS delivered_at, r.read_at
             FROM messages m JOIN receipts r ON r.message_id = m.id
             WHERE m.conversation_id = $1 AND m.seq >= $3 AND m.sender_id = $2
             ORDER BY m.seq LIMIT $4",
        &[&conversation, &sender, &from_seq, &fetch],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| ReceiptRow {
            message_id: r.get("id"),
            user_id: r.get("user_id"),
            delivered_at: r.get("delivered_at"),
            read_at: r.get("read_at"),
        })
        .collect())
}
