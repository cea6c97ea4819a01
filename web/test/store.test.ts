// The device's store on its own (fake-indexeddb, no server): a store an older SDK wrote opens with
// everything it held, and gains what the newer schema adds.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDB } from 'idb';
import { Store, type LocalMessage } from '../sdk/store.ts';

const message = (key: string, seq: number, extra: Partial<LocalMessage> = {}): LocalMessage => ({
  key, id: key, clientMsgId: key, conversationId: 'c1', seq, senderId: 'ana', senderDeviceId: null,
  text: `text ${key}`, createdAt: new Date(0).toISOString(), status: 'received', ...extra,
});

test('a store written at schema version 2 opens with its history and finds messages by content id from then on', async () => {
  // As the SDK before content ids wrote it (versions 1 and 2 of upgrade() in store.ts).
  const old = await openDB('e2e-chat:upgraded', 2, {
    upgrade(db) {
      db.createObjectStore('kv');
      db.createObjectStore('groups', { keyPath: 'conversationId' });
      db.createObjectStore('keyPackages');
      const messages = db.createObjectStore('messages', { keyPath: 'key' });
      messages.createIndex('byConversation', ['conversationId', 'seq']);
      messages.createIndex('byId', 'id', { unique: true });
      messages.createIndex('bySeq', 'seq');
      const problems = db.createObjectStore('problems', { keyPath: 'id' });
      problems.createIndex('byConversation', ['conversationId', 'seq']);
    },
  });
  await old.put('messages', message('before', 1));
  old.close();

  const store = await Store.open('upgraded');
  assert.deepEqual((await store.history('c1', Number.MAX_SAFE_INTEGER, 10)).map((m) => m.text), ['text before'], 'nothing lost');
  await store.putMessage(message('after', 2, { contentId: 'x'.repeat(43) }));
  assert.equal((await store.messageByContent('c1', 'x'.repeat(43)))?.key, 'after');
  assert.equal(await store.messageByContent('c2', 'x'.repeat(43)), undefined, 'only in its own conversation');
  store.close();
});
