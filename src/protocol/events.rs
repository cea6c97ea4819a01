//! The realtime protocol: what a client sends on its socket (parsed and validated here), what the
//! server sends back, and how the server ends a socket for good.

use super::conversations::{CommitEvent, CommitRequest, DepartureView};
use super::devices::DeviceView;
use super::messages::{
    MessageView, OutgoingMessage, ReceiptKind, ReceiptRequest, SendMessageEvent, SyncRequest, TypingRequest,
};
use super::users::UserSummary;
use super::validate::{contains_escaped_nul, nul_refused};
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use ts_rs::TS;
use uuid::Uuid;

/// The largest WebSocket frame a client may send: a 64 KiB ciphertext in base64 plus its envelope.
/// Room for a commit with its Welcome and GroupInfo (each up to 64 KiB, in base64).
pub const MAX_EVENT_BYTES: usize = 320 * 1024;
pub const MAX_REF_CHARS: usize = 64;

// ---- client events --------------------------------------------------------------------------

/// Every event a client sends, as sent: base64 fields, nothing validated yet. The parser reads
/// each event's fields through these payload types, and the SDK's socket sends only these.
#[derive(Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[ts(rename = "ClientEvent")]
#[schemars(rename = "ClientEvent")]
pub enum ClientEventWire {
    SendMessage(SendMessageEvent),
    Receipt(ReceiptRequest),
    Typing(TypingRequest),
    Sync(SyncRequest),
    Commit(CommitEvent),
}

/// A client event with the optional `id` the server echoes as `ref` in its ack or error (a
/// string of at most `MAX_REF_CHARS` characters, or a number).
#[derive(Debug, Serialize, Deserialize, TS, JsonSchema)]
pub struct ClientFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "string | number")]
    #[schemars(schema_with = "event_id_schema")]
    pub id: Option<serde_json::Value>,
    #[serde(flatten)]
    pub event: ClientEventWire,
}

fn event_id_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": ["string", "number"] })
}

impl ClientEventWire {
    /// Checks what the types alone cannot (sizes, base64, exclusive fields).
    pub fn validate(self) -> Result<ClientEvent, ApiError> {
        Ok(match self {
            ClientEventWire::SendMessage(m) => ClientEvent::SendMessage(m.validate()?),
            ClientEventWire::Receipt(r) => ClientEvent::Receipt(r),
            ClientEventWire::Typing(t) => ClientEvent::Typing(t),
            ClientEventWire::Sync(s) => ClientEvent::Sync(s),
            ClientEventWire::Commit(c) => ClientEvent::Commit(c.validate()?),
        })
    }
}

/// A client event, validated. `reference` is the event's optional `id`, echoed in acks and errors.
#[derive(Debug, PartialEq)]
pub struct ClientEnvelope {
    pub reference: Option<String>,
    pub event: ClientEvent,
}

#[derive(Debug, PartialEq)]
pub enum ClientEvent {
    SendMessage(OutgoingMessage),
    Receipt(ReceiptRequest),
    Typing(TypingRequest),
    Sync(SyncRequest),
    Commit(CommitRequest),
}

/// An error on one event; the socket stays open.
#[derive(Debug, PartialEq)]
pub struct EventError {
    pub reference: Option<String>,
    pub error: ApiError,
}

/// Parses and validates one client frame.
pub fn parse_client_event(frame: &str) -> Result<ClientEnvelope, EventError> {
    let fail = |reference: Option<String>, error: ApiError| EventError { reference, error };
    if frame.len() > MAX_EVENT_BYTES {
        return Err(fail(
            None,
            ApiError::new(413, "too_large", format!("Events are limited to {} KiB.", MAX_EVENT_BYTES / 1024)),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(frame)
        .map_err(|e| fail(None, ApiError::bad_request("invalid_json", format!("The event is not valid JSON: {e}."))))?;
    if contains_escaped_nul(frame.as_bytes()) {
        let reference = value.get("id").and_then(|id| id.as_str()).filter(|id| !id.contains('\0'));
        return Err(fail(reference.map(str::to_string), nul_refused()));
    }
    let Some(object) = value.as_object() else {
        return Err(fail(
            None,
            ApiError::bad_request("invalid_event", "An event must be a JSON object with a \"type\"."),
        ));
    };
    let reference = match object.get("id") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.chars().count() <= MAX_REF_CHARS => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            return Err(fail(
                None,
                ApiError::bad_request("invalid_field", "\"id\" must be a string of at most 64 characters or a number."),
            ))
        }
    };
    let kind = object.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_string();
    // Dispatched by hand rather than through serde's tag so that an unknown or missing type keeps
    // its own error code; each payload is still read through the wire enum's own type.
    let field_error =
        |e: serde_json::Error| ApiError::bad_request("invalid_field", format!("Invalid {kind} event: {e}."));
    let payload = |value: serde_json::Value| match kind.as_str() {
        "send-message" => serde_json::from_value(value).map(ClientEventWire::SendMessage).map_err(field_error),
        "receipt" => serde_json::from_value(value).map(ClientEventWire::Receipt).map_err(field_error),
        "typing" => serde_json::from_value(value).map(ClientEventWire::Typing).map_err(field_error),
        "sync" => serde_json::from_value(value).map(ClientEventWire::Sync).map_err(field_error),
        "commit" => serde_json::from_value(value).map(ClientEventWire::Commit).map_err(field_error),
        "" => Err(ApiError::bad_request("invalid_event", "The event has no \"type\".")),
        other => Err(ApiError::bad_request("unknown_type", format!("There is no event type {other:?}."))),
    };
    let event = payload(value.clone()).and_then(ClientEventWire::validate);
    event.map(|event| ClientEnvelope { reference: reference.clone(), event }).map_err(|error| fail(reference, error))
}

// ---- server events --------------------------------------------------------------------------

/// Every event the server sends on a socket.
#[derive(Debug, Clone, Serialize, TS, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerEvent {
    #[serde(rename_all = "camelCase")]
    Ready {
        user_id: Uuid,
        device_id: Option<Uuid>,
        server_time: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    Ack {
        r#ref: Option<String>,
        client_msg_id: Option<String>,
        message: Option<MessageView>,
        /// For a commit that added users: their Welcome, stored right after the commit.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        welcome: Option<Box<MessageView>>,
    },
    Message {
        message: MessageView,
    },
    #[serde(rename_all = "camelCase")]
    Receipt {
        message_id: Uuid,
        conversation_id: Uuid,
        user_id: Uuid,
        kind: ReceiptKind,
        at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    Typing {
        conversation_id: Uuid,
        user_id: Uuid,
        on: bool,
    },
    #[serde(rename_all = "camelCase")]
    Presence {
        user_id: Uuid,
        online: bool,
        last_seen: Option<DateTime<Utc>>,
    },
    UserRegistered {
        user: UserSummary,
    },
    /// A device uploaded its first KeyPackages, so it can be added to groups: one of this user's
    /// (their other devices add it) or of someone they talk to (whose conversations may be
    /// waiting for a device of theirs).
    #[serde(rename_all = "camelCase")]
    DeviceAdded {
        user_id: Uuid,
        device: DeviceView,
    },
    /// Someone left a group: sent to the members who stay, so that one of their devices commits
    /// the leaver's removal from the MLS group on the strength of `departure`, and to the leaver's
    /// own devices, which stop taking part in it.
    #[serde(rename_all = "camelCase")]
    MemberLeft {
        conversation_id: Uuid,
        departure: DepartureView,
    },
    /// A device was removed: sent to its user's other devices and to the people they talk to, so
    /// that whichever member device is online first removes its leaves from their groups.
    #[serde(rename_all = "camelCase")]
    DeviceRemoved {
        user_id: Uuid,
        device_id: Uuid,
    },
    /// The last event on a socket the server is closing for good: `reason` is `session-ended`
    /// (revoked, or the account deleted) or `device-removed`. Sent before the close frame because
    /// a close handshake may finish late, while an event arrives at once.
    SessionEnded {
        reason: SessionEndReason,
    },
    /// The last event on a socket the server is closing for now: unlike `session-ended`, the
    /// session goes on and the client may connect again, when `reason` says (see
    /// `SocketCloseReason`). Sent before the close frame, for the same reason as `session-ended`.
    SocketClosing {
        reason: SocketCloseReason,
    },
    /// This answer to `sync` is complete: the client now holds everything up to `after`. `joined`
    /// is where each conversation starts for this user (the seq of the commit that added them):
    /// nothing at or before it will ever come, so a client may skip ahead to it. `more` lists the
    /// conversations a paged sync stopped short of their newest message: the client asks again
    /// with `after` as it is here, which resumes each one at its next seq (no gap, no repeat).
    /// Empty once caught up, and always for an unpaged sync.
    Synced {
        after: HashMap<Uuid, i64>,
        joined: HashMap<Uuid, i64>,
        more: Vec<Uuid>,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        code: String,
        message: String,
        r#ref: Option<String>,
        /// Set on `stale_epoch`: the epoch the conversation is at.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        current_epoch: Option<i64>,
    },
}

impl ServerEvent {
    pub fn error(reference: Option<String>, error: &ApiError) -> Self {
        ServerEvent::Error {
            code: error.code.to_string(),
            message: error.message.clone(),
            r#ref: reference,
            current_epoch: error.current_epoch,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server events always serialize")
    }
}

// ---- ending sockets -------------------------------------------------------------------------

/// Why the server ended a socket for good: the `session-ended` event's `reason`, and (as its
/// close code) the close frame's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SessionEndReason {
    /// The session was revoked or has expired, or the account was deleted.
    SessionEnded,
    /// This device was removed.
    DeviceRemoved,
}
text_enum!(SessionEndReason { SessionEnded = "session-ended", DeviceRemoved = "device-removed" });

impl SessionEndReason {
    /// Close codes (application range) that tell a client not to reconnect with what it holds.
    pub const fn close_code(self) -> u16 {
        match self {
            SessionEndReason::SessionEnded => 4401,
            SessionEndReason::DeviceRemoved => 4403,
        }
    }
}

pub const CLOSE_SESSION_ENDED: u16 = SessionEndReason::SessionEnded.close_code();
pub const CLOSE_DEVICE_REMOVED: u16 = SessionEndReason::DeviceRemoved.close_code();

/// The most sockets one user holds at once, over all their devices and tabs: each costs the
/// user's hub memory for as long as it is open, so one account cannot make it grow without end.
/// Opening one more closes the oldest (`too-many-sockets`).
pub const MAX_SOCKETS_PER_USER: usize = 10;

/// Why the server closed a socket whose session goes on: the `socket-closing` event's `reason`,
/// and (as its close code) the close frame's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SocketCloseReason {
    /// The server could not confirm that the session still exists (its database did not
    /// answer), and keeps no socket it cannot vouch for. Connect again, with backoff: the new
    /// connection is accepted if the session is live and refused if it has ended.
    SessionUnconfirmed,
    /// The user opened more than `MAX_SOCKETS_PER_USER` sockets and this was the oldest. Connect
    /// again when the user comes back to it, not at once: that closes whichever is oldest then,
    /// and sockets that all reconnected at once would keep closing one another.
    TooManySockets,
}
text_enum!(SocketCloseReason { SessionUnconfirmed = "session-unconfirmed", TooManySockets = "too-many-sockets" });

impl SocketCloseReason {
    pub const fn close_code(self) -> u16 {
        match self {
            // The standard "Try Again Later": every WebSocket client knows it may reconnect.
            SocketCloseReason::SessionUnconfirmed => 1013,
            SocketCloseReason::TooManySockets => 4429,
        }
    }
}

pub const CLOSE_SESSION_UNCONFIRMED: u16 = SocketCloseReason::SessionUnconfirmed.close_code();
pub const CLOSE_TOO_MANY_SOCKETS: u16 = SocketCloseReason::TooManySockets.close_code();

/// Which of a user's sockets to close, and what to tell them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Disconnect {
    /// Sockets opened in these sessions (they were ended).
    sessions: Option<Vec<Uuid>>,
    /// Sockets of this device (the device was removed).
    device: Option<Uuid>,
    pub code: u16,
    pub reason: String,
}

impl Disconnect {
    pub fn sessions(ended: Vec<Uuid>) -> Self {
        Self { sessions: Some(ended), device: None, code: CLOSE_SESSION_ENDED, reason: "session ended".into() }
    }

    /// The device was removed, and `sessions` (those acting as it) with it: a socket of either.
    pub fn device(device: Uuid, sessions: Vec<Uuid>) -> Self {
        Self {
            sessions: Some(sessions),
            device: Some(device),
            code: CLOSE_DEVICE_REMOVED,
            reason: "device removed".into(),
        }
    }

    /// For one socket whose session is over (expired, or ended before the socket was accepted):
    /// names no other socket.
    pub fn session_over(reason: &str) -> Self {
        Self { sessions: Some(Vec::new()), device: None, code: CLOSE_SESSION_ENDED, reason: reason.into() }
    }

    pub fn account_deleted() -> Self {
        Self { sessions: None, device: None, code: CLOSE_SESSION_ENDED, reason: "account deleted".into() }
    }

    /// The event that tells the client, before the close frame.
    pub fn event(&self) -> ServerEvent {
        ServerEvent::SessionEnded {
            reason: if self.code == CLOSE_DEVICE_REMOVED {
                SessionEndReason::DeviceRemoved
            } else {
                SessionEndReason::SessionEnded
            },
        }
    }

    /// Whether it names every socket of the user (neither filter set): the account is deleted.
    pub fn is_whole_account(&self) -> bool {
        self.sessions.is_none() && self.device.is_none()
    }

    /// Neither filter set means every socket of the user.
    pub fn applies_to(&self, socket_session: Option<Uuid>, socket_device: Option<Uuid>) -> bool {
        let by_session = self.sessions.as_ref().map(|ended| socket_session.is_some_and(|s| ended.contains(&s)));
        let by_device = self.device.map(|d| socket_device == Some(d));
        match (by_session, by_device) {
            (None, None) => true,
            (a, b) => a.unwrap_or(false) || b.unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests;
