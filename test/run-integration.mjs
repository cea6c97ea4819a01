// Builds the Worker once, then runs the black-box tests and the SDK's tests (each file starts its
// own wrangler dev and database through test/support/stack.mjs; web/test/mls.test.ts needs none).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const build = spawnSync('bash', ['scripts/build-worker.sh'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const files = process.argv.slice(2);
const run = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-reporter=spec', ...(files.length ? files : ['test/integration/*.test.mjs', 'web/test/*.test.ts'])],
  { cwd: root, stdio: 'inherit', env: { ...process.env, E2E_PREBUILT: '1' } },
);
process.exit(run.status ?? 1);
