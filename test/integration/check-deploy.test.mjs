// scripts/check-deploy.sh refuses a configuration a deploy must not send: each case edits a copy of
// wrangler.toml and runs the configuration checks (--config-only: no build; scripts/test runs the
// full check, build and wasm size included, on wrangler.toml itself).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PRODUCTION = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
const PLACEHOLDER_ID = '00000000000000000000000000000000';

/** wrangler.toml's top level (before [env.dev]), where the edits below apply. */
function topLevel(toml) {
  const at = toml.search(/^\[env\.dev/m);
  assert.ok(at > 0, 'wrangler.toml has an [env.dev] section');
  return [toml.slice(0, at), toml.slice(at)];
}

/** A copy of wrangler.toml with its top level edited by `edit`. */
function variant(edit) {
  const [top, rest] = topLevel(PRODUCTION);
  const edited = edit(top);
  assert.notEqual(edited, top, 'the edit changed the configuration');
  return edited + rest;
}

const setVar = (name, value) => (top) => top.replace(new RegExp(`^${name} = ".*"$`, 'm'), `${name} = "${value}"`);
const dropLines = (pattern) => (top) => top.split('\n').filter((line) => !pattern.test(line)).join('\n');

async function check(toml, ...args) {
  const dir = mkdtempSync(join(tmpdir(), 'check-deploy-'));
  const config = join(dir, 'wrangler.toml');
  writeFileSync(config, toml);
  try {
    const child = spawn('bash', [join(ROOT, 'scripts/check-deploy.sh'), '--config-only', '--config', config, ...args], {
      cwd: ROOT,
      env: { ...process.env, CLOUDFLARE_ENV: 'dev', WRANGLER_SEND_METRICS: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const code = await new Promise((resolve) => child.once('close', resolve));
    // Without colours, to match messages.
    return { code, output: output.replace(/\x1b\[[0-9;]*m/g, '') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertRefused({ code, output }, ...reasons) {
  assert.equal(code, 1, `the check should fail:\n${output}`);
  assert.match(output, /deploy check FAILED/);
  for (const reason of reasons) assert.match(output, reason, `the failure names the reason:\n${output}`);
}

test('the production configuration passes (CI mode, placeholder Hyperdrive id noted), even with CLOUDFLARE_ENV=dev set', async () => {
  const { code, output } = await check(PRODUCTION, '--ci');
  assert.equal(code, 0, output);
  assert.match(output, /all-zero placeholder/);
  assert.match(output, /Deploy check passed \(ci\)/);
});

test('the development settings at the top level are refused, each by name', async () => {
  const [, dev] = topLevel(PRODUCTION);
  const devVars = dev.match(/\[env\.dev\.vars\]\n([\s\S]*?)\n\n/)[1];
  const developmentTop = variant((top) => top.replace(/\[vars\]\n[\s\S]*?\n\n/, `[vars]\n${devVars}\n\n`));
  assertRefused(
    await check(developmentTop, '--ci'),
    /ENVIRONMENT is "development"/,
    /FIRST_USER_ADMIN is "true"/,
    /ALLOWED_ORIGINS contains http:\/\/localhost:3000, a development origin/,
  );
});

test('ENVIRONMENT other than production is refused', async () => {
  const [development, unset] = await Promise.all([
    check(variant(setVar('ENVIRONMENT', 'development')), '--ci'),
    check(variant(dropLines(/^ENVIRONMENT = /)), '--ci'),
  ]);
  assertRefused(development, /ENVIRONMENT is "development"/);
  assertRefused(unset, /ENVIRONMENT is unset/);
});

test('first-user admin needs an explicit opt-in (unset, production reads it as off); keep_vars is refused', async () => {
  const on = variant(setVar('FIRST_USER_ADMIN', 'true'));
  const [refused, unset, optedIn, keepVars] = await Promise.all([
    check(on, '--ci'),
    check(variant(dropLines(/^FIRST_USER_ADMIN = /)), '--ci'),
    check(on, '--ci', '--allow-first-user-admin'),
    check(variant((top) => `keep_vars = true\n${top}`), '--ci'),
  ]);
  assertRefused(refused, /FIRST_USER_ADMIN is "true": the first stranger/);
  assert.equal(unset.code, 0, unset.output);
  assertRefused(keepVars, /keep_vars = true: the Worker would keep variables set in the dashboard/);
  assert.equal(optedIn.code, 0, optedIn.output);
  assert.match(optedIn.output, /FIRST_USER_ADMIN is on \(allowed by --allow-first-user-admin\)/);
});

test('the registration limit turned off, a low hash count and a wildcard origin are refused', async () => {
  const withVar = (line) => variant((top) => top.replace('[vars]\n', `[vars]\n${line}\n`));
  const [noLimit, fewIterations, wildcard, plainHttp, own] = await Promise.all([
    check(withVar('REGISTRATIONS_PER_ADDRESS_PER_HOUR = "0"'), '--ci'),
    check(withVar('PBKDF2_ITERATIONS = "1000"'), '--ci'),
    check(variant(setVar('ALLOWED_ORIGINS', 'https://chat.example,*')), '--ci'),
    check(variant(setVar('ALLOWED_ORIGINS', 'http://chat.example')), '--ci'),
    check(variant(setVar('ALLOWED_ORIGINS', 'https://chat.example')), '--ci'),
  ]);
  assertRefused(noLimit, /REGISTRATIONS_PER_ADDRESS_PER_HOUR is 0/);
  assertRefused(fewIterations, /PBKDF2_ITERATIONS is "1000"/);
  assertRefused(wildcard, /ALLOWED_ORIGINS contains "\*"/);
  assertRefused(plainHttp, /http:\/\/chat\.example is not https/);
  assert.equal(own.code, 0, own.output);
});

test('a loopback origin is refused in every spelling', async () => {
  const origins = ['https://127.0.0.2', 'https://app.localhost', 'https://LOCALHOST:8443', 'https://[::1]:3000', 'https://0.0.0.0'];
  const results = await Promise.all(origins.map((origin) => check(variant(setVar('ALLOWED_ORIGINS', origin)), '--ci')));
  for (const result of results) assertRefused(result, /a development origin/);
});

test('a missing binding or required secret is refused', async () => {
  const [noHub, noDatabase, noSecret, noAssets] = await Promise.all([
    check(variant(dropLines(/^bindings = \[\{ name = "USER_HUB"/)), '--ci'),
    check(variant((top) => top.replace('binding = "HYPERDRIVE"', 'binding = "DB"')), '--ci'),
    check(variant(dropLines(/^required = \["JWT_SECRET"\]/)), '--ci'),
    check(variant(dropLines(/^\[assets\]$|^directory = "\.\/web\/out"$/)), '--ci'),
  ]);
  assertRefused(noHub, /no Durable Object binding USER_HUB/);
  assertRefused(noDatabase, /no Hyperdrive binding named HYPERDRIVE/);
  assertRefused(noSecret, /\[secrets\] required does not list JWT_SECRET/);
  assertRefused(noAssets, /no \[assets\] directory/);
});

test('attachments need their R2 binding and the sweep its cron; a quota that is no number of bytes is refused', async () => {
  const [noBucket, noCron, badQuota, quota] = await Promise.all([
    check(variant(dropLines(/^\[\[r2_buckets\]\]$|^binding = "ATTACHMENTS"$|^bucket_name = "e2e-chat-attachments"$/)), '--ci'),
    check(variant(dropLines(/^crons = /)), '--ci'),
    check(variant((top) => top.replace('[vars]\n', '[vars]\nATTACHMENT_QUOTA_BYTES = "1 GiB"\n')), '--ci'),
    check(variant((top) => top.replace('[vars]\n', '[vars]\nATTACHMENT_QUOTA_BYTES = "5368709120"\n')), '--ci'),
  ]);
  assertRefused(noBucket, /no R2 binding ATTACHMENTS/);
  assertRefused(noCron, /no cron trigger/);
  assertRefused(badQuota, /ATTACHMENT_QUOTA_BYTES is "1 GiB", not a positive whole number/);
  assert.equal(quota.code, 0, quota.output);
  assert.doesNotMatch(quota.output, /ATTACHMENT_QUOTA_BYTES, which this check does not know/);
});

test('a real deploy (strict mode) refuses the placeholder Hyperdrive id before asking Cloudflare anything', async () => {
  assert.ok(PRODUCTION.includes(PLACEHOLDER_ID));
  const strict = await check(PRODUCTION);
  assertRefused(strict, /HYPERDRIVE id is the all-zero placeholder/);
  assert.doesNotMatch(strict.output, /wrangler secret list/);
});
