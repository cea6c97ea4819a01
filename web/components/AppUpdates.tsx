'use client';

import { useEffect, useState } from 'react';

/** How often an open app asks whether a new version was deployed (and whenever it is shown again). */
const UPDATE_CHECK_MS = 60 * 60 * 1000;

/**
 * Registers the service worker (web/sw/service-worker.js, which lets the app open offline) and,
 * when a deploy brought a new version, offers to reload into it. A new version never takes over
 * by itself: the code of an open conversation is not swapped under the person using it.
 */
export function AppUpdates() {
  const [waiting, setWaiting] = useState<ServiceWorker | null>(null);

  useEffect(() => {
    // `next dev` serves no sw.js; the static export does.
    if (!('serviceWorker' in navigator) || process.env.NODE_ENV !== 'production') return;
    let registration: ServiceWorkerRegistration | undefined;
    const offer = (worker: ServiceWorker | null) => {
      // A first install has no page to replace: it just starts caching.
      if (worker && navigator.serviceWorker.controller) setWaiting(worker);
    };
    const watch = (reg: ServiceWorkerRegistration) => {
      registration = reg;
      offer(reg.waiting);
      reg.addEventListener('updatefound', () => {
        const installing = reg.installing;
        installing?.addEventListener('statechange', () => {
          if (installing.state === 'installed') offer(installing);
        });
      });
    };
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).then(watch, () => {
      // No service worker (a private window that refuses one, say): the app works online as before.
    });
    // Once a new version has taken over (Reload here or in another tab), this page's code is the
    // old one, and the old one's files are no longer cached: load the new. Not on the first
    // install, whose worker takes the page over as it is (`clients.claim`).
    let controlled = Boolean(navigator.serviceWorker.controller);
    let reloading = false;
    const onControllerChange = () => {
      if (!controlled) {
        controlled = true;
        return;
      }
      if (reloading) return;
      reloading = true;
      window.location.reload();
    };
    const check = () => {
      if (document.visibilityState === 'visible') void registration?.update().catch(() => {});
    };
    navigator.serviceWorker.addEventListener('controllerchange', onControllerChange);
    document.addEventListener('visibilitychange', check);
    const timer = window.setInterval(check, UPDATE_CHECK_MS);
    return () => {
      navigator.serviceWorker.removeEventListener('controllerchange', onControllerChange);
      document.removeEventListener('visibilitychange', check);
      window.clearInterval(timer);
    };
  }, []);

  if (!waiting) return null;
  return (
    <div role="status" className="fixed inset-x-0 bottom-4 z-50 mx-auto flex w-fit max-w-[calc(100%-2rem)] items-center gap-3 rounded-xl bg-slate-900 px-4 py-3 text-sm text-white shadow-lg dark:bg-slate-100 dark:text-slate-900">
      <span>A new version of E2E Chat is ready.</span>
      <button
        type="button"
        className="rounded-lg bg-brand-600 px-3 py-1.5 font-semibold text-white hover:bg-brand-700 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-600"
        onClick={() => waiting.postMessage({ type: 'skip-waiting' })}
      >
        Reload
      </button>
      <button
        type="button"
        className="rounded-lg px-2 py-1.5 underline-offset-2 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-600"
        onClick={() => setWaiting(null)}
      >
        Later
      </button>
    </div>
  );
}
