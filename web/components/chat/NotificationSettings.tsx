import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { ChatClient } from '../../sdk/client.ts';
import { disablePush, enablePush, previewsShown, pushState, setPreviews, type PushState } from '../../lib/push.ts';

const STATE_TEXT: Record<PushState, string> = {
  on: 'On for this browser: new messages notify you while the app is closed.',
  off: 'Off for this browser.',
  denied: 'Blocked: this browser was told not to show notifications for this site. Allow them in the browser\'s settings for this site (in an installed app, its app info), then check again.',
  unsupported: 'This window cannot show notifications from a closed app (a private window often cannot). On an iPhone or iPad, add the app to the Home Screen first.',
  unavailable: 'This server does not send notifications.',
};

/**
 * This browser's notifications: on or off, and whether they show who wrote and what. The server
 * sends a notification only as an encrypted note of which conversation has something new; this
 * device decrypts the message to show it, so previews never pass through the server in clear.
 */
export function NotificationSettings({ client, onClose }: { client: ChatClient; onClose: () => void }) {
  const [state, setState] = useState<PushState | null>(null);
  const [previews, setShowPreviews] = useState<boolean | null>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  // Turning on or off swaps the button for another: focus goes to the new one, not to the page.
  const action = useRef<HTMLButtonElement>(null);
  const moveFocus = useRef(false);
  useEffect(() => {
    if (!moveFocus.current) return;
    moveFocus.current = false;
    action.current?.focus();
  }, [state]);
  useEffect(() => {
    void pushState(client).then(setState, () => setState('off'));
    void previewsShown().then(setShowPreviews, () => {});
  }, [client]);

  const act = async (work: () => Promise<PushState>, done: (reached: PushState) => string) => {
    setBusy(true);
    setError(null);
    setStatus('Waiting for your browser…');
    try {
      const reached = await work();
      moveFocus.current = document.activeElement === action.current;
      setState(reached);
      setStatus(done(reached));
    } catch (e) {
      setStatus('');
      setError(`Not changed: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  const turnOn = () => act(() => enablePush(client), (reached) => (
    reached === 'on' ? 'Notifications are on.'
      : reached === 'denied' ? 'Your browser blocks notifications for this site.'
      : reached === 'off' ? 'Your browser did not allow notifications. Look for a crossed-out bell by the address, or allow them in its settings for this site.'
      : STATE_TEXT[reached]));
  const turnOff = () => act(async () => { await disablePush(client); return 'off'; }, () => 'Notifications are off.');
  const choosePreviews = async (show: boolean) => {
    setShowPreviews(show);
    setError(null);
    try {
      await setPreviews(show);
      const when = state === 'on' ? '' : ' once they are on';
      setStatus(show ? `Saved. Notifications show who wrote and what${when}.` : `Saved. Notifications say only "New message"${when}.`);
    } catch (e) {
      setShowPreviews(!show);
      setError(`Not changed: ${(e as Error).message}`);
    }
  };
  const closeOnEscape = (e: KeyboardEvent) => {
    if (e.key !== 'Escape') return;
    e.stopPropagation();
    onClose();
  };
  const smallButton = 'rounded-full px-3 py-1 text-xs font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500';
  const mainButton = 'rounded-full bg-brand-600 px-4 py-1.5 font-medium text-white hover:bg-brand-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 aria-disabled:opacity-50';

  return (
    <section aria-labelledby="notifications-title" onKeyDown={closeOnEscape}
      className="space-y-3 border-b border-slate-200 bg-white p-4 text-sm dark:border-slate-800 dark:bg-slate-900">
      <div className="flex items-center justify-between gap-2">
        <h2 id="notifications-title" ref={heading} tabIndex={-1} className="text-base font-semibold focus:outline-none">Notifications</h2>
        <button type="button" onClick={onClose} className={`${smallButton} hover:bg-slate-100 dark:hover:bg-slate-800`}>Close</button>
      </div>
      <p data-testid="push-state">{state ? STATE_TEXT[state] : 'Checking…'}</p>
      {/* aria-disabled, not disabled, while busy: a disabled button would drop keyboard focus. */}
      {(state === 'off' || state === 'denied') && (
        <button type="button" ref={action} aria-disabled={busy} onClick={() => { if (!busy) void turnOn(); }} className={mainButton}>
          {state === 'denied' ? 'Check again' : 'Turn on notifications'}
        </button>
      )}
      {state === 'on' && (
        <button type="button" ref={action} aria-disabled={busy} onClick={() => { if (!busy) void turnOff(); }} className={`${smallButton} border border-slate-300 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800`}>Turn off</button>
      )}
      {state !== null && state !== 'unsupported' && state !== 'unavailable' && previews !== null && (
        <label className="flex items-start gap-2">
          <input type="checkbox" checked={previews} onChange={(e) => void choosePreviews(e.target.checked)} aria-describedby="previews-hint" className="mt-0.5 accent-brand-600" />
          <span>
            <span className="block">Show who wrote and what</span>
            <span id="previews-hint" className="block text-xs text-muted">Turn off if others can see your screen: notifications on this browser will say only &quot;New message&quot;.</span>
          </span>
        </label>
      )}
      <p className="text-xs text-muted">The server only learns that a conversation has something new. This browser decrypts the message to show it. To silence one conversation, use Mute in it.</p>
      <p role="status" className="text-slate-600 dark:text-slate-300">{status}</p>
      <p role="alert" className="text-red-600 dark:text-red-400">{error}</p>
    </section>
  );
}
