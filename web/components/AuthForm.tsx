'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useState, type FormEvent } from 'react';
import { ApiError } from '../sdk/client.ts';
import { MAX_DISPLAY_NAME_CHARS } from '../sdk/wire/constants.ts';
import { useSession } from '../lib/session.tsx';
import { LockIcon } from './Icons.tsx';
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

  useEffect(() => {
    if (status === 'signed-in') router.replace('/chat');
  }, [status, router]);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const phone = String(data.get('phone') ?? '').replace(/[\s()-]/g, '');
    const password = String(data.get('password') ?? '');
    setErrors({});
    setBusy(true);
    try {
      if (mode === 'register') await signUp(phone, String(data.get('displayName') ?? ''), password);
      else await signIn(phone, password);
      router.replace('/chat');
    } catch (err) {
      const message = err instanceof Error ? err.message : 'Something went wrong.';
      setErrors({ [err instanceof ApiError ? fieldOf(err.code) : 'form']: message });
    } finally {
      setBusy(false);
    }
  }

  const fieldError = (field: Field) =>
    errors[field] ? <p id={`${field}-error`} role="alert" className="mt-1 text-sm text-red-600 dark:text-red-400">{errors[field]}</p> : null;

  return (
    <div className="flex min-h-dvh flex-col">
      <header className="flex items-center justify-between px-6 py-4">
        <Link href="/" className="inline-flex items-center gap-2 font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500"><LockIcon className="h-5 w-5 text-brand-600 dark:text-brand-400" />E2E Chat</Link>
        <ThemeToggle />
      </header>
      <main className="flex flex-1 items-center justify-center px-4 pb-16">
        <form onSubmit={submit} noValidate className="w-full max-w-sm space-y-4 rounded-3xl border border-slate-200 bg-white p-8 shadow-xl dark:border-slate-800 dark:bg-slate-900">
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
          <button type="submit" disabled={busy || status === 'loading'}
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
