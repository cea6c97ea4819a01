//! What only admins see.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target: String,
    #[schemars(extend("type" = "object"))]
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// GET /admin/stats: live counts for the admin page, read from the database when asked.
#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminStats {
    /// Accounts that exist (deleted accounts' tombstones are not counted).
    pub users: i64,
    /// Accounts with at least one open socket now: the presence each user's hub records when
    /// their first socket opens and clears when their last one closes.
    pub online_now: i64,
    /// Application messages stored since midnight UTC (MLS commits and Welcomes are not counted).
    pub messages_today: i64,
    /// Signed-in sessions that have not expired or been ended: each may hold open sockets. The
    /// number of open sockets itself lives only in each user's hub, which is asked nothing here.
    pub active_sessions: i64,
    /// When the counts were read.
    pub at: DateTime<Utc>,
}
