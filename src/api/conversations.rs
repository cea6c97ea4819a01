//! POST /conversations (a group), GET /conversations (mine), GET /conversations/:peerId and
//! GET /conversations/:peerId/messages.
//!
//! `:peerId` is the other user's id (the seed's 1:1 addressing) or a conversation id the caller
//! is a member of, so the same routes serve groups. Either way only members read a conversation.

use super::{Caller, Ctx, Reply};
use crate::cursor::{into_page, parse_limit, IdCursor, MessageCursor};
use crate::db::{conversations, messages, users, Client};
use crate::error::{ApiError, ApiResult};
use crate::protocol::parse_uuid;
use crate::protocol::CreateGroupRequest;
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
    let id = parse_uuid(ctx.param(0), "peerId")?;
    let conversation = match resolve(&db, &caller, id).await? {
        Target::Conversation(id, _) => id,
        Target::Peer(peer) => conversations::ensure_direct(&db, caller.id, peer).await?,
    };
    let view = conversations::view(&db, conversation)
        .await?
        .ok_or_else(|| ApiError::not_found("This conversation was just deleted."))?;
    Reply::json(200, &view)
}

pub async fn messages(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "peerId")?;
    let limit = parse_limit(ctx.query("limit"))?;
    let before = ctx.query("cursor").map(MessageCursor::decode).transpose()?;
    let conversation = match resolve(&db, &caller, id).await? {
        Target::Conversation(id, joined_seq) => Some((id, joined_seq)),
        // Reading does not create: a pair that never talked simply has no messages.
        Target::Peer(peer) => conversations::direct_id(&db, caller.id, peer).await?.map(|id| (id, 0)),
    };
    let rows = match conversation {
        Some((conversation, joined_seq)) => messages::page(&db, conversation, joined_seq, before, limit + 1).await?,
        None => Vec::new(),
    };
    Reply::json(200, &into_page(rows, limit, |m| MessageCursor { created_at: m.created_at, id: m.id }.encode()))
}

/// Creates a group with the caller as its owner. Its MLS group is made by the creator's device,
/// whose first commit (from epoch 0) adds every member's devices.
pub async fn create(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let group = ctx.json::<CreateGroupRequest>()?.validate(caller.id)?;
    let id = conversations::create_group(&db, caller.id, &group).await?;
    let view = conversations::view(&db, id).await?.ok_or_else(ApiError::internal)?;
    Reply::json(201, &view)
}

pub async fn list(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let limit = parse_limit(ctx.query("limit"))?;
    let after = ctx.query("cursor").map(IdCursor::decode).transpose()?;
    let rows = conversations::list_for_user(&db, caller.id, after.map(|c| c.id), limit + 1).await?;
    Reply::json(200, &into_page(rows, limit, |c| IdCursor { id: c.id }.encode()))
}
