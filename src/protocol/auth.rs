//! Registration, login and the signed-in account.

use super::users::UserSummary;
use super::validate::{
    name_pattern, validate_display_name, validate_password, validate_phone, MAX_DISPLAY_NAME_CHARS, MAX_PASSWORD_BYTES,
    MIN_PASSWORD_CHARS, NAME_RULE, PHONE_PATTERN,
};
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    #[schemars(pattern(PHONE_PATTERN), description = "E.164, like +14155550123.")]
    pub phone: String,
    #[schemars(length(min = 1, max = MAX_DISPLAY_NAME_CHARS), pattern(name_pattern()))]
    #[schemars(description = NAME_RULE)]
    pub display_name: String,
    #[schemars(length(min = MIN_PASSWORD_CHARS, max = MAX_PASSWORD_BYTES))]
    #[schemars(description = format!(
        "At least {MIN_PASSWORD_CHARS} characters and at most {MAX_PASSWORD_BYTES} bytes of UTF-8."
    ))]
    pub password: String,
}

#[derive(Debug, Deserialize, TS, JsonSchema)]
pub struct LoginRequest {
    #[schemars(pattern(PHONE_PATTERN), description = "E.164, like +14155550123.")]
    pub phone: String,
    pub password: String,
}

/// A registration whose every field has passed validation.
#[derive(Debug, PartialEq, Eq)]
pub struct NewAccount {
    pub phone: String,
    pub display_name: String,
    pub password: String,
}

impl RegisterRequest {
    pub fn validate(self) -> Result<NewAccount, ApiError> {
        Ok(NewAccount {
            phone: validate_phone(&self.phone)?,
            display_name: validate_display_name(&self.display_name)?,
            password: validate_password(self.password)?,
        })
    }
}

/// Who may add a user to groups. Someone already in a group stays, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupAdds {
    /// Anyone (the default).
    Everyone,
    /// Only people this user has written to in a 1:1: a stranger cannot put them in a group.
    Contacts,
    /// Nobody: they are in only the groups they start themselves.
    Nobody,
}
text_enum!(GroupAdds { Everyone = "everyone", Contacts = "contacts", Nobody = "nobody" });

/// `PATCH /auth/me`: the account's settings to change.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAccountRequest {
    /// Who may add this user to groups.
    pub group_adds: GroupAdds,
}

/// A user as they see themselves, and as admins see everyone.
#[derive(Debug, Clone, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(flatten)]
    pub user: UserSummary,
    pub is_admin: bool,
    /// Who may add them to groups (see `PATCH /auth/me`).
    pub group_adds: GroupAdds,
}

#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub user: Account,
    #[schemars(description = "JWT (HS256), sent as `Authorization: Bearer <token>`.")]
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn register(phone: &str, name: &str, password: &str) -> Result<NewAccount, ApiError> {
        RegisterRequest { phone: phone.into(), display_name: name.into(), password: password.into() }.validate()
    }

    #[test]
    fn accepts_a_well_formed_registration_trimming_spaces() {
        assert_eq!(
            register(" +14155550123 ", "  Ada  ", "long enough pw").unwrap(),
            NewAccount { phone: "+14155550123".into(), display_name: "Ada".into(), password: "long enough pw".into() }
        );
    }

    #[test]
    fn display_names_with_direction_controls_or_invisible_characters_are_refused() {
        for name in ["Ada\u{202E}nimda", "\u{2067}Ada", "A\u{200D}da", "Ada\u{2060}"] {
            assert_eq!(register("+14155550123", name, "long enough pw").unwrap_err().code, "invalid_display_name");
        }
    }

    #[test]
    fn passwords_need_ten_characters() {
        assert_eq!(register("+14155550123", "Ada", "123456789").unwrap_err().code, "weak_password");
        assert!(register("+14155550123", "Ada", "1234567890").is_ok());
        assert_eq!(validate_password("x".repeat(1025)).unwrap_err().code, "invalid_password");
    }

    #[test]
    fn accounts_serialize_flat_and_camel_cased() {
        let account = Account {
            user: UserSummary {
                id: Uuid::nil(),
                phone: "+14155550123".into(),
                display_name: "Ada".into(),
                created_at: DateTime::from_timestamp(0, 0).unwrap(),
                last_seen_at: None,
                online: false,
            },
            is_admin: true,
            group_adds: GroupAdds::Everyone,
        };
        let json = serde_json::to_value(&account).unwrap();
        assert_eq!(json["groupAdds"], "everyone");
        assert_eq!(json["displayName"], "Ada");
        assert_eq!(json["isAdmin"], true);
        assert_eq!(json["lastSeenAt"], serde_json::Value::Null);
    }
}
