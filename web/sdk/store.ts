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

/**
 * What the local search index (search.ts) holds of a message: its text and what a hit is filtered
 * and ordered by. Only what the conversation shows as a message says something to find: not a
 * reaction, edit or deletion record, a timer line, a deleted message, one this version cannot read,
 * or one without text (a file sent without a caption).
 */
export interface SearchDocument {
  /** The message's key. */
  id: string;
  text: string;
  /** Its conversation. */
  c: string;
  /** When it was sent (milliseconds since the epoch). */
  t: number;
}

export function searchDocument(m: LocalMessage): SearchDocument | null {
  if (m.change || m.deleted || m.unsupported || m.text.trim() === '') return null;
  return { id: m.key, text: m.text, c: m.conversationId, t: Date.parse(m.createdAt) || 0 };
}

const sameDocument = (a: SearchDocument | null, b: SearchDocument | null) =>
  a === b || (!!a && !!b && a.text === b.text && a.c === b.c && a.t === b.t);

/** Whether a change takes away text the index had of a message (deleted, expired, edited): the saved
 * segment holding the old text must then not outlive the change (see dropSearchSegment). */
const dropsText = (before: SearchDocument | null, after: SearchDocument | null) => !!before && before.text !== after?.text;

/** The search index's segments hold a week of messages each (by when they were sent). Here, not in
 * search.ts, since the store drops a segment by itself when a message's text goes (and search.ts,
 * with MiniSearch, is only loaded once search is used). */
export const SEARCH_SEGMENT_MS = 7 * 86_400_000;
export const searchSegmentOf = (t: number) => Math.floor(t / SEARCH_SEGMENT_MS);
export const searchSegmentKey = (n: number) => `segment:${n}`;
/** The record `dropped:<segment>:<message key>` → generation: the segment was dropped from the snapshot
 * because of that change of that message (see saveSearchSnapshot). */
const DROPPED = 'dropped:';
const droppedKey = (n: number, key: string) => `${DROPPED}${n}:${key}`;

/**
 * Told of each change to what the search index should hold of a message, once it is stored: its
 * key, its document (null: nothing to find any more) and the generation its journal entry has.
 */
export type SearchListener = (key: string, document: SearchDocument | null, generation: number) => void;

/** The schema, as every version of the SDK since the first has written it: stored data opens as it is. */
interface ChatSchema extends DBSchema {
  /** The session, the device, cursors (`cursor:<conversationId>`), left conversations, receipts to
   * send, notices, known device sets and verified marks (see verification.ts). */
  kv: { key: string; value: unknown };
  groups: { key: string; value: GroupRecord };
  keyPackages: { key: string; value: unknown };
  messages: { key: string; value: LocalMessage; indexes: { byConversation: [string, number]; byId: string; bySeq: number; byContent: [string, string]; byExpiry: number; byTime: string } };
  problems: { key: string; value: Problem; indexes: { byConversation: [string, number] } };
  /** The local search index's snapshot (see search.ts): what it holds (`meta`), each of its
   * segments (`segment:<n>`), and which segments the store dropped since (`dropped:<n>:<key>`). */
  search: { key: string; value: unknown };
  /** Messages whose searchable text changed since the index's last snapshot: message key → the
   * generation of the change (see Store.journal). Written in the same transaction as the change. */
  searchJournal: { key: string; value: number };
}

type Database = IDBPDatabase<ChatSchema>;
/** What a write of the messages store takes: the message, its journal entry, and the search
 * snapshot's records it may drop. */
const MESSAGE_STORES: ['messages', 'searchJournal', 'search'] = ['messages', 'searchJournal', 'search'];
type MessageTransaction = IDBPTransaction<ChatSchema, typeof MESSAGE_STORES, 'readwrite'>;

const DB_VERSION = 6;
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
  if (oldVersion < 5) {
    // The local search index. A store upgraded from version 4 has no snapshot: the index is built
    // from the messages store the first time it is opened (see search.ts).
    db.createObjectStore('search');
    db.createObjectStore('searchJournal');
  }
  if (oldVersion < 6) {
    // Messages by when they were sent: a segment of the search index dropped from its snapshot is
    // rebuilt from its week's messages alone (see dropSearchSegment). Built once, here, over the
    // messages already stored.
    tx.objectStore('messages').createIndex('byTime', 'createdAt');
  }
}

/**
 * Generations of journal entries: increasing within a page, and unlikely to repeat across pages
 * (the clock's milliseconds, then a counter), so that a snapshot clears only the entries it holds.
 */
let lastGeneration = 0;
function nextGeneration(): number {
  lastGeneration = Math.max(lastGeneration + 1, Date.now() * 1024);
  return lastGeneration;
}

export class Store {
  private readonly db: Database;
  readonly name: string;
  /** The search index of this store, when one is open (search.ts): told of every change it
   * should follow. Changes are journalled whether or not one is open. */
  searchListener: SearchListener | null = null;

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

  // Every write of the messages store goes through putMessage, updateMessage and deleteMessage,
  // which note in the search journal, in the same transaction, each change of what a message has
  // to find: the search index follows the history whichever part of the SDK changed it (a
  // message received, sent, edited, deleted for everyone or for me, expired), and a page closed
  // before the index saved its snapshot loses nothing (see search.ts).

  //
  // The journal alone holds only the message's key: the text a change took away (a message
  // deleted for everyone or for me, expired, edited) would stay inside the saved segment of its
  // week until an open index rewrote that segment, and an index opens only when search is used.
  // So a change that takes text away also deletes that segment's record, in the same transaction:
  // once the change is stored, nothing of the old text is at rest, index open or not. The next
  // index to load rebuilds that one week from the messages (see search.ts, loadSnapshot): in Node
  // with fake-indexeddb, a week of 5,000 messages among 15,000 added about 0.1 s to the load, where
  // a rebuild of everything takes seconds on a large history. And the `dropped:` mark keeps an
  // index that has not seen the change (another tab's, or this page's until it is told) from
  // writing the old segment back.

  /** Journals a change of the message `key` in `tx` (and drops the saved segment that held its
   * text when the change takes that text away); resolves with its generation. */
  private async journal(tx: MessageTransaction, key: string, before: SearchDocument | null, after: SearchDocument | null): Promise<number> {
    const generation = nextGeneration();
    await Promise.all([
      tx.objectStore('searchJournal').put(generation, key),
      dropsText(before, after) ? this.dropSearchSegment(tx, key, before!, generation) : undefined,
    ]);
    return generation;
  }

  private async dropSearchSegment(tx: MessageTransaction, key: string, before: SearchDocument, generation: number): Promise<void> {
    const n = searchSegmentOf(before.t);
    const search = tx.objectStore('search');
    await Promise.all([search.delete(searchSegmentKey(n)), search.put(generation, droppedKey(n, key))]);
  }

  private tellSearch(key: string, document: SearchDocument | null, generation: number): void {
    try {
      this.searchListener?.(key, document, generation);
    } catch (e) {
      // The journal has it: the index catches up when it is next opened.
      console.error('The search index could not take a change:', e);
    }
  }

  async putMessage(message: LocalMessage): Promise<void> {
    const tx = this.db.transaction(MESSAGE_STORES, 'readwrite');
    const messages = tx.objectStore('messages');
    // What it replaces, if anything (a tombstone over a message, say): its text may be saved.
    const stored = await messages.get(message.key);
    const document = searchDocument(message);
    const [, generation] = await Promise.all([messages.put(message), this.journal(tx, message.key, stored ? searchDocument(stored) : null, document), tx.done]);
    this.tellSearch(message.key, document, generation);
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
    const tx = this.db.transaction(MESSAGE_STORES, 'readwrite');
    const messages = tx.objectStore('messages');
    const stored = await messages.get(key);
    const updated = stored && change(stored);
    let generation: number | undefined;
    // A tick or a reaction changes nothing to find: only an edit, a deletion and the like are
    // journalled.
    const document = updated ? searchDocument(updated) : null;
    if (updated) {
      await messages.put(updated);
      const before = searchDocument(stored);
      if (!sameDocument(before, document)) generation = await this.journal(tx, key, before, document);
    }
    await tx.done;
    if (generation !== undefined) this.tellSearch(key, document, generation);
    return updated;
  }

  async deleteMessage(key: string): Promise<void> {
    const tx = this.db.transaction(MESSAGE_STORES, 'readwrite');
    const messages = tx.objectStore('messages');
    const stored = await messages.get(key);
    await messages.delete(key);
    const before = stored ? searchDocument(stored) : null;
    const generation = before ? await this.journal(tx, key, before, null) : undefined;
    await tx.done;
    if (generation !== undefined) this.tellSearch(key, null, generation);
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

  /**
   * Up to `limit` messages of a conversation with seq above `afterSeq`, oldest first (what the
   * conversation shows, as `history`).
   */
  async historyAfter(conversationId: string, afterSeq: number, limit: number): Promise<LocalMessage[]> {
    const range = IDBKeyRange.bound([conversationId, afterSeq], [conversationId, Infinity], true, false);
    const out: LocalMessage[] = [];
    let cursor = await this.db.transaction('messages').store.index('byConversation').openCursor(range);
    while (cursor && out.length < limit) {
      if (!cursor.value.change || cursor.value.change === 'timer') out.push(cursor.value);
      cursor = await cursor.continue();
    }
    return out.sort((a, b) => a.seq - b.seq || a.createdAt.localeCompare(b.createdAt));
  }

  // ---- the search index's own records (see search.ts) ------------------------------------------

  /** A record of the search index's snapshot, if it saved one. */
  searchRecord<T>(key: string): Promise<T | undefined> {
    return this.db.get('search', key) as Promise<T | undefined>;
  }

  /** The changes journalled since the last snapshot: message key → generation. */
  async searchJournal(): Promise<Map<string, number>> {
    const tx = this.db.transaction('searchJournal');
    const [keys, generations] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll(), tx.done]);
    return new Map(keys.map((key, i) => [key, generations[i]]));
  }

  /** What the index should hold of each of these messages now (null: nothing). */
  async searchDocuments(keys: string[]): Promise<Map<string, SearchDocument | null>> {
    const tx = this.db.transaction('messages');
    const stored = await Promise.all(keys.map((key) => tx.store.get(key)));
    await tx.done;
    return new Map(keys.map((key, i) => [key, stored[i] ? searchDocument(stored[i]) : null]));
  }

  /** The messages with these keys that are still stored (in the order given). */
  async messages(keys: string[]): Promise<(LocalMessage | undefined)[]> {
    const tx = this.db.transaction('messages');
    const stored = await Promise.all(keys.map((key) => tx.store.get(key)));
    await tx.done;
    return stored;
  }

  /**
   * Up to `limit` documents of the messages whose keys come after `afterKey`, in key order, with
   * the last key read (undefined once there is nothing left): the search index builds itself
   * from these when it has no snapshot, a batch at a time.
   */
  async searchDocumentsAfter(afterKey: string | undefined, limit: number): Promise<{ documents: SearchDocument[]; lastKey: string | undefined }> {
    const range = afterKey === undefined ? undefined : IDBKeyRange.lowerBound(afterKey, true);
    const batch = await this.db.getAll('messages', range, limit);
    const documents: SearchDocument[] = [];
    for (const m of batch) {
      const document = searchDocument(m);
      if (document) documents.push(document);
    }
    return { documents, lastKey: batch.length === limit ? batch.at(-1)!.key : undefined };
  }

  /** The documents of the messages sent in segment `n`'s week (see searchSegmentOf): what the
   * index rebuilds a segment dropped from its snapshot from. */
  async searchDocumentsInSegment(n: number): Promise<SearchDocument[]> {
    // By the index on createdAt, with a day to spare each side: the strings compare as times only
    // when written alike (a server's microseconds, a time zone), and each is placed by its parsed
    // time below. A date that does not parse counts as time 0, so segment 0 reads them all.
    const day = 86_400_000;
    const iso = (t: number) => new Date(t).toISOString();
    const range = n === 0 ? undefined : IDBKeyRange.bound(iso(n * SEARCH_SEGMENT_MS - day), iso((n + 1) * SEARCH_SEGMENT_MS + day));
    const documents: SearchDocument[] = [];
    for (const m of await this.db.getAllFromIndex('messages', 'byTime', range)) {
      const document = searchDocument(m);
      if (document && searchSegmentOf(document.t) === n) documents.push(document);
    }
    return documents;
  }

  /**
   * Saves records of the index's snapshot (null: delete that record) and drops the journal entries
   * it now holds: those whose generation is still the one the snapshot took in. A change
   * journalled meanwhile has a newer generation and stays, to be applied when the snapshot is next
   * loaded. With `replace`, every other record of the snapshot goes (a snapshot made anew).
   *
   * A segment dropped because a change took text away (dropSearchSegment) is written again only
   * if the snapshot holds that change (the same generation or a later one of that message):
   * otherwise the index may still have the old text (another tab's index, never told of the
   * change; or this page's, in the moment between the change's commit and its being told). Such a
   * segment stays missing, and is rebuilt from the messages when an index next loads. Resolves
   * with the segments so left out.
   */
  async saveSearchSnapshot(records: Map<string, unknown>, holds: Map<string, number>, { replace = false } = {}): Promise<number[]> {
    const tx = this.db.transaction(['search', 'searchJournal'], 'readwrite');
    const search = tx.objectStore('search');
    const journal = tx.objectStore('searchJournal');
    const marks = IDBKeyRange.bound(DROPPED, `${DROPPED}\uffff`);
    const [markKeys, markGenerations] = await Promise.all([search.getAllKeys(marks), search.getAll(marks)]);
    // Per segment, whether a change that dropped it is not held; the marks of changes held go.
    const unheld = new Set<number>();
    const kept: [string, number][] = [];
    const cleared: string[] = [];
    markKeys.forEach((markKey, i) => {
      const [n, key] = [Number(markKey.slice(DROPPED.length, markKey.indexOf(':', DROPPED.length))), markKey.slice(markKey.indexOf(':', DROPPED.length) + 1)];
      if ((holds.get(key) ?? -Infinity) >= (markGenerations[i] as number)) {
        cleared.push(markKey);
      } else {
        unheld.add(n);
        kept.push([markKey, markGenerations[i] as number]);
      }
    });
    const refused = [...unheld].filter((n) => records.get(searchSegmentKey(n)));
    for (const n of refused) records.delete(searchSegmentKey(n));
    if (replace) await search.clear();
    const written = [...records].map(([key, value]) => (value === null ? search.delete(key) : search.put(value, key)));
    const marked = replace ? kept.map(([key, generation]) => search.put(generation, key)) : cleared.map((key) => search.delete(key));
    const dropped = [...holds].map(async ([key, generation]) => {
      if ((await journal.get(key)) === generation) await journal.delete(key);
    });
    await Promise.all([...written, ...marked, ...dropped, tx.done]);
    return refused;
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
