// Generated from the router's table and the operations in src/openapi/ by `cargo test --lib`: do not edit by hand.
// Change the Rust source, run `cargo test --lib`, and commit the result.
import type { AdminStats, AuditEntry } from './admin.ts';
import type { AttachmentUpload, AttachmentView, CreateAttachmentRequest } from './attachments.ts';
import type { Account, AuthResponse, LoginRequest, RegisterRequest, UpdateAccountRequest } from './auth.ts';
import type { ConversationView, CreateGroupRequest, DepartureView, LeaveRequest, UpdateConversationRequest } from './conversations.ts';
import type { BindDeviceRequest, ClaimRequest, ClaimResponse, DeviceList, DeviceLookup, DeviceLookupRequest, DeviceView, KeyPackageCount, RegisterDeviceRequest, RemoveDeviceRequest, UploadKeyPackagesRequest } from './devices.ts';
import type { ApproveLinkRequest, LinkRequest, LinkView, PendingLinks, ResetDevicesRequest } from './links.ts';
import type { MessageView } from './messages.ts';
import type { Health, JsonValue, Page } from './meta.ts';
import type { NotificationSettings, NotificationSettingsRequest, PushServerKey, PushSubscriptionRequest } from './push.ts';
import type { Profile, UserSummary } from './users.ts';

/**
 * Every REST route by `METHOD /template`: its `:name` path parameters, its query, its request body
 * and the body of its success (null when the server sends none). An absent part is `?: never`.
 * `GET /ws` is not here: it upgrades to the WebSocket, whose events are the unions of events.ts.
 */
export type Routes = {
  /** Liveness and database reachability */
  'GET /health': { params?: never; query?: never; body?: never; response: Health };
  /** This document */
  'GET /openapi.json': { params?: never; query?: never; body?: never; response: JsonValue };
  /** Create an account */
  'POST /auth/register': { params?: never; query?: never; body: RegisterRequest; response: AuthResponse };
  /** Log in with phone and password */
  'POST /auth/login': { params?: never; query?: never; body: LoginRequest; response: AuthResponse };
  /** Log out */
  'POST /auth/logout': { params?: never; query?: never; body?: never; response: null };
  /** Log out everywhere */
  'POST /auth/logout-all': { params?: never; query?: never; body?: never; response: null };
  /** The signed-in account */
  'GET /auth/me': { params?: never; query?: never; body?: never; response: Account };
  /** Change the signed-in account's settings */
  'PATCH /auth/me': { params?: never; query?: never; body: UpdateAccountRequest; response: Account };
  /** The user directory */
  'GET /users': { params?: never; query?: { cursor?: string; limit?: number; q?: string }; body?: never; response: Page<UserSummary> };
  /** A user's public profile and key material */
  'GET /users/:phone': { params: { phone: string }; query?: never; body?: never; response: Profile };
  /** Create a group conversation */
  'POST /conversations': { params?: never; query?: never; body: CreateGroupRequest; response: ConversationView };
  /** The caller's conversations, a page at a time */
  'GET /conversations': { params?: never; query?: { cursor?: string; limit?: number }; body?: never; response: Page<ConversationView> };
  /** Ensure and get the 1:1 conversation with a peer */
  'GET /conversations/:peerId': { params: { peerId: string }; query?: never; body?: never; response: ConversationView };
  /** Set a conversation's disappearing messages */
  'PATCH /conversations/:peerId': { params: { peerId: string }; query?: never; body: UpdateConversationRequest; response: ConversationView };
  /** A conversation's messages, newest first */
  'GET /conversations/:peerId/messages': { params: { peerId: string }; query?: { cursor?: string; limit?: number }; body?: never; response: Page<MessageView> };
  /** Delete a message for everyone */
  'DELETE /conversations/:id/messages/:messageId': { params: { id: string; messageId: string }; query?: never; body?: never; response: null };
  /** Leave a group */
  'POST /conversations/:id/leave': { params: { id: string }; query?: never; body: LeaveRequest; response: DepartureView };
  /** Register the caller's first device */
  'POST /devices': { params?: never; query?: never; body: RegisterDeviceRequest; response: DeviceView };
  /** A user's devices and their public credentials */
  'GET /users/:id/devices': { params: { id: string }; query?: never; body?: never; response: DeviceList };
  /** Several users' devices at once */
  'POST /devices/lookup': { params?: never; query?: never; body: DeviceLookupRequest; response: DeviceLookup };
  /** Start over on this browser when every device is lost */
  'POST /devices/reset': { params?: never; query?: never; body: ResetDevicesRequest; response: DeviceView };
  /** Ask to link this browser to the account */
  'POST /devices/links': { params?: never; query?: never; body: LinkRequest; response: LinkView };
  /** Link requests waiting for approval */
  'GET /devices/links': { params?: never; query?: never; body?: never; response: PendingLinks };
  /** Where this session's link request stands */
  'GET /devices/links/:id': { params: { id: string }; query?: never; body?: never; response: LinkView };
  /** Cancel or decline a link request */
  'DELETE /devices/links/:id': { params: { id: string }; query?: never; body?: never; response: null };
  /** Approve a browser's link request */
  'POST /devices/links/:id/approve': { params: { id: string }; query?: never; body: ApproveLinkRequest; response: DeviceView };
  /** Remove one of the caller's devices */
  'DELETE /devices/:id': { params: { id: string }; query?: never; body?: RemoveDeviceRequest; response: null };
  /** Prove this session runs on one of the caller's devices */
  'POST /devices/:id/bind': { params: { id: string }; query?: never; body: BindDeviceRequest; response: null };
  /** Upload key packages for one of the caller's devices */
  'POST /devices/:id/key-packages': { params: { id: string }; query?: never; body: UploadKeyPackagesRequest; response: KeyPackageCount };
  /** How many key packages one of the caller's devices has left */
  'GET /devices/:id/key-packages/count': { params: { id: string }; query?: never; body?: never; response: KeyPackageCount };
  /** Claim one key package per device of a user */
  'POST /users/:id/key-packages/claim': { params: { id: string }; query?: never; body?: ClaimRequest; response: ClaimResponse };
  /** All accounts (admin) */
  'GET /admin/users': { params?: never; query?: { cursor?: string; limit?: number; q?: string }; body?: never; response: Page<Account> };
  /** Delete a user and everything that is theirs (admin) */
  'DELETE /admin/users/:id': { params: { id: string }; query?: never; body?: never; response: null };
  /** The audit log, newest first (admin) */
  'GET /admin/audit': { params?: never; query?: { cursor?: string; limit?: number }; body?: never; response: Page<AuditEntry> };
  /** Live counts for the admin page (admin) */
  'GET /admin/stats': { params?: never; query?: never; body?: never; response: AdminStats };
  /** Start an encrypted upload for a conversation */
  'POST /conversations/:id/attachments': { params: { id: string }; query?: never; body: CreateAttachmentRequest; response: AttachmentUpload };
  /** Send one part of an upload */
  'PUT /attachments/:id/parts/:n': { params: { id: string; n: number }; query?: never; body: Uint8Array; response: null };
  /** Finish an upload */
  'POST /attachments/:id/complete': { params: { id: string }; query?: never; body?: never; response: AttachmentView };
  /** Read an upload's ciphertext */
  'GET /attachments/:id': { params: { id: string }; query?: never; body?: never; response: Uint8Array };
  /** Cancel an upload */
  'DELETE /attachments/:id': { params: { id: string }; query?: never; body?: never; response: null };
  /** The server's VAPID public key, for Web Push */
  'GET /push/vapid-public-key': { params?: never; query?: never; body?: never; response: PushServerKey };
  /** Receive pushes on this session's device */
  'POST /devices/me/push': { params?: never; query?: never; body: PushSubscriptionRequest; response: null };
  /** Stop pushes to this session's device */
  'DELETE /devices/me/push': { params?: never; query?: never; body?: never; response: null };
  /** The caller's notification settings of a conversation */
  'GET /conversations/:id/notifications': { params: { id: string }; query?: never; body?: never; response: NotificationSettings };
  /** Mute or unmute a conversation for the caller */
  'PUT /conversations/:id/notifications': { params: { id: string }; query?: never; body: NotificationSettingsRequest; response: NotificationSettings };
};
