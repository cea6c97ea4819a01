// The SDK's socket when the server closes it but the session goes on (`socket-closing`), against
// the real Worker and PostgreSQL: it reconnects after `session-unconfirmed`, and after
// `too-many-sockets` waits for its page to be seen again rather than close another socket at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../test/support/stack.mjs';
import { Api } from '../../test/support/api.mjs';
import { Socket as PlainSocket } from '../../test/support/ws.mjs';
import { sleep, waitFor } from '../../test/support/wait.mjs';
import { RealtimeSocket, type ConnectionState, type SessionEndReason } from '../sdk/socket.ts';
import { MAX_SOCKETS_PER_USER } from '../sdk/wire/index.ts';

let stack: Awaited<ReturnType<typeof startStack>>;
let api: Api;
const sdkSockets: RealtimeSocket[] = [];
const plainSockets: PlainSocket[] = [];

// A page the test can show and hide: the socket listens to these as it would in a browser.
const page = Object.assign(new EventTarget(), { visibilityState: 'visible' as DocumentVisibilityState });
Object.defineProperty(globalThis, 'document', { value: page, configurable: true });
Object.defineProperty(globalThis, 'window', { value: new EventTarget(), configurable: true });

before(async () => {
  stack = await startStack({ vars: { HUB_SESSION_RECHECK_SECONDS: '1' } });
  api = new Api(stack.baseUrl);
});
after(async () => {
  for (const socket of sdkSockets) socket.stop();
  await Promise.all(plainSockets.map((s) => s.close()));
  await stack?.stop();
});

/** The sessions here act as no device (they registered none), so the socket names none. */
class DevicelessWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    const withoutDevice = new URL(url);
    withoutDevice.searchParams.delete('device');
    super(withoutDevice, protocols);
  }
}

/** An SDK socket for `token`, with every state it went through and how its session ended. */
function sdkSocket(token: string) {
  const seen = { states: [] as ConnectionState[], readies: 0, ended: [] as SessionEndReason[] };
  const socket = new RealtimeSocket({
    url: `${stack.baseUrl.replace(/^http/, 'ws')}/ws`,
    webSocket: DevicelessWebSocket,
    token: () => token,
    deviceId: () => '',
    onEvent: () => {},
    onState: (state) => seen.states.push(state),
    onReady: () => { seen.readies += 1; },
    onEnded: (why) => seen.ended.push(why),
  });
  sdkSockets.push(socket);
  socket.start();
  return { socket, seen };
}

async function plain(token: string): Promise<PlainSocket> {
  const socket = await PlainSocket.open(stack.baseUrl, token);
  plainSockets.push(socket);
  await socket.next('ready');
  return socket;
}

test('closed because the session could not be confirmed, the socket reconnects, and the session goes on', async () => {
  const user = await api.register();
  const { socket, seen } = sdkSocket(user.token);
  await socket.ready();
  await stack.pool.query('ALTER TABLE sessions RENAME TO sessions_away');
  try {
    await waitFor(() => seen.states.includes('reconnecting'), { timeoutMs: 10_000, what: 'the socket to be closed for a reconnect' });
  } finally {
    await stack.pool.query('ALTER TABLE sessions_away RENAME TO sessions');
  }
  await waitFor(() => seen.readies === 2 && socket.state === 'open', { timeoutMs: 20_000, what: 'the socket to be back' });
  assert.deepEqual(seen.ended, [], 'not signed out');
  assert.equal(socket.running, true);
});

test('closed as one socket too many, the socket waits to be seen again, then comes back in place of the oldest', async () => {
  const user = await api.register();
  const { socket, seen } = sdkSocket(user.token);
  await socket.ready();
  page.visibilityState = 'hidden';
  const others: PlainSocket[] = [];
  for (let i = 0; i < MAX_SOCKETS_PER_USER; i += 1) others.push(await plain(user.token));
  await waitFor(() => socket.state === 'paused', { timeoutMs: 10_000, what: 'the oldest socket, the SDK\'s, to be closed' });
  assert.equal(socket.running, true, 'closed for now, not stopped');
  assert.deepEqual(seen.ended, []);
  // No timer brings it back: that would close another socket, which would do the same.
  page.dispatchEvent(new Event('visibilitychange'));
  await sleep(1500);
  assert.equal(socket.state, 'paused', 'paused: shown as such, with a way to use this page');
  assert.equal(seen.readies, 1);
  for (const other of others) assert.equal(other.events.some((e) => e.type === 'socket-closing'), false);

  page.visibilityState = 'visible';
  page.dispatchEvent(new Event('visibilitychange'));
  await waitFor(() => seen.readies === 2 && socket.state === 'open', { timeoutMs: 5000, what: 'the socket to come back once seen' });
  assert.equal((await others[0].next('socket-closing')).reason, 'too-many-sockets', 'the oldest gave way');
  for (const other of others.slice(1)) await other.nothing('socket-closing', 50);
});
