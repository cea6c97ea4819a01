// Where the time goes during a benchmark: a V8 CPU profile of the Worker's isolate, taken through
// wrangler dev's inspector, and the CPU time each process on the machine used meanwhile. Linux only
// (the process accounting reads /proc).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) per process, keyed by name and pid. */
export function cpuByProcess() {
  const totals = new Map();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    totals.set(`${name}[${pid}]`, seconds);
  }
  return totals;
}

/** Talks the Chrome DevTools Protocol to the Worker's isolate. */
async function connectInspector(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  // The inspector proxy refuses a client that names no local Origin (Node's WebSocket names none).
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl, { headers: { Origin: 'http://localhost' } });
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', reject, { once: true });
  });
  let nextId = 1;
  const pending = new Map();
  const listeners = new Map(); // event method → callbacks
  ws.addEventListener('message', (e) => {
    const reply = JSON.parse(e.data);
    if (reply.method) for (const listener of listeners.get(reply.method) ?? []) listener(reply.params);
    if (reply.id && pending.has(reply.id)) {
      const { resolve, reject } = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.error) reject(new Error(`${reply.error.message}`));
      else resolve(reply.result);
    }
  });
  return {
    call(method, params = {}) {
      const id = nextId++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    on(method, listener) {
      listeners.set(method, [...(listeners.get(method) ?? []), listener]);
    },
    close: () => ws.close(),
  };
}

/**
 * A name for each profile node. wasm-bindgen's JavaScript glue is a bundle of anonymous functions,
 * each passed as the import `__wbg_<name>_<hash>`: those are named after their import (read from
 * the script's source), and a native frame (no script, no name: workerd's own work, such as a
 * WebSocket send or console.log) is named after the frame that called it.
 */
function namer(profile, sources) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  const own = (node) => {
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    const name = `${functionName || '(anonymous)'}${url ? ` ${url.split('/').pop()}` : ''}`;
    // The function starts at (line, column), right after its key: `__wbg_<name>_<hash>: …function(`.
    const before = sources.get(url.split('/').pop())?.[lineNumber]?.slice(0, columnNumber) ?? '';
    const keys = [...before.matchAll(/__wbg_(\w+?)_[0-9a-f]{8,}\s*:/g)];
    return !functionName && keys.length ? `glue ${keys[keys.length - 1][1]}` : name;
  };
  return (node) => {
    const { functionName, url } = node.callFrame;
    const parent = parentOf.get(node.id);
    if (!url && !functionName && parent && byId.has(parent.id)) return `native, called by ${own(parent)}`;
    return own(node);
  };
}

/** Self time per function, largest first, from a V8 `.cpuprofile`. */
function selfTimes(profile, sources) {
  const intervalMs = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const byName = new Map();
  const nameOf = namer(profile, sources);
  for (const node of profile.nodes) {
    const name = nameOf(node);
    byName.set(name, (byName.get(name) ?? 0) + (node.hitCount ?? 0) * intervalMs);
  }
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  return { totalMs, top: [...byName.entries()].sort((a, b) => b[1] - a[1]) };
}

/**
 * Starts profiling; `stop()` ends it, writes the raw profile to `path` (open it in Chrome DevTools)
 * and returns a printable summary.
 */
export async function startProfile(inspectorPort, path) {
  const inspector = await connectInspector(inspectorPort);
  const scripts = new Map(); // url → scriptId, to name the glue functions from their source
  inspector.on('Debugger.scriptParsed', ({ scriptId, url }) => url && scripts.set(url, scriptId));
  await inspector.call('Debugger.enable');
  await inspector.call('Profiler.enable');
  await inspector.call('Profiler.setSamplingInterval', { interval: 1000 });
  await inspector.call('Profiler.start');
  const cpuBefore = cpuByProcess();
  const wallStart = performance.now();
  return {
    async stop() {
      const { profile } = await inspector.call('Profiler.stop');
      const sources = new Map();
      for (const [url, scriptId] of scripts) {
        if (!url.endsWith('.js')) continue;
        const { scriptSource } = await inspector.call('Debugger.getScriptSource', { scriptId });
        sources.set(url.split('/').pop(), scriptSource.split('\n'));
      }
      await inspector.call('Debugger.disable');
      const wallSeconds = (performance.now() - wallStart) / 1000;
      const cpuAfter = cpuByProcess();
      inspector.close();
      writeFileSync(path, JSON.stringify(profile));
      for (const [file, lines] of sources) writeFileSync(`${path}.${file}`, lines.join('\n'));
      // Per name, with the busiest process of that name: one workerd thread near 100% is the bound.
      const byName = new Map();
      for (const [key, seconds] of cpuAfter) {
        const used = seconds - (cpuBefore.get(key) ?? 0);
        const name = key.slice(0, key.lastIndexOf('['));
        const entry = byName.get(name) ?? { seconds: 0, processes: 0, busiest: 0 };
        entry.seconds += used;
        entry.processes += used > 0 ? 1 : 0;
        entry.busiest = Math.max(entry.busiest, used);
        byName.set(name, entry);
      }
      const processes = [...byName.entries()].filter(([, e]) => e.seconds > 0.05).sort((a, b) => b[1].seconds - a[1].seconds);
      const { totalMs, top } = selfTimes(profile, sources);
      const lines = [`# CPU by process over ${wallSeconds.toFixed(1)} s wall (2 cores = ${(2 * wallSeconds).toFixed(1)} s):`];
      for (const [name, { seconds, processes: count, busiest }] of processes) {
        lines.push(`#   ${name.slice(0, 16).padEnd(16)} ${seconds.toFixed(2).padStart(6)} s in ${count} process(es); busiest ${((100 * busiest) / wallSeconds).toFixed(0)}% of a core`);
      }
      lines.push(`# Worker isolate self time, top functions (profile in ${path}):`);
      for (const [name, ms] of top.slice(0, 30)) lines.push(`#   ${((100 * ms) / totalMs).toFixed(1).padStart(5)}%  ${name}`);
      return lines.join('\n');
    },
  };
}
