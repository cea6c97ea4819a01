// The realtime path through UserHub Durable Objects: real WebSocket clients against wrangler dev
// and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signJwt } from '../support/api.mjs';
import { Socket } from '../support/ws.mjs';
import { fileStack } from '../support/file-stack.mjs';
import http from 'node:http';

/** The HTTP status and body of a WebSocket handshake that the server refuses (101 if it does not). */
function upgradeAnswer(headers, path = '/ws') {
  return new Promise((resolve, reject) => {
    const req = http.get(`${file.stack.baseUrl}${path}`, {
      headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: 101, body: null }); });
    req.on('error', reject);
  });
}

const upgradeStatus = async (headers) => (await upgradeAnswer(headers)).status;

const JWT_SECRET = 'realtime-test-secret-0123456789abcdef0123';
// Every hub refuses its first disconnect call, so each revocation below lands only if it is tried
// again; the session re-check (a minute) is too slow to stand in for it within a test's waits.
// The database counts calls of PL/pgSQL functions (pg_stat_user_functions), which shows that a
// group commit is one statement.
const file = fileStack({
  secrets: { JWT_SECRET },
  vars: { TEST_HUB_REFUSES_FIRST_DISCONNECT: 'true' },
  databaseSettings: { track_functions: 'pl' },
});

/** What a hub logs when it refuses a disconnect call for TEST_HUB_REFUSES_FIRST_DISCONNECT. */
const REFUSED_DISCONNECT = /refused this disconnect/g;

async function open(user, options) {
  const socket = await file.open(user.token, options);
  assert.equal(socket.ready.userId, user.user.id);
  return socket;
}

const b64 = (text) => Buffer.from(text).toString('base64');
let counter = 0;
const clientMsgId = () => `c-${Date.now()}-${++counter}`;

test('delivers to every socket of the recipient and to the sender\'s other sockets, after the commit', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const [a1, a2] = [await open(alice), await open(alice)];
  const [b1, b2] = [await open(bob), await open(bob)];
  const id = clientMsgId();
  a1.send({ type: 'send-message', id: 'r1', toUserId: bob.user.id, clientMsgId: id, epoch: 0, ciphertext: b64('opaque bytes') });
  const ack = await a1.next('ack');
  assert.equal(ack.ref, 'r1');
  assert.equal(ack.clientMsgId, id);
  // Acknowledged means committed: the row is there the moment the ack is.
  const { rows } = await file.stack.pool.query('SELECT id, seq, ciphertext FROM messages WHERE client_msg_id = $1', [id]);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].id, ack.message.id);
  assert.equal(rows[0].ciphertext.toString(), 'opaque bytes');
  for (const socket of [b1, b2, a2]) {
    const { message } = await socket.next('message');
    assert.equal(message.id, ack.message.id);
    assert.equal(message.senderId, alice.user.id);
    assert.equal(Buffer.from(message.ciphertext, 'base64').toString(), 'opaque bytes');
  }
  await a1.nothing('message');
});

test('resending the same clientMsgId returns the same message and stores nothing twice', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const a = await open(alice);
  const id = clientMsgId();
  const event = { type: 'send-message', toUserId: bob.user.id, clientMsgId: id, ciphertext: b64('once') };
  a.send(event);
  const first = await a.next('ack');
  a.send(event);
  const second = await a.next('ack');
  assert.deepEqual(second.message, first.message);
  const { rows } = await file.stack.pool.query('SELECT count(*)::int AS n FROM messages WHERE sender_id = $1', [alice.user.id]);
  assert.equal(rows[0].n, 1);

  // Clients apply a conversation strictly in seq order, so a resend must not use up a seq:
  // the next message comes right after, with no hole to wait at. Not even when the same send
  // arrives from two tabs at once.
  const a2 = await open(alice);
  const twice = { type: 'send-message', conversationId: first.message.conversationId, clientMsgId: clientMsgId(), ciphertext: b64('twice') };
  a.send(twice);
  a2.send(twice);
  const [one, other] = [await a.next('ack'), await a2.next('ack')];
  assert.deepEqual(one.message, other.message);
  a.send({ type: 'send-message', conversationId: first.message.conversationId, clientMsgId: clientMsgId(), ciphertext: b64('next') });
  const next = await a.next('ack');
  assert.deepEqual([first.message.seq, one.message.seq, next.message.seq], [1, 2, 3]);
  const head = await file.stack.pool.query('SELECT last_seq::int AS n FROM conversations WHERE id = $1', [first.message.conversationId]);
  assert.equal(head.rows[0].n, 3);
});

test('a burst from one socket is stored in group commits, acked in the order sent, with no gap in seq', async () => {
  const [alice, bob, carol, dave] = [await file.api.register(), await file.api.register(), await file.api.register(), await file.api.register()];
  const a = await open(alice);
  const b = await open(bob);
  const { body: conversation } = await file.api.get(`/conversations/${bob.user.id}`, { token: alice.token });
  const { body: notHers } = await file.api.get(`/conversations/${dave.user.id}`, { token: carol.token });
  const COUNT = 60;
  const sends = Array.from({ length: COUNT }, (_, i) => ({
    type: 'send-message', id: `burst-${i}`, conversationId: conversation.id, clientMsgId: clientMsgId(), ciphertext: b64(`burst ${i}`),
  }));
  // Inside the burst: a resend of an earlier message (answered with the original, taking no seq)
  // and a send to someone else's conversation (refused alone, the others unaffected).
  sends[40] = { ...sends[10], id: 'burst-40' };
  sends[50] = { ...sends[50], conversationId: notHers.id };
  for (const e of sends) a.send(e);

  const arrived = [];
  for (let i = 0; i < COUNT; i += 1) arrived.push(await a.next((e) => e.type === 'ack' || e.type === 'error', 10_000));
  const acks = arrived.filter((e) => e.type === 'ack');
  assert.deepEqual(acks.map((e) => e.ref), sends.filter((_, i) => i !== 50).map((e) => e.id), 'acked in the order sent');
  const refused = arrived.find((e) => e.type === 'error');
  assert.deepEqual([refused.ref, refused.code], ['burst-50', 'not_a_member']);
  const answers = sends.map((e) => arrived.find((answer) => answer.ref === e.id));
  assert.deepEqual(answers[40].message, answers[10].message, 'a resend inside the burst is answered with the original');
  const seqs = answers.filter((e, i) => e.type === 'ack' && i !== 40).map((e) => e.message.seq);
  assert.deepEqual(seqs, Array.from({ length: COUNT - 2 }, (_, i) => i + 1), 'seqs follow the order sent, with no gap');

  const { rows } = await file.stack.pool.query(
    'SELECT count(*)::int AS messages, count(DISTINCT xmin::text)::int AS transactions FROM messages WHERE conversation_id = $1',
    [conversation.id]);
  assert.equal(rows[0].messages, COUNT - 2);
  // Rows a transaction wrote share its xmin: sends that arrived while one commit ran were stored
  // together, not one commit each.
  assert.ok(rows[0].transactions <= (COUNT - 2) / 3, `${rows[0].transactions} commits for ${rows[0].messages} messages`);
  // Each commit of several messages is one call of send_messages (migration 0020), not one
  // statement per message, in this file's database so far: at least one call per commit that
  // stored several messages (the old pipelined statements made none), and no more calls than
  // commits (one call per message would make about three times as many). A backend reports its
  // calls once idle, and at most once a second: else ten seconds later.
  const calls = async () => (await file.stack.pool.query(
    "SELECT coalesce(sum(calls), 0)::int AS n FROM pg_stat_user_functions WHERE funcname = 'send_messages'")).rows[0].n;
  const { rows: [commits] } = await file.stack.pool.query(
    `SELECT count(*)::int AS all, count(*) FILTER (WHERE n > 1)::int AS several
     FROM (SELECT count(*) AS n FROM messages GROUP BY xmin::text) AS per_commit`);
  assert.ok(commits.several >= 1, 'the burst was stored in commits of several messages');
  const deadline = Date.now() + 20_000;
  while (await calls() < commits.several && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
  const batches = await calls();
  assert.ok(batches >= commits.several && batches <= commits.all,
    `${batches} calls of send_messages for ${commits.several} commits of several messages (${commits.all} commits in all)`);

  // The resend is routed again (its first routing may have been lost), which clients drop by id.
  const received = [];
  while (received.length < COUNT - 2) {
    const { seq } = (await b.next('message', 10_000)).message;
    if (!received.includes(seq)) received.push(seq);
  }
  assert.deepEqual(received, seqs, 'the recipient gets every one, in seq order');
});

test('two users bursting into the same two conversations in opposite orders commit without a deadlock', async () => {
  const [una, vic] = [await file.api.register(), await file.api.register()];
  const [u, v] = [await open(una), await open(vic)];
  const { body: direct } = await file.api.get(`/conversations/${vic.user.id}`, { token: una.token });
  const { body: group } = await file.api.post('/conversations', { title: 'Both', memberIds: [vic.user.id] }, { token: una.token });
  const send = (socket, conversationId, text) =>
    socket.send({ type: 'send-message', conversationId, clientMsgId: clientMsgId(), epoch: 0, ciphertext: b64(text) });
  // Each batch holds the rows of the conversations it writes to until it commits: Una's take the
  // direct one first and Vic's the group first, unless every batch takes them in one order.
  // Whether two batches overlap is up to timing: a few waves make it likely (a second apart, so
  // each socket stays within its 100-event burst).
  const ROUNDS = 20;
  const WAVES = 4;
  for (let wave = 0; wave < WAVES; wave += 1) {
    if (wave > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
    for (let i = 0; i < ROUNDS; i += 1) {
      send(u, direct.id, `u-d-${i}`);
      send(u, group.id, `u-g-${i}`);
      send(v, group.id, `v-g-${i}`);
      send(v, direct.id, `v-d-${i}`);
    }
    for (const socket of [u, v]) {
      for (let i = 0; i < 2 * ROUNDS; i += 1) assert.equal((await socket.next((e) => e.type === 'ack' || e.type === 'error', 15_000)).type, 'ack');
    }
  }
  const { rows } = await file.stack.pool.query(
    'SELECT conversation_id, array_agg(seq ORDER BY seq) AS seqs FROM messages WHERE conversation_id = ANY($1) GROUP BY 1',
    [[direct.id, group.id]]);
  for (const row of rows) assert.deepEqual(row.seqs.map(Number), Array.from({ length: 2 * ROUNDS * WAVES }, (_, i) => i + 1));
  // A deadlock is broken by PostgreSQL after a second by aborting one batch, whose sends are
  // then stored one by one, which the hub logs (the line may reach wrangler's output a moment
  // after the acks).
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.doesNotMatch(file.stack.logs(), /"event":"hub.group_commit"/);
});

test('a socket catches up with sync after being offline, in order, with nothing missing', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const a = await open(alice);
  const b = await open(bob);
  a.send({ type: 'send-message', toUserId: bob.user.id, clientMsgId: clientMsgId(), ciphertext: b64('m0') });
  const { message: first } = await b.next('message');
  await a.next('ack');
  await b.close();
  const sent = [];
  for (let i = 1; i <= 20; i += 1) {
    a.send({ type: 'send-message', conversationId: first.conversationId, clientMsgId: clientMsgId(), ciphertext: b64(`m${i}`) });
    sent.push((await a.next('ack')).message.id);
  }
  const back = await open(bob);
  back.send({ type: 'sync', after: { [first.conversationId]: first.seq } });
  const synced = await back.next('synced');
  const received = back.events.filter((e) => e.type === 'message').map((e) => e.message);
  assert.deepEqual(received.map((m) => m.id), sent);
  assert.deepEqual(received.map((m) => m.seq), received.map((_, i) => first.seq + 1 + i));
  assert.equal(synced.after[first.conversationId], first.seq + 20);
});

test('receipts are stored once, delivered before read, and reach the sender', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const a = await open(alice);
  const b = await open(bob);
  a.send({ type: 'send-message', toUserId: bob.user.id, clientMsgId: clientMsgId(), ciphertext: b64('hi') });
  const { message } = await b.next('message');
  b.send({ type: 'receipt', id: 'd', messageId: message.id, kind: 'delivered' });
  assert.equal((await b.next('ack')).ref, 'd');
  const delivered = await a.next('receipt');
  assert.deepEqual([delivered.messageId, delivered.userId, delivered.kind], [message.id, bob.user.id, 'delivered']);
  b.send({ type: 'receipt', messageId: message.id, kind: 'read' });
  b.send({ type: 'receipt', messageId: message.id, kind: 'read' });
  const read = await a.next('receipt');
  assert.equal(read.kind, 'read');
  const { rows } = await file.stack.pool.query('SELECT delivered_at, read_at FROM receipts WHERE message_id = $1', [message.id]);
  assert.equal(rows.length, 1);
  assert.ok(rows[0].delivered_at <= rows[0].read_at);
  // The sender cannot receipt their own message.
  a.send({ type: 'receipt', id: 'own', messageId: message.id, kind: 'read' });
  assert.equal((await a.next('error')).code, 'own_message');

  // A sender that was away asks again for the receipts on its messages from a seq on.
  const later = await open(alice);
  later.send({ type: 'sync', after: { [message.conversationId]: message.seq }, receiptsFrom: { [message.conversationId]: message.seq } });
  const replayed = await later.next('receipt');
  assert.deepEqual([replayed.messageId, replayed.userId, replayed.kind], [message.id, bob.user.id, 'read']);
  await later.next('synced');
  // Only the caller's own messages, and only where asked.
  b.send({ type: 'sync', after: { [message.conversationId]: message.seq }, receiptsFrom: { [message.conversationId]: 0 } });
  await b.next('synced');
  await b.nothing((e) => e.type === 'receipt' && e.messageId === message.id && e.userId === bob.user.id);
});

test('typing reaches the other member and is not stored', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const conversation = (await file.api.get(`/conversations/${bob.user.id}`, { token: alice.token })).body;
  const a = await open(alice);
  const b = await open(bob);
  a.send({ type: 'typing', conversationId: conversation.id, on: true });
  const typing = await b.next('typing');
  assert.deepEqual([typing.conversationId, typing.userId, typing.on], [conversation.id, alice.user.id, true]);
  await a.nothing('typing');
});

test('every bad event gets an error naming it, and the socket stays open', async () => {
  const [alice, bob, carol] = [await file.api.register(), await file.api.register(), await file.api.register()];
  const theirs = (await file.api.get(`/conversations/${bob.user.id}`, { token: alice.token })).body;
  const c = await open(carol);
  const cases = [
    ['{not json', 'invalid_json', undefined],
    [{ type: 'dance', id: 'u' }, 'unknown_type', 'u'],
    [{ type: 'send-message', id: 'f', clientMsgId: 'x', ciphertext: b64('x') }, 'invalid_field', 'f'],
    [{ type: 'send-message', id: 'm', conversationId: theirs.id, clientMsgId: clientMsgId(), ciphertext: b64('x') }, 'not_a_member', 'm'],
    [{ type: 'typing', id: 't', conversationId: theirs.id, on: true }, 'not_a_member', 't'],
    [{ type: 'send-message', id: 'big', toUserId: bob.user.id, clientMsgId: clientMsgId(), ciphertext: Buffer.alloc(65 * 1024).toString('base64') }, 'too_large', 'big'],
    [{ type: 'send-message', id: 'nul', toUserId: bob.user.id, clientMsgId: 'a\u0000', ciphertext: b64('x') }, 'invalid_text', 'nul'],
  ];
  for (const [event, code, ref] of cases) {
    c.send(event);
    const error = await c.next('error');
    assert.equal(error.code, code, JSON.stringify(event).slice(0, 100));
    assert.equal(error.ref ?? undefined, ref);
    assert.ok(error.message.length > 5);
  }
  const { rows } = await file.stack.pool.query('SELECT count(*)::int AS n FROM messages WHERE sender_id = $1', [carol.user.id]);
  assert.equal(rows[0].n, 0);
  // Still open and working.
  c.send({ type: 'send-message', id: 'ok', toUserId: bob.user.id, clientMsgId: clientMsgId(), ciphertext: b64('fine') });
  assert.equal((await c.next('ack')).ref, 'ok');
});

test('a flood from one socket is throttled with a clear error, and others are served meanwhile', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const conversation = (await file.api.get(`/conversations/${bob.user.id}`, { token: alice.token })).body;
  const a = await open(alice);
  const b = await open(bob);
  for (let i = 0; i < 300; i += 1) a.send({ type: 'typing', conversationId: conversation.id, on: i % 2 === 0 });
  const limited = await a.next((e) => e.type === 'error' && e.code === 'rate_limited');
  assert.match(limited.message, /slow down/);
  b.send({ type: 'send-message', id: 'b', toUserId: alice.user.id, clientMsgId: clientMsgId(), ciphertext: b64('still here') });
  assert.equal((await b.next('ack', 10_000)).ref, 'b');
});

test('forged, revoked and missing tokens cannot open a socket', async () => {
  const user = await file.api.register();
  const now = Math.floor(Date.now() / 1000);
  const forged = signJwt({ sub: user.user.id, sid: crypto.randomUUID(), iat: now, exp: now + 60 }, 'not-the-secret-but-long-enough-anyway');
  await assert.rejects(Socket.open(file.stack.baseUrl, forged));
  assert.equal(await upgradeStatus({}), 401);
  assert.equal(await upgradeStatus({ 'sec-websocket-protocol': `bearer.${forged}` }), 400, 'a token without e2e-chat.v1');
  assert.equal(await upgradeStatus({ 'sec-websocket-protocol': `e2e-chat.v1, bearer.${forged}` }), 401);
  const plain = await file.api.get('/ws');
  assert.equal(plain.status, 426);
  assert.equal((await file.api.post('/auth/logout-all', undefined, { token: user.token })).status, 204);
  await assert.rejects(Socket.open(file.stack.baseUrl, user.token));
  // The hubs' own routes are not reachable from outside.
  for (const path of ['/connect', '/deliver', '/hub/deliver']) {
    assert.equal((await fetch(file.stack.baseUrl + path, { method: 'POST', body: '{}' })).status, 404, path);
  }
});

test('a token in the URL is refused before the upgrade, with an error that says where it goes', async () => {
  const user = await file.api.register();
  for (const headers of [{}, { 'sec-websocket-protocol': `e2e-chat.v1, bearer.${user.token}` }]) {
    const { status, body } = await upgradeAnswer(headers, `/ws?token=${user.token}`);
    assert.equal(status, 400);
    assert.equal(body.error.code, 'token_in_url');
    assert.match(body.error.message, /subprotocol/);
  }
  // Refused even with no upgrade and an empty token: it is the URL that is wrong.
  const plain = await file.api.get('/ws?token=');
  assert.equal(plain.status, 400);
  assert.equal(plain.body.error.code, 'token_in_url');
  // The same token in the subprotocol is accepted.
  await open(user);
});

test('revocation lands even when the hub refuses the first disconnect: it is tried again', async () => {
  const user = await file.api.register();
  const other = { ...user, token: (await file.api.post('/auth/login', { phone: user.user.phone, password: user.password })).body.token };
  const [stay, leaving] = [await open(user), await open(other)];
  const refusedBefore = file.stack.logs().match(REFUSED_DISCONNECT)?.length ?? 0;
  assert.equal((await file.api.post('/auth/logout', undefined, { token: other.token })).status, 204);
  // The log-out answers once the hub has taken the disconnect: the event is on its way by then.
  assert.equal((await leaving.next('session-ended', 1000)).reason, 'session-ended');
  await leaving.closing();
  assert.equal(file.stack.logs().match(REFUSED_DISCONNECT)?.length ?? 0, refusedBefore + 1, 'the first attempt was refused');
  await stay.nothing('session-ended');
  // Later revocations reach the same hub at the first attempt.
  assert.equal((await file.api.post('/auth/logout-all', undefined, { token: user.token })).status, 204);
  assert.equal((await stay.next('session-ended', 1000)).reason, 'session-ended');
  assert.equal(file.stack.logs().match(REFUSED_DISCONNECT)?.length ?? 0, refusedBefore + 1);
});

test('a socket lasts no longer than its session: log out closes it, and so does the token expiring', async () => {
  const user = await file.api.register();
  const stay = await open(user);
  const other = { ...user, token: (await file.api.post('/auth/login', { phone: user.user.phone, password: user.password })).body.token };
  const leaving = await open(other);
  assert.equal((await file.api.post('/auth/logout', undefined, { token: other.token })).status, 204);
  assert.equal((await leaving.next('session-ended')).reason, 'session-ended');
  await leaving.closing();
  await stay.nothing('session-ended');

  // A socket that never sends is closed when its token expires, by the hub's alarm: not at the
  // session re-check (a minute away) nor when the hub's database connection idles out, 5 s after
  // the socket was accepted and at least 2.5 s after the token expired.
  const { sid } = JSON.parse(Buffer.from(user.token.split('.')[1], 'base64url').toString());
  const exp = Math.ceil((Date.now() + 1500) / 1000);
  const shortLived = await open({ ...user, token: signJwt({ sub: user.user.id, sid, iat: Math.floor(Date.now() / 1000), exp }, JWT_SECRET) });
  assert.equal((await shortLived.next('session-ended', 8000)).reason, 'session-ended');
  const lateBy = Date.now() - exp * 1000;
  assert.ok(lateBy >= -50 && lateBy < 2000, `closed ${lateBy} ms after the token expired`);
  await shortLived.closing();
  stay.send({ type: 'typing', id: 'still', conversationId: crypto.randomUUID(), on: true });
  assert.equal((await stay.next('error')).ref, 'still', 'the long-lived token\'s socket is still served');
});

test('presence reaches conversation partners on the first open and the last close', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  await file.api.get(`/conversations/${bob.user.id}`, { token: alice.token });
  const b = await open(bob);
  const a1 = await open(alice);
  const online = await b.next((e) => e.type === 'presence' && e.userId === alice.user.id);
  assert.equal(online.online, true);
  const a2 = await open(alice);
  await a1.close();
  await b.nothing((e) => e.type === 'presence' && e.userId === alice.user.id);
  const listed = (await file.api.get(`/users?q=${encodeURIComponent(alice.user.phone)}`, { token: bob.token })).body.items[0];
  assert.equal(listed.online, true, JSON.stringify(listed));
  await a2.close();
  const offline = await b.next((e) => e.type === 'presence' && e.userId === alice.user.id);
  assert.equal(offline.online, false);
  assert.ok(Date.parse(offline.lastSeen) > Date.parse(alice.user.createdAt));
  const after = (await file.api.get(`/users?q=${encodeURIComponent(alice.user.phone)}`, { token: bob.token })).body.items[0];
  assert.equal(after.online, false);
  assert.equal(after.lastSeenAt, offline.lastSeen);
});

test('a user left marked online with no socket (a crash) is put right a moment after a delivery wakes their hub', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const { body: direct } = await file.api.get(`/conversations/${bob.user.id}`, { token: alice.token });
  // As after a crash: marked online, no socket, no close event to come.
  await file.stack.pool.query('UPDATE users SET online_since = now() WHERE id = $1', [bob.user.id]);
  const a = await open(alice);
  a.send({ type: 'send-message', id: 'wake', conversationId: direct.id, clientMsgId: clientMsgId(), epoch: 0, ciphertext: b64('hi') });
  assert.equal((await a.next((e) => e.ref === 'wake')).type, 'ack');
  // Within the repair's spread (5 s), not at once: a crowd of woken hubs asks the database by turns.
  const offline = await a.next((e) => e.type === 'presence' && e.userId === bob.user.id, 8000);
  assert.equal(offline.online, false);
  const { rows: [row] } = await file.stack.pool.query('SELECT online_since FROM users WHERE id = $1', [bob.user.id]);
  assert.equal(row.online_since, null);
});

test('a registration reaches every connected user', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const [a, b] = [await open(alice), await open(bob)];
  const carol = await file.api.register({ displayName: 'Newcomer Carol' });
  for (const socket of [a, b]) {
    const event = await socket.next((e) => e.type === 'user-registered' && e.user.id === carol.user.id);
    assert.equal(event.user.displayName, 'Newcomer Carol');
    assert.equal(event.user.passwordHash, undefined);
  }
});
