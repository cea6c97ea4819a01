// Bad input of every class gets the right 4xx and the one JSON error shape; CORS and security
// headers; the OpenAPI document is served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../support/stack.mjs';
import { Api, randomPhone } from '../support/api.mjs';

const ALLOWED = 'http://allowed.example';
let stack;
let api;
let token;

before(async () => {
  stack = await startStack({ vars: { ALLOWED_ORIGINS: ALLOWED } });
  api = new Api(stack.baseUrl);
  ({ token } = await api.register());
});
after(() => stack?.stop());

function assertError(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, 'string');
}

test('malformed JSON and wrong types are 400 with a reason', async () => {
  assertError(await api.post('/auth/login', '{"phone": "+1415', {}), 400, 'invalid_json');
  assertError(await api.post('/auth/login', '', { headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
  assertError(await api.post('/auth/login', { phone: ['+14155550100'], password: 'x' }), 400, 'invalid_field');
  assertError(await api.post('/auth/register', [1, 2, 3]), 400, 'invalid_field');
  assertError(await api.post('/auth/register', 'null'), 400, 'invalid_field');
});

test('a body that is not JSON is 415', async () => {
  const res = await api.post('/auth/login', 'phone=1&password=2', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assertError(res, 415, 'unsupported_media_type');
});

test('bodies over 64 KiB are 413, declared or not', async () => {
  const big = JSON.stringify({ phone: '+14155550100', password: 'x'.repeat(70 * 1024) });
  assertError(await api.post('/auth/login', big), 413, 'payload_too_large');
  // Streamed without a Content-Length, so only the bytes read can tell.
  const chunks = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(big));
      controller.close();
    },
  });
  const res = await fetch(stack.baseUrl + '/auth/register', {
    method: 'POST', body: chunks, duplex: 'half', headers: { 'content-type': 'application/json' },
  });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, 'payload_too_large');
});

test('unknown routes are 404 and wrong methods 405, as JSON', async () => {
  assertError(await api.get('/no/such/route'), 404, 'not_found');
  assertError(await api.get('/users/+14155550100/extra'), 404, 'not_found');
  assertError(await api.request('PUT', '/users'), 405, 'method_not_allowed');
  assertError(await api.get('/auth/login'), 405, 'method_not_allowed');
});

test('a method a path does not take is 405 with Allow, never served as another method', async () => {
  // Raw fetch: workers-rs read every method it has no name for as GET, so QUERY /auth/me answered
  // the account and PROPFIND /users the directory.
  const cases = [
    ['QUERY', '/auth/me', 'GET, PATCH, OPTIONS'],
    ['PROPFIND', '/users', 'GET, OPTIONS'],
    ['PUT', '/conversations', 'POST, GET, OPTIONS'],
    ['PATCH', '/devices/links', 'POST, GET, OPTIONS'],
    ['DELETE', '/devices/links', 'POST, GET, OPTIONS'],
    ['HEAD', '/health', 'GET, OPTIONS'],
    ['GET', '/auth/login', 'POST, OPTIONS'],
  ];
  for (const [method, path, allow] of cases) {
    const res = await fetch(stack.baseUrl + path, { method, headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
    if (method !== 'HEAD') {
      const body = await res.json();
      assert.equal(body.error.code, 'method_not_allowed');
      assert.match(body.error.message, new RegExp(`does not accept ${method}; it accepts ${allow}\\.`));
    }
  }
  // A method no HTTP registry has never reaches the Worker: the runtime refuses it (501 today).
  const madeUp = await fetch(stack.baseUrl + '/auth/me', { method: 'BREW', headers: { authorization: `Bearer ${token}` } });
  assert.ok([405, 501].includes(madeUp.status), `BREW /auth/me answered ${madeUp.status}`);
  // A path that does not exist is 404 whatever the method.
  const nowhere = await fetch(stack.baseUrl + '/no/such/route', { method: 'QUERY' });
  assert.equal(nowhere.status, 404);
  assert.equal(nowhere.headers.get('allow'), null);
  // The methods a path does take still work, and a preflight names them too.
  assert.equal((await api.get('/auth/me', { token })).status, 200);
  const preflight = await fetch(stack.baseUrl + '/devices/links', {
    method: 'OPTIONS', headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('allow'), 'POST, GET, OPTIONS');
});

test('names, titles and labels with direction controls or invisible characters are 400', async () => {
  const { user: peer } = await api.register();
  // U+202E shows "Bob\u202Enimda" as "Bobadmin"; U+200B makes a second "Ada" that looks like the first.
  for (const displayName of ['Bob\u202Enimda', 'A\u200Bda', '\u2067Ada\u2069', 'Ada\uFEFF']) {
    const res = await api.post('/auth/register', { phone: randomPhone(), displayName, password: 'long enough pw' });
    assertError(res, 400, 'invalid_display_name');
    assert.match(res.body.error.message, /^The display name cannot contain U\+[0-9A-F]{4}, an invisible/);
  }
  const title = await api.post('/conversations', { title: 'Team \u202Etxt.exe', memberIds: [peer.id] }, { token });
  assertError(title, 400, 'invalid_title');
  const label = await api.post('/devices', { label: 'Laptop\u200D', credential: 'a2V5' }, { token });
  assertError(label, 400, 'invalid_label');
  // The same names without them are fine.
  assert.equal((await api.post('/auth/register', { phone: randomPhone(), displayName: 'Bobnimda', password: 'long enough pw' })).status, 201);
});

test('bad ids, phones, cursors and limits are 400', async () => {
  assertError(await api.get('/conversations/not-a-uuid', { token }), 400, 'invalid_id');
  assertError(await api.get('/conversations/1234/messages', { token }), 400, 'invalid_id');
  assertError(await api.delete('/admin/users/xyz', { token }), 400, 'invalid_id');
  // Only the hyphenated form the document's pattern names, not the uuid crate's other spellings.
  const id = crypto.randomUUID();
  for (const spelling of [id.replaceAll('-', ''), `{${id}}`, `urn:uuid:${id}`, '-'.repeat(36)]) {
    assertError(await api.get(`/conversations/${encodeURIComponent(spelling)}`, { token }), 400, 'invalid_id');
  }
  assertError(await api.get('/users/not-a-phone', { token }), 400, 'invalid_phone');
  assertError(await api.get('/users?cursor=%%%', { token }), 400, 'invalid_cursor');
  assertError(await api.get('/users?cursor=bWVzc2FnZQ', { token }), 400, 'invalid_cursor');
  assertError(await api.get('/users?limit=0', { token }), 400, 'invalid_limit');
  assertError(await api.get('/users?limit=101', { token }), 400, 'invalid_limit');
  assertError(await api.get('/users?limit=many', { token }), 400, 'invalid_limit');
  assertError(await api.get('/users/%E0%A4%A', { token }), 400, 'invalid_path');
  // PostgreSQL text cannot hold U+0000: refused with a reason, not a 500 from the database.
  assertError(await api.get('/users?q=a%00', { token }), 400, 'invalid_text');
  assertError(await api.get('/users/%2B1555%00', { token }), 400, 'invalid_text');
  assertError(await api.post('/auth/register', { phone: '+15551230000', displayName: 'Nul\u0000', password: 'long enough pw' }), 400, 'invalid_text');
  const nulName = Buffer.concat([Buffer.from('n'), Buffer.alloc(16), Buffer.from('A\0')]).toString('base64url');
  assertError(await api.get(`/users?cursor=${nulName}`, { token }), 400, 'invalid_cursor');
  const farFuture = Buffer.concat([Buffer.from('m'), Buffer.alloc(16), Buffer.from('7fffffffffffff00', 'hex')]).toString('base64url');
  assertError(await api.get(`/conversations/${crypto.randomUUID()}/messages?cursor=${farFuture}`, { token }), 400, 'invalid_cursor');
});

test('a cursor from one listing is refused by another', async () => {
  const api2 = new Api(stack.baseUrl);
  for (let i = 0; i < 3; i += 1) await api2.register();
  const page = await api.get('/users?limit=1', { token });
  assert.ok(page.body.nextCursor);
  const { body: me } = await api.get('/auth/me', { token });
  assert.equal(me.isAdmin, true, 'the first user of a fresh database is the admin');
  assertError(await api.get(`/admin/audit?cursor=${page.body.nextCursor}`, { token }), 400, 'invalid_cursor');
});

test('every response carries the security headers, errors included', async () => {
  for (const res of [await api.get('/health'), await api.get('/nope'), await api.get('/users')]) {
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.match(res.headers.get('strict-transport-security'), /max-age=\d+/);
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-type'), /^application\/json/);
  }
});

test('CORS answers only the allowed origins', async () => {
  const allowed = await api.get('/health', { headers: { origin: ALLOWED } });
  assert.equal(allowed.headers.get('access-control-allow-origin'), ALLOWED);
  const other = await api.get('/health', { headers: { origin: 'http://evil.example' } });
  assert.equal(other.headers.get('access-control-allow-origin'), null);

  const preflight = (origin) => fetch(stack.baseUrl + '/auth/login', {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  const ok = await preflight(ALLOWED);
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('access-control-allow-origin'), ALLOWED);
  assert.match(ok.headers.get('access-control-allow-methods'), /POST/);
  assert.match(ok.headers.get('access-control-allow-headers'), /Authorization/i);
  // Each path's own methods: a web app hosted apart can change its settings (PATCH /auth/me).
  const patch = await fetch(stack.baseUrl + '/auth/me', {
    method: 'OPTIONS',
    headers: { origin: ALLOWED, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type' },
  });
  assert.equal(patch.status, 204);
  assert.equal(patch.headers.get('access-control-allow-methods'), 'GET, PATCH, OPTIONS');
  const refused = await preflight('http://evil.example');
  assert.equal(refused.status, 403);
  assert.equal(refused.headers.get('access-control-allow-origin'), null);
  assert.equal((await refused.json()).error.code, 'forbidden');
});

test('health reports the database', async () => {
  const res = await api.get('/health');
  assert.equal(res.status, 200);
  assert.equal(res.body.ok, true);
  assert.equal(res.body.database.ok, true);
  assert.equal(typeof res.body.database.latencyMs, 'number');
});

test('serves its OpenAPI document', async () => {
  const res = await api.get('/openapi.json');
  assert.equal(res.status, 200);
  assert.equal(res.body.openapi, '3.1.0');
  assert.ok(res.body.paths['/conversations/{peerId}/messages'].get);
});
