'use client';

// The chat screen: conversation list and directory on one side, the open conversation on the
// other (separate screens on narrow viewports). Every server call and all crypto go through the
// SDK's ChatClient.

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import useSWR, { useSWRConfig } from 'swr';
import { SendFailure, type ChatClient, type Conversation, type ConnectionState, type LocalMessage, type UserSummary } from '../sdk/client.ts';
import { useSession } from '../lib/session.tsx';
import { ClockIcon, TickIcon } from './Icons.tsx';
import { ThemeToggle } from './ThemeToggle.tsx';

const READ_KEY = (id: string) => `e2e-chat:read:${id}`;
/** Marks the history entry that opening a conversation pushed, so closing it can go Back to the list. */
const OPENED_HERE = 'e2eChatOpened';

function titleOf(c: Conversation, me: string): string {
  if (c.kind === 'group') return c.title ?? 'Group';
  return c.members.find((m) => m.userId !== me)?.displayName ?? 'Conversation';
}

/**
 * Arrow keys, Home and End move focus between the buttons of a list's items, as in any list box.
 * Only one item at a time is in the Tab order (a roving tabindex: the one focused last, at first
 * the open or the first one), so Tab leaves the list in one step instead of visiting every item.
 */
function moveFocusInList(e: KeyboardEvent<HTMLElement>) {
  const keys = ['ArrowDown', 'ArrowUp', 'Home', 'End'];
  if (!keys.includes(e.key)) return;
  const items = [...e.currentTarget.querySelectorAll<HTMLButtonElement>(':scope > li > button')];
  if (items.length === 0) return;
  e.preventDefault();
  const at = items.indexOf(document.activeElement as HTMLButtonElement);
  const next = e.key === 'Home' ? 0 : e.key === 'End' ? items.length - 1
    : e.key === 'ArrowDown' ? Math.min(items.length - 1, at + 1) : Math.max(0, at - 1);
  items.forEach((item, i) => { item.tabIndex = i === next ? 0 : -1; });
  items[next].focus();
}

function peerOf(c: Conversation, me: string): string | null {
  return c.kind === 'direct' ? (c.members.find((m) => m.userId !== me)?.userId ?? null) : null;
}

/** Calendar days from `iso` to today by the local clock (a day is not always 24 hours). */
function daysAgo(iso: string): number {
  const midnight = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  return Math.round((midnight(new Date()) - midnight(new Date(iso))) / 86_400_000);
}

function dayLabel(iso: string): string {
  const days = daysAgo(iso);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return new Date(iso).toLocaleDateString(undefined, { weekday: 'long', month: 'short', day: 'numeric' });
}

function timeLabel(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** For the conversation list: the time today, then "Yesterday", the weekday within a week, else the date. */
function whenLabel(iso: string): string {
  const days = daysAgo(iso);
  if (days === 0) return timeLabel(iso);
  if (days === 1) return 'Yesterday';
  if (days < 7) return new Date(iso).toLocaleDateString(undefined, { weekday: 'long' });
  return new Date(iso).toLocaleDateString(undefined, { dateStyle: 'short' });
}

function lastSeenLabel(iso: string | null): string {
  if (!iso) return 'offline';
  const days = daysAgo(iso);
  const day = days === 0 ? 'today' : days === 1 ? 'yesterday' : new Date(iso).toLocaleDateString(undefined, { dateStyle: 'short' });
  return `last seen ${day} at ${timeLabel(iso)}`;
}

/** `incoming` merged into `current` by key (the incoming copy wins), in conversation order. */
function mergeMessages(current: LocalMessage[], incoming: LocalMessage[]): LocalMessage[] {
  const byKey = new Map(current.map((m) => [m.key, m]));
  for (const m of incoming) byKey.set(m.key, m);
  return [...byKey.values()].sort((a, b) => a.seq - b.seq || a.createdAt.localeCompare(b.createdAt));
}

/**
 * Ticks for the sender's own messages: a clock while sending, one tick when the server has it,
 * two when delivered, and two on a filled badge when read, so that read differs from delivered
 * by shape as well as by colour.
 */
function Ticks({ status }: { status: LocalMessage['status'] }) {
  if (status === 'received') return null;
  const label = { sending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not sent' }[status];
  const look = {
    sending: 'text-slate-600 dark:text-slate-300',
    sent: 'text-slate-600 dark:text-slate-300',
    delivered: 'text-slate-600 dark:text-slate-300',
    read: 'rounded-full bg-sky-700 px-1 text-white dark:bg-sky-400 dark:text-slate-900',
    failed: 'font-bold text-red-700 dark:text-red-300',
  }[status];
  const glyph = {
    sending: <ClockIcon />, sent: <TickIcon />, delivered: <TickIcon double />, read: <TickIcon double />, failed: '!',
  }[status];
  return (
    <span data-status={status} role="img" aria-label={label} title={label} className={`ml-1 inline-flex items-center align-[-2px] ${look}`}>
      {glyph}
    </span>
  );
}

interface Presence {
  online: boolean;
  lastSeen: string | null;
}

/** Live state the whole screen shares: presence, typing, connection. */
function useLive(client: ChatClient) {
  const [presence, setPresence] = useState<Record<string, Presence>>({});
  const [typing, setTyping] = useState<Record<string, Record<string, number>>>({});
  const [connection, setConnection] = useState<ConnectionState>(client.connection);
  const { mutate } = useSWRConfig();

  useEffect(() => {
    const offs = [
      client.on('presence', (p) => setPresence((all) => ({ ...all, [p.userId]: { online: p.online, lastSeen: p.lastSeen } }))),
      client.on('typing', (t) => {
        if (t.userId === client.user?.id) return;
        setTyping((all) => {
          const inConversation = { ...(all[t.conversationId] ?? {}) };
          if (t.on) inConversation[t.userId] = Date.now();
          else delete inConversation[t.userId];
          return { ...all, [t.conversationId]: inConversation };
        });
      }),
      client.on('connection', setConnection),
      client.on('conversation', () => void mutate('conversations')),
      client.on('user-registered', () => void mutate((key) => Array.isArray(key) && key[0] === 'directory')),
    ];
    // The connection may have changed between the first render and this subscription.
    setConnection(client.connection);
    // Typing stops showing after a few quiet seconds even if "off" never came.
    const sweep = setInterval(() => setTyping((all) => {
      const now = Date.now();
      let changed = false;
      const next: typeof all = {};
      for (const [c, users] of Object.entries(all)) {
        next[c] = Object.fromEntries(Object.entries(users).filter(([, at]) => now - at < 6000));
        if (Object.keys(next[c]).length !== Object.keys(users).length) changed = true;
      }
      return changed ? next : all;
    }), 1000);
    return () => { offs.forEach((off) => off()); clearInterval(sweep); };
  }, [client, mutate]);

  // Presence events only tell changes, and those missed while disconnected are lost: after every
  // (re)connect the directory's first page tells where everyone stands now.
  const { mutate: reseed } = useSWR('presence-seed', () => client.api.users({ limit: 100 }), {
    onSuccess: (page) => setPresence((all) => {
      const seeded = { ...all };
      for (const u of page.items) seeded[u.id] = { online: u.online, lastSeen: u.lastSeenAt };
      return seeded;
    }),
  });
  useEffect(() => client.on('connection', (state) => { if (state === 'open') void reseed(); }), [client, reseed]);

  return { presence, setPresence, typing, connection };
}

interface Summary {
  last: LocalMessage | null;
  unread: number;
}

/** Preview and unread count come from this device's own decrypted history. */
async function summaryOf(client: ChatClient, conversationId: string): Promise<Summary> {
  const recent = await client.history(conversationId, { limit: 100 });
  const readUpTo = Number(localStorage.getItem(READ_KEY(conversationId)) ?? 0);
  return {
    last: recent.at(-1) ?? null,
    unread: recent.filter((m) => m.senderId !== client.user!.id && m.seq > readUpTo).length,
  };
}

/**
 * Every listed conversation's summary, kept current as messages come, go out and change status;
 * the list is ordered by them, so they live here rather than in each item.
 */
function useSummaries(client: ChatClient, conversations: Conversation[]) {
  const [summaries, setSummaries] = useState<Record<string, Summary>>({});
  const refresh = useCallback((conversationId: string) => {
    void summaryOf(client, conversationId).then((summary) => setSummaries((all) => ({ ...all, [conversationId]: summary })));
  }, [client]);
  useEffect(() => {
    const offs = [client.on('message', (m) => refresh(m.conversationId)), client.on('status', (m) => refresh(m.conversationId))];
    return () => offs.forEach((off) => off());
  }, [client, refresh]);
  const ids = conversations.map((c) => c.id).join(',');
  useEffect(() => {
    for (const id of ids.split(',')) if (id) refresh(id);
  }, [ids, refresh]);
  return { summaries, refresh };
}

/** Latest activity first: the last message here, else when the conversation began. */
function byLatestActivity(conversations: Conversation[], summaries: Record<string, Summary>): Conversation[] {
  const at = (c: Conversation) => Date.parse(summaries[c.id]?.last?.createdAt ?? c.createdAt);
  return [...conversations].sort((a, b) => at(b) - at(a));
}

/**
 * The open conversation lives in the URL (?c=id) as a history entry of its own, so that Back (the
 * browser's, Android's, or the arrow on screen) returns to the list.
 */
function useOpenConversation() {
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

export function Chat() {
  const { status, client, signOut } = useSession();
  const router = useRouter();
  useEffect(() => {
    if (status === 'signed-out') router.replace('/login');
  }, [status, router]);
  if (status !== 'signed-in' || !client) {
    return <div className="flex min-h-dvh items-center justify-center text-slate-500" role="status">Opening your encrypted chats…</div>;
  }
  return <ChatScreen client={client} signOut={signOut} />;
}

type SignOutOptions = { everywhere?: boolean; forgetDevice?: boolean };

function ChatScreen({ client, signOut }: { client: ChatClient; signOut: (o?: SignOutOptions) => Promise<void> }) {
  const me = client.user!.id;
  const { data: listed = [], mutate: refreshConversations } = useSWR('conversations', () => client.conversations(), { refreshInterval: 30_000 });
  const { summaries, refresh: refreshSummary } = useSummaries(client, listed);
  const conversations = useMemo(() => byLatestActivity(listed, summaries), [listed, summaries]);
  const { openId, openConversation, closeConversation } = useOpenConversation();
  const conversationList = useRef<HTMLUListElement>(null);
  const live = useLive(client);
  const [panel, setPanel] = useState<'none' | 'new-group'>('none');
  const [signOutError, setSignOutError] = useState<string | null>(null);
  const [signingOut, setSigningOut] = useState(false);
  const open = conversations.find((c) => c.id === openId) ?? null;

  // Closing a conversation (by Back too) puts focus where the reader came from in the list.
  const lastOpen = useRef<string | null>(null);
  useEffect(() => {
    const closed = lastOpen.current;
    lastOpen.current = openId;
    if (openId || !closed) return;
    requestAnimationFrame(() => conversationList.current?.querySelector<HTMLButtonElement>(`[data-conversation="${closed}"]`)?.focus());
  }, [openId]);

  const startDirect = useCallback(async (user: UserSummary) => {
    live.setPresence((all) => ({ ...all, [user.id]: all[user.id] ?? { online: user.online, lastSeen: user.lastSeenAt } }));
    const conversation = await client.openDirect(user.id);
    await refreshConversations();
    openConversation(conversation.id);
  }, [client, refreshConversations, live, openConversation]);

  const onNewGroup = useCallback(async (id: string | null) => {
    setPanel('none');
    await refreshConversations();
    if (id) openConversation(id);
  }, [refreshConversations, openConversation]);

  // Stable, because the conversation view (re)subscribes whenever it changes.
  const onConversationChanged = useCallback(() => void refreshConversations(), [refreshConversations]);

  const leave = async (options?: SignOutOptions) => {
    setSignOutError(null);
    setSigningOut(true);
    try {
      await signOut(options);
    } catch (e) {
      setSigningOut(false);
      setSignOutError(`${options?.everywhere ? 'Could not log out everywhere' : 'Could not log out'}: ${(e as Error).message} You are still signed in.`);
    }
  };

  const menuItem = 'block w-full rounded-lg px-3 py-2 text-left text-sm hover:bg-slate-100 disabled:opacity-50 dark:hover:bg-slate-800';
  return (
    <div className="flex h-dvh flex-col">
      {live.connection !== 'open' && (
        <div role="status" className="bg-amber-100 px-4 py-1.5 text-center text-sm text-amber-900 dark:bg-amber-500/20 dark:text-amber-200">
          {live.connection === 'closed' ? 'Offline. What you write is sent when the connection is back.' : 'Connecting… messages will be sent when the connection is back.'}
        </div>
      )}
      <div className="flex min-h-0 flex-1">
        <aside aria-label="Conversations"
          className={`${open ? 'hidden md:flex' : 'flex'} w-full flex-col border-r border-slate-200 md:w-80 lg:w-96 dark:border-slate-800`}>
          <header className="flex items-center justify-between gap-2 border-b border-slate-200 px-4 py-3 dark:border-slate-800">
            <div className="min-w-0">
              <p className="truncate font-semibold">{client.user!.displayName}</p>
              <p className="truncate text-xs text-slate-500 dark:text-slate-400">{client.user!.phone}</p>
            </div>
            <div className="flex items-center gap-1">
              {(client.user as { isAdmin?: boolean }).isAdmin && (
                <Link href="/admin" className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">Admin</Link>
              )}
              <button type="button" onClick={() => setPanel(panel === 'new-group' ? 'none' : 'new-group')}
                className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">New group</button>
              <ThemeToggle />
              <details className="relative">
                <summary className="cursor-pointer list-none rounded-full px-2 py-1.5 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800" aria-label="Account menu">⋯</summary>
                <div className="absolute right-0 z-10 mt-1 w-60 rounded-xl border border-slate-200 bg-white p-1 shadow-lg dark:border-slate-700 dark:bg-slate-900">
                  <button type="button" disabled={signingOut} className={menuItem} onClick={() => void leave()}>Log out</button>
                  <button type="button" disabled={signingOut} className={menuItem} title="For a shared computer: removes this browser's keys and history" onClick={() => void leave({ forgetDevice: true })}>Log out and forget this browser</button>
                  <button type="button" disabled={signingOut} className={`${menuItem} text-red-600 dark:text-red-400`} onClick={() => void leave({ everywhere: true })}>Log out everywhere</button>
                </div>
              </details>
            </div>
          </header>
          {signOutError && <p role="alert" className="border-b border-slate-200 bg-red-50 px-4 py-2 text-sm text-red-700 dark:border-slate-800 dark:bg-red-500/10 dark:text-red-300">{signOutError}</p>}
          {panel === 'new-group' && <NewGroup client={client} onDone={onNewGroup} />}
          <Directory client={client} onPick={startDirect} />
          <ul ref={conversationList} onKeyDown={moveFocusInList} className="min-h-0 flex-1 overflow-y-auto" aria-label="Your conversations">
            {conversations.length === 0 && <li className="px-4 py-6 text-sm text-slate-500 dark:text-slate-400">No conversations yet. Find someone above to start one.</li>}
            {conversations.map((c, i) => (
              <ConversationItem key={c.id} conversation={c} me={me} active={c.id === openId} summary={summaries[c.id]}
                tabbable={open ? c.id === open.id : i === 0}
                online={!!(peerOf(c, me) && live.presence[peerOf(c, me)!]?.online)}
                typing={Object.keys(live.typing[c.id] ?? {}).length > 0}
                onOpen={() => openConversation(c.id)} />
            ))}
          </ul>
        </aside>
        <main className={`${open ? 'flex' : 'hidden md:flex'} min-w-0 flex-1 flex-col`}>
          {open ? (
            <ConversationView key={open.id} client={client} conversation={open} me={me}
              presence={peerOf(open, me) ? live.presence[peerOf(open, me)!] : undefined}
              typingUsers={Object.keys(live.typing[open.id] ?? {})}
              onBack={closeConversation}
              onChanged={onConversationChanged}
              onRead={refreshSummary} />
          ) : (
            <div className="flex flex-1 items-center justify-center p-8 text-center text-slate-500 dark:text-slate-400">
              <p>Pick a conversation, or find someone to talk to.<br />Everything here is end-to-end encrypted.</p>
            </div>
          )}
        </main>
      </div>
    </div>
  );
}

function Directory({ client, onPick }: { client: ChatClient; onPick: (u: UserSummary) => Promise<void> }) {
  const [q, setQ] = useState('');
  const [opening, setOpening] = useState<UserSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const results = useRef<HTMLUListElement>(null);
  const { data } = useSWR(q.trim() ? ['directory', q.trim()] : null, () => client.api.users({ q: q.trim(), limit: 20 }));

  // Setting up the encrypted chat can take a while (up to the SDK's 15 s wait for the other side).
  const pick = async (user: UserSummary) => {
    if (opening) return;
    setError(null);
    setOpening(user);
    try {
      await onPick(user);
      setQ('');
    } catch (e) {
      setError(`Could not open a chat with ${user.displayName}: ${(e as Error).message}`);
    } finally {
      setOpening(null);
    }
  };

  return (
    <div className="border-b border-slate-200 p-3 dark:border-slate-800">
      <label htmlFor="directory-search" className="sr-only">Find people</label>
      <input id="directory-search" type="search" value={q} onChange={(e) => { setQ(e.target.value); setError(null); }}
        onKeyDown={(e) => {
          if (e.key !== 'ArrowDown') return;
          e.preventDefault();
          results.current?.querySelector<HTMLButtonElement>(':scope > li > button')?.focus();
        }}
        placeholder="Find people by name or phone"
        className="w-full rounded-full border border-slate-300 bg-slate-50 px-4 py-2 text-sm outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 dark:border-slate-700 dark:bg-slate-900" />
      {opening && <p role="status" className="mt-2 px-2 text-sm text-slate-600 dark:text-slate-300">Opening a secure chat with {opening.displayName}…</p>}
      {error && <p role="alert" className="mt-2 px-2 text-sm text-red-600 dark:text-red-400">{error}</p>}
      {data && (
        <ul ref={results} onKeyDown={moveFocusInList} aria-busy={!!opening} className="mt-2 max-h-64 overflow-y-auto" aria-label="People">
          {data.items.length === 0 && <li className="px-2 py-2 text-sm text-slate-500 dark:text-slate-400">Nobody matches.</li>}
          {data.items.map((u, i) => (
            <li key={u.id}>
              <button type="button" onClick={() => void pick(u)} aria-disabled={!!opening} tabIndex={i === 0 ? 0 : -1}
                className="flex w-full items-center gap-3 rounded-xl px-2 py-2 text-left hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 aria-disabled:cursor-wait aria-disabled:opacity-60 dark:hover:bg-slate-800">
                <Avatar name={u.displayName} online={u.online} />
                <span className="min-w-0">
                  <span className="block truncate font-medium">{u.displayName}</span>
                  <span className="block text-xs text-slate-500 dark:text-slate-400">{opening?.id === u.id ? 'Opening…' : u.online ? 'online' : lastSeenLabel(u.lastSeenAt)}</span>
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Avatar({ name, online }: { name: string; online?: boolean }) {
  const hue = [...name].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) % 360, 7);
  return (
    <span className="relative inline-flex h-10 w-10 shrink-0 items-center justify-center rounded-full text-sm font-semibold text-white" style={{ background: `hsl(${hue} 55% 45%)` }} aria-hidden="true">
      {name.slice(0, 1).toUpperCase()}
      {online && <span data-presence="online" className="absolute right-0 bottom-0 h-3 w-3 rounded-full border-2 border-white bg-brand-500 dark:border-slate-950" />}
    </span>
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
            <span className={`truncate ${unread ? 'font-bold' : 'font-medium'}`}>{title}</span>
            {last && <span className={`shrink-0 text-xs ${unread ? 'font-semibold text-brand-700 dark:text-brand-400' : 'text-slate-500 dark:text-slate-400'}`}>{whenLabel(last.createdAt)}</span>}
          </span>
          <span className="flex items-center justify-between gap-2">
            <span className={`truncate text-sm ${unread ? 'text-slate-800 dark:text-slate-200' : 'text-slate-500 dark:text-slate-400'}`}>
              {typing ? <em className="text-brand-700 dark:text-brand-400">typing…</em> : last ? `${last.senderId === me ? 'You: ' : ''}${last.text}` : 'No messages yet'}
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

function ConversationView({ client, conversation, me, presence, typingUsers, onBack, onChanged, onRead }: {
  client: ChatClient; conversation: Conversation; me: string; presence?: Presence; typingUsers: string[];
  onBack: () => void; onChanged: () => void; onRead: (conversationId: string) => void;
}) {
  const [messages, setMessages] = useState<LocalMessage[]>([]);
  const [ready, setReady] = useState(client.hasGroup(conversation.id));
  const [hasOlder, setHasOlder] = useState(true);
  const [panel, setPanel] = useState<'none' | 'safety' | 'members'>('none');
  const [draft, setDraft] = useState('');
  const [sendError, setSendError] = useState<string | null>(null);
  const [problems, setProblems] = useState(0);
  /** The last message someone else sent while this was open: what the live region reads out. */
  const [arrived, setArrived] = useState<LocalMessage | null>(null);
  const listRef = useRef<HTMLOListElement>(null);
  const stickToBottom = useRef(true);
  const lastTypingSent = useRef(0);
  const shown = useRef<LocalMessage[]>([]);
  useEffect(() => { shown.current = messages; }, [messages]);

  const left = !!conversation.left;

  const markRead = useCallback((list: LocalMessage[]) => {
    if (conversation.left) return; // no longer a member: receipts would be refused
    // Read means seen: nothing is read in a background tab. Coming back marks what is on screen.
    if (document.visibilityState !== 'visible') return;
    const unread = list.filter((m) => m.senderId !== me && m.status === 'received');
    const readUpTo = Number(localStorage.getItem(READ_KEY(conversation.id)) ?? 0);
    for (const m of unread.filter((m) => m.seq > readUpTo).slice(-50)) client.markRead(m.id);
    const top = Math.max(readUpTo, ...unread.map((m) => m.seq));
    localStorage.setItem(READ_KEY(conversation.id), String(top));
    onRead(conversation.id);
  }, [client, conversation.id, conversation.left, me, onRead]);

  useEffect(() => {
    const onVisible = () => markRead(shown.current);
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, [markRead]);

  useEffect(() => {
    let cancelled = false;
    void client.history(conversation.id, { limit: 50 }).then((page) => {
      if (cancelled) return;
      // Merged, never replacing: older pages loaded meanwhile stay. A short newest page means there is nothing older.
      setMessages((current) => mergeMessages(current, page));
      setHasOlder((older) => older && page.length === 50);
      markRead(page);
    });
    void client.problems(conversation.id).then((p) => !cancelled && setProblems(p.length));
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
      client.on('problem', (p) => { if (p.conversationId === conversation.id) setProblems((n) => n + 1); }),
      client.on('conversation', (c) => {
        if (c.conversationId !== conversation.id) return;
        setReady(client.hasGroup(conversation.id));
        onChanged();
      }),
    ];
    return () => { cancelled = true; offs.forEach((off) => off()); };
  }, [client, conversation.id, me, markRead, onChanged]);

  useEffect(() => {
    const list = listRef.current;
    if (list && stickToBottom.current) list.scrollTop = list.scrollHeight;
  }, [messages, typingUsers.length]);

  const loadingOlder = useRef(false);
  const loadOlder = useCallback(async () => {
    // Scroll events keep coming while a page loads; one page at a time.
    if (!hasOlder || messages.length === 0 || loadingOlder.current) return;
    loadingOlder.current = true;
    try {
      const list = listRef.current!;
      const before = list.scrollHeight;
      const older = await client.history(conversation.id, { beforeSeq: messages[0].seq, limit: 50 });
      setHasOlder(older.length === 50);
      setMessages((current) => mergeMessages(current, older));
      requestAnimationFrame(() => { list.scrollTop = list.scrollHeight - before; });
    } finally {
      loadingOlder.current = false;
    }
  }, [client, conversation.id, hasOlder, messages]);

  const send = async () => {
    const text = draft.trim();
    if (!text || !ready) return;
    setDraft('');
    setSendError(null);
    stickToBottom.current = true;
    client.setTyping(conversation.id, false);
    lastTypingSent.current = 0;
    try {
      await client.sendText(conversation.id, text);
    } catch (e) {
      // A message the server refused shows on its bubble, with Retry. Anything else failed before
      // the message was kept, so it goes back into the composer.
      if (e instanceof SendFailure) return;
      setDraft((current) => current || text);
      setSendError(`Your message was not sent: ${(e as Error).message}`);
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    } else if (e.key === 'Escape' && !e.nativeEvent.isComposing) {
      e.preventDefault();
      onBack();
    }
  };

  const composer = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    // Opening a conversation on a wide screen means writing in it next; on a phone, focusing would
    // pop the keyboard over what the reader came to read.
    if (ready && window.matchMedia('(min-width: 768px)').matches) composer.current?.focus();
  }, [ready]);

  useLayoutEffect(() => {
    // The composer grows with what is written, up to its CSS max-height, and scrolls beyond.
    const el = composer.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${el.scrollHeight + el.offsetHeight - el.clientHeight}px`;
  }, [draft]);

  const onDraft = (value: string) => {
    setDraft(value);
    const now = Date.now();
    if (value && now - lastTypingSent.current > 3000) {
      lastTypingSent.current = now;
      client.setTyping(conversation.id, true);
    }
  };

  const title = titleOf(conversation, me);
  const names = Object.fromEntries(conversation.members.map((m) => [m.userId, m.displayName]));
  const subtitle = typingUsers.length
    ? `${conversation.kind === 'group' ? typingUsers.map((u) => names[u] ?? 'Someone').join(', ') + ' ' : ''}typing…`
    : left ? 'no longer a member'
    : conversation.kind === 'group' ? `${conversation.members.length} members` : presence?.online ? 'online' : lastSeenLabel(presence?.lastSeen ?? null);

  return (
    <>
      <header className="flex items-center gap-3 border-b border-slate-200 px-3 py-2.5 dark:border-slate-800">
        <button type="button" onClick={onBack} aria-label="Back to conversations"
          className="rounded-full px-2 py-1 text-lg hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 md:hidden dark:hover:bg-slate-800">←</button>
        <Avatar name={title} online={presence?.online} />
        <div className="min-w-0 flex-1">
          <h2 className="truncate font-semibold">{title}</h2>
          <p className="truncate text-xs text-slate-500 dark:text-slate-400" data-testid="conversation-subtitle">{subtitle}</p>
        </div>
        {conversation.kind === 'group' && !left && (
          <button type="button" onClick={() => setPanel(panel === 'members' ? 'none' : 'members')} className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">Members</button>
        )}
        {!left && <button type="button" onClick={() => setPanel(panel === 'safety' ? 'none' : 'safety')} className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">Safety number</button>}
      </header>
      {panel === 'safety' && <SafetyNumber client={client} conversationId={conversation.id} ready={ready} />}
      {panel === 'members' && <Members client={client} conversation={conversation} me={me} onChanged={onChanged} />}
      {problems > 0 && (
        <p role="alert" className="bg-red-50 px-4 py-1.5 text-center text-xs text-red-700 dark:bg-red-500/10 dark:text-red-300">
          {problems === 1 ? '1 message' : `${problems} messages`} could not be verified and {problems === 1 ? 'was' : 'were'} not shown.
        </p>
      )}
      {/* Only what arrives while the conversation is open is read out, not the history on screen. */}
      <div aria-live="polite" className="sr-only">
        {arrived && `${conversation.kind === 'group' ? (names[arrived.senderId] ?? 'Someone') : title}: ${arrived.text}`}
      </div>
      <ol ref={listRef} aria-label={`Messages with ${title}`}
        onScroll={(e) => {
          const el = e.currentTarget;
          stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
          if (el.scrollTop < 40) void loadOlder();
        }}
        className="min-h-0 flex-1 space-y-1 overflow-y-auto bg-slate-50 px-3 py-4 sm:px-6 dark:bg-slate-900/40">
        {!ready && !left && <li role="status" className="py-8 text-center text-sm text-slate-500 dark:text-slate-400">Setting up end-to-end encryption…</li>}
        {messages.map((m, i) => {
          const mine = m.senderId === me;
          const newDay = i === 0 || dayLabel(messages[i - 1].createdAt) !== dayLabel(m.createdAt);
          return (
            <li key={m.key} className="list-none">
              {newDay && <div className="my-3 text-center"><span className="rounded-full bg-white px-3 py-1 text-xs text-slate-600 shadow-sm dark:bg-slate-800 dark:text-slate-300">{dayLabel(m.createdAt)}</span></div>}
              <div className={`flex ${mine ? 'justify-end' : 'justify-start'}`}>
                <div data-testid="message" data-mine={mine ? 'true' : 'false'}
                  className={`max-w-[80%] rounded-2xl px-3 py-1.5 shadow-sm ${mine ? 'rounded-br-md bg-brand-100 dark:bg-brand-700/60' : 'rounded-bl-md bg-white dark:bg-slate-800'}`}>
                  {conversation.kind === 'group' && !mine && <p className="text-xs font-semibold text-brand-700 dark:text-brand-400">{names[m.senderId] ?? 'Former member'}</p>}
                  <p className="whitespace-pre-wrap break-words">{m.text}</p>
                  <p className={`text-right text-[11px] ${mine ? 'text-slate-600 dark:text-slate-300' : 'text-slate-500 dark:text-slate-400'}`}>{timeLabel(m.createdAt)}{mine && <Ticks status={m.status} />}</p>
                  {mine && m.status === 'failed' && (
                    // A failure shows here again if the retry fails too.
                    <button type="button" onClick={() => void client.retry(m.key).catch(() => {})}
                      className="mt-0.5 block w-full rounded text-right text-xs font-medium text-red-700 underline-offset-2 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500 dark:text-red-300">
                      Not sent — Retry
                    </button>
                  )}
                </div>
              </div>
            </li>
          );
        })}
        {typingUsers.length > 0 && <li className="list-none text-sm italic text-slate-500 dark:text-slate-400" data-testid="typing">typing…</li>}
      </ol>
      {left ? (
        <p role="status" className="border-t border-slate-200 p-4 text-center text-sm text-slate-500 dark:border-slate-800 dark:text-slate-400">
          You are no longer a member of this group. What you read here before stays on this device.
        </p>
      ) : (
        <form onSubmit={(e) => { e.preventDefault(); void send(); }} className="border-t border-slate-200 p-3 dark:border-slate-800">
          {sendError && <p role="alert" className="mb-2 text-sm text-red-600 dark:text-red-400">{sendError}</p>}
          <div className="flex items-end gap-2">
            <label htmlFor="composer" className="sr-only">Message</label>
            <textarea id="composer" ref={composer} rows={1} value={draft} onChange={(e) => onDraft(e.target.value)} onKeyDown={onKeyDown}
              placeholder={ready ? 'Message' : 'Setting up encryption…'} disabled={!ready} title="Enter sends, Shift+Enter starts a new line, Escape closes the conversation"
              className="max-h-40 min-h-[2.5rem] flex-1 resize-none rounded-2xl border border-slate-300 bg-white px-4 py-2 outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 disabled:opacity-60 dark:border-slate-700 dark:bg-slate-900" />
            <button type="submit" disabled={!ready || !draft.trim()} className="rounded-full bg-brand-600 px-4 py-2 font-medium text-white hover:bg-brand-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-50">Send</button>
          </div>
        </form>
      )}
    </>
  );
}

function SafetyNumber({ client, conversationId, ready }: { client: ChatClient; conversationId: string; ready: boolean }) {
  const { data } = useSWR(ready ? ['safety', conversationId, client.epoch(conversationId)] : null, () => client.safetyNumber(conversationId));
  return (
    <section aria-label="Safety number" className="border-b border-slate-200 bg-white p-4 text-sm dark:border-slate-800 dark:bg-slate-900">
      <p className="text-slate-600 dark:text-slate-300">Compare this number with the other members, in person or on a call. If it matches, nobody else&apos;s device is in this conversation.</p>
      <p data-testid="safety-number" className="mt-2 font-mono text-lg tracking-wider">{data ?? '…'}</p>
    </section>
  );
}

function Members({ client, conversation, me, onChanged }: { client: ChatClient; conversation: Conversation; me: string; onChanged: () => void }) {
  const myRole = conversation.members.find((m) => m.userId === me)?.role;
  const canManage = myRole === 'owner' || myRole === 'admin';
  const [q, setQ] = useState('');
  const [error, setError] = useState<string | null>(null);
  const { data } = useSWR(canManage && q.trim() ? ['directory', q.trim()] : null, () => client.api.users({ q: q.trim(), limit: 10 }));
  const run = async (work: Promise<void>) => {
    setError(null);
    try {
      await work;
      onChanged();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <section aria-label="Members" className="border-b border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
      <ul className="space-y-1">
        {conversation.members.map((m) => (
          <li key={m.userId} className="flex items-center justify-between gap-2 text-sm">
            <span>{m.displayName}{m.userId === me ? ' (you)' : ''} <span className="text-xs text-slate-500 dark:text-slate-400">{m.role}</span></span>
            {canManage && m.userId !== me && m.role !== 'owner' && (
              <button type="button" aria-label={`Remove ${m.displayName}`} onClick={() => void run(client.removeMembers(conversation.id, [m.userId]))} className="rounded-full px-2 py-1 text-xs text-red-600 hover:bg-red-50 dark:text-red-400 dark:hover:bg-red-500/10">Remove</button>
            )}
          </li>
        ))}
      </ul>
      {canManage && (
        <div className="mt-3">
          <label htmlFor="add-member" className="text-xs font-medium">Add someone</label>
          <input id="add-member" type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Name or phone"
            className="mt-1 w-full rounded-full border border-slate-300 bg-slate-50 px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950" />
          <ul className="mt-1">
            {data?.items.filter((u) => !conversation.members.some((m) => m.userId === u.id)).map((u) => (
              <li key={u.id}><button type="button" onClick={() => { setQ(''); void run(client.addMembers(conversation.id, [u.id])); }} className="w-full rounded-lg px-2 py-1 text-left text-sm hover:bg-slate-100 dark:hover:bg-slate-800">Add {u.displayName}</button></li>
            ))}
          </ul>
        </div>
      )}
      {error && <p role="alert" className="mt-2 text-sm text-red-600 dark:text-red-400">{error}</p>}
    </section>
  );
}

function NewGroup({ client, onDone }: { client: ChatClient; onDone: (id: string | null) => void }) {
  const [title, setTitle] = useState('');
  const [q, setQ] = useState('');
  const [picked, setPicked] = useState<UserSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const { data } = useSWR(q.trim() ? ['directory', q.trim()] : null, () => client.api.users({ q: q.trim(), limit: 10 }));
  const create = async () => {
    // One group per press, however many clicks it took.
    if (creating) return;
    setError(null);
    setCreating(true);
    try {
      const group = await client.createGroup(title, picked.map((u) => u.id));
      onDone(group.id);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setCreating(false);
    }
  };
  const candidates = useMemo(() => data?.items.filter((u) => !picked.some((p) => p.id === u.id)) ?? [], [data, picked]);
  return (
    <section aria-label="New group" className="space-y-2 border-b border-slate-200 p-3 dark:border-slate-800">
      <label htmlFor="group-title" className="text-xs font-medium">Group name</label>
      <input id="group-title" value={title} onChange={(e) => setTitle(e.target.value)} maxLength={128}
        className="w-full rounded-xl border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900" />
      <label htmlFor="group-search" className="text-xs font-medium">Members</label>
      <input id="group-search" type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Find people"
        className="w-full rounded-xl border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900" />
      <ul>{candidates.map((u) => (
        <li key={u.id}><button type="button" onClick={() => { setPicked([...picked, u]); setQ(''); }} className="w-full rounded-lg px-2 py-1 text-left text-sm hover:bg-slate-100 dark:hover:bg-slate-800">+ {u.displayName}</button></li>
      ))}</ul>
      {picked.length > 0 && <p className="text-xs text-slate-600 dark:text-slate-300">With {picked.map((u) => u.displayName).join(', ')}</p>}
      {error && <p role="alert" className="text-sm text-red-600 dark:text-red-400">{error}</p>}
      <div className="flex justify-end gap-2">
        <button type="button" disabled={creating} onClick={() => onDone(null)} className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 disabled:opacity-50 dark:hover:bg-slate-800">Cancel</button>
        <button type="button" disabled={creating || !title.trim() || picked.length === 0} aria-busy={creating} onClick={() => void create()} className="rounded-full bg-brand-600 px-3 py-1.5 text-sm text-white disabled:opacity-50">
          {creating ? 'Creating group…' : 'Create group'}
        </button>
      </div>
    </section>
  );
}
