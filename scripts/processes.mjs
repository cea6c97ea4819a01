// What the scripts and the test stacks share about the processes they start: a free loopback
// port, and stopping a child that runs in a process group of its own (with everything it started).
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * SIGTERM to the process group of `child` (spawned `detached`), SIGKILL after `graceMs` if it has
 * not exited by then; resolves once `exited` (the child's exit) does.
 * @param {import('node:child_process').ChildProcess} child
 * @param {Promise<unknown>} exited
 * @param {number} graceMs
 */
export async function stopProcessGroup(child, exited, graceMs) {
  const signal = (name) => {
    try {
      process.kill(-child.pid, name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
