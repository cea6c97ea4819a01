'use client';

// The chat screen: conversation list and directory on one side, the open conversation on the
// other (separate screens on narrow viewports). Every server call and all crypto go through the
// SDK's ChatClient. The parts live beside this file; this one lays them out and shares the state
// they have in common (the conversations, the open one, live presence and typing).

import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useMemo, useState } from 'react';
import useSWR from 'swr';
import type { ChatClient, SearchHit, UserSummary } from '../../sdk/client.ts';
import { useSession } from '../../lib/session.tsx';
import { AccountHeader, type SignOutOptions } from './AccountHeader.tsx';
import { ConversationList } from './ConversationList.tsx';
import { ConversationView } from './ConversationView.tsx';
import { Directory } from './Directory.tsx';
import { peerOf } from './format.ts';
import { lazyPanel, LoadBoundary } from './LoadBoundary.tsx';
import { MessageSearch } from './MessageSearch.tsx';
import { useLive } from './useLive.ts';
import { useOpenConversation } from './useOpenConversation.ts';
import { byLatestActivity, useSummaries } from './useSummaries.ts';
import { useUnreadBadge } from './useUnreadBadge.ts';

// Opened on demand: kept out of the first load (and offline, a Retry in its place, not a crash).
const NewGroup = lazyPanel(() => import('./NewGroup.tsx').then((m) => m.NewGroup), 'p-3');

/** How long a connection may take before the banner says it is not there yet. */
const CONNECTING_QUIET_MS = 2_000;

export function Chat() {
  const { status, client, signOut } = useSession();
  const router = useRouter();
  useEffect(() => {
    if (status === 'signed-out') router.replace('/login');
  }, [status, router]);
  if (status !== 'signed-in' || !client) {
    return <div className="flex min-h-dvh items-center justify-center text-muted" role="status">Opening your encrypted chats…</div>;
  }
  return <ChatScreen client={client} signOut={signOut} />;
}

function ChatScreen({ client, signOut }: { client: ChatClient; signOut: (o?: SignOutOptions) => Promise<void> }) {
  const me = client.user!.id;
  const { data: listed = [], mutate: refreshConversations } = useSWR('conversations', () => client.conversations(), { refreshInterval: 30_000 });
  const { summaries, refresh: refreshSummary } = useSummaries(client, listed);
  const conversations = useMemo(() => byLatestActivity(listed, summaries), [listed, summaries]);
  const { openId, openConversation, closeConversation } = useOpenConversation();
  useUnreadBadge(listed, summaries, openId);
  useEffect(() => {
    // With notifications on, the server gets this browser's subscription again now and then
    // (loaded off the first paint: web/lib/push.ts).
    void import('../../lib/push.ts').then((push) => push.refreshPush(client)).catch(() => {});
  }, [client]);
  const live = useLive(client);
  const [panel, setPanel] = useState<'none' | 'new-group'>('none');
  // "Connecting…" only once it takes a moment: said (and read out) on every page load otherwise.
  const [connectionSlow, setConnectionSlow] = useState(false);
  useEffect(() => {
    if (live.connection === 'open') {
      setConnectionSlow(false);
      return;
    }
    const timer = setTimeout(() => setConnectionSlow(true), CONNECTING_QUIET_MS);
    return () => clearTimeout(timer);
  }, [live.connection]);
  const showBanner = live.connection !== 'open' && (connectionSlow || live.connection === 'paused');
  const [conversationAttempt, setConversationAttempt] = useState(0);
  const open = conversations.find((c) => c.id === openId) ?? null;
  /** While messages are searched, their results take the conversation list's place. */
  const [searching, setSearching] = useState(false);
  /** The search result picked last: its conversation opens at it. */
  const [target, setTarget] = useState<SearchHit | null>(null);
  const openAt = useCallback((hit: SearchHit) => {
    setTarget(hit);
    openConversation(hit.conversationId);
  }, [openConversation]);

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

  return (
    // One h1 and one main on every size: on a phone, the list and the conversation take turns
    // inside it, and neither takes the landmark away with it.
    <main className="flex h-[calc(100dvh-var(--app-banner,0px))] flex-col">
      <h1 className="sr-only">Chats</h1>
      {/* Always on the page, its text changing: a live region put in with its text is not
          reliably read out. */}
      <div role="status" className={showBanner ? 'bg-amber-100 px-4 py-1.5 text-center text-sm text-amber-900 dark:bg-amber-500/20 dark:text-amber-200' : 'sr-only'}>
        {!showBanner ? null : live.connection === 'paused' ? (
          <>
            Paused here: this account is open in too many other tabs or windows.{' '}
            <button type="button" onClick={() => client.useHere()}
              className="rounded-full px-2 font-medium underline focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-700">Use here</button>
          </>
        ) : live.connection === 'closed' ? 'Offline. What you write is sent when the connection is back.' : 'Connecting… messages will be sent when the connection is back.'}
      </div>
      <div className="flex min-h-0 flex-1">
        <section aria-label="Conversations"
          className={`${open ? 'hidden md:flex' : 'flex'} w-full flex-col border-r border-slate-200 md:w-80 lg:w-96 dark:border-slate-800`}>
          <AccountHeader client={client} signOut={signOut} onToggleNewGroup={() => setPanel(panel === 'new-group' ? 'none' : 'new-group')} />
          {panel === 'new-group' && <NewGroup client={client} onDone={onNewGroup} />}
          <Directory client={client} onPick={startDirect} autoFocus={!open} />
          <MessageSearch client={client} conversations={conversations} me={me} onQuery={setSearching} onPick={openAt} />
          {!searching && (
            <ConversationList conversations={conversations} me={me} openId={openId} summaries={summaries}
              presence={live.presence} typing={live.typing} onOpen={openConversation} />
          )}
        </section>
        <section aria-label={open ? 'Conversation' : 'No conversation open'} className={`${open ? 'flex' : 'hidden md:flex'} min-w-0 flex-1 flex-col`}>
          {open ? (
            // The conversation's own panels load on demand too: one that fails takes down this
            // side only, and Retry shows the conversation again.
            <LoadBoundary key={`${open.id}:${conversationAttempt}`} onRetry={() => setConversationAttempt((n) => n + 1)}>
              <ConversationView client={client} conversation={open} me={me}
                presence={peerOf(open, me) ? live.presence[peerOf(open, me)!] : undefined}
                typingUsers={Object.keys(live.typing[open.id] ?? {})}
                onBack={closeConversation}
                onChanged={onConversationChanged}
                onRead={refreshSummary}
                target={target?.conversationId === open.id ? target : null} />
            </LoadBoundary>
          ) : (
            <div className="flex flex-1 items-center justify-center p-8 text-center text-muted">
              <p>Pick a conversation, or find someone to talk to.<br />Everything here is end-to-end encrypted.</p>
            </div>
          )}
        </section>
      </div>
    </main>
  );
}
