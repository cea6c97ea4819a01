import useSWR from 'swr';
import type { ChatClient, Conversation } from '../../sdk/client.ts';
import { ContactSafetyNumber } from './ContactSafetyNumber.tsx';
import { peerOf } from './format.ts';

/**
 * The Safety number panel. In a 1:1, the number over both people's devices as the directory lists
 * them (see ContactSafetyNumber); in a group, a number over the group's own tree.
 */
export function SafetyNumber({ client, conversation, me, ready }: { client: ChatClient; conversation: Conversation; me: string; ready: boolean }) {
  const peer = peerOf(conversation, me);
  if (peer) {
    const name = conversation.members.find((m) => m.userId === peer)?.displayName ?? 'them';
    return <ContactSafetyNumber client={client} userId={peer} name={name} />;
  }
  return <GroupSafetyNumber client={client} conversationId={conversation.id} ready={ready} />;
}

/** The group's safety number, for comparing out of band; it changes with the group's epoch. */
function GroupSafetyNumber({ client, conversationId, ready }: { client: ChatClient; conversationId: string; ready: boolean }) {
  const { data } = useSWR(ready ? ['safety', conversationId, client.epoch(conversationId)] : null, () => client.safetyNumber(conversationId));
  return (
    <section aria-label="Safety number" className="border-b border-slate-200 bg-white p-4 text-sm dark:border-slate-800 dark:bg-slate-900">
      <p className="text-slate-600 dark:text-slate-300">Compare this number with the other members, in person or on a call. If it matches, you see the same devices in this conversation as they do. It does not prove that each device belongs to the person it is listed for: the server keeps that list. To check that, compare safety numbers with each person in a 1:1 chat, and look at each member&apos;s devices under Members.</p>
      <p data-testid="safety-number" className="mt-2 font-mono text-lg tracking-wider">{data ?? '…'}</p>
    </section>
  );
}
