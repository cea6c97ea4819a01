// Encrypted attachments: each file is encrypted on this device with a fresh AES-256-GCM key
// (WebCrypto), uploaded as ciphertext in parts for one conversation, and described by an external
// part with the semantics of the IETF MIMI content format (draft-ietf-mimi-content): where the
// bytes are, the key, nonce and algorithm to decrypt them, the hash to check, the size, the media
// type and the file name. That description travels only inside the MLS message, so the server
// holds bytes it cannot read and never sees a key, a name or a type. A download is refused, never
// returned, unless its bytes decrypt under the key and hash to what the sender said.

import type { Api } from './api.ts';
import { ATTACHMENT_TAG_BYTES, MAX_ATTACHMENT_PLAINTEXT_BYTES } from './wire/index.ts';
import { fromBase64, toBase64 } from './mls.ts';

/** MIMI's `encAlg`: the IANA AEAD algorithm registry's AEAD_AES_256_GCM. */
export const AES_256_GCM = 2;
/** MIMI's `hashAlg`: the IANA Named Information hash algorithm registry's sha-256. */
export const SHA_256 = 1;

/**
 * An external part (draft-ietf-mimi-content): a file stored elsewhere, with what a member needs
 * to fetch, check and decrypt it. Binary fields are base64, as the rest of the JSON content.
 */
export interface ExternalPart {
  /** Where the ciphertext is: the upload's id on this server (`GET /attachments/:id`). */
  url: string;
  /** The file's media type, e.g. `image/jpeg` (MIMI's `contentType`). */
  contentType: string;
  /** The file's size in bytes, before encryption. */
  size: number;
  /** `AES_256_GCM`, the only algorithm this version writes or reads. */
  encAlg: number;
  /** The 32-byte content key, fresh for this file. */
  key: string;
  /** The 12-byte (96-bit) GCM nonce. */
  nonce: string;
  /** Additional authenticated data: empty. */
  aad: string;
  /** `SHA_256`. */
  hashAlg: number;
  /** SHA-256 of the file's plaintext, checked after decryption. */
  contentHash: string;
  filename?: string;
}

/** A file encrypted for upload: its ciphertext, and its part but for `url`, known once uploaded. */
export interface EncryptedFile {
  ciphertext: Uint8Array;
  part: Omit<ExternalPart, 'url'>;
}

export interface Progress {
  /** Bytes sent or received so far. */
  loaded: number;
  total: number;
}

export interface TransferOptions {
  /** Called as bytes go out or come in: after each part of an upload, each chunk of a download. */
  onProgress?: (progress: Progress) => void;
  /** Cancels: an upload is then deleted from the server, a download dropped. */
  signal?: AbortSignal;
}

export interface UploadOptions extends TransferOptions {
  /**
   * Parts sent at once (default 3): each part waits on the store as much as on the network, so a
   * few in flight go faster than one after another (bench/README.md, `attachments`).
   */
  partsInFlight?: number;
}

/**
 * Why an attachment could not be sent or read. `hash_mismatch`, `decrypt_failed` and
 * `size_mismatch` mean the bytes are not what the sender sent (a tampering server, a broken
 * transfer): nothing of them is returned. `cancelled` is the caller's own signal.
 */
export type AttachmentFailureCode =
  | 'too_large'
  | 'unsupported'
  | 'size_mismatch'
  | 'decrypt_failed'
  | 'hash_mismatch'
  | 'cancelled'
  | 'not_an_image';

export class AttachmentFailure extends Error {
  readonly code: AttachmentFailureCode;
  constructor(code: AttachmentFailureCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AttachmentFailure';
    this.code = code;
  }
}

const KEY_BYTES = 32;
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NONCE_BYTES = 12;

/** WebCrypto wants an ArrayBuffer-backed view; a Uint8Array of any other buffer is copied. */
function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buffer(bytes)));
}

/**
 * Encrypts a file for upload: a fresh 256-bit key and 96-bit nonce (never used for anything
 * else), AES-GCM over the whole file, and SHA-256 of the plaintext.
 */
export async function encryptFile(
  bytes: Uint8Array,
  { mediaType, filename }: { mediaType: string; filename?: string },
): Promise<EncryptedFile> {
  if (bytes.length > MAX_ATTACHMENT_PLAINTEXT_BYTES) {
    throw new AttachmentFailure('too_large', `A file can be at most ${MAX_ATTACHMENT_PLAINTEXT_BYTES / 2 ** 20} MiB.`);
  }
  const rawKey = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const key = await crypto.subtle.importKey('raw', rawKey, 'AES-GCM', false, ['encrypt']);
  const [ciphertext, hash] = await Promise.all([
    crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce }, key, buffer(bytes)),
    sha256(bytes),
  ]);
  const part: Omit<ExternalPart, 'url'> = {
    contentType: mediaType,
    size: bytes.length,
    encAlg: AES_256_GCM,
    key: toBase64(rawKey),
    nonce: toBase64(nonce),
    aad: '',
    hashAlg: SHA_256,
    contentHash: toBase64(hash),
  };
  if (filename !== undefined) part.filename = filename;
  return { ciphertext: new Uint8Array(ciphertext), part };
}

function cancelled(signal: AbortSignal): AttachmentFailure {
  return new AttachmentFailure('cancelled', 'Cancelled.', { cause: signal.reason });
}

/**
 * Uploads a ciphertext for a conversation in parts (each `partSize` bytes, the last the rest, a
 * few at once), and completes it. Resolves with the upload's id, the part's `url`. On a cancel or any
 * failure the upload is deleted from the server (so it does not hold the quota) and the promise
 * rejects: `AttachmentFailure` `cancelled`, or the server's `ApiError` (`quota_exceeded`,
 * `too_large`, `too_many_uploads` …).
 */
export async function uploadAttachment(
  api: Api,
  conversationId: string,
  ciphertext: Uint8Array,
  { onProgress, signal, partsInFlight = 3 }: UploadOptions = {},
): Promise<string> {
  if (signal?.aborted) throw cancelled(signal);
  const upload = await api.createAttachment(conversationId, ciphertext.length, { signal });
  // The server's plan for the parts is checked, not followed blindly: a hostile one could
  // otherwise have this device send empty parts without end, or name an upload that is no id.
  const planned = upload.partSize >= 1 && upload.parts === Math.max(1, Math.ceil(ciphertext.length / upload.partSize));
  if (!planned || !UPLOAD_ID.test(upload.id)) {
    await api.cancelAttachment(upload.id).catch(() => {});
    throw new AttachmentFailure('unsupported', 'The server answered the upload with a plan that does not fit the file.');
  }
  try {
    let loaded = 0;
    onProgress?.({ loaded, total: ciphertext.length });
    let next = 1;
    const sendParts = async () => {
      for (let n = next++; n <= upload.parts; n = next++) {
        const start = (n - 1) * upload.partSize;
        const part = ciphertext.subarray(start, Math.min(start + upload.partSize, ciphertext.length));
        await api.uploadAttachmentPart(upload.id, n, part, { signal });
        loaded += part.length;
        onProgress?.({ loaded, total: ciphertext.length });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(partsInFlight, upload.parts)) }, sendParts));
    await api.completeAttachment(upload.id, { signal });
    return upload.id;
  } catch (e) {
    // Not awaited by the caller's cancel: the server frees the reservation, best effort (the sweep
    // deletes it a day later otherwise).
    await api.cancelAttachment(upload.id).catch(() => {});
    if (signal?.aborted) throw cancelled(signal);
    throw e;
  }
}

/** The external part of an encrypted file once uploaded as `attachmentId`. */
export function externalPart(file: EncryptedFile, attachmentId: string): ExternalPart {
  return { url: attachmentId, ...file.part };
}

/**
 * Downloads an attachment, streaming with progress, then checks and decrypts it: its length must
 * be the file's plus the GCM tag, it must decrypt under the part's key (which authenticates every
 * byte), and the plaintext must hash to `contentHash`. Anything else rejects with an
 * `AttachmentFailure` and returns no bytes.
 */
export async function downloadAttachment(
  api: Api,
  part: ExternalPart,
  { onProgress, signal }: TransferOptions = {},
): Promise<Uint8Array> {
  if (part.encAlg !== AES_256_GCM || part.hashAlg !== SHA_256) {
    throw new AttachmentFailure('unsupported', 'This attachment uses an encryption or hash this version does not read.');
  }
  // The size sets the buffer the download is read into: a part that claims more than any file can
  // be is refused before anything is allocated or fetched.
  if (!Number.isSafeInteger(part.size) || part.size < 0 || part.size > MAX_ATTACHMENT_PLAINTEXT_BYTES) {
    throw new AttachmentFailure('too_large', 'This attachment claims a size no file here can have.');
  }
  if (signal?.aborted) throw cancelled(signal);
  const expected = part.size + ATTACHMENT_TAG_BYTES;
  let ciphertext: Uint8Array;
  try {
    ciphertext = await receive(await api.downloadAttachment(part.url, { signal }), expected, onProgress);
  } catch (e) {
    if (signal?.aborted) throw cancelled(signal);
    throw e;
  }
  let plaintext: Uint8Array;
  try {
    const key = await crypto.subtle.importKey('raw', buffer(fromBase64(part.key)), 'AES-GCM', false, ['decrypt']);
    const aad = fromBase64(part.aad);
    const params: AesGcmParams = { name: 'AES-GCM', iv: buffer(fromBase64(part.nonce)) };
    if (aad.length) params.additionalData = buffer(aad);
    plaintext = new Uint8Array(await crypto.subtle.decrypt(params, key, buffer(ciphertext)));
  } catch (e) {
    throw new AttachmentFailure('decrypt_failed', 'This attachment does not decrypt: it was altered or damaged.', { cause: e });
  }
  const hash = await sha256(plaintext);
  if (toBase64(hash) !== part.contentHash) {
    throw new AttachmentFailure('hash_mismatch', 'This attachment is not the file that was sent (its hash differs).');
  }
  return plaintext;
}

/** Reads a download's body into exactly `expected` bytes, refusing more or fewer. */
async function receive(res: Response, expected: number, onProgress?: (p: Progress) => void): Promise<Uint8Array> {
  const mismatch = (got: string) =>
    new AttachmentFailure('size_mismatch', `This attachment should be ${expected} bytes; the server sent ${got}.`);
  const declared = res.headers.get('content-length');
  if (declared !== null && Number(declared) !== expected) throw mismatch(declared);
  const out = new Uint8Array(expected);
  let loaded = 0;
  onProgress?.({ loaded, total: expected });
  const reader = res.body?.getReader();
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // More than announced is refused as it comes: a hostile server cannot fill the memory.
      if (loaded + value.length > expected) {
        await reader.cancel().catch(() => {});
        throw mismatch('more');
      }
      out.set(value, loaded);
      loaded += value.length;
      onProgress?.({ loaded, total: expected });
    }
  }
  if (loaded !== expected) throw mismatch(String(loaded));
  return out;
}

/** A small JPEG of an image, to show before the full file arrives (sent inside the MLS message). */
export interface ImagePreview {
  bytes: Uint8Array;
  mediaType: 'image/jpeg';
  /** The preview's size in pixels. */
  width: number;
  height: number;
}

/** The longest side of a preview, in pixels. */
export const PREVIEW_MAX_SIDE = 320;
/** What a preview may weigh: it travels inside the MLS message, whose ciphertext is capped. */
export const PREVIEW_MAX_BYTES = 12 * 1024;

/**
 * Makes a preview of an image in the browser: scaled to `PREVIEW_MAX_SIDE` on its longest side
 * and encoded as JPEG at the best quality that fits `PREVIEW_MAX_BYTES` (smaller still if even the
 * lowest quality does not). Needs `createImageBitmap` and a canvas (OffscreenCanvas or the DOM's).
 */
export async function makeImagePreview(blob: Blob): Promise<ImagePreview> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch (e) {
    throw new AttachmentFailure('not_an_image', 'This file is not an image the browser can read.', { cause: e });
  }
  try {
    let side = PREVIEW_MAX_SIDE;
    for (;;) {
      const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
      const width = Math.max(1, Math.round(bitmap.width * scale));
      const height = Math.max(1, Math.round(bitmap.height * scale));
      for (const quality of [0.8, 0.65, 0.5, 0.35, 0.2]) {
        const jpeg = await drawJpeg(bitmap, width, height, quality);
        if (jpeg.length <= PREVIEW_MAX_BYTES) return { bytes: jpeg, mediaType: 'image/jpeg', width, height };
      }
      side = Math.floor(side * 0.75);
    }
  } finally {
    bitmap.close();
  }
}

async function drawJpeg(bitmap: ImageBitmap, width: number, height: number, quality: number): Promise<Uint8Array> {
  if (typeof OffscreenCanvas !== 'undefined') {
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d')!.drawImage(bitmap, 0, 0, width, height);
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality });
    return new Uint8Array(await blob.arrayBuffer());
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, width, height);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
  if (!blob) throw new AttachmentFailure('not_an_image', 'The browser could not encode the preview.');
  return new Uint8Array(await blob.arrayBuffer());
}
