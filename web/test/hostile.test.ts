// What the SDK refuses when the server, or a member's own client, turns hostile. Real Worker
// under wrangler dev, real PostgreSQL, real MLS; the hostile server is simulated between the Worker
// and one client (its REST answers and socket events rewritten through the `fetch` and `webSocket`
// the SDK is given), and a malicious member is a client built from the MLS primitives alone, with
// its own state, that sends whatever commit it likes over a plain socket.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileStack, received } from './harness.ts';
import { randomPhone } from '../../test/support/api.mjs';
import { Socket as PlainSocket } from '../../test/support/ws.mjs';
import { waitFor } from '../../test/support/wait.mjs';
import { tamperedFetch, tamperedWebSocket, type Rewrite } from './tampering.ts';
import { ChatClient, type MessageView } from '../sdk/client.ts';
import { Api } from '../sdk/api.ts';
import { Store } from '../sdk/store.ts';
import type { ServerEvent } from '../sdk/socket.ts';
import {
  commitChanges, decodeState, decrypt, fromBase64, joinFromWelcome, leaves, newGroup, newKeyPackage, suite, toBase64, toHex,
  welcomeRecipients, type DeviceIdentity, type KeyPackageSecret,
} from '../sdk/mls.ts';
import type { AuthenticationService, ClientState } from 'ts-mls';

const PASSWORD = 'correct horse battery';
const file = fileStack();
const { clients, sockets } = file;

// ---- the hostile network between the Worker and one client ------------------------------------

/** What a hostile server does to one client's traffic; changed by a test as it goes. */
interface Tampering {
  /** Rewrites a REST answer's body. */
  response?: Rewrite;
  /** Rewrites a server event before the client sees it. */
  event?: (event: ServerEvent) => ServerEvent;
}

/** The real socket, with every server event passed through `tampering.event` on its way in. */
function hostileWebSocket(tampering: Tampering): typeof WebSocket {
  return tamperedWebSocket({ received: (event) => (tampering.event ? tampering.event(event) : event) });
}

let storeCounter = 0;
async function newClient(name: string, tampering: Tampering = {}): Promise<ChatClient & { storeName: string }> {
  const storeName = `${name}-${++storeCounter}`;
  const client = new ChatClient({
    baseUrl: file.stack.baseUrl, storeName, deviceLabel: name, keyPackageTarget: 4,
    fetch: tamperedFetch(() => tampering.response), webSocket: hostileWebSocket(tampering),
  });
  await client.register(randomPhone(), name, PASSWORD);
  clients.push(client);
  return Object.assign(client, { storeName });
}

/** The group as a client has stored it, to look at its leaves. */
async function storedGroup(client: { storeName: string }, conversationId: string): Promise<ClientState> {
  const store = await Store.open(client.storeName);
  try {
    return decodeState((await store.group(conversationId))!.state);
  } finally {
    store.close();
  }
}

/** Waits until `client` has dealt with the commit at `seq` one way or the other, and says how. */
async function verdictOn(client: ChatClient, conversationId: string, seq: number, epochBefore: number) {
  await waitFor(async () => client.epoch(conversationId) !== epochBefore || (await client.problems(conversationId)).some((p) => p.seq === seq),
    { what: `${client.user?.displayName} to judge the commit at seq ${seq}` });
  return {
    epoch: client.epoch(conversationId),
    refusedAs: (await client.problems(conversationId)).filter((p) => p.seq === seq).map((p) => p.reason),
  };
}

// ---- an attacker's own keys, and a malicious member's client ------------------------------------

/** An authentication service that believes everyone: what a malicious client runs. */
const believesEveryone: AuthenticationService = { validateCredential: async () => true };

/** A device the directory does not list, made up for `userId` (with `deviceId`, or a fresh one). */
async function ghost(userId: string, deviceId: string = crypto.randomUUID()) {
  const { signKey, publicKey } = await (await suite()).signature.keygen();
  const identity: DeviceIdentity = { userId, deviceId, signKey, publicKey };
  return { identity, keyPackage: await newKeyPackage(identity) };
}

/** The realtime test client of test/support/ws.mjs, as used here. */
interface Socket {
  send(event: unknown): void;
  next(match: string | ((e: { type: string; ref?: string }) => boolean)): Promise<{ type: string; message: MessageView }>;
  close(): Promise<unknown>;
}
const openSocket = PlainSocket.open as unknown as (baseUrl: string, token: string, options: { device: string }) => Promise<Socket>;

interface Malicious {
  api: Api;
  id: string;
  identity: DeviceIdentity;
  keyPackages: Map<string, KeyPackageSecret>;
  socket: Socket;
}

/** A real account and device whose client is only MLS primitives and a socket: it checks nothing
 * and sends what it likes. */
async function maliciousMember(name: string): Promise<Malicious> {
  const api = new Api(file.stack.baseUrl);
  const { token, user } = await api.register(randomPhone(), name, PASSWORD);
  api.token = token;
  const { signKey, publicKey } = await (await suite()).signature.keygen();
  const device = await api.registerDevice(name, toBase64(publicKey));
  const identity: DeviceIdentity = { userId: user.id, deviceId: device.id, signKey, publicKey };
  const keyPackages = new Map<string, KeyPackageSecret>();
  for (let i = 0; i < 3; i += 1) {
    const kp = await newKeyPackage(identity);
    keyPackages.set(kp.ref, kp);
  }
  await api.uploadKeyPackages(device.id, [...keyPackages.values()].map((k) => toBase64(k.publicPackage)));
  const socket = await openSocket(file.stack.baseUrl, token, { device: device.id });
  sockets.push(socket);
  await socket.next('ready');
  return { api, id: user.id, identity, keyPackages, socket };
}

/** The malicious member joins from the Welcome the server keeps for it. */
async function joinAs(m: Malicious, conversationId: string): Promise<ClientState> {
  const welcome = await waitFor(async () => (await m.api.messages(conversationId)).items
    .find((w) => w.kind === 'welcome' && welcomeRecipients(fromBase64(w.ciphertext)).some((r) => m.keyPackages.has(r))),
  { what: `a Welcome for ${conversationId}` });
  const bytes = fromBase64(welcome.ciphertext);
  const ref = welcomeRecipients(bytes).find((r) => m.keyPackages.has(r))!;
  return joinFromWelcome(bytes, m.keyPackages.get(ref)!, believesEveryone, conversationId);
}

/** Sends a commit as a plain `commit` event with no declared member changes, which the server accepts. */
async function sendCommit(m: Malicious, conversationId: string, state: ClientState, keyPackages: Uint8Array[], removeLeaves: number[]): Promise<MessageView> {
  const made = await commitChanges(state, keyPackages, removeLeaves, believesEveryone);
  const id = crypto.randomUUID();
  m.socket.send({
    type: 'commit', id, conversationId, epoch: Number(state.groupContext.epoch), clientMsgId: crypto.randomUUID(),
    commit: toBase64(made.commit), welcome: made.welcome ? toBase64(made.welcome) : undefined,
  });
  const ack = await m.socket.next((e) => e.ref === id);
  assert.equal(ack.type, 'ack', `the server accepts the commit: ${JSON.stringify(ack)}`);
  return ack.message;
}

async function claimOne(api: Api, userId: string): Promise<Uint8Array> {
  const { keyPackages } = await api.claimKeyPackages(userId);
  return fromBase64(keyPackages[0].keyPackage);
}

const secret = (label: string) => `${label} ${crypto.randomUUID()}`;

// ---- the tests ----------------------------------------------------------------------------------

test('a ghost KeyPackage slipped into a claim response is not added, and its key cannot read the conversation', async () => {
  const tampering: Tampering = {};
  const [alice, bob] = [await newClient('Alice', tampering), await newClient('Bob')];
  // The server hands Alice, besides Bob's real KeyPackage, one for a device of Bob's that the
  // directory does not list, and one for Bob's real device under a key the server made.
  const ghosts = [await ghost(bob.user!.id), await ghost(bob.user!.id, bob.deviceId)];
  tampering.response = (method, path, body) => {
    if (method !== 'POST' || path !== `/users/${bob.user!.id}/key-packages/claim`) return body;
    const claim = body as { keyPackages: { deviceId: string; keyPackage: string; lastResort: boolean }[] };
    const injected = ghosts.map((g) => ({ deviceId: g.identity.deviceId, keyPackage: toBase64(g.keyPackage.publicPackage), lastResort: false }));
    return { ...claim, keyPackages: [...claim.keyPackages, ...injected] };
  };

  const conversation = await alice.openDirect(bob.user!.id);
  const text = secret('for bob only');
  const bobGets = received(bob, text);
  const sent = await alice.sendText(conversation.id, text);
  await bobGets;

  const inTree = leaves(await storedGroup(alice, conversation.id)).map((l) => toHex(l.signaturePublicKey));
  for (const g of ghosts) assert.ok(!inTree.includes(toHex(g.identity.publicKey)), 'no ghost leaf in the group');
  assert.equal(inTree.length, 2, 'Alice and Bob, one device each');

  // Holding the ghosts' private keys, the server still cannot read what Alice sent.
  const { rows } = await file.stack.pool.query("SELECT ciphertext FROM messages WHERE conversation_id = $1 AND kind = 'welcome'", [conversation.id]);
  const { rows: [message] } = await file.stack.pool.query('SELECT ciphertext FROM messages WHERE id = $1', [sent.id]);
  for (const g of ghosts) {
    for (const { ciphertext } of rows) {
      assert.ok(!welcomeRecipients(ciphertext).includes(g.keyPackage.ref), 'no Welcome is addressed to a ghost');
      await assert.rejects(
        joinFromWelcome(ciphertext, g.keyPackage, believesEveryone, conversation.id).then((state) => decrypt(state, message.ciphertext, believesEveryone)),
      );
    }
  }
});

test('a Welcome whose tree holds a device the directory does not list is refused, not joined', async () => {
  const bob = await newClient('Bob');
  const mallory = await maliciousMember('Mallory');
  const conversation = await mallory.api.createGroup('Ghost party', [bob.user!.id]);
  // Mallory sets the group up with Bob's real device and a ghost device "of Bob's".
  const phantom = await ghost(bob.user!.id);
  const state = await newGroup(conversation.id, mallory.identity);
  await sendCommit(mallory, conversation.id, state, [await claimOne(mallory.api, bob.user!.id), phantom.keyPackage.publicPackage], []);

  const problem = await waitFor(async () => bob.hasGroup(conversation.id) || (await bob.problems(conversation.id))[0], { what: 'Bob to judge the Welcome' });
  assert.equal(bob.hasGroup(conversation.id), false, 'Bob did not join a group with a ghost in it');
  assert.equal((problem as { reason: string }).reason, 'bad_welcome');
});

test('a Welcome made for another group is refused in the conversation it came in', async () => {
  const bob = await newClient('Bob');
  const mallory = await maliciousMember('Mallory');
  const here = await mallory.api.createGroup('Here', [bob.user!.id]);
  const elsewhere = await mallory.api.createGroup('Elsewhere', [bob.user!.id]);
  // A sound group with only real devices, but it is `elsewhere`'s group, sent as `here`'s.
  const state = await newGroup(elsewhere.id, mallory.identity);
  await sendCommit(mallory, here.id, state, [await claimOne(mallory.api, bob.user!.id)], []);

  const problem = await waitFor(async () => bob.hasGroup(here.id) || (await bob.problems(here.id))[0], { what: 'Bob to judge the Welcome' });
  assert.equal(bob.hasGroup(here.id), false, 'Bob did not take another group for this conversation');
  assert.equal((problem as { reason: string }).reason, 'wrong_group');
});

test('a plain member\'s commit removing someone else is refused by every other client and not applied; the owner\'s removal is applied', async () => {
  const [alice, bob, carol] = [await newClient('Alice'), await newClient('Bob'), await newClient('Carol')];
  const mallory = await maliciousMember('Mallory');
  const group = await alice.createGroup('Club', [bob.user!.id, carol.user!.id, mallory.id]);
  await waitFor(() => bob.hasGroup(group.id) && carol.hasGroup(group.id), { what: 'bob and carol to join' });
  const state = await joinAs(mallory, group.id);
  const epoch = alice.epoch(group.id)!;
  assert.equal(Number(state.groupContext.epoch), epoch);

  const carolsLeaf = leaves(state).find((l) => l.userId === carol.user!.id)!.leafIndex;
  const commit = await sendCommit(mallory, group.id, state, [], [carolsLeaf]);
  for (const client of [alice, bob, carol]) {
    const verdict = await verdictOn(client, group.id, commit.seq, epoch);
    assert.deepEqual(verdict, { epoch, refusedAs: ['unauthorized_commit'] }, `${client.user!.displayName} refused it and stayed at its epoch`);
  }
  assert.equal(carol.hasGroup(group.id), true, 'Carol is still in the group');
  assert.ok(leaves(await storedGroup(alice, group.id)).some((l) => l.userId === carol.user!.id), 'and still in Alice\'s tree');

  // The owner may: her removal of Carol, in a group of the same three, is applied by everyone.
  const other = await alice.createGroup('Club, again', [bob.user!.id, carol.user!.id]);
  await waitFor(() => bob.hasGroup(other.id) && carol.hasGroup(other.id), { what: 'bob and carol to join' });
  await alice.removeMembers(other.id, [carol.user!.id]);
  await waitFor(() => !carol.hasGroup(other.id) && bob.epoch(other.id) === alice.epoch(other.id), { what: 'the removal to be applied' });
  assert.deepEqual(await bob.problems(other.id), []);
  assert.ok(!leaves(await storedGroup(bob, other.id)).some((l) => l.userId === carol.user!.id));
});

test('a plain member\'s commit adding a device of someone outside the group is refused and not applied', async () => {
  const [alice, bob, dave] = [await newClient('Alice'), await newClient('Bob'), await newClient('Dave')];
  const mallory = await maliciousMember('Mallory');
  const group = await alice.createGroup('Closed', [bob.user!.id, mallory.id]);
  await waitFor(() => bob.hasGroup(group.id), { what: 'bob to join' });
  const state = await joinAs(mallory, group.id);
  const epoch = alice.epoch(group.id)!;

  // Dave's real, directory-listed device: only who may add it is wrong.
  const commit = await sendCommit(mallory, group.id, state, [await claimOne(mallory.api, dave.user!.id)], []);
  for (const client of [alice, bob]) {
    const verdict = await verdictOn(client, group.id, commit.seq, epoch);
    assert.deepEqual(verdict, { epoch, refusedAs: ['unauthorized_commit'] }, `${client.user!.displayName} refused it and stayed at its epoch`);
    assert.ok(!leaves(await storedGroup(client as ChatClient & { storeName: string }, group.id)).some((l) => l.userId === dave.user!.id), 'Dave is not in the tree');
  }
});

test('a commit the server labels as the receiver\'s own is still processed as the commit it is', async () => {
  const tampering: Tampering = {};
  const [alice, bob, carol] = [await newClient('Alice'), await newClient('Bob', tampering), await newClient('Carol')];
  const group = await alice.createGroup('Relabelled', [bob.user!.id]);
  await waitFor(() => bob.hasGroup(group.id), { what: 'bob to join' });
  // From now on the server tells Bob that every commit in the group is his own.
  tampering.event = (event) => event.type === 'message' && event.message.kind === 'commit' && event.message.conversationId === group.id
    ? { ...event, message: { ...event.message, senderId: bob.user!.id, senderDeviceId: bob.deviceId } }
    : event;

  await alice.addMembers(group.id, [carol.user!.id]);
  await waitFor(() => bob.epoch(group.id) === alice.epoch(group.id), { what: 'Bob to apply Alice\'s commit' });
  const text = secret('after the relabelled commit');
  const bobGets = received(bob, text);
  await alice.sendText(group.id, text);
  await bobGets;
  assert.deepEqual(await bob.problems(group.id), []);
});

// ---- the server as the adversary for membership --------------------------------------------------

/** The same conversation listed with `extra` as one more member (a server padding the list). */
function padded(body: unknown, conversationId: string, extra: { userId: string; displayName: string }): unknown {
  const pad = (c: { id: string; members: unknown[] }) => c.id !== conversationId ? c : {
    ...c, members: [...c.members, { ...extra, role: 'member', joinedAt: new Date().toISOString(), joinedSeq: 0 }],
  };
  if (body && typeof body === 'object' && 'items' in body) return { ...body, items: (body as { items: { id: string; members: unknown[] }[] }).items.map(pad) };
  if (body && typeof body === 'object' && 'members' in body) return pad(body as { id: string; members: unknown[] });
  return body;
}

test('a server that pads a 1:1\'s member list gets nobody added: not by healing, not by a commit the other person accepts', async () => {
  const tampering: Tampering = {};
  const alice = await newClient('Alice', tampering);
  const [bob, eve] = [await newClient('Bob'), await newClient('Eve')];
  const direct = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(direct.id), { what: 'bob to join' });

  // The server now lists Eve in Alice and Bob's 1:1; Alice's client heals "missing" members.
  tampering.response = (method, path, body) => path.startsWith('/conversations') ? padded(body, direct.id, { userId: eve.user!.id, displayName: 'Eve' }) : body;
  await alice.healGroups();
  assert.ok(!leaves(await storedGroup(alice, direct.id)).some((l) => l.userId === eve.user!.id), 'Eve is not in Alice\'s tree');
  assert.equal(eve.hasGroup(direct.id), false, 'and has joined nothing');

  // A 1:1 partner's own client tries it, with the server listing Eve as a member for Bob too.
  const mallory = await maliciousMember('Mallory');
  const bobTampering: Tampering = {};
  const bob2 = await newClient('Bob, again', bobTampering);
  const theirs = await bob2.openDirect(mallory.id);
  const state = await joinAs(mallory, theirs.id);
  const epoch = bob2.epoch(theirs.id)!;
  bobTampering.response = (method, path, body) => path.startsWith('/conversations') ? padded(body, theirs.id, { userId: eve.user!.id, displayName: 'Eve' }) : body;
  const commit = await sendCommit(mallory, theirs.id, state, [await claimOne(mallory.api, eve.user!.id)], []);
  const verdict = await verdictOn(bob2, theirs.id, commit.seq, epoch);
  assert.deepEqual(verdict, { epoch, refusedAs: ['unauthorized_commit'] }, 'Bob refuses a third person in a 1:1');
});

test('a member the server says has no devices, while still listing them, is not evicted by another member\'s commit', async () => {
  const bobTampering: Tampering = {};
  const [alice, carol] = [await newClient('Alice'), await newClient('Carol')];
  const bob = await newClient('Bob', bobTampering);
  const group = await alice.createGroup('Three', [bob.user!.id, carol.user!.id]);
  await waitFor(() => bob.hasGroup(group.id) && carol.hasGroup(group.id), { what: 'bob and carol to join' });
  const epoch = bob.epoch(group.id)!;

  // To Bob, the server leaves Alice (the owner) out of every device listing, and lists none for her.
  bobTampering.response = (method, path, body) => {
    if (path === '/devices/lookup') return { users: (body as { users: { userId: string }[] }).users.filter((u) => u.userId !== alice.user!.id) };
    if (path === `/users/${alice.user!.id}/devices`) return { devices: [] };
    return body;
  };
  await bob.removeUnlistedDevices();
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.equal(bob.epoch(group.id), epoch, 'Bob committed nothing');
  for (const client of [alice, bob, carol]) {
    assert.ok(leaves(await storedGroup(client, group.id)).some((l) => l.userId === alice.user!.id), `Alice is still in ${client.user!.displayName}'s tree`);
  }
});

test('an old Welcome replayed after a removal does not roll the removed device back into the group', async () => {
  const tampering: Tampering = {};
  const alice = await newClient('Alice');
  const bob = await newClient('Bob', tampering);
  // Bob's one-time KeyPackages are taken first, so the group's Welcome is for his last-resort one,
  // which he keeps after joining: the one a replay could still open.
  for (let i = 0; i < 4; i += 1) await alice.api.claimKeyPackages(bob.user!.id);
  const group = await alice.createGroup('Rollback', [bob.user!.id]);
  await waitFor(() => bob.hasGroup(group.id), { what: 'bob to join' });
  const welcome = (await alice.api.messages(group.id)).items.find((m) => m.kind === 'welcome')!;
  await alice.removeMembers(group.id, [bob.user!.id]);
  await waitFor(() => !bob.hasGroup(group.id), { what: 'bob to be removed' });
  const last = (await alice.api.messages(group.id)).items[0];

  // The server turns the next event Bob gets into the old Welcome, as the group's next message.
  const replay: MessageView = { ...welcome, id: crypto.randomUUID(), seq: last.seq + 1, createdAt: new Date().toISOString() };
  let replayed = false;
  tampering.event = (event) => {
    if (replayed) return event;
    replayed = true;
    return { type: 'message', message: replay };
  };
  const direct = await alice.openDirect(bob.user!.id);
  await alice.sendText(direct.id, 'anything, to carry the replay');
  await waitFor(async () => replayed && (await bob.problems(group.id)).some((p) => p.seq === replay.seq), { what: 'bob to judge the replay' });
  assert.deepEqual((await bob.problems(group.id)).filter((p) => p.seq === replay.seq).map((p) => p.reason), ['stale_welcome']);
  assert.equal(bob.hasGroup(group.id), false, 'Bob is not back in the group at its old epoch');
});

test('an owner\'s commit bringing in someone it did not declare to the server is refused by every member', async () => {
  const [alice, bob, dave] = [await newClient('Alice'), await newClient('Bob'), await newClient('Dave')];
  const mallory = await maliciousMember('Mallory');
  // Mallory owns the group and builds it herself, declaring Alice and Bob as its members.
  const group = await mallory.api.createGroup('Mallory\'s', [alice.user!.id, bob.user!.id]);
  const send = async (state: ClientState, keyPackages: Uint8Array[], declared: string[]) => {
    const made = await commitChanges(state, keyPackages, [], believesEveryone);
    const id = crypto.randomUUID();
    mallory.socket.send({
      type: 'commit', id, conversationId: group.id, epoch: Number(state.groupContext.epoch), clientMsgId: crypto.randomUUID(),
      commit: toBase64(made.commit), welcome: made.welcome ? toBase64(made.welcome) : undefined, addUserIds: declared,
    });
    const ack = await mallory.socket.next((e) => e.ref === id);
    assert.equal(ack.type, 'ack', JSON.stringify(ack));
    return { state: made.state, message: ack.message };
  };
  let state = await newGroup(group.id, mallory.identity);
  ({ state } = await send(state, [await claimOne(mallory.api, alice.user!.id), await claimOne(mallory.api, bob.user!.id)], []));
  await waitFor(() => alice.hasGroup(group.id) && bob.hasGroup(group.id), { what: 'alice and bob to join' });
  const epoch = alice.epoch(group.id)!;

  // Then she brings Dave in without telling the server: he reads, but no member list shows him.
  const { message } = await send(state, [await claimOne(mallory.api, dave.user!.id)], []);
  for (const client of [alice, bob]) {
    const verdict = await verdictOn(client, group.id, message.seq, epoch);
    assert.deepEqual(verdict, { epoch, refusedAs: ['unauthorized_commit'] }, `${client.user!.displayName} refused it`);
  }
});

test('an owner\'s commit that tells the server it removes someone, yet keeps their device in the group, is refused by every member', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const mallory = await maliciousMember('Mallory');
  const group = await mallory.api.createGroup('Mallory\'s', [alice.user!.id, bob.user!.id]);
  const send = async (state: ClientState, keyPackages: Uint8Array[], declared: { addUserIds?: string[]; removeUserIds?: string[] }) => {
    const made = await commitChanges(state, keyPackages, [], believesEveryone);
    const id = crypto.randomUUID();
    mallory.socket.send({
      type: 'commit', id, conversationId: group.id, epoch: Number(state.groupContext.epoch), clientMsgId: crypto.randomUUID(),
      commit: toBase64(made.commit), welcome: made.welcome ? toBase64(made.welcome) : undefined, ...declared,
    });
    const ack = await mallory.socket.next((e) => e.ref === id);
    assert.equal(ack.type, 'ack', JSON.stringify(ack));
    return { state: made.state, message: ack.message };
  };
  let state = await newGroup(group.id, mallory.identity);
  ({ state } = await send(state, [await claimOne(mallory.api, alice.user!.id), await claimOne(mallory.api, bob.user!.id)], {}));
  await waitFor(() => alice.hasGroup(group.id) && bob.hasGroup(group.id), { what: 'alice and bob to join' });
  const epoch = alice.epoch(group.id)!;

  // The server takes Bob off the member list; the commit leaves his device in: every screen would
  // show him gone while he reads on.
  const { message } = await send(state, [], { removeUserIds: [bob.user!.id] });
  assert.ok(!(await alice.api.conversation(group.id)).members.some((m) => m.userId === bob.user!.id), 'the server dropped Bob');
  const verdict = await verdictOn(alice, group.id, message.seq, epoch);
  assert.deepEqual(verdict, { epoch, refusedAs: ['unauthorized_commit'] }, 'Alice refused it');
});
