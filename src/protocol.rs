//! Every wire type of the REST API (request and response bodies) and the validation of input.
//! The OpenAPI document (`src/openapi.json`) describes these shapes; the integration tests check
//! real responses against it.

use crate::error::ApiError;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MIN_PASSWORD_CHARS: usize = 10;
/// PBKDF2 pre-hashes long keys, so this bound is about sanity, not cost.
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

// ---- requests -------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub phone: String,
    pub display_name: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub phone: String,
    pub password: String,
}

/// A registration whose every field has passed validation.
#[derive(Debug, PartialEq, Eq)]
pub struct NewAccount {
    pub phone: String,
    pub display_name: String,
    pub password: String,
}

impl RegisterRequest {
    pub fn validate(self) -> Result<NewAccount, ApiError> {
        Ok(NewAccount {
            phone: validate_phone(&self.phone)?,
            display_name: validate_display_name(&self.display_name)?,
            password: validate_password(self.password)?,
        })
    }
}

// ---- responses ------------------------------------------------------------------------------

/// What every signed-in user may see of another user.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: Uuid,
    pub phone: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// At least one of their sockets is open.
    pub online: bool,
}

/// A user as they see themselves, and as admins see everyone.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(flatten)]
    pub user: UserSummary,
    pub is_admin: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub user: Account,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A user's public profile: who they are and the public key material of each of their devices.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(flatten)]
    pub user: UserSummary,
    pub devices: Vec<DeviceView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    pub id: Uuid,
    pub label: String,
    /// Base64 of the device's MLS credential (its signature public key).
    pub credential: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub id: Uuid,
    pub kind: String,
    pub title: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// The MLS epoch the conversation is at: commits must start from it, messages carry it.
    pub epoch: i64,
    /// The seq of its newest message (0 when empty).
    pub last_seq: i64,
    pub members: Vec<MemberView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user_id: Uuid,
    pub display_name: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
    /// The member reads messages after this seq (0, or the commit that added them).
    pub joined_seq: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// Position in the conversation: committed in this order, so "after seq N" has no gaps.
    pub seq: i64,
    pub sender_id: Uuid,
    pub sender_device_id: Option<Uuid>,
    pub kind: String,
    pub epoch: i64,
    /// Base64 of the opaque MLS message; the server never sees plaintext.
    pub ciphertext: String,
    pub client_msg_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// One keyset page. `nextCursor` is absent on the last page.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub ok: bool,
    pub version: &'static str,
    pub database: DatabaseHealth,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseHealth {
    pub ok: bool,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
}

// ---- WebSocket events -----------------------------------------------------------------------

/// The largest WebSocket frame a client may send: a 64 KiB ciphertext in base64 plus its envelope.
/// Room for a commit with its Welcome and GroupInfo (each up to 64 KiB, in base64).
pub const MAX_EVENT_BYTES: usize = 320 * 1024;
pub const MAX_CIPHERTEXT_BYTES: usize = 64 * 1024;
pub const MAX_CLIENT_MSG_ID_CHARS: usize = 64;
pub const MAX_REF_CHARS: usize = 64;

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
    Commit(crate::e2e::CommitRequest),
}

#[derive(Debug, PartialEq)]
pub enum Recipient {
    Conversation(Uuid),
    User(Uuid),
}

#[derive(Debug, PartialEq)]
pub struct OutgoingMessage {
    pub to: Recipient,
    pub client_msg_id: String,
    pub epoch: i64,
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptKind {
    Delivered,
    Read,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptRequest {
    pub message_id: Uuid,
    pub kind: ReceiptKind,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingRequest {
    pub conversation_id: Uuid,
    pub on: bool,
}

/// "Send me what I missed": the last seq the client holds per conversation. Conversations it
/// does not list are sent from the start.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequest {
    #[serde(default)]
    pub after: std::collections::HashMap<Uuid, i64>,
    /// Per conversation, the seq of the client's oldest own message not yet read by everyone:
    /// the receipts made on its messages from there on are sent again, since those made while it
    /// was away reached nobody.
    #[serde(default)]
    pub receipts_from: std::collections::HashMap<Uuid, i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendMessageWire {
    conversation_id: Option<Uuid>,
    to_user_id: Option<Uuid>,
    client_msg_id: String,
    #[serde(default)]
    epoch: i64,
    ciphertext: String,
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
    let field_error =
        |e: serde_json::Error| ApiError::bad_request("invalid_field", format!("Invalid {kind} event: {e}."));
    let event = match kind.as_str() {
        "send-message" => serde_json::from_value::<SendMessageWire>(value.clone())
            .map_err(field_error)
            .and_then(validate_outgoing)
            .map(ClientEvent::SendMessage),
        "receipt" => serde_json::from_value(value.clone()).map_err(field_error).map(ClientEvent::Receipt),
        "typing" => serde_json::from_value(value.clone()).map_err(field_error).map(ClientEvent::Typing),
        "sync" => serde_json::from_value(value.clone()).map_err(field_error).map(ClientEvent::Sync),
        "commit" => serde_json::from_value::<crate::e2e::CommitWire>(value.clone())
            .map_err(field_error)
            .and_then(crate::e2e::CommitWire::validate)
            .map(ClientEvent::Commit),
        "" => Err(ApiError::bad_request("invalid_event", "The event has no \"type\".")),
        other => Err(ApiError::bad_request("unknown_type", format!("There is no event type {other:?}."))),
    };
    event.map(|event| ClientEnvelope { reference: reference.clone(), event }).map_err(|error| fail(reference, error))
}

fn validate_outgoing(wire: SendMessageWire) -> Result<OutgoingMessage, ApiError> {
    use base64::Engine;
    let to = match (wire.conversation_id, wire.to_user_id) {
        (Some(c), None) => Recipient::Conversation(c),
        (None, Some(u)) => Recipient::User(u),
        _ => return Err(ApiError::bad_request("invalid_field", "Give exactly one of conversationId and toUserId.")),
    };
    validate_client_msg_id(&wire.client_msg_id)?;
    if wire.epoch < 0 {
        return Err(ApiError::bad_request("invalid_field", "epoch cannot be negative."));
    }
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(wire.ciphertext.as_bytes())
        .map_err(|_| ApiError::bad_request("invalid_field", "ciphertext must be standard base64."))?;
    if ciphertext.is_empty() {
        return Err(ApiError::bad_request("invalid_field", "ciphertext is empty."));
    }
    if ciphertext.len() > MAX_CIPHERTEXT_BYTES {
        return Err(ApiError::new(
            413,
            "too_large",
            format!("A ciphertext is limited to {} KiB.", MAX_CIPHERTEXT_BYTES / 1024),
        ));
    }
    Ok(OutgoingMessage { to, client_msg_id: wire.client_msg_id, epoch: wire.epoch, ciphertext })
}

pub fn validate_client_msg_id(id: &str) -> Result<(), ApiError> {
    let chars = id.chars().count();
    if chars == 0 || chars > MAX_CLIENT_MSG_ID_CHARS {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("clientMsgId must be 1 to {MAX_CLIENT_MSG_ID_CHARS} characters."),
        ));
    }
    Ok(())
}

/// Every event the server sends on a socket.
#[derive(Debug, Clone, Serialize)]
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
    /// One of the user's own devices was removed: their other devices remove it from their groups.
    #[serde(rename_all = "camelCase")]
    DeviceRemoved {
        user_id: Uuid,
        device_id: Uuid,
    },
    /// The last event on a socket the server is closing for good: `reason` is `session-ended`
    /// (revoked, or the account deleted) or `device-removed`. Sent before the close frame because
    /// a close handshake may finish late, while an event arrives at once.
    SessionEnded {
        reason: &'static str,
    },
    /// Sync is complete: the client now holds everything up to `after`. `joined` is where each
    /// conversation starts for this user (the seq of the commit that added them): nothing at or
    /// before it will ever come, so a client may skip ahead to it.
    Synced {
        after: std::collections::HashMap<Uuid, i64>,
        joined: std::collections::HashMap<Uuid, i64>,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        code: String,
        message: String,
        r#ref: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
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

// ---- parsing and validation -----------------------------------------------------------------

/// Parses a JSON request body, telling malformed JSON apart from well-formed JSON of the wrong shape.
/// PostgreSQL text cannot hold U+0000, which JSON can carry as `\u0000`. Text with it is refused
/// on the way in, with a reason, instead of failing in the database as a 500.
pub fn contains_escaped_nul(json: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &byte) in json.iter().enumerate() {
        if byte == b'\\' {
            backslashes += 1;
            continue;
        }
        if byte == b'u' && backslashes % 2 == 1 && json[i + 1..].starts_with(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

pub fn nul_refused() -> ApiError {
    ApiError::bad_request("invalid_text", "Text may not contain the NUL character (U+0000).")
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(payload_too_large());
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("invalid_json", "The request body is empty; send a JSON object."));
    }
    if contains_escaped_nul(body) {
        return Err(nul_refused());
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::bad_request("invalid_field", format!("The request body has the wrong shape: {e}."))
        }
        _ => ApiError::bad_request("invalid_json", format!("The request body is not valid JSON: {e}.")),
    })
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(413, "payload_too_large", format!("The request body is larger than {} KiB.", MAX_BODY_BYTES / 1024))
}

/// E.164: a plus sign, a country code that does not start with 0, at most 15 digits in all.
pub fn validate_phone(raw: &str) -> Result<String, ApiError> {
    let phone = raw.trim();
    let digits = phone.strip_prefix('+').unwrap_or("");
    let valid =
        (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    if valid {
        Ok(phone.to_string())
    } else {
        Err(ApiError::bad_request(
            "invalid_phone",
            "Enter the phone number in international format, starting with + and the country code, like +14155550123.",
        ))
    }
}

pub fn validate_display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_DISPLAY_NAME_CHARS {
        return Err(ApiError::bad_request(
            "invalid_display_name",
            format!("The display name must be 1 to {MAX_DISPLAY_NAME_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_display_name",
            "The display name cannot contain control characters.",
        ));
    }
    Ok(name.to_string())
}

pub fn validate_password(password: String) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::bad_request(
            "weak_password",
            format!("The password must be at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::bad_request(
            "invalid_password",
            format!("The password must be at most {MAX_PASSWORD_BYTES} bytes."),
        ));
    }
    Ok(password)
}

pub const MAX_TITLE_CHARS: usize = 128;

pub fn validate_title(raw: &str) -> Result<String, ApiError> {
    let title = raw.trim();
    let chars = title.chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_title",
            format!("A group title is 1 to {MAX_TITLE_CHARS} characters, without control characters."),
        ));
    }
    Ok(title.to_string())
}

pub fn parse_uuid(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw)
        .map_err(|_| ApiError::bad_request("invalid_id", format!("{what} must be a UUID, not {raw:?}.")))
}

/// Close codes (application range) that tell a client not to reconnect with what it holds.
pub const CLOSE_SESSION_ENDED: u16 = 4401;
pub const CLOSE_DEVICE_REMOVED: u16 = 4403;

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

    pub fn device(device: Uuid) -> Self {
        Self { sessions: None, device: Some(device), code: CLOSE_DEVICE_REMOVED, reason: "device removed".into() }
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
            reason: if self.code == CLOSE_DEVICE_REMOVED { "device-removed" } else { "session-ended" },
        }
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
mod tests {
    use super::*;

    fn register(phone: &str, name: &str, password: &str) -> Result<NewAccount, ApiError> {
        RegisterRequest { phone: phone.into(), display_name: name.into(), password: password.into() }.validate()
    }

    #[test]
    fn accepts_a_well_formed_registration_trimming_spaces() {
        assert_eq!(
            register(" +14155550123 ", "  Ada  ", "long enough pw").unwrap(),
            NewAccount { phone: "+14155550123".into(), display_name: "Ada".into(), password: "long enough pw".into() }
        );
    }

    #[test]
    fn phones_must_be_e164() {
        for ok in ["+1415555", "+447911123456", "+123456789012345"] {
            assert!(validate_phone(ok).is_ok(), "{ok}");
        }
        for bad in
            ["", "+", "14155550123", "+0123456789", "+1 415 555 0123", "+1234567890123456", "+12345a7890", "+123456"]
        {
            assert_eq!(validate_phone(bad).unwrap_err().code, "invalid_phone", "{bad}");
        }
    }

    #[test]
    fn display_names_are_1_to_64_characters_without_control_characters() {
        assert!(validate_display_name(&"é".repeat(64)).is_ok());
        assert_eq!(validate_display_name(&"é".repeat(65)).unwrap_err().code, "invalid_display_name");
        assert_eq!(validate_display_name("   ").unwrap_err().code, "invalid_display_name");
        assert_eq!(validate_display_name("a\u{0}b").unwrap_err().code, "invalid_display_name");
    }

    #[test]
    fn passwords_need_ten_characters() {
        assert_eq!(register("+14155550123", "Ada", "123456789").unwrap_err().code, "weak_password");
        assert!(register("+14155550123", "Ada", "1234567890").is_ok());
        assert_eq!(validate_password("x".repeat(1025)).unwrap_err().code, "invalid_password");
    }

    #[test]
    fn malformed_json_and_wrong_shapes_are_told_apart() {
        assert_eq!(parse_json::<LoginRequest>(b"{\"phone\":").unwrap_err().code, "invalid_json");
        assert_eq!(parse_json::<LoginRequest>(b"").unwrap_err().code, "invalid_json");
        assert_eq!(parse_json::<LoginRequest>(b"[1,2]").unwrap_err().code, "invalid_field");
        let err = parse_json::<LoginRequest>(br#"{"phone": 5, "password": "x"}"#).unwrap_err();
        assert_eq!(err.code, "invalid_field");
        assert!(err.message.contains("invalid type"), "{}", err.message);
        assert!(parse_json::<LoginRequest>(br#"{"password": "x"}"#).unwrap_err().message.contains("phone"));
    }

    #[test]
    fn text_with_nul_is_refused_and_only_that() {
        assert!(contains_escaped_nul(br#"{"q":"a\u0000"}"#));
        assert!(contains_escaped_nul(br#"{"q":"\\\u0000"}"#)); // an escaped backslash, then NUL
        assert!(!contains_escaped_nul(br#"{"q":"\\u0000"}"#)); // a backslash, then the text u0000
        assert!(!contains_escaped_nul(br#"{"q":"\u00e9 u0000"}"#));
        let err = parse_json::<serde_json::Value>(br#"{"displayName":"x\u0000"}"#).unwrap_err();
        assert_eq!((err.status, err.code), (400, "invalid_text"));
        let event = parse_client_event(r#"{"type":"typing","id":"r1","conversationId":"\u0000","on":true}"#);
        let err = event.err().unwrap();
        assert_eq!((err.error.code, err.reference.as_deref()), ("invalid_text", Some("r1")));
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(parse_json::<LoginRequest>(&body).unwrap_err().status, 413);
    }

    #[test]
    fn ids_must_be_uuids() {
        assert!(parse_uuid("6f1c1f9e-3b1a-4c55-9a39-8d2f0b1c2d3e", "peerId").is_ok());
        assert_eq!(parse_uuid("42", "peerId").unwrap_err().code, "invalid_id");
    }

    fn event(frame: &str) -> Result<ClientEvent, (Option<String>, &'static str)> {
        parse_client_event(frame).map(|e| e.event).map_err(|e| (e.reference, e.error.code))
    }

    #[test]
    fn parses_a_send_message_to_a_user_or_a_conversation() {
        let to = Uuid::new_v4();
        let frame = format!(
            r#"{{"type":"send-message","id":"r1","toUserId":"{to}","clientMsgId":"c1","epoch":3,"ciphertext":"AQID"}}"#
        );
        let parsed = parse_client_event(&frame).unwrap();
        assert_eq!(parsed.reference.as_deref(), Some("r1"));
        assert_eq!(
            parsed.event,
            ClientEvent::SendMessage(OutgoingMessage {
                to: Recipient::User(to),
                client_msg_id: "c1".into(),
                epoch: 3,
                ciphertext: vec![1, 2, 3]
            })
        );
        let frame =
            format!(r#"{{"type":"send-message","conversationId":"{to}","clientMsgId":"c1","ciphertext":"AQID"}}"#);
        assert!(matches!(
            event(&frame),
            Ok(ClientEvent::SendMessage(OutgoingMessage { to: Recipient::Conversation(_), epoch: 0, .. }))
        ));
    }

    #[test]
    fn every_bad_event_class_has_its_code_and_keeps_the_reference() {
        let id = Uuid::new_v4();
        assert_eq!(event("{nope").unwrap_err().1, "invalid_json");
        assert_eq!(event("[1]").unwrap_err().1, "invalid_event");
        assert_eq!(event(r#"{"id":"x"}"#).unwrap_err(), (Some("x".into()), "invalid_event"));
        assert_eq!(event(r#"{"type":"dance","id":7}"#).unwrap_err(), (Some("7".into()), "unknown_type"));
        assert_eq!(
            event(r#"{"type":"send-message","id":"m","clientMsgId":"c","ciphertext":"AQID"}"#).unwrap_err(),
            (Some("m".into()), "invalid_field")
        );
        let both = format!(
            r#"{{"type":"send-message","toUserId":"{id}","conversationId":"{id}","clientMsgId":"c","ciphertext":"AQID"}}"#
        );
        assert_eq!(event(&both).unwrap_err().1, "invalid_field");
        let not_base64 =
            format!(r#"{{"type":"send-message","toUserId":"{id}","clientMsgId":"c","ciphertext":"not base64!"}}"#);
        assert_eq!(event(&not_base64).unwrap_err().1, "invalid_field");
        let empty_id = format!(r#"{{"type":"send-message","toUserId":"{id}","clientMsgId":"","ciphertext":"AQID"}}"#);
        assert_eq!(event(&empty_id).unwrap_err().1, "invalid_field");
        assert_eq!(event(r#"{"type":"receipt","messageId":"x","kind":"read"}"#).unwrap_err().1, "invalid_field");
        let bad_kind = format!(r#"{{"type":"receipt","messageId":"{id}","kind":"seen"}}"#);
        assert_eq!(event(&bad_kind).unwrap_err().1, "invalid_field");
        assert_eq!(event(r#"{"type":"typing","conversationId":"x","on":true}"#).unwrap_err().1, "invalid_field");
    }

    #[test]
    fn oversized_events_and_ciphertexts_are_refused() {
        use base64::Engine;
        assert_eq!(event(&" ".repeat(MAX_EVENT_BYTES + 1)).unwrap_err().1, "too_large");
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_CIPHERTEXT_BYTES + 1]);
        let frame = format!(
            r#"{{"type":"send-message","toUserId":"{}","clientMsgId":"c","ciphertext":"{big}"}}"#,
            Uuid::new_v4()
        );
        assert_eq!(event(&frame).unwrap_err().1, "too_large");
        let fits = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_CIPHERTEXT_BYTES]);
        let frame = format!(
            r#"{{"type":"send-message","toUserId":"{}","clientMsgId":"c","ciphertext":"{fits}"}}"#,
            Uuid::new_v4()
        );
        assert!(event(&frame).is_ok());
    }

    #[test]
    fn sync_takes_per_conversation_seqs() {
        let c = Uuid::new_v4();
        let parsed = event(&format!(r#"{{"type":"sync","after":{{"{c}":41}}}}"#)).unwrap();
        assert_eq!(parsed, ClientEvent::Sync(SyncRequest { after: [(c, 41)].into(), ..Default::default() }));
        let with_receipts = event(&format!(r#"{{"type":"sync","receiptsFrom":{{"{c}":7}}}}"#)).unwrap();
        assert_eq!(
            with_receipts,
            ClientEvent::Sync(SyncRequest { receipts_from: [(c, 7)].into(), ..Default::default() })
        );
        assert_eq!(event(r#"{"type":"sync"}"#).unwrap(), ClientEvent::Sync(SyncRequest::default()));
    }

    #[test]
    fn server_events_are_tagged_and_camel_cased() {
        let json =
            serde_json::to_value(ServerEvent::Typing { conversation_id: Uuid::nil(), user_id: Uuid::nil(), on: true })
                .unwrap();
        assert_eq!(json["type"], "typing");
        assert_eq!(json["conversationId"], Uuid::nil().to_string());
        let error = serde_json::to_value(ServerEvent::error(Some("r".into()), &ApiError::forbidden("no"))).unwrap();
        assert_eq!(error, serde_json::json!({"type": "error", "code": "forbidden", "message": "no", "ref": "r"}));
    }

    #[test]
    fn accounts_serialize_flat_and_camel_cased() {
        let account = Account {
            user: UserSummary {
                id: Uuid::nil(),
                phone: "+14155550123".into(),
                display_name: "Ada".into(),
                created_at: DateTime::from_timestamp(0, 0).unwrap(),
                last_seen_at: None,
                online: false,
            },
            is_admin: true,
        };
        let json = serde_json::to_value(&account).unwrap();
        assert_eq!(json["displayName"], "Ada");
        assert_eq!(json["isAdmin"], true);
        assert_eq!(json["lastSeenAt"], serde_json::Value::Null);
    }

    #[test]
    fn disconnect_names_exactly_the_sockets_it_should_close() {
        let phone = Uuid::from_u128(1);
        let laptop = Uuid::from_u128(2);
        let (ended, other, newer) = (Uuid::from_u128(10), Uuid::from_u128(11), Uuid::from_u128(12));
        // Ended sessions: their sockets close; a session started since stays.
        let revoke = Disconnect::sessions(vec![ended, other]);
        assert!(revoke.applies_to(Some(ended), Some(phone)));
        assert!(revoke.applies_to(Some(other), None));
        assert!(!revoke.applies_to(Some(newer), Some(phone)));
        assert!(!revoke.applies_to(None, Some(phone)));
        // A removed device: only its own sockets.
        let removed = Disconnect::device(laptop);
        assert!(removed.applies_to(Some(ended), Some(laptop)));
        assert!(!removed.applies_to(Some(ended), Some(phone)));
        assert!(!removed.applies_to(None, None));
        // A deleted account: everything.
        assert!(Disconnect::account_deleted().applies_to(None, Some(phone)));
        assert_eq!(revoke.code, CLOSE_SESSION_ENDED);
        assert_eq!(removed.code, CLOSE_DEVICE_REMOVED);
        assert_eq!(revoke.event().to_json(), r#"{"type":"session-ended","reason":"session-ended"}"#);
        assert_eq!(removed.event().to_json(), r#"{"type":"session-ended","reason":"device-removed"}"#);
    }
}
