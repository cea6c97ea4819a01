//! The hub's sockets: accepting one, what each one is (kept across hibernation), checking its
//! session, limiting its rate, closing it, and the presence its opening and closing announce.

use super::client::{HEADER_DEVICE, HEADER_EXPIRES, HEADER_PROTOCOL, HEADER_SESSION, HEADER_USER};
use super::{now_ms, UserHub};
use crate::db::{members, sessions, users};
use crate::error::{log_error, ApiError};
use crate::protocol::{Disconnect, ServerEvent};
use crate::ratelimit::{TokenBucket, SOCKET_RATE};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use worker::{Request, Response, WebSocket, WebSocketPair};

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
        let server_time = chrono::DateTime::from_timestamp_millis(now_ms() as i64).unwrap_or_default();
        send(&pair.server, &ServerEvent::Ready { user_id, device_id, server_time });
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
        let checked = async { Ok::<_, ApiError>(sessions::exists(&self.conn().await?.client, session).await?) };
        checked.await.unwrap_or_else(|e| {
            log_error("hub.session_check", &e.to_string());
            true
        })
    }

    /// Whether the socket may have its event handled: its token has not expired (else it is
    /// closed) and it is within its rate (else it is told to slow down).
    pub(super) async fn admit(&self, ws: &WebSocket, info: &SocketInfo) -> bool {
        if (now_ms() / 1000.0) as i64 >= info.expires_at {
            // The token that opened the socket has expired; the socket does not outlive it.
            self.end_socket(ws, info, &Disconnect::session_over("session expired"));
            self.socket_gone(ws).await; // no close event comes for a socket this side closed
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
    fn end_socket(&self, ws: &WebSocket, info: &SocketInfo, why: &Disconnect) {
        send(ws, &why.event());
        let _ = ws.close(Some(why.code), Some(why.reason.clone()));
        self.buckets.borrow_mut().remove(&info.conn_id);
    }

    /// Forgets a socket that closed, and announces the user offline if it was their last.
    pub(super) async fn socket_gone(&self, ws: &WebSocket) {
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

    /// `POST /disconnect`: closes the sockets a revoked session, a removed device or a deleted
    /// account still holds.
    pub(super) async fn disconnect(&self, mut req: Request) -> worker::Result<Response> {
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

    /// Records that the user came online or went offline and tells everyone they talk to.
    pub(super) async fn announce_presence(&self, user: Uuid, change: Presence) {
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
        if let Err(e) = announced.await {
            log_error("hub.presence", &e.to_string());
        }
    }
}
