//! Messages and what travels with them on a socket: sending, receipts, typing and sync.

use super::attachments::validate_attachment_ids;
use super::conversations::{DepartureView, MemberRole};
use super::validate::{validate_client_msg_id, validate_epoch};
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use ts_rs::TS;
use uuid::Uuid;

pub const MAX_CIPHERTEXT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// An MLS application message: what people write.
    App,
    /// An MLS commit: moves the conversation to its next epoch.
    Commit,
    /// The MLS Welcome for the users a commit added.
    Welcome,
}
text_enum!(MessageKind { App = "app", Commit = "commit", Welcome = "welcome" });

/// Why an application message's ciphertext is gone. Its row stays, as a tombstone: clients apply
/// a conversation strictly in seq order, and a hole would stop them for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageDeletion {
    /// Deleted for everyone, by its sender or (in a group) an owner or admin.
    Retracted,
    /// Past the conversation's disappearing-messages timer.
    Expired,
}
text_enum!(MessageDeletion { Retracted = "retracted", Expired = "expired" });

#[derive(Debug, Clone, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// Position in the conversation: committed in this order, so "after seq N" has no gaps.
    #[schemars(range(min = 1))]
    pub seq: i64,
    pub sender_id: Uuid,
    pub sender_device_id: Option<Uuid>,
    pub kind: MessageKind,
    #[schemars(range(min = 0))]
    pub epoch: i64,
    /// Base64 of the opaque MLS message; the server never sees plaintext. Empty once `deleted`.
    #[schemars(extend("contentEncoding" = "base64"))]
    pub ciphertext: String,
    /// Set when the message's ciphertext was deleted (see `MessageDeletion`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub deleted: Option<MessageDeletion>,
    pub client_msg_id: String,
    pub created_at: DateTime<Utc>,
    /// For a commit: the users it declared to the server that it adds (the member list gained
    /// exactly these). Every client checks that the people the commit brings into the group are
    /// among them. Absent on other messages and on commits stored before declarations were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub add_user_ids: Option<Vec<Uuid>>,
    /// For a commit: the users it declared that it removes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub remove_user_ids: Option<Vec<Uuid>>,
    /// For a commit that removes people who left: their departures, by which any member may
    /// remove them (see `DepartureView`). Absent when it removes nobody who left.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub departures: Option<Vec<DepartureView>>,
    /// Its sender's role when the server ordered it, by which members judge a commit, a deletion
    /// of someone else's message or a group's timer change, also when they read it later (the
    /// sender may have left or changed role since). Absent on older messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub sender_role: Option<MemberRole>,
}

// ---- sending --------------------------------------------------------------------------------

/// The `send-message` client event as sent: exactly one of `conversationId` and `toUserId`.
#[derive(Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageEvent {
    #[ts(optional = nullable)]
    pub conversation_id: Option<Uuid>,
    #[ts(optional = nullable)]
    pub to_user_id: Option<Uuid>,
    pub client_msg_id: String,
    /// The MLS epoch the message was encrypted in (0 when absent).
    #[serde(default)]
    #[ts(as = "Option<i64>", optional)]
    pub epoch: i64,
    /// Base64 of the MLS message.
    pub ciphertext: String,
    /// Says the message changes the conversation's disappearing-messages timer: it never expires
    /// on the server, so that a device away for longer than the timer still learns of the change.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub timer_change: bool,
    /// The uploads the message carries (their keys are inside the ciphertext): complete uploads of
    /// the sender's for this conversation that no other message refers to, at most
    /// `MAX_ATTACHMENTS_PER_MESSAGE`. The server records that this message refers to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<Uuid>>", optional)]
    pub attachment_ids: Vec<Uuid>,
}

#[derive(Debug, PartialEq)]
pub enum Recipient {
    Conversation(Uuid),
    User(Uuid),
}

/// A validated `send-message`.
#[derive(Debug, PartialEq)]
pub struct OutgoingMessage {
    pub to: Recipient,
    pub client_msg_id: String,
    pub epoch: i64,
    pub ciphertext: Vec<u8>,
    pub timer_change: bool,
    pub attachment_ids: Vec<Uuid>,
}

impl SendMessageEvent {
    pub fn validate(self) -> Result<OutgoingMessage, ApiError> {
        use base64::Engine;
        let to = match (self.conversation_id, self.to_user_id) {
            (Some(c), None) => Recipient::Conversation(c),
            (None, Some(u)) => Recipient::User(u),
            _ => {
                return Err(ApiError::bad_request("invalid_field", "Give exactly one of conversationId and toUserId."))
            }
        };
        validate_client_msg_id(&self.client_msg_id)?;
        let epoch = validate_epoch(self.epoch)?;
        let ciphertext = base64::engine::general_purpose::STANDARD
            .decode(self.ciphertext.as_bytes())
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
        validate_attachment_ids(&self.attachment_ids)?;
        Ok(OutgoingMessage {
            to,
            client_msg_id: self.client_msg_id,
            epoch,
            ciphertext,
            timer_change: self.timer_change,
            attachment_ids: self.attachment_ids,
        })
    }
}

// ---- receipts, typing, sync -----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptKind {
    Delivered,
    Read,
}
text_enum!(ReceiptKind { Delivered = "delivered", Read = "read" });

#[derive(Debug, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptRequest {
    pub message_id: Uuid,
    pub kind: ReceiptKind,
}

#[derive(Debug, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypingRequest {
    pub conversation_id: Uuid,
    pub on: bool,
}

/// "Send me what I missed": the last seq the client holds per conversation. Conversations it
/// does not list are sent from the start.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequest {
    #[serde(default)]
    #[ts(as = "Option<HashMap<Uuid, i64>>", optional)]
    pub after: HashMap<Uuid, i64>,
    /// Per conversation, the seq of the client's oldest own message not yet read by everyone:
    /// the receipts made on its messages from there on are sent again, since those made while it
    /// was away reached nobody.
    #[serde(default)]
    #[ts(as = "Option<HashMap<Uuid, i64>>", optional)]
    pub receipts_from: HashMap<Uuid, i64>,
    /// Says the client follows `synced.more`: an answer carries at most `SYNC_PAGE_MESSAGES`
    /// messages, `synced` lists in `more` the conversations not yet caught up, and the client asks
    /// again from `synced.after`. Every answer is paged, whatever this says (a whole history in
    /// one answer is work nobody should be able to ask for 50 times a second); a client that
    /// leaves it out and ignores `more` catches up the rest when it next notices a gap.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub paged: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_and_receipt_kinds_are_spelled_as_on_the_wire() {
        assert_text_enum_matches_serde!(MessageKind);
        assert_text_enum_matches_serde!(ReceiptKind);
        assert_text_enum_matches_serde!(MessageDeletion);
    }
}
