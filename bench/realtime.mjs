// Realtime benchmark: N users in pairs over WebSockets through their UserHubs, each sending at a
// set rate for a bounded time, with every message committed to PostgreSQL before its ack.
// Reports delivered messages/s, send→receive latency percentiles and errors. Loopback only.
//
//   bash bench/run realtime [--users 100] [--rate 10] [--duration 10]
//
// Each sending user's hub holds a connection while it is busy. Through the stack's PgBouncer
// (transaction mode, as Hyperdrive in production) they share a few PostgreSQL connections. Without
// one (no PgBouncer installed, or E2E_PGBOUNCER=off) each is a PostgreSQL connection, so the
// users must fit in the server's max_connections with room for the Worker's own requests: the
// default of 100 is lowered to fit, with a note; an explicit --users that does not fit is refused.
import { parseArgs } from 'node:util';
import { startStack } from '../test/support/stack.mjs';
import { Api } from '../test/support/api.mjs';
import { Socket } from '../test/support/ws.mjs';
import { startProfile } from './profile.mjs';

const { values: opts } = parseArgs({
  options: {
    users: { type: 'string' }, // default 100, lowered to what the database can hold
    rate: { type: 'string', default: '10' }, // messages per second per user
    duration: { type: 'string', default: '10' },
    drain: { type: 'string', default: '5' }, // seconds to wait for stragglers after sending stops
    profile: { type: 'string' }, // write a CPU profile of the Worker here and print where the time went
  },
});
let USERS = Number(opts.users ?? 100) - (Number(opts.users ?? 100) % 2);
const RATE = Number(opts.rate);
const DURATION_MS = Number(opts.duration) * 1000;

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

const stack = await startStack();
const { rows: [{ max_connections: maxConnections }] } = await stack.pool.query('SHOW max_connections');
const fits = stack.pooler ? Infinity : Number(maxConnections) - 15;
if (USERS > fits && opts.users === undefined) {
  USERS = fits - (fits % 2);
  console.log(`# PostgreSQL's max_connections=${maxConnections} holds one connection per busy hub for ${USERS} users, not 100: running ${USERS}`);
} else if (USERS > fits) {
  await stack.stop();
  console.error(`--users ${USERS} needs more PostgreSQL connections than max_connections=${maxConnections} allows (one per hub); use fewer users or raise max_connections.`);
  process.exit(2);
}
try {
  const api = new Api(stack.baseUrl);
  const users = [];
  for (let i = 0; i < USERS; i += 1) users.push(await api.register({ displayName: `Bench ${i}` }));
  const sockets = [];
  for (const user of users) {
    const socket = await Socket.open(stack.baseUrl, user.token);
    await socket.next('ready');
    sockets.push(socket);
  }
  // Create each pair's conversation up front so the run measures sends, not first contact.
  const conversations = [];
  for (let i = 0; i < USERS; i += 2) {
    const { body } = await api.get(`/conversations/${users[i + 1].user.id}`, { token: users[i].token });
    conversations.push(body.id);
  }

  const latencies = [];
  let delivered = 0;
  let acked = 0;
  let errors = 0;
  let sent = 0;
  const errorCodes = {};
  sockets.forEach((socket, i) => {
    socket.ws.addEventListener('message', (e) => {
      const event = JSON.parse(e.data);
      if (event.type === 'message' && event.message.senderId !== users[i].user.id) {
        const sentAt = Number(Buffer.from(event.message.ciphertext, 'base64').toString());
        latencies.push(performance.timeOrigin + performance.now() - sentAt);
        delivered += 1;
      } else if (event.type === 'ack') {
        acked += 1;
      } else if (event.type === 'error') {
        errors += 1;
        errorCodes[event.code] = (errorCodes[event.code] ?? 0) + 1;
      }
    });
    socket.events = []; // the bench reads events itself
    socket.ws.addEventListener('message', () => { socket.events.length = 0; });
  });

  console.log(`# ${USERS} users in ${USERS / 2} pairs, ${RATE} msg/s each (${USERS * RATE} msg/s offered), ${opts.duration} s`);
  const profiler = opts.profile ? await startProfile(stack.inspectorPort(), opts.profile) : null;
  const started = performance.now();
  const interval = 1000 / RATE;
  await Promise.all(sockets.map((socket, i) => new Promise((resolve) => {
    const conversationId = conversations[Math.floor(i / 2)];
    let n = 0;
    // Spread the senders over one interval so they do not all fire at once.
    setTimeout(function tick() {
      if (performance.now() - started >= DURATION_MS) return resolve();
      socket.send({
        type: 'send-message',
        conversationId,
        clientMsgId: `bench-${i}-${n++}`,
        ciphertext: Buffer.from(String(performance.timeOrigin + performance.now())).toString('base64'),
      });
      sent += 1;
      setTimeout(tick, interval);
    }, (interval * i) / USERS);
  })));
  const sendSeconds = (performance.now() - started) / 1000;
  const drainUntil = performance.now() + Number(opts.drain) * 1000;
  while (delivered < sent && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 50));
  const seconds = (performance.now() - started) / 1000;
  if (profiler) console.log(await profiler.stop());
  latencies.sort((a, b) => a - b);
  const { rows } = await stack.pool.query("SELECT count(*)::int AS n FROM messages WHERE client_msg_id LIKE 'bench-%'");
  const result = {
    users: USERS, offered: USERS * RATE, sent, acked, stored: rows[0].n, delivered, errors, errorCodes,
    deliveredPerSecond: delivered / seconds, sentPerSecond: sent / sendSeconds,
    p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99),
  };
  console.log(
    `sent ${sent} (${result.sentPerSecond.toFixed(0)}/s), acked ${acked}, stored ${result.stored}, delivered ${delivered} ` +
      `(${result.deliveredPerSecond.toFixed(0)}/s), errors ${errors} ${JSON.stringify(errorCodes)}\n` +
      `send→receive latency p50 ${result.p50.toFixed(1)} ms  p95 ${result.p95.toFixed(1)} ms  p99 ${result.p99.toFixed(1)} ms`,
  );
  console.log(JSON.stringify({ bench: 'realtime', at: new Date().toISOString(), ...result }));
  await Promise.all(sockets.map((s) => s.close().catch(() => {})));
} finally {
  await stack.stop();
}
