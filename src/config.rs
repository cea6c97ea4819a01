//! Configuration, read once per request from the Worker's vars and secrets into one struct.
//! Defaults are documented in README.md ("Configuration").

use crate::error::ApiError;
use crate::protocol::push::{PushServices, DEFAULT_PUSH_SERVICES};
use crate::protocol::DEFAULT_ATTACHMENT_QUOTA_BYTES;

/// OWASP's current floor for PBKDF2-HMAC-SHA256 (2023).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;
/// HS256 keys shorter than the hash output make brute force of the key cheaper than of the MAC.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// How long a hub keeps its database connection with nothing to do. An open connection keeps the
/// hub from hibernating and holds one of the database's (or Hyperdrive's) connection slots.
pub const DEFAULT_HUB_DB_IDLE_SECONDS: u32 = 30;
/// How often a hub asks the database whether the sessions of its open sockets still exist.
/// Ending a session closes its sockets at once through the hub's `disconnect` call (retried); this is
/// the backstop for when every attempt of that failed, or a session ended without one (a row
/// deleted by hand). A minute bounds how long such a socket outlives its session, for one small
/// query per online user and minute (which also wakes a hibernating hub that often).
pub const DEFAULT_HUB_SESSION_RECHECK_SECONDS: u32 = 60;
/// A hub event that took at least this long is logged even when `LOG_HUB_EVENTS` is not `all`:
/// a slow send is what a user notices, and what an operator needs to find.
pub const SLOW_HUB_EVENT_MS: u64 = 500;
/// Registration attempts (a taken number's included) per client address and hour in production,
/// unless configured.
pub const DEFAULT_REGISTRATIONS_PER_ADDRESS_PER_HOUR: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    Production,
    Development,
    Test,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    /// `Err` keeps the reason so every auth route can answer it; there is no default secret.
    pub jwt_secret: Result<Vec<u8>, ApiError>,
    pub pbkdf2_iterations: Result<u32, ApiError>,
    pub allowed_origins: Vec<String>,
    pub bootstrap_admin: Option<BootstrapAdmin>,
    pub first_user_admin: bool,
    pub hub_db_idle_ms: f64,
    /// `DEFAULT_HUB_SESSION_RECHECK_SECONDS`, or with ENVIRONMENT=test `HUB_SESSION_RECHECK_SECONDS`
    /// (so a test need not wait a minute).
    pub hub_session_recheck_ms: f64,
    /// ENVIRONMENT=test only (`TEST_HUB_REFUSES_FIRST_DISCONNECT=true`): each hub instance answers
    /// its first `disconnect` call with an error, so tests can see a revocation land through the retry.
    pub hub_refuses_first_disconnect: bool,
    /// None: not limited (the default outside production, or configured as 0).
    pub registrations_per_address_per_hour: Option<u32>,
    /// Bytes of attachments one user may keep stored (`ATTACHMENT_QUOTA_BYTES`).
    pub attachment_quota_bytes: i64,
    /// `LOG_HUB_EVENTS=all`: a log line for every event a hub handles. Otherwise (the default)
    /// only for failed events and those slower than `SLOW_HUB_EVENT_MS`. A line per message was
    /// a quarter of a hub's CPU under wrangler dev, and in production it is a billed log line
    /// per message that says nothing the message counts in `/admin/stats` do not.
    pub log_every_hub_event: bool,
    /// Web Push: the VAPID key and contact, or why push is off (README "Push notifications").
    pub push: Result<PushSettings, String>,
    /// The push services a subscription may name (`PUSH_SERVICES`, a comma-separated list of
    /// hosts; the browsers' own by default in production; any, and plain `http:` to this machine,
    /// in development and tests, whose push service is a local server).
    pub push_services: PushServices,
}

/// What the Worker signs pushes with (RFC 8292).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSettings {
    /// `VAPID_PRIVATE_KEY`: base64url of the 32-byte P-256 private key.
    pub private_key: String,
    /// `VAPID_SUBJECT`: a `mailto:` or `https:` contact for push services' operators.
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapAdmin {
    pub phone: String,
    pub password: String,
}

impl Config {
    /// `lookup` answers a var or secret by name (None when unset or empty).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Config {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let environment = match get("ENVIRONMENT").as_deref() {
            Some("test") => Environment::Test,
            Some("development") => Environment::Development,
            _ => Environment::Production,
        };
        let jwt_secret = match lookup("JWT_SECRET").filter(|s| !s.is_empty()) {
            None => Err(ApiError::misconfigured(
                "JWT_SECRET is not set. Set it as a Worker secret (or in .dev.vars locally) to at least 32 bytes.",
            )),
            Some(s) if s.len() < MIN_JWT_SECRET_BYTES => Err(ApiError::misconfigured(format!(
                "JWT_SECRET is too short ({} bytes); it must be at least {MIN_JWT_SECRET_BYTES} bytes.",
                s.len()
            ))),
            Some(s) => Ok(s.into_bytes()),
        };
        let pbkdf2_iterations = parse_iterations(get("PBKDF2_ITERATIONS").as_deref(), &environment);
        let allowed_origins = get("ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',').map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect()
            })
            .unwrap_or_default();
        let bootstrap_admin = match (get("ADMIN_PHONE"), lookup("ADMIN_PASSWORD").filter(|p| !p.is_empty())) {
            (Some(phone), Some(password)) => Some(BootstrapAdmin { phone, password }),
            _ => None,
        };
        // Unset, it is on only outside production: a Worker whose vars were edited in the dashboard
        // or deployed by hand, past the deploy check, must not hand its first stranger the admin.
        let first_user_admin = match get("FIRST_USER_ADMIN").as_deref() {
            Some("false" | "0" | "no") => false,
            Some(_) => true,
            None => environment != Environment::Production,
        };
        let hub_db_idle_seconds = get("HUB_DB_IDLE_SECONDS")
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_HUB_DB_IDLE_SECONDS);
        let is_test = environment == Environment::Test;
        let hub_session_recheck_seconds = get("HUB_SESSION_RECHECK_SECONDS")
            .filter(|_| is_test)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_HUB_SESSION_RECHECK_SECONDS);
        let hub_refuses_first_disconnect =
            is_test && matches!(get("TEST_HUB_REFUSES_FIRST_DISCONNECT").as_deref(), Some("true" | "1" | "yes"));
        let registrations_per_address_per_hour =
            match get("REGISTRATIONS_PER_ADDRESS_PER_HOUR").and_then(|v| v.parse::<u32>().ok()) {
                Some(0) => None,
                Some(n) => Some(n),
                None if environment == Environment::Production => Some(DEFAULT_REGISTRATIONS_PER_ADDRESS_PER_HOUR),
                None => None,
            };
        let attachment_quota_bytes = get("ATTACHMENT_QUOTA_BYTES")
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_ATTACHMENT_QUOTA_BYTES);
        let log_every_hub_event = get("LOG_HUB_EVENTS").as_deref() == Some("all");
        let push = push_settings(get("VAPID_PRIVATE_KEY"), get("VAPID_SUBJECT"));
        let listed: Vec<String> = get("PUSH_SERVICES")
            .map(|v| v.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
            .unwrap_or_default();
        let push_services = match (&environment, listed.is_empty()) {
            (_, false) => PushServices::Listed(listed),
            (Environment::Production, true) => {
                PushServices::Listed(DEFAULT_PUSH_SERVICES.iter().map(|h| h.to_string()).collect())
            }
            (_, true) => PushServices::Any,
        };
        Config {
            environment,
            jwt_secret,
            pbkdf2_iterations,
            allowed_origins,
            bootstrap_admin,
            first_user_admin,
            hub_db_idle_ms: f64::from(hub_db_idle_seconds) * 1000.0,
            hub_session_recheck_ms: f64::from(hub_session_recheck_seconds) * 1000.0,
            hub_refuses_first_disconnect,
            registrations_per_address_per_hour,
            attachment_quota_bytes,
            log_every_hub_event,
            push,
            push_services,
        }
    }

    /// The Worker's vars and secrets; a secret wins over a var of the same name.
    #[cfg(target_arch = "wasm32")]
    pub fn from_env(env: &worker::Env) -> Config {
        Config::from_lookup(|name| {
            env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()
        })
    }

    pub fn is_origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|allowed| allowed == "*" || allowed == origin)
    }

    /// The phone number whose account is hidden from the user directory.
    pub fn bootstrap_admin_phone(&self) -> Option<&str> {
        self.bootstrap_admin.as_ref().map(|a| a.phone.as_str())
    }
}

/// Push is on with a valid key and contact; otherwise off, with the reason (which the API gives to
/// a client that subscribes). There is no default key: one must be made per deployment.
fn push_settings(private_key: Option<String>, subject: Option<String>) -> Result<PushSettings, String> {
    let off = |why: &str| Err(format!("Push notifications are off on this server: {why}"));
    let Some(private_key) = private_key else {
        return off("VAPID_PRIVATE_KEY is not set (a Worker secret; scripts/dev makes one for local use).");
    };
    if !crate::push::vapid::is_valid_private_key(&private_key) {
        return off("VAPID_PRIVATE_KEY is not base64url of a 32-byte P-256 private key.");
    }
    match subject {
        Some(subject) if crate::push::vapid::is_valid_subject(&subject) => Ok(PushSettings { private_key, subject }),
        _ => off("VAPID_SUBJECT must be a mailto: or https: contact for push services (RFC 8292)."),
    }
}

fn parse_iterations(raw: Option<&str>, environment: &Environment) -> Result<u32, ApiError> {
    let Some(raw) = raw else { return Ok(DEFAULT_PBKDF2_ITERATIONS) };
    let n: u32 = raw.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::misconfigured(format!("PBKDF2_ITERATIONS must be a positive integer, not {raw:?}."))
    })?;
    if n < DEFAULT_PBKDF2_ITERATIONS && *environment != Environment::Test {
        return Err(ApiError::misconfigured(format!(
            "PBKDF2_ITERATIONS={n} is below {DEFAULT_PBKDF2_ITERATIONS}; a lower count is allowed only when ENVIRONMENT=test."
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn hub_connections_idle_out_after_thirty_seconds_unless_configured() {
        assert_eq!(config(&[]).hub_db_idle_ms, 30_000.0);
        assert_eq!(config(&[("HUB_DB_IDLE_SECONDS", "2")]).hub_db_idle_ms, 2_000.0);
        assert_eq!(config(&[("HUB_DB_IDLE_SECONDS", "0")]).hub_db_idle_ms, 30_000.0);
        assert_eq!(config(&[("HUB_DB_IDLE_SECONDS", "soon")]).hub_db_idle_ms, 30_000.0);
    }

    #[test]
    fn hubs_recheck_sessions_every_minute_and_only_tests_change_that() {
        assert_eq!(config(&[]).hub_session_recheck_ms, 60_000.0);
        assert_eq!(config(&[("HUB_SESSION_RECHECK_SECONDS", "1")]).hub_session_recheck_ms, 60_000.0);
        let test = |v: &str| config(&[("ENVIRONMENT", "test"), ("HUB_SESSION_RECHECK_SECONDS", v)]);
        assert_eq!(test("2").hub_session_recheck_ms, 2_000.0);
        assert_eq!(test("0").hub_session_recheck_ms, 60_000.0);
        assert_eq!(test("often").hub_session_recheck_ms, 60_000.0);
    }

    #[test]
    fn only_tests_can_make_hubs_refuse_a_disconnect() {
        assert!(!config(&[]).log_every_hub_event);
        assert!(config(&[("LOG_HUB_EVENTS", "all")]).log_every_hub_event);
        assert!(!config(&[("LOG_HUB_EVENTS", "some")]).log_every_hub_event);
        assert!(!config(&[]).hub_refuses_first_disconnect);
        assert!(!config(&[("TEST_HUB_REFUSES_FIRST_DISCONNECT", "true")]).hub_refuses_first_disconnect);
        let dev = config(&[("ENVIRONMENT", "development"), ("TEST_HUB_REFUSES_FIRST_DISCONNECT", "true")]);
        assert!(!dev.hub_refuses_first_disconnect);
        let test = config(&[("ENVIRONMENT", "test"), ("TEST_HUB_REFUSES_FIRST_DISCONNECT", "true")]);
        assert!(test.hub_refuses_first_disconnect);
        assert!(!config(&[("ENVIRONMENT", "test")]).hub_refuses_first_disconnect);
    }

    #[test]
    fn registrations_per_address_are_limited_in_production_unless_configured() {
        assert_eq!(config(&[]).registrations_per_address_per_hour, Some(10));
        assert_eq!(config(&[("REGISTRATIONS_PER_ADDRESS_PER_HOUR", "3")]).registrations_per_address_per_hour, Some(3));
        assert_eq!(config(&[("REGISTRATIONS_PER_ADDRESS_PER_HOUR", "0")]).registrations_per_address_per_hour, None);
        assert_eq!(config(&[("ENVIRONMENT", "development")]).registrations_per_address_per_hour, None);
        let test_with_limit = config(&[("ENVIRONMENT", "test"), ("REGISTRATIONS_PER_ADDRESS_PER_HOUR", "2")]);
        assert_eq!(test_with_limit.registrations_per_address_per_hour, Some(2));
    }

    #[test]
    fn the_attachment_quota_is_a_gibibyte_unless_configured() {
        assert_eq!(config(&[]).attachment_quota_bytes, 1 << 30);
        assert_eq!(config(&[("ATTACHMENT_QUOTA_BYTES", "5000")]).attachment_quota_bytes, 5000);
        assert_eq!(config(&[("ATTACHMENT_QUOTA_BYTES", "0")]).attachment_quota_bytes, 1 << 30);
        assert_eq!(config(&[("ATTACHMENT_QUOTA_BYTES", "lots")]).attachment_quota_bytes, 1 << 30);
    }

    #[test]
    fn push_is_on_with_a_vapid_key_and_contact_and_off_with_the_reason_otherwise() {
        const KEY: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
        let on = config(&[("VAPID_PRIVATE_KEY", KEY), ("VAPID_SUBJECT", "mailto:ops@chat.example")]).push.unwrap();
        assert_eq!((on.private_key.as_str(), on.subject.as_str()), (KEY, "mailto:ops@chat.example"));
        let off = |pairs: &[(&str, &str)]| config(pairs).push.unwrap_err();
        assert!(off(&[]).contains("VAPID_PRIVATE_KEY is not set"));
        assert!(
            off(&[("VAPID_PRIVATE_KEY", "AAAA"), ("VAPID_SUBJECT", "mailto:a@b.example")]).contains("not base64url")
        );
        assert!(off(&[("VAPID_PRIVATE_KEY", KEY)]).contains("VAPID_SUBJECT"));
        assert!(off(&[("VAPID_PRIVATE_KEY", KEY), ("VAPID_SUBJECT", "ops@chat.example")]).contains("VAPID_SUBJECT"));
        let browsers = PushServices::Listed(DEFAULT_PUSH_SERVICES.iter().map(|h| h.to_string()).collect());
        assert_eq!(config(&[]).push_services, browsers, "production posts to the browsers' push services only");
        assert_eq!(config(&[("ENVIRONMENT", "test")]).push_services, PushServices::Any);
        assert_eq!(
            config(&[("PUSH_SERVICES", " Push.Chat.Example, ,fcm.googleapis.com")]).push_services,
            PushServices::Listed(vec!["push.chat.example".into(), "fcm.googleapis.com".into()])
        );
        assert_eq!(config(&[("ENVIRONMENT", "development")]).push_services, PushServices::Any);
    }

    #[test]
    fn a_missing_jwt_secret_is_an_error_not_a_default() {
        let err = config(&[]).jwt_secret.unwrap_err();
        assert_eq!(err.status, 500);
        assert!(err.message.contains("JWT_SECRET is not set"));
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let err = config(&[("JWT_SECRET", "short")]).jwt_secret.unwrap_err();
        assert!(err.message.contains("at least 32 bytes"));
        assert_eq!(config(&[("JWT_SECRET", SECRET)]).jwt_secret.unwrap(), SECRET.as_bytes());
    }

    #[test]
    fn low_iteration_counts_are_for_tests_only() {
        assert_eq!(config(&[]).pbkdf2_iterations.unwrap(), 600_000);
        assert!(config(&[("PBKDF2_ITERATIONS", "1000")]).pbkdf2_iterations.is_err());
        assert!(config(&[("PBKDF2_ITERATIONS", "1000"), ("ENVIRONMENT", "development")]).pbkdf2_iterations.is_err());
        assert_eq!(config(&[("PBKDF2_ITERATIONS", "1000"), ("ENVIRONMENT", "test")]).pbkdf2_iterations.unwrap(), 1000);
        assert_eq!(config(&[("PBKDF2_ITERATIONS", "900000")]).pbkdf2_iterations.unwrap(), 900_000);
        assert!(config(&[("PBKDF2_ITERATIONS", "lots")]).pbkdf2_iterations.is_err());
    }

    #[test]
    fn origins_are_an_exact_allow_list() {
        let c = config(&[("ALLOWED_ORIGINS", "https://chat.example, http://localhost:3000/")]);
        assert!(c.is_origin_allowed("https://chat.example"));
        assert!(c.is_origin_allowed("http://localhost:3000"));
        assert!(!c.is_origin_allowed("https://chat.example.evil"));
        assert!(!config(&[]).is_origin_allowed("https://chat.example"));
    }

    #[test]
    fn bootstrap_admin_needs_both_phone_and_password() {
        assert!(config(&[("ADMIN_PHONE", "+15550000001")]).bootstrap_admin.is_none());
        let c = config(&[("ADMIN_PHONE", "+15550000001"), ("ADMIN_PASSWORD", "correct horse")]);
        assert_eq!(c.bootstrap_admin_phone(), Some("+15550000001"));
    }

    #[test]
    fn first_user_admin_defaults_on_outside_production_only() {
        assert!(!config(&[]).first_user_admin, "production when ENVIRONMENT is unset: off");
        assert!(config(&[("ENVIRONMENT", "development")]).first_user_admin);
        assert!(config(&[("FIRST_USER_ADMIN", "true")]).first_user_admin, "on in production only when asked");
        assert!(!config(&[("ENVIRONMENT", "development"), ("FIRST_USER_ADMIN", "false")]).first_user_admin);
        assert!(!config(&[("FIRST_USER_ADMIN", "false")]).first_user_admin);
    }
}
