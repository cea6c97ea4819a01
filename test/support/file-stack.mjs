// What a black-box test file against the real Worker starts with: its own wrangler dev and
// PostgreSQL database (stack.mjs) for the file's tests, an API client for it, and the WebSockets
// its tests open, closed before the stack stops. The SDK tests' counterpart is web/test/harness.ts.
import { before, after } from 'node:test';
import { startStack } from './stack.mjs';
import { Api } from './api.mjs';
import { Socket } from './ws.mjs';

/**
 * Registers the file's before/after hooks and returns where its stack, API client and sockets
 * are (set once `before` has run). `options` go to startStack.
 */
export function fileStack(options) {
  const file = {
    stack: undefined,
    api: undefined,
    /** Every socket `open` opened and not yet closed. */
    sockets: [],
    /** A socket of the session `token` names, once it is ready; `ready` is that event. */
    async open(token, socketOptions) {
      const socket = await Socket.open(file.stack.baseUrl, token, socketOptions);
      file.sockets.push(socket);
      socket.ready = await socket.next('ready');
      return socket;
    },
    /** Closes the sockets opened so far (for a file whose tests each leave none open). */
    async closeSockets() {
      await Promise.all(file.sockets.splice(0).map((s) => s.close().catch(() => {})));
    },
  };
  before(async () => {
    file.stack = await startStack(options);
    file.api = new Api(file.stack.baseUrl);
  });
  after(async () => {
    await file.closeSockets();
    await file.stack?.stop();
  });
  return file;
}
