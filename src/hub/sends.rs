//! Group commit: the sends that arrive while the hub is storing others wait, and are then stored
//! together, in one statement (so one transaction and one database round trip:
//! `messages::send_all`, the `send_messages` function of migration 0020), acknowledged
//! in the order they arrived, and delivered in one flush of the outbox. A lone send goes alone,
//! as before, so a quiet conversation waits for nothing; a burst (a client catching up its outbox,
//! a busy group) pays one commit for many messages instead of one each.
//!
//! Every message is committed before its ack, as without batching, and each conversation's
//! messages are stored in arrival order, so its seqs follow the order its sends arrived in, with
//! no gap. Deliveries are flushed by the senders once acked, never by the commit loop: a recipient
//! hub that is slow to answer delays deliveries, not the next commit or its acks.

use super::sockets::SocketInfo;
use super::UserHub;
use crate::db::messages::{self, MessageRow, NewMessage};
use crate::db::{Client, DbErrorKind};
use crate::error::log_error;
use crate::error::{ApiError, ApiResult};
use crate::protocol::OutgoingMessage;
use futures_channel::oneshot;
use std::cell::Cell;
use uuid::Uuid;
use worker::WebSocket;

/// Sends one commit stores at most, and bytes of ciphertext: a batch holds the conversations it
/// writes to locked until it commits, and its messages in memory until then, so a flood (ten
/// sockets of one user each sending a burst of 64 KiB messages) is stored in several commits
/// rather than one of many megabytes.
const MAX_BATCH_SENDS: usize = 64;
const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// A send waiting for the next commit, with what its ack and routing need.
pub(super) struct QueuedSend {
    ws: WebSocket,
    conn_id: String,
    device_id: Option<Uuid>,
    reference: Option<String>,
    message: OutgoingMessage,
    conversation: Uuid,
    /// Told the outcome once the send is stored and acknowledged, or refused.
    done: oneshot::Sender<ApiResult<()>>,
}

/// Marks a group commit running for as long as it lives.
struct Running<'a>(&'a Cell<bool>);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl UserHub {
    /// Queues the send; the first sender to find no commit running runs them (its own and every
    /// send that arrives meanwhile) until the queue is empty. Returns this send's outcome.
    pub(super) async fn send_in_next_commit(
        &self,
        ws: &WebSocket,
        info: &SocketInfo,
        reference: Option<String>,
        message: OutgoingMessage,
        conversation: Uuid,
    ) -> ApiResult<()> {
        let (done, outcome) = oneshot::channel();
        self.queued_sends.borrow_mut().push(QueuedSend {
            ws: ws.clone(),
            conn_id: info.conn_id.clone(),
            device_id: info.device_id,
            reference,
            message,
            conversation,
            done,
        });
        if !self.committing.replace(true) {
            // Cleared however the commit ends, so one that never finished does not stop all
            // later sends. (A send it dropped is answered with an error; its client resends it.)
            let _running = Running(&self.committing);
            self.commit_queued_sends(info.user_id).await;
        }
        let outcome = outcome.await.unwrap_or_else(|_| Err(ApiError::internal()));
        // Delivered after the ack. The first sender to find no flush running sends what every
        // commit so far queued (one call per recipient hub); the others leave theirs to it.
        self.flush_outbox().await;
        outcome
    }

    /// The oldest queued sends, up to `MAX_BATCH_SENDS` and `MAX_BATCH_BYTES` (at least one).
    fn next_batch(&self) -> Vec<QueuedSend> {
        let mut queue = self.queued_sends.borrow_mut();
        let (mut count, mut bytes) = (0, 0);
        for send in queue.iter() {
            bytes += send.message.ciphertext.len();
            if count > 0 && (count == MAX_BATCH_SENDS || bytes > MAX_BATCH_BYTES) {
                break;
            }
            count += 1;
        }
        queue.drain(..count).collect()
    }

    async fn commit_queued_sends(&self, me: Uuid) {
        loop {
            let batch = self.next_batch();
            if batch.is_empty() {
                return;
            }
            // The connection of this moment, not of the send that started the loop: one that
            // failed meanwhile has been dropped, and `conn` opens another.
            let outcomes = match self.conn().await {
                Ok(conn) => self.store(&conn.client, me, &batch).await,
                Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
            };
            for (send, outcome) in batch.into_iter().zip(outcomes) {
                let outcome = outcome.map(|(message, members)| {
                    self.acknowledge_and_queue(
                        &send.ws,
                        &send.conn_id,
                        send.reference,
                        send.message.client_msg_id,
                        message,
                        &members,
                    )
                });
                let _ = send.done.send(outcome);
            }
        }
    }

    /// Stores the batch: each send's stored message and the members to deliver it to, or why not.
    async fn store(&self, db: &Client, me: Uuid, batch: &[QueuedSend]) -> Vec<ApiResult<(MessageRow, Vec<Uuid>)>> {
        let news: Vec<NewMessage> = batch
            .iter()
            .map(|send| NewMessage {
                conversation_id: send.conversation,
                sender_id: me,
                sender_device_id: send.device_id,
                epoch: send.message.epoch,
                ciphertext: &send.message.ciphertext,
                client_msg_id: &send.message.client_msg_id,
                timer_change: send.message.timer_change,
                attachment_ids: &send.message.attachment_ids,
            })
            .collect();
        let stored = match news.as_slice() {
            [one] => vec![messages::send(db, one).await],
            _ => match messages::send_all(db, &news).await {
                Ok(all) => all.into_iter().map(Ok).collect(),
                // One message failed and took the statement with it: each one alone, for its
                // own answer (in order, on the one connection, so seqs keep the arrival order).
                Err(e) => {
                    // Said, since it costs a round trip per message and should be rare: kinds and
                    // SQLSTATEs only (a unique key's message would name the clientMsgId).
                    let why = match &e.kind {
                        DbErrorKind::Failed { sqlstate } => format!("SQLSTATE {sqlstate}"),
                        DbErrorKind::Client(_) => {
                            "the client refused it, most often a row that does not decode".to_string()
                        }
                        other => format!("{other:?}"),
                    };
                    log_error(
                        "hub.group_commit",
                        &format!("{} sends stored one by one: the batch failed ({why})", news.len()),
                    );
                    futures_util::future::join_all(news.iter().map(|new| messages::send(db, new))).await
                }
            },
        };
        // What nothing stored means is asked for all such sends at once (pipelined): a client
        // replaying its outbox after a reconnect may resend many.
        futures_util::future::join_all(batch.iter().zip(stored).map(|(send, stored)| async move {
            match stored {
                Ok(Some(sent)) => Ok((sent.message, sent.member_ids)),
                Ok(None) => {
                    let m = &send.message;
                    self.resent_or_refused(db, me, send.conversation, &m.client_msg_id, &m.attachment_ids).await
                }
                Err(e) => Err(e.into()),
            }
        }))
        .await
    }
}
