// Fuzzes the running Worker from its own OpenAPI document (GET /openapi.json) with Schemathesis,
// signed in with a real token: any 5xx, any status the document does not list for an operation,
// any body or Content-Type that does not match it, a method a path does not take answered
// otherwise than 405 with Allow, schema-valid input refused or schema-violating input accepted
// (exceptions, each with its reason, in schema-fuzz.toml) fails the test. Schemathesis comes
// from PyPI into .local/venv (scripts/lib.sh, ensure_python_tools).
//
// The operations that end the session whose token they carry (POST /auth/logout, /auth/logout-all,
// and DELETE /devices/{id}, which ends the sessions of the device it removes, the caller's own
// included) run last, on their own, with another account's token: in the main run they would
// turn every later request into a 401. DELETE /admin/users/{id} runs with the rest: the ids it
// makes up are 404, and the run's own account, the only administrator, is one the server
// refuses to delete (409).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from '../support/stack.mjs';
import { Api, randomPhone } from '../support/api.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCHEMATHESIS = join(ROOT, '.local/venv/bin/schemathesis');
const CONFIG = join(ROOT, 'test/integration/schema-fuzz.toml');
/** Each run's whole output, warnings included, is kept here (gitignored). */
const LOG_DIR = join(ROOT, 'artifacts/schema-fuzz');
/** Test cases per operation and phase: about a minute and a half on two cores. */
const MAX_EXAMPLES = Number(process.env.SCHEMA_FUZZ_EXAMPLES ?? 40);
/** A seed to replay a failed run with (the output names the one it used). */
const SEED = process.env.SCHEMA_FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
/** Past this the run is stopped and the test fails: the fuzzer is bounded, not open-ended. */
const RUN_LIMIT_MS = 6 * 60_000;

const openapi = JSON.parse(readFileSync(join(ROOT, 'src/openapi.json'), 'utf8'));
/** The operations that end the caller's session; see the top of this file. */
const SESSION_ENDING = ['logout', 'logoutAll', 'deleteDevice'];
let stack;
let api;
let token;
let sessionEndingToken;
let reportDir;

before(async () => {
  stack = await startStack();
  api = new Api(stack.baseUrl);
  ({ token } = await api.register());
  ({ token: sessionEndingToken } = await api.register());
  // Something in every listing, so that the fuzzer's stateful phase has real ids to follow.
  const { user: peer } = await api.register();
  const group = await api.post('/conversations', { title: 'Fuzzed', memberIds: [peer.id] }, { token });
  assert.equal(group.status, 201, JSON.stringify(group.body));
  reportDir = mkdtempSync(join(tmpdir(), 'schema-fuzz-'));
});
after(async () => {
  await stack?.stop();
  if (reportDir) rmSync(reportDir, { recursive: true, force: true });
});

/** The schema of a request body's field, from the document's components. */
function requestField(schemaName, field) {
  const schema = openapi.components.schemas[schemaName];
  assert.ok(schema, `${schemaName} is in the document`);
  const property = field === '[]' ? schema : schema.properties[field];
  assert.ok(property, `${schemaName}.${field} is in the document`);
  return property;
}

test('the document bounds base64 fields by their bytes, as the server does', () => {
  // [schema, field, fewest bytes, most bytes], the limits src/protocol/ enforces.
  const fields = [
    ['BindDeviceRequest', 'signature', 64, 64],
    ['RemoveDeviceRequest', 'revocation', 64, 64],
    ['ApproveLinkRequest', 'signature', 64, 64],
    ['ApproveLinkRequest', 'approverProof', 1, 8192],
    ['LinkRequest', 'codeMac', 32, 32],
    ['LinkRequest', 'credential', 1, 1024],
    ['RegisterDeviceRequest', 'credential', 1, 1024],
    ['ResetDevicesRequest', 'credential', 1, 1024],
    ['UploadKeyPackagesRequest', 'lastResort', 1, 8192],
  ];
  const keyPackage = requestField('UploadKeyPackagesRequest', 'keyPackages').items;
  const checked = [...fields.map(([schema, field, min, max]) => [`${schema}.${field}`, requestField(schema, field), min, max]),
    ['UploadKeyPackagesRequest.keyPackages[]', keyPackage, 1, 8192]];
  for (const [name, schema, min, max] of checked) {
    const pattern = new RegExp(schema.pattern, 'u');
    for (const bytes of new Set([0, 1, 2, 3, 4, min - 1, min, min + 1, max - 1, max, max + 1, max + 2, max + 3])) {
      if (bytes < 0) continue;
      const text = Buffer.alloc(bytes, 0xa5).toString('base64');
      const fits = bytes >= min && bytes <= max;
      assert.equal(pattern.test(text), fits, `${name}: ${bytes} bytes`);
      if (fits) assert.ok(text.length >= schema.minLength && text.length <= schema.maxLength, `${name}: ${bytes} bytes`);
    }
    // Leftover bits in the last character are refused by the server's decoder, and so here.
    assert.equal(pattern.test('AB=='), false, name);
  }
});

test('the document refuses the display names the server refuses', async () => {
  const schema = requestField('RegisterRequest', 'displayName');
  const pattern = new RegExp(schema.pattern, 'u');
  const names = ['Ada', ' Ada ', 'Zoë Ω 李雷 🙂', '\u00a0Ada\u3000', ' ', '\u3000\u2003', 'A\u200bda', 'Bob\u202enimda',
    '\u2067Ada', 'Ada\ufeff', 'Ada\u2060', 'Ada\u061c', 'x\u0007y', 'x\u009fy', 'x\u2028y'];
  for (const displayName of names) {
    const res = await api.post('/auth/register', { phone: randomPhone(), displayName, password: 'long enough pw' });
    const documented = pattern.test(displayName) && [...displayName].length <= schema.maxLength;
    assert.equal(res.status === 201, documented, `${JSON.stringify(displayName)}: ${res.status} ${JSON.stringify(res.body)}`);
    if (!documented) assert.equal(res.body.error.code, 'invalid_display_name');
  }
});

/** Runs Schemathesis to the end; resolves with its exit code and output. */
function schemathesis(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(SCHEMATHESIS, args, { cwd: reportDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Schemathesis ran past ${RUN_LIMIT_MS / 1000} s:\n${output.slice(-6000)}`));
    }, RUN_LIMIT_MS);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

/** Fuzzes the operations `selection` picks with `bearer`; fails the test on any failure found. */
async function fuzz(t, run, what, bearer, selection) {
  const started = Date.now();
  let { code, output } = await runOnce(bearer, selection);
  // CPython before 3.11.8 can fail to parse a source file while Hypothesis describes one of
  // Schemathesis's lambdas ("AST constructor recursion depth mismatch", gh-106905: the depth is
  // kept per interpreter, so two threads parsing at once corrupt it): an error in the tool, not a
  // finding about the API. `runOnce` uses one worker so it should not happen; should it, a run
  // with no failure found is run once more.
  if (code !== 0 && !output.includes('FAILURES') && output.includes('AST constructor recursion depth mismatch')) {
    t.diagnostic('Schemathesis hit CPython\'s AST recursion bug (gh-106905), not a finding: run again once');
    ({ code, output } = await runOnce(bearer, selection));
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  mkdirSync(LOG_DIR, { recursive: true });
  writeFileSync(join(LOG_DIR, `${run}.log`), output);
  const summary = output.split('\n').filter((line) => /generated|passed|failed|Seed:/.test(line)).join('\n');
  t.diagnostic(`Schemathesis, ${what}: ${seconds} s, seed ${SEED}, ${MAX_EXAMPLES} examples per operation \
(artifacts/schema-fuzz/${run}.log)\n${summary}`);
  // The failures section is what tells what to fix; the run's progress lines come before it.
  const failures = output.includes('FAILURES') ? output.slice(output.indexOf('FAILURES') - 40) : output;
  assert.equal(code, 0, `Schemathesis failed on ${what} (replay with SCHEMA_FUZZ_SEED=${SEED}):\n${failures.slice(0, 20_000)}`);
}

function runOnce(bearer, selection) {
  return schemathesis([
    '--config-file', CONFIG, '--no-color',
    'run', `${stack.baseUrl}/openapi.json`, '--url', stack.baseUrl,
    '--header', `Authorization: Bearer ${bearer}`,
    '--checks', 'all',
    ...selection,
    // One worker: with two, Hypothesis parses source files on two threads at once, which is what
    // trips CPython 3.11.7's AST recursion bug (see `fuzz`) — in CI, twice in a row once.
    '--max-examples', String(MAX_EXAMPLES), '--seed', SEED, '--workers', '1', '--request-timeout', '30',
  ]);
}

test('Schemathesis finds no 5xx and no answer the document does not allow', { timeout: 2 * RUN_LIMIT_MS }, async (t) => {
  assert.ok(existsSync(SCHEMATHESIS), `${SCHEMATHESIS} is missing: run scripts/test, which installs it (ensure_python_tools)`);
  await fuzz(t, 'main', 'every operation but those that end the session', token,
    SESSION_ENDING.flatMap((id) => ['--exclude-operation-id', id]));
  await fuzz(t, 'session-ending', 'the operations that end the session', sessionEndingToken,
    SESSION_ENDING.flatMap((id) => ['--include-operation-id', id]));
});
