import useSWR from 'swr';
import type { ChatClient } from '../../sdk/client.ts';

/** The conversation's safety number, for comparing out of band; it changes with the group's epoch. */
export function SafetyNumber({ client, conversationId, ready }: { client: ChatClient; conversationId: string; ready: boolean }) {
  const { data } = useSWR(ready ? ['safety', conversationId, client.epoch(conversationId)] : null, () => client.safetyNumber(conversationId));
  return (
    <section aria-label="Safety number" className="border-b border-slate-200 bg-white p-4 text-sm dark:border-slate-800 dark:bg-slate-900">
      <p className="text-slate-600 dark:text-slate-300">Compare this number with the other members, in person or on a call. If it matches, you see the same devices in this conversation as they do. It does not prove that each device belongs to the person it is listed for: the server keeps that list.</p>
      <p data-testid="safety-number" className="mt-2 font-mono text-lg tracking-wider">{data ?? '…'}</p>
    </section>
  );
}
