// A WebSocket client for the realtime tests: connects with a token (as the `bearer.<token>`
// subprotocol, the only place the server takes it), queues every server event, and waits for the
// next one that matches.
import { sleep, waitFor } from './wait.mjs';

/** Socket events come quickly: look at the queue often, so waiting adds little to a test. */
const EVENT_POLL_MS = 10;

export class Socket {
  static async open(baseUrl, token, { device } = {}) {
    const url = new URL('/ws', baseUrl.replace(/^http/, 'ws'));
    if (device) url.searchParams.set('device', device);
    const socket = new Socket(new WebSocket(url, ['e2e-chat.v1', `bearer.${token}`]));
    await socket.opened;
    return socket;
  }

  constructor(ws) {
    this.ws = ws;
    this.events = [];
    this.closed = new Promise((resolve) => ws.addEventListener('close', (e) => resolve(e)));
    this.opened = new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', () => reject(new Error('WebSocket refused')), { once: true });
    });
    ws.addEventListener('message', (e) => this.events.push(JSON.parse(e.data)));
  }

  send(event) {
    this.ws.send(typeof event === 'string' ? event : JSON.stringify(event));
  }

  /**
   * Resolves with (and removes) the first queued or future event that matches: by its type, or
   * by a predicate.
   * @param {string | ((event: any) => boolean)} [match]
   * @param {number} [timeoutMs]
   * @returns {Promise<any>}
   */
  next(match = () => true, timeoutMs = 5000) {
    const predicate = typeof match === 'string' ? (e) => e.type === match : match;
    return waitFor(() => {
      const i = this.events.findIndex(predicate);
      return i < 0 ? null : this.events.splice(i, 1)[0];
    }, {
      timeoutMs,
      intervalMs: EVENT_POLL_MS,
      what: () => `a matching event; queued: ${JSON.stringify(this.events).slice(0, 500)}`,
    });
  }

  /**
   * Fails if a matching event arrives within `ms`.
   * @param {string | ((event: any) => boolean)} match
   * @param {number} [ms]
   */
  async nothing(match, ms = 300) {
    await sleep(ms);
    const predicate = typeof match === 'string' ? (e) => e.type === match : match;
    const found = this.events.find(predicate);
    if (found) throw new Error(`unexpected event ${JSON.stringify(found)}`);
  }

  /** Resolves once the server has started closing the socket (or it is closed). */
  async closing(timeoutMs = 5000) {
    await waitFor(() => this.ws.readyState >= WebSocket.CLOSING, { timeoutMs, intervalMs: 20, what: 'the server to close the socket' });
  }

  /** Closes from this side. A socket the server closed may never finish its closing handshake
   * under wrangler dev (the connection lingers until the server process ends), so this waits a
   * bounded time for it. */
  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return Promise.race([this.closed, sleep(1000)]);
  }
}
