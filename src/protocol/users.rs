//! Users as others see them.

use super::devices::DeviceView;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

/// What every signed-in user may see of another user.
#[derive(Debug, Clone, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: Uuid,
    pub phone: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// At least one of their sockets is open.
    pub online: bool,
}

/// A user's public profile: who they are and the public key material of each of their devices.
#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(flatten)]
    pub user: UserSummary,
    pub devices: Vec<DeviceView>,
}
