// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.
import type { CommitEvent, DepartureView } from './conversations.ts';
import type { DeviceView } from './devices.ts';
import type { MessageView, ReceiptKind, ReceiptRequest, SendMessageEvent, SyncRequest, TypingRequest } from './messages.ts';
import type { UserSummary } from './users.ts';

/**
 * Every event a client sends, as sent: base64 fields, nothing validated yet. The parser reads
 * each event's fields through these payload types, and the SDK's socket sends only these.
 */
export type ClientEvent = { "type": "send-message" } & SendMessageEvent | { "type": "receipt" } & ReceiptRequest | { "type": "typing" } & TypingRequest | { "type": "sync" } & SyncRequest | { "type": "commit" } & CommitEvent;

/**
 * A client event with the optional `id` the server echoes as `ref` in its ack or error (a
 * string of at most `MAX_REF_CHARS` characters, or a number).
 */
export type ClientFrame = { id?: string | number, } & ({ "type": "send-message" } & SendMessageEvent | { "type": "receipt" } & ReceiptRequest | { "type": "typing" } & TypingRequest | { "type": "sync" } & SyncRequest | { "type": "commit" } & CommitEvent);

/**
 * Every event the server sends on a socket.
 */
export type ServerEvent = { "type": "ready", userId: string, deviceId: string | null, serverTime: string, } | { "type": "ack", ref: string | null, clientMsgId: string | null, message: MessageView | null, 
/**
 * For a commit that added users: their Welcome, stored right after the commit.
 */
welcome?: MessageView, } | { "type": "message", message: MessageView, } | { "type": "receipt", messageId: string, conversationId: string, userId: string, kind: ReceiptKind, at: string, } | { "type": "typing", conversationId: string, userId: string, on: boolean, } | { "type": "presence", userId: string, online: boolean, lastSeen: string | null, } | { "type": "user-registered", user: UserSummary, } | { "type": "device-added", userId: string, device: DeviceView, } | { "type": "member-left", conversationId: string, departure: DepartureView, } | { "type": "device-removed", userId: string, deviceId: string, } | { "type": "session-ended", reason: SessionEndReason, } | { "type": "socket-closing", reason: SocketCloseReason, } | { "type": "synced", after: { [key in string]: number }, joined: { [key in string]: number }, more: Array<string>, } | { "type": "error", code: string, message: string, ref: string | null, 
/**
 * Set on `stale_epoch`: the epoch the conversation is at.
 */
currentEpoch?: number, };

/**
 * Why the server ended a socket for good: the `session-ended` event's `reason`, and (as its
 * close code) the close frame's.
 */
export type SessionEndReason = "session-ended" | "device-removed";

/**
 * Why the server closed a socket whose session goes on: the `socket-closing` event's `reason`,
 * and (as its close code) the close frame's.
 */
export type SocketCloseReason = "session-unconfirmed" | "too-many-sockets";
