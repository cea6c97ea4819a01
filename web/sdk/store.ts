// What a device keeps to itself, in IndexedDB: its session, its MLS identity and private key
// packages, each conversation's MLS group state and how far it has processed it, and the
// decrypted history, which never leaves the device. In Node tests `fake-indexeddb` provides
// the same API. The `idb` library turns IndexedDB's requests and transactions into promises.

import { wrap, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import type { AttachedFile } from './content.ts';
import type { ReceiptKind } from './wire/index.ts';

export interface LocalMessage {
  /** `senderId:clientMsgId`: unique, and known before the server has stored the message. */
  key: string;
  /** The server's message id once stored; the clientMsgId before. */
  id: string;
  clientMsgId: string;
  conversationId: string;
  /** Position in the conversation; Infinity-like (Number.MAX_SAFE_INTEGER) while unsent. */
  seq: number;
  senderId: string;
  senderDeviceId: string | null;
  text: string;
  createdAt: string;
  status: 'sending' | 'sent' | 'delivered' | 'read' | 'failed' | 'received';
  /** On this user's own messages: how far each reader has got with it. */
  receipts?: Record<string, ReceiptKind>;
  /** Its content id (see content.ts); absent on messages stored before the content format. */
  contentId?: string;
  /** The exact body: on this user's own messages, what is encrypted (again on a retry); on others',
   * kept when it holds what this version does not read (see content.ts). */
  body?: string;
  /** A newer client's message this version cannot show (see content.ts). */
  unsupported?: boolean;
  /** The content id of the message this one replies to (MIMI `inReplyTo`). */
  inReplyTo?: string;
  /** The files it carries, with their keys (see content.ts); `text` is their caption. */
  attachments?: AttachedFile[];
  /** On a message that changes another rather than saying something: what it does (see
   * changes.ts). Reactions, edits and deletions are not shown as messages of their own; a timer
   * change is shown as a line in the conversation. */
  change?: 'reaction' | 'edit' | 'retract' | 'timer';
  /** On a reaction, edit or deletion: the content id of the message it changes. */
  target?: string;
  /** On a deletion: the server's id of the message it deletes. */
  targetId?: string;
  /** On a timer change: the conversation's new disappearing-messages timer (null: off). */
  timer?: number | null;
  /** Each person's reaction to this message, by user id (one each). */
  reactions?: Record<string, Reaction>;
  /** Set once its sender edited it (`text` is then the latest text). */
  edited?: { at: string };
  /** Set once it was deleted for everyone: nothing of what it said is kept. `unverified` when
   * only the server says so (it had deleted it before this device read it), until a deletion by
   * someone who may names it (`by`). */
  deleted?: { by?: string; at: string; unverified?: boolean };
  /** When this device deletes it (milliseconds since the epoch): a disappearing message. */
  expiresAt?: number;
}

/** One person's reaction to a message. */
export interface Reaction {
  emoji: string;
  at: string;
}

/** A message that arrived but could not be trusted: shown as an error, never as a message. */
export interface Problem {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  reason: string;
  at: string;
}

/**
 * A line this device writes into a conversation's history itself, not a message from anyone:
 * "Ana's devices changed". Kept in `kv` under `notice:<conversationId>:`; its `seq` sits between
 * the message processed last when it was noticed and the next one (half a step after the
 * former), so the app sorts it in with the messages where it happened.
 */
export interface Notice {
  key: string;
  conversationId: string;
  seq: number;
  createdAt: string;
  kind: 'devices-changed';
  /** Whose devices changed, and their name as the conversation listed it then. */
  userId: string;
  displayName: string;
}

export interface GroupRecord {
  conversationId: string;
  /** ts-mls encodeGroupState output. */
  state: Uint8Array;
  epoch: number;
}

/** The schema, as every version of the SDK since the first has written it: stored data opens as it is. */
interface ChatSchema extends DBSchema {
  /** The session, the device, cursors (`cursor:<conversationId>`), left conversations, receipts to
   * send, notices, known device sets and verified marks (see verification.ts). */
  kv: { key: string; value: unknown };
  groups: { key: string; value: GroupRecord };
  keyPackages: { key: string; value: unknown };
  messages: { key: string; value: LocalMessage; indexes: { byConversation: [string, number]; byId: string; bySeq: number; byContent: [string, string]; byExpiry: number } };
  problems: { key: string; value: Problem; indexes: { byConversation: [string, number] } };
}

type Database = IDBPDatabase<ChatSchema>;

const DB_VERSION = 4;
export const UNSENT_SEQ = Number.MAX_SAFE_INTEGER;

const databaseName = (name: string) => `e2e-chat:${name}`;

function upgrade(db: Database, oldVersion: number, tx: IDBPTransaction<ChatSchema, StoreNames<ChatSchema>[], 'versionchange'>): void {
  if (oldVersion < 1) {
    db.createObjectStore('kv');
    db.createObjectStore('groups', { keyPath: 'conversationId' });
    db.createObjectStore('keyPackages');
    const messages = db.createObjectStore('messages', { keyPath: 'key' });
    messages.createIndex('byConversation', ['conversationId', 'seq']);
    messages.createIndex('byId', 'id', { unique: true });
    const problems = db.createObjectStore('problems', { keyPath: 'id' });
    problems.createIndex('byConversation', ['conversationId', 'seq']);
  }
  if (oldVersion < 2) {
    // The outbox: messages the server has not acknowledged yet all have seq UNSENT_SEQ.
    tx.objectStore('messages').createIndex('bySeq', 'seq');
  }
  if (oldVersion < 3) {
    // Messages by content id, which replies (and later reactions and edits) name them by. Messages
    // stored before the content format have none and are simply not in it.
    tx.objectStore('messages').createIndex('byContent', ['conversationId', 'contentId']);
  }
  if (oldVersion < 4) {
    // Disappearing messages by when they go; only those that have an expiry are in it.
    tx.objectStore('messages').createIndex('byExpiry', 'expiresAt');
  }
}

export class Store {
  private readonly db: Database;
  readonly name: string;

  private constructor(db: Database, name: string) {
    this.db = db;
    this.name = name;
  }

  // `factory` (a separate fake-indexeddb factory in tests, say) goes through idb's `wrap` rather
  // than its `openDB`, which always uses the global one. It must be of the global implementation:
  // idb recognises requests and transactions by the global classes.

  /** Deletes the store named `name` with everything in it: keys, group states and history. */
  static async destroy(name: string, factory: IDBFactory = globalThis.indexedDB): Promise<void> {
    await wrap(factory.deleteDatabase(databaseName(name)));
  }

  /** Opens (creating if needed) the store named `name`; one per account and device. */
  static async open(name: string, factory: IDBFactory = globalThis.indexedDB): Promise<Store> {
    if (!factory) throw new Error('IndexedDB is not available here; pass an IDBFactory.');
    const request = factory.open(databaseName(name), DB_VERSION);
    request.addEventListener('upgradeneeded', (event) => {
      upgrade(wrap(request.result) as unknown as Database, event.oldVersion, wrap(request.transaction!) as unknown as Parameters<typeof upgrade>[2]);
    });
    const db = (await wrap(request)) as unknown as Database;
    // Another tab (or client) deleting or upgrading this store must not wait on us forever: let
    // go. This connection is then unusable, which is right, since its store is going away.
    db.addEventListener('versionchange', () => db.close());
    return new Store(db, name);
  }

  close(): void {
    this.db.close();
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.db.get('kv', key) as Promise<T | undefined>;
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.db.put('kv', value, key);
  }

  async delete(key: string): Promise<void> {
    await this.db.delete('kv', key);
  }

  /** Every value whose key starts with `prefix`. */
  withPrefix<T>(prefix: string): Promise<T[]> {
    return this.db.getAll('kv', IDBKeyRange.bound(prefix, `${prefix}\uffff`)) as Promise<T[]>;
  }

  /** Every key that starts with `prefix`. */
  keysWithPrefix(prefix: string): Promise<string[]> {
    return this.db.getAllKeys('kv', IDBKeyRange.bound(prefix, `${prefix}\uffff`));
  }

  /**
   * Records that a conversation was processed up to `seq`, with the group state that resulted,
   * in one transaction: a crash never leaves a state that has used keys with a cursor that would
   * make it process the same message again.
   */
  async saveProgress(conversationId: string, seq: number, group?: GroupRecord | null): Promise<void> {
    const tx = this.db.transaction(['kv', 'groups'], 'readwrite');
    const groups = tx.objectStore('groups');
    await Promise.all([
      tx.objectStore('kv').put(seq, `cursor:${conversationId}`),
      group ? groups.put(group) : group === null ? groups.delete(conversationId) : undefined,
      tx.done,
    ]);
  }

  group(conversationId: string): Promise<GroupRecord | undefined> {
    return this.db.get('groups', conversationId);
  }

  async putGroup(record: GroupRecord): Promise<void> {
    await this.db.put('groups', record);
  }

  async deleteGroup(conversationId: string): Promise<void> {
    await this.db.delete('groups', conversationId);
  }

  groups(): Promise<GroupRecord[]> {
    return this.db.getAll('groups');
  }

  /** Private key packages by their public bytes' reference, to join from a Welcome. */
  keyPackage<T>(ref: string): Promise<T | undefined> {
    return this.db.get('keyPackages', ref) as Promise<T | undefined>;
  }

  async putKeyPackage(ref: string, value: unknown): Promise<void> {
    await this.db.put('keyPackages', value, ref);
  }

  async deleteKeyPackage(ref: string): Promise<void> {
    await this.db.delete('keyPackages', ref);
  }

  keyPackageRefs(): Promise<string[]> {
    return this.db.getAllKeys('keyPackages');
  }

  async putMessage(message: LocalMessage): Promise<void> {
    await this.db.put('messages', message);
  }

  message(key: string): Promise<LocalMessage | undefined> {
    return this.db.get('messages', key);
  }

  /**
   * Changes a stored message in one transaction, so that two changes of it (a receipt's tick and
   * a reaction, say) never overwrite each other. `change` gets the stored message and returns
   * the new one, or undefined to leave it; resolves with what was stored.
   */
  async updateMessage(key: string, change: (message: LocalMessage) => LocalMessage | undefined): Promise<LocalMessage | undefined> {
    const tx = this.db.transaction('messages', 'readwrite');
    const stored = await tx.store.get(key);
    const updated = stored && change(stored);
    if (updated) await tx.store.put(updated);
    await tx.done;
    return updated;
  }

  async deleteMessage(key: string): Promise<void> {
    await this.db.delete('messages', key);
  }

  /** Messages whose expiry is at or before `now` (milliseconds), soonest first. */
  expired(now: number): Promise<LocalMessage[]> {
    return this.db.getAllFromIndex('messages', 'byExpiry', IDBKeyRange.upperBound(now));
  }

  /** When the next message to expire does, if any does. */
  async nextExpiry(): Promise<number | undefined> {
    const cursor = await this.db.transaction('messages').store.index('byExpiry').openCursor();
    return cursor?.value.expiresAt;
  }

  messageById(id: string): Promise<LocalMessage | undefined> {
    return this.db.getFromIndex('messages', 'byId', id);
  }

  /** The message of this conversation with this content id, if this device holds it. */
  messageByContent(conversationId: string, contentId: string): Promise<LocalMessage | undefined> {
    return this.db.getFromIndex('messages', 'byContent', [conversationId, contentId]);
  }

  /**
   * Up to `limit` messages of a conversation with seq below `beforeSeq`, oldest first: what the
   * conversation shows, so not the reactions, edits and deletions, which show on the messages
   * they change.
   */
  async history(conversationId: string, beforeSeq: number, limit: number): Promise<LocalMessage[]> {
    const range = IDBKeyRange.bound([conversationId, -Infinity], [conversationId, beforeSeq], false, true);
    const out: LocalMessage[] = [];
    let cursor = await this.db.transaction('messages').store.index('byConversation').openCursor(range, 'prev');
    while (cursor && out.length < limit) {
      if (!cursor.value.change || cursor.value.change === 'timer') out.push(cursor.value);
      cursor = await cursor.continue();
    }
    // Unsent messages share one seq; among them, the order they were written in.
    return out.reverse().sort((a, b) => a.seq - b.seq || a.createdAt.localeCompare(b.createdAt));
  }

  /** This device's reactions, edits and deletions in a conversation that the server has not
   * acknowledged (being sent, or failed). */
  async unsentChanges(conversationId: string): Promise<LocalMessage[]> {
    const all = await this.db.getAllFromIndex('messages', 'bySeq', IDBKeyRange.only(UNSENT_SEQ));
    return all.filter((m) => m.conversationId === conversationId && m.change && m.change !== 'timer');
  }

  /** This device's messages the server has not acknowledged yet, oldest first. */
  async unsent(deviceId: string): Promise<LocalMessage[]> {
    const all = await this.db.getAllFromIndex('messages', 'bySeq', IDBKeyRange.only(UNSENT_SEQ));
    return all.filter((m) => m.senderDeviceId === deviceId && m.status === 'sending').sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async putNotice(notice: Notice): Promise<void> {
    await this.db.put('kv', notice, notice.key);
  }

  /** The conversation's notices, oldest first. */
  async notices(conversationId: string): Promise<Notice[]> {
    const all = await this.withPrefix<Notice>(`notice:${conversationId}:`);
    return all.sort((a, b) => a.seq - b.seq || a.createdAt.localeCompare(b.createdAt));
  }

  async putProblem(problem: Problem): Promise<void> {
    await this.db.put('problems', problem);
  }

  problems(conversationId: string): Promise<Problem[]> {
    const range = IDBKeyRange.bound([conversationId, -Infinity], [conversationId, Infinity]);
    return this.db.getAllFromIndex('problems', 'byConversation', range);
  }
}
