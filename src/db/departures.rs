//! departures: members who left a group, with the signature of the device that left, kept until a
//! commit removes their devices from the group's MLS tree (see migrations/0013_departures.sql).

use super::{members, sql, Client, DbResult};
use crate::protocol::{ConversationKind, MemberRole};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One departures row.
#[derive(Debug, Clone)]
pub struct DepartureRow {
    pub conversation_id: Uuid,
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub signature: Vec<u8>,
    pub left_at: DateTime<Utc>,
}

pub enum LeaveOutcome {
    NotFound,
    NotAMember,
    NotAGroup,
    /// The membership is gone. `remaining`: the members who stay (none: the group was deleted).
    Left {
        departure: DepartureRow,
        remaining: Vec<Uuid>,
    },
}

/// `user` leaves the group `conversation`, signed by `device`: their membership goes, their
/// departure stays until a commit removes them, ownership passes on if they owned it, and a group
/// nobody is left in is deleted. Under the conversation's row lock, as commits are, so a commit
/// that adds or removes people is ordered either wholly before or wholly after the leave.
pub async fn leave(
    client: &mut Client,
    conversation: Uuid,
    user: Uuid,
    device: Uuid,
    signature: &[u8],
) -> DbResult<LeaveOutcome> {
    let tx = client.transaction().await?;
    // The lock first, on its own: the statements after it see what committed while it waited (a
    // commit that removed this user, say), which one statement that also read the membership
    // would not.
    let Some(row) =
        sql::query_opt(&tx, "SELECT kind FROM conversations WHERE id = $1 FOR UPDATE", &[&conversation]).await?
    else {
        return Ok(LeaveOutcome::NotFound);
    };
    if row.try_get::<_, ConversationKind>("kind")? != ConversationKind::Group {
        let member = sql::query_opt(
            &tx,
            "SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2",
            &[&conversation, &user],
        )
        .await?;
        return Ok(if member.is_some() { LeaveOutcome::NotAGroup } else { LeaveOutcome::NotAMember });
    }
    let Some(left) = sql::query_opt(
        &tx,
        "DELETE FROM members WHERE conversation_id = $1 AND user_id = $2 RETURNING role",
        &[&conversation, &user],
    )
    .await?
    else {
        return Ok(LeaveOutcome::NotAMember);
    };
    let role: MemberRole = left.try_get("role")?;
    let stored = sql::query_one(
        &tx,
        "INSERT INTO departures (conversation_id, user_id, device_id, signature) VALUES ($1, $2, $3, $4)
             ON CONFLICT (conversation_id, user_id)
               DO UPDATE SET device_id = excluded.device_id, signature = excluded.signature, left_at = now()
             RETURNING left_at",
        &[&conversation, &user, &device, &signature],
    )
    .await?;
    if role == MemberRole::Owner {
        members::pass_ownership(&tx, &[conversation]).await?;
    }
    let remaining: Vec<Uuid> =
        sql::query(&tx, "SELECT user_id FROM members WHERE conversation_id = $1", &[&conversation])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
    if remaining.is_empty() {
        sql::execute(&tx, "DELETE FROM conversations WHERE id = $1", &[&conversation]).await?;
    }
    tx.commit().await?;
    Ok(LeaveOutcome::Left {
        departure: DepartureRow {
            conversation_id: conversation,
            user_id: user,
            device_id: device,
            signature: signature.to_vec(),
            left_at: stored.get("left_at"),
        },
        remaining,
    })
}

/// The departures not yet committed in all these conversations, in one query, oldest first.
pub async fn of_conversations(client: &Client, conversations: &[Uuid]) -> DbResult<Vec<DepartureRow>> {
    let rows = sql::query(
        client,
        "SELECT conversation_id, user_id, device_id, signature, left_at FROM departures
             WHERE conversation_id = ANY($1) ORDER BY left_at, user_id",
        &[&conversations],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| DepartureRow {
            conversation_id: r.get("conversation_id"),
            user_id: r.get("user_id"),
            device_id: r.get("device_id"),
            signature: r.get("signature"),
            left_at: r.get("left_at"),
        })
        .collect())
}
