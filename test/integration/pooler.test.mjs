// Issue 13, "hold 1,000 local users": the Worker reaches PostgreSQL through a pooler in
// transaction mode (the stack's PgBouncer, as Hyperdrive's pool in production), so a hub holds a
// connection to the pooler while it is busy, not one of PostgreSQL's. More users than PostgreSQL
// takes connections (max_connections=100 here and in CI), all with open sockets and all sending at
// once, are all served. With the Worker connecting directly (E2E_PGBOUNCER=off, how it was) these
// tests fail: there is no pooler, and the hubs past the server's limit meet "sorry, too many
// clients".
//
// The pooler listens where every local process can reach it, so it asks every client for a
// password (SCRAM), serves the stack's database only and gives nobody its admin console.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import pg from 'pg';
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

/** This stack's database's row of a SHOW command on the pooler's console. */
async function poolerRow(command) {
  const name = new URL(file.stack.databaseUrl).pathname.slice(1);
  return (await file.stack.pooler.show(command)).find((r) => r.database === name);
}

/**
 * What the pooler answers a client's startup message with, before any password: its type ('R'
 * asks for authentication, 'E' is an error) and body.
 */
function startupAnswer(port, params) {
  const int32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const body = Buffer.concat([
    int32(196608), // protocol 3.0
    ...Object.entries(params).map(([key, value]) => Buffer.from(`${key}\0${value}\0`)),
    Buffer.from('\0'),
  ]);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.concat([int32(body.length + 4), body])));
    let data = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length < 5 || data.length < 1 + data.readInt32BE(1)) return;
      socket.destroy();
      resolve({ type: String.fromCharCode(data[0]), body: data.subarray(5, 1 + data.readInt32BE(1)) });
    });
    socket.on('error', reject);
  });
}

/** Connects to the pooler as `options` say and runs `SELECT current_database()`: its answer. */
async function selectThrough(options) {
  const client = new pg.Client({ host: '127.0.0.1', port: file.stack.pooler.port, ...options });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query('SELECT current_database() AS db')).rows[0].db;
  } finally {
    await client.end().catch(() => {});
  }
}

test('the pooler asks every client for its own password, serves only the stack\'s database, and gives nobody its admin console', async () => {
  const { pooler, databaseUrl } = file.stack;
  assert.ok(pooler, 'the stack runs a PgBouncer in front of PostgreSQL (not with E2E_PGBOUNCER=off)');
  const name = new URL(databaseUrl).pathname.slice(1);
  const url = new URL(pooler.url);
  const user = decodeURIComponent(url.username);
  // What the Worker is given carries a password made for this pooler, not DATABASE_URL's.
  assert.match(url.password, /^[0-9a-f]{48}$/);
  assert.notEqual(url.password, new URL(databaseUrl).password);
  assert.equal(url.pathname, `/${name}`);

  // Before any password, every database (the console's too) answers with a SCRAM challenge, not
  // AuthenticationOk as under trust auth.
  for (const database of [name, 'pgbouncer']) {
    const answer = await startupAnswer(pooler.port, { user, database });
    assert.equal(answer.type, 'R', `${database}: ${answer.body}`);
    assert.equal(answer.body.readInt32BE(0), 10, `${database}: AuthenticationSASL, not ${answer.body.readInt32BE(0)}`);
    assert.match(answer.body.toString('latin1'), /SCRAM-SHA-256/);
  }
  await assert.rejects(selectThrough({ user, password: 'postgres', database: name }), /SASL authentication failed/);
  await assert.rejects(selectThrough({ user, password: `${url.password}x`, database: name }), /SASL authentication failed/);
  assert.equal(await selectThrough({ user, password: url.password, database: name }), name);
  // Other databases of the server are not reachable through it, even with the password.
  await assert.rejects(selectThrough({ user, password: url.password, database: 'postgres' }), /no such database/);
  // On the console: SHOW, and nothing that changes the pooler.
  assert.ok((await pooler.show('SHOW CLIENTS')).length >= 1);
  await assert.rejects(pooler.show('PAUSE'), /admin access needed/);
  await assert.rejects(pooler.show('RELOAD'), /admin access needed/);
});

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
  const servers = new Set((await file.stack.pooler.show('SHOW SERVERS')).map((s) => s.remote_pid));
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
