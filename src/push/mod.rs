//! Web Push, sent by the Worker itself (RFC 8030 delivery), with no third-party service between:
//! what a push carries is encrypted for the subscribing browser (RFC 8291, `encryption`), and the
//! request is signed with the server's VAPID key (RFC 8292, `vapid`), so that a push service
//! accepts pushes to a subscription only from the server it was made for.
//!
//! Pure logic, unit-tested natively; the hub (`hub::push`) does the fetching.

pub mod encryption;
pub mod plan;
pub mod vapid;

pub use encryption::{encrypt, encrypt_with_fresh_keys, EncryptError, UserAgentKeys, MAX_PLAINTEXT_BYTES};
pub use vapid::{audience, VapidKey};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// Base64url as browsers give a subscription's keys (`PushSubscription.toJSON()`: no padding);
/// padded input is taken too, since some libraries add it.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_ANY_PADDING.decode(text).ok()
}

pub fn encode_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
