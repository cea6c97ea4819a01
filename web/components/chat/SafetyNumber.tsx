import useSWR from 'swr';
import type { ChatClient, Conversation } from '../../sdk/client.ts';
import { ContactSafetyNumber, spokenDigits } from './ContactSafetyNumber.tsx';
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
  const { data, error } = useSWR(ready ? ['safety', conversationId, client.epoch(conversationId)] : null, () => client.safetyNumber(conversationId));
  return (
    <section aria-label="Safety number" tabIndex={-1} className="max-h-[50dvh] overflow-y-auto border-b border-slate-200 bg-white p-4 text-sm focus:outline-none dark:border-slate-800 dark:bg-slate-900">
      <p className="text-slate-600 dark:text-slate-300">Compare this number with the other members, in person or on a call. If it matches, you see the same devices in this conversation as they do. It does not prove that each device belongs to the person it is listed for: the server keeps that list. To check that, compare safety numbers with each person in a 1:1 chat, and look at each member&apos;s devices under Members.</p>
      {data ? (
        <div data-testid="safety-number" className="mt-2">
          <p className="sr-only">Safety number: {spokenDigits(data)}</p>
          <p aria-hidden="true" className="grid w-fit grid-cols-4 gap-x-3 gap-y-1 font-mono text-lg tracking-wider">
            {data.split(' ').map((group, i) => <span key={i}>{group}</span>)}
          </p>
        </div>
      ) : (
        <p role="status" className="mt-2 text-muted">
          {error ? 'The safety number could not be worked out on this device yet. It is tried again in a moment.'
            : ready ? 'Working out the number…' : 'Waiting for this conversation to be ready on this device…'}
        </p>
      )}
    </section>
  );
}
