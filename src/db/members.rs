//! members: who belongs to which conversation, in what role, and from which seq they read.

use super::{sql, Client, DbResult};
use crate::protocol::{MemberRole, MAX_GROUP_MEMBERS};
use chrono::{DateTime, Utc};
use tokio_postgres::Transaction;
use uuid::Uuid;

/// One member of a conversation, with the display name of the user.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub conversation_id: Uuid,
    pub user_id: Uuid,
    pub display_name: String,
    pub role: MemberRole,
    pub joined_at: DateTime<Utc>,
    /// The member reads messages after this seq (0, or the commit that added them).
    pub joined_seq: i64,
}

/// The members of all these conversations, in one query whatever their number, in the order
/// they joined.
pub async fn of_conversations(client: &Client, conversations: &[Uuid]) -> DbResult<Vec<MemberRow>> {
    let rows = sql::query(
        client,
        "SELECT m.conversation_id, m.user_id, u.display_name, m.role, m.joined_at, m.joined_seq
             FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.conversation_id = ANY($1) ORDER BY m.joined_at, m.user_id",
        &[&conversations],
    )
    .await?;
    rows.iter()
        .map(|m| {
            Ok(MemberRow {
                conversation_id: m.get("conversation_id"),
                user_id: m.get("user_id"),
                display_name: m.get("display_name"),
                role: m.try_get("role")?,
                joined_at: m.get("joined_at"),
                joined_seq: m.get("joined_seq"),
            })
        })
        .collect()
}

pub async fn ids(client: &Client, conversation: Uuid) -> DbResult<Vec<Uuid>> {
    let rows = sql::query(client, "SELECT user_id FROM members WHERE conversation_id = $1", &[&conversation]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The members a message of `seq` is for: those who joined before it. A member added later
/// starts after their Welcome and is never handed anything older.
pub async fn ids_before(client: &Client, conversation: Uuid, seq: i64) -> DbResult<Vec<Uuid>> {
    let rows = sql::query(
        client,
        "SELECT user_id FROM members WHERE conversation_id = $1 AND joined_seq < $2",
        &[&conversation, &seq],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Everyone who shares a conversation with `user`: the people their presence matters to.
pub async fn partner_ids(client: &Client, user: Uuid) -> DbResult<Vec<Uuid>> {
    let rows = sql::query(
        client,
        "SELECT DISTINCT other.user_id FROM members mine
             JOIN members other ON other.conversation_id = mine.conversation_id AND other.user_id <> mine.user_id
             WHERE mine.user_id = $1",
        &[&user],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Where a member stands in one conversation: its latest seq, and the seq after which they may
/// read (the commit that added them).
pub struct Head {
    pub conversation_id: Uuid,
    pub last_seq: i64,
    pub joined_seq: i64,
}

/// The conversations a user belongs to, with each one's latest seq and the user's join point.
pub async fn heads(client: &Client, user: Uuid) -> DbResult<Vec<Head>> {
    let rows = sql::query(
        client,
        "SELECT c.id, c.last_seq, m.joined_seq FROM members m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.user_id = $1",
        &[&user],
    )
    .await?;
    Ok(rows.iter().map(|r| Head { conversation_id: r.get(0), last_seq: r.get(1), joined_seq: r.get(2) }).collect())
}

/// Gives each of these groups that has members but no owner (its owner left or was deleted) a new
/// one: its longest-standing admin or, with none, its longest-standing member.
pub async fn pass_ownership(tx: &Transaction<'_>, groups: &[Uuid]) -> DbResult<()> {
    sql::execute(
        tx,
        "UPDATE members m SET role = 'owner'
         FROM (SELECT DISTINCT ON (conversation_id) conversation_id, user_id FROM members
               WHERE conversation_id = ANY($1)
                 AND conversation_id NOT IN (SELECT conversation_id FROM members WHERE role = 'owner')
               ORDER BY conversation_id, role = 'admin' DESC, joined_at, user_id) heir
         WHERE m.conversation_id = heir.conversation_id AND m.user_id = heir.user_id",
        &[&groups],
    )
    .await?;
    Ok(())
}

/// What a commit's member changes would do to a group, counted before it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeCounts {
    /// Users to add that exist.
    pub added_exist: i64,
    /// Members now, leaving out any the commit adds again.
    pub staying_base: i64,
    /// Users to remove that are members.
    pub removed_members: i64,
    /// Users to remove that left the group (no longer members) and whom no commit removed yet.
    pub removed_departed: i64,
    /// Users to remove that own the group.
    pub removed_owners: i64,
}

/// Why a commit's member changes cannot be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeRefused {
    UnknownUsers,
    NotMembers,
    RemovesOwner,
    TooManyMembers,
}

impl ChangeCounts {
    /// Whether a commit removing `removing` users and adding nobody only removes people who left:
    /// a change any member may commit, on the strength of their departures.
    pub fn only_removes_departed(&self, adding: usize, removing: usize) -> bool {
        adding == 0 && removing > 0 && self.removed_departed as usize == removing
    }

    /// Checks adding `adding` users and removing `removing`, as counted here.
    pub fn refusal(&self, adding: usize, removing: usize) -> Option<ChangeRefused> {
        let count = |n: i64| n as usize;
        if count(self.added_exist) != adding {
            return Some(ChangeRefused::UnknownUsers);
        }
        if count(self.removed_members + self.removed_departed) != removing {
            return Some(ChangeRefused::NotMembers);
        }
        if self.removed_owners > 0 {
            return Some(ChangeRefused::RemovesOwner);
        }
        let after = count(self.staying_base) + adding - count(self.removed_members);
        (after > MAX_GROUP_MEMBERS).then_some(ChangeRefused::TooManyMembers)
    }
}

pub async fn change_counts(
    client: &Client,
    conversation: Uuid,
    add: &[Uuid],
    remove: &[Uuid],
) -> DbResult<ChangeCounts> {
    let row = sql::query_one(client,
            "SELECT
               (SELECT count(*) FROM users WHERE id = ANY($2) AND deleted_at IS NULL) AS added_exist,
               (SELECT count(*) FROM members WHERE conversation_id = $1 AND NOT (user_id = ANY($2))) AS staying_base,
               (SELECT count(*) FROM members WHERE conversation_id = $1 AND user_id = ANY($3)) AS removed_members,
               (SELECT count(*) FROM departures d WHERE d.conversation_id = $1 AND d.user_id = ANY($3)
                  AND NOT EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = $1 AND m.user_id = d.user_id))
                 AS removed_departed,
               (SELECT count(*) FROM members WHERE conversation_id = $1 AND user_id = ANY($3) AND role = 'owner') AS removed_owners",
            &[&conversation, &add, &remove],
        )
        .await?;
    Ok(ChangeCounts {
        added_exist: row.get("added_exist"),
        staying_base: row.get("staying_base"),
        removed_members: row.get("removed_members"),
        removed_departed: row.get("removed_departed"),
        removed_owners: row.get("removed_owners"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(added_exist: i64, staying_base: i64, removed_members: i64, removed_owners: i64) -> ChangeCounts {
        ChangeCounts { added_exist, staying_base, removed_members, removed_departed: 0, removed_owners }
    }

    #[test]
    fn people_who_left_may_be_removed_by_anyone_and_only_they() {
        let left = |removed_members, removed_departed| ChangeCounts {
            added_exist: 0,
            staying_base: 3,
            removed_members,
            removed_departed,
            removed_owners: 0,
        };
        assert!(left(0, 2).only_removes_departed(0, 2));
        assert_eq!(left(0, 2).refusal(0, 2), None, "who left is removed without making the group smaller twice");
        assert!(!left(1, 1).only_removes_departed(0, 2), "a member among them needs an owner or admin");
        assert!(!left(0, 1).only_removes_departed(1, 1), "nobody is added that way");
        assert!(!left(0, 0).only_removes_departed(0, 0), "removing nobody is no such change");
        assert_eq!(left(0, 1).refusal(0, 2), Some(ChangeRefused::NotMembers), "someone neither a member nor gone");
    }

    #[test]
    fn changes_that_hold_are_not_refused() {
        assert_eq!(counts(2, 3, 1, 0).refusal(2, 1), None);
        assert_eq!(counts(1, 99, 0, 0).refusal(1, 0), None);
    }

    #[test]
    fn each_broken_change_is_refused_for_its_reason() {
        assert_eq!(counts(1, 3, 0, 0).refusal(2, 0), Some(ChangeRefused::UnknownUsers));
        assert_eq!(counts(0, 3, 1, 0).refusal(0, 2), Some(ChangeRefused::NotMembers));
        assert_eq!(counts(0, 3, 1, 1).refusal(0, 1), Some(ChangeRefused::RemovesOwner));
        assert_eq!(counts(2, 99, 0, 0).refusal(2, 0), Some(ChangeRefused::TooManyMembers));
    }
}
