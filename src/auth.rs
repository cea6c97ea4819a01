//! Passwords (PBKDF2-HMAC-SHA256), session tokens (JWT HS256 naming their session) and a device's
//! proof that it holds its signature key. Pure functions: the caller passes the clock and the
//! randomness source is the platform's.

use crate::error::ApiError;
use crate::protocol::{DEVICE_KEY_BYTES, DEVICE_PROOF_BYTES, DEVICE_PROOF_CONTEXT};
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pbkdf2::{pbkdf2_hmac, sha2::Sha256};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Whether `signature` is the device's Ed25519 signature (with the key it registered) over
/// `DEVICE_PROOF_CONTEXT` and `session`.
pub fn verify_device_proof(public_key: &[u8], session: Uuid, signature: &[u8]) -> bool {
    verify_device_signature(public_key, format!("{DEVICE_PROOF_CONTEXT}{}", session.hyphenated()).as_bytes(), signature)
}

/// Whether `signature` is the Ed25519 signature of the holder of `public_key` over `message`.
/// Strict verification: no malleable or small-order forms.
pub fn verify_device_signature(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(key), Ok(signature)) =
        (<[u8; DEVICE_KEY_BYTES]>::try_from(public_key), <[u8; DEVICE_PROOF_BYTES]>::try_from(signature))
    else {
        return false;
    };
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else { return false };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature)).is_ok()
}

pub const TOKEN_LIFETIME_SECS: i64 = 7 * 24 * 60 * 60;
const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;
const SCHEME: &str = "pbkdf2-sha256";

/// Hashes a password as `pbkdf2-sha256$<iterations>$<salt>$<hash>` so that the iteration count
/// can be raised later without invalidating stored hashes.
pub fn hash_password(password: &str, iterations: u32) -> String {
    let mut salt = [0u8; SALT_BYTES];
    getrandom::getrandom(&mut salt).expect("the platform's random source is available");
    hash_with_salt(password, &salt, iterations)
}

fn hash_with_salt(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut hash = [0u8; HASH_BYTES];
    pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut hash);
    format!("{SCHEME}${iterations}${}${}", B64.encode(salt), B64.encode(hash))
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Some((iterations, salt, expected)) = parse_stored_hash(stored) else { return false };
    let mut actual = vec![0u8; expected.len()];
    pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut actual);
    actual.ct_eq(&expected).into()
}

fn parse_stored_hash(stored: &str) -> Option<(u32, Vec<u8>, Vec<u8>)> {
    let mut parts = stored.split('$');
    if parts.next()? != SCHEME {
        return None;
    }
    let iterations = parts.next()?.parse().ok().filter(|n| *n > 0)?;
    let salt = B64.decode(parts.next()?).ok()?;
    let hash = B64.decode(parts.next()?).ok().filter(|h| !h.is_empty())?;
    parts.next().is_none().then_some((iterations, salt, hash))
}

/// The iteration count a stored hash was made with, so login can tell when to re-hash.
pub fn stored_iterations(stored: &str) -> Option<u32> {
    parse_stored_hash(stored).map(|(iterations, _, _)| iterations)
}

/// Compares against a fixed hash so that logging in with an unknown phone costs as much as with a
/// known one: response time does not reveal who has an account.
pub fn burn_equal_time(password: &str, iterations: u32) {
    let _ = hash_with_salt(password, &[0u8; SALT_BYTES], iterations);
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    /// The session this token belongs to; the token is valid while that session's row exists.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
}

pub fn issue_token(user_id: Uuid, session_id: Uuid, now: i64, secret: &[u8]) -> String {
    let claims = Claims { sub: user_id, sid: session_id, iat: now, exp: now + TOKEN_LIFETIME_SECS };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret))
        .expect("HS256 signing with an in-memory key cannot fail")
}

/// Checks signature, algorithm and expiry. Whether the session still exists is for the caller to
/// check against the database.
pub fn verify_token(token: &str, now: i64, secret: &[u8]) -> Result<Claims, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is checked below against the caller's clock, which tests can set.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
        .map_err(|_| ApiError::unauthorized("Your session token is not valid. Please log in again."))?
        .claims;
    if claims.exp <= now {
        return Err(ApiError::unauthorized("Your session has expired. Please log in again."));
    }
    Ok(claims)
}

/// The token from an `Authorization: Bearer <token>` header.
pub fn bearer_token(header: Option<&str>) -> Result<&str, ApiError> {
    let header = header.ok_or_else(|| ApiError::unauthorized("Log in first: this request needs a session token."))?;
    let (scheme, token) = header.trim().split_once(' ').unwrap_or((header, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::unauthorized("The Authorization header must be \"Bearer <token>\"."));
    }
    Ok(token)
}

/// The WebSocket subprotocol a client offers beside its token; the server echoes it back.
pub const WS_PROTOCOL: &str = "e2e-chat.v1";
const WS_TOKEN_PREFIX: &str = "bearer.";

/// Finds the token of a WebSocket upgrade. Browsers cannot set headers on a WebSocket, so the
/// token travels as a subprotocol (`Sec-WebSocket-Protocol: e2e-chat.v1, bearer.<jwt>`), which
/// keeps it out of URLs and the logs that keep them. Returns the token and the subprotocol to echo
/// (a browser fails the handshake if none is echoed).
pub fn websocket_credentials(protocols: Option<&str>) -> Result<(&str, &'static str), ApiError> {
    let offered: Vec<&str> = protocols.map(|p| p.split(',').map(str::trim).collect()).unwrap_or_default();
    let token = offered.iter().find_map(|p| p.strip_prefix(WS_TOKEN_PREFIX)).filter(|t| !t.is_empty());
    match (token, offered.contains(&WS_PROTOCOL)) {
        (Some(token), true) => Ok((token, WS_PROTOCOL)),
        (Some(_), false) => Err(ApiError::bad_request(
            "invalid_protocol",
            "Offer the \"e2e-chat.v1\" subprotocol beside the bearer token.",
        )),
        (None, _) => Err(ApiError::unauthorized(
            "Log in first: pass the token as the \"bearer.<token>\" subprotocol beside \"e2e-chat.v1\".",
        )),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_device_proof_binds_one_session_to_the_key_that_signed_it() {
        use ed25519_dalek::{Signer, SigningKey};
        let device = SigningKey::from_bytes(&[7; 32]);
        let key = device.verifying_key().to_bytes();
        let session = Uuid::from_u128(42);
        let sign = |text: String| device.sign(text.as_bytes()).to_bytes();
        let proof = sign(format!("{DEVICE_PROOF_CONTEXT}{session}"));
        assert!(verify_device_proof(&key, session, &proof));
        assert!(!verify_device_proof(&key, Uuid::from_u128(43), &proof), "another session");
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes();
        assert!(!verify_device_proof(&other, session, &proof), "another device's key");
        assert!(!verify_device_proof(&key, session, &sign(session.to_string())), "no context");
        assert!(!verify_device_proof(&key, session, &proof[..63]), "a short signature");
        assert!(!verify_device_proof(&key[..31], session, &proof), "a key that is not Ed25519");
        assert!(!verify_device_proof(&[0; 32], session, &[0; 64]), "zeros");
    }
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn matches_the_rfc_6070_style_vector_for_sha256() {
        // PBKDF2-HMAC-SHA256("password", "salt", 1) from RFC 7914 §11's neighbour vectors.
        let mut out = [0u8; 32];
        pbkdf2_hmac::<Sha256>(b"password", b"salt", 1, &mut out);
        assert_eq!(
            out.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
    }

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let stored = hash_password("correct horse battery", 1000);
        assert!(stored.starts_with("pbkdf2-sha256$1000$"));
        assert!(verify_password("correct horse battery", &stored));
        assert!(!verify_password("correct horse batterY", &stored));
        assert!(!verify_password("", &stored));
    }

    #[test]
    fn every_hash_gets_its_own_salt() {
        assert_ne!(hash_password("same password", 1000), hash_password("same password", 1000));
    }

    #[test]
    fn the_iteration_count_is_stored_with_the_hash() {
        assert_eq!(stored_iterations(&hash_password("pw-pw-pw-pw", 1234)), Some(1234));
        assert!(verify_password("pw-pw-pw-pw", &hash_with_salt("pw-pw-pw-pw", b"0123456789abcdef", 7)));
    }

    #[test]
    fn malformed_stored_hashes_never_match() {
        for stored in [
            "",
            "pbkdf2-sha256",
            "pbkdf2-sha256$0$AAAA$AAAA",
            "bcrypt$10$x$y",
            "pbkdf2-sha256$10$!!$AAAA",
            "pbkdf2-sha256$10$AAAA$",
        ] {
            assert!(!verify_password("anything", stored), "{stored}");
        }
    }

    #[test]
    fn a_token_round_trips_its_claims() {
        let (id, session) = (Uuid::new_v4(), Uuid::new_v4());
        let token = issue_token(id, session, NOW, SECRET);
        let claims = verify_token(&token, NOW + 60, SECRET).unwrap();
        assert_eq!(claims, Claims { sub: id, sid: session, iat: NOW, exp: NOW + TOKEN_LIFETIME_SECS });
    }

    #[test]
    fn a_token_expires_after_seven_days() {
        let token = issue_token(Uuid::new_v4(), Uuid::new_v4(), NOW, SECRET);
        assert!(verify_token(&token, NOW + TOKEN_LIFETIME_SECS - 1, SECRET).is_ok());
        let err = verify_token(&token, NOW + TOKEN_LIFETIME_SECS, SECRET).unwrap_err();
        assert_eq!((err.status, err.message.contains("expired")), (401, true));
    }

    #[test]
    fn refuses_a_token_that_names_no_session() {
        // Tokens issued before sessions existed carried a version instead; they must log in again.
        let old = serde_json::json!({ "sub": Uuid::new_v4(), "ver": 0, "iat": NOW, "exp": NOW + 100 });
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &old, &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(verify_token(&token, NOW, SECRET).unwrap_err().status, 401);
    }

    #[test]
    fn rejects_a_token_signed_with_another_secret() {
        let token = issue_token(Uuid::new_v4(), Uuid::new_v4(), NOW, b"another secret that is long enough!!");
        assert_eq!(verify_token(&token, NOW, SECRET).unwrap_err().status, 401);
    }

    #[test]
    fn rejects_an_unsigned_token() {
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"{}","sid":"{}","iat":{NOW},"exp":{}}}"#,
            Uuid::new_v4(),
            Uuid::new_v4(),
            NOW + 100
        ));
        assert_eq!(verify_token(&format!("{header}.{body}."), NOW, SECRET).unwrap_err().status, 401);
    }

    #[test]
    fn rejects_a_tampered_payload() {
        let token = issue_token(Uuid::new_v4(), Uuid::new_v4(), NOW, SECRET);
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"{}","sid":"{}","iat":{NOW},"exp":{}}}"#,
            Uuid::new_v4(),
            Uuid::new_v4(),
            NOW + 100
        ));
        assert!(verify_token(&parts.join("."), NOW, SECRET).is_err());
    }

    #[test]
    fn finds_the_websocket_token_only_in_the_subprotocols() {
        assert_eq!(websocket_credentials(Some("e2e-chat.v1, bearer.a.b.c")).unwrap(), ("a.b.c", WS_PROTOCOL));
        assert_eq!(websocket_credentials(Some("bearer.a.b.c,e2e-chat.v1")).unwrap(), ("a.b.c", WS_PROTOCOL));
        assert_eq!(websocket_credentials(Some("bearer.a.b.c")).unwrap_err().code, "invalid_protocol");
        assert_eq!(websocket_credentials(Some("e2e-chat.v1")).unwrap_err().status, 401);
        assert_eq!(websocket_credentials(None).unwrap_err().status, 401);
        assert_eq!(websocket_credentials(Some("e2e-chat.v1, bearer.")).unwrap_err().status, 401);
    }

    #[test]
    fn reads_only_bearer_authorization() {
        assert_eq!(bearer_token(Some("Bearer abc.def.ghi")).unwrap(), "abc.def.ghi");
        assert_eq!(bearer_token(Some("bearer   abc")).unwrap(), "abc");
        assert!(bearer_token(None).is_err());
        assert!(bearer_token(Some("Basic dXNlcjpwYXNz")).is_err());
        assert!(bearer_token(Some("Bearer ")).is_err());
    }
}
