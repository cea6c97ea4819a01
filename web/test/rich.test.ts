// Reactions, edits, deletions (for everyone and for me) and disappearing messages, end to end:
// several ChatClients against the real Worker and PostgreSQL, with real MLS. Each is an MLS
// message naming the message it changes (see web/sdk/changes.ts), judged by every device: the
// hostile cases are a client that sends what its user may not (an edit of someone else's message,
// a plain member deleting another's), made through the SDK's own send path as such a client would.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomPhone } from '../../test/support/api.mjs';
import { waitFor } from '../../test/support/wait.mjs';
import { assertNoPlaintext, fileStack, received } from './harness.ts';
import { ChatClient, type LocalMessage, type Problem } from '../sdk/client.ts';
import type { Change } from '../sdk/changes.ts';

const file = fileStack();
/** Every plaintext sent, to look for in the database at the end. */
const sentTexts: string[] = [];
const secret = (label: string) => `${label} ${crypto.randomUUID()}`;

let storeCounter = 0;
/** A client whose clock a test may move on (`clock.offset` milliseconds ahead). */
async function newClient(name: string): Promise<ChatClient & { clock: { offset: number }; storeName: string }> {
  const clock = { offset: 0 };
  const storeName = `${name}-rich-${++storeCounter}`;
  const client = new ChatClient({
    baseUrl: file.stack.baseUrl, storeName, deviceLabel: name, keyPackageTarget: 6,
    now: () => Date.now() + clock.offset,
  });
  await client.register(randomPhone(), name, 'correct horse battery');
  file.clients.push(client);
  return Object.assign(client, { clock, storeName });
}

/** Every record of the client's messages store, hidden ones included, read straight from IndexedDB. */
async function everyRecord(client: { storeName: string }): Promise<unknown[]> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(`e2e-chat:${client.storeName}`);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    return await new Promise((resolve, reject) => {
      const request = db.transaction('messages').objectStore('messages').getAll();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

async function say(client: ChatClient, conversationId: string, text: string): Promise<LocalMessage> {
  sentTexts.push(text);
  return client.sendText(conversationId, text);
}

/** Sends `text` from `from` and resolves with it as each of `to` stored it. */
async function sayTo(from: ChatClient, conversationId: string, text: string, to: ChatClient[]): Promise<{ sent: LocalMessage; at: LocalMessage[] }> {
  const arriving = to.map((c) => received(c, text));
  const sent = await say(from, conversationId, text);
  return { sent, at: await Promise.all(arriving) };
}

/** The message with this content id as `client` holds it now. */
const held = (client: ChatClient, conversationId: string, contentId: string) => client.messageByContent(conversationId, contentId);

/** Waits until `client` holds the message with this content id in a state `done` accepts. */
async function until(client: ChatClient, conversationId: string, contentId: string, done: (m: LocalMessage | undefined) => boolean, what: string): Promise<LocalMessage | undefined> {
  let last: LocalMessage | undefined;
  await waitFor(async () => done((last = await held(client, conversationId, contentId))), { what });
  return last;
}

/** The next problem `client` reports in the conversation (failing after 15 s without one). */
function nextProblem(client: ChatClient, conversationId: string): Promise<Problem> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`${client.user?.displayName} reported no problem`)); }, 15_000);
    const off = client.on('problem', (p) => {
      if (p.conversationId !== conversationId) return;
      clearTimeout(timer);
      off();
      resolve(p);
    });
  });
}

/** Sends a change as a client that skips the SDK's own checks would: through its send path. */
function sendChangeUnchecked(client: ChatClient, conversationId: string, change: Change): Promise<LocalMessage> {
  return (client as unknown as { outbox: { sendChange(c: string, ch: Change): Promise<LocalMessage> } }).outbox.sendChange(conversationId, change);
}

async function pair() {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'Bob to join' });
  return { alice, bob, conversation };
}

async function trio() {
  const [owner, bob, carol] = [await newClient('Olga'), await newClient('Bob'), await newClient('Carol')];
  const group = await owner.createGroup('Team', [bob.user!.id, carol.user!.id]);
  await waitFor(() => bob.hasGroup(group.id) && carol.hasGroup(group.id), { what: 'everyone to join' });
  return { owner, bob, carol, group };
}

test('reactions: one per person, replaced, taken back, and counted on every device, in a 1:1 and a group', async () => {
  const { alice, bob, conversation } = await pair();
  const { sent } = await sayTo(alice, conversation.id, secret('lunch?'), [bob]);
  const id = sent.contentId!;
  await bob.react(`${alice.user!.id}:${sent.clientMsgId}`, '👍');
  const emojiOf = (m: LocalMessage | undefined) => m?.reactions?.[bob.user!.id]?.emoji;
  await until(alice, conversation.id, id, (m) => emojiOf(m) === '👍', 'Bob\'s 👍 at Alice');
  await until(bob, conversation.id, id, (m) => emojiOf(m) === '👍', 'and at Bob');
  await bob.react(`${alice.user!.id}:${sent.clientMsgId}`, '❤️');
  await until(alice, conversation.id, id, (m) => emojiOf(m) === '❤️' && Object.keys(m!.reactions!).length === 1, 'one reaction per person: replaced');
  await bob.react(`${alice.user!.id}:${sent.clientMsgId}`, '');
  await until(alice, conversation.id, id, (m) => m?.reactions === undefined, 'taken back');
  // Alice reacts to her own message too; reactions never show as messages of their own.
  await alice.react(sent.key, '😂');
  await until(bob, conversation.id, id, (m) => m?.reactions?.[alice.user!.id]?.emoji === '😂', 'Alice\'s own reaction at Bob');
  assert.deepEqual((await bob.history(conversation.id)).map((m) => m.text), [sent.text]);

  const { owner, bob: ben, carol, group } = await trio();
  const { sent: question } = await sayTo(owner, group.id, secret('pizza?'), [ben, carol]);
  await ben.react(`${owner.user!.id}:${question.clientMsgId}`, '🍕');
  await carol.react(`${owner.user!.id}:${question.clientMsgId}`, '🍕');
  const counts = (m: LocalMessage | undefined) => Object.values(m?.reactions ?? {}).map((r) => r.emoji).join('');
  for (const c of [owner, ben, carol]) await until(c, group.id, question.contentId!, (m) => counts(m) === '🍕🍕', `two 🍕 at ${c.user!.displayName}`);
});

test('edits: the sender changes its text and every device shows the latest, marked edited', async () => {
  const { alice, bob, conversation } = await pair();
  const { sent } = await sayTo(alice, conversation.id, secret('see you at 10'), [bob]);
  const fixed = secret('see you at 11');
  sentTexts.push(fixed);
  await alice.edit(sent.key, fixed);
  for (const c of [alice, bob]) {
    const m = await until(c, conversation.id, sent.contentId!, (x) => x?.text === fixed, `the edit at ${c.user!.displayName}`);
    assert.ok(m?.edited, 'marked edited');
  }
  assert.equal((await held(alice, conversation.id, sent.contentId!))?.body, undefined, 'the text as first sent is not kept');
  await assert.rejects(bob.edit(`${alice.user!.id}:${sent.clientMsgId}`, 'mine now'), /Only its sender/);
});

test("an edit of someone else's message is refused by every client, and the message is left as it was", async () => {
  const { alice, bob, conversation } = await pair();
  const { sent } = await sayTo(alice, conversation.id, secret('I owe you 5'), [bob]);
  const refused = nextProblem(alice, conversation.id);
  await sendChangeUnchecked(bob, conversation.id, { kind: 'edit', target: sent.contentId!, text: 'I owe you 500' });
  assert.equal((await refused).reason, 'edit_refused');
  assert.equal((await held(alice, conversation.id, sent.contentId!))?.text, sent.text);
  assert.equal((await held(bob, conversation.id, sent.contentId!))?.text, sent.text, "not even on the forger's own device");
});

test('delete for everyone: the sender deletes, every device keeps only "deleted", and the server keeps no ciphertext', async () => {
  const { alice, bob, conversation } = await pair();
  const { sent, at: [atBob] } = await sayTo(alice, conversation.id, secret('wrong chat, sorry'), [bob]);
  await bob.react(`${alice.user!.id}:${sent.clientMsgId}`, '😮');
  await until(alice, conversation.id, sent.contentId!, (m) => !!m?.reactions, 'the reaction first');
  await alice.deleteForEveryone(sent.key);
  for (const c of [alice, bob]) {
    const m = await until(c, conversation.id, sent.contentId!, (x) => !!x?.deleted, `the deletion at ${c.user!.displayName}`);
    assert.deepEqual([m!.text, m!.body, m!.reactions, m!.deleted!.by], ['', undefined, undefined, alice.user!.id]);
  }
  const { rows } = await file.stack.pool.query('SELECT deleted, octet_length(ciphertext) AS n FROM messages WHERE id = $1', [atBob.id]);
  assert.deepEqual(rows[0], { deleted: 'retracted', n: 0 });
  // Its place in the conversation stays, shown as deleted.
  assert.deepEqual((await bob.history(conversation.id)).map((m) => [m.seq, !!m.deleted]), [[atBob.seq, true]]);
});

test("in a group the owner may delete anyone's message; a plain member's deletion of another's is refused by every client", async () => {
  const { owner, bob, carol, group } = await trio();
  const { sent: carols } = await sayTo(carol, group.id, secret('spam spam'), [owner, bob]);
  const refused = [nextProblem(owner, group.id), nextProblem(carol, group.id)];
  await sendChangeUnchecked(bob, group.id, { kind: 'retract', target: carols.contentId! });
  assert.deepEqual((await Promise.all(refused)).map((p) => p.reason), ['delete_refused', 'delete_refused']);
  assert.equal((await held(owner, group.id, carols.contentId!))?.text, carols.text, 'kept');
  await assert.rejects(bob.deleteForEveryone(`${carol.user!.id}:${carols.clientMsgId}`), /Only its sender/);

  await owner.deleteForEveryone(`${carol.user!.id}:${carols.clientMsgId}`);
  for (const c of [owner, bob, carol]) await until(c, group.id, carols.contentId!, (m) => m?.deleted?.by === owner.user!.id, `the owner's deletion at ${c.user!.displayName}`);
});

test('a member offline meanwhile catches up with reactions, edits and deletions in order; one added later sees only what came after', async () => {
  const { owner, bob, carol, group } = await trio();
  const { sent: first } = await sayTo(owner, group.id, secret('first'), [bob, carol]);
  const { sent: second } = await sayTo(owner, group.id, secret('second'), [bob, carol]);
  carol.disconnect();
  await bob.react(`${owner.user!.id}:${first.clientMsgId}`, '🎉');
  const edited = secret('first, edited');
  sentTexts.push(edited);
  await owner.edit(first.key, edited);
  await owner.deleteForEveryone(second.key);
  await until(bob, group.id, second.contentId!, (m) => !!m?.deleted, 'Bob sees the deletion');
  // Carol has missed it all; she still shows what she had.
  assert.equal((await held(carol, group.id, first.contentId!))?.text, first.text);
  carol.connect();
  await until(carol, group.id, first.contentId!, (m) => m?.text === edited && m.reactions?.[bob.user!.id]?.emoji === '🎉', 'the edit and reaction at Carol');
  await until(carol, group.id, second.contentId!, (m) => !!m?.deleted, 'the deletion at Carol');

  // Dan joins now: the old messages are not his to see, and a reaction to one does nothing there.
  const dan = await newClient('Dan');
  await owner.addMembers(group.id, [dan.user!.id]);
  await waitFor(() => dan.hasGroup(group.id), { what: 'Dan to join' });
  await bob.react(`${owner.user!.id}:${first.clientMsgId}`, '👀');
  const { at: [atDan] } = await sayTo(owner, group.id, secret('welcome Dan'), [dan]);
  assert.deepEqual((await dan.history(group.id)).map((m) => m.text), [atDan.text]);
  assert.deepEqual(await dan.problems(group.id), []);
});

test('a device that reads a conversation after a message was deleted on the server gets its place, shown as deleted', async () => {
  const { alice, bob, conversation } = await pair();
  bob.disconnect();
  const sent = await say(alice, conversation.id, secret('oops'));
  const after = await say(alice, conversation.id, secret('this one stays'));
  await alice.deleteForEveryone(sent.key);
  const arrives = received(bob, after.text);
  bob.connect();
  await arrives;
  await bob.settled(conversation.id);
  const history = await bob.history(conversation.id);
  assert.deepEqual(history.map((m) => [m.text, !!m.deleted]), [['', true], [after.text, false]]);
  assert.deepEqual([history[0].deleted?.by, history[0].deleted?.unverified], [alice.user!.id, undefined], "confirmed as Alice's by her deletion, which names it");
  assert.deepEqual(await bob.problems(conversation.id), [], 'the deletion that follows the tombstone is no problem');
});

test("a server that deletes messages on its own is seen doing it: an expiry the timer does not explain, or a deletion nobody made, shows as removed", async () => {
  const { alice, bob, conversation } = await pair();
  await alice.setDisappearingTimer(conversation.id, 3600);
  await waitFor(async () => (await bob.disappearingTimer(conversation.id)) === 3600, { what: 'Bob to hear of the timer' });
  bob.disconnect();
  const fresh = await say(alice, conversation.id, secret('just sent'));
  const backdated = await say(alice, conversation.id, secret('dated back'));
  const gone = await say(alice, conversation.id, secret('deleted by nobody'));
  const last = await say(alice, conversation.id, secret('still here'));
  // Three the server removes by itself: an "expiry" of a message just sent, one it dates back two
  // hours to explain it (past its neighbour, which was sent just before), and a "deletion".
  await file.stack.pool.query("UPDATE messages SET ciphertext = '', deleted = 'expired', deleted_at = now() WHERE id = $1", [fresh.id]);
  await file.stack.pool.query("UPDATE messages SET created_at = now() - interval '2 hours', ciphertext = '', deleted = 'expired', deleted_at = now() WHERE id = $1", [backdated.id]);
  await file.stack.pool.query("UPDATE messages SET ciphertext = '', deleted = 'retracted', deleted_at = now() WHERE id = $1", [gone.id]);
  const arrives = received(bob, last.text);
  bob.connect();
  await arrives;
  const history = (await bob.history(conversation.id)).filter((m) => !m.change);
  assert.deepEqual(history.map((m) => [m.id, m.text, !!m.deleted?.unverified]),
    [[fresh.id, '', true], [backdated.id, '', true], [gone.id, '', true], [last.id, last.text, false]], 'all three there, marked as the server\'s doing');
});

test('a message the server dates far ahead still disappears on time, and an honest expiry leaves nothing', async () => {
  const { alice, bob, conversation } = await pair();
  await alice.setDisappearingTimer(conversation.id, 3600);
  await waitFor(async () => (await bob.disappearingTimer(conversation.id)) === 3600, { what: 'Bob to hear of the timer' });
  bob.disconnect();
  const future = await say(alice, conversation.id, secret('dated ahead'));
  await file.stack.pool.query("UPDATE messages SET created_at = now() + interval '50 years' WHERE id = $1", [future.id]);
  const arrives = received(bob, future.text);
  bob.connect();
  const atBob = await arrives;
  assert.ok(atBob.expiresAt! <= Date.now() + 3_600_000 + 5 * 60_000, 'disappears within the timer of now, not in 50 years');

  // In another conversation (a neighbour dated ahead holds the next message's time up, which
  // only ever keeps a message longer): Bob comes back two hours later by his clock, and the
  // messages' time is honestly up.
  const other = await pair();
  await other.alice.setDisappearingTimer(other.conversation.id, 3600);
  await waitFor(async () => (await other.bob.disappearingTimer(other.conversation.id)) === 3600, { what: 'Bob to hear of the timer' });
  other.bob.disconnect();
  const expired = await say(other.alice, other.conversation.id, secret('an hour ago'));
  await say(other.alice, other.conversation.id, secret('sent later'));
  await file.stack.pool.query("UPDATE messages SET ciphertext = '', deleted = 'expired', deleted_at = now() WHERE id = $1", [expired.id]);
  other.bob.clock.offset = 2 * 3_600_000;
  other.bob.connect();
  await other.bob.catchUp(other.conversation.id);
  await other.bob.sweepExpired(); // as its timer would, on the clock moved on
  assert.equal(await other.bob.messageByContent(other.conversation.id, expired.contentId!), undefined, 'nothing kept of the expired one');
  assert.deepEqual((await other.bob.history(other.conversation.id)).filter((m) => !m.change).map((m) => m.id), [], 'nor of the one sent with it');
  assert.deepEqual(await other.bob.problems(other.conversation.id), []);
});

test("a server that labels a message with the id of one a device holds does not overwrite it", async () => {
  const { alice, bob, conversation } = await pair();
  const { sent, at: [atBob] } = await sayTo(alice, conversation.id, secret('keep me'), [bob]);
  const problem = nextProblem(bob, conversation.id);
  bob.ingest({ ...atBob, id: crypto.randomUUID(), seq: (await bob.history(conversation.id)).at(-1)!.seq + 1, ciphertext: '', deleted: 'retracted',
    senderId: atBob.senderId, senderDeviceId: atBob.senderDeviceId, kind: 'app', epoch: 1, conversationId: conversation.id, clientMsgId: atBob.clientMsgId, createdAt: new Date().toISOString() });
  assert.equal((await problem).reason, 'relabelled');
  assert.equal((await held(bob, conversation.id, sent.contentId!))?.text, sent.text);
});

test('a device that skipped more than 200 deleted messages of one sender still reads what that sender sends next', async () => {
  const { alice, bob, conversation } = await pair();
  bob.disconnect();
  const skipped: string[] = [];
  for (let i = 0; i < 210; i += 1) skipped.push((await alice.sendText(conversation.id, `skipped ${i}`)).id);
  await file.stack.pool.query("UPDATE messages SET ciphertext = '', deleted = 'retracted', deleted_at = now() WHERE id = ANY($1)", [skipped]);
  const next = secret('after the gap');
  const arrives = received(bob, next, 60_000);
  bob.connect();
  await say(alice, conversation.id, next);
  await arrives;
  assert.deepEqual((await bob.problems(conversation.id)).map((p) => p.reason), []);
});

test('a change is judged by the role its sender had when it was sent, on every device, whenever it is read', async () => {
  const { owner, bob, carol, group } = await trio();
  // Ownership passes to the member who joined first (then by id): that one forges a timer change
  // while still a plain member; the other reads everything later.
  const [heir, reader] = bob.user!.id < carol.user!.id ? [bob, carol] : [carol, bob];
  reader.disconnect();
  const refused = nextProblem(owner, group.id);
  await sendChangeUnchecked(heir, group.id, { kind: 'timer', seconds: 86400 });
  assert.equal((await refused).reason, 'timer_refused');
  await owner.leaveGroup(group.id);
  await waitFor(async () => (await heir.api.conversation(group.id)).members.find((m) => m.userId === heir.user!.id)?.role === 'owner', { what: 'the heir to own the group' });
  const readerRefuses = nextProblem(reader, group.id);
  reader.connect();
  assert.equal((await readerRefuses).reason, 'timer_refused', 'refused as the others did, though its sender owns the group now');
  assert.equal(await reader.disappearingTimer(group.id), null);
});

test("after an edit and a deletion, the sender's device keeps nothing of the texts", async () => {
  const { alice, bob, conversation } = await pair();
  const { sent } = await sayTo(alice, conversation.id, secret('first words'), [bob]);
  const edited = secret('second words');
  sentTexts.push(edited);
  await alice.edit(sent.key, edited);
  await until(bob, conversation.id, sent.contentId!, (m) => m?.text === edited, 'the edit');
  await alice.deleteForEveryone(sent.key);
  await until(bob, conversation.id, sent.contentId!, (m) => !!m?.deleted, 'the deletion');
  for (const client of [alice, bob]) {
    const records = JSON.stringify(await everyRecord(client));
    assert.ok(!records.includes(sent.text) && !records.includes(edited), `${client.user!.displayName}'s store holds no text of it`);
  }
});

test('delete for me removes a message from this device only', async () => {
  const { alice, bob, conversation } = await pair();
  const { sent } = await sayTo(alice, conversation.id, secret('for both of us'), [bob]);
  const removed = new Promise((resolve) => bob.on('removed', resolve));
  await bob.deleteForMe(`${alice.user!.id}:${sent.clientMsgId}`);
  await removed;
  assert.equal(await held(bob, conversation.id, sent.contentId!), undefined);
  assert.equal((await held(alice, conversation.id, sent.contentId!))?.text, sent.text);
});

test('disappearing messages: a timer set in the conversation, announced, and the messages after it gone from every device when it runs out', async () => {
  const { alice, bob, conversation } = await pair();
  const before = await sayTo(alice, conversation.id, secret('before the timer'), [bob]);
  await alice.setDisappearingTimer(conversation.id, 3600);
  await waitFor(async () => (await bob.disappearingTimer(conversation.id)) === 3600, { what: 'Bob to hear of the timer' });
  const line = (await bob.history(conversation.id)).find((m) => m.change === 'timer');
  assert.deepEqual([line?.timer, line?.senderId], [3600, alice.user!.id], 'announced, by who set it');
  const { rows: timerRows } = await file.stack.pool.query('SELECT expires_at FROM messages WHERE id = $1', [line!.id]);
  assert.equal(timerRows[0].expires_at, null, 'a timer change never expires on the server');

  const { sent, at: [atBob] } = await sayTo(alice, conversation.id, secret('this will disappear'), [bob]);
  for (const m of [sent, atBob]) assert.ok(m.expiresAt && Math.abs(m.expiresAt - (Date.now() + 3_600_000)) < 60_000, 'expires in an hour');
  const { rows } = await file.stack.pool.query('SELECT extract(epoch FROM expires_at - created_at)::int AS s FROM messages WHERE id = $1', [atBob.id]);
  assert.equal(rows[0].s, 3600, 'and the server deletes its ciphertext then');

  // An hour and a bit later, on each device's clock.
  for (const c of [alice, bob]) {
    c.clock.offset = 3_601_000;
    await c.sweepExpired();
    assert.equal(await held(c, conversation.id, sent.contentId!), undefined, `gone from ${c.user!.displayName}`);
    assert.equal((await held(c, conversation.id, before.sent.contentId!))?.text, before.sent.text, 'what came before the timer stays');
  }

  // A plain member of a group cannot set one: the server refuses, and so would every device.
  const { owner, bob: ben, carol, group } = await trio();
  await assert.rejects(ben.setDisappearingTimer(group.id, 86400), /owner and admins/);
  const refused = nextProblem(owner, group.id);
  await sendChangeUnchecked(ben, group.id, { kind: 'timer', seconds: 86400 });
  assert.equal((await refused).reason, 'timer_refused');
  assert.equal(await carol.disappearingTimer(group.id), null);
});

test("a message sent right after its sender set a timer, before the server gave the change back, disappears on the sender's device too", async () => {
  const { alice, bob, conversation } = await pair();
  /** Resolves with the next message `alice` puts in her history that `match` accepts. */
  const shown = (match: (m: LocalMessage) => boolean) => new Promise<LocalMessage>((resolve) => {
    const off = alice.on('message', (m) => { if (match(m)) { off(); resolve(m); } });
  });
  const text = secret('right after the timer');
  const arriving = received(bob, text);
  // The server stores neither until the message is on its way too: every send locks its
  // conversation's row, held here meanwhile (what a slow server or network does).
  const hold = await file.stack.pool.connect();
  let sending: Promise<LocalMessage>;
  let timerSet: Promise<void>;
  try {
    await hold.query('BEGIN');
    await hold.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversation.id]);
    const timerLine = shown((m) => m.change === 'timer');
    timerSet = alice.setDisappearingTimer(conversation.id, 3600);
    await timerLine;
    const queued = shown((m) => m.text === text);
    sending = say(alice, conversation.id, text);
    await queued;
  } finally {
    await hold.query('COMMIT');
    hold.release();
  }
  const [sent, atBob] = await Promise.all([sending, arriving]);
  await timerSet;
  const [line] = (await bob.history(conversation.id)).filter((m) => m.change === 'timer');
  assert.ok(line.seq < atBob.seq, 'the timer came first, in the conversation\'s order');
  for (const [who, m] of [['Alice', sent], ['Bob', atBob]] as const) {
    assert.ok(m.expiresAt && Math.abs(m.expiresAt - (Date.now() + 3_600_000)) < 60_000, `expires in an hour on ${who}'s device`);
  }
});

test('after all of the above, no plaintext is anywhere in the database', async () => {
  assert.ok(sentTexts.length > 15);
  await assertNoPlaintext(file.stack.pool, sentTexts);
});
