// Applies migrations/NNNN_name.sql in order, each in its own transaction, and records them in
// schema_migrations with a checksum. Safe to run any number of times, and concurrently (advisory
// lock). Refuses to go on if a migration that was already applied has since been edited.
//
//   DATABASE_URL=<database url> node scripts/migrate.mjs
//
// (A URL as the argument is still taken, with a warning when it holds a password.)
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const MIGRATIONS_DIR = new URL('../migrations/', import.meta.url);
const LOCK_KEY = 724_310_001;

export function listMigrations(dir = MIGRATIONS_DIR) {
  return readdirSync(dir)
    .filter((name) => /^\d{4}_[\w-]+\.sql$/.test(name))
    .sort()
    .map((name) => {
      const sql = readFileSync(new URL(name, dir), 'utf8');
      return { version: Number(name.slice(0, 4)), name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(databaseUrl, { dir = MIGRATIONS_DIR, log = console.log } = {}) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query('SELECT version, name, checksum FROM schema_migrations');
    const applied = new Map(rows.map((r) => [r.version, r]));
    const done = [];
    for (const m of listMigrations(dir)) {
      const previous = applied.get(m.version);
      if (previous) {
        if (previous.checksum !== m.checksum) {
          throw new Error(`${m.name} was changed after it was applied (as ${previous.name}); add a new migration instead.`);
        }
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw new Error(`${m.name} failed: ${e.message}`);
      }
      log(`applied ${m.name}`);
      done.push(m.name);
    }
    if (!done.length) log('migrations up to date');
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
    await client.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.argv[2] ?? process.env.DATABASE_URL;
  if (!url) {
    console.error('usage: DATABASE_URL=<database url> node scripts/migrate.mjs');
    process.exit(2);
  }
  if (process.argv[2] && URL.canParse(url) && new URL(url).password) {
    // Still taken, but any local user can read a command line (ps), and shells keep it in history.
    console.error('warning: the database password is on the command line; set DATABASE_URL instead.');
  }
  migrate(url).catch((e) => {
    console.error(`migration failed: ${e.message}`);
    process.exit(1);
  });
}
