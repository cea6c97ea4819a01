import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { ChatClient, GroupAdds } from '../../sdk/client.ts';

const CHOICES: { value: GroupAdds; label: string; hint: string }[] = [
  { value: 'everyone', label: 'Everyone', hint: 'Anyone who can find you can put you in a group.' },
  { value: 'contacts', label: "People you've written to", hint: 'Only someone you have sent a message to in a 1:1 chat.' },
  { value: 'nobody', label: 'Nobody', hint: 'No one can add you to a group. You can still start your own.' },
];

/**
 * The account's privacy settings: who can add this user to groups. Saved as soon as it is chosen
 * (the server enforces it); a failure puts the choice back and says why.
 */
export function Privacy({ client, onClose }: { client: ChatClient; onClose: () => void }) {
  const [saved, setSaved] = useState<GroupAdds>(client.user!.groupAdds);
  const [choice, setChoice] = useState<GroupAdds>(saved);
  const [status, setStatus] = useState<{ kind: 'saving' | 'saved'; text: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  // Arrow keys move through the choices faster than a save: each one is shown at once, and
  // whatever is chosen last is saved once the save under way is done (the ones between are not).
  const wanted = useRef<GroupAdds>(saved);
  const saving = useRef(false);

  const choose = async (value: GroupAdds) => {
    setChoice(value);
    wanted.current = value;
    if (saving.current) return;
    saving.current = true;
    setError(null);
    setStatus({ kind: 'saving', text: 'Saving…' });
    let last = saved;
    try {
      while (wanted.current !== last) {
        const target = wanted.current;
        last = (await client.setGroupAdds(target)).groupAdds;
      }
      setSaved(last);
      setStatus({ kind: 'saved', text: 'Saved.' });
    } catch (e) {
      setSaved(last);
      setChoice(last);
      wanted.current = last;
      setStatus(null);
      setError(`Not saved: ${(e as Error).message}`);
    } finally {
      saving.current = false;
    }
  };
  const closeOnEscape = (e: KeyboardEvent) => {
    if (e.key !== 'Escape') return;
    // Escape here closes the panel, not the conversation behind it.
    e.stopPropagation();
    onClose();
  };
  const smallButton = 'rounded-full px-3 py-1 text-xs font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500';

  return (
    <section aria-labelledby="privacy-title" onKeyDown={closeOnEscape}
      className="space-y-3 border-b border-slate-200 bg-white p-4 text-sm dark:border-slate-800 dark:bg-slate-900">
      <div className="flex items-center justify-between gap-2">
        <h2 id="privacy-title" ref={heading} tabIndex={-1} className="text-base font-semibold focus:outline-none">Privacy</h2>
        <button type="button" onClick={onClose} className={`${smallButton} hover:bg-slate-100 dark:hover:bg-slate-800`}>Close</button>
      </div>
      {/* Not disabled while saving: that would take keyboard focus off the choice just made. */}
      <fieldset aria-describedby="group-adds-note" aria-busy={status?.kind === 'saving'}>
        <legend className="font-medium">Who can add you to groups</legend>
        <div className="mt-2 space-y-2">
          {CHOICES.map((c) => (
            <label key={c.value} className="flex items-start gap-2">
              <input type="radio" name="group-adds" value={c.value} checked={choice === c.value}
                onChange={() => void choose(c.value)} aria-describedby={`group-adds-${c.value}-hint`}
                className="mt-0.5 accent-brand-600" />
              <span>
                <span className="block">{c.label}</span>
                <span id={`group-adds-${c.value}-hint`} className="block text-xs text-muted">{c.hint}</span>
              </span>
            </label>
          ))}
        </div>
      </fieldset>
      <p id="group-adds-note" className="text-xs text-muted">Groups you are in already are not affected. You can leave any group from its Members panel.</p>
      {/* Two areas that stay on the page: a polite one for progress, an alert for a failure. */}
      <p role="status" className="text-slate-600 dark:text-slate-300">{status?.text}</p>
      <p role="alert" className="text-red-600 dark:text-red-400">{error}</p>
    </section>
  );
}
