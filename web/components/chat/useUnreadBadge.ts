import { useEffect, useState } from 'react';
import type { Conversation } from '../../sdk/client.ts';
import { CHATS_TITLE } from './titles.ts';
import type { Summary } from './useSummaries.ts';

/** The Badging API, where the browser has it (an installed app on Chromium, Safari 17+). */
type Badging = Navigator & { setAppBadge?(count?: number): Promise<void>; clearAppBadge?(): Promise<void> };

function usePageVisible() {
  const [visible, setVisible] = useState(() => typeof document === 'undefined' || document.visibilityState === 'visible');
  useEffect(() => {
    const onChange = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', onChange);
    return () => document.removeEventListener('visibilitychange', onChange);
  }, []);
  return visible;
}

/**
 * Shows how many messages wait unread over the listed conversations, in the tab's title,
 * "(3) Chats · E2E Chat", and on the installed app's icon. The open conversation counts only
 * while the page is hidden: what arrives there then is not read until someone looks.
 */
export function useUnreadBadge(conversations: Conversation[], summaries: Record<string, Summary>, openId: string | null) {
  const visible = usePageVisible();
  const unread = conversations.reduce((sum, c) => sum + (c.id === openId && visible ? 0 : summaries[c.id]?.unread ?? 0), 0);
  useEffect(() => {
    const wanted = unread > 0 ? `(${unread}) ${CHATS_TITLE}` : CHATS_TITLE;
    const apply = () => {
      if (document.title !== wanted) document.title = wanted;
    };
    apply();
    // The router sets the page's own title when a navigation (sign-up → chat) finishes, which
    // may be after this ran: put the count back whenever the title changes.
    const observer = new MutationObserver(apply);
    observer.observe(document.head, { childList: true, subtree: true, characterData: true });
    const badging = navigator as Badging;
    // Refused where the app is not installed, or the page is not allowed to; the title still says it.
    if (unread > 0) void badging.setAppBadge?.(unread).catch(() => {});
    else void badging.clearAppBadge?.().catch(() => {});
    return () => observer.disconnect();
  }, [unread]);
  // Signed out (or another account): nothing of this one's count stays on the tab or the icon.
  useEffect(() => () => {
    document.title = CHATS_TITLE;
    void (navigator as Badging).clearAppBadge?.().catch(() => {});
  }, []);
}
