// The local search index on its own (fake-indexeddb, no server): how text becomes terms, snippets,
// and how the index follows the store, survives a reload, a page closed before its snapshot, and
// a store upgraded from before search. End to end through ChatClient: search.test.ts.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDB } from 'idb';
import { Store, type LocalMessage } from '../sdk/store.ts';
import { LocalSearch, fold, snippet, words } from '../sdk/search.ts';

let stores = 0;
const storeName = () => `search-index-${++stores}`;

const message = (key: string, seq: number, text: string, extra: Partial<LocalMessage> = {}): LocalMessage => ({
  key, id: key, clientMsgId: key, conversationId: 'c1', seq, senderId: 'ana', senderDeviceId: null,
  text, createdAt: new Date(Date.UTC(2026, 0, 1) + seq * 60_000).toISOString(), status: 'received', ...extra,
});

const keysOf = async (search: LocalSearch, query: string, options = {}) => (await search.search(query, options)).map((h) => h.key);
const marked = (parts: { text: string; match: boolean }[]) => parts.filter((p) => p.match).map((p) => p.text);

test('words: split at spaces and punctuation in any script, and by the platform\'s segmenter where words have no spaces', () => {
  const of = (text: string) => words(text).map((w) => w.word);
  assert.deepEqual(of('Hello, world! (test-case) e-mail: a@b.c'), ['Hello', 'world', 'test', 'case', 'e', 'mail', 'a', 'b', 'c']);
  assert.deepEqual(of('Привет, мир… Γειά σου κόσμε'), ['Привет', 'мир', 'Γειά', 'σου', 'κόσμε']);
  assert.deepEqual(of('مرحبا بالعالم، كيف حالك؟'), ['مرحبا', 'بالعالم', 'كيف', 'حالك']);
  assert.deepEqual(of('नमस्ते दुनिया'), ['नमस्ते', 'दुनिया'], 'vowel signs and viramas stay in their word');
  assert.deepEqual(of('می‌خواهم بروم'), ['می‌خواهم', 'بروم'], 'a Persian ZWNJ stays inside its word');
  assert.deepEqual(of('👍 ok ❤️ 🇵🇹'), ['ok'], 'emoji are not words');
  assert.ok(of('我们明天去东京').includes('东京'), 'Chinese split into words');
  assert.ok(of('明日東京に行きます').includes('東京'), 'Japanese too');
  const text = 'ab, cd';
  assert.deepEqual(words(text).map((w) => text.slice(w.start, w.end)), ['ab', 'cd'], 'with where they are');
});

test('fold: case, diacritics and compatibility forms go; other scripts keep their letters', () => {
  assert.deepEqual(['Café', 'ÉTÉ', 'Ñandú', 'Straße', 'Ａｂｃ', 'ﬁne', 'Ёлка', 'Ελλάδα'].map(fold), ['cafe', 'ete', 'nandu', 'strasse', 'abc', 'fine', 'елка', 'ελλαδα']);
  assert.equal(fold('नमस्ते'), 'नमस्ते');
  assert.equal(fold('한국어'), '한국어', 'Hangul recomposed, not left as jamo');
  assert.equal(fold('x'.repeat(49)), null, 'not a word');
});

test('snippet: the stretch around the first match, matching words marked, cut between words', () => {
  assert.deepEqual(snippet('See you at the café', new Set(['cafe'])), [{ text: 'See you at the ', match: false }, { text: 'café', match: true }]);
  const long = `${'lorem ipsum dolor '.repeat(10)}the secret word is pineapple and then ${'more filler text '.repeat(10)}`;
  const parts = snippet(long, new Set(['pineapple']));
  assert.deepEqual(marked(parts), ['pineapple']);
  assert.equal(parts[0].text, '…');
  assert.equal(parts.at(-1)!.text, '…');
  const shown = parts.map((p) => p.text).join('');
  assert.ok(shown.length <= 125, `short: ${shown.length}`);
  assert.match(shown, /^… ?\w/, 'starts at a word');
  assert.deepEqual(snippet('line one\nline two', new Set(['two'])).map((p) => p.text), ['line one line ', 'two'], 'on one line');
});

test('search: prefixes, typos, accents, every word of the query, newest first with exact matches ahead of typos', async () => {
  const store = await Store.open(storeName());
  await store.putMessage(message('old', 1, 'Dinner at the café tomorrow?'));
  await store.putMessage(message('new', 2, 'dinner was great'));
  await store.putMessage(message('typo', 3, 'diner on the corner'));
  await store.putMessage(message('other', 4, 'Мы встретимся завтра в кафе', { conversationId: 'c2' }));
  const search = LocalSearch.open(store);
  assert.deepEqual(await keysOf(search, 'dinner'), ['new', 'old', 'typo'], 'exact matches newest first, then the one a typo away');
  assert.deepEqual(await keysOf(search, 'dinner', { limit: 2 }), ['new', 'old'], 'limit');
  assert.deepEqual(await keysOf(search, 'DIN'), ['typo', 'new', 'old'], 'a prefix, case aside');
  assert.deepEqual(await keysOf(search, 'cafe tomo'), ['old'], 'every word, the last one a prefix');
  assert.deepEqual(await keysOf(search, 'КАФЕ'), ['other']);
  assert.deepEqual(await keysOf(search, 'kafe'), ['old'], 'a typo forgiven in a word of four letters');
  assert.deepEqual(await keysOf(search, 'kaf'), [], 'not in a shorter one');
  assert.deepEqual(await keysOf(search, 'dinner', { conversationId: 'c2' }), [], 'one conversation');
  assert.deepEqual(await keysOf(search, '  ,.!  '), [], 'nothing to look for');
  const [hit] = await search.search('cafe');
  assert.deepEqual({ ...hit, snippet: marked(hit.snippet) }, {
    conversationId: 'c1', messageId: 'old', key: 'old', seq: 1, createdAt: message('old', 1, '').createdAt, senderId: 'ana', snippet: ['café'],
  });
  search.close();
  store.close();
});

test('the index follows every write of the messages store: edits, deletions, tombstones and changes that say nothing', async () => {
  const store = await Store.open(storeName());
  const search = LocalSearch.open(store);
  await search.ready;
  await store.putMessage(message('m', 1, 'the first words'));
  assert.deepEqual(await keysOf(search, 'first'), ['m']);
  await store.updateMessage('m', (m) => ({ ...m, text: 'the second words', edited: { at: m.createdAt } }));
  assert.deepEqual([await keysOf(search, 'first'), await keysOf(search, 'second')], [[], ['m']], 'an edit replaces the text');
  await store.updateMessage('m', (m) => ({ ...m, status: 'read', reactions: { bob: { emoji: '👍', at: m.createdAt } } }));
  assert.deepEqual(await keysOf(search, 'second'), ['m'], 'a tick or a reaction changes nothing');
  await store.updateMessage('m', (m) => ({ ...m, text: '', deleted: { by: 'ana', at: m.createdAt } }));
  assert.deepEqual(await keysOf(search, 'second'), [], 'deleted for everyone');
  await store.putMessage(message('r', 2, '🎉', { change: 'reaction', target: 'x'.repeat(43) }));
  await store.putMessage(message('gone', 3, 'soon gone'));
  await store.deleteMessage('gone');
  assert.deepEqual([await keysOf(search, 'soon'), search.size], [[], 0], 'deleted here (for me, expired)');
  search.close();
  store.close();
});

test('the index survives a reload: from its snapshot, and from the journal for what changed after it', async () => {
  const name = storeName();
  let store = await Store.open(name);
  for (let i = 1; i <= 30; i += 1) await store.putMessage(message(`k${i}`, i, `message number ${i} about apples`));
  let search = LocalSearch.open(store);
  await search.snapshot();
  assert.equal((await store.searchJournal()).size, 0, 'the snapshot holds the journal');
  // After the snapshot, and never saved in one: a new message, an edit, a deletion.
  await store.putMessage(message('late', 31, 'a late pear'));
  await store.updateMessage('k1', (m) => ({ ...m, text: 'bananas now' }));
  await store.deleteMessage('k2');
  assert.equal((await store.searchJournal()).size, 3);
  search.close();
  store.close();

  store = await Store.open(name);
  search = LocalSearch.open(store);
  assert.deepEqual(await keysOf(search, 'pear'), ['late']);
  assert.deepEqual(await keysOf(search, 'bananas'), ['k1']);
  assert.equal((await keysOf(search, 'apples', { limit: 100 })).length, 28);
  assert.equal(search.size, 30);
  search.close();
  store.close();
});

test('what an edit or a deletion took away is not kept in the saved index', async () => {
  const store = await Store.open(storeName());
  const search = LocalSearch.open(store);
  // Enough messages in the segment that MiniSearch would not vacuum on its own.
  for (let i = 0; i < 50; i += 1) await store.putMessage(message(`f${i}`, i + 1, `filler ${i}`));
  await store.putMessage(message('e', 100, 'the password is swordfish'));
  await store.putMessage(message('d', 101, 'meet me at the aviary'));
  await search.snapshot();
  await store.updateMessage('e', (m) => ({ ...m, text: 'never mind' }));
  await store.updateMessage('d', (m) => ({ ...m, text: '', deleted: { by: 'ana', at: m.createdAt } }));
  await search.snapshot();
  const meta = await store.searchRecord<{ segments: number[] }>('meta');
  const saved = JSON.stringify(await Promise.all(meta!.segments.map((n) => store.searchRecord(`segment:${n}`))));
  for (const gone of ['swordfish', 'password', 'aviary']) assert.ok(!saved.includes(gone), `${gone} is not in the snapshot`);
  assert.ok(saved.includes('never'), 'the new text is');
  search.close();
  store.close();
});

test('a snapshot this version cannot read is rebuilt from the messages, and nothing of it is kept', async () => {
  const store = await Store.open(storeName());
  await store.putMessage(message('m', 1, 'still here'));
  // As an older version's index would be left: other terms, a segment with a word since deleted.
  await store.saveSearchSnapshot(new Map<string, unknown>([['meta', { terms: 0, segments: [99] }], ['segment:99', { index: '"forgotten"', conversations: {} }]]), new Map());
  const search = LocalSearch.open(store);
  assert.deepEqual(await keysOf(search, 'still'), ['m']);
  await search.snapshot();
  assert.equal(await store.searchRecord('segment:99'), undefined);
  assert.ok(!JSON.stringify(await Promise.all(((await store.searchRecord<{ segments: number[] }>('meta'))!.segments).map((n) => store.searchRecord(`segment:${n}`)))).includes('forgotten'));
  search.close();
  store.close();
});

test('a change journalled while a snapshot is written stays in the journal', async () => {
  const store = await Store.open(storeName());
  const search = LocalSearch.open(store);
  await store.putMessage(message('a', 1, 'alpha'));
  const saving = search.snapshot();
  await store.updateMessage('a', (m) => ({ ...m, text: 'beta' }));
  await saving;
  await search.snapshot();
  const journal = await store.searchJournal();
  search.close();
  const reloaded = LocalSearch.open(store);
  assert.deepEqual([await keysOf(reloaded, 'beta'), await keysOf(reloaded, 'alpha')], [['a'], []], `journal then: ${[...journal.keys()]}`);
  reloaded.close();
  store.close();
});

test('segments of a week each: searched newest first, in one conversation only where it has messages, saved only when changed', async () => {
  const store = await Store.open(storeName());
  const week = 7 * 86_400_000;
  const at = (weeks: number) => new Date(Date.UTC(2026, 0, 5) + weeks * week + 3_600_000).toISOString();
  for (let i = 0; i < 30; i += 1) {
    await store.putMessage(message(`w${i}`, i + 1, `weekly report ${i}`, { createdAt: at(i), conversationId: i % 3 === 0 ? 'c3' : 'c1' }));
  }
  const search = LocalSearch.open(store);
  await search.ready;
  assert.equal(search.segmentCount, 30);
  assert.deepEqual(await keysOf(search, 'weekly', { limit: 4 }), ['w29', 'w28', 'w27', 'w26'], 'the newest, across segments');
  assert.deepEqual(await keysOf(search, 'weekly', { conversationId: 'c3', limit: 3 }), ['w27', 'w24', 'w21']);
  assert.deepEqual(await keysOf(search, 'report 0'), ['w0'], 'the oldest still found');
  await search.snapshot();

  // An edit of an old message rewrites its week's segment only (and the record of what there is).
  const saves: string[][] = [];
  const save = store.saveSearchSnapshot.bind(store);
  store.saveSearchSnapshot = (records, holds) => { saves.push([...records.keys()].sort()); return save(records, holds); };
  await store.updateMessage('w3', (m) => ({ ...m, text: 'monthly report' }));
  await search.snapshot();
  const n = Math.floor(Date.parse(at(3)) / week);
  assert.deepEqual(saves, [['meta', `segment:${n}`]]);
  // Its one message deleted, the segment goes, from memory and from the store.
  await store.deleteMessage('w3');
  await search.snapshot();
  assert.deepEqual([search.segmentCount, await store.searchRecord(`segment:${n}`)], [29, undefined]);
  search.close();

  const reloaded = LocalSearch.open(store);
  assert.deepEqual(await keysOf(reloaded, 'weekly', { conversationId: 'c3', limit: 2 }), ['w27', 'w24'], 'as saved, with its conversations');
  assert.deepEqual([await keysOf(reloaded, 'monthly'), reloaded.size], [[], 29]);
  reloaded.close();
  store.close();
});

test('a store written at schema version 4 opens with its history and builds the index from it once', async () => {
  const name = storeName();
  // As the SDK before search wrote it (versions 1 to 4 of upgrade() in store.ts).
  const old = await openDB(`e2e-chat:${name}`, 4, {
    upgrade(db) {
      db.createObjectStore('kv');
      db.createObjectStore('groups', { keyPath: 'conversationId' });
      db.createObjectStore('keyPackages');
      const messages = db.createObjectStore('messages', { keyPath: 'key' });
      messages.createIndex('byConversation', ['conversationId', 'seq']);
      messages.createIndex('byId', 'id', { unique: true });
      messages.createIndex('bySeq', 'seq');
      messages.createIndex('byContent', ['conversationId', 'contentId']);
      messages.createIndex('byExpiry', 'expiresAt');
      const problems = db.createObjectStore('problems', { keyPath: 'id' });
      problems.createIndex('byConversation', ['conversationId', 'seq']);
    },
  });
  for (let i = 1; i <= 4500; i += 1) await old.put('messages', message(`k${String(i).padStart(5, '0')}`, i, i % 1000 === 0 ? `milestone ${i}` : `filler ${i}`));
  await old.put('messages', message('gone', 5000, '', { deleted: { at: new Date(0).toISOString() } }));
  old.close();

  const store = await Store.open(name);
  assert.equal((await store.history('c1', Number.MAX_SAFE_INTEGER, 1))[0].key, 'gone', 'nothing lost');
  const search = LocalSearch.open(store);
  assert.deepEqual(await keysOf(search, 'milestone'), ['k04000', 'k03000', 'k02000', 'k01000']);
  assert.equal(search.size, 4500, 'in batches, the deleted one left out');
  await waitUntil(async () => (await store.searchRecord('meta')) !== undefined, 'the build to be saved');
  search.close();
  store.close();
});

async function waitUntil(done: () => Promise<boolean>, what: string): Promise<void> {
  for (const started = Date.now(); !(await done());) {
    if (Date.now() - started > 10_000) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every record of the store's saved search index, keys and values, read straight from IndexedDB. */
async function rawSearchRecords(name: string): Promise<{ keys: string[]; text: string }> {
  const db = await openDB(`e2e-chat:${name}`);
  try {
    const tx = db.transaction('search');
    const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll(), tx.done]);
    return { keys: keys as string[], text: JSON.stringify(values).toLowerCase() };
  } finally {
    db.close();
  }
}

test('with the index closed, what a deletion for everyone, for me, an expiry or an edit took away is gone from the saved index at once', async () => {
  const name = storeName();
  const store = await Store.open(name);
  const week = 7 * 86_400_000;
  // Enough messages in the week that MiniSearch would not vacuum on its own; one in another week.
  for (let i = 0; i < 50; i += 1) await store.putMessage(message(`f${i}`, i + 1, `filler ${i}`));
  await store.putMessage(message('e', 100, 'the password is swordfish'));
  await store.putMessage(message('d', 101, 'meet me at the aviary'));
  await store.putMessage(message('m', 102, 'my private diary'));
  await store.putMessage(message('x', 103, 'a fleeting thought', { expiresAt: Date.UTC(2026, 0, 2) }));
  await store.putMessage(message('old', 104, 'from an earlier week', { createdAt: new Date(Date.UTC(2026, 0, 1) - 3 * week).toISOString() }));
  let search = LocalSearch.open(store);
  await search.snapshot();
  search.close();
  const before = await rawSearchRecords(name);
  for (const word of ['swordfish', 'aviary', 'diary', 'fleeting']) assert.ok(before.text.includes(word), `${word} saved to begin with`);

  // No index open in this session: the changes are only journalled.
  await store.updateMessage('e', (m) => ({ ...m, text: 'never mind', edited: { at: m.createdAt } }));
  await store.updateMessage('d', (m) => ({ ...m, text: '', deleted: { by: 'ana', at: m.createdAt } }));
  await store.deleteMessage('m');
  for (const expired of await store.expired(Date.UTC(2026, 0, 3))) await store.deleteMessage(expired.key); // as expiry.ts does
  const after = await rawSearchRecords(name);
  for (const gone of ['swordfish', 'password', 'aviary', 'diary', 'fleeting']) assert.ok(!after.text.includes(gone), `${gone} is not at rest in the saved index`);
  assert.ok(after.text.includes('earlier'), 'another week\'s segment is left as it was');

  // The next index rebuilds that one week from the messages, and saves it again.
  search = LocalSearch.open(store);
  assert.deepEqual(await keysOf(search, 'never'), ['e']);
  assert.deepEqual([await keysOf(search, 'swordfish'), await keysOf(search, 'aviary'), await keysOf(search, 'diary'), await keysOf(search, 'fleeting')], [[], [], [], []]);
  assert.equal((await keysOf(search, 'filler', { limit: 100 })).length, 50);
  assert.deepEqual(await keysOf(search, 'earlier'), ['old']);
  assert.equal(search.size, 52);
  await search.snapshot();
  search.close();
  const saved = await rawSearchRecords(name);
  assert.ok(saved.text.includes('never') && saved.text.includes('filler'), 'the week saved again');
  for (const gone of ['swordfish', 'aviary', 'diary', 'fleeting']) assert.ok(!saved.text.includes(gone), `${gone} still not saved`);
  assert.deepEqual(saved.keys.filter((k) => !k.startsWith('segment:') && k !== 'meta'), [], 'no mark of a dropped segment is left once it is saved again');
  assert.equal((await store.searchJournal()).size, 0);
  search.close();
  store.close();
});

test('an index open elsewhere (another tab) does not write back what a deletion here took away', async () => {
  const name = storeName();
  const tab = await Store.open(name);
  for (let i = 0; i < 50; i += 1) await tab.putMessage(message(`f${i}`, i + 1, `filler ${i}`));
  await tab.putMessage(message('d', 100, 'meet me at the aviary'));
  const search = LocalSearch.open(tab);
  await search.snapshot();
  // Another tab, with no index open, deletes the message for everyone: this tab's index is not told.
  const other = await Store.open(name);
  await other.updateMessage('d', (m) => ({ ...m, text: '', deleted: { by: 'ana', at: m.createdAt } }));
  // Then this tab changes the same week, and its index saves it.
  await tab.putMessage(message('n', 101, 'a new message'));
  await search.snapshot();
  assert.ok(!(await rawSearchRecords(name)).text.includes('aviary'), 'the deleted text is not written back');
  search.close();
  const reloaded = LocalSearch.open(other);
  assert.deepEqual([await keysOf(reloaded, 'aviary'), await keysOf(reloaded, 'new'), reloaded.size], [[], ['n'], 51]);
  reloaded.close();
  other.close();
  tab.close();
});

test('a snapshot taken before the index is told of a deletion leaves its segment out, and saves it once told', async () => {
  const name = storeName();
  const store = await Store.open(name);
  for (let i = 0; i < 50; i += 1) await store.putMessage(message(`f${i}`, i + 1, `filler ${i}`));
  await store.putMessage(message('d', 100, 'meet me at the aviary'));
  const search = LocalSearch.open(store);
  await search.snapshot();
  await store.putMessage(message('n', 101, 'a new message')); // the week to save again
  // The deletion is stored, but the index is told only later (the moment after its commit).
  const tell = store.searchListener!;
  let told = () => {};
  store.searchListener = (...change) => { told = () => tell(...change); };
  await store.updateMessage('d', (m) => ({ ...m, text: '', deleted: { by: 'ana', at: m.createdAt } }));
  store.searchListener = tell;
  await search.snapshot();
  const between = await rawSearchRecords(name);
  assert.ok(!between.text.includes('aviary'), 'the segment with the old text is not written');
  assert.equal(between.keys.filter((k) => k.startsWith('dropped:')).length, 1, 'and stays marked');
  told();
  await search.snapshot();
  const after = await rawSearchRecords(name);
  assert.ok(!after.text.includes('aviary') && after.text.includes('filler'), 'saved once the index has the deletion');
  assert.deepEqual(after.keys.filter((k) => k.startsWith('dropped:')), []);
  assert.equal((await store.searchJournal()).size, 0);
  search.close();
  store.close();
});

test('a query is capped: its first 10 words and 200 characters are looked for, typos forgiven in its first 4 words only, and a search can be called off', async () => {
  const store = await Store.open(storeName());
  const phonetic = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet';
  await store.putMessage(message('p', 1, phonetic));
  for (let i = 0; i < 20; i += 1) await store.putMessage(message(`f${i}`, i + 2, `filler ${i}`));
  const search = LocalSearch.open(store);
  assert.deepEqual(await keysOf(search, `${phonetic} kilo`), ['p'], 'an 11th word is not looked for');
  assert.deepEqual(await keysOf(search, `alpha ${'bravo '.repeat(40)}zulu`), ['p'], 'nor what comes after 200 characters (a word repeated counts once)');
  const pasted = Array.from({ length: 5000 }, (_, i) => `word${i}`).join(' ');
  const started = performance.now();
  assert.deepEqual(await keysOf(search, pasted), []);
  assert.ok(performance.now() - started < 1000, 'a pasted page of text is as cheap as a few words');
  assert.deepEqual(await keysOf(search, 'akpha bravo charlie delta echo'), ['p'], 'a typo in the first word is forgiven');
  assert.deepEqual(await keysOf(search, 'alpha bravo charlie delta ekho'), [], 'not in the fifth');
  await assert.rejects(search.search('alpha', { signal: AbortSignal.abort() }), { name: 'AbortError' }, 'a search called off gives no results');
  search.close();
  store.close();
});
