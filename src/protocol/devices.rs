//! Devices and their MLS key packages. The server treats every MLS structure as opaque bytes; it
//! checks only sizes, shapes and who may do what.

use super::conversations::MAX_GROUP_MEMBERS;
use super::validate::{base64_len, base64_pattern, decode, name_pattern, refuse_deceptive_characters, NAME_RULE};
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
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

// ---- devices --------------------------------------------------------------------------------

#[derive(Debug, Deserialize, TS, JsonSchema)]
pub struct RegisterDeviceRequest {
    #[schemars(length(min = 1, max = MAX_DEVICE_LABEL_CHARS), pattern(name_pattern()))]
    #[schemars(description = format!("A name the user recognizes, e.g. \"Firefox on laptop\". {NAME_RULE}"))]
    pub label: String,
    /// Base64 of the device's MLS credential (identity and signature public key).
    #[schemars(extend("contentEncoding" = "base64"))]
    #[schemars(pattern(base64_pattern(1, MAX_CREDENTIAL_BYTES)), length(min = base64_len(1), max = base64_len(MAX_CREDENTIAL_BYTES)))]
    #[schemars(description = format!(
        "Base64 of the device's MLS credential (identity and signature public key), at most {} KiB.",
        MAX_CREDENTIAL_BYTES / 1024
    ))]
    pub credential: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct NewDevice {
    pub label: String,
    pub credential: Vec<u8>,
}

impl RegisterDeviceRequest {
    pub fn validate(self) -> Result<NewDevice, ApiError> {
        Ok(NewDevice { label: validate_label(&self.label)?, credential: validate_credential(&self.credential)? })
    }
}

/// A device label, trimmed: 1 to `MAX_DEVICE_LABEL_CHARS` characters, without control characters
/// or the invisible ones that could make it pass for another (`is_deceptive_character`): the
/// account's other devices show it when asked to approve or remove it.
pub fn validate_label(label: &str) -> Result<String, ApiError> {
    let label = label.trim();
    let chars = label.chars().count();
    if chars == 0 || chars > MAX_DEVICE_LABEL_CHARS {
        return Err(ApiError::bad_request(
            "invalid_label",
            format!("A device label is 1 to {MAX_DEVICE_LABEL_CHARS} characters."),
        ));
    }
    refuse_deceptive_characters(label, "invalid_label", "A device label")?;
    Ok(label.to_string())
}

pub fn validate_credential(credential: &str) -> Result<Vec<u8>, ApiError> {
    decode("credential", credential, MAX_CREDENTIAL_BYTES)
}

#[derive(Debug, Clone, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    pub id: Uuid,
    pub label: String,
    /// Base64 of the device's MLS credential (its signature public key).
    #[schemars(extend("contentEncoding" = "base64"))]
    pub credential: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The device that approved this one when it was linked (see `LINK_APPROVAL_CONTEXT`); absent
    /// for the account's first device and for one set up by a reset.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<Uuid>,
    /// Base64 of that device's signature over this one's key.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("contentEncoding" = "base64"))]
    pub approval: Option<String>,
    /// Only in a lookup's `removed` list: when the device left its account.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<DateTime<Utc>>,
    /// Only in a lookup's `removed` list: the device that revoked it (itself, or another of the
    /// user's), and base64 of its signature (see `DEVICE_REVOCATION_CONTEXT`). Absent for a device
    /// removed by a reset.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<Uuid>,
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("contentEncoding" = "base64"))]
    pub revocation: Option<String>,
    /// With a revocation: the devices whose approvals by this one still stand.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_keeps: Option<Vec<Uuid>>,
}

#[derive(Debug, Serialize, TS, JsonSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
}

/// What a device signs to bind a session to itself (`POST /devices/:id/bind`): this context, then
/// the session's id (lowercase, hyphenated, as in the token's `sid`). Naming the session makes a
/// proof useless for any other session.
pub const DEVICE_PROOF_CONTEXT: &str = "e2e-chat/bind-session/v1:";
/// The MLS ciphersuite's signature scheme is Ed25519: keys of 32 bytes, signatures of 64.
pub const DEVICE_KEY_BYTES: usize = 32;
pub const DEVICE_PROOF_BYTES: usize = 64;

/// A session's proof that it runs on this device: the device's signature over
/// `DEVICE_PROOF_CONTEXT` and the session's id, with the key it registered.
#[derive(Debug, Deserialize, TS, JsonSchema)]
pub struct BindDeviceRequest {
    /// Base64 of the 64-byte Ed25519 signature.
    #[schemars(extend("contentEncoding" = "base64"))]
    #[schemars(pattern(base64_pattern(DEVICE_PROOF_BYTES, DEVICE_PROOF_BYTES)), length(equal = base64_len(DEVICE_PROOF_BYTES)))]
    pub signature: String,
}

impl BindDeviceRequest {
    pub fn validate(self) -> Result<Vec<u8>, ApiError> {
        let signature = decode("signature", &self.signature, DEVICE_PROOF_BYTES)?;
        if signature.len() != DEVICE_PROOF_BYTES {
            return Err(ApiError::bad_request(
                "invalid_field",
                format!("signature is an Ed25519 signature of {DEVICE_PROOF_BYTES} bytes."),
            ));
        }
        Ok(signature)
    }
}

/// Removing a device: for another than the session's own, the account's password, entered again;
/// and the removing device's revocation of the removed one, which the user's other devices check
/// before they stop trusting it for good (see `DEVICE_REVOCATION_CONTEXT`).
#[derive(Debug, Default, Deserialize, TS, JsonSchema)]
pub struct RemoveDeviceRequest {
    #[ts(optional = nullable)]
    pub password: Option<String>,
    /// Base64 of the session's device's Ed25519 signature over `DEVICE_REVOCATION_CONTEXT` text.
    #[ts(optional = nullable)]
    #[schemars(extend("contentEncoding" = "base64"))]
    #[schemars(pattern(base64_pattern(DEVICE_PROOF_BYTES, DEVICE_PROOF_BYTES)), length(equal = base64_len(DEVICE_PROOF_BYTES)))]
    pub revocation: Option<String>,
    /// The devices the removed one approved whose approvals still stand (signed with the
    /// revocation): a device that was away meanwhile trusts those, and nothing else it approved.
    #[ts(optional = nullable)]
    #[schemars(length(max = MAX_DEVICES_PER_USER))]
    pub keep: Option<Vec<Uuid>>,
}

impl RemoveDeviceRequest {
    /// The kept devices, sorted and without repeats, as the revocation signs them.
    pub fn keep(&self) -> Result<Vec<Uuid>, ApiError> {
        let mut keep = self.keep.clone().unwrap_or_default();
        if keep.len() > MAX_DEVICES_PER_USER as usize {
            return Err(ApiError::bad_request(
                "invalid_field",
                format!("keep lists at most {MAX_DEVICES_PER_USER} devices."),
            ));
        }
        keep.sort();
        keep.dedup();
        Ok(keep)
    }
}

/// What a device signs to revoke one of its user's devices (another, or itself): this context, the
/// user's id, `:`, the revoked device's id, `:`, the base64 of its key, `:`, then the ids of the
/// devices whose approvals by it still stand, sorted, comma-separated.
pub const DEVICE_REVOCATION_CONTEXT: &str = "e2e-chat/revoke-device/v1:";

/// The text a device signs to revoke `device` (with key `credential`) of `user`, keeping `keep`.
pub fn device_revocation_message(user: Uuid, device: Uuid, credential: &[u8], keep: &[Uuid]) -> String {
    let keep: Vec<String> = keep.iter().map(|id| id.hyphenated().to_string()).collect();
    format!(
        "{DEVICE_REVOCATION_CONTEXT}{}:{}:{}:{}",
        user.hyphenated(),
        device.hyphenated(),
        super::encode(credential),
        keep.join(",")
    )
}

/// Several users' devices in one request: a client checking a group's tree against the directory
/// asks once, not once per member (a group of n joining at once would otherwise make n² requests).
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceLookupRequest {
    #[schemars(length(min = 1, max = MAX_GROUP_MEMBERS))]
    pub user_ids: Vec<Uuid>,
    /// Also list each user's removed devices (`UserDevices.removed`), to check old messages by.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub include_removed: bool,
}

impl DeviceLookupRequest {
    /// The distinct users asked for, in the order given.
    pub fn validate(&self) -> Result<Vec<Uuid>, ApiError> {
        if self.user_ids.is_empty() || self.user_ids.len() > MAX_GROUP_MEMBERS {
            return Err(ApiError::bad_request(
                "invalid_field",
                format!("userIds lists 1 to {MAX_GROUP_MEMBERS} users (a group's members)."),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        Ok(self.user_ids.iter().copied().filter(|id| seen.insert(*id)).collect())
    }
}

/// One user's devices in a lookup.
#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDevices {
    pub user_id: Uuid,
    pub devices: Vec<DeviceView>,
    /// When asked for (`includeRemoved`): the devices the user had and removed, most recent first
    /// (at most 50), each with its `removedAt`. A device counted from its `createdAt` until then.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<DeviceView>>,
}

/// The users asked for that exist, each with every device, oldest first; a user that does not
/// exist (or was deleted) is left out, which a client takes as "no devices".
#[derive(Debug, Serialize, TS, JsonSchema)]
pub struct DeviceLookup {
    pub users: Vec<UserDevices>,
}

// ---- key packages ---------------------------------------------------------------------------

/// At least one of `keyPackages` (not empty) and `lastResort`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
// `validate` refuses a body with neither; `anyOf` says so exactly, `minProperties` the least of it.
#[schemars(extend(
    "minProperties" = 1,
    "anyOf" = [
        { "required": ["keyPackages"], "properties": { "keyPackages": { "minItems": 1 } } },
        { "required": ["lastResort"], "properties": { "lastResort": { "type": "string" } } },
    ],
))]
pub struct UploadKeyPackagesRequest {
    #[serde(default)]
    #[ts(as = "Option<Vec<String>>", optional)]
    #[schemars(length(max = MAX_KEY_PACKAGES_PER_UPLOAD))]
    #[schemars(extend("items" = {
        "type": "string",
        "contentEncoding": "base64",
        "pattern": base64_pattern(1, MAX_KEY_PACKAGE_BYTES),
        "minLength": base64_len(1),
        "maxLength": base64_len(MAX_KEY_PACKAGE_BYTES),
        "description": format!("A KeyPackage (MLSMessage), at most {} KiB.", MAX_KEY_PACKAGE_BYTES / 1024),
    }))]
    pub key_packages: Vec<String>,
    /// Replaces the device's last-resort package, which is handed out when the others run out.
    #[ts(optional = nullable)]
    #[schemars(extend("contentEncoding" = "base64"))]
    #[schemars(pattern(base64_pattern(1, MAX_KEY_PACKAGE_BYTES)), length(min = base64_len(1), max = base64_len(MAX_KEY_PACKAGE_BYTES)))]
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

#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyPackageCount {
    /// One-time packages not yet claimed.
    #[schemars(range(min = 0))]
    pub available: i64,
    pub has_last_resort: bool,
}

#[derive(Debug, Default, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRequest {
    /// Only these devices of the user (for adding one new device); all of them when absent.
    #[ts(optional = nullable)]
    pub device_ids: Option<Vec<Uuid>>,
}

#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimedKeyPackage {
    pub device_id: Uuid,
    /// Base64 of the KeyPackage (an MLSMessage).
    #[schemars(extend("contentEncoding" = "base64"))]
    pub key_package: String,
    /// The device had no one-time package left; this one is shared and was not consumed.
    pub last_resort: bool,
}

#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimResponse {
    pub key_packages: Vec<ClaimedKeyPackage>,
    /// Devices that have no package at all: they cannot be added until they upload some.
    pub missing_device_ids: Vec<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::validate::encode;

    #[test]
    fn a_device_needs_a_label_and_a_base64_credential() {
        let ok = RegisterDeviceRequest { label: " Laptop ".into(), credential: encode(b"key") }.validate().unwrap();
        assert_eq!(ok, NewDevice { label: "Laptop".into(), credential: b"key".to_vec() });
        let bad_label = RegisterDeviceRequest { label: " ".into(), credential: encode(b"key") }.validate();
        assert_eq!(bad_label.unwrap_err().code, "invalid_label");
        for label in ["Laptop\u{202E}", "\u{2066}Phone", "Lap\u{200B}top", "Phone\u{FEFF}", "Lap\u{1b}top"] {
            let err = validate_label(label).unwrap_err();
            assert_eq!((err.status, err.code), (400, "invalid_label"), "{label:?}");
            assert!(err.message.starts_with("A device label cannot contain U+"), "{}", err.message);
        }
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
}
