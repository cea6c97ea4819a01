import { useCallback, useEffect, useState } from 'react';

/** Marks the history entry that opening a conversation pushed, so closing it can go Back to the list. */
const OPENED_HERE = 'e2eChatOpened';

/**
 * The open conversation lives in the URL (?c=id) as a history entry of its own, so that Back (the
 * browser's, Android's, or the arrow on screen) returns to the list. A notification's click opens
 * one too (web/sw/notifications.js), and opening one closes its notifications.
 */
export function useOpenConversation() {
  const [openId, setOpenId] = useState<string | null>(null);
  useEffect(() => {
    const follow = () => setOpenId(new URLSearchParams(window.location.search).get('c'));
    // Opened at a conversation (a notification's click, a reload): the list goes in history
    // before it, so Back leads to the list rather than out of the app.
    const first = new URLSearchParams(window.location.search).get('c');
    if (first && !window.history.state?.[OPENED_HERE]) {
      window.history.replaceState(null, '', window.location.pathname);
      window.history.pushState({ [OPENED_HERE]: true }, '', `?c=${encodeURIComponent(first)}`);
    }
    follow();
    window.addEventListener('popstate', follow);
    return () => window.removeEventListener('popstate', follow);
  }, []);
  const openConversation = useCallback((id: string) => {
    const url = `?c=${encodeURIComponent(id)}`;
    // Going from one conversation to another replaces the entry: Back always leads to the list.
    if (window.history.state?.[OPENED_HERE]) window.history.replaceState({ [OPENED_HERE]: true }, '', url);
    else window.history.pushState({ [OPENED_HERE]: true }, '', url);
    setOpenId(id);
  }, []);
  const closeConversation = useCallback(() => {
    if (window.history.state?.[OPENED_HERE]) return window.history.back();
    window.history.replaceState(null, '', window.location.pathname);
    setOpenId(null);
  }, []);
  useEffect(() => {
    // A click on a notification, while the app is open: the service worker asks to open it here.
    const sw = navigator.serviceWorker;
    const onMessage = (e: MessageEvent) => {
      if (e.data?.type === 'open-conversation' && typeof e.data.conversationId === 'string') openConversation(e.data.conversationId);
    };
    sw?.addEventListener('message', onMessage);
    return () => sw?.removeEventListener('message', onMessage);
  }, [openConversation]);
  useEffect(() => {
    if (openId) closeNotificationsOf(openId);
  }, [openId]);
  return { openId, openConversation, closeConversation };
}

/** Read here: the conversation's notifications (one, tagged with its id) have done their job. The
 * server counts on it: once this device reads a conversation, a read elsewhere pushes it nothing. */
export function closeNotificationsOf(conversationId: string): void {
  void navigator.serviceWorker?.getRegistration()
    .then((r) => r?.getNotifications({ tag: conversationId }))
    .then((shown) => shown?.forEach((n) => n.close()), () => {});
}
