//! One row per REST operation, keyed by the router's `Endpoint`: what the document says about it.
//! Bodies are Rust types; numbers in the prose come from the constants the server enforces.

use super::operation::*;
use super::{wire, WireType};
use crate::auth::TOKEN_LIFETIME_SECS;
use crate::config::{DEFAULT_REGISTRATIONS_PER_ADDRESS_PER_HOUR, MIN_JWT_SECRET_BYTES};
use crate::protocol::{
    part_count, AttachmentUpload, AttachmentView, CreateAttachmentRequest, ATTACHMENT_PART_BYTES, ATTACHMENT_TAG_BYTES,
    DEFAULT_ATTACHMENT_QUOTA_BYTES, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENT_PLAINTEXT_BYTES,
    MAX_UNFINISHED_UPLOADS_PER_USER, UNREFERENCED_ATTACHMENT_GRACE_SECONDS,
};
use crate::protocol::{
    Account, AdminStats, ApproveLinkRequest, AuditEntry, AuthResponse, BindDeviceRequest, ClaimRequest, ClaimResponse,
    ClientEventWire, ConversationView, CreateGroupRequest, DepartureView, DeviceList, DeviceLookup,
    DeviceLookupRequest, DeviceView, Health, KeyPackageCount, LeaveRequest, LinkRequest, LinkView, LoginRequest,
    MessageView, Page, PendingLinks, Profile, RegisterDeviceRequest, RegisterRequest, RemoveDeviceRequest,
    ResetDevicesRequest, ServerEvent, UpdateAccountRequest, UpdateConversationRequest, UploadKeyPackagesRequest,
    UserSummary, CLOSE_SESSION_ENDED, DEVICE_PROOF_CONTEXT, KEY_PACKAGE_CLAIMS_PER_WINDOW, LINK_APPROVAL_CONTEXT,
    LINK_REQUEST_TTL_SECONDS, MAX_DEVICES_PER_USER, MAX_KEY_PACKAGES_PER_DEVICE, MAX_PENDING_LINKS_PER_USER,
};
use crate::protocol::{
    NotificationSettings, NotificationSettingsRequest, PushServerKey, PushSubscriptionRequest, MAX_PUSH_ENDPOINT_CHARS,
    MAX_PUSH_PAYLOAD_BYTES, MUTED_ALWAYS,
};
use crate::router::Endpoint;
use schemars::{json_schema, schema_for, JsonSchema, Schema, SchemaGenerator};
use ts_rs::TS;

pub fn operations() -> Vec<Operation> {
    use Endpoint as E;
    vec![
        Operation::public(E::Health, "health", "Liveness and database reachability").answers([
            ok(200, "The Worker and the database answer.", wire::<Health>()),
            ok(503, "The database does not answer.", wire::<Health>()),
        ]),
        Operation::public(E::OpenApi, "openapi", "This document").answers([ok(
            200,
            "The OpenAPI document.",
            any_object(),
        )]),
        Operation::public(E::Register, "register", "Create an account")
            .describe(
                "The first account becomes an administrator unless `FIRST_USER_ADMIN=false` or a bootstrap admin is \
                 configured.",
            )
            .body(wire::<RegisterRequest>())
            .answers([
                ok(201, "The new account and a session token.", wire::<AuthResponse>()),
                error(
                    400,
                    "Invalid input: `invalid_json`, `invalid_field`, `invalid_phone`, `weak_password`, \
                     `invalid_password`, `invalid_display_name` (empty, too long, or holding a control, invisible or \
                     text-direction character).",
                ),
                error(
                    409,
                    "`phone_taken`: an account with this phone number exists. Counted against the per-address \
                     limit like any other attempt, so numbers cannot be checked for accounts faster than it allows.",
                ),
                body_too_large(),
                not_json(),
                error(
                    429,
                    format!(
                        "Too many attempts (a taken number's included) from this client address within an hour (code \
                         `too_many_registrations`; REGISTRATIONS_PER_ADDRESS_PER_HOUR, \
                         {DEFAULT_REGISTRATIONS_PER_ADDRESS_PER_HOUR} by default in production); checked before the \
                         password is hashed. The message and `Retry-After` say how long to wait."
                    ),
                ),
                error(
                    500,
                    format!("`server_misconfigured`: JWT_SECRET missing or shorter than {MIN_JWT_SECRET_BYTES} bytes."),
                ),
                database_unavailable(),
            ]),
        Operation::public(E::Login, "login", "Log in with phone and password").body(wire::<LoginRequest>()).answers([
            ok(
                200,
                format!("The account and a session token valid for {} days.", TOKEN_LIFETIME_SECS / 86_400),
                wire::<AuthResponse>(),
            ),
            invalid_input(),
            error(401, "`invalid_credentials`"),
            body_too_large(),
            error(415, "`unsupported_media_type`: the body is not JSON."),
            error(
                429,
                "`too_many_attempts`, refused before the password is checked: 20 logins that did not succeed from \
                 this client address per 15 minutes, or this number is waiting after 10 wrong passwords (from this \
                 address: 1 minute, doubling to 1 hour; from anywhere: 15 seconds, doubling to 5 minutes). From a \
                 network (an IPv4 address, an IPv6 /64) that the number's account logged in from in the last 30 days, \
                 only the count from that address applies. A refused attempt does not lengthen a wait. The message \
                 and `Retry-After` say how long to wait.",
            ),
            error(500, "`server_misconfigured`"),
            database_unavailable(),
        ]),
        Operation::signed_in(E::Logout, "logout", "Log out")
            .describe(format!(
                "Ends the session of the token presented: it stops working at once, and WebSockets opened with it \
                 get session-ended and are closed (code {CLOSE_SESSION_ENDED}). Other sessions are untouched."
            ))
            .answers([no_content(204, "This session has ended.")]),
        Operation::signed_in(E::LogoutAll, "logoutAll", "Log out everywhere")
            .describe(format!(
                "Ends every session of the account: every token issued so far, including this one, stops working, \
                 and WebSockets opened with them get session-ended and are closed (code {CLOSE_SESSION_ENDED})."
            ))
            .answers([no_content(204, "Every session has ended.")]),
        Operation::signed_in(E::Me, "me", "The signed-in account").answers([ok(
            200,
            "The caller's account.",
            wire::<Account>(),
        )]),
        Operation::signed_in(E::UpdateMe, "updateMe", "Change the signed-in account's settings")
            .describe(
                "`groupAdds`: who may add the caller to groups: `everyone`, `contacts` (only people the caller \
                 has written to in a 1:1) or `nobody`. Enforced when a group is created and when a commit adds \
                 people (403 `group_add_refused`); groups they are in already are not affected.",
            )
            .body(wire::<UpdateAccountRequest>())
            .answers([
                ok(200, "The caller's account, as changed.", wire::<Account>()),
                error(400, "`invalid_json`, `invalid_field`"),
                body_too_large(),
                not_json(),
            ]),
        Operation::signed_in(E::ListUsers, "listUsers", "The user directory")
            .describe("Every other user, alphabetically by display name, excluding the caller and the bootstrap admin.")
            .params(searched_page())
            .answers([ok(200, "One page of users.", wire::<Page<UserSummary>>()), invalid_input()]),
        Operation::signed_in(E::GetUser, "getUser", "A user's public profile and key material")
            .params([phone_in_path("phone")])
            .answers([
                ok(200, "The profile with each device's MLS credential.", wire::<Profile>()),
                error(400, "`invalid_phone`"),
                not_found(),
            ]),
        Operation::signed_in(E::CreateGroup, "createGroup", "Create a group conversation")
            .describe(
                "The creator's device then makes the MLS group and sends the first commit (from epoch 0) adding every \
                 member's devices, with their Welcome.",
            )
            .body(wire::<CreateGroupRequest>())
            .answers([
                ok(
                    201,
                    "The group, with the caller as owner and the others as members, at epoch 0.",
                    wire::<ConversationView>(),
                ),
                error(
                    400,
                    "`invalid_json`, `invalid_field`, `too_many_members`, `invalid_title` (empty, too long, or \
                     holding a control, invisible or text-direction character)",
                ),
                error(
                    403,
                    "`group_add_refused`: some of memberIds do not let the caller add them to groups (see \
                     `PATCH /auth/me`); the message names them.",
                ),
                error(
                    429,
                    "`too_many_groups`: the caller created 30 groups in the last hour (refused ones included); \
                     `Retry-After` says when to try again.",
                ),
                error(404, "`not_found`: some of memberIds are not users."),
                body_too_large(),
                not_json(),
            ]),
        Operation::signed_in(E::ListConversations, "listConversations", "The caller's conversations, a page at a time")
            .params(page())
            .answers([
                ok(200, "One page of conversations, by id.", wire::<Page<ConversationView>>()),
                error(400, "`invalid_cursor`, `invalid_limit`"),
            ]),
        Operation::signed_in(E::GetConversation, "getConversation", "Ensure and get the 1:1 conversation with a peer")
            .describe(
                "`peerId` is the other user's id (the conversation is created on first use, unique per pair), or the \
                 id of a conversation the caller belongs to.",
            )
            .params([uuid_in_path("peerId")])
            .answers([
                ok(200, "The conversation with its members.", wire::<ConversationView>()),
                error(400, "`invalid_id`, `self_conversation`"),
                not_a_member(),
                not_found(),
            ]),
        Operation::signed_in(E::UpdateConversation, "updateConversation", "Set a conversation's disappearing messages")
            .describe(
                "`disappearAfterSeconds`: 3600, 86400, 604800 or 7776000 (an hour, a day, a week, 90 days), or null \
                 for off. Any member of a 1:1 may set it; in a group its owner and admins. The server deletes the \
                 ciphertext of each application message sent from then on that long after it was sent, leaving a \
                 tombstone (`deleted: \"expired\"`). Members learn of the change inside MLS, from the member who \
                 made it; `peerId` is as in `getConversation`.",
            )
            .params([uuid_in_path("peerId")])
            .body(wire::<UpdateConversationRequest>())
            .answers([
                ok(200, "The conversation, as changed.", wire::<ConversationView>()),
                error(400, "`invalid_json`, `invalid_field`, `invalid_id`, `self_conversation`"),
                error(403, "`forbidden`: in a group only its owner and admins set it; `not_a_member`"),
                not_found(),
                body_too_large(),
                not_json(),
            ]),
        Operation::signed_in(E::ListMessages, "listMessages", "A conversation's messages, newest first")
            .params([uuid_in_path("peerId")])
            .params(page())
            .answers([
                ok(200, "One page of messages (ciphertext).", wire::<Page<MessageView>>()),
                invalid_input(),
                not_a_member(),
                not_found(),
            ]),
        Operation::signed_in(E::DeleteMessage, "deleteMessage", "Delete a message for everyone")
            .describe(
                "Deletes an application message's ciphertext, for every member; its row stays as a tombstone \
                 (`deleted: \"retracted\"`, empty `ciphertext`) so that `seq` order and pages have no holes. Its \
                 sender may, and in a group its owner and admins. Asking again is no error. Members' devices learn \
                 which message it was, and that they are to forget it, from an MLS message the deleting device sends.",
            )
            .params([uuid_in_path("id"), uuid_in_path("messageId")])
            .answers([
                no_content(204, "Deleted (now or before)."),
                error(400, "`invalid_id`"),
                error(403, "`forbidden`: the caller is not its sender (nor, in a group, an owner or admin)."),
                not_found(),
            ]),
        Operation::signed_in(E::LeaveGroup, "leaveGroup", "Leave a group")
            .describe(
                "The caller leaves the group at once: nothing more of it is routed to them, and if they owned it, \
                 ownership passes to its longest-standing admin or, with none, its longest-standing member (a group \
                 nobody is left in is deleted). Their devices stay in the group's MLS tree until a member's device \
                 commits their removal, which any member may do on the strength of this departure: the members who \
                 stay and the caller's other devices get `member-left`, conversations list it under `departures` \
                 until then, and the removing commit carries it.",
            )
            .params([uuid_in_path("id")])
            .body(wire::<LeaveRequest>())
            .answers([
                ok(200, "The departure, as the members get it.", wire::<DepartureView>()),
                error(400, "`invalid_json`, `invalid_field`, `invalid_id`, `not_a_group`: a 1:1 cannot be left."),
                error(403, "`forbidden`: this session has no device yet; `not_a_member`: the caller is not in this group."),
                not_found(),
                body_too_large(),
                not_json(),
            ]),
        Operation::signed_in(E::RegisterDevice, "registerDevice", "Register the caller's first device")
            .body(wire::<RegisterDeviceRequest>())
            .answers([
                ok(
                    201,
                    "The device. Once it uploads its first KeyPackages, the user's other sockets and the people they \
                     talk to get `device-added`.",
                    wire::<DeviceView>(),
                ),
                error(400, LABEL_REFUSALS),
                error(
                    403,
                    "`link_required`: the account has a device already. A further device is linked (approved by \
                     one the account has, `POST /devices/links`) or, when every device is lost, set up by \
                     `POST /devices/reset`.",
                ),
                error(
                    409,
                    "`credential_taken` (another device has this credential); or this session already registered a \
                     device (`session_has_device`): a session acts as one device, so set up another from a new login.",
                ),
                error(413, "`payload_too_large`, `too_large`"),
                not_json(),
            ]),
        Operation::signed_in(E::ListUserDevices, "listUserDevices", "A user's devices and their public credentials")
            .params([uuid_in_path("id")])
            .answers([
                ok(200, "Every device of the user, oldest first.", wire::<DeviceList>()),
                invalid_id(),
                not_found(),
            ]),
        Operation::signed_in(E::LookupDevices, "lookupDevices", "Several users' devices at once")
            .describe(
                "For checking a group's members against the directory in one request. Users that do not \
                 exist are left out. With `includeRemoved`, each user's removed devices come too (the most \
                 recent 50, each with `removedAt`), so that a member catching up can check an old commit or \
                 message of a device that has gone since against the directory as it was then.",
            )
            .body(wire::<DeviceLookupRequest>())
            .answers([
                ok(200, "Each existing user asked for, with every device, oldest first.", wire::<DeviceLookup>()),
                invalid_input(),
                body_too_large(),
                not_json(),
            ]),
        Operation::signed_in(E::DeleteDevice, "deleteDevice", "Remove one of the caller's devices")
            .describe(
                "A session removes its own device freely. Another of the account's devices only from a session that \
                 acts as one of its devices, with the account's password entered again (`{\"password\"}`): neither \
                 a stolen token nor the password alone, from a new browser, can remove the owner's devices. \
                 `revocation` is the removing device's Ed25519 signature over `e2e-chat/revoke-device/v1:`, the \
                 user's id, `:`, the removed device's id, `:`, the base64 of its key; kept with the removed device \
                 in the history, it is what makes the user's other devices stop trusting it for good.",
            )
            .params([uuid_in_path("id")])
            .optional_body(wire::<RemoveDeviceRequest>())
            .answers([
                no_content(
                    204,
                    "Removed, with its key packages. The caller's other sockets get `device-removed`, so their \
                     devices remove it from every group.",
                ),
                error(400, "`invalid_id`, `invalid_json`, `invalid_field`"),
                error(
                    403,
                    "Another of the caller's devices, and: this session acts as no device (`device_required`), no \
                     password was given (`password_required`), or it is wrong (`wrong_password`, counted against the \
                     session's own limit); or the revocation is not this device's signature (`invalid_revocation`).",
                ),
                no_such_device(),
                body_too_large(),
                not_json(),
                password_reentry_limited(),
            ]),
        Operation::signed_in(E::BindDevice, "bindDevice", "Prove this session runs on one of the caller's devices")
            .describe(format!(
                "The body is the device's Ed25519 signature, with the key it registered, over the text \
                 `{DEVICE_PROOF_CONTEXT}` followed by this session's id (the token's `sid`, lowercase and \
                 hyphenated). The session then acts as that device, as if it had registered it: a new login on \
                 a browser that already has a device does this, since naming a device proves nothing."
            ))
            .params([uuid_in_path("id")])
            .body(wire::<BindDeviceRequest>())
            .answers([
                no_content(204, "The session acts as this device from now on."),
                invalid_input(),
                error(403, "`invalid_proof`: the signature is not this device's over this session."),
                no_such_device(),
                error(409, "`session_has_device`: this session already acts as another device."),
                body_too_large(),
                not_json(),
            ]),
        Operation::signed_in(E::RequestLink, "requestLink", "Ask to link this browser to the account")
            .describe(format!(
                "From a session with no device, on an account that has one. The browser shows a code it made; \
                 `codeMac` is HMAC-SHA-256 under that code of the user, label and key, so the device that \
                 approves can tell this request from one the server made up. A request waits \
                 {LINK_REQUEST_TTL_SECONDS} seconds; a session has one at a time (asking again replaces it)."
            ))
            .body(wire::<LinkRequest>())
            .answers([
                ok(201, "The request, pending. Its id is the id the device will have.", wire::<LinkView>()),
                error(400, LABEL_REFUSALS),
                error(
                    409,
                    "`session_has_device` (this session acts as a device already) or `no_device_to_link` (the \
                     account has no device: register the first with `POST /devices`).",
                ),
                body_too_large(),
                not_json(),
                error(
                    429,
                    format!("`too_many_link_requests`: {MAX_PENDING_LINKS_PER_USER} requests wait already."),
                ),
            ]),
        Operation::signed_in(E::ListPendingLinks, "listPendingLinks", "Link requests waiting for approval")
            .answers([
                ok(200, "The account's pending requests, oldest first.", wire::<PendingLinks>()),
                error(403, "`device_required`: only a session acting as one of the account's devices may see them."),
            ]),
        Operation::signed_in(E::LinkStatus, "linkStatus", "Where this session's link request stands")
            .params([uuid_in_path("id")])
            .answers([
                ok(
                    200,
                    "Pending, or approved: then the session acts as the new device, given with the approving \
                     device's proof.",
                    wire::<LinkView>(),
                ),
                invalid_id(),
                error(404, "`not_found`: no such request of this session (expired, cancelled or declined)."),
            ]),
        Operation::signed_in(E::ApproveLink, "approveLink", "Approve a browser's link request")
            .describe(format!(
                "From a session acting as one of the account's devices. `signature` is that device's Ed25519 \
                 signature over `{LINK_APPROVAL_CONTEXT}`, the user's id, `:`, the request's id, `:`, and the base64 \
                 of the browser's key. The server checks it, registers the device with it (the user's other \
                 devices check it again before they add the device to their groups) and binds the asking \
                 session to the device."
            ))
            .params([uuid_in_path("id")])
            .body(wire::<ApproveLinkRequest>())
            .answers([
                ok(201, "The new device.", wire::<DeviceView>()),
                invalid_input(),
                error(
                    403,
                    "`device_required` (this session acts as no device) or `invalid_approval` (not this device's \
                     signature over that key).",
                ),
                error(404, "`not_found`: no such request waits (expired, cancelled, declined or approved)."),
                error(
                    409,
                    format!(
                        "`too_many_devices` ({MAX_DEVICES_PER_USER} per user) or `credential_taken` (another \
                         device has that key)."
                    ),
                ),
                body_too_large(),
                not_json(),
            ]),
        Operation::signed_in(E::DeleteLink, "deleteLink", "Cancel or decline a link request")
            .describe("The browser that asked cancels its request; a device of the account declines any.")
            .params([uuid_in_path("id")])
            .answers([
                no_content(204, "The request is gone; the browser that asked sees 404."),
                invalid_id(),
                error(403, "`device_required`: another session's request, and this session acts as no device."),
                error(404, "`not_found`: no such request waits."),
                error(409, "`link_approved`: that browser is a device now; remove the device instead."),
            ]),
        Operation::signed_in(E::ResetDevices, "resetDevices", "Start over on this browser when every device is lost")
            .describe(
                "From a session with no device, with the password entered again. Every device of the account \
                 is removed (their sessions end, and `device-removed` goes to the user and the people they talk \
                 to, whose devices take them out of every group), every other session ends, and this browser \
                 becomes the only device. Contacts see the user's devices change.",
            )
            .body(wire::<ResetDevicesRequest>())
            .answers([
                ok(201, "The new device, the account's only one.", wire::<DeviceView>()),
                error(400, LABEL_REFUSALS),
                error(403, "`wrong_password` (counted against the session's own limit)."),
                error(409, "`session_has_device` or `credential_taken`."),
                body_too_large(),
                not_json(),
                password_reentry_limited(),
            ]),
        Operation::signed_in(
            E::UploadKeyPackages,
            "uploadKeyPackages",
            "Upload key packages for one of the caller's devices",
        )
        .params([own_device()])
        .body(wire::<UploadKeyPackagesRequest>())
        .answers([
            ok(
                200,
                "What the device now holds. The first upload of a device sends `device-added` to the user's other \
                     sockets and to the people they talk to.",
                wire::<KeyPackageCount>(),
            ),
            error(400, "`invalid_json`, `invalid_field`, `invalid_id`"),
            other_device(),
            no_such_device(),
            error(
                409,
                format!(
                    "`too_many_key_packages`: the batch would take the device past {MAX_KEY_PACKAGES_PER_DEVICE} \
                         unclaimed packages; nothing was stored."
                ),
            ),
            error(413, "`payload_too_large`, `too_large`"),
            not_json(),
        ]),
        Operation::signed_in(
            E::KeyPackageCount,
            "countKeyPackages",
            "How many key packages one of the caller's devices has left",
        )
        .params([own_device()])
        .answers([
            ok(200, "The counts.", wire::<KeyPackageCount>()),
            invalid_id(),
            other_device(),
            no_such_device(),
        ]),
        Operation::signed_in(E::ClaimKeyPackages, "claimKeyPackages", "Claim one key package per device of a user")
            .describe(format!(
                "Two concurrent claims never receive the same one-time package. The body is optional. A device with \
                 no one-time package left is served its last-resort package (lastResort: true), which is never \
                 consumed. One caller may take at most {KEY_PACKAGE_CLAIMS_PER_WINDOW} one-time packages of the same \
                 user per hour; past that it is served last-resort packages only, so no account can drain another's \
                 supply."
            ))
            .params([uuid_in_path("id")])
            .optional_body(wire::<ClaimRequest>())
            .answers([
                ok(
                    200,
                    "One package per device that has one; one-time packages are consumed atomically, the last-resort \
                     one never.",
                    wire::<ClaimResponse>(),
                ),
                error(400, "`invalid_json`, `invalid_field`, `invalid_id`"),
                not_found(),
                body_too_large(),
                not_json(),
            ]),
        Operation::signed_in(E::AdminListUsers, "adminListUsers", "All accounts (admin)")
            .params(searched_page())
            .answers([
                ok(200, "One page of accounts.", wire::<Page<Account>>()),
                invalid_input(),
                error(403, "`forbidden`: not an administrator."),
            ]),
        Operation::signed_in(
            E::AdminDeleteUser,
            "adminDeleteUser",
            "Delete a user and everything that is theirs (admin)",
        )
        .describe(
            "Deletes the account, its devices and key packages, memberships, sent messages, direct conversations \
                 and groups left empty; writes an audit entry. Refuses to delete the last administrator.",
        )
        .params([uuid_in_path("id")])
        .answers([
            no_content(204, "Deleted."),
            invalid_id(),
            forbidden(),
            not_found(),
            error(409, "`last_admin`"),
        ]),
        Operation::signed_in(E::AdminAudit, "adminAudit", "The audit log, newest first (admin)")
            .params(page())
            .answers([ok(200, "One page of audit entries.", wire::<Page<AuditEntry>>()), invalid_input(), forbidden()]),
        Operation::signed_in(E::AdminStats, "adminStats", "Live counts for the admin page (admin)")
            .describe(
                "Accounts, accounts online now (with at least one open socket), application messages stored since \
                 midnight UTC, and signed-in sessions, read from the database when asked.",
            )
            .answers([ok(200, "The counts.", wire::<AdminStats>()), forbidden()]),
        Operation::signed_in(E::CreateAttachment, "createAttachment", "Start an encrypted upload for a conversation")
            .describe(format!(
                "Reserves an upload of `size` bytes of ciphertext, which only the caller writes and only the \
                 conversation's members read. The client encrypts the file first (a fresh AES-256-GCM key per file, \
                 so `size` is the file's plus {ATTACHMENT_TAG_BYTES}) and puts the key, nonce and hash inside the \
                 MLS message that refers to the upload; the server sees only sizes. Then `PUT \
                 /attachments/{{id}}/parts/{{n}}` for each part, `POST /attachments/{{id}}/complete`, and a \
                 `send-message` naming it in `attachmentIds`. An upload no message refers to within {} hours \
                 (finished or not) is deleted.",
                UNREFERENCED_ATTACHMENT_GRACE_SECONDS / 3600
            ))
            .params([uuid_in_path("id")])
            .body(wire::<CreateAttachmentRequest>())
            .answers([
                ok(201, "The upload, and how to cut it into parts.", wire::<AttachmentUpload>()),
                error(400, "`invalid_json`, `invalid_field`, `invalid_id`"),
                not_a_member(),
                error(404, "`not_found`: there is no such conversation."),
                error(
                    413,
                    format!(
                        "`too_large`: over {MAX_ATTACHMENT_BYTES} bytes (a file of {} MiB, encrypted); \
                         `quota_exceeded`: the caller's stored uploads and this one would pass their quota \
                         (ATTACHMENT_QUOTA_BYTES, {} MiB by default); `payload_too_large`: the JSON body is.",
                        MAX_ATTACHMENT_PLAINTEXT_BYTES >> 20,
                        DEFAULT_ATTACHMENT_QUOTA_BYTES >> 20
                    ),
                ),
                not_json(),
                error(
                    429,
                    format!(
                        "`too_many_uploads`: the caller has {MAX_UNFINISHED_UPLOADS_PER_USER} unfinished uploads; \
                         finish or cancel one first."
                    ),
                ),
                storage_unavailable(),
            ]),
        Operation::signed_in(E::UploadAttachmentPart, "uploadAttachmentPart", "Send one part of an upload")
            .describe(format!(
                "The body is the part's raw bytes, with its Content-Length: part `n` (from 1 to the upload's \
                 `parts`) is exactly `partSize` ({ATTACHMENT_PART_BYTES}) bytes, the last one the rest. A part may be \
                 sent again (the last one sent counts) and parts in any order. Only the uploader, while a member.",
            ))
            .params([uuid_in_path("id"), part_number()])
            .bytes_body()
            .answers([
                no_content(204, "The part is stored."),
                error(
                    400,
                    "`invalid_id`; `invalid_part`: the upload has no such part; `wrong_part_size`: the body is not \
                     exactly the part's size.",
                ),
                error(404, "`not_found`: no such upload of the caller's, in a conversation they are in."),
                error(409, "`upload_closed`: the upload is complete or cancelled."),
                error(411, "`length_required`: no Content-Length."),
                storage_unavailable(),
            ]),
        Operation::signed_in(E::CompleteAttachment, "completeAttachment", "Finish an upload")
            .describe(
                "Joins the parts into the stored object; from then on the conversation's members can read it and a \
                 `send-message` of the caller's can refer to it.",
            )
            .params([uuid_in_path("id")])
            .answers([
                ok(200, "The finished upload.", wire::<AttachmentView>()),
                invalid_id(),
                error(404, "`not_found`: no such upload of the caller's, in a conversation they are in."),
                error(409, "`parts_missing` (named in the message), `upload_closed`: complete or cancelled already."),
                storage_unavailable(),
            ]),
        Operation::signed_in(E::DownloadAttachment, "downloadAttachment", "Read an upload's ciphertext")
            .describe(
                "The upload's bytes as stored, streamed, with Content-Length and `Cache-Control: private, no-store`: \
                 the client checks their hash and decrypts them with the key from the message. For current members \
                 of the conversation the upload was made for; to anyone else it does not exist.",
            )
            .params([uuid_in_path("id")])
            .answers([
                ok_bytes(200, "The ciphertext (application/octet-stream)."),
                invalid_id(),
                error(404, "`not_found`: no such finished upload in the caller's conversations."),
                storage_unavailable(),
            ]),
        Operation::signed_in(E::CancelAttachment, "cancelAttachment", "Cancel an upload")
            .describe(
                "Deletes the caller's upload, finished or not, that no message refers to: its bytes and its record \
                 go at once, and it stops counting against the quota. One a message refers to goes with that message.",
            )
            .params([uuid_in_path("id")])
            .answers([
                no_content(204, "The upload is gone."),
                invalid_id(),
                error(404, "`not_found`: the caller has no such upload."),
                error(409, "`attachment_in_use`: a message refers to it."),
                storage_unavailable(),
            ]),
        Operation::public(E::PushServerKey, "pushServerKey", "The server's VAPID public key, for Web Push")
            .describe(
                "What a browser passes as `applicationServerKey` to `pushManager.subscribe`, so that its push \
                 service takes pushes to the subscription from this server only (RFC 8292). Null when push is off \
                 on this server (no VAPID key configured).",
            )
            .answers([ok(200, "The key, or null.", wire::<PushServerKey>()), error(500, "`server_misconfigured`")]),
        Operation::signed_in(E::SubscribePush, "subscribePush", "Receive pushes on this session's device")
            .describe(format!(
                "The body is the browser's `PushSubscription.toJSON()`. The device this session acts as gets a push \
                 when a message reaches its user while it has no open socket, unless the user muted that \
                 conversation: encrypted to `keys` (RFC 8291), it carries the conversation's id, the message's seq \
                 and id, and its MLS ciphertext when the whole stays within {MAX_PUSH_PAYLOAD_BYTES} bytes (the \
                 `PushPayload` schema, `type` `message`) — never a name or any text. When the user reads that \
                 conversation on another device, the device gets a `read` push (its id and the seq read up to) so \
                 that it clears its notifications. Pushes are coalesced under bursts and rate-limited per device, \
                 so the service worker syncs rather than count on one per message. A \
                 device has one subscription: this replaces the one it had, and an endpoint another device had \
                 is taken from it. `endpoint` is `https:` to a named host, at most {MAX_PUSH_ENDPOINT_CHARS} \
                 characters; plain `http:` to a loopback host only where ENVIRONMENT is development or test."
            ))
            .body(wire::<PushSubscriptionRequest>())
            .answers([
                no_content(204, "Stored."),
                error(
                    400,
                    "`invalid_json`, `invalid_endpoint` (not an https: URL of a push service by its name), \
                     `invalid_field` (`keys.p256dh` is no uncompressed P-256 point, `keys.auth` not 16 bytes).",
                ),
                error(404, "`not_found`: this session has no device yet (register one with `POST /devices`)."),
                error(409, "`subscription_taken`: another device registered the same endpoint at the same moment."),
                push_subscription_changes(),
                body_too_large(),
                not_json(),
                error(503, "`push_unavailable`: push is off on this server (its message says why); `database_unavailable`."),
            ]),
        Operation::signed_in(E::UnsubscribePush, "unsubscribePush", "Stop pushes to this session's device")
            .answers([
                no_content(204, "No subscription is left (there may have been none). Never throttled."),
                error(404, "`not_found`: this session has no device yet."),
            ]),
        Operation::signed_in(E::GetNotifications, "getNotifications", "The caller's notification settings of a conversation")
            .params([uuid_in_path("id")])
            .answers([
                ok(200, "The settings.", wire::<NotificationSettings>()),
                invalid_id(),
                not_a_member(),
                error(404, "`not_found`: there is no such conversation."),
            ]),
        Operation::signed_in(E::SetNotifications, "setNotifications", "Mute or unmute a conversation for the caller")
            .describe(format!(
                "`mutedUntil`: `\"{MUTED_ALWAYS}\"`, an RFC 3339 time (say 8 hours or a week ahead), or null to \
                 unmute; leaving it out is 400, not \"unmute\". While muted, none of the caller's devices gets a \
                 push for the conversation; messages still arrive on open sockets. Each member's own: the others \
                 never see it."
            ))
            .params([uuid_in_path("id")])
            .body(wire::<NotificationSettingsRequest>())
            .answers([
                ok(200, "The settings, as changed (a time already past reads null).", wire::<NotificationSettings>()),
                error(400, "`invalid_json`, `invalid_field`, `invalid_id`"),
                not_a_member(),
                error(404, "`not_found`: there is no such conversation."),
                body_too_large(),
                not_json(),
            ]),
        Operation::public(E::WebSocket, "websocket", "Open the realtime WebSocket")
            .describe(format!(
                "Upgrades to a WebSocket routed to the caller's UserHub. Pass the token as the subprotocol \
                 `bearer.<token>` beside `e2e-chat.v1` (echoed back); a token in the URL (`?token=`) is refused \
                 with 400 `token_in_url`, since logs keep URLs. Events are JSON text frames: \
                 client → server {}; server → client {} (the schemas `ClientFrame` and `ServerEvent`, from \
                 src/protocol/events.rs).",
                event_types::<ClientEventWire>(),
                event_types::<ServerEvent>()
            ))
            .params([in_query(
                    "device",
                    uuid(),
                    Some(
                        "One of the caller's devices. A session acts as one device, the one it registered or proved \
                         it runs on (`POST /devices/{id}/bind`): its sockets are that device's whether they name it \
                         or not; naming another, or naming one before proving it, is 403.",
                    ),
                )])
            .answers([
                no_content(101, "Switching protocols."),
                error(400, "`invalid_protocol`, `invalid_id`, `token_in_url`"),
                error(401, "Missing, forged, expired or revoked token."),
                error(
                    403,
                    "The device is not the caller's (`forbidden`), the session acts as another of the caller's devices \
                     (`forbidden`), or it has not proved it runs on the one named (`device_not_bound`).",
                ),
                error(426, "`upgrade_required`: not a WebSocket upgrade."),
                error(
                    429,
                    "`too_many_connects`: the account opened more than 30 connections in a burst, or more than one \
                     a second after it; `Retry-After` says when to try again.",
                ),
                error(500, "`server_misconfigured`"),
                error(503, "`database_unavailable`, `hub_unavailable`"),
            ]),
    ]
}

/// The answer when R2 does not: worth another try.
fn storage_unavailable() -> Response {
    error(503, "`storage_unavailable`: the file store (R2) did not answer; `database_unavailable`. Retry later.")
}

fn part_number_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "integer", "minimum": 1, "maximum": part_count(MAX_ATTACHMENT_BYTES) })
}

/// `:n` of an upload's part.
fn part_number() -> Parameter {
    Parameter {
        name: "n",
        location: Location::Path,
        ty: WireType { schema: part_number_schema, ts_name: <u32 as TS>::name },
        description: Some("The part's number, from 1 to the upload's `parts`."),
    }
}

/// The 400 of the operations that take a device label.
const LABEL_REFUSALS: &str = "`invalid_json`, `invalid_field`, `invalid_label` (empty, too long, or holding a \
    control, invisible or text-direction character)";

fn any_object_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object" })
}

/// The document itself: an object in the schema, any JSON to TypeScript.
fn any_object() -> WireType {
    WireType { schema: any_object_schema, ts_name: <serde_json::Value as TS>::name }
}

/// The `type` of every variant of a socket event union, as "`ready`, `ack`, …".
fn event_types<T: JsonSchema>() -> String {
    let union = schema_for!(T);
    let variants = union.get("oneOf").and_then(|v| v.as_array()).expect("a tagged union");
    let types: Vec<String> =
        variants.iter().map(|v| format!("`{}`", v["properties"]["type"]["const"].as_str().unwrap())).collect();
    types.join(", ")
}
