// What a push shows (web/sdk/push.ts, the service worker's logic) against the real Worker and a
// push service of the test's own: the push the Worker sends is decrypted as the browser would
// (RFC 8291) and its payload handed to `outcomeOf` with the receiving device's own store, as the
// service worker does. The text comes from MLS on the device, never from the server; what cannot
// be read is "New message"; and the page afterwards processes the message as if no push had come.
import 'fake-indexeddb/auto';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileStack, received } from './harness.ts';
import { randomPhone } from '../../test/support/api.mjs';
import { DEFAULT_VARS } from '../../test/support/stack.mjs';
import { PushService } from '../../test/support/push-service.mjs';
import { waitFor } from '../../test/support/wait.mjs';
import { ChatClient } from '../sdk/client.ts';
import { APP_NAME, NEW_MESSAGE, noticeText, outcomeOf, pushPayloadOf, shownText, withLine, withoutRead, type PushOutcome, type PushReader } from '../sdk/push.ts';
import type { PushPayload } from '../sdk/wire/index.ts';

const file = fileStack();
const service = new PushService();
before(() => service.start());
after(() => service.stop());

let storeCounter = 0;
type Client = ChatClient & { storeName: string };

async function registered(name: string): Promise<Client> {
  const storeName = `push-${name}-${++storeCounter}`;
  const client = new ChatClient({ baseUrl: file.stack.baseUrl, storeName, deviceLabel: name, keyPackageTarget: 2 });
  await client.register(randomPhone(), name, 'correct horse battery');
  file.clients.push(client);
  return Object.assign(client, { storeName });
}

/** `who` subscribed at the test's push service; pushes then reach it while it is disconnected. */
async function subscribed(who: ChatClient, name: string) {
  const sub = service.subscription(name);
  await who.notifications.subscribe(sub.json);
  return sub;
}

/** The payload of the next push to `sub` after the `seen` it had, as the browser decrypts it. */
async function nextPush(sub: ReturnType<PushService['subscription']>, seen: number): Promise<PushPayload> {
  const push = await waitFor(() => service.pushesTo(sub)[seen], { timeoutMs: 15_000, what: `push ${seen + 1} to ${sub.path}` });
  return service.read(push, sub, { serverKey: file.stack.vapidPublicKey, subject: DEFAULT_VARS.VAPID_SUBJECT }).payload as PushPayload;
}

const deviceOf = (client: Client, previews = true): PushReader => ({ storeName: client.storeName, baseUrl: file.stack.baseUrl, previews });

function shown(outcome: PushOutcome) {
  assert.equal(outcome.kind, 'show', JSON.stringify(outcome));
  return outcome as Extract<PushOutcome, { kind: 'show' }>;
}

async function pair() {
  const [ana, ben] = [await registered('Ana'), await registered('Ben')];
  const conversation = await ana.openDirect(ben.user!.id);
  await waitFor(() => ben.hasGroup(conversation.id), { what: 'Ben to join' });
  await ben.conversations(); // the listing the app keeps (its names are what a notification shows)
  return { ana, ben, conversation };
}

test('a push to a closed app shows who wrote and what, decrypted on the device, and the app still reads the message after', async () => {
  const { ana, ben, conversation } = await pair();
  const earlierArriving = received(ben, 'an earlier one');
  await ana.sendText(conversation.id, 'an earlier one');
  const earlier = await earlierArriving;
  await ben.settled(conversation.id);
  const sub = await subscribed(ben, 'ben');
  ben.disconnect();
  await ana.sendText(conversation.id, 'lunch at noon?');
  const payload = await nextPush(sub, 0);
  assert.equal(payload.type, 'message');
  assert.equal(payload.conversationId, conversation.id);
  assert.ok(!JSON.stringify(payload).includes('lunch'), 'the push carries no text');

  const outcome = shown(await outcomeOf(payload, deviceOf(ben)));
  assert.equal(outcome.title, 'Ana', 'a 1:1 is titled by the other person');
  assert.equal(outcome.line.text, 'lunch at noon?');
  assert.equal(outcome.line.seq, payload.seq);
  // Read twice (a push delivered again): the same text, since nothing was used up.
  assert.equal(shown(await outcomeOf(payload, deviceOf(ben))).line.text, 'lunch at noon?');

  // With previews hidden: neither who nor what.
  const hidden = shown(await outcomeOf(payload, deviceOf(ben, false)));
  assert.deepEqual([hidden.title, hidden.line.text], [APP_NAME, NEW_MESSAGE]);

  // The app, opened afterwards (a new page: what it knows comes from the store), decrypts the
  // same message in its turn: the service worker used up no key and saved no state.
  const reopened = Object.assign(new ChatClient({ baseUrl: file.stack.baseUrl, storeName: ben.storeName, deviceLabel: 'Ben', keyPackageTarget: 2 }), { storeName: ben.storeName });
  file.clients.push(reopened);
  const arriving = received(reopened, 'lunch at noon?');
  assert.equal(await reopened.resume(ben.storeName), true);
  await arriving;
  await reopened.settled(conversation.id);
  // Now the page has it: a late push is read from the page's copy...
  assert.equal(shown(await outcomeOf(payload, deviceOf(reopened))).line.text, 'lunch at noon?');
  // ...but only that very message at its place: a push relabelled with an older message's id
  // (to bring it up again as new) shows nothing.
  assert.deepEqual(await outcomeOf({ ...payload, messageId: earlier.id }, deviceOf(reopened)), { kind: 'none' });
});

test('in a group, the line names the sender and the notification the group', async () => {
  const [ana, ben, cy] = [await registered('Ana'), await registered('Ben'), await registered('Cy')];
  const group = await ana.createGroup('Climbing', [ben.user!.id, cy.user!.id]);
  await waitFor(() => ben.hasGroup(group.id) && cy.hasGroup(group.id), { what: 'both to join' });
  await ben.conversations(); // the listing the app keeps, with the group's title and members
  const sub = await subscribed(ben, 'ben-group');
  ben.disconnect();
  await cy.sendText(group.id, 'rope is in my car');
  const outcome = shown(await outcomeOf(await nextPush(sub, 0), deviceOf(ben)));
  assert.equal(outcome.title, 'Climbing');
  assert.equal(outcome.line.text, 'Cy: rope is in my car');
});

test('a push the server tampered with, or moved to another conversation, shows "New message", never its guess', async () => {
  const { ana, ben, conversation } = await pair();
  // Another conversation Ben is in, at the same epoch: its group state is on his device.
  const dee = await registered('Dee');
  const other = await dee.openDirect(ben.user!.id);
  await waitFor(() => ben.hasGroup(other.id), { what: 'Ben to join Dee\'s conversation' });
  assert.equal(ben.epoch(other.id), ben.epoch(conversation.id));
  const sub = await subscribed(ben, 'ben-hostile');
  ben.disconnect();
  await ana.sendText(conversation.id, 'the real text');
  const payload = await nextPush(sub, 0);
  assert.equal(payload.type, 'message');
  if (payload.type !== 'message' || !payload.ciphertext) throw new Error('a small message travels in its push');

  const bytes = Buffer.from(payload.ciphertext, 'base64');
  bytes[bytes.length - 5] ^= 0x01;
  const tampered = { ...payload, ciphertext: bytes.toString('base64') };
  assert.equal(shown(await outcomeOf(tampered, deviceOf(ben))).line.text, NEW_MESSAGE, 'a flipped bit is not read');

  // Labelled as another of Ben's conversations: its keys do not open it, and nothing is read.
  const moved = { ...payload, conversationId: other.id };
  assert.equal(shown(await outcomeOf(moved, deviceOf(ben))).line.text, NEW_MESSAGE);
  // And a ciphertext that is not MLS at all.
  const garbage = { ...payload, ciphertext: Buffer.from('not mls').toString('base64') };
  assert.equal(shown(await outcomeOf(garbage, deviceOf(ben))).line.text, NEW_MESSAGE);
});

test('a reaction to one\'s own message is shown; an edit is not', async () => {
  const { ana, ben, conversation } = await pair();
  await ben.sendText(conversation.id, 'I passed the exam');
  const atAna = await received(ana, 'I passed the exam');
  const sub = await subscribed(ben, 'ben-reactions');
  await ben.settled(conversation.id);
  ben.disconnect();
  await ana.react(atAna.key, '🎉');
  const reaction = shown(await outcomeOf(await nextPush(sub, 0), deviceOf(ben)));
  assert.equal(reaction.line.text, 'Reacted 🎉 to your message');

  const hers = await ana.sendText(conversation.id, 'typo here');
  const second = await nextPush(sub, 1);
  await ana.edit(hers.key, 'no typo here');
  const edit = await nextPush(sub, 2);
  assert.equal(shown(await outcomeOf(second, deviceOf(ben))).line.text, 'typo here');
  assert.deepEqual(await outcomeOf(edit, deviceOf(ben)), { kind: 'none' }, 'an edit is no new message');
});

test('what a push or a message says cannot pass for something else: payloads are checked, lines are one line', () => {
  const id = '6f1c1b1e-3c1a-4f55-9a53-0f6c2f9a1b2c';
  assert.equal(pushPayloadOf({ type: 'read', conversationId: '', seq: 3 }), null, 'an empty tag would match every notification');
  assert.equal(pushPayloadOf({ type: 'message', conversationId: id, seq: 0, messageId: id }), null);
  assert.equal(pushPayloadOf({ type: 'message', conversationId: id, seq: 2, messageId: id, ciphertext: 'not base64!' }), null);
  assert.equal(pushPayloadOf({ type: 'other', conversationId: id, seq: 2 }), null);
  assert.deepEqual(pushPayloadOf({ type: 'message', conversationId: id, seq: 2, messageId: id, extra: 1 }), { type: 'message', conversationId: id, seq: 2, messageId: id });
  assert.equal(shownText('ok\nAna: send me the code'), 'ok Ana: send me the code', 'a line break is no second line from someone else');
  assert.equal(shownText('evil\u202Egnp.exe'), 'evilgnp.exe', 'no bidirectional override');
  assert.equal([...shownText('x'.repeat(500))].length, 200);
});

test('one notification per conversation: lines gather, a repeat counts once, and what was read elsewhere goes', () => {
  const c = 'conversation-1';
  let notice = withLine(undefined, c, 'Ana', { seq: 4, text: 'one' });
  notice = withLine(notice, c, 'Ana', { seq: 5, text: 'two' });
  notice = withLine(notice, c, 'Ana', { seq: 5, text: 'two' });
  assert.deepEqual(noticeText(notice), { title: 'Ana (2 messages)', body: 'two\none' }, 'the newest first, as a collapsed notification shows it');
  for (let seq = 6; seq <= 10; seq += 1) notice = withLine(notice, c, 'Ana', { seq, text: `m${seq}` });
  assert.equal(notice.lines.length, 5, 'the newest five lines');
  assert.equal(noticeText(notice).title, 'Ana (7 messages)');
  assert.deepEqual(noticeText(notice).body.split('\n'), ['m10', 'm9', 'm8', 'm7', 'm6']);
  const rest = withoutRead(notice, 8)!;
  assert.deepEqual(rest.lines.map((l) => l.seq), [9, 10]);
  assert.equal(noticeText(rest).title, 'Ana (2 messages)');
  assert.equal(withoutRead(notice, 10), undefined, 'all read: the notification goes');
  // With previews hidden, the lines say nothing: a count instead.
  let hidden = withLine(undefined, c, APP_NAME, { seq: 1, text: NEW_MESSAGE });
  assert.deepEqual(noticeText(hidden), { title: APP_NAME, body: NEW_MESSAGE });
  hidden = withLine(hidden, c, APP_NAME, { seq: 2, text: NEW_MESSAGE });
  assert.deepEqual(noticeText(hidden), { title: APP_NAME, body: '2 new messages' });
});

test('a read on another device clears; an account signed out here shows nothing', async () => {
  assert.deepEqual(await outcomeOf({ type: 'read', conversationId: 'c1', seq: 9 }, { storeName: 'nobody', baseUrl: file.stack.baseUrl, previews: true }),
    { kind: 'clear', conversationId: 'c1', seq: 9 });
  const { ana, ben, conversation } = await pair();
  const sub = await subscribed(ben, 'ben-gone');
  ben.disconnect();
  await ana.sendText(conversation.id, 'still there?');
  const payload = await nextPush(sub, 0);
  assert.deepEqual(await outcomeOf(payload, { ...deviceOf(ben), storeName: 'a-store-with-no-session' }), { kind: 'none' });
});
