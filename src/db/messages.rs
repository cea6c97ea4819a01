//! messages: keyset pages over (created_at, id), per-conversation sequence numbers for sends and
//! catch-up. Commits and their Welcomes are messages too; storing them is in `commits`.

use super::{sql, Client, DbError, DbErrorKind, DbResult};
use crate::cursor::{MessageCursor, PageRequest};
use crate::protocol::{DepartureView, MemberRole, MessageDeletion, MessageKind};
use chrono::{DateTime, Utc};
use tokio_postgres::types::Json;
use tokio_postgres::Row;
use uuid::Uuid;

const COLUMNS: &str =
    "id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at, commit_adds, commit_removes, commit_departures, sender_role, deleted";

/// The page query after a cursor. Kept as one literal so the pagination test can `EXPLAIN` exactly
/// what the server runs; the row comparison lets PostgreSQL start the index scan at the cursor.
pub const PAGE_AFTER_CURSOR_SQL: &str =
    "SELECT id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at,
     commit_adds, commit_removes, commit_departures, sender_role, deleted
     FROM messages
     WHERE conversation_id = $1 AND (created_at, id) < ($2, $3) AND seq > $5
     ORDER BY created_at DESC, id DESC
     LIMIT $4";

/// Stores a message if the sender is a member and returns it with the conversation's members (to
/// deliver to), in one statement and one round trip: the `send_message` function of migration
/// 0019, which says how (seq order, epochs, resends, uploads). Returns no row when the sender is
/// not a member, the epoch is stale, an upload cannot be referred to or the clientMsgId was used
/// before; fails on the unique key when an equal send raced it.
///
/// A function rather than the statement itself, because every statement goes unnamed through the
/// pooler (`sql`): PostgreSQL would parse and plan the statement on every send, which cost more
/// CPU than running it (0.62 ms of a backend per send against 0.35 ms, measured); PL/pgSQL keeps
/// the plan for the life of the server connection.
const SEND_SQL: &str = "SELECT * FROM send_message($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// `send_all`'s statement: the `send_messages` function of migration 0020, a batch as one
/// statement (see `send_all`), for the same reason `SEND_SQL` is a function.
const SEND_ALL_SQL: &str = "SELECT * FROM send_messages($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

const BY_CLIENT_ID_SQL: &str =
    "SELECT id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at,
     commit_adds, commit_removes, commit_departures, sender_role, deleted
     FROM messages WHERE sender_id = $1 AND client_msg_id = $2";

/// One messages row.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
    pub sender_id: Uuid,
    pub sender_device_id: Option<Uuid>,
    pub kind: MessageKind,
    pub epoch: i64,
    /// The opaque MLS message; empty once `deleted`.
    pub ciphertext: Vec<u8>,
    /// Why the ciphertext was deleted, on a tombstone.
    pub deleted: Option<MessageDeletion>,
    pub client_msg_id: String,
    pub created_at: DateTime<Utc>,
    /// For a commit: the users it declared it adds and removes (none for older commits).
    pub commit_adds: Option<Vec<Uuid>>,
    pub commit_removes: Option<Vec<Uuid>>,
    /// For a commit that removed people who left: their departures (see `DepartureView`).
    pub commit_departures: Option<Vec<DepartureView>>,
    /// Its sender's role when it was ordered (none for older messages).
    pub sender_role: Option<MemberRole>,
}

/// Fallible only in `kind`: a value this code does not know (a newer schema) is an error, not a panic.
impl TryFrom<&Row> for MessageRow {
    type Error = DbError;

    fn try_from(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: row.get("id"),
            conversation_id: row.get("conversation_id"),
            seq: row.get("seq"),
            sender_id: row.get("sender_id"),
            sender_device_id: row.get("sender_device_id"),
            kind: row.try_get("kind")?,
            epoch: row.get("epoch"),
            ciphertext: row.get("ciphertext"),
            deleted: row.try_get("deleted")?,
            client_msg_id: row.get("client_msg_id"),
            created_at: row.get("created_at"),
            commit_adds: row.get("commit_adds"),
            commit_removes: row.get("commit_removes"),
            commit_departures: row
                .try_get::<_, Option<Json<Vec<DepartureView>>>>("commit_departures")?
                .map(|Json(departures)| departures),
            sender_role: row.try_get("sender_role")?,
        })
    }
}

/// An application message to store.
pub struct NewMessage<'a> {
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
    pub sender_device_id: Option<Uuid>,
    pub epoch: i64,
    pub ciphertext: &'a [u8],
    pub client_msg_id: &'a str,
    /// A change of the conversation's timer, which never expires (see `SendMessageEvent`).
    pub timer_change: bool,
    /// Uploads the message refers to.
    pub attachment_ids: &'a [Uuid],
}

/// A message just stored, with the conversation's members to deliver it to.
pub struct Sent {
    pub message: MessageRow,
    pub member_ids: Vec<Uuid>,
}

/// Stores a message (see `SEND_SQL`). None when nothing was stored: the sender is not a member,
/// the epoch is stale, an upload it names cannot be referred to, or the clientMsgId was used
/// before, possibly by an equal send that committed while this one waited.
///
/// One round trip, like every statement (see `sql`): the hub's connection goes through a pooler in
/// transaction mode, so nothing is prepared on it ahead of time.
pub async fn send(client: &Client, m: &NewMessage<'_>) -> DbResult<Option<Sent>> {
    let id = Uuid::now_v7();
    let row = match sql::query_opt(client, SEND_SQL, &send_params(m, &id)).await {
        Ok(row) => row,
        Err(e) => {
            let e = DbError::from(e);
            // An equal send committed while this one waited: nothing of this one was kept.
            return if e.is_unique_violation() { Ok(None) } else { Err(e) };
        }
    };
    row.as_ref().map(sent).transpose()
}

/// `SEND_SQL`'s parameters: `m`, stored under `id`.
fn send_params<'a>(m: &'a NewMessage<'_>, id: &'a Uuid) -> [&'a dyn sql::Param; 9] {
    [
        id,
        &m.conversation_id,
        &m.sender_id,
        &m.sender_device_id,
        &m.epoch,
        &m.ciphertext,
        &m.client_msg_id,
        &m.timer_change,
        &m.attachment_ids,
    ]
}

/// A row `SEND_SQL` or `SEND_ALL_SQL` returned (the latter's `ord` aside).
fn sent(row: &Row) -> DbResult<Sent> {
    Ok(Sent { message: MessageRow::try_from(row)?, member_ids: row.get("member_ids") })
}

/// Stores several messages in one statement, so one transaction and one round trip (the hub's
/// group commit): the `send_messages` function of migration 0020, which stores each message as
/// `send_message` would, in the order given, and answers each stored one with its ordinal. Each
/// answer (in the order given) means what `send`'s does. The messages are given grouped by
/// conversation and in the order given within each (`lock_order`): a conversation's messages take
/// their seqs in the order given, and a message that repeats an earlier one's clientMsgId in the
/// same batch is answered as a resend. Each message keeps its conversation's row locked until the
/// statement commits, so every batch takes those locks in one order (by conversation id): two
/// batches that write to the same two conversations wait for each other rather than deadlock. One
/// statement and one commit (one WAL flush) then stand for the whole burst, parsed and planned
/// once, and encoded and decoded once here.
///
/// `Err` when the statement did not commit (one message failed, which fails them all, or the
/// messages are not all one sender's, which the statement takes once), and also when its answers
/// could not be read after it did: the caller then sends each message on its own, which is safe
/// either way, since a clientMsgId already stored is answered as a resend.
pub async fn send_all(client: &Client, messages: &[NewMessage<'_>]) -> DbResult<Vec<Option<Sent>>> {
    let mut answers: Vec<Option<Sent>> = (0..messages.len()).map(|_| None).collect();
    let Some(sender) = messages.first().map(|m| m.sender_id) else {
        return Ok(answers);
    };
    if messages.iter().any(|m| m.sender_id != sender) {
        return Err(DbError::new(DbErrorKind::Client("a batch of several senders' messages".to_string())));
    }
    let order = lock_order(&messages.iter().map(|m| m.conversation_id).collect::<Vec<_>>());
    // One array per field, one element per message, in lock order (what the statement's
    // ordinals count), and every upload in one array with each message's count (see 0020).
    let in_order = || order.iter().map(|&i| &messages[i]);
    let ids: Vec<Uuid> = order.iter().map(|_| Uuid::now_v7()).collect();
    let conversations: Vec<Uuid> = in_order().map(|m| m.conversation_id).collect();
    let devices: Vec<Option<Uuid>> = in_order().map(|m| m.sender_device_id).collect();
    let epochs: Vec<i64> = in_order().map(|m| m.epoch).collect();
    let ciphertexts: Vec<&[u8]> = in_order().map(|m| m.ciphertext).collect();
    let client_msg_ids: Vec<&str> = in_order().map(|m| m.client_msg_id).collect();
    let timer_changes: Vec<bool> = in_order().map(|m| m.timer_change).collect();
    let attachment_ids: Vec<Uuid> = in_order().flat_map(|m| m.attachment_ids.iter().copied()).collect();
    let attachment_counts = in_order()
        .map(|m| i32::try_from(m.attachment_ids.len()))
        .collect::<Result<Vec<i32>, _>>()
        .map_err(|_| DbError::new(DbErrorKind::Client("a message naming too many uploads".to_string())))?;
    let rows = sql::query(
        client,
        SEND_ALL_SQL,
        &[
            &ids,
            &conversations,
            &sender,
            &devices,
            &epochs,
            &ciphertexts,
            &client_msg_ids,
            &timer_changes,
            &attachment_ids,
            &attachment_counts,
        ],
    )
    .await?;
    for row in &rows {
        let ord: i32 = row.try_get("ord")?;
        // Ordinals count from 1, in lock order; a message with no row stored nothing.
        let index = usize::try_from(ord)
            .ok()
            .and_then(|ord| ord.checked_sub(1))
            .and_then(|k| order.get(k))
            .copied()
            .ok_or_else(|| {
                DbError::new(DbErrorKind::Client(format!("an answer for message {ord} of {}", order.len())))
            })?;
        answers[index] = Some(sent(row)?);
    }
    Ok(answers)
}

/// The order `send_all` stores its messages in, as indexes into `conversations` (each message's):
/// grouped by conversation id, ascending, which is the order every batch takes the conversations'
/// row locks in, and within a conversation the order given, which is its messages' seq order.
fn lock_order(conversations: &[Uuid]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..conversations.len()).collect();
    order.sort_by_key(|&i| conversations[i]); // stable
    order
}

/// The message `sender` stored under `client_msg_id`, if any.
pub async fn by_client_id(client: &Client, sender: Uuid, client_msg_id: &str) -> DbResult<Option<MessageRow>> {
    sql::query_opt(client, BY_CLIENT_ID_SQL, &[&sender, &client_msg_id])
        .await?
        .as_ref()
        .map(MessageRow::try_from)
        .transpose()
}

/// A page of a conversation's messages after `joined_seq` (what the reader may see), newest
/// first.
pub async fn page(
    client: &Client,
    conversation: Uuid,
    joined_seq: i64,
    page: &PageRequest<MessageCursor>,
) -> DbResult<Vec<MessageRow>> {
    let fetch = page.fetch();
    let rows = match page.after {
        Some(c) => {
            sql::query(client, PAGE_AFTER_CURSOR_SQL, &[&conversation, &c.created_at, &c.id, &fetch, &joined_seq])
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $3
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            );
            sql::query(client, &sql, &[&conversation, &fetch, &joined_seq]).await?
        }
    };
    rows.iter().map(MessageRow::try_from).collect()
}

/// Messages of one conversation after `after_seq`, oldest first.
pub async fn after_seq(client: &Client, conversation: Uuid, after_seq: i64, fetch: i64) -> DbResult<Vec<MessageRow>> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
    let rows = sql::query(client, &sql, &[&conversation, &after_seq, &fetch]).await?;
    rows.iter().map(MessageRow::try_from).collect()
}

/// These messages, in seq order.
pub async fn by_ids(client: &Client, ids: &[Uuid]) -> DbResult<Vec<MessageRow>> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = ANY($1) ORDER BY seq");
    sql::query(client, &sql, &[&ids]).await?.iter().map(MessageRow::try_from).collect()
}

/// What a receipt may touch: the message's conversation, seq and sender, if `user` is a member.
pub struct ReceiptTarget {
    pub conversation_id: Uuid,
    /// The message's seq: a read push says up to where the conversation was read.
    pub seq: i64,
    pub sender_id: Uuid,
}

/// The application message `user` may make a receipt on: one of a conversation they are in,
/// sent after they joined.
pub async fn receipt_target(client: &Client, message: Uuid, user: Uuid) -> DbResult<Option<ReceiptTarget>> {
    let row = sql::query_opt(
        client,
        "SELECT m.conversation_id, m.seq, m.sender_id FROM messages m
             JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = $2
             WHERE m.id = $1 AND m.kind = 'app' AND m.seq > mb.joined_seq",
        &[&message, &user],
    )
    .await?;
    Ok(row.map(|r| ReceiptTarget { conversation_id: r.get(0), seq: r.get(1), sender_id: r.get(2) }))
}

/// What became of a request to delete a message for everyone.
#[derive(Debug, PartialEq, Eq)]
pub enum Retraction {
    /// Its ciphertext is gone (now, or before: asking twice is no error).
    Deleted,
    /// No application message with this id in this conversation that the caller may see.
    NotFound,
    /// The caller may not: only the sender may, or in a group an owner or admin.
    NotAllowed,
}

/// Deletes an application message's ciphertext for everyone, leaving its row as a tombstone (see
/// `MessageDeletion`). Allowed to its sender, and in a group to an owner or admin, as long as
/// they are a member who may read it. One statement: the check and the deletion see the same rows.
pub async fn retract(client: &Client, conversation: Uuid, message: Uuid, caller: Uuid) -> DbResult<Retraction> {
    let row = sql::query_opt(
        client,
        "WITH target AS (
               SELECT m.id, m.deleted,
                 (m.sender_id = $3 OR (c.kind = 'group' AND mb.role IN ('owner', 'admin'))) AS allowed
               FROM messages m
               JOIN conversations c ON c.id = m.conversation_id
               JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = $3
               WHERE m.id = $2 AND m.conversation_id = $1 AND m.kind = 'app' AND m.seq > mb.joined_seq
             ), deleted AS (
               UPDATE messages SET ciphertext = '', deleted = 'retracted', deleted_at = now()
               WHERE id = (SELECT id FROM target WHERE allowed AND deleted IS NULL)
               RETURNING id
             )
             SELECT allowed FROM target",
        &[&conversation, &message, &caller],
    )
    .await?;
    Ok(match row.map(|r| r.get::<_, bool>("allowed")) {
        None => Retraction::NotFound,
        Some(false) => Retraction::NotAllowed,
        Some(true) => Retraction::Deleted,
    })
}

/// Deletes the ciphertext of up to `limit` application messages past their conversation's timer,
/// oldest first, leaving tombstones; returns their ids (their attachments go with them).
pub async fn expire_due(client: &Client, limit: i64) -> DbResult<Vec<Uuid>> {
    let rows = sql::query(
        client,
        "UPDATE messages SET ciphertext = '', deleted = 'expired', deleted_at = now()
             WHERE id IN (
               SELECT id FROM messages WHERE expires_at <= now() AND deleted IS NULL
               ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING id",
        &[&limit],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    #[test]
    fn a_batch_locks_conversations_in_one_order_and_keeps_each_conversations_order() {
        let (low, high) = (Uuid::from_u128(1), Uuid::from_u128(2));
        // Two users' batches naming the same two conversations in opposite orders take their
        // locks in the same order (low, then high), and each conversation's messages keep theirs.
        assert_eq!(super::lock_order(&[low, high, low, high]), [0, 2, 1, 3]);
        assert_eq!(super::lock_order(&[high, low, high, low]), [1, 3, 0, 2]);
        assert_eq!(super::lock_order(&[high, high, high]), [0, 1, 2]);
        assert!(super::lock_order(&[]).is_empty());
    }
}
