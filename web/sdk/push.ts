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
import { readBody } from './content.ts';
import { decodeState, decrypt, fromBase64 } from './mls.ts';
import { Notifications } from './notifications.ts';
import type { Auth } from './session.ts';
import { Store } from './store.ts';
import type { PushPayload } from './wire/index.ts';

/** What the service worker needs to know of the account signed in on this browser (written by
 * the page when it turns notifications on, deleted when it signs out). */
export interface PushDevice {
  /** The name of this device's store (see ChatClientOptions.storeName). */
  storeName: string;
  /** The server's base URL, for the directory check. */
  baseUrl: string;
  /** Whether notifications may show who wrote and what; false shows "New message" only. */
  previews: boolean;
}

const PUSH_DATABASE = 'e2e-chat-push';
const DEVICE_KEY = 'device';

/** A database of its own, apart from the account's store: the service worker must find it
 * without knowing who is signed in. */
function pushDatabase() {
  return openDB(PUSH_DATABASE, 1, { upgrade: (db) => void db.createObjectStore('kv') });
}

export async function savePushDevice(device: PushDevice): Promise<void> {
  const db = await pushDatabase();
  try {
    await db.put('kv', device, DEVICE_KEY);
  } finally {
    db.close();
  }
}

export async function loadPushDevice(): Promise<PushDevice | undefined> {
  const db = await pushDatabase();
  try {
    return (await db.get('kv', DEVICE_KEY)) as PushDevice | undefined;
  } finally {
    db.close();
  }
}

export async function forgetPushDevice(): Promise<void> {
  const db = await pushDatabase();
  try {
    await db.delete('kv', DEVICE_KEY);
  } finally {
    db.close();
  }
}

/**
 * Tells the server of the subscription the browser replaced this device's with (its push service
 * rotated it: the `pushsubscriptionchange` event), with the session this device's store keeps.
 */
export async function resubscribe(device: PushDevice, subscription: { endpoint?: string; keys?: Record<string, string> }, env: PushEnvironment = {}): Promise<void> {
  const store = await Store.open(device.storeName, env.indexedDB);
  let session: Auth | undefined;
  try {
    session = await store.get<Auth>('session');
  } finally {
    store.close();
  }
  if (!session) return;
  const api = new Api(device.baseUrl, { fetch: env.fetch });
  api.token = session.token;
  await new Notifications(api).subscribe(subscription);
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

/** How a conversation is named on screen: a group by its title, a 1:1 by the other person. */
export function conversationTitle(conversation: Pick<Conversation, 'kind' | 'title' | 'members'>, me: string): string {
  if (conversation.kind === 'group') return conversation.title ?? 'Group';
  return conversation.members.find((m) => m.userId !== me)?.displayName ?? 'Conversation';
}

export interface PushEnvironment {
  indexedDB?: IDBFactory;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * What this device shows for `payload`. Never throws for what the push or the server did: what
 * cannot be read becomes "New message".
 */
export async function outcomeOf(payload: PushPayload, device: PushDevice, env: PushEnvironment = {}): Promise<PushOutcome> {
  if (payload.type === 'read') return { kind: 'clear', conversationId: payload.conversationId, seq: payload.seq };
  const store = await Store.open(device.storeName, env.indexedDB);
  try {
    const session = await store.get<Auth>('session');
    if (!session) return { kind: 'none' };
    const me = session.user.id;
    const api = new Api(device.baseUrl, { fetch: env.fetch });
    api.token = session.token;
    // As the app last listed it; else as the server lists it now (the names the app would show).
    const conversation = (await store.get<Conversation[]>('conversations'))?.find((c) => c.id === payload.conversationId)
      ?? (device.previews ? await api.conversation(payload.conversationId).catch(() => undefined) : undefined);
    const unread = (): PushOutcome => ({
      kind: 'show', conversationId: payload.conversationId,
      title: device.previews && conversation ? conversationTitle(conversation, me) : APP_NAME,
      line: { seq: payload.seq, text: NEW_MESSAGE },
    });
    if (!device.previews) return unread();
    const read = await readMessage(store, session, api, payload, env);
    if (read === 'unreadable') return unread();
    if (!read) return { kind: 'none' };
    const { senderId, text } = read;
    const sender = conversation?.members.find((m) => m.userId === senderId)?.displayName ?? 'Someone';
    const group = conversation?.kind === 'group';
    return {
      kind: 'show', conversationId: payload.conversationId,
      title: conversation ? conversationTitle(conversation, me) : sender,
      line: { seq: payload.seq, text: group ? `${sender}: ${text}` : text },
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
    const held = await store.messageById(payload.messageId);
    if (!held || held.conversationId !== conversationId || held.senderId === session.user.id) return null;
    return held.text ? { senderId: held.senderId, text: held.text } : null;
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
      if (content.text) return { senderId, text: content.text };
      const files = content.attachments ?? [];
      if (files.length === 0) return null;
      const photos = files.every((f) => f.contentType.startsWith('image/'));
      return { senderId, text: photos ? (files.length > 1 ? `📷 ${files.length} photos` : '📷 Photo') : (files.length > 1 ? `📎 ${files.length} files` : '📎 File') };
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
export function withLine(notice: Notice | undefined, conversationId: string, title: string, line: NoticeLine): Notice {
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

/** The notification's title and body for a notice. */
export function noticeText(notice: Notice): { title: string; body: string } {
  const title = notice.count > 1 ? `${notice.title} (${notice.count} messages)` : notice.title;
  return { title, body: notice.lines.map((l) => l.text).join('\n') };
}
