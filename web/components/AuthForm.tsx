'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, LinkFailure, type ChatClient } from '../sdk/client.ts';
import { MAX_DISPLAY_NAME_CHARS } from '../sdk/wire/constants.ts';
import { useSession } from '../lib/session.tsx';
import { LockIcon } from './Icons.tsx';
import { LinkThisBrowser, type PendingLink } from './LinkThisBrowser.tsx';
import { ThemeToggle } from './ThemeToggle.tsx';

type Field = 'phone' | 'displayName' | 'password' | 'form';

/** Which input a server error is about, so it can be shown next to it. */
function fieldOf(code: string): Field {
  if (code === 'invalid_phone' || code === 'phone_taken') return 'phone';
  if (code === 'invalid_display_name') return 'displayName';
  if (code === 'weak_password' || code === 'invalid_password') return 'password';
  return 'form';
}

const input = 'mt-1 block w-full rounded-xl border border-slate-300 bg-white px-3 py-2 text-base shadow-sm outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 aria-[invalid=true]:border-red-500 dark:border-slate-700 dark:bg-slate-900';

export function AuthForm({ mode }: { mode: 'login' | 'register' }) {
  const { status, signIn, signUp, ended } = useSession();
  const router = useRouter();
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [busy, setBusy] = useState(false);
  // A log-in waiting for one of the account's devices to approve this browser, and its client.
  const [linking, setLinking] = useState<PendingLink | null>(null);
  const [cancelled, setCancelled] = useState(false);
  const linkingClient = useRef<ChatClient | null>(null);
  const submitButton = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (status === 'signed-in') router.replace('/chat');
  }, [status, router]);

  // Leaving this page while waiting gives up the wait, rather than leave it polling unseen and
  // signing in behind the user's back.
  useEffect(() => () => void linkingClient.current?.cancelLink(), []);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const phone = String(data.get('phone') ?? '').replace(/[\s()-]/g, '');
    const password = String(data.get('password') ?? '');
    setErrors({});
    setCancelled(false);
    setBusy(true);
    let stopListening = () => {};
    try {
      if (mode === 'register') await signUp(phone, String(data.get('displayName') ?? ''), password);
      else {
        await signIn(phone, password, (client) => {
          linkingClient.current = client;
          stopListening = client.on('link-code', (prompt) => setLinking((was) => ({ prompt, renewed: was !== null })));
        });
      }
      router.replace('/chat');
    } catch (err) {
      if (err instanceof LinkFailure && err.code === 'cancelled') {
        setCancelled(true);
      } else {
        const message = err instanceof Error ? err.message : 'Something went wrong.';
        setErrors({ [err instanceof ApiError ? fieldOf(err.code) : 'form']: message });
      }
      // Back from the linking screen, whose button had focus: on to what to do next.
      setLinking(null);
      if (err instanceof LinkFailure) setTimeout(() => submitButton.current?.focus());
    } finally {
      // After an approval the linking screen stays until the chats open.
      stopListening();
      linkingClient.current = null;
      setBusy(false);
    }
  }

  const cancelLink = () => void linkingClient.current?.cancelLink();
  const resetDevices = async (password: string) => {
    // Resolves once this browser is the account's only device; the log-in above then completes.
    await linkingClient.current?.resetDevices(password);
  };

  const fieldError = (field: Field) =>
    errors[field] ? <p id={`${field}-error`} role="alert" className="mt-1 text-sm text-red-600 dark:text-red-400">{errors[field]}</p> : null;

  return (
    <div className="flex min-h-dvh flex-col">
      <header className="flex items-center justify-between px-6 py-4">
        <Link href="/" className="inline-flex items-center gap-2 font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500"><LockIcon className="h-5 w-5 text-brand-600 dark:text-brand-400" />E2E Chat</Link>
        <ThemeToggle />
      </header>
      <main className="flex flex-1 items-center justify-center px-4 pb-16">
        {linking && <LinkThisBrowser linking={linking} onCancel={cancelLink} onReset={resetDevices} />}
        {/* Hidden, not unmounted, while linking: what was typed is still there if linking fails. */}
        <form onSubmit={submit} noValidate hidden={linking !== null} className="w-full max-w-sm space-y-4 rounded-3xl border border-slate-200 bg-white p-8 shadow-xl dark:border-slate-800 dark:bg-slate-900">
          <h1 className="text-2xl font-semibold">{mode === 'register' ? 'Create your account' : 'Welcome back'}</h1>
          {ended && mode === 'login' && (
            <p role="status" className="rounded-xl bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-500/10 dark:text-amber-200">
              {ended === 'device-removed'
                ? 'This browser was removed from your account, and what it kept was erased. Log in to set it up again.'
                : 'You were logged out: your session was ended from another device. Log in again to continue.'}
            </p>
          )}
          <div>
            <label htmlFor="phone" className="text-sm font-medium">Phone number</label>
            <input id="phone" name="phone" type="tel" autoComplete="tel" placeholder="+14155550123" required className={input}
              aria-invalid={!!errors.phone} aria-describedby={errors.phone ? 'phone-error' : undefined} />
            {fieldError('phone')}
          </div>
          {mode === 'register' && (
            <div>
              <label htmlFor="displayName" className="text-sm font-medium">Your name</label>
              <input id="displayName" name="displayName" autoComplete="name" required maxLength={MAX_DISPLAY_NAME_CHARS} className={input}
                aria-invalid={!!errors.displayName} aria-describedby={errors.displayName ? 'displayName-error' : undefined} />
              {fieldError('displayName')}
            </div>
          )}
          <div>
            <label htmlFor="password" className="text-sm font-medium">Password</label>
            <input id="password" name="password" type="password" autoComplete={mode === 'register' ? 'new-password' : 'current-password'} required className={input}
              aria-invalid={!!errors.password} aria-describedby={errors.password ? 'password-error' : undefined} />
            {fieldError('password')}
          </div>
          {fieldError('form')}
          {cancelled && <p role="status" className="text-sm text-slate-600 dark:text-slate-400">Linking was cancelled: this browser is not signed in.</p>}
          <button ref={submitButton} type="submit" disabled={busy || status === 'loading'}
            className="w-full rounded-xl bg-brand-600 py-2.5 font-medium text-white hover:bg-brand-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2 disabled:opacity-60 dark:focus-visible:ring-offset-slate-900">
            {busy ? (mode === 'register' ? 'Creating your keys…' : 'Logging in…') : mode === 'register' ? 'Sign up' : 'Log in'}
          </button>
          <p className="text-center text-sm text-slate-600 dark:text-slate-400">
            {mode === 'register' ? <>Already have an account? <Link className="font-medium text-brand-600 hover:underline dark:text-brand-400" href="/login">Log in</Link></> : <>New here? <Link className="font-medium text-brand-600 hover:underline dark:text-brand-400" href="/register">Create an account</Link></>}
          </p>
        </form>
      </main>
    </div>
  );
}
