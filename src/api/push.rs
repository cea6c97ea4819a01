//! Web Push: GET /push/vapid-public-key, POST and DELETE /devices/me/push (the subscription of the
//! device this session acts as), and GET and PUT /conversations/:id/notifications (the caller's
//! mute of a conversation). Sending is the hubs' (`hub::push`).

use super::{Caller, Ctx, Reply};
use crate::db::push::{self, MuteRead};
use crate::db::throttles::{self, describe_wait, Claim, Throttle, PUSH_SUBSCRIPTION_CHANGES};
use crate::db::Client;
use crate::error::{ApiError, ApiResult};
use crate::hub;
use crate::protocol::PushSubscriptionRequest;
use crate::protocol::{parse_uuid, NotificationSettings, NotificationSettingsRequest, PushServerKey};
use crate::push::VapidKey;
use uuid::Uuid;

/// The server's VAPID public key, or null when push is off. Public: it is the key browsers hand
/// their push service, nothing secret.
pub async fn server_key(ctx: Ctx) -> ApiResult<Reply> {
    let public_key = match &ctx.config.push {
        Ok(settings) => Some(
            VapidKey::from_base64url(&settings.private_key).map_err(ApiError::misconfigured)?.public_key().to_string(),
        ),
        Err(_) => None,
    };
    Reply::json(200, &PushServerKey { public_key })
}

/// The device this session acts as: only a device has pushes to receive.
fn current_device(caller: &Caller) -> ApiResult<Uuid> {
    caller
        .device_id
        .ok_or_else(|| ApiError::not_found("This session has no device yet: register one with POST /devices."))
}

/// Stores the browser's push subscription for the session's device, replacing the one it had.
pub async fn subscribe(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let subscription = ctx.json::<PushSubscriptionRequest>()?.validate(&ctx.config.push_services)?;
    let device = current_device(&caller)?;
    if let Err(note) = &ctx.config.push {
        return Err(ApiError::new(503, "push_unavailable", note.clone()));
    }
    count_change(&db, device).await?;
    match push::subscribe(&db, device, &subscription).await {
        // Another device took the same endpoint at the same moment: one of the two wins.
        Err(e) if e.is_unique_violation() => {
            return Err(ApiError::conflict(
                "subscription_taken",
                "Another device registered this endpoint just now; try again.",
            ))
        }
        other => other?,
    }
    // The user's hub may have found them without a subscription, and not ask again for a while.
    hub::push_subscriptions_changed(&ctx.env, caller.id).await;
    Ok(Reply::no_content())
}

/// Stops pushes to the session's device. Asking again is no error. Never throttled: turning
/// notifications off must always work (it only ever deletes, and costs the hub nothing).
pub async fn unsubscribe(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let device = current_device(&caller)?;
    push::unsubscribe(&db, device).await?;
    Ok(Reply::no_content())
}

/// Counts one change of `device`'s subscription (`PUSH_SUBSCRIPTION_CHANGES`), before anything is
/// stored: past the limit, 429 and nothing changes.
async fn count_change(db: &Client, device: Uuid) -> ApiResult<()> {
    match throttles::claim(db, Throttle::PushSubscriptionChanges { device }).await? {
        Claim::Admitted(_) => Ok(()),
        Claim::Refused { retry_after_secs } => {
            let wait = retry_after_secs.max(1);
            Err(ApiError::new(
                429,
                "too_many_subscription_changes",
                format!(
                    "This device changed its push subscription {} times in the last hour; try again in {}.",
                    PUSH_SUBSCRIPTION_CHANGES.limit,
                    describe_wait(wait)
                ),
            )
            .with_retry_after(wait as u32))
        }
    }
}

fn settings(conversation: Uuid, read: MuteRead) -> ApiResult<Reply> {
    match read {
        MuteRead::Member { mute, now } => Reply::json(200, &NotificationSettings::at(conversation, mute, now)),
        MuteRead::NotAMember => Err(ApiError::not_a_member()),
        MuteRead::NotFound => Err(ApiError::not_found("There is no such conversation.")),
    }
}

pub async fn get_notifications(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let conversation = parse_uuid(ctx.param(0), "id")?;
    settings(conversation, push::mute(&db, conversation, caller.id).await?)
}

/// Mutes or unmutes a conversation for the caller alone: the other members neither see it nor
/// are affected.
pub async fn set_notifications(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let mute = ctx.json::<NotificationSettingsRequest>()?.validate()?;
    let conversation = parse_uuid(ctx.param(0), "id")?;
    settings(conversation, push::set_mute(&db, conversation, caller.id, mute).await?)
}
