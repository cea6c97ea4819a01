//! conversations: direct ones (one per pair of users) and groups, and how a user stands in one.

use super::{sql, Client, DbError, DbResult};
use crate::cursor::{IdCursor, PageRequest};
use crate::protocol::{ConversationKind, MemberRole, NewGroup};
use chrono::{DateTime, Utc};
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
pub async fn membership(client: &Client, id: Uuid, user: Uuid) -> DbResult<Option<Membership>> {
    let row = sql::query_opt(
        client,
        "SELECT c.kind, c.epoch, m.role, m.joined_seq
             FROM conversations c LEFT JOIN members m ON m.conversation_id = c.id AND m.user_id = $2
             WHERE c.id = $1",
        &[&id, &user],
    )
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Membership {
        kind: r.try_get("kind")?,
        epoch: r.get("epoch"),
        member: r
            .try_get::<_, Option<MemberRole>>("role")?
            .map(|role| Member { role, joined_seq: r.get("joined_seq") }),
    }))
}

pub async fn direct_id(client: &Client, a: Uuid, b: Uuid) -> DbResult<Option<Uuid>> {
    let (lo, hi) = sorted_pair(a, b);
    let row =
        sql::query_opt(client, "SELECT id FROM conversations WHERE user_lo = $1 AND user_hi = $2", &[&lo, &hi]).await?;
    Ok(row.map(|r| r.get(0)))
}

/// Returns the pair's direct conversation, creating it with both members if it does not exist.
/// One statement, so the conversation never exists without its members.
pub async fn ensure_direct(client: &Client, me: Uuid, peer: Uuid) -> DbResult<Uuid> {
    if let Some(id) = direct_id(client, me, peer).await? {
        return Ok(id);
    }
    let (lo, hi) = sorted_pair(me, peer);
    let created = sql::query_opt(
        client,
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
    .await?;
    match created {
        Some(row) => Ok(row.get(0)),
        // Someone else created it between our look-up and our insert; theirs is committed now.
        None => direct_id(client, me, peer).await?.ok_or_else(|| DbError::missing_row()),
    }
}

const COLUMNS: &str = "id, kind, title, created_by, created_at, epoch, last_seq, disappear_after_seconds";

/// One conversations row (its members are in `members`).
#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: Uuid,
    pub kind: ConversationKind,
    pub title: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub epoch: i64,
    pub last_seq: i64,
    /// The disappearing-messages timer, in seconds; None when off.
    pub disappear_after_seconds: Option<i32>,
}

/// Fallible only in `kind`: a value this code does not know (a newer schema) is an error, not a panic.
impl TryFrom<&Row> for ConversationRow {
    type Error = DbError;

    fn try_from(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: row.get("id"),
            kind: row.try_get("kind")?,
            title: row.get("title"),
            created_by: row.get("created_by"),
            created_at: row.get("created_at"),
            epoch: row.get("epoch"),
            last_seq: row.get("last_seq"),
            disappear_after_seconds: row.get("disappear_after_seconds"),
        })
    }
}

pub async fn get(client: &Client, id: Uuid) -> DbResult<Option<ConversationRow>> {
    let sql = format!("SELECT {COLUMNS} FROM conversations WHERE id = $1");
    sql::query_opt(client, &sql, &[&id]).await?.as_ref().map(ConversationRow::try_from).transpose()
}

/// A page of the conversations `user` is a member of, ordered by id.
pub async fn list_for_user(
    client: &Client,
    user: Uuid,
    page: &PageRequest<IdCursor>,
) -> DbResult<Vec<ConversationRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM conversations
         WHERE id IN (SELECT conversation_id FROM members WHERE user_id = $1) AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3"
    );
    let after = page.after.map(|c| c.id);
    let rows = sql::query(client, &sql, &[&user, &after, &page.fetch()]).await?;
    rows.iter().map(ConversationRow::try_from).collect()
}

/// Creates a group with `creator` as its owner and `members` as members, in one statement.
/// None, and nothing created, when any member is not a user.
pub async fn create_group(client: &Client, creator: Uuid, group: &NewGroup) -> DbResult<Option<Uuid>> {
    let id = Uuid::now_v7();
    let created = sql::query_one(
        client,
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
    .await?;
    Ok((created.get::<_, i64>("created") > 0).then_some(id))
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

/// What became of a change of a conversation's disappearing-messages timer.
#[derive(Debug, PartialEq, Eq)]
pub enum TimerChange {
    Changed,
    NotFound,
    NotAMember,
    /// In a group only an owner or admin sets the timer.
    NotAllowed,
}

/// Sets the conversation's disappearing-messages timer (None: off) if `caller` may: any member of
/// a 1:1, an owner or admin of a group. Messages sent from then on expire after it.
pub async fn set_timer(client: &Client, id: Uuid, caller: Uuid, seconds: Option<i32>) -> DbResult<TimerChange> {
    let row = sql::query_opt(
        client,
        "WITH target AS (
               SELECT c.id, m.role IS NOT NULL AS member,
                 (m.role IS NOT NULL AND (c.kind = 'direct' OR m.role IN ('owner', 'admin'))) AS allowed
               FROM conversations c LEFT JOIN members m ON m.conversation_id = c.id AND m.user_id = $2
               WHERE c.id = $1 FOR UPDATE OF c
             ), changed AS (
               UPDATE conversations SET disappear_after_seconds = $3
               WHERE id = (SELECT id FROM target WHERE allowed) RETURNING id
             )
             SELECT member, allowed FROM target",
        &[&id, &caller, &seconds],
    )
    .await?;
    Ok(match row.map(|r| (r.get::<_, bool>("member"), r.get::<_, bool>("allowed"))) {
        None => TimerChange::NotFound,
        Some((false, _)) => TimerChange::NotAMember,
        Some((true, false)) => TimerChange::NotAllowed,
        Some((true, true)) => TimerChange::Changed,
    })
}
