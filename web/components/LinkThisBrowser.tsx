'use client';

import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { LinkPrompt, LinkStatus } from '../sdk/client.ts';
import { thisBrowserLabel } from '../lib/session.tsx';

/** A log-in waiting for one of the account's devices to approve this browser. */
export interface PendingLink {
  /** The code to show, to be typed on that device. */
  prompt: LinkPrompt;
  /** This code replaced one that expired unanswered. */
  renewed: boolean;
  /** The wait as last heard: null until the first answer (shown as waiting). */
  status: LinkStatus | null;
}

/** The code as a screen reader should spell it: character by character, a pause between groups. */
function spokenCode(code: string): string {
  return code.split('-').map((group) => group.split('').join(' ')).join(', ');
}

const button = 'rounded-xl px-4 py-2.5 font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2 disabled:opacity-60 dark:focus-visible:ring-offset-slate-900';

/**
 * What a browser that is not yet one of the account's devices shows after the password: the code
 * to type on a device the user is signed in on, while it waits for that device's approval; and,
 * for someone who has lost every device, the way to make this browser the only one.
 */
export function LinkThisBrowser({ linking, onCancel, onReset }: {
  linking: PendingLink; onCancel: () => void; onReset: (password: string) => Promise<void>;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  const [resetOpen, setResetOpen] = useState(false);
  // A reset under way, or a cancel asked for: the other ways out are off until it is settled.
  const [resetting, setResetting] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const [label] = useState(thisBrowserLabel);
  // Focus follows the screen change, so keyboard and screen-reader users start at its title.
  useEffect(() => heading.current?.focus(), []);
  const { code, expiresAt } = linking.prompt;
  const until = new Date(expiresAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const approved = linking.status === 'approved';

  const cancel = () => {
    setCancelling(true);
    onCancel();
  };
  const reset = async (password: string) => {
    setResetting(true);
    try {
      await onReset(password);
    } catch (e) {
      setResetting(false);
      throw e;
    }
  };

  return (
    <section aria-labelledby="link-title" className="w-full max-w-md space-y-5 rounded-3xl border border-slate-200 bg-white p-5 shadow-xl sm:p-8 dark:border-slate-800 dark:bg-slate-900">
      <h1 id="link-title" ref={heading} tabIndex={-1} className="text-2xl font-semibold focus:outline-none">Link this browser</h1>
      <p className="text-slate-600 dark:text-slate-300">
        Your account is already set up on another device. To keep your chats private, this browser joins only when one of your
        devices approves it.
      </p>
      <div>
        <p className="font-medium">On a device where you are signed in, open Linked devices → Link a device, and type this code:</p>
        <p className="mt-1 text-sm text-slate-600 dark:text-slate-300">In E2E Chat, Linked devices is in the account menu (⋯) above your conversations.</p>
      </div>
      <div className="rounded-2xl bg-slate-100 px-3 py-5 text-center sm:px-4 dark:bg-slate-800">
        <p className="sr-only">Code: {spokenCode(code)}</p>
        {/* Breaks only between the groups on a narrow screen, never inside one. */}
        <p aria-hidden="true" data-testid="link-code" className="select-all font-mono text-xl font-semibold tracking-wider sm:text-3xl">
          {code.split('-').map((group, i) => (
            <span key={i}>{i > 0 && <><span className="px-0.5 text-slate-400">-</span><wbr /></>}<span className="whitespace-nowrap">{group}</span></span>
          ))}
        </p>
        <p className="mt-2 text-sm text-slate-600 dark:text-slate-300">This code works until {until}; a new one appears after that.</p>
      </div>
      <p data-testid="link-label" className="text-sm text-slate-600 dark:text-slate-300">
        This browser will appear as <span className="font-medium text-slate-900 dark:text-slate-100">{label}</span> on your other device.
      </p>
      <LinkWaitStatus linking={linking} />
      <button type="button" onClick={cancel} disabled={cancelling || resetting || approved} aria-busy={cancelling}
        className={`${button} w-full border border-slate-300 hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800`}>
        {cancelling ? 'Cancelling…' : 'Cancel'}
      </button>
      <div className="border-t border-slate-200 pt-4 dark:border-slate-800">
        <button type="button" aria-expanded={resetOpen} aria-controls="reset-devices" onClick={() => setResetOpen(!resetOpen)}
          disabled={resetting || cancelling || approved}
          className="text-sm font-medium text-brand-700 underline-offset-2 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-60 dark:text-brand-400">
          Lost all your devices?
        </button>
        {resetOpen && <ResetDevices onReset={reset} />}
      </div>
    </section>
  );
}

/** Where the wait stands, in one live region that stays mounted so that each change is read out. */
function LinkWaitStatus({ linking }: { linking: PendingLink }) {
  const { status, renewed, prompt } = linking;
  const dot = status === 'unreachable' ? 'bg-slate-400 dark:bg-slate-500'
    : status === 'approved' ? 'bg-emerald-500'
    : 'animate-pulse bg-brand-500';
  return (
    <p role="status" data-testid="link-status" className="flex items-start gap-2 text-sm">
      <span aria-hidden="true" className={`mt-1.5 inline-block h-2.5 w-2.5 shrink-0 rounded-full ${dot}`} />
      <span>
        {status === 'approved' ? 'Approved — setting up this browser…'
          : status === 'unreachable' ? 'Can\'t reach the server — still trying.'
          : 'Waiting for approval…'}
        {renewed && status !== 'approved' && (
          <>
            {' '}The last code expired. Type the new one instead:{' '}
            <span aria-hidden="true" className="font-mono font-medium">{prompt.code}</span>
            <span className="sr-only">{spokenCode(prompt.code)}</span>.
          </>
        )}
      </span>
    </p>
  );
}

/** Starting over when no device is left to approve: the consequences, then the password again. */
function ResetDevices({ onReset }: { onReset: (password: string) => Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const password = useRef<HTMLInputElement>(null);
  const ids = useId();
  useEffect(() => password.current?.focus(), []);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const typed = password.current?.value ?? '';
    if (!typed) {
      setError('Enter your password to confirm.');
      password.current?.focus();
      return;
    }
    setError(null);
    setBusy(true);
    try {
      // On success the log-in this screen belongs to completes, and the app opens the chats.
      await onReset(typed);
    } catch (err) {
      setBusy(false);
      setError(err instanceof Error ? err.message : 'This browser could not be made your only device.');
      password.current?.select();
    }
  }

  return (
    <form id="reset-devices" onSubmit={submit} noValidate className="mt-3 space-y-3 text-sm">
      <p id={`${ids}-what`}>
        If no device where you are signed in is left, you can make this browser your only device instead. That means:
      </p>
      <ul id={`${ids}-consequences`} className="list-disc space-y-1 pl-5 text-slate-700 dark:text-slate-300">
        <li>Your other devices are signed out and removed from every chat.</li>
        <li>Your contacts will see that your devices changed.</li>
        <li>Your old messages are not on this browser, and will not come back.</li>
      </ul>
      <div>
        <label htmlFor={`${ids}-password`} className="font-medium">Your password, to confirm</label>
        <input ref={password} id={`${ids}-password`} type="password" autoComplete="current-password" required
          aria-invalid={!!error} aria-describedby={`${ids}-what ${ids}-consequences${error ? ` ${ids}-error` : ''}`}
          className="mt-1 block w-full rounded-xl border border-slate-300 bg-white px-3 py-2 text-base shadow-sm outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 aria-[invalid=true]:border-red-500 dark:border-slate-700 dark:bg-slate-900" />
      </div>
      {error && <p id={`${ids}-error`} role="alert" className="text-red-600 dark:text-red-400">{error}</p>}
      <button type="submit" disabled={busy} aria-busy={busy}
        className={`${button} w-full bg-red-600 text-white hover:bg-red-700`}>
        {busy ? 'Setting up this browser…' : 'Make this browser my only device'}
      </button>
    </form>
  );
}
