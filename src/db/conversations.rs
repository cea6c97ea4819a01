//! conversations and members.

use super::{db_error, Client};
use crate::error::ApiError;
use crate::protocol::NewGroup;
use crate::protocol::{ConversationKind, ConversationView, MemberRole, MemberView};
use tokio_postgres::Row;
use uuid::Uuid;

/// A direct conversation is stored once per unordered pair: (lower id, higher id).
pub fn sorted_pair(a: Uuid, b: Uuid) -> (Uuid, Uuid) {
    if a < b {
        (a, b)
    } else {
        (b, a)
    }
}

/// A conversation as one user stands in it.
pub struct Membership {
    pub kind: ConversationKind,
    pub epoch: i64,
    /// None when the user is not a member.
    pub member: Option<Member>,
}

pub struct Member {
    pub role: MemberRole,
    /// The user reads messages after this seq (the commit that added them).
    pub joined_seq: i64,
}

impl Member {
    pub fn may_manage_members(&self) -> bool {
        self.role.may_manage_members()
    }
}

/// Whether a conversation with this id exists and, if so, how `user` stands in it.
pub async fn membership(client: &Client, id: Uuid, user: Uuid) -> Result<Option<Membership>, ApiError> {
    let row = client
        .query_opt(
            "SELECT c.kind, c.epoch, m.role, m.joined_seq
             FROM conversations c LEFT JOIN members m ON m.conversation_id = c.id AND m.user_id = $2
             WHERE c.id = $1",
            &[&id, &user],
        )
        .await
        .map_err(db_error("conversations.membership"))?;
    Ok(row.map(|r| Membership {
        kind: r.get("kind"),
        epoch: r.get("epoch"),
        member: r.get::<_, Option<MemberRole>>("role").map(|role| Member { role, joined_seq: r.get("joined_seq") }),
    }))
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

const VIEW_COLUMNS: &str = "id, kind, title, created_by, created_at, epoch, last_seq";

pub async fn view(client: &Client, id: Uuid) -> Result<Option<ConversationView>, ApiError> {
    let sql = format!("SELECT {VIEW_COLUMNS} FROM conversations WHERE id = $1");
    let rows = client.query(&sql, &[&id]).await.map_err(db_error("conversations.view"))?;
    Ok(with_members(client, &rows).await?.pop())
}

/// The conversations `user` is a member of, a keyset page ordered by id.
pub async fn list_for_user(
    client: &Client,
    user: Uuid,
    after: Option<Uuid>,
    fetch: i64,
) -> Result<Vec<ConversationView>, ApiError> {
    let sql = format!(
        "SELECT {VIEW_COLUMNS} FROM conversations
         WHERE id IN (SELECT conversation_id FROM members WHERE user_id = $1) AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3"
    );
    let rows = client.query(&sql, &[&user, &after, &fetch]).await.map_err(db_error("conversations.list_for_user"))?;
    with_members(client, &rows).await
}

/// Conversation rows with their members, in one more query whatever the number of rows.
async fn with_members(client: &Client, rows: &[Row]) -> Result<Vec<ConversationView>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.get("id")).collect();
    let members = client
        .query(
            "SELECT m.conversation_id, m.user_id, u.display_name, m.role, m.joined_at, m.joined_seq
             FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.conversation_id = ANY($1) ORDER BY m.joined_at, m.user_id",
            &[&ids],
        )
        .await
        .map_err(db_error("conversations.members"))?;
    Ok(rows
        .iter()
        .map(|row| {
            let id: Uuid = row.get("id");
            ConversationView {
                id,
                kind: row.get("kind"),
                title: row.get("title"),
                created_by: row.get("created_by"),
                created_at: row.get("created_at"),
                epoch: row.get("epoch"),
                last_seq: row.get("last_seq"),
                members: members
                    .iter()
                    .filter(|m| m.get::<_, Uuid>("conversation_id") == id)
                    .map(|m| MemberView {
                        user_id: m.get("user_id"),
                        display_name: m.get("display_name"),
                        role: m.get("role"),
                        joined_at: m.get("joined_at"),
                        joined_seq: m.get("joined_seq"),
                    })
                    .collect(),
            }
        })
        .collect())
}

/// Creates a group with `creator` as its owner and `members` as members, in one statement.
/// Fails with 404 if any member does not exist.
pub async fn create_group(client: &Client, creator: Uuid, group: &NewGroup) -> Result<Uuid, ApiError> {
    let id = Uuid::now_v7();
    let created = client
        .query_one(
            "WITH wanted AS (SELECT unnest($4::uuid[]) AS user_id),
             found AS (SELECT u.id FROM users u JOIN wanted w ON w.user_id = u.id WHERE u.deleted_at IS NULL),
             created AS (
               INSERT INTO conversations (id, kind, title, created_by)
               SELECT $1, 'group', $2, $3 WHERE (SELECT count(*) FROM found) = (SELECT count(*) FROM wanted)
               RETURNING id
             ), joined AS (
               INSERT INTO members (conversation_id, user_id, role)
               SELECT created.id, $3, 'owner' FROM created
               UNION ALL SELECT created.id, found.id, 'member' FROM created, found
             )
             SELECT count(*) AS created FROM created",
            &[&id, &group.title, &creator, &group.member_ids],
        )
        .await
        .map_err(db_error("conversations.create_group"))?;
    if created.get::<_, i64>("created") == 0 {
        return Err(ApiError::not_found("Some of memberIds are not users."));
    }
    Ok(id)
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
