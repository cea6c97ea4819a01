import { useCallback, useEffect, useRef, useState } from 'react';
import type { AttachedFile, ChatClient } from '../../sdk/client.ts';
import { keep, kept, keyOf, shownType } from './attachmentCache.ts';
import { sizeLabel } from './format.ts';

/** Images up to this size download by themselves, as a messenger shows photos; larger files wait. */
const AUTO_DOWNLOAD_BYTES = 20 * 1024 * 1024;
/** Downloads at once: a conversation full of photos must not fetch them all together. */
const AT_ONCE = 2;
/** Downloads under way, shared by every view of the same file. */
const inFlight = new Map<string, Promise<string>>();
let running = 0;
const waiting: (() => void)[] = [];

/** A name as it is shown: no control or text-direction characters (which can disguise an extension). */
function cleanName(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '');
}

async function slot(): Promise<() => void> {
  if (running >= AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  return () => { running -= 1; waiting.shift()?.(); };
}

type State =
  | { kind: 'idle' }
  | { kind: 'loading'; loaded: number; total: number }
  | { kind: 'ready'; url: string }
  | { kind: 'failed'; message: string; asked: boolean };

/**
 * One file of a message: an image shows its preview (which came inside the message) until the
 * file itself has downloaded, been checked against its hash and decrypted; video and audio play
 * once downloaded; any other file is a card with its name and size. One button per file does
 * what comes next (Download, Cancel, Save, Try again), so focus stays on it throughout. A file
 * that does not check out is never shown, and says why.
 */
export function Attachment({ client, file, from, caption }: { client: ChatClient; file: AttachedFile; from: string; caption: string }) {
  const key = keyOf(file);
  const [state, setState] = useState<State>(() => {
    const hit = kept.get(key);
    return hit ? { kind: 'ready', url: hit.url } : { kind: 'idle' };
  });
  const controller = useRef<AbortController | null>(null);
  const type = shownType(file);
  const kind = type.startsWith('image/') ? 'image' : type.startsWith('video/') ? 'video' : type.startsWith('audio/') ? 'audio' : 'file';
  const name = cleanName(file.filename ?? '') || (kind === 'image' ? 'Photo' : kind === 'video' ? 'Video' : kind === 'audio' ? 'Audio' : 'File');
  const described = kind === 'image' ? `Photo from ${from}${caption ? `: ${caption}` : ''}` : name;

  const download = useCallback(async (asked: boolean) => {
    const hit = kept.get(key);
    if (hit) return setState({ kind: 'ready', url: hit.url });
    const abort = new AbortController();
    controller.current = abort;
    setState({ kind: 'loading', loaded: 0, total: file.size });
    let shared = inFlight.get(key);
    if (!shared) {
      shared = (async () => {
        const done = await slot();
        try {
          const bytes = await client.downloadFile(file, { signal: abort.signal, onProgress: (p) => setState({ kind: 'loading', loaded: p.loaded, total: p.total }) });
          const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
          keep(key, url, file.size);
          return url;
        } finally {
          done();
          inFlight.delete(key);
        }
      })();
      inFlight.set(key, shared);
    }
    try {
      setState({ kind: 'ready', url: await shared });
    } catch (e) {
      const code = (e as { code?: string }).code;
      const status = (e as { status?: number }).status;
      if (code === 'cancelled') return setState({ kind: 'idle' });
      setState({
        kind: 'failed', asked,
        message: code === 'hash_mismatch' || code === 'decrypt_failed' || code === 'size_mismatch'
          ? `${name} is not the file ${from} sent (it was altered or damaged on the way), so it is not shown.`
          : status === 404 ? `${name} is no longer on the server.` : `Couldn't download ${name}: ${(e as Error).message}`,
      });
    } finally {
      if (controller.current === abort) controller.current = null;
    }
  }, [client, file, key, name, from, type]);

  useEffect(() => {
    if (state.kind === 'idle' && kind === 'image' && file.size <= AUTO_DOWNLOAD_BYTES) void download(false);
    return () => controller.current?.abort();
  }, [key]); // once per file: a cancel leaves it idle until the reader asks again

  const save = () => {
    if (state.kind !== 'ready') return;
    const link = document.createElement('a');
    link.href = state.url;
    link.download = name;
    link.click();
  };
  const action = state.kind === 'idle' ? { label: 'Download', run: () => void download(true) }
    : state.kind === 'loading' ? { label: 'Cancel', run: () => controller.current?.abort() }
      : state.kind === 'failed' ? { label: 'Try again', run: () => void download(true) }
        : kind === 'image' ? null : { label: 'Save', run: save };

  const preview = file.preview ? `data:image/jpeg;base64,${file.preview.data}` : null;
  const box = file.preview ? { width: Math.min(280, file.preview.width), maxWidth: '100%', aspectRatio: `${file.preview.width} / ${file.preview.height}` } : { maxWidth: '100%' };
  return (
    <div data-testid="attachment" data-state={state.kind} className="my-1">
      {kind === 'image' && (preview || state.kind === 'ready') && (
        <div className="relative overflow-hidden rounded-lg" style={box}>
          {state.kind === 'ready'
            // The full image opens on its own in a new tab (an inert image type only, see SHOWN_AS).
            ? <a href={state.url} target="_blank" rel="noopener noreferrer" className="block h-full w-full focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500">
                <img src={state.url} alt={described} data-testid="attachment-image" className="block h-full w-full object-cover" />
              </a>
            : <img src={preview!} alt={`${described} (loading)`} data-testid="attachment-preview" className="block h-full w-full object-cover blur-[2px]" />}
        </div>
      )}
      {kind === 'video' && state.kind === 'ready' && <video src={state.url} controls className="max-w-full rounded-lg" aria-label={name} />}
      {kind === 'audio' && state.kind === 'ready' && <audio src={state.url} controls aria-label={name} className="max-w-full" />}
      <p className="mt-1 flex flex-wrap items-center gap-2 text-xs">
        {(kind !== 'image' || state.kind !== 'ready') && (
          <span className="min-w-0 break-all font-medium" title={name}>{kind === 'file' && <span aria-hidden="true">📄 </span>}{name}</span>
        )}
        {state.kind !== 'ready' && <span className="text-muted">{sizeLabel(file.size)}</span>}
        {state.kind === 'loading' && (
          <progress data-testid="attachment-progress" value={state.loaded} max={Math.max(1, state.total)} aria-label={`Downloading ${name}`} className="h-1.5 w-28 accent-brand-600" />
        )}
        {action && (
          // A Tab stop of its own: how a keyboard reaches a file.
          <button type="button" onClick={action.run} aria-label={`${action.label} ${name}`}
            className="min-h-6 rounded-full border border-slate-300 px-2 py-0.5 font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:border-slate-600 dark:hover:bg-slate-700">
            {action.label}
          </button>
        )}
      </p>
      {state.kind === 'failed' && (
        // Said at once only when the reader asked for it; an automatic download that fails is shown, not announced.
        <p role={state.asked ? 'alert' : undefined} data-testid="attachment-error" className="text-xs text-red-700 dark:text-red-300">{state.message}</p>
      )}
    </div>
  );
}
