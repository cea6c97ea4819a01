// What this device does with each event the server pushes, and each time the socket is (again)
// ready. Acks and errors go to the request they answer; those that answer none (it timed out, or
// the error had no ref) arrive here too, and are ignored.

import type { Changes } from './changes.ts';
import type { Conversations } from './conversations.ts';
import type { Emitter } from './events.ts';
import type { Groups } from './groups.ts';
import type { Outbox } from './outbox.ts';
import type { Pipeline } from './pipeline.ts';
import type { Receipts } from './receipts.ts';
import type { Session } from './session.ts';
import type { ServerEvent } from './socket.ts';
import type { Ticks } from './ticks.ts';
import type { Verification } from './verification.ts';

export interface DispatchParts {
  session: Session;
  pipeline: Pipeline;
  receipts: Receipts;
  ticks: Ticks;
  groups: Groups;
  outbox: Outbox;
  conversations: Conversations;
  changes: Changes;
  events: Emitter;
  /** Loaded on first use, see ChatClient. */
  verification: () => Promise<Verification>;
  /** Reads these users' devices from the directory afresh (see Authentication.prefetch). */
  readDirectory: (userIds: string[]) => Promise<unknown>;
}

export function onServerEvent(parts: DispatchParts, event: ServerEvent): void {
  const { session, pipeline, ticks, groups, events, verification, conversations } = parts;
  if (!session.store) return; // signed out: a late event has nowhere to go
  switch (event.type) {
    case 'message':
      return pipeline.ingest(event.message);
    case 'receipt':
      void ticks.apply(event).catch(() => {});
      return;
    case 'typing':
      return events.emit('typing', event);
    case 'presence':
      return events.emit('presence', event);
    case 'user-registered':
      return events.emit('user-registered', event.user);
    case 'synced':
      for (const [conversationId, joinedSeq] of Object.entries(event.joined)) {
        void pipeline.skipTo(conversationId, joinedSeq).catch(() => {});
      }
      // An older server sends no `more`: everything came in one answer.
      return pipeline.continueSync({ after: event.after, more: event.more ?? [] });
    case 'device-added':
      // The directory, not the event, is what the safety number is over: read it again.
      void verification().then((v) => v.refresh([event.userId])).catch(() => {});
      if (event.userId === session.user?.id) void groups.addOwnDevice(event.device.id).catch(() => {});
      else void groups.healGroups().catch(() => {});
      return;
    case 'member-left': {
      const { conversationId, departure } = event;
      if (departure.userId === session.user?.id) {
        // Left from another device of this user: this one stops taking part too, once the
        // departure checks out against that device's leaf (not on the server's word).
        void groups.leftElsewhere(conversationId, departure).catch(() => {});
        return;
      }
      conversations.noteDeparture(conversationId, departure);
      events.emit('conversation', { conversationId, change: 'updated' });
      void groups.removeDeparted(conversationId, [departure]).catch(() => {});
      return;
    }
    case 'device-removed':
      if (event.userId === session.user?.id) void session.ownDevices.checkRevocations().catch(() => {});
      void verification().then((v) => v.refresh([event.userId])).catch(() => {});
      void groups.removeUnlistedDevices().catch(() => {});
      return;
  }
}

/**
 * After every (re)connect: catch up with a sync, which also asks again for the receipts on this
 * user's messages that are not yet read (those made while this device was away were pushed to
 * nobody), send what waited for the connection (receipts, the outbox, members to add), and
 * look for contacts whose devices changed meanwhile.
 */
export function onReady(parts: DispatchParts): void {
  const { pipeline, receipts, ticks, groups, outbox, verification } = parts;
  void ticks.waitingFrom(pipeline.groups.keys()).then((receiptsFrom) => pipeline.requestSync(receiptsFrom));
  receipts.resend();
  void outbox.resendUnsent().catch(() => {});
  void parts.changes.tellServer().catch(() => {});
  // The upkeep below is not urgent, and every client does it at each connect: after a server
  // restart, all of them connect within a second, so each waits a random moment first rather
  // than all asking at once (a database has a bounded number of connections).
  setTimeout(() => {
    if (!parts.session.store) return; // signed out meanwhile
    // A device of this user revoked while this one was away stays distrusted if listed again.
    void parts.session.ownDevices.checkRevocations().catch(() => {});
    void groups.healGroups().catch(() => {});
    void (async () => {
      // Device changes while this device was away were pushed to nobody: the directory is read
      // afresh for everyone this user talks to, once, by the authentication service (whose reads
      // the safety numbers hear of). A removal missed meanwhile is then found from that reading
      // (each commit checks afresh), with no second request.
      await verification().then(async (v) => parts.readDirectory(await v.contacts())).catch(() => {});
      await groups.removeUnlistedDevices({ fresh: false });
    })().catch(() => {});
  }, Math.random() * UPKEEP_SPREAD_MS);
}

/** Over how long the clients connecting at once spread their upkeep. */
const UPKEEP_SPREAD_MS = 5_000;
