// What one stored message does, in its turn in the pipeline: a commit moves the group to its next
// epoch (or takes this device out of it), an application message is decrypted into this device's
// history, a Welcome lets this device join. A message that cannot be trusted becomes a Problem.
// What the server says about a message (its sender, its device) is only a label: what it does
// is decided by what MLS proves and by the checks of authentication.ts and authorization.ts.

import type { Authentication } from './authentication.ts';
import type { CommitAuthorizer } from './authorization.ts';
import type { Conversations } from './conversations.ts';
import type { Emitter } from './events.ts';
import { changeOf, isChange, type Changes } from './changes.ts';
import { readBody } from './content.ts';
import type { Expiry } from './expiry.ts';
import { CheckUnavailable, decrypt, epochOf, fromBase64, joinFromWelcome, leaves, MlsFailure, processCommit, toHex, welcomeRecipients } from './mls.ts';
import type { Outcome, Pipeline } from './pipeline.ts';
import type { Receipts } from './receipts.ts';
import type { Session, StoredKeyPackage } from './session.ts';
import type { LocalMessage, Problem } from './store.ts';
import type { Ticks } from './ticks.ts';
import type { ConversationKind, MessageView } from './wire/index.ts';
import type { ClientState } from 'ts-mls';

export interface IncomingParts {
  session: Session;
  pipeline: Pipeline;
  conversations: Conversations;
  receipts: Receipts;
  ticks: Ticks;
  events: Emitter;
  authentication: Authentication;
  authorizer: CommitAuthorizer;
  changes: Changes;
  expiry: Expiry;
}

export class Incoming {
  private readonly parts: IncomingParts;

  constructor(parts: IncomingParts) {
    this.parts = parts;
  }

  /** Processes one message; returns the group state if it changed, null if the group is gone. */
  async handle(m: MessageView): Promise<Outcome> {
    const { session, pipeline, receipts, ticks, events } = this.parts;
    const conversationId = m.conversationId;
    const group = pipeline.groups.get(conversationId);
    if (m.kind === 'welcome') return group ? undefined : this.tryJoin(m);
    if (!group) return undefined; // from before this device joined: not for it to read
    if (m.kind === 'commit') return this.applyCommit(m, group);
    // An application message. This device cannot decrypt its own: one is known by the copy in
    // its outbox, not by the server saying so. A change of its own takes effect now, in its turn,
    // and is then forgotten (a timer change stays: it is a line in the conversation).
    const key = `${m.senderId}:${m.clientMsgId}`;
    const held = await session.db.message(key);
    if (m.senderDeviceId === session.device?.deviceId && held?.senderDeviceId === m.senderDeviceId && held.conversationId === conversationId) {
      await ticks.markStored(m);
      const change = changeOf(held);
      if (change) {
        try {
          await (await this.parts.changes.prepare(conversationId, change, { userId: m.senderId, role: m.senderRole, at: m.createdAt }))?.();
        } catch (e) {
          await this.problem(m, e);
        }
        if (change.kind !== 'timer') await session.db.deleteMessage(key);
      }
      return undefined;
    }
    // A server that labels a message with the key of one this device holds (its sender and
    // clientMsgId) must not overwrite that one: it is refused, whatever it is. Only the very same
    // message at the same place may come again (processed again after a crash).
    if (held && !(held.id === m.id && held.seq === m.seq && held.conversationId === conversationId)) {
      await this.problem(m, new MlsFailure('relabelled', 'The server gave a message the id of another one.'));
      return undefined;
    }
    if (m.deleted) {
      // Its ciphertext is gone: past the timer (nothing kept), or deleted for everyone (its place
      // kept, unconfirmed until the deletion names it), or removed by the server alone (shown so).
      await this.parts.changes.tombstoneFromServer({
        key, id: m.id, clientMsgId: m.clientMsgId, conversationId, seq: m.seq, senderId: m.senderId,
        senderDeviceId: m.senderDeviceId, text: '', createdAt: m.createdAt, status: 'received',
      }, m.deleted);
      return undefined;
    }
    let result: Awaited<ReturnType<typeof decrypt>>;
    try {
      result = await decrypt(group, fromBase64(m.ciphertext), this.parts.authentication.asOf(m.createdAt));
      if (result.sender.userId !== m.senderId || result.sender.deviceId !== m.senderDeviceId) {
        throw new MlsFailure('sender_mismatch', 'The server named a different sender than the message proves.');
      }
    } catch (e) {
      await this.problem(m, e);
      return undefined;
    }
    // Decrypted: the group state moves on whatever the message turns out to be, so its key is
    // not kept for the server to have it processed again.
    pipeline.groups.set(conversationId, result.state);
    const read = await readBody(m.conversationId, m.senderId, result.plaintext);
    const change = isChange(read.meaning) ? read.meaning : undefined;
    try {
      const apply = change ? await this.parts.changes.prepare(conversationId, change, { userId: m.senderId, role: m.senderRole, at: m.createdAt }) : null;
      await apply?.();
    } catch (e) {
      await this.problem(m, e);
      return result.state;
    }
    if (change && change.kind !== 'timer') return result.state;
    const expiresAt = change ? undefined : await this.parts.changes.expiryOf(m, read.expiresAt);
    if (this.parts.expiry.isPast(expiresAt)) return result.state; // disappeared while this device was away
    const local: LocalMessage = {
      key, id: m.id, clientMsgId: m.clientMsgId, conversationId, seq: m.seq,
      senderId: m.senderId, senderDeviceId: m.senderDeviceId, text: read.text, createdAt: m.createdAt, status: 'received',
      contentId: read.contentId, ...(read.unsupported ? { unsupported: true } : {}), ...(read.keep ? { body: result.plaintext } : {}),
      ...(read.inReplyTo ? { inReplyTo: read.inReplyTo } : {}),
      ...(read.attachments ? { attachments: read.attachments } : {}),
      ...(change?.kind === 'timer' ? { change: 'timer', timer: change.seconds } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    };
    await session.db.putMessage(local);
    if (local.expiresAt !== undefined) void this.parts.expiry.schedule().catch(() => {});
    events.emit('message', local);
    receipts.send(m.id, 'delivered');
    return result.state;
  }

  /**
   * A commit is this device's own only if its bytes are the commit this device made (whatever the
   * server says of its sender); anyone else's is authorized and checked before it is applied.
   */
  private async applyCommit(m: MessageView, group: ClientState): Promise<Outcome> {
    const { session, pipeline, conversations, events, authentication, authorizer } = this.parts;
    const conversationId = m.conversationId;
    const bytes = fromBase64(m.ciphertext);
    let next = pipeline.takeOwnCommit(conversationId, bytes);
    if (!next) {
      try {
        next = await processCommit(group, bytes, authentication.asOf(m.createdAt), (change) => authorizer.authorize(conversationId, change, {
          // The server keeps every commit's declarations (none is an empty list): one it leaves out
          // is taken as declaring nothing, never as a reason to skip the check.
          adds: m.addUserIds ?? [], removes: m.removeUserIds ?? [], departures: m.departures, senderRole: m.senderRole,
        }));
      } catch (e) {
        await this.problem(m, e);
        return undefined;
      }
    }
    const stillIn = leaves(next).some((l) => toHex(l.signaturePublicKey) === toHex(session.identity.publicKey));
    if (!stillIn) {
      pipeline.groups.delete(conversationId);
      await conversations.noteLeftAtEpoch(conversationId, epochOf(next));
      await conversations.markLeft(conversationId, m.seq, m.createdAt);
      events.emit('conversation', { conversationId, change: 'removed' });
      return null;
    }
    pipeline.groups.set(conversationId, next);
    events.emit('conversation', { conversationId, change: 'updated' });
    return next;
  }

  /** Records why a message was refused; a check that could not be made is not a refusal, and
   * goes up for the pipeline to try again later. */
  private async problem(m: MessageView, e: unknown): Promise<void> {
    if (e instanceof CheckUnavailable) throw e;
    const problem: Problem = {
      id: m.id, conversationId: m.conversationId, seq: m.seq, senderId: m.senderId,
      reason: e instanceof MlsFailure ? e.code : 'error', at: new Date().toISOString(),
    };
    await this.parts.session.db.putProblem(problem);
    this.parts.events.emit('problem', problem);
  }

  /**
   * Who this device learns belongs in a group it joins: the people in the Welcome's tree. A 1:1
   * holds this user and one other person, and only the one it held before if this device knew
   * it already; anything else is refused (MlsFailure `bad_welcome`).
   */
  private async knowPeopleOf(conversationId: string, state: ClientState, kind: ConversationKind | undefined): Promise<void> {
    const { session, conversations } = this.parts;
    const people = [...new Set(leaves(state).map((l) => l.userId))];
    const known = await conversations.people(conversationId);
    if ((known?.kind ?? kind) === 'direct') {
      const others = people.filter((p) => p !== session.me);
      const fits = others.length <= 1 && people.includes(session.me) && (!known || others.every((p) => known.userIds.includes(p)));
      if (!fits) throw new MlsFailure('bad_welcome', 'The Welcome puts someone else into a 1:1.');
      await conversations.knowPeople(conversationId, 'direct', people);
    } else if (!known) {
      await conversations.knowPeople(conversationId, 'group', people);
    }
  }

  private async tryJoin(m: MessageView): Promise<ClientState | undefined> {
    const { session, pipeline, conversations, events, authentication } = this.parts;
    const welcome = fromBase64(m.ciphertext);
    for (const ref of welcomeRecipients(welcome)) {
      const kp = await session.db.keyPackage<StoredKeyPackage>(ref);
      if (!kp) continue;
      try {
        // Known from now on: its roles judge the commits to come, even one that removes this user.
        // Its members' devices are read at once, as the join checks every leaf against them.
        const conversation = await conversations.current(m.conversationId);
        await authentication.prefetch(conversation?.members.map((member) => member.userId) ?? []);
        const state = await joinFromWelcome(welcome, kp, authentication.asOf(m.createdAt), m.conversationId);
        const leftAt = await conversations.leftAtEpoch(m.conversationId);
        if (leftAt !== undefined && epochOf(state) <= leftAt) {
          throw new MlsFailure('stale_welcome', `A Welcome back to epoch ${epochOf(state)}, where this device was removed at epoch ${leftAt}.`);
        }
        await this.knowPeopleOf(m.conversationId, state, conversation?.kind);
        if (!kp.lastResort) await session.db.deleteKeyPackage(ref);
        pipeline.groups.set(m.conversationId, state);
        await conversations.rejoined(m.conversationId); // added back
        events.emit('conversation', { conversationId: m.conversationId, change: 'joined' });
        void session.topUpKeyPackages().catch(() => {});
        return state;
      } catch (e) {
        await this.problem(m, e);
      }
    }
    return undefined;
  }
}
