import { useCallback, useEffect, useState, type KeyboardEvent, type RefObject } from 'react';
import type { ChatClient, LocalMessage, Notice } from '../../sdk/client.ts';
import { dayLabel, lineOf, timeLabel, timerLabel } from './format.ts';
import { lazyPanel } from './LoadBoundary.tsx';
import { MessageBubble, type Quote } from './MessageBubble.tsx';

// The actions menu and its emoji picker load when first opened.
const MessageMenu = lazyPanel(() => import('./MessageMenu.tsx').then((m) => m.MessageMenu), 'p-2');

/** What the conversation does with a message the reader chose an action for. */
export interface MessageActions {
  reply: (m: LocalMessage) => void;
  edit: (m: LocalMessage) => void;
  /** Shows and focuses the message a quote names, loading older pages as needed. */
  jumpTo: (contentId: string) => void;
  /** Whether the reader may delete others' messages for everyone (a group's owner or admin). */
  manages: boolean;
  /** Says something to assistive technology (and shows it where the conversation shows errors). */
  say: (text: string) => void;
}

/** The element of a message in the list, to focus (arrow keys, a jump to a quoted message). */
export const messageElement = (key: string) => document.querySelector<HTMLElement>(`[data-message-key="${CSS.escape(key)}"]`);

/**
 * The messages of the open conversation, with a separator at each new day, ticks and Retry on the
 * reader's own, this device's notices where they happened ("Ana's devices changed"), timer changes
 * ("Ana set messages to disappear after 1 day"), and "typing…" below. It follows new messages
 * while scrolled to the bottom, and loads older pages when scrolled to the top.
 *
 * By keyboard the list is one Tab stop: the arrow keys move focus from message to message, Enter
 * (or the context-menu key) opens the focused message's actions, Escape goes back to the list.
 */
export function MessageList({ client, me, title, isGroup, names, messages, notices, ready, left, typingCount, listRef, stickToBottom, loadOlder, actions }: {
  client: ChatClient; me: string; title: string; isGroup: boolean;
  /** Display names by user id, of the current members. */
  names: Record<string, string>;
  messages: LocalMessage[]; notices: Notice[]; ready: boolean; left: boolean; typingCount: number;
  listRef: RefObject<HTMLOListElement | null>;
  /** Whether the reader is at the bottom, so that what comes next scrolls into view. */
  stickToBottom: RefObject<boolean>;
  loadOlder: () => Promise<void>;
  actions: MessageActions;
}) {
  useEffect(() => {
    const list = listRef.current;
    if (list && stickToBottom.current) list.scrollTop = list.scrollHeight;
  }, [messages, notices, typingCount, listRef, stickToBottom]);
  useEffect(() => {
    // A photo grows its message once it loads: a reader at the bottom stays at the bottom.
    const list = listRef.current;
    if (!list) return;
    const follow = () => { if (stickToBottom.current) list.scrollTop = list.scrollHeight; };
    list.addEventListener('load', follow, true);
    return () => list.removeEventListener('load', follow, true);
  }, [listRef, stickToBottom]);
  const [menuFor, setMenuFor] = useState<string | null>(null);
  const quotes = useQuotes(client, messages);

  const rows: (LocalMessage | Notice)[] = [...messages, ...notices].sort((a, b) => a.seq - b.seq || a.createdAt.localeCompare(b.createdAt));
  /** Who sent a message, as the list names them: "You", the other person of a 1:1, or a member. */
  const nameOf = (userId: string) => (userId === me ? 'You' : isGroup ? (names[userId] ?? 'Former member') : title);
  const senderOf = (m: LocalMessage) => nameOf(m.senderId);

  const closeMenu = (key: string) => {
    setMenuFor(null);
    messageElement(key)?.focus();
  };
  const dismissMenu = useCallback(() => setMenuFor(null), []);
  /** Closes the menu, does `work` and says what became of it. */
  const run = (key: string, work: () => Promise<unknown>, done: string, failed: string) => {
    closeMenu(key);
    void work().then(() => actions.say(done), (e: unknown) => actions.say(`${failed}: ${(e as Error).message}`));
  };
  /** Focus goes to a neighbour of a message about to go (else the list), so it is never lost. */
  const focusNeighbour = (key: string) => {
    const items = [...(listRef.current?.querySelectorAll<HTMLElement>('[data-message-key]') ?? [])];
    const at = items.findIndex((el) => el.dataset.messageKey === key);
    (items[at + 1] ?? items[at - 1] ?? listRef.current)?.focus();
  };
  const react = (m: LocalMessage, emoji: string) => {
    const takeBack = m.reactions?.[me]?.emoji === emoji;
    run(m.key, () => client.react(m.key, takeBack ? '' : emoji), takeBack ? `Reaction ${emoji} removed.` : `Reacted ${emoji}.`, 'The reaction was not sent');
  };
  const quoteOf = (m: LocalMessage): Quote | null => {
    if (!m.inReplyTo) return null;
    const quoted = quotes[m.inReplyTo];
    if (!quoted) return { contentId: m.inReplyTo, sender: 'Original message', text: 'Not found on this device.', found: false };
    const sender = quoted.senderId === me ? 'your message' : senderOf(quoted);
    return { contentId: m.inReplyTo, sender, text: quoted.deleted ? 'This message was deleted.' : lineOf(quoted), found: true };
  };

  const onKeyDown = (e: KeyboardEvent<HTMLOListElement>) => {
    if (menuFor) {
      // Escape anywhere in the list closes an open menu (its own items handle the rest).
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        closeMenu(menuFor);
      }
      return;
    }
    const items = [...e.currentTarget.querySelectorAll<HTMLElement>('[data-message-key]')];
    const at = items.indexOf(document.activeElement as HTMLElement);
    if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && items.length > 0) {
      e.preventDefault();
      // From the list itself, Up starts at the newest message.
      const next = at < 0 ? items.length - 1 : Math.min(items.length - 1, Math.max(0, at + (e.key === 'ArrowDown' ? 1 : -1)));
      items[next].focus();
      if (next === 0 && e.key === 'ArrowUp') void loadOlder();
    } else if (at >= 0 && (e.key === 'Enter' || e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey))) {
      const key = items[at].dataset.messageKey!;
      if (messages.find((m) => m.key === key && hasActions(m))) {
        e.preventDefault();
        setMenuFor(key);
      }
    } else if (at >= 0 && e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      e.currentTarget.focus();
    }
  };

  return (
    // Focusable (in the tab order, once): the arrow keys then move through the messages, and the
    // page keys scroll the history.
    <ol ref={listRef} aria-label={`Messages with ${title}`} aria-describedby="message-list-keys" tabIndex={0} onKeyDown={onKeyDown}
      onScroll={(e) => {
        const el = e.currentTarget;
        stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        if (el.scrollTop < 40) void loadOlder();
      }}
      className="min-h-0 flex-1 space-y-1 overflow-y-auto bg-slate-50 px-3 py-4 focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-brand-500 sm:px-10 dark:bg-slate-900/40">
      <li className="sr-only list-none" id="message-list-keys">Arrow keys move between messages; Enter opens a message&apos;s actions.</li>
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
        if (m.change === 'timer') {
          return (
            <li key={m.key} className="list-none">
              {separator}
              {/* Reached by the arrow keys like a message, so nobody moving through misses it. */}
              <p data-testid="timer-line" data-message-key={m.key} tabIndex={-1}
                className="mx-auto my-2 max-w-md rounded-lg bg-white px-3 py-1.5 text-center text-xs text-slate-700 shadow-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:bg-slate-800 dark:text-slate-200">
                <span aria-hidden="true">⏱ </span>{timerSentence(m, senderOf(m))} <span className="text-muted">{timeLabel(m.createdAt)}</span>
              </p>
            </li>
          );
        }
        const mine = m.senderId === me;
        return (
          <li key={m.key} className="list-none">
            {separator}
            <div data-message-key={m.key} tabIndex={-1} aria-keyshortcuts={hasActions(m) ? 'Enter' : undefined}
              onContextMenu={(e) => { if (hasActions(m)) { e.preventDefault(); setMenuFor(m.key); } }}
              className={`group flex flex-col rounded-xl focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 ${mine ? 'items-end' : 'items-start'}`}>
              <MessageBubble client={client} m={m} me={me} nameOf={nameOf} sender={{ name: senderOf(m), shown: isGroup && !mine }} quote={quoteOf(m)}
                menuOpen={menuFor === m.key}
                onQuote={actions.jumpTo}
                onReact={(emoji) => react(m, emoji)}
                onRetry={() => { document.getElementById('composer')?.focus(); void client.retry(m.key).catch(() => {}); }}
                onActions={() => setMenuFor(menuFor === m.key ? null : m.key)} />
              {menuFor === m.key && (
                <MessageMenu myReaction={m.reactions?.[me]?.emoji ?? null} canEdit={mine && !m.unsupported && !m.deleted}
                  canReact={!m.deleted} canReply={!m.deleted} hasQuote={!!m.inReplyTo}
                  canDeleteForEveryone={!m.deleted && (mine || (isGroup && actions.manages))}
                  onClose={() => closeMenu(m.key)} onDismiss={dismissMenu}
                  onReact={(emoji) => react(m, emoji)}
                  onReply={() => { setMenuFor(null); actions.reply(m); }}
                  onEdit={() => { setMenuFor(null); actions.edit(m); }}
                  onGoToQuote={() => { setMenuFor(null); if (m.inReplyTo) actions.jumpTo(m.inReplyTo); }}
                  onDeleteForMe={() => {
                    setMenuFor(null);
                    focusNeighbour(m.key);
                    void client.deleteForMe(m.key).then(() => actions.say('Message deleted from this device.'), (e: unknown) => actions.say(`The message was not deleted: ${(e as Error).message}`));
                  }}
                  onDeleteForEveryone={() => run(m.key, () => client.deleteForEveryone(m.key), 'Deleted for everyone.', 'The message was not deleted for everyone')} />
              )}
            </div>
          </li>
        );
      })}
      {typingCount > 0 && <li className="list-none text-sm italic text-muted" data-testid="typing">typing…</li>}
    </ol>
  );
}

/**
 * The messages the replies among `messages` quote, by content id, from this device's history
 * (a quoted message may be older than the pages loaded), kept current as they change.
 */
function useQuotes(client: ChatClient, messages: LocalMessage[]): Record<string, LocalMessage> {
  const [quoted, setQuoted] = useState<Record<string, LocalMessage>>({});
  const wanted = [...new Set(messages.map((m) => m.inReplyTo).filter((id): id is string => !!id))].join(',');
  const conversationId = messages[0]?.conversationId;
  useEffect(() => {
    if (!wanted || !conversationId) return;
    let cancelled = false;
    const load = () => void Promise.all(wanted.split(',').map((id) => client.messageByContent(conversationId, id))).then((found) => {
      if (!cancelled) setQuoted(Object.fromEntries(found.filter((m): m is LocalMessage => !!m).map((m) => [m.contentId!, m])));
    });
    load();
    const refresh = (m: { conversationId: string }) => { if (m.conversationId === conversationId) load(); };
    const offs = [client.on('changed', refresh), client.on('removed', refresh)];
    return () => { cancelled = true; offs.forEach((off) => off()); };
  }, [client, conversationId, wanted]);
  return quoted;
}

/** Whether a message has actions: one the server has (sent), reactions and edits aside. A deleted
 * one still has "delete for me". */
function hasActions(m: LocalMessage): boolean {
  return !m.change && m.seq !== Number.MAX_SAFE_INTEGER;
}

/** A timer line's words: "Ana set messages to disappear after 1 day". */
export function timerSentence(m: LocalMessage, sender: string): string {
  return m.timer ? `${sender} set messages to disappear after ${timerLabel(m.timer)}.` : `${sender} turned off disappearing messages.`;
}
