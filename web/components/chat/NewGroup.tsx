import { useEffect, useMemo, useRef, useState } from 'react';
import useSWR from 'swr';
import type { ChatClient, UserSummary } from '../../sdk/client.ts';
import { MAX_TITLE_CHARS } from '../../sdk/wire/constants.ts';

/** Names a new group and picks its first members; `onDone` gets the new group's id, or null when cancelled. */
export function NewGroup({ client, onDone }: { client: ChatClient; onDone: (id: string | null) => void }) {
  const [title, setTitle] = useState('');
  const [q, setQ] = useState('');
  const [picked, setPicked] = useState<UserSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const search = useRef<HTMLInputElement>(null);
  const errorLine = useRef<HTMLParagraphElement>(null);
  // Create was disabled while it worked, which took focus off it: to the reason instead.
  useEffect(() => { if (error) errorLine.current?.focus(); }, [error]);
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
      <input id="group-title" value={title} onChange={(e) => setTitle(e.target.value)} maxLength={MAX_TITLE_CHARS}
        className="w-full rounded-xl border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900" />
      <label htmlFor="group-search" className="text-xs font-medium">Members</label>
      <input id="group-search" ref={search} type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Find people"
        className="w-full rounded-xl border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900" />
      <ul>{candidates.map((u) => (
        <li key={u.id}><button type="button" onClick={() => { setPicked([...picked, u]); setQ(''); search.current?.focus(); }} className="w-full rounded-lg px-2 py-1 text-left text-sm hover:bg-slate-100 dark:hover:bg-slate-800">+ {u.displayName}</button></li>
      ))}</ul>
      {/* Each one picked can be taken off again (someone who does not let you add them, say). */}
      {picked.length > 0 && (
        <ul aria-label="Chosen members" className="flex flex-wrap gap-1">
          {picked.map((u) => (
            <li key={u.id}>
              <button type="button" aria-label={`Remove ${u.displayName}`} onClick={() => { setPicked(picked.filter((p) => p.id !== u.id)); setError(null); search.current?.focus(); }}
                className="rounded-full border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:border-slate-600 dark:hover:bg-slate-800">
                {u.displayName} <span aria-hidden="true">×</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {error && <p role="alert" ref={errorLine} tabIndex={-1} className="text-sm text-red-600 focus:outline-none dark:text-red-400">{error}</p>}
      <div className="flex justify-end gap-2">
        <button type="button" disabled={creating} onClick={() => onDone(null)} className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 disabled:opacity-50 dark:hover:bg-slate-800">Cancel</button>
        <button type="button" disabled={creating || !title.trim() || picked.length === 0} aria-busy={creating} onClick={() => void create()} className="rounded-full bg-brand-600 px-3 py-1.5 text-sm text-white disabled:opacity-50">
          {creating ? 'Creating group…' : 'Create group'}
        </button>
      </div>
    </section>
  );
}
