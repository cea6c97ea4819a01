// The headless SDK end to end: several ChatClients (each its own device with its own IndexedDB)
// against the real Worker under wrangler dev and a real PostgreSQL, with real MLS.
import 'fake-indexeddb/auto';
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../test/support/stack.mjs';
import { checkAgainstOpenApi, randomPhone } from '../../test/support/api.mjs';
import { sleep, waitFor, within } from '../../test/support/wait.mjs';
import { assertNoPlaintext, loginLinked, received } from './harness.ts';
import { ApiError, ChatClient, SendFailure, type LocalMessage, type Problem } from '../sdk/client.ts';
import { AdminApi, Api } from '../sdk/api.ts';
import { Store } from '../sdk/store.ts';
import { decodeState, decrypt, encrypt, fromBase64, MlsFailure, toBase64 } from '../sdk/mls.ts';

let stack: Awaited<ReturnType<typeof startStack>>;
const clients: ChatClient[] = [];
/** Every plaintext sent, to look for in the database at the end. */
const sentTexts: string[] = [];

// Every response the SDK's REST calls get is checked against src/openapi.json, as the integration
// tests' client does, through the fetch the SDK is given. A mismatch is noted rather than thrown
// (the SDK would take a throwing fetch for a server out of reach) and fails the test it happens in.
const mismatches: string[] = [];

const checkedFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(input instanceof Request ? input.url : input);
  const method = init?.method ?? 'GET';
  const text = await res.clone().text();
  try {
    checkAgainstOpenApi(method, url.pathname + url.search, res.status, text ? JSON.parse(text) : null, { documentedOnly: true });
  } catch (e) {
    mismatches.push((e as Error).message);
  }
  return res;
};

afterEach(() => {
  assert.deepEqual(mismatches.splice(0), [], 'every REST response the SDK got matches the OpenAPI document');
});

before(async () => {
  stack = await startStack();
});
after(async () => {
  for (const c of clients) c.disconnect();
  await stack?.stop();
  assert.deepEqual(mismatches, [], 'every REST response the SDK got matches the OpenAPI document');
});

let storeCounter = 0;
async function newClient(name: string, phone = randomPhone(), login: boolean | ChatClient = false): Promise<ChatClient & { phone: string }> {
  const client = new ChatClient({ baseUrl: stack.baseUrl, fetch: checkedFetch, storeName: `${name}-${++storeCounter}`, deviceLabel: name, keyPackageTarget: 6 });
  if (typeof login === 'object') await loginLinked(client, phone, 'correct horse battery', login);
  else if (login) await client.login(phone, 'correct horse battery');
  else await client.register(phone, name, 'correct horse battery');
  clients.push(client);
  return Object.assign(client, { phone });
}

async function nextProblem(client: ChatClient, timeoutMs = 10_000): Promise<Problem> {
  let problem: Problem | undefined;
  const off = client.on('problem', (p) => { problem ??= p; });
  try {
    return await waitFor(() => problem, { timeoutMs, what: 'a problem to be reported' });
  } finally {
    off();
  }
}

async function say(client: ChatClient, conversationId: string, text: string): Promise<LocalMessage> {
  sentTexts.push(text);
  return client.sendText(conversationId, text);
}

const secret = (label: string) => `${label} ${crypto.randomUUID()}`;

test('1:1 both ways, with delivered and read ticks and matching safety numbers', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);

  const hello = secret('hello bob');
  const bobGets = received(bob, hello);
  const sent = await say(alice, conversation.id, hello);
  assert.equal(sent.status, 'sent');
  const atBob = await bobGets;
  assert.equal(atBob.senderId, alice.user!.id);
  assert.ok(sent.contentId, 'a content id (content.ts)');
  assert.equal(atBob.contentId, sent.contentId, 'the same id on both sides, derived from what was sent');

  await waitFor(async () => (await alice.history(conversation.id)).at(-1)?.status === 'delivered', { what: 'the delivered tick' });
  bob.markRead(atBob.id);
  await waitFor(async () => (await alice.history(conversation.id)).at(-1)?.status === 'read', { what: 'the read tick' });

  const reply = secret('hi alice');
  const aliceGets = received(alice, reply);
  await say(bob, conversation.id, reply);
  await aliceGets;
  assert.deepEqual((await alice.history(conversation.id)).map((m) => m.text), [hello, reply]);
  assert.deepEqual((await bob.history(conversation.id)).map((m) => m.text), [hello, reply]);
  assert.equal(await alice.safetyNumber(conversation.id), await bob.safetyNumber(conversation.id));
  assert.match(await alice.safetyNumber(conversation.id), /^(\d{5} ){11}\d{5}$/);
});

test('a group of three; a member added later reads new messages only; a removed member reads nothing new', async () => {
  const [alice, bob, carol, dave] = [await newClient('Alice'), await newClient('Bob'), await newClient('Carol'), await newClient('Dave')];
  const group = await alice.createGroup('Trip', [bob.user!.id, carol.user!.id]);
  await waitFor(() => bob.hasGroup(group.id) && carol.hasGroup(group.id), { what: 'bob and carol to join' });

  const plan = secret('meet at 9');
  const both = [received(bob, plan), received(carol, plan)];
  await say(alice, group.id, plan);
  await Promise.all(both);
  const fromCarol = secret('carol agrees');
  const others = [received(alice, fromCarol), received(bob, fromCarol)];
  await say(carol, group.id, fromCarol);
  await Promise.all(others);

  await alice.addMembers(group.id, [dave.user!.id]);
  await waitFor(() => dave.hasGroup(group.id), { what: 'dave to join' });
  const welcomeDave = secret('welcome dave');
  const daveGets = received(dave, welcomeDave);
  await say(bob, group.id, welcomeDave);
  await daveGets;
  const daveHistory = (await dave.history(group.id)).map((m) => m.text);
  assert.deepEqual(daveHistory, [welcomeDave], 'the newcomer has nothing from before');
  assert.deepEqual(await dave.problems(group.id), [], 'and was not even sent it');

  // Keep Bob's last state to show that, even holding it, he cannot read what comes next.
  const bobStore = await Store.open((bob as unknown as { options: { storeName: string } }).options.storeName);
  const bobBefore = await bobStore.group(group.id);
  const removed = new Promise<void>((resolve) => bob.on('conversation', (c) => { if (c.change === 'removed' && c.conversationId === group.id) resolve(); }));
  await alice.removeMembers(group.id, [bob.user!.id]);
  await removed;
  assert.equal(bob.hasGroup(group.id), false);
  const kept = (await bob.conversations()).find((c) => c.id === group.id);
  assert.equal(kept?.left, true, 'still listed for him, marked as left');
  assert.ok((await bob.history(group.id)).some((m) => m.text === plan), 'with what he read while a member');
  const afterBob = secret('bob is out');
  const carolGets = received(carol, afterBob);
  const sent = await say(alice, group.id, afterBob);
  await carolGets;
  const { rows } = await stack.pool.query('SELECT ciphertext FROM messages WHERE id = $1', [sent.id]);
  await assert.rejects(decrypt(decodeState(bobBefore!.state), rows[0].ciphertext, { validateCredential: async () => true }), MlsFailure);
  bobStore.close();
  assert.equal(await alice.safetyNumber(group.id), await carol.safetyNumber(group.id));
  assert.equal(await alice.safetyNumber(group.id), await dave.safetyNumber(group.id));
});

test('a second device of a user joins their conversations and sees both sides', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  const first = secret('before the laptop');
  const bobGets = received(bob, first);
  await say(alice, conversation.id, first);
  await bobGets;

  const laptop = await newClient('Bob laptop', bob.phone, bob);
  await waitFor(() => laptop.hasGroup(conversation.id), { what: 'the laptop to be added by the phone' });
  const fromAlice = secret('to both of bob');
  const bothGet = [received(bob, fromAlice), received(laptop, fromAlice)];
  await say(alice, conversation.id, fromAlice);
  await Promise.all(bothGet);

  const fromPhone = secret('sent from the phone');
  const laptopSeesOwnSide = new Promise<LocalMessage>((resolve) => laptop.on('message', (m) => { if (m.text === fromPhone) resolve(m); }));
  const aliceGets = received(alice, fromPhone);
  await say(bob, conversation.id, fromPhone);
  await Promise.all([laptopSeesOwnSide, aliceGets]);
  assert.equal(await alice.safetyNumber(conversation.id), await laptop.safetyNumber(conversation.id));

  // The laptop was borrowed: logging out and forgetting it removes it from the account, the phone
  // takes it out of the conversation, and nothing of it is left in that browser.
  const laptopStore = (laptop as unknown as { options: { storeName: string } }).options.storeName;
  const before = await alice.safetyNumber(conversation.id);
  await laptop.logout({ forgetDevice: true });
  await waitFor(async () => (await alice.safetyNumber(conversation.id)) !== before, { what: 'the laptop to leave the group' });
  assert.equal(await alice.safetyNumber(conversation.id), await bob.safetyNumber(conversation.id));
  const { devices } = await bob.api.devicesOf(bob.user!.id);
  assert.deepEqual(devices.map((d) => d.id), [bob.deviceId]);
  const reopened = await Store.open(laptopStore);
  assert.equal(await reopened.get('session'), undefined);
  assert.equal(await reopened.get('device'), undefined);
  assert.deepEqual(await reopened.history(conversation.id, Number.MAX_SAFE_INTEGER, 10), []);
  reopened.close();
});

test('two members commit at once: one wins, the other retries, everyone converges', async () => {
  const [alice, bob, carol, dave] = [await newClient('Alice'), await newClient('Bob'), await newClient('Carol'), await newClient('Dave')];
  const group = await alice.createGroup('Race', [bob.user!.id]);
  await waitFor(() => bob.hasGroup(group.id), { what: 'bob to join' });
  // Bob may change members too once he is an admin; here both add someone at the same moment.
  await stack.pool.query("UPDATE members SET role = 'admin' WHERE conversation_id = $1 AND user_id = $2", [group.id, bob.user!.id]);
  const start = alice.epoch(group.id);
  await Promise.all([alice.addMembers(group.id, [carol.user!.id]), bob.addMembers(group.id, [dave.user!.id])]);
  await waitFor(() => alice.epoch(group.id) === start! + 2 && bob.epoch(group.id) === start! + 2, { what: 'both at the same epoch' });
  await waitFor(() => carol.hasGroup(group.id) && dave.hasGroup(group.id), { what: 'carol and dave to join' });
  await waitFor(() => carol.epoch(group.id) === start! + 2 && dave.epoch(group.id) === start! + 2, { what: 'the newcomers at that epoch' });
  const numbers = await Promise.all([alice, bob, carol, dave].map((c) => c.safetyNumber(group.id)));
  assert.equal(new Set(numbers).size, 1, 'one group, seen the same by all four');
  const { rows } = await stack.pool.query('SELECT epoch FROM conversations WHERE id = $1', [group.id]);
  assert.equal(Number(rows[0].epoch), start! + 2);
});

test('a reply names the message it answers, and both sides find that message by it', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  const question = secret('coffee at ten?');
  const bobGets = received(bob, question);
  const asked = await say(alice, conversation.id, question);
  const atBob = await bobGets;
  const answer = secret('yes, see you');
  const aliceGets = received(alice, answer);
  sentTexts.push(answer);
  const replied = await bob.sendText(conversation.id, answer, { inReplyTo: atBob.contentId });
  const atAlice = await aliceGets;
  assert.equal(replied.inReplyTo, asked.contentId);
  assert.equal(atAlice.inReplyTo, asked.contentId, 'the reply arrives naming the question');
  assert.equal((await alice.messageByContent(conversation.id, atAlice.inReplyTo!))?.text, question, 'which Alice holds');
  assert.equal((await bob.messageByContent(conversation.id, replied.inReplyTo!))?.text, question, 'and so does Bob');
  assert.equal(await alice.messageByContent(conversation.id, replied.contentId!).then((m) => m?.text), answer);
});

test('a message a newer client sends (another version or disposition) arrives kept whole, shown as needing a newer version', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'bob to join' });
  // As a newer client would: its own document through this SDK's own send path.
  const body = JSON.stringify({ v: 2, salt: 'bmV3ZXJjbGllbnRzYWx0', disposition: 'poll', question: secret('lunch?'), options: ['yes', 'no'] });
  sentTexts.push(JSON.parse(body).question);
  const outbox = (alice as unknown as { outbox: { deliver(m: LocalMessage): Promise<LocalMessage> } }).outbox;
  const clientMsgId = crypto.randomUUID();
  let arrived: LocalMessage | undefined;
  const off = bob.on('message', (m) => { if (m.clientMsgId === clientMsgId) arrived = m; });
  await outbox.deliver({
    key: `${alice.user!.id}:${clientMsgId}`, id: clientMsgId, clientMsgId, conversationId: conversation.id, seq: Number.MAX_SAFE_INTEGER,
    senderId: alice.user!.id, senderDeviceId: alice.deviceId, text: '', createdAt: new Date().toISOString(), status: 'sending', body,
  });
  await waitFor(() => arrived, { what: 'the newer message at bob' });
  off();
  assert.deepEqual([arrived!.unsupported, arrived!.text, arrived!.body], [true, '', body], 'kept whole, not dropped');
  const stored = (await bob.history(conversation.id)).find((m) => m.clientMsgId === clientMsgId);
  assert.equal(stored?.body, body, 'and kept in the history for a later version');
  assert.deepEqual(await bob.problems(conversation.id), []);
});

test('a member offline for 50 messages catches up and decrypts them all, in order', async () => {
  const [alice, carol] = [await newClient('Alice'), await newClient('Carol')];
  const conversation = await alice.openDirect(carol.user!.id);
  await waitFor(() => carol.hasGroup(conversation.id), { what: 'carol to join' });
  carol.disconnect();
  const texts = Array.from({ length: 50 }, (_, i) => secret(`offline #${i}`));
  for (const text of texts) await say(alice, conversation.id, text);
  const last = received(carol, texts[49], 20_000);
  carol.connect();
  await last;
  await carol.settled(conversation.id);
  assert.deepEqual((await carol.history(conversation.id, { limit: 100 })).map((m) => m.text), texts);
  assert.deepEqual(await carol.problems(conversation.id), []);
  // Local history pages upward.
  const newest = await carol.history(conversation.id, { limit: 20 });
  const older = await carol.history(conversation.id, { beforeSeq: newest[0].seq, limit: 20 });
  assert.deepEqual([...older, ...newest].map((m) => m.text), texts.slice(10));

  // Without a socket, the server's pages catch a conversation up too.
  carol.disconnect();
  const paged = [secret('paged 1'), secret('paged 2'), secret('paged 3')];
  for (const text of paged) await say(alice, conversation.id, text);
  await carol.catchUp(conversation.id);
  assert.deepEqual((await carol.history(conversation.id, { limit: 3 })).map((m) => m.text), paged);
  carol.connect();
});

test('tampered, replayed and removed-member messages are refused with a visible error, never shown', async () => {
  const [alice, bob, carol] = [await newClient('Alice'), await newClient('Bob'), await newClient('Carol')];
  const group = await alice.createGroup('Guarded', [bob.user!.id, carol.user!.id]);
  await waitFor(() => bob.hasGroup(group.id) && carol.hasGroup(group.id), { what: 'both to join' });
  const real = secret('real one');
  const bobGets = received(bob, real);
  const sent = await say(alice, group.id, real);
  const atBob = await bobGets;
  const { rows: [row] } = await stack.pool.query('SELECT * FROM messages WHERE id = $1', [sent.id]);
  const asServerSends = (ciphertext: Uint8Array, seq: number, extra = {}) => ({
    id: crypto.randomUUID(), conversationId: group.id, seq, senderId: alice.user!.id, senderDeviceId: row.sender_device_id,
    kind: 'app' as const, epoch: Number(row.epoch), ciphertext: toBase64(ciphertext), clientMsgId: crypto.randomUUID(),
    createdAt: new Date().toISOString(), ...extra,
  });
  // Carol is removed; she keeps the state she had, and a message she makes with it must be refused.
  const carolStore = await Store.open((carol as unknown as { options: { storeName: string } }).options.storeName);
  const carolState = decodeState((await carolStore.group(group.id))!.state);
  carolStore.close();
  await alice.removeMembers(group.id, [carol.user!.id]);
  await waitFor(() => (bob.epoch(group.id) ?? 0) > Number(carolState.groupContext.epoch), { what: 'bob to apply the removal' });
  await bob.settled(group.id);
  const before = await bob.history(group.id);
  const epochNow = bob.epoch(group.id)!;
  const fresh = secret('fresh one');
  const bobGetsFresh = received(bob, fresh);
  const sentFresh = await say(alice, group.id, fresh);
  await bobGetsFresh;
  await bob.settled(group.id);
  const { rows: [freshRow] } = await stack.pool.query('SELECT * FROM messages WHERE id = $1', [sentFresh.id]);
  assert.equal(Number(freshRow.epoch), epochNow);
  const before2 = await bob.history(group.id);

  // What follows is what a malicious server (or anyone on the path) could hand Bob next.
  let seq = sentFresh.seq;
  const ghost = await encrypt(carolState, 'let me back in');
  let problem = nextProblem(bob);
  bob.ingest(asServerSends(ghost.ciphertext, ++seq, { senderId: carol.user!.id, epoch: Number(carolState.groupContext.epoch) }));
  assert.equal((await problem).reason, 'wrong_epoch');

  const tampered = new Uint8Array(freshRow.ciphertext);
  tampered[tampered.length - 3] ^= 0x40;
  problem = nextProblem(bob);
  bob.ingest(asServerSends(tampered, ++seq, { epoch: epochNow }));
  assert.equal((await problem).reason, 'undecryptable');

  problem = nextProblem(bob);
  bob.ingest(asServerSends(new Uint8Array(freshRow.ciphertext), ++seq, { epoch: epochNow }));
  assert.equal((await problem).reason, 'undecryptable', 'a replay finds its key already used');
  void before;
  const after = await bob.history(group.id);
  assert.deepEqual(after.map((m) => m.text), before2.map((m) => m.text), 'none of them became a message');
  assert.deepEqual((await bob.problems(group.id)).map((p) => p.reason), ['wrong_epoch', 'undecryptable', 'undecryptable']);
  void fromBase64;
});

test('a member removed and added back reads what comes after, and nothing from while they were out', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const group = await alice.createGroup('Revolving door', [bob.user!.id]);
  await waitFor(() => bob.hasGroup(group.id), { what: 'bob to join' });
  await alice.removeMembers(group.id, [bob.user!.id]);
  await waitFor(() => !bob.hasGroup(group.id), { what: 'bob to be out' });
  const whileOut = secret('while bob is out');
  await say(alice, group.id, whileOut);
  await alice.addMembers(group.id, [bob.user!.id]);
  await waitFor(() => bob.hasGroup(group.id), { what: 'bob to be back' });
  const back = secret('welcome back');
  const bobGets = received(bob, back);
  await say(alice, group.id, back);
  await bobGets;
  assert.ok(!(await bob.history(group.id)).some((m) => m.text === whileOut));
  assert.deepEqual(await bob.problems(group.id), []);
});

test('someone with no device when a group was set up is added once they have one', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const zedPhone = randomPhone();
  const registered = await fetch(`${stack.baseUrl}/auth/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone: zedPhone, displayName: 'Zed', password: 'correct horse battery' }),
  });
  const zedId = (await registered.json()).user.id as string;
  const group = await alice.createGroup('Waiting for Zed', [bob.user!.id, zedId]);
  await waitFor(() => bob.hasGroup(group.id), { what: 'bob to join' });
  const early = secret('before zed had a device');
  await say(alice, group.id, early);

  const zed = await newClient('Zed', zedPhone, true);
  await waitFor(() => zed.hasGroup(group.id), { what: 'the owner to add zed\'s new device' });
  const later = secret('zed can read this');
  const zedGets = received(zed, later);
  await say(bob, group.id, later);
  await zedGets;
  assert.ok(!(await zed.history(group.id)).some((m) => m.text === early));
  assert.deepEqual(await zed.problems(group.id), []);
  assert.equal(await zed.safetyNumber(group.id), await bob.safetyNumber(group.id));
});

test('a message written while offline is sent by the next session on this device', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'bob to join' });
  alice.disconnect();
  const text = secret('written offline, sent later');
  void alice.sendText(conversation.id, text).catch(() => {});
  await waitFor(async () => (await alice.history(conversation.id)).some((m) => m.text === text && m.status === 'sending'), { what: 'the outbox' });

  // The page is closed and opened again: a new session on the same store.
  const storeName = (alice as unknown as { options: { storeName: string } }).options.storeName;
  const again = new ChatClient({ baseUrl: stack.baseUrl, fetch: checkedFetch, storeName, keyPackageTarget: 6 });
  clients.push(again);
  const bobGets = received(bob, text);
  assert.equal(await again.resume(storeName), true);
  await bobGets;
  await waitFor(async () => (await again.history(conversation.id)).find((m) => m.text === text)?.status !== 'sending', { what: 'the outbox to empty' });
  sentTexts.push(text);
});

test('a device removed elsewhere is told at once, forgets its keys, and is set up afresh at the next log-in', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'bob to join' });
  const tablet = await newClient('Bob tablet', bob.phone, bob);
  await waitFor(() => tablet.hasGroup(conversation.id), { what: 'the tablet to join' });
  const oldId = tablet.deviceId;

  // Removed from the phone while online: told, and its store is gone.
  const told = new Promise((resolve) => tablet.on('signed-out', resolve));
  await bob.api.deleteDevice(oldId, 'correct horse battery');
  assert.equal(await within(told, { what: 'the tablet to be told' }), 'device-removed');
  const storeName = (tablet as unknown as { options: { storeName: string } }).options.storeName;
  assert.equal(await within(new ChatClient({ baseUrl: stack.baseUrl, fetch: checkedFetch, storeName }).resume(storeName), { what: 'resume' }), false, 'nothing is left to resume');

  // A second browser is removed while it is closed: its session ended with it, so opening it
  // again asks for a log-in, which sets up a new device.
  const laptop = await newClient('Bob laptop', bob.phone, bob);
  await waitFor(() => laptop.hasGroup(conversation.id), { what: 'the laptop to join' });
  const laptopStore = (laptop as unknown as { options: { storeName: string } }).options.storeName;
  laptop.disconnect();
  await bob.api.deleteDevice(laptop.deviceId, 'correct horse battery');
  const reopened = new ChatClient({ baseUrl: stack.baseUrl, fetch: checkedFetch, storeName: laptopStore, keyPackageTarget: 6 });
  clients.push(reopened);
  assert.equal(await within(reopened.resume(laptopStore), { what: 'the reopened laptop' }), false, 'the removed device\'s session is over');
  // The login on the browser whose device was removed asks to be linked again, like a new one.
  await within(loginLinked(reopened, bob.phone, 'correct horse battery', bob), { what: 'logging in again' });
  assert.notEqual(reopened.deviceId, laptop.deviceId, 'a new device, not the removed one');
  await waitFor(() => reopened.hasGroup(conversation.id), { what: 'the new device to be added back' });
  const text = secret('for the new laptop');
  const got = received(reopened, text);
  await say(alice, conversation.id, text);
  await got;
});

test('logging out revokes this session on the server, and only this one', async () => {
  const alice = await newClient('Alice');
  const phone = await newClient('Alice phone', alice.phone, alice);
  const token = alice.api.token;
  await alice.logout();
  const stale = new Api(stack.baseUrl, { fetch: checkedFetch });
  stale.token = token;
  await assert.rejects(stale.me(), (e: unknown) => e instanceof ApiError && e.status === 401);
  assert.equal((await phone.api.me()).id, phone.user!.id, 'the other session goes on');
});

test('a read receipt made while the connection is down reaches the sender once it is back', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  const text = secret('read while offline');
  const bobGets = received(bob, text);
  await say(alice, conversation.id, text);
  const atBob = await bobGets;
  bob.disconnect();
  bob.markRead(atBob.id);
  bob.connect();
  await waitFor(async () => (await alice.history(conversation.id)).at(-1)?.status === 'read', { what: 'the read tick' });
});

test('a read receipt made just before the page closed is sent by the next session on this device', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  const text = secret('read as the tab closed');
  const bobGets = received(bob, text);
  await say(alice, conversation.id, text);
  const atBob = await bobGets;
  // Bob's connection is gone, he reads, and the page closes before it is back.
  bob.disconnect();
  bob.markRead(atBob.id);
  const bobStore = (bob as unknown as { options: { storeName: string } }).options.storeName;
  await waitFor(async () => {
    const store = await Store.open(bobStore);
    const waiting = await store.get(`receipt:${atBob.id}`);
    store.close();
    return waiting !== undefined;
  }, { what: 'the receipt kept in the store' });
  const reopened = new ChatClient({ baseUrl: stack.baseUrl, fetch: checkedFetch, storeName: bobStore, keyPackageTarget: 6 });
  clients.push(reopened);
  assert.equal(await within(reopened.resume(bobStore), { what: 'the reopened page' }), true);
  await waitFor(async () => (await alice.history(conversation.id)).at(-1)?.status === 'read', { what: 'the read tick' });
});

test('ticks made while the sender was away show when the sender is back', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'bob to join' });
  const texts = [secret('read while alice is away'), secret('delivered while alice is away')];
  bob.disconnect();
  for (const text of texts) await say(alice, conversation.id, text);
  alice.disconnect();
  // Bob comes online while Alice is away: his client marks both delivered, and he reads one.
  const bobGets = texts.map((text) => received(bob, text));
  bob.connect();
  const [first, second] = await Promise.all(bobGets);
  bob.markRead(first.id);
  const stored = async (id: string, column: string) =>
    (await stack.pool.query(`SELECT count(*)::int AS n FROM receipts WHERE message_id = $1 AND ${column} IS NOT NULL`, [id])).rows[0].n === 1;
  await waitFor(async () => (await stored(first.id, 'read_at')) && (await stored(second.id, 'delivered_at')), { what: 'the receipts stored' });
  assert.deepEqual((await alice.history(conversation.id)).map((m) => m.status), ['sent', 'sent'], 'nothing reached Alice while away');
  alice.connect();
  await waitFor(async () => {
    const statuses = (await alice.history(conversation.id)).map((m) => m.status);
    return statuses[0] === 'read' && statuses[1] === 'delivered';
  }, { what: 'read and delivered ticks after reconnecting' });
});

test('in a group, a message reads "read" only once every member has read it', async () => {
  const [alice, bob, carol] = [await newClient('Alice'), await newClient('Bob'), await newClient('Carol')];
  const group = await alice.createGroup('Ticks', [bob.user!.id, carol.user!.id]);
  await waitFor(() => bob.hasGroup(group.id) && carol.hasGroup(group.id), { what: 'bob and carol to join' });
  const text = secret('did everyone see this');
  const arrivals = [received(bob, text), received(carol, text)];
  const sent = await say(alice, group.id, text);
  const [atBob, atCarol] = await Promise.all(arrivals);
  const tick = async () => (await alice.history(group.id)).find((m) => m.id === sent.id)?.status;
  await waitFor(async () => (await tick()) === 'delivered', { what: 'delivered to both' });
  bob.markRead(atBob.id);
  await waitFor(async () => (await stack.pool.query('SELECT count(*)::int AS n FROM receipts WHERE message_id = $1 AND read_at IS NOT NULL', [sent.id])).rows[0].n === 1, { what: 'bob\'s read stored' });
  await sleep(300);
  assert.equal(await tick(), 'delivered', 'one reader of two is not "read"');
  carol.markRead(atCarol.id);
  await waitFor(async () => (await tick()) === 'read', { what: 'read by both' });
});

test('a message the server refused stays as failed, and a retry sends it once under the same id', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'bob to join' });
  await stack.pool.query(`CREATE FUNCTION refuse_in_sdk_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
  await stack.pool.query(`CREATE TRIGGER refuse_alice BEFORE INSERT ON messages FOR EACH ROW WHEN (NEW.sender_id = '${alice.user!.id}') EXECUTE FUNCTION refuse_in_sdk_test()`);
  const text = secret('refused at first');
  const failure = await say(alice, conversation.id, text).then(() => null, (e: unknown) => e);
  await stack.pool.query('DROP TRIGGER refuse_alice ON messages');
  assert.ok(failure instanceof SendFailure, String(failure));
  assert.equal((await alice.history(conversation.id)).at(-1)?.status, 'failed');

  const bobGets = received(bob, text);
  const sent = await alice.retry(failure.local.key);
  assert.equal(sent.clientMsgId, failure.local.clientMsgId);
  assert.equal(sent.status === 'sent' || sent.status === 'delivered', true, sent.status);
  await bobGets;
  assert.deepEqual((await alice.history(conversation.id)).map((m) => m.text), [text], 'one message, not two');
  await assert.rejects(alice.retry(failure.local.key), /failed to send/, 'only a failed message can be retried');
});

test('resumed while the server is out of reach, a session starts offline with its history and goes online when it is back', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  const text = secret('before the server went away');
  const bobGets = received(bob, text);
  await say(alice, conversation.id, text);
  await bobGets;
  await bob.conversations(); // as the app lists them, which keeps the listing for offline use
  const storeName = (bob as unknown as { options: { storeName: string } }).options.storeName;
  bob.disconnect();

  await stack.down();
  const again = new ChatClient({ baseUrl: stack.baseUrl, fetch: checkedFetch, storeName, keyPackageTarget: 6 });
  clients.push(again);
  try {
    assert.equal(await again.resume(storeName), true, 'still signed in');
    assert.equal(again.connection, 'closed');
    assert.deepEqual((await again.history(conversation.id)).map((m) => m.text), [text]);
    assert.ok((await again.conversations()).some((c) => c.id === conversation.id), 'the conversation is listed');
  } finally {
    await stack.up();
  }
  await waitFor(() => again.connection === 'open' && alice.connection === 'open', { what: 'both to be online again', timeoutMs: 30_000 });
  const later = secret('after the server came back');
  const againGets = received(again, later);
  await say(alice, conversation.id, later);
  await againGets;
});

test('the directory, the admin calls and logging out everywhere get what the OpenAPI document says', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  await stack.pool.query('UPDATE users SET is_admin = true WHERE id = $1', [alice.user!.id]);
  assert.deepEqual((await alice.api.users({ q: bob.phone })).items.map((u) => u.id), [bob.user!.id]);
  const admin = new AdminApi(alice.api);
  assert.deepEqual((await admin.users({ q: bob.phone })).items.map((u) => u.id), [bob.user!.id]);
  await admin.deleteUser(bob.user!.id);
  assert.ok((await admin.audit({ limit: 5 })).items.some((entry) => entry.target === bob.user!.id), 'the deletion is in the audit log');
  await alice.logout({ everywhere: true });
});

test('after all of the above, no plaintext is anywhere in the database', async () => {
  assert.ok(sentTexts.length > 60);
  await assertNoPlaintext(stack.pool, sentTexts);
});

test('a session ended while the connection was down signs out at the next connect instead of retrying for ever', async () => {
  const alice = await newClient('Alice');
  alice.disconnect();
  // "Log out everywhere" from another browser while this one is offline: no socket hears of it.
  const other = new Api(stack.baseUrl, { fetch: checkedFetch });
  other.token = (await other.login(alice.phone, 'correct horse battery')).token;
  await other.logoutEverywhere();
  const signedOut = new Promise((resolve) => alice.on('signed-out', resolve));
  alice.connect();
  assert.equal(await within(signedOut, { timeoutMs: 30_000, what: 'the refused reconnect to sign the client out' }), 'session-ended');
});
