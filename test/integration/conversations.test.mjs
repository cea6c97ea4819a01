// 1:1 conversations and their message pages; who may read what.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../support/stack.mjs';
import { Api, randomUUID } from '../support/api.mjs';

let stack;
let api;
let alice;
let bob;
let carol;

before(async () => {
  stack = await startStack();
  api = new Api(stack.baseUrl);
  [alice, bob, carol] = [await api.register(), await api.register(), await api.register()];
});
after(() => stack?.stop());

async function insertMessages(conversationId, senderId, count) {
  await stack.pool.query(
    `INSERT INTO messages (id, conversation_id, seq, sender_id, kind, epoch, ciphertext, client_msg_id, created_at)
     SELECT gen_random_uuid(), $1, g, $2, 'app', 0, decode(md5(g::text), 'hex'), 'c-' || g || '-' || md5(random()::text),
            now() - (g || ' milliseconds')::interval
     FROM generate_series(1, $3) g`,
    [conversationId, senderId, count]);
}

test('the 1:1 conversation is created once per pair, whoever asks first', async () => {
  const [fromAlice, fromBob] = await Promise.all([
    api.get(`/conversations/${bob.user.id}`, { token: alice.token }),
    api.get(`/conversations/${alice.user.id}`, { token: bob.token }),
  ]);
  assert.equal(fromAlice.status, 200);
  assert.equal(fromBob.status, 200);
  assert.equal(fromAlice.body.id, fromBob.body.id);
  assert.equal(fromAlice.body.kind, 'direct');
  assert.deepEqual(new Set(fromAlice.body.members.map((m) => m.userId)), new Set([alice.user.id, bob.user.id]));
  const again = await api.get(`/conversations/${bob.user.id}`, { token: alice.token });
  assert.equal(again.body.id, fromAlice.body.id);
  const byId = await api.get(`/conversations/${fromAlice.body.id}`, { token: bob.token });
  assert.equal(byId.body.id, fromAlice.body.id);
  const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM conversations');
  assert.equal(rows[0].n, 1);
});

test('messages come newest first in keyset pages, by peer or by conversation id', async () => {
  const conversation = (await api.get(`/conversations/${bob.user.id}`, { token: alice.token })).body;
  await insertMessages(conversation.id, alice.user.id, 7);
  const first = await api.get(`/conversations/${bob.user.id}/messages?limit=5`, { token: alice.token });
  assert.equal(first.status, 200);
  assert.equal(first.body.items.length, 5);
  assert.ok(first.body.nextCursor);
  const second = await api.get(`/conversations/${conversation.id}/messages?limit=5&cursor=${first.body.nextCursor}`, { token: bob.token });
  assert.equal(second.body.items.length, 2);
  assert.equal(second.body.nextCursor, null);
  const all = [...first.body.items, ...second.body.items];
  const times = all.map((m) => Date.parse(m.createdAt));
  assert.deepEqual(times, [...times].sort((a, b) => b - a));
  assert.equal(new Set(all.map((m) => m.id)).size, 7);
  assert.ok(all.every((m) => m.conversationId === conversation.id && m.senderId === alice.user.id && m.kind === 'app'));
  assert.equal(Buffer.from(all[0].ciphertext, 'base64').length, 16);
  const defaults = await api.get(`/conversations/${bob.user.id}/messages`, { token: alice.token });
  assert.equal(defaults.body.items.length, 7);
});

test('a user cannot read or join another pair\'s conversation', async () => {
  const conversation = (await api.get(`/conversations/${bob.user.id}`, { token: alice.token })).body;
  const read = await api.get(`/conversations/${conversation.id}/messages`, { token: carol.token });
  assert.equal(read.status, 403);
  assert.equal(read.body.error.code, 'not_a_member');
  const view = await api.get(`/conversations/${conversation.id}`, { token: carol.token });
  assert.equal(view.status, 403);
  // Addressing Bob gets Carol her own conversation with Bob, which holds none of Alice's messages.
  const own = await api.get(`/conversations/${bob.user.id}/messages`, { token: carol.token });
  assert.equal(own.status, 200);
  assert.deepEqual(own.body.items, []);
  const { rows } = await stack.pool.query(
    'SELECT count(*)::int AS n FROM members WHERE conversation_id = $1 AND user_id = $2', [conversation.id, carol.user.id]);
  assert.equal(rows[0].n, 0);
});

test('reading a pair that never talked returns no messages and creates nothing', async () => {
  const dave = await api.register();
  const res = await api.get(`/conversations/${carol.user.id}/messages`, { token: dave.token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { items: [], nextCursor: null });
  const { rows } = await stack.pool.query(
    'SELECT count(*)::int AS n FROM members WHERE user_id = $1', [dave.user.id]);
  assert.equal(rows[0].n, 0);
});

test('no conversation with yourself or with nobody', async () => {
  const self = await api.get(`/conversations/${alice.user.id}`, { token: alice.token });
  assert.equal(self.status, 400);
  assert.equal(self.body.error.code, 'self_conversation');
  const nobody = await api.get(`/conversations/${randomUUID()}`, { token: alice.token });
  assert.equal(nobody.status, 404);
  const nobodyMessages = await api.get(`/conversations/${randomUUID()}/messages`, { token: alice.token });
  assert.equal(nobodyMessages.status, 404);
});
