// What a device keeps to itself, in IndexedDB: its session, its MLS identity and private key
// packages, each conversation's MLS group state and how far it has processed it, and the
// decrypted history, which never leaves the device. In Node tests `fake-indexeddb` provides
// the same API.

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
  receipts?: Record<string, 'delivered' | 'read'>;
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

export interface GroupRecord {
  conversationId: string;
  /** ts-mls encodeGroupState output. */
  state: Uint8Array;
  epoch: number;
}

const DB_VERSION = 2;
export const UNSENT_SEQ = Number.MAX_SAFE_INTEGER;

function promised<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export class Store {
  private readonly db: IDBDatabase;
  readonly name: string;

  private constructor(db: IDBDatabase, name: string) {
    this.db = db;
    this.name = name;
  }

  /** Deletes the store named `name` with everything in it: keys, group states and history. */
  static destroy(name: string, factory: IDBFactory = globalThis.indexedDB): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = factory.deleteDatabase(`e2e-chat:${name}`);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
    });
  }

  /** Opens (creating if needed) the store named `name`; one per account and device. */
  static async open(name: string, factory: IDBFactory = globalThis.indexedDB): Promise<Store> {
    if (!factory) throw new Error('IndexedDB is not available here; pass an IDBFactory.');
    const request = factory.open(`e2e-chat:${name}`, DB_VERSION);
    request.onupgradeneeded = (event) => {
      const db = request.result;
      if (event.oldVersion < 1) {
        db.createObjectStore('kv');
        db.createObjectStore('groups', { keyPath: 'conversationId' });
        db.createObjectStore('keyPackages');
        const messages = db.createObjectStore('messages', { keyPath: 'key' });
        messages.createIndex('byConversation', ['conversationId', 'seq']);
        messages.createIndex('byId', 'id', { unique: true });
        const problems = db.createObjectStore('problems', { keyPath: 'id' });
        problems.createIndex('byConversation', ['conversationId', 'seq']);
      }
      if (event.oldVersion < 2) {
        // The outbox: messages the server has not acknowledged yet all have seq UNSENT_SEQ.
        request.transaction!.objectStore('messages').createIndex('bySeq', 'seq');
      }
    };
    const db = await promised(request);
    // Another tab (or client) deleting or upgrading this store must not wait on us forever: let
    // go. This connection is then unusable, which is right, since its store is going away.
    db.onversionchange = () => db.close();
    return new Store(db, name);
  }

  close(): void {
    this.db.close();
  }

  private async run<T>(store: string, mode: IDBTransactionMode, act: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const tx = this.db.transaction(store, mode);
    const result = await promised(act(tx.objectStore(store)));
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return result;
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.run('kv', 'readonly', (s) => s.get(key));
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.run('kv', 'readwrite', (s) => s.put(value, key));
  }

  async delete(key: string): Promise<void> {
    await this.run('kv', 'readwrite', (s) => s.delete(key));
  }

  /** Every value whose key starts with `prefix`. */
  withPrefix<T>(prefix: string): Promise<T[]> {
    return this.run('kv', 'readonly', (s) => s.getAll(IDBKeyRange.bound(prefix, `${prefix}\uffff`))) as Promise<T[]>;
  }

  /**
   * Records that a conversation was processed up to `seq`, with the group state that resulted,
   * in one transaction: a crash never leaves a state that has used keys with a cursor that would
   * make it process the same message again.
   */
  async saveProgress(conversationId: string, seq: number, group?: GroupRecord | null): Promise<void> {
    const tx = this.db.transaction(['kv', 'groups'], 'readwrite');
    tx.objectStore('kv').put(seq, `cursor:${conversationId}`);
    if (group) tx.objectStore('groups').put(group);
    else if (group === null) tx.objectStore('groups').delete(conversationId);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  group(conversationId: string): Promise<GroupRecord | undefined> {
    return this.run('groups', 'readonly', (s) => s.get(conversationId));
  }

  async putGroup(record: GroupRecord): Promise<void> {
    await this.run('groups', 'readwrite', (s) => s.put(record));
  }

  async deleteGroup(conversationId: string): Promise<void> {
    await this.run('groups', 'readwrite', (s) => s.delete(conversationId));
  }

  groups(): Promise<GroupRecord[]> {
    return this.run('groups', 'readonly', (s) => s.getAll());
  }

  /** Private key packages by their public bytes' reference, to join from a Welcome. */
  keyPackage<T>(ref: string): Promise<T | undefined> {
    return this.run('keyPackages', 'readonly', (s) => s.get(ref));
  }

  async putKeyPackage(ref: string, value: unknown): Promise<void> {
    await this.run('keyPackages', 'readwrite', (s) => s.put(value, ref));
  }

  async deleteKeyPackage(ref: string): Promise<void> {
    await this.run('keyPackages', 'readwrite', (s) => s.delete(ref));
  }

  keyPackageRefs(): Promise<string[]> {
    return this.run('keyPackages', 'readonly', (s) => s.getAllKeys()) as Promise<string[]>;
  }

  async putMessage(message: LocalMessage): Promise<void> {
    await this.run('messages', 'readwrite', (s) => s.put(message));
  }

  message(key: string): Promise<LocalMessage | undefined> {
    return this.run('messages', 'readonly', (s) => s.get(key));
  }

  messageById(id: string): Promise<LocalMessage | undefined> {
    return this.run('messages', 'readonly', (s) => s.index('byId').get(id));
  }

  /** Up to `limit` messages of a conversation with seq below `beforeSeq`, oldest first. */
  async history(conversationId: string, beforeSeq: number, limit: number): Promise<LocalMessage[]> {
    const tx = this.db.transaction('messages', 'readonly');
    const range = IDBKeyRange.bound([conversationId, -Infinity], [conversationId, beforeSeq], false, true);
    const out: LocalMessage[] = [];
    await new Promise<void>((resolve, reject) => {
      const cursor = tx.objectStore('messages').index('byConversation').openCursor(range, 'prev');
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c || out.length >= limit) return resolve();
        out.push(c.value);
        c.continue();
      };
      cursor.onerror = () => reject(cursor.error);
    });
    // Unsent messages share one seq; among them, the order they were written in.
    return out.reverse().sort((a, b) => a.seq - b.seq || a.createdAt.localeCompare(b.createdAt));
  }

  /** This device's messages the server has not acknowledged yet, oldest first. */
  async unsent(deviceId: string): Promise<LocalMessage[]> {
    const all: LocalMessage[] = await this.run('messages', 'readonly', (s) => s.index('bySeq').getAll(IDBKeyRange.only(UNSENT_SEQ)));
    return all.filter((m) => m.senderDeviceId === deviceId && m.status === 'sending').sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async putProblem(problem: Problem): Promise<void> {
    await this.run('problems', 'readwrite', (s) => s.put(problem));
  }

  problems(conversationId: string): Promise<Problem[]> {
    const range = IDBKeyRange.bound([conversationId, -Infinity], [conversationId, Infinity]);
    return this.run('problems', 'readonly', (s) => s.index('byConversation').getAll(range));
  }
}
