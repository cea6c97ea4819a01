// What reactions, edits, deletions for everyone and timer changes do to a conversation's history
// on this device. Each is an MLS message of its own (see content.ts) naming the message it
// changes by content id, applied in its turn in the conversation's order like every message, so
// every device ends with the same history. Who may do what is judged here, by every device,
// never by the server: anyone in the conversation reacts; only a message's sender edits it; its
// sender deletes it for everyone, and in a group so may an owner or admin; in a group only an
// owner or admin sets the timer. Roles are judged as the server recorded them when it ordered the
// change (as for commits: the sender may have left or changed role since), so every device
// judges alike whenever it reads it, with no request per message. A change that breaks these
// rules is refused (a Problem); one whose message this device does not hold (sent before it
// joined, or deleted here) does nothing.

import { ApiError } from './api.ts';
import type { Conversations } from './conversations.ts';
import type { Meaning } from './content.ts';
import type { Emitter } from './events.ts';
import { MlsFailure } from './mls.ts';
import type { Session } from './session.ts';
import type { LocalMessage } from './store.ts';
import type { MemberRole } from './wire/index.ts';

/** Where the store keeps each conversation's disappearing-messages timer, as its members set it. */
const TIMER_PREFIX = 'timer:';
/** Where the store keeps the messages whose ciphertext the server is still to delete. */
const SERVER_DELETION_PREFIX = 'server-deletion:';
/** Where the store keeps a timer the server is still to be told of, per conversation. */
const SERVER_TIMER_PREFIX = 'server-timer:';
/** How far ahead of this device's clock the server's may be when it says a message expired. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** The shortest timer: an expiry a sender gives with no timer known here is never sooner. */
const SHORTEST_TIMER_MS = 3_600_000;

interface ServerDeletion {
  conversationId: string;
  messageId: string;
}

/** Who made a change, in what role the server recorded for them then, and when. */
export interface ChangeSender {
  userId: string;
  /** The role the server recorded when it ordered the change (MessageView.senderRole). */
  role?: MemberRole;
  at: string;
}

/** A change as this device reads it: what it does, who made it and when. */
export type Change = Extract<Meaning, { kind: 'reaction' | 'edit' | 'retract' | 'timer' }>;

export function isChange(meaning: Meaning): meaning is Change {
  return meaning.kind === 'reaction' || meaning.kind === 'edit' || meaning.kind === 'retract' || meaning.kind === 'timer';
}

/** The one field of each kind of change, for a stored message of this device's own. */
export function changeFields(change: Change): Pick<LocalMessage, 'change' | 'target' | 'targetId' | 'timer' | 'text'> {
  switch (change.kind) {
    case 'reaction': return { change: 'reaction', target: change.target, text: change.emoji };
    case 'edit': return { change: 'edit', target: change.target, text: change.text };
    case 'retract': return { change: 'retract', target: change.target, text: '', ...(change.messageId ? { targetId: change.messageId } : {}) };
    case 'timer': return { change: 'timer', timer: change.seconds, text: '' };
  }
}

/** What a change stored for this device's own message reads as again (when its ack comes). */
export function changeOf(message: LocalMessage): Change | undefined {
  switch (message.change) {
    case 'reaction': return { kind: 'reaction', target: message.target!, emoji: message.text };
    case 'edit': return { kind: 'edit', target: message.target!, text: message.text };
    case 'retract': return { kind: 'retract', target: message.target!, ...(message.targetId ? { messageId: message.targetId } : {}) };
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
  /** How far the pipeline has processed a conversation (its seq), in its turn. */
  private readonly processedUpTo: (conversationId: string) => Promise<number>;
  /** The time in milliseconds since the epoch (a test may move it on). */
  private readonly now: () => number;

  constructor(session: Session, conversations: Conversations, events: Emitter, processedUpTo: (conversationId: string) => Promise<number>, now: () => number = Date.now) {
    this.session = session;
    this.conversations = conversations;
    this.events = events;
    this.processedUpTo = processedUpTo;
    this.now = now;
  }

  /**
   * Judges a change and returns what applying it takes, or null when it has nothing to change
   * here. Throws MlsFailure when it breaks the rules (nothing is applied then).
   */
  async prepare(conversationId: string, change: Change, sender: ChangeSender): Promise<(() => Promise<void>) | null> {
    const { userId: by, at } = sender;
    if (change.kind === 'timer') {
      if (!(await this.mayManage(conversationId, sender))) {
        throw new MlsFailure('timer_refused', 'Only an owner or admin sets disappearing messages in a group.');
      }
      return async () => {
        await this.session.db.put(TIMER_PREFIX + conversationId, change.seconds);
      };
    }
    const target = await this.session.db.messageByContent(conversationId, change.target);
    if (!target && change.kind === 'retract' && change.messageId) return this.confirmTombstone(conversationId, change.messageId, sender);
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
        if (target.senderId !== by && !(await this.mayManage(conversationId, sender, { groupOnly: true }))) {
          throw new MlsFailure('delete_refused', "Someone tried to delete another person's message; it was kept.");
        }
        return async () => {
          await this.update(target, (m) => tombstone(m, { by, at }));
          await this.forgetChangesOf(conversationId, change.target);
        };
    }
  }

  /**
   * A deletion naming, by its server id, a message this device only ever saw as the server's
   * tombstone: made by someone who may, it confirms the tombstone as theirs.
   */
  private async confirmTombstone(conversationId: string, messageId: string, sender: ChangeSender): Promise<(() => Promise<void>) | null> {
    const stored = await this.session.db.messageById(messageId);
    if (!stored || stored.conversationId !== conversationId || !stored.deleted?.unverified) return null;
    if (stored.senderId !== sender.userId && !(await this.mayManage(conversationId, sender, { groupOnly: true }))) {
      throw new MlsFailure('delete_refused', "Someone tried to delete another person's message; it was kept.");
    }
    return () => this.update(stored, (m) => ({ ...m, deleted: { by: sender.userId, at: sender.at } }), { deleted: true });
  }

  /**
   * The server deleted this message's ciphertext before this device read it. Past its timer (as
   * this device knows the timer), it is gone here too and nothing is kept; deleted for everyone,
   * its place stays, marked unconfirmed until the deletion itself names it. An expiry the timer
   * does not explain is the server's doing alone, and shown as such, never passed over.
   */
  async tombstoneFromServer(message: LocalMessage, reason: 'retracted' | 'expired'): Promise<void> {
    if (reason === 'expired') {
      const timer = await this.membersTimer(message.conversationId);
      const sent = await this.boundedSendTime(message);
      if (timer && sent + timer * 1000 <= this.now() + CLOCK_SKEW_MS) return;
    }
    const stored = tombstone(message, { at: message.createdAt, unverified: true });
    await this.session.db.putMessage(stored);
    this.events.emit('message', stored);
  }

  /**
   * When the server says a message was stored, held to what this device can check: not before
   * the message before it in the conversation (seq order is storage order), not after now. The
   * server cannot date a message back past its neighbour, nor make one disappear never.
   */
  private async boundedSendTime(message: Pick<LocalMessage, 'conversationId' | 'seq' | 'createdAt'>): Promise<number> {
    const [previous] = await this.session.db.history(message.conversationId, message.seq, 1);
    const claimed = Date.parse(message.createdAt);
    const earliest = previous ? Date.parse(previous.createdAt) : -Infinity;
    return Math.min(Math.max(Number.isNaN(claimed) ? this.now() : claimed, earliest), this.now() + CLOCK_SKEW_MS);
  }

  /** When a message received now disappears (milliseconds), if it does: the conversation's timer
   * as its members set it, counted from when it was stored (bounded, see boundedSendTime), else
   * the sender's `expires` but never sooner than the shortest timer (a sender's clock may be
   * behind). */
  async expiryOf(message: Pick<LocalMessage, 'conversationId' | 'seq' | 'createdAt'>, sendersExpiry: number | undefined): Promise<number | undefined> {
    const timer = await this.membersTimer(message.conversationId);
    const sent = await this.boundedSendTime(message);
    if (timer) return Math.min(sent + timer * 1000, sendersExpiry ?? Infinity);
    return sendersExpiry === undefined ? undefined : Math.max(sendersExpiry, sent + SHORTEST_TIMER_MS);
  }

  /**
   * Has the server delete a message's ciphertext. Recorded first, and kept until the server has
   * answered, so one it could not be asked now (or a page closed meanwhile) is asked at the next
   * connect.
   */
  async noteServerDeletion(conversationId: string, messageId: string): Promise<void> {
    await this.session.db.put(SERVER_DELETION_PREFIX + messageId, { conversationId, messageId } satisfies ServerDeletion);
  }

  /** Sets the timer on the server too (recorded first, retried at the next connect until it answers). */
  async noteServerTimer(conversationId: string, seconds: number | null): Promise<void> {
    await this.session.db.put(SERVER_TIMER_PREFIX + conversationId, { conversationId, seconds });
  }

  /** Tells the server what it has not answered yet: deletions and timers. */
  async tellServer(): Promise<void> {
    for (const deletion of await this.session.db.withPrefix<ServerDeletion>(SERVER_DELETION_PREFIX)) {
      await this.ask(SERVER_DELETION_PREFIX + deletion.messageId, () => this.session.api.deleteMessage(deletion.conversationId, deletion.messageId)).catch(() => {});
    }
    for (const timer of await this.session.db.withPrefix<{ conversationId: string; seconds: number | null }>(SERVER_TIMER_PREFIX)) {
      await this.ask(SERVER_TIMER_PREFIX + timer.conversationId, () => this.session.api.setDisappearingTimer(timer.conversationId, timer.seconds)).catch(() => {});
    }
  }

  private async ask(key: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (e) {
      // Out of reach, or busy, or the session is being renewed: asked again later. Refused (no
      // longer a member, say): asking again changes nothing.
      if (!(e instanceof ApiError) || e.unavailable || e.status === 401 || e.status === 429) throw e;
    }
    await this.session.db.delete(key);
  }

  /** The conversation's disappearing-messages timer in seconds (null: off), for what this device
   * sends and shows: as this device last set it if that change has not come back in its turn yet
   * (what it sends now is ordered after the change), else as its members last set it here, else
   * as the server lists it (a device that joined after it was set has nothing else to go by; it
   * only makes its own messages go sooner). */
  async timer(conversationId: string): Promise<number | null> {
    const own = await this.ownTimerAhead(conversationId);
    if (own !== undefined) return own;
    const set = await this.membersTimer(conversationId);
    if (set !== undefined) return set;
    const listed = this.conversations.get(conversationId) ?? (await this.conversations.current(conversationId).catch(() => undefined));
    return listed?.disappearAfterSeconds ?? null;
  }

  /**
   * The timer this device's latest change of it sets, while that change is sent (or being sent)
   * but not yet processed in its turn: until then the timer as its members set it is the one
   * before, and a message written right after setting one must not go without it. Beyond how far
   * the conversation is processed, the store holds only this device's own messages (and the one
   * being processed); one that failed to send is not counted.
   */
  private async ownTimerAhead(conversationId: string): Promise<number | null | undefined> {
    const ahead = await this.session.db.historyAfter(conversationId, await this.processedUpTo(conversationId), Infinity);
    const latest = ahead.filter((m) => m.change === 'timer' && m.senderDeviceId === this.session.deviceId && m.status !== 'failed').at(-1);
    return latest ? (latest.timer ?? null) : undefined;
  }

  /** The timer as a member set it, inside MLS, if this device has seen one: all that explains an
   * expiry the server claims, or dates one this device keeps. */
  private membersTimer(conversationId: string): Promise<number | null | undefined> {
    return this.session.db.get<number | null>(TIMER_PREFIX + conversationId);
  }

  /** This device's own changes of a message that is gone (sent or not): nothing of them is kept. */
  async forgetChangesOf(conversationId: string, contentId: string): Promise<void> {
    for (const m of await this.session.db.unsentChanges(conversationId)) {
      if (m.target === contentId) await this.session.db.deleteMessage(m.key);
    }
  }

  /**
   * Whether the sender may manage the conversation: anyone in a 1:1 (unless `groupOnly`), an
   * owner or admin of a group, by the role the server recorded when it ordered the change. The
   * kind is what this device knows of the conversation (a server cannot turn a group into a 1:1).
   */
  private async mayManage(conversationId: string, sender: ChangeSender, { groupOnly = false } = {}): Promise<boolean> {
    const kind = (await this.conversations.people(conversationId))?.kind ?? this.conversations.get(conversationId)?.kind;
    if (kind === 'direct') return !groupOnly;
    return sender.role === 'owner' || sender.role === 'admin';
  }

  private async update(target: LocalMessage, change: (message: LocalMessage) => LocalMessage, { deleted = false } = {}): Promise<void> {
    const updated = await this.session.db.updateMessage(target.key, (m) => (!!m.deleted !== deleted ? undefined : change(m)));
    if (updated) this.events.emit('changed', updated);
  }
}
