//! login_networks: the networks an account has logged in from lately. A login to its number from
//! one of them is limited only per number from that network ((5.) of the policy in db::throttles).

use super::throttles::{client_network, LOGIN_NETWORK_REMEMBERED_SECS, PURGE_BATCH};
use super::{sql, Client, DbResult};
use uuid::Uuid;

/// Whether the account with `phone` has logged in from `address`'s network within the time it is
/// remembered. False for a number without an account (or a deleted one).
pub async fn is_known(client: &Client, phone: &str, address: &str) -> DbResult<bool> {
    let row = sql::query_one(
        client,
        "SELECT EXISTS (
               SELECT 1 FROM login_networks n JOIN users u ON u.id = n.user_id
               WHERE u.phone = $1 AND u.deleted_at IS NULL AND n.network = $2 AND n.expires_at > now())",
        &[&phone, &client_network(address)],
    )
    .await?;
    Ok(row.get(0))
}

/// Remembers that `user` logged in from `address`'s network, for as long as the policy says from
/// now, and deletes a few expired rows other than this one (that one is renewed in place). Rows
/// another statement holds are skipped, not waited for.
pub async fn remember(client: &Client, user: Uuid, address: &str) -> DbResult<()> {
    sql::execute(
        client,
        "WITH purged AS (
               DELETE FROM login_networks WHERE (user_id, network) IN (
                 SELECT user_id, network FROM login_networks
                 WHERE expires_at <= now() AND NOT (user_id = $1 AND network = $2)
                 ORDER BY expires_at LIMIT $4
                 FOR UPDATE SKIP LOCKED))
             INSERT INTO login_networks (user_id, network, expires_at)
             VALUES ($1, $2, now() + $3::int4 * interval '1 second')
             ON CONFLICT (user_id, network) DO UPDATE SET expires_at = excluded.expires_at",
        &[&user, &client_network(address), &LOGIN_NETWORK_REMEMBERED_SECS, &PURGE_BATCH],
    )
    .await?;
    Ok(())
}
