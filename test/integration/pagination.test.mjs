// 100,000 messages in one conversation, walked to the end through the API with no duplicate and
// no gap; the page query the server runs is answered from the index.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startStack } from '../support/stack.mjs';
import { Api } from '../support/api.mjs';

const TOTAL = 100_000;
let stack;
let api;
let alice;
let bob;
let conversationId;

before(async () => {
  stack = await startStack();
  api = new Api(stack.baseUrl);
  [alice, bob] = [await api.register(), await api.register()];
  conversationId = (await api.get(`/conversations/${bob.user.id}`, { token: alice.token })).body.id;
  // Three messages share each millisecond, so the id must break ties for the walk to be exact.
  await stack.pool.query(
    `INSERT INTO messages (id, conversation_id, seq, sender_id, kind, epoch, ciphertext, client_msg_id, created_at)
     SELECT gen_random_uuid(), $1, g, CASE WHEN g % 2 = 0 THEN $2 ELSE $3 END::uuid, 'app', 0,
            decode(lpad(to_hex(g), 8, '0'), 'hex'), 'bulk-' || g,
            timestamptz '2026-01-01' + ((g / 3) || ' milliseconds')::interval
     FROM generate_series(1, $4) g`,
    [conversationId, alice.user.id, bob.user.id, TOTAL]);
  await stack.pool.query('ANALYZE messages');
});
after(() => stack?.stop());

/** Microseconds since the epoch of an RFC 3339 timestamp (Date.parse stops at milliseconds). */
function micros(timestamp) {
  const fraction = (timestamp.match(/\.(\d+)/)?.[1] ?? '').padEnd(6, '0').slice(0, 6);
  return BigInt(Date.parse(timestamp.replace(/\.\d+/, ''))) * 1000n + BigInt(fraction);
}

test('walks 100,000 messages newest first with no duplicate and no gap', { timeout: 600_000 }, async () => {
  const seen = new Set();
  let previous = null;
  let cursor = null;
  let pages = 0;
  const started = performance.now();
  do {
    const res = await api.get(`/conversations/${conversationId}/messages?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { token: bob.token });
    assert.equal(res.status, 200);
    for (const m of res.body.items) {
      assert.ok(!seen.has(m.id), `message ${m.id} appeared twice`);
      seen.add(m.id);
      if (previous) {
        const [t, tPrevious] = [micros(m.createdAt), micros(previous.createdAt)];
        const ordered = t < tPrevious || (t === tPrevious && m.id < previous.id);
        assert.ok(ordered, `order broken between ${previous.id} and ${m.id}`);
      }
      previous = m;
    }
    cursor = res.body.nextCursor;
    pages += 1;
  } while (cursor);
  const seconds = (performance.now() - started) / 1000;
  console.log(`# walked ${seen.size} messages in ${pages} pages, ${seconds.toFixed(1)} s (${(pages / seconds).toFixed(0)} pages/s)`);
  assert.equal(seen.size, TOTAL);
  assert.equal(pages, TOTAL / 100);
  const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1', [conversationId]);
  assert.equal(rows[0].n, seen.size, 'every stored message was returned');
});

test('the page query after a cursor is an index range scan with no sort', async () => {
  const source = readFileSync(new URL('../../src/db/messages.rs', import.meta.url), 'utf8');
  const sql = source.match(/PAGE_AFTER_CURSOR_SQL: &str =\s*"([^"]+)"/)[1];
  const { rows: [middle] } = await stack.pool.query(
    'SELECT created_at, id FROM messages WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC OFFSET 50000 LIMIT 1', [conversationId]);
  const { rows } = await stack.pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, [conversationId, middle.created_at, middle.id, 101, 0]);
  const plan = JSON.stringify(rows[0]['QUERY PLAN']);
  assert.match(plan, /"Index Name":"messages_page_idx"/, plan);
  assert.match(plan, /"Index Cond":"[^"]*created_at[^"]*"/, 'the cursor bounds the index scan instead of filtering rows');
  assert.doesNotMatch(plan, /"Node Type":"Sort"/);
  assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
  const scanned = rows[0]['QUERY PLAN'][0].Plan;
  const rowsRead = JSON.stringify(scanned).match(/"Actual Rows":(\d+)/g).map((s) => Number(s.split(':')[1]));
  assert.ok(Math.max(...rowsRead) <= 101, `read at most one page of rows, read ${Math.max(...rowsRead)}`);
});
