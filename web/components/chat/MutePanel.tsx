import { useState } from 'react';
import type { ChatClient, MuteChoice } from '../../sdk/client.ts';
import type { NotificationSettings } from '../../sdk/wire/index.ts';
import { isMuted } from '../../sdk/notifications.ts';

/** How a mute reads: until when, or always; null when not muted. */
function mutedLabel(settings: NotificationSettings, now = new Date()): string | null {
  if (!isMuted(settings, now)) return null;
  if (settings.mutedUntil === 'always') return 'Muted until you unmute it.';
  const until = new Date(settings.mutedUntil!);
  const sameDay = until.toDateString() === now.toDateString();
  const when = until.toLocaleString(undefined, sameDay ? { hour: 'numeric', minute: '2-digit' } : { weekday: 'short', day: 'numeric', month: 'short', hour: 'numeric', minute: '2-digit' });
  return `Muted until ${when}.`;
}

const CHOICES: { value: Exclude<MuteChoice, 'off'>; label: string }[] = [
  { value: '8-hours', label: 'For 8 hours' },
  { value: 'week', label: 'For a week' },
  { value: 'always', label: 'Always' },
];

/**
 * Muting a conversation: no notifications for it, on any of this user's devices, for 8 hours, a
 * week, or until unmuted. Its messages still arrive and count as unread. The server keeps the
 * mute (it sends no push for a muted conversation), so it holds on every device at once. Muted,
 * the panel leads with Unmute; the length can still be changed.
 */
export function MutePanel({ client, conversationId, current, onChanged, onClose }: {
  client: ChatClient; conversationId: string; current: NotificationSettings | null;
  onChanged: (settings: NotificationSettings) => void; onClose: () => void;
}) {
  const muted = current ? mutedLabel(current) : null;
  const [chosen, setChosen] = useState<Exclude<MuteChoice, 'off'>>(current?.mutedUntil === 'always' ? 'always' : '8-hours');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const save = async (choice: MuteChoice) => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      onChanged(await client.notifications.mute(conversationId, choice));
    } catch (e) {
      setError(`Not changed: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  const button = 'mt-3 rounded-full px-4 py-1.5 font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 aria-disabled:opacity-50';
  return (
    <section aria-labelledby="mute-title" className="border-b border-slate-200 p-4 text-sm dark:border-slate-800"
      onKeyDown={(e) => {
        if (e.key !== 'Escape') return;
        // Escape here closes the panel, not the conversation behind it.
        e.stopPropagation();
        onClose();
      }}>
      <h3 id="mute-title" className="font-semibold">Mute notifications</h3>
      <p className="mt-1 text-muted" data-testid="mute-state">
        {current === null ? 'Could not check whether this conversation is muted.' : muted ?? 'Not muted.'} Muting holds on all your devices; messages still arrive.
      </p>
      {muted && (
        <button type="button" aria-disabled={busy} onClick={() => void save('off')} className={`${button} bg-brand-600 text-white hover:bg-brand-700`}>Unmute</button>
      )}
      {/* aria-disabled, not disabled, while saving: a disabled button would drop keyboard focus. */}
      <form onSubmit={(e) => { e.preventDefault(); void save(chosen); }}>
        <fieldset className="mt-3 flex flex-wrap gap-x-4 gap-y-1">
          <legend className="mb-1 font-medium">{muted ? 'Or mute for' : 'Mute for'}</legend>
          {CHOICES.map((c) => (
            <label key={c.value} className="flex min-h-8 items-center gap-1.5">
              <input type="radio" name="mute" checked={chosen === c.value} onChange={() => setChosen(c.value)} className="accent-brand-600" />
              {c.label}
            </label>
          ))}
        </fieldset>
        {error && <p role="alert" className="mt-2 text-red-700 dark:text-red-300">{error}</p>}
        <button type="submit" aria-disabled={busy}
          className={`${button} ${muted ? 'border border-slate-300 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800' : 'bg-brand-600 text-white hover:bg-brand-700'}`}>
          {busy ? 'Saving…' : 'Mute'}
        </button>
      </form>
    </section>
  );
}
