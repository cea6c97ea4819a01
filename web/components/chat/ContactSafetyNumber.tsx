import { useEffect, useState } from 'react';
import useSWR from 'swr';
import type { ChatClient } from '../../sdk/client.ts';
import { QrCode } from './QrCode.tsx';

/** Digits as a screen reader should say them: one by one, a pause between groups of five. */
export function spokenDigits(digits: string): string {
  return digits.split(' ').map((group) => group.split('').join(' ')).join(', ');
}

/**
 * The safety number with one contact: 60 digits over both people's devices as the server lists
 * them, the same on both phones unless the server shows one of them a device the other does not
 * have, and the same number as a QR code for a scanner (the app has none yet). The person marks
 * the contact verified once they have compared.
 */
export function ContactSafetyNumber({ client, userId, name }: { client: ChatClient; userId: string; name: string }) {
  const { data, mutate, error } = useSWR(['contact-safety', userId], () => client.safetyNumberWith(userId));
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const refresh = (e: { userId: string; own?: boolean }) => { if (e.userId === userId || e.own) void mutate(); };
    const offs = [client.on('devices-changed', refresh), client.on('verification', refresh)];
    return () => offs.forEach((off) => off());
  }, [client, userId, mutate]);

  const toggle = async () => {
    if (!data || busy) return;
    setProblem(null);
    setBusy(true);
    try {
      if (data.verified) await client.clearVerified(userId);
      else await client.markVerified(userId, data.digits);
    } catch (e) {
      setProblem((e as Error).message);
    }
    await mutate();
    setBusy(false);
  };

  const groups = data?.digits.split(' ') ?? [];
  return (
    <section aria-label="Safety number" tabIndex={-1} className="max-h-[50dvh] overflow-y-auto border-b border-slate-200 bg-white p-4 text-sm focus:outline-none dark:border-slate-800 dark:bg-slate-900">
      <p className="text-slate-600 dark:text-slate-300">
        Compare these 60 digits with {name}, in person or on a call. If they match, the devices you see for both of you are the
        same ones {name} sees: nobody added a device to either of you on one side only. A match does not prove that {name} still
        has every one of those devices: a lost phone stays listed until it is removed.
      </p>
      <p className="mt-2 text-slate-600 dark:text-slate-300">
        If they differ, don&apos;t mark {name} as verified. Reopen this panel on both sides; if they still differ, check Linked
        devices on both accounts.
      </p>
      <div className="mt-3 flex flex-wrap items-start gap-4">
        {data ? (
          <div data-testid="safety-number">
            <p className="sr-only">Safety number: {spokenDigits(data.digits)}</p>
            <p aria-hidden="true" data-testid="safety-digits" className="grid grid-cols-4 gap-x-3 gap-y-1 font-mono text-lg tracking-wider">
              {groups.map((group, i) => <span key={i}>{group}</span>)}
            </p>
          </div>
        ) : (
          <p role="status" className="text-muted">{error ? 'The safety number could not be read. Try again when online.' : 'Reading the devices…'}</p>
        )}
        {data && (
          <figure className="space-y-1">
            <QrCode payload={data.qr} label={`QR code of the safety number with ${name}`} />
            <figcaption className="max-w-64 text-xs text-muted">
              The same number in machine-readable form, for a scanner. E2E Chat can&apos;t scan it yet: compare the digits.
            </figcaption>
          </figure>
        )}
      </div>
      {data && (
        <div className="mt-3 flex flex-wrap items-center gap-3">
          <p role="status" data-testid="verified-state" className="font-medium">
            {data.verified ? `✓ You verified ${name}.` : `${name} is not verified.`}
          </p>
          <button type="button" onClick={() => void toggle()} disabled={busy}
            className="rounded-full border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-50 dark:border-slate-700 dark:hover:bg-slate-800">
            {data.verified ? 'Clear verification' : 'Mark as verified'}
          </button>
        </div>
      )}
      {/* Mounted throughout, so that a problem put in it is read out; takes no room while empty. */}
      <p role="alert" className="mt-2 text-red-700 empty:mt-0 dark:text-red-300">{problem}</p>
    </section>
  );
}
