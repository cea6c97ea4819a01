// The user directory (GET /users) and public profiles (GET /users/:phone).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../support/stack.mjs';
import { Api, randomPhone } from '../support/api.mjs';

const ADMIN_PHONE = '+15550000001';
let stack;
let api;

before(async () => {
  stack = await startStack({ secrets: { ADMIN_PHONE, ADMIN_PASSWORD: 'bootstrap admin password' } });
  api = new Api(stack.baseUrl);
});
after(() => stack?.stop());

async function walk(path, token) {
  const seen = [];
  let cursor = null;
  do {
    const res = await api.get(`${path}${path.includes('?') ? '&' : '?'}limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token });
    assert.equal(res.status, 200);
    assert.ok(res.body.items.length <= 3);
    seen.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return seen;
}

test('lists everyone else alphabetically, page by page, without the caller or the bootstrap admin', async () => {
  const names = ['Mallory', 'alice', 'Bob', 'Zoë', 'Carol', 'Dave', 'Éva', 'Bob'];
  const users = [];
  for (const displayName of names) users.push(await api.register({ displayName }));
  const me = users[0];
  const listed = await walk('/users', me.token);
  const ids = listed.map((u) => u.id);
  assert.equal(new Set(ids).size, ids.length, 'no user appears twice');
  assert.deepEqual(new Set(ids), new Set(users.slice(1).map((u) => u.user.id)));
  assert.ok(!listed.some((u) => u.phone === ADMIN_PHONE));
  const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM users WHERE phone = $1 AND is_admin', [ADMIN_PHONE]);
  assert.equal(rows[0].n, 1, 'the bootstrap admin exists, only hidden');
  const { rows: sorted } = await stack.pool.query(
    'SELECT id FROM users WHERE id <> $1 AND phone <> $2 ORDER BY display_name, id', [me.user.id, ADMIN_PHONE]);
  assert.deepEqual(ids, sorted.map((r) => r.id), 'the order is the database order of (display_name, id)');
  for (const u of listed) assert.equal('passwordHash' in u || 'password_hash' in u || 'isAdmin' in u, false);
});

test('searches by name or phone prefix, matching wildcards literally', async () => {
  const { token } = await api.register({ displayName: 'Searcher' });
  const target = await api.register({ displayName: 'Grace 100% Hopper' });
  const byName = await api.get('/users?q=hopper', { token });
  assert.deepEqual(byName.body.items.map((u) => u.id), [target.user.id]);
  const byPhone = await api.get(`/users?q=${encodeURIComponent(target.user.phone)}`, { token });
  assert.deepEqual(byPhone.body.items.map((u) => u.id), [target.user.id]);
  const literal = await api.get('/users?q=0%25%20H', { token });
  assert.deepEqual(literal.body.items.map((u) => u.id), [target.user.id]);
  assert.equal((await api.get('/users?q=_', { token })).body.items.length, 0);
});

test('shows a public profile with each device credential, by phone', async () => {
  const viewer = await api.register();
  const owner = await api.register({ displayName: 'Key Holder' });
  await stack.pool.query(
    "INSERT INTO devices (id, user_id, label, credential) VALUES (gen_random_uuid(), $1, 'laptop', '\\x0102ff'::bytea)",
    [owner.user.id]);
  for (const path of [`/users/${owner.user.phone}`, `/users/${encodeURIComponent(owner.user.phone)}`]) {
    const res = await api.get(path, { token: viewer.token });
    assert.equal(res.status, 200);
    assert.equal(res.body.id, owner.user.id);
    assert.equal(res.body.displayName, 'Key Holder');
    assert.equal(res.body.devices.length, 1);
    assert.equal(res.body.devices[0].label, 'laptop');
    assert.deepEqual([...Buffer.from(res.body.devices[0].credential, 'base64')], [1, 2, 255]);
  }
  const missing = await api.get(`/users/${randomPhone()}`, { token: viewer.token });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'not_found');
});

test('the bootstrap admin can log in with the configured password and reach admin routes', async () => {
  const login = await api.post('/auth/login', { phone: ADMIN_PHONE, password: 'bootstrap admin password' });
  assert.equal(login.status, 200);
  assert.equal(login.body.user.isAdmin, true);
  assert.equal((await api.get('/admin/users', { token: login.body.token })).status, 200);
  const regular = await api.register();
  assert.equal(regular.user.isAdmin, false, 'with a bootstrap admin configured, the first user is not made admin');
});
