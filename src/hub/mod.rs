//! The UserHub Durable Object: one per user, holding every WebSocket of that user (all devices and
//! tabs) with the hibernation API. It persists what a socket sends, then routes it to the hubs of
//! the recipients, which push it to their sockets. PostgreSQL is the source of truth: a socket that
//! missed anything asks for it with `sync`, so nothing depends on a hub staying in memory.
//!
//! Hubs are reachable only through stubs made by this Worker's own code: the public router sends
//! nothing here but an authenticated `/ws` upgrade, built afresh with the user id it verified.
//!
//! - `sockets`: accepting, checking, limiting and closing sockets; presence.
//! - `alarm`: the one alarm that closes sockets at token expiry, re-checks their sessions and
//!   gives back an idle database connection.
//! - `handlers`: one method per client event (send, receipt, typing, commit, sync).
//! - `delivery`: routing events to this hub's sockets and, through an outbox, to other hubs.
//! - `client`: the calls other code makes into a hub (`notify`, `disconnect`, ...), and `rpc`, the
//!   hub's side of them.
//! - `push`: Web Push to the user's devices that have no socket open, sent by the alarm.

mod alarm;
mod client;
mod delivery;
mod handlers;
mod push;
mod rpc;
mod sends;
mod sockets;

pub use crate::protocol::Disconnect;
pub use client::{
    broadcast_registration, disconnect, notify, push_subscriptions_changed, BINDING, HEADER_DEVICE, HEADER_EXPIRES,
    HEADER_PROTOCOL, HEADER_SESSION, HEADER_USER,
};

use crate::config::{Config, PushSettings, SLOW_HUB_EVENT_MS};
use crate::db::{self, Client};
use crate::error::{ApiError, ApiResult, LogLine};
use crate::protocol::{parse_client_event, ClientEvent, ServerEvent};
use crate::ratelimit::{TokenBucket, HUB_LOG_RATE, UPGRADE_RATE};
use alarm::AlarmState;
use sockets::{send, sendable_close_code, SocketInfo, SocketInfos};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use uuid::Uuid;
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, State, WebSocket, WebSocketIncomingMessage,
};

/// The hub's connection. Nothing is prepared on it: it goes through a pooler in transaction mode
/// (see `db::sql`), and every statement, a send included, is one round trip anyway.
pub(super) struct HubDb {
    pub(super) client: Client,
}

#[durable_object]
pub struct UserHub {
    state: State,
    env: Env,
    /// Behind an async lock so a burst of events opens one connection, not one each.
    db: futures_util::lock::Mutex<Option<Rc<HubDb>>>,
    buckets: RefCell<HashMap<String, TokenBucket>>,
    /// What each socket is (its attachment, remembered).
    socket_infos: SocketInfos,
    /// New sockets this hub takes (`UPGRADE_RATE`); in memory, so an evicted hub starts full.
    upgrades: Cell<TokenBucket>,
    /// Whether this instance has made sure its user is not marked online with no sockets: after a
    /// crash or restart no close event arrives, so the first delivery to an empty hub repairs it.
    presence_checked: Cell<bool>,
    /// When the alarm repairs that (see `receive_delivery`), if it is to.
    presence_repair_at: Cell<Option<f64>>,
    /// Sends waiting for the next group commit, and whether one is running (`sends`).
    queued_sends: RefCell<Vec<sends::QueuedSend>>,
    committing: Cell<bool>,
    /// Events waiting to go to other users' hubs, and whether a flush is sending them.
    outbox: RefCell<HashMap<Uuid, Vec<String>>>,
    flushing: Cell<bool>,
    /// When an event last asked for the connection: a hub that holds a connection cannot
    /// hibernate, so one idle for `db_idle_ms` is given back (by the alarm).
    db_used_at: Cell<f64>,
    db_idle_ms: f64,
    /// When this hub last confirmed that its open sockets' sessions exist (0: not since this
    /// instance started), and how often it does (by the alarm).
    sessions_checked_at: Cell<f64>,
    session_recheck_ms: f64,
    /// The hub's one alarm, as far as this instance knows.
    alarm: Cell<AlarmState>,
    /// Whether every event gets a log line, or only failed and slow ones (`Config::log_every_hub_event`),
    /// as many as `HUB_LOG_RATE` allows.
    log_every_event: bool,
    log_lines: Cell<TokenBucket>,
    /// Tests only (`Config::hub_refuses_first_disconnect`): the next disconnect is refused.
    refuse_next_disconnect: Cell<bool>,
    /// Web Push: what the hub signs pushes with (None: push is off), and the pushes it queued,
    /// owes and is sending (`push`).
    push_settings: Option<PushSettings>,
    push: RefCell<push::PushState>,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

impl DurableObject for UserHub {
    fn new(state: State, env: Env) -> Self {
        let config = Config::from_env(&env);
        Self {
            state,
            env,
            db: futures_util::lock::Mutex::new(None),
            buckets: RefCell::new(HashMap::new()),
            socket_infos: SocketInfos::new(),
            upgrades: Cell::new(TokenBucket::full(UPGRADE_RATE, now_ms())),
            presence_checked: Default::default(),
            presence_repair_at: Default::default(),
            queued_sends: Default::default(),
            committing: Default::default(),
            outbox: Default::default(),
            flushing: Default::default(),
            db_used_at: Default::default(),
            db_idle_ms: config.hub_db_idle_ms,
            sessions_checked_at: Default::default(),
            session_recheck_ms: config.hub_session_recheck_ms,
            alarm: Cell::new(AlarmState::Unknown),
            refuse_next_disconnect: Cell::new(config.hub_refuses_first_disconnect),
            log_every_event: config.log_every_hub_event,
            log_lines: Cell::new(TokenBucket::full(HUB_LOG_RATE, now_ms())),
            push_settings: config.push.ok(),
            push: Default::default(),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.ring_alarm().await;
        Response::empty()
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        match (req.method(), req.path().as_str()) {
            // The WebSocket upgrade; everything else reaches a hub by RPC (`rpc`).
            (Method::Get, "/connect") => self.accept_socket(&req).await,
            _ => Response::error("not found", 404),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        let Some(info) = self.socket_infos.read(&ws) else {
            ws.close(Some(1011), Some("lost socket state"))?;
            return Ok(());
        };
        self.recheck_sessions_if_overdue().await;
        if self.admit(&ws, &info).await {
            self.handle_frame(&ws, &info, message).await;
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

impl UserHub {
    /// Parses one frame and hands the event to its handler; a failure goes back to the socket as
    /// an `error` event carrying the event's reference. A failed or slow event (and with
    /// `LOG_HUB_EVENTS=all` every event) writes one log line: its kind, the user's (pseudonymous)
    /// id, how long it took and the error code, if any, never what it carried.
    async fn handle_frame(&self, ws: &WebSocket, info: &SocketInfo, message: WebSocketIncomingMessage) {
        let started = now_ms();
        let (kind, error) = self.dispatch_frame(ws, info, message).await;
        let duration_ms = (now_ms() - started).max(0.0) as u64;
        // The server's own failures always; what clients get wrong, and slow events, within the budget.
        let server_failed = error.as_ref().is_some_and(|e| e.status >= 500);
        let notable = error.is_some() || duration_ms >= SLOW_HUB_EVENT_MS;
        if self.log_every_event || server_failed || (notable && self.may_log()) {
            LogLine::hub_event(kind, info.user_id, duration_ms, error.as_ref().map(|e| e.code)).write();
        }
        if let Some(error) = error {
            if error.status >= 500 {
                *self.db.lock().await = None; // reconnect on the next event
            }
        }
    }

    /// Handles one frame, answering a failure on the socket; returns the event's kind (`invalid`
    /// when the frame is not an event) and the failure, for the log.
    async fn dispatch_frame(
        &self,
        ws: &WebSocket,
        info: &SocketInfo,
        message: WebSocketIncomingMessage,
    ) -> (&'static str, Option<ApiError>) {
        let frame = match message {
            WebSocketIncomingMessage::String(text) => text,
            WebSocketIncomingMessage::Binary(_) => {
                let error = ApiError::bad_request("invalid_event", "Events are JSON text frames.");
                send(ws, &ServerEvent::error(None, &error));
                return ("invalid", Some(error));
            }
        };
        let envelope = match parse_client_event(&frame) {
            Ok(envelope) => envelope,
            Err(e) => {
                send(ws, &ServerEvent::error(e.reference, &e.error));
                return ("invalid", Some(e.error));
            }
        };
        let reference = envelope.reference;
        let (kind, outcome) = match envelope.event {
            ClientEvent::SendMessage(m) => ("send", self.send_message(ws, info, reference.clone(), m).await),
            ClientEvent::Receipt(r) => ("receipt", self.receipt(ws, info, reference.clone(), r).await),
            ClientEvent::Typing(t) => ("typing", self.typing(ws, info, reference.clone(), t).await),
            ClientEvent::Sync(s) => ("sync", self.sync(ws, info, s).await),
            ClientEvent::Commit(c) => ("commit", self.commit(ws, info, reference.clone(), c).await),
        };
        match outcome {
            Ok(()) => (kind, None),
            Err(error) => {
                send(ws, &ServerEvent::error(reference, &error));
                (kind, Some(error))
            }
        }
    }

    /// Whether a failed or slow event may have its line (`HUB_LOG_RATE`).
    fn may_log(&self) -> bool {
        let mut bucket = self.log_lines.get();
        let allowed = bucket.try_take(HUB_LOG_RATE, now_ms());
        self.log_lines.set(bucket);
        allowed
    }

    /// The connection for an event: marked used, so that it is kept while events come, with the
    /// alarm set to give it back once they stop.
    async fn conn(&self) -> ApiResult<Rc<HubDb>> {
        let now = now_ms();
        self.db_used_at.set(now);
        self.alarm_no_later_than(now + self.db_idle_ms).await;
        self.open_conn().await
    }

    /// One connection per hub, reused by every event, reopened after a failure. Taken without
    /// marking it used by the alarm's own checks, so that they do not keep an idle hub's
    /// connection open.
    async fn open_conn(&self) -> ApiResult<Rc<HubDb>> {
        let mut slot = self.db.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| !c.client.is_closed()) {
            return Ok(conn.clone());
        }
        let client = db::connect(&self.env).await?;
        let conn = Rc::new(HubDb { client });
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Whether the hub holds a database connection (or is opening one).
    fn holds_connection(&self) -> bool {
        self.db.try_lock().is_none_or(|slot| slot.as_ref().is_some_and(|c| !c.client.is_closed()))
    }
}
