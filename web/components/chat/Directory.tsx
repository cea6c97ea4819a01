import { useEffect, useRef, useState } from 'react';
import useSWR from 'swr';
import type { ChatClient, UserSummary } from '../../sdk/client.ts';
import { Avatar } from './Avatar.tsx';
import { lastSeenLabel } from './format.ts';
import { moveFocusInList } from './listFocus.ts';

/** Search for people by name or phone; picking one opens (or first sets up) the direct conversation. */
export function Directory({ client, onPick, autoFocus = false }: { client: ChatClient; onPick: (u: UserSummary) => Promise<void>; autoFocus?: boolean }) {
  const [q, setQ] = useState('');
  const [opening, setOpening] = useState<UserSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const results = useRef<HTMLUListElement>(null);
  const search = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // The chats open on a wide screen with nobody chosen (after signing up, say): finding someone
    // is what comes next. On a phone, focusing would pop the keyboard over the list.
    if (autoFocus && window.matchMedia('(min-width: 768px)').matches) search.current?.focus();
  }, [autoFocus]);
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
      <input id="directory-search" ref={search} type="search" value={q} onChange={(e) => { setQ(e.target.value); setError(null); }}
        onKeyDown={(e) => {
          const first = results.current?.querySelector<HTMLButtonElement>(':scope > li > button');
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            first?.focus();
          } else if (e.key === 'Enter' && data?.items[0]) {
            // Enter opens the first person found, as a search box that finds people should.
            e.preventDefault();
            void pick(data.items[0]);
          }
        }}
        placeholder="Find people by name or phone"
        className="w-full rounded-full border border-slate-300 bg-slate-50 px-4 py-2 text-sm outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 dark:border-slate-700 dark:bg-slate-900" />
      {opening && <p role="status" className="mt-2 px-2 text-sm text-slate-600 dark:text-slate-300">Opening a secure chat with {opening.displayName}…</p>}
      {error && <p role="alert" className="mt-2 px-2 text-sm text-red-600 dark:text-red-400">{error}</p>}
      {data && (
        <ul ref={results} onKeyDown={moveFocusInList} aria-busy={!!opening} className="mt-2 max-h-64 overflow-y-auto" aria-label="People">
          {data.items.length === 0 && <li className="px-2 py-2 text-sm text-muted">Nobody matches.</li>}
          {data.items.map((u, i) => (
            <li key={u.id}>
              <button type="button" onClick={() => void pick(u)} aria-disabled={!!opening} tabIndex={i === 0 ? 0 : -1}
                className="flex w-full items-center gap-3 rounded-xl px-2 py-2 text-left hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-brand-500 aria-disabled:cursor-wait aria-disabled:opacity-60 dark:hover:bg-slate-800">
                <Avatar name={u.displayName} online={u.online} />
                <span className="min-w-0">
                  <span className="block truncate font-medium">{u.displayName}</span>
                  <span className="block text-xs text-muted">{opening?.id === u.id ? 'Opening…' : u.online ? 'online' : lastSeenLabel(u.lastSeenAt)}</span>
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
