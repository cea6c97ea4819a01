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

function timeLabel(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

function failureMessage(e: unknown, fallback: string): string {
  if (e instanceof ApiError && e.unavailable) return `${fallback}: the server cannot be reached. Try again when online.`;
  return e instanceof Error ? e.message : fallback;
}

/** Escape inside a confirmation closes it, not the panel around it. */
function onEscape(close: () => void) {
  return (e: KeyboardEvent) => {
    if (e.key !== 'Escape') return;
    e.stopPropagation();
    close();
  };
}

const smallButton = 'rounded-full px-3 py-1 text-xs font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-50';
const field = 'mt-1 block w-full rounded-xl border border-slate-300 bg-white px-3 py-1.5 text-sm outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 aria-[invalid=true]:border-red-500 dark:border-slate-700 dark:bg-slate-950';
const primaryButton = 'rounded-full bg-brand-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-brand-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2 disabled:opacity-50 dark:focus-visible:ring-offset-slate-900';
// A live region is read out only if it is on screen when its text changes: empty, it stays
// displayed (not `hidden`) but takes no room (its margin from the list's spacing undone).
const successText = 'rounded-xl bg-brand-50 px-3 py-2 text-brand-700 empty:p-0 dark:bg-brand-500/10 dark:text-brand-400';

/** Which part of the panel the last success belongs to: it is shown there, next to what was done. */
type Where = 'devices' | 'pending' | 'link';

/**
 * This account's devices, as "Linked devices" in a phone messenger: each device with when it was
 * linked, when last seen and a short fingerprint of its key, a warning on one none of this user's
 * devices approved, removing another (with the password again), the browsers waiting to be
 * linked (declining them), and linking a new browser by the code it shows, after a confirmation.
 */
export function LinkedDevices({ client, onClose }: { client: ChatClient; onClose: () => void }) {
  const panel = useRef<HTMLElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const me = client.user!.id;
  const devices = useSWR('own-devices', () => client.ownDevices(), { refreshInterval: DEVICES_REFRESH_MS });
  const pending = useSWR('pending-links', () => client.pendingLinks(), { refreshInterval: PENDING_REFRESH_MS });
  const fingerprints = useOwnFingerprints(client, me, devices.data);
  // What the last action did, next to where it was done, and read out: cleared by the next action.
  const [done, setDone] = useState<{ where: Where; text: string } | null>(null);
  // Removed or declined here: gone from the list at once, not at the next refresh.
  const [gone, setGone] = useState<ReadonlySet<string>>(new Set());
  // After an item goes, focus moves to the same place in its list (the next item), not to nowhere.
  const [focusAfter, setFocusAfter] = useState<{ list: 'devices' | 'pending'; index: number } | null>(null);

  useEffect(() => heading.current?.focus(), []);
  const { mutate: refreshDevices } = devices;
  useEffect(() => client.on('devices-changed', ({ own }) => { if (own) void refreshDevices(); }), [client, refreshDevices]);

  const shownDevices = devices.data?.filter((d) => !gone.has(d.id));
  const shownLinks = pending.data?.filter((l) => !gone.has(l.id));

  useEffect(() => {
    if (!focusAfter) return;
    const buttons = panel.current?.querySelectorAll<HTMLElement>(`[data-list-action="${focusAfter.list}"]`) ?? [];
    const next = buttons[focusAfter.index] ?? buttons[focusAfter.index - 1];
    const fallback = focusAfter.list === 'pending' ? panel.current?.querySelector<HTMLElement>('#pending-links-title') : heading.current;
    (next ?? fallback)?.focus();
    setFocusAfter(null);
  }, [focusAfter, shownDevices, shownLinks]);

  const clearDone = () => setDone(null);
  const closeOnEscape = (e: KeyboardEvent) => {
    if (e.key !== 'Escape') return;
    // Escape here closes the panel, not the conversation behind it.
    e.stopPropagation();
    onClose();
  };
  const removed = (device: OwnDevice) => {
    const index = (shownDevices ?? []).filter((d) => !d.current).findIndex((d) => d.id === device.id);
    setGone((was) => new Set(was).add(device.id));
    setFocusAfter({ list: 'devices', index });
    setDone({ where: 'devices', text: `Removed ${device.label}.` });
    void refreshDevices();
  };
  const declined = (link: PendingLinkView) => {
    const index = (shownLinks ?? []).findIndex((l) => l.id === link.id);
    setGone((was) => new Set(was).add(link.id));
    setFocusAfter({ list: 'pending', index });
    setDone({ where: 'pending', text: `Declined ${link.label}.` });
    void pending.mutate();
  };
  const linked = (label: string) => {
    setDone({ where: 'link', text: `Linked ${label}.` });
    void Promise.all([refreshDevices(), pending.mutate()]);
  };
  const doneIn = (where: Where) => (done?.where === where ? done.text : null);

  return (
    <section ref={panel} aria-labelledby="linked-devices-title" onKeyDown={closeOnEscape}
      className="max-h-[70dvh] space-y-4 overflow-y-auto border-b border-slate-200 bg-white p-4 text-sm dark:border-slate-800 dark:bg-slate-900">
      <div className="flex items-center justify-between gap-2">
        <h2 id="linked-devices-title" ref={heading} tabIndex={-1} className="text-base font-semibold focus:outline-none">Linked devices</h2>
        <button type="button" onClick={onClose} className={`${smallButton} hover:bg-slate-100 dark:hover:bg-slate-800`}>Close</button>
      </div>
      <p className="text-slate-600 dark:text-slate-300">
        Each device here can read messages you send and receive after it was linked. Remove any you don&apos;t recognise.
        Devices with the same name are told apart by their key: on each device, the one marked This browser shows its own.
      </p>

      {shownDevices ? (
        <ul aria-label="Your devices" className="space-y-2">
          {shownDevices.map((d) => (
            <DeviceItem key={d.id} client={client} device={d} fingerprint={fingerprints?.get(d.id)}
              onStart={clearDone} onRemoved={() => removed(d)} />
          ))}
        </ul>
      ) : (
        <p role="status" className="text-muted">
          {devices.error ? failureMessage(devices.error, 'Your devices could not be listed') : 'Reading your devices…'}
        </p>
      )}
      <p role="status" data-testid="linked-devices-done" className={`${successText} empty:mb-0`}>{doneIn('devices')}</p>

      <PendingLinks client={client} links={shownLinks} error={pending.error} done={doneIn('pending')}
        onStart={clearDone} onDeclined={declined} />

      <LinkDevice client={client} done={doneIn('link')} onStart={clearDone} onLinked={linked} />
    </section>
  );
}

/** The short key fingerprint of each of this user's devices, read again when the list changes. */
function useOwnFingerprints(client: ChatClient, me: string, listed: OwnDevice[] | undefined) {
  const ids = listed?.map((d) => d.id).join(',');
  const { data } = useSWR(ids ? ['own-fingerprints', ids] : null, async () => {
    const devices = (await client.devicesOf([me])).get(me) ?? [];
    return new Map(devices.map((d) => [d.id, d.fingerprint]));
  });
  return data;
}

function DeviceItem({ client, device, fingerprint, onStart, onRemoved }: {
  client: ChatClient; device: OwnDevice; fingerprint: string | undefined; onStart: () => void; onRemoved: () => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const password = useRef<HTMLInputElement>(null);
  const removeButton = useRef<HTMLButtonElement>(null);
  // Focus goes into the question when it opens, and back to Remove when it is taken back.
  const opened = useRef(false);
  const id = `device-${device.id}`;
  useEffect(() => {
    if (confirming) password.current?.focus();
    else if (opened.current) removeButton.current?.focus();
    opened.current = confirming;
  }, [confirming]);

  const cancel = () => {
    if (busy) return;
    setConfirming(false);
    setError(null);
  };
  async function remove(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const typed = password.current?.value ?? '';
    if (!typed) {
      setError('Enter your password to remove this device.');
      password.current?.focus();
      return;
    }
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
  // One nobody approved is removed, not just looked at: its button is the loud one.
  const removeStyle = device.approved
    ? 'text-red-700 hover:bg-red-50 dark:text-red-400 dark:hover:bg-red-500/10'
    : 'bg-red-600 text-white hover:bg-red-700';
  return (
    <li data-testid="own-device" className={`rounded-xl border p-3 ${device.approved ? 'border-slate-200 dark:border-slate-700' : 'border-amber-400 dark:border-amber-500/60'}`}>
      <div className="flex items-start justify-between gap-2">
        <div className="min-w-0">
          <p id={`${id}-label`} className="font-medium">
            {device.label}
            {device.current && <span className="ml-2 rounded-full bg-brand-50 px-2 py-0.5 text-xs font-medium text-brand-700 dark:bg-brand-500/10 dark:text-brand-400">This browser</span>}
          </p>
          <p className="text-xs text-slate-600 dark:text-slate-400">Linked {dateLabel(device.createdAt)} · {seen}</p>
          {fingerprint && (
            <p data-testid="device-fingerprint" className="text-xs text-slate-600 dark:text-slate-400">
              Key <span className="font-mono">{fingerprint}</span>
            </p>
          )}
          {device.current && (
            <p className="mt-1 text-xs text-slate-600 dark:text-slate-400">To remove this browser, use Log out and forget this browser in the account menu (⋯).</p>
          )}
          {!device.approved && (
            <p className="mt-1 text-xs text-amber-800 dark:text-amber-300">
              <span className="mr-1 inline-block rounded-full bg-amber-100 px-2 py-0.5 font-semibold dark:bg-amber-500/20">⚠ Not approved by your devices</span>
              Your devices won&apos;t add it to your chats and remove it where they find it. You didn&apos;t approve it — remove it now.
            </p>
          )}
        </div>
        {!device.current && !confirming && (
          <button ref={removeButton} type="button" data-list-action="devices"
            aria-label={`Remove ${device.label}, linked ${dateTimeLabel(device.createdAt)}`}
            onClick={() => { onStart(); setConfirming(true); }}
            className={`${smallButton} shrink-0 ${removeStyle}`}>Remove</button>
        )}
      </div>
      {confirming && (
        <form onSubmit={remove} onKeyDown={onEscape(cancel)} noValidate className="mt-2 space-y-2">
          <p id={`${id}-what`}>It will be signed out, removed from every chat, and read nothing sent after this.</p>
          <div>
            <label htmlFor={`${id}-password`} className="text-xs font-medium">Your password, to remove {device.label}</label>
            <input ref={password} id={`${id}-password`} type="password" autoComplete="current-password" className={field}
              onChange={() => setError(null)}
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

function PendingLinks({ client, links, error, done, onStart, onDeclined }: {
  client: ChatClient; links: PendingLinkView[] | undefined; error: unknown; done: string | null;
  onStart: () => void; onDeclined: (link: PendingLinkView) => void;
}) {
  const [problem, setProblem] = useState<string | null>(null);
  const [declining, setDeclining] = useState<string | null>(null);

  async function decline(link: PendingLinkView) {
    onStart();
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
      <h3 id="pending-links-title" tabIndex={-1} className="font-semibold focus:outline-none">Waiting to be linked</h3>
      {!links ? (
        <p className="text-muted">{error ? failureMessage(error, 'The requests could not be listed') : 'Looking for requests…'}</p>
      ) : links.length === 0 ? (
        <p className="text-muted">No browser is waiting.</p>
      ) : (
        <>
          <p className="text-slate-600 dark:text-slate-300">
            To approve one, type the code it shows in Link a device, below. A request you didn&apos;t start means someone else
            knows your password: decline it.
          </p>
          <ul aria-label="Browsers waiting to be linked" className="space-y-1">
            {links.map((link) => (
              <li key={link.id} data-testid="pending-link" className="flex items-center justify-between gap-2 rounded-xl border border-slate-200 px-3 py-2 dark:border-slate-700">
                <span className="min-w-0">
                  <span className="block truncate font-medium">{link.label}</span>
                  <span className="block text-xs text-slate-600 dark:text-slate-400">Asked {dateTimeLabel(link.createdAt)}</span>
                </span>
                <button type="button" data-list-action="pending" disabled={declining === link.id} onClick={() => void decline(link)}
                  aria-label={`Decline ${link.label}, asked ${dateTimeLabel(link.createdAt)}`}
                  className={`${smallButton} shrink-0 border border-slate-300 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800`}>Decline</button>
              </li>
            ))}
          </ul>
        </>
      )}
      <p role="status" className={`${successText} empty:-mt-2`}>{done}</p>
      {problem && <p role="alert" className="text-red-700 dark:text-red-400">{problem}</p>}
    </section>
  );
}

/**
 * Links the browser that shows the code typed, in two steps: the code finds the request (the SDK
 * checks it against every one), then the person confirms that browser, by its name and when it
 * asked, before it is approved.
 */
function LinkDevice({ client, done, onStart, onLinked }: {
  client: ChatClient; done: string | null; onStart: () => void; onLinked: (label: string) => void;
}) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [found, setFound] = useState<PendingLinkView | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const question = useRef<HTMLParagraphElement>(null);
  const confirmation = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!found) return;
    question.current?.focus();
    // The whole question with its buttons in sight, not only its first line, in the scrolling panel.
    confirmation.current?.scrollIntoView({ block: 'nearest' });
  }, [found]);

  const failed = (err: unknown) => {
    setFound(null);
    setError(err instanceof LinkFailure ? err.message : failureMessage(err, 'The browser could not be linked'));
    input.current?.focus();
  };

  async function find(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy || found) return;
    onStart();
    setError(null);
    setBusy(true);
    try {
      setFound(await client.findLink(code));
    } catch (err) {
      failed(err);
    } finally {
      setBusy(false);
    }
  }

  async function approve() {
    if (busy || !found) return;
    setBusy(true);
    try {
      const device = await client.approveLink(code);
      setFound(null);
      setCode('');
      onLinked(device.label);
      // Focus stays where the next code goes.
      input.current?.focus();
    } catch (err) {
      failed(err);
    } finally {
      setBusy(false);
    }
  }

  const cancel = () => {
    if (busy) return;
    setFound(null);
    // The code stays, to correct it or to try again.
    input.current?.focus();
  };

  return (
    <form onSubmit={find} onKeyDown={found ? onEscape(cancel) : undefined} noValidate aria-labelledby="link-device-title" className="space-y-2 rounded-xl bg-slate-50 p-3 dark:bg-slate-800/50">
      <h3 id="link-device-title" className="font-semibold">Link a device</h3>
      <p id="link-device-help" className="text-slate-600 dark:text-slate-300">
        Log in on the new browser: it shows a code of 12 letters and digits. Type it here. Only link a browser you are using
        yourself: it will read your new messages. <strong className="font-semibold">Never type a code someone sent you or read
        out to you, even if they say they are from E2E Chat.</strong>
      </p>
      <div>
        <label htmlFor="link-device-code" className="text-xs font-medium">Code shown on the new browser</label>
        <input ref={input} id="link-device-code" value={code} readOnly={!!found}
          onChange={(e) => { setCode(e.target.value); setError(null); onStart(); }}
          autoComplete="off" autoCapitalize="characters" autoCorrect="off" spellCheck={false} placeholder="XXXX-XXXX-XXXX"
          aria-invalid={!!error} aria-describedby={`link-device-help${error ? ' link-device-error' : ''}`}
          className={`${field} font-mono uppercase tracking-widest read-only:bg-slate-100 dark:read-only:bg-slate-900`} />
      </div>
      {error && <p id="link-device-error" role="alert" className="text-red-700 dark:text-red-400">{error}</p>}
      {found ? (
        <div ref={confirmation} role="group" aria-labelledby="link-confirm-question" data-testid="link-confirm"
          className="space-y-2 rounded-xl border border-brand-500/40 bg-white p-3 dark:bg-slate-900">
          <p id="link-confirm-question" ref={question} tabIndex={-1} className="focus:outline-none">
            <span className="font-semibold">Link {found.label} (asked {timeLabel(found.createdAt)})?</span> It will be able to read
            the messages you send and receive from now on.
          </p>
          <div className="flex flex-wrap gap-2">
            <button type="button" onClick={() => void approve()} disabled={busy} aria-busy={busy} className={primaryButton}>
              {busy ? 'Linking…' : 'Link'}
            </button>
            <button type="button" onClick={cancel} disabled={busy}
              className="rounded-full border border-slate-300 px-4 py-1.5 text-sm font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-50 dark:border-slate-600 dark:hover:bg-slate-800">Cancel</button>
          </div>
        </div>
      ) : (
        <button type="submit" disabled={busy || !code.trim()} aria-busy={busy} className={primaryButton}>
          {busy ? 'Checking…' : 'Continue'}
        </button>
      )}
      <p role="status" className={`${successText} empty:-mt-2`}>{done}</p>
    </form>
  );
}
