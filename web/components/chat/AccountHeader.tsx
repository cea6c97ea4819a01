import Link from 'next/link';
import { useRef, useState } from 'react';
import type { ChatClient } from '../../sdk/client.ts';
import { ThemeToggle } from '../ThemeToggle.tsx';
import { lazyPanel } from './LoadBoundary.tsx';

// Loaded when first opened: the chat page's first load stays within its budget. Offline, the
// panel says it could not load, with Retry, instead of taking the page down.
const LinkedDevices = lazyPanel(() => import('./LinkedDevices.tsx').then((m) => m.LinkedDevices));
const Privacy = lazyPanel(() => import('./Privacy.tsx').then((m) => m.Privacy));
const NotificationSettings = lazyPanel(() => import('./NotificationSettings.tsx').then((m) => m.NotificationSettings));

export type SignOutOptions = { everywhere?: boolean; forgetDevice?: boolean };

/**
 * The top of the conversations side: who is signed in, Admin for admins, New group, the theme, and
 * the account menu with Linked devices, Notifications, Privacy and the ways to log out (and what went wrong with one).
 */
export function AccountHeader({ client, signOut, onToggleNewGroup }: {
  client: ChatClient; signOut: (o?: SignOutOptions) => Promise<void>; onToggleNewGroup: () => void;
}) {
  const [signOutError, setSignOutError] = useState<string | null>(null);
  const [signingOut, setSigningOut] = useState(false);
  // One account panel at a time, opened from the menu.
  const [open, setOpen] = useState<'none' | 'devices' | 'notifications' | 'privacy'>('none');
  const menu = useRef<HTMLDetailsElement>(null);

  const openPanel = (panel: 'devices' | 'notifications' | 'privacy') => {
    if (menu.current) menu.current.open = false;
    setOpen(panel);
  };
  const closePanel = () => {
    setOpen('none');
    // Back where the panel was opened from.
    menu.current?.querySelector('summary')?.focus();
  };

  const leave = async (options?: SignOutOptions) => {
    setSignOutError(null);
    setSigningOut(true);
    try {
      await signOut(options);
    } catch (e) {
      setSigningOut(false);
      setSignOutError(`${options?.everywhere ? 'Could not log out everywhere' : 'Could not log out'}: ${(e as Error).message} You are still signed in.`);
    }
  };

  const menuItem = 'block w-full rounded-lg px-3 py-2 text-left text-sm hover:bg-slate-100 disabled:opacity-50 dark:hover:bg-slate-800';
  return (
    <>
      <header className="flex items-center justify-between gap-2 border-b border-slate-200 px-4 py-3 dark:border-slate-800">
        <div className="min-w-0">
          <p className="truncate font-semibold">{client.user!.displayName}</p>
          <p className="truncate text-xs text-muted">{client.user!.phone}</p>
        </div>
        <div className="flex items-center gap-1">
          {client.user!.isAdmin && (
            <Link href="/admin" className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">Admin</Link>
          )}
          <button type="button" onClick={onToggleNewGroup}
            className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">New group</button>
          <ThemeToggle />
          <details ref={menu} className="relative" onBlur={(e) => {
            // Tabbing out closes it, rather than leave it open over what focus moved to.
            if (menu.current?.open && !e.currentTarget.contains(e.relatedTarget as Node | null)) menu.current.open = false;
          }} onKeyDown={(e) => {
            // Escape closes the menu and puts focus back on its button, as menus do.
            if (e.key !== 'Escape' || !menu.current?.open) return;
            e.stopPropagation();
            menu.current.open = false;
            menu.current.querySelector('summary')?.focus();
          }}>
            <summary className="cursor-pointer list-none rounded-full px-2 py-1.5 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800" aria-label="Account menu">⋯</summary>
            <div className="absolute right-0 z-10 mt-1 w-60 rounded-xl border border-slate-200 bg-white p-1 shadow-lg dark:border-slate-700 dark:bg-slate-900">
              <button type="button" className={menuItem} onClick={() => openPanel('devices')}>Linked devices</button>
              <button type="button" className={menuItem} onClick={() => openPanel('notifications')}>Notifications</button>
              <button type="button" className={menuItem} onClick={() => openPanel('privacy')}>Privacy</button>
              <button type="button" disabled={signingOut} className={menuItem} onClick={() => void leave()}>Log out</button>
              <button type="button" disabled={signingOut} className={menuItem} title="For a shared computer: removes this browser's keys and history" onClick={() => void leave({ forgetDevice: true })}>Log out and forget this browser</button>
              <button type="button" disabled={signingOut} className={`${menuItem} text-red-700 dark:text-red-400`} onClick={() => void leave({ everywhere: true })}>Log out everywhere</button>
            </div>
          </details>
        </div>
      </header>
      {open === 'devices' && <LinkedDevices client={client} onClose={closePanel} />}
      {open === 'notifications' && <NotificationSettings client={client} onClose={closePanel} />}
      {open === 'privacy' && <Privacy client={client} onClose={closePanel} />}
      {signOutError && <p role="alert" className="border-b border-slate-200 bg-red-50 px-4 py-2 text-sm text-red-700 dark:border-slate-800 dark:bg-red-500/10 dark:text-red-300">{signOutError}</p>}
    </>
  );
}
