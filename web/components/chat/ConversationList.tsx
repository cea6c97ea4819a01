import { useEffect, useRef } from 'react';
import type { Conversation, LocalMessage } from '../../sdk/client.ts';
import { Avatar } from './Avatar.tsx';
import { lineOf, peerOf, timerLabel, titleOf, whenLabel } from './format.ts';
import { moveFocusInList } from './listFocus.ts';
import type { Presence, Typing } from './useLive.ts';
import type { Summary } from './useSummaries.ts';

/** The reader's conversations, latest activity first, each with its preview, unread count and who is typing. */
export function ConversationList({ conversations, me, openId, summaries, presence, typing, onOpen }: {
  conversations: Conversation[]; me: string; openId: string | null; summaries: Record<string, Summary>;
  presence: Record<string, Presence>; typing: Typing; onOpen: (id: string) => void;
}) {
  const list = useRef<HTMLUListElement>(null);
  const openIsListed = conversations.some((c) => c.id === openId);

  // Closing a conversation (by Back too) puts focus where the reader came from in the list.
  const lastOpen = useRef<string | null>(null);
  useEffect(() => {
    const closed = lastOpen.current;
    lastOpen.current = openId;
    if (openId || !closed) return;
    requestAnimationFrame(() => list.current?.querySelector<HTMLButtonElement>(`[data-conversation="${closed}"]`)?.focus());
  }, [openId]);

  return (
    // Its buttons make it reachable by keyboard; empty, it is focusable itself, so that a keyboard
    // can still scroll it when a panel above leaves it little room.
    <ul ref={list} onKeyDown={moveFocusInList} tabIndex={conversations.length === 0 ? 0 : undefined}
      className="min-h-0 flex-1 overflow-y-auto focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-brand-500" aria-label="Your conversations">
      {conversations.length === 0 && <li className="px-4 py-6 text-sm text-muted">No conversations yet. Find someone above to start one.</li>}
      {conversations.map((c, i) => (
        <ConversationItem key={c.id} conversation={c} me={me} active={c.id === openId} summary={summaries[c.id]}
          tabbable={openIsListed ? c.id === openId : i === 0}
          online={!!(peerOf(c, me) && presence[peerOf(c, me)!]?.online)}
          typing={Object.keys(typing[c.id] ?? {}).length > 0}
          onOpen={() => onOpen(c.id)} />
      ))}
    </ul>
  );
}

function ConversationItem({ conversation, me, active, tabbable, summary, online, typing, onOpen }: {
  conversation: Conversation; me: string; active: boolean; tabbable: boolean; summary?: Summary; online: boolean; typing: boolean; onOpen: () => void;
}) {
  const title = titleOf(conversation, me);
  const last = summary?.last ?? null;
  const unread = active ? 0 : (summary?.unread ?? 0);
  return (
    <li>
      <button type="button" onClick={onOpen} aria-current={active ? 'true' : undefined} data-conversation={conversation.id} tabIndex={tabbable ? 0 : -1}
        className={`flex w-full items-center gap-3 px-4 py-3 text-left hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-brand-500 dark:hover:bg-slate-900 ${active ? 'bg-slate-100 dark:bg-slate-900' : ''}`}>
        <Avatar name={title} online={online} />
        <span className="min-w-0 flex-1">
          <span className="flex items-baseline justify-between gap-2">
            <span className={`truncate ${unread ? 'font-bold' : 'font-medium'}`}>{title}{online && <span className="sr-only">, online</span>}</span>
            {last && <span className={`shrink-0 text-xs ${unread ? 'font-semibold text-brand-700 dark:text-brand-400' : 'text-muted'}`}>{whenLabel(last.createdAt)}</span>}
          </span>
          <span className="flex items-center justify-between gap-2">
            <span className={`truncate text-sm ${unread ? 'text-slate-800 dark:text-slate-200' : 'text-muted'}`}>
              {typing ? <em className="text-brand-700 dark:text-brand-400">typing…</em> : last ? previewOf(last, me) : 'No messages yet'}
            </span>
            {unread > 0 && (
              <span className="shrink-0 rounded-full bg-brand-700 px-2 py-0.5 text-xs font-semibold text-white">
                <span aria-hidden="true">{unread}</span><span className="sr-only">{unread} unread</span>
              </span>
            )}
          </span>
        </span>
      </button>
    </li>
  );
}

/** What the list shows of a conversation's last message. */
function previewOf(m: LocalMessage, me: string): string {
  const you = m.senderId === me ? 'You: ' : '';
  if (m.deleted) return m.deleted.unverified ? 'A message was removed by the server' : m.senderId === me ? 'You deleted this message' : 'This message was deleted';
  if (m.change === 'timer') return m.timer ? `Disappearing messages: ${timerLabel(m.timer)}` : 'Disappearing messages off';
  if (m.unsupported) return `${you}A message this version cannot show`;
  return `${you}${lineOf(m)}`;
}
