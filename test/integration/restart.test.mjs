// Stop and restart wrangler dev mid-conversation: clients reconnect and receive everything that was
// acknowledged; nothing acknowledged is lost.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../support/stack.mjs';
import { Api } from '../support/api.mjs';
import { Socket } from '../support/ws.mjs';
import { waitFor } from '../support/wait.mjs';

let stack;
after(() => stack?.stop());

test('every acknowledged message survives a restart and reaches the recipient on reconnect', { timeout: 180_000 }, async () => {
  stack = await startStack();
  const api = new Api(stack.baseUrl);
  const [alice, bob] = [await api.register(), await api.register()];
  const connect = async (user) => {
    const socket = await Socket.open(stack.baseUrl, user.token);
    await socket.next('ready');
    return socket;
  };
  let [a, b] = [await connect(alice), await connect(bob)];
  const acked = new Map();
  const received = new Map();
  const collect = (socket) => socket.ws.addEventListener('message', (e) => {
    const event = JSON.parse(e.data);
    if (event.type === 'message') received.set(event.message.id, event.message);
  });
  collect(b);
  const watchAcks = (socket) => socket.ws.addEventListener('message', (e) => {
    const event = JSON.parse(e.data);
    if (event.type === 'ack') acked.set(event.message.id, event.message);
  });
  watchAcks(a);
  const sendBatch = (socket, from, count) => {
    for (let i = from; i < from + count; i += 1) {
      socket.send({ type: 'send-message', toUserId: bob.user.id, clientMsgId: `restart-${i}`, ciphertext: Buffer.from(`m${i}`).toString('base64') });
    }
  };
  sendBatch(a, 0, 20);
  await a.next((e) => e.type === 'ack' && e.clientMsgId === 'restart-19', 10_000);
  // More sends in flight while the server goes away: some may be acknowledged, some not.
  sendBatch(a, 20, 30);
  await stack.restart();
  await Promise.all([a.closed, b.closed]);

  [a, b] = [await connect(alice), await connect(bob)];
  collect(b);
  watchAcks(a);
  // The sender retries what it has no ack for, with the same clientMsgIds, as a client does: a
  // send refused while the restarted server warms up (an error, not an ack) is sent again on the
  // next round. Nothing is stored twice.
  const unacked = () => [...Array(50).keys()].filter((i) => ![...acked.values()].some((m) => m.clientMsgId === `restart-${i}`));
  for (let round = 0; round < 10 && unacked().length > 0; round += 1) {
    for (const i of unacked()) {
      a.send({ type: 'send-message', toUserId: bob.user.id, clientMsgId: `restart-${i}`, ciphertext: Buffer.from(`m${i}`).toString('base64') });
    }
    await waitFor(() => unacked().length === 0, { timeoutMs: 2_000, what: 'the retried sends to be acknowledged' }).catch(() => {});
  }
  assert.equal(acked.size, 50, 'every message is acknowledged after the retries');

  const conversationId = [...acked.values()][0].conversationId;
  b.send({ type: 'sync', after: {} });
  await b.next('synced', 10_000);
  for (const id of acked.keys()) assert.ok(received.has(id), `acknowledged message ${id} reached the recipient`);
  const { rows } = await stack.pool.query('SELECT count(*)::int AS n, count(DISTINCT client_msg_id)::int AS d FROM messages WHERE conversation_id = $1', [conversationId]);
  assert.deepEqual(rows[0], { n: 50, d: 50 });
  await Promise.all([a.close(), b.close()]);
});
