// Safety numbers per contact, verified marks and device-change notices: real Worker under wrangler
// dev, real PostgreSQL, real MLS. A hostile server is simulated between the Worker and one client
// by rewriting its REST answers through the `fetch` the SDK is given.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileStack, loginLinked } from './harness.ts';
import { randomPhone } from '../../test/support/api.mjs';
import { waitFor } from '../../test/support/wait.mjs';
import { ChatClient, type ClientEvents, type DeviceView } from '../sdk/client.ts';
import { toBase64 } from '../sdk/mls.ts';
import { tamperedFetch, type Rewrite as TamperRewrite } from './tampering.ts';

const PASSWORD = 'correct horse battery';
const file = fileStack();
const { clients } = file;

/** What the hostile server does to one client's REST answers right now; null: nothing. */
type Rewrite = TamperRewrite | null;

let storeCounter = 0;
type Device = ChatClient & { phone: string; rewrite: { current: Rewrite } };
async function newDevice(name: string, phone = randomPhone(), login: boolean | ChatClient = false): Promise<Device> {
  const rewrite: { current: Rewrite } = { current: null };
  const client = new ChatClient({
    baseUrl: file.stack.baseUrl, storeName: `${name}-${++storeCounter}`, deviceLabel: name, keyPackageTarget: 4, fetch: tamperedFetch(() => rewrite.current),
  });
  if (typeof login === 'object') await loginLinked(client, phone, PASSWORD, login);
  else if (login) await client.login(phone, PASSWORD);
  else await client.register(phone, name, PASSWORD);
  clients.push(client);
  return Object.assign(client, { phone, rewrite });
}

async function chatting(a: Device, b: Device) {
  const direct = await a.openDirect(b.user!.id);
  await waitFor(() => b.hasGroup(direct.id), { what: 'the other side to join' });
  return direct;
}

const SIXTY_DIGITS = /^(\d{5} ){11}\d{5}$/;

test('both people see the same 60 digits, and a new device of either changes them', async () => {
  const alice = await newDevice('Alice');
  const bob = await newDevice('Bob');
  await chatting(alice, bob);

  const first = await alice.safetyNumberWith(bob.user!.id);
  const theirs = await bob.safetyNumberWith(alice.user!.id);
  assert.match(first.digits, SIXTY_DIGITS);
  assert.equal(theirs.digits, first.digits, 'the same digits on both screens');
  assert.equal(theirs.qr, first.qr, 'the same QR payload');
  assert.match(first.qr, /^e2e-chat-safety\/0\/[^/]+\/[0-9a-f]{64}\/[^/]+\/[0-9a-f]{64}$/);
  assert.equal(first.verified, false);

  // Bob logs in on a laptop: his half changes, on both screens alike.
  await newDevice('Bob laptop', bob.phone, bob);
  const afterBob = await alice.safetyNumberWith(bob.user!.id);
  assert.notEqual(afterBob.digits, first.digits);
  assert.equal((await bob.safetyNumberWith(alice.user!.id)).digits, afterBob.digits);
  const [aliceHalf, bobHalf] = [first, afterBob].map((n) => n.digits.split(' '));
  const aliceFirst = alice.user!.id < bob.user!.id;
  assert.deepEqual(aliceFirst ? bobHalf.slice(0, 6) : bobHalf.slice(6), aliceFirst ? aliceHalf.slice(0, 6) : aliceHalf.slice(6), 'Alice\'s half stays');

  // Alice logs in on a second device: her half changes too.
  await newDevice('Alice tablet', alice.phone, alice);
  const afterAlice = await bob.safetyNumberWith(alice.user!.id);
  assert.notEqual(afterAlice.digits, afterBob.digits);
  assert.equal((await alice.safetyNumberWith(bob.user!.id)).digits, afterAlice.digits);
});

test('a ghost device the server lists for Bob to Alice alone changes her number, so comparing reveals it', async () => {
  const alice = await newDevice('Alice');
  const bob = await newDevice('Bob');
  const direct = await chatting(alice, bob);
  const honest = await alice.safetyNumberWith(bob.user!.id);
  assert.equal((await bob.safetyNumberWith(alice.user!.id)).digits, honest.digits);

  // The server starts listing, to Alice only, a device of Bob's that Bob does not have.
  const ghost: DeviceView = {
    id: 'ghost-device', label: 'Bob phone', credential: toBase64(crypto.getRandomValues(new Uint8Array(32))),
    createdAt: new Date().toISOString(), lastSeenAt: null,
  };
  const bobId = bob.user!.id;
  alice.rewrite.current = (method, path, body) => {
    if (method === 'POST' && path === '/devices/lookup') {
      const lookup = body as { users: { userId: string; devices: DeviceView[] }[] };
      return { users: lookup.users.map((u) => (u.userId === bobId ? { ...u, devices: [...u.devices, ghost] } : u)) };
    }
    if (method === 'GET' && path === `/users/${bobId}/devices`) {
      return { devices: [...(body as { devices: DeviceView[] }).devices, ghost] };
    }
    return body;
  };
  const seen = await alice.safetyNumberWith(bobId);
  assert.notEqual(seen.digits, honest.digits, 'Alice\'s number changed');
  assert.notEqual(seen.digits, (await bob.safetyNumberWith(alice.user!.id)).digits, 'and no longer matches Bob\'s');
  assert.ok((await alice.devicesOf([bobId])).get(bobId)!.some((d) => d.id === 'ghost-device'), 'the ghost is in the device list she is shown');
  const notices = await alice.notices(direct.id);
  assert.equal(notices.length, 1, 'reading the changed devices left a notice');
  assert.equal(notices[0].userId, bobId);
  assert.equal(await bob.notices(direct.id).then((n) => n.length), 0, 'Bob saw no change');
});

test('a contact first met after connecting: their next device is a change, noticed without opening anything', async () => {
  // Bob connects before he has any conversation, so the directory read at connect names no one
  // else; he only meets Alice when her Welcome arrives, and never looks at a safety number.
  let lookedUp = false;
  const bob = await newDevice('Bob');
  bob.rewrite.current = (method, path, body) => {
    if (method === 'POST' && path === '/devices/lookup') lookedUp = true;
    return body;
  };
  await waitFor(() => lookedUp, { timeoutMs: 15_000, what: "Bob's check of his contacts at connect" });
  bob.rewrite.current = null;
  const alice = await newDevice('Alice');
  const direct = await chatting(alice, bob);

  // Alice links a laptop: the set Bob's device judged her Welcome by is the one it changed from.
  await newDevice('Alice laptop', alice.phone, alice);
  const notices = await waitFor(async () => {
    const n = await bob.notices(direct.id);
    return n.length > 0 && n;
  }, { timeoutMs: 15_000, what: "a notice of Alice's new device" });
  assert.deepEqual(notices.map((n) => [n.kind, n.userId]), [['devices-changed', alice.user!.id]]);
});

test('a verified contact\'s new device drops the mark and leaves a notice in every conversation with them', async () => {
  const alice = await newDevice('Alice');
  const bob = await newDevice('Bob');
  const carol = await newDevice('Carol');
  const direct = await chatting(alice, bob);
  const withCarol = await chatting(alice, carol);
  const group = await alice.createGroup('Trip', [bob.user!.id, carol.user!.id]);
  await waitFor(() => bob.hasGroup(group.id) && carol.hasGroup(group.id), { what: 'everyone to join the group' });

  const bobId = bob.user!.id;
  const shown = await alice.safetyNumberWith(bobId);
  await alice.markVerified(bobId, shown.digits);
  assert.equal(await alice.isVerified(bobId), true);
  assert.equal((await alice.safetyNumberWith(bobId)).verified, true);
  await assert.rejects(alice.markVerified(carol.user!.id, shown.digits), /changed since it was shown/, 'a number not the current one marks nothing');
  assert.equal(await alice.isVerified(carol.user!.id), false);

  const events: ClientEvents['verification'][] = [];
  alice.on('verification', (e) => events.push(e));
  await newDevice('Bob laptop', bob.phone, bob);

  // Alice hears of the new device, and no longer counts Bob as verified.
  await waitFor(async () => !(await alice.isVerified(bobId)), { timeoutMs: 15_000, what: 'the mark to drop' });
  await waitFor(() => events.some((e) => e.userId === bobId && !e.verified), { what: 'the app to be told' });
  for (const conversation of [direct, group]) {
    const notices = await waitFor(async () => {
      const n = await alice.notices(conversation.id);
      return n.length > 0 && n;
    }, { what: `a notice in ${conversation.kind}` });
    assert.equal(notices.length, 1, 'one notice');
    assert.deepEqual([notices[0].kind, notices[0].userId, notices[0].displayName], ['devices-changed', bobId, 'Bob']);
  }
  assert.deepEqual(await alice.notices(withCarol.id), [], 'none where Bob is not');
  assert.equal((await alice.safetyNumberWith(bobId)).verified, false);

  // Marking again over the new number holds, until Alice's own devices change.
  await alice.markVerified(bobId, (await alice.safetyNumberWith(bobId)).digits);
  assert.equal(await alice.isVerified(bobId), true);
  await newDevice('Alice tablet', alice.phone, alice);
  await waitFor(async () => !(await alice.isVerified(bobId)), { timeoutMs: 15_000, what: 'her own new device to drop the mark' });
  assert.equal((await alice.notices(direct.id)).length, 1, 'her own device leaves no notice');
});
