// scripts/migrate.mjs: applies each migration once, records it, and refuses edited history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { migrate, listMigrations } from '../../scripts/migrate.mjs';
import { adminQuery as admin, databaseUrl } from '../support/stack.mjs';

const name = `e2e_migrate_${process.pid}`;
const url = databaseUrl(name);

before(async () => {
  await admin(`DROP DATABASE IF EXISTS ${name}`);
  await admin(`CREATE DATABASE ${name}`);
});
after(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));

test('applies the real migrations once, and concurrent runs do not collide', async () => {
  const runs = await Promise.all([migrate(url, { log: () => {} }), migrate(url, { log: () => {} })]);
  assert.deepEqual(runs.flat(), listMigrations().map((m) => m.name));
  assert.deepEqual(await migrate(url, { log: () => {} }), []);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const { rows } = await c.query('SELECT name, checksum FROM schema_migrations ORDER BY version');
  const { rows: tables } = await c.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'");
  await c.end();
  assert.deepEqual(rows.map((r) => r.name), listMigrations().map((m) => m.name));
  assert.ok(tables[0].n >= 10, 'users, devices, key_packages, conversations, members, messages, receipts, epochs, audit_log, schema_migrations');
});

test('refuses a migration edited after it was applied, and rolls back a failing one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  const dirUrl = pathToFileURL(dir + '/');
  try {
    const scratch = `${name}_scratch`;
    await admin(`DROP DATABASE IF EXISTS ${scratch}`);
    await admin(`CREATE DATABASE ${scratch}`);
    const scratchUrl = databaseUrl(scratch);
    writeFileSync(join(dir, '0001_one.sql'), 'CREATE TABLE one (id int);');
    assert.deepEqual(await migrate(scratchUrl, { dir: dirUrl, log: () => {} }), ['0001_one.sql']);
    writeFileSync(join(dir, '0001_one.sql'), 'CREATE TABLE one (id bigint);');
    await assert.rejects(migrate(scratchUrl, { dir: dirUrl, log: () => {} }), /was changed after it was applied/);
    writeFileSync(join(dir, '0001_one.sql'), 'CREATE TABLE one (id int);');
    writeFileSync(join(dir, '0002_bad.sql'), 'CREATE TABLE two (id int); SELECT no_such_function();');
    await assert.rejects(migrate(scratchUrl, { dir: dirUrl, log: () => {} }), /0002_bad.sql failed/);
    const c = new pg.Client({ connectionString: scratchUrl });
    await c.connect();
    const { rows } = await c.query("SELECT to_regclass('two') IS NULL AS rolled_back, (SELECT count(*)::int FROM schema_migrations) AS n");
    await c.end();
    assert.deepEqual(rows[0], { rolled_back: true, n: 1 });
    await admin(`DROP DATABASE ${scratch} WITH (FORCE)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
