//! POST /conversations/:id/attachments, PUT /attachments/:id/parts/:n,
//! POST /attachments/:id/complete, GET /attachments/:id and DELETE /attachments/:id: encrypted
//! uploads to R2 (see `protocol::attachments`). The bytes pass through as they came, never read:
//! a part's request body is handed to R2 as a stream, and a download is R2's stream.
//!
//! An upload is private to its conversation: to anyone who is not a member now it does not exist
//! (404, the same as an id nobody made), so an id seen elsewhere tells nothing. Only its uploader
//! writes, completes or cancels it, and only while a member.

use super::{Caller, Ctx, Download, Reply};
use crate::attachments::{bucket, object_key, purge, storage_unavailable};
use crate::db::attachments::{self, AttachmentRow, Cancel, Reservation};
use crate::error::{ApiError, ApiResult};
use crate::protocol::{
    parse_part_number, parse_uuid, part_count, AttachmentUpload, AttachmentView, CreateAttachmentRequest,
    ATTACHMENT_PART_BYTES, MAX_UNFINISHED_UPLOADS_PER_USER,
};
use uuid::Uuid;
use worker::{web_sys, UploadedPart};

fn no_such_attachment() -> ApiError {
    ApiError::not_found("There is no such attachment in your conversations.")
}

fn view(row: &AttachmentRow) -> ApiResult<AttachmentView> {
    Ok(AttachmentView {
        id: row.id,
        conversation_id: row.conversation_id.ok_or_else(no_such_attachment)?,
        uploader_id: row.uploader_id.ok_or_else(no_such_attachment)?,
        size: row.size,
        created_at: row.created_at,
    })
}

/// The caller's own upload, still open, in a conversation they are still a member of.
async fn own_open_upload(db: &crate::db::Client, caller: &Caller, id: Uuid) -> ApiResult<AttachmentRow> {
    match attachments::get_for(db, id, caller.id).await? {
        Some((row, true)) if row.uploader_id == Some(caller.id) => {
            if row.is_uploading() {
                Ok(row)
            } else {
                Err(ApiError::conflict("upload_closed", "This upload is already complete or cancelled."))
            }
        }
        _ => Err(no_such_attachment()),
    }
}

/// Reserves an upload of `size` bytes of ciphertext and opens its multipart upload in R2.
pub async fn create(ctx: Ctx) -> ApiResult<Reply> {
    let (mut db, caller) = ctx.authenticate().await?;
    let conversation = parse_uuid(ctx.param(0), "id")?;
    let size = ctx.json::<CreateAttachmentRequest>()?.validate()?;
    let bucket = bucket(&ctx.env)?;
    let quota = ctx.config.attachment_quota_bytes;
    let row = match attachments::reserve(&mut db, Uuid::new_v4(), conversation, caller.id, size, quota).await? {
        Reservation::Reserved(row) => row,
        Reservation::NoConversation => return Err(ApiError::not_found("There is no such conversation.")),
        Reservation::NotAMember => return Err(ApiError::not_a_member()),
        Reservation::OverQuota { stored_bytes } => return Err(over_quota(stored_bytes, size, quota)),
        Reservation::TooManyUnfinished => {
            return Err(ApiError::new(
                429,
                "too_many_uploads",
                format!(
                    "You have {MAX_UNFINISHED_UPLOADS_PER_USER} uploads under way; finish or cancel one before starting another."
                ),
            ))
        }
    };
    let opened = bucket.create_multipart_upload(object_key(row.id)).execute().await;
    let upload_id = match opened {
        Ok(multipart) => multipart.upload_id().await,
        Err(e) => {
            // Nothing was written: give the reservation back.
            if let Ok(Cancel::Doomed(doomed)) = attachments::doom_own(&db, row.id, caller.id).await {
                let _ = attachments::forget(&db, &[doomed.id]).await;
            }
            return Err(storage_unavailable("attachments.create", e));
        }
    };
    attachments::set_upload_id(&db, row.id, &upload_id).await?;
    let upload = AttachmentUpload {
        id: row.id,
        conversation_id: conversation,
        size,
        part_size: ATTACHMENT_PART_BYTES.min(size),
        parts: part_count(size),
    };
    Reply::json(201, &upload)
}

fn over_quota(stored_bytes: i64, size: i64, quota: i64) -> ApiError {
    let mib = |bytes: i64| format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0));
    ApiError::new(
        413,
        "quota_exceeded",
        format!(
            "This file ({}) does not fit in your storage: you use {} of {}. Files leave it when their messages are deleted.",
            mib(size),
            mib(stored_bytes),
            mib(quota)
        ),
    )
}

/// Sends part `n` of an open upload: the request body, of exactly the part's size, streamed to R2.
pub async fn upload_part(
    ctx: Ctx,
    body: Option<web_sys::ReadableStream>,
    content_length: Option<String>,
) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "id")?;
    let row = own_open_upload(&db, &caller, id).await?;
    let (n, expected) = parse_part_number(ctx.param(1), row.size)?;
    // The length is checked before a byte is read; the runtime then delivers exactly that many.
    let Some(length) = content_length.and_then(|v| v.trim().parse::<i64>().ok()) else {
        return Err(ApiError::new(411, "length_required", "Send the part with its Content-Length."));
    };
    if length != expected {
        return Err(ApiError::bad_request(
            "wrong_part_size",
            format!("Part {n} of this upload is exactly {expected} bytes, not {length}."),
        ));
    }
    let body = body.ok_or_else(|| {
        ApiError::bad_request("wrong_part_size", format!("Part {n} is {expected} bytes; the body is empty."))
    })?;
    let upload_id = row.upload_id.ok_or_else(|| ApiError::conflict("upload_closed", "This upload is not open."))?;
    let bucket = bucket(&ctx.env)?;
    let multipart = bucket
        .resume_multipart_upload(object_key(id), upload_id)
        .map_err(|e| storage_unavailable("attachments.part", e))?;
    // Part numbers are at most part_count(MAX_ATTACHMENT_BYTES), far below u16::MAX.
    let part = multipart.upload_part(n as u16, body).await.map_err(|e| storage_unavailable("attachments.part", e))?;
    if !attachments::record_part(&db, id, n as i32, &part.etag()).await? {
        return Err(ApiError::conflict("upload_closed", "This upload was completed or cancelled meanwhile."));
    }
    Ok(Reply::no_content())
}

/// Closes an upload whose every part was sent; from then on members can read it and a message
/// can refer to it.
pub async fn complete(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "id")?;
    let row = own_open_upload(&db, &caller, id).await?;
    let missing: Vec<String> = (1..=part_count(row.size))
        .filter(|n| row.part_etags.get(*n as usize - 1).cloned().flatten().is_none())
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::conflict(
            "parts_missing",
            format!("Send every part first; missing: {}.", missing.join(", ")),
        ));
    }
    let upload_id =
        row.upload_id.clone().ok_or_else(|| ApiError::conflict("upload_closed", "This upload is not open."))?;
    let parts = row
        .part_etags
        .iter()
        .enumerate()
        .map(|(i, etag)| UploadedPart::new(i as u16 + 1, etag.clone().unwrap_or_default()));
    let bucket = bucket(&ctx.env)?;
    let multipart = bucket
        .resume_multipart_upload(object_key(id), upload_id)
        .map_err(|e| storage_unavailable("attachments.complete", e))?;
    let object = multipart.complete(parts).await.map_err(|e| storage_unavailable("attachments.complete", e))?;
    if object.size() as i64 != row.size {
        // Cannot happen with parts of checked sizes; never let a wrong object be read.
        crate::error::log_error("attachments.complete", "the completed object's size differs from the reservation");
        if let Cancel::Doomed(doomed) = attachments::doom_own(&db, id, caller.id).await? {
            purge(&db, &bucket, &[doomed]).await?;
        }
        return Err(ApiError::internal());
    }
    let row = attachments::mark_complete(&db, id)
        .await?
        .ok_or_else(|| ApiError::conflict("upload_closed", "This upload was cancelled meanwhile."))?;
    Reply::json(200, &view(&row)?)
}

/// The ciphertext of a complete upload, to a member of its conversation, as R2 streams it.
pub async fn download(ctx: Ctx) -> ApiResult<Download> {
    let (db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "id")?;
    match attachments::get_for(&db, id, caller.id).await? {
        Some((row, true)) if row.is_complete() => {}
        _ => return Err(no_such_attachment()),
    }
    let object = bucket(&ctx.env)?
        .get(object_key(id))
        .execute()
        .await
        .map_err(|e| storage_unavailable("attachments.download", e))?
        .ok_or_else(no_such_attachment)?;
    let length = object.size();
    let body = object
        .body()
        .ok_or_else(no_such_attachment)?
        .response_body()
        .map_err(|e| storage_unavailable("attachments.download", e))?;
    Ok(Download { body, length })
}

/// Cancels the caller's upload (finished or not) that no message refers to: its bytes and its
/// row go at once.
pub async fn cancel(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "id")?;
    match attachments::doom_own(&db, id, caller.id).await? {
        Cancel::NotFound => Err(no_such_attachment()),
        Cancel::Referenced => Err(ApiError::conflict(
            "attachment_in_use",
            "A message refers to this attachment; it is deleted with that message.",
        )),
        Cancel::Doomed(doomed) => {
            purge(&db, &bucket(&ctx.env)?, &[doomed]).await?;
            Ok(Reply::no_content())
        }
    }
}
