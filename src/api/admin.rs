//! GET /admin/users, DELETE /admin/users/:id, GET /admin/audit, GET /admin/stats. Administrators only.

use super::users::{list_filter, list_page};
use super::{Ctx, Reply};
use crate::cursor::SequenceCursor;
use crate::db::admin::{self, DeleteOutcome};
use crate::error::{ApiError, ApiResult};
use crate::hub;
use crate::protocol::{parse_uuid, AdminStats};
use crate::views;

pub async fn list_users(ctx: Ctx) -> ApiResult<Reply> {
    let (db, _admin) = ctx.authenticate_admin().await?;
    let filter = list_filter(&ctx)?;
    Reply::json(200, &list_page(&db, &filter).await?.map(views::account))
}

pub async fn delete_user(ctx: Ctx) -> ApiResult<Reply> {
    let (mut db, admin) = ctx.authenticate_admin().await?;
    let target = parse_uuid(ctx.param(0), "id")?;
    match admin::delete_user(&mut db, admin.id, target).await? {
        DeleteOutcome::Deleted => {
            hub::disconnect(&ctx.env, target, hub::Disconnect::account_deleted()).await;
            Ok(Reply::no_content())
        }
        DeleteOutcome::ActorNoLongerAdmin => Err(ApiError::forbidden("Only administrators can do this.")),
        DeleteOutcome::NotFound => Err(ApiError::not_found("There is no user with this id.")),
        DeleteOutcome::LastAdmin => Err(ApiError::conflict(
            "last_admin",
            "This is the last administrator; make someone else an admin before deleting this account.",
        )),
    }
}

pub async fn audit(ctx: Ctx) -> ApiResult<Reply> {
    let (db, _admin) = ctx.authenticate_admin().await?;
    let page = ctx.page::<SequenceCursor>()?;
    let rows = admin::audit_page(&db, &page).await?;
    Reply::json(200, &page.page(rows, |e| SequenceCursor { id: e.id }).map(views::audit_entry))
}

pub async fn stats(ctx: Ctx) -> ApiResult<Reply> {
    let (db, _admin) = ctx.authenticate_admin().await?;
    let row = admin::stats(&db).await?;
    Reply::json(
        200,
        &AdminStats {
            users: row.users,
            online_now: row.online_now,
            messages_today: row.messages_today,
            active_sessions: row.active_sessions,
            at: row.at,
        },
    )
}
