import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import useSWR from 'swr';
import { ApiError, LinkFailure, type ChatClient, type OwnDevice, type PendingLinkView } from '../../sdk/client.ts';

/** How often the lists are asked again while the panel is open: a new browser's request shows
 * within seconds of its code appearing, and one that expired or was cancelled goes. */
const PENDING_REFRESH_MS = 3000;
const DEVICES_REFRESH_MS = 10_000;

function dateLabel(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { dateStyle: 'medium' });
}

function dateTimeLabel(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function failureMessage(e: unknown, fallback: string): string {
  if (e instanceof ApiError && e.unavailable) return `${fallback}: the server cannot be reached. Try again when online.`;
  return e instanceof Error ? e.message : fallback;
}

const smallButton = 'rounded-full px-3 py-1 text-xs font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-50';
const field = 'mt-1 block w-full rounded-xl border border-slate-300 bg-white px-3 py-1.5 text-sm outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 aria-[invalid=true]:border-red-500 dark:border-slate-700 dark:bg-slate-950';

/**
 * This account's devices, as "Linked devices" in a phone messenger: each device with when it was
 * linked and last seen, a warning on one none of this user's devices approved, removing another
 * (with the password again), linking a new browser by the code it shows, and declining requests.
 */
export function LinkedDevices({ client, onClose }: { client: ChatClient; onClose: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const devices = useSWR('own-devices', () => client.ownDevices(), { refreshInterval: DEVICES_REFRESH_MS });
  const pending = useSWR('pending-links', () => client.pendingLinks(), { refreshInterval: PENDING_REFRESH_MS });
  // What the last action did, for everyone: shown, and read out by screen readers.
  const [done, setDone] = useState('');

  useEffect(() => heading.current?.focus(), []);
  const { mutate: refreshDevices } = devices;
  useEffect(() => client.on('devices-changed', ({ own }) => { if (own) void refreshDevices(); }), [client, refreshDevices]);

  const refresh = () => Promise.all([refreshDevices(), pending.mutate()]);
  const closeOnEscape = (e: KeyboardEvent) => {
    if (e.key !== 'Escape') return;
    // Escape here closes the panel, not the conversation behind it.
    e.stopPropagation();
    onClose();
  };

  return (
    <section aria-labelledby="linked-devices-title" onKeyDown={closeOnEscape}
      className="max-h-[70dvh] space-y-4 overflow-y-auto border-b border-slate-200 bg-white p-4 text-sm dark:border-slate-800 dark:bg-slate-900">
      <div className="flex items-center justify-between gap-2">
        <h2 id="linked-devices-title" ref={heading} tabIndex={-1} className="text-base font-semibold focus:outline-none">Linked devices</h2>
        <button type="button" onClick={onClose} className={`${smallButton} hover:bg-slate-100 dark:hover:bg-slate-800`}>Close</button>
      </div>
      <p className="text-slate-600 dark:text-slate-300">Each device you linked can read the messages you get from now on. Remove any you do not recognize.</p>
      <div role="status">
        {done && <p data-testid="linked-devices-done" className="rounded-xl bg-brand-50 px-3 py-2 text-brand-700 dark:bg-brand-500/10 dark:text-brand-400">{done}</p>}
      </div>

      {devices.data ? (
        <ul aria-label="Your devices" className="space-y-2">
          {devices.data.map((d) => (
            <DeviceItem key={d.id} client={client} device={d} onRemoved={() => { setDone(`Removed ${d.label}.`); void refresh(); }} />
          ))}
        </ul>
      ) : (
        <p role="status" className="text-slate-500 dark:text-slate-400">
          {devices.error ? failureMessage(devices.error, 'Your devices could not be listed') : 'Reading your devices…'}
        </p>
      )}

      <LinkDevice client={client} onLinked={(label) => { setDone(`Linked ${label}.`); void refresh(); }} />

      <PendingLinks client={client} links={pending.data} error={pending.error}
        onDeclined={(link) => { setDone(`Declined ${link.label}.`); void pending.mutate(); }} />
    </section>
  );
}

function DeviceItem({ client, device, onRemoved }: { client: ChatClient; device: OwnDevice; onRemoved: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const password = useRef<HTMLInputElement>(null);
  const removeButton = useRef<HTMLButtonElement>(null);
  const id = `device-${device.id}`;
  useEffect(() => { if (confirming) password.current?.focus(); }, [confirming]);

  const cancel = () => {
    setConfirming(false);
    setError(null);
    setTimeout(() => removeButton.current?.focus());
  };
  async function remove(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const typed = password.current?.value ?? '';
    if (!typed) return setError('Enter your password to remove this device.');
    setError(null);
    setBusy(true);
    try {
      await client.removeDevice(device.id, typed);
      onRemoved();
    } catch (err) {
      setBusy(false);
      setError(failureMessage(err, 'The device could not be removed'));
      password.current?.select();
    }
  }

  const seen = device.current ? 'Active now' : device.lastSeenAt ? `Last active ${dateTimeLabel(device.lastSeenAt)}` : 'Not active yet';
  return (
    <li data-testid="own-device" className="rounded-xl border border-slate-200 p-3 dark:border-slate-700">
      <div className="flex items-start justify-between gap-2">
        <div className="min-w-0">
          <p id={`${id}-label`} className="font-medium">
            {device.label}
            {device.current && <span className="ml-2 rounded-full bg-brand-50 px-2 py-0.5 text-xs font-medium text-brand-700 dark:bg-brand-500/10 dark:text-brand-400">This browser</span>}
          </p>
          <p className="text-xs text-slate-600 dark:text-slate-400">Linked {dateLabel(device.createdAt)} · {seen}</p>
          {!device.approved && (
            <p className="mt-1 text-xs text-amber-800 dark:text-amber-300">
              <span className="mr-1 inline-block rounded-full bg-amber-100 px-2 py-0.5 font-semibold dark:bg-amber-500/20">⚠ Not approved by your devices</span>
              None of your devices linked it, so it is kept out of your chats. Remove it if you do not know it.
            </p>
          )}
        </div>
        {!device.current && !confirming && (
          <button ref={removeButton} type="button" aria-label={`Remove ${device.label}, linked ${dateTimeLabel(device.createdAt)}`} onClick={() => setConfirming(true)}
            className={`${smallButton} shrink-0 text-red-700 hover:bg-red-50 dark:text-red-400 dark:hover:bg-red-500/10`}>Remove</button>
        )}
      </div>
      {confirming && (
        <form onSubmit={remove} noValidate className="mt-2 space-y-2">
          <p id={`${id}-what`}>It will be signed out, removed from every chat, and read nothing sent after this.</p>
          <div>
            <label htmlFor={`${id}-password`} className="text-xs font-medium">Your password, to remove {device.label}</label>
            <input ref={password} id={`${id}-password`} type="password" autoComplete="current-password" className={field}
              aria-invalid={!!error} aria-describedby={`${id}-what${error ? ` ${id}-error` : ''}`} />
          </div>
          {error && <p id={`${id}-error`} role="alert" className="text-red-700 dark:text-red-400">{error}</p>}
          <div className="flex justify-end gap-2">
            <button type="button" onClick={cancel} disabled={busy} className={`${smallButton} hover:bg-slate-100 dark:hover:bg-slate-800`}>Cancel</button>
            <button type="submit" disabled={busy} aria-busy={busy} className={`${smallButton} bg-red-600 text-white hover:bg-red-700`}>
              {busy ? 'Removing…' : 'Remove device'}
            </button>
          </div>
        </form>
      )}
    </li>
  );
}

/** Approves the browser that shows the code typed (the SDK checks it against every request). */
function LinkDevice({ client, onLinked }: { client: ChatClient; onLinked: (label: string) => void }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  async function link(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy) return;
    setError(null);
    setBusy(true);
    try {
      const device = await client.approveLink(code);
      setCode('');
      onLinked(device.label);
      // The button is disabled with the field empty: focus stays where the next code goes.
      input.current?.focus();
    } catch (err) {
      setError(err instanceof LinkFailure ? err.message : failureMessage(err, 'The browser could not be linked'));
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={link} noValidate aria-labelledby="link-device-title" className="space-y-2 rounded-xl bg-slate-50 p-3 dark:bg-slate-800/50">
      <h3 id="link-device-title" className="font-semibold">Link a device</h3>
      <p id="link-device-help" className="text-slate-600 dark:text-slate-300">
        Log in on the new browser: it shows a code. Type it here. Only link a browser you are using yourself: it will read your new messages.
      </p>
      <div>
        <label htmlFor="link-device-code" className="text-xs font-medium">Code shown on the new browser</label>
        <input ref={input} id="link-device-code" value={code} onChange={(e) => setCode(e.target.value)}
          autoComplete="off" autoCapitalize="characters" autoCorrect="off" spellCheck={false} placeholder="XXXX-XXXX-XXXX"
          aria-invalid={!!error} aria-describedby={`link-device-help${error ? ' link-device-error' : ''}`}
          className={`${field} font-mono uppercase tracking-widest`} />
      </div>
      {error && <p id="link-device-error" role="alert" className="text-red-700 dark:text-red-400">{error}</p>}
      <button type="submit" disabled={busy || !code.trim()} aria-busy={busy}
        className="rounded-full bg-brand-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-brand-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2 disabled:opacity-50 dark:focus-visible:ring-offset-slate-900">
        {busy ? 'Linking…' : 'Link device'}
      </button>
    </form>
  );
}

function PendingLinks({ client, links, error, onDeclined }: {
  client: ChatClient; links: PendingLinkView[] | undefined; error: unknown; onDeclined: (link: PendingLinkView) => void;
}) {
  const [problem, setProblem] = useState<string | null>(null);
  const [declining, setDeclining] = useState<string | null>(null);

  async function decline(link: PendingLinkView) {
    setProblem(null);
    setDeclining(link.id);
    try {
      await client.declineLink(link.id);
      onDeclined(link);
    } catch (err) {
      setProblem(failureMessage(err, `${link.label} could not be declined`));
    } finally {
      setDeclining(null);
    }
  }

  return (
    <section aria-labelledby="pending-links-title" className="space-y-2">
      <h3 id="pending-links-title" className="font-semibold">Waiting to be linked</h3>
      {!links ? (
        <p className="text-slate-500 dark:text-slate-400">{error ? failureMessage(error, 'The requests could not be listed') : 'Looking for requests…'}</p>
      ) : links.length === 0 ? (
        <p className="text-slate-500 dark:text-slate-400">No browser is waiting.</p>
      ) : (
        <>
          <p className="text-slate-600 dark:text-slate-300">To approve one, type the code it shows above. Decline any you did not start.</p>
          <ul aria-label="Browsers waiting to be linked" className="space-y-1">
            {links.map((link) => (
              <li key={link.id} data-testid="pending-link" className="flex items-center justify-between gap-2 rounded-xl border border-slate-200 px-3 py-2 dark:border-slate-700">
                <span className="min-w-0">
                  <span className="block truncate font-medium">{link.label}</span>
                  <span className="block text-xs text-slate-600 dark:text-slate-400">Asked {dateTimeLabel(link.createdAt)}</span>
                </span>
                <button type="button" disabled={declining === link.id} onClick={() => void decline(link)}
                  aria-label={`Decline ${link.label}, asked ${dateTimeLabel(link.createdAt)}`}
                  className={`${smallButton} shrink-0 border border-slate-300 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800`}>Decline</button>
              </li>
            ))}
          </ul>
        </>
      )}
      {problem && <p role="alert" className="text-red-700 dark:text-red-400">{problem}</p>}
    </section>
  );
}
