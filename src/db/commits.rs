//! MLS commits: the one statement that orders a commit across conversations, messages, epochs
//! and members, and finding a commit stored before for answering a resend.

use super::messages::{self, MessageRow};
use super::{sql, Client, DbError, DbResult};
use crate::protocol::{CommitRequest, MAX_GROUP_MEMBERS};
use uuid::Uuid;

/// A commit that was stored: its message, the Welcome stored right after it, who was a member
/// before it (they all need the commit, the removed included) and who it added.
pub struct AppliedCommit {
    pub commit: MessageRow,
    pub welcome: Option<MessageRow>,
    pub members_before: Vec<Uuid>,
    pub added: Vec<Uuid>,
}

/// Applies a commit in one statement under the conversation's row lock: accepted only if the
/// conversation is still at `epoch`, the sender is a member (an owner or admin when members
/// change, unless it only removes people who left), the clientMsgId is new and the group stays within `MAX_GROUP_MEMBERS`. Then it bumps
/// the epoch, stores the commit and its Welcome, records the epoch and changes the members, all or
/// nothing. Added users read from their Welcome on. Returns None when it was not accepted; the
/// caller finds out why.
pub async fn apply(
    client: &Client,
    sender: Uuid,
    device: Option<Uuid>,
    c: &CommitRequest,
) -> DbResult<Option<AppliedCommit>> {
    let (commit_id, welcome_id) = (Uuid::now_v7(), Uuid::now_v7());
    let row = sql::query_one(client,
            "WITH conv AS (
               SELECT id, kind, epoch, last_seq FROM conversations WHERE id = $1 FOR UPDATE
             ), actor AS (
               SELECT role FROM members WHERE conversation_id = $1 AND user_id = $2
             ), ok AS (
               SELECT conv.last_seq FROM conv, actor
               WHERE conv.epoch = $4
                 AND ((cardinality($9::uuid[]) = 0 AND cardinality($10::uuid[]) = 0)
                      OR (conv.kind = 'group' AND actor.role IN ('owner', 'admin'))
                      -- Anyone may remove people who left, on the strength of their departures.
                      OR (conv.kind = 'group' AND cardinality($9::uuid[]) = 0 AND NOT EXISTS (
                            SELECT 1 FROM unnest($10::uuid[]) AS r(user_id) WHERE NOT EXISTS (
                              SELECT 1 FROM departures d WHERE d.conversation_id = $1 AND d.user_id = r.user_id))))
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE sender_id = $2 AND client_msg_id = $8)
                 -- The member cap, counted under the lock: the members who stay plus the users it adds.
                 AND (SELECT count(*) FROM members WHERE conversation_id = $1
                        AND NOT (user_id = ANY($10::uuid[]) AND role <> 'owner'))
                   + (SELECT count(*) FROM users u WHERE u.id = ANY($9::uuid[]) AND u.deleted_at IS NULL
                        AND NOT EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = $1 AND m.user_id = u.id))
                   <= $13
             ), bumped AS (
               UPDATE conversations c SET epoch = c.epoch + 1,
                 last_seq = c.last_seq + CASE WHEN $6::bytea IS NULL THEN 1 ELSE 2 END,
                 group_info = coalesce($7::bytea, c.group_info)
               FROM ok WHERE c.id = $1 RETURNING ok.last_seq AS base
             ), commit_msg AS (
               INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at,
                 commit_adds, commit_removes, commit_departures, sender_role)
               SELECT $11, $1, base + 1, $2, $3, 'commit', $4, $5, $8, clock_timestamp(), $9::uuid[], $10::uuid[],
                 -- The departures of those it removes who left, kept with it for whoever reads it later
                 -- (the keys are DepartureView's).
                 (SELECT jsonb_agg(jsonb_build_object('userId', d.user_id, 'deviceId', d.device_id,
                          'signature', translate(encode(d.signature, 'base64'), E'\n', ''), 'leftAt', d.left_at)
                          ORDER BY d.left_at, d.user_id)
                  FROM departures d WHERE d.conversation_id = $1 AND d.user_id = ANY($10::uuid[])),
                 (SELECT role FROM actor)
               FROM bumped
               RETURNING id, seq
             ), welcome_msg AS (
               INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at)
               SELECT $12, $1, base + 2, $2, $3, 'welcome', $4 + 1, $6, 'welcome:' || $11::text, clock_timestamp()
               FROM bumped WHERE $6::bytea IS NOT NULL
               RETURNING id
             ), epoch_row AS (
               INSERT INTO epochs (conversation_id, epoch, commit_message_id) SELECT $1, $4, id FROM commit_msg
             ), removed AS (
               DELETE FROM members WHERE conversation_id = $1 AND user_id = ANY($10::uuid[]) AND role <> 'owner'
                 AND EXISTS (SELECT 1 FROM commit_msg)
             ), settled AS (
               -- A departure is spent once a commit removes its user, or adds them back.
               DELETE FROM departures WHERE conversation_id = $1 AND (user_id = ANY($10::uuid[]) OR user_id = ANY($9::uuid[]))
                 AND EXISTS (SELECT 1 FROM commit_msg)
             ), added AS (
               INSERT INTO members (conversation_id, user_id, role, joined_seq)
               SELECT $1, u.id, 'member', (SELECT seq FROM commit_msg) FROM users u
               WHERE u.id = ANY($9::uuid[]) AND u.deleted_at IS NULL AND EXISTS (SELECT 1 FROM commit_msg)
               ON CONFLICT (conversation_id, user_id) DO NOTHING
               RETURNING user_id
             )
             SELECT (SELECT id FROM commit_msg) AS commit_id, (SELECT id FROM welcome_msg) AS welcome_id,
               ARRAY(SELECT user_id FROM members WHERE conversation_id = $1) AS members_before,
               ARRAY(SELECT user_id FROM added) AS added",
            &[
                &c.conversation_id,
                &sender,
                &device,
                &c.epoch,
                &c.commit,
                &c.welcome,
                &c.group_info,
                &c.client_msg_id,
                &c.add_user_ids,
                &c.remove_user_ids,
                &commit_id,
                &welcome_id,
                &(MAX_GROUP_MEMBERS as i64),
            ],
        )
        .await;
    let row = match row {
        Ok(row) => row,
        Err(e) => {
            let e = DbError::from(e);
            // The same clientMsgId, stored by a concurrent commit while this one waited for the lock.
            return if e.is_unique_violation() { Ok(None) } else { Err(e) };
        }
    };
    if row.get::<_, Option<Uuid>>("commit_id").is_none() {
        return Ok(None);
    }
    let mut stored = messages::by_ids(client, &[commit_id, welcome_id]).await?;
    let welcome = stored.iter().position(|m| m.id == welcome_id).map(|i| stored.remove(i));
    let Some(commit) = stored.pop() else { return Err(DbError::missing_row()) };
    Ok(Some(AppliedCommit { commit, welcome, members_before: row.get("members_before"), added: row.get("added") }))
}

/// The commit this sender stored under `client_msg_id`, with its Welcome, for answering a resend.
pub async fn earlier(
    client: &Client,
    sender: Uuid,
    client_msg_id: &str,
) -> DbResult<Option<(MessageRow, Option<MessageRow>)>> {
    let Some(commit) = messages::by_client_id(client, sender, client_msg_id).await? else {
        return Ok(None);
    };
    let welcome = messages::by_client_id(client, sender, &format!("welcome:{}", commit.id)).await?;
    Ok(Some((commit, welcome)))
}
