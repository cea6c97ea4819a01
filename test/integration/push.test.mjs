// Web Push end to end without a browser vendor's push service: a push service of the test's own
// (a node HTTP server on 127.0.0.1) takes what the Worker sends, checks its VAPID signature
// (RFC 8292) and decrypts it (RFC 8291) with the subscription keys the test made, the way a
// browser would. Plus the subscription and mute endpoints' validation and authorization.
import { test, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { fileStack } from '../support/file-stack.mjs';
import { PushService } from '../support/push-service.mjs';
import { DEFAULT_VARS } from '../support/stack.mjs';
import { sleep, waitFor } from '../support/wait.mjs';

const file = fileStack();
afterEach(() => file.closeSockets());

// ---- the test's push service (test/support/push-service.mjs) -----------------------------------

const service = new PushService();
before(() => service.start());
after(() => service.stop());
/** Every push received, in order, and how the service answers a path. */
const { received, behaviour } = service;
const subscription = (name) => service.subscription(name);
/** The pushes received at a subscription's path. */
const pushesTo = (sub) => service.pushesTo(sub);

/** A push as its subscriber reads it, after checking its headers and signature. */
async function readPush(push, sub) {
  return service.read(push, sub, { serverKey: await serverKey(), subject: DEFAULT_VARS.VAPID_SUBJECT });
}

let knownServerKey;
async function serverKey() {
  knownServerKey ??= (await file.api.get('/push/vapid-public-key')).body.publicKey;
  return knownServerKey;
}

// ---- users, devices, messages -----------------------------------------------------------------

const b64 = (text) => Buffer.from(text).toString('base64');
let counter = 0;
const clientMsgId = () => `p-${Date.now()}-${++counter}`;

/** A user whose registering session is also their device (the account's first). */
async function userWithDevice(displayName) {
  const user = await file.api.register(displayName ? { displayName } : {});
  const key = randomBytes(32).toString('base64');
  const device = await file.api.post('/devices', { label: 'Phone', credential: key }, { token: user.token });
  assert.equal(device.status, 201, JSON.stringify(device.body));
  return { ...user, device: device.body };
}

/** A device's Ed25519 key: the raw public key (its credential) and what it signs. */
function deviceKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const credential = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('base64');
  return { credential, sign: (text) => sign(null, Buffer.from(text), privateKey).toString('base64') };
}

/** A user with one device per label, each a session of its own (a session acts as one device):
 * the first set up from the registering session, each next one logged in and linked with the
 * first one's approval. `devices[i].token` is that device's session. */
async function userWithDevices(labels) {
  const user = await file.api.register();
  const firstKey = deviceKey();
  const first = await file.api.post('/devices', { label: labels[0], credential: firstKey.credential }, { token: user.token });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const devices = [{ ...first.body, token: user.token }];
  for (const label of labels.slice(1)) {
    const login = await file.api.post('/auth/login', { phone: user.user.phone, password: user.password });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const token = login.body.token;
    const key = deviceKey();
    const codeMac = randomBytes(32).toString('base64');
    const asked = await file.api.post('/devices/links', { label, credential: key.credential, codeMac }, { token });
    assert.equal(asked.status, 201, JSON.stringify(asked.body));
    const signature = firstKey.sign(`e2e-chat/approve-device/v1:${user.user.id}:${asked.body.id}:${key.credential}`);
    const approverProof = randomBytes(40).toString('base64');
    const approved = await file.api.post(`/devices/links/${asked.body.id}/approve`, { signature, approverProof }, { token: user.token });
    assert.equal(approved.status, 201, JSON.stringify(approved.body));
    devices.push({ ...approved.body, token });
  }
  return { ...user, devices };
}

async function subscribe(user, sub) {
  const res = await file.api.post('/devices/me/push', sub.json, { token: user.token });
  assert.equal(res.status, 204, JSON.stringify(res.body));
}

/** Sends a receipt of `kind` for `message` from `socket`; resolves once it is acknowledged. */
async function receipt(socket, message, kind = 'read') {
  const id = clientMsgId();
  socket.send({ type: 'receipt', id, messageId: message.id, kind });
  const ack = await socket.next((e) => (e.type === 'ack' && e.ref === id) || (e.type === 'error' && e.ref === id));
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
}

/** Sends `text` (opaque bytes to the server) from `socket` to `to`; resolves with the ack. */
async function send(socket, to, text) {
  const id = clientMsgId();
  socket.send({ type: 'send-message', id, toUserId: to.user.id, clientMsgId: id, epoch: 0, ciphertext: b64(text) });
  const ack = await socket.next((e) => (e.type === 'ack' && e.ref === id) || (e.type === 'error' && e.ref === id));
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  return ack;
}

const subscriptionRows = async (device) =>
  (await file.stack.pool.query('SELECT endpoint FROM push_subscriptions WHERE device_id = $1', [device])).rows;

// ---- the endpoints ------------------------------------------------------------------------------

test('the server publishes the VAPID key it signs with', async () => {
  const res = await file.api.get('/push/vapid-public-key');
  assert.equal(res.status, 200);
  assert.equal(res.body.publicKey, file.stack.vapidPublicKey);
  assert.equal(Buffer.from(res.body.publicKey, 'base64url').length, 65);
});

test('a subscription is validated, belongs to the session\'s device, and can be withdrawn', async () => {
  const bob = await userWithDevice();
  const sub = subscription('bob');
  assert.equal((await file.api.post('/devices/me/push', sub.json)).status, 401);
  const deviceless = await file.api.register();
  const noDevice = await file.api.post('/devices/me/push', sub.json, { token: deviceless.token });
  assert.deepEqual([noDevice.status, noDevice.body.error.code], [404, 'not_found']);

  const refused = async (body, code) => {
    const res = await file.api.post('/devices/me/push', body, { token: bob.token });
    assert.deepEqual([res.status, res.body.error.code], [400, code], JSON.stringify(body));
  };
  const keys = sub.json.keys;
  for (const endpoint of ['http://push.example/x', 'https://192.0.2.1/x', 'https://localhost/x', 'ftp://push.example/x', 'nonsense',
    `https://push.example/${'x'.repeat(2048)}`, 'https://u:p@push.example/x']) {
    await refused({ endpoint, keys }, 'invalid_endpoint');
  }
  await refused({ endpoint: sub.json.endpoint, keys: { ...keys, p256dh: Buffer.alloc(65, 4).toString('base64url') } }, 'invalid_field');
  await refused({ endpoint: sub.json.endpoint, keys: { ...keys, p256dh: keys.p256dh.slice(0, 40) } }, 'invalid_field');
  await refused({ endpoint: sub.json.endpoint, keys: { ...keys, auth: randomBytes(32).toString('base64url') } }, 'invalid_field');
  await refused({ endpoint: sub.json.endpoint }, 'invalid_field');
  assert.deepEqual(await subscriptionRows(bob.device.id), []);

  await subscribe(bob, sub);
  assert.deepEqual(await subscriptionRows(bob.device.id), [{ endpoint: sub.json.endpoint }]);
  // A second subscription replaces the first: one per device.
  const renewed = subscription('bob-renewed');
  await subscribe(bob, renewed);
  assert.deepEqual(await subscriptionRows(bob.device.id), [{ endpoint: renewed.json.endpoint }]);
  for (let i = 0; i < 2; i += 1) {
    assert.equal((await file.api.delete('/devices/me/push', { token: bob.token })).status, 204);
  }
  assert.deepEqual(await subscriptionRows(bob.device.id), []);
});

test('an endpoint registered by another account\'s device is taken from the first', async () => {
  const [first, second] = [await userWithDevice(), await userWithDevice()];
  const sub = subscription('shared-browser');
  await subscribe(first, sub);
  await subscribe(second, sub);
  assert.deepEqual(await subscriptionRows(first.device.id), []);
  assert.deepEqual(await subscriptionRows(second.device.id), [{ endpoint: sub.json.endpoint }]);
});

test('knowing someone\'s endpoint is not enough to take their pushes: other keys are refused', async () => {
  const [owner, thief] = [await userWithDevice(), await userWithDevice()];
  const sub = subscription('owned');
  await subscribe(owner, sub);
  const forged = subscription('forged');
  const res = await file.api.post('/devices/me/push', { ...forged.json, endpoint: sub.json.endpoint }, { token: thief.token });
  assert.equal(res.status, 409, JSON.stringify(res.body));
  assert.deepEqual(await subscriptionRows(owner.device.id), [{ endpoint: sub.json.endpoint }]);
  assert.deepEqual(await subscriptionRows(thief.device.id), []);
});

test('a removed device loses its subscription', async () => {
  const bob = await userWithDevice();
  await subscribe(bob, subscription('removed'));
  assert.equal((await subscriptionRows(bob.device.id)).length, 1);
  assert.equal((await file.api.delete(`/devices/${bob.device.id}`, { token: bob.token })).status, 204);
  assert.deepEqual(await subscriptionRows(bob.device.id), []);
});

test('a member mutes a conversation for themselves only; others cannot', async () => {
  const [alice, bob, mallory] = [await userWithDevice(), await userWithDevice(), await userWithDevice()];
  const conversation = (await file.api.get(`/conversations/${bob.user.id}`, { token: alice.token })).body.id;
  const path = `/conversations/${conversation}/notifications`;
  const put = (body, token = bob.token) => file.api.request('PUT', path, { token, body });
  assert.equal((await put({ mutedUntil: 'always' }, null)).status, 401);
  const stranger = await put({ mutedUntil: 'always' }, mallory.token);
  assert.deepEqual([stranger.status, stranger.body.error.code], [403, 'not_a_member']);
  assert.equal((await file.api.get(path, { token: mallory.token })).status, 403);
  const nowhere = await file.api.request('PUT', `/conversations/${randomUUID()}/notifications`, { token: bob.token, body: { mutedUntil: null } });
  assert.deepEqual([nowhere.status, nowhere.body.error.code], [404, 'not_found']);
  for (const body of [{}, { mutedUntil: 'tomorrow' }, { mutedUntil: 3600 }]) {
    assert.equal((await put(body)).status, 400, JSON.stringify(body));
  }
  assert.deepEqual((await put({ mutedUntil: 'always' })).body, { conversationId: conversation, mutedUntil: 'always' });
  const inAWeek = new Date(Date.now() + 7 * 86400_000);
  inAWeek.setMilliseconds(0);
  const week = await put({ mutedUntil: inAWeek.toISOString() });
  assert.equal(week.status, 200);
  assert.equal(new Date(week.body.mutedUntil).getTime(), inAWeek.getTime());
  assert.equal((await put({ mutedUntil: '2000-01-01T00:00:00Z' })).body.mutedUntil, null, 'a time past is no mute');
  assert.equal((await put({ mutedUntil: null })).body.mutedUntil, null);
  // Alice's own settings were never touched.
  assert.deepEqual((await file.api.get(path, { token: alice.token })).body, { conversationId: conversation, mutedUntil: null });
});

// ---- sending ------------------------------------------------------------------------------------

test('a message to a device with no open socket is pushed, signed and encrypted, without plaintext or names', async () => {
  const alice = await userWithDevice('Alice Quartermaine');
  const bob = await userWithDevice('Bob Zabriskie');
  const sub = subscription('bob');
  await subscribe(bob, sub);
  const socket = await file.open(alice.token);
  const opaque = `opaque-${randomBytes(8).toString('hex')}`;
  const ack = await send(socket, bob, opaque);
  const [push] = await waitFor(() => pushesTo(sub).length > 0 && pushesTo(sub), { what: 'a push to bob' });
  const { plaintext, payload } = await readPush(push, sub);
  assert.deepEqual(payload, {
    type: 'message',
    conversationId: ack.message.conversationId,
    seq: ack.message.seq,
    messageId: ack.message.id,
    ciphertext: b64(opaque),
  });
  for (const name of ['Alice', 'Quartermaine', 'Bob', 'Zabriskie', alice.user.phone]) {
    assert.ok(!plaintext.includes(name), `the push does not name ${name}`);
  }
  assert.ok(!push.body.includes(Buffer.from(opaque)) && !push.body.includes(Buffer.from(b64(opaque))), 'encrypted on the wire');
  await sleep(300);
  assert.equal(pushesTo(sub).length, 1, 'one message, one push');
});

test('a device that subscribes after its hub found no subscription gets pushes at once', async () => {
  const [alice, bob] = [await userWithDevice(), await userWithDevice()];
  const socket = await file.open(alice.token);
  await send(socket, bob, 'before any subscription'); // bob's hub asks, and finds none
  await sleep(500);
  const sub = subscription('late');
  await subscribe(bob, sub); // tells bob's hub, which otherwise would not ask again for a minute
  const after = await send(socket, bob, 'after subscribing');
  await waitFor(() => pushesTo(sub).length > 0, { timeoutMs: 10_000, what: 'a push soon after subscribing' });
  assert.equal((await readPush(pushesTo(sub)[0], sub)).payload.seq, after.message.seq);
});

test('a device with an open socket gets no push; once it is closed it does', async () => {
  const [alice, bob] = [await userWithDevice(), await userWithDevice()];
  const sub = subscription('online');
  await subscribe(bob, sub);
  const bobSocket = await file.open(bob.token);
  const aliceSocket = await file.open(alice.token);
  const first = await send(aliceSocket, bob, 'while online');
  await bobSocket.next((e) => e.type === 'message' && e.message.id === first.message.id);
  await bobSocket.close();
  const second = await send(aliceSocket, bob, 'while away');
  await waitFor(() => pushesTo(sub).length > 0, { what: 'a push once bob is away' });
  await sleep(300);
  const seqs = await Promise.all(pushesTo(sub).map(async (p) => (await readPush(p, sub)).payload.seq));
  assert.deepEqual(seqs, [second.message.seq], 'only the message that found no socket');
});

test('a device whose user signed out there gets no push', async () => {
  const [alice, bob, carol] = [await userWithDevice(), await userWithDevice(), await userWithDevice()];
  const [bobs, carols] = [subscription('signed-out'), subscription('signed-in')];
  await subscribe(bob, bobs);
  await subscribe(carol, carols);
  assert.equal((await file.api.post('/auth/logout', undefined, { token: bob.token })).status, 204);
  const socket = await file.open(alice.token);
  await send(socket, bob, 'to a signed-out browser');
  await send(socket, carol, 'to a signed-in one');
  // Carol's push shows when the pushes of these sends have gone out; Bob's did not.
  await waitFor(() => pushesTo(carols).length > 0, { what: 'a push to carol' });
  await sleep(500);
  assert.equal(pushesTo(bobs).length, 0, 'nothing pushed to a device nobody is signed in on');
  assert.equal((await subscriptionRows(bob.device.id)).length, 1, 'its subscription is kept for the next sign-in');
});

test('a muted conversation gets no push, another one does', async () => {
  const [alice, dave, bob] = [await userWithDevice(), await userWithDevice(), await userWithDevice()];
  const sub = subscription('muted');
  await subscribe(bob, sub);
  const muted = (await file.api.get(`/conversations/${alice.user.id}`, { token: bob.token })).body.id;
  const set = await file.api.request('PUT', `/conversations/${muted}/notifications`, { token: bob.token, body: { mutedUntil: 'always' } });
  assert.equal(set.status, 200);
  const [aliceSocket, daveSocket] = [await file.open(alice.token), await file.open(dave.token)];
  await send(aliceSocket, bob, 'muted one');
  const loud = await send(daveSocket, bob, 'loud one');
  await waitFor(() => pushesTo(sub).length > 0, { what: "a push for dave's message" });
  await sleep(300);
  const payloads = await Promise.all(pushesTo(sub).map(async (p) => (await readPush(p, sub)).payload));
  assert.deepEqual(payloads.map((p) => p.conversationId), [loud.message.conversationId]);
});

test('a subscription its push service calls gone (410) is deleted', async () => {
  const [alice, bob] = [await userWithDevice(), await userWithDevice()];
  const sub = subscription('gone');
  behaviour.set(sub.path, { status: 410 });
  await subscribe(bob, sub);
  await send(await file.open(alice.token), bob, 'to a gone browser');
  await waitFor(() => pushesTo(sub).length > 0, { what: 'the push attempt' });
  await waitFor(async () => (await subscriptionRows(bob.device.id)).length === 0, { what: 'the subscription to be deleted' });
});

test('a burst of 20 messages makes a few pushes, the last for the newest, and a slow push service slows no ack', async (t) => {
  const [alice, bob] = [await userWithDevice(), await userWithDevice()];
  const sub = subscription('burst');
  // Every push takes 3 s to be answered: nothing the sender waits for may wait on it.
  behaviour.set(sub.path, { delayMs: 3000 });
  await subscribe(bob, sub);
  const socket = await file.open(alice.token);
  await send(socket, bob, 'warm up'); // the conversation exists, the hubs are awake
  await waitFor(() => pushesTo(sub).length === 1, { what: 'the first push' });
  const burstPushes = () => pushesTo(sub).slice(1);
  const started = Date.now();
  const ids = Array.from({ length: 20 }, () => clientMsgId());
  for (const id of ids) {
    socket.send({ type: 'send-message', id, toUserId: bob.user.id, clientMsgId: id, epoch: 0, ciphertext: b64(`burst ${id}`) });
  }
  const acks = [];
  for (const id of ids) acks.push(await socket.next((e) => e.type === 'ack' && e.ref === id));
  const ackedIn = Date.now() - started;
  assert.ok(ackedIn < 2500, `20 sends acked in ${ackedIn} ms, while a push takes 3000 ms to answer`);
  const newest = Math.max(...acks.map((a) => a.message.seq));
  // The last push stands for the newest message; it may wait for the one before it to be answered
  // and for the device's rate.
  const last = await waitFor(async () => {
    const pushes = burstPushes();
    if (pushes.length === 0) return null;
    const { payload } = await readPush(pushes.at(-1), sub);
    return payload.seq === newest && payload;
  }, { timeoutMs: 20_000, intervalMs: 200, what: 'a push for the newest message' });
  assert.equal(last.messageId, acks.at(-1).message.id);
  await sleep(500);
  const count = burstPushes().length;
  t.diagnostic(`20 sends acked in ${ackedIn} ms; ${count} pushes, the last for seq ${newest}`);
  assert.ok(count >= 1 && count <= 5, `${count} pushes for 20 messages`);
});

/** Sends `to` the pushes its device may have at once (PUSH_RATE in src/ratelimit.rs: 3, then one
 * every 5 s), each waited for: the next is held back by the rate. Resolves with the acks. */
async function useUpBurst(socket, to, sub) {
  const acks = [];
  for (let i = 1; i <= 3; i += 1) {
    acks.push(await send(socket, to, `message ${i}`));
    await waitFor(() => pushesTo(sub).length === i, { what: `push ${i}` });
  }
  return acks;
}

test('pushes to a device are rate-limited: past a few at once, the newest waits its turn', async () => {
  const [alice, bob] = [await userWithDevice(), await userWithDevice()];
  const sub = subscription('rate');
  await subscribe(bob, sub);
  const socket = await file.open(alice.token);
  await useUpBurst(socket, bob, sub);
  await send(socket, bob, 'held back');
  const newest = await send(socket, bob, 'newest');
  await sleep(1000);
  assert.equal(pushesTo(sub).length, 3, 'the fourth waits for the device\'s rate');
  await waitFor(() => pushesTo(sub).length === 4, { timeoutMs: 10_000, what: 'the held-back push' });
  assert.equal((await readPush(pushesTo(sub)[3], sub)).payload.seq, newest.message.seq, 'one push for both, the newest');
  await sleep(500);
  assert.equal(pushesTo(sub).length, 4);
});

test('a push held back by the rate is not sent once its device is signed out meanwhile', async () => {
  const [alice, bob] = [await userWithDevice(), await userWithDevice()];
  const sub = subscription('held-then-signed-out');
  await subscribe(bob, sub);
  const socket = await file.open(alice.token);
  await useUpBurst(socket, bob, sub);
  await send(socket, bob, 'held back'); // owed, waiting for the device's rate (one every 5 s)
  await sleep(300);
  assert.equal((await file.api.post('/auth/logout', undefined, { token: bob.token })).status, 204);
  await sleep(7_000); // past when it would have gone
  assert.equal(pushesTo(sub).length, 3, 'the held push did not go to a signed-out browser');
});

test('a push service\'s redirect is not followed: the post goes only where the endpoint said', async () => {
  const [alice, bob] = [await userWithDevice(), await userWithDevice()];
  const sub = subscription('redirecting');
  const elsewhere = `/elsewhere-${randomBytes(4).toString('hex')}`;
  behaviour.set(sub.path, { status: 307, location: service.origin + elsewhere });
  await subscribe(bob, sub);
  const socket = await file.open(alice.token);
  await send(socket, bob, 'redirected?');
  await waitFor(() => pushesTo(sub).length > 0, { what: 'the push to the endpoint' });
  await sleep(500);
  assert.equal(received.filter((r) => r.path === elsewhere).length, 0, 'nothing posted where the redirect pointed');
});

// ---- read elsewhere -----------------------------------------------------------------------------

/** What a subscription was pushed, in order, each read as its browser would. */
const payloadsTo = (sub) => Promise.all(pushesTo(sub).map(async (p) => (await readPush(p, sub)).payload));

test('a read on one device is pushed to the others that were pushed its conversation, so they clear it; to no other', async () => {
  const alice = await userWithDevice();
  const bob = await userWithDevices(['Phone', 'Laptop', 'Tablet']);
  const [phone, laptop, tablet] = bob.devices;
  const [phones, laptops, tablets] = [subscription('phone'), subscription('laptop'), subscription('tablet')];
  await subscribe({ token: phone.token }, phones);
  await subscribe({ token: laptop.token }, laptops);
  const laptopSocket = await file.open(laptop.token);
  const aliceSocket = await file.open(alice.token);
  const first = await send(aliceSocket, bob, 'first');
  await laptopSocket.next((e) => e.type === 'message' && e.message.id === first.message.id);
  await waitFor(() => pushesTo(phones).length === 1, { what: 'the message push to the phone' });
  // The tablet subscribes only now: it was shown nothing of the conversation.
  await subscribe({ token: tablet.token }, tablets);

  await receipt(laptopSocket, first.message, 'delivered');
  await receipt(laptopSocket, first.message, 'read');
  await waitFor(() => pushesTo(phones).length === 2, { what: 'the read push to the phone' });
  const conversationId = first.message.conversationId;
  assert.deepEqual((await payloadsTo(phones))[1], { type: 'read', conversationId, seq: first.message.seq });
  // Read again: the phone shows nothing of it any more.
  await receipt(laptopSocket, first.message, 'read');
  await sleep(500);
  assert.equal(pushesTo(phones).length, 2, 'one read push, for the delivered and the two read receipts');
  assert.equal(pushesTo(laptops).length, 0, 'the reading device, its socket open, gets nothing');
  assert.equal(pushesTo(tablets).length, 0, 'a device pushed nothing of the conversation has nothing to clear');

  // The next message is pushed to both away devices; read, it is cleared on both, the phone's
  // read waiting for its rate (its fourth push).
  const second = await send(aliceSocket, bob, 'second');
  await waitFor(() => pushesTo(phones).length === 3 && pushesTo(tablets).length === 1, { what: 'the second message pushes' });
  await receipt(laptopSocket, second.message, 'read');
  const read = { type: 'read', conversationId, seq: second.message.seq };
  await waitFor(() => pushesTo(tablets).length === 2, { what: "the tablet's read push" });
  assert.deepEqual((await payloadsTo(tablets)).map((p) => p.type), ['message', 'read']);
  assert.deepEqual((await payloadsTo(tablets))[1], read);
  await waitFor(() => pushesTo(phones).length === 4, { timeoutMs: 10_000, what: "the phone's read push, after its rate" });
  assert.deepEqual((await payloadsTo(phones)).map((p) => p.type), ['message', 'read', 'message', 'read']);
  assert.deepEqual((await payloadsTo(phones))[3], read);
  assert.equal(pushesTo(laptops).length, 0);
});

test('a read held back by the rate replaces only the message push it covers: a message of another conversation still goes', async () => {
  const [alice, dave] = [await userWithDevice(), await userWithDevice()];
  const bob = await userWithDevices(['Phone', 'Laptop']);
  const [phone, laptop] = bob.devices;
  const phones = subscription('phone-held');
  await subscribe({ token: phone.token }, phones);
  const laptopSocket = await file.open(laptop.token);
  const [aliceSocket, daveSocket] = [await file.open(alice.token), await file.open(dave.token)];
  await useUpBurst(aliceSocket, bob, phones);
  // Owed to the phone, held back by its rate: a message from Alice, then one from Dave.
  const held = await send(aliceSocket, bob, 'held back');
  const fromDave = await send(daveSocket, bob, 'from dave');
  await laptopSocket.next((e) => e.type === 'message' && e.message.id === fromDave.message.id);
  // Alice's is read on the laptop before the phone's turn comes.
  await receipt(laptopSocket, held.message, 'read');
  await sleep(1000);
  assert.equal(pushesTo(phones).length, 3, 'the read waits for the rate like any push');
  await waitFor(() => pushesTo(phones).length === 5, { timeoutMs: 20_000, what: 'both owed pushes (one every 5 s)' });
  const owed = (await payloadsTo(phones)).slice(3);
  const byType = Object.fromEntries(owed.map((p) => [p.type, p]));
  assert.deepEqual(byType.read, { type: 'read', conversationId: held.message.conversationId, seq: held.message.seq });
  assert.equal(byType.message.messageId, fromDave.message.id, "Dave's message push is not lost to the read");
  assert.ok(!(await payloadsTo(phones)).some((p) => p.messageId === held.message.id), 'no push for a message read before it went');
  await sleep(500);
  assert.equal(pushesTo(phones).length, 5);
});

test('what a hub owes and showed outlives its instance: after a restart, held-back pushes go and a read still clears', { timeout: 180_000 }, async () => {
  const [alice, dave, erin] = [await userWithDevice(), await userWithDevice(), await userWithDevice()];
  const bob = await userWithDevices(['Phone', 'Laptop']);
  const [phone, laptop] = bob.devices;
  const phones = subscription('phone-restart');
  await subscribe({ token: phone.token }, phones);
  const [aliceSocket, daveSocket, erinSocket] = [await file.open(alice.token), await file.open(dave.token), await file.open(erin.token)];
  const shown = await useUpBurst(aliceSocket, bob, phones);
  // Owed to the phone, held back by its rate: one 5 s after the burst, the other 5 s after that.
  const held = [await send(daveSocket, bob, 'from dave, held back'), await send(erinSocket, bob, 'from erin, held back')];
  // Every hub's instance goes, and its memory with it (as when Cloudflare evicts an idle hub or
  // moves it); its storage and alarm stay.
  await file.closeSockets();
  assert.ok(pushesTo(phones).length <= 4, 'one held-back push at most went before the restart');
  const restartedAt = Date.now();
  await file.stack.restart();
  await waitFor(() => pushesTo(phones).length === 5, { timeoutMs: 25_000, what: "the held-back pushes, from the hub's next instance" });
  assert.deepEqual((await payloadsTo(phones)).slice(3).map((p) => p.messageId).sort(), held.map((ack) => ack.message.id).sort());
  assert.ok(pushesTo(phones)[4].at > restartedAt, 'the last one went from the next instance');
  // The next instance knows what the phone shows of Alice's conversation: read on the laptop, it
  // is cleared there.
  const laptopSocket = await file.open(laptop.token);
  await receipt(laptopSocket, shown[2].message, 'read');
  await waitFor(() => pushesTo(phones).length === 6, { timeoutMs: 15_000, what: 'the read push, after the rate' });
  assert.deepEqual((await payloadsTo(phones))[5], { type: 'read', conversationId: shown[2].message.conversationId, seq: shown[2].message.seq });
});

test('a read on a device itself clears what it was shown: a read elsewhere afterwards pushes it nothing', async () => {
  const [alice, dave] = [await userWithDevice(), await userWithDevice()];
  const bob = await userWithDevices(['Phone', 'Laptop']);
  const [phone, laptop] = bob.devices;
  const phones = subscription('phone-reads-itself');
  await subscribe({ token: phone.token }, phones);
  const [aliceSocket, daveSocket] = [await file.open(alice.token), await file.open(dave.token)];
  const first = await send(aliceSocket, bob, 'seen on the phone');
  await waitFor(() => pushesTo(phones).length === 1, { what: 'the message push to the phone' });
  // The phone opens the app and reads it there (its notification closes as it does).
  const phoneSocket = await file.open(phone.token);
  await receipt(phoneSocket, first.message, 'delivered');
  await receipt(phoneSocket, first.message, 'read');
  await phoneSocket.close();
  // Read again on the laptop: nothing is left on the phone to clear, so no push that would show
  // nothing (which browsers hold against the site). The phone's next push is Dave's message.
  const laptopSocket = await file.open(laptop.token);
  await receipt(laptopSocket, first.message, 'read');
  const fromDave = await send(daveSocket, bob, 'next, from dave');
  await waitFor(() => pushesTo(phones).length >= 2, { what: "the phone's next push" });
  await sleep(300);
  assert.deepEqual((await payloadsTo(phones)).map((p) => p.type), ['message', 'message']);
  assert.equal((await payloadsTo(phones))[1].messageId, fromDave.message.id);
});

// ---- subscribing is limited --------------------------------------------------------------------

test('a device subscribes at most 30 times an hour: then 429 with Retry-After and nothing stored; unsubscribing always works', async () => {
  const CHANGES_PER_HOUR = 30; // PUSH_SUBSCRIPTION_CHANGES in src/db/throttles.rs
  const [bob, carol] = [await userWithDevice(), await userWithDevice()];
  let last;
  for (let i = 1; i <= CHANGES_PER_HOUR; i += 1) {
    last = subscription(`bob-${i}`);
    await subscribe(bob, last);
    // Unsubscribing is never counted.
    if (i % 10 === 0 && i < CHANGES_PER_HOUR) assert.equal((await file.api.delete('/devices/me/push', { token: bob.token })).status, 204);
  }
  // An invalid request is refused before it is counted; it does not change the answer below.
  const invalid = await file.api.post('/devices/me/push', { endpoint: 'nonsense', keys: last.json.keys }, { token: bob.token });
  assert.equal(invalid.status, 400);
  const kept = [{ endpoint: last.json.endpoint }];
  assert.deepEqual(await subscriptionRows(bob.device.id), kept);
  const assertLimited = (res) => {
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'too_many_subscription_changes');
    assert.match(res.body.error.message, /30 times .*try again in \d+ (second|minute)s?\./);
    assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.ok(Number(res.headers.get('retry-after')) <= 3600);
  };
  assertLimited(await file.api.post('/devices/me/push', subscription('bob-one-too-many').json, { token: bob.token }));
  assert.deepEqual(await subscriptionRows(bob.device.id), kept, 'not replaced');
  // Turning notifications off always works, limit or not.
  assert.equal((await file.api.delete('/devices/me/push', { token: bob.token })).status, 204);
  assert.deepEqual(await subscriptionRows(bob.device.id), [], 'deleted past the limit');
  // Per device: another is not held.
  await subscribe(carol, subscription('carol'));
  // Once the hour is over, the device may again.
  await file.stack.pool.query("UPDATE throttles SET expires_at = now() WHERE kind = 'push-subscription' AND key = $1", [bob.device.id]);
  const renewed = subscription('bob-next-hour');
  await subscribe(bob, renewed);
  assert.deepEqual(await subscriptionRows(bob.device.id), [{ endpoint: renewed.json.endpoint }]);
});
