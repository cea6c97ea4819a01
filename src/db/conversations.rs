//! conversations and members.

use super::{db_error, Client};
use crate::error::ApiError;
use crate::protocol::{ConversationView, MemberView};
use uuid::Uuid;

/// A direct conversation is stored once per unordered pair: (lower id, higher id).
pub fn sorted_pair(a: Uuid, b: Uuid) -> (Uuid, Uuid) {
    if a < b { (a, b) } else { (b, a) }
}

/// Whether a conversation with this id exists and, if so, whether `user` is a member of it.
pub async fn membership(client: &Client, id: Uuid, user: Uuid) -> Result<Option<bool>, ApiError> {
    let row = client
        .query_opt(
            "SELECT EXISTS (SELECT 1 FROM members WHERE conversation_id = c.id AND user_id = $2)
             FROM conversations c WHERE c.id = $1",
            &[&id, &user],
        )
        .await
        .map_err(db_error("conversations.membership"))?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn direct_id(client: &Client, a: Uuid, b: Uuid) -> Result<Option<Uuid>, ApiError> {
    let (lo, hi) = sorted_pair(a, b);
    let row = client
        .query_opt("SELECT id FROM conversations WHERE user_lo = $1 AND user_hi = $2", &[&lo, &hi])
        .await
        .map_err(db_error("conversations.direct_id"))?;
    Ok(row.map(|r| r.get(0)))
}

/// Returns the pair's direct conversation, creating it with both members if it does not exist.
/// One statement, so the conversation never exists without its members.
pub async fn ensure_direct(client: &Client, me: Uuid, peer: Uuid) -> Result<Uuid, ApiError> {
    if let Some(id) = direct_id(client, me, peer).await? {
        return Ok(id);
    }
    let (lo, hi) = sorted_pair(me, peer);
    let created = client
        .query_opt(
            "WITH created AS (
               INSERT INTO conversations (id, kind, created_by, user_lo, user_hi) VALUES ($1, 'direct', $2, $3, $4)
               ON CONFLICT (user_lo, user_hi) DO NOTHING RETURNING id
             ), joined AS (
               INSERT INTO members (conversation_id, user_id, role)
               SELECT id, unnest(ARRAY[$3, $4]::uuid[]), 'member' FROM created
             )
             SELECT id FROM created",
            &[&Uuid::now_v7(), &me, &lo, &hi],
        )
        .await
        .map_err(db_error("conversations.ensure_direct"))?;
    match created {
        Some(row) => Ok(row.get(0)),
        // Someone else created it between our look-up and our insert; theirs is committed now.
        None => direct_id(client, me, peer).await?.ok_or_else(ApiError::internal),
    }
}

pub async fn view(client: &Client, id: Uuid) -> Result<Option<ConversationView>, ApiError> {
    let err = db_error("conversations.view");
    let Some(row) = client
        .query_opt("SELECT id, kind, title, created_by, created_at FROM conversations WHERE id = $1", &[&id])
        .await
        .map_err(&err)?
    else {
        return Ok(None);
    };
    let members = client
        .query(
            "SELECT user_id, role, joined_at FROM members WHERE conversation_id = $1 ORDER BY joined_at, user_id",
            &[&id],
        )
        .await
        .map_err(&err)?
        .iter()
        .map(|m| MemberView { user_id: m.get("user_id"), role: m.get("role"), joined_at: m.get("joined_at") })
        .collect();
    Ok(Some(ConversationView {
        id: row.get("id"),
        kind: row.get("kind"),
        title: row.get("title"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
        members,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_sorts_the_same_either_way_round() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(sorted_pair(a, b), sorted_pair(b, a));
        let (lo, hi) = sorted_pair(a, b);
        assert!(lo < hi);
    }
}
