// A hub keeps no socket it cannot vouch for: it re-checks its sockets' sessions on its alarm
// (every second here, HUB_SESSION_RECHECK_SECONDS; a minute in production), closes those whose
// session is gone, closes all of them for a reconnect when the database cannot answer, and holds
// at most MAX_SOCKETS_PER_USER sockets per user, closing the oldest.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from '../support/ws.mjs';
import { fileStack } from '../support/file-stack.mjs';
import { waitFor } from '../support/wait.mjs';
import http from 'node:http';
import { MAX_SOCKETS_PER_USER } from '../../web/sdk/wire/constants.ts';

const file = fileStack({ vars: { HUB_SESSION_RECHECK_SECONDS: '1' } });
const silentSockets = [];
after(() => {
  for (const socket of silentSockets) socket.destroy();
});
const open = (token) => file.open(token);

/** How long a test waits for the re-check (every second here): far longer, for a loaded machine. */
const RECHECK_WAIT_MS = 10_000;

/** Another session of `user`, by logging in again: its token. */
async function login(user) {
  const res = await file.api.post('/auth/login', { phone: user.user.phone, password: user.password });
  assert.equal(res.status, 200);
  return res.body.token;
}

/**
 * A socket whose client reads but never answers a close frame (a lost or hostile client): the
 * hub's side of it stays closing. Resolves once it is open, with what it has received so far.
 */
function silentSocket(token) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${file.stack.baseUrl}/ws`, {
      headers: {
        upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-protocol': `e2e-chat.v1, bearer.${token}`,
      },
    });
    req.on('upgrade', (res, socket, head) => {
      silentSockets.push(socket);
      // Whatever came in the same read as the 101 response (often the ready event) is in `head`,
      // not in any later 'data' event.
      let received = head.toString('latin1');
      // Server frames are unmasked and these are small: their JSON shows as it is.
      socket.on('data', (chunk) => { received += chunk.toString('latin1'); });
      resolve({ received: () => received, send: (event) => socket.write(clientFrame(JSON.stringify(event))) });
    });
    req.on('response', (res) => { res.resume(); reject(new Error(`the upgrade was refused with ${res.statusCode}`)); });
    req.on('error', reject);
  });
}

/** A masked text frame, as a client sends (RFC 6455 §5.2); this socket never sends a close. */
function clientFrame(text) {
  const payload = Buffer.from(text);
  const mask = crypto.getRandomValues(Buffer.alloc(4));
  const length = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([Buffer.from([0x81]), length, mask, payload.map((byte, i) => byte ^ mask[i % 4])]);
}

const sessionOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sid;

/** Fails unless the socket is still served: an event of it is answered (here, refused) by its id. */
async function served(socket, id) {
  socket.send({ type: 'typing', id, conversationId: crypto.randomUUID(), on: true });
  assert.equal((await socket.next((e) => e.type === 'error' && e.ref === id)).code, 'not_a_member');
}

test('a session deleted in the database closes its sockets at the next re-check, and only those', async () => {
  const user = await file.api.register();
  const otherToken = await login(user);
  const [stay, gone] = [await open(user.token), await open(otherToken)];
  // No log-out, so no /disconnect: only the hub's own re-check can notice.
  await file.stack.pool.query('DELETE FROM sessions WHERE id = $1', [sessionOf(otherToken)]);
  assert.equal((await gone.next('session-ended', RECHECK_WAIT_MS)).reason, 'session-ended');
  await gone.closing();
  await stay.nothing('session-ended', 2500);
  await served(stay, 'still');
});

test(`a user holds at most ${MAX_SOCKETS_PER_USER} sockets: one more closes the oldest, which may come back`, async () => {
  const user = await file.api.register();
  const first = [];
  for (let i = 0; i < MAX_SOCKETS_PER_USER; i += 1) first.push(await open(user.token));
  for (const socket of first) assert.equal(socket.events.length, 0, 'the limit itself closes nothing');

  const eleventh = await open(user.token);
  const closing = await first[0].next('socket-closing');
  assert.equal(closing.reason, 'too-many-sockets');
  await first[0].closing();
  for (const socket of first.slice(1)) await socket.nothing('socket-closing', 50);
  await served(eleventh, 'eleventh');

  // The next one closes the next oldest; a socket the hub already closed does not count.
  const twelfth = await open(user.token);
  assert.equal((await first[1].next('socket-closing')).reason, 'too-many-sockets');
  for (const socket of first.slice(2)) await socket.nothing('socket-closing', 50);
  await served(twelfth, 'twelfth');

  // Nor does one closed by a revocation, even while its client does not answer the close frame:
  // with it gone there is room for one more.
  const otherToken = await login(user);
  const revoked = await silentSocket(otherToken); // the limit closes first[2]
  await waitFor(() => revoked.received().includes('"type":"ready"'), { what: 'the silent socket to be ready' });
  assert.equal((await first[2].next('socket-closing')).reason, 'too-many-sockets');
  assert.equal((await file.api.post('/auth/logout', undefined, { token: otherToken })).status, 204);
  await waitFor(() => revoked.received().includes('"type":"session-ended"'), { what: 'the silent socket to be told' });
  await open(user.token);
  for (const socket of first.slice(3)) await socket.nothing('socket-closing', 50);
});

test('a flood of connections from one account is refused after a burst, with when to try again', async () => {
  // Each one beyond the limit closes the oldest, whose client may never answer the close: an
  // account could pile such sockets up in its hub as fast as it connects. It connects at most
  // 30 times at once (every tab and device back after a restart), then once a second.
  const user = await file.api.register();
  // Silent sockets, as such a client's: they never answer the close frame of those the hub closes.
  const upgrade = () => new Promise((resolve, reject) => {
    const req = http.get(`${file.stack.baseUrl}/ws`, {
      headers: {
        upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-protocol': `e2e-chat.v1, bearer.${user.token}`,
      },
    });
    req.on('upgrade', (res, socket) => { silentSockets.push(socket); resolve({ status: 101 }); });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, json: () => JSON.parse(text) }));
    });
    req.on('error', reject);
  });
  const statuses = [];
  for (let i = 0; i < 40; i += 1) {
    const res = await upgrade();
    statuses.push(res.status);
    if (res.status === 429) {
      assert.equal(res.json().error.code, 'too_many_connects');
      const wait = Number(res.headers['retry-after']);
      assert.ok(wait >= 1 && wait <= 2, `Retry-After ${wait}`);
      break;
    }
  }
  assert.equal(statuses.at(-1), 429, `refused at last: ${statuses.join(' ')}`);
  assert.ok(statuses.length > 30, `not before the burst: refused after ${statuses.length - 1}`);
  // Another account is not held by it, and this one connects again after the wait.
  await open((await file.api.register()).token);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await open(user.token);
});

test('a socket the hub closed is heard no more, even while its client never answers the close', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const { body: direct } = await file.api.get(`/conversations/${bob.user.id}`, { token: alice.token });
  const b = await open(bob.token);
  const token = await login(alice);
  const silent = await silentSocket(token);
  await waitFor(() => silent.received().includes('"type":"ready"'), { what: 'the silent socket to be ready' });
  const say = (clientMsgId) => silent.send({ type: 'send-message', conversationId: direct.id, clientMsgId, epoch: 0, ciphertext: 'aGk=' });
  say('before-logout');
  await b.next((e) => e.type === 'message' && e.message.clientMsgId === 'before-logout');

  // Logged out: the hub closes it, and the client goes on sending as if nothing happened.
  assert.equal((await file.api.post('/auth/logout', undefined, { token })).status, 204);
  await waitFor(() => silent.received().includes('"type":"session-ended"'), { what: 'the silent socket to be told' });
  say('after-logout');
  silent.send({ type: 'typing', conversationId: direct.id, on: true });
  await b.nothing((e) => e.type === 'message' || e.type === 'typing', 1500);
  const { rows } = await file.stack.pool.query("SELECT 1 FROM messages WHERE client_msg_id = 'after-logout'");
  assert.equal(rows.length, 0, 'nothing stored from a revoked session');
});

// Last: while the table is away, every hub of this stack that re-checks closes its sockets.
test('when the database cannot confirm a session the socket closes for a reconnect, which is accepted or refused', async () => {
  const user = await file.api.register();
  const otherToken = await login(user);
  const [mine, other] = [await open(user.token), await open(otherToken)];
  await file.stack.pool.query('ALTER TABLE sessions RENAME TO sessions_away');
  try {
    for (const socket of [mine, other]) {
      const closing = await socket.next('socket-closing', RECHECK_WAIT_MS);
      assert.equal(closing.reason, 'session-unconfirmed', 'not session-ended: the session may well go on');
      await socket.closing();
    }
    await assert.rejects(Socket.open(file.stack.baseUrl, user.token), 'no socket is accepted that cannot be confirmed');
  } finally {
    await file.stack.pool.query('ALTER TABLE sessions_away RENAME TO sessions');
  }
  // The session went on: the reconnect is accepted. One that ended meanwhile is refused.
  await file.stack.pool.query('DELETE FROM sessions WHERE id = $1', [sessionOf(otherToken)]);
  await served(await open(user.token), 'back');
  await assert.rejects(Socket.open(file.stack.baseUrl, otherToken));
});
