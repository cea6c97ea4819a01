import { useEffect, useState } from 'react';
import useSWR from 'swr';
import type { ChatClient, Conversation } from '../../sdk/client.ts';

/**
 * A group's members with their roles, each one's devices as the server lists them (with a short
 * fingerprint of each device's key) and whether this user verified them; owners and admins can
 * remove members and add people from the directory.
 */
export function Members({ client, conversation, me, onChanged }: { client: ChatClient; conversation: Conversation; me: string; onChanged: () => void }) {
  const memberDevices = useMemberDevices(client, conversation, me);
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
          <li key={m.userId} className="text-sm">
            <div className="flex items-center justify-between gap-2">
              <span>
                {m.displayName}{m.userId === me ? ' (you)' : ''} <span className="text-xs text-slate-500 dark:text-slate-400">{m.role}</span>
                {m.userId !== me && memberDevices && (
                  <span data-testid="member-verified" className="ml-2 text-xs">{memberDevices.verified[m.userId] ? '✓ Verified' : 'Not verified'}</span>
                )}
              </span>
              {canManage && m.userId !== me && m.role !== 'owner' && (
                <button type="button" aria-label={`Remove ${m.displayName}`} onClick={() => void run(client.removeMembers(conversation.id, [m.userId]))} className="rounded-full px-2 py-1 text-xs text-red-600 hover:bg-red-50 dark:text-red-400 dark:hover:bg-red-500/10">Remove</button>
              )}
            </div>
            {memberDevices?.devices.get(m.userId) && (
              <ul aria-label={`${m.displayName}'s devices`} className="mb-1 ml-3 text-xs text-slate-600 dark:text-slate-300">
                {memberDevices.devices.get(m.userId)!.map((d) => (
                  <li key={d.id}>{d.label} <span className="sr-only">key fingerprint</span> <span className="font-mono">{d.fingerprint}</span></li>
                ))}
              </ul>
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

/** Every member's listed devices and this user's verified mark for each, kept current. */
function useMemberDevices(client: ChatClient, conversation: Conversation, me: string) {
  const ids = conversation.members.map((m) => m.userId);
  const { data, mutate } = useSWR(['member-devices', conversation.id, ids.join(',')], async () => {
    const devices = await client.devicesOf(ids);
    const others = ids.filter((id) => id !== me);
    const verified = Object.fromEntries(await Promise.all(others.map(async (id) => [id, await client.isVerified(id)] as const)));
    return { devices, verified };
  });
  useEffect(() => {
    const offs = [client.on('devices-changed', () => void mutate()), client.on('verification', () => void mutate())];
    return () => offs.forEach((off) => off());
  }, [client, mutate]);
  return data;
}
