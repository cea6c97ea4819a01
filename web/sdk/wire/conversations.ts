// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.

export type ConversationKind = "direct" | "group";

export type MemberRole = "owner" | "admin" | "member";

export type ConversationView = { id: string, kind: ConversationKind, title: string | null, createdBy: string | null, createdAt: string, 
/**
 * The MLS epoch the conversation is at: commits must start from it, messages carry it.
 */
epoch: number, 
/**
 * The seq of its newest message (0 when empty).
 */
lastSeq: number, members: Array<MemberView>, 
/**
 * Members who left the group and whose devices no commit has removed from its MLS group yet:
 * any member's device may commit that removal, carrying these (see `DepartureView`).
 */
departures: Array<DepartureView>, 
/**
 * Its disappearing-messages timer in seconds (one of `DISAPPEAR_AFTER_CHOICES`), null when
 * off: the server deletes an application message's ciphertext this long after it was sent.
 * Members learn of a change from the member who made it, inside MLS; this is for those who
 * joined after it.
 */
disappearAfterSeconds: number | null, };

export type MemberView = { userId: string, displayName: string, role: MemberRole, joinedAt: string, 
/**
 * The member reads messages after this seq (0, or the commit that added them).
 */
joinedSeq: number, };

/**
 * A member's departure from a group, in their own words: `signature` is made by the leaving
 * device's MLS signature key (its leaf's) over `DEPARTURE_CONTEXT` text.
 * The server cannot make one, so a removal that a plain member commits on its strength is one
 * the leaver asked for; naming the leaf's encryption key ties it to that leaf, so it is spent
 * once the leaf is gone (someone added back has new leaves).
 */
export type DepartureView = { userId: string, deviceId: string, 
/**
 * Base64 of the signature.
 */
signature: string, leftAt: string, };

/**
 * `POST /conversations/:id/leave`: the caller's device leaves the group for its user.
 */
export type LeaveRequest = { 
/**
 * Base64 of the departure's Ed25519 signature (see `DepartureView`), by this session's device.
 */
signature: string, };

/**
 * `PATCH /conversations/:id`: a member changes the conversation's settings (in a group, an owner
 * or admin).
 */
export type UpdateConversationRequest = { 
/**
 * One of `DISAPPEAR_AFTER_CHOICES`, or null to turn disappearing messages off. Required: a
 * body that leaves it out is refused rather than read as "off" (hence the deserializer,
 * with which serde no longer takes a missing `Option` for None).
 */
disappearAfterSeconds: number | null, };

export type CreateGroupRequest = { title: string, memberIds: Array<string>, };

/**
 * The `commit` client event as sent: base64 fields, not yet validated.
 */
export type CommitEvent = { conversationId: string, epoch: number, clientMsgId: string, 
/**
 * Base64 of the MLS commit.
 */
commit: string, 
/**
 * Base64 of the Welcome for the users it adds.
 */
welcome?: string | null, 
/**
 * Base64 of the GroupInfo after the commit.
 */
groupInfo?: string | null, addUserIds?: Array<string>, removeUserIds?: Array<string>, };
