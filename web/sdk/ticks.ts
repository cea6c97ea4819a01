// The ticks on this user's own messages: sent once the server has stored one, then delivered and
// read as the receipts of the members it was for come in.

import type { Conversations } from './conversations.ts';
import type { Emitter } from './events.ts';
import type { Session } from './session.ts';
import type { ServerEventOf } from './socket.ts';
import { UNSENT_SEQ, type LocalMessage } from './store.ts';
import type { MessageView, ReceiptKind } from './wire/index.ts';

/** How far back, in a conversation's local history, own messages still waiting for a read receipt are looked for. */
const RECEIPT_CATCH_UP_WINDOW = 200;

/** What the ticks need of a `receipt` event. */
export type Receipt = Pick<ServerEventOf<'receipt'>, 'messageId' | 'userId' | 'kind'>;

export class Ticks {
  /** Receipts that arrived before this device had recorded the server id of its own message. */
  private readonly early = new Map<string, Record<string, ReceiptKind>>();
  private work: Promise<void> = Promise.resolve();
  private readonly session: Session;
  private readonly conversations: Conversations;
  private readonly events: Emitter;

  constructor(session: Session, conversations: Conversations, events: Emitter) {
    this.session = session;
    this.conversations = conversations;
    this.events = events;
  }

  /**
   * Acks and receipts update the same records, and each reads before it writes: run one at a
   * time, or a receipt could look for its message while the ack is still storing it under its
   * server id, find nothing, and be lost.
   */
  private inOrder(work: () => Promise<void>): Promise<void> {
    const next = this.work.then(work, work);
    this.work = next.catch(() => {});
    return next;
  }

  /** The server has stored this device's message `m`: it gets its server id, seq and first tick. */
  markStored(m: MessageView): Promise<void> {
    return this.inOrder(async () => {
      const sent = await this.session.db.updateMessage(`${m.senderId}:${m.clientMsgId}`, (local) => {
        if (local.seq !== UNSENT_SEQ) return undefined;
        const early = this.early.get(m.id);
        this.early.delete(m.id);
        const stored: LocalMessage = { ...local, id: m.id, seq: m.seq, status: 'sent', receipts: early };
        return { ...stored, status: this.tickOf(stored) };
      });
      if (sent) this.events.emit('status', sent);
    });
  }

  apply(receipt: Receipt): Promise<void> {
    return this.inOrder(() => this.record(receipt));
  }

  private async record(r: Receipt): Promise<void> {
    if (r.userId === this.session.me || !this.session.store) return;
    const stronger = (had: ReceiptKind | undefined) => (had === 'read' ? 'read' : r.kind);
    const local = await this.session.db.messageById(r.messageId);
    if (!local) {
      // Possibly our own message whose ack is still being recorded: keep it for then.
      const early = this.early.get(r.messageId) ?? {};
      this.early.set(r.messageId, { ...early, [r.userId]: stronger(early[r.userId]) });
      if (this.early.size > 1000) this.early.delete(this.early.keys().next().value!);
      return;
    }
    if (local.senderId !== this.session.me) return;
    const rank = { sending: 0, failed: 0, received: 0, sent: 1, delivered: 2, read: 3 } as const;
    let before = local.status;
    // Read again and written in one transaction: a reaction or an edit may be changing it too.
    const updated = await this.session.db.updateMessage(local.key, (current) => {
      before = current.status;
      const receipts = { ...current.receipts, [r.userId]: stronger(current.receipts?.[r.userId]) };
      const status = this.tickOf({ ...current, receipts });
      return { ...current, receipts, status: rank[status] > rank[current.status] ? status : current.status };
    });
    if (updated && updated.status !== before) this.events.emit('status', updated);
  }

  /**
   * The tick one of this user's stored messages shows: read once everyone it was for has read it,
   * delivered once everyone has it, as in a group every member counts. It was for the members who
   * had joined before it; when they are not known here, any reader's receipt counts.
   */
  private tickOf(message: LocalMessage): LocalMessage['status'] {
    const receipts = message.receipts ?? {};
    const readers = this.conversations.get(message.conversationId)?.members
      .filter((m) => m.userId !== this.session.me && m.joinedSeq < message.seq)
      .map((m) => m.userId) ?? [];
    const given = Object.values(receipts);
    const strongest = given.includes('read') ? 'read' : given[0];
    const kinds = readers.length > 0 ? readers.map((u) => receipts[u]) : [strongest];
    if (kinds.every((k) => k === 'read')) return 'read';
    if (kinds.every((k) => k === 'read' || k === 'delivered')) return 'delivered';
    return 'sent';
  }

  /**
   * Per conversation, the seq from which to ask the server again for receipts on this user's
   * messages that are not yet read: those made while this device was away were pushed to nobody.
   */
  async waitingFrom(conversationIds: Iterable<string>): Promise<Record<string, number>> {
    const receiptsFrom: Record<string, number> = {};
    try {
      for (const conversationId of conversationIds) {
        const recent = await this.session.db.history(conversationId, UNSENT_SEQ, RECEIPT_CATCH_UP_WINDOW);
        const waiting = recent.find((m) => m.senderId === this.session.me && (m.status === 'sent' || m.status === 'delivered'));
        if (waiting) receiptsFrom[conversationId] = waiting.seq;
      }
    } catch {
      // The store is closing (signed out): the messages are what matters, and they still come.
    }
    return receiptsFrom;
  }
}
