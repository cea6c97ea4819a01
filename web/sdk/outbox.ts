// Sending: a message is in this device's store (its outbox) from the first moment, encrypted in
// its conversation's order, and sent until the server acknowledges it. One the server refuses
// stays as `failed`, to retry; one cut short by a reload is sent by the next session.

import { changeFields, type Change } from './changes.ts';
import { contentId, editBody, reactionBody, retractBody, textBody, timerBody, type AttachedFile } from './content.ts';
import type { Emitter } from './events.ts';
import { encodeState, encrypt, epochOf, toBase64 } from './mls.ts';
import type { Pipeline } from './pipeline.ts';
import type { Session } from './session.ts';
import { EventError } from './socket.ts';
import { UNSENT_SEQ, type LocalMessage } from './store.ts';
import type { Ticks } from './ticks.ts';

const SEND_TRIES = 5;

/** A message the server did not take. It stays in this device's history as `failed`, to `retry`. */
export class SendFailure extends Error {
  readonly local: LocalMessage;
  constructor(local: LocalMessage, cause: unknown) {
    super(cause instanceof Error ? cause.message : 'The message could not be sent.', { cause });
    this.name = 'SendFailure';
    this.local = local;
  }
}

export interface OutboxOptions {
  /** Runs before a message is encrypted: the group is first brought to who should read it. */
  beforeSending: (conversationId: string) => Promise<void>;
  /** The conversation's disappearing-messages timer in seconds (null: off), for what is sent there. */
  timerOf: (conversationId: string) => Promise<number | null>;
  /** A message that will disappear was stored (see expiry.ts). */
  onExpiring: () => void;
  /** The time in milliseconds since the epoch. */
  now: () => number;
}

export class Outbox {
  /** Outbox messages being sent right now, by key, so a reconnect does not send them twice. */
  private readonly inFlight = new Set<string>();
  private readonly session: Session;
  private readonly pipeline: Pipeline;
  private readonly ticks: Ticks;
  private readonly events: Emitter;
  /** Runs before a message is encrypted: the group is first brought to who should read it. */
  private readonly beforeSending: (conversationId: string) => Promise<void>;
  private readonly expiring: OutboxOptions;

  constructor(session: Session, pipeline: Pipeline, ticks: Ticks, events: Emitter, options: Partial<OutboxOptions> = {}) {
    this.session = session;
    this.pipeline = pipeline;
    this.ticks = ticks;
    this.events = events;
    this.expiring = { beforeSending: async () => {}, timerOf: async () => null, onExpiring: () => {}, now: Date.now, ...options };
    this.beforeSending = this.expiring.beforeSending;
  }

  /**
   * Encrypts and sends a text; resolves once the server has stored it (status `sent`). The
   * message is in this device's outbox from the first moment: if the page closes first, it is sent
   * on the next connection (the clientMsgId makes a resend of something already stored harmless).
   */
  async sendText(conversationId: string, text: string, { inReplyTo }: { inReplyTo?: string } = {}): Promise<LocalMessage> {
    const expiresAt = await this.expiryFor(conversationId);
    const body = textBody(text, { inReplyTo, expiresAt });
    return this.send(conversationId, body, { text, ...(inReplyTo ? { inReplyTo } : {}) }, expiresAt);
  }

  /**
   * Sends files (already encrypted and uploaded for this conversation: their parts) with a
   * caption; the server records which uploads the message refers to, so it keeps them.
   */
  async sendAttached(conversationId: string, caption: string, attachments: AttachedFile[], { inReplyTo }: { inReplyTo?: string } = {}): Promise<LocalMessage> {
    const expiresAt = await this.expiryFor(conversationId);
    const body = textBody(caption, { inReplyTo, expiresAt, attachments });
    return this.send(conversationId, body, { text: caption, attachments, ...(inReplyTo ? { inReplyTo } : {}) }, expiresAt);
  }

  /**
   * Sends a reaction, an edit, a deletion for everyone or a timer change (see changes.ts). It
   * takes effect on this device as on the others: when it comes in its turn, after the server
   * has stored it. One the server would not take is not kept: the SendFailure says so.
   */
  async sendChange(conversationId: string, change: Change): Promise<LocalMessage> {
    const body = change.kind === 'reaction' ? reactionBody(change.target, change.emoji)
      : change.kind === 'edit' ? editBody(change.target, change.text)
        : change.kind === 'retract' ? retractBody(change.target, change.messageId) : timerBody(change.seconds);
    // A change disappears with the messages around it (reactions and edits with their message).
    const expiresAt = change.kind === 'timer' ? undefined : await this.expiryFor(conversationId);
    // One that failed is not shown, and not retried by hand: the caller is told. Its record stays,
    // hidden, in case the server did store it (an ack lost with the connection): it then takes
    // effect when it comes in its turn.
    return this.send(conversationId, body, changeFields(change), expiresAt);
  }

  private async expiryFor(conversationId: string): Promise<number | undefined> {
    const seconds = await this.expiring.timerOf(conversationId);
    return seconds ? this.expiring.now() + seconds * 1000 : undefined;
  }

  private async send(conversationId: string, body: string, fields: Partial<LocalMessage> & { text: string }, expiresAt: number | undefined): Promise<LocalMessage> {
    const { me, deviceId } = this.session;
    const clientMsgId = crypto.randomUUID();
    const local: LocalMessage = {
      key: `${me}:${clientMsgId}`, id: clientMsgId, clientMsgId, conversationId, seq: UNSENT_SEQ,
      senderId: me, senderDeviceId: deviceId, createdAt: new Date().toISOString(), status: 'sending',
      body, contentId: await contentId(conversationId, me, body), ...fields, ...(expiresAt !== undefined ? { expiresAt } : {}),
    };
    await this.session.db.putMessage(local);
    if (!local.change || local.change === 'timer') this.events.emit('message', local);
    if (expiresAt !== undefined) this.expiring.onExpiring();
    return this.deliver(local);
  }

  /** Sends what the outbox still holds, e.g. after a reload cut sends short. */
  async resendUnsent(): Promise<void> {
    for (const message of await this.session.db.unsent(this.session.deviceId)) {
      if (!this.inFlight.has(message.key)) void this.deliver(message).catch(() => {});
    }
  }

  /**
   * Sends a `failed` message again, where it stands in the conversation. It keeps its
   * clientMsgId, so if an earlier try did reach the server, the server answers with that copy
   * instead of storing a second.
   */
  async retry(messageKey: string): Promise<LocalMessage> {
    const failed = await this.session.db.message(messageKey);
    if (failed?.status !== 'failed' || failed.senderDeviceId !== this.session.deviceId || this.inFlight.has(messageKey)) {
      throw new Error('Only a message this device failed to send can be sent again.');
    }
    const sending: LocalMessage = { ...failed, status: 'sending' };
    await this.session.db.putMessage(sending);
    this.events.emit('status', sending);
    return this.deliver(sending);
  }

  private async deliver(message: LocalMessage): Promise<LocalMessage> {
    this.inFlight.add(message.key);
    try {
      return await this.tryDeliver(message);
    } finally {
      this.inFlight.delete(message.key);
    }
  }

  /** Rejects with a SendFailure, the message then `failed` in the store, if the server would not take it. */
  private async tryDeliver(message: LocalMessage): Promise<LocalMessage> {
    const { conversationId, clientMsgId, text, body } = message;
    const { session, pipeline } = this;
    try {
      for (let attempt = 0; attempt < SEND_TRIES; attempt += 1) {
        await this.beforeSending(conversationId);
        const { ciphertext, epoch } = await pipeline.serial(conversationId, async () => {
          const state = pipeline.groups.get(conversationId);
          if (!state) throw new Error('This device is not in that conversation yet.');
          // The body as first made (its id is over its exact bytes); a message from before the
          // content format is sent as the plain text it was.
          const made = await encrypt(state, body ?? text);
          pipeline.groups.set(conversationId, made.state);
          await session.db.putGroup({ conversationId, state: encodeState(made.state), epoch: epochOf(made.state) });
          return { ciphertext: made.ciphertext, epoch: epochOf(state) };
        });
        try {
          const { message: stored } = await session.socket!.requestStored({
            type: 'send-message', conversationId, clientMsgId, epoch, ciphertext: toBase64(ciphertext),
            // A timer change never expires on the server (a device away longer must still learn of it).
            ...(message.change === 'timer' ? { timerChange: true } : {}),
            // The uploads it carries, which the server then keeps (and deletes with it).
            ...(message.attachments?.length ? { attachmentIds: message.attachments.map((a) => a.url) } : {}),
          });
          // Recorded before anything else can run: a receipt for it may be the very next event.
          await this.ticks.markStored(stored);
          pipeline.ingest(stored);
          await pipeline.settled(conversationId);
          return (await session.db.message(message.key)) ?? message;
        } catch (e) {
          if (e instanceof EventError && e.code === 'stale_epoch' && e.currentEpoch !== undefined) {
            await pipeline.waitForEpoch(conversationId, e.currentEpoch);
            continue;
          }
          if (e instanceof EventError && (e.code === 'disconnected' || e.code === 'timeout')) continue;
          throw e;
        }
      }
      throw new Error('The message could not be sent.');
    } catch (e) {
      const failed: LocalMessage = { ...message, status: 'failed' };
      await session.db.putMessage(failed);
      this.events.emit('status', failed);
      throw new SendFailure(failed, e);
    }
  }
}
