// Adds a Content-Security-Policy for each exported page to web/out/_headers.
//
// The static export inlines a few scripts per page (React's flight data and the theme script that
// must run before first paint), so a policy without 'unsafe-inline' has to allow exactly those, by
// hash. Hashing them here, after `next build`, keeps the policy strict without nonces (which a
// static host cannot mint). Run by scripts/build-web.sh; the browser tests fail on any violation.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const out = process.argv[2];
if (!out) throw new Error('usage: node scripts/csp-headers.mjs web/out');

// With separate hosting the API and WebSocket live elsewhere, and the page must be allowed to
// reach them; same-origin hosting needs only 'self' (which covers ws: and wss: to this host).
const apiOrigins = [process.env.NEXT_PUBLIC_API_URL, process.env.NEXT_PUBLIC_WS_URL]
  .filter(Boolean)
  .map((url) => new URL(url).origin);

const INLINE_SCRIPT = /<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g;

function htmlFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === '_next' ? [] : htmlFiles(path);
    return entry.name.endsWith('.html') ? [path] : [];
  });
}

function policy(hashes) {
  return [
    "default-src 'self'",
    `script-src 'self' ${hashes.map((h) => `'sha256-${h}'`).join(' ')}`,
    // React and Tailwind set style attributes; styles cannot run code.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    // Decrypted attachments (video, audio) play from blob: URLs made on the device.
    "media-src 'self' blob:",
    "font-src 'self'",
    `connect-src 'self' ${apiOrigins.join(' ')}`.trim(),
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The URL paths a file is served at: /chat.html is /chat, index.html is its directory. */
function urlPaths(file) {
  const path = `/${relative(out, file).split('\\').join('/')}`;
  if (path.endsWith('/index.html')) {
    const dir = path.slice(0, -'index.html'.length);
    return dir === '/' ? ['/', '/index.html'] : [dir, dir.slice(0, -1), path];
  }
  const bare = path.slice(0, -'.html'.length);
  return [bare, `${bare}/`, path];
}

const MARKER = '# Content-Security-Policy per page, with the hashes of its inline scripts (scripts/csp-headers.mjs).';
let rules = `\n${MARKER}\n`;
for (const file of htmlFiles(out)) {
  const html = readFileSync(file, 'utf8');
  const hashes = [...new Set([...html.matchAll(INLINE_SCRIPT)]
    .map(([, body]) => body)
    .filter((body) => body.length > 0)
    .map((body) => createHash('sha256').update(body).digest('base64')))];
  const header = `  Content-Security-Policy: ${policy(hashes)}\n`;
  for (const path of urlPaths(file)) rules += `${path}\n${header}`;
}
// Idempotent: a second run replaces the rules of the first.
const headersFile = join(out, '_headers');
const base = readFileSync(headersFile, 'utf8').split(`\n${MARKER}`)[0];
writeFileSync(headersFile, base.replace(/\n*$/, '\n') + rules);
console.log(`Content-Security-Policy written for ${htmlFiles(out).length} pages`);
