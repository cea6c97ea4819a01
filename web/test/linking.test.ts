// Linking devices and starting over, against the real Worker, PostgreSQL and MLS: a new browser
// becomes one of its account's devices only when a device of the account approves it by the
// code it shows, and each device lets into its groups only the devices of its user that were
// approved by one it trusts. The hostile server is played two ways: by rewriting one client's
// REST answers (tampering.ts), and as the operator who writes rows into the database directly.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileStack, loginLinked } from './harness.ts';
import { randomPhone } from '../../test/support/api.mjs';
import { sleep, waitFor, within } from '../../test/support/wait.mjs';
import { tamperedFetch, type Rewrite } from './tampering.ts';
import { ApiError, ChatClient, LinkFailure, type LinkPrompt } from '../sdk/client.ts';
import { Store } from '../sdk/store.ts';
import { decodeState, leaves, newKeyPackage, suite, toBase64, type DeviceIdentity } from '../sdk/mls.ts';
import type { LinkView, PendingLinks } from '../sdk/wire/index.ts';

const PASSWORD = 'correct horse battery';
const file = fileStack();
const { clients } = file;

let storeCounter = 0;
type Device = ChatClient & { storeName: string; phone: string; rewrite: { current: Rewrite | null } };

function newDevice(name: string): Device {
  const storeName = `${name}-${++storeCounter}`;
  const rewrite: { current: Rewrite | null } = { current: null };
  const client = new ChatClient({
    baseUrl: file.stack.baseUrl, storeName, deviceLabel: name, keyPackageTarget: 4, fetch: tamperedFetch(() => rewrite.current),
  });
  clients.push(client);
  return Object.assign(client, { storeName, phone: '', rewrite });
}

async function registered(name: string): Promise<Device> {
  const device = newDevice(name);
  device.phone = randomPhone();
  await device.register(device.phone, name, PASSWORD);
  return device;
}

/** Starts a login of `device` as the owner of `phone`, and resolves with the code it shows. */
function startLogin(device: Device, phone: string): { prompt: Promise<LinkPrompt>; signedIn: Promise<void> } {
  device.phone = phone;
  const prompt = new Promise<LinkPrompt>((resolve) => device.on('link-code', resolve));
  const signedIn = device.login(phone, PASSWORD);
  signedIn.catch(() => {}); // each test awaits it or asserts on its rejection
  return { prompt, signedIn };
}

async function deviceIdsIn(device: Device, conversationId: string): Promise<string[]> {
  const store = await Store.open(device.storeName);
  try {
    return leaves(decodeState((await store.group(conversationId))!.state)).map((l) => l.deviceId);
  } finally {
    store.close();
  }
}

/** A 1:1 between a and b, and a group of a (owner) with b and c, both joined. */
async function chats(a: Device, b: Device, c: Device) {
  const direct = await a.openDirect(b.user!.id);
  const group = await a.createGroup('Weekend', [b.user!.id, c.user!.id]);
  await waitFor(() => b.hasGroup(direct.id) && b.hasGroup(group.id) && c.hasGroup(group.id), { what: 'everyone to join' });
  return { direct, group };
}

test('a second browser joins neither the account nor any conversation until a device of the account approves its code', async () => {
  const [alice, bob] = [await registered('Alice'), await registered('Bob phone')];
  const direct = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(direct.id), { what: 'bob to join' });

  const laptop = newDevice('Bob laptop');
  const { prompt, signedIn } = startLogin(laptop, bob.phone);
  const { code } = await within(prompt, { what: 'the laptop to show a code' });
  assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
  assert.ok(laptop.waitingForLink);

  // While it waits, it is no device of Bob's: nobody can add it anywhere.
  await sleep(2000);
  assert.deepEqual((await alice.api.devicesOf(bob.user!.id)).devices.map((d) => d.label), ['Bob phone']);
  assert.ok(!(await deviceIdsIn(bob, direct.id)).some((id) => id !== bob.deviceId && id !== alice.deviceId));
  const pending = await bob.pendingLinks();
  assert.deepEqual(pending.map((l) => l.label), ['Bob laptop']);

  // A wrong code approves nothing; typed loosely, the right one does.
  await assert.rejects(bob.approveLink('0000-0000-0000'), (e: unknown) => e instanceof LinkFailure && e.code === 'no-match');
  await assert.rejects(bob.approveLink('not a code'), (e: unknown) => e instanceof LinkFailure && e.code === 'no-match');
  assert.equal((await bob.findLink(code)).label, 'Bob laptop', 'what the app asks the user to confirm');
  const approved = await bob.approveLink(` ${code.toLowerCase().replace(/-/g, ' ')} `);
  await within(signedIn, { what: 'the laptop to be linked' });
  assert.equal(laptop.deviceId, approved.id);
  assert.equal(approved.approvedBy, bob.deviceId);

  // Bob's phone adds it to the 1:1, and it reads from then on.
  await waitFor(() => laptop.hasGroup(direct.id), { timeoutMs: 20_000, what: 'the phone to add the laptop' });
  const own = await laptop.ownDevices();
  assert.deepEqual(own.map((d) => [d.label, d.current, d.approved]), [['Bob phone', false, true], ['Bob laptop', true, true]]);
});

test('a declined or cancelled request links nothing', async () => {
  const bob = await registered('Bob phone');
  const declined = newDevice('Unknown browser');
  const first = startLogin(declined, bob.phone);
  await within(first.prompt, { what: 'a code' });
  const [request] = await bob.pendingLinks();
  await bob.declineLink(request.id);
  await assert.rejects(within(first.signedIn, { what: 'the refusal' }), (e: unknown) => e instanceof LinkFailure && e.code === 'declined');

  const cancelled = newDevice('Changed my mind');
  const second = startLogin(cancelled, bob.phone);
  await within(second.prompt, { what: 'a code' });
  await cancelled.cancelLink();
  await assert.rejects(within(second.signedIn, { what: 'the cancel' }), (e: unknown) => e instanceof LinkFailure && e.code === 'cancelled');
  await waitFor(async () => (await bob.pendingLinks()).length === 0, { what: 'the request to be gone' });
  assert.equal((await bob.ownDevices()).length, 1);
});

test('a server that swaps the waiting browser\'s key gets no approval: the code does not verify it', async () => {
  const bob = await registered('Bob phone');
  const laptop = newDevice('Bob laptop');
  const { prompt, signedIn } = startLogin(laptop, bob.phone);
  const { code } = await within(prompt, { what: 'a code' });
  const { publicKey } = await (await suite()).signature.keygen();
  bob.rewrite.current = (method, path, body) => {
    if (method !== 'GET' || path !== '/devices/links') return body;
    const links = (body as PendingLinks).links.map((l) => ({ ...l, credential: toBase64(publicKey) }));
    return { links };
  };
  await assert.rejects(bob.approveLink(code), (e: unknown) => e instanceof LinkFailure && e.code === 'no-match');
  bob.rewrite.current = null;
  assert.ok(laptop.waitingForLink, 'still waiting; nothing was approved');
  assert.equal((await bob.ownDevices()).length, 1);
  await laptop.cancelLink();
  await signedIn.catch(() => {});
});

test('a server that alters the approval the new browser gets (to slip it a device to trust) has the browser refuse to be linked', async () => {
  const bob = await registered('Bob phone');
  const laptop = newDevice('Bob laptop');
  const ghostKey = toBase64((await (await suite()).signature.keygen()).publicKey);
  laptop.rewrite.current = (method, path, body) => {
    if (method !== 'GET' || !path.startsWith('/devices/links/')) return body;
    const view = body as LinkView;
    if (view.status !== 'approved' || !view.approverProof) return body;
    const proof = JSON.parse(Buffer.from(view.approverProof, 'base64').toString());
    proof.trusted[crypto.randomUUID()] = ghostKey;
    return { ...view, approverProof: Buffer.from(JSON.stringify(proof)).toString('base64') };
  };
  const { prompt, signedIn } = startLogin(laptop, bob.phone);
  const { code } = await within(prompt, { what: 'a code' });
  await bob.approveLink(code);
  await assert.rejects(within(signedIn, { what: 'the refusal' }), (e: unknown) => e instanceof LinkFailure && e.code === 'unverified-approval');
  // It removed the device the server made of it: Bob's account is as it was.
  await waitFor(async () => (await bob.ownDevices()).length === 1, { what: 'the refused device to be removed' });
});

test('a device the operator writes into an account, without an approval or with a forged one, is kept out of its user\'s groups', async () => {
  const [alice, bob, carol] = [await registered('Alice'), await registered('Bob phone'), await registered('Carol')];
  const { direct, group } = await chats(alice, bob, carol);
  assert.equal((await alice.safetyNumberWith(bob.user!.id)).digits, (await bob.safetyNumberWith(alice.user!.id)).digits, 'the same number, before');

  // The operator adds two devices to Bob's account in the database, with KeyPackages it made:
  // one with no approval, one claiming an approval by Bob's phone (a signature it cannot make).
  const ghosts: string[] = [];
  for (const [label, approval] of [['Ghost', null], ['Forged', Buffer.from(crypto.getRandomValues(new Uint8Array(64)))]] as const) {
    const { signKey, publicKey } = await (await suite()).signature.keygen();
    const identity: DeviceIdentity = { userId: bob.user!.id, deviceId: crypto.randomUUID(), signKey, publicKey };
    await file.stack.pool.query(
      'INSERT INTO devices (id, user_id, label, credential, approved_by, approval) VALUES ($1, $2, $3, $4, $5, $6)',
      [identity.deviceId, identity.userId, label, Buffer.from(publicKey), approval ? bob.deviceId : null, approval],
    );
    for (let i = 0; i < 3; i += 1) {
      const kp = await newKeyPackage(identity);
      await file.stack.pool.query('INSERT INTO key_packages (device_id, data) VALUES ($1, $2)', [identity.deviceId, Buffer.from(kp.publicPackage)]);
    }
    ghosts.push(identity.deviceId);
  }

  // Bob's phone hears of them (as from `device-added`) and adds neither; it shows them unapproved.
  for (const id of ghosts) await bob.addOwnDevice(id);
  for (const id of [direct.id, group.id]) {
    assert.ok(!(await deviceIdsIn(bob, id)).some((d) => ghosts.includes(d)), 'no ghost in Bob\'s groups');
  }
  const own = await bob.ownDevices();
  assert.deepEqual(own.map((d) => [d.label, d.approved]), [['Bob phone', true], ['Ghost', false], ['Forged', false]]);

  // A contact's client takes the directory's word for Bob's devices, so a new group Alice makes
  // with Bob holds the ghosts; Bob's phone refuses that group rather than join it with them.
  const trap = await alice.createGroup('Trap', [bob.user!.id]);
  await waitFor(async () => (await bob.problems(trap.id)).length > 0, { what: 'Bob to refuse the Welcome' });
  assert.ok(!bob.hasGroup(trap.id), 'Bob did not join a group with devices of his he never approved');
  // And Alice is told Bob's devices changed; the safety number she sees is not the one Bob
  // sees (his half is over the devices he approved), so comparing them reveals the ghosts.
  await waitFor(async () => (await alice.notices(direct.id)).some((n) => n.userId === bob.user!.id), { what: 'Alice to see Bob\'s devices changed' });
  assert.notEqual((await alice.safetyNumberWith(bob.user!.id)).digits, (await bob.safetyNumberWith(alice.user!.id)).digits);
});

test('starting over with the password removes every other device from the account and every group; contacts see the change', async () => {
  const [alice, bob, carol] = [await registered('Alice'), await registered('Bob phone'), await registered('Carol')];
  const { direct, group } = await chats(alice, bob, carol);
  const oldPhone = bob.deviceId;
  bob.disconnect(); // the phone is lost

  const fresh = newDevice('Bob new phone');
  const { prompt, signedIn } = startLogin(fresh, bob.phone);
  await within(prompt, { what: 'a code' });
  await assert.rejects(fresh.resetDevices('wrong horse battery'), (e: unknown) => e instanceof ApiError && e.code === 'wrong_password');
  assert.ok(fresh.waitingForLink, 'a refused reset leaves it waiting');
  await fresh.resetDevices(PASSWORD);
  await within(signedIn, { what: 'the reset browser to sign in' });
  assert.deepEqual((await fresh.ownDevices()).map((d) => d.label), ['Bob new phone']);
  await assert.rejects(bob.api.me(), (e: unknown) => e instanceof ApiError && e.status === 401, 'the lost phone\'s session ended');

  // The others take the lost phone out and bring the new one in.
  for (const id of [direct.id, group.id]) {
    await waitFor(async () => {
      const ids = await deviceIdsIn(alice, id);
      return !ids.includes(oldPhone) && ids.includes(fresh.deviceId);
    }, { timeoutMs: 30_000, what: `Alice's copy of ${id} to swap Bob's devices` });
  }
  await waitFor(() => fresh.hasGroup(direct.id) && fresh.hasGroup(group.id), { timeoutMs: 20_000, what: 'the new phone to join' });
  await waitFor(async () => (await alice.notices(direct.id)).some((n) => n.userId === bob.user!.id), { what: 'Alice to see Bob\'s devices changed' });
});

test('a login on an account whose devices all exist still cannot act as one without its key', async () => {
  // The linking flow is the only door: a second login that skips it and names a device is refused.
  const bob = await registered('Bob phone');
  const api = newDevice('Intruder').api;
  const { token } = await api.login(bob.phone, PASSWORD);
  api.token = token;
  await assert.rejects(api.registerDevice('Intruder', toBase64(new Uint8Array(32).fill(7))), (e: unknown) => e instanceof ApiError && e.code === 'link_required');
  await assert.rejects(api.keyPackageCount(bob.deviceId), (e: unknown) => e instanceof ApiError && e.code === 'device_not_bound');
});

test('a browser linked the normal way is approved on every device of its user', async () => {
  const bob = await registered('Bob phone');
  const laptop = newDevice('Bob laptop');
  await loginLinked(laptop, bob.phone, PASSWORD, bob);
  const tablet = newDevice('Bob tablet');
  await loginLinked(tablet, bob.phone, PASSWORD, laptop);
  for (const device of [bob, laptop, tablet]) {
    assert.deepEqual((await device.ownDevices()).map((d) => d.approved), [true, true, true], `as ${device.deviceId} sees them`);
  }
});

test('a member away while a device came and went catches up through its commits and messages, judged by the directory as it was', async () => {
  const [alice, bob, carol] = [await registered('Alice'), await registered('Bob phone'), await registered('Carol')];
  const { group } = await chats(alice, bob, carol);
  carol.disconnect();

  const laptop = newDevice('Bob laptop');
  await loginLinked(laptop, bob.phone, PASSWORD, bob);
  await waitFor(() => laptop.hasGroup(group.id), { timeoutMs: 20_000, what: 'the laptop to join the group' });
  await laptop.sendText(group.id, 'from the laptop, while it was Bob\'s');
  await bob.removeDevice(laptop.deviceId, PASSWORD);
  await waitFor(async () => !(await deviceIdsIn(alice, group.id)).includes(laptop.deviceId), { timeoutMs: 20_000, what: 'the laptop to leave the group' });
  await alice.sendText(group.id, 'after the laptop went');

  // Carol comes back: the commit that added the laptop, its message and its removal all check out.
  carol.connect();
  await waitFor(async () => (await carol.history(group.id)).some((m) => m.text === 'after the laptop went'), { timeoutMs: 20_000, what: 'Carol to catch up' });
  const texts = (await carol.history(group.id)).map((m) => m.text);
  assert.ok(texts.includes('from the laptop, while it was Bob\'s'), 'the gone laptop\'s message reads');
  assert.deepEqual(await carol.problems(group.id), []);
  assert.equal(carol.epoch(group.id), alice.epoch(group.id));
  // A device she never saw listed let in for the past is a change of Bob's devices like any other.
  await waitFor(async () => (await carol.notices(group.id)).some((n) => n.userId === bob.user!.id), { what: 'Carol to be told Bob\'s devices changed' });
});

test('an approving device trusts the key its code verified, not the device the server answers with', async () => {
  const bob = await registered('Bob phone');
  // The operator has a device of its own on Bob's account, and answers the approval with it.
  const { publicKey } = await (await suite()).signature.keygen();
  const ghostId = crypto.randomUUID();
  await file.stack.pool.query('INSERT INTO devices (id, user_id, label, credential) VALUES ($1, $2, $3, $4)', [ghostId, bob.user!.id, 'Ghost', Buffer.from(publicKey)]);
  bob.rewrite.current = (method, path, body) => (method === 'POST' && path.endsWith('/approve') ? { ...(body as object), id: ghostId, credential: toBase64(publicKey) } : body);
  const laptop = newDevice('Bob laptop');
  const { prompt, signedIn } = startLogin(laptop, bob.phone);
  await assert.rejects(bob.approveLink((await within(prompt, { what: 'a code' })).code), (e: unknown) => e instanceof LinkFailure && e.code === 'unverified-approval');
  bob.rewrite.current = null;
  await within(signedIn, { what: 'the laptop, which the server did link' });
  const own = await bob.ownDevices();
  assert.deepEqual(own.map((d) => [d.label, d.approved]), [['Bob phone', true], ['Ghost', false], ['Bob laptop', true]]);
});

test('a removed device is revoked: listed again later with its old approval, no device of its user trusts it', async () => {
  const bob = await registered('Bob phone');
  const laptop = newDevice('Bob laptop');
  await loginLinked(laptop, bob.phone, PASSWORD, bob);
  const tablet = newDevice('Bob tablet');
  await loginLinked(tablet, bob.phone, PASSWORD, bob);
  const removed = (await bob.ownDevices()).find((d) => d.id === laptop.deviceId)!;
  laptop.disconnect();
  await bob.removeDevice(laptop.deviceId, PASSWORD);
  const [history] = (await bob.api.lookupDevices([bob.user!.id], { includeRemoved: true })).users[0].removed!;
  assert.deepEqual([history.id, history.revokedBy], [laptop.deviceId, bob.deviceId], 'the removal carries the phone\'s revocation');
  assert.deepEqual((await tablet.ownDevices()).map((d) => d.label), ['Bob phone', 'Bob tablet'], 'the tablet reads the revocation');

  // The operator (or whoever stole the laptop, with the server's help) puts it back as it was.
  await file.stack.pool.query(
    'INSERT INTO devices (id, user_id, label, credential, approved_by, approval) VALUES ($1, $2, $3, $4, $5, $6)',
    [removed.id, bob.user!.id, removed.label, Buffer.from(removed.credential, 'base64'), removed.approvedBy, Buffer.from(removed.approval!, 'base64')],
  );
  // A browser linked afterwards learns of the revocation from its approver, not from the listing.
  const phone2 = newDevice('Bob new phone');
  await loginLinked(phone2, bob.phone, PASSWORD, bob);
  for (const device of [bob, tablet, phone2]) {
    const own = await device.ownDevices();
    assert.deepEqual(Object.fromEntries(own.map((d) => [d.label, d.approved])), { 'Bob phone': true, 'Bob laptop': false, 'Bob tablet': true, 'Bob new phone': true },
      `never trusted again, as ${device.storeName} sees it`);
  }
});

test('a device the server leaves out of a listing is not distrusted for it', async () => {
  const bob = await registered('Bob phone');
  const laptop = newDevice('Bob laptop');
  await loginLinked(laptop, bob.phone, PASSWORD, bob);
  // The phone was the account's first device: nothing approved it, so a device that dropped it
  // on one listing's word could never take it back.
  laptop.rewrite.current = (method, path, body) => {
    if (method !== 'GET' || !path.endsWith('/devices') || !path.startsWith('/users/')) return body;
    return { devices: (body as { devices: { id: string }[] }).devices.filter((d) => d.id !== bob.deviceId) };
  };
  assert.deepEqual((await laptop.ownDevices()).map((d) => d.label), ['Bob laptop']);
  laptop.rewrite.current = null;
  assert.deepEqual((await laptop.ownDevices()).map((d) => [d.label, d.approved]), [['Bob phone', true], ['Bob laptop', true]]);
});

test('a device away while another linked a phone and then forgot itself still trusts that phone, and leaves it in the chats', async () => {
  const [alice, bob] = [await registered('Alice'), await registered('Bob phone')];
  const direct = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(direct.id), { what: 'bob to join' });
  const laptop = newDevice('Bob laptop');
  await loginLinked(laptop, bob.phone, PASSWORD, bob);
  await waitFor(() => laptop.hasGroup(direct.id), { timeoutMs: 20_000, what: 'the laptop to join' });
  bob.disconnect(); // the phone is away for what follows

  const newPhone = newDevice('Bob new phone');
  await loginLinked(newPhone, bob.phone, PASSWORD, laptop);
  await waitFor(() => newPhone.hasGroup(direct.id), { timeoutMs: 20_000, what: 'the new phone to join' });
  await laptop.logout({ forgetDevice: true }); // the laptop revokes itself, keeping the new phone

  bob.connect();
  await waitFor(async () => (await bob.ownDevices()).some((d) => d.label === 'Bob new phone' && d.approved), { what: 'the phone to trust the new phone' });
  assert.deepEqual((await bob.ownDevices()).map((d) => [d.label, d.approved]), [['Bob phone', true], ['Bob new phone', true]]);
  await waitFor(async () => !(await deviceIdsIn(bob, direct.id)).includes(laptop.deviceId), { timeoutMs: 20_000, what: 'the laptop to leave the chat' });
  assert.ok((await deviceIdsIn(bob, direct.id)).includes(newPhone.deviceId), 'the new phone stays in the chat');
  assert.deepEqual(await bob.problems(direct.id), []);
});
