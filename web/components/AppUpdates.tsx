'use client';

import { useEffect, useRef, useState } from 'react';

/** How often an open app asks whether a new version was deployed (and whenever it is shown again). */
const UPDATE_CHECK_MS = 60 * 60 * 1000;

/** What the banner offers: a new version waiting, or one another tab already switched to. */
type Offer = { kind: 'waiting'; worker: ServiceWorker } | { kind: 'updated' };

/**
 * Registers the service worker (web/sw/service-worker.js, which lets the app open offline) and,
 * when a deploy brought a new version, offers to reload into it. A new version never takes over
 * a page by itself: the code of an open conversation (a draft, an upload) is not swapped under
 * the person using it. Only a tab nobody is looking at reloads on its own when another tab
 * switched.
 *
 * The banner sits in the page's flow at the top, never over it: it hides neither the composer
 * nor whatever has focus. Its height is given to the page as --app-banner, so full-height screens
 * (the chat) shrink by it rather than scroll.
 */
export function AppUpdates() {
  const [offer, setOffer] = useState<Offer | null>(null);
  const reloadOnTakeover = useRef(false);
  const banner = useRef<HTMLDivElement>(null);

  useEffect(() => {
    // `next dev` serves no sw.js; the static export does.
    if (!('serviceWorker' in navigator) || process.env.NODE_ENV !== 'production') return;
    let registration: ServiceWorkerRegistration | undefined;
    const offerWaiting = (worker: ServiceWorker | null) => {
      // A first install has no page to replace: it just starts caching.
      if (worker && navigator.serviceWorker.controller) setOffer({ kind: 'waiting', worker });
    };
    const whenInstalled = (worker: ServiceWorker | null) => {
      worker?.addEventListener('statechange', () => {
        if (worker.state === 'installed') offerWaiting(worker);
      });
    };
    const watch = (reg: ServiceWorkerRegistration) => {
      registration = reg;
      offerWaiting(reg.waiting);
      // The browser may have found the new version while the page loaded, before this listened.
      whenInstalled(reg.installing);
      reg.addEventListener('updatefound', () => whenInstalled(reg.installing));
    };
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).then(watch, () => {
      // No service worker (a private window that refuses one, say): the app works online as before.
    });
    // A new version took over: from this tab's Reload, or another tab's. This page's code is then
    // the old one, whose files are no longer cached. Not on the first install, whose worker takes
    // the page over as it is (`clients.claim`).
    let controlled = Boolean(navigator.serviceWorker.controller);
    let reloading = false;
    const onControllerChange = () => {
      if (!controlled) {
        controlled = true;
        return;
      }
      if (reloading) return;
      if (reloadOnTakeover.current || document.visibilityState === 'hidden') {
        reloading = true;
        window.location.reload();
      } else {
        setOffer({ kind: 'updated' });
      }
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

  // The banner's height, for full-height screens to leave room for it.
  useEffect(() => {
    const root = document.documentElement;
    const element = banner.current;
    if (!offer || !element) {
      root.style.removeProperty('--app-banner');
      return;
    }
    const observer = new ResizeObserver(() => root.style.setProperty('--app-banner', `${element.offsetHeight}px`));
    observer.observe(element);
    return () => {
      observer.disconnect();
      root.style.removeProperty('--app-banner');
    };
  }, [offer]);

  const reload = () => {
    if (offer?.kind === 'waiting') {
      reloadOnTakeover.current = true;
      offer.worker.postMessage({ type: 'skip-waiting' });
    } else {
      window.location.reload();
    }
  };

  const message = offer?.kind === 'waiting'
    ? 'A new version of E2E Chat is ready.'
    : offer?.kind === 'updated' ? 'E2E Chat was updated in another tab. Reload to use the new version.' : '';
  return (
    <>
      {/* Always in the page, so screen readers announce the sentence when it appears. */}
      <p role="status" className="sr-only">{message}</p>
      {offer && (
        <div
          ref={banner}
          className="flex flex-wrap items-center justify-center gap-x-3 gap-y-2 bg-slate-900 px-4 py-2 text-sm text-white dark:bg-slate-100 dark:text-slate-900"
          onKeyDown={(e) => {
            if (e.key === 'Escape') setOffer(null);
          }}
        >
          <span aria-hidden="true">{message}</span>
          <button
            type="button"
            className="rounded-lg bg-brand-600 px-3 py-1 font-semibold text-white hover:bg-brand-700 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-600"
            onClick={reload}
          >
            Reload
          </button>
          <button
            type="button"
            className="rounded-lg px-2 py-1 underline-offset-2 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-600"
            onClick={() => setOffer(null)}
          >
            Later
          </button>
        </div>
      )}
    </>
  );
}
