// Issue 13, "hold 1,000 local users": the Worker reaches PostgreSQL through a pooler in
// transaction mode (the stack's PgBouncer, as Hyperdrive's pool in production), so a hub holds a
// connection to the pooler while it is busy, not one of PostgreSQL's. More users than PostgreSQL
// takes connections (max_connections=100 here and in CI), all with open sockets and all sending at
// once, are all served. With the Worker connecting directly (E2E_PGBOUNCER=off, how it was) both
// tests fail: there is no pooler, and the hubs past the server's limit meet "sorry, too many
// clients".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileStack } from '../support/file-stack.mjs';
import { sleep } from '../support/wait.mjs';
import { POOL_SIZE } from '../../scripts/pgbouncer.mjs';

/** Users with a socket each, all busy at once: half as many again as max_connections=100. */
const USERS = 150;
/** Messages each user sends, all at once. */
const SENDS = 3;

// Hubs keep their connection for the production default of 30 s once used, so every hub holds one
// through the whole burst.
const file = fileStack({ vars: { HUB_DB_IDLE_SECONDS: '30' } });

const b64 = (text) => Buffer.from(text).toString('base64');

/** The Worker's sessions in PostgreSQL (its application_name, which PgBouncer passes on). */
async function workerSessionsInPostgres() {
  const { rows } = await file.stack.pool.query(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'e2e-chat'",
  );
  return rows.map((r) => r.pid);
}

/** This stack's database's row of a SHOW command on the pooler's admin console. */
async function poolerRow(command) {
  const name = new URL(file.stack.databaseUrl).pathname.slice(1);
  return (await file.stack.pooler.admin(command)).find((r) => r.database === name);
}

test("the Worker's statements go through the stack's PgBouncer, in transaction mode", async () => {
  assert.ok(file.stack.pooler, 'the stack runs a PgBouncer in front of PostgreSQL (not with E2E_PGBOUNCER=off)');
  const queriesBefore = Number((await poolerRow('SHOW STATS'))?.total_query_count ?? 0);
  const alice = await file.api.register();
  const me = await file.api.get('/auth/me', { token: alice.token });
  assert.equal(me.status, 200);
  // Nothing else uses this pooler (the tests' own pool connects directly): these are the Worker's.
  const stats = await poolerRow('SHOW STATS');
  assert.ok(Number(stats.total_query_count) > queriesBefore, `queries through the pooler: ${JSON.stringify(stats)}`);
  assert.equal((await poolerRow('SHOW POOLS')).pool_mode, 'transaction');
  // Every session the Worker has in PostgreSQL is one of the pooler's server connections.
  const servers = new Set((await file.stack.pooler.admin('SHOW SERVERS')).map((s) => s.remote_pid));
  const sessions = await workerSessionsInPostgres();
  assert.ok(sessions.length >= 1 && sessions.length <= POOL_SIZE, `${sessions.length} sessions`);
  for (const pid of sessions) assert.ok(servers.has(pid), `session ${pid} is not the pooler's`);
});

test(`${USERS} users with open sockets, all sending at once, are all served: more busy hubs than PostgreSQL takes connections`, { timeout: 240_000 }, async (t) => {
  const { rows: [{ max_connections: max }] } = await file.stack.pool.query('SHOW max_connections');
  if (USERS <= Number(max)) t.diagnostic(`max_connections=${max}: ${USERS} users do not go past it on this server`);

  const users = [];
  while (users.length < USERS) {
    users.push(...(await Promise.all(Array.from({ length: 10 }, () => file.api.register()))));
  }

  // While they are busy: how many connections the Worker holds (clients at the pooler) and how
  // many PostgreSQL sessions it has, at most.
  const peak = { held: 0, sessions: 0 };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const [held, sessions] = await Promise.all([file.stack.workerConnections(), workerSessionsInPostgres()]);
      peak.held = Math.max(peak.held, held);
      peak.sessions = Math.max(peak.sessions, sessions.length);
      await sleep(100);
    }
  })();

  try {
    // Every socket at once: each hub takes its connection as its socket opens.
    const sockets = await Promise.all(users.map((u) => file.open(u.token)));
    // Pairs (0, 1), (2, 3), …: each writes to the other, SENDS messages each, all at once, the
    // first of each pair's sends racing to create their conversation.
    const partner = (i) => i ^ 1;
    const sent = users.map((u, i) => Array.from({ length: SENDS }, (_, n) => `pool-${i}-${n}`));
    users.forEach((u, i) => {
      for (const clientMsgId of sent[i]) {
        sockets[i].send({ type: 'send-message', toUserId: users[partner(i)].user.id, clientMsgId, epoch: 0, ciphertext: b64(clientMsgId) });
      }
    });
    const isError = (e) => e.type === 'error';
    const acks = await Promise.all(sockets.map(async (socket, i) => {
      const mine = [];
      while (mine.length < SENDS) {
        const event = await socket.next((e) => e.type === 'ack' || isError(e), 60_000);
        assert.equal(event.type, 'ack', `user ${i}: ${JSON.stringify(event)}`);
        mine.push(event);
      }
      return mine;
    }));
    for (const [i, socket] of sockets.entries()) {
      const got = [];
      while (got.length < SENDS) got.push((await socket.next('message', 30_000)).message.id);
      const expected = acks[partner(i)].map((ack) => ack.message.id);
      assert.deepEqual(got.sort(), expected.sort(), `user ${i} got what their partner sent`);
      assert.equal(socket.events.find(isError), undefined, `user ${i}: no error`);
    }
    const { rows: [{ n }] } = await file.stack.pool.query("SELECT count(*)::int AS n FROM messages WHERE client_msg_id LIKE 'pool-%'");
    assert.equal(n, USERS * SENDS, 'every message acked is stored');
  } finally {
    sampling = false;
    await sampler;
  }
  t.diagnostic(`peak: ${peak.held} connections held by the Worker, ${peak.sessions} PostgreSQL sessions`);
  assert.ok(peak.held >= USERS, `every busy hub held a connection (at most ${peak.held} at once)`);
  assert.ok(peak.sessions <= POOL_SIZE, `the Worker had at most ${POOL_SIZE} PostgreSQL sessions, not ${peak.sessions}`);
  // What the Worker logs when it cannot connect (SQLSTATE 53300: too many clients) or loses a connection.
  assert.doesNotMatch(file.stack.logs(), /db\.connect|database unavailable/, 'the Worker never lost the database');
});
