// Notifications, the browser's side: asking permission, subscribing with the browser's push
// service, and telling the service worker (web/sw/notifications.js) which account's store to read
// pushes with. The server learns only the subscription; whether previews show is this browser's
// own setting, kept where the service worker reads it (web/sdk/push.ts).

import type { ChatClient } from '../sdk/client.ts';
import { forgetPushDevice, loadPushDevice, loadPreviews, savePreviews, savePushDevice, serverKeyBytes } from '../sdk/push.ts';

/**
 * Where this browser stands: it cannot (no push, or no service worker in this window), the
 * server sends none, it was refused, not on, or on. "on" means the server has this browser's
 * subscription as of this page load (see `refreshPush`).
 */
export type PushState = 'unsupported' | 'unavailable' | 'denied' | 'off' | 'on';

export function pushSupported(): boolean {
  return typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** The service worker's registration; none in a window that refuses one (a private window, say). */
async function registration(): Promise<ServiceWorkerRegistration | undefined> {
  return navigator.serviceWorker.getRegistration();
}

/** This browser's state for `client`'s account. */
export async function pushState(client: ChatClient): Promise<PushState> {
  if (!pushSupported()) return 'unsupported';
  const reg = await registration();
  if (!reg) return 'unsupported';
  if (!(await client.notifications.serverKey())) return 'unavailable';
  if (Notification.permission === 'denied') return 'denied';
  const device = await loadPushDevice();
  const subscribed = await reg.pushManager.getSubscription();
  return Notification.permission === 'granted' && subscribed && device?.storeName === client.user?.id ? 'on' : 'off';
}

/** Whether notifications may show who wrote and what (this browser's choice, kept across turning
 * notifications off and on and across sign-ins; forgotten with the browser). */
export const previewsShown = loadPreviews;

const sameBytes = (a: ArrayBuffer | null, b: Uint8Array) => !!a && a.byteLength === b.length && new Uint8Array(a).every((x, i) => x === b[i]);

/** The browser's subscription for the server's key, made if needed. */
async function subscription(reg: ServiceWorkerRegistration, key: string): Promise<PushSubscription> {
  const applicationServerKey = serverKeyBytes(key);
  const current = await reg.pushManager.getSubscription();
  // One made with another server key (the server's key was changed) would be refused by the
  // push service: make a new one.
  if (current && sameBytes(current.options.applicationServerKey, applicationServerKey)) return current;
  await current?.unsubscribe();
  return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
}

/**
 * Turns notifications on for this browser: asks permission (it must be called from a click),
 * subscribes with the server's key and registers the subscription with the server. Resolves with
 * the state reached; throws when the server or the browser's push service fails, leaving
 * notifications off.
 */
export async function enablePush(client: ChatClient): Promise<PushState> {
  if (!pushSupported()) return 'unsupported';
  const reg = await registration();
  if (!reg) return 'unsupported';
  const key = await client.notifications.serverKey();
  if (!key) return 'unavailable';
  const permission = await Notification.requestPermission();
  if (permission === 'denied') return 'denied';
  if (permission !== 'granted') return 'off';
  const made = await subscription(reg, key);
  try {
    await client.notifications.subscribe(made.toJSON());
    // Only once the server has it: the panel never says "on" for a subscription it refused.
    await savePushDevice({ storeName: client.user!.id, baseUrl: client.api.baseUrl, refreshedAt: Date.now() });
  } catch (e) {
    await made.unsubscribe().catch(() => {});
    throw e;
  }
  return 'on';
}

/** How often an app start gives the server this browser's subscription again. */
const REFRESH_MS = 24 * 60 * 60 * 1000;

/**
 * At a start of the app with notifications on, once a day: the server is given the browser's
 * current subscription again (the browser may have replaced it while no page ran, or the server
 * dropped it when its push service said it was gone). Not at every start: the server allows a
 * device only so many subscription changes an hour. Quietly does nothing when they are off.
 */
export async function refreshPush(client: ChatClient, now = Date.now()): Promise<void> {
  if (!pushSupported() || Notification.permission !== 'granted') return;
  const device = await loadPushDevice();
  const reg = await registration();
  if (!reg || !device || device.storeName !== client.user?.id) return;
  if (device.refreshedAt !== undefined && now - device.refreshedAt < REFRESH_MS) return;
  const key = await client.notifications.serverKey();
  if (!key) return;
  await client.notifications.subscribe((await subscription(reg, key)).toJSON());
  await savePushDevice({ ...device, refreshedAt: now });
}

/** Turns notifications off for this browser: the server stops, and the browser forgets the subscription. */
export async function disablePush(client: ChatClient): Promise<void> {
  if (!pushSupported()) return;
  // This browser first, whatever the server says: once its subscription is gone, the push
  // service answers the server's next push with 410 and the server deletes it anyway.
  await forgetPushHere();
  await client.notifications.unsubscribe().catch(() => {});
}

/**
 * Forgets notifications on this browser without the server (signed out: the server pushes to no
 * device without a session): the service worker no longer reads pushes, the browser drops its
 * subscription, and what is shown goes, as it may name people and quote them.
 */
export async function forgetPushHere({ forgetBrowser = false } = {}): Promise<void> {
  if (!pushSupported()) return;
  await forgetPushDevice({ previewsToo: forgetBrowser });
  const reg = await registration();
  await (await reg?.pushManager.getSubscription())?.unsubscribe();
  for (const notification of (await reg?.getNotifications()) ?? []) notification.close();
  await navigator.clearAppBadge?.().catch(() => {});
}

/** Sets whether notifications show who wrote and what; turning previews off also blanks the
 * notifications already on screen. */
export async function setPreviews(previews: boolean): Promise<void> {
  await savePreviews(previews);
  if (previews || !pushSupported()) return;
  const reg = await registration();
  for (const notification of (await reg?.getNotifications()) ?? []) notification.close();
}
