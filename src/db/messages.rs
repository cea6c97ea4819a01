//! messages: keyset pages over (created_at, id), newest first.

use super::{db_error, Client};
use crate::cursor::MessageCursor;
use crate::error::ApiError;
use crate::protocol::MessageView;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use tokio_postgres::Row;
use uuid::Uuid;

const COLUMNS: &str =
    "id, conversation_id, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at";

/// The page query after a cursor. Kept as one literal so the pagination test can `EXPLAIN` exactly
/// what the server runs; the row comparison lets PostgreSQL start the index scan at the cursor.
pub const PAGE_AFTER_CURSOR_SQL: &str = "SELECT id, conversation_id, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at
     FROM messages
     WHERE conversation_id = $1 AND (created_at, id) < ($2, $3)
     ORDER BY created_at DESC, id DESC
     LIMIT $4";

fn view(row: &Row) -> MessageView {
    MessageView {
        id: row.get("id"),
        conversation_id: row.get("conversation_id"),
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
