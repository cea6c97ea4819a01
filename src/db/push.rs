//! push_subscriptions (where each device's pushes go, and the keys they are encrypted to) and
//! members' mutes (`members.muted_until`): what the hub asks before it sends a push.

use super::{sql, Client, DbResult};
use crate::protocol::{Mute, NewPushSubscription};
use chrono::{DateTime, Utc};
use tokio_postgres::types::Timestamp;
use uuid::Uuid;

/// Serializable: a hub keeps the subscriptions it owes pushes to across evictions (`hub::push`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubscriptionRow {
    pub device_id: Uuid,
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
}

/// Stores `device`'s subscription, replacing the one it had. An endpoint another device held is
/// taken from it only with the same keys (a browser has one subscription per site, and gives its
/// keys again: that browser now signs in as `device`); knowing the endpoint alone is not enough to
/// take someone's pushes away (the insert then meets the endpoint's unique key: 409). The DELETE is read by the INSERT so that it runs first (an unread data-modifying
/// WITH runs after the main statement, whose insert would then meet the old endpoint).
pub async fn subscribe(client: &Client, device: Uuid, subscription: &NewPushSubscription) -> DbResult<()> {
    sql::execute(
        client,
        "WITH freed AS (
           DELETE FROM push_subscriptions
           WHERE endpoint = $2 AND device_id <> $1 AND p256dh = $3 AND auth = $4 RETURNING device_id
         )
         INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth)
         SELECT $1, $2, $3, $4 FROM (SELECT count(*) FROM freed) AS done
         ON CONFLICT (device_id) DO UPDATE
           SET endpoint = EXCLUDED.endpoint, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, created_at = now()",
        &[&device, &subscription.endpoint, &subscription.p256dh, &subscription.auth],
    )
    .await?;
    Ok(())
}

/// Deletes `device`'s subscription; false if it had none.
pub async fn unsubscribe(client: &Client, device: Uuid) -> DbResult<bool> {
    Ok(sql::execute(client, "DELETE FROM push_subscriptions WHERE device_id = $1", &[&device]).await? > 0)
}

/// Deletes `device`'s subscription if it is still the one at `endpoint`: its push service said
/// it is gone (404 or 410), and a newer one the device made since stays.
pub async fn forget(client: &Client, device: Uuid, endpoint: &str) -> DbResult<()> {
    sql::execute(
        client,
        "DELETE FROM push_subscriptions WHERE device_id = $1 AND endpoint = $2",
        &[&device, &endpoint],
    )
    .await?;
    Ok(())
}

/// The subscriptions of `user`'s devices that someone is signed in on: a browser whose sessions
/// all ended (logged out, or out everywhere) gets no push, though it keeps its subscription (and
/// its local history) for when its user signs in there again.
pub async fn of_user(client: &Client, user: Uuid) -> DbResult<Vec<SubscriptionRow>> {
    let rows = sql::query(
        client,
        "SELECT s.device_id, s.endpoint, s.p256dh, s.auth
           FROM push_subscriptions s JOIN devices d ON d.id = s.device_id
          WHERE d.user_id = $1
            AND EXISTS (SELECT 1 FROM sessions x WHERE x.device_id = s.device_id AND x.expires_at > now())",
        &[&user],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| SubscriptionRow {
            device_id: r.get("device_id"),
            endpoint: r.get("endpoint"),
            p256dh: r.get("p256dh"),
            auth: r.get("auth"),
        })
        .collect())
}

/// Of `conversations`, those `user` is a member of and has not muted now, each with the seq the
/// user joined at (the commit that added them).
pub async fn unmuted(client: &Client, user: Uuid, conversations: &[Uuid]) -> DbResult<Vec<(Uuid, i64)>> {
    let rows = sql::query(
        client,
        "SELECT conversation_id, joined_seq FROM members
          WHERE user_id = $1 AND conversation_id = ANY($2) AND (muted_until IS NULL OR muted_until <= now())",
        &[&user, &conversations],
    )
    .await?;
    Ok(rows.iter().map(|r| (r.get("conversation_id"), r.get("joined_seq"))).collect())
}

/// A member's mute as read (or just set), with the database's clock to read it by.
pub enum MuteRead {
    Member { mute: Mute, now: DateTime<Utc> },
    NotAMember,
    NotFound,
}

fn stored(mute: Mute) -> Option<Timestamp<DateTime<Utc>>> {
    match mute {
        Mute::Off => None,
        Mute::Until(until) => Some(Timestamp::Value(until)),
        Mute::Always => Some(Timestamp::PosInfinity),
    }
}

fn read(row: &tokio_postgres::Row) -> MuteRead {
    if !row.get::<_, bool>("found") {
        return MuteRead::NotFound;
    }
    if !row.get::<_, bool>("member") {
        return MuteRead::NotAMember;
    }
    let mute = match row.get::<_, Option<Timestamp<DateTime<Utc>>>>("muted_until") {
        None | Some(Timestamp::NegInfinity) => Mute::Off,
        Some(Timestamp::Value(until)) => Mute::Until(until),
        Some(Timestamp::PosInfinity) => Mute::Always,
    };
    MuteRead::Member { mute, now: row.get("now") }
}

/// Sets `user`'s mute of `conversation`, if a member.
pub async fn set_mute(client: &Client, conversation: Uuid, user: Uuid, mute: Mute) -> DbResult<MuteRead> {
    let row = sql::query_one(
        client,
        "WITH changed AS (
           UPDATE members SET muted_until = $3 WHERE conversation_id = $1 AND user_id = $2 RETURNING muted_until
         )
         SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1) AS found,
                EXISTS (SELECT 1 FROM changed) AS member,
                (SELECT muted_until FROM changed) AS muted_until, now() AS now",
        &[&conversation, &user, &stored(mute)],
    )
    .await?;
    Ok(read(&row))
}

/// `user`'s mute of `conversation`.
pub async fn mute(client: &Client, conversation: Uuid, user: Uuid) -> DbResult<MuteRead> {
    let row = sql::query_one(
        client,
        "SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1) AS found, m.user_id IS NOT NULL AS member,
                m.muted_until, now() AS now
           FROM (SELECT 1) AS one LEFT JOIN members m ON m.conversation_id = $1 AND m.user_id = $2",
        &[&conversation, &user],
    )
    .await?;
    Ok(read(&row))
}
