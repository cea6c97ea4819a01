// A hub gives its database connection back when it has had nothing to do for HUB_DB_IDLE_SECONDS
// (an open connection keeps a Durable Object from hibernating and holds a connection slot), and
// takes a new one on the next event, with its sockets still open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileStack } from '../support/file-stack.mjs';
import { waitFor } from '../support/wait.mjs';

const file = fileStack({ vars: { HUB_DB_IDLE_SECONDS: '1' } });
const open = (user) => file.open(user.token);

/** The Worker's connections to this test's database (its clients at the pooler, if there is one). */
const workerSessions = () => file.stack.workerConnections();

test('an idle hub closes its database connection and opens a new one on the next event', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const [a, b] = [await open(alice), await open(bob)];
  const send = async (text) => {
    a.send({ type: 'send-message', toUserId: bob.user.id, clientMsgId: `idle-${text}`, ciphertext: Buffer.from(text).toString('base64') });
    const ack = await a.next('ack');
    const { message } = await b.next('message');
    assert.equal(message.id, ack.message.id);
  };

  await send('before');
  assert.ok((await workerSessions()) >= 1, 'the hubs hold connections while busy');
  await waitFor(async () => (await workerSessions()) === 0, { timeoutMs: 10_000, intervalMs: 100, what: 'the idle hubs to close their connections' });

  await send('after'); // the sockets stayed open; the hub reconnects on demand
  assert.ok((await workerSessions()) >= 1);
  const { rows } = await file.stack.pool.query("SELECT count(*)::int AS n FROM messages WHERE client_msg_id LIKE 'idle-%'");
  assert.equal(rows[0].n, 2);
});
