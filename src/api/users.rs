//! GET /users (the directory) and GET /users/:phone (a public profile with key material).

use super::{Ctx, Reply};
use crate::cursor::{into_page, parse_limit, NameCursor};
use crate::db::users::{self, ListFilter};
use crate::error::{ApiError, ApiResult};
use crate::protocol::{validate_phone, Account, Page};

/// Reads `?cursor=&limit=&q=` shared by the user listings.
pub fn list_filter<'a>(ctx: &'a Ctx) -> ApiResult<ListFilter<'a>> {
    let limit = parse_limit(ctx.query("limit"))?;
    let after = ctx.query("cursor").map(NameCursor::decode).transpose()?;
    let search = ctx.query("q").map(str::trim).filter(|q| !q.is_empty());
    if search.is_some_and(|q| q.chars().count() > 64) {
        return Err(ApiError::bad_request("invalid_query", "The search text must be at most 64 characters."));
    }
    Ok(ListFilter { exclude_id: None, exclude_phone: None, search, after, fetch: limit + 1 })
}

pub fn account_page(rows: Vec<Account>, fetch: i64) -> Page<Account> {
    into_page(rows, fetch - 1, |a| NameCursor { display_name: a.user.display_name.clone(), id: a.user.id }.encode())
}

pub async fn list(ctx: Ctx) -> ApiResult<Reply> {
    let (db, caller) = ctx.authenticate().await?;
    let filter = ListFilter {
        exclude_id: Some(caller.id),
        exclude_phone: ctx.config.bootstrap_admin_phone(),
        ..list_filter(&ctx)?
    };
    let fetch = filter.fetch;
    let rows = users::list(&db, filter).await?;
    Reply::json(200, &account_page(rows, fetch).map(|a| a.user))
}

pub async fn get(ctx: Ctx) -> ApiResult<Reply> {
    let (db, _caller) = ctx.authenticate().await?;
    let phone = validate_phone(ctx.param(0))?;
    let profile = users::profile_by_phone(&db, &phone)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Nobody is registered with the phone number {phone}.")))?;
    Reply::json(200, &profile)
}
