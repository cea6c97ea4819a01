// What reactions, edits, deletions for everyone and timer changes do to a conversation's history
// on this device. Each is an MLS message of its own (see content.ts) naming the message it
// changes by content id, applied in its turn in the conversation's order like every message, so
// every device ends with the same history. Who may do what is judged here, by every device,
// never by the server: anyone in the conversation reacts; only a message's sender edits it; its
// sender deletes it for everyone, and in a group so may an owner or admin; in a group only an
// owner or admin sets the timer. A change that breaks these rules is refused (a Problem); one
// whose message this device does not hold (sent before it joined, or deleted here) does nothing.

import { ApiError } from './api.ts';
import type { Conversations } from './conversations.ts';
import type { Meaning } from './content.ts';
import type { Emitter } from './events.ts';
import { MlsFailure } from './mls.ts';
import type { Session } from './session.ts';
import type { LocalMessage } from './store.ts';

/** Where the store keeps each conversation's disappearing-messages timer, as its members set it. */
const TIMER_PREFIX = 'timer:';
/** Where the store keeps the messages whose ciphertext the server is still to delete. */
const SERVER_DELETION_PREFIX = 'server-deletion:';

interface ServerDeletion {
  conversationId: string;
  messageId: string;
}

/** A change as this device reads it: what it does, who made it and when. */
export type Change = Extract<Meaning, { kind: 'reaction' | 'edit' | 'retract' | 'timer' }>;

export function isChange(meaning: Meaning): meaning is Change {
  return meaning.kind === 'reaction' || meaning.kind === 'edit' || meaning.kind === 'retract' || meaning.kind === 'timer';
}

/** The one field of each kind of change, for a stored message of this device's own. */
export function changeFields(change: Change): Pick<LocalMessage, 'change' | 'target' | 'timer' | 'text'> {
  switch (change.kind) {
    case 'reaction': return { change: 'reaction', target: change.target, text: change.emoji };
    case 'edit': return { change: 'edit', target: change.target, text: change.text };
    case 'retract': return { change: 'retract', target: change.target, text: '' };
    case 'timer': return { change: 'timer', timer: change.seconds, text: '' };
  }
}

/** What a change stored for this device's own message reads as again (when its ack comes). */
export function changeOf(message: LocalMessage): Change | undefined {
  switch (message.change) {
    case 'reaction': return { kind: 'reaction', target: message.target!, emoji: message.text };
    case 'edit': return { kind: 'edit', target: message.target!, text: message.text };
    case 'retract': return { kind: 'retract', target: message.target! };
    case 'timer': return { kind: 'timer', seconds: message.timer ?? null };
    default: return undefined;
  }
}

/** A message deleted for everyone: only what places it in the conversation is left. */
function tombstone(message: LocalMessage, deleted: NonNullable<LocalMessage['deleted']>): LocalMessage {
  const { key, id, clientMsgId, conversationId, seq, senderId, senderDeviceId, createdAt, status, receipts, contentId, expiresAt } = message;
  return {
    key, id, clientMsgId, conversationId, seq, senderId, senderDeviceId, createdAt, status, text: '', deleted,
    ...(receipts ? { receipts } : {}), ...(contentId ? { contentId } : {}), ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}

export class Changes {
  private readonly session: Session;
  private readonly conversations: Conversations;
  private readonly events: Emitter;

  constructor(session: Session, conversations: Conversations, events: Emitter) {
    this.session = session;
    this.conversations = conversations;
    this.events = events;
  }

  /**
   * Judges a change made by `by` and returns what applying it takes, or null when it has nothing
   * to change here. Throws MlsFailure when it breaks the rules, and CheckUnavailable when the
   * roles it needs cannot be read now (so it is judged again later; nothing was applied yet).
   */
  async prepare(conversationId: string, change: Change, by: string, at: string): Promise<(() => Promise<void>) | null> {
    if (change.kind === 'timer') {
      if (!(await this.mayManage(conversationId, by))) {
        throw new MlsFailure('timer_refused', 'Only an owner or admin sets disappearing messages in a group.');
      }
      return async () => {
        await this.session.db.put(TIMER_PREFIX + conversationId, change.seconds);
      };
    }
    const target = await this.session.db.messageByContent(conversationId, change.target);
    // A change of a change, or of a message this device does not hold or no longer shows.
    if (!target || target.change || target.deleted) return null;
    switch (change.kind) {
      case 'reaction':
        return () => this.update(target, (m) => {
          const reactions = { ...m.reactions };
          if (change.emoji === '') delete reactions[by];
          else reactions[by] = { emoji: change.emoji, at };
          const { reactions: _, ...rest } = m;
          return Object.keys(reactions).length > 0 ? { ...rest, reactions } : rest;
        });
      case 'edit':
        if (target.senderId !== by) throw new MlsFailure('edit_refused', "Someone tried to edit another person's message; it was not changed.");
        if (target.unsupported) return null;
        // The text as first sent is not kept: an edit replaces it on every device.
        return () => this.update(target, (m) => {
          const { body: _, ...rest } = m;
          return { ...(m.status === 'sending' || m.status === 'failed' ? m : rest), text: change.text, edited: { at } };
        });
      case 'retract':
        if (target.senderId !== by && !(await this.mayManage(conversationId, by, { groupOnly: true }))) {
          throw new MlsFailure('delete_refused', "Someone tried to delete another person's message; it was kept.");
        }
        return () => this.update(target, (m) => tombstone(m, { by, at }));
    }
  }

  /** A message whose ciphertext the server had deleted before this device read it. */
  async tombstoneFromServer(message: LocalMessage): Promise<void> {
    const stored = tombstone(message, { at: message.createdAt });
    await this.session.db.putMessage(stored);
    this.events.emit('message', stored);
  }

  /**
   * Has the server delete a message's ciphertext (after every device was told, inside MLS). Kept
   * until the server has answered, so one it could not be asked now is asked at the next connect.
   */
  async deleteOnServer(conversationId: string, messageId: string): Promise<void> {
    await this.session.db.put(SERVER_DELETION_PREFIX + messageId, { conversationId, messageId } satisfies ServerDeletion);
    await this.askServer({ conversationId, messageId });
  }

  /** Asks the server again for the deletions it has not answered yet. */
  async retryServerDeletions(): Promise<void> {
    for (const deletion of await this.session.db.withPrefix<ServerDeletion>(SERVER_DELETION_PREFIX)) {
      await this.askServer(deletion).catch(() => {});
    }
  }

  private async askServer({ conversationId, messageId }: ServerDeletion): Promise<void> {
    try {
      await this.session.api.deleteMessage(conversationId, messageId);
    } catch (e) {
      // Out of reach: asked again later. Refused (no longer a member, say): asking again changes nothing.
      if (!(e instanceof ApiError) || e.unavailable) throw e;
    }
    await this.session.db.delete(SERVER_DELETION_PREFIX + messageId);
  }

  /** The conversation's disappearing-messages timer in seconds (null: off): as its members last
   * set it here, else as the server lists it (for a device that joined after it was set). */
  async timer(conversationId: string): Promise<number | null> {
    const set = await this.session.db.get<number | null>(TIMER_PREFIX + conversationId);
    if (set !== undefined) return set;
    const listed = this.conversations.get(conversationId) ?? (await this.conversations.current(conversationId).catch(() => undefined));
    return listed?.disappearAfterSeconds ?? null;
  }

  /** Whether `userId` may manage the conversation: anyone in a 1:1 (unless `groupOnly`), an owner
   * or admin of a group. Roles are the server's word, as for commits. */
  private async mayManage(conversationId: string, userId: string, { groupOnly = false } = {}): Promise<boolean> {
    const conversation = await this.conversations.current(conversationId);
    if (!conversation) return false;
    if (conversation.kind === 'direct') return !groupOnly && conversation.members.some((m) => m.userId === userId);
    const role = conversation.members.find((m) => m.userId === userId)?.role;
    return role === 'owner' || role === 'admin';
  }

  private async update(target: LocalMessage, change: (message: LocalMessage) => LocalMessage): Promise<void> {
    const updated = await this.session.db.updateMessage(target.key, (m) => (m.deleted ? undefined : change(m)));
    if (updated) this.events.emit('changed', updated);
  }
}
