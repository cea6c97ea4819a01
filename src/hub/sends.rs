//! Group commit: the sends that arrive while the hub is storing others wait, and are then stored
//! together, in one transaction and one database round trip (`messages::send_all`), acknowledged
//! in the order they arrived, and delivered in one flush of the outbox. A lone send goes alone,
//! as before, so a quiet conversation waits for nothing; a burst (a client catching up its outbox,
//! a busy group) pays one commit for many messages instead of one each.
//!
//! Every message is committed before its ack, as without batching, and the statements run in
//! arrival order, so each conversation's seqs follow the order its sends arrived in, with no gap.

use super::sockets::SocketInfo;
use super::{HubDb, UserHub};
use crate::db::messages::{self, MessageRow, NewMessage};
use crate::error::{ApiError, ApiResult};
use crate::protocol::OutgoingMessage;
use futures_channel::oneshot;
use std::cell::Cell;
use uuid::Uuid;
use worker::WebSocket;

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
        conn: &HubDb,
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
            self.commit_queued_sends(conn, info.user_id).await;
        }
        outcome.await.unwrap_or_else(|_| Err(ApiError::internal()))
    }

    async fn commit_queued_sends(&self, conn: &HubDb, me: Uuid) {
        loop {
            let batch = std::mem::take(&mut *self.queued_sends.borrow_mut());
            if batch.is_empty() {
                return;
            }
            let outcomes = self.store(conn, me, &batch).await;
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
            // Sends that arrived meanwhile wait for this flush, which is one request per
            // recipient hub for all of them; they are then stored in one commit too.
            self.flush_outbox().await;
        }
    }

    /// Stores the batch: each send's stored message and the members to deliver it to, or why not.
    async fn store(&self, conn: &HubDb, me: Uuid, batch: &[QueuedSend]) -> Vec<ApiResult<(MessageRow, Vec<Uuid>)>> {
        let db = &conn.client;
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
                // One statement failed and took the transaction with it: each one alone, for its
                // own answer (in order, on the one connection, so seqs keep the arrival order).
                Err(_) => futures_util::future::join_all(news.iter().map(|new| messages::send(db, new))).await,
            },
        };
        let mut outcomes = Vec::with_capacity(batch.len());
        for (send, stored) in batch.iter().zip(stored) {
            outcomes.push(match stored {
                Ok(Some(sent)) => Ok((sent.message, sent.member_ids)),
                Ok(None) => {
                    let m = &send.message;
                    self.resent_or_refused(db, me, send.conversation, &m.client_msg_id, &m.attachment_ids).await
                }
                Err(e) => Err(e.into()),
            });
        }
        outcomes
    }
}
