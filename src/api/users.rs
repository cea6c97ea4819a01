//! GET /users (the directory) and GET /users/:phone (a public profile with key material).

use super::{Ctx, Reply};
use crate::cursor::NameCursor;
use crate::db::users::{self, ListFilter, UserRow};
use crate::db::{devices, Client};
use crate::error::{ApiError, ApiResult};
use crate::protocol::{validate_phone, Page, UpdateAccountRequest};
use crate::views;

/// Reads `?cursor=&limit=&q=` shared by the user listings.
pub fn list_filter<'a>(ctx: &'a Ctx) -> ApiResult<ListFilter<'a>> {
    let page = ctx.page::<NameCursor>()?;
    let search = ctx.query("q").map(str::trim).filter(|q| !q.is_empty());
    if search.is_some_and(|q| q.chars().count() > 64) {
        return Err(ApiError::bad_request("invalid_query", "The search text must be at most 64 characters."));
    }
    Ok(ListFilter { exclude_id: None, exclude_phone: None, search, page })
}

/// One page of a user listing, as the database returned it.
pub async fn list_page(db: &Client, filter: &ListFilter<'_>) -> ApiResult<Page<UserRow>> {
    let rows = users::list(db, filter).await?;
    Ok(filter.page.page(rows, |u| NameCursor { display_name: u.display_name.clone(), id: u.id }))
}

pub async fn list(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let filter = ListFilter {
        exclude_id: Some(caller.id),
        exclude_phone: ctx.config.bootstrap_admin_phone(),
        ..list_filter(&ctx)?
    };
    Reply::json(200, &list_page(&db, &filter).await?.map(views::user_summary))
}

pub async fn get(ctx: Ctx) -> ApiResult<Reply> {
    let (db, _caller) = ctx.authenticate().await?;
    let phone = validate_phone(ctx.param(0))?;
    let user = users::by_phone(&db, &phone)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Nobody is registered with the phone number {phone}.")))?;
    let devices = devices::list(&db, user.id).await?;
    Reply::json(200, &views::profile(user, devices))
}

/// `PATCH /auth/me`: the caller's account settings (who may add them to groups).
pub async fn update_me(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let request = ctx.json::<UpdateAccountRequest>()?;
    let user = users::set_group_adds(&db, caller.id, request.group_adds)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    Reply::json(200, &views::account(user))
}
