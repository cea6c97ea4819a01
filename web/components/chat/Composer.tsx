import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { SendFailure, type ChatClient } from '../../sdk/client.ts';

/** Typing "on" is sent again at most this often while the reader keeps writing. */
const TYPING_REPEAT_MS = 3000;

/**
 * Where the reader writes: Enter sends, Shift+Enter starts a new line, Escape closes the
 * conversation. Writing tells the others "typing", sending stops it.
 */
export function Composer({ client, conversationId, ready, onSending, onBack }: {
  client: ChatClient; conversationId: string; ready: boolean;
  /** Called as a message goes out, before it is sent. */
  onSending: () => void;
  onBack: () => void;
}) {
  const [draft, setDraft] = useState('');
  const [sendError, setSendError] = useState<string | null>(null);
  const lastTypingSent = useRef(0);
  const composer = useRef<HTMLTextAreaElement>(null);

  const send = async () => {
    const text = draft.trim();
    if (!text || !ready) return;
    setDraft('');
    setSendError(null);
    // Back to writing: a click on Send, which goes disabled with the draft empty, would leave
    // focus nowhere.
    composer.current?.focus();
    onSending();
    client.setTyping(conversationId, false);
    lastTypingSent.current = 0;
    try {
      await client.sendText(conversationId, text);
    } catch (e) {
      // A message the server refused shows on its bubble, with Retry. Anything else failed before
      // the message was kept, so it goes back into the composer.
      if (e instanceof SendFailure) return;
      setDraft((current) => current || text);
      setSendError(`Your message was not sent: ${(e as Error).message}`);
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    } else if (e.key === 'Escape' && !e.nativeEvent.isComposing) {
      e.preventDefault();
      onBack();
    }
  };

  useEffect(() => {
    // Opening a conversation on a wide screen means writing in it next; on a phone, focusing would
    // pop the keyboard over what the reader came to read.
    if (ready && window.matchMedia('(min-width: 768px)').matches) composer.current?.focus();
  }, [ready]);

  useLayoutEffect(() => {
    // The composer grows with what is written, up to its CSS max-height, and scrolls beyond.
    const el = composer.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${el.scrollHeight + el.offsetHeight - el.clientHeight}px`;
  }, [draft]);

  const onDraft = (value: string) => {
    setDraft(value);
    const now = Date.now();
    if (value && now - lastTypingSent.current > TYPING_REPEAT_MS) {
      lastTypingSent.current = now;
      client.setTyping(conversationId, true);
    }
  };

  return (
    <form onSubmit={(e) => { e.preventDefault(); void send(); }} className="border-t border-slate-200 p-3 dark:border-slate-800">
      {sendError && <p role="alert" className="mb-2 text-sm text-red-600 dark:text-red-400">{sendError}</p>}
      <div className="flex items-end gap-2">
        <label htmlFor="composer" className="sr-only">Message</label>
        <textarea id="composer" ref={composer} rows={1} value={draft} onChange={(e) => onDraft(e.target.value)} onKeyDown={onKeyDown}
          placeholder={ready ? 'Message' : 'Setting up encryption…'} disabled={!ready} title="Enter sends, Shift+Enter starts a new line, Escape closes the conversation"
          className="max-h-40 min-h-[2.5rem] flex-1 resize-none rounded-2xl border border-slate-300 bg-white px-4 py-2 outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 disabled:opacity-60 dark:border-slate-700 dark:bg-slate-900" />
        <button type="submit" disabled={!ready || !draft.trim()} className="rounded-full bg-brand-600 px-4 py-2 font-medium text-white hover:bg-brand-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-50">Send</button>
      </div>
    </form>
  );
}
