// The service worker's notifications: a push comes (the Worker's, through the browser's push
// service), and this shows it as the conversation's one notification; a click opens the
// conversation. What a push means is worked out by the SDK (web/sdk/push.ts): this file only
// keeps each conversation's notification and answers clicks.

import { APP_NAME, loadPreviews, loadPushDevice, NEW_MESSAGE, noticeText, outcomeOf, pushPayloadOf, resubscribe, serverKeyBytes, withLine, withoutRead } from '../sdk/push.ts';

/** The app's icon, shown with every notification (precached, so it shows offline too). */
const ICON = '/icons/icon-192.png';

/** The notifications shown for a conversation (one, by its tag; older browsers may hold more). */
async function shownFor(conversationId) {
  const shown = await self.registration.getNotifications({ tag: conversationId });
  return shown.filter((n) => n.tag === conversationId && n.data?.notice?.conversationId === conversationId);
}

async function show(notice, { alert }) {
  const { title, body } = noticeText(notice);
  await self.registration.showNotification(title, {
    body,
    tag: notice.conversationId,
    // A new message alerts again; what is left after a read elsewhere changes quietly.
    renotify: alert,
    silent: !alert,
    icon: ICON,
    timestamp: Date.now(),
    data: { notice },
  });
}

/** The app's badge: how many messages the notifications stand for (the page, when open, counts
 * unread messages itself and sets it again). */
async function updateBadge() {
  if (!('setAppBadge' in self.navigator)) return;
  const count = (await self.registration.getNotifications()).reduce((n, shown) => n + (shown.data?.notice?.count ?? 0), 0);
  await (count > 0 ? self.navigator.setAppBadge(count) : self.navigator.clearAppBadge()).catch(() => {});
}

async function onPush(data) {
  const device = await loadPushDevice();
  // Signed out here (the server stops pushing, but one may be on its way): nothing to show.
  if (!device || !data) return;
  let payload;
  try {
    payload = pushPayloadOf(data.json());
  } catch {
    return;
  }
  if (!payload) return;
  let outcome;
  try {
    outcome = await outcomeOf(payload, { ...device, previews: await loadPreviews() });
  } catch {
    // This device's store could not be read (being upgraded by a newer page, say): a message
    // still says that one came.
    if (payload.type !== 'message') return;
    outcome = { kind: 'show', conversationId: payload.conversationId, title: APP_NAME, line: { seq: payload.seq, text: NEW_MESSAGE } };
  }
  // Signed out while this was worked out: what it found is not shown.
  if ((await loadPushDevice())?.storeName !== device.storeName) return;
  const [current] = await shownFor(payload.conversationId);
  const notice = current?.data?.notice;
  if (outcome.kind === 'none') {
    // Nothing new to say (an edit, a deletion, a reaction to someone else). Browsers expect every
    // push to leave a notification on screen (Chrome says "updated in the background" for one
    // that does not; Safari drops the subscription): the conversation's stays, unchanged, quietly.
    if (notice) await show(notice, { alert: false });
    return;
  }
  if (outcome.kind === 'clear') {
    if (!notice) return;
    const rest = withoutRead(notice, outcome.seq);
    if (rest) await show(rest, { alert: false });
    else current.close();
  } else {
    const next = withLine(notice, outcome.conversationId, outcome.title, outcome.line);
    // The same push twice (a push service may deliver again) alerts once.
    await show(next, { alert: next.count !== notice?.count });
  }
  await updateBadge();
}

/** Opens the conversation: in a window of the app already open (told to open it), or a new one. */
async function onClick(notification) {
  const conversationId = notification.data?.notice?.conversationId ?? notification.tag;
  notification.close();
  const url = new URL(`/chat?c=${encodeURIComponent(conversationId)}`, self.location.origin).href;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const chat = windows.find((w) => new URL(w.url).pathname.startsWith('/chat'));
  if (chat) {
    chat.postMessage({ type: 'open-conversation', conversationId });
    // Focusing is the browser's to allow (it does for a click on a notification).
    await chat.focus().catch(() => {});
  } else if (windows[0]) {
    await windows[0].navigate(url).catch(() => {});
    await windows[0].focus().catch(() => {});
  } else {
    await self.clients.openWindow(url);
  }
  await updateBadge();
}

self.addEventListener('push', (event) => {
  event.waitUntil(onPush(event.data));
});

self.addEventListener('notificationclick', (event) => {
  event.waitUntil(onClick(event.notification));
});

/** The browser's push service replaced the subscription: the server is told of the new one. */
async function onSubscriptionChange(event) {
  const device = await loadPushDevice();
  if (!device) return;
  await resubscribe(device, async (serverKey) => {
    const subscription = event.newSubscription ?? await self.registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: serverKeyBytes(serverKey),
    });
    return subscription.toJSON();
  });
}

self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(onSubscriptionChange(event));
});

self.addEventListener('notificationclose', () => {
  void updateBadge();
});
