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
lastSeq: number, members: Array<MemberView>, };

export type MemberView = { userId: string, displayName: string, role: MemberRole, joinedAt: string, 
/**
 * The member reads messages after this seq (0, or the commit that added them).
 */
joinedSeq: number, };

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
