// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.
import type { SessionEndReason } from './events.ts';
import type { ConversationKind, MemberRole } from './conversations.ts';
import type { GroupAdds } from './auth.ts';
import type { MessageKind, ReceiptKind } from './messages.ts';

export const MAX_BODY_BYTES = 65536;
export const MIN_PASSWORD_CHARS = 10;
export const MAX_PASSWORD_BYTES = 1024;
export const MAX_DISPLAY_NAME_CHARS = 64;
export const MAX_TITLE_CHARS = 128;
export const MAX_CLIENT_MSG_ID_CHARS = 64;
export const MAX_DEVICE_LABEL_CHARS = 64;
export const MAX_CREDENTIAL_BYTES = 1024;
export const MAX_DEVICES_PER_USER = 20;
export const MAX_KEY_PACKAGES_PER_UPLOAD = 100;
export const MAX_KEY_PACKAGE_BYTES = 8192;
export const MAX_GROUP_MEMBERS = 100;
export const MAX_HANDSHAKE_BYTES = 65536;
export const MAX_CIPHERTEXT_BYTES = 65536;
export const MAX_EVENT_BYTES = 327680;
export const MAX_REF_CHARS = 64;
export const CLOSE_SESSION_ENDED = 4401;
export const CLOSE_DEVICE_REMOVED = 4403;
export const CLOSE_SESSION_UNCONFIRMED = 1013;
export const CLOSE_TOO_MANY_SOCKETS = 4429;
export const MAX_SOCKETS_PER_USER = 10;
export const DEVICE_KEY_BYTES = 32;
export const DEVICE_PROOF_BYTES = 64;
export const LINK_REQUEST_TTL_SECONDS = 600;
export const LINK_MAC_BYTES = 32;
export const MAX_ATTACHMENT_PLAINTEXT_BYTES = 104857600;
export const ATTACHMENT_TAG_BYTES = 16;
export const MAX_ATTACHMENT_BYTES = 104857616;
export const ATTACHMENT_PART_BYTES = 5242880;
export const DEFAULT_ATTACHMENT_QUOTA_BYTES = 1073741824;
export const MAX_UNFINISHED_UPLOADS_PER_USER = 20;
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;
export const UNREFERENCED_ATTACHMENT_GRACE_SECONDS = 86400;
export const MAX_PUSH_ENDPOINT_CHARS = 2048;
export const PUSH_P256DH_BYTES = 65;
export const PUSH_AUTH_BYTES = 16;
export const MAX_PUSH_PAYLOAD_BYTES = 3993;
/** What a device signs, followed by the session's id, to bind a session to itself. */
export const DEVICE_PROOF_CONTEXT = "e2e-chat/bind-session/v1:";
/** What a device signs to approve a new one: this, the user's id, `:`, the new device's id, `:`, the base64 of its key. */
export const LINK_APPROVAL_CONTEXT = "e2e-chat/approve-device/v1:";
/** What a device signs to revoke one of its user's devices: this, the user's id, `:`, the revoked device's id, `:`, the base64 of its key. */
export const DEVICE_REVOCATION_CONTEXT = "e2e-chat/revoke-device/v1:";
/** What a device signs to leave a group: this, the conversation's id, `:`, its user's id, `:`, its own id, `:`, the hex of its leaf's encryption key. */
export const DEPARTURE_CONTEXT = "e2e-chat/leave/v1:";
/** A phone number as the server takes it (E.164), for a form to check before sending. */
export const PHONE_PATTERN = "^\\+[1-9][0-9]{6,14}$";
/** The disappearing-messages timers a conversation may have, in seconds. */
export const DISAPPEAR_AFTER_CHOICES = [3600, 86400, 604800, 7776000] as const;
/** `mutedUntil` of a conversation muted until it is unmuted. */
export const MUTED_ALWAYS = "always";

/** The close code of each way a session ends; a client does not reconnect after one. */
export const CLOSE_CODES = { 'session-ended': 4401, 'device-removed': 4403 } as const satisfies Record<SessionEndReason, number>;
export const CONVERSATION_KINDS = ['direct', 'group'] as const satisfies readonly ConversationKind[];
export const MEMBER_ROLES = ['owner', 'admin', 'member'] as const satisfies readonly MemberRole[];
export const GROUP_ADDS = ['everyone', 'contacts', 'nobody'] as const satisfies readonly GroupAdds[];
export const MESSAGE_KINDS = ['app', 'commit', 'welcome'] as const satisfies readonly MessageKind[];
export const RECEIPT_KINDS = ['delivered', 'read'] as const satisfies readonly ReceiptKind[];
