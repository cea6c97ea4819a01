// The files this page has downloaded, checked and decrypted (or sent itself), as object URLs, so a
// file shows again without another download. Small and apart from Attachment.tsx, which loads on
// demand, so the composer can put what it sends here without loading that.

import type { AttachedFile } from '../../sdk/client.ts';

/** What the page keeps of files, as object URLs; the least recently kept go first. */
const KEPT_BYTES = 200 * 1024 * 1024;

/**
 * The media types a decrypted file is shown or played as. Anything else (HTML, SVG, scripts) is
 * only ever a download of `application/octet-stream`, whatever type its sender gave: an object URL
 * of this origin must never render as a page.
 */
const SHOWN_AS = /^(image\/(jpeg|png|gif|webp|avif)|video\/(mp4|webm|ogg)|audio\/(mpeg|mp4|ogg|webm|wav|aac|flac))$/;

/** A file's key: its upload together with its key and hash, so nobody's other file passes for it. */
export const keyOf = (file: AttachedFile) => `${file.url}:${file.key}:${file.contentHash}`;

export const kept = new Map<string, { url: string; size: number }>();

export function shownType(file: AttachedFile): string {
  return SHOWN_AS.test(file.contentType) ? file.contentType : 'application/octet-stream';
}

export function keep(key: string, url: string, size: number): void {
  kept.set(key, { url, size });
  let total = [...kept.values()].reduce((sum, k) => sum + k.size, 0);
  for (const [oldKey, old] of kept) {
    if (total <= KEPT_BYTES || oldKey === key) break;
    URL.revokeObjectURL(old.url);
    kept.delete(oldKey);
    total -= old.size;
  }
}

/** The sender's own files, as it sent them: shown at once, with nothing to download. */
export function rememberSent(file: AttachedFile, blob: Blob): void {
  keep(keyOf(file), URL.createObjectURL(new Blob([blob], { type: shownType(file) })), file.size);
}
