import { useCallback, useEffect, useState } from 'react';

/** Marks the history entry that opening a conversation pushed, so closing it can go Back to the list. */
const OPENED_HERE = 'e2eChatOpened';

/**
 * The open conversation lives in the URL (?c=id) as a history entry of its own, so that Back (the
 * browser's, Android's, or the arrow on screen) returns to the list.
 */
export function useOpenConversation() {
  const [openId, setOpenId] = useState<string | null>(null);
  useEffect(() => {
    const follow = () => setOpenId(new URLSearchParams(window.location.search).get('c'));
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
  return { openId, openConversation, closeConversation };
}
