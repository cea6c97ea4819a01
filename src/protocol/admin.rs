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
