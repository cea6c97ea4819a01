// What a push shows, worked out by the service worker (web/sw/service-worker.js) from what the
// push carries and what this device already holds. A push names a conversation and a seq and, when
// it fits, carries the message's MLS ciphertext (PushPayload in ./wire/push.ts): never a name or
// a word of text. The text comes from decrypting that ciphertext here, on the device, with the
// group state the page left in IndexedDB.
//
// The service worker only reads this device's state: it decrypts with a copy of the group state
// and saves nothing, so the page, when it next runs, processes the same message in its turn as if
// no push had come (MLS keys are used once; a service worker that moved the state on would have
// to do everything else the page does with a message too, at the same time as an open page).
// What it cannot read this way (a message after a commit it has not processed, the first
// message of a conversation it has not joined yet, one too large to travel in the push) is shown
// as "New message", as is everything when the person asked to hide previews.
//
// A sender is named only when MLS proves it (the leaf that signed the message) and the directory
// still lists that device with that key (./authentication.ts); its name is the one the app shows.

import { openDB } from 'idb';
import { Api } from './api.ts';
import type { Conversation } from './api.ts';
import { Authentication } from './authentication.ts';
import { conversationTitle } from './conversations.ts';
import { readBody } from './content.ts';
import { decodeState, decrypt, fromBase64 } from './mls.ts';
import { Notifications } from './notifications.ts';
import type { Auth } from './session.ts';
import { Store } from './store.ts';
import type { PushPayload } from './wire/index.ts';

/** What the service worker needs to know of the account signed in on this browser (written by
 * the page once the server has its subscription, deleted when it signs out or turns them off). */
export interface PushDevice {
  /** The name of this device's store (see ChatClientOptions.storeName). */
  storeName: string;
  /** The server's base URL, for the directory check. */
  baseUrl: string;
  /** When the page last gave the server this browser's subscription (see web/lib/push.ts). */
  refreshedAt?: number;
}

/** What a push is read with: the device, and whether notifications may show who wrote and what
 * (false shows "New message" only). */
export interface PushReader extends PushDevice {
  previews: boolean;
}

const PUSH_DATABASE = 'e2e-chat-push';
const DEVICE_KEY = 'device';
/** This browser's choice, apart from the device: it outlives turning notifications off and
 * signing out (a choice to keep names off the lock screen must not quietly lapse). */
const PREVIEWS_KEY = 'previews';

/** A database of its own, apart from the account's store: the service worker must find it
 * without knowing who is signed in. */
async function withPushDatabase<T>(work: (db: Awaited<ReturnType<typeof openPushDatabase>>) => Promise<T>): Promise<T> {
  const db = await openPushDatabase();
  try {
    return await work(db);
  } finally {
    db.close();
  }
}

function openPushDatabase() {
  return openDB(PUSH_DATABASE, 1, { upgrade: (db) => void db.createObjectStore('kv') });
}

export function savePushDevice(device: PushDevice): Promise<void> {
  return withPushDatabase(async (db) => void (await db.put('kv', device, DEVICE_KEY)));
}

export function loadPushDevice(): Promise<PushDevice | undefined> {
  return withPushDatabase((db) => db.get('kv', DEVICE_KEY) as Promise<PushDevice | undefined>);
}

/** Forgets the device (and, when the browser itself is forgotten, the previews choice too). */
export function forgetPushDevice({ previewsToo = false } = {}): Promise<void> {
  return withPushDatabase(async (db) => {
    await db.delete('kv', DEVICE_KEY);
    if (previewsToo) await db.delete('kv', PREVIEWS_KEY);
  });
}

/** Whether notifications show who wrote and what: yes unless this browser was told not to. */
export function loadPreviews(): Promise<boolean> {
  return withPushDatabase(async (db) => (await db.get('kv', PREVIEWS_KEY)) !== false);
}

export function savePreviews(previews: boolean): Promise<void> {
  return withPushDatabase(async (db) => void (await db.put('kv', previews, PREVIEWS_KEY)));
}

/** The server's API as the session this device's store keeps. */
function sessionApi(device: PushDevice, session: Auth, env: PushEnvironment): Api {
  const api = new Api(device.baseUrl, { fetch: env.fetch });
  api.token = session.token;
  return api;
}

/** The bytes of the server's VAPID key (base64url), as `pushManager.subscribe` takes them. */
export function serverKeyBytes(key: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(key.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
}

/**
 * Tells the server of the subscription the browser replaced this device's with (its push service
 * rotated it: the `pushsubscriptionchange` event), with the session this device's store keeps.
 * `subscribe` makes the new one when the browser did not, given the server's key.
 */
export async function resubscribe(
  device: PushDevice,
  subscribe: (serverKey: string) => Promise<{ endpoint?: string; keys?: Record<string, string> }>,
  env: PushEnvironment = {},
): Promise<void> {
  const store = await Store.open(device.storeName, env.indexedDB);
  let session: Auth | undefined;
  try {
    session = await store.get<Auth>('session');
  } finally {
    store.close();
  }
  if (!session) return;
  const notifications = new Notifications(sessionApi(device, session, env));
  const key = await notifications.serverKey();
  if (!key) return; // the server sends no pushes any more
  await notifications.subscribe(await subscribe(key));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `data` if it is a push payload as the server sends them, else null: the server chooses what a
 * push says, and an id that is not one (an empty tag matches every notification) must not reach
 * the notifications. */
export function pushPayloadOf(data: unknown): PushPayload | null {
  if (typeof data !== 'object' || data === null) return null;
  const p = data as Record<string, unknown>;
  if (typeof p.conversationId !== 'string' || !UUID.test(p.conversationId)) return null;
  if (typeof p.seq !== 'number' || !Number.isSafeInteger(p.seq) || p.seq < 1) return null;
  if (p.type === 'read') return { type: 'read', conversationId: p.conversationId, seq: p.seq };
  if (p.type !== 'message' || typeof p.messageId !== 'string' || !UUID.test(p.messageId)) return null;
  if (p.ciphertext !== undefined && (typeof p.ciphertext !== 'string' || !BASE64.test(p.ciphertext))) return null;
  return { type: 'message', conversationId: p.conversationId, seq: p.seq, messageId: p.messageId, ...(p.ciphertext !== undefined ? { ciphertext: p.ciphertext as string } : {}) };
}

/** One message as a notification shows it. */
export interface NoticeLine {
  seq: number;
  /** "hello" in a 1:1; "Ana: hello" in a group; "New message" when it could not be read. */
  text: string;
}

/** What a push leads to. */
export type PushOutcome =
  /** A line in the conversation's notification, titled `title`. */
  | { kind: 'show'; conversationId: string; title: string; line: NoticeLine }
  /** The conversation was read on another device up to `seq`: its lines up to there go. */
  | { kind: 'clear'; conversationId: string; seq: number }
  /** Nothing to show: an edit, a deletion, a reaction to someone else's message, a message
   * already gone (disappeared), or a push for an account no longer signed in here. */
  | { kind: 'none' };

/** What a notification's text says when it may not say more. */
export const NEW_MESSAGE = 'New message';
/** The title of a notification that may not name its conversation (previews hidden, or one this
 * device does not know yet). */
export const APP_NAME = 'E2E Chat';

export interface PushEnvironment {
  indexedDB?: IDBFactory;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * What this device shows for `payload`. Never throws for what the push or the server did: what
 * cannot be read becomes "New message".
 */
export async function outcomeOf(payload: PushPayload, device: PushReader, env: PushEnvironment = {}): Promise<PushOutcome> {
  if (payload.type === 'read') return { kind: 'clear', conversationId: payload.conversationId, seq: payload.seq };
  const store = await Store.open(device.storeName, env.indexedDB);
  try {
    const session = await store.get<Auth>('session');
    if (!session) return { kind: 'none' };
    const me = session.user.id;
    const api = sessionApi(device, session, env);
    // As the app last listed it (with the names it shows). One it has not listed is not asked of
    // the server by an id the push chose: its notification is titled with the app's name.
    const conversation = (await store.get<Conversation[]>('conversations'))?.find((c) => c.id === payload.conversationId);
    const unread = (): PushOutcome => ({
      kind: 'show', conversationId: payload.conversationId,
      title: device.previews && conversation ? shownText(conversationTitle(conversation, me)) : APP_NAME,
      line: { seq: payload.seq, text: NEW_MESSAGE },
    });
    if (!device.previews) return unread();
    const read = await readMessage(store, session, api, payload, env);
    if (read === 'unreadable') return unread();
    if (!read) return { kind: 'none' };
    const { senderId, text } = read;
    const sender = conversation?.members.find((m) => m.userId === senderId)?.displayName ?? 'Someone';
    // A line names its sender unless the title does (a 1:1's is the other person).
    const named = conversation?.kind !== 'direct';
    return {
      kind: 'show', conversationId: payload.conversationId,
      title: shownText(conversation ? conversationTitle(conversation, me) : APP_NAME),
      line: { seq: payload.seq, text: shownText(named ? `${sender}: ${text}` : text) },
    };
  } finally {
    store.close();
  }
}

/**
 * The message `payload` stands for, as one line: its sender and text; null when it is nothing to
 * show; 'unreadable' when this device cannot read it from here.
 */
async function readMessage(
  store: Store, session: Auth, api: Api, payload: Extract<PushPayload, { type: 'message' }>, env: PushEnvironment,
): Promise<{ senderId: string; text: string } | null | 'unreadable'> {
  const { conversationId, seq } = payload;
  // The page got there first (it was open, or opened meanwhile): its copy is the one to show.
  const cursor = await store.get<number>(`cursor:${conversationId}`);
  if (cursor !== undefined && cursor >= seq) {
    // Only the very message at that place, as the page read it, and only what would be shown new.
    const held = await store.messageById(payload.messageId);
    if (!held || held.conversationId !== conversationId || held.seq !== seq || held.senderId === session.user.id) return null;
    if (held.change || held.deleted || held.unsupported || held.expiresAt !== undefined) return null;
    const text = lineFor(held.text, held.attachments);
    return text ? { senderId: held.senderId, text } : null;
  }
  const record = await store.group(conversationId);
  if (!record || !payload.ciphertext) return 'unreadable';
  // Another user's device counts if the directory lists it with that key now; this user's own
  // devices send no pushes (the server pushes nothing of one's own).
  const authentication = new Authentication(api, {
    id: () => session.user.id,
    trustedAmong: async () => [],
    trustedInHistory: async () => false,
  });
  let decrypted: Awaited<ReturnType<typeof decrypt>>;
  try {
    decrypted = await decrypt(decodeState(record.state), fromBase64(payload.ciphertext), authentication);
  } catch {
    return 'unreadable'; // another epoch, a key already used, a sender not listed, the server away
  }
  const senderId = decrypted.sender.userId;
  if (senderId === session.user.id) return null;
  const content = await readBody(conversationId, senderId, decrypted.plaintext);
  if (content.expiresAt !== undefined && content.expiresAt <= (env.now ?? Date.now)()) return null; // it has disappeared
  const meaning = content.meaning;
  switch (meaning.kind) {
    case 'text': {
      // A disappearing message's text would outlast it in the notification tray, which the app
      // cannot reach once it is shown: it is said to have come, not quoted.
      if (content.expiresAt !== undefined) return 'unreadable';
      const text = lineFor(content.text, content.attachments);
      return text ? { senderId, text } : null;
    }
    case 'reaction': {
      // Only a reaction to one's own message is worth a notification (as in every messenger).
      if (!meaning.emoji) return null;
      const target = await store.messageByContent(conversationId, meaning.target);
      return target?.senderId === session.user.id ? { senderId, text: `Reacted ${meaning.emoji} to your message` } : null;
    }
    case 'unsupported':
      return 'unreadable';
    default:
      return null; // an edit, a deletion, a timer change: nothing new to read
  }
}

/** The line for a message's text, or its files when it has no text. */
function lineFor(text: string, files: { contentType: string }[] = []): string | null {
  if (text) return text;
  if (files.length === 0) return null;
  const photos = files.every((f) => f.contentType.startsWith('image/'));
  return photos ? (files.length > 1 ? `📷 ${files.length} photos` : '📷 Photo') : (files.length > 1 ? `📎 ${files.length} files` : '📎 File');
}

/** The longest a line or title is shown: a notification is a glance, not the message. */
const MAX_SHOWN_CHARS = 200;
/** Line breaks, and the controls that reorder or hide text (bidirectional overrides and isolates,
 * zero-width characters): a message's own line break must not read as a second line from
 * someone else ("ok\nAna: send me the code"), nor may a name or text disguise what it is. */
const UNSHOWN = /[\r\n\u2028\u2029\u0085]+|[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060-\u2064\ufeff]/g;

/** Text as a notification may show it: one line, no hidden controls, not too long. */
export function shownText(text: string): string {
  const flat = text.replace(UNSHOWN, (match) => (/[\r\n\u2028\u2029\u0085]/.test(match) ? ' ' : '')).replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length > MAX_SHOWN_CHARS ? `${chars.slice(0, MAX_SHOWN_CHARS - 1).join('')}…` : flat;
}

/** How many messages a notification lists; older ones are counted in its title. */
export const MAX_NOTICE_LINES = 5;

/** A conversation's notification: its lines, oldest first, and how many messages it stands for. */
export interface Notice {
  conversationId: string;
  title: string;
  lines: NoticeLine[];
  /** Messages it stands for, the listed lines included. */
  count: number;
}

/** The conversation's notice with `line` in it (a push that came twice counts once). */
export function withLine(current: Notice | undefined, conversationId: string, title: string, line: NoticeLine): Notice {
  const notice = current?.conversationId === conversationId ? current : undefined;
  const lines = notice?.lines ?? [];
  if (lines.some((l) => l.seq === line.seq)) return { ...notice!, title };
  const all = [...lines, line].sort((a, b) => a.seq - b.seq);
  return { conversationId, title, lines: all.slice(-MAX_NOTICE_LINES), count: (notice?.count ?? 0) + 1 };
}

/** The notice without what was read up to `seq`; undefined when nothing is left. */
export function withoutRead(notice: Notice, seq: number): Notice | undefined {
  const lines = notice.lines.filter((l) => l.seq > seq);
  return lines.length === 0 ? undefined : { ...notice, lines, count: lines.length };
}

/** The notification's title and body for a notice: the newest line first (what a collapsed
 * notification shows); lines that only say "New message" as one count. */
export function noticeText(notice: Notice): { title: string; body: string } {
  const title = notice.count > 1 ? `${notice.title} (${notice.count} messages)` : notice.title;
  const lines = [...notice.lines].reverse().map((l) => l.text);
  if (lines.every((l) => l === NEW_MESSAGE)) {
    return { title: notice.title, body: notice.count > 1 ? `${notice.count} new messages` : NEW_MESSAGE };
  }
  return { title, body: lines.join('\n') };
}
