//! The UserHub Durable Object: one per user, holding every WebSocket of that user (all devices and
//! tabs) with the hibernation API. It persists what a socket sends, then routes it to the hubs of
//! the recipients, which push it to their sockets. PostgreSQL is the source of truth: a socket that
//! missed anything asks for it with `sync`, so nothing depends on a hub staying in memory.
//!
//! Hubs are reachable only through stubs made by this Worker's own code: the public router sends
//! nothing here but an authenticated `/ws` upgrade, built afresh with the user id it verified.

use crate::config::Config;
use crate::db::{self, conversations, messages, users, Client};
use crate::error::{log_error, ApiError, ApiResult};
pub use crate::protocol::Disconnect;
use crate::protocol::{
    parse_client_event, ClientEvent, ConversationKind, MessageKind, OutgoingMessage, ReceiptRequest, Recipient,
    ServerEvent, SyncRequest, TypingRequest,
};
use crate::protocol::{stale_epoch, CommitRequest};
use crate::ratelimit::{TokenBucket, SOCKET_RATE};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use uuid::Uuid;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

pub const BINDING: &str = "USER_HUB";
pub const HEADER_USER: &str = "X-Hub-User";
pub const HEADER_DEVICE: &str = "X-Hub-Device";
pub const HEADER_PROTOCOL: &str = "X-Hub-Protocol";
pub const HEADER_SESSION: &str = "X-Hub-Session";
pub const HEADER_EXPIRES: &str = "X-Hub-Expires";
/// Messages of one conversation sent per query while catching a socket up.
const SYNC_BATCH: i64 = 500;
/// Receipts replayed per conversation and sync; a client still missing some asks again from the
/// oldest message that is not yet read.
const SYNC_RECEIPTS_LIMIT: i64 = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    /// The first socket opened.
    Online,
    /// The last socket closed.
    Offline,
    /// No socket is open but the user may still be marked online (no close event after a crash).
    StaleOnline,
}

/// The hub's connection, with the send statement prepared once: a send is then one round trip.
struct HubDb {
    client: Client,
    send: tokio_postgres::Statement,
}

/// What a socket is, kept with it across hibernation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SocketInfo {
    user_id: Uuid,
    device_id: Option<Uuid>,
    conn_id: String,
    /// The session whose token opened the socket; ending the session closes it.
    #[serde(default)]
    session_id: Option<Uuid>,
    /// When that token expires (seconds since the epoch); the socket closes then. Sockets from
    /// before this was kept read 0, and close on their next event.
    #[serde(default)]
    expires_at: i64,
}

/// A hub-to-hub delivery carries events for every socket of the receiving hub's user, one per
/// line: each is already serialized JSON, which never holds a raw newline, so the receiving hub
/// passes them on as they are instead of decoding and re-encoding them.
const EVENT_SEPARATOR: char = '\n';

#[durable_object]
pub struct UserHub {
    state: State,
    env: Env,
    /// Behind an async lock so a burst of events opens one connection, not one each.
    db: futures_util::lock::Mutex<Option<Rc<HubDb>>>,
    buckets: RefCell<HashMap<String, TokenBucket>>,
    /// Whether this instance has made sure its user is not marked online with no sockets: after a
    /// crash or restart no close event arrives, so the first delivery to an empty hub repairs it.
    presence_checked: std::cell::Cell<bool>,
    /// Events waiting to go to other users' hubs. Under load, everything queued while one flush
    /// is on the wire goes in the next flush, one request per hub: the hop costs per request, not
    /// per event.
    outbox: RefCell<HashMap<Uuid, Vec<String>>>,
    flushing: std::cell::Cell<bool>,
    /// When the connection was last asked for, and whether an alarm will look at it: a hub that
    /// holds a connection cannot hibernate, so an idle one gives it back.
    db_used_at: std::cell::Cell<f64>,
    idle_alarm_set: std::cell::Cell<bool>,
    db_idle_ms: f64,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Close codes 1005 and 1006 are reserved for "none given" and "abnormal"; they must not be sent.
fn sendable_close_code(code: usize) -> u16 {
    match code {
        1000..=1003 | 1007..=1014 | 3000..=4999 => code as u16,
        _ => 1000,
    }
}

impl DurableObject for UserHub {
    fn new(state: State, env: Env) -> Self {
        let db_idle_ms = Config::from_env(&env).hub_db_idle_ms;
        Self {
            state,
            env,
            db: futures_util::lock::Mutex::new(None),
            buckets: RefCell::new(HashMap::new()),
            presence_checked: Default::default(),
            outbox: Default::default(),
            flushing: Default::default(),
            db_used_at: Default::default(),
            idle_alarm_set: Default::default(),
            db_idle_ms,
        }
    }

    /// Closes the database connection once it has been idle long enough, else looks again later.
    async fn alarm(&self) -> worker::Result<Response> {
        let idle_for = now_ms() - self.db_used_at.get();
        if idle_for >= self.db_idle_ms {
            // Dropping the last client ends its connection task, which closes the socket.
            *self.db.lock().await = None;
            self.idle_alarm_set.set(false);
        } else {
            self.state.storage().set_alarm((self.db_idle_ms - idle_for).ceil() as i64).await?;
        }
        Response::empty()
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        match (req.method(), req.path().as_str()) {
            (Method::Get, "/connect") => self.accept_socket(&req).await,
            (Method::Post, "/deliver") => self.deliver(req).await,
            (Method::Post, "/disconnect") => self.disconnect(req).await,
            _ => Response::error("not found", 404),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        let Some(info) = ws.deserialize_attachment::<SocketInfo>()? else {
            ws.close(Some(1011), Some("lost socket state"))?;
            return Ok(());
        };
        if (now_ms() / 1000.0) as i64 >= info.expires_at {
            // The token that opened the socket has expired; the socket does not outlive it.
            self.end_socket(&ws, &info, &Disconnect::session_over("session expired"));
            self.socket_gone(&ws).await; // no close event comes for a socket this side closed
            return Ok(());
        }
        let allowed = self
            .buckets
            .borrow_mut()
            .entry(info.conn_id.clone())
            .or_insert_with(|| TokenBucket::full(SOCKET_RATE, now_ms()))
            .try_take(SOCKET_RATE, now_ms());
        if !allowed {
            let error = ApiError::new(429, "rate_limited", "Too many events: slow down (at most 50 a second).");
            send(&ws, &ServerEvent::error(None, &error));
            return Ok(());
        }
        let frame = match message {
            WebSocketIncomingMessage::String(text) => text,
            WebSocketIncomingMessage::Binary(_) => {
                let error = ApiError::bad_request("invalid_event", "Events are JSON text frames.");
                send(&ws, &ServerEvent::error(None, &error));
                return Ok(());
            }
        };
        let envelope = match parse_client_event(&frame) {
            Ok(envelope) => envelope,
            Err(e) => {
                send(&ws, &ServerEvent::error(e.reference, &e.error));
                return Ok(());
            }
        };
        let reference = envelope.reference;
        let outcome = match envelope.event {
            ClientEvent::SendMessage(m) => self.send_message(&ws, &info, reference.clone(), m).await,
            ClientEvent::Receipt(r) => self.receipt(&ws, &info, reference.clone(), r).await,
            ClientEvent::Typing(t) => self.typing(&ws, &info, reference.clone(), t).await,
            ClientEvent::Sync(s) => self.sync(&ws, &info, s).await,
            ClientEvent::Commit(c) => self.commit(&ws, &info, reference.clone(), c).await,
        };
        if let Err(error) = outcome {
            if error.status >= 500 {
                *self.db.lock().await = None; // reconnect on the next event
            }
            send(&ws, &ServerEvent::error(reference, &error));
        }
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        // Completes the closing handshake; the socket may already be gone.
        let _ = ws.close(Some(sendable_close_code(code)), Some(reason));
        self.socket_gone(&ws).await;
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        self.socket_gone(&ws).await;
        Ok(())
    }
}

fn send(ws: &WebSocket, event: &ServerEvent) {
    // A socket that is closing cannot take more; the client will catch up with `sync`.
    let _ = ws.send_with_str(event.to_json());
}

impl UserHub {
    async fn accept_socket(&self, req: &Request) -> worker::Result<Response> {
        let headers = req.headers();
        let Some(user_id) = headers.get(HEADER_USER)?.and_then(|u| Uuid::try_parse(&u).ok()) else {
            return Response::error("missing user", 400);
        };
        let device_id = headers.get(HEADER_DEVICE)?.and_then(|d| Uuid::try_parse(&d).ok());
        let session_id = headers.get(HEADER_SESSION)?.and_then(|s| Uuid::try_parse(&s).ok());
        let expires_at = headers.get(HEADER_EXPIRES)?.and_then(|e| e.parse().ok()).unwrap_or(0);
        let pair = WebSocketPair::new()?;
        let conn_id = Uuid::new_v4().to_string();
        self.state.accept_websocket_with_tags(&pair.server, &[&conn_id]);
        let info = SocketInfo { user_id, device_id, conn_id, session_id, expires_at };
        pair.server.serialize_attachment(&info)?;
        let mut response = Response::from_websocket(pair.client)?;
        if let Some(protocol) = headers.get(HEADER_PROTOCOL)? {
            response.headers_mut().set("Sec-WebSocket-Protocol", &protocol)?;
        }
        // The session was checked before the upgrade reached this hub, but it may have ended
        // since, with its /disconnect arriving before this socket was accepted. Checked again
        // now that the socket is registered: either that /disconnect closes it or this does.
        if !self.session_still_live(session_id).await {
            self.end_socket(&pair.server, &info, &Disconnect::session_over("session ended"));
            return Ok(response);
        }
        send(
            &pair.server,
            &ServerEvent::Ready {
                user_id,
                device_id,
                server_time: chrono::DateTime::from_timestamp_millis(now_ms() as i64).unwrap_or_default(),
            },
        );
        self.presence_checked.set(true);
        if self.state.get_websockets().len() == 1 {
            self.announce_presence(user_id, Presence::Online).await;
        }
        Ok(response)
    }

    /// Whether the socket's session still exists. When the database cannot tell, the socket
    /// stays: it can do nothing without the database either, and is checked on its next connect.
    async fn session_still_live(&self, session: Option<Uuid>) -> bool {
        let Some(session) = session else { return false };
        let checked = async { db::sessions::exists(&self.conn().await?.client, session).await };
        checked.await.unwrap_or_else(|e| {
            log_error("hub.session_check", &e.to_string());
            true
        })
    }

    /// Tells a socket why it is being closed, then closes it.
    fn end_socket(&self, ws: &WebSocket, info: &SocketInfo, why: &Disconnect) {
        send(ws, &why.event());
        let _ = ws.close(Some(why.code), Some(why.reason.clone()));
        self.buckets.borrow_mut().remove(&info.conn_id);
    }

    async fn socket_gone(&self, ws: &WebSocket) {
        let Ok(Some(info)) = ws.deserialize_attachment::<SocketInfo>() else { return };
        self.buckets.borrow_mut().remove(&info.conn_id);
        let others = self
            .state
            .get_websockets()
            .iter()
            .filter(|other| !self.state.get_tags(other).contains(&info.conn_id))
            .count();
        if others == 0 {
            self.announce_presence(info.user_id, Presence::Offline).await;
        }
    }

    /// Records that the user came online or went offline and tells everyone they talk to.
    async fn announce_presence(&self, user: Uuid, change: Presence) {
        let online = change == Presence::Online;
        let announced = async {
            let conn = self.conn().await?;
            let db = &conn.client;
            let Some(last_seen) = users::set_online(db, user, online, change == Presence::StaleOnline).await? else {
                return Ok(()); // nothing changed, nothing to tell
            };
            let partners = users::partner_ids(db, user).await?;
            self.route(
                user,
                &partners,
                &ServerEvent::Presence { user_id: user, online, last_seen: Some(last_seen) },
                None,
            )
            .await;
            Ok::<_, ApiError>(())
        };
        if let Err(e) = announced.await {
            log_error("hub.presence", &e.to_string());
        }
    }

    async fn deliver(&self, mut req: Request) -> worker::Result<Response> {
        let events = req.text().await?;
        for event in events.split(EVENT_SEPARATOR) {
            self.push_local(event, None);
        }
        if !self.presence_checked.replace(true) && self.state.get_websockets().is_empty() {
            if let Some(user) = self.state.id().name().and_then(|n| Uuid::try_parse(&n).ok()) {
                self.announce_presence(user, Presence::StaleOnline).await;
            }
        }
        Response::empty()
    }

    /// Closes the sockets a revoked session, a removed device or a deleted account still holds.
    async fn disconnect(&self, mut req: Request) -> worker::Result<Response> {
        let which: Disconnect = req.json().await?;
        let mut remaining = 0;
        let mut closed = None;
        for ws in self.state.get_websockets() {
            match ws.deserialize_attachment::<SocketInfo>() {
                Ok(Some(info)) if which.applies_to(info.session_id, info.device_id) => {
                    self.end_socket(&ws, &info, &which);
                    closed = Some(info.user_id);
                }
                _ => remaining += 1,
            }
        }
        // A socket this side closed gets no close event here, so presence is settled now.
        if let (Some(user), 0) = (closed, remaining) {
            self.announce_presence(user, Presence::Offline).await;
        }
        Response::empty()
    }

    fn push_local(&self, event: &str, skip: Option<&str>) {
        for ws in self.state.get_websockets() {
            let is_skipped = skip.is_some_and(|conn| self.state.get_tags(&ws).iter().any(|t| t == conn));
            if !is_skipped {
                let _ = ws.send_with_str(event);
            }
        }
    }

    /// Sends `event` to every socket of every user in `to`, except the socket `skip`. The caller's
    /// own user is served from this hub directly; others through their hubs, all at once.
    async fn route(&self, me: Uuid, to: &[Uuid], event: &ServerEvent, skip: Option<&str>) {
        let event = event.to_json();
        if to.contains(&me) {
            self.push_local(&event, skip);
        }
        {
            let mut outbox = self.outbox.borrow_mut();
            for user in to.iter().filter(|u| **u != me) {
                outbox.entry(*user).or_default().push(event.clone());
            }
        }
        self.flush_outbox().await;
    }

    /// Sends what the outbox holds, until it is empty. Only one flush runs at a time; a caller
    /// that finds one running leaves its events to it and returns at once.
    async fn flush_outbox(&self) {
        if self.flushing.replace(true) {
            return;
        }
        loop {
            let batch = std::mem::take(&mut *self.outbox.borrow_mut());
            if batch.is_empty() {
                break;
            }
            futures_util::future::join_all(batch.into_iter().map(|(user, events)| deliver(&self.env, user, events)))
                .await;
        }
        self.flushing.set(false);
    }

    /// One connection per hub, reused by every event, reopened after a failure.
    async fn conn(&self) -> ApiResult<Rc<HubDb>> {
        self.db_used_at.set(now_ms());
        if !self.idle_alarm_set.replace(true) {
            if let Err(e) = self.state.storage().set_alarm(self.db_idle_ms as i64).await {
                self.idle_alarm_set.set(false);
                log_error("hub.idle_alarm", &e.to_string());
            }
        }
        let mut slot = self.db.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| !c.client.is_closed()) {
            return Ok(conn.clone());
        }
        let client = db::connect(&self.env).await?;
        let send = client.prepare(messages::SEND_SQL).await.map_err(db::db_error("hub.prepare"))?;
        let conn = Rc::new(HubDb { client, send });
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Authenticate → validate → persist → acknowledge → deliver.
    async fn send_message(
        &self,
        ws: &WebSocket,
        info: &SocketInfo,
        reference: Option<String>,
        m: OutgoingMessage,
    ) -> ApiResult<()> {
        let conn = self.conn().await?;
        let db = &conn.client;
        let me = info.user_id;
        let conversation = match m.to {
            Recipient::Conversation(id) => id,
            Recipient::User(peer) if peer == me => {
                return Err(ApiError::bad_request("self_conversation", "You cannot send a message to yourself."))
            }
            Recipient::User(peer) => {
                if !users::exists(db, peer).await? {
                    return Err(ApiError::not_found("There is no user with this id."));
                }
                conversations::ensure_direct(db, me, peer).await?
            }
        };
        let id = Uuid::now_v7();
        let inserted = db
            .query_opt(
                &conn.send,
                &[&id, &conversation, &me, &info.device_id, &m.epoch, &m.ciphertext, &m.client_msg_id],
            )
            .await;
        let inserted = match inserted {
            // An equal send committed while this one waited: nothing of this one was kept.
            Err(e) if db::is_unique_violation(&e) => None,
            other => other.map_err(db::db_error("hub.send_message"))?,
        };
        let (message, members) = match inserted {
            Some(row) => (messages::view(&row), row.get::<_, Vec<Uuid>>("member_ids")),
            None => {
                let (earlier, still_member) = self.earlier_send(db, me, conversation, &m.client_msg_id).await?;
                // A resend is routed again, since the first routing may have died with a hub; but
                // only while the sender is still a member, and only to those who joined before it.
                let members = if still_member {
                    messages::member_ids_before(db, conversation, earlier.seq).await?
                } else {
                    Vec::new()
                };
                (earlier, members)
            }
        };
        send(
            ws,
            &ServerEvent::Ack {
                r#ref: reference,
                client_msg_id: Some(m.client_msg_id),
                message: Some(message.clone()),
                welcome: None,
            },
        );
        self.route(me, &members, &ServerEvent::Message { message }, Some(&info.conn_id)).await;
        Ok(())
    }

    /// Nothing was inserted: either this is a resend of a stored message, which is answered with
    /// the original (and whether its sender is still a member), or the sender may not post here.
    async fn earlier_send(
        &self,
        db: &Client,
        me: Uuid,
        conversation: Uuid,
        client_msg_id: &str,
    ) -> ApiResult<(crate::protocol::MessageView, bool)> {
        let earlier = db
            .query_opt(messages::BY_CLIENT_ID_SQL, &[&me, &client_msg_id])
            .await
            .map_err(db::db_error("hub.earlier_send"))?;
        match (earlier, conversations::membership(db, conversation, me).await?) {
            (Some(row), membership) => {
                let message = messages::view(&row);
                if message.conversation_id != conversation {
                    return Err(ApiError::conflict(
                        "client_msg_id_reused",
                        "This clientMsgId was already used for another conversation.",
                    ));
                }
                Ok((message, membership.is_some_and(|c| c.member.is_some())))
            }
            (None, None) => Err(ApiError::not_found("There is no such conversation.")),
            (None, Some(c)) if c.member.is_none() => Err(ApiError::not_a_member()),
            (None, Some(c)) => Err(stale_epoch(c.epoch)),
        }
    }

    async fn receipt(
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
        let at = messages::record_receipt(db, r.message_id, me, r.kind).await?;
        let event = ServerEvent::Receipt {
            message_id: r.message_id,
            conversation_id: target.conversation_id,
            user_id: me,
            kind: r.kind,
            at,
        };
        if reference.is_some() {
            send(ws, &ServerEvent::Ack { r#ref: reference, client_msg_id: None, message: None, welcome: None });
        }
        // To the sender, and to the reader's other devices so they can clear their unread marks.
        self.route(me, &[target.sender_id, me], &event, Some(&info.conn_id)).await;
        Ok(())
    }

    async fn typing(
        &self,
        ws: &WebSocket,
        info: &SocketInfo,
        reference: Option<String>,
        t: TypingRequest,
    ) -> ApiResult<()> {
        let conn = self.conn().await?;
        let db = &conn.client;
        let me = info.user_id;
        let members = messages::member_ids(db, t.conversation_id).await?;
        if !members.contains(&me) {
            return Err(ApiError::not_a_member());
        }
        let others: Vec<Uuid> = members.into_iter().filter(|u| *u != me).collect();
        if reference.is_some() {
            send(ws, &ServerEvent::Ack { r#ref: reference, client_msg_id: None, message: None, welcome: None });
        }
        self.route(
            me,
            &others,
            &ServerEvent::Typing { conversation_id: t.conversation_id, user_id: me, on: t.on },
            None,
        )
        .await;
        Ok(())
    }

    /// Orders an MLS commit: the first for its epoch wins, and is stored with its Welcome and its
    /// member changes before the sender's ack; then it reaches every member from before the commit
    /// (those it removes included, so they learn of it), and the Welcome reaches the users it added.
    async fn commit(
        &self,
        ws: &WebSocket,
        info: &SocketInfo,
        reference: Option<String>,
        c: CommitRequest,
    ) -> ApiResult<()> {
        let conn = self.conn().await?;
        let db = &conn.client;
        let me = info.user_id;
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
            if !member.may_manage_members() {
                return Err(ApiError::forbidden("Only the group's owners and admins can add or remove members."));
            }
            messages::check_member_changes(db, c.conversation_id, &c).await?;
        }
        let (commit, welcome, recipients) = match messages::apply_commit(db, me, info.device_id, &c).await? {
            Some(applied) => (applied.commit, applied.welcome, Some((applied.members_before, applied.added))),
            None => match messages::earlier_commit(db, me, &c.client_msg_id).await? {
                // A resend: answered again, not routed again.
                Some((earlier, welcome))
                    if earlier.kind == MessageKind::Commit && earlier.conversation_id == c.conversation_id =>
                {
                    (earlier, welcome, None)
                }
                Some(_) => {
                    return Err(ApiError::conflict(
                        "client_msg_id_reused",
                        "This clientMsgId was already used for another message.",
                    ))
                }
                None => {
                    let now = conversations::membership(db, c.conversation_id, me).await?;
                    return Err(stale_epoch(now.map(|n| n.epoch).unwrap_or(conversation.epoch)));
                }
            },
        };
        send(
            ws,
            &ServerEvent::Ack {
                r#ref: reference,
                client_msg_id: Some(c.client_msg_id),
                message: Some(commit.clone()),
                welcome: welcome.clone().map(Box::new),
            },
        );
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

    /// Sends every message the socket lacks, conversation by conversation in seq order, and the
    /// receipts on its own messages it asks for, then `synced` with the seqs it now holds and
    /// where each conversation starts for this user.
    async fn sync(&self, ws: &WebSocket, info: &SocketInfo, request: SyncRequest) -> ApiResult<()> {
        let conn = self.conn().await?;
        let db = &conn.client;
        let mut held = HashMap::new();
        let mut joined = HashMap::new();
        for messages::Head { conversation_id: conversation, last_seq: head, joined_seq } in
            messages::conversation_heads(db, info.user_id).await?
        {
            let mut after = request.after.get(&conversation).copied().unwrap_or(0).max(joined_seq);
            while after < head {
                let batch = messages::after_seq(db, conversation, after, SYNC_BATCH).await?;
                let Some(last) = batch.last() else { break };
                after = last.seq;
                for message in batch {
                    send(ws, &ServerEvent::Message { message });
                }
            }
            held.insert(conversation, after);
            joined.insert(conversation, joined_seq);
            if let Some(from) = request.receipts_from.get(&conversation) {
                for receipt in
                    messages::receipts_on_own(db, conversation, info.user_id, *from, SYNC_RECEIPTS_LIMIT).await?
                {
                    send(
                        ws,
                        &ServerEvent::Receipt {
                            message_id: receipt.message_id,
                            conversation_id: conversation,
                            user_id: receipt.user_id,
                            kind: receipt.kind,
                            at: receipt.at,
                        },
                    );
                }
            }
        }
        send(ws, &ServerEvent::Synced { after: held, joined });
        Ok(())
    }
}

/// Waits before each delivery attempt: a hub that failed to answer (evicted, restarting) usually
/// answers a moment later.
const DELIVERY_ATTEMPT_DELAYS_MS: [u64; 3] = [0, 100, 500];

/// Pushes events to every socket of `user`, through their hub. The events are committed (or need
/// no commit), so a failed delivery only delays them: it is tried again a little later, and what
/// still fails is caught up by that user's `sync` (their client asks when it sees a gap in seq).
async fn deliver(env: &Env, user: Uuid, events: Vec<String>) {
    let body = events.join(&EVENT_SEPARATOR.to_string());
    let mut failure = None;
    for delay_ms in DELIVERY_ATTEMPT_DELAYS_MS {
        if delay_ms > 0 {
            worker::Delay::from(std::time::Duration::from_millis(delay_ms)).await;
        }
        match post_to_hub(env, user, "/deliver", body.clone()).await {
            Ok(()) => return,
            Err(e) => failure = Some(e),
        }
    }
    if let Some(e) = failure {
        log_error("hub.deliver", &format!("delivery to a hub failed {} times: {e}", DELIVERY_ATTEMPT_DELAYS_MS.len()));
    }
}

/// Closes the sockets of `user` that `which` names. Best effort: a socket this misses still cannot
/// do anything over REST, and its next reconnect is refused.
pub async fn disconnect(env: &Env, user: Uuid, which: Disconnect) {
    let body = match serde_json::to_string(&which) {
        Ok(body) => body,
        Err(e) => return log_error("hub.disconnect", &e.to_string()),
    };
    if let Err(e) = post_to_hub(env, user, "/disconnect", body).await {
        log_error("hub.disconnect", &format!("closing a user's sockets failed: {e}"));
    }
}

/// One of the hub-internal requests, from this Worker's code to the hub of `user`.
async fn post_to_hub(env: &Env, user: Uuid, path: &str, body: String) -> worker::Result<()> {
    let stub = env.durable_object(BINDING)?.get_by_name(&user.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let response = stub.fetch_with_request(Request::new_with_init(&format!("https://hub{path}"), &init)?).await?;
    match response.status_code() {
        200..=299 => Ok(()),
        status => Err(worker::Error::RustError(format!("hub answered {status}"))),
    }
}

/// Pushes one event to every socket of `user`, through their hub. Best effort, like every
/// delivery: what is missed is caught up by listing or by `sync`.
pub async fn notify(env: &Env, user: Uuid, event: &ServerEvent) {
    deliver(env, user, vec![event.to_json()]).await;
}

/// Tells every online user about a newly registered one, so directories update live. Best
/// effort: whoever misses it sees the newcomer the next time they list users.
pub async fn broadcast_registration(env: &Env, db: &Client, user: crate::protocol::UserSummary) {
    match users::online_ids(db, user.id).await {
        Ok(online) => {
            let event = ServerEvent::UserRegistered { user }.to_json();
            futures_util::future::join_all(online.into_iter().map(|id| deliver(env, id, vec![event.clone()]))).await;
        }
        Err(e) => log_error("hub.broadcast_registration", &e.to_string()),
    }
}
