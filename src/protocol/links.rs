//! Linking a new browser to an account that has a device, and starting over when every device is
//! lost. The server enforces who may do what; the codes and proofs that let the devices check each
//! other are made and checked by the clients (the server stores them as opaque bytes), so a server
//! that swapped the new browser's key would be caught by the code the user typed.
//!
//! 1. The new browser (a session with no device, on an account that has one) makes a secret code,
//!    shows it, and sends `POST /devices/links` with its label, key and a MAC of them under the
//!    code. The server never sees the code.
//! 2. On a device of the account, the user types the code. That device lists the pending links,
//!    finds the one whose MAC the code verifies, and approves it (`POST /devices/links/:id/approve`)
//!    with its signature over the new key (`LINK_APPROVAL_CONTEXT`), plus a proof for the new
//!    browser, MACed under the code, naming the devices it trusts.
//! 3. The server checks the signature, registers the device with the approval and binds the new
//!    browser's session to it; the browser sees `approved` on `GET /devices/links/:id`.

use super::devices::{validate_credential, validate_label, DeviceView, DEVICE_PROOF_BYTES};
use super::devices::{MAX_CREDENTIAL_BYTES, MAX_DEVICE_LABEL_CHARS};
use super::validate::{base64_len, base64_pattern, decode, decode_exact, name_pattern, NAME_RULE};
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// How long a link request waits for approval: enough to find the other device and type a code.
pub const LINK_REQUEST_TTL_SECONDS: i64 = 10 * 60;
/// Pending link requests one account may have at once; someone who has the password cannot
/// flood the owner's "link a device" list.
pub const MAX_PENDING_LINKS_PER_USER: i64 = 5;
/// The MAC under the code is HMAC-SHA-256.
pub const LINK_MAC_BYTES: usize = 32;
/// What the approving device passes to the new one (its id, key and trusted devices, MACed);
/// twenty devices' keys fit with room to spare.
pub const MAX_APPROVER_PROOF_BYTES: usize = 8 * 1024;
/// What an approving device signs, with its registered key: this context, the user's id, `:`,
/// the new device's id, `:`, then the base64 of the new device's key. Every device of the user
/// checks this before it lets the new device into a group.
pub const LINK_APPROVAL_CONTEXT: &str = "e2e-chat/approve-device/v1:";

/// `POST /devices/links`: a new browser asks to join the account.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkRequest {
    /// A name the user recognizes, e.g. "Firefox on laptop".
    #[schemars(length(min = 1, max = MAX_DEVICE_LABEL_CHARS), pattern(name_pattern()))]
    #[schemars(description = format!("A name the user recognizes, e.g. \"Firefox on laptop\". {NAME_RULE}"))]
    pub label: String,
    /// Base64 of the new device's signature public key.
    #[schemars(extend("contentEncoding" = "base64"))]
    #[schemars(pattern(base64_pattern(1, MAX_CREDENTIAL_BYTES)), length(min = base64_len(1), max = base64_len(MAX_CREDENTIAL_BYTES)))]
    pub credential: String,
    /// Base64 of HMAC-SHA-256 under the code the new browser shows, over the user, label and key.
    #[schemars(extend("contentEncoding" = "base64"))]
    #[schemars(pattern(base64_pattern(LINK_MAC_BYTES, LINK_MAC_BYTES)), length(equal = base64_len(LINK_MAC_BYTES)))]
    pub code_mac: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct NewLink {
    pub label: String,
    pub credential: Vec<u8>,
    pub code_mac: Vec<u8>,
}

impl LinkRequest {
    pub fn validate(self) -> Result<NewLink, ApiError> {
        Ok(NewLink {
            label: validate_label(&self.label)?,
            credential: validate_credential(&self.credential)?,
            code_mac: decode_exact("codeMac", &self.code_mac, LINK_MAC_BYTES)?,
        })
    }
}

/// A pending link request, as the account's devices see it.
#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingLinkView {
    /// Also the id the device will have once approved.
    pub id: Uuid,
    pub label: String,
    #[schemars(extend("contentEncoding" = "base64"))]
    pub credential: String,
    #[schemars(extend("contentEncoding" = "base64"))]
    pub code_mac: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, TS, JsonSchema)]
pub struct PendingLinks {
    pub links: Vec<PendingLinkView>,
}

/// Where a link request stands, as the browser that made it sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkStatus {
    Pending,
    Approved,
}

#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    pub id: Uuid,
    pub status: LinkStatus,
    pub expires_at: DateTime<Utc>,
    /// Once approved: the device this browser now is (its session acts as it).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceView>,
    /// Once approved: base64 of what the approving device passed on (its id, key and the devices it
    /// trusts, MACed under the code), for the new browser to check.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("contentEncoding" = "base64"))]
    pub approver_proof: Option<String>,
}

/// `POST /devices/links/:id/approve`, from a device of the account.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApproveLinkRequest {
    /// Base64 of the approving device's Ed25519 signature over `LINK_APPROVAL_CONTEXT` text.
    #[schemars(extend("contentEncoding" = "base64"))]
    #[schemars(pattern(base64_pattern(DEVICE_PROOF_BYTES, DEVICE_PROOF_BYTES)), length(equal = base64_len(DEVICE_PROOF_BYTES)))]
    pub signature: String,
    /// Base64 of what the new browser gets from the approving device (opaque to the server).
    #[schemars(extend("contentEncoding" = "base64"))]
    #[schemars(pattern(base64_pattern(1, MAX_APPROVER_PROOF_BYTES)), length(min = base64_len(1), max = base64_len(MAX_APPROVER_PROOF_BYTES)))]
    pub approver_proof: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Approval {
    pub signature: Vec<u8>,
    pub approver_proof: Vec<u8>,
}

impl ApproveLinkRequest {
    pub fn validate(self) -> Result<Approval, ApiError> {
        Ok(Approval {
            signature: decode_exact("signature", &self.signature, DEVICE_PROOF_BYTES)?,
            approver_proof: decode("approverProof", &self.approver_proof, MAX_APPROVER_PROOF_BYTES)?,
        })
    }
}

/// `POST /devices/reset`: every device is lost; this browser becomes the account's only device.
#[derive(Debug, Deserialize, TS, JsonSchema)]
pub struct ResetDevicesRequest {
    #[schemars(length(min = 1, max = MAX_DEVICE_LABEL_CHARS), pattern(name_pattern()), description = NAME_RULE)]
    pub label: String,
    #[schemars(extend("contentEncoding" = "base64"))]
    #[schemars(pattern(base64_pattern(1, MAX_CREDENTIAL_BYTES)), length(min = base64_len(1), max = base64_len(MAX_CREDENTIAL_BYTES)))]
    pub credential: String,
    /// The account's password, entered again.
    pub password: String,
}

impl ResetDevicesRequest {
    pub fn validate(self) -> Result<(super::NewDevice, String), ApiError> {
        let device = super::NewDevice {
            label: validate_label(&self.label)?,
            credential: validate_credential(&self.credential)?,
        };
        Ok((device, self.password))
    }
}

/// The text a device signs to approve `device` (with key `credential`) for `user`.
pub fn link_approval_message(user: Uuid, device: Uuid, credential: &[u8]) -> String {
    format!("{LINK_APPROVAL_CONTEXT}{}:{}:{}", user.hyphenated(), device.hyphenated(), super::encode(credential))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::encode;

    #[test]
    fn a_link_request_needs_a_label_a_key_and_a_mac_of_the_right_size() {
        let request =
            |mac: &[u8]| LinkRequest { label: " Laptop ".into(), credential: encode(&[1; 32]), code_mac: encode(mac) };
        let ok = request(&[9; LINK_MAC_BYTES]).validate().unwrap();
        assert_eq!(ok.label, "Laptop");
        assert_eq!(request(&[9; 16]).validate().unwrap_err().code, "invalid_field");
        let no_label = LinkRequest { label: "\n".into(), credential: encode(&[1; 32]), code_mac: encode(&[9; 32]) };
        assert_eq!(no_label.validate().unwrap_err().code, "invalid_label");
    }

    #[test]
    fn an_approval_carries_a_whole_signature_and_a_bounded_proof() {
        let approve = |sig: usize, proof: usize| ApproveLinkRequest {
            signature: encode(&vec![1; sig]),
            approver_proof: encode(&vec![2; proof]),
        };
        assert!(approve(DEVICE_PROOF_BYTES, 100).validate().is_ok());
        assert_eq!(approve(DEVICE_PROOF_BYTES - 1, 100).validate().unwrap_err().code, "invalid_field");
        assert_eq!(approve(DEVICE_PROOF_BYTES, MAX_APPROVER_PROOF_BYTES + 1).validate().unwrap_err().status, 413);
    }

    #[test]
    fn the_approval_message_names_user_device_and_key() {
        let user = Uuid::from_u128(1);
        let device = Uuid::from_u128(2);
        assert_eq!(
            link_approval_message(user, device, b"key"),
            "e2e-chat/approve-device/v1:00000000-0000-0000-0000-000000000001:00000000-0000-0000-0000-000000000002:a2V5"
        );
    }
}
