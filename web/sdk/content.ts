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

/** The content format this client writes. */
export const CONTENT_VERSION = 1;

/** The dispositions this version understands (MIMI's "render" is a message to show). */
const KNOWN_DISPOSITIONS = new Set(['render']);
/** The fields this version reads; a document with others is kept whole (see `keep`). */
const KNOWN_FIELDS = new Set(['v', 'salt', 'text', 'disposition', 'inReplyTo']);
/** A content id as `contentId` makes one: SHA-256 in base64url. */
const CONTENT_ID = /^[A-Za-z0-9_-]{43}$/;

/** An application message's content, as sent: only `v` and the salt are always there. */
export interface MessageContent {
  v: number;
  /** 16 random bytes (base64url): two equal texts never share an id. */
  salt: string;
  /** What a message of disposition `render` shows. */
  text?: string;
  /** `render` unless said otherwise. */
  disposition?: string;
  /** The content id of the message this one replies to. */
  inReplyTo?: string;
  /** Whatever a newer version adds: kept, not understood. */
  [field: string]: unknown;
}

/** What this device makes of a decrypted application message. */
export interface ReadContent {
  /** The message's content id (see `contentId`). */
  contentId: string;
  /** The text to show; empty for a message this version cannot show. */
  text: string;
  /** The content id of the message it replies to, when it names a well-formed one. */
  inReplyTo?: string;
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

/** The body of a text message, ready to encrypt: its exact string is what the id is over. */
export function textBody(text: string, { inReplyTo }: { inReplyTo?: string } = {}): string {
  const content: MessageContent = { v: CONTENT_VERSION, salt: base64url(crypto.getRandomValues(new Uint8Array(16))), text };
  if (inReplyTo !== undefined) {
    if (!CONTENT_ID.test(inReplyTo)) throw new Error('A reply names the message it answers by its content id.');
    content.inReplyTo = inReplyTo;
  }
  return JSON.stringify(content);
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
  if (!isContent(parsed)) return { contentId: id, text: body, unsupported: false, keep: false };
  const disposition = parsed.disposition ?? 'render';
  const understood = parsed.v <= CONTENT_VERSION && KNOWN_DISPOSITIONS.has(disposition) && typeof (parsed.text ?? '') === 'string';
  const keep = !understood || Object.keys(parsed).some((field) => !KNOWN_FIELDS.has(field));
  // A reply names its message by id; anything else in that field is not a reply this version reads.
  const inReplyTo = understood && typeof parsed.inReplyTo === 'string' && CONTENT_ID.test(parsed.inReplyTo) ? parsed.inReplyTo : undefined;
  return { contentId: id, text: understood ? (parsed.text ?? '') : '', unsupported: !understood, content: parsed, keep, ...(inReplyTo ? { inReplyTo } : {}) };
}

function isContent(value: unknown): value is MessageContent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { v, salt } = value as Record<string, unknown>;
  return Number.isInteger(v) && (v as number) >= 1 && typeof salt === 'string';
}
