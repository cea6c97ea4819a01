//! RFC 8292 VAPID: the server proves to a push service that a push comes from the server the
//! subscription was made for. Each request carries `Authorization: vapid t=<JWT>, k=<public key>`,
//! the JWT signed with ES256 (ECDSA P-256, SHA-256) by the server's VAPID key, and the browser
//! subscribed with that public key (`applicationServerKey`), so a push service refuses anyone else.

use super::{decode_base64url, encode_base64url};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use std::collections::HashMap;

/// RFC 8292 §2: a token's `exp` is at most 24 hours ahead. Half that leaves room for clocks that
/// disagree, and a hub may reuse one token for as long (`TOKEN_REUSE_SECS`).
pub const TOKEN_LIFETIME_SECS: i64 = 12 * 3600;
/// How long a token is used again for pushes to the same push service before a new one is
/// signed: well inside its lifetime, so it is never sent close to expiring.
pub const TOKEN_REUSE_SECS: i64 = 6 * 3600;

/// The server's VAPID key pair.
pub struct VapidKey {
    signing: SigningKey,
    /// The public key as browsers take it for `applicationServerKey`: base64url of the
    /// uncompressed point.
    public: String,
}

impl VapidKey {
    /// The private key as `VAPID_PRIVATE_KEY` holds it: base64url of the 32-byte scalar (what
    /// `scripts/dev` writes, and the usual format of Web Push tools).
    pub fn from_base64url(private: &str) -> Result<Self, String> {
        let bytes = decode_base64url(private.trim())
            .filter(|b| b.len() == 32)
            .ok_or("VAPID_PRIVATE_KEY is not base64url of a 32-byte P-256 private key")?;
        let signing = SigningKey::from_slice(&bytes).map_err(|_| "VAPID_PRIVATE_KEY is not a P-256 private key")?;
        let public = encode_base64url(signing.verifying_key().to_encoded_point(false).as_bytes());
        Ok(Self { signing, public })
    }

    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header of a push to a service at `audience` (its origin, `audience()`),
    /// by `subject` (a `mailto:` or `https:` contact for the push service's operator), valid
    /// until `expires_at` (seconds since the epoch).
    pub fn authorization(&self, audience: &str, subject: &str, expires_at: i64) -> String {
        format!("vapid t={}, k={}", self.token(audience, subject, expires_at), self.public)
    }

    /// The JWT: ES256, claims `aud`, `exp` and `sub` (RFC 8292 §2).
    pub fn token(&self, audience: &str, subject: &str, expires_at: i64) -> String {
        let header = encode_base64url(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": audience, "exp": expires_at, "sub": subject });
        let claims = encode_base64url(claims.to_string().as_bytes());
        let signing_input = format!("{header}.{claims}");
        // RFC 6979's deterministic nonce: no randomness needed, none to get wrong.
        let signature: Signature = self.signing.sign(signing_input.as_bytes());
        // JWS (RFC 7518 §3.4) takes R and S as 32 bytes each, not DER.
        format!("{signing_input}.{}", encode_base64url(&signature.to_bytes()))
    }
}

/// The `Authorization` headers a hub signed, by push service (`audience`), each used again for
/// `TOKEN_REUSE_SECS` after it was signed. Those past it are dropped whenever one is added, so a
/// hub that lives for weeks holds only the services it pushed to in the last `TOKEN_REUSE_SECS`
/// (in production a handful: the browsers' push services), not every one it ever pushed to.
#[derive(Debug, Default)]
pub struct Authorizations {
    by_audience: HashMap<String, (String, f64)>,
}

impl Authorizations {
    /// Whether a header signed at `signed_at_ms` may still be used at `now_ms`.
    fn reusable(signed_at_ms: f64, now_ms: f64) -> bool {
        now_ms - signed_at_ms < TOKEN_REUSE_SECS as f64 * 1000.0
    }

    /// The header to use again for `audience`, if one was signed within `TOKEN_REUSE_SECS`.
    pub fn get(&self, audience: &str, now_ms: f64) -> Option<&str> {
        self.by_audience
            .get(audience)
            .filter(|(_, signed_at)| Self::reusable(*signed_at, now_ms))
            .map(|(header, _)| header.as_str())
    }

    /// Keeps `header`, just signed for `audience`, and drops every header past its reuse.
    pub fn insert(&mut self, audience: &str, header: String, now_ms: f64) {
        self.by_audience.retain(|_, (_, signed_at)| Self::reusable(*signed_at, now_ms));
        self.by_audience.insert(audience.to_string(), (header, now_ms));
    }

    pub fn len(&self) -> usize {
        self.by_audience.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_audience.is_empty()
    }
}

/// Whether `private` is a key `VapidKey::from_base64url` takes, checked without deriving its
/// public key (a scalar multiplication, not worth making for every request's configuration).
pub fn is_valid_private_key(private: &str) -> bool {
    decode_base64url(private.trim())
        .is_some_and(|bytes| bytes.len() == 32 && p256::SecretKey::from_slice(&bytes).is_ok())
}

/// The `aud` of pushes to `endpoint`: its origin (scheme, host and port unless the default), as
/// RFC 8292 §2 asks. None for an endpoint that is no absolute http(s) URL.
pub fn audience(endpoint: &str) -> Option<String> {
    let url = url::Url::parse(endpoint).ok()?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// Whether `subject` is a contact RFC 8292 §2.1 allows: a `mailto:` or an `https:` URI.
pub fn is_valid_subject(subject: &str) -> bool {
    let contact = |prefix: &str| subject.strip_prefix(prefix).is_some_and(|rest| rest.len() > 1);
    (contact("mailto:") && subject.contains('@')) || (contact("https://") && url::Url::parse(subject).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;

    // RFC 8292 has no fixed example (ECDSA signatures need not repeat); RFC 8291's sender key
    // serves as a known key pair.
    const PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const PUBLIC: &str = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";

    #[test]
    fn the_public_key_is_the_uncompressed_point_in_base64url() {
        let key = VapidKey::from_base64url(PRIVATE).unwrap();
        assert_eq!(key.public_key(), PUBLIC);
        assert!(is_valid_private_key(PRIVATE));
        for bad in ["", "not base64!", "AAAA", &encode_base64url(&[0; 32]), &encode_base64url(&[0xff; 32])] {
            assert!(VapidKey::from_base64url(bad).is_err(), "{bad:?}");
            assert!(!is_valid_private_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_token_is_an_es256_jwt_that_verifies_with_the_public_key() {
        let key = VapidKey::from_base64url(PRIVATE).unwrap();
        let header = key.authorization("https://push.example.net", "mailto:ops@chat.example", 1_700_000_000);
        let (token, public) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(public, PUBLIC);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let json = |part: &str| serde_json::from_slice::<serde_json::Value>(&decode_base64url(part).unwrap()).unwrap();
        assert_eq!(json(parts[0]), serde_json::json!({ "typ": "JWT", "alg": "ES256" }));
        assert_eq!(
            json(parts[1]),
            serde_json::json!({ "aud": "https://push.example.net", "exp": 1_700_000_000, "sub": "mailto:ops@chat.example" })
        );
        let verifying = VerifyingKey::from_sec1_bytes(&decode_base64url(public).unwrap()).unwrap();
        let signature = Signature::from_slice(&decode_base64url(parts[2]).unwrap()).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(verifying.verify(signed.as_bytes(), &signature).is_ok());
        assert!(verifying.verify(b"something else", &signature).is_err());
        let other = VapidKey::from_base64url("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94").unwrap();
        let other = VerifyingKey::from_sec1_bytes(&decode_base64url(other.public_key()).unwrap()).unwrap();
        assert!(other.verify(signed.as_bytes(), &signature).is_err());
    }

    #[test]
    fn tokens_live_well_under_a_day() {
        assert!(TOKEN_REUSE_SECS < TOKEN_LIFETIME_SECS && TOKEN_LIFETIME_SECS <= 24 * 3600);
    }

    #[test]
    fn a_header_is_reused_within_its_window_and_dropped_past_it_when_another_is_added() {
        let reuse_ms = TOKEN_REUSE_SECS as f64 * 1000.0;
        let mut cache = Authorizations::default();
        cache.insert("https://a.example", "vapid a".into(), 0.0);
        assert_eq!(cache.get("https://a.example", reuse_ms - 1.0), Some("vapid a"));
        assert_eq!(cache.get("https://a.example", reuse_ms), None, "signed again past its reuse");
        assert_eq!(cache.get("https://b.example", 0.0), None);
        cache.insert("https://b.example", "vapid b".into(), reuse_ms / 2.0);
        assert_eq!(cache.len(), 2, "both still reusable");
        // A thousand services pushed to over time: only those of the last window stay.
        for i in 0..1000 {
            cache.insert(
                &format!("https://s{i}.example"),
                format!("vapid {i}"),
                reuse_ms + i as f64 * reuse_ms / 100.0,
            );
        }
        assert!(cache.len() <= 101, "{} kept", cache.len());
        assert_eq!(cache.get("https://a.example", 11.0 * reuse_ms), None);
        assert_eq!(cache.get("https://s999.example", 11.0 * reuse_ms), Some("vapid 999"));
        // Signed again for the same service: the newer one is used, one entry.
        let before = cache.len();
        cache.insert("https://s999.example", "vapid again".into(), 11.0 * reuse_ms);
        assert_eq!(cache.get("https://s999.example", 11.0 * reuse_ms), Some("vapid again"));
        assert!(cache.len() <= before && !cache.is_empty());
    }

    #[test]
    fn the_audience_is_the_endpoint_origin() {
        assert_eq!(
            audience("https://fcm.googleapis.com/fcm/send/abc:def").as_deref(),
            Some("https://fcm.googleapis.com")
        );
        assert_eq!(audience("https://Push.Example:443/x?y#z").as_deref(), Some("https://push.example"));
        assert_eq!(audience("https://push.example:8443/x").as_deref(), Some("https://push.example:8443"));
        assert_eq!(audience("http://127.0.0.1:9999/push/1").as_deref(), Some("http://127.0.0.1:9999"));
        assert_eq!(audience("ftp://push.example/x"), None);
        assert_eq!(audience("/relative"), None);
    }

    #[test]
    fn a_subject_is_a_mailto_or_https_contact() {
        assert!(is_valid_subject("mailto:ops@chat.example"));
        assert!(is_valid_subject("https://chat.example/contact"));
        assert!(!is_valid_subject("mailto:"));
        assert!(!is_valid_subject("ops@chat.example"));
        assert!(!is_valid_subject("http://chat.example"));
        assert!(!is_valid_subject(""));
    }
}
