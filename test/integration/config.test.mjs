// Configuration faults answer clearly and never fall back to unsafe defaults; a database that does
// not answer is a 503, not a crash.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../support/stack.mjs';
import { Api, randomPhone } from '../support/api.mjs';

const stacks = [];
after(() => Promise.all(stacks.map((s) => s.stop())));

async function stackWith(options) {
  const stack = await startStack(options);
  stacks.push(stack);
  return { stack, api: new Api(stack.baseUrl) };
}

const registration = () => ({ phone: randomPhone(), displayName: 'Config Tester', password: 'long enough password' });

test('without JWT_SECRET every auth route is a 500 that says why, and nothing is created', async () => {
  const { stack, api } = await stackWith({ secrets: { JWT_SECRET: '' } });
  for (const res of [
    await api.post('/auth/register', registration()),
    await api.post('/auth/login', { phone: '+14155550100', password: 'whatever password' }),
    await api.get('/users', { token: 'x.y.z' }),
  ]) {
    assert.equal(res.status, 500);
    assert.equal(res.body.error.code, 'server_misconfigured');
    assert.match(res.body.error.message, /JWT_SECRET/);
  }
  const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM users');
  assert.equal(rows[0].n, 0);
  assert.equal((await api.get('/health')).status, 200, 'health does not need the secret');
});

test('a JWT_SECRET shorter than 32 bytes is refused', async () => {
  const { api } = await stackWith({ secrets: { JWT_SECRET: 'too-short-secret' } });
  const res = await api.post('/auth/register', registration());
  assert.equal(res.status, 500);
  assert.match(res.body.error.message, /at least 32 bytes/);
});

test('a low PBKDF2 count outside ENVIRONMENT=test is refused', async () => {
  const { api } = await stackWith({ vars: { ENVIRONMENT: 'production', PBKDF2_ITERATIONS: '1000' } });
  const res = await api.post('/auth/register', registration());
  assert.equal(res.status, 500);
  assert.match(res.body.error.message, /PBKDF2_ITERATIONS/);
});

test('FIRST_USER_ADMIN=false makes nobody admin by default', async () => {
  const { api } = await stackWith({ vars: { FIRST_USER_ADMIN: 'false' } });
  const first = await api.register();
  assert.equal(first.user.isAdmin, false);
  assert.equal((await api.get('/admin/users', { token: first.token })).status, 403);
});

test('REGISTRATIONS_PER_ADDRESS_PER_HOUR bounds sign-ups from one address', async () => {
  const { stack, api } = await stackWith({ vars: { REGISTRATIONS_PER_ADDRESS_PER_HOUR: '2' } });
  await api.register();
  await api.register();
  const third = await api.post('/auth/register', registration());
  assert.equal(third.status, 429);
  assert.equal(third.body.error.code, 'too_many_registrations');
  assert.equal((await stack.pool.query('SELECT count(*)::int AS n FROM users')).rows[0].n, 2, 'nothing created');
  // An hour later there is room again.
  await stack.pool.query("UPDATE throttles SET expires_at = now() WHERE kind = 'registration'");
  assert.equal((await api.post('/auth/register', registration())).status, 201);
});

test('ADMIN_PHONE promotes an existing account that holds ADMIN_PASSWORD, and nobody else', async () => {
  const phone = '+15550000002';
  const adminPassword = 'configured admin password';
  const { stack, api } = await stackWith({ secrets: { ADMIN_PHONE: phone, ADMIN_PASSWORD: adminPassword } });
  const accountsWithPhone = async () => (await stack.pool.query('SELECT count(*)::int AS n FROM users WHERE phone = $1', [phone])).rows[0].n;
  // The running isolate already created the admin. Replace it with an ordinary account that
  // owns the phone, then start a fresh isolate each time.
  await stack.pool.query('DELETE FROM users WHERE phone = $1', [phone]);
  // Phone numbers are not verified: whoever registered the phone first is not made an admin.
  const squatter = await api.register({ phone, password: 'the squatter password' });
  await stack.restart();
  const squatterLogin = await api.post('/auth/login', { phone, password: 'the squatter password' });
  assert.equal(squatterLogin.status, 200);
  assert.equal(squatterLogin.body.user.isAdmin, false, 'an account without the admin password stays ordinary');
  assert.equal(squatterLogin.body.user.id, squatter.user.id);
  assert.equal(await accountsWithPhone(), 1);

  // The operator's own account, made before the phone was configured: promoted, not duplicated.
  await stack.pool.query('DELETE FROM users WHERE phone = $1', [phone]);
  const owner = await api.register({ phone, password: adminPassword });
  assert.equal(owner.user.isAdmin, false);
  await stack.restart();
  const login = await api.post('/auth/login', { phone, password: adminPassword });
  assert.equal(login.status, 200);
  assert.equal(login.body.user.isAdmin, true);
  assert.equal(login.body.user.id, owner.user.id);
  assert.equal(await accountsWithPhone(), 1);
});

test('when PostgreSQL does not answer, requests get 503 and health says so', async () => {
  const { api } = await stackWith({ hyperdriveUrl: 'postgres://postgres:postgres@127.0.0.1:1/nowhere' });
  const health = await api.get('/health');
  assert.equal(health.status, 503);
  assert.equal(health.body.ok, false);
  assert.equal(health.body.database.ok, false);
  const res = await api.post('/auth/register', registration());
  assert.equal(res.status, 503);
  assert.equal(res.body.error.code, 'database_unavailable');
});
