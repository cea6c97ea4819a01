// Search over this device's own history, end to end: ChatClients against the real Worker and
// PostgreSQL with real MLS, each with its own fake-indexeddb store. The index follows what each
// device decrypts (live, caught up by sync, or from the server's pages), edits, deletions for
// everyone and for me, and expiries; it survives a reload; and searching asks nothing of the
// network. The index on its own (terms, snippets, snapshots, upgrade): search-index.test.ts.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomPhone } from '../../test/support/api.mjs';
import { waitFor } from '../../test/support/wait.mjs';
import { fileStack, received } from './harness.ts';
import { tamperedWebSocket } from './tampering.ts';
import { ChatClient, type SearchHit } from '../sdk/client.ts';
import { Store } from '../sdk/store.ts';

const PASSWORD = 'correct horse battery';
const file = fileStack();

/** What a client sent to the network while `watching` was set: REST requests and socket events. */
interface Network {
  watching: boolean;
  seen: string[];
}

let storeCounter = 0;
type Client = ChatClient & { storeName: string; clock: { offset: number }; network: Network };

/** A client whose clock a test may move on, and whose every request and socket event is seen. */
function client(name: string, storeName = `${name}-search-${++storeCounter}`): Client {
  const network: Network = { watching: false, seen: [] };
  const clock = { offset: 0 };
  const c = new ChatClient({
    baseUrl: file.stack.baseUrl, storeName, deviceLabel: name, keyPackageTarget: 4,
    now: () => Date.now() + clock.offset,
    fetch: (input, init) => {
      if (network.watching) network.seen.push(`fetch ${init?.method ?? 'GET'} ${String(input instanceof Request ? input.url : input)}`);
      return fetch(input, init);
    },
    webSocket: tamperedWebSocket({ sent: (event) => { if (network.watching) network.seen.push(`socket ${String(event.type)}`); } }),
  });
  file.clients.push(c);
  return Object.assign(c, { storeName, clock, network });
}

async function registered(name: string): Promise<Client> {
  const c = client(name);
  await c.register(randomPhone(), name, PASSWORD);
  return c;
}

async function pair() {
  const [alice, bob] = [await registered('Alice'), await registered('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'Bob to join' });
  return { alice, bob, conversation };
}

/** Sends `text` from `from` and waits until `to` has decrypted it. */
async function say(from: ChatClient, conversationId: string, text: string, to: ChatClient) {
  const arriving = received(to, text);
  const sent = await from.sendText(conversationId, text);
  return { sent, at: await arriving };
}

const keys = (hits: SearchHit[]) => hits.map((h) => h.key);
const marked = (hit: SearchHit | undefined) => hit?.snippet.filter((p) => p.match).map((p) => p.text);
/** A word no other test's messages hold. */
const word = (label: string) => `${label}${crypto.randomUUID().slice(0, 8)}`;

test('a word in an old message is found, with its place, and its neighbourhood read to jump to it', async () => {
  const { alice, bob, conversation } = await pair();
  const needle = word('zeppelin');
  const { sent, at } = await say(alice, conversation.id, `Remember the ${needle} we saw over the lake?`, bob);
  for (let i = 0; i < 40; i += 1) await alice.sendText(conversation.id, `later message ${i}`);
  await received(bob, 'later message 39').catch(() => {});
  await bob.settled(conversation.id);

  const [hit, ...rest] = await bob.search(needle.slice(0, 10));
  assert.deepEqual(rest, [], 'one hit');
  assert.deepEqual({ ...hit, snippet: marked(hit) }, {
    conversationId: conversation.id, messageId: at.id, key: at.key, contentId: at.contentId, seq: at.seq,
    createdAt: at.createdAt, senderId: alice.user!.id, snippet: [needle],
  }, 'found by the start of the word, where it is');
  assert.deepEqual(keys(await alice.search(needle)), [sent.key], 'the sender finds it in its own history too');

  const around = await bob.messagesAround(conversation.id, hit.seq, { before: 5, after: 5 });
  assert.equal(around.messages[0].key, at.key, 'the message, with nothing before it in this 1:1');
  assert.deepEqual(around.messages.slice(1).map((m) => m.text), [0, 1, 2, 3, 4].map((i) => `later message ${i}`));
  assert.deepEqual([around.hasOlder, around.hasNewer], [false, true]);
  const middle = await bob.messagesAround(conversation.id, hit.seq + 20, { before: 3, after: 3 });
  assert.deepEqual(middle.messages.map((m) => m.text), [16, 17, 18, 19, 20, 21, 22].map((i) => `later message ${i}`));
  assert.deepEqual([middle.hasOlder, middle.hasNewer], [true, true]);
});

test('messages decrypted from a sync after being offline, and from the server\'s pages, are found', async () => {
  const { alice, bob, conversation } = await pair();
  bob.disconnect();
  const bySync = word('harbour');
  await alice.sendText(conversation.id, `meet at the ${bySync}`);
  const arriving = received(bob, `meet at the ${bySync}`);
  bob.connect();
  await arriving;
  assert.equal((await bob.search(bySync)).length, 1, 'caught up by sync');

  bob.disconnect();
  const byPage = word('lighthouse');
  await alice.sendText(conversation.id, `or the ${byPage}`);
  await bob.catchUp(conversation.id);
  assert.equal((await bob.search(byPage)).length, 1, 'read from the REST pages');
  bob.connect();
});

test('an edit replaces the text found; a deletion for everyone, for me, and an expiry remove it', async () => {
  const { alice, bob, conversation } = await pair();
  const [before, after] = [word('tuesday'), word('wednesday')];
  const { sent, at } = await say(alice, conversation.id, `see you ${before}`, bob);
  await alice.edit(sent.key, `see you ${after}`);
  await waitFor(async () => (await bob.messageByContent(conversation.id, sent.contentId!))?.text.includes(after), { what: 'the edit at Bob' });
  for (const c of [alice, bob]) {
    assert.deepEqual(await c.search(before), [], `the old text is not found at ${c.user!.displayName}`);
    assert.deepEqual(keys(await c.search(after)), [c === alice ? sent.key : at.key], 'the new one is');
  }

  const retracted = word('mistake');
  const { sent: wrong } = await say(alice, conversation.id, `a ${retracted}`, bob);
  assert.equal((await bob.search(retracted)).length, 1);
  await alice.deleteForEveryone(wrong.key);
  await waitFor(async () => !!(await bob.messageByContent(conversation.id, wrong.contentId!))?.deleted, { what: 'the deletion at Bob' });
  assert.deepEqual([await alice.search(retracted), await bob.search(retracted)], [[], []], 'deleted for everyone: found nowhere');

  const mine = word('private');
  const { at: atBob } = await say(alice, conversation.id, `a ${mine} note`, bob);
  await bob.deleteForMe(atBob.key);
  assert.deepEqual(await bob.search(mine), [], 'deleted for me: not found here');
  assert.equal((await alice.search(mine)).length, 1, 'still found on the other side');

  await alice.setDisappearingTimer(conversation.id, 3600);
  await waitFor(async () => (await bob.disappearingTimer(conversation.id)) === 3600, { what: 'Bob to hear of the timer' });
  const fleeting = word('fleeting');
  await say(alice, conversation.id, `a ${fleeting} thought`, bob);
  assert.equal((await bob.search(fleeting)).length, 1);
  for (const c of [alice, bob]) {
    c.clock.offset = 3_601_000;
    await c.sweepExpired();
    assert.deepEqual(await c.search(fleeting), [], `expired: gone from ${c.user!.displayName}'s index`);
  }

  // Nor is anything of those texts kept in the saved index, once it is saved.
  for (const c of [alice, bob]) {
    await (await (c as unknown as { searchIndex(): Promise<{ snapshot(): Promise<void> }> }).searchIndex()).snapshot();
    const saved = JSON.stringify(await searchRecords(c.storeName));
    for (const gone of [before, retracted, fleeting, ...(c === bob ? [mine] : [])]) {
      assert.ok(!saved.toLowerCase().includes(gone.toLowerCase()), `${gone} is not in ${c.user!.displayName}'s saved index`);
    }
    assert.ok(saved.toLowerCase().includes(after.toLowerCase()), 'what is still there is');
  }
});

test('in a session that never opens the index, an edit, a deletion for everyone and an expiry leave nothing of the old text at rest', async () => {
  const { alice, bob, conversation } = await pair();
  const [before, after, retracted, fleeting, kept] = [word('original'), word('amended'), word('regret'), word('ephemeral'), word('durable')];
  const { sent: toEdit } = await say(alice, conversation.id, `first ${before}`, bob);
  const { sent: toDelete } = await say(alice, conversation.id, `then ${retracted}`, bob);
  await say(alice, conversation.id, `and ${kept}`, bob);
  await alice.setDisappearingTimer(conversation.id, 3600);
  await waitFor(async () => (await bob.disappearingTimer(conversation.id)) === 3600, { what: 'Bob to hear of the timer' });
  await say(alice, conversation.id, `a ${fleeting} thought`, bob);
  // Bob's index saves all of it; then Bob's page is gone, and the next one does not search.
  await bob.prepareSearch();
  await (await (bob as unknown as { searchIndex(): Promise<{ snapshot(): Promise<void> }> }).searchIndex()).snapshot();
  const saved = JSON.stringify(await searchRecords(bob.storeName)).toLowerCase();
  for (const w of [before, retracted, fleeting, kept]) assert.ok(saved.includes(w.toLowerCase()), `${w} saved to begin with`);
  bob.disconnect();
  (bob as unknown as { closeSearch(): void }).closeSearch();
  const again = client('Bob again', bob.storeName);
  assert.equal(await again.resume(bob.storeName), true);

  await alice.edit(toEdit.key, `first ${after}`);
  await alice.deleteForEveryone(toDelete.key);
  await waitFor(async () => (await again.messageByContent(conversation.id, toEdit.contentId!))?.text.includes(after), { what: 'the edit at Bob' });
  await waitFor(async () => !!(await again.messageByContent(conversation.id, toDelete.contentId!))?.deleted, { what: 'the deletion at Bob' });
  again.clock.offset = 3_601_000;
  await again.sweepExpired();
  const atRest = JSON.stringify(await searchRecords(bob.storeName)).toLowerCase();
  for (const gone of [before, retracted, fleeting]) assert.ok(!atRest.includes(gone.toLowerCase()), `${gone} is not at rest in Bob's saved index`);

  // Searching later rebuilds that week from the messages.
  assert.deepEqual([await again.search(before), await again.search(retracted), await again.search(fleeting)], [[], [], []]);
  assert.equal((await again.search(after)).length, 1);
  assert.equal((await again.search(kept)).length, 1);
});

/** Every record of the client's saved search index, read straight from IndexedDB. */
async function searchRecords(storeName: string): Promise<unknown[]> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(`e2e-chat:${storeName}`);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    return await new Promise((resolve, reject) => {
      const request = db.transaction('search').objectStore('search').getAll();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

test('a search in one conversation finds only its messages; across all, newest first', async () => {
  const { alice, bob, conversation } = await pair();
  const carol = await registered('Carol');
  const other = await bob.openDirect(carol.user!.id);
  await waitFor(() => carol.hasGroup(other.id), { what: 'Carol to join' });
  const topic = word('picnic');
  const { at: first } = await say(alice, conversation.id, `${topic} on Saturday?`, bob);
  const { sent: second } = await say(bob, other.id, `the ${topic} is at noon`, carol);
  assert.deepEqual(keys(await bob.search(topic)), [second.key, first.key], 'both, newest first');
  assert.deepEqual(keys(await bob.search(topic, { conversationId: conversation.id })), [first.key]);
  assert.deepEqual(keys(await bob.search(topic, { conversationId: other.id })), [second.key]);
  assert.deepEqual(keys(await bob.search(topic, { limit: 1 })), [second.key]);
});

test('the index survives a reload: from its snapshot and what was journalled after it', async () => {
  const { alice, bob, conversation } = await pair();
  const [saved, journalled] = [word('snapshotted'), word('journalled')];
  await say(alice, conversation.id, `this one is ${saved}`, bob);
  await bob.prepareSearch();
  // The snapshot is taken a few seconds after changes pause; here, at once.
  await (await (bob as unknown as { searchIndex(): Promise<{ snapshot(): Promise<void> }> }).searchIndex()).snapshot();
  await say(alice, conversation.id, `and this one ${journalled}`, bob);
  await bob.settled(conversation.id);
  bob.disconnect();
  const store = await Store.open(bob.storeName);
  const meta = await store.searchRecord<{ segments: number[] }>('meta');
  const snapshot = (await Promise.all(meta!.segments.map((n) => store.searchRecord<{ index: string }>(`segment:${n}`)))).map((s) => s!.index).join();
  const journal = await store.searchJournal();
  store.close();
  assert.ok(snapshot.includes(saved.toLowerCase()), 'the first in the snapshot');
  assert.ok(!snapshot.includes(journalled.toLowerCase()), 'the second not');
  assert.ok(journal.size > 0, 'but in the journal');

  const again = client('Bob again', bob.storeName);
  assert.equal(await again.resume(bob.storeName), true);
  assert.equal((await again.search(saved)).length, 1);
  assert.equal((await again.search(journalled)).length, 1);
});

test('leaving a group keeps its history readable here, and so searchable; forgetting this device takes the index with the rest', async () => {
  const [owner, ben] = [await registered('Olga'), await registered('Ben')];
  const group = await owner.createGroup('Book club', [ben.user!.id]);
  await waitFor(() => ben.hasGroup(group.id), { what: 'Ben to join' });
  const book = word('odyssey');
  await say(owner, group.id, `next month: the ${book}`, ben);
  await ben.leaveGroup(group.id);
  assert.equal((await ben.history(group.id)).length, 1, 'the history stays, shown read-only');
  assert.equal((await ben.search(book)).length, 1, 'and is found');

  await ben.logout({ forgetDevice: true });
  await assert.rejects(ben.search(book), /Not signed in/);
  const store = await Store.open(ben.storeName);
  const left = [await store.searchRecord('meta'), (await store.searchJournal()).size, (await store.history(group.id, Number.MAX_SAFE_INTEGER, 10)).length];
  store.close();
  assert.deepEqual(left, [undefined, 0, 0], 'nothing of the history or its index is left on the device');
});

test('an index that could not load is loaded again at the next search, not failed until a reload', async () => {
  const { alice, bob, conversation } = await pair();
  const needle = word('quince');
  await say(alice, conversation.id, `a ${needle} tart`, bob);
  // The store fails one read as the index loads (an upgrade by another tab, a browser hiccup).
  const journal = Store.prototype.searchJournal;
  Store.prototype.searchJournal = async function () {
    Store.prototype.searchJournal = journal;
    throw new Error('the store failed a read');
  };
  try {
    await assert.rejects(bob.search(needle), /failed a read/);
  } finally {
    Store.prototype.searchJournal = journal;
  }
  assert.equal((await bob.search(needle)).length, 1, 'the next search loads the index again');
});

test('searching sends nothing: no request, no socket event, from the first load of the index to the last hit', async () => {
  const { alice, bob, conversation } = await pair();
  const secret = word('confidential');
  await say(alice, conversation.id, `the ${secret} plan`, bob);
  for (let i = 0; i < 5; i += 1) await say(alice, conversation.id, `chatter ${i} ${secret.slice(0, 6)}`, bob);
  await bob.settled(conversation.id);
  // Whatever the socket or the SDK's own timers were doing, given time to finish first.
  await new Promise((resolve) => setTimeout(resolve, 500));
  bob.network.watching = true;
  try {
    const hits = await bob.search(secret); // the first search builds the index from the store
    assert.equal(hits.length, 1);
    await bob.search(secret.slice(0, 4), { conversationId: conversation.id });
    await bob.search(`${secret}x`); // a typo
    await bob.search('nothing like it anywhere');
    await bob.messagesAround(conversation.id, hits[0].seq);
  } finally {
    bob.network.watching = false;
  }
  assert.deepEqual(bob.network.seen, []);
});
