// Bounded catch-up from the SDK's side: a reloaded page asks only from the positions it saved, and
// a paged answer that says "more" is followed by another request from where it ended. Real Worker
// under wrangler dev, real PostgreSQL; what crosses the socket is recorded by the `webSocket` the
// SDK is given.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileStack, received } from './harness.ts';
import { randomPhone } from '../../test/support/api.mjs';
import { waitFor } from '../../test/support/wait.mjs';
import { ChatClient } from '../sdk/client.ts';
import { Store } from '../sdk/store.ts';
import type { ServerEvent } from '../sdk/socket.ts';
import { tamperedWebSocket } from './tampering.ts';

const PASSWORD = 'correct horse battery';
const file = fileStack();

/** What crossed one client's sockets: the events it sent, and those the server sent it. */
interface Traffic {
  sent: Record<string, unknown>[];
  received: ServerEvent[];
  /** Rewrites a server event before the client sees it (the recording keeps the original). */
  rewrite?: (event: ServerEvent) => ServerEvent;
}

function recordingWebSocket(traffic: Traffic): typeof WebSocket {
  return tamperedWebSocket({
    sent: (event) => traffic.sent.push(event),
    received: (event) => {
      traffic.received.push(event);
      return traffic.rewrite ? traffic.rewrite(event) : event;
    },
  });
}

let storeCounter = 0;
function client(name: string, traffic?: Traffic, storeName = `${name}-sync-${++storeCounter}`): ChatClient & { storeName: string } {
  const c = new ChatClient({
    baseUrl: file.stack.baseUrl, storeName, deviceLabel: name, keyPackageTarget: 4,
    webSocket: traffic && recordingWebSocket(traffic),
  });
  file.clients.push(c);
  return Object.assign(c, { storeName });
}

async function savedCursor(storeName: string, conversationId: string): Promise<number | undefined> {
  const store = await Store.open(storeName);
  try {
    return await store.get<number>(`cursor:${conversationId}`);
  } finally {
    store.close();
  }
}

const syncs = (traffic: Traffic) => traffic.sent.filter((e) => e.type === 'sync') as { after: Record<string, number>; paged?: boolean; receiptsFrom?: Record<string, number> }[];
const messageSeqs = (traffic: Traffic, conversationId: string) =>
  traffic.received.flatMap((e) => (e.type === 'message' && e.message.conversationId === conversationId ? [e.message.seq] : []));

test('a reconnect after a reload asks only from the saved position, and the server sends only what is missing', async () => {
  const alice = client('Alice');
  await alice.register(randomPhone(), 'Alice', PASSWORD);
  const bob = client('Bob', { sent: [], received: [] });
  await bob.register(randomPhone(), 'Bob', PASSWORD);
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'bob to join' });
  const before = Array.from({ length: 5 }, (_, i) => `before the reload #${i}`);
  for (const text of before) await alice.sendText(conversation.id, text);
  await received(bob, before.at(-1)!);
  await bob.settled(conversation.id);

  // The page closes; meanwhile Alice writes three more.
  bob.disconnect();
  const saved = await savedCursor(bob.storeName, conversation.id);
  assert.ok(saved && saved > 0, 'the position reached is saved');
  const missed = ['missed #1', 'missed #2', 'missed #3'];
  for (const text of missed) await alice.sendText(conversation.id, text);

  // The page opens again: a new client on the same store.
  const traffic: Traffic = { sent: [], received: [] };
  const again = client('Bob again', traffic, bob.storeName);
  const last = received(again, missed.at(-1)!);
  assert.equal(await again.resume(bob.storeName), true);
  await last;
  await again.settled(conversation.id);

  const [first] = syncs(traffic);
  assert.ok(first, 'the reconnect sends a sync');
  assert.equal(first.after[conversation.id], saved, 'the first sync asks from the saved position, not from the start');
  assert.equal(first.paged, true, 'and asks for pages');
  const seqs = messageSeqs(traffic, conversation.id);
  const head = (await savedCursor(bob.storeName, conversation.id))!;
  assert.equal(head, saved + missed.length);
  assert.deepEqual(seqs, Array.from({ length: missed.length }, (_, i) => saved + 1 + i), 'the server sent the missed messages only, each once');
  assert.deepEqual((await again.history(conversation.id, { limit: 8 })).map((m) => m.text), [...before, ...missed]);
});

test('while a sync answer says "more", the SDK asks again from where that answer ended', async () => {
  const alice = client('Alice');
  await alice.register(randomPhone(), 'Alice', PASSWORD);
  const traffic: Traffic = { sent: [], received: [] };
  const bob = client('Bob', traffic);
  await bob.register(randomPhone(), 'Bob', PASSWORD);
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'bob to join' });
  await alice.sendText(conversation.id, 'hello');
  await received(bob, 'hello');
  await bob.settled(conversation.id);

  // The server's page size is 500: rather than send that many MLS messages, the first answer to
  // the next sync is made to say the conversation has more, as a full page would.
  let rewritten: { after: Record<string, number> } | undefined;
  traffic.rewrite = (event) => {
    if (event.type !== 'synced' || rewritten) return event;
    rewritten = event;
    return { ...event, more: [conversation.id] };
  };
  const asked = syncs(traffic).length;
  bob.disconnect();
  bob.connect();
  await waitFor(() => syncs(traffic).length >= asked + 2, { what: 'a second sync after "more"' });
  const [, followUp] = syncs(traffic).slice(asked);
  assert.equal(followUp.paged, true);
  assert.equal(followUp.after[conversation.id], rewritten!.after[conversation.id], 'resumes where the answer ended');
  // Nothing was sent twice: the follow-up got no message the first answer had sent.
  await waitFor(() => traffic.received.filter((e) => e.type === 'synced').length >= 2, { what: 'the second answer' });
  const seqs = messageSeqs(traffic, conversation.id);
  assert.equal(new Set(seqs).size, seqs.length, `no message twice: ${seqs}`);
});
