//! Web Push: a device's push subscription, the server's VAPID public key that browsers subscribe
//! with, a member's mute of a conversation, and what a push carries (README "Push notifications").

use crate::error::ApiError;
use crate::push::encryption::{is_valid_public_key, AUTH_SECRET_BYTES, P256_PUBLIC_KEY_BYTES};
use crate::push::{decode_base64url, MAX_PLAINTEXT_BYTES};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// Push service URLs run to a few hundred characters (FCM's are ~190, Mozilla's ~250); the bound
/// keeps rows small and refuses anything that is plainly not one.
pub const MAX_PUSH_ENDPOINT_CHARS: usize = 2048;
/// `keys.p256dh`: an uncompressed P-256 point.
pub const PUSH_P256DH_BYTES: usize = P256_PUBLIC_KEY_BYTES;
/// `keys.auth`: the subscription's authentication secret.
pub const PUSH_AUTH_BYTES: usize = AUTH_SECRET_BYTES;
/// The JSON a push carries holds at most this many bytes, so that it fits one push once encrypted
/// (a push body is at most 4096 bytes, RFC 8291 §4); the MLS ciphertext is left out beyond it.
pub const MAX_PUSH_PAYLOAD_BYTES: usize = MAX_PLAINTEXT_BYTES;
/// `mutedUntil` for a conversation muted until it is unmuted.
pub const MUTED_ALWAYS: &str = "always";

/// Base64url (RFC 4648 §5) of exactly `bytes` bytes, padded or not, with no leftover bits in the
/// last character: what `decode_base64url` takes. Browsers send the keys unpadded.
fn base64url_pattern(bytes: usize) -> String {
    let (groups, tail) = (bytes / 3, bytes % 3);
    let tail = match tail {
        0 => String::new(),
        1 => "[A-Za-z0-9_-][AQgw](?:==)?".to_string(),
        _ => "[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]=?".to_string(),
    };
    format!("^(?:[A-Za-z0-9_-]{{4}}){{{groups}}}{tail}$")
}

fn p256dh_pattern() -> String {
    base64url_pattern(PUSH_P256DH_BYTES)
}

fn auth_pattern() -> String {
    base64url_pattern(PUSH_AUTH_BYTES)
}

/// `POST /devices/me/push`: the browser's `PushSubscription.toJSON()`, as it gives it (other
/// fields, such as `expirationTime`, are ignored).
#[derive(Debug, Deserialize, TS, JsonSchema)]
pub struct PushSubscriptionRequest {
    /// The push service's URL for this subscription: `https:` (plain `http:` only to a loopback
    /// host, and only where `ENVIRONMENT` is `development` or `test`).
    #[schemars(length(min = 1, max = MAX_PUSH_ENDPOINT_CHARS), url)]
    pub endpoint: String,
    pub keys: PushSubscriptionKeys,
}

#[derive(Debug, Deserialize, TS, JsonSchema)]
pub struct PushSubscriptionKeys {
    /// Base64url of the subscription's public key, an uncompressed P-256 point (65 bytes).
    #[schemars(pattern(p256dh_pattern()))]
    pub p256dh: String,
    /// Base64url of the subscription's 16-byte authentication secret.
    #[schemars(pattern(auth_pattern()))]
    pub auth: String,
}

/// A subscription, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPushSubscription {
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
}

/// The push services of the browsers people use (Chrome and Edge's, Firefox's, Safari's and
/// Windows'), by host: an endpoint names one of these or a host under it. What production takes
/// unless `PUSH_SERVICES` lists others (README "Push notifications").
pub const DEFAULT_PUSH_SERVICES: &[&str] =
    &["fcm.googleapis.com", "push.services.mozilla.com", "push.apple.com", "notify.windows.com"];

/// Which push services a subscription may name: the Worker posts to its endpoint, so this is what
/// keeps it from being made to post anywhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushServices {
    /// Production: `https:` on the default port to one of these hosts, or a host under one.
    Listed(Vec<String>),
    /// Development and tests: any `https:` host by name, and plain `http:` to this machine (the
    /// tests' push service is a local server).
    Any,
}

impl PushServices {
    /// Whether `host` (a name) is one of the listed services or under one.
    fn lists(hosts: &[String], host: &str) -> bool {
        hosts
            .iter()
            .any(|listed| host == listed || host.strip_suffix(listed.as_str()).is_some_and(|sub| sub.ends_with('.')))
    }
}

impl PushSubscriptionRequest {
    pub fn validate(self, services: &PushServices) -> Result<NewPushSubscription, ApiError> {
        validate_endpoint(&self.endpoint, services)?;
        let p256dh = decode_base64url(&self.keys.p256dh)
            .filter(|key| key.len() == PUSH_P256DH_BYTES && is_valid_public_key(key))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_field",
                    format!(
                        "keys.p256dh is base64url of the subscription's public key: an uncompressed P-256 point of \
                         {PUSH_P256DH_BYTES} bytes."
                    ),
                )
            })?;
        let auth = decode_base64url(&self.keys.auth).filter(|auth| auth.len() == PUSH_AUTH_BYTES).ok_or_else(|| {
            ApiError::bad_request("invalid_field", format!("keys.auth is base64url of {PUSH_AUTH_BYTES} bytes."))
        })?;
        Ok(NewPushSubscription { endpoint: self.endpoint, p256dh, auth })
    }
}

/// A push service URL the Worker may post to (see `PushServices`): absolute, with no credentials
/// and no fragment, `https:` to a host by name (never an address); in production one of the
/// listed services on the default port. Names ending in a dot are refused (`localhost.` is this
/// machine too).
pub fn validate_endpoint(endpoint: &str, services: &PushServices) -> Result<(), ApiError> {
    let refused = |why: &str| ApiError::bad_request("invalid_endpoint", format!("endpoint {why}."));
    if endpoint.chars().count() > MAX_PUSH_ENDPOINT_CHARS {
        return Err(refused(&format!("is at most {MAX_PUSH_ENDPOINT_CHARS} characters")));
    }
    let url = url::Url::parse(endpoint).map_err(|_| refused("is not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(refused("may hold no credentials and no fragment"));
    }
    let (name, loopback) = match url.host() {
        Some(url::Host::Domain(name)) if name.ends_with('.') => {
            return Err(refused("names a host without a trailing dot"))
        }
        Some(url::Host::Domain(name)) => (Some(name), name == "localhost" || name.ends_with(".localhost")),
        Some(url::Host::Ipv4(ip)) => (None, ip.is_loopback()),
        Some(url::Host::Ipv6(ip)) => (None, ip.is_loopback()),
        None => return Err(refused("names no host")),
    };
    match (services, url.scheme(), name) {
        (PushServices::Listed(hosts), "https", Some(name))
            if PushServices::lists(hosts, name) && url.port().is_none() =>
        {
            Ok(())
        }
        (PushServices::Listed(hosts), _, _) => {
            Err(refused(&format!("is an https: URL of a push service this server takes ({})", hosts.join(", "))))
        }
        (PushServices::Any, "https", Some(_)) if !loopback => Ok(()),
        (PushServices::Any, "http", _) if loopback => Ok(()),
        (PushServices::Any, "https" | "http", _) => Err(refused("is an https: URL of a push service, by its name")),
        (PushServices::Any, _, _) => Err(refused("is an https: URL")),
    }
}

/// `GET /push/vapid-public-key`: what a browser subscribes with.
#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushServerKey {
    /// Base64url of the server's VAPID public key (an uncompressed P-256 point), to pass as
    /// `applicationServerKey` to `pushManager.subscribe`; null when push is off on this server.
    pub public_key: Option<String>,
}

/// `PUT /conversations/:id/notifications`: the caller's mute of one conversation.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSettingsRequest {
    /// `"always"`, an RFC 3339 time (muted until then), or null (not muted). Required: a body
    /// that leaves it out is refused rather than read as "unmute".
    #[serde(deserialize_with = "Option::deserialize")]
    #[schemars(schema_with = "muted_until_schema")]
    #[ts(type = "string | null")]
    pub muted_until: Option<String>,
}

fn muted_until_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            { "type": "null" },
            { "type": "string", "const": MUTED_ALWAYS },
            { "type": "string", "format": "date-time" },
        ],
    })
}

/// A member's mute of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mute {
    Off,
    Until(DateTime<Utc>),
    Always,
}

impl NotificationSettingsRequest {
    pub fn validate(self) -> Result<Mute, ApiError> {
        match self.muted_until.as_deref() {
            None => Ok(Mute::Off),
            Some(MUTED_ALWAYS) => Ok(Mute::Always),
            Some(time) => DateTime::parse_from_rfc3339(time).map(|t| Mute::Until(t.to_utc())).map_err(|_| {
                ApiError::bad_request(
                    "invalid_field",
                    "mutedUntil is \"always\", an RFC 3339 time (e.g. 2030-01-01T08:00:00Z) or null (not muted).",
                )
            }),
        }
    }
}

/// The caller's notification settings of one conversation.
#[derive(Debug, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSettings {
    pub conversation_id: Uuid,
    /// `"always"`, the time the mute ends (RFC 3339), or null: not muted (a mute whose time has
    /// passed reads null).
    #[schemars(schema_with = "muted_until_schema")]
    #[ts(type = "string | null")]
    pub muted_until: Option<String>,
}

impl NotificationSettings {
    /// The settings as the caller reads them at `now`.
    pub fn at(conversation_id: Uuid, mute: Mute, now: DateTime<Utc>) -> Self {
        let muted_until = match mute {
            Mute::Off => None,
            Mute::Until(until) if until <= now => None,
            Mute::Until(until) => Some(until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            Mute::Always => Some(MUTED_ALWAYS.to_string()),
        };
        Self { conversation_id, muted_until }
    }
}

/// What a push carries, encrypted to the subscription (RFC 8291): enough for the service worker
/// to fetch and decrypt what came, or to clear what it showed, and never a name or a word of it.
/// Tagged by `type`, like the socket's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PushPayload {
    /// A message came. It stands for the newest message of its conversation: pushes under a burst
    /// are coalesced, so a device syncs everything after what it holds rather than count on one
    /// push per message.
    #[serde(rename_all = "camelCase")]
    Message {
        conversation_id: Uuid,
        seq: i64,
        message_id: Uuid,
        /// Base64 of that message's MLS ciphertext, when the whole payload stays within
        /// `MAX_PUSH_PAYLOAD_BYTES`; otherwise absent, and the service worker fetches it.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        ciphertext: Option<String>,
    },
    /// The user read the conversation on another device, up to the message at `seq` (the one
    /// their `read` receipt was for): the notifications shown for it up to there can go. Sent only
    /// to a device that was pushed a message of that conversation since its last read push for it.
    #[serde(rename_all = "camelCase")]
    Read { conversation_id: Uuid, seq: i64 },
}

impl PushPayload {
    pub fn conversation_id(&self) -> Uuid {
        match self {
            PushPayload::Message { conversation_id, .. } | PushPayload::Read { conversation_id, .. } => {
                *conversation_id
            }
        }
    }

    pub fn seq(&self) -> i64 {
        match self {
            PushPayload::Message { seq, .. } | PushPayload::Read { seq, .. } => *seq,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, PushPayload::Read { .. })
    }

    /// The JSON a push carries: with the ciphertext when it fits, else without.
    pub fn to_bytes(&self) -> Vec<u8> {
        let with = serde_json::to_vec(self).unwrap_or_default();
        if with.len() <= MAX_PUSH_PAYLOAD_BYTES {
            return with;
        }
        // Nothing else can grow past the bound: a few ids and numbers.
        serde_json::to_vec(&self.without_ciphertext()).unwrap_or(with)
    }

    /// What a push of it will carry (see `to_bytes`): a hub owes this, and keeps no ciphertext a
    /// push would leave out.
    pub fn fitted(self) -> Self {
        if serde_json::to_vec(&self).is_ok_and(|bytes| bytes.len() <= MAX_PUSH_PAYLOAD_BYTES) {
            self
        } else {
            self.without_ciphertext()
        }
    }

    /// The same, without a message's ciphertext (a push then says "New message").
    pub fn without_ciphertext(&self) -> Self {
        match self {
            PushPayload::Message { conversation_id, seq, message_id, .. } => PushPayload::Message {
                conversation_id: *conversation_id,
                seq: *seq,
                message_id: *message_id,
                ciphertext: None,
            },
            read => read.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::encode_base64url;

    // RFC 8291 Appendix A's subscription keys.
    const P256DH: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    fn request(endpoint: &str, p256dh: &str, auth: &str) -> PushSubscriptionRequest {
        PushSubscriptionRequest {
            endpoint: endpoint.into(),
            keys: PushSubscriptionKeys { p256dh: p256dh.into(), auth: auth.into() },
        }
    }

    fn production() -> PushServices {
        PushServices::Listed(DEFAULT_PUSH_SERVICES.iter().map(|h| h.to_string()).collect())
    }

    fn refusal(endpoint: &str, services: &PushServices) -> (u16, &'static str) {
        let e = request(endpoint, P256DH, AUTH).validate(services).unwrap_err();
        (e.status, e.code)
    }

    #[test]
    fn a_subscription_is_an_https_endpoint_and_its_two_keys() {
        let ok = request("https://fcm.googleapis.com/fcm/send/abc:def", P256DH, AUTH).validate(&production()).unwrap();
        assert_eq!(ok.p256dh.len(), 65);
        assert_eq!(ok.auth.len(), 16);
        assert_eq!(ok.endpoint, "https://fcm.googleapis.com/fcm/send/abc:def");
        // Padded keys, as some libraries write them, are the same keys.
        let padded =
            request("https://push.example/x", &format!("{P256DH}="), &format!("{AUTH}==")).validate(&PushServices::Any);
        assert_eq!(padded.unwrap().p256dh, ok.p256dh);
    }

    #[test]
    fn endpoints_are_https_to_a_named_host_and_loopback_http_only_outside_production() {
        let refused = (400, "invalid_endpoint");
        for endpoint in [
            "http://push.example/x",
            "https://192.0.2.1/x",
            "https://[2001:db8::1]/x",
            "https://localhost/x",
            "https://localhost./x",
            "https://push.localhost/x",
            "https://127.0.0.1/x",
            "https://push.example./x",
            "https://user:pw@push.example/x",
            "https://push.example/x#frag",
            "ftp://push.example/x",
            "/relative",
            "not a url",
            "",
        ] {
            assert_eq!(refusal(endpoint, &PushServices::Any), refused, "{endpoint}");
            assert_eq!(refusal(endpoint, &production()), refused, "{endpoint}");
        }
        assert_eq!(
            refusal(&format!("https://push.example/{}", "x".repeat(MAX_PUSH_ENDPOINT_CHARS)), &PushServices::Any),
            refused
        );
        for endpoint in [
            "http://127.0.0.1:9000/push/1",
            "http://localhost:9000/p",
            "http://[::1]:9000/p",
            "https://push.example:8443/x",
        ] {
            assert!(request(endpoint, P256DH, AUTH).validate(&PushServices::Any).is_ok(), "{endpoint}");
            assert_eq!(refusal(endpoint, &production()), refused, "production: {endpoint}");
        }
    }

    #[test]
    fn production_takes_the_listed_push_services_only_on_the_default_port() {
        for endpoint in [
            "https://fcm.googleapis.com/fcm/send/abc",
            "https://updates.push.services.mozilla.com/wpush/v2/abc",
            "https://web.push.apple.com/abc",
            "https://db5p.notify.windows.com/w/?token=abc",
            "https://fcm.googleapis.com:443/fcm/send/abc",
        ] {
            assert!(request(endpoint, P256DH, AUTH).validate(&production()).is_ok(), "{endpoint}");
        }
        for endpoint in [
            "https://push.example/x",
            "https://victim.example:8443/api?action=x",
            "https://fcm.googleapis.com:8443/fcm/send/abc",
            "https://evilfcm.googleapis.com.example/x",
            "https://notpush.apple.com/x",
            "http://fcm.googleapis.com/fcm/send/abc",
        ] {
            assert_eq!(refusal(endpoint, &production()), (400, "invalid_endpoint"), "{endpoint}");
        }
        let own = PushServices::Listed(vec!["push.chat.example".into()]);
        assert!(request("https://eu.push.chat.example/x", P256DH, AUTH).validate(&own).is_ok());
        assert!(request("https://fcm.googleapis.com/fcm/send/abc", P256DH, AUTH).validate(&own).is_err());
    }

    #[test]
    fn keys_must_be_a_curve_point_and_a_16_byte_secret() {
        let code = |p256dh: &str, auth: &str| {
            let e = request("https://push.example/x", p256dh, auth).validate(&PushServices::Any).unwrap_err();
            (e.status, e.code, e.message)
        };
        let (status, code_p, message) = code(&encode_base64url(&[4; 65]), AUTH);
        assert_eq!((status, code_p), (400, "invalid_field"));
        assert!(message.starts_with("keys.p256dh"), "{message}");
        assert!(code(&P256DH[..80], AUTH).2.starts_with("keys.p256dh"));
        assert!(code("not base64url!", AUTH).2.starts_with("keys.p256dh"));
        assert!(code(P256DH, &AUTH[..20]).2.starts_with("keys.auth"));
        assert!(code(P256DH, &encode_base64url(&[1; 32])).2.starts_with("keys.auth"));
    }

    #[test]
    fn the_key_patterns_bound_the_bytes_not_only_the_characters() {
        // 65 bytes: 21 groups, then two bytes in three characters whose last leaves no bits over.
        assert_eq!(p256dh_pattern(), "^(?:[A-Za-z0-9_-]{4}){21}[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]=?$");
        // 16 bytes: 5 groups, then one byte in two characters.
        assert_eq!(auth_pattern(), "^(?:[A-Za-z0-9_-]{4}){5}[A-Za-z0-9_-][AQgw](?:==)?$");
        assert_eq!(base64url_pattern(3), "^(?:[A-Za-z0-9_-]{4}){1}$");
        // What the patterns allow in the last character is what the decoder takes there.
        assert!(decode_base64url("BTBZMqHH6r4Tts7J_aSIgh").is_none(), "leftover bits are refused");
        assert_eq!(decode_base64url(&P256DH.replace("w4", "w8")).map(|b| b.len()), Some(65));
    }

    #[test]
    fn a_mute_is_always_a_time_or_null_and_must_be_given() {
        let mute = |body: serde_json::Value| {
            serde_json::from_value::<NotificationSettingsRequest>(body)
                .map_err(|e| e.to_string())?
                .validate()
                .map_err(|e| e.code.to_string())
        };
        assert_eq!(mute(serde_json::json!({ "mutedUntil": null })), Ok(Mute::Off));
        assert_eq!(mute(serde_json::json!({ "mutedUntil": "always" })), Ok(Mute::Always));
        let until = DateTime::parse_from_rfc3339("2030-01-01T08:00:00Z").unwrap().to_utc();
        assert_eq!(mute(serde_json::json!({ "mutedUntil": "2030-01-01T09:00:00+01:00" })), Ok(Mute::Until(until)));
        assert_eq!(mute(serde_json::json!({ "mutedUntil": "tomorrow" })), Err("invalid_field".into()));
        assert!(mute(serde_json::json!({})).is_err(), "left out is not unmute");
    }

    #[test]
    fn settings_read_a_past_mute_as_none() {
        let id = Uuid::from_u128(7);
        let now = DateTime::parse_from_rfc3339("2030-01-01T08:00:00Z").unwrap().to_utc();
        let later = now + chrono::Duration::hours(8);
        assert_eq!(NotificationSettings::at(id, Mute::Off, now).muted_until, None);
        assert_eq!(NotificationSettings::at(id, Mute::Until(now), now).muted_until, None);
        assert_eq!(
            NotificationSettings::at(id, Mute::Until(later), now).muted_until.as_deref(),
            Some("2030-01-01T16:00:00.000Z")
        );
        assert_eq!(NotificationSettings::at(id, Mute::Always, now).muted_until.as_deref(), Some("always"));
    }

    #[test]
    fn a_payload_carries_the_ciphertext_only_when_it_fits_one_push() {
        let payload = |ciphertext: String| PushPayload::Message {
            conversation_id: Uuid::from_u128(1),
            seq: 42,
            message_id: Uuid::from_u128(2),
            ciphertext: Some(ciphertext),
        };
        let small = payload("AAAA".into()).to_bytes();
        let read: PushPayload = serde_json::from_slice(&small).unwrap();
        assert_eq!(read, payload("AAAA".into()));
        assert_eq!(payload("AAAA".into()).fitted(), payload("AAAA".into()));
        assert!(matches!(
            payload("A".repeat(MAX_PUSH_PAYLOAD_BYTES)).fitted(),
            PushPayload::Message { ciphertext: None, .. }
        ));
        let large = payload("A".repeat(MAX_PUSH_PAYLOAD_BYTES)).to_bytes();
        let read: PushPayload = serde_json::from_slice(&large).unwrap();
        assert!(matches!(read, PushPayload::Message { seq: 42, ciphertext: None, .. }), "{read:?}");
        assert!(large.len() <= MAX_PUSH_PAYLOAD_BYTES);
    }

    #[test]
    fn a_payload_is_a_message_or_a_read_tagged_by_type() {
        let conversation = Uuid::from_u128(1);
        let message = PushPayload::Message {
            conversation_id: conversation,
            seq: 7,
            message_id: Uuid::from_u128(2),
            ciphertext: None,
        };
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&message.to_bytes()).unwrap(),
            serde_json::json!({
                "type": "message",
                "conversationId": conversation,
                "seq": 7,
                "messageId": Uuid::from_u128(2),
            })
        );
        let read = PushPayload::Read { conversation_id: conversation, seq: 7 };
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&read.to_bytes()).unwrap(),
            serde_json::json!({ "type": "read", "conversationId": conversation, "seq": 7 })
        );
        assert!(read.is_read() && !message.is_read());
        assert_eq!((read.conversation_id(), read.seq()), (conversation, 7));
    }
}
