// Admin routes: who may use them, deleting a user with everything that is theirs, the last-admin
// guard, the audit log, and the live counts (with the structured log lines the requests leave).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../support/stack.mjs';
import { Api, randomUUID } from '../support/api.mjs';
import { Socket } from '../support/ws.mjs';
import { waitFor } from '../support/wait.mjs';

let stack;
let api;
let admin;

before(async () => {
  stack = await startStack();
  api = new Api(stack.baseUrl);
  admin = await api.register({ displayName: 'First User' });
});
after(() => stack?.stop());

/** Every row in the database that still refers to `userId`, by table. */
async function rowsReferring(userId) {
  const { rows } = await stack.pool.query(
    `SELECT 'users' AS t, count(*)::int AS n FROM users WHERE id = $1
     UNION ALL SELECT 'devices', count(*)::int FROM devices WHERE user_id = $1
     UNION ALL SELECT 'key_packages', count(*)::int FROM key_packages k JOIN devices d ON d.id = k.device_id WHERE d.user_id = $1
     UNION ALL SELECT 'members', count(*)::int FROM members WHERE user_id = $1
     UNION ALL SELECT 'messages', count(*)::int FROM messages WHERE sender_id = $1
     UNION ALL SELECT 'receipts', count(*)::int FROM receipts WHERE user_id = $1
     UNION ALL SELECT 'direct conversations', count(*)::int FROM conversations WHERE $1 IN (user_lo, user_hi)
     UNION ALL SELECT 'conversations created', count(*)::int FROM conversations WHERE created_by = $1
     UNION ALL SELECT 'audit actor', count(*)::int FROM audit_log WHERE actor_id = $1`,
    [userId]);
  return Object.fromEntries(rows.filter((r) => r.n > 0).map((r) => [r.t, r.n]));
}

async function orphans() {
  const { rows } = await stack.pool.query(
    `SELECT
       (SELECT count(*)::int FROM conversations c WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = c.id)) AS empty_conversations,
       (SELECT count(*)::int FROM messages m WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = m.conversation_id)) AS stray_messages,
       (SELECT count(*)::int FROM receipts r WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = r.message_id)) AS stray_receipts`);
  return rows[0];
}

test('the first registered user is the admin; others get 403 on admin routes', async () => {
  assert.equal(admin.user.isAdmin, true);
  const regular = await api.register();
  assert.equal(regular.user.isAdmin, false);
  for (const res of [
    await api.get('/admin/users', { token: regular.token }),
    await api.delete(`/admin/users/${admin.user.id}`, { token: regular.token }),
    await api.get('/admin/audit', { token: regular.token }),
  ]) {
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'forbidden');
  }
  assert.equal((await api.get('/admin/users')).status, 401);
});

test('lists every account with its admin flag, searchable and paged', async () => {
  const found = await api.register({ displayName: 'Findable Frank' });
  const page = await api.get('/admin/users?limit=100', { token: admin.token });
  assert.equal(page.status, 200);
  assert.ok(page.body.items.some((u) => u.id === admin.user.id && u.isAdmin));
  const search = await api.get('/admin/users?q=frank', { token: admin.token });
  assert.deepEqual(search.body.items.map((u) => u.id), [found.user.id]);
  const first = await api.get('/admin/users?limit=1', { token: admin.token });
  const second = await api.get(`/admin/users?limit=1&cursor=${first.body.nextCursor}`, { token: admin.token });
  assert.notEqual(first.body.items[0].id, second.body.items[0].id);
});

test('deleting a user removes their account, devices, memberships and direct chats; what they sent to groups stays, under a nameless tombstone', async () => {
  const victim = await api.register({ displayName: 'Victim' });
  const friend = await api.register({ displayName: 'Friend' });
  const other = await api.register({ displayName: 'Bystander' });
  const direct = (await api.get(`/conversations/${friend.user.id}`, { token: victim.token })).body;
  const untouched = (await api.get(`/conversations/${other.user.id}`, { token: friend.token })).body;
  const db = stack.pool;
  const deviceId = randomUUID();
  await db.query("INSERT INTO devices (id, user_id, label, credential) VALUES ($1, $2, 'phone', '\\x01')", [deviceId, victim.user.id]);
  await db.query("INSERT INTO key_packages (device_id, data) VALUES ($1, '\\x02'), ($1, '\\x03')", [deviceId]);
  // A group the victim created with the friend, and one where the victim was alone.
  const [shared, lonely] = [randomUUID(), randomUUID()];
  await db.query("INSERT INTO conversations (id, kind, title, created_by) VALUES ($1, 'group', 'Shared', $3), ($2, 'group', 'Lonely', $3)",
    [shared, lonely, victim.user.id]);
  await db.query("INSERT INTO members (conversation_id, user_id, role) VALUES ($1, $3, 'owner'), ($1, $4, 'member'), ($2, $3, 'owner')",
    [shared, lonely, victim.user.id, friend.user.id]);
  const message = async (conversation, sender, n) => {
    const id = randomUUID();
    await db.query("INSERT INTO messages (id, conversation_id, seq, sender_id, kind, epoch, ciphertext, client_msg_id) VALUES ($1, $2, $5, $3, 'app', 0, '\\xaa', $4)",
      [id, conversation, sender, `m${n}`, n]);
    return id;
  };
  const toFriend = await message(direct.id, victim.user.id, 1);
  const fromFriend = await message(direct.id, friend.user.id, 2);
  const inGroup = await message(shared, victim.user.id, 3);
  const friendInGroup = await message(shared, friend.user.id, 4);
  const keep = await message(untouched.id, friend.user.id, 5);
  await db.query('INSERT INTO receipts (message_id, user_id, delivered_at) VALUES ($1, $2, now()), ($3, $4, now()), ($5, $6, now())',
    [toFriend, friend.user.id, friendInGroup, victim.user.id, keep, other.user.id]);
  await db.query("INSERT INTO epochs (conversation_id, epoch) VALUES ($1, 0), ($2, 0)", [direct.id, shared]);
  assert.notDeepEqual(await rowsReferring(victim.user.id), {});

  const live = await Socket.open(stack.baseUrl, victim.token);
  await live.next('ready');
  const res = await api.delete(`/admin/users/${victim.user.id}`, { token: admin.token });
  assert.equal(res.status, 204);
  assert.equal((await live.next('session-ended')).reason, 'session-ended', 'the deleted account\'s open socket is told and closed, not left listening');
  await live.closing();

  // The group history others hold keeps its sender (a member still offline needs every commit
  // in it); everything else of the account is gone, and the tombstone holds nothing personal.
  assert.deepEqual(await rowsReferring(victim.user.id), { users: 1, messages: 1, 'conversations created': 1 });
  const tombstone = (await db.query('SELECT phone, display_name, password_hash, is_admin, deleted_at FROM users WHERE id = $1', [victim.user.id])).rows[0];
  assert.deepEqual({ ...tombstone, deleted_at: !!tombstone.deleted_at },
    { phone: null, display_name: 'Deleted account', password_hash: '', is_admin: false, deleted_at: true });
  assert.deepEqual(await orphans(), { empty_conversations: 0, stray_messages: 0, stray_receipts: 0 });
  const left = async (sql, params) => (await db.query(sql, params)).rows[0].n;
  assert.equal(await left('SELECT count(*)::int AS n FROM conversations WHERE id = ANY($1)', [[direct.id, lonely]]), 0);
  assert.equal(await left('SELECT count(*)::int AS n FROM messages WHERE id = ANY($1)', [[toFriend, fromFriend]]), 0);
  // What belongs to others stays: the shared group with both its messages, the friend's other chat.
  assert.equal(await left('SELECT count(*)::int AS n FROM messages WHERE id = ANY($1)', [[inGroup, friendInGroup, keep]]), 3);
  assert.equal(await left('SELECT count(*)::int AS n FROM receipts WHERE message_id = $1', [keep]), 1);
  assert.equal(await left('SELECT count(*)::int AS n FROM epochs WHERE conversation_id = $1', [shared]), 1);
  // The deleted user's token is dead, nobody can find or add them, and their phone can register again.
  assert.equal((await api.get('/auth/me', { token: victim.token })).status, 401);
  assert.equal((await api.get('/users?q=Victim', { token: friend.token })).body.items.length, 0);
  assert.equal((await api.get(`/users/${encodeURIComponent(victim.user.phone)}`, { token: friend.token })).status, 404);
  assert.equal((await api.post('/conversations', { title: 'Again', memberIds: [victim.user.id] }, { token: friend.token })).status, 404);
  assert.equal((await api.get(`/conversations/${victim.user.id}`, { token: friend.token })).status, 404);
  assert.equal((await api.delete(`/admin/users/${victim.user.id}`, { token: admin.token })).status, 404, 'deleted once');
  assert.equal((await api.post('/auth/login', { phone: victim.user.phone, password: victim.password })).status, 401);
  assert.equal((await api.post('/auth/register', { phone: victim.user.phone, displayName: 'New Owner', password: 'a fresh password' })).status, 201);

  const audit = await api.get('/admin/audit?limit=1', { token: admin.token });
  assert.equal(audit.status, 200);
  const [entry] = audit.body.items;
  assert.equal(entry.action, 'user.delete');
  assert.equal(entry.target, victim.user.id);
  assert.equal(entry.actorId, admin.user.id);
  assert.equal(entry.detail.emptiedGroups, 1);
  assert.ok(!JSON.stringify(entry).includes(victim.user.phone) && !JSON.stringify(entry).includes(victim.user.displayName),
    'the entry names the deleted account by id only');
});

test('a deleted owner\'s groups pass to their longest-standing admin, or else their longest-standing member', async () => {
  const [owner, early, late, deputy] = [await api.register(), await api.register(), await api.register(), await api.register()];
  const group = async (title, memberIds) => (await api.post('/conversations', { title, memberIds }, { token: owner.token })).body.id;
  const [withAdmin, membersOnly] = [await group('With an admin', [early.user.id, deputy.user.id]), await group('Members only', [early.user.id, late.user.id])];
  await stack.pool.query("UPDATE members SET role = 'admin' WHERE conversation_id = $1 AND user_id = $2", [withAdmin, deputy.user.id]);
  // The later member joined later.
  await stack.pool.query("UPDATE members SET joined_at = now() + interval '1 minute' WHERE conversation_id = $1 AND user_id = $2", [membersOnly, late.user.id]);
  assert.equal((await api.delete(`/admin/users/${owner.user.id}`, { token: admin.token })).status, 204);
  const roles = async (id) => Object.fromEntries((await stack.pool.query('SELECT user_id, role FROM members WHERE conversation_id = $1', [id])).rows.map((r) => [r.user_id, r.role]));
  assert.deepEqual(await roles(withAdmin), { [early.user.id]: 'member', [deputy.user.id]: 'owner' });
  assert.deepEqual(await roles(membersOnly), { [early.user.id]: 'owner', [late.user.id]: 'member' });
});

test('the live counts are for admins only, and move when a user registers, comes online and sends', async () => {
  const regular = await api.register();
  const refused = await api.get('/admin/stats', { token: regular.token });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, 'forbidden');
  assert.equal((await api.get('/admin/stats')).status, 401);

  const stats = async () => {
    const res = await api.get('/admin/stats', { token: admin.token });
    assert.equal(res.status, 200);
    return res.body;
  };
  const before = await stats();
  assert.deepEqual(Object.keys(before).sort(), ['activeSessions', 'at', 'messagesToday', 'onlineNow', 'users']);
  assert.ok(Number.isFinite(Date.parse(before.at)));

  const newcomer = await api.register();
  const registered = await stats();
  assert.equal(registered.users, before.users + 1, 'a registration is one more account');
  assert.equal(registered.activeSessions, before.activeSessions + 1, 'and one more session');

  const socket = await Socket.open(stack.baseUrl, newcomer.token);
  await socket.next('ready');
  await waitFor(async () => (await stats()).onlineNow === registered.onlineNow + 1, { what: 'the newcomer to count as online' });
  socket.send({ type: 'send-message', id: 's1', toUserId: regular.user.id, clientMsgId: `stats-${Date.now()}`,
    ciphertext: Buffer.from('counted, never read').toString('base64') });
  await socket.next('ack');
  assert.equal((await stats()).messagesToday, registered.messagesToday + 1, 'a message sent is counted today');
  socket.close();
  await waitFor(async () => (await stats()).onlineNow === registered.onlineNow, { what: 'the newcomer to go offline' });
});

test('each request leaves one JSON log line under the id its response carries, with the route template and no phone or token', async () => {
  const user = await api.register();
  const res = await api.get(`/users/${encodeURIComponent(user.user.phone)}`, { token: admin.token });
  assert.equal(res.status, 200);
  const requestId = res.headers.get('x-request-id');
  assert.match(requestId ?? '', /^[0-9a-f-]{36}$/);
  const missing = await api.get('/users/%2B19995550000', { token: admin.token });
  assert.notEqual(missing.headers.get('x-request-id'), requestId, 'every request has its own id');

  const lines = () => stack.logs().split('\n').map((l) => l.slice(l.indexOf('{'))).filter((l) => l.startsWith('{"'))
    .flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
  const line = await waitFor(() => lines().find((l) => l.requestId === requestId), { what: 'the request\'s log line' });
  assert.deepEqual({ ...line, durationMs: typeof line.durationMs },
    { level: 'info', event: 'request', requestId, method: 'GET', route: '/users/:phone', status: 200, durationMs: 'number' });
  const notFound = await waitFor(() => lines().find((l) => l.requestId === missing.headers.get('x-request-id')));
  assert.equal(notFound.errorCode, 'not_found');
  // A hub logs the events it fails (and slow ones), not every message: the send above left no line.
  assert.ok(!lines().some((l) => l.event === 'hub.event' && l.kind === 'send'), 'a successful send is not logged');
  const socket = await Socket.open(stack.baseUrl, user.token);
  await socket.next('ready');
  socket.send({ type: 'send-message', conversationId: randomUUID(), clientMsgId: 'no such conversation',
    ciphertext: Buffer.from('never stored').toString('base64') });
  await socket.next('error');
  socket.close();
  const failed = await waitFor(() => lines().find((l) => l.event === 'hub.event' && l.userId === user.user.id),
    { what: "the failed send's log line" });
  assert.deepEqual({ ...failed, durationMs: typeof failed.durationMs },
    { level: 'info', event: 'hub.event', kind: 'send', userId: user.user.id, durationMs: 'number', errorCode: 'not_found' });

  // The Worker's own lines hold no phone number, token or password (wrangler dev's access log,
  // which prints raw paths, is the development server's, not the Worker's); a token is in no URL,
  // so it is nowhere in the output at all.
  const ours = JSON.stringify(lines());
  for (const secret of [user.user.phone, user.user.phone.slice(1), user.password]) {
    assert.ok(!ours.includes(secret), `a log line holds ${secret.slice(0, 4)}…`);
  }
  const logs = stack.logs();
  for (const token of [user.token, admin.token]) assert.ok(!logs.includes(token), 'the output holds a token');
  assert.ok(!logs.includes(Buffer.from('counted, never read').toString('base64')), 'nor any ciphertext');
});

test('refuses to delete the last admin, and allows it once another admin exists', async () => {
  const last = await api.delete(`/admin/users/${admin.user.id}`, { token: admin.token });
  assert.equal(last.status, 409);
  assert.equal(last.body.error.code, 'last_admin');
  assert.equal((await api.get('/auth/me', { token: admin.token })).status, 200);

  const second = await api.register({ displayName: 'Second Admin' });
  await stack.pool.query('UPDATE users SET is_admin = true WHERE id = $1', [second.user.id]);
  // Both try to delete each other at once: exactly one succeeds, one admin remains.
  const results = await Promise.all([
    api.delete(`/admin/users/${second.user.id}`, { token: admin.token }),
    api.delete(`/admin/users/${admin.user.id}`, { token: second.token }),
  ]);
  const statuses = results.map((r) => r.status).sort();
  assert.ok(statuses.includes(204), JSON.stringify(statuses));
  const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM users WHERE is_admin');
  assert.equal(rows[0].n, 1);
});

test('deleting an unknown user is 404', async () => {
  const { rows: [survivor] } = await stack.pool.query('SELECT phone FROM users WHERE is_admin');
  const login = await api.post('/auth/login', { phone: survivor.phone, password: 'correct horse battery' });
  assert.equal(login.status, 200);
  const res = await api.delete(`/admin/users/${randomUUID()}`, { token: login.body.token });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'not_found');
});
