'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, LinkFailure, type ChatClient } from '../sdk/client.ts';
import { MAX_DISPLAY_NAME_CHARS, MIN_PASSWORD_CHARS, PHONE_PATTERN } from '../sdk/wire/constants.ts';
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

/**
 * Every field's problem at once, by the server's own rules (its constants), so that a person fixes
 * them all in one go instead of meeting them one answer at a time. What only the server can say
 * (a number already taken, a wrong password) still comes from it.
 */
function problems(mode: 'login' | 'register', phone: string, displayName: string, password: string): Partial<Record<Field, string>> {
  const found: Partial<Record<Field, string>> = {};
  if (!phone) found.phone = 'Enter your phone number.';
  else if (!new RegExp(PHONE_PATTERN).test(phone)) {
    found.phone = 'Use the international format: a plus sign, the country code, then the number, like +14155550123.';
  }
  if (mode === 'register' && !displayName.trim()) found.displayName = 'Enter the name people will see.';
  if (mode === 'register' && [...password].length < MIN_PASSWORD_CHARS) {
    found.password = password ? `Use at least ${MIN_PASSWORD_CHARS} characters (this has ${[...password].length}).` : `Choose a password of at least ${MIN_PASSWORD_CHARS} characters.`;
  }
  if (mode === 'login' && !password) found.password = 'Enter your password.';
  return found;
}

/** The ids that describe a field: its rule, shown from the start, and its error once there is one. */
/** The fields' labels, as the status names them. */
const LABELS: Record<Exclude<Field, 'form'>, string> = { phone: 'Phone number', displayName: 'Your name', password: 'Password' };
/** How long the status stays empty before a message, so that one said twice is read twice. */
const STATUS_REPEAT_MS = 50;

function describedBy(...ids: (string | false | undefined)[]): string | undefined {
  return ids.filter(Boolean).join(' ') || undefined;
}

const input = 'mt-1 block w-full rounded-xl border border-slate-300 bg-white px-3 py-2 text-base shadow-sm outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 aria-[invalid=true]:border-red-500 dark:border-slate-700 dark:bg-slate-900';

export function AuthForm({ mode }: { mode: 'login' | 'register' }) {
  const { status, signIn, signUp, ended } = useSession();
  const router = useRouter();
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [busy, setBusy] = useState(false);
  // A log-in waiting for one of the account's devices to approve this browser, and its client.
  const [linking, setLinking] = useState<PendingLink | null>(null);
  // What happened to the last attempt, when it needs saying without being an error.
  const [notice, setNotice] = useState('');
  const linkingClient = useRef<ChatClient | null>(null);
  const submitButton = useRef<HTMLButtonElement>(null);
  const form = useRef<HTMLFormElement>(null);
  // After a failed attempt: where focus goes once the form is back and enabled, and what to say then.
  const [afterFailure, setAfterFailure] = useState<{ focus: Field; notice: string } | null>(null);

  useEffect(() => {
    if (status === 'signed-in') router.replace('/chat');
  }, [status, router]);

  // Leaving this page while waiting gives up the wait, rather than leave it polling unseen and
  // signing in behind the user's back.
  useEffect(() => () => void linkingClient.current?.cancelLink(), []);

  // Back from the linking screen, if it was up (its focused button is gone), or still on the form
  // (its button was disabled while busy): focus goes to what to do next, the field at fault or
  // the button to try again. The notice is set only now that the form shows: a live region that
  // is hidden when its text changes is not read out.
  useEffect(() => {
    if (!afterFailure || linking || busy) return;
    const field = afterFailure.focus === 'form' ? null : form.current?.querySelector<HTMLInputElement>(`#${afterFailure.focus}`);
    (field ?? submitButton.current)?.focus();
    setNotice(afterFailure.notice);
    setAfterFailure(null);
  }, [afterFailure, linking, busy]);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const phone = String(data.get('phone') ?? '').replace(/[\s()-]/g, '');
    const password = String(data.get('password') ?? '');
    const displayName = String(data.get('displayName') ?? '');
    setNotice('');
    setAfterFailure(null);
    const found = problems(mode, phone, displayName, password);
    const fields = (['phone', 'displayName', 'password'] as const).filter((f) => found[f]);
    if (fields.length > 0) {
      setErrors(found);
      // To the first field at fault; the status reads every problem out (the field may have had
      // focus already, and then moving there says nothing). Emptied first, so that the same
      // problems submitted twice are said twice.
      form.current?.querySelector<HTMLInputElement>(`#${fields[0]}`)?.focus();
      const count = fields.length === 1 ? 'One field needs a change.' : `${fields.length} fields need a change.`;
      setTimeout(() => setNotice(`${count} ${fields.map((f) => `${LABELS[f]}: ${found[f]}`).join(' ')}`), STATUS_REPEAT_MS);
      return;
    }
    setErrors({});
    setBusy(true);
    let stopListening = () => {};
    try {
      if (mode === 'register') await signUp(phone, displayName, password);
      else {
        await signIn(phone, password, (client) => {
          linkingClient.current = client;
          const offCode = client.on('link-code', (prompt) => setLinking((was) => ({ prompt, renewed: was !== null, status: was?.status ?? null })));
          const offStatus = client.on('link-status', (status) => setLinking((was) => was && { ...was, status }));
          stopListening = () => { offCode(); offStatus(); };
        });
      }
      router.replace('/chat');
    } catch (err) {
      const cancelled = err instanceof LinkFailure && err.code === 'cancelled';
      const field: Field = err instanceof ApiError ? fieldOf(err.code) : 'form';
      const message = err instanceof Error ? err.message : 'Something went wrong.';
      if (!cancelled) setErrors({ [field]: message });
      setLinking(null);
      // A field's error is said in the status too (focus may already be on that field, and then
      // moving there reads nothing); the form's own error is an alert already.
      const said = cancelled ? 'Linking was cancelled: this browser is not signed in.' : field === 'form' ? '' : `${LABELS[field]}: ${message}`;
      setAfterFailure({ focus: field, notice: said });
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
    errors[field] ? <p id={`${field}-error`} className="mt-1 text-sm text-red-600 dark:text-red-400">{errors[field]}</p> : null;

  return (
    <div className="flex min-h-dvh flex-col">
      <header className="flex items-center justify-between px-6 py-4">
        <Link href="/" className="inline-flex items-center gap-2 font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500"><LockIcon className="h-5 w-5 text-brand-600 dark:text-brand-400" />E2E Chat</Link>
        <ThemeToggle />
      </header>
      <main className="flex flex-1 items-center justify-center px-4 pb-16">
        {linking && <LinkThisBrowser linking={linking} onCancel={cancelLink} onReset={resetDevices} />}
        {/* Hidden, not unmounted, while linking: what was typed is still there if linking fails. */}
        <form ref={form} onSubmit={submit} noValidate hidden={linking !== null} className="w-full max-w-sm space-y-4 rounded-3xl border border-slate-200 bg-white p-5 shadow-xl sm:p-8 dark:border-slate-800 dark:bg-slate-900">
          <h1 className="text-2xl font-semibold">{mode === 'register' ? 'Create your account' : 'Welcome back'}</h1>
          {ended && mode === 'login' && (
            <p role="status" className="rounded-xl bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-500/10 dark:text-amber-200">
              {ended === 'device-removed'
                ? 'This browser was removed from your account, and what it kept was erased. If you didn\'t remove it from another of your devices, someone may know your password. Log in to set it up again, and check Linked devices for any device you don\'t recognise.'
                : 'You were logged out: your session ended (it expired, or was ended from another device). Log in again to continue.'}
            </p>
          )}
          <div>
            <label htmlFor="phone" className="text-sm font-medium">Phone number</label>
            <p id="phone-hint" className="text-xs text-muted">With the country code, like +1 415 555 0123.</p>
            <input id="phone" name="phone" type="tel" autoComplete="tel" placeholder="+14155550123" required className={input}
              aria-invalid={!!errors.phone} aria-describedby={describedBy('phone-hint', errors.phone && 'phone-error')} />
            {fieldError('phone')}
          </div>
          {mode === 'register' && (
            <div>
              <label htmlFor="displayName" className="text-sm font-medium">Your name</label>
              <p id="displayName-hint" className="text-xs text-muted">What people see in their chats with you.</p>
              <input id="displayName" name="displayName" autoComplete="name" required maxLength={MAX_DISPLAY_NAME_CHARS} className={input}
                aria-invalid={!!errors.displayName} aria-describedby={describedBy('displayName-hint', errors.displayName && 'displayName-error')} />
              {fieldError('displayName')}
            </div>
          )}
          <div>
            <label htmlFor="password" className="text-sm font-medium">Password</label>
            {mode === 'register' && <p id="password-hint" className="text-xs text-muted">At least {MIN_PASSWORD_CHARS} characters.</p>}
            <input id="password" name="password" type="password" autoComplete={mode === 'register' ? 'new-password' : 'current-password'} required className={input}
              aria-invalid={!!errors.password} aria-describedby={describedBy(mode === 'register' && 'password-hint', errors.password && 'password-error')} />
            {fieldError('password')}
          </div>
          {errors.form && <p id="form-error" role="alert" className="mt-1 text-sm text-red-600 dark:text-red-400">{errors.form}</p>}
          {/* Always mounted, so that the text put in it is read out; takes no room while empty. */}
          <p role="status" className="text-sm text-slate-600 empty:mb-0 dark:text-slate-400">{notice || null}</p>
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
