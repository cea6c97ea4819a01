//! GET /conversations/:peerId and GET /conversations/:peerId/messages.
//!
//! `:peerId` is the other user's id (the seed's 1:1 addressing) or a conversation id the caller
//! is a member of, so the same routes serve groups. Either way only members read a conversation.

use super::{Caller, Ctx, Reply};
use crate::cursor::{into_page, parse_limit, MessageCursor};
use crate::db::{conversations, messages, users, Client};
use crate::error::{ApiError, ApiResult};
use crate::protocol::parse_uuid;
use uuid::Uuid;

enum Target {
    Conversation(Uuid),
    Peer(Uuid),
}

async fn resolve(db: &Client, caller: &Caller, id: Uuid) -> ApiResult<Target> {
    match conversations::membership(db, id, caller.id).await? {
        Some(true) => Ok(Target::Conversation(id)),
        Some(false) => Err(ApiError::new(403, "not_a_member", "You are not a member of this conversation.")),
        None if id == caller.id => {
            Err(ApiError::bad_request("self_conversation", "A conversation needs another person; you cannot start one with yourself."))
        }
        None if users::exists(db, id).await? => Ok(Target::Peer(id)),
        None => Err(ApiError::not_found("There is no user or conversation with this id.")),
    }
}

pub async fn get(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "peerId")?;
    let conversation = match resolve(&db, &caller, id).await? {
        Target::Conversation(id) => id,
        Target::Peer(peer) => conversations::ensure_direct(&db, caller.id, peer).await?,
    };
    let view = conversations::view(&db, conversation).await?.ok_or_else(|| ApiError::not_found("This conversation was just deleted."))?;
    Reply::json(200, &view)
}

pub async fn messages(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let id = parse_uuid(ctx.param(0), "peerId")?;
    let limit = parse_limit(ctx.query("limit"))?;
    let before = ctx.query("cursor").map(MessageCursor::decode).transpose()?;
    let conversation = match resolve(&db, &caller, id).await? {
        Target::Conversation(id) => Some(id),
        // Reading does not create: a pair that never talked simply has no messages.
        Target::Peer(peer) => conversations::direct_id(&db, caller.id, peer).await?,
    };
    let rows = match conversation {
        Some(conversation) => messages::page(&db, conversation, before, limit + 1).await?,
        None => Vec::new(),
    };
    Reply::json(200, &into_page(rows, limit, |m| MessageCursor { created_at: m.created_at, id: m.id }.encode()))
}
