// The open conversation's messages as this device knows them: its decrypted history, paged back on
// demand, kept current by the client's events, and marked read while the reader can see them.

import { useCallback, useEffect, useRef, useState, type RefObject } from 'react';
import type { ChatClient, Conversation, LocalMessage, Notice } from '../../sdk/client.ts';
import { readUpTo, setReadUpTo } from './readUpTo.ts';
import { closeNotificationsOf } from './useOpenConversation.ts';

const PAGE = 50;

/** `incoming` merged into `current` by key (the incoming copy wins), in conversation order. */
function mergeMessages(current: LocalMessage[], incoming: LocalMessage[]): LocalMessage[] {
  const byKey = new Map(current.map((m) => [m.key, m]));
  for (const m of incoming) byKey.set(m.key, m);
  return [...byKey.values()].sort((a, b) => a.seq - b.seq || a.createdAt.localeCompare(b.createdAt));
}

export function useConversationMessages({ client, conversation, me, listRef, onChanged, onRead }: {
  client: ChatClient; conversation: Conversation; me: string;
  /** The scrolling list, so that loading an older page keeps what the reader sees in place. */
  listRef: RefObject<HTMLOListElement | null>;
  onChanged: () => void; onRead: (conversationId: string) => void;
}) {
  const [messages, setMessages] = useState<LocalMessage[]>([]);
  const [ready, setReady] = useState(client.hasGroup(conversation.id));
  const [hasOlder, setHasOlder] = useState(true);
  const [problems, setProblems] = useState(0);
  /** Lines this device wrote itself ("Ana's devices changed"), all of them: there are few. */
  const [notices, setNotices] = useState<Notice[]>([]);
  /** The last message someone else sent while this was open: what the live region reads out. */
  const [arrived, setArrived] = useState<LocalMessage | null>(null);
  const markRead = useMarkRead(client, conversation, me, messages, onRead);

  useEffect(() => {
    let cancelled = false;
    void client.history(conversation.id, { limit: PAGE }).then((page) => {
      if (cancelled) return;
      // Merged, never replacing: older pages loaded meanwhile stay. A short newest page means there is nothing older.
      setMessages((current) => mergeMessages(current, page));
      setHasOlder((older) => older && page.length === PAGE);
      markRead(page);
    });
    void client.problems(conversation.id).then((p) => !cancelled && setProblems(p.length));
    void client.notices(conversation.id).then((n) => !cancelled && setNotices(n)).catch(() => {});
    const offs = [
      client.on('message', (m) => {
        if (m.conversationId !== conversation.id) return;
        setMessages((list) => mergeMessages(list, [m]));
        if (m.senderId !== me) {
          markRead([m]);
          setArrived(m);
        }
      }),
      // A tick on a message not loaded here (older than the pages shown) changes nothing on
      // screen; adding it would leave a hole between it and the pages, which scrolling up,
      // starting from the oldest message shown, would then never fill.
      client.on('status', (m) => {
        if (m.conversationId !== conversation.id) return;
        setMessages((list) => (list.some((x) => x.key === m.key) ? mergeMessages(list, [m]) : list));
      }),
      // A reaction, an edit or a deletion for everyone changes a message shown (one not loaded
      // here waits for its page, as ticks do).
      client.on('changed', (m) => {
        if (m.conversationId !== conversation.id) return;
        setMessages((list) => (list.some((x) => x.key === m.key) ? mergeMessages(list, [m]) : list));
      }),
      client.on('removed', ({ conversationId, key }) => {
        if (conversationId === conversation.id) setMessages((list) => list.filter((x) => x.key !== key));
      }),
      client.on('notice', (n) => {
        if (n.conversationId === conversation.id) setNotices((list) => [...list.filter((x) => x.key !== n.key), n]);
      }),
      client.on('problem', (p) => { if (p.conversationId === conversation.id) setProblems((n) => n + 1); }),
      client.on('conversation', (c) => {
        if (c.conversationId !== conversation.id) return;
        setReady(client.hasGroup(conversation.id));
        onChanged();
      }),
    ];
    return () => { cancelled = true; offs.forEach((off) => off()); };
  }, [client, conversation.id, me, markRead, onChanged]);

  const loadingOlder = useRef(false);
  const loadOlder = useCallback(async () => {
    // Scroll events keep coming while a page loads; one page at a time.
    if (!hasOlder || messages.length === 0 || loadingOlder.current) return;
    loadingOlder.current = true;
    try {
      const list = listRef.current!;
      const before = list.scrollHeight;
      const older = await client.history(conversation.id, { beforeSeq: messages[0].seq, limit: PAGE });
      setHasOlder(older.length === PAGE);
      setMessages((current) => mergeMessages(current, older));
      requestAnimationFrame(() => { list.scrollTop = list.scrollHeight - before; });
    } finally {
      loadingOlder.current = false;
    }
  }, [client, conversation.id, hasOlder, messages, listRef]);

  /**
   * Brings a message into the list, loading older pages as far as needed: by content id (what a
   * quote names), or by its key and seq (a search hit). Resolves with its key, or null if this
   * device does not hold it (sent before this device joined, deleted here, or disappeared).
   */
  const reveal = useCallback(async (target: string | { key: string; seq: number }): Promise<string | null> => {
    let wanted: { key: string; seq: number } | null = typeof target === 'string' ? null : target;
    if (typeof target === 'string') {
      const found = await client.messageByContent(conversation.id, target);
      if (found && (!found.change || found.change === 'timer')) wanted = found;
    }
    if (!wanted) return null;
    let oldest = messages[0]?.seq ?? Number.MAX_SAFE_INTEGER;
    const loaded: LocalMessage[] = [];
    let reachedStart = false;
    while (wanted.seq < oldest) {
      const older = await client.history(conversation.id, { beforeSeq: oldest, limit: PAGE });
      reachedStart = older.length < PAGE;
      if (older.length === 0) break;
      loaded.push(...older);
      oldest = older[0].seq;
    }
    if (typeof target !== 'string' && oldest > wanted.seq) return null;
    if (loaded.length > 0) setMessages((current) => mergeMessages(current, loaded));
    // Loaded back to the first message: shown near the top, the message found must not set off a
    // load of pages that are not there, which would move the list from under it.
    if (reachedStart) setHasOlder(false);
    return wanted.key;
  }, [client, conversation.id, messages]);

  // A notice older than the pages loaded waits for its page, as the messages around it do.
  const shownNotices = hasOlder && messages.length > 0 ? notices.filter((n) => n.seq > messages[0].seq) : notices;
  return { messages, notices: shownNotices, ready, problems, arrived, loadOlder, reveal };
}

/**
 * Sends read receipts for others' messages and moves this device's read marker. Read means seen:
 * nothing is read in a background tab, and coming back marks what is on screen.
 */
function useMarkRead(client: ChatClient, conversation: Conversation, me: string, shownNow: LocalMessage[], onRead: (conversationId: string) => void) {
  const shown = useRef<LocalMessage[]>([]);
  useEffect(() => { shown.current = shownNow; }, [shownNow]);

  const markRead = useCallback((list: LocalMessage[]) => {
    if (conversation.left) return; // no longer a member: receipts would be refused
    if (document.visibilityState !== 'visible') return;
    const unread = list.filter((m) => m.senderId !== me && m.status === 'received');
    const read = readUpTo(conversation.id);
    for (const m of unread.filter((m) => m.seq > read).slice(-50)) client.markRead(m.id);
    const top = Math.max(read, ...unread.map((m) => m.seq));
    // Back on a page left open on this conversation: read now, so its notification goes too.
    if (top > read) closeNotificationsOf(conversation.id);
    setReadUpTo(conversation.id, top);
    onRead(conversation.id);
  }, [client, conversation.id, conversation.left, me, onRead]);

  useEffect(() => {
    const onVisible = () => markRead(shown.current);
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, [markRead]);

  return markRead;
}
