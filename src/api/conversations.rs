//! POST /conversations (a group), GET /conversations (mine), GET and PATCH /conversations/:peerId,
//! GET /conversations/:peerId/messages and DELETE /conversations/:id/messages/:messageId.
//!
//! `:peerId` is the other user's id (the seed's 1:1 addressing) or a conversation id the caller
//! is a member of, so the same routes serve groups. Either way only members read a conversation.

use super::{Caller, Ctx, Reply};
use crate::cursor::{IdCursor, MessageCursor};
use crate::db::conversations::{self, ConversationRow, TimerChange};
use crate::db::departures::{self, LeaveOutcome};
use crate::db::messages::Retraction;
use crate::db::throttles::{self, describe_wait, Claim, Throttle, GROUP_CREATIONS};
use crate::db::{members, messages, users, Client};
use crate::error::{ApiError, ApiResult};
use crate::hub;
use crate::protocol::{group_adds_refused, CreateGroupRequest, LeaveRequest, ServerEvent, UpdateConversationRequest};
use crate::protocol::{parse_uuid, ConversationView, Page};
use crate::views;
use uuid::Uuid;

enum Target {
    /// A conversation the caller is a member of, and the seq after which they may read it.
    Conversation(Uuid, i64),
    Peer(Uuid),
}

async fn resolve(db: &Client, caller: &Caller, id: Uuid) -> ApiResult<Target> {
    match conversations::membership(db, id, caller.id).await?.map(|m| m.member) {
        Some(Some(member)) => Ok(Target::Conversation(id, member.joined_seq)),
        Some(None) => Err(ApiError::not_a_member()),
        None if id == caller.id => Err(ApiError::bad_request(
            "self_conversation",
            "A conversation needs another person; you cannot start one with yourself.",
        )),
        None if users::exists(db, id).await? => Ok(Target::Peer(id)),
        None => Err(ApiError::not_found("There is no user or conversation with this id.")),
    }
}

pub async fn get(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let conversation = peer_or_conversation(&db, &caller, &ctx).await?;
    reply_with_view(&db, conversation).await
}

/// The conversation `:peerId` names: one the caller is in, or their 1:1 with that user (made on
/// first use).
async fn peer_or_conversation(db: &Client, caller: &Caller, ctx: &Ctx) -> ApiResult<Uuid> {
    let id = parse_uuid(ctx.param(0), "peerId")?;
    Ok(match resolve(db, caller, id).await? {
        Target::Conversation(id, _) => id,
        Target::Peer(peer) => conversations::ensure_direct(db, caller.id, peer).await?,
    })
}

async fn reply_with_view(db: &Client, conversation: Uuid) -> ApiResult<Reply> {
    let view =
        view(db, conversation).await?.ok_or_else(|| ApiError::not_found("This conversation was just deleted."))?;
    Reply::json(200, &view)
}

/// Sets the conversation's disappearing-messages timer: any member of a 1:1, an owner or admin of
/// a group. The server deletes the ciphertext of application messages sent from then on once the
/// timer has run out; members hear of the change from the member who made it, inside MLS.
pub async fn update(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let timer = ctx.json::<UpdateConversationRequest>()?.validate()?;
    let conversation = peer_or_conversation(&db, &caller, &ctx).await?;
    match conversations::set_timer(&db, conversation, caller.id, timer).await? {
        TimerChange::Changed => {}
        TimerChange::NotFound => return Err(ApiError::not_found("This conversation was just deleted.")),
        TimerChange::NotAMember => return Err(ApiError::not_a_member()),
        TimerChange::NotAllowed => {
            return Err(ApiError::forbidden("In a group, only its owner and admins set disappearing messages."))
        }
    }
    reply_with_view(&db, conversation).await
}

/// Deletes a message for everyone: its ciphertext goes, its row stays as a tombstone so that
/// `seq` order and pages have no holes. Its sender may, and in a group an owner or admin. The
/// members' devices learn which message it was, and that they are to forget it, inside MLS.
pub async fn delete_message(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let conversation = parse_uuid(ctx.param(0), "id")?;
    let message = parse_uuid(ctx.param(1), "messageId")?;
    match messages::retract(&db, conversation, message, caller.id).await? {
        Retraction::Deleted => {
            // Its files go with it. The message is deleted whatever R2 says: an upload it could
            // not delete now stays marked, and the sweep deletes it.
            if let Err(e) = crate::attachments::delete_for_messages(&ctx.env, &db, &[message]).await {
                crate::error::log_error("delete_message.attachments", &e.to_string());
            }
            Ok(Reply::no_content())
        }
        Retraction::NotFound => {
            Err(ApiError::not_found("You are in no conversation with an application message of this id."))
        }
        Retraction::NotAllowed => Err(ApiError::forbidden(
            "Only its sender deletes a message for everyone (in a group, its owner and admins too).",
        )),
    }
}

/// Conversations with their members and departures, in two more queries whatever their number.
async fn with_members(db: &Client, rows: Vec<ConversationRow>) -> ApiResult<Vec<ConversationView>> {
    let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
    let members = members::of_conversations(db, &ids).await?;
    let departures = departures::of_conversations(db, &ids).await?;
    Ok(views::conversations(rows, members, departures))
}

async fn view(db: &Client, id: Uuid) -> ApiResult<Option<ConversationView>> {
    let rows = conversations::get(db, id).await?.into_iter().collect();
    Ok(with_members(db, rows).await?.pop())
}

pub async fn messages(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "peerId")?;
    let page = ctx.page::<MessageCursor>()?;
    let conversation = match resolve(&db, &caller, id).await? {
        Target::Conversation(id, joined_seq) => Some((id, joined_seq)),
        // Reading does not create: a pair that never talked simply has no messages.
        Target::Peer(peer) => conversations::direct_id(&db, caller.id, peer).await?.map(|id| (id, 0)),
    };
    let rows = match conversation {
        Some((conversation, joined_seq)) => messages::page(&db, conversation, joined_seq, &page).await?,
        None => Vec::new(),
    };
    Reply::json(200, &page.page(rows, |m| MessageCursor { created_at: m.created_at, id: m.id }).map(views::message))
}

/// Creates a group with the caller as its owner. Its MLS group is made by the creator's device,
/// whose first commit (from epoch 0) adds every member's devices.
pub async fn create(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let group = ctx.json::<CreateGroupRequest>()?.validate(caller.id)?;
    if let Claim::Refused { retry_after_secs } =
        throttles::claim(&db, Throttle::GroupCreations { user: caller.id }).await?
    {
        return Err(too_many_groups(retry_after_secs));
    }
    let refused = users::group_add_refusals(&db, caller.id, None, &group.member_ids).await?;
    if !refused.is_empty() {
        return Err(group_adds_refused(&refused.into_iter().map(|(_, name)| name).collect::<Vec<_>>()));
    }
    let id = conversations::create_group(&db, caller.id, &group)
        .await?
        .ok_or_else(|| ApiError::not_found("Some of memberIds are not users."))?;
    let view = view(&db, id).await?.ok_or_else(ApiError::internal)?;
    Reply::json(201, &view)
}

pub async fn list(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let page = ctx.page::<IdCursor>()?;
    let rows = conversations::list_for_user(&db, caller.id, &page).await?;
    let page = page.page(rows, |c| IdCursor { id: c.id });
    let items = with_members(&db, page.items).await?;
    Reply::json(200, &Page { items, next_cursor: page.next_cursor })
}

/// The caller leaves a group, signed by their device (see `DepartureView`): from now on the
/// server routes them nothing of it. The members who stay are told, so that one of their devices
/// commits the leaver's removal from the MLS group; so are the leaver's other devices.
pub async fn leave(ctx: Ctx) -> ApiResult<Reply> {
    let (mut db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "id")?;
    let signature = ctx.json::<LeaveRequest>()?.validate()?;
    let device = caller.device_id.ok_or_else(|| {
        ApiError::forbidden("Only a device that is in the group can leave it for you; this session has no device yet.")
    })?;
    let (departure, remaining) = match departures::leave(&mut db, id, caller.id, device, &signature).await? {
        LeaveOutcome::NotFound => return Err(ApiError::not_found("There is no such conversation.")),
        LeaveOutcome::NotAMember => return Err(ApiError::not_a_member()),
        LeaveOutcome::NotAGroup => {
            return Err(ApiError::bad_request(
                "not_a_group",
                "A direct conversation always has its two people; only a group can be left.",
            ))
        }
        LeaveOutcome::Left { departure, remaining } => (views::departure(departure), remaining),
    };
    let event = ServerEvent::MemberLeft { conversation_id: id, departure: departure.clone() };
    let recipients = remaining.into_iter().chain([caller.id]);
    futures_util::future::join_all(recipients.map(|to| hub::notify(&ctx.env, to, &event))).await;
    Reply::json(200, &departure)
}

fn too_many_groups(retry_after_secs: i32) -> ApiError {
    let wait = retry_after_secs.max(1);
    ApiError::new(
        429,
        "too_many_groups",
        format!(
            "You have created {} groups in the last hour; try again in {}.",
            GROUP_CREATIONS.limit,
            describe_wait(wait)
        ),
    )
    .with_retry_after(wait as u32)
}
