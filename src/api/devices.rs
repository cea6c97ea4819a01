//! Devices and their MLS key packages: POST /devices, GET /users/:id/devices, DELETE /devices/:id,
//! POST /devices/:id/key-packages, GET /devices/:id/key-packages/count and
//! POST /users/:id/key-packages/claim.
//!
//! A device's credential and key packages are public by design (anyone starting a conversation
//! needs them); only the device's owner may add to or remove them.

use super::auth::confirm_password;
use super::{Caller, Ctx, Reply};
use crate::auth::{verify_device_proof, verify_device_signature};
use crate::db::devices::{self, Revocation, Uploaded};
use crate::db::{members, sessions, users, Client};
use crate::error::{ApiError, ApiResult};
use crate::hub;
use crate::protocol::{decode_exact, device_revocation_message, parse_uuid, ServerEvent, DEVICE_PROOF_BYTES};
use crate::protocol::{
    BindDeviceRequest, ClaimRequest, DeviceList, DeviceLookup, DeviceLookupRequest, RegisterDeviceRequest,
    RemoveDeviceRequest, UploadKeyPackagesRequest, UserDevices, MAX_KEY_PACKAGES_PER_DEVICE,
};
use crate::views;
use uuid::Uuid;

pub async fn register(ctx: Ctx) -> ApiResult<Reply> {
    let (mut db, caller) = ctx.authenticate().await?;
    let device = ctx.json::<RegisterDeviceRequest>()?.validate()?;
    // A session acts as one device for its life. Otherwise a token taken from a device could
    // register a new one and live on after the owner removes the device it was taken from.
    if caller.device_id.is_some() {
        return Err(ApiError::conflict(
            "session_has_device",
            "This session already belongs to a device; log in again to set up a new one.",
        ));
    }
    let registered = match devices::register_first(&mut db, caller.id, &device).await {
        Err(e) if e.is_unique_violation() => {
            return Err(ApiError::conflict(
                "credential_taken",
                "Another device already uses this credential; make a new key.",
            ))
        }
        other => other?,
    };
    // Knowing the password is not enough to add a reader to the account: a further device joins
    // only when one the account has approves it, or by a reset that removes all the others.
    let row = registered.ok_or_else(|| {
        ApiError::new(
            403,
            "link_required",
            "This account already has a device: approve this browser from it (POST /devices/links), or, if every \
             device is lost, start over with POST /devices/reset.",
        )
    })?;
    sessions::bind_device(&db, caller.session_id, row.id).await?;
    Reply::json(201, &views::device(row))
}

pub async fn list_for_user(ctx: Ctx) -> ApiResult<Reply> {
    let (db, _caller) = ctx.authenticate().await?;
    let user = parse_uuid(ctx.param(0), "id")?;
    if !users::exists(&db, user).await? {
        return Err(ApiError::not_found("There is no user with this id."));
    }
    let devices = devices::list(&db, user).await?.into_iter().map(views::device).collect();
    Reply::json(200, &DeviceList { devices })
}

pub async fn lookup(ctx: Ctx) -> ApiResult<Reply> {
    let (db, _caller) = ctx.authenticate().await?;
    let request = ctx.json::<DeviceLookupRequest>()?;
    let users = request.validate()?;
    let found = devices::list_for_users(&db, &users).await?;
    let mut removed = std::collections::HashMap::<Uuid, Vec<_>>::new();
    if request.include_removed {
        for (user, row) in devices::removed_for_users(&db, &users).await? {
            removed.entry(user).or_default().push(views::device(row));
        }
    }
    let users = found
        .into_iter()
        .map(|(user_id, rows)| UserDevices {
            user_id,
            devices: rows.into_iter().map(views::device).collect(),
            removed: request.include_removed.then(|| removed.remove(&user_id).unwrap_or_default()),
        })
        .collect();
    Reply::json(200, &DeviceLookup { users })
}

/// A session proves it runs on one of the account's devices by that device's signature over the
/// session's id (`DEVICE_PROOF_CONTEXT`), and acts as that device from then on. A new login on a
/// browser that already has a device uses this; knowing the password is not enough to act as a
/// device, which only its key can.
pub async fn bind(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let signature = ctx.json::<BindDeviceRequest>()?.validate()?;
    let device = parse_uuid(ctx.param(0), "id")?;
    if !devices::belongs_to(&db, device, caller.id).await? {
        return Err(ApiError::not_found("You have no device with this id."));
    }
    let another_device =
        || ApiError::conflict("session_has_device", "This session belongs to another of your devices; log in again.");
    if caller.device_id.is_some_and(|own| own != device) {
        return Err(another_device());
    }
    let row =
        devices::get(&db, device).await?.ok_or_else(|| ApiError::not_found("You have no device with this id."))?;
    if !verify_device_proof(&row.credential, caller.session_id, &signature) {
        return Err(ApiError::new(
            403,
            "invalid_proof",
            "The signature does not prove that this session runs on that device.",
        ));
    }
    if !sessions::bind_device(&db, caller.session_id, device).await? {
        return Err(another_device());
    }
    Ok(Reply::no_content())
}

/// Removes a device. A session removes its own device freely; another of the account's devices
/// only from a device of the account, with the password entered again, so that neither a stolen
/// token nor the password alone (from a new browser) can wipe the owner's devices.
pub async fn delete(ctx: Ctx) -> ApiResult<Reply> {
    let (mut db, caller) = ctx.authenticate().await?;
    let device = parse_uuid(ctx.param(0), "id")?;
    let request: RemoveDeviceRequest =
        if ctx.body.iter().all(u8::is_ascii_whitespace) { RemoveDeviceRequest::default() } else { ctx.json()? };
    let signature =
        request.revocation.as_deref().map(|r| decode_exact("revocation", r, DEVICE_PROOF_BYTES)).transpose()?;
    let keep = request.keep()?;
    if !devices::belongs_to(&db, device, caller.id).await? {
        return Err(ApiError::not_found("You have no device with this id."));
    }
    let row = devices::get(&db, device).await?;
    if caller.device_id != Some(device) {
        if caller.device_id.is_none() {
            return Err(ApiError::new(
                403,
                "device_required",
                "Remove your other devices from one of your devices, or from the device itself.",
            ));
        }
        let password = request.password.ok_or_else(|| {
            ApiError::new(403, "password_required", "Enter your password again to remove another of your devices.")
        })?;
        confirm_password(&db, &caller, &password).await?;
    }
    // The revocation, if given, must be the removing device's own signature over the removed key:
    // the user's other devices trust it to stop trusting that device for good.
    let revocation = match (signature, caller.device_id, row) {
        (None, _, _) => None,
        (Some(signature), Some(by), Some(removed)) => {
            let signer = devices::get(&db, by).await?.ok_or_else(device_not_bound)?;
            let message = device_revocation_message(caller.id, device, &removed.credential, &keep);
            if !verify_device_signature(&signer.credential, message.as_bytes(), &signature) {
                return Err(ApiError::new(
                    403,
                    "invalid_revocation",
                    "The revocation is not this device's signature over the removed device's key.",
                ));
            }
            Some((by, signature))
        }
        (Some(_), _, _) => return Err(device_not_bound()),
    };
    let revocation = revocation.as_ref().map(|(by, signature)| Revocation { by: *by, signature, keep: &keep });
    let Some(ended) = devices::delete(&mut db, caller.id, device, revocation).await? else {
        return Err(ApiError::not_found("You have no device with this id."));
    };
    announce_removed(&ctx, &db, caller.id, device, ended).await?;
    Ok(Reply::no_content())
}

/// A removed device's leaves stay in every group until a member commits their removal: tell
/// every device that may, not only the user's own (who may have no other device online), and
/// close the removed device's sockets, and those of `sessions` (which acted as it).
pub(super) async fn announce_removed(
    ctx: &Ctx,
    db: &Client,
    user: Uuid,
    device: Uuid,
    sessions: Vec<Uuid>,
) -> ApiResult<()> {
    let event = ServerEvent::DeviceRemoved { user_id: user, device_id: device };
    let mut recipients = members::partner_ids(db, user).await?;
    recipients.push(user);
    futures_util::future::join_all(recipients.into_iter().map(|to| hub::notify(&ctx.env, to, &event))).await;
    hub::disconnect(&ctx.env, user, hub::Disconnect::device(device, sessions)).await;
    Ok(())
}

/// The caller's own device named in the path (its id, or `me`); someone else's device is "not
/// found", not "forbidden", so device ids cannot be probed. A session acting as a device manages
/// that one.
async fn own_device(ctx: &Ctx, db: &Client, caller: &Caller) -> ApiResult<Uuid> {
    // `me`: the device this session acts as.
    let device = match ctx.param(0) {
        "me" => caller
            .device_id
            .ok_or_else(|| ApiError::not_found("This session has no device yet: register one with POST /devices."))?,
        id => parse_uuid(id, "id")?,
    };
    if !devices::belongs_to(db, device, caller.id).await? {
        return Err(ApiError::not_found("You have no device with this id."));
    }
    match caller.device_id {
        Some(own) if own == device => Ok(device),
        Some(_) => Err(ApiError::forbidden("This session belongs to another of your devices.")),
        None => Err(device_not_bound()),
    }
}

/// A session that has not shown it runs on the device it names.
pub fn device_not_bound() -> ApiError {
    ApiError::new(
        403,
        "device_not_bound",
        "This session has not proved it runs on that device: sign in on it with POST /devices/:id/bind.",
    )
}

pub async fn upload_key_packages(ctx: Ctx) -> ApiResult<Reply> {
    let (mut db, caller) = ctx.authenticate().await?;
    let upload = ctx.json::<UploadKeyPackagesRequest>()?.validate()?;
    let device = own_device(&ctx, &db, &caller).await?;
    match devices::upload_key_packages(&mut db, device, &upload).await? {
        Uploaded::OverQuota { unclaimed } => Err(ApiError::conflict(
            "too_many_key_packages",
            format!("This device holds {unclaimed} unclaimed key packages; it may hold {MAX_KEY_PACKAGES_PER_DEVICE}."),
        )),
        Uploaded::Stored { became_addable } => {
            let count = devices::key_package_count(&db, device).await?;
            if became_addable {
                announce_device(&ctx, &db, caller.id, device).await?;
            }
            Reply::json(200, &views::key_package_count(count))
        }
    }
}

/// A device with KeyPackages can be added to groups. The user's other devices add it to theirs;
/// the people they talk to learn of it too, so a conversation the user had no device for when it
/// was set up gets healed.
async fn announce_device(ctx: &Ctx, db: &Client, user: Uuid, device: Uuid) -> ApiResult<()> {
    let Some(row) = devices::get(db, device).await? else { return Ok(()) };
    let event = ServerEvent::DeviceAdded { user_id: user, device: views::device(row) };
    let mut recipients = members::partner_ids(db, user).await?;
    recipients.push(user);
    futures_util::future::join_all(recipients.into_iter().map(|to| hub::notify(&ctx.env, to, &event))).await;
    Ok(())
}

pub async fn key_package_count(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let device = own_device(&ctx, &db, &caller).await?;
    Reply::json(200, &views::key_package_count(devices::key_package_count(&db, device).await?))
}

pub async fn claim(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    // The body is optional: no body claims for every device of the user.
    let request = if ctx.body.iter().all(u8::is_ascii_whitespace) { ClaimRequest::default() } else { ctx.json()? };
    let user = parse_uuid(ctx.param(0), "id")?;
    if !users::exists(&db, user).await? {
        return Err(ApiError::not_found("There is no user with this id."));
    }
    let claimed = devices::claim(&db, caller.id, user, request.device_ids.as_deref()).await?;
    Reply::json(200, &views::claim(claimed))
}
