// Registration, login, tokens and their revocation, against the real Worker and PostgreSQL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../support/stack.mjs';
import { Api, randomPhone, signJwt, randomUUID } from '../support/api.mjs';

const JWT_SECRET = 'integration-test-secret-0123456789abcdef';
let stack;
let api;

before(async () => {
  stack = await startStack({ secrets: { JWT_SECRET } });
  api = new Api(stack.baseUrl);
});
after(() => stack?.stop());

test('registers a user and returns the account with a seven-day token', async () => {
  const phone = randomPhone();
  const res = await api.post('/auth/register', { phone, displayName: '  Ada Lovelace ', password: 'analytical engine' });
  assert.equal(res.status, 201);
  assert.equal(res.body.user.phone, phone);
  assert.equal(res.body.user.displayName, 'Ada Lovelace');
  const [, payload] = res.body.token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  assert.equal(claims.sub, res.body.user.id);
  const { rows } = await stack.pool.query('SELECT user_id FROM sessions WHERE id = $1', [claims.sid]);
  assert.equal(rows[0]?.user_id, res.body.user.id, 'the token names its session');
  assert.equal(claims.exp - claims.iat, 7 * 24 * 3600);
  assert.equal(new Date(res.body.expiresAt).getTime(), claims.exp * 1000);
});

test('stores a salted PBKDF2-SHA256 hash, never the password', async () => {
  const { user, password } = await api.register();
  const { rows } = await stack.pool.query('SELECT password_hash FROM users WHERE id = $1', [user.id]);
  const [scheme, iterations, salt, hash] = rows[0].password_hash.split('$');
  assert.equal(scheme, 'pbkdf2-sha256');
  assert.equal(iterations, '1000', 'the test stack configures 1000 iterations');
  assert.ok(salt.length >= 20 && hash.length >= 40);
  assert.ok(!rows[0].password_hash.includes(password));
});

test('refuses a duplicate phone number with 409', async () => {
  const { user } = await api.register();
  const res = await api.post('/auth/register', { phone: user.phone, displayName: 'Copycat', password: 'another password' });
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'phone_taken');
});

test('validates every registration field with a clear error', async () => {
  const cases = [
    [{ phone: '0123', displayName: 'A', password: 'long enough pw' }, 'invalid_phone'],
    [{ phone: '+1 415 555 0100', displayName: 'A', password: 'long enough pw' }, 'invalid_phone'],
    [{ phone: randomPhone(), displayName: '', password: 'long enough pw' }, 'invalid_display_name'],
    [{ phone: randomPhone(), displayName: 'x'.repeat(65), password: 'long enough pw' }, 'invalid_display_name'],
    [{ phone: randomPhone(), displayName: 'A', password: 'short' }, 'weak_password'],
    [{ phone: randomPhone(), displayName: 'A' }, 'invalid_field'],
    [{ phone: 14155550100, displayName: 'A', password: 'long enough pw' }, 'invalid_field'],
  ];
  for (const [body, code] of cases) {
    const res = await api.post('/auth/register', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, code, JSON.stringify(body));
    assert.ok(res.body.error.message.length > 10);
  }
});

test('logs in with the right password only, without telling which part was wrong', async () => {
  const { user, password } = await api.register();
  const ok = await api.post('/auth/login', { phone: user.phone, password });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.user.id, user.id);
  const me = await api.get('/auth/me', { token: ok.body.token });
  assert.equal(me.status, 200);
  assert.equal(me.body.id, user.id);

  const wrongPassword = await api.post('/auth/login', { phone: user.phone, password: password + '!' });
  const unknownPhone = await api.post('/auth/login', { phone: randomPhone(), password });
  assert.equal(wrongPassword.status, 401);
  assert.deepEqual(wrongPassword.body, unknownPhone.body);
});

test('refuses requests without a valid token', async () => {
  const { user, token: issued } = await api.register();
  const { sid } = JSON.parse(Buffer.from(issued.split('.')[1], 'base64url').toString());
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: user.id, sid, iat: now, exp: now + 3600 };
  const tokens = {
    missing: undefined,
    garbage: 'not-a-token',
    forged: signJwt(claims, 'some-other-secret-that-is-long-enough-too'),
    unsigned: signJwt(claims, '', { alg: 'none', typ: 'JWT' }),
    expired: signJwt({ ...claims, iat: now - 8 * 86400, exp: now - 60 }, JWT_SECRET),
    unknownUser: signJwt({ ...claims, sub: randomUUID() }, JWT_SECRET),
    unknownSession: signJwt({ ...claims, sid: randomUUID() }, JWT_SECRET),
    // Tokens from before sessions carried a version; they name no session.
    versioned: signJwt({ sub: user.id, ver: 0, iat: now, exp: now + 3600 }, JWT_SECRET),
  };
  for (const [name, token] of Object.entries(tokens)) {
    const res = await api.get('/users', { token });
    assert.equal(res.status, 401, name);
    assert.ok(res.body.error.message, name);
  }
  const basic = await api.get('/users', { headers: { authorization: 'Basic dXNlcjpwYXNzd29yZA==' } });
  assert.equal(basic.status, 401);
  // A token we signed ourselves with the real secret works: the checks above are not vacuous.
  assert.equal((await api.get('/users', { token: signJwt(claims, JWT_SECRET) })).status, 200);
});

test('log out everywhere revokes every earlier token, and only those', async () => {
  const { user, token: first, password } = await api.register();
  const second = (await api.post('/auth/login', { phone: user.phone, password })).body.token;
  assert.equal((await api.get('/auth/me', { token: second })).status, 200);

  assert.equal((await api.post('/auth/logout-all', undefined, { token: first })).status, 204);
  for (const token of [first, second]) {
    const res = await api.get('/auth/me', { token });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_revoked');
  }
  const fresh = await api.post('/auth/login', { phone: user.phone, password });
  assert.equal((await api.get('/auth/me', { token: fresh.body.token })).status, 200);
});

test('log out ends this session only, at once', async () => {
  const { user, token: laptop, password } = await api.register();
  const phone = (await api.post('/auth/login', { phone: user.phone, password })).body.token;
  assert.equal((await api.post('/auth/logout', undefined, { token: laptop })).status, 204);
  const after = await api.get('/auth/me', { token: laptop });
  assert.equal(after.status, 401);
  assert.equal(after.body.error.code, 'token_revoked');
  assert.equal((await api.post('/auth/logout', undefined, { token: laptop })).status, 401, 'an ended session cannot end again');
  assert.equal((await api.get('/auth/me', { token: phone })).status, 200, 'the other session is untouched');
  const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM sessions WHERE user_id = $1', [user.id]);
  assert.equal(rows[0].n, 1);
});

test('ten wrong passwords make logins to that number wait, the right one included, and only that number', async () => {
  const { user, password } = await api.register();
  const other = await api.register();
  // An address of this test's own, so the other tests' logins do not count against it.
  const headers = { 'cf-connecting-ip': '2001:db8::a17' };
  for (let i = 0; i < 10; i += 1) {
    assert.equal((await api.post('/auth/login', { phone: user.phone, password: `guess number ${i}` }, { headers })).status, 401);
  }
  const waiting = await api.post('/auth/login', { phone: user.phone, password }, { headers });
  assert.equal(waiting.status, 429);
  assert.equal(waiting.body.error.code, 'too_many_attempts');
  assert.match(waiting.body.error.message, /Try again in 1 minute\./);
  assert.equal((await api.post('/auth/login', { phone: other.user.phone, password: other.password }, { headers })).status, 200, 'other numbers are not affected');
  // Once the waits are over, the right password works again and clears the number's counts.
  await stack.pool.query("UPDATE throttles SET blocked_until = now() WHERE kind IN ('login-number', 'login-number-address') AND key LIKE $1 || '%'", [user.phone]);
  assert.equal((await api.post('/auth/login', { phone: user.phone, password }, { headers })).status, 200);
  const { rows } = await stack.pool.query("SELECT count(*)::int AS n FROM throttles WHERE kind IN ('login-number', 'login-number-address') AND key LIKE $1 || '%'", [user.phone]);
  assert.equal(rows[0].n, 0);
});
