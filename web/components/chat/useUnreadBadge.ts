import { useEffect } from 'react';
import type { Summary } from './useSummaries.ts';

const TITLE = 'E2E Chat';

/** The Badging API, where the browser has it (an installed app on Chromium, Safari 17+). */
type Badging = Navigator & { setAppBadge?(count?: number): Promise<void>; clearAppBadge?(): Promise<void> };

/**
 * Shows how many messages wait unread, over every conversation but the open one (as the list
 * counts them): in the tab's title, "(3) E2E Chat", and on the installed app's icon.
 */
export function useUnreadBadge(summaries: Record<string, Summary>, openId: string | null) {
  const unread = Object.entries(summaries).reduce((sum, [id, s]) => sum + (id === openId ? 0 : s.unread), 0);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) ${TITLE}` : TITLE;
    const badging = navigator as Badging;
    // Refused where the app is not installed, or the page is not allowed to; the title still says it.
    if (unread > 0) void badging.setAppBadge?.(unread).catch(() => {});
    else void badging.clearAppBadge?.().catch(() => {});
  }, [unread]);
  useEffect(() => () => {
    document.title = TITLE;
  }, []);
}
