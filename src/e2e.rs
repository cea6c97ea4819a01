//! Wire types and validation for end-to-end encryption: devices, key packages, groups and MLS
//! commits. The server treats every MLS structure as opaque bytes; it checks only sizes, shapes
//! and who may do what, and orders commits by epoch.

use crate::error::ApiError;
use crate::protocol::{validate_title, DeviceView};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_DEVICE_LABEL_CHARS: usize = 64;
/// A basic credential plus an Ed25519 key is well under this; the bound keeps rows small.
pub const MAX_CREDENTIAL_BYTES: usize = 1024;
/// Devices per user: phones, laptops and browsers, with room for a few stale ones.
pub const MAX_DEVICES_PER_USER: i64 = 20;
/// Key packages per upload; a client tops up in batches like this.
pub const MAX_KEY_PACKAGES_PER_UPLOAD: usize = 100;
/// Unclaimed key packages a device may hold at once, so one device cannot fill the table.
pub const MAX_KEY_PACKAGES_PER_DEVICE: i64 = 200;
/// One-time key packages one user may take from another per window. Starting a chat, adding the
/// user to a few groups and healing after a lost commit stay far below it; draining does not.
pub const KEY_PACKAGE_CLAIMS_PER_WINDOW: i32 = 20;
pub const KEY_PACKAGE_CLAIM_WINDOW_SECONDS: f64 = 3600.0;
/// An X25519/Ed25519 KeyPackage with a basic credential is ~300 bytes; extensions may add some.
pub const MAX_KEY_PACKAGE_BYTES: usize = 8 * 1024;
/// Commits, Welcomes and GroupInfos grow with the group; this holds a group of `MAX_GROUP_MEMBERS`.
pub const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;
/// Users in one group, the creator included.
pub const MAX_GROUP_MEMBERS: usize = 100;

fn decode(field: &str, raw: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    let bytes = B64
        .decode(raw.as_bytes())
        .map_err(|_| ApiError::bad_request("invalid_field", format!("{field} must be standard base64.")))?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("invalid_field", format!("{field} is empty.")));
    }
    if bytes.len() > max {
        return Err(ApiError::new(413, "too_large", format!("{field} is limited to {max} bytes.")));
    }
    Ok(bytes)
}

// ---- devices --------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct RegisterDeviceRequest {
    pub label: String,
    /// Base64 of the device's MLS credential (identity and signature public key).
    pub credential: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct NewDevice {
    pub label: String,
    pub credential: Vec<u8>,
}

impl RegisterDeviceRequest {
    pub fn validate(self) -> Result<NewDevice, ApiError> {
        let label = self.label.trim();
        let chars = label.chars().count();
        if chars == 0 || chars > MAX_DEVICE_LABEL_CHARS || label.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "invalid_label",
                format!("A device label is 1 to {MAX_DEVICE_LABEL_CHARS} characters, without control characters."),
            ));
        }
        Ok(NewDevice {
            label: label.to_string(),
            credential: decode("credential", &self.credential, MAX_CREDENTIAL_BYTES)?,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
}

// ---- key packages ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadKeyPackagesRequest {
    #[serde(default)]
    pub key_packages: Vec<String>,
    /// Replaces the device's last-resort package, which is handed out when the others run out.
    pub last_resort: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct KeyPackageUpload {
    pub key_packages: Vec<Vec<u8>>,
    pub last_resort: Option<Vec<u8>>,
}

impl UploadKeyPackagesRequest {
    pub fn validate(self) -> Result<KeyPackageUpload, ApiError> {
        if self.key_packages.is_empty() && self.last_resort.is_none() {
            return Err(ApiError::bad_request("invalid_field", "Send keyPackages, lastResort or both."));
        }
        if self.key_packages.len() > MAX_KEY_PACKAGES_PER_UPLOAD {
            return Err(ApiError::new(
                413,
                "too_large",
                format!("Upload at most {MAX_KEY_PACKAGES_PER_UPLOAD} key packages at a time."),
            ));
        }
        let key_packages = self
            .key_packages
            .iter()
            .enumerate()
            .map(|(i, kp)| decode(&format!("keyPackages[{i}]"), kp, MAX_KEY_PACKAGE_BYTES))
            .collect::<Result<_, _>>()?;
        let last_resort = self.last_resort.map(|kp| decode("lastResort", &kp, MAX_KEY_PACKAGE_BYTES)).transpose()?;
        Ok(KeyPackageUpload { key_packages, last_resort })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPackageCount {
    /// One-time packages not yet claimed.
    pub available: i64,
    pub has_last_resort: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRequest {
    /// Only these devices of the user (for adding one new device); all of them when absent.
    pub device_ids: Option<Vec<Uuid>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimedKeyPackage {
    pub device_id: Uuid,
    /// Base64 of the KeyPackage (an MLSMessage).
    pub key_package: String,
    /// The device had no one-time package left; this one is shared and was not consumed.
    pub last_resort: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimResponse {
    pub key_packages: Vec<ClaimedKeyPackage>,
    /// Devices that have no package at all: they cannot be added until they upload some.
    pub missing_device_ids: Vec<Uuid>,
}

pub fn encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

// ---- groups ---------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroupRequest {
    pub title: String,
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
            return Err(ApiError::bad_request(
                "too_many_members",
                format!("A group has at most {MAX_GROUP_MEMBERS} members."),
            ));
        }
        Ok(NewGroup { title, member_ids })
    }
}

// ---- commits (a WebSocket event) ------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitWire {
    conversation_id: Uuid,
    epoch: i64,
    client_msg_id: String,
    commit: String,
    welcome: Option<String>,
    group_info: Option<String>,
    #[serde(default)]
    add_user_ids: Vec<Uuid>,
    #[serde(default)]
    remove_user_ids: Vec<Uuid>,
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

impl CommitWire {
    pub fn validate(self) -> Result<CommitRequest, ApiError> {
        crate::protocol::validate_client_msg_id(&self.client_msg_id)?;
        if self.epoch < 0 {
            return Err(ApiError::bad_request("invalid_field", "epoch cannot be negative."));
        }
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
            return Err(ApiError::bad_request(
                "too_many_members",
                format!("A group has at most {MAX_GROUP_MEMBERS} members."),
            ));
        }
        Ok(CommitRequest {
            conversation_id: self.conversation_id,
            epoch: self.epoch,
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

    #[test]
    fn a_device_needs_a_label_and_a_base64_credential() {
        let ok = RegisterDeviceRequest { label: " Laptop ".into(), credential: encode(b"key") }.validate().unwrap();
        assert_eq!(ok, NewDevice { label: "Laptop".into(), credential: b"key".to_vec() });
        let bad_label = RegisterDeviceRequest { label: " ".into(), credential: encode(b"key") }.validate();
        assert_eq!(bad_label.unwrap_err().code, "invalid_label");
        let bad_b64 = RegisterDeviceRequest { label: "x".into(), credential: "not base64!".into() }.validate();
        assert_eq!(bad_b64.unwrap_err().code, "invalid_field");
        let huge = RegisterDeviceRequest { label: "x".into(), credential: encode(&[1; MAX_CREDENTIAL_BYTES + 1]) };
        assert_eq!(huge.validate().unwrap_err().status, 413);
    }

    #[test]
    fn key_package_uploads_are_bounded_in_count_and_size() {
        let upload = |n: usize, size: usize, last: bool| UploadKeyPackagesRequest {
            key_packages: (0..n).map(|_| encode(&vec![7; size])).collect(),
            last_resort: last.then(|| encode(b"lr")),
        };
        assert_eq!(upload(3, 300, true).validate().unwrap().key_packages.len(), 3);
        assert!(upload(0, 0, true).validate().is_ok(), "a last-resort package alone is a valid upload");
        assert_eq!(upload(0, 0, false).validate().unwrap_err().code, "invalid_field");
        assert_eq!(upload(MAX_KEY_PACKAGES_PER_UPLOAD + 1, 10, false).validate().unwrap_err().status, 413);
        let err = upload(2, MAX_KEY_PACKAGE_BYTES + 1, false).validate().unwrap_err();
        assert_eq!(err.status, 413);
        assert!(err.message.contains("keyPackages[0]"));
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
    }

    fn commit(json: serde_json::Value) -> Result<CommitRequest, ApiError> {
        serde_json::from_value::<CommitWire>(json)
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
}
