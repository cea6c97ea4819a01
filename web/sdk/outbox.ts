// Sending: a message is in this device's store (its outbox) from the first moment, encrypted in
// its conversation's order, and sent until the server acknowledges it. One the server refuses
// stays as `failed`, to retry; one cut short by a reload is sent by the next session.

import { contentId, textBody } from './content.ts';
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

export class Outbox {
  /** Outbox messages being sent right now, by key, so a reconnect does not send them twice. */
  private readonly inFlight = new Set<string>();
  private readonly session: Session;
  private readonly pipeline: Pipeline;
  private readonly ticks: Ticks;
  private readonly events: Emitter;
  /** Runs before a message is encrypted: the group is first brought to who should read it. */
  private readonly beforeSending: (conversationId: string) => Promise<void>;

  constructor(session: Session, pipeline: Pipeline, ticks: Ticks, events: Emitter, beforeSending: (conversationId: string) => Promise<void> = async () => {}) {
    this.session = session;
    this.pipeline = pipeline;
    this.ticks = ticks;
    this.events = events;
    this.beforeSending = beforeSending;
  }

  /**
   * Encrypts and sends a text; resolves once the server has stored it (status `sent`). The
   * message is in this device's outbox from the first moment: if the page closes first, it is sent
   * on the next connection (the clientMsgId makes a resend of something already stored harmless).
   */
  async sendText(conversationId: string, text: string, { inReplyTo }: { inReplyTo?: string } = {}): Promise<LocalMessage> {
    const { me, deviceId } = this.session;
    const clientMsgId = crypto.randomUUID();
    const body = textBody(text, { inReplyTo });
    const local: LocalMessage = {
      key: `${me}:${clientMsgId}`, id: clientMsgId, clientMsgId, conversationId, seq: UNSENT_SEQ,
      senderId: me, senderDeviceId: deviceId, text, createdAt: new Date().toISOString(), status: 'sending',
      body, contentId: await contentId(conversationId, me, body), ...(inReplyTo ? { inReplyTo } : {}),
    };
    await this.session.db.putMessage(local);
    this.events.emit('message', local);
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
          const { message: stored } = await session.socket!.requestStored({ type: 'send-message', conversationId, clientMsgId, epoch, ciphertext: toBase64(ciphertext) });
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
