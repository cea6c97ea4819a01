// Leaving a group: the leaver's devices stop taking part at once, a member who stays commits their
// removal from the MLS group on the strength of the leaver's signed departure, and every member
// accepts that removal only with a departure that verifies against a leaf it removes. Real Worker
// under wrangler dev, real PostgreSQL, real MLS; the hostile server is played by writing to its
// database and by a member's client committing what an honest one would not.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileStack, loginLinked, received } from './harness.ts';
import { randomPhone } from '../../test/support/api.mjs';
import { waitFor } from '../../test/support/wait.mjs';
import { ChatClient } from '../sdk/client.ts';
import { leaves, toBase64 } from '../sdk/mls.ts';
import type { ClientState } from 'ts-mls';

const PASSWORD = 'correct horse battery';
const file = fileStack();

let storeCounter = 0;
type Client = ChatClient & { phone: string };
async function newClient(name: string, phone = randomPhone(), approver?: ChatClient, { keyPackageTarget = 4 } = {}): Promise<Client> {
  const client = new ChatClient({ baseUrl: file.stack.baseUrl, storeName: `${name}-${++storeCounter}`, deviceLabel: name, keyPackageTarget });
  if (approver) await loginLinked(client, phone, PASSWORD, approver);
  else await client.register(phone, name, PASSWORD);
  file.clients.push(client);
  return Object.assign(client, { phone });
}

/** The users with a device in the conversation's MLS group, as `client` holds it. */
const inGroup = (client: ChatClient, conversationId: string) => new Set(client.devicesInGroup(conversationId).map((d) => d.userId));

async function group(title: string, owner: Client, members: Client[]) {
  const conversation = await owner.createGroup(title, members.map((m) => m.user!.id));
  await waitFor(() => members.every((m) => m.hasGroup(conversation.id)), { timeoutMs: 20_000, what: 'everyone to join' });
  return conversation;
}

async function role(conversationId: string, userId: string): Promise<string | undefined> {
  const { rows } = await file.stack.pool.query('SELECT role FROM members WHERE conversation_id = $1 AND user_id = $2', [conversationId, userId]);
  return rows[0]?.role;
}

test('a member leaves: removed from the MLS group by a member who stays, on every device, and reads nothing after', async () => {
  const ana = await newClient('Ana');
  const ben = await newClient('Ben');
  const cy = await newClient('Cy');
  const cyLaptop = await newClient('Cy laptop', cy.phone, cy);
  const conversation = await group('Book club', ana, [ben, cy]);
  await waitFor(() => cyLaptop.hasGroup(conversation.id), { timeoutMs: 20_000, what: "Cy's laptop to be added" });
  // The owner is away: the removal is for a plain member to commit, and Ana to accept later.
  ana.disconnect();

  await cy.leaveGroup(conversation.id);
  assert.equal(cy.hasGroup(conversation.id), false, 'the leaving device stops at once');
  const left = (await cy.conversations()).find((c) => c.id === conversation.id);
  assert.deepEqual([left?.left, left?.leftBySelf], [true, true], 'kept as a conversation this user left');
  assert.equal(await role(conversation.id, cy.user!.id), undefined, 'no longer a member on the server');
  // Cy's other device hears of it and stops too.
  await waitFor(() => !cyLaptop.hasGroup(conversation.id), { what: "Cy's laptop to stop taking part" });
  assert.equal((await cyLaptop.conversations()).find((c) => c.id === conversation.id)?.leftBySelf, true);

  // Ben, a plain member, commits the removal of both of Cy's devices; the departure travels with it.
  await waitFor(() => !inGroup(ben, conversation.id).has(cy.user!.id), { timeoutMs: 15_000, what: "Ben's device to remove Cy" });
  const { rows: [commit] } = await file.stack.pool.query(
    `SELECT sender_id, commit_removes, commit_departures FROM messages WHERE conversation_id = $1 AND kind = 'commit' ORDER BY seq DESC LIMIT 1`,
    [conversation.id],
  );
  assert.deepEqual([commit.sender_id, commit.commit_removes], [ben.user!.id, [cy.user!.id]]);
  assert.deepEqual(commit.commit_departures.map((d: { userId: string; deviceId: string }) => [d.userId, d.deviceId]), [[cy.user!.id, cy.deviceId]]);
  const { rows: pending } = await file.stack.pool.query('SELECT 1 FROM departures WHERE conversation_id = $1', [conversation.id]);
  assert.equal(pending.length, 0, 'the departure is spent');

  // Ana, back, catches up: she accepts the plain member's removal because of the departure.
  ana.connect();
  await waitFor(() => !inGroup(ana, conversation.id).has(cy.user!.id), { timeoutMs: 15_000, what: 'Ana to apply the removal' });
  assert.deepEqual(await ana.problems(conversation.id), []);
  assert.deepEqual(await ben.problems(conversation.id), []);
  assert.equal(await ana.safetyNumber(conversation.id), await ben.safetyNumber(conversation.id), 'Ana and Ben hold the same group');

  // What is said now reaches Ben and not Cy's devices.
  const after = `after Cy left ${crypto.randomUUID()}`;
  const benGets = received(ben, after);
  await ana.sendText(conversation.id, after);
  await benGets;
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const device of [cy, cyLaptop]) {
    assert.equal((await device.history(conversation.id)).some((m) => m.text === after), false, 'nothing new on a device that left');
  }
});

test('the owner leaves: ownership passes on and the new owner can add people; the last one out deletes the group', async () => {
  const ana = await newClient('Ana');
  const ben = await newClient('Ben');
  const cy = await newClient('Cy');
  const conversation = await group('Trip', ana, [ben, cy]);
  await ana.leaveGroup(conversation.id);
  // Ben and Cy joined in the same moment: either may be the heir, but exactly one is.
  const roles = [await role(conversation.id, ben.user!.id), await role(conversation.id, cy.user!.id)];
  assert.deepEqual([...roles].sort(), ['member', 'owner']);
  const heir = roles[0] === 'owner' ? ben : cy;
  await waitFor(() => !inGroup(ben, conversation.id).has(ana.user!.id) && !inGroup(cy, conversation.id).has(ana.user!.id), {
    timeoutMs: 15_000, what: 'Ana removed from the group on both sides',
  });
  const dan = await newClient('Dan');
  await heir.addMembers(conversation.id, [dan.user!.id]);
  await waitFor(() => dan.hasGroup(conversation.id), { timeoutMs: 15_000, what: 'Dan to join' });

  // Ana is added back (her old departure is spent: see the replay test below).
  await heir.addMembers(conversation.id, [ana.user!.id]);
  await waitFor(() => ana.hasGroup(conversation.id), { timeoutMs: 15_000, what: 'Ana back in' });
  assert.equal((await ana.conversations()).find((c) => c.id === conversation.id)?.left, undefined, 'no longer shown as left');

  for (const member of [ana, ben, cy, dan]) await member.leaveGroup(conversation.id);
  const { rows } = await file.stack.pool.query('SELECT 1 FROM conversations WHERE id = $1', [conversation.id]);
  assert.equal(rows.length, 0, 'a group nobody is left in is gone');
});

test('members who were all away when someone left commit the removal when one of them comes back', async () => {
  const ana = await newClient('Ana');
  const ben = await newClient('Ben');
  const cy = await newClient('Cy');
  const conversation = await group('Quiet', ana, [ben, cy]);
  ana.disconnect();
  ben.disconnect();
  await cy.leaveGroup(conversation.id);
  const listed = await ben.api.conversation(conversation.id);
  assert.deepEqual(listed.departures.map((d) => d.userId), [cy.user!.id], 'the departure waits in the listing');
  ben.connect();
  await waitFor(() => !inGroup(ben, conversation.id).has(cy.user!.id), { timeoutMs: 20_000, what: 'Ben to remove Cy on his return' });
  ana.connect();
  await waitFor(() => !inGroup(ana, conversation.id).has(cy.user!.id), { timeoutMs: 15_000, what: 'Ana to follow' });
  assert.deepEqual(await ana.problems(conversation.id), []);
});

/** The reason of the next problem `client` records in the conversation. */
async function nextProblem(client: ChatClient, conversationId: string): Promise<string> {
  let reason: string | undefined;
  const off = client.on('problem', (p) => { if (p.conversationId === conversationId) reason ??= p.reason; });
  try {
    return await waitFor(() => reason, { timeoutMs: 15_000, what: 'a refusal' });
  } finally {
    off();
  }
}

/** Ben's device commits, through the SDK's own commit path, the removal of `userId`'s leaves as
 * one who left: what an honest client does only with a departure that verifies. */
async function commitRemovalOf(client: ChatClient, conversationId: string, userId: string): Promise<void> {
  const internals = client as unknown as {
    pipeline: { groups: Map<string, ClientState> };
    groups: { sendCommit(id: string, state: ClientState, step: { keyPackages: Uint8Array[]; removeLeaves: number[]; removeUserIds: string[] }): Promise<void> };
  };
  const state = internals.pipeline.groups.get(conversationId)!;
  const removeLeaves = leaves(state).filter((l) => l.userId === userId).map((l) => l.leafIndex);
  await internals.groups.sendCommit(conversationId, state, { keyPackages: [], removeLeaves, removeUserIds: [userId] });
}

test('a departure the server forged, or one replayed after the leaver came back with the same KeyPackage, removes nobody', async () => {
  const ana = await newClient('Ana');
  const ben = await newClient('Ben');
  const cy = await newClient('Cy');
  const dan = await newClient('Dan');
  const conversation = await group('Watched', ana, [ben, cy, dan]);

  // The server drops Dan, who never left, and keeps a departure in his name it made up itself.
  const forged = toBase64(crypto.getRandomValues(new Uint8Array(64)));
  await file.stack.pool.query('DELETE FROM members WHERE conversation_id = $1 AND user_id = $2', [conversation.id, dan.user!.id]);
  await file.stack.pool.query(
    'INSERT INTO departures (conversation_id, user_id, device_id, signature) VALUES ($1, $2, $3, decode($4, \'base64\'))',
    [conversation.id, dan.user!.id, dan.deviceId, forged],
  );
  // An honest member's device does not act on it (it checks the departure first)...
  await (ben as unknown as { groups: { removeDeparted(id: string): Promise<void> } }).groups.removeDeparted(conversation.id);
  assert.ok(inGroup(ben, conversation.id).has(dan.user!.id), 'Ben did not remove Dan');
  // ...and a removal a member commits anyway on its strength is refused by everyone else.
  const refused = nextProblem(ana, conversation.id);
  await commitRemovalOf(ben, conversation.id, dan.user!.id);
  assert.equal(await refused, 'unauthorized_commit');
  assert.ok(inGroup(ana, conversation.id).has(dan.user!.id), 'Dan is still in the group Ana holds');

  // A real departure, replayed once the leaver is back, is tied to a leaf that is gone, even
  // when she comes back with the very KeyPackage she first came with: Eve keeps only her
  // last-resort one, which every add uses (the departure is over a key no KeyPackage held).
  const eve = await newClient('Eve', randomPhone(), undefined, { keyPackageTarget: 0 });
  const { rows: packages } = await file.stack.pool.query('SELECT last_resort FROM key_packages WHERE device_id = $1', [eve.deviceId]);
  assert.deepEqual(packages.map((p: { last_resort: boolean }) => p.last_resort), [true], 'only a last-resort KeyPackage');
  const other = await group('Replayed', ana, [ben, eve]);
  await eve.leaveGroup(other.id);
  const { rows: [kept] } = await file.stack.pool.query('SELECT device_id, signature FROM departures WHERE conversation_id = $1', [other.id]);
  await waitFor(() => !inGroup(ana, other.id).has(eve.user!.id) && !inGroup(ben, other.id).has(eve.user!.id), { timeoutMs: 15_000, what: 'Eve removed' });
  await ana.addMembers(other.id, [eve.user!.id]);
  await waitFor(() => eve.hasGroup(other.id) && inGroup(ben, other.id).has(eve.user!.id), { timeoutMs: 15_000, what: 'Eve back in' });
  await file.stack.pool.query('DELETE FROM members WHERE conversation_id = $1 AND user_id = $2', [other.id, eve.user!.id]);
  await file.stack.pool.query('INSERT INTO departures (conversation_id, user_id, device_id, signature) VALUES ($1, $2, $3, $4)', [other.id, eve.user!.id, kept.device_id, kept.signature]);
  const replayRefused = nextProblem(ana, other.id);
  await commitRemovalOf(ben, other.id, eve.user!.id);
  assert.equal(await replayRefused, 'unauthorized_commit');
  assert.ok(inGroup(ana, other.id).has(eve.user!.id), 'Eve is still in the group Ana holds');
});

test('a claim that this user left, which their departure does not back, changes nothing on their other device', async () => {
  const ana = await newClient('Ana');
  const ben = await newClient('Ben');
  const benLaptop = await newClient('Ben laptop', ben.phone, ben);
  const conversation = await group('Told', ana, [ben]);
  await waitFor(() => benLaptop.hasGroup(conversation.id), { timeoutMs: 20_000, what: "Ben's laptop to be added" });
  // The server tells Ben's laptop that Ben left from his phone, with a signature it made up.
  const forged = { userId: ben.user!.id, deviceId: ben.deviceId, signature: toBase64(crypto.getRandomValues(new Uint8Array(64))), leftAt: new Date().toISOString() };
  await (benLaptop as unknown as { groups: { leftElsewhere(id: string, d: typeof forged): Promise<void> } }).groups.leftElsewhere(conversation.id, forged);
  assert.equal(benLaptop.hasGroup(conversation.id), true, 'still in the group');
  assert.equal((await benLaptop.conversations()).find((c) => c.id === conversation.id)?.left, undefined, 'not shown as left');
});

test('a member catching up accepts the commits of someone who has left since, judged by the role they had then', async () => {
  const ana = await newClient('Ana');
  const ben = await newClient('Ben');
  const cy = await newClient('Cy');
  const dan = await newClient('Dan');
  const conversation = await group('Later', ana, [ben, cy, dan]);
  ana.disconnect();
  dan.disconnect();
  // Cy leaves; Ben, a plain member, commits her removal; then Ben leaves too.
  await cy.leaveGroup(conversation.id);
  await waitFor(() => !inGroup(ben, conversation.id).has(cy.user!.id), { timeoutMs: 15_000, what: 'Ben to remove Cy' });
  await ben.leaveGroup(conversation.id);
  // Ana comes back and removes Ben; Dan comes back last, to commits by someone no longer there.
  ana.connect();
  await waitFor(() => !inGroup(ana, conversation.id).has(ben.user!.id), { timeoutMs: 20_000, what: 'Ana to remove Ben' });
  dan.connect();
  await waitFor(() => dan.epoch(conversation.id) === ana.epoch(conversation.id), { timeoutMs: 20_000, what: 'Dan to catch up' });
  assert.deepEqual(await dan.problems(conversation.id), [], "Ben's commits accepted as a member's");
  assert.deepEqual([...inGroup(dan, conversation.id)].sort(), [ana.user!.id, dan.user!.id].sort());
  assert.equal(await dan.safetyNumber(conversation.id), await ana.safetyNumber(conversation.id));
});
