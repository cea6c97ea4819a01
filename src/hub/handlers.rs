//! What the hub does with each client event: send, receipt, typing, commit and sync. Each one
//! checks the sender's right to it, persists, acknowledges, then routes to whoever it is for.

use super::sockets::{send, SocketInfo};
use super::UserHub;
use crate::db::attachments::{self, NotReferable};
use crate::db::members::{self, ChangeRefused};
use crate::db::messages::{self, MessageRow};
use crate::db::{commits, conversations, receipts, users, Client};
use crate::error::{ApiError, ApiResult};
use crate::protocol::{
    group_adds_refused, stale_epoch, CommitRequest, ConversationKind, MessageKind, MAX_GROUP_MEMBERS,
};
use crate::protocol::{
    OutgoingMessage, ReceiptKind, ReceiptRequest, Recipient, ServerEvent, SyncRequest, TypingRequest,
};
use crate::views;
use std::collections::HashMap;
use uuid::Uuid;
use worker::WebSocket;

/// Messages of one conversation sent per query while catching a socket up.
const SYNC_BATCH: i64 = 500;
/// Messages one paged `sync` answer carries at most, over all conversations. Without a bound,
/// a device back after a long time (or a new device of a busy user) had its whole history pushed
/// in one go: the hub holds its database connection and the socket's send buffer grows for as
/// long as that takes, while the client can process nothing else. 500 is one `SYNC_BATCH` query,
/// well under a second to send, and a few pages catch up thousands of messages.
const SYNC_PAGE_MESSAGES: i64 = 500;
/// Receipts replayed per conversation and sync; a client still missing some asks again from the
/// oldest message that is not yet read.
const SYNC_RECEIPTS_LIMIT: i64 = 2000;

/// What the sender of a commit whose member changes do not hold is told.
fn member_change_error(refused: ChangeRefused) -> ApiError {
    match refused {
        ChangeRefused::UnknownUsers => ApiError::not_found("Some of addUserIds are not users."),
        ChangeRefused::NotMembers => {
            ApiError::bad_request("not_a_member", "Some of removeUserIds are not members of this group.")
        }
        ChangeRefused::RemovesOwner => ApiError::new(403, "forbidden", "The group's owner cannot be removed."),
        ChangeRefused::TooManyMembers => {
            ApiError::bad_request("too_many_members", format!("A group has at most {MAX_GROUP_MEMBERS} members."))
        }
    }
}

/// The ack of an event that answers with nothing but its reference.
fn plain_ack(reference: Option<String>) -> ServerEvent {
    ServerEvent::Ack { r#ref: reference, client_msg_id: None, message: None, welcome: None }
}

impl UserHub {
    /// Authenticate → validate → persist → acknowledge → deliver. The message joins the hub's
    /// next group commit (`sends.rs`); this returns once it is stored and acknowledged (or refused).
    pub(super) async fn send_message(
        &self,
        ws: &WebSocket,
        info: &SocketInfo,
        reference: Option<String>,
        m: OutgoingMessage,
    ) -> ApiResult<()> {
        let conversation = self.conversation_for(info.user_id, &m.to).await?;
        self.send_in_next_commit(ws, info, reference, m, conversation).await
    }

    /// A message stored (or found stored, for a resend): acknowledges it on `ws` and queues it for
    /// its recipients (the outbox is flushed by the caller, once for all it stored together).
    pub(super) fn acknowledge_and_queue(
        &self,
        ws: &WebSocket,
        conn_id: &str,
        reference: Option<String>,
        client_msg_id: String,
        message: MessageRow,
        members: &[Uuid],
    ) {
        let me = message.sender_id;
        let message = views::message(message);
        let ack = ServerEvent::Ack {
            r#ref: reference,
            client_msg_id: Some(client_msg_id),
            message: Some(message.clone()),
            welcome: None,
        };
        send(ws, &ack);
        self.enqueue(me, members, &ServerEvent::Message { message }, Some(conn_id));
    }

    /// The conversation a message goes to: the one named (no database needed), or the direct one
    /// with the user named.
    async fn conversation_for(&self, me: Uuid, to: &Recipient) -> ApiResult<Uuid> {
        match *to {
            Recipient::Conversation(id) => Ok(id),
            Recipient::User(peer) if peer == me => {
                Err(ApiError::bad_request("self_conversation", "You cannot send a message to yourself."))
            }
            Recipient::User(peer) => {
                let conn = self.conn().await?;
                let db = &conn.client;
                if !users::exists(db, peer).await? {
                    return Err(ApiError::not_found("There is no user with this id."));
                }
                Ok(conversations::ensure_direct(db, me, peer).await?)
            }
        }
    }

    /// What nothing stored means for one send: either a resend of a stored message, answered with
    /// the original and the members to route it to again, or the sender may not post here, or not
    /// with these attachments. A resend is routed again, since the first routing may have died
    /// with a hub; but only while the sender is still a member, and only to those who joined
    /// before it.
    pub(super) async fn resent_or_refused(
        &self,
        db: &Client,
        me: Uuid,
        conversation: Uuid,
        client_msg_id: &str,
        attachment_ids: &[Uuid],
    ) -> ApiResult<(MessageRow, Vec<Uuid>)> {
        let earlier = messages::by_client_id(db, me, client_msg_id).await?;
        match (earlier, conversations::membership(db, conversation, me).await?) {
            (Some(message), membership) => {
                if message.conversation_id != conversation {
                    return Err(ApiError::conflict(
                        "client_msg_id_reused",
                        "This clientMsgId was already used for another conversation.",
                    ));
                }
                let members = match membership {
                    Some(c) if c.member.is_some() => members::ids_before(db, conversation, message.seq).await?,
                    _ => Vec::new(),
                };
                Ok((message, members))
            }
            (None, None) => Err(ApiError::not_found("There is no such conversation.")),
            (None, Some(c)) if c.member.is_none() => Err(ApiError::not_a_member()),
            (None, Some(c)) => match attachments::not_referable(db, attachment_ids, me, conversation).await? {
                Some(NotReferable::Invalid) => Err(ApiError::bad_request(
                    "invalid_attachment",
                    "attachmentIds names something other than a finished upload of yours for this conversation.",
                )),
                Some(NotReferable::InUse) => {
                    Err(ApiError::conflict("attachment_in_use", "Another message already carries this attachment."))
                }
                None => Err(stale_epoch(c.epoch)),
            },
        }
    }

    pub(super) async fn receipt(
        &self,
        ws: &WebSocket,
        info: &SocketInfo,
        reference: Option<String>,
        r: ReceiptRequest,
    ) -> ApiResult<()> {
        let conn = self.conn().await?;
        let db = &conn.client;
        let me = info.user_id;
        let target = messages::receipt_target(db, r.message_id, me)
            .await?
            .ok_or_else(|| ApiError::not_found("There is no such message in your conversations."))?;
        if target.sender_id == me {
            return Err(ApiError::bad_request("own_message", "Receipts are for messages other people sent you."));
        }
        let at = receipts::record(db, r.message_id, me, r.kind).await?;
        let event = ServerEvent::Receipt {
            message_id: r.message_id,
            conversation_id: target.conversation_id,
            user_id: me,
            kind: r.kind,
            at,
        };
        if reference.is_some() {
            send(ws, &plain_ack(reference));
        }
        // To the sender, and to the reader's other devices so they can clear their unread marks.
        self.route(me, &[target.sender_id, me], &event, Some(&info.conn_id)).await;
        if r.kind == ReceiptKind::Read {
            // And to those with no socket open, by a push, so they clear its notifications.
            self.queue_read_push(target.conversation_id, target.seq, info.device_id).await;
        }
        Ok(())
    }

    pub(super) async fn typing(
        &self,
        ws: &WebSocket,
        info: &SocketInfo,
        reference: Option<String>,
        t: TypingRequest,
    ) -> ApiResult<()> {
        let conn = self.conn().await?;
        let me = info.user_id;
        let members = members::ids(&conn.client, t.conversation_id).await?;
        if !members.contains(&me) {
            return Err(ApiError::not_a_member());
        }
        let others: Vec<Uuid> = members.into_iter().filter(|u| *u != me).collect();
        if reference.is_some() {
            send(ws, &plain_ack(reference));
        }
        let event = ServerEvent::Typing { conversation_id: t.conversation_id, user_id: me, on: t.on };
        self.route(me, &others, &event, None).await;
        Ok(())
    }

    /// Orders an MLS commit: the first for its epoch wins, and is stored with its Welcome and its
    /// member changes before the sender's ack; then it reaches every member from before the commit
    /// (those it removes included, so they learn of it), and the Welcome reaches the users it added.
    pub(super) async fn commit(
        &self,
        ws: &WebSocket,
        info: &SocketInfo,
        reference: Option<String>,
        c: CommitRequest,
    ) -> ApiResult<()> {
        let conn = self.conn().await?;
        let db = &conn.client;
        let me = info.user_id;
        let epoch = self.check_commit_allowed(db, me, &c).await?;
        let (commit, welcome, recipients) = match commits::apply(db, me, info.device_id, &c).await? {
            Some(applied) => (applied.commit, applied.welcome, Some((applied.members_before, applied.added))),
            None => {
                let (earlier, welcome) = self.earlier_commit(db, me, &c, epoch).await?;
                (earlier, welcome, None) // a resend: answered again, not routed again
            }
        };
        let (commit, welcome) = (views::message(commit), welcome.map(views::message));
        let ack = ServerEvent::Ack {
            r#ref: reference,
            client_msg_id: Some(c.client_msg_id),
            message: Some(commit.clone()),
            welcome: welcome.clone().map(Box::new),
        };
        send(ws, &ack);
        if let Some((mut members, added)) = recipients {
            // Users it added cannot process the commit; they start from the Welcome. The Welcome
            // also goes to existing members, whose new devices it may be for.
            self.route(me, &members, &ServerEvent::Message { message: commit }, Some(&info.conn_id)).await;
            if let Some(welcome) = welcome {
                members.extend(added);
                self.route(me, &members, &ServerEvent::Message { message: welcome }, Some(&info.conn_id)).await;
            }
        }
        Ok(())
    }

    /// Whether `me` may make this commit: a member, and for member changes an owner or admin of a
    /// group whose changes hold (or any member, to remove people who left). Returns the epoch the conversation is at.
    async fn check_commit_allowed(&self, db: &Client, me: Uuid, c: &CommitRequest) -> ApiResult<i64> {
        let conversation = conversations::membership(db, c.conversation_id, me)
            .await?
            .ok_or_else(|| ApiError::not_found("There is no such conversation."))?;
        let member = conversation.member.ok_or_else(ApiError::not_a_member)?;
        if !c.add_user_ids.is_empty() || !c.remove_user_ids.is_empty() {
            if conversation.kind != ConversationKind::Group {
                return Err(ApiError::bad_request(
                    "not_a_group",
                    "A direct conversation always has its two people; start a group to add others.",
                ));
            }
            let counts = members::change_counts(db, c.conversation_id, &c.add_user_ids, &c.remove_user_ids).await?;
            let (adding, removing) = (c.add_user_ids.len(), c.remove_user_ids.len());
            if !member.may_manage_members() && !counts.only_removes_departed(adding, removing) {
                return Err(ApiError::forbidden(
                    "Only the group's owners and admins can add or remove members (anyone may remove people who left).",
                ));
            }
            if let Some(refused) = counts.refusal(adding, removing) {
                return Err(member_change_error(refused));
            }
            // Checked before the commit's statement, not under its lock: someone who changes their
            // setting at that very moment may be added once more, as they would a moment before.
            let refused = users::group_add_refusals(db, me, Some(c.conversation_id), &c.add_user_ids).await?;
            if !refused.is_empty() {
                return Err(group_adds_refused(&refused.into_iter().map(|(_, name)| name).collect::<Vec<_>>()));
            }
        }
        Ok(conversation.epoch)
    }

    /// The commit was not applied: a resend is answered with the commit stored before (and its
    /// Welcome); anything else is a reused clientMsgId or a commit from a stale epoch.
    async fn earlier_commit(
        &self,
        db: &Client,
        me: Uuid,
        c: &CommitRequest,
        epoch_before: i64,
    ) -> ApiResult<(MessageRow, Option<MessageRow>)> {
        match commits::earlier(db, me, &c.client_msg_id).await? {
            Some((earlier, welcome))
                if earlier.kind == MessageKind::Commit && earlier.conversation_id == c.conversation_id =>
            {
                Ok((earlier, welcome))
            }
            Some(_) => Err(ApiError::conflict(
                "client_msg_id_reused",
                "This clientMsgId was already used for another message.",
            )),
            None => {
                let now = conversations::membership(db, c.conversation_id, me).await?.map(|n| n.epoch);
                if now != Some(c.epoch) {
                    return Err(stale_epoch(now.unwrap_or(epoch_before)));
                }
                // Still at its epoch: the member changes did not hold under the lock (the checks
                // before it ran without one). Say which, so the sender does not retry in vain.
                let counts = members::change_counts(db, c.conversation_id, &c.add_user_ids, &c.remove_user_ids).await?;
                Err(counts
                    .refusal(c.add_user_ids.len(), c.remove_user_ids.len())
                    .map(member_change_error)
                    .unwrap_or_else(|| {
                        ApiError::conflict(
                            "commit_refused",
                            "The commit's member changes no longer hold; reload the group.",
                        )
                    }))
            }
        }
    }

    /// Sends every message the socket lacks, conversation by conversation in seq order, and the
    /// receipts on its own messages it asks for, then `synced` with the seqs it now holds and
    /// where each conversation starts for this user. Each answer stops after
    /// `SYNC_PAGE_MESSAGES` messages and lists in `synced.more` the conversations it did not
    /// finish; their receipts wait for the answer that finishes them, so that no receipt comes
    /// before the message it is on.
    pub(super) async fn sync(&self, ws: &WebSocket, info: &SocketInfo, request: SyncRequest) -> ApiResult<()> {
        let conn = self.conn().await?;
        let db = &conn.client;
        let mut held = HashMap::new();
        let mut joined = HashMap::new();
        let mut more = Vec::new();
        // Paged whatever the request says (see SyncRequest::paged).
        let mut budget = SYNC_PAGE_MESSAGES;
        for head in members::heads(db, info.user_id).await? {
            let conversation = head.conversation_id;
            let from = request.after.get(&conversation).copied().unwrap_or(0).max(head.joined_seq);
            let reached = send_missing(ws, db, conversation, from, head.last_seq, &mut budget).await?;
            held.insert(conversation, reached.held);
            joined.insert(conversation, head.joined_seq);
            if reached.cut_short {
                more.push(conversation);
            } else if let Some(from) = request.receipts_from.get(&conversation) {
                send_receipts(ws, db, conversation, info.user_id, *from).await?;
            }
        }
        send(ws, &ServerEvent::Synced { after: held, joined, more });
        Ok(())
    }
}

/// How far `send_missing` took one conversation.
struct Reached {
    /// The seq the socket now holds.
    held: i64,
    /// The page's budget ran out before the conversation's newest message.
    cut_short: bool,
}

/// Sends a conversation's messages after seq `after` up to `head`, in batches, taking each one
/// sent from the page's `budget` and stopping when it is spent.
async fn send_missing(
    ws: &WebSocket,
    db: &Client,
    conversation: Uuid,
    mut after: i64,
    head: i64,
    budget: &mut i64,
) -> ApiResult<Reached> {
    while after < head {
        if *budget <= 0 {
            return Ok(Reached { held: after, cut_short: true });
        }
        let fetch = (*budget).min(SYNC_BATCH);
        let batch = messages::after_seq(db, conversation, after, fetch).await?;
        // Every seq taken is stored (see `messages::send`), so this does not happen; were it to,
        // the conversation counts as caught up rather than have the client ask for ever.
        let Some(last) = batch.last() else { break };
        after = last.seq;
        *budget -= batch.len() as i64;
        for row in batch {
            send(ws, &ServerEvent::Message { message: views::message(row) });
        }
    }
    Ok(Reached { held: after, cut_short: false })
}

/// Sends the receipts others made on `me`'s messages of one conversation from seq `from` on.
async fn send_receipts(ws: &WebSocket, db: &Client, conversation: Uuid, me: Uuid, from: i64) -> ApiResult<()> {
    for row in receipts::on_own_messages(db, conversation, me, from, SYNC_RECEIPTS_LIMIT).await? {
        send(ws, &views::receipt(conversation, row));
    }
    Ok(())
}
