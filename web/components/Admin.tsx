'use client';

// The admin dashboard: live counts; every account, a page at a time with search; deletion behind a
// confirmation (the server refuses to delete the last admin, and that error is shown); the audit log.

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import useSWR, { useSWRConfig } from 'swr';
import { AdminApi, type Account } from '../sdk/api.ts';
import type { AdminStats } from '../sdk/wire/admin.ts';
import { useSession } from '../lib/session.tsx';
import { ThemeToggle } from './ThemeToggle.tsx';

export function Admin() {
  const { status, client } = useSession();
  const router = useRouter();
  useEffect(() => {
    if (status === 'signed-out') router.replace('/login');
  }, [status, router]);
  if (status !== 'signed-in' || !client) return <div className="p-8 text-muted" role="status">Loading…</div>;
  if (!client.user!.isAdmin) {
    return (
      <div className="mx-auto max-w-5xl px-4 py-6">
        <AdminHeader />
        <main>
          <p role="alert">Only administrators can see this page.</p>
          <Link href="/chat" className="mt-3 inline-block rounded text-brand-600 underline focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:text-brand-400">Back to chats</Link>
        </main>
      </div>
    );
  }
  return <Dashboard admin={new AdminApi(client.api)} myId={client.user!.id} />;
}

/** The admin page's header: its one h1, and the way back to the chats. */
function AdminHeader() {
  return (
    <header className="mb-6 flex items-center justify-between">
      <h1 className="text-2xl font-semibold">Admin</h1>
      <nav aria-label="Admin" className="flex items-center gap-2">
        <Link href="/chat" className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">Chats</Link>
        <ThemeToggle />
      </nav>
    </header>
  );
}

function Dashboard({ admin, myId }: { admin: AdminApi; myId: string }) {
  const [q, setQ] = useState('');
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors.at(-1);
  const users = useSWR(['admin-users', q, cursor], () => admin.users({ q: q.trim() || undefined, cursor, limit: 20 }));
  const audit = useSWR('admin-audit', () => admin.audit({ limit: 20 }));
  const [confirming, setConfirming] = useState<Account | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const search = useRef<HTMLInputElement>(null);
  const { mutate } = useSWRConfig();

  const remove = async (user: Account) => {
    if (deleting) return;
    setError(null);
    setDeleting(true);
    try {
      await admin.deleteUser(user.id);
      setConfirming(null);
      // Every cached page and search may list the deleted user, not only the one on screen.
      await Promise.all([mutate((key) => Array.isArray(key) && key[0] === 'admin-users'), audit.mutate()]);
      // The row whose button opened the dialog is gone: focus goes back to the list's search.
      search.current?.focus();
    } catch (e) {
      setConfirming(null);
      setError((e as Error).message);
    } finally {
      setDeleting(false);
    }
  };

  return (
    <div className="mx-auto max-w-5xl px-4 py-6">
      <AdminHeader />
      <main>
      <LiveCounts admin={admin} />
      {error && <p role="alert" className="mb-4 rounded-xl bg-red-50 px-4 py-2 text-sm text-red-700 dark:bg-red-500/10 dark:text-red-300">{error}</p>}
      <section aria-labelledby="users-heading" className="rounded-2xl border border-slate-200 dark:border-slate-800">
        <div className="flex flex-wrap items-center justify-between gap-2 border-b border-slate-200 p-4 dark:border-slate-800">
          <h2 id="users-heading" className="font-semibold">Users</h2>
          <label className="sr-only" htmlFor="admin-search">Search users</label>
          <input id="admin-search" ref={search} type="search" value={q} onChange={(e) => { setQ(e.target.value); setCursors([undefined]); }} placeholder="Search by name or phone"
            className="w-64 rounded-full border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900" />
        </div>
        {users.error && <LoadError what="the users" error={users.error} />}
        {/* On a narrow screen the table scrolls sideways inside its own box, which a keyboard can
            reach, rather than the whole page. */}
        <div role="region" aria-label="Users table" tabIndex={0} className="overflow-x-auto focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-brand-500">
        <table className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-muted"><tr><th className="px-4 py-2">Name</th><th className="px-4 py-2">Phone</th><th className="px-4 py-2">Joined</th><th className="px-4 py-2"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {users.data?.items.map((u) => (
              <tr key={u.id} className="border-t border-slate-100 dark:border-slate-800">
                <td className="px-4 py-2">{u.displayName}{u.isAdmin && <span className="ml-2 rounded-full bg-brand-100 px-2 py-0.5 text-xs text-brand-700 dark:bg-brand-500/20 dark:text-brand-400">admin</span>}</td>
                <td className="px-4 py-2 font-mono">{u.phone}</td>
                <td className="px-4 py-2">{new Date(u.createdAt).toLocaleDateString()}</td>
                <td className="px-4 py-2 text-right">
                  <button type="button" onClick={() => setConfirming(u)} aria-label={`Delete ${u.displayName}`}
                    className="rounded-full px-3 py-1 text-xs text-red-700 hover:bg-red-50 dark:text-red-400 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500 dark:hover:bg-red-500/10">Delete{u.id === myId ? ' (you)' : ''}</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
        <div className="flex justify-between p-3 text-sm">
          <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))} className="rounded-full px-3 py-1 disabled:opacity-40">← Previous</button>
          <button type="button" disabled={!users.data?.nextCursor} onClick={() => setCursors([...cursors, users.data!.nextCursor!])} className="rounded-full px-3 py-1 disabled:opacity-40">Next →</button>
        </div>
      </section>

      {confirming && (
        <ConfirmDelete user={confirming} deleting={deleting} onCancel={() => setConfirming(null)} onConfirm={() => void remove(confirming)} />
      )}

      <section aria-labelledby="audit-heading" className="mt-8 rounded-2xl border border-slate-200 p-4 dark:border-slate-800">
        <h2 id="audit-heading" className="mb-2 font-semibold">Audit log</h2>
        {audit.error && <LoadError what="the audit log" error={audit.error} />}
        <ul className="space-y-1 text-sm">
          {audit.data?.items.length === 0 && <li className="text-muted">Nothing yet.</li>}
          {audit.data?.items.map((a) => (
            <li key={a.id}><span className="text-muted">{new Date(a.at).toLocaleString()}</span> · {a.action} · <span className="font-mono text-xs">{a.target}</span></li>
          ))}
        </ul>
      </section>
      </main>
    </div>
  );
}

/** How often the counts are read while the page is open (SWR pauses while the tab is hidden). */
const STATS_REFRESH_MS = 5000;
/** A screen reader hears that the counts changed at most this often, not on every refresh. */
const STATS_ANNOUNCE_MS = 60_000;

const STAT_LABELS: [keyof Omit<AdminStats, 'at'>, string][] = [
  ['users', 'Users'],
  ['onlineNow', 'Online now'],
  ['messagesToday', 'Messages today'],
  ['activeSessions', 'Signed-in sessions'],
];

/**
 * The live counts, re-read every few seconds. Each number is labelled by its term. The numbers
 * themselves are not a live region (they would be read out every five seconds); a polite status
 * says what changed, at most once a minute.
 */
function LiveCounts({ admin }: { admin: AdminApi }) {
  const stats = useSWR('admin-stats', () => admin.stats(), { refreshInterval: STATS_REFRESH_MS });
  const [announcement, setAnnouncement] = useState('');
  const announced = useRef<{ stats: AdminStats | null; at: number }>({ stats: null, at: 0 });
  useEffect(() => {
    const now = stats.data;
    if (!now) return;
    const last = announced.current;
    if (!last.stats) {
      announced.current = { stats: now, at: Date.now() };
      return;
    }
    const changed = STAT_LABELS.filter(([key]) => now[key] !== last.stats![key]);
    if (changed.length === 0 || Date.now() - last.at < STATS_ANNOUNCE_MS) return;
    announced.current = { stats: now, at: Date.now() };
    setAnnouncement(changed.map(([key, label]) => `${label}: ${now[key]}`).join(', '));
  }, [stats.data]);

  return (
    <section aria-labelledby="stats-heading" className="mb-6 rounded-2xl border border-slate-200 p-4 dark:border-slate-800">
      <div className="mb-3 flex items-baseline justify-between gap-2">
        <h2 id="stats-heading" className="font-semibold">Live counts</h2>
        {stats.data && <p className="text-xs text-muted">Updated {new Date(stats.data.at).toLocaleTimeString()}, every {STATS_REFRESH_MS / 1000} seconds</p>}
      </div>
      {stats.error && !stats.data && <LoadError what="the counts" error={stats.error} />}
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4">
        {STAT_LABELS.map(([key, label]) => (
          <div key={key} className="rounded-xl bg-slate-50 p-3 dark:bg-slate-800/50">
            <dt className="text-xs uppercase text-muted">{label}</dt>
            <dd className="text-2xl font-semibold tabular-nums">{stats.data ? stats.data[key].toLocaleString() : '…'}</dd>
          </div>
        ))}
      </dl>
      <p className="mt-2 text-xs text-muted">Online now counts people with at least one open connection; each signed-in session may hold several.</p>
      <p role="status" aria-live="polite" className="sr-only">{announcement}</p>
    </section>
  );
}

function LoadError({ what, error }: { what: string; error: Error }) {
  return <p role="alert" className="m-4 rounded-xl bg-red-50 px-4 py-2 text-sm text-red-700 dark:bg-red-500/10 dark:text-red-300">Could not load {what}: {error.message}</p>;
}

/**
 * A modal confirmation: focus moves into it (to Cancel, the safe choice) and stays there, Escape
 * cancels, and on closing focus returns to the button that opened it.
 */
function ConfirmDelete({ user, deleting, onCancel, onConfirm }: { user: Account; deleting: boolean; onCancel: () => void; onConfirm: () => void }) {
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    cancel.current?.focus();
    return () => opener?.focus();
  }, []);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      if (!deleting) onCancel();
    } else if (e.key === 'Tab') {
      const buttons = [...e.currentTarget.querySelectorAll<HTMLButtonElement>('button:not(:disabled)')];
      const [first, last] = [buttons[0], buttons.at(-1)];
      const wrapTo = e.shiftKey ? (document.activeElement === first ? last : null) : (document.activeElement === last ? first : null);
      if (wrapTo) {
        e.preventDefault();
        wrapTo.focus();
      }
    }
  };

  return (
    <div role="dialog" aria-modal="true" aria-labelledby="confirm-title" onKeyDown={onKeyDown} className="fixed inset-0 z-20 flex items-center justify-center bg-black/40 p-4">
      <div className="w-full max-w-sm rounded-2xl bg-white p-6 shadow-xl dark:bg-slate-900">
        <h2 id="confirm-title" className="font-semibold">Delete {user.displayName}?</h2>
        <p className="mt-2 text-sm text-slate-600 dark:text-slate-300">Their devices, memberships and the messages they sent are deleted. This cannot be undone.</p>
        <div className="mt-4 flex justify-end gap-2">
          <button type="button" ref={cancel} disabled={deleting} onClick={onCancel} className="rounded-full px-4 py-1.5 text-sm hover:bg-slate-100 disabled:opacity-50 dark:hover:bg-slate-800">Cancel</button>
          <button type="button" disabled={deleting} aria-busy={deleting} onClick={onConfirm} className="rounded-full bg-red-600 px-4 py-1.5 text-sm text-white hover:bg-red-700 disabled:opacity-60">
            {deleting ? 'Deleting…' : 'Delete'}
          </button>
        </div>
      </div>
    </div>
  );
}
