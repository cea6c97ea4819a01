// Builds the Worker once, then runs the black-box tests and the SDK's tests (each file starts its
// own wrangler dev and database through test/support/stack.mjs; web/test/mls.test.ts needs none).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const build = spawnSync('bash', ['scripts/build-worker.sh'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const files = process.argv.slice(2);
const sdkTests = () => readdirSync(`${root}/web/test`).filter((f) => f.endsWith('.test.ts') && f !== 'browser.test.ts').map((f) => `web/test/${f}`);
const runFiles = (list) => spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-reporter=spec', ...list],
  { cwd: root, stdio: 'inherit', env: { ...process.env, E2E_PREBUILT: '1' } },
).status ?? 1;
// The browser tests run on their own after the rest: two cores shared by Chromium, two wrangler
// stacks and the SDK tests' MLS made their real-time waits slow and flaky. Named files run as given.
const status = files.length
  ? runFiles(files)
  : Math.max(runFiles(['test/integration/*.test.mjs', ...sdkTests()]), runFiles(['web/test/browser.test.ts']));
process.exit(status);
