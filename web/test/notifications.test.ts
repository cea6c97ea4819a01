// Notifications in the SDK: this device's push subscription and each conversation's mute, against
// the real Worker (the pushes themselves are test/integration/push.test.mjs's).
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { fileStack } from './harness.ts';
import { randomPhone } from '../../test/support/api.mjs';
import { ApiError, ChatClient } from '../sdk/client.ts';
import { isMuted, mutedUntil } from '../sdk/notifications.ts';

const file = fileStack();
let storeCounter = 0;

async function newClient(name: string): Promise<ChatClient> {
  const client = new ChatClient({ baseUrl: file.stack.baseUrl, storeName: `${name}-${++storeCounter}`, deviceLabel: name, keyPackageTarget: 2 });
  await client.register(randomPhone(), name, 'correct horse battery');
  file.clients.push(client);
  return client;
}

/** What a browser's `PushSubscription.toJSON()` gives, for a push service at `endpoint`. */
function browserSubscription(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { endpoint, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
}

const subscriptionOf = async (deviceId: string) =>
  (await file.stack.pool.query('SELECT endpoint FROM push_subscriptions WHERE device_id = $1', [deviceId])).rows.map((r: { endpoint: string }) => r.endpoint);

test('the mute choices are 8 hours, a week, always, or off, from the moment chosen', () => {
  const now = new Date('2026-11-30T10:00:00.000Z');
  assert.equal(mutedUntil('8-hours', now), '2026-11-30T18:00:00.000Z');
  assert.equal(mutedUntil('week', now), '2026-12-07T10:00:00.000Z');
  assert.equal(mutedUntil('always', now), 'always');
  assert.equal(mutedUntil('off', now), null);
  const settings = (until: string | null) => ({ conversationId: 'c', mutedUntil: until });
  assert.equal(isMuted(settings('always'), now), true);
  assert.equal(isMuted(settings('2026-11-30T10:00:01.000Z'), now), true);
  assert.equal(isMuted(settings('2026-11-30T09:59:59.000Z'), now), false, 'a mute that ran out');
  assert.equal(isMuted(settings(null), now), false);
});

test('a device subscribes with the server\'s key, is refused a bad subscription, and unsubscribes', async () => {
  const ana = await newClient('Ana Push');
  assert.equal(await ana.notifications.serverKey(), file.stack.vapidPublicKey);
  const deviceId = ana.deviceId;
  const subscription = browserSubscription('http://127.0.0.1:9/push/ana');
  await ana.notifications.subscribe(subscription);
  assert.deepEqual(await subscriptionOf(deviceId), [subscription.endpoint]);
  await assert.rejects(ana.notifications.subscribe(browserSubscription('http://push.example/ana')),
    (e: unknown) => e instanceof ApiError && e.status === 400 && e.code === 'invalid_endpoint');
  await assert.rejects(ana.notifications.subscribe({ endpoint: subscription.endpoint }), TypeError);
  assert.deepEqual(await subscriptionOf(deviceId), [subscription.endpoint], 'a refused one changes nothing');
  await ana.notifications.unsubscribe();
  assert.deepEqual(await subscriptionOf(deviceId), []);
});

test('a member mutes a conversation for 8 hours, a week or always, and unmutes; a stranger cannot', async () => {
  const [ben, cam, dee] = [await newClient('Ben Mute'), await newClient('Cam Mute'), await newClient('Dee Mute')];
  const conversation = await ben.openDirect(cam.user!.id);
  const before = Date.now();
  const eight = await ben.notifications.mute(conversation.id, '8-hours');
  const until = Date.parse(eight.mutedUntil!);
  assert.ok(until >= before + 8 * 3600_000 - 1000 && until <= Date.now() + 8 * 3600_000 + 1000, eight.mutedUntil!);
  assert.ok(isMuted(await ben.notifications.settings(conversation.id)));
  assert.equal((await ben.notifications.mute(conversation.id, 'always')).mutedUntil, 'always');
  assert.equal(isMuted(await cam.notifications.settings(conversation.id)), false, 'a mute is the muter\'s own');
  assert.equal((await ben.notifications.mute(conversation.id, 'off')).mutedUntil, null);
  await assert.rejects(dee.notifications.mute(conversation.id, 'week'), (e: unknown) => e instanceof ApiError && e.status >= 400 && e.status < 500);
});
