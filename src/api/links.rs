//! Linking a new browser to its account (POST/GET /devices/links, GET/DELETE /devices/links/:id,
//! POST /devices/links/:id/approve) and starting over with the password when every device is lost
//! (POST /devices/reset). See `protocol::links` for the protocol.

use super::auth::confirm_password;
use super::devices::{announce_removed, device_not_bound};
use super::{Caller, Ctx, Reply};
use crate::auth::verify_device_signature;
use crate::db::links::{self, Approved, LinkRow, Requested};
use crate::db::{devices, sessions};
use crate::error::{ApiError, ApiResult};
use crate::hub;
use crate::protocol::{
    encode, link_approval_message, parse_uuid, ApproveLinkRequest, LinkRequest, LinkStatus, LinkView, PendingLinkView,
    PendingLinks, ResetDevicesRequest, MAX_DEVICES_PER_USER, MAX_PENDING_LINKS_PER_USER,
};
use crate::views;

fn pending_view(row: LinkRow) -> PendingLinkView {
    PendingLinkView {
        id: row.id,
        label: row.label,
        credential: encode(&row.credential),
        code_mac: encode(&row.code_mac),
        created_at: row.created_at,
        expires_at: row.expires_at,
    }
}

fn session_has_device() -> ApiError {
    ApiError::conflict("session_has_device", "This session already acts as a device; log in again on the new browser.")
}

fn no_such_link() -> ApiError {
    ApiError::not_found("There is no such link request waiting (it expired, was cancelled or was declined).")
}

/// A session that acts as one of the account's devices: only such may see and answer requests.
fn require_device(caller: &Caller) -> ApiResult<uuid::Uuid> {
    caller.device_id.ok_or_else(|| {
        ApiError::new(403, "device_required", "Only one of your devices can see and answer link requests.")
    })
}

pub async fn request(ctx: Ctx) -> ApiResult<Reply> {
    let (mut db, caller) = ctx.authenticate().await?;
    let link = ctx.json::<LinkRequest>()?.validate()?;
    if caller.device_id.is_some() {
        return Err(session_has_device());
    }
    match links::request(&mut db, caller.id, caller.session_id, &link).await? {
        Requested::Created(row) => {
            let view = LinkView { id: row.id, status: LinkStatus::Pending, expires_at: row.expires_at, device: None, approver_proof: None };
            Reply::json(201, &view)
        }
        Requested::NoDevices => Err(ApiError::conflict(
            "no_device_to_link",
            "This account has no device to approve a link: set this browser up as its first with POST /devices.",
        )),
        Requested::TooMany => Err(ApiError::new(
            429,
            "too_many_link_requests",
            format!("{MAX_PENDING_LINKS_PER_USER} browsers are already waiting to be linked to this account; try again later."),
        )),
    }
}

pub async fn list_pending(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    require_device(&caller)?;
    let links = links::pending(&db, caller.id).await?.into_iter().map(pending_view).collect();
    Reply::json(200, &PendingLinks { links })
}

/// Where the caller's own request stands; once approved, the device it is now.
pub async fn status(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "id")?;
    let row = links::get(&db, caller.id, id)
        .await?
        .filter(|row| row.session_id == caller.session_id)
        .ok_or_else(no_such_link)?;
    let view = match row.approved_at {
        None => {
            LinkView { id, status: LinkStatus::Pending, expires_at: row.expires_at, device: None, approver_proof: None }
        }
        Some(_) => {
            let device = devices::get(&db, id).await?.ok_or_else(no_such_link)?;
            LinkView {
                id,
                status: LinkStatus::Approved,
                expires_at: row.expires_at,
                device: Some(views::device(device)),
                approver_proof: row.approver_proof.as_deref().map(encode),
            }
        }
    };
    Reply::json(200, &view)
}

pub async fn approve(ctx: Ctx) -> ApiResult<Reply> {
    let (mut db, caller) = ctx.authenticate().await?;
    let approval = ctx.json::<ApproveLinkRequest>()?.validate()?;
    let id = parse_uuid(ctx.param(0), "id")?;
    let approver_id = require_device(&caller)?;
    let link =
        links::get(&db, caller.id, id).await?.filter(|row| row.approved_at.is_none()).ok_or_else(no_such_link)?;
    let approver = devices::get(&db, approver_id).await?.ok_or_else(device_not_bound)?;
    let message = link_approval_message(caller.id, link.id, &link.credential);
    if !verify_device_signature(&approver.credential, message.as_bytes(), &approval.signature) {
        return Err(ApiError::new(
            403,
            "invalid_approval",
            "The signature is not this device's approval of that browser's key.",
        ));
    }
    let outcome =
        links::approve(&mut db, caller.id, &link, approver_id, &approval.signature, &approval.approver_proof).await;
    match outcome {
        Err(e) if e.is_unique_violation() => {
            Err(ApiError::conflict("credential_taken", "Another device already uses that browser's key."))
        }
        Ok(Approved::NotPending) => Err(no_such_link()),
        Ok(Approved::TooManyDevices) => Err(ApiError::conflict(
            "too_many_devices",
            format!("You have {MAX_DEVICES_PER_USER} devices already; remove one you no longer use first."),
        )),
        Ok(Approved::Linked(row)) => Reply::json(201, &views::device(*row)),
        Err(e) => Err(e.into()),
    }
}

/// Cancelled by the browser that asked, or declined by one of the account's devices.
pub async fn delete(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "id")?;
    let row = links::get(&db, caller.id, id).await?.ok_or_else(no_such_link)?;
    if row.session_id != caller.session_id {
        require_device(&caller)?;
    }
    if row.approved_at.is_some() {
        return Err(ApiError::conflict("link_approved", "That browser was linked already; remove the device instead."));
    }
    if !links::delete(&db, caller.id, id).await? {
        return Err(no_such_link());
    }
    Ok(Reply::no_content())
}

/// Every device is lost: with the password entered again, this browser becomes the account's only
/// device. The others are removed from the account (their sessions end) and, by the members'
/// devices that `device-removed` reaches, from every group; the people the user talks to see
/// their devices change. Every other session of the account ends too.
pub async fn reset(ctx: Ctx) -> ApiResult<Reply> {
    let (mut db, caller) = ctx.authenticate().await?;
    let (device, password) = ctx.json::<ResetDevicesRequest>()?.validate()?;
    if caller.device_id.is_some() {
        return Err(session_has_device());
    }
    confirm_password(&db, &caller, &password).await?;
    let (row, removed) = match devices::replace_all(&mut db, caller.id, &device).await {
        Err(e) if e.is_unique_violation() => {
            return Err(ApiError::conflict(
                "credential_taken",
                "Another device already uses this credential; make a new key.",
            ))
        }
        other => other?,
    };
    sessions::bind_device(&db, caller.session_id, row.id).await?;
    let others = sessions::end_others(&db, caller.id, caller.session_id).await?;
    hub::disconnect(&ctx.env, caller.id, hub::Disconnect::sessions(others)).await;
    for device in removed {
        // Their sessions ended with every other session of the account, above.
        announce_removed(&ctx, &db, caller.id, device, Vec::new()).await?;
    }
    Reply::json(201, &views::device(row))
}
