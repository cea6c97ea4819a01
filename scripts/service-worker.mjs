// Writes the service worker (web/sw/service-worker.js) into a static export as /sw.js, with the
// list of what it precaches and a version that changes whenever any of those files does. Run by
// scripts/build-web.sh after `next build`.
//
// The worker imports the SDK (to read a push with this device's MLS state), so it is bundled with
// esbuild, the bundler wrangler already brings (pinned in web/package.json to wrangler's
// version): one classic script, as `navigator.serviceWorker.register` loads it everywhere.
//
//   node scripts/service-worker.mjs web/out
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = process.argv[2];
if (!out) throw new Error('usage: node scripts/service-worker.mjs web/out');
const SOURCE = fileURLToPath(new URL('../web/sw/service-worker.js', import.meta.url));

/** Files the static host serves but that are not the app: its header rules, and this worker. */
const NOT_CACHED = new Set(['/_headers', '/sw.js']);

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

/** The URL a file is served at: pages without `.html` (index.html as its directory). */
export function urlOf(path) {
  if (path === '/index.html') return '/';
  if (path.endsWith('/index.html')) return path.slice(0, -'/index.html'.length);
  if (path.endsWith('.html')) return path.slice(0, -'.html'.length);
  return path;
}

const entries = files(out)
  .map((file) => ({ file, path: `/${relative(out, file).split('\\').join('/')}` }))
  .filter(({ path }) => !NOT_CACHED.has(path) && !path.split('/').some((part) => part.startsWith('.')))
  .map(({ file, path }) => ({ url: urlOf(path), hash: createHash('sha256').update(readFileSync(file)).digest('hex') }))
  .sort((a, b) => a.url.localeCompare(b.url));

const bundled = await build({
  entryPoints: [SOURCE],
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  write: false,
  legalComments: 'none',
});
const source = bundled.outputFiles[0].text;
// The header rules count too, though not cached as a file: a cached page keeps the headers it
// was cached with (its Content-Security-Policy), so a deploy that changes only them is a new version.
const headers = readFileSync(join(out, '_headers'));
const version = createHash('sha256')
  .update(JSON.stringify(entries))
  .update(headers)
  .update(source)
  .digest('hex')
  .slice(0, 16);
const precache = entries.map((e) => e.url);
writeFileSync(join(out, 'sw.js'), `const VERSION = ${JSON.stringify(version)};\nconst PRECACHE = ${JSON.stringify(precache)};\n\n${source}`);
console.log(`service worker ${version}: ${precache.length} files precached, ${(source.length / 1024).toFixed(0)} kB`);
