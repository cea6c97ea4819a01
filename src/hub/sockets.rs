//! The hub's sockets: accepting one, what each one is (kept across hibernation), checking its
//! session, limiting its rate, closing it, and the presence its opening and closing announce.

use super::client::{HEADER_DEVICE, HEADER_EXPIRES, HEADER_PROTOCOL, HEADER_SESSION, HEADER_USER};
use super::{now_ms, UserHub};
use crate::db::{members, sessions, users};
use crate::error::{log_error, ApiError, ApiResult};
use crate::protocol::{Disconnect, ServerEvent, SocketCloseReason, MAX_SOCKETS_PER_USER};
use crate::ratelimit::{TokenBucket, SOCKET_RATE, UPGRADE_RATE};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use uuid::Uuid;
use wasm_bindgen::{JsCast, JsValue};
use worker::{Request, Response, WebSocket, WebSocketPair};

/// How late the alarm's re-check of sessions may be before a frame or delivery makes it.
const RECHECK_GRACE_MS: f64 = 5_000.0;

/// `WebSocket.readyState` of a socket that is open (not closing or closed).
const READY_STATE_OPEN: u16 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Presence {
    /// The first socket opened.
    Online,
    /// The last socket closed.
    Offline,
    /// No socket is open but the user may still be marked online (no close event after a crash).
    StaleOnline,
}

/// What a socket is, kept with it across hibernation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SocketInfo {
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub conn_id: String,
    /// The session whose token opened the socket; ending the session closes it.
    #[serde(default)]
    pub session_id: Option<Uuid>,
    /// When that token expires (seconds since the epoch); the socket closes then. Sockets from
    /// before this was kept read 0, and close on their next event.
    #[serde(default)]
    pub expires_at: i64,
    /// When the hub accepted it (milliseconds since the epoch), to tell the oldest; sockets from
    /// before this was kept read 0, the oldest.
    #[serde(default)]
    pub accepted_at: f64,
    /// The hub closed it. Its client may never answer the close (a hostile one does not), and
    /// until it does the runtime still hands over what it sends: nothing it sends is handled.
    /// Kept in the attachment, so it holds after hibernation as well.
    #[serde(default)]
    pub closed: bool,
}

/// What each socket is, read from its attachment once per socket and hub instance. Reading the
/// attachment (a structured clone turned back into Rust) on every frame, and for every socket on
/// every delivery, was about 4% of a busy hub's time. The attachment stays what survives
/// hibernation; this only remembers it, and every write of an attachment goes through here.
pub(super) struct SocketInfos {
    /// Each socket object → its number in `infos`. A WeakMap, so that a socket the runtime lets go
    /// of takes its key with it; a new instance (after hibernation) starts empty and reads again.
    numbers: js_sys::WeakMap,
    infos: RefCell<HashMap<u32, Rc<SocketInfo>>>,
    next: Cell<u32>,
}

impl SocketInfos {
    pub(super) fn new() -> Self {
        Self { numbers: js_sys::WeakMap::new(), infos: Default::default(), next: Cell::new(0) }
    }

    fn key(ws: &WebSocket) -> &js_sys::Object {
        ws.as_ref().unchecked_ref()
    }

    fn number(&self, ws: &WebSocket) -> Option<u32> {
        self.numbers.get(Self::key(ws)).as_f64().map(|n| n as u32)
    }

    /// What `ws` is; None when its attachment is lost.
    pub(super) fn read(&self, ws: &WebSocket) -> Option<Rc<SocketInfo>> {
        if let Some(info) = self.number(ws).and_then(|n| self.infos.borrow().get(&n).cloned()) {
            return Some(info);
        }
        let info = Rc::new(ws.deserialize_attachment::<SocketInfo>().ok().flatten()?);
        self.remember(ws, info.clone());
        Some(info)
    }

    /// Keeps `info` as the socket's attachment (for after hibernation) and here.
    pub(super) fn write(&self, ws: &WebSocket, info: SocketInfo) -> worker::Result<()> {
        ws.serialize_attachment(&info)?;
        self.remember(ws, Rc::new(info));
        Ok(())
    }

    /// Forgets every socket but `held` (the runtime's list): one this side closed whose client
    /// never answered gets no close event, and would otherwise stay here for the instance's life.
    pub(super) fn keep_only(&self, held: &[WebSocket]) {
        let numbers: std::collections::HashSet<u32> = held.iter().filter_map(|ws| self.number(ws)).collect();
        self.infos.borrow_mut().retain(|n, _| numbers.contains(n));
    }

    /// Drops what is known of a socket that is gone.
    pub(super) fn forget(&self, ws: &WebSocket) {
        if let Some(n) = self.number(ws) {
            self.infos.borrow_mut().remove(&n);
        }
        self.numbers.delete(Self::key(ws));
    }

    fn remember(&self, ws: &WebSocket, info: Rc<SocketInfo>) {
        let n = self.number(ws).unwrap_or_else(|| {
            let n = self.next.get();
            self.next.set(n.wrapping_add(1));
            self.numbers.set(Self::key(ws), &JsValue::from(n));
            n
        });
        self.infos.borrow_mut().insert(n, info);
    }
}

/// How the hub ends one socket: the event the client gets first (an event arrives at once, while
/// a close handshake may finish late), then the close frame's code and reason.
pub(super) struct Closing {
    event: ServerEvent,
    code: u16,
    reason: String,
}

impl Closing {
    /// For good: the session is over, or its device removed (`session-ended`).
    pub(super) fn ended(which: &Disconnect) -> Self {
        Self { event: which.event(), code: which.code, reason: which.reason.clone() }
    }

    /// For good, one socket whose session is over (expired, ended).
    pub(super) fn session_over(reason: &str) -> Self {
        Self::ended(&Disconnect::session_over(reason))
    }

    /// For now: the session goes on and the client may connect again (`socket-closing`).
    pub(super) fn for_now(why: SocketCloseReason, reason: String) -> Self {
        Self { event: ServerEvent::SocketClosing { reason: why }, code: why.close_code(), reason }
    }
}

/// The hub's answer to an upgrade it will not take: the API's error shape, with `Retry-After`.
fn refused_upgrade(error: ApiError) -> worker::Result<Response> {
    let mut response = Response::ok(error.to_json())?.with_status(error.status);
    response.headers_mut().set("Content-Type", "application/json")?;
    if let Some(seconds) = error.retry_after_secs {
        response.headers_mut().set("Retry-After", &seconds.to_string())?;
    }
    Ok(response)
}

pub(super) fn send(ws: &WebSocket, event: &ServerEvent) {
    // A socket that is closing cannot take more; the client will catch up with `sync`.
    let _ = ws.send_with_str(event.to_json());
}

/// Close codes 1005 and 1006 are reserved for "none given" and "abnormal"; they must not be sent.
pub(super) fn sendable_close_code(code: usize) -> u16 {
    match code {
        1000..=1003 | 1007..=1014 | 3000..=4999 => code as u16,
        _ => 1000,
    }
}

impl UserHub {
    /// `GET /connect`: the upgrade the REST side authenticated, with what it verified in headers.
    pub(super) async fn accept_socket(&self, req: &Request) -> worker::Result<Response> {
        let headers = req.headers();
        let Some(user_id) = headers.get(HEADER_USER)?.and_then(|u| Uuid::try_parse(&u).ok()) else {
            return Response::error("missing user", 400);
        };
        let device_id = headers.get(HEADER_DEVICE)?.and_then(|d| Uuid::try_parse(&d).ok());
        let session_id = headers.get(HEADER_SESSION)?.and_then(|s| Uuid::try_parse(&s).ok());
        let expires_at = headers.get(HEADER_EXPIRES)?.and_then(|e| e.parse().ok()).unwrap_or(0);
        let mut upgrades = self.upgrades.get();
        let admitted = upgrades.try_take(UPGRADE_RATE, now_ms());
        self.upgrades.set(upgrades);
        if !admitted {
            let wait = upgrades.seconds_until_next(UPGRADE_RATE, now_ms()).max(1);
            return refused_upgrade(
                ApiError::new(
                    429,
                    "too_many_connects",
                    format!("This account opened too many connections just now; connect again in {wait} s."),
                )
                .with_retry_after(wait),
            );
        }
        let pair = WebSocketPair::new()?;
        let conn_id = Uuid::new_v4().to_string();
        self.state.accept_websocket_with_tags(&pair.server, &[&conn_id]);
        let info =
            SocketInfo { user_id, device_id, conn_id, session_id, expires_at, accepted_at: now_ms(), closed: false };
        self.socket_infos.write(&pair.server, info.clone())?;
        let mut response = Response::from_websocket(pair.client)?;
        if let Some(protocol) = headers.get(HEADER_PROTOCOL)? {
            response.headers_mut().set("Sec-WebSocket-Protocol", &protocol)?;
        }
        // The session was checked before the upgrade reached this hub, but it may have ended
        // since, with its disconnect call arriving before this socket was accepted. Checked again
        // now that the socket is registered: either that call closes it or this does.
        match self.session_still_live(session_id).await {
            Ok(true) => {}
            Ok(false) => {
                self.end_socket(&pair.server, &info, &Closing::session_over("session ended"));
                return Ok(response);
            }
            Err(()) => {
                self.end_socket(&pair.server, &info, &unconfirmed());
                return Ok(response);
            }
        }
        let server_time = chrono::DateTime::from_timestamp_millis(now_ms() as i64).unwrap_or_default();
        send(&pair.server, &ServerEvent::Ready { user_id, device_id, server_time });
        self.presence_checked.set(true);
        let others: Vec<_> =
            self.open_sockets().into_iter().filter(|(_, other)| other.conn_id != info.conn_id).collect();
        if others.is_empty() {
            // Its session was just confirmed, and no other socket waits for a re-check.
            self.sessions_checked_at.set(now_ms());
            self.announce_presence(user_id, Presence::Online).await;
        }
        self.close_oldest_beyond_limit(others);
        self.schedule_next_alarm().await;
        Ok(response)
    }

    /// Closes the oldest of `others` (the open sockets but the one just accepted) until the user
    /// holds at most `MAX_SOCKETS_PER_USER`, so one account cannot hold hub memory without end.
    fn close_oldest_beyond_limit(&self, mut others: Vec<(WebSocket, Rc<SocketInfo>)>) {
        let excess = (others.len() + 1).saturating_sub(MAX_SOCKETS_PER_USER);
        others.sort_by(|(_, a), (_, b)| a.accepted_at.total_cmp(&b.accepted_at));
        let reason = format!("too many sockets: at most {MAX_SOCKETS_PER_USER} per user, and this was the oldest");
        for (ws, info) in others.iter().take(excess) {
            self.end_socket(ws, info, &Closing::for_now(SocketCloseReason::TooManySockets, reason.clone()));
        }
    }

    /// Whether the socket's session still exists; `Err` when the database cannot tell (logged).
    async fn session_still_live(&self, session: Option<Uuid>) -> Result<bool, ()> {
        let Some(session) = session else { return Ok(false) };
        let checked = async { Ok::<_, ApiError>(sessions::exists(&self.conn().await?.client, session).await?) };
        checked.await.map_err(|e| {
            log_error("hub.session_check", &e.to_string());
        })
    }

    /// The alarm re-checks sessions every `session_recheck_ms`; should it not have rung (setting it
    /// failed, say), the next frame or delivery does it, so that nothing reaches or comes from a
    /// revoked session's socket for long even then.
    pub(super) async fn recheck_sessions_if_overdue(&self) {
        if self.sessions_checked_at.get() == 0.0 {
            // A new instance (woken from hibernation) takes the sessions as due for a re-check,
            // which its alarm makes at once; this one only if that has not happened in the grace.
            self.sessions_checked_at.set(now_ms() - self.session_recheck_ms);
            return;
        }
        let overdue = now_ms() >= self.sessions_checked_at.get() + self.session_recheck_ms + RECHECK_GRACE_MS;
        if overdue && !self.open_sockets().is_empty() {
            self.recheck_sessions().await;
        }
    }

    /// Closes the open sockets whose session has ended, asking the database once per session.
    /// When it cannot answer, every socket closes as `session-unconfirmed`: the hub keeps no
    /// socket it cannot vouch for, and their clients connect again, to be accepted or refused.
    pub(super) async fn recheck_sessions(&self) {
        self.sessions_checked_at.set(now_ms());
        let sockets = self.open_sockets();
        let Some(user) = sockets.first().map(|(_, info)| info.user_id) else { return };
        let mut asked: Vec<Uuid> = sockets.iter().filter_map(|(_, info)| info.session_id).collect();
        asked.sort_unstable();
        asked.dedup();
        let live = self.live_sessions(&asked).await;
        if let Err(e) = &live {
            log_error("hub.session_recheck", &e.to_string());
            *self.db.lock().await = None; // reconnect next time
        }
        for (ws, info) in &sockets {
            match &live {
                Ok(live) if info.session_id.is_some_and(|s| live.contains(&s)) => {}
                Ok(_) => self.end_socket(ws, info, &Closing::session_over("session ended")),
                Err(_) => self.end_socket(ws, info, &unconfirmed()),
            }
        }
        self.settle_presence(user).await;
    }

    /// Which of `asked` still exist. Asked all at once: the connection pipelines the queries.
    async fn live_sessions(&self, asked: &[Uuid]) -> ApiResult<Vec<Uuid>> {
        let conn = self.open_conn().await?;
        let answers = futures_util::future::join_all(asked.iter().map(|s| sessions::exists(&conn.client, *s))).await;
        let mut live = Vec::new();
        for (session, exists) in asked.iter().zip(answers) {
            if exists? {
                live.push(*session);
            }
        }
        Ok(live)
    }

    /// Closes the open sockets whose token has expired, without waiting for them to send.
    pub(super) async fn close_expired_sockets(&self) {
        let now_secs = (now_ms() / 1000.0) as i64;
        let mut user = None;
        for (ws, info) in self.open_sockets() {
            if now_secs >= info.expires_at {
                self.end_socket(&ws, &info, &Closing::session_over("session expired"));
                user = Some(info.user_id);
            }
        }
        if let Some(user) = user {
            self.settle_presence(user).await;
        }
    }

    /// This hub's open sockets, with what each is. A socket this side closed can stay listed
    /// until its client answers the close frame (under `wrangler dev`, for good); it no longer
    /// counts. A socket whose attachment is lost is left out; its next event closes it.
    pub(super) fn open_sockets(&self) -> Vec<(WebSocket, Rc<SocketInfo>)> {
        self.state
            .get_websockets()
            .into_iter()
            .filter(|ws| ws.as_ref().ready_state() == READY_STATE_OPEN)
            .filter_map(|ws| {
                let info = self.socket_infos.read(&ws)?;
                (!info.closed).then_some((ws, info))
            })
            .collect()
    }

    /// Whether the socket may have its event handled: the hub has not closed it, its token has
    /// not expired (else it is closed now) and it is within its rate (else it is told to slow down).
    pub(super) async fn admit(&self, ws: &WebSocket, info: &SocketInfo) -> bool {
        if info.closed || ws.as_ref().ready_state() != READY_STATE_OPEN {
            // Closed by this hub (revoked, one too many, expired): whatever still arrives on it
            // before its client answers the close is dropped, before any work or database use.
            return false;
        }
        if (now_ms() / 1000.0) as i64 >= info.expires_at {
            // The token that opened the socket has expired; the socket does not outlive it.
            self.end_socket(ws, info, &Closing::session_over("session expired"));
            self.settle_presence(info.user_id).await;
            return false;
        }
        let allowed = self
            .buckets
            .borrow_mut()
            .entry(info.conn_id.clone())
            .or_insert_with(|| TokenBucket::full(SOCKET_RATE, now_ms()))
            .try_take(SOCKET_RATE, now_ms());
        if !allowed {
            let error = ApiError::new(429, "rate_limited", "Too many events: slow down (at most 50 a second).");
            send(ws, &ServerEvent::error(None, &error));
        }
        allowed
    }

    /// Tells a socket why it is being closed, then closes it.
    fn end_socket(&self, ws: &WebSocket, info: &SocketInfo, why: &Closing) {
        send(ws, &why.event);
        let _ = self.socket_infos.write(ws, SocketInfo { closed: true, ..info.clone() });
        let _ = ws.close(Some(why.code), Some(why.reason.clone()));
        self.buckets.borrow_mut().remove(&info.conn_id);
    }

    /// After this side closed sockets of `user` (no close event comes for those): announces
    /// them offline if none is left open. If that cannot be recorded, the next delivery to this
    /// empty hub tries again.
    async fn settle_presence(&self, user: Uuid) {
        if self.open_sockets().is_empty() && !self.announce_presence(user, Presence::Offline).await {
            self.presence_checked.set(false);
        }
    }

    /// Forgets a socket that closed, and announces the user offline if it was their last.
    pub(super) async fn socket_gone(&self, ws: &WebSocket) {
        let Some(info) = self.socket_infos.read(ws) else { return };
        self.socket_infos.forget(ws);
        self.buckets.borrow_mut().remove(&info.conn_id);
        let others = self.open_sockets().into_iter().filter(|(_, other)| other.conn_id != info.conn_id).count();
        if others == 0 {
            self.announce_presence(info.user_id, Presence::Offline).await;
        }
    }

    /// Closes the sockets a revoked session, a removed device or a deleted
    /// account still holds.
    pub(super) async fn disconnect(&self, which: Disconnect) {
        if which.is_whole_account() {
            // The account was deleted: what the hub kept of its pushes goes with it.
            self.forget_pushes().await;
        }
        let why = Closing::ended(&which);
        let mut closed = None;
        for (ws, info) in self.open_sockets() {
            if which.applies_to(info.session_id, info.device_id) {
                self.end_socket(&ws, &info, &why);
                closed = Some(info.user_id);
            }
        }
        if let Some(user) = closed {
            self.settle_presence(user).await;
        }
    }

    /// Records that the user came online or went offline and tells everyone they talk to; false
    /// if it could not be recorded (logged).
    pub(super) async fn announce_presence(&self, user: Uuid, change: Presence) -> bool {
        let online = change == Presence::Online;
        let announced = async {
            let conn = self.conn().await?;
            let db = &conn.client;
            let Some(last_seen) = users::set_online(db, user, online, change == Presence::StaleOnline).await? else {
                return Ok(()); // nothing changed, nothing to tell
            };
            let partners = members::partner_ids(db, user).await?;
            let event = ServerEvent::Presence { user_id: user, online, last_seen: Some(last_seen) };
            self.route(user, &partners, &event, None).await;
            Ok::<_, ApiError>(())
        };
        match announced.await {
            Ok(()) => true,
            Err(e) => {
                log_error("hub.presence", &e.to_string());
                false
            }
        }
    }
}

/// How a socket whose session could not be confirmed is closed.
fn unconfirmed() -> Closing {
    Closing::for_now(
        SocketCloseReason::SessionUnconfirmed,
        "the session could not be confirmed just now: connect again".into(),
    )
}
