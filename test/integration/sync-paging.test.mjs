// Bounded catch-up: a paged `sync` answers at most a page of messages, says which conversations
// have more, and a client asking again from the `after` it was given gets the rest with no gap
// and nothing twice. A `sync` that does not say `paged` (an older client) is paged all the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileStack } from '../support/file-stack.mjs';

/** The server's SYNC_PAGE_MESSAGES (src/hub/handlers.rs). */
const PAGE = 500;
/** Generous: 5,000 messages through a local wrangler dev take a few seconds. */
const PAGE_TIMEOUT_MS = 30_000;

const file = fileStack();
const open = (user) => file.open(user.token);

const b64 = (text) => Buffer.from(text).toString('base64');
let counter = 0;
const clientMsgId = () => `c-${Date.now()}-${++counter}`;

async function sendOver(socket, event) {
  socket.send({ type: 'send-message', clientMsgId: clientMsgId(), ciphertext: b64('opaque'), ...event });
  return (await socket.next('ack')).message;
}

/**
 * Stores `count` application messages from `sender` at the conversation's next seqs, as the send
 * path would (seq = last_seq + 1 ..., then last_seq moved on), in one statement. Straight into
 * PostgreSQL rather than through the socket: 5,000 sends would meet the per-socket flood
 * throttle and take minutes, and the send path is what the realtime tests cover; here what is
 * under test is only the catch-up of what is stored.
 */
async function storeMissed(conversationId, sender, count) {
  const { rows } = await file.stack.pool.query(
    `WITH bumped AS (
       UPDATE conversations SET last_seq = last_seq + $3 WHERE id = $1 RETURNING last_seq - $3 AS first
     )
     INSERT INTO messages (id, conversation_id, seq, sender_id, kind, epoch, ciphertext, client_msg_id, created_at)
     SELECT gen_random_uuid(), $1, first + i, $2, 'app', 0, convert_to('missed ' || i, 'UTF8'),
            'missed-' || $1::text || '-' || i, clock_timestamp()
     FROM bumped, generate_series(1, $3::bigint) AS i
     RETURNING seq`,
    [conversationId, sender, count],
  );
  const seqs = rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
  return { from: seqs[0], to: seqs.at(-1) };
}

/** Sends one sync and takes everything up to its `synced`, in the order it came. */
async function syncPage(socket, request) {
  socket.send({ type: 'sync', ...request });
  const synced = await socket.next('synced', PAGE_TIMEOUT_MS);
  const before = socket.events.splice(0);
  return { synced, events: before };
}

test('5,000 missed messages (and 700 in another conversation) catch up in pages of at most 500, with no gap and nothing twice; receipts come once, after their conversation', async () => {
  const [alice, bob, carol] = [await file.api.register(), await file.api.register(), await file.api.register()];
  const [a, c] = [await open(alice), await open(carol)];
  let b = await open(bob);
  const first = await sendOver(a, { toUserId: bob.user.id });
  const fromCarol = await sendOver(c, { toUserId: bob.user.id });
  const [busy, other] = [first.conversationId, fromCarol.conversationId];
  // Bob's own message, read by Alice while Bob is away: its receipt is asked for again at sync.
  const own = await sendOver(b, { conversationId: busy });
  await b.next((e) => e.type === 'message' && e.message.id === fromCarol.id);
  a.send({ type: 'receipt', id: 'read-own', messageId: own.id, kind: 'read' });
  assert.equal((await a.next('ack')).ref, 'read-own');
  await b.close();

  const missedBusy = await storeMissed(busy, alice.user.id, 5000);
  const missedOther = await storeMissed(other, carol.user.id, 700);
  assert.deepEqual([missedBusy.from, missedBusy.to, missedOther.from, missedOther.to], [own.seq + 1, own.seq + 5000, fromCarol.seq + 1, fromCarol.seq + 700]);

  b = await open(bob);
  const started = performance.now();
  const received = new Map([[busy, []], [other, []]]);
  const receipts = [];
  const pageSizes = [];
  let after = { [busy]: own.seq, [other]: fromCarol.seq };
  const receiptsFrom = { [busy]: own.seq };
  for (let page = 0; ; page += 1) {
    assert.ok(page < 20, 'the pages come to an end');
    const { synced, events } = await syncPage(b, { paged: true, after, receiptsFrom });
    const messages = events.filter((e) => e.type === 'message').map((e) => e.message);
    pageSizes.push(messages.length);
    assert.ok(messages.length <= PAGE, `page ${page} has ${messages.length} messages`);
    for (const m of messages) received.get(m.conversationId).push(m.seq);
    for (const r of events.filter((e) => e.type === 'receipt')) {
      // A receipt comes in the page that finishes its conversation, after its last message.
      assert.equal(synced.more.includes(r.conversationId), false);
      assert.equal(received.get(busy).at(-1), missedBusy.to);
      receipts.push(r);
    }
    // `after` says exactly how far each conversation came: the last seq sent, or where it was.
    for (const [conversation, seqs] of received) {
      assert.equal(synced.after[conversation], seqs.at(-1) ?? after[conversation]);
    }
    after = synced.after;
    if (synced.more.length === 0) break;
    // Receipts only for the conversations not finished yet, as the SDK does.
    for (const conversation of Object.keys(receiptsFrom)) if (!synced.more.includes(conversation)) delete receiptsFrom[conversation];
  }
  const elapsedMs = Math.round(performance.now() - started);

  const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  assert.deepEqual(received.get(busy), range(missedBusy.from, missedBusy.to), 'every missed seq of the busy conversation once, in order');
  assert.deepEqual(received.get(other), range(missedOther.from, missedOther.to), 'and of the other one');
  assert.equal(pageSizes.length, Math.ceil(5700 / PAGE));
  assert.ok(pageSizes.slice(0, -1).every((n) => n === PAGE), `full pages until the last: ${pageSizes}`);
  assert.deepEqual(receipts.map((r) => [r.messageId, r.kind]), [[own.id, 'read']], 'the receipt once');
  console.log(`# caught up 5,700 messages (5,000 + 700) in ${pageSizes.length} pages in ${elapsedMs} ms`);

  // Caught up: asking again sends nothing.
  const again = await syncPage(b, { paged: true, after });
  assert.equal(again.events.filter((e) => e.type === 'message').length, 0);
  assert.deepEqual(again.synced.more, []);
});

test('a sync without "paged" is paged too: nobody gets the whole history in one answer', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const a = await open(alice);
  const first = await sendOver(a, { toUserId: bob.user.id });
  const missed = await storeMissed(first.conversationId, alice.user.id, 1200);
  const b = await open(bob);
  const { synced, events } = await syncPage(b, { after: { [first.conversationId]: first.seq } });
  const seqs = events.filter((e) => e.type === 'message').map((e) => e.message.seq);
  assert.equal(seqs.length, 500, 'one page');
  assert.equal(seqs[0], missed.from);
  assert.deepEqual(synced.more, [first.conversationId], 'and the rest on asking again');
  assert.equal(synced.after[first.conversationId], seqs.at(-1));
});

test('a bad "paged" is refused with a clear error', async () => {
  const bob = await file.api.register();
  const b = await open(bob);
  b.send({ type: 'sync', paged: 'yes' });
  const error = await b.next('error');
  assert.equal(error.code, 'invalid_field');
  assert.match(error.message, /sync.*boolean/);
});
