//! auth_attempts: attempts limited per key within a window, such as wrong passwords per phone
//! number and registrations per client address.

use super::{Client, DbResult};

#[derive(Debug, Clone, Copy)]
pub enum Attempt {
    /// A wrong password, keyed by the phone number tried.
    LoginFailure,
    /// A new account, keyed by the client's address.
    Registration,
}

impl Attempt {
    fn kind(self) -> &'static str {
        match self {
            Attempt::LoginFailure => "login-failure",
            Attempt::Registration => "registration",
        }
    }

    /// How long an attempt counts against its key.
    pub fn window_minutes(self) -> i32 {
        match self {
            Attempt::LoginFailure => 15,
            Attempt::Registration => 60,
        }
    }
}

/// Attempts of `kind` for `key` within its window.
pub async fn recent(client: &Client, kind: Attempt, key: &str) -> DbResult<i64> {
    let row = client
        .query_one(
            "SELECT count(*) FROM auth_attempts WHERE kind = $1 AND key = $2 AND at > now() - make_interval(mins => $3)",
            &[&kind.kind(), &key, &kind.window_minutes()],
        )
        .await?;
    Ok(row.get(0))
}

/// Records one attempt, and drops that key's attempts that have left the window.
pub async fn record(client: &Client, kind: Attempt, key: &str) -> DbResult<()> {
    client
        .execute(
            "WITH expired AS (
               DELETE FROM auth_attempts WHERE kind = $1 AND key = $2 AND at <= now() - make_interval(mins => $3)
             )
             INSERT INTO auth_attempts (kind, key) VALUES ($1, $2)",
            &[&kind.kind(), &key, &kind.window_minutes()],
        )
        .await?;
    Ok(())
}

pub async fn clear(client: &Client, kind: Attempt, key: &str) -> DbResult<()> {
    client.execute("DELETE FROM auth_attempts WHERE kind = $1 AND key = $2", &[&kind.kind(), &key]).await?;
    Ok(())
}
