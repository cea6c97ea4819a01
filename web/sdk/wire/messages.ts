// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.
import type { DepartureView, MemberRole } from './conversations.ts';

export type MessageKind = "app" | "commit" | "welcome";

export type MessageView = { id: string, conversationId: string, 
/**
 * Position in the conversation: committed in this order, so "after seq N" has no gaps.
 */
seq: number, senderId: string, senderDeviceId: string | null, kind: MessageKind, epoch: number, 
/**
 * Base64 of the opaque MLS message; the server never sees plaintext. Empty once `deleted`.
 */
ciphertext: string, 
/**
 * Set when the message's ciphertext was deleted (see `MessageDeletion`); absent otherwise.
 */
deleted?: MessageDeletion, clientMsgId: string, createdAt: string, 
/**
 * For a commit: the users it declared to the server that it adds (the member list gained
 * exactly these). Every client checks that the people the commit brings into the group are
 * among them. Absent on other messages and on commits stored before declarations were kept.
 */
addUserIds?: Array<string>, 
/**
 * For a commit: the users it declared that it removes.
 */
removeUserIds?: Array<string>, 
/**
 * For a commit that removes people who left: their departures, by which any member may
 * remove them (see `DepartureView`). Absent when it removes nobody who left.
 */
departures?: Array<DepartureView>, 
/**
 * Its sender's role when the server ordered it, by which members judge a commit, a deletion
 * of someone else's message or a group's timer change, also when they read it later (the
 * sender may have left or changed role since). Absent on older messages.
 */
senderRole?: MemberRole, };

/**
 * Why an application message's ciphertext is gone. Its row stays, as a tombstone: clients apply
 * a conversation strictly in seq order, and a hole would stop them for good.
 */
export type MessageDeletion = "retracted" | "expired";

/**
 * The `send-message` client event as sent: exactly one of `conversationId` and `toUserId`.
 */
export type SendMessageEvent = { conversationId?: string | null, toUserId?: string | null, clientMsgId: string, 
/**
 * The MLS epoch the message was encrypted in (0 when absent).
 */
epoch?: number, 
/**
 * Base64 of the MLS message.
 */
ciphertext: string, 
/**
 * Says the message changes the conversation's disappearing-messages timer: it never expires
 * on the server, so that a device away for longer than the timer still learns of the change.
 */
timerChange?: boolean, 
/**
 * The uploads the message carries (their keys are inside the ciphertext): complete uploads of
 * the sender's for this conversation that no other message refers to, at most
 * `MAX_ATTACHMENTS_PER_MESSAGE`. The server records that this message refers to them.
 */
attachmentIds?: Array<string>, };

export type ReceiptKind = "delivered" | "read";

export type ReceiptRequest = { messageId: string, kind: ReceiptKind, };

export type TypingRequest = { conversationId: string, on: boolean, };

/**
 * "Send me what I missed": the last seq the client holds per conversation. Conversations it
 * does not list are sent from the start.
 */
export type SyncRequest = { after?: { [key in string]: number }, 
/**
 * Per conversation, the seq of the client's oldest own message not yet read by everyone:
 * the receipts made on its messages from there on are sent again, since those made while it
 * was away reached nobody.
 */
receiptsFrom?: { [key in string]: number }, 
/**
 * Says the client follows `synced.more`: an answer carries at most `SYNC_PAGE_MESSAGES`
 * messages, `synced` lists in `more` the conversations not yet caught up, and the client asks
 * again from `synced.after`. Every answer is paged, whatever this says (a whole history in
 * one answer is work nobody should be able to ask for 50 times a second); a client that
 * leaves it out and ignores `more` catches up the rest when it next notices a gap.
 */
paged?: boolean, };
