// REST benchmark: GET /users, a deep message page, and login, against the real Worker under
// `wrangler dev` with a real PostgreSQL. Loopback only; each scenario is bounded by a duration and a
// request count. Prints requests/s and latency percentiles per scenario.
//
//   bash bench/run rest [--duration 10] [--concurrency 16] [--max-requests 20000]
import { parseArgs } from 'node:util';
import { startStack } from '../test/support/stack.mjs';
import { Api } from '../test/support/api.mjs';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    'login-concurrency': { type: 'string', default: '4' },
    'max-requests': { type: 'string', default: '20000' },
    messages: { type: 'string', default: '100000' },
    users: { type: 'string', default: '1000' },
  },
});
const DURATION_MS = Number(opts.duration) * 1000;
const MAX_REQUESTS = Number(opts['max-requests']);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `once` from `concurrency` loops until the duration or the request budget is spent. */
async function scenario(name, concurrency, once) {
  const latencies = [];
  let errors = 0;
  let issued = 0;
  const deadline = performance.now() + DURATION_MS;
  const started = performance.now();
  const loop = async () => {
    while (performance.now() < deadline && issued < MAX_REQUESTS) {
      issued += 1;
      const t0 = performance.now();
      const ok = await once().catch(() => false);
      latencies.push(performance.now() - t0);
      if (!ok) errors += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const result = {
    scenario: name,
    concurrency,
    requests: latencies.length,
    errors,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
  console.log(
    `${name.padEnd(28)} c=${String(concurrency).padStart(3)}  ${String(result.requests).padStart(6)} req  ` +
      `${result.rps.toFixed(1).padStart(8)} req/s  p50 ${result.p50.toFixed(1).padStart(7)} ms  ` +
      `p99 ${result.p99.toFixed(1).padStart(7)} ms  errors ${errors}`,
  );
  return result;
}

/** A message cursor as src/cursor.rs encodes it: tag 'm', the id's 16 bytes, created_at in µs (i64 BE). */
function messageCursor(id, createdAtMicros) {
  const bytes = Buffer.alloc(25);
  bytes[0] = 'm'.charCodeAt(0);
  Buffer.from(id.replaceAll('-', ''), 'hex').copy(bytes, 1);
  bytes.writeBigInt64BE(BigInt(createdAtMicros), 17);
  return bytes.toString('base64url');
}

const stack = await startStack({ vars: { PBKDF2_ITERATIONS: '600000' } });
try {
  const api = new Api(stack.baseUrl);
  const password = 'benchmark password';
  const alice = await api.register({ displayName: 'Alice', password });
  const bob = await api.register({ displayName: 'Bob', password });
  const conversationId = (await api.get(`/conversations/${bob.user.id}`, { token: alice.token })).body.id;
  await stack.pool.query(
    `INSERT INTO users (id, phone, display_name, password_hash)
     SELECT gen_random_uuid(), '+1666' || lpad(g::text, 8, '0'), 'Directory user ' || g, 'pbkdf2-sha256$1$AAAA$AAAA'
     FROM generate_series(1, $1) g`, [Number(opts.users)]);
  await stack.pool.query(
    `INSERT INTO messages (id, conversation_id, seq, sender_id, kind, epoch, ciphertext, client_msg_id, created_at)
     SELECT gen_random_uuid(), $1, g, $2, 'app', 0, decode(repeat('ab', 200), 'hex'), 'bench-' || g,
            timestamptz '2026-01-01' + (g || ' milliseconds')::interval
     FROM generate_series(1, $3) g`, [conversationId, alice.user.id, Number(opts.messages)]);
  await stack.pool.query('ANALYZE');
  const { rows: [deep] } = await stack.pool.query(
    `SELECT id, (extract(epoch FROM created_at) * 1000000)::int8 AS micros FROM messages
     WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1`,
    [conversationId, Math.floor(Number(opts.messages) * 0.9)]);
  const deepPath = `/conversations/${conversationId}/messages?limit=50&cursor=${messageCursor(deep.id, deep.micros)}`;
  const check = await api.get(deepPath, { token: bob.token });
  if (check.status !== 200 || check.body.items.length !== 50) throw new Error(`deep page is not what the bench expects: ${check.status}`);

  const concurrency = Number(opts.concurrency);
  const get = (path) => async () => {
    const res = await fetch(stack.baseUrl + path, { headers: { authorization: `Bearer ${alice.token}` } });
    await res.arrayBuffer();
    return res.status === 200;
  };
  console.log(`# ${opts.users} directory users, ${opts.messages} messages; ${opts.duration} s or ${MAX_REQUESTS} requests per scenario`);
  const results = [
    await scenario('GET /users?limit=50', concurrency, get('/users?limit=50')),
    await scenario('GET messages (90% deep, 50)', concurrency, get(deepPath)),
    await scenario('POST /auth/login (600k it.)', Number(opts['login-concurrency']), async () => {
      const res = await fetch(stack.baseUrl + '/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ phone: alice.user.phone, password }),
      });
      await res.arrayBuffer();
      return res.status === 200;
    }),
  ];
  console.log(JSON.stringify({ bench: 'rest', at: new Date().toISOString(), results }));
} finally {
  await stack.stop();
}
