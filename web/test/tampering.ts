// A hostile server, simulated between the Worker and one client: its REST answers and socket
// events rewritten on their way in, through the `fetch` and `webSocket` the SDK is given. Shared
// by the tests that play it, and by those that only watch what crosses the socket.

import type { ServerEvent } from '../sdk/socket.ts';

/** Rewrites a REST answer's body; the status and headers stay the server's. */
export type Rewrite = (method: string, path: string, body: unknown) => unknown;

/** A `fetch` that passes each answer through whatever `current()` returns at that moment (none: as it is). */
export function tamperedFetch(current: () => Rewrite | null | undefined): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    const rewrite = current();
    if (!rewrite) return res;
    const url = new URL(input instanceof Request ? input.url : String(input));
    const text = await res.text();
    const body = rewrite(init?.method ?? 'GET', url.pathname, text ? JSON.parse(text) : null);
    const headers = new Headers(res.headers);
    headers.delete('content-length');
    return new Response(body === null ? null : JSON.stringify(body), { status: res.status, headers });
  };
}

/** What a `tamperedWebSocket` does with the traffic of each socket it opens. */
export interface SocketTap {
  /** Sees each event the client sends. */
  sent?: (event: Record<string, unknown>) => void;
  /** Sees each server event and returns the one the client gets instead. */
  received?: (event: ServerEvent) => ServerEvent;
}

/** A `WebSocket` class whose sockets are real, with their traffic passed through `tap`. */
export function tamperedWebSocket(tap: SocketTap): typeof WebSocket {
  class TappedSocket {
    private readonly ws: WebSocket;
    constructor(url: string | URL, protocols?: string | string[]) {
      this.ws = new WebSocket(url, protocols);
    }

    addEventListener(type: string, listener: (e: { data?: unknown; code?: number }) => void): void {
      if (type !== 'message') return this.ws.addEventListener(type, listener as EventListener);
      this.ws.addEventListener('message', (e) => {
        const event = JSON.parse(String(e.data)) as ServerEvent;
        listener({ data: JSON.stringify(tap.received ? tap.received(event) : event) });
      });
    }

    send(data: string): void {
      tap.sent?.(JSON.parse(data) as Record<string, unknown>);
      this.ws.send(data);
    }

    close(code?: number, reason?: string): void {
      this.ws.close(code, reason);
    }
  }
  return TappedSocket as unknown as typeof WebSocket;
}
