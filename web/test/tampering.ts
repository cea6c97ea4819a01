// A hostile server, simulated between the Worker and one client: its REST answers rewritten on
// their way in, through the `fetch` the SDK is given. Shared by the tests that play it.

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
