// Deleting messages for everyone and disappearing messages, on the server's side: who may delete a
// message's ciphertext, the tombstone it leaves (so `seq` order and pages have no holes), who may
// set a conversation's timer, and the expiry it gives the messages sent after it. The server sees
// only opaque bytes, so these tests send arbitrary ones; web/test/rich.test.ts drives the same
// paths with real MLS from the SDK.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileStack } from '../support/file-stack.mjs';

const file = fileStack();
afterEach(() => file.closeSockets());

const opaque = () => randomBytes(48).toString('base64');
let counter = 0;

/** Sends an event and waits for its ack or error, matched by its `id`. */
async function roundTrip(socket, event) {
  const id = `r-${++counter}`;
  socket.send({ ...event, id });
  return socket.next((e) => (e.type === 'ack' || e.type === 'error') && e.ref === id);
}

/** A group of `owner` with `others` in it, at epoch 1 (its first commit made). */
async function group(owner, others) {
  const { body } = await file.api.post('/conversations', { title: 'Team', memberIds: others.map((u) => u.user.id) }, { token: owner.token });
  const socket = await file.open(owner.token);
  const committed = await roundTrip(socket, { type: 'commit', conversationId: body.id, epoch: 0, clientMsgId: `c-${++counter}`, commit: opaque() });
  assert.equal(committed.type, 'ack', JSON.stringify(committed));
  return body;
}

async function send(socket, conversationId, epoch = 1) {
  const ack = await roundTrip(socket, { type: 'send-message', conversationId, clientMsgId: `m-${++counter}`, epoch, ciphertext: opaque() });
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  return ack.message;
}

const del = (conversationId, messageId, token) => file.api.delete(`/conversations/${conversationId}/messages/${messageId}`, { token });
const page = async (conversationId, token) => (await file.api.get(`/conversations/${conversationId}/messages?limit=100`, { token })).body.items;

test('a message deleted for everyone leaves a tombstone in its place: its sender may, a plain member may not', async () => {
  const [owner, ana, bob, outsider] = [await file.api.register(), await file.api.register(), await file.api.register(), await file.api.register()];
  const conversation = await group(owner, [ana, bob]);
  const [a] = [await file.open(ana.token)];
  const first = await send(a, conversation.id);
  const second = await send(a, conversation.id);
  const third = await send(a, conversation.id);

  assert.equal((await del(conversation.id, second.id, bob.token)).body.error.code, 'forbidden', "a plain member cannot delete someone else's message");
  assert.equal((await del(conversation.id, second.id, outsider.token)).status, 404, 'nor can someone outside the group');
  assert.equal((await del(crypto.randomUUID(), second.id, ana.token)).status, 404, 'the message must be of the conversation named');
  assert.equal((await del(conversation.id, 'nope', ana.token)).body.error.code, 'invalid_id');

  assert.equal((await del(conversation.id, second.id, ana.token)).status, 204);
  assert.equal((await del(conversation.id, second.id, ana.token)).status, 204, 'asking again is no error');
  const items = await page(conversation.id, bob.token);
  const bySeq = new Map(items.map((m) => [m.seq, m]));
  assert.deepEqual([first.seq, second.seq, third.seq].map((seq) => bySeq.has(seq)), [true, true, true], 'no hole in seq');
  const tombstone = bySeq.get(second.seq);
  assert.equal(tombstone.deleted, 'retracted');
  assert.equal(tombstone.ciphertext, '');
  assert.equal(bySeq.get(first.seq).deleted, undefined);
  assert.equal(bySeq.get(first.seq).ciphertext.length > 0, true);
  const { rows } = await file.stack.pool.query('SELECT octet_length(ciphertext) AS n FROM messages WHERE id = $1', [second.id]);
  assert.equal(rows[0].n, 0, 'the ciphertext is gone from the database, not just hidden');

  // A catch-up by sync carries the tombstone too.
  const b = await file.open(bob.token);
  b.send({ type: 'sync', paged: true, after: { [conversation.id]: 0 } });
  const synced = [];
  for (;;) {
    const event = await b.next((e) => e.type === 'message' || e.type === 'synced');
    if (event.type === 'synced') break;
    synced.push(event.message);
  }
  assert.equal(synced.find((m) => m.seq === second.seq)?.deleted, 'retracted');
});

test("a group's owner may delete anyone's message; a commit is no message to delete", async () => {
  const [owner, ana] = [await file.api.register(), await file.api.register()];
  const conversation = await group(owner, [ana]);
  const message = await send(await file.open(ana.token), conversation.id);
  assert.equal((await del(conversation.id, message.id, owner.token)).status, 204);
  const commit = (await page(conversation.id, owner.token)).find((m) => m.kind === 'commit');
  assert.equal((await del(conversation.id, commit.id, owner.token)).status, 404);
});

test("in a 1:1, only the sender deletes a message for everyone, not the other person", async () => {
  const [ana, bob] = [await file.api.register(), await file.api.register()];
  const direct = (await file.api.get(`/conversations/${bob.user.id}`, { token: ana.token })).body;
  const message = await send(await file.open(ana.token), direct.id, 0);
  assert.equal((await del(direct.id, message.id, bob.token)).body.error.code, 'forbidden');
  assert.equal((await del(direct.id, message.id, ana.token)).status, 204);
});

test('a timer is set by either person of a 1:1 and by owners in a group, and dates the messages sent after it', async () => {
  const [owner, ana, bob] = [await file.api.register(), await file.api.register(), await file.api.register()];
  const patch = (id, body, token) => file.api.patch(`/conversations/${id}`, body, { token });
  const conversation = await group(owner, [ana]);
  assert.equal((await patch(conversation.id, { disappearAfterSeconds: 3600 }, ana.token)).body.error.code, 'forbidden');
  assert.equal((await patch(conversation.id, { disappearAfterSeconds: 3600 }, bob.token)).body.error.code, 'not_a_member');
  assert.equal((await patch(conversation.id, { disappearAfterSeconds: 60 }, owner.token)).body.error.code, 'invalid_field');
  assert.equal((await patch(conversation.id, {}, owner.token)).status, 400, 'left out is not "off"');

  const a = await file.open(ana.token);
  const before = await send(a, conversation.id);
  const set = await patch(conversation.id, { disappearAfterSeconds: 86400 }, owner.token);
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.disappearAfterSeconds, 86400);
  assert.equal((await file.api.get(`/conversations/${conversation.id}`, { token: ana.token })).body.disappearAfterSeconds, 86400);
  const after = await send(a, conversation.id);
  const expiry = async (id) => (await file.stack.pool.query('SELECT extract(epoch FROM expires_at - created_at)::int AS s FROM messages WHERE id = $1', [id])).rows[0].s;
  assert.equal(await expiry(before.id), null, 'a message from before the timer keeps no expiry');
  assert.equal(await expiry(after.id), 86400);

  assert.equal((await patch(conversation.id, { disappearAfterSeconds: null }, owner.token)).body.disappearAfterSeconds, null);
  assert.equal(await expiry((await send(a, conversation.id)).id), null, 'off again');

  // Either person of a 1:1 sets theirs; a peer id names the 1:1 as it does for GET.
  const direct = await patch(bob.user.id, { disappearAfterSeconds: 3600 }, ana.token);
  assert.equal(direct.status, 200, JSON.stringify(direct.body));
  assert.equal(direct.body.kind, 'direct');
  assert.equal((await patch(direct.body.id, { disappearAfterSeconds: 604800 }, bob.token)).body.disappearAfterSeconds, 604800);
});
