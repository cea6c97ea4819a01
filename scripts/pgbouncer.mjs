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
//   DATABASE_URL=<database url> node scripts/pgbouncer.mjs -- <command…>
//
// runs the command with CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE pointing at that
// database through the pooler, and stops the pooler when the command ends. Without PgBouncer
// (PGBOUNCER_BIN, else `pgbouncer` on PATH or in /usr/sbin) it connects directly, with a note;
// E2E_PGBOUNCER=off does the same on purpose (to compare).
//
// What an instance lets in: it listens on 127.0.0.1, where every local process and OS user (and
// any container sharing the network) can reach it, and a free port is easily found, so
// - clients authenticate with SCRAM-SHA-256, as one user (DATABASE_URL's) with a password made
//   for this instance alone, which only the caller knows (it hands it on in the URL it gives the
//   Worker). PgBouncer logs in to PostgreSQL as the database entry's forced `user=` with
//   DATABASE_URL's own password, so that password (often the well-known "postgres") is never
//   what opens the pooler;
// - it serves one database, the caller's, not every database of the server;
// - nobody has its admin console: the user is a `stats_users` one there (SHOW only; no PAUSE,
//   KILL, SHUTDOWN or RELOAD), for the tests' SHOW CLIENTS and SHOW POOLS.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort, stopProcessGroup } from './processes.mjs';

/** Server connections per database: two stacks side by side stay well under max_connections=100. */
export const POOL_SIZE = 20;
/** Clients one instance accepts: far more than a local run opens (every busy hub is one). */
export const MAX_CLIENTS = 16_000;
/** Seconds an unused server connection is kept: given back soon, for the other stacks' use. */
export const SERVER_IDLE_SECONDS = 10;
/** Open files the instance asks for: a client and a server connection are a file each. */
const OPEN_FILES = MAX_CLIENTS + 4 * POOL_SIZE + 100;
const START_TIMEOUT_MS = 10_000;

/**
 * Instances still running (child → its temporary directory), killed and their directories
 * removed if this process exits first. The watchdog (below) does the same for every other way
 * this process can end.
 */
const live = new Map();
process.on('exit', () => {
  for (const [child, dir] of live) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
    rmSync(dir, { recursive: true, force: true });
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
 * gid to give its files, which hold the passwords. postgres (Debian's package runs it as that
 * user, and it owns the server's data already) or a dedicated pgbouncer user; never a shared
 * one such as nobody, whose every other process could read them.
 */
function unprivilegedUser() {
  if (process.getuid?.() !== 0) return null;
  const entries = readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':'));
  const entry = ['postgres', 'pgbouncer'].map((name) => entries.find((e) => e[0] === name)).find(Boolean);
  if (!entry) {
    throw new Error('PgBouncer will not run as root, and there is no postgres or pgbouncer OS user to run it as: '
      + 'install Debian\'s pgbouncer package (it brings the postgres user), create a pgbouncer user, or run as a user other than root');
  }
  return { name: entry[0], uid: Number(entry[2]), gid: Number(entry[3]) };
}

/**
 * A name that goes into the config as it is (user, database, host): anything else could end a
 * line or a value there and add settings of its own.
 */
function plainName(what, value, pattern = /^[A-Za-z0-9_]+$/, allowed = 'letters, digits and _') {
  if (!pattern.test(value)) throw new Error(`the ${what} ${JSON.stringify(value)} (from the database URL) is not one the local pooler's config takes: only ${allowed}`);
  return value;
}

/** A value of a [databases] entry, in the single quotes PgBouncer's connection strings take. */
function connstrQuote(text) {
  // The ini value is the rest of its line: a line break would start a setting of its own.
  if (/[\0-\x1f\x7f]/.test(text)) throw new Error('the database password holds a control character, which the local pooler\'s config cannot carry');
  return `'${text.replaceAll("'", "''")}'`;
}

// Started by /bin/sh as root or as the caller (before PgBouncer drops root): raises the open-file
// limit (every client and server connection is a file; to OPEN_FILES if the hard limit allows or
// we are root, else to the hard limit), starts the watchdog, then becomes PgBouncer (`exec`, so
// the child's pid is PgBouncer's and its process group holds both).
//
// The watchdog reads stdin, a pipe whose other end only the Node process holds: the kernel closes
// it however that process ends, SIGKILL included, and the watchdog then removes the directory
// (the passwords) and kills the group (PgBouncer and itself). An asynchronous command's stdin
// would be /dev/null, hence fd 3. What can still leave a directory behind is this whole process
// group killed from outside with SIGKILL, or the machine stopping: its files are 0600 in a 0700
// directory, readable by their owner (this user, or the one PgBouncer runs as) and root only.
const LAUNCHER = `
dir=$1 files=$2; shift 2
ulimit -n "$files" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec 3<&0
( while read -r _; do :; done; rm -rf "$dir"; kill -KILL 0 ) <&3 >/dev/null 2>&1 &
exec "$@" </dev/null 3<&-
`;

/**
 * Starts a PgBouncer in front of the database of `databaseUrl`, serving that one database.
 *
 * @param {string} databaseUrl  postgres://user[:password]@host:port/database: PgBouncer logs in
 *   to PostgreSQL as that user with that password (none under trust auth)
 * @returns {Promise<{ port: number, database: string, url: string,
 *   show: (command: string) => Promise<object[]>, logs: () => string, stop: () => Promise<void> }>}
 */
export async function startPgBouncer(databaseUrl, { bin = pgbouncerBin() } = {}) {
  if (!bin) throw new Error('PgBouncer is not installed (scripts/lib.sh ensure_pgbouncer installs it)');
  const server = new URL(databaseUrl);
  const user = plainName('database user', decodeURIComponent(server.username || 'postgres'));
  const database = plainName('database name', decodeURIComponent(server.pathname.slice(1)));
  const host = plainName('database host', server.hostname.replace(/^\[|\]$/g, ''), /^[A-Za-z0-9._:-]+$/, 'letters, digits, ., :, - and _');
  const serverPassword = decodeURIComponent(server.password);
  // The one database, logged in to as the forced user with DATABASE_URL's password (without
  // one, PgBouncer would use the auth file's, the clients'; PostgreSQL ignores it under trust).
  const databaseEntry = `${database} = host=${host} port=${server.port || 5432} dbname=${database} user=${user}`
    + (serverPassword ? ` password=${connstrQuote(serverPassword)}` : '');
  // The clients' password, this instance's own: hex needs no quoting in the auth file or a URL.
  const password = randomBytes(24).toString('hex');
  const runAs = unprivilegedUser();
  const dir = mkdtempSync(join(tmpdir(), 'e2e-pgbouncer-'));
  try {
    return await launch({ bin, runAs, dir, user, password, database, databaseEntry });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Starts PgBouncer with its files in `dir` (startPgBouncer's): what startPgBouncer returns. */
async function launch({ bin, runAs, dir, user, password, database, databaseEntry }) {
  chmodSync(dir, 0o700);
  const userlist = join(dir, 'userlist.txt');
  const ini = join(dir, 'pgbouncer.ini');
  // A plaintext password, as SCRAM-SHA-256 for clients takes: PgBouncer derives what it needs.
  writeFileSync(userlist, `"${user}" "${password}"\n`, { mode: 0o600 });
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    rmSync(ini, { force: true }); // written anew, so created 0600
    writeFileSync(ini, [
      '[databases]',
      databaseEntry,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${userlist}`,
      // SHOW POOLS, SHOW CLIENTS … on the console (database "pgbouncer") for the tests; no
      // admin_users, so nobody can PAUSE, KILL, RELOAD or SHUT DOWN it.
      `stats_users = ${user}`,
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
    ].join('\n'), { mode: 0o600 });
    if (runAs) {
      for (const path of [dir, userlist, ini]) chownSync(path, runAs.uid, runAs.gid);
    }
    const child = spawn('/bin/sh', [
      '-c', LAUNCHER, 'pgbouncer-launcher', dir, String(OPEN_FILES),
      bin, ...(runAs ? ['-u', runAs.name] : []), ini,
    ], { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: withoutDatabaseUrl(process.env) });
    child.stdin.on('error', () => {}); // nothing is written; the pipe only has to stay open
    live.set(child, dir);
    let output = '';
    const collect = (chunk) => {
      output += chunk;
      if (output.length > 100_000) output = output.slice(-50_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    /** One SHOW command on the console: its rows (the console speaks the simple protocol only). */
    const show = async (command) => {
      const client = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'pgbouncer' });
      await client.connect();
      try {
        return (await client.query(command)).rows;
      } finally {
        await client.end().catch(() => {});
      }
    };
    const deadline = Date.now() + START_TIMEOUT_MS;
    let up = false;
    while (!up && child.exitCode === null && Date.now() < deadline) {
      up = await show('SHOW VERSION').then(() => true, () => false);
      if (!up) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!up) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      await exited;
      live.delete(child);
      // Another process took the port between freePort() and the bind: try another.
      if (attempt < 3 && /Address already in use/.test(output)) continue;
      throw new Error(`pgbouncer did not start:\n${output.slice(-4000)}`);
    }
    const url = new URL(`postgres://127.0.0.1:${port}/${database}`);
    url.username = user;
    url.password = password;
    return {
      port,
      database,
      /** The database through this pooler, with the clients' password, as the Worker's Hyperdrive connects. */
      url: url.href,
      show,
      logs: () => output,
      stop: async () => {
        // The whole group: PgBouncer and its watchdog. SIGTERM is an immediate shutdown up to
        // PgBouncer 1.22 and a safe one after; the Worker is gone by now, so either ends at
        // once, and a kill follows if not.
        await stopProcessGroup(child, exited, 3000);
        live.delete(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/**
 * `env` without DATABASE_URL, for the processes this starts: the password they need is in the
 * pooler's own 0600 files or in the URL given to the command, not in a variable every child of
 * theirs would inherit.
 */
export function withoutDatabaseUrl(env) {
  const { DATABASE_URL: _, ...rest } = env;
  return rest;
}

/**
 * `DATABASE_URL=… node scripts/pgbouncer.mjs -- <command…>`: see the top of this file. The URL
 * comes from the environment, not the command line, which any local user can read (`ps`); the
 * command does not inherit it.
 */
async function main(args) {
  const databaseUrl = process.env.DATABASE_URL;
  const command = args[0] === '--' ? args.slice(1) : [];
  if (!databaseUrl || command.length === 0) {
    console.error('usage: DATABASE_URL=<database url> node scripts/pgbouncer.mjs -- <command…>');
    process.exit(2);
  }
  const inherited = withoutDatabaseUrl(process.env);
  let pooler = null;
  if (pgbouncerBin()) {
    try {
      pooler = await startPgBouncer(databaseUrl);
    } catch (e) {
      console.error(`error: ${e.message}`);
      process.exit(1);
    }
    console.error(`PgBouncer (transaction mode, ${POOL_SIZE} server connections, SCRAM with a password of its own) on 127.0.0.1:${pooler.port} in front of ${pooler.database} on ${new URL(databaseUrl).host}`);
  } else {
    console.error('Note: no PgBouncer (scripts/lib.sh ensure_pgbouncer): the Worker connects to PostgreSQL directly, one connection per busy hub.');
  }
  const child = spawn(command[0], command.slice(1), {
    stdio: 'inherit',
    env: { ...inherited, CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: pooler?.url ?? databaseUrl },
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
