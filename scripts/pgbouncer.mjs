// A local PgBouncer in transaction mode, standing in for what Hyperdrive does in production: the
// Worker's connections (every REST request opens one, every busy user's hub holds one) share a
// few PostgreSQL connections, each lent for one transaction at a time. Without it, under
// `wrangler dev` every one of them is a PostgreSQL connection of its own, and a local server
// (max_connections=100) turns the 101st away ("sorry, too many clients"). The Worker sends only
// unnamed statements (src/db/sql.rs), as transaction mode requires.
//
// Each caller runs an instance of its own (own port, config and auth file in a temporary
// directory), never Debian's system service: one per test stack (test/support/stack.mjs), one
// beside `wrangler dev` for scripts/dev:
//
//   node scripts/pgbouncer.mjs <database url> -- <command…>
//
// runs the command with CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE pointing at that
// database through the pooler, and stops the pooler when the command ends. Without PgBouncer
// (PGBOUNCER_BIN, else `pgbouncer` on PATH or in /usr/sbin) it connects directly, with a note;
// E2E_PGBOUNCER=off does the same on purpose (to compare with how it was).
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** Server connections per database: two stacks side by side stay well under max_connections=100. */
export const POOL_SIZE = 20;
/** Clients one instance accepts: far more than a local run opens (every busy hub is one). */
export const MAX_CLIENTS = 16_000;
/** Seconds an unused server connection is kept: given back soon, for the other stacks' use. */
export const SERVER_IDLE_SECONDS = 10;
/** Open files the instance asks for: a client and a server connection are a file each. */
const OPEN_FILES = MAX_CLIENTS + 4 * POOL_SIZE + 100;
const START_TIMEOUT_MS = 10_000;

/** pgbouncer instances still running, killed if this process exits first. */
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }
});

/** The pgbouncer binary, or null when there is none or E2E_PGBOUNCER=off. */
export function pgbouncerBin() {
  if (process.env.E2E_PGBOUNCER === 'off') return null;
  if (process.env.PGBOUNCER_BIN) return process.env.PGBOUNCER_BIN;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'].filter(Boolean);
  return dirs.map((dir) => join(dir, 'pgbouncer')).find((path) => existsSync(path)) ?? null;
}

/**
 * PgBouncer refuses to run as root: as root, the OS user it switches to (`-u`), with the uid and
 * gid to give its files. Debian's package runs it as postgres; nobody where there is none.
 */
function unprivilegedUser() {
  if (process.getuid?.() !== 0) return null;
  const entries = readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':'));
  const entry = entries.find((e) => e[0] === 'postgres') ?? entries.find((e) => e[0] === 'nobody');
  if (!entry) throw new Error('PgBouncer will not run as root, and there is no postgres or nobody user to run it as');
  return { name: entry[0], uid: Number(entry[2]), gid: Number(entry[3]) };
}

function freePort() {
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

/** A value for pgbouncer's ini file or auth file, quoted as each expects. */
const authQuote = (text) => `"${text.replaceAll('"', '""')}"`;

/**
 * Starts a PgBouncer in front of the PostgreSQL server of `serverUrl` (any database on it: the
 * `*` entry sends each database name through as it is).
 *
 * @param {string} serverUrl  postgres://user:password@host:port/... (its user and password log in)
 * @returns {Promise<{ port: number, url: (database: string) => string,
 *   admin: (command: string) => Promise<object[]>, logs: () => string, stop: () => Promise<void> }>}
 */
export async function startPgBouncer(serverUrl, { bin = pgbouncerBin() } = {}) {
  if (!bin) throw new Error('PgBouncer is not installed (scripts/lib.sh ensure_pgbouncer installs it)');
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || 'postgres');
  // Hyperdrive's local connection string must carry a password, even under trust auth.
  const password = decodeURIComponent(server.password || 'postgres');
  const dir = mkdtempSync(join(tmpdir(), 'e2e-pgbouncer-'));
  // PgBouncer logs in to PostgreSQL with the password listed for the user here, whatever the
  // server asks for (trust, md5 or SCRAM); its own clients (loopback only) it trusts.
  writeFileSync(join(dir, 'userlist.txt'), `${authQuote(user)} ${authQuote(password)}\n`, { mode: 0o600 });
  const runAs = unprivilegedUser();
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    writeFileSync(join(dir, 'pgbouncer.ini'), [
      '[databases]',
      `* = host=${server.hostname.replace(/^\[|\]$/g, '')} port=${server.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      // SHOW POOLS, SHOW CLIENTS … on the admin console (database "pgbouncer"), for the tests.
      `admin_users = ${user}`,
      // A server connection is lent for one transaction (or one statement outside one), as
      // Hyperdrive does: a hub holds a client connection here, not a PostgreSQL one.
      'pool_mode = transaction',
      `default_pool_size = ${POOL_SIZE}`,
      `max_client_conn = ${MAX_CLIENTS}`,
      `server_idle_timeout = ${SERVER_IDLE_SECONDS}`,
      // A burst of hubs connecting at once is queued, not refused.
      'listen_backlog = 4096',
      // Each hub's connect and idle close would be two lines; errors are still logged.
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'));
    if (runAs) {
      for (const path of [dir, join(dir, 'userlist.txt'), join(dir, 'pgbouncer.ini')]) chownSync(path, runAs.uid, runAs.gid);
    }
    // Every client and server connection is an open file: raise the soft limit before exec
    // (to OPEN_FILES if the hard limit allows or we are root, else to the hard limit).
    const child = spawn('/bin/sh', [
      '-c', `ulimit -n ${OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`,
      bin, ...(runAs ? ['-u', runAs.name] : []), join(dir, 'pgbouncer.ini'),
    ], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let output = '';
    const collect = (chunk) => {
      output += chunk;
      if (output.length > 100_000) output = output.slice(-50_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise((resolve) => child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    }));
    const connection = (database) => ({ host: '127.0.0.1', port, user, password, database });
    const admin = async (command) => {
      const client = new pg.Client(connection('pgbouncer'));
      await client.connect();
      try {
        return (await client.query(command)).rows; // the admin console speaks the simple protocol only
      } finally {
        await client.end().catch(() => {});
      }
    };
    const deadline = Date.now() + START_TIMEOUT_MS;
    let up = false;
    while (!up && child.exitCode === null && Date.now() < deadline) {
      up = await admin('SHOW VERSION').then(() => true, () => false);
      if (!up) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!up) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      await exited;
      // Another process took the port between freePort() and the bind: try another.
      if (attempt < 3 && /Address already in use/.test(output)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start:\n${output.slice(-4000)}`);
    }
    return {
      port,
      /** The URL of `database` through this pooler, as the Worker's Hyperdrive connects. */
      url: (database) => {
        const url = new URL(`postgres://127.0.0.1:${port}/${database}`);
        url.username = user;
        url.password = password;
        return url.href;
      },
      /** One command on the admin console (SHOW POOLS, SHOW CLIENTS, …): its rows. */
      admin,
      logs: () => output,
      stop: async () => {
        if (child.exitCode === null) {
          // SIGTERM is an immediate shutdown up to PgBouncer 1.22 and a safe one after; the
          // Worker is gone by now, so either ends at once, and a kill follows if not.
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {}
          const timer = setTimeout(() => {
            try {
              process.kill(-child.pid, 'SIGKILL');
            } catch {}
          }, 3000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** `node scripts/pgbouncer.mjs <database url> -- <command…>`: see the top of this file. */
async function main(args) {
  const split = args.indexOf('--');
  const [databaseUrl] = args.slice(0, split);
  const command = args.slice(split + 1);
  if (split < 0 || !databaseUrl || command.length === 0) {
    console.error('usage: node scripts/pgbouncer.mjs <database url> -- <command…>');
    process.exit(2);
  }
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  let pooler = null;
  if (pgbouncerBin()) {
    pooler = await startPgBouncer(databaseUrl);
    console.error(`PgBouncer (transaction mode, ${POOL_SIZE} server connections) on 127.0.0.1:${pooler.port} in front of ${new URL(databaseUrl).host}`);
  } else {
    console.error('Note: no PgBouncer (scripts/lib.sh ensure_pgbouncer): the Worker connects to PostgreSQL directly, one connection per busy hub.');
  }
  const child = spawn(command[0], command.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: pooler ? pooler.url(database) : databaseUrl },
  });
  // Ctrl-C reaches the command too (the terminal's process group); SIGTERM is passed on. Either
  // way the command ends first, then the pooler.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (signal !== 'SIGINT') child.kill(signal);
    });
  }
  const [code, signal] = await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  await pooler?.stop();
  process.exit(code ?? 128 + (constants.signals[signal] ?? 0));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
