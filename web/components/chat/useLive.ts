// Live state the whole chat screen shares, from the SDK client's events: presence, typing and the
// connection; and the cached lists those events make stale.

import { useEffect, useState } from 'react';
import useSWR, { useSWRConfig } from 'swr';
import type { ChatClient, ClientEvents, ConnectionState } from '../../sdk/client.ts';

/** Where a user stands, from their presence events or, after a (re)connect, the directory. */
export type Presence = Pick<ClientEvents['presence'], 'online' | 'lastSeen'>;

/** Who is typing where: conversation id, then user id, then when their last "on" came. */
export type Typing = Record<string, Record<string, number>>;

/** Typing stops showing after this long without a new "on", even if "off" never came. */
const TYPING_SHOWN_MS = 6000;

export function useLive(client: ChatClient) {
  const { presence, setPresence } = usePresence(client);
  const typing = useTyping(client);
  const connection = useConnection(client);
  useRefetchOnServerEvents(client);
  return { presence, setPresence, typing, connection };
}

function usePresence(client: ChatClient) {
  const [presence, setPresence] = useState<Record<string, Presence>>({});
  useEffect(
    () => client.on('presence', (p) => setPresence((all) => ({ ...all, [p.userId]: { online: p.online, lastSeen: p.lastSeen } }))),
    [client],
  );

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

  return { presence, setPresence };
}

function useTyping(client: ChatClient): Typing {
  const [typing, setTyping] = useState<Typing>({});
  useEffect(() => {
    const off = client.on('typing', (t) => {
      if (t.userId === client.user?.id) return;
      setTyping((all) => {
        const inConversation = { ...(all[t.conversationId] ?? {}) };
        if (t.on) inConversation[t.userId] = Date.now();
        else delete inConversation[t.userId];
        return { ...all, [t.conversationId]: inConversation };
      });
    });
    const sweep = setInterval(() => setTyping((all) => {
      const now = Date.now();
      let changed = false;
      const next: typeof all = {};
      for (const [c, users] of Object.entries(all)) {
        next[c] = Object.fromEntries(Object.entries(users).filter(([, at]) => now - at < TYPING_SHOWN_MS));
        if (Object.keys(next[c]).length !== Object.keys(users).length) changed = true;
      }
      return changed ? next : all;
    }), 1000);
    return () => { off(); clearInterval(sweep); };
  }, [client]);
  return typing;
}

function useConnection(client: ChatClient): ConnectionState {
  const [connection, setConnection] = useState<ConnectionState>(client.connection);
  useEffect(() => {
    const off = client.on('connection', setConnection);
    // The connection may have changed between the first render and this subscription.
    setConnection(client.connection);
    return off;
  }, [client]);
  return connection;
}

/** A conversation changed or someone registered: the cached conversation list and directory searches are stale. */
function useRefetchOnServerEvents(client: ChatClient) {
  const { mutate } = useSWRConfig();
  useEffect(() => {
    const offs = [
      client.on('conversation', () => void mutate('conversations')),
      client.on('user-registered', () => void mutate((key) => Array.isArray(key) && key[0] === 'directory')),
    ];
    return () => offs.forEach((off) => off());
  }, [client, mutate]);
}
