import { useCallback, useEffect, useState } from 'react';
import type { ChatClient, Conversation, LocalMessage } from '../../sdk/client.ts';
import { readUpTo } from './readUpTo.ts';

/** What the conversation list shows of a conversation besides its name. */
export interface Summary {
  last: LocalMessage | null;
  unread: number;
}

/** Preview and unread count come from this device's own decrypted history. */
async function summaryOf(client: ChatClient, conversationId: string): Promise<Summary> {
  const recent = await client.history(conversationId, { limit: 100 });
  const read = readUpTo(conversationId);
  return {
    last: recent.at(-1) ?? null,
    // A line about the conversation (a timer change) is no message to read.
    unread: recent.filter((m) => m.senderId !== client.user!.id && m.seq > read && !m.change).length,
  };
}

/**
 * Every listed conversation's summary, kept current as messages come, go out and change status;
 * the list is ordered by them, so they live here rather than in each item.
 */
export function useSummaries(client: ChatClient, conversations: Conversation[]) {
  const [summaries, setSummaries] = useState<Record<string, Summary>>({});
  const refresh = useCallback((conversationId: string) => {
    void summaryOf(client, conversationId).then((summary) => setSummaries((all) => ({ ...all, [conversationId]: summary })));
  }, [client]);
  useEffect(() => {
    const offs = [
      client.on('message', (m) => refresh(m.conversationId)), client.on('status', (m) => refresh(m.conversationId)),
      client.on('changed', (m) => refresh(m.conversationId)), client.on('removed', (m) => refresh(m.conversationId)),
    ];
    return () => offs.forEach((off) => off());
  }, [client, refresh]);
  const ids = conversations.map((c) => c.id).join(',');
  useEffect(() => {
    for (const id of ids.split(',')) if (id) refresh(id);
  }, [ids, refresh]);
  return { summaries, refresh };
}

/** Latest activity first: the last message here, else when the conversation began. */
export function byLatestActivity(conversations: Conversation[], summaries: Record<string, Summary>): Conversation[] {
  const at = (c: Conversation) => Date.parse(summaries[c.id]?.last?.createdAt ?? c.createdAt);
  return [...conversations].sort((a, b) => at(b) - at(a));
}
