import { useRef, useState } from 'react';
import { DISAPPEAR_AFTER_CHOICES } from '../../sdk/wire/index.ts';
import type { ChatClient } from '../../sdk/client.ts';
import { timerLabel } from './format.ts';

/**
 * Disappearing messages for a conversation: off, or one of the timers. Messages sent from then on
 * disappear from every device, and from the server, that long after they were sent; everyone in
 * the conversation sees who set it. In a group only its owner and admins may change it.
 */
export function DisappearingPanel({ client, conversationId, current, mayChange, onChanged }: {
  client: ChatClient; conversationId: string; current: number | null; mayChange: boolean;
  /** Saved. `hadFocus`: the keyboard was still in this panel (or nowhere) when the save ended. */
  onChanged: (seconds: number | null, where: { hadFocus: boolean }) => void;
}) {
  const [chosen, setChosen] = useState<number | null>(current);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const section = useRef<HTMLElement>(null);
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      await client.setDisappearingTimer(conversationId, chosen);
      // Saving waits for the server, and the reader may have gone on meanwhile (to write a
      // message, say): where they are now is said, so that the panel closing does not take the
      // keyboard from there. Nowhere: the Save button they pressed went disabled while saving.
      const active = document.activeElement;
      onChanged(chosen, { hadFocus: !active || active === document.body || !!section.current?.contains(active) });
    } catch (e) {
      setError(`Not changed: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  const options: (number | null)[] = [null, ...DISAPPEAR_AFTER_CHOICES];
  return (
    <section ref={section} aria-labelledby="disappearing-title" className="border-b border-slate-200 p-4 text-sm dark:border-slate-800">
      <h3 id="disappearing-title" className="font-semibold">Disappearing messages</h3>
      <p className="mt-1 text-muted">New messages disappear from every device, and from the server, this long after they are sent.</p>
      {mayChange ? (
        <form onSubmit={(e) => { e.preventDefault(); void save(); }}>
          <fieldset className="mt-2 flex flex-wrap gap-x-4 gap-y-1">
            <legend className="sr-only">Messages disappear after</legend>
            {options.map((seconds) => (
              <label key={String(seconds)} className="flex items-center gap-1.5">
                <input type="radio" name="disappear-after" checked={chosen === seconds} onChange={() => setChosen(seconds)} className="accent-brand-600" />
                {seconds ? timerLabel(seconds) : 'Off'}
              </label>
            ))}
          </fieldset>
          {error && <p role="alert" className="mt-2 text-red-700 dark:text-red-300">{error}</p>}
          <button type="submit" disabled={busy || chosen === current}
            className="mt-3 rounded-full bg-brand-600 px-4 py-1.5 font-medium text-white hover:bg-brand-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-50">
            {busy ? 'Saving…' : 'Save'}
          </button>
        </form>
      ) : (
        <p className="mt-2">{current ? `Messages disappear after ${timerLabel(current)}.` : 'Off.'} Only the group&apos;s owner and admins change this.</p>
      )}
    </section>
  );
}
