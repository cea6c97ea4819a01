// The app's service worker (served as /sw.js). scripts/service-worker.mjs writes it into the
// static export after `next build`, with two constants above this text: VERSION (a hash of every
// file it lists, so a deploy that changes any file is a new worker) and PRECACHE (the URL of each
// page and asset of the export). It makes the app open with no network: every page and asset is
// cached at install and served from the cache, so an installed app (or a reload in a train
// tunnel) starts, and the SDK then shows the history it keeps in IndexedDB.
//
// Nothing else is cached: API calls, the WebSocket and attachments go to the network as if there
// were no service worker (their answers are per user, and the server's; an offline app reads its
// own local history instead). A new version installs in the background and waits; the page offers
// to reload into it (`skip-waiting`), so a deploy never swaps the code under an open conversation.
//
// Notifications (a push shown, a click that opens its conversation) are ./notifications.js's. The
// build bundles both with what they import from the SDK into one classic script.
/* global VERSION, PRECACHE */

import './notifications.js';

const CACHE = `e2e-chat-${VERSION}`;
const PRECACHED = new Set(PRECACHE);

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(PRECACHE.map(async (url) => {
      // Past the HTTP cache, which on some hosts would hand back the previous deploy's file.
      const response = await fetch(url, { cache: 'reload' });
      // A failed or redirected answer (a host that adds a trailing slash) fails the install: a
      // redirected response cannot answer a navigation, and the old version keeps serving.
      if (!response.ok || response.redirected) throw new Error(`${url}: ${response.status}${response.redirected ? ' (redirected)' : ''}`);
      await cache.put(url, response);
    }));
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('e2e-chat-') && name !== CACHE) await caches.delete(name);
    }
    // The first install controls the pages already open, so they work offline without a reload.
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data?.type === 'skip-waiting') self.skipWaiting();
});

/** The precached URL a request is for, if any: pages by their path, whatever the query. */
function precachedUrl(request) {
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || request.method !== 'GET') return null;
  if (request.mode === 'navigate') {
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/$/, '') : url.pathname;
    return PRECACHED.has(path) ? path : null;
  }
  // An asset by its path: the query on a page's data (`?_rsc=…`) only defeats HTTP caches.
  return PRECACHED.has(url.pathname) ? url.pathname : null;
}

self.addEventListener('fetch', (event) => {
  const url = precachedUrl(event.request);
  if (!url) return; // the network, untouched
  event.respondWith((async () => {
    const cached = await caches.match(url, { cacheName: CACHE });
    return cached ?? fetch(event.request);
  })());
});
