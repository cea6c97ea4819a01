// Starts the real Worker under `wrangler dev` against a fresh PostgreSQL database, for one test
// file or benchmark. Every stack gets its own database, port and state directory, so stacks can
// run side by side; stop() kills wrangler's whole process tree and drops the database.
//
// The Worker reaches its database through a PgBouncer of the stack's own in transaction mode
// (scripts/pgbouncer.mjs), as it reaches it through Hyperdrive's pool in production: its hubs and
// requests share a few PostgreSQL connections. The pooler serves only the stack's database, to
// clients that give the password it made (in the URL the Worker gets). The tests' own pool and the
// migrations connect directly.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from '../../scripts/migrate.mjs';
import { pgbouncerBin, startPgBouncer, withoutDatabaseUrl } from '../../scripts/pgbouncer.mjs';
import { freePort, stopProcessGroup } from '../../scripts/processes.mjs';
import { waitFor } from './wait.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const START_TIMEOUT_MS = 120_000;
/** How many times wrangler is started when a port it was given was taken meanwhile (see start). */
const START_ATTEMPTS = 3;
/** wrangler processes still running, killed if this process exits first. */
const liveChildren = new Set();

export const DEFAULT_VARS = {
  ENVIRONMENT: 'test',
  PBKDF2_ITERATIONS: '1000',
  ALLOWED_ORIGINS: 'http://allowed.example',
  FIRST_USER_ADMIN: 'true',
  // Two stacks run at once against one PostgreSQL (100 connections), each with dozens of users
  // whose hubs hold a connection until idle: giving it back after 5 s rather than 30 keeps the
  // peak well under the server's limit (94 of 100 was seen with 30) when there is no pooler, and
  // the pooler's client list short when there is.
  HUB_DB_IDLE_SECONDS: '5',
  // Web Push's contact (RFC 8292 `sub`); the key is each stack's own (vapidKeyPair).
  VAPID_SUBJECT: 'mailto:push-tests@e2e-chat.invalid',
};

/**
 * A VAPID key pair as the Worker takes it: the private key as base64url of its 32 bytes
 * (`VAPID_PRIVATE_KEY`), the public key as base64url of the uncompressed point (what the server
 * publishes and signs with).
 */
export function vapidKeyPair() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  return { privateKey: jwk.d, publicKey: point.toString('base64url') };
}

let noPoolerNoted = false;

/** The stack's PgBouncer for the database of `url`, or null (with a note) where there is none; CI must have one. */
async function startPooler(url) {
  if (pgbouncerBin()) return startPgBouncer(url);
  if (process.env.E2E_PGBOUNCER !== 'off' && process.env.CI) {
    throw new Error('PgBouncer is missing, and CI must run through it (scripts/lib.sh ensure_pgbouncer installs it)');
  }
  if (!noPoolerNoted && process.env.E2E_PGBOUNCER !== 'off') {
    noPoolerNoted = true;
    console.error('# Note: no PgBouncer (scripts/lib.sh ensure_pgbouncer): the Worker connects to PostgreSQL directly, one connection per busy hub.');
  }
  return null;
}

export function databaseUrl(name) {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  // Hyperdrive's local connection string must carry a password, even under trust auth.
  if (!url.password) url.password = 'postgres';
  return url.href;
}

/** Runs one statement on the server's maintenance database (to create and drop databases). */
export async function adminQuery(sql) {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export { freePort };

/**
 * Every file below `dir` (none if it does not exist).
 * @param {string} dir
 * @returns {string[]}
 */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * Waits until the Worker `child` runs answers at `baseUrl`. With `publicKey` (the stack's own
 * VAPID key), an answer that publishes another key does not count: another stack's Worker that
 * won the port answers too, while this one's wrangler is still on its way to failing to bind it.
 */
async function waitForHealth(baseUrl, child, logs, publicKey) {
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${logs().slice(-4000)}`);
    try {
      // /health first, as it always was: the first request a stack's Worker sees (it makes the
      // configured admin, which some tests count on being done).
      await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
      if (!publicKey) return true;
      const res = await fetch(`${baseUrl}/push/vapid-public-key`, { signal: AbortSignal.timeout(2000) });
      // Any answer but another key is this Worker's (one a test configured without push, say,
      // which publishes null).
      const published = await res.json().then((body) => body?.publicKey, () => undefined);
      return published == null || published === publicKey;
    } catch {
      return false;
    }
  }, { timeoutMs: START_TIMEOUT_MS, intervalMs: 250, what: () => `wrangler dev to answer:\n${logs().slice(-4000)}` });
}

/**
 * @param {object} options
 * @param {Record<string,string>} [options.vars]    merged over DEFAULT_VARS
 * @param {Record<string,string>} [options.secrets] merged over a random JWT_SECRET and VAPID_PRIVATE_KEY
 * @param {string} [options.hyperdriveUrl]          point the Worker elsewhere (e.g. at a dead port); no pooler then
 * @param {Record<string,string>} [options.databaseSettings] server settings of the test database
 *   (ALTER DATABASE … SET), made before anything connects to it, so every session has them
 */
export async function startStack({ vars = {}, secrets = {}, hyperdriveUrl, databaseSettings = {} } = {}) {
  const name = `e2e_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  for (const [setting, value] of Object.entries(databaseSettings)) {
    // Names and values of the test files' own, checked only so a typo cannot become other SQL.
    if (!/^[a-z_.]+$/.test(setting) || !/^[A-Za-z0-9_.]+$/.test(value)) throw new Error(`bad database setting ${setting}=${value}`);
    await adminQuery(`ALTER DATABASE ${name} SET ${setting} = '${value}'`);
  }
  const url = databaseUrl(name);
  await migrate(url, { log: () => {} });
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // Dropping the test database at the end terminates the pool's idle connections from the server
  // side: expected, and not a failure of whichever test last used the pool.
  pool.on('error', () => {});
  let pooler = null;
  try {
    pooler = hyperdriveUrl ? null : await startPooler(url);
  } catch (e) {
    await pool.end().catch(() => {});
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    throw e;
  }
  const stateDir = mkdtempSync(join(tmpdir(), 'e2e-chat-'));
  const envFile = join(stateDir, 'secrets.env');
  const vapid = vapidKeyPair();
  const allSecrets = { JWT_SECRET: randomBytes(32).toString('hex'), VAPID_PRIVATE_KEY: vapid.privateKey, ...secrets };
  writeFileSync(envFile, Object.entries(allSecrets).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  let port = await freePort();
  let baseUrl = `http://127.0.0.1:${port}`;
  let output = '';
  /** What the wrangler started last printed first (the retry reads it; `output` is trimmed). */
  let launchOutput = '';
  let child = null;
  let inspectorPort = null;
  let started = false;

  const launch = async () => {
    launchOutput = '';
    inspectorPort = await freePort();
    const args = [
      // wrangler.toml's dev environment (its top level is production); DEFAULT_VARS and the test's
      // vars override its vars.
      'dev', '--env', 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
      '--env-file', envFile, '--persist-to', join(stateDir, 'state'), '--show-interactive-dev-session=false',
      // GET /__scheduled runs the Worker's scheduled handler (the sweep, src/sweep.rs) at once.
      '--test-scheduled',
      ...Object.entries({ ...DEFAULT_VARS, ...vars }).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    ];
    child = spawn(join(ROOT, 'node_modules/.bin/wrangler'), args, {
      cwd: ROOT,
      detached: true, // its own process group, so stop() can kill workerd with it
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        // Not the tests' DATABASE_URL (the server's admin): the Worker gets only its Hyperdrive URL.
        ...withoutDatabaseUrl(process.env),
        E2E_PREBUILT: process.env.E2E_PREBUILT ?? '0',
        CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: hyperdriveUrl ?? pooler?.url ?? url,
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        // wrangler's local observability (on by default) streams a trace of every event, each
        // socket message included, to a collector that writes it to SQLite: about 1.6 ms of
        // workerd CPU per event on the 2-core machine, more than the Worker's own work for a
        // message, and nothing a test or benchmark reads (bench/README.md). Production has no
        // such collector.
        X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? 'false',
      },
    });
    liveChildren.add(child);
    child.once('exit', () => liveChildren.delete(child));
    const collect = (chunk) => {
      output += chunk;
      if (launchOutput.length < 100_000) launchOutput += chunk;
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    await waitForHealth(baseUrl, child, () => output, secrets.VAPID_PRIVATE_KEY === undefined ? vapid.publicKey : undefined);
  };

  // A port found free may be taken before wrangler binds it: by another test file's stack starting
  // at the same moment (they run two at a time), which picks its ports, and wrangler its own
  // internal ones, the same way. wrangler then exits at once saying so, and starting it again
  // with other ports is all it takes. The stack's own port changes only before it first served:
  // a restart keeps it, since clients hold its URL.
  const start = async () => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await launch();
        started = true;
        return;
      } catch (e) {
        if (attempt === START_ATTEMPTS || !launchOutput.includes('Address already in use')) throw e;
        await kill();
        if (!started) {
          port = await freePort();
          baseUrl = `http://127.0.0.1:${port}`;
        }
      }
    }
  };

  const kill = async () => {
    if (!child || child.exitCode !== null) return;
    await stopProcessGroup(child, new Promise((resolve) => child.once('exit', resolve)), 5000);
  };

  const stack = {
    get baseUrl() {
      return baseUrl;
    },
    /** The VAPID public key this stack signs pushes with (unless the test's secrets replaced it). */
    vapidPublicKey: secrets.VAPID_PRIVATE_KEY ? undefined : vapid.publicKey,
    /** wrangler's local state (`--persist-to`). */
    stateDir: join(stateDir, 'state'),
    /** Every file of wrangler's local R2 for this stack: the objects' bodies and its metadata. */
    r2Files: () => filesUnder(join(stateDir, 'state', 'v3', 'r2')),
    /** Runs the Worker's scheduled handler (the sweep) and waits for it to finish. */
    runScheduled: async () => {
      const res = await fetch(`${baseUrl}/__scheduled`);
      if (!res.ok) throw new Error(`GET /__scheduled answered ${res.status}: ${await res.text()}`);
    },
    inspectorPort: () => inspectorPort,
    /** wrangler's process group (its own), which holds the workerd processes it started. */
    processGroup: () => child?.pid,
    databaseUrl: url,
    pool,
    /** The stack's PgBouncer (`port`, `url` with its password, `show(command)` for SHOW …), or null when the Worker connects directly. */
    pooler,
    /**
     * How many connections the Worker holds to its database: its clients at the pooler, or its
     * sessions in PostgreSQL when it connects directly.
     */
    workerConnections: async () => {
      if (pooler) return (await pooler.show('SHOW CLIENTS')).filter((c) => c.database === name).length;
      const { rows } = await pool.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'e2e-chat'",
      );
      return rows[0].n;
    },
    logs: () => output,
    restart: async () => {
      await kill();
      await start();
    },
    /** Takes the Worker away (clients see the server gone) until `up()`. */
    down: kill,
    up: start,
    stop: async () => {
      await kill();
      await pooler?.stop();
      await pool.end().catch(() => {});
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
  try {
    await start();
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}

// A test process that dies must not leave wrangler running.
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }
});
