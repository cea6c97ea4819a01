// The WebSocket half of the API: one socket per client that reconnects with capped, jittered
// exponential backoff, and requests that wait for their ack (or error) by event id. What it sends
// and receives are the generated wire unions, told apart by their `type`.

import { CLOSE_CODES, CLOSE_SESSION_UNCONFIRMED, CLOSE_TOO_MANY_SOCKETS, type ClientEvent, type ClientFrame, type MessageView, type ServerEvent, type SessionEndReason, type SocketCloseReason } from './wire/index.ts';

export type { ServerEvent, SessionEndReason, SocketCloseReason };

/** `paused`: closed as one socket too many for this user (their other tabs and devices hold the
 * rest); it connects again when the page is shown again, or on `resumeHere`. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'paused' | 'closed';

/** The server event of one `type`. */
export type ServerEventOf<T extends ServerEvent['type']> = Extract<ServerEvent, { type: T }>;

type Ack = ServerEventOf<'ack'>;

/** The client events that store a message, whose ack carries it. */
type StoringEvent = Extract<ClientEvent, { type: 'send-message' | 'commit' }>;

/** An `error` event answering one request: the server refused it; the socket stays open. */
export class EventError extends Error {
  readonly code: string;
  readonly currentEpoch?: number;
  constructor(code: string, message: string, currentEpoch?: number) {
    super(message);
    this.name = 'EventError';
    this.code = code;
    this.currentEpoch = currentEpoch;
  }
}

export interface SocketOptions {
  url: string;
  /** Opens the connection; the global WebSocket unless given (tests put a hostile network here). */
  webSocket?: typeof WebSocket;
  token: () => string | null;
  /** Read at each connect: a device the server no longer knows is replaced while offline. */
  deviceId: () => string;
  onEvent: (event: ServerEvent) => void;
  onState?: (state: ConnectionState) => void;
  /** Runs after every (re)connect, once the server said `ready`. */
  onReady?: () => void;
  /** The server closed the socket for good: the session was revoked or this device removed. */
  onEnded?: (why: SessionEndReason) => void;
  /** A connection closed before the server said `ready`: a browser cannot read why (a refused
   * upgrade's status is hidden from it), so the client asks the REST API whether the session
   * still holds. */
  onHandshakeFailed?: () => void;
  requestTimeoutMs?: number;
}

/** Why the server ended this socket for good, if `code` is one of its final close codes. */
function endedBy(code: number): SessionEndReason | undefined {
  return (Object.keys(CLOSE_CODES) as SessionEndReason[]).find((reason) => CLOSE_CODES[reason] === code);
}

const BASE_DELAY_MS = 250;
const MAX_DELAY_MS = 15_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;

export class RealtimeSocket {
  private ws: WebSocket | null = null;
  private attempts = 0;
  private stopped = true;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  private nextId = 0;
  private readonly waiting = new Map<string, { resolve: (ack: Ack) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private readyWaiters: (() => void)[] = [];
  /** Closed by the server as one socket too many (`too-many-sockets`): waiting, with no timer,
   * for the page to be seen again or the network to come back before connecting again. */
  private parked = false;
  state: ConnectionState = 'closed';
  private readonly options: SocketOptions;

  constructor(options: SocketOptions) {
    this.options = options;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    globalThis.window?.addEventListener('online', this.retryNow);
    globalThis.document?.addEventListener('visibilitychange', this.pageShown);
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.parked = false;
    globalThis.window?.removeEventListener('online', this.retryNow);
    globalThis.document?.removeEventListener('visibilitychange', this.pageShown);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.ws?.close(1000, 'client closed');
    this.ws = null;
    this.failWaiting(new EventError('disconnected', 'The connection was closed.'));
    this.setState('closed');
  }

  /** The device's network is back: waiting out the backoff would only delay what is queued. */
  private readonly retryNow = () => {
    if (this.stopped || this.ws || (!this.retryTimer && !this.parked)) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.parked = false;
    this.open();
  };

  /** The user asks to use this page (a paused socket connects again; the oldest elsewhere gives
   * way to it). */
  resumeHere(): void {
    if (this.parked) this.retryNow();
  }

  /** The page is seen again: a socket closed as one too many connects again, and the oldest
   * elsewhere (in a tab out of sight, most likely) gives way to it. */
  private readonly pageShown = () => {
    if (this.parked && globalThis.document?.visibilityState === 'visible') this.retryNow();
  };

  /** Started and not stopped: connected, or trying to be. */
  get running(): boolean {
    return !this.stopped;
  }

  /** Resolves once the socket is open and the server has said `ready`. */
  ready(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Sends an event without waiting for an answer; false if the socket is not open. */
  send(event: ClientFrame): boolean {
    if (this.state !== 'open' || !this.ws) return false;
    this.ws.send(JSON.stringify(event));
    return true;
  }

  /** Sends an event and resolves with its ack, or rejects with an EventError. */
  async request(event: ClientEvent): Promise<Ack> {
    await this.ready();
    const id = `q${++this.nextId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new EventError('timeout', `No answer to ${event.type} in time.`));
      }, this.options.requestTimeoutMs ?? 15_000);
      this.waiting.set(id, { resolve, reject, timer });
      if (!this.send({ ...event, id })) {
        clearTimeout(timer);
        this.waiting.delete(id);
        reject(new EventError('disconnected', 'Not connected.'));
      }
    });
  }

  /** Sends an event that stores a message and resolves with that message as stored (and, for a
   * commit that adds users, their Welcome), or rejects with an EventError. */
  async requestStored(event: StoringEvent): Promise<{ message: MessageView; welcome?: MessageView }> {
    const { message, welcome } = await this.request(event);
    if (!message) throw new EventError('no_message', `The server stored no message for ${event.type}.`);
    return { message, welcome };
  }

  private open(): void {
    const token = this.options.token();
    if (!token) return this.setState('closed');
    const url = new URL(this.options.url);
    url.searchParams.set('device', this.options.deviceId());
    this.setState(this.attempts === 0 ? 'connecting' : 'reconnecting');
    const ws = new (this.options.webSocket ?? WebSocket)(url, ['e2e-chat.v1', `bearer.${token}`]);
    this.ws = ws;
    ws.addEventListener('message', (e) => this.receive(ws, String(e.data)));
    ws.addEventListener('close', (e) => this.dropped(ws, e.code));
    // A handshake can hang (e.g. against a server still starting up) without ever closing: give
    // up on it and try again, rather than stay "connecting" for ever.
    this.handshakeTimer = setTimeout(() => {
      ws.close();
      this.dropped(ws, 1006);
    }, HANDSHAKE_TIMEOUT_MS);
  }

  /** `ws` closed or was given up on: fail what waits for an answer on it, and try again later. */
  private dropped(ws: WebSocket, code: number): void {
    if (this.ws !== ws) return;
    this.ws = null;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.failWaiting(new EventError('disconnected', 'The connection was lost.'));
    if (this.stopped) return;
    const ended = endedBy(code);
    if (ended) {
      // Reconnecting with a revoked token or a removed device would only be refused.
      this.stop();
      this.options.onEnded?.(ended);
      return;
    }
    if (code === CLOSE_TOO_MANY_SOCKETS) {
      // Connecting again at once would close this user's oldest socket elsewhere, which would do
      // the same: they would take turns for ever. Offline until the user comes back to this one.
      this.parked = true;
      this.setState('paused');
      return;
    }
    // Closed before `ready` (refused, or given up on): whether the session still holds is for
    // the client to ask, since a browser is not told why an upgrade failed.
    if (this.state !== 'open') this.options.onHandshakeFailed?.();
    // Anything else, `session-unconfirmed` (1013) included, is tried again with backoff: the
    // server accepts the next connection if the session goes on, and refuses it if it ended.
    this.setState('reconnecting');
    const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempts) * (0.5 + Math.random() / 2);
    this.attempts += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  private receive(from: WebSocket, data: string): void {
    let event: ServerEvent;
    try {
      event = JSON.parse(data);
    } catch {
      return; // the server only sends JSON; anything else is not ours to act on
    }
    if (event.type === 'session-ended') {
      // The server is closing this socket for good; its close frame may take a while to finish.
      this.stop();
      // A reason this version does not know (a newer server) still ends the session, and only
      // 'device-removed' erases this device's keys.
      this.options.onEnded?.(event.reason === 'device-removed' ? 'device-removed' : 'session-ended');
      return;
    }
    if (event.type === 'socket-closing') {
      // The session goes on; only this socket closes, and its close frame may take a while. A
      // reason this version does not know (a newer server) is tried again like a lost connection.
      from.close();
      this.dropped(from, event.reason === 'too-many-sockets' ? CLOSE_TOO_MANY_SOCKETS : CLOSE_SESSION_UNCONFIRMED);
      return;
    }
    if (event.type === 'ready') {
      if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
      this.attempts = 0;
      this.setState('open');
      for (const resolve of this.readyWaiters.splice(0)) resolve();
      this.options.onReady?.();
    }
    if (event.type === 'ack' || event.type === 'error') {
      const ref = event.ref;
      const waiter = ref ? this.waiting.get(ref) : undefined;
      if (ref && waiter) {
        clearTimeout(waiter.timer);
        this.waiting.delete(ref);
        if (event.type === 'ack') waiter.resolve(event);
        else waiter.reject(new EventError(event.code, event.message, event.currentEpoch));
        return;
      }
    }
    this.options.onEvent(event);
  }

  private failWaiting(error: Error): void {
    for (const [id, waiter] of this.waiting) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
      this.waiting.delete(id);
    }
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onState?.(state);
  }
}
