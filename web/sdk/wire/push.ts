// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.

/**
 * `POST /devices/me/push`: the browser's `PushSubscription.toJSON()`, as it gives it (other
 * fields, such as `expirationTime`, are ignored).
 */
export type PushSubscriptionRequest = { 
/**
 * The push service's URL for this subscription: `https:` (plain `http:` only to a loopback
 * host, and only where `ENVIRONMENT` is `development` or `test`).
 */
endpoint: string, keys: PushSubscriptionKeys, };

export type PushSubscriptionKeys = { 
/**
 * Base64url of the subscription's public key, an uncompressed P-256 point (65 bytes).
 */
p256dh: string, 
/**
 * Base64url of the subscription's 16-byte authentication secret.
 */
auth: string, };

/**
 * `GET /push/vapid-public-key`: what a browser subscribes with.
 */
export type PushServerKey = { 
/**
 * Base64url of the server's VAPID public key (an uncompressed P-256 point), to pass as
 * `applicationServerKey` to `pushManager.subscribe`; null when push is off on this server.
 */
publicKey: string | null, };

/**
 * `PUT /conversations/:id/notifications`: the caller's mute of one conversation.
 */
export type NotificationSettingsRequest = { 
/**
 * `"always"`, an RFC 3339 time (muted until then), or null (not muted). Required: a body
 * that leaves it out is refused rather than read as "unmute".
 */
mutedUntil: string | null, };

/**
 * The caller's notification settings of one conversation.
 */
export type NotificationSettings = { conversationId: string, 
/**
 * `"always"`, the time the mute ends (RFC 3339), or null: not muted (a mute whose time has
 * passed reads null).
 */
mutedUntil: string | null, };

/**
 * What a push carries, encrypted to the subscription (RFC 8291): enough for the service worker
 * to fetch and decrypt what came, or to clear what it showed, and never a name or a word of it.
 * Tagged by `type`, like the socket's events.
 */
export type PushPayload = { "type": "message", conversationId: string, seq: number, messageId: string, 
/**
 * Base64 of that message's MLS ciphertext, when the whole payload stays within
 * `MAX_PUSH_PAYLOAD_BYTES`; otherwise absent, and the service worker fetches it.
 */
ciphertext?: string, } | { "type": "read", conversationId: string, seq: number, };
