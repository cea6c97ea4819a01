import { useEffect, type RefObject } from 'react';
import type { ChatClient, LocalMessage, Notice } from '../../sdk/client.ts';
import { dayLabel, timeLabel } from './format.ts';
import { Ticks } from './Ticks.tsx';

/**
 * The messages of the open conversation, with a separator at each new day, ticks and Retry on the
 * reader's own, this device's notices where they happened ("Ana's devices changed"), and
 * "typing…" below. It follows new messages while scrolled to the bottom, and
 * loads older pages when scrolled to the top.
 */
export function MessageList({ client, me, title, isGroup, names, messages, notices, ready, left, typingCount, listRef, stickToBottom, loadOlder }: {
  client: ChatClient; me: string; title: string; isGroup: boolean;
  /** Display names by user id, of the current members. */
  names: Record<string, string>;
  messages: LocalMessage[]; notices: Notice[]; ready: boolean; left: boolean; typingCount: number;
  listRef: RefObject<HTMLOListElement | null>;
  /** Whether the reader is at the bottom, so that what comes next scrolls into view. */
  stickToBottom: RefObject<boolean>;
  loadOlder: () => Promise<void>;
}) {
  useEffect(() => {
    const list = listRef.current;
    if (list && stickToBottom.current) list.scrollTop = list.scrollHeight;
  }, [messages, notices, typingCount, listRef, stickToBottom]);

  const rows: (LocalMessage | Notice)[] = [...messages, ...notices].sort((a, b) => a.seq - b.seq || a.createdAt.localeCompare(b.createdAt));
  /** Who sent a message, as the list names them: "You", the other person of a 1:1, or a member. */
  const senderOf = (m: LocalMessage) => (m.senderId === me ? 'You' : isGroup ? (names[m.senderId] ?? 'Former member') : title);

  return (
    // Focusable (in the tab order, once): the arrow and page keys then scroll the history, which a
    // keyboard could not reach otherwise (its messages hold nothing focusable).
    <ol ref={listRef} aria-label={`Messages with ${title}`} tabIndex={0}
      onScroll={(e) => {
        const el = e.currentTarget;
        stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        if (el.scrollTop < 40) void loadOlder();
      }}
      className="min-h-0 flex-1 space-y-1 overflow-y-auto bg-slate-50 px-3 py-4 focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-brand-500 sm:px-6 dark:bg-slate-900/40">
      {!ready && !left && <li className="list-none py-8 text-center text-sm text-muted"><p role="status">Setting up end-to-end encryption…</p></li>}
      {ready && rows.length === 0 && (
        // A new conversation says what it is and how to check it, instead of a blank pane.
        <li className="mx-auto max-w-sm list-none py-8 text-center text-sm text-muted" data-testid="empty-conversation">
          <p className="font-medium text-slate-700 dark:text-slate-200">No messages yet.</p>
          <p className="mt-1">Messages here are end-to-end encrypted: only the people in this {isGroup ? 'group' : 'chat'} can read them, not the server. To make sure nobody else is listening in, compare the safety number with {isGroup ? 'each member' : title} (Safety number, above).</p>
        </li>
      )}
      {rows.map((m, i) => {
        const newDay = i === 0 || dayLabel(rows[i - 1].createdAt) !== dayLabel(m.createdAt);
        const separator = newDay && <div className="my-3 text-center"><span className="rounded-full bg-white px-3 py-1 text-xs text-slate-600 shadow-sm dark:bg-slate-800 dark:text-slate-300">{dayLabel(m.createdAt)}</span></div>;
        if ('kind' in m) {
          return (
            <li key={m.key} className="list-none">
              {separator}
              <p data-testid="notice" className="mx-auto my-2 max-w-md rounded-lg border border-amber-300 bg-amber-50 px-3 py-1.5 text-center text-xs text-amber-900 dark:border-amber-500/40 dark:bg-amber-500/10 dark:text-amber-200">
                <span aria-hidden="true">⚠ </span>{m.displayName}&apos;s devices changed. Compare safety numbers again. <span className="text-amber-800 dark:text-amber-200/80">{timeLabel(m.createdAt)}</span>
              </p>
            </li>
          );
        }
        const mine = m.senderId === me;
        return (
          <li key={m.key} className="list-none">
            {separator}
            <div className={`flex ${mine ? 'justify-end' : 'justify-start'}`}>
              <div data-testid="message" data-mine={mine ? 'true' : 'false'}
                className={`max-w-[80%] rounded-2xl px-3 py-1.5 shadow-sm ${mine ? 'rounded-br-md bg-brand-100 dark:bg-brand-700/60' : 'rounded-bl-md bg-white dark:bg-slate-800'}`}>
                {/* Who said it, for assistive technology too: position and colour alone do not tell
                    a screen reader (the state comes with the ticks' names). */}
                {isGroup && !mine && <p aria-hidden="true" className="text-xs font-semibold text-brand-700 dark:text-brand-400">{senderOf(m)}</p>}
                <p className="whitespace-pre-wrap break-words"><span className="sr-only">{senderOf(m)}: </span>{m.unsupported
                  ? <span data-testid="message-text" className="italic text-muted">This message needs a newer version of the app.</span>
                  : <span data-testid="message-text">{m.text}</span>}</p>
                <p className={`text-right text-xs ${mine ? 'text-slate-600 dark:text-slate-300' : 'text-muted'}`}>{timeLabel(m.createdAt)}{mine && <Ticks status={m.status} />}</p>
                {mine && m.status === 'failed' && (
                  // A failure shows here again if the retry fails too.
                  // Named with its message (every failed one has this button); focus goes back to
                  // the composer as the button goes.
                  <button type="button" aria-label={`Not sent — Retry “${m.text}”`}
                    onClick={() => { document.getElementById('composer')?.focus(); void client.retry(m.key).catch(() => {}); }}
                    className="mt-0.5 block w-full rounded text-right text-xs font-medium text-red-700 underline-offset-2 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500 dark:text-red-300">
                    Not sent — Retry
                  </button>
                )}
              </div>
            </div>
          </li>
        );
      })}
      {typingCount > 0 && <li className="list-none text-sm italic text-muted" data-testid="typing">typing…</li>}
    </ol>
  );
}
