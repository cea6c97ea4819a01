// What an application message carries inside MLS: a small, versioned JSON document with the
// semantics of the IETF MIMI content format (draft-ietf-mimi-content) — a message id derived from
// the content, and the fields replies, reactions, edits, deletions, expiry and attachments build on
// (`inReplyTo`, `replaces`, `expires`, a `disposition`, external parts). The server sees none of it.
//
// JSON rather than MIMI's CBOR: the browser already has a JSON codec and the SDK's other documents
// are JSON; a CBOR codec would be a dependency for no gain here, while the semantics, which are what
// interoperate, stay MIMI's. Versioned (`v`), and what a newer client adds is kept as it came: a
// field this version does not know stays in the stored document, and a message whose version or
// disposition it does not know is kept and shown as "needs a newer version", never dropped.

import type { ExternalPart } from './attachments.ts';
import { DISAPPEAR_AFTER_CHOICES, MAX_ATTACHMENT_PLAINTEXT_BYTES, MAX_ATTACHMENTS_PER_MESSAGE } from './wire/index.ts';

/** The content format this client writes. */
export const CONTENT_VERSION = 1;

/**
 * The dispositions this version understands: MIMI's "render" (a message to show, or with
 * `replaces`, an edit or a deletion of one) and "reaction"; "timer" is this product's own, a
 * member setting the conversation's disappearing messages.
 */
const KNOWN_DISPOSITIONS = new Set(['render', 'reaction', 'timer']);
/** The fields this version reads; a document with others is kept whole (see `keep`). */
const KNOWN_FIELDS = new Set(['v', 'salt', 'text', 'disposition', 'inReplyTo', 'replaces', 'replacesMessageId', 'expires', 'disappearAfterSeconds', 'attachments']);
/** A server message id (a UUID), as `replacesMessageId` names one. */
const MESSAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A content id as `contentId` makes one: SHA-256 in base64url. */
const CONTENT_ID = /^[A-Za-z0-9_-]{43}$/;
/** A reaction is one emoji (a grapheme cluster may take a dozen code units); longer is not one. */
export const MAX_REACTION_CHARS = 32;

/** Whether `text` is one emoji: a single grapheme that is pictographic (not a word, not a link). */
export function isOneEmoji(text: string): boolean {
  if (text.length === 0 || text.length > MAX_REACTION_CHARS) return false;
  const graphemes = [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text)];
  return graphemes.length === 1 && /\p{Extended_Pictographic}|\p{Regional_Indicator}/u.test(text);
}

/**
 * A file a message carries: MIMI's external part (where the ciphertext is, its key, nonce, hash,
 * size, type and name; see attachments.ts), with, for an image, a small preview carried inline,
 * shown before the file itself has downloaded.
 */
export interface AttachedFile extends ExternalPart {
  preview?: { contentType: string; width: number; height: number; /** base64 */ data: string };
}

/** What a preview may weigh in the document (base64 of at most 12 KiB, with room to spare). */
const MAX_PREVIEW_CHARS = 24 * 1024;

/** An application message's content, as sent: only `v` and the salt are always there. */
export interface MessageContent {
  v: number;
  /** 16 random bytes (base64url): two equal texts never share an id. */
  salt: string;
  /** What a message of disposition `render` shows; a reaction's emoji ('' takes it back). */
  text?: string;
  /** `render` unless said otherwise. */
  disposition?: string;
  /** The content id of the message this one replies to (a reaction: reacts to). */
  inReplyTo?: string;
  /** The content id of the message this one replaces: with `text`, an edit; without, a deletion. */
  replaces?: string;
  /** On a deletion (this product's addition to MIMI): the server's id of the message it deletes,
   * so that a device that only ever saw the server's tombstone of it can tell the deletion was
   * made by someone who may, not by the server alone. */
  replacesMessageId?: string;
  /** When every device deletes the message: seconds since the Unix epoch (MIMI `expires`). */
  expires?: number;
  /** A `timer` message: the conversation's new disappearing-messages timer, null for off. */
  disappearAfterSeconds?: number | null;
  /** Files the message carries (its `text` is then their caption, possibly empty). */
  attachments?: AttachedFile[];
  /** Whatever a newer version adds: kept, not understood. */
  [field: string]: unknown;
}

/** What a decrypted message does, as this version reads it. */
export type Meaning =
  | { kind: 'text'; text: string; inReplyTo?: string; attachments?: AttachedFile[] }
  /** One person's reaction to a message; an empty emoji takes theirs back. */
  | { kind: 'reaction'; target: string; emoji: string }
  /** The sender's new text for a message of theirs. */
  | { kind: 'edit'; target: string; text: string }
  /** A message deleted for everyone, by its sender or a group's owner or admin. */
  | { kind: 'retract'; target: string; messageId?: string }
  /** The conversation's disappearing-messages timer, in seconds (null: off). */
  | { kind: 'timer'; seconds: number | null }
  /** A newer client's message: kept, and shown as needing a newer version. */
  | { kind: 'unsupported' };

/** What this device makes of a decrypted application message. */
export interface ReadContent {
  /** The message's content id (see `contentId`). */
  contentId: string;
  meaning: Meaning;
  /** The text to show; empty for anything but a text message. */
  text: string;
  /** The content id of the message it replies to, when it names a well-formed one. */
  inReplyTo?: string;
  /** The files it carries. */
  attachments?: AttachedFile[];
  /** When devices delete it (milliseconds since the epoch), if it disappears. */
  expiresAt?: number;
  /** A newer client's message (a version or disposition this one does not know): shown as such. */
  unsupported: boolean;
  /** The document as it came, unknown fields included; absent for a message from before the format. */
  content?: MessageContent;
  /** Whether the exact body must be kept with the message: it holds what this version does not
   * read (a newer version, disposition or field), for a later version to read. */
  keep: boolean;
}

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * A message's id, derived as MIMI derives one: a hash over who sent it, where, and its exact bytes
 * (which hold a random salt). Every member computes the same id from what it decrypted, and nobody
 * can make a message of theirs carry someone else's id: the sender is part of what is hashed, and the
 * MLS sender is checked. Replies, reactions and edits name messages by it.
 */
export async function contentId(conversationId: string, senderId: string, body: string): Promise<string> {
  const hashed = encoder.encode(`e2e-chat/content-id/v1\n${conversationId}\n${senderId}\n${body}`);
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', hashed)));
}

function document(fields: Omit<MessageContent, 'v' | 'salt'>): string {
  return JSON.stringify({ v: CONTENT_VERSION, salt: base64url(crypto.getRandomValues(new Uint8Array(16))), ...fields });
}

function checkId(id: string, what: string): string {
  if (!CONTENT_ID.test(id)) throw new Error(`${what} names a message by its content id.`);
  return id;
}

/** The body of a text message, ready to encrypt: its exact string is what the id is over. With
 * `expiresAt` (milliseconds), every device deletes it then. */
export function textBody(text: string, { inReplyTo, expiresAt, attachments }: { inReplyTo?: string; expiresAt?: number; attachments?: AttachedFile[] } = {}): string {
  if (attachments && !areAttachedFiles(attachments)) {
    throw new Error(`A message carries 1 to ${MAX_ATTACHMENTS_PER_MESSAGE} well-formed files.`);
  }
  return document({
    text,
    ...(attachments?.length ? { attachments } : {}),
    ...(inReplyTo !== undefined ? { inReplyTo: checkId(inReplyTo, 'A reply') } : {}),
    ...(expiresAt !== undefined ? { expires: Math.ceil(expiresAt / 1000) } : {}),
  });
}

/** A reaction to the message `target` (a content id); an empty emoji takes one's reaction back. */
export function reactionBody(target: string, emoji: string): string {
  if (emoji !== '' && !isOneEmoji(emoji)) throw new Error('A reaction is one emoji.');
  return document({ disposition: 'reaction', inReplyTo: checkId(target, 'A reaction'), text: emoji });
}

/** The new text of the sender's message `target`. */
export function editBody(target: string, text: string): string {
  if (text.trim() === '') throw new Error('An edit keeps some text; to take a message back, delete it.');
  return document({ replaces: checkId(target, 'An edit'), text });
}

/** Deletes the message `target` (the server's `messageId`) for everyone. */
export function retractBody(target: string, messageId?: string): string {
  if (messageId !== undefined && !MESSAGE_ID.test(messageId)) throw new Error('A deletion names the server\'s id of its message.');
  return document({ replaces: checkId(target, 'A deletion'), ...(messageId ? { replacesMessageId: messageId } : {}) });
}

/** Sets the conversation's disappearing-messages timer (null: off). */
export function timerBody(seconds: number | null): string {
  return document({ disposition: 'timer', disappearAfterSeconds: seconds });
}

/** What a well-formed document of a known version and disposition means; `unsupported` otherwise. */
function meaningOf(content: MessageContent): Meaning {
  const disposition = content.disposition ?? 'render';
  const { text, inReplyTo, replaces } = content;
  const isId = (value: unknown): value is string => typeof value === 'string' && CONTENT_ID.test(value);
  if (content.v > CONTENT_VERSION || !KNOWN_DISPOSITIONS.has(disposition)) return { kind: 'unsupported' };
  if (text !== undefined && typeof text !== 'string') return { kind: 'unsupported' };
  switch (disposition) {
    case 'reaction':
      return isId(inReplyTo) && typeof text === 'string' && (text === '' || isOneEmoji(text))
        ? { kind: 'reaction', target: inReplyTo, emoji: text }
        : { kind: 'unsupported' };
    case 'timer': {
      const seconds = content.disappearAfterSeconds;
      return seconds === null || (DISAPPEAR_AFTER_CHOICES as readonly unknown[]).includes(seconds)
        ? { kind: 'timer', seconds: seconds ?? null }
        : { kind: 'unsupported' };
    }
    default:
      if (replaces !== undefined) {
        if (!isId(replaces)) return { kind: 'unsupported' };
        if (text === undefined) {
          const messageId = content.replacesMessageId;
          if (messageId !== undefined && !(typeof messageId === 'string' && MESSAGE_ID.test(messageId))) return { kind: 'unsupported' };
          return { kind: 'retract', target: replaces, ...(messageId ? { messageId } : {}) };
        }
        return text.trim() === '' ? { kind: 'unsupported' } : { kind: 'edit', target: replaces, text };
      }
      if (content.attachments !== undefined && !areAttachedFiles(content.attachments)) {
        return { kind: 'unsupported' };
      }
      // A reply names its message by id; anything else in that field is not a reply this version reads.
      return {
        kind: 'text', text: text ?? '', ...(isId(inReplyTo) ? { inReplyTo } : {}),
        ...(content.attachments ? { attachments: content.attachments } : {}),
      };
  }
}

/**
 * Reads a decrypted body. A body that is not one of these documents is a message from before the
 * format (plain text), shown as it is.
 */
export async function readBody(conversationId: string, senderId: string, body: string): Promise<ReadContent> {
  const id = await contentId(conversationId, senderId, body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (!isContent(parsed)) return { contentId: id, meaning: { kind: 'text', text: body }, text: body, unsupported: false, keep: false };
  const meaning = meaningOf(parsed);
  const unsupported = meaning.kind === 'unsupported';
  const keep = unsupported || Object.keys(parsed).some((field) => !KNOWN_FIELDS.has(field));
  const expires = parsed.expires;
  const expiresAt = !unsupported && Number.isInteger(expires) && (expires as number) > 0 ? (expires as number) * 1000 : undefined;
  return {
    contentId: id, meaning, text: meaning.kind === 'text' ? meaning.text : '', unsupported, content: parsed, keep,
    ...(meaning.kind === 'text' && meaning.inReplyTo ? { inReplyTo: meaning.inReplyTo } : {}),
    ...(meaning.kind === 'text' && meaning.attachments ? { attachments: meaning.attachments } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}

function isContent(value: unknown): value is MessageContent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { v, salt } = value as Record<string, unknown>;
  return Number.isInteger(v) && (v as number) >= 1 && typeof salt === 'string';
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** 1 to MAX_ATTACHMENTS_PER_MESSAGE well-formed files, each a different upload (a sender naming
 * one upload many times would have every reader download it as often). */
function areAttachedFiles(value: unknown): value is AttachedFile[] {
  return Array.isArray(value) && value.length > 0 && value.length <= MAX_ATTACHMENTS_PER_MESSAGE && value.every(isAttachedFile)
    && new Set(value.map((f: AttachedFile) => f.url)).size === value.length;
}

/** Whether a file as a message names it is one this version can fetch, check and show. */
function isAttachedFile(value: unknown): value is AttachedFile {
  if (typeof value !== 'object' || value === null) return false;
  const f = value as Record<string, unknown>;
  const text = (v: unknown, max: number) => typeof v === 'string' && v.length <= max;
  const base64 = (v: unknown, max: number) => text(v, max) && BASE64.test(v as string);
  const preview = f.preview as Record<string, unknown> | undefined;
  return typeof f.url === 'string' && UUID.test(f.url)
    && text(f.contentType, 255) && Number.isInteger(f.size) && (f.size as number) >= 0 && (f.size as number) <= MAX_ATTACHMENT_PLAINTEXT_BYTES
    && Number.isInteger(f.encAlg) && Number.isInteger(f.hashAlg)
    && base64(f.key, 64) && base64(f.nonce, 64) && base64(f.aad, 64) && base64(f.contentHash, 128)
    && (f.filename === undefined || text(f.filename, 255))
    // A preview is what makeImagePreview makes: a JPEG of at most 320 px a side (nothing a
    // sender can make a decompression bomb of), small enough to travel in the message.
    && (preview === undefined || (typeof preview === 'object' && preview !== null && preview.contentType === 'image/jpeg'
      && Number.isInteger(preview.width) && Number.isInteger(preview.height) && (preview.width as number) > 0 && (preview.height as number) > 0
      && (preview.width as number) <= 320 && (preview.height as number) <= 320 && base64(preview.data, MAX_PREVIEW_CHARS)));
}
