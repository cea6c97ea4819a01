import { useCallback, useEffect, useRef, useState } from 'react';
import type { AttachedFile, ChatClient } from '../../sdk/client.ts';
import { sizeLabel } from './format.ts';

/** Images up to this size download by themselves, as a messenger shows photos; larger files wait. */
const AUTO_DOWNLOAD_BYTES = 20 * 1024 * 1024;

/** Files already downloaded and checked in this page, by upload id, as object URLs. */
const downloaded = new Map<string, string>();

type State =
  | { kind: 'idle' }
  | { kind: 'loading'; loaded: number; total: number }
  | { kind: 'ready'; url: string }
  | { kind: 'failed'; message: string };

/**
 * One file of a message: an image shows its preview (which came inside the message) until the
 * file itself has downloaded, been checked against its hash and decrypted; video and audio play
 * once downloaded; any other file is a card with its name and size, and Save once downloaded.
 * Downloads show their progress and can be cancelled; a file that does not check out is never
 * shown, and says why.
 */
export function Attachment({ client, file }: { client: ChatClient; file: AttachedFile }) {
  const [state, setState] = useState<State>(() => {
    const url = downloaded.get(file.url);
    return url ? { kind: 'ready', url } : { kind: 'idle' };
  });
  const controller = useRef<AbortController | null>(null);
  const kind = file.contentType.startsWith('image/') ? 'image' : file.contentType.startsWith('video/') ? 'video' : file.contentType.startsWith('audio/') ? 'audio' : 'file';
  const name = file.filename ?? (kind === 'image' ? 'Photo' : kind === 'video' ? 'Video' : kind === 'audio' ? 'Audio' : 'File');

  const download = useCallback(async () => {
    controller.current?.abort();
    const abort = new AbortController();
    controller.current = abort;
    setState({ kind: 'loading', loaded: 0, total: file.size });
    try {
      const bytes = await client.downloadFile(file, { signal: abort.signal, onProgress: (p) => setState({ kind: 'loading', loaded: p.loaded, total: p.total }) });
      const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: file.contentType }));
      downloaded.set(file.url, url);
      setState({ kind: 'ready', url });
    } catch (e) {
      const code = (e as { code?: string }).code;
      const status = (e as { status?: number }).status;
      if (code === 'cancelled') return setState({ kind: 'idle' });
      setState({
        kind: 'failed',
        message: code === 'hash_mismatch' || code === 'decrypt_failed' || code === 'size_mismatch'
          ? 'This file was altered or damaged on the way, so it is not shown.'
          : status === 404 ? 'This file is no longer on the server.' : `It could not be downloaded: ${(e as Error).message}`,
      });
    } finally {
      if (controller.current === abort) controller.current = null;
    }
  }, [client, file]);

  useEffect(() => {
    if (state.kind === 'idle' && kind === 'image' && file.size <= AUTO_DOWNLOAD_BYTES) void download();
    return () => controller.current?.abort();
  }, [file.url]); // once per file: a cancel leaves it idle until the reader asks again

  const preview = file.preview ? `data:${file.preview.contentType};base64,${file.preview.data}` : null;
  const box = file.preview ? { width: Math.min(280, file.preview.width), aspectRatio: `${file.preview.width} / ${file.preview.height}` } : undefined;
  return (
    <figure data-testid="attachment" data-state={state.kind} className="my-1">
      {kind === 'image' && (preview || state.kind === 'ready') && (
        <div className="relative overflow-hidden rounded-lg" style={box}>
          {state.kind === 'ready'
            ? <img src={state.url} alt={name} data-testid="attachment-image" className="block h-full w-full object-cover" />
            : <img src={preview!} alt={`${name} (preview)`} data-testid="attachment-preview" className="block h-full w-full object-cover blur-[2px]" />}
        </div>
      )}
      {kind === 'video' && state.kind === 'ready' && <video src={state.url} controls className="max-w-full rounded-lg" aria-label={name} />}
      {kind === 'audio' && state.kind === 'ready' && <audio src={state.url} controls aria-label={name} />}
      <figcaption className="mt-1 flex flex-wrap items-center gap-2 text-xs">
        {(kind === 'file' || state.kind !== 'ready') && <span className="min-w-0 break-all font-medium">{kind === 'file' && <span aria-hidden="true">📄 </span>}{name}</span>}
        {state.kind !== 'ready' && <span className="text-muted">{sizeLabel(file.size)}</span>}
        {state.kind === 'idle' && (
          <button type="button" onClick={() => void download()} className="rounded-full border border-slate-300 px-2 py-0.5 font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:border-slate-600 dark:hover:bg-slate-700">
            Download <span className="sr-only">{name}</span>
          </button>
        )}
        {state.kind === 'loading' && (
          <>
            <progress data-testid="attachment-progress" value={state.loaded} max={Math.max(1, state.total)} aria-label={`Downloading ${name}`} className="h-1.5 w-28 accent-brand-600" />
            <button type="button" onClick={() => controller.current?.abort()} className="rounded-full px-2 py-0.5 font-medium underline-offset-2 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500">
              Cancel <span className="sr-only">download of {name}</span>
            </button>
          </>
        )}
        {state.kind === 'ready' && kind === 'file' && (
          <a href={state.url} download={name} className="rounded-full border border-slate-300 px-2 py-0.5 font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:border-slate-600 dark:hover:bg-slate-700">
            Save <span className="sr-only">{name}</span>
          </a>
        )}
        {state.kind === 'failed' && (
          <>
            <span role="alert" data-testid="attachment-error" className="text-red-700 dark:text-red-300">{state.message}</span>
            <button type="button" onClick={() => void download()} className="rounded-full px-2 py-0.5 font-medium underline-offset-2 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500">Try again</button>
          </>
        )}
      </figcaption>
    </figure>
  );
}
