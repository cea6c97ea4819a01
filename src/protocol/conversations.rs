//! Conversations, their members, group creation and MLS commits (the WebSocket event that moves
//! a conversation to its next epoch and changes who may read it).

use super::devices::DEVICE_PROOF_BYTES;
use super::validate::{
    base64_len, base64_pattern, decode, decode_exact, name_pattern, validate_client_msg_id, validate_epoch,
    validate_title, MAX_TITLE_CHARS, NAME_RULE,
};
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// Users in one group, the creator included.
pub const MAX_GROUP_MEMBERS: usize = 100;
/// The disappearing-messages timers a conversation may have, in seconds: an hour, a day, a week and
/// 90 days (and off). A fixed set, as people choose from a menu, and the database checks the same.
pub const DISAPPEAR_AFTER_CHOICES: [i32; 4] = [3600, 86_400, 604_800, 7_776_000];
/// Commits, Welcomes and GroupInfos grow with the group; this holds a group of `MAX_GROUP_MEMBERS`.
pub const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    /// Two people; created on the first message between them.
    Direct,
    Group,
}
text_enum!(ConversationKind { Direct = "direct", Group = "group" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Owner,
    Admin,
    Member,
}
text_enum!(MemberRole { Owner = "owner", Admin = "admin", Member = "member" });

impl MemberRole {
    /// Owners and admins add and remove a group's members.
    pub fn may_manage_members(self) -> bool {
        matches!(self, MemberRole::Owner | MemberRole::Admin)
    }
}

#[derive(Debug, Clone, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub id: Uuid,
    pub kind: ConversationKind,
    pub title: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// The MLS epoch the conversation is at: commits must start from it, messages carry it.
    #[schemars(range(min = 0))]
    pub epoch: i64,
    /// The seq of its newest message (0 when empty).
    #[schemars(range(min = 0))]
    pub last_seq: i64,
    pub members: Vec<MemberView>,
    /// Members who left the group and whose devices no commit has removed from its MLS group yet:
    /// any member's device may commit that removal, carrying these (see `DepartureView`).
    pub departures: Vec<DepartureView>,
    /// Its disappearing-messages timer in seconds (one of `DISAPPEAR_AFTER_CHOICES`), null when
    /// off: the server deletes an application message's ciphertext this long after it was sent.
    /// Members learn of a change from the member who made it, inside MLS; this is for those who
    /// joined after it.
    #[schemars(range(min = 1))]
    pub disappear_after_seconds: Option<i32>,
}

/// `PATCH /conversations/:id`: a member changes the conversation's settings (in a group, an owner
/// or admin).
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateConversationRequest {
    /// One of `DISAPPEAR_AFTER_CHOICES`, or null to turn disappearing messages off. Required: a
    /// body that leaves it out is refused rather than read as "off" (hence the deserializer,
    /// with which serde no longer takes a missing `Option` for None).
    #[serde(deserialize_with = "Option::deserialize")]
    #[schemars(schema_with = "timer_choice")]
    pub disappear_after_seconds: Option<i32>,
}

fn timer_choice(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut choices: Vec<serde_json::Value> = DISAPPEAR_AFTER_CHOICES.iter().map(|&s| s.into()).collect();
    choices.push(serde_json::Value::Null);
    schemars::json_schema!({ "type": ["integer", "null"], "enum": choices })
}

impl UpdateConversationRequest {
    /// The new timer (None: off).
    pub fn validate(self) -> Result<Option<i32>, ApiError> {
        match self.disappear_after_seconds {
            Some(seconds) if !DISAPPEAR_AFTER_CHOICES.contains(&seconds) => Err(ApiError::bad_request(
                "invalid_field",
                "disappearAfterSeconds is 3600 (an hour), 86400 (a day), 604800 (a week), 7776000 (90 days) or null (off).",
            )),
            timer => Ok(timer),
        }
    }
}

/// What a leaving device signs: this, the conversation's id, `:`, its user's id, `:`, its own id,
/// `:`, the hex of its leaf's encryption key. The server never checks it (it holds no MLS state);
/// the members' devices do, against the leaf they remove.
pub const DEPARTURE_CONTEXT: &str = "e2e-chat/leave/v1:";

/// A member's departure from a group, in their own words: `signature` is made by the leaving
/// device's MLS signature key (its leaf's) over `DEPARTURE_CONTEXT` text.
/// The server cannot make one, so a removal that a plain member commits on its strength is one
/// the leaver asked for; naming the leaf's encryption key ties it to that leaf, so it is spent
/// once the leaf is gone (someone added back has new leaves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartureView {
    pub user_id: Uuid,
    pub device_id: Uuid,
    /// Base64 of the signature.
    #[schemars(extend("contentEncoding" = "base64"))]
    pub signature: String,
    pub left_at: DateTime<Utc>,
}

/// `POST /conversations/:id/leave`: the caller's device leaves the group for its user.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaveRequest {
    /// Base64 of the departure's Ed25519 signature (see `DepartureView`), by this session's device.
    #[schemars(extend("contentEncoding" = "base64"))]
    #[schemars(pattern(base64_pattern(DEVICE_PROOF_BYTES, DEVICE_PROOF_BYTES)), length(equal = base64_len(DEVICE_PROOF_BYTES)))]
    pub signature: String,
}

impl LeaveRequest {
    pub fn validate(self) -> Result<Vec<u8>, ApiError> {
        decode_exact("signature", &self.signature, DEVICE_PROOF_BYTES)
    }
}

#[derive(Debug, Clone, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user_id: Uuid,
    pub display_name: String,
    pub role: MemberRole,
    pub joined_at: DateTime<Utc>,
    /// The member reads messages after this seq (0, or the commit that added them).
    #[schemars(range(min = 0))]
    pub joined_seq: i64,
}

// ---- groups ---------------------------------------------------------------------------------

#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroupRequest {
    #[schemars(length(min = 1, max = MAX_TITLE_CHARS), pattern(name_pattern()), description = NAME_RULE)]
    pub title: String,
    #[schemars(length(min = 1, max = MAX_GROUP_MEMBERS - 1))]
    #[schemars(description = "The other members; the caller becomes the owner.")]
    pub member_ids: Vec<Uuid>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct NewGroup {
    pub title: String,
    /// The other members, deduplicated, without the creator.
    pub member_ids: Vec<Uuid>,
}

impl CreateGroupRequest {
    pub fn validate(self, creator: Uuid) -> Result<NewGroup, ApiError> {
        let title = validate_title(&self.title)?;
        let mut member_ids: Vec<Uuid> = self.member_ids.into_iter().filter(|id| *id != creator).collect();
        member_ids.sort();
        member_ids.dedup();
        if member_ids.is_empty() {
            return Err(ApiError::bad_request("invalid_field", "A group needs at least one member besides you."));
        }
        if member_ids.len() + 1 > MAX_GROUP_MEMBERS {
            return Err(too_many_members());
        }
        Ok(NewGroup { title, member_ids })
    }
}

/// The people a group may not get (see `GroupAdds`), named: the one adding them knows who they
/// chose, and learns only that these people keep their groups to themselves.
pub fn group_adds_refused(names: &[String]) -> ApiError {
    let who = match names {
        [one] => format!("{one} doesn't"),
        [first @ .., last] => format!("{} and {last} don't", first.join(", ")),
        [] => "Someone doesn't".to_string(),
    };
    ApiError::new(
        403,
        "group_add_refused",
        format!(
            "{who} let you add them to groups: each person chooses who can, in their privacy settings. You can \
             still message them directly."
        ),
    )
}

fn too_many_members() -> ApiError {
    ApiError::bad_request("too_many_members", format!("A group has at most {MAX_GROUP_MEMBERS} members."))
}

// ---- commits (a WebSocket event) ------------------------------------------------------------

/// The `commit` client event as sent: base64 fields, not yet validated.
#[derive(Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitEvent {
    pub conversation_id: Uuid,
    pub epoch: i64,
    pub client_msg_id: String,
    /// Base64 of the MLS commit.
    pub commit: String,
    /// Base64 of the Welcome for the users it adds.
    #[ts(optional = nullable)]
    pub welcome: Option<String>,
    /// Base64 of the GroupInfo after the commit.
    #[ts(optional = nullable)]
    pub group_info: Option<String>,
    #[serde(default)]
    #[ts(as = "Option<Vec<Uuid>>", optional)]
    pub add_user_ids: Vec<Uuid>,
    #[serde(default)]
    #[ts(as = "Option<Vec<Uuid>>", optional)]
    pub remove_user_ids: Vec<Uuid>,
}

/// A validated commit: moves `conversation_id` from `epoch` to `epoch + 1`, and changes who the
/// server lets read the conversation in the same transaction.
#[derive(Debug, PartialEq, Eq)]
pub struct CommitRequest {
    pub conversation_id: Uuid,
    pub epoch: i64,
    pub client_msg_id: String,
    pub commit: Vec<u8>,
    pub welcome: Option<Vec<u8>>,
    pub group_info: Option<Vec<u8>>,
    pub add_user_ids: Vec<Uuid>,
    pub remove_user_ids: Vec<Uuid>,
}

impl CommitEvent {
    pub fn validate(self) -> Result<CommitRequest, ApiError> {
        validate_client_msg_id(&self.client_msg_id)?;
        let epoch = validate_epoch(self.epoch)?;
        let commit = decode("commit", &self.commit, MAX_HANDSHAKE_BYTES)?;
        let welcome = self.welcome.map(|w| decode("welcome", &w, MAX_HANDSHAKE_BYTES)).transpose()?;
        let group_info = self.group_info.map(|g| decode("groupInfo", &g, MAX_HANDSHAKE_BYTES)).transpose()?;
        let mut add_user_ids = self.add_user_ids;
        add_user_ids.sort();
        add_user_ids.dedup();
        let mut remove_user_ids = self.remove_user_ids;
        remove_user_ids.sort();
        remove_user_ids.dedup();
        if add_user_ids.iter().any(|id| remove_user_ids.contains(id)) {
            return Err(ApiError::bad_request("invalid_field", "A user cannot be added and removed in one commit."));
        }
        if !add_user_ids.is_empty() && welcome.is_none() {
            return Err(ApiError::bad_request("invalid_field", "A commit that adds users must carry their Welcome."));
        }
        if add_user_ids.len() >= MAX_GROUP_MEMBERS {
            return Err(too_many_members());
        }
        Ok(CommitRequest {
            conversation_id: self.conversation_id,
            epoch,
            client_msg_id: self.client_msg_id,
            commit,
            welcome,
            group_info,
            add_user_ids,
            remove_user_ids,
        })
    }
}

/// The error a sender gets when someone else's commit moved the conversation on first: it names
/// the current epoch so the client knows how far to catch up before retrying.
pub fn stale_epoch(current: i64) -> ApiError {
    ApiError::conflict(
        "stale_epoch",
        format!("This conversation is at epoch {current}: apply the commits you are missing, then try again."),
    )
    .with_current_epoch(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::validate::encode;

    #[test]
    fn kinds_and_roles_are_spelled_as_in_the_database() {
        assert_text_enum_matches_serde!(ConversationKind);
        assert_text_enum_matches_serde!(MemberRole);
    }

    #[test]
    fn a_group_has_a_title_and_other_members_without_duplicates() {
        let me = Uuid::new_v4();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let group = CreateGroupRequest { title: " Team ".into(), member_ids: vec![a, me, b, a] }.validate(me).unwrap();
        assert_eq!(group.title, "Team");
        assert_eq!(group.member_ids.len(), 2);
        assert!(!group.member_ids.contains(&me));
        let alone = CreateGroupRequest { title: "Solo".into(), member_ids: vec![me] }.validate(me);
        assert_eq!(alone.unwrap_err().code, "invalid_field");
        let crowd = CreateGroupRequest {
            title: "Crowd".into(),
            member_ids: (0..MAX_GROUP_MEMBERS).map(|_| Uuid::new_v4()).collect(),
        };
        assert_eq!(crowd.validate(me).unwrap_err().code, "too_many_members");
        let untitled = CreateGroupRequest { title: "".into(), member_ids: vec![a] }.validate(me);
        assert_eq!(untitled.unwrap_err().code, "invalid_title");
        let reversed = CreateGroupRequest { title: "Family \u{202E}txt.exe".into(), member_ids: vec![a] }.validate(me);
        assert_eq!(reversed.unwrap_err().code, "invalid_title");
    }

    fn commit(json: serde_json::Value) -> Result<CommitRequest, ApiError> {
        serde_json::from_value::<CommitEvent>(json)
            .map_err(|_| ApiError::bad_request("invalid_field", "shape"))?
            .validate()
    }

    #[test]
    fn commits_are_validated_and_their_membership_changes_normalized() {
        let (c, u) = (Uuid::new_v4(), Uuid::new_v4());
        let ok = commit(serde_json::json!({
            "conversationId": c, "epoch": 3, "clientMsgId": "k1", "commit": encode(b"commit"),
            "welcome": encode(b"welcome"), "addUserIds": [u, u]
        }))
        .unwrap();
        assert_eq!(ok.epoch, 3);
        assert_eq!(ok.add_user_ids, vec![u]);
        assert_eq!(ok.welcome.as_deref(), Some(&b"welcome"[..]));

        let no_welcome = commit(serde_json::json!({
            "conversationId": c, "epoch": 3, "clientMsgId": "k1", "commit": encode(b"c"), "addUserIds": [u]
        }));
        assert!(no_welcome.unwrap_err().message.contains("Welcome"));
        let both = commit(serde_json::json!({
            "conversationId": c, "epoch": 3, "clientMsgId": "k1", "commit": encode(b"c"), "welcome": encode(b"w"),
            "addUserIds": [u], "removeUserIds": [u]
        }));
        assert_eq!(both.unwrap_err().code, "invalid_field");
        let negative =
            commit(serde_json::json!({ "conversationId": c, "epoch": -1, "clientMsgId": "k", "commit": encode(b"c") }));
        assert_eq!(negative.unwrap_err().code, "invalid_field");
        let huge = commit(serde_json::json!({
            "conversationId": c, "epoch": 0, "clientMsgId": "k", "commit": encode(&vec![0; MAX_HANDSHAKE_BYTES + 1])
        }));
        assert_eq!(huge.unwrap_err().status, 413);
    }

    #[test]
    fn a_stale_commit_names_the_current_epoch() {
        let err = stale_epoch(7);
        assert_eq!((err.status, err.code, err.current_epoch), (409, "stale_epoch", Some(7)));
        assert!(err.message.contains("epoch 7"));
    }

    #[test]
    fn a_timer_is_one_of_the_choices_or_off_and_must_be_given() {
        let update =
            |body: serde_json::Value| serde_json::from_value::<UpdateConversationRequest>(body).unwrap().validate();
        assert_eq!(update(serde_json::json!({ "disappearAfterSeconds": 86400 })).unwrap(), Some(86_400));
        assert_eq!(update(serde_json::json!({ "disappearAfterSeconds": null })).unwrap(), None);
        assert!(
            serde_json::from_value::<UpdateConversationRequest>(serde_json::json!({})).is_err(),
            "left out is not off"
        );
        assert_eq!(update(serde_json::json!({ "disappearAfterSeconds": 60 })).unwrap_err().code, "invalid_field");
        for seconds in DISAPPEAR_AFTER_CHOICES {
            assert_eq!(update(serde_json::json!({ "disappearAfterSeconds": seconds })).unwrap(), Some(seconds));
        }
    }
}
