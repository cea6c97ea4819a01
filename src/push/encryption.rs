//! RFC 8291 message encryption for Web Push: the `aes128gcm` content coding of RFC 8188 with a
//! key agreed by ECDH (P-256) between a one-time key of the server's and the subscription's
//! `p256dh` key, mixed with the subscription's 16-byte `auth` secret by HKDF-SHA-256. Only the
//! browser that made the subscription can read what a push carries; the push service sees bytes.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::ecdh::diffie_hellman;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// An uncompressed P-256 point (0x04, x, y), as `PushSubscription.getKey("p256dh")` gives it.
pub const P256_PUBLIC_KEY_BYTES: usize = 65;
pub const AUTH_SECRET_BYTES: usize = 16;
pub const SALT_BYTES: usize = 16;
/// The RFC 8188 header: salt, record size (u32), key id length (u8), key id (the server's
/// one-time public key, as RFC 8291 §4 requires).
pub const HEADER_BYTES: usize = SALT_BYTES + 4 + 1 + P256_PUBLIC_KEY_BYTES;
const TAG_BYTES: usize = 16;
/// Push services need accept no more than 4096 bytes of body (RFC 8030 §7.2, RFC 8291 §4).
pub const MAX_PUSH_BODY_BYTES: usize = 4096;
/// What fits in one push: the body less the header, the tag and the padding delimiter.
pub const MAX_PLAINTEXT_BYTES: usize = MAX_PUSH_BODY_BYTES - HEADER_BYTES - TAG_BYTES - 1;
/// The record size the header declares: one record of at most this, which every push is.
const RECORD_SIZE: u32 = MAX_PUSH_BODY_BYTES as u32;
/// RFC 8188 §2: the delimiter that ends the last (here the only) record's plaintext.
const LAST_RECORD_DELIMITER: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptError {
    /// `p256dh` is not an uncompressed point on P-256, or `auth` is not 16 bytes.
    InvalidSubscriptionKey,
    /// More than `MAX_PLAINTEXT_BYTES`.
    TooLarge,
    /// No randomness for a fresh key (the platform's generator failed).
    NoRandomness,
}

/// A subscription's keys, checked.
#[derive(Debug, Clone)]
pub struct UserAgentKeys {
    public: PublicKey,
    public_bytes: [u8; P256_PUBLIC_KEY_BYTES],
    auth: [u8; AUTH_SECRET_BYTES],
}

impl UserAgentKeys {
    pub fn new(p256dh: &[u8], auth: &[u8]) -> Result<Self, EncryptError> {
        let public_bytes: [u8; P256_PUBLIC_KEY_BYTES] =
            p256dh.try_into().map_err(|_| EncryptError::InvalidSubscriptionKey)?;
        let auth: [u8; AUTH_SECRET_BYTES] = auth.try_into().map_err(|_| EncryptError::InvalidSubscriptionKey)?;
        // Uncompressed only: the key info below hashes the 65 bytes as the browser holds them.
        if public_bytes[0] != 0x04 {
            return Err(EncryptError::InvalidSubscriptionKey);
        }
        let public = PublicKey::from_sec1_bytes(&public_bytes).map_err(|_| EncryptError::InvalidSubscriptionKey)?;
        Ok(Self { public, public_bytes, auth })
    }
}

/// Whether `p256dh` is a public key a push can be encrypted to (an uncompressed P-256 point).
pub fn is_valid_public_key(p256dh: &[u8]) -> bool {
    UserAgentKeys::new(p256dh, &[0; AUTH_SECRET_BYTES]).is_ok()
}

/// Encrypts `plaintext` for `to` with a fresh one-time key and salt, as every push must (a key or
/// salt used twice would let the same content key and nonce encrypt two messages), padded so that
/// every push body is `MAX_PUSH_BODY_BYTES` long: the push service, which sees every body, learns
/// nothing from its size (how long a message was, whether its ciphertext came along).
pub fn encrypt_with_fresh_keys(plaintext: &[u8], to: &UserAgentKeys) -> Result<Vec<u8>, EncryptError> {
    let mut salt = [0u8; SALT_BYTES];
    getrandom::getrandom(&mut salt).map_err(|_| EncryptError::NoRandomness)?;
    let padding = MAX_PLAINTEXT_BYTES.saturating_sub(plaintext.len());
    encrypt(plaintext, padding, to, &fresh_secret_key()?, &salt)
}

/// A random P-256 private key. 32 random bytes are one with overwhelming odds (they fail only
/// when zero or not below the group order); a few tries bound the loop all the same.
fn fresh_secret_key() -> Result<SecretKey, EncryptError> {
    for _ in 0..8 {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|_| EncryptError::NoRandomness)?;
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
    Err(EncryptError::NoRandomness)
}

/// The `aes128gcm` body of one push (RFC 8291 §3–4): the header, then `plaintext`, its delimiter
/// and `padding` zero bytes (RFC 8188 §2: the receiver drops trailing zeros, then the delimiter)
/// as one record, sealed. `sender` and `salt` must be new for every message; they are parameters
/// so that the RFC's example can be checked byte for byte.
pub fn encrypt(
    plaintext: &[u8],
    padding: usize,
    to: &UserAgentKeys,
    sender: &SecretKey,
    salt: &[u8; SALT_BYTES],
) -> Result<Vec<u8>, EncryptError> {
    if plaintext.len() + padding > MAX_PLAINTEXT_BYTES {
        return Err(EncryptError::TooLarge);
    }
    let sender_public = sender.public_key().to_encoded_point(false);
    let sender_public = sender_public.as_bytes();
    let shared = diffie_hellman(sender.to_nonzero_scalar(), to.public.as_affine());
    // §3.3: the auth secret salts the shared secret; the key info binds both public keys.
    let mut key_info = Vec::with_capacity(14 + 2 * P256_PUBLIC_KEY_BYTES);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(&to.public_bytes);
    key_info.extend_from_slice(sender_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&to.auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| EncryptError::InvalidSubscriptionKey)?;
    // RFC 8188 §2.2–2.3: the content key and the nonce, from the salt.
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut content_key = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut content_key).map_err(|_| EncryptError::TooLarge)?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).map_err(|_| EncryptError::TooLarge)?;
    let mut record = Vec::with_capacity(plaintext.len() + 1 + padding);
    record.extend_from_slice(plaintext);
    record.push(LAST_RECORD_DELIMITER);
    record.resize(plaintext.len() + 1 + padding, 0);
    // The first record's nonce is the derived one as it is (XORed with sequence number 0).
    let sealed = Aes128Gcm::new(&content_key.into())
        .encrypt(&Nonce::from(nonce), record.as_slice())
        .map_err(|_| EncryptError::TooLarge)?;
    let mut body = Vec::with_capacity(HEADER_BYTES + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(P256_PUBLIC_KEY_BYTES as u8);
    body.extend_from_slice(sender_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::{decode_base64url, encode_base64url};

    fn b64(text: &str) -> Vec<u8> {
        decode_base64url(text).unwrap()
    }

    // RFC 8291 Appendix A: fixed keys and salt, and the exact message they make.
    const PLAINTEXT: &str = "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24";
    const SENDER_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const SENDER_PUBLIC: &str =
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    const UA_PUBLIC: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const MESSAGE: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

    fn rfc_keys() -> UserAgentKeys {
        UserAgentKeys::new(&b64(UA_PUBLIC), &b64(AUTH)).unwrap()
    }

    #[test]
    fn the_rfc_8291_example_encrypts_to_its_exact_bytes() {
        let sender = SecretKey::from_slice(&b64(SENDER_PRIVATE)).unwrap();
        assert_eq!(sender.public_key().to_encoded_point(false).as_bytes(), b64(SENDER_PUBLIC).as_slice());
        let salt: [u8; 16] = b64(SALT).try_into().unwrap();
        let body = encrypt(&b64(PLAINTEXT), 0, &rfc_keys(), &sender, &salt).unwrap();
        assert_eq!(encode_base64url(&body), MESSAGE);
        assert_eq!(b64(PLAINTEXT), b"When I grow up, I want to be a watermelon");
    }

    /// The browser's side (RFC 8291 §3.4 from the receiving end), to check fresh-key messages.
    fn decrypt(body: &[u8], ua_private: &SecretKey, ua_public: &[u8], auth: &[u8]) -> Vec<u8> {
        let salt = &body[..16];
        assert_eq!(u32::from_be_bytes(body[16..20].try_into().unwrap()), RECORD_SIZE);
        assert_eq!(body[20] as usize, P256_PUBLIC_KEY_BYTES);
        let sender_public = &body[21..HEADER_BYTES];
        let shared = diffie_hellman(
            ua_private.to_nonzero_scalar(),
            PublicKey::from_sec1_bytes(sender_public).unwrap().as_affine(),
        );
        let mut key_info = b"WebPush: info\0".to_vec();
        key_info.extend_from_slice(ua_public);
        key_info.extend_from_slice(sender_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes()).expand(&key_info, &mut ikm).unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut key, mut nonce) = ([0u8; 16], [0u8; 12]);
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut key).unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
        let mut record = Aes128Gcm::new(&key.into()).decrypt(&Nonce::from(nonce), &body[HEADER_BYTES..]).unwrap();
        while record.last() == Some(&0) {
            record.pop();
        }
        assert_eq!(record.pop(), Some(LAST_RECORD_DELIMITER));
        record
    }

    #[test]
    fn the_receiver_decrypts_the_rfc_example_and_fresh_messages() {
        let ua_private = SecretKey::from_slice(&b64(UA_PRIVATE)).unwrap();
        let (public, auth) = (b64(UA_PUBLIC), b64(AUTH));
        assert_eq!(decrypt(&b64(MESSAGE), &ua_private, &public, &auth), b64(PLAINTEXT));
        let plaintext = br#"{"conversationId":"x","seq":7}"#;
        let first = encrypt_with_fresh_keys(plaintext, &rfc_keys()).unwrap();
        let second = encrypt_with_fresh_keys(plaintext, &rfc_keys()).unwrap();
        assert_ne!(first, second, "a new key and salt every time");
        assert_eq!(decrypt(&first, &ua_private, &public, &auth), plaintext);
        assert_eq!(decrypt(&second, &ua_private, &public, &auth), plaintext);
        assert_eq!(first.len(), MAX_PUSH_BODY_BYTES, "padded to the one size every push has");
    }

    #[test]
    fn every_push_is_the_same_size_whatever_it_carries() {
        let ua_private = SecretKey::from_slice(&b64(UA_PRIVATE)).unwrap();
        let (public, auth) = (b64(UA_PUBLIC), b64(AUTH));
        for len in [0, 1, 100, 2_000, MAX_PLAINTEXT_BYTES] {
            let plaintext = vec![b'a'; len];
            let body = encrypt_with_fresh_keys(&plaintext, &rfc_keys()).unwrap();
            assert_eq!(body.len(), MAX_PUSH_BODY_BYTES, "{len} bytes");
            assert_eq!(decrypt(&body, &ua_private, &public, &auth), plaintext, "{len} bytes");
        }
    }

    #[test]
    fn a_push_holds_at_most_4096_bytes() {
        let largest = vec![b'x'; MAX_PLAINTEXT_BYTES];
        assert_eq!(encrypt_with_fresh_keys(&largest, &rfc_keys()).unwrap().len(), MAX_PUSH_BODY_BYTES);
        let one_more = vec![b'x'; MAX_PLAINTEXT_BYTES + 1];
        assert_eq!(encrypt_with_fresh_keys(&one_more, &rfc_keys()).unwrap_err(), EncryptError::TooLarge);
    }

    #[test]
    fn subscription_keys_are_an_uncompressed_curve_point_and_16_bytes() {
        let (public, auth) = (b64(UA_PUBLIC), b64(AUTH));
        assert!(UserAgentKeys::new(&public, &auth).is_ok());
        assert!(is_valid_public_key(&public));
        let bad = |p: &[u8], a: &[u8]| UserAgentKeys::new(p, a).unwrap_err();
        assert_eq!(bad(&public, &auth[..15]), EncryptError::InvalidSubscriptionKey);
        assert_eq!(bad(&public[..64], &auth), EncryptError::InvalidSubscriptionKey);
        let compressed = PublicKey::from_sec1_bytes(&public).unwrap().to_encoded_point(true);
        assert_eq!(bad(compressed.as_bytes(), &auth), EncryptError::InvalidSubscriptionKey);
        let mut off_curve = public.clone();
        off_curve[64] ^= 1;
        assert_eq!(bad(&off_curve, &auth), EncryptError::InvalidSubscriptionKey);
        assert!(!is_valid_public_key(&[4; 65]));
    }
}
