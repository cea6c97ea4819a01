//! Encrypted attachments: files a client encrypts on its device (a fresh AES-256-GCM key per file)
//! and uploads, as ciphertext only, for one conversation. The key, nonce, hash and file name travel
//! inside the MLS message that refers to the upload (an external part, in MIMI's terms); the server
//! stores opaque bytes in R2 and knows only their size, who uploaded them for which conversation,
//! and which message refers to them.
//!
//! 1. `POST /conversations/:id/attachments {size}` reserves the upload (quota and caps checked)
//!    and answers how to cut it: `parts` parts of `partSize` bytes, the last one the rest.
//! 2. `PUT /attachments/:id/parts/:n` sends part `n` (1-based) as raw bytes, of exactly its size;
//!    parts may be sent again (a retry) and in any order.
//! 3. `POST /attachments/:id/complete` once every part is there; then a `send-message` may name
//!    the upload in `attachmentIds`, and the conversation's members can `GET /attachments/:id`.
//!
//! `DELETE /attachments/:id` cancels an upload. Uploads no message refers to are deleted after
//! `UNREFERENCED_ATTACHMENT_GRACE_SECONDS` (src/sweep.rs).

use crate::error::ApiError;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

const MIB: i64 = 1024 * 1024;

/// The largest file a client may attach, before encryption.
pub const MAX_ATTACHMENT_PLAINTEXT_BYTES: i64 = 100 * MIB;
/// What AES-256-GCM adds to a file: its 16-byte authentication tag.
pub const ATTACHMENT_TAG_BYTES: i64 = 16;
/// The largest upload: the largest file, encrypted.
pub const MAX_ATTACHMENT_BYTES: i64 = MAX_ATTACHMENT_PLAINTEXT_BYTES + ATTACHMENT_TAG_BYTES;
/// Every part but the last has exactly this size. R2 needs at least 5 MiB for each part but the
/// last; more would make each request longer and progress coarser for nothing.
pub const ATTACHMENT_PART_BYTES: i64 = 5 * MIB;
/// The bytes one user may keep stored, unfinished uploads included, unless the server's
/// ATTACHMENT_QUOTA_BYTES says otherwise.
pub const DEFAULT_ATTACHMENT_QUOTA_BYTES: i64 = 1024 * MIB;
/// Unfinished uploads one user may have at once: enough to send an album, few enough that
/// reservations cannot pile up.
pub const MAX_UNFINISHED_UPLOADS_PER_USER: i64 = 20;
/// Uploads one message may refer to.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;
/// How long an upload may wait for a message to refer to it (or, unfinished, for its last part)
/// before the sweep deletes it: a day covers a sender who went offline before sending.
pub const UNREFERENCED_ATTACHMENT_GRACE_SECONDS: i64 = 24 * 60 * 60;

/// `POST /conversations/:id/attachments`: reserves an upload of `size` bytes of ciphertext.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateAttachmentRequest {
    /// The ciphertext's exact size in bytes (the file's size plus the 16-byte GCM tag).
    #[schemars(with = "i64", range(min = 1, max = MAX_ATTACHMENT_BYTES))]
    #[ts(as = "i64")]
    pub size: serde_json::Number,
}

impl CreateAttachmentRequest {
    /// JSON does not tell 14521 from 14521.0, and JSON Schema's `integer` takes both: a whole
    /// number is read whichever way it is written (one too large for an i64 as the largest, so
    /// too large), and a fraction is refused.
    pub fn validate(&self) -> Result<i64, ApiError> {
        let whole = match (self.size.as_i64(), self.size.as_f64()) {
            (Some(n), _) => n,
            (None, Some(n)) if n.fract() == 0.0 => n as i64,
            _ => return Err(ApiError::bad_request("invalid_field", "size must be a whole number of bytes.")),
        };
        match whole {
            size if size < 1 => Err(ApiError::bad_request("invalid_field", "size must be at least 1 byte.")),
            size if size > MAX_ATTACHMENT_BYTES => Err(attachment_too_large()),
            size => Ok(size),
        }
    }
}

pub fn attachment_too_large() -> ApiError {
    ApiError::new(
        413,
        "too_large",
        format!(
            "A file can be at most {} MiB (its upload, encrypted, {MAX_ATTACHMENT_BYTES} bytes).",
            MAX_ATTACHMENT_PLAINTEXT_BYTES / MIB
        ),
    )
}

/// How many parts an upload of `size` bytes is cut into.
pub fn part_count(size: i64) -> i64 {
    (size + ATTACHMENT_PART_BYTES - 1) / ATTACHMENT_PART_BYTES
}

/// The exact size of part `n` (1-based) of an upload of `size` bytes, or None when it has no such
/// part.
pub fn part_size(size: i64, n: i64) -> Option<i64> {
    let parts = part_count(size);
    match n {
        n if n < 1 || n > parts => None,
        n if n < parts => Some(ATTACHMENT_PART_BYTES),
        _ => Some(size - (parts - 1) * ATTACHMENT_PART_BYTES),
    }
}

/// A part number from the path: 1 to the upload's number of parts.
pub fn parse_part_number(raw: &str, size: i64) -> Result<(i64, i64), ApiError> {
    let parts = part_count(size);
    let n = raw.parse::<i64>().ok();
    match n.and_then(|n| part_size(size, n).map(|bytes| (n, bytes))) {
        Some(found) => Ok(found),
        None => Err(ApiError::bad_request(
            "invalid_part",
            format!(
                "This upload has parts 1 to {parts}; there is no part {:?}.",
                raw.chars().take(20).collect::<String>()
            ),
        )),
    }
}

/// An upload just reserved, and how to send it.
#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentUpload {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// The ciphertext's size, as reserved.
    #[schemars(range(min = 1, max = MAX_ATTACHMENT_BYTES))]
    pub size: i64,
    /// The size of every part but the last, which is the rest.
    #[schemars(range(min = 1, max = ATTACHMENT_PART_BYTES))]
    pub part_size: i64,
    /// Parts to send, numbered from 1.
    #[schemars(range(min = 1))]
    pub parts: i64,
}

/// A finished upload.
#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub uploader_id: Uuid,
    #[schemars(range(min = 1, max = MAX_ATTACHMENT_BYTES))]
    pub size: i64,
    pub created_at: DateTime<Utc>,
}

/// The ids a `send-message` refers to: at most `MAX_ATTACHMENTS_PER_MESSAGE`, each once.
pub fn validate_attachment_ids(ids: &[Uuid]) -> Result<(), ApiError> {
    if ids.len() > MAX_ATTACHMENTS_PER_MESSAGE {
        return Err(ApiError::bad_request(
            "too_many_attachments",
            format!("A message can carry at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments."),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if !ids.iter().all(|id| seen.insert(id)) {
        return Err(ApiError::bad_request("invalid_field", "attachmentIds names an upload twice."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_cut_into_equal_parts_and_the_rest() {
        assert_eq!(part_count(1), 1);
        assert_eq!(part_count(ATTACHMENT_PART_BYTES), 1);
        assert_eq!(part_count(ATTACHMENT_PART_BYTES + 1), 2);
        assert_eq!(part_count(MAX_ATTACHMENT_BYTES), 21);
        assert_eq!(part_size(10, 1), Some(10));
        assert_eq!(part_size(ATTACHMENT_PART_BYTES + 7, 1), Some(ATTACHMENT_PART_BYTES));
        assert_eq!(part_size(ATTACHMENT_PART_BYTES + 7, 2), Some(7));
        assert_eq!(part_size(ATTACHMENT_PART_BYTES + 7, 3), None);
        assert_eq!(part_size(10, 0), None);
        let total: i64 =
            (1..=part_count(MAX_ATTACHMENT_BYTES)).map(|n| part_size(MAX_ATTACHMENT_BYTES, n).unwrap()).sum();
        assert_eq!(total, MAX_ATTACHMENT_BYTES);
    }

    #[test]
    fn part_numbers_outside_the_upload_are_refused() {
        assert_eq!(parse_part_number("2", ATTACHMENT_PART_BYTES + 7).unwrap(), (2, 7));
        for raw in ["0", "3", "-1", "x", "", "1.0", "99999999999999999999"] {
            assert_eq!(parse_part_number(raw, ATTACHMENT_PART_BYTES + 7).unwrap_err().code, "invalid_part", "{raw}");
        }
    }

    fn size(json: &str) -> Result<i64, ApiError> {
        serde_json::from_str::<CreateAttachmentRequest>(&format!(r#"{{"size": {json}}}"#)).unwrap().validate()
    }

    #[test]
    fn sizes_are_bounded_by_the_largest_file_encrypted() {
        assert_eq!(size("1").unwrap(), 1);
        assert_eq!(size(&MAX_ATTACHMENT_BYTES.to_string()).unwrap(), 100 * MIB + 16);
        let too_large = size(&(MAX_ATTACHMENT_BYTES + 1).to_string()).unwrap_err();
        assert_eq!((too_large.status, too_large.code), (413, "too_large"));
        assert_eq!(size("0").unwrap_err().code, "invalid_field");
        assert_eq!(size("-5").unwrap_err().code, "invalid_field");
    }

    #[test]
    fn a_size_is_a_whole_number_however_it_is_written() {
        assert_eq!(size("14521").unwrap(), 14521);
        assert_eq!(size("14521.0").unwrap(), 14521);
        assert_eq!(size("1e3").unwrap(), 1000);
        assert_eq!(size("1e30").unwrap_err().code, "too_large");
        assert_eq!(size("18446744073709551615").unwrap_err().code, "too_large");
        assert_eq!(size("1.5").unwrap_err().code, "invalid_field");
        assert!(serde_json::from_str::<CreateAttachmentRequest>(r#"{"size": "10"}"#).is_err());
    }

    #[test]
    fn a_message_refers_to_a_few_uploads_each_once() {
        let ids: Vec<Uuid> = (0..MAX_ATTACHMENTS_PER_MESSAGE).map(|_| Uuid::new_v4()).collect();
        assert!(validate_attachment_ids(&ids).is_ok());
        let mut too_many = ids.clone();
        too_many.push(Uuid::new_v4());
        assert_eq!(validate_attachment_ids(&too_many).unwrap_err().code, "too_many_attachments");
        assert_eq!(validate_attachment_ids(&[ids[0], ids[0]]).unwrap_err().code, "invalid_field");
    }
}
