import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { SendFailure, type ChatClient, type LocalMessage, type OutgoingFile } from '../../sdk/client.ts';
import { MAX_ATTACHMENT_PLAINTEXT_BYTES, MAX_ATTACHMENTS_PER_MESSAGE } from '../../sdk/wire/index.ts';
import { rememberSent } from './attachmentCache.ts';
import { lineOf, sizeLabel } from './format.ts';

/** A reply to a message, or an edit of one of the reader's own, under way in the composer. */
export interface Composing {
  mode: 'reply' | 'edit';
  message: LocalMessage;
  /** Who said it, as the conversation names them. */
  sender: string;
}

/** Typing "on" is sent again at most this often while the reader keeps writing. */
const TYPING_REPEAT_MS = 3000;

/**
 * Where the reader writes: Enter sends, Shift+Enter starts a new line, Escape cancels a reply or
 * an edit, else closes the conversation. Writing tells the others "typing", sending stops it. A
 * reply shows what it answers above the box; an edit puts the message's text in it.
 */
export function Composer({ client, conversationId, ready, onSending, onBack, composing, onDoneComposing, dropped }: {
  client: ChatClient; conversationId: string; ready: boolean;
  /** Files dropped on the conversation, to attach (a new array each time). */
  dropped: File[];
  composing: Composing | null;
  /** The reply or edit was sent, or cancelled. */
  onDoneComposing: () => void;
  /** Called as a message goes out, before it is sent. */
  onSending: () => void;
  onBack: () => void;
}) {
  const [draft, setDraft] = useState('');
  /** Files to send with the next message, and the upload under way. */
  const [files, setFiles] = useState<File[]>([]);
  const [upload, setUpload] = useState<{ loaded: number; total: number; abort: AbortController } | null>(null);
  const picker = useRef<HTMLInputElement>(null);
  /** Takes files to attach, refusing (and saying why) what is over the limits; nothing else is lost. */
  const attach = (chosen: File[]) => {
    if (chosen.length === 0) return;
    if (upload) return setSendError('Wait until these files are sent to attach more.');
    const tooBig = chosen.filter((f) => f.size > MAX_ATTACHMENT_PLAINTEXT_BYTES);
    const fitting = chosen.filter((f) => f.size <= MAX_ATTACHMENT_PLAINTEXT_BYTES);
    const room = MAX_ATTACHMENTS_PER_MESSAGE - files.length;
    const problems = [
      ...tooBig.map((f) => `${f.name} is over ${sizeLabel(MAX_ATTACHMENT_PLAINTEXT_BYTES)}`),
      ...(fitting.length > room ? [`a message carries at most ${MAX_ATTACHMENTS_PER_MESSAGE} files`] : []),
    ];
    setSendError(problems.length ? `Not attached: ${problems.join('; ')}.` : null);
    setFiles((current) => [...current, ...fitting.slice(0, Math.max(0, room))]);
    composer.current?.focus();
  };
  useEffect(() => attach(dropped), [dropped]); // each drop once
  const [sendError, setSendError] = useState<string | null>(null);
  /** What is said without alarm: files sent, a cancel. */
  const [said, setSaid] = useState('');
  const lastTypingSent = useRef(0);
  const composer = useRef<HTMLTextAreaElement>(null);

  // An edit starts from the message's text; leaving it (sent, cancelled, or a reply chosen
  // instead) gives the draft back.
  const draftBeforeEdit = useRef<string | null>(null);
  useEffect(() => {
    if (composing?.mode === 'edit') {
      draftBeforeEdit.current ??= draft;
      setDraft(composing.message.text);
    } else if (draftBeforeEdit.current !== null) {
      setDraft(draftBeforeEdit.current);
      draftBeforeEdit.current = null;
    }
  }, [composing]); // only when what is composed changes, not as the draft does
  const cancelComposing = () => {
    onDoneComposing();
    composer.current?.focus();
  };

  const send = async () => {
    const text = draft.trim();
    if (!ready || upload) return;
    if (files.length > 0 && composing?.mode !== 'edit') return sendFiles(text);
    if (!text) return;
    if (composing?.mode === 'edit') {
      const { message } = composing;
      onDoneComposing();
      setSendError(null);
      composer.current?.focus();
      client.setTyping(conversationId, false);
      lastTypingSent.current = 0;
      if (text !== message.text) await client.edit(message.key, text).catch((e: unknown) => setSendError(`Your edit was not saved: ${(e as Error).message}`));
      return;
    }
    const inReplyTo = composing?.mode === 'reply' ? composing.message.contentId : undefined;
    if (composing) onDoneComposing();
    setDraft('');
    setSendError(null);
    // Back to writing: a click on Send, which goes disabled with the draft empty, would leave
    // focus nowhere.
    composer.current?.focus();
    onSending();
    client.setTyping(conversationId, false);
    lastTypingSent.current = 0;
    try {
      await client.sendText(conversationId, text, inReplyTo ? { inReplyTo } : {});
    } catch (e) {
      // A message the server refused shows on its bubble, with Retry. Anything else failed before
      // the message was kept, so it goes back into the composer.
      if (e instanceof SendFailure) return;
      setDraft((current) => current || text);
      setSendError(`Your message was not sent: ${(e as Error).message}`);
    }
  };

  /** Sends the attached files with the draft as their caption: encrypted, uploaded with progress
   * (Cancel stops it), then the message. What fails stays attached, and the draft stays. */
  const sendFiles = async (caption: string) => {
    const abort = new AbortController();
    const sending = files;
    const inReplyTo = composing?.mode === 'reply' ? composing.message.contentId : undefined;
    // At once, before files are read and previews made: a second Enter meanwhile sends nothing.
    setUpload({ loaded: 0, total: sending.reduce((sum, f) => sum + f.size, 0), abort });
    setSendError(null);
    setSaid('');
    onSending();
    client.setTyping(conversationId, false);
    lastTypingSent.current = 0;
    try {
      const outgoing: OutgoingFile[] = [];
      let previewBytes = 0;
      for (const f of sending) {
        const bytes = new Uint8Array(await f.arrayBuffer());
        // Previews travel inside the message, whose ciphertext is capped: as many as fit.
        const preview = f.type.startsWith('image/') && previewBytes < PREVIEW_BUDGET_BYTES ? await previewOf(f) : undefined;
        const fits = preview && previewBytes + preview.bytes.length <= PREVIEW_BUDGET_BYTES;
        if (fits) previewBytes += preview.bytes.length;
        outgoing.push({ bytes, contentType: f.type || 'application/octet-stream', filename: f.name, ...(fits ? { preview } : {}) });
      }
      const sent = await client.sendFiles(conversationId, outgoing, {
        caption, signal: abort.signal, ...(inReplyTo ? { inReplyTo } : {}),
        onProgress: (p) => setUpload({ loaded: p.loaded, total: p.total, abort }),
      });
      sent.attachments?.forEach((a, i) => rememberSent(a, sending[i]));
      setFiles((list) => list.filter((f) => !sending.includes(f)));
      setDraft('');
      if (composing) onDoneComposing();
      setSaid(sending.length === 1 ? 'File sent.' : `${sending.length} files sent.`);
    } catch (e) {
      if (e instanceof SendFailure) { setFiles((list) => list.filter((f) => !sending.includes(f))); setDraft(''); return; } // on its bubble, with Retry
      const code = (e as { code?: string }).code;
      if (code === 'cancelled') setSaid('Sending the files was cancelled; they are still attached.');
      else setSendError(`The files were not sent: ${(e as Error).message}`);
    } finally {
      setUpload(null);
      composer.current?.focus();
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    } else if (e.key === 'Escape' && !e.nativeEvent.isComposing) {
      e.preventDefault();
      if (composing) cancelComposing();
      else onBack();
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
      <p role="status" className="sr-only">{said}</p>
      {files.length > 0 && (
        <div data-testid="attached" className="mb-2 rounded-lg border border-slate-200 p-2 text-sm dark:border-slate-700">
          <ul aria-label="Files to send" className="flex flex-wrap gap-2">
            {files.map((f, i) => (
              <li key={`${f.name}-${i}`} className="flex items-center gap-1 rounded-full bg-slate-100 py-0.5 pl-3 pr-1 dark:bg-slate-800">
                <span className="max-w-[12rem] truncate">{f.name}</span> <span className="text-xs text-muted">{sizeLabel(f.size)}</span>
                {!upload && (
                  <button type="button" onClick={() => setFiles((list) => list.filter((_, j) => j !== i))} aria-label={`Remove ${f.name}`}
                    className="rounded-full px-1.5 leading-none hover:bg-slate-200 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-700">×</button>
                )}
              </li>
            ))}
          </ul>
          {upload && (
            <div className="mt-2 flex items-center gap-2">
              <progress data-testid="upload-progress" value={upload.loaded} max={Math.max(1, upload.total)} aria-label="Sending files" className="h-1.5 flex-1 accent-brand-600" />
              <span className="text-xs text-muted">{upload.loaded === 0 ? 'Preparing…' : `${sizeLabel(upload.loaded)} of ${sizeLabel(upload.total)}`}</span>
              <button type="button" onClick={() => upload.abort.abort()} className="min-h-6 rounded-full px-2 text-xs font-medium underline-offset-2 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500">Cancel sending</button>
            </div>
          )}
        </div>
      )}
      {composing && (
        <div id="composing" data-testid="composing" className="mb-2 flex items-start gap-2 rounded-lg border-l-4 border-brand-600 bg-slate-100 px-3 py-1.5 text-sm dark:bg-slate-800">
          <p className="min-w-0 flex-1">
            <span className="block text-xs font-semibold text-brand-700 dark:text-brand-400">{composing.mode === 'edit' ? 'Editing your message' : `Replying to ${composing.sender}`}</span>
            <span className="line-clamp-1 text-slate-700 dark:text-slate-200">{lineOf(composing.message)}</span>
          </p>
          <button type="button" onClick={cancelComposing} aria-label={composing.mode === 'edit' ? 'Cancel the edit' : 'Cancel the reply'} title="Cancel (Esc)"
            className="rounded-full px-2 text-lg leading-none hover:bg-slate-200 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-700">×</button>
        </div>
      )}
      <div className="flex items-end gap-2">
        <input ref={picker} type="file" multiple hidden tabIndex={-1} aria-hidden="true" data-testid="file-input"
          onChange={(e) => { attach([...(e.target.files ?? [])]); e.target.value = ''; }} />
        <button type="button" onClick={() => picker.current?.click()} disabled={!ready || !!upload || composing?.mode === 'edit'} aria-label="Attach files"
          className="rounded-full px-2.5 py-2 text-lg hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-50 dark:hover:bg-slate-800">📎</button>
        <label htmlFor="composer" className="sr-only">Message</label>
        <textarea id="composer" ref={composer} rows={1} value={draft} readOnly={!!upload} aria-describedby={composing ? 'composing' : undefined} onChange={(e) => onDraft(e.target.value)} onKeyDown={onKeyDown}
          onPaste={(e) => { const pasted = [...e.clipboardData.files]; if (pasted.length) { e.preventDefault(); attach(pasted); } }}
          placeholder={ready ? 'Message' : 'Setting up encryption…'} disabled={!ready} title={composing ? 'Enter sends, Shift+Enter starts a new line, Escape cancels' : 'Enter sends, Shift+Enter starts a new line, Escape closes the conversation'}
          className="max-h-40 min-h-[2.5rem] flex-1 resize-none rounded-2xl border border-slate-300 bg-white px-4 py-2 outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 disabled:opacity-60 dark:border-slate-700 dark:bg-slate-900" />
        <button type="submit" disabled={!ready || !!upload || (!draft.trim() && (files.length === 0 || composing?.mode === 'edit'))} className="rounded-full bg-brand-600 px-4 py-2 font-medium text-white hover:bg-brand-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-50">{composing?.mode === 'edit' ? 'Save' : 'Send'}</button>
      </div>
    </form>
  );
}

/** What the previews of one message may weigh together: they travel inside it, and its ciphertext
 * is capped at 64 KiB (base64 makes 36 KiB of them 48 KiB). */
const PREVIEW_BUDGET_BYTES = 36 * 1024;

/** An image's preview to send inside the message, or none if this browser cannot make one. */
async function previewOf(file: File) {
  const { makeImagePreview } = await import('../../sdk/attachments.ts');
  return makeImagePreview(file).catch(() => undefined);
}
