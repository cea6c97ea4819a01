// Realtime benchmark: users in pairs over WebSockets through their UserHubs, every message committed
// to PostgreSQL before its ack. Loopback only; every scenario is bounded in time.
//
//   bash bench/run realtime                      # everything below, ~6 minutes
//   bash bench/run realtime --only pairs --users 80 --shapes 500,saturated
//
// Scenarios (one wrangler dev stack, users registered once and reused):
// - pairs: for each --users count (default 80 and 200), user 2k and 2k+1 send to each other; the
//   shapes are a steady offered rate in msgs/s over all users (500 and 1,000), and `saturated`,
//   where every user sends --burst messages at once.
// - crowd: --crowd-users connected (1,000), of which --crowd-senders (200) send, --crowd-rate
//   msgs/s in all.
// - idle: --idle-sockets (10,000) sockets over the crowd's users (at most 10 per user), left idle
//   until their hubs hibernate; reports workerd's memory, then checks a message still gets through.
//
// For every sending shape: delivered/s, send→receive latency percentiles (the send time travels
// inside the opaque ciphertext), errors by code, whether every message was acked, stored and
// delivered, and the CPU the workerd processes used per delivered message from the first send to
// the last delivery (read from /proc: the Worker, every hub, and wrangler's proxy in front).
import { parseArgs } from 'node:util';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { startStack } from '../test/support/stack.mjs';
import { Api } from '../test/support/api.mjs';
import { cpuByProcess, startProfile } from './profile.mjs';

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string', default: 'pairs,crowd,idle' },
    users: { type: 'string', default: '80,200' },
    shapes: { type: 'string', default: '500,1000,saturated' },
    duration: { type: 'string', default: '10' }, // seconds of a steady shape
    burst: { type: 'string', default: '100' }, // messages each user sends at once when saturated
    drain: { type: 'string', default: '15' }, // seconds to wait for stragglers after sending stops
    'crowd-users': { type: 'string', default: '1000' },
    'crowd-senders': { type: 'string', default: '200' },
    'crowd-rate': { type: 'string', default: '500' },
    'idle-sockets': { type: 'string', default: '10000' },
    'idle-seconds': { type: 'string', default: '20' }, // long enough for workerd to hibernate the hubs
    profile: { type: 'string' }, // a V8 CPU profile of the Worker for the first sending shape
  },
});
const only = new Set(opts.only.split(','));
const userCounts = opts.users.split(',').map(Number).map((n) => n - (n % 2));
const shapes = opts.shapes.split(',');
const DURATION_MS = Number(opts.duration) * 1000;
const DRAIN_MS = Number(opts.drain) * 1000;
const MAX_SOCKETS_PER_USER = 10;
const PROXY_FILES_PER_SOCKET = 4;

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
/**
 * The stack's workerd processes (the Worker with every hub, and wrangler's proxy in front of it):
 * CPU seconds used so far and resident memory. Only those of this stack's process group, so other
 * wrangler dev instances on the machine do not count.
 */
function workerd() {
  const group = String(stack.processGroup());
  const found = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'workerd') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[2] !== group) continue;
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      found.push({ pid, cpu: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND, rssMb: rssKb / 1024 });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
const cpuOf = (snapshot) => new Map(snapshot.map((p) => [p.pid, p.cpu]));

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items`, `limit` at a time. */
async function pooled(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }));
  return results;
}

const openFiles = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? '1024';
const stack = await startStack();
const api = new Api(stack.baseUrl);
const results = [];
const users = [];
const conversations = new Map(); // pair index → conversation id

/** Users 0..n-1 exist, and pair k (users 2k, 2k+1) has its conversation. */
async function ensureUsers(n) {
  const start = users.length;
  const added = await pooled(Array.from({ length: Math.max(0, n - start) }, (_, i) => start + i), 8,
    (i) => api.register({ displayName: `Bench ${i}` }));
  users.push(...added);
  await pooled(Array.from({ length: n / 2 }, (_, k) => k).filter((k) => !conversations.has(k)), 8, async (k) => {
    const { body } = await api.get(`/conversations/${users[2 * k + 1].user.id}`, { token: users[2 * k].token });
    conversations.set(k, body.id);
  });
}

/** Why the server refuses a socket for `token`: the status and body of a plain upgrade request. */
function refusal(token) {
  return new Promise((resolve) => {
    const req = http.get(`${stack.baseUrl}/ws`, {
      headers: {
        upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': `e2e-chat.v1, bearer.${token}`,
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve(`${res.statusCode} ${body.slice(0, 200)}`));
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve('101 (accepted on a second try)'); });
    req.on('error', (e) => resolve(e.message));
  });
}

/**
 * One socket per user, reporting to `sink` (the scenario in progress, if any). The bench reads
 * frames itself: one JSON.parse per frame, nothing queued. A refused socket stops the run with
 * the server's reason.
 */
const opening = { count: 0 };
async function openSockets(userIndexes, sink) {
  opening.count = 0;
  return pooled(userIndexes, 16, async (i) => {
    const url = new URL('/ws', stack.baseUrl.replace(/^http/, 'ws'));
    const ws = new WebSocket(url, ['e2e-chat.v1', `bearer.${users[i].token}`]);
    const opened = await new Promise((resolve) => {
      ws.addEventListener('message', (e) => {
        const event = JSON.parse(e.data);
        if (event.type === 'ready') resolve(true);
        sink.current?.(i, event);
      });
      ws.addEventListener('error', () => resolve(false), { once: true });
    });
    if (!opened) {
      const files = workerd().map((p) => { try { return readdirSync(`/proc/${p.pid}/fd`).length; } catch { return '?'; } });
      throw new Error(`the socket of user ${i} was refused after ${opening.count} opened ` +
        `(workerd open files: ${files.join(', ')}): ${await refusal(users[i].token)}`);
    }
    opening.count += 1;
    return ws;
  });
}

/**
 * One sending shape. `plan(send)` sends; `expected()` is how many messages were sent so far.
 * Waits for every delivery (or the drain deadline), then reads what was stored.
 */
async function measure(name, sink, plan, { profileFile, deliveries } = {}) {
  const tag = `bench-${results.length}-${Date.now().toString(36)}`; // a clientMsgId is at most 64 characters
  const latencies = [];
  const errorCodes = {};
  let delivered = 0;
  let acked = 0;
  let errors = 0;
  let sent = 0;
  let lastDelivery = 0;
  sink.current = (i, event) => {
    if (event.type === 'message' && event.message.senderId !== users[i].user.id && event.message.clientMsgId.startsWith(tag)) {
      const now = performance.timeOrigin + performance.now();
      latencies.push(now - Number(Buffer.from(event.message.ciphertext, 'base64').toString()));
      delivered += 1;
      lastDelivery = performance.now();
    } else if (event.type === 'ack' && event.clientMsgId?.startsWith(tag)) {
      acked += 1;
    } else if (event.type === 'error') {
      errors += 1;
      errorCodes[event.code] = (errorCodes[event.code] ?? 0) + 1;
    }
  };
  const profiler = profileFile ? await startProfile(stack.inspectorPort(), profileFile) : null;
  const cpuBefore = cpuOf(workerd());
  const everyBefore = cpuByProcess();
  const started = performance.now();
  let n = 0;
  const send = (ws, conversationId) => {
    ws.send(JSON.stringify({
      type: 'send-message',
      conversationId,
      clientMsgId: `${tag}-${n++}`,
      ciphertext: Buffer.from(String(performance.timeOrigin + performance.now())).toString('base64'),
    }));
    sent += 1;
  };
  await plan(send, started);
  const sendSeconds = (performance.now() - started) / 1000;
  const drainUntil = performance.now() + DRAIN_MS;
  while ((delivered < (deliveries ?? sent) || acked < sent) && performance.now() < drainUntil) await sleep(20);
  const end = delivered > 0 ? lastDelivery : performance.now();
  const cpuAfter = workerd();
  // What else the machine spent meanwhile (two cores in all), by process name: PostgreSQL's
  // backends, the pooler, the benchmark's own client and wrangler, the workerd processes.
  const byName = new Map();
  for (const [key, seconds] of cpuByProcess()) {
    const name = key.slice(0, key.lastIndexOf('['));
    byName.set(name, (byName.get(name) ?? 0) + seconds - (everyBefore.get(key) ?? seconds));
  }
  const profile = profiler ? await profiler.stop() : null;
  sink.current = null;
  const cpuSeconds = cpuAfter.reduce((sum, p) => sum + p.cpu - (cpuBefore.get(p.pid) ?? p.cpu), 0);
  const busiest = Math.max(...cpuAfter.map((p) => p.cpu - (cpuBefore.get(p.pid) ?? p.cpu)));
  const { rows: [{ stored }] } = await stack.pool.query(
    'SELECT count(*)::int AS stored FROM messages WHERE client_msg_id LIKE $1', [`${tag}-%`]);
  latencies.sort((a, b) => a - b);
  const seconds = (end - started) / 1000;
  const result = {
    name, sent, acked, stored, delivered, errors, errorCodes,
    sentPerSecond: sent / sendSeconds, deliveredPerSecond: delivered / seconds,
    p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99),
    workerdCpuMsPerMessage: (1000 * cpuSeconds) / Math.max(1, delivered),
    busiestWorkerdCpuMsPerMessage: (1000 * busiest) / Math.max(1, delivered),
    lost: sent - Math.min(acked, stored, delivered),
    cpuSecondsByProcess: Object.fromEntries([...byName].filter(([, v]) => v >= 0.05).sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, Number(v.toFixed(2))])),
    wallSeconds: seconds,
  };
  results.push(result);
  console.log(
    `${name}: sent ${sent} (${result.sentPerSecond.toFixed(0)}/s), acked ${acked}, stored ${stored}, delivered ${delivered} ` +
      `(${result.deliveredPerSecond.toFixed(0)}/s), errors ${errors} ${JSON.stringify(errorCodes)}` +
      `${result.lost ? `, ${result.lost} NOT acked/stored/delivered` : ''}\n` +
      `  latency p50 ${result.p50.toFixed(1)} ms  p95 ${result.p95.toFixed(1)} ms  p99 ${result.p99.toFixed(1)} ms; ` +
      `workerd CPU ${result.workerdCpuMsPerMessage.toFixed(2)} ms per delivered message ` +
      `(busiest process ${result.busiestWorkerdCpuMsPerMessage.toFixed(2)} ms)\n` +
      `  CPU seconds over ${seconds.toFixed(1)} s: ${Object.entries(result.cpuSecondsByProcess).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  );
  if (profile) console.log(profile);
  console.log(JSON.stringify({ bench: 'realtime', at: new Date().toISOString(), ...result }));
  await sleep(2000); // let the hubs settle before the next shape
  return result;
}

/** Each sender sends to its partner at `ratePerUser` msgs/s for the duration, spread over one interval. */
function steady(sockets, senders, ratePerUser) {
  return (send, started) => {
    const interval = 1000 / ratePerUser;
    return Promise.all(senders.map((i, k) => new Promise((resolve) => {
      setTimeout(function tick() {
        if (performance.now() - started >= DURATION_MS) return resolve();
        send(sockets[i], conversations.get(Math.floor(i / 2)));
        setTimeout(tick, interval);
      }, (interval * k) / senders.length);
    })));
  };
}

/** Every sender sends `burst` messages at once. */
function saturated(sockets, senders, burst) {
  return async (send) => {
    for (let m = 0; m < burst; m += 1) for (const i of senders) send(sockets[i], conversations.get(Math.floor(i / 2)));
  };
}

const closeAll = (sockets) => Promise.all(sockets.map((ws) => new Promise((resolve) => {
  if (ws.readyState === WebSocket.CLOSED) return resolve();
  ws.addEventListener('close', resolve, { once: true });
  ws.close();
})));

try {
  const { rows: [{ max_connections: maxConnections }] } = await stack.pool.query('SHOW max_connections');
  console.log(`# open files per process: ${openFiles} (the idle run needs about four per socket in wrangler's proxy)`);
  console.log(`# PostgreSQL max_connections=${maxConnections}, ${stack.pooler ? 'through the stack\'s PgBouncer (transaction mode)' : 'connected directly (no PgBouncer)'}; ${new Date().toISOString()}`);
  let profileFile = opts.profile;
  if (only.has('pairs')) {
    for (const count of userCounts) {
      await ensureUsers(count);
      const sink = { current: null };
      const indexes = Array.from({ length: count }, (_, i) => i);
      const sockets = await openSockets(indexes, sink);
      // Warm up: every hub opens its connection and the code paths are compiled.
      await measure(`warm-up ${count} users`, sink, saturated(sockets, indexes, 2));
      results.pop();
      for (const shape of shapes) {
        const name = `${count} users, ${shape === 'saturated' ? `saturated (${opts.burst} each at once)` : `${shape} msgs/s`}`;
        const plan = shape === 'saturated'
          ? saturated(sockets, indexes, Number(opts.burst))
          : steady(sockets, indexes, Number(shape) / count);
        await measure(name, sink, plan, { profileFile });
        profileFile = undefined;
      }
      await closeAll(sockets);
    }
  }
  if (only.has('crowd') || only.has('idle')) await ensureUsers(Number(opts['crowd-users']));
  if (only.has('crowd')) {
    const count = Number(opts['crowd-users']);
    const senders = Array.from({ length: Number(opts['crowd-senders']) }, (_, i) => i);
    const sink = { current: null };
    const sockets = await openSockets(Array.from({ length: count }, (_, i) => i), sink);
    await measure(`crowd warm-up`, sink, saturated(sockets, senders, 1));
    results.pop();
    await measure(`${count} users connected, ${senders.length} sending ${opts['crowd-rate']} msgs/s`, sink,
      steady(sockets, senders, Number(opts['crowd-rate']) / senders.length));
    await closeAll(sockets);
  }
  if (only.has('idle')) {
    // wrangler's proxy in front of the Worker holds 3.4 to 4 open files per socket (measured: 20,000
    // at 4,971 to 5,806 sockets), and past its limit it resets connections: run what fits, and say so.
    const fitting = Math.floor((Number(openFiles) - 1000) / PROXY_FILES_PER_SOCKET);
    const total = Math.min(Number(opts['idle-sockets']), fitting);
    if (total < Number(opts['idle-sockets'])) {
      console.log(`# ${opts['idle-sockets']} sockets need about ${Math.ceil(Number(opts['idle-sockets']) * PROXY_FILES_PER_SOCKET)} open files in wrangler's proxy; ` +
        `the limit here is ${openFiles} (ulimit -Hn): running ${total}`);
    }
    const count = Math.min(users.length, Math.ceil(total / MAX_SOCKETS_PER_USER));
    const before = workerd();
    const sink = { current: null };
    const owners = Array.from({ length: total }, (_, s) => s % count);
    const opening = performance.now();
    const sockets = await openSockets(owners, sink);
    const openSeconds = (performance.now() - opening) / 1000;
    const open = workerd();
    await sleep(Number(opts['idle-seconds']) * 1000);
    const idle = workerd();
    const stillOpen = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
    // After hibernation, a message between two of the idle users still arrives on all their sockets.
    const perUser = owners.filter((user) => user === 0).length;
    const probe = await measure(`after ${opts['idle-seconds']} s idle: one message each way in pair 0`, sink,
      saturated(sockets, [0, 1], 1), { deliveries: 2 * perUser });
    results.pop();
    // The Worker's workerd is the one that worked (the most CPU); the other is wrangler's proxy.
    const workerPid = open.reduce((a, b) => (b.cpu > a.cpu ? b : a)).pid;
    const mb = (snapshot) => snapshot.map((p) => `${p.pid === workerPid ? 'Worker' : 'proxy'} ${p.rssMb.toFixed(0)} MB`).sort().join(', ');
    const result = {
      name: `${total} idle sockets (${count} users)`, opened: sockets.length, openSeconds, stillOpen,
      workerdRssMb: { before: mb(before), open: mb(open), idle: mb(idle) }, probeDelivered: probe.delivered,
    };
    results.push(result);
    console.log(`${result.name}: opened in ${openSeconds.toFixed(1)} s, ${stillOpen} still open after ${opts['idle-seconds']} s; ` +
      `workerd resident memory before ${result.workerdRssMb.before}, with the sockets open ${result.workerdRssMb.open}, ` +
      `idle ${result.workerdRssMb.idle}; the probe reached ${probe.delivered} of the ${2 * perUser} sockets it was for`);
    console.log(JSON.stringify({ bench: 'realtime', at: new Date().toISOString(), ...result }));
    await closeAll(sockets);
  }
  console.log('\n| scenario | delivered/s | p50 | p95 | p99 | errors | lost | workerd CPU/msg |\n|---|---|---|---|---|---|---|---|');
  for (const r of results.filter((r) => r.deliveredPerSecond !== undefined)) {
    console.log(`| ${r.name} | ${r.deliveredPerSecond.toFixed(0)} | ${r.p50.toFixed(0)} ms | ${r.p95.toFixed(0)} ms | ` +
      `${r.p99.toFixed(0)} ms | ${r.errors} | ${r.lost} | ${r.workerdCpuMsPerMessage.toFixed(2)} ms |`);
  }
} finally {
  await stack.stop();
}
