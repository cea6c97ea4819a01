// Attachment throughput with the real SDK (web/sdk/attachments.ts) against the real Worker under
// `wrangler dev`, PostgreSQL and wrangler's local R2, loopback only: upload and download of a file
// of each size, as raw bytes (no encryption) and as the SDK sends them (encrypt + upload, download +
// check + decrypt), in MB/s (10^6 bytes); then the SDK's encrypt and decrypt cost per MB, in Node
// and in real Chromium (the same module, bundled). Bounded: `--runs` of each, then it stops.
//
//   bash bench/run attachments [--sizes 10,100] [--runs 3] [--parallel 3]
import { parseArgs } from 'node:util';
import { randomFillSync } from 'node:crypto';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { startStack } from '../test/support/stack.mjs';
import { Api as TestApi } from '../test/support/api.mjs';
import { Api } from '../web/sdk/api.ts';
import { downloadAttachment, encryptFile, externalPart, uploadAttachment } from '../web/sdk/attachments.ts';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,100' },
    runs: { type: 'string', default: '3' },
    parallel: { type: 'string', default: '3' },
  },
});
const SIZES_MB = opts.sizes.split(',').map(Number);
const RUNS = Number(opts.runs);
const PARTS_IN_FLIGHT = Number(opts.parallel);
const MB = 1e6;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (bytes, ms) => bytes / MB / (ms / 1000);
const fmt = (xs) => `${median(xs).toFixed(1)} MB/s (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;

function randomFile(size) {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 1 << 16) randomFillSync(bytes, at, Math.min(1 << 16, size - at));
  return bytes;
}

async function time(fn) {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}

/** Reads a download's body to the end without keeping it: the raw transfer alone. */
async function drain(res) {
  let n = 0;
  for await (const chunk of res.body) n += chunk.length;
  return n;
}

// Each run's uploads stay until the stack stops: a quota far above what they add up to.
const stack = await startStack({ vars: { ATTACHMENT_QUOTA_BYTES: String(8 * 1024 ** 3) } });
try {
  const rest = new TestApi(stack.baseUrl);
  const [alice, bob] = [await rest.register(), await rest.register()];
  const group = await rest.post('/conversations', { title: 'Files', memberIds: [bob.user.id] }, { token: alice.token });
  const [sender, reader] = [new Api(stack.baseUrl), new Api(stack.baseUrl)];
  sender.token = alice.token;
  reader.token = bob.token;

  // One untimed round trip first, so no figure pays for warming up the isolate and the store.
  const warm = await encryptFile(randomFile(MB), { mediaType: 'application/octet-stream' });
  await downloadAttachment(reader, externalPart(warm, await uploadAttachment(sender, group.body.id, warm.ciphertext)));

  console.log(`attachments through wrangler dev (loopback), ${PARTS_IN_FLIGHT} parts in flight, ${RUNS} runs each, median (min–max):`);
  for (const mb of SIZES_MB) {
    const plaintext = randomFile(mb * MB);
    const results = { rawUp: [], rawDown: [], encUp: [], encDown: [] };
    for (let run = 0; run < RUNS; run++) {
      // Raw: the bytes as they are, through the same parts and routes.
      const [up, id] = await time(() => uploadAttachment(sender, group.body.id, plaintext, { partsInFlight: PARTS_IN_FLIGHT }));
      results.rawUp.push(rate(plaintext.length, up));
      const [down, got] = await time(async () => drain(await reader.downloadAttachment(id)));
      if (got !== plaintext.length) throw new Error(`downloaded ${got} of ${plaintext.length} bytes`);
      results.rawDown.push(rate(plaintext.length, down));
      await sender.cancelAttachment(id);
      // Encrypted, as the SDK sends a file: encrypt + upload; download + check + decrypt.
      const [encUp, [file, encId]] = await time(async () => {
        const encrypted = await encryptFile(plaintext, { mediaType: 'application/octet-stream' });
        return [encrypted, await uploadAttachment(sender, group.body.id, encrypted.ciphertext, { partsInFlight: PARTS_IN_FLIGHT })];
      });
      results.encUp.push(rate(plaintext.length, encUp));
      const [encDown, decrypted] = await time(() => downloadAttachment(reader, externalPart(file, encId)));
      if (decrypted.length !== plaintext.length) throw new Error('the decrypted file differs in size');
      results.encDown.push(rate(plaintext.length, encDown));
      await sender.cancelAttachment(encId);
    }
    console.log(`  ${mb} MB  upload raw ${fmt(results.rawUp)}, encrypted ${fmt(results.encUp)}`);
    console.log(`  ${mb} MB  download raw ${fmt(results.rawDown)}, decrypted ${fmt(results.encDown)}`);
  }
} finally {
  await stack.stop();
}

// The crypto alone, per MB: encryptFile (AES-256-GCM + SHA-256) and what a download adds after
// the transfer (AES-256-GCM decrypt + SHA-256), on a 100 MB file, in Node and in Chromium.
async function cryptoCost({ encryptFile: encrypt, randomFile: make, decryptFile }, size, runs) {
  const file = make(size);
  const enc = [];
  const dec = [];
  for (let run = 0; run < runs; run++) {
    const t0 = performance.now();
    const encrypted = await encrypt(file, { mediaType: 'application/octet-stream' });
    const t1 = performance.now();
    await decryptFile(encrypted);
    enc.push((t1 - t0) / (size / 1e6));
    dec.push((performance.now() - t1) / (size / 1e6));
  }
  return { enc, dec };
}

/** Decrypts and hashes as downloadAttachment does once the bytes are in (no network). */
async function decryptFile({ ciphertext, part }) {
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', b64(part.key), 'AES-GCM', false, ['decrypt']);
  const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: b64(part.nonce) }, key, ciphertext);
  await crypto.subtle.digest('SHA-256', plain);
}

const CRYPTO_BYTES = 100 * MB;
const ms = (xs) => `${median(xs).toFixed(2)} ms/MB`;
const node = await cryptoCost({ encryptFile, randomFile, decryptFile }, CRYPTO_BYTES, RUNS);
console.log(`SDK crypto per MB, Node ${process.version}: encrypt ${ms(node.enc)}, decrypt ${ms(node.dec)}`);

const bundle = await esbuild.build({
  entryPoints: [new URL('../web/sdk/attachments.ts', import.meta.url).pathname], bundle: true, write: false, format: 'iife', globalName: 'attachments',
});
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  // WebCrypto needs a secure context: a page of a local origin, answered by the browser itself.
  await page.route('http://localhost/', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>bench</title>' }));
  await page.goto('http://localhost/');
  await page.addScriptTag({ content: bundle.outputFiles[0].text });
  const inBrowser = await page.evaluate(
    async ({ source, size, runs }) => {
      // eslint-disable-next-line no-new-func
      const [cost, decrypt] = new Function(`return [${source}]`)();
      const make = (n) => {
        const bytes = new Uint8Array(n);
        for (let at = 0; at < n; at += 65536) crypto.getRandomValues(bytes.subarray(at, Math.min(at + 65536, n)));
        return bytes;
      };
      return cost({ encryptFile: window.attachments.encryptFile, randomFile: make, decryptFile: decrypt }, size, runs);
    },
    { source: `${cryptoCost.toString()}, ${decryptFile.toString()}`, size: CRYPTO_BYTES, runs: RUNS },
  );
  console.log(`SDK crypto per MB, Chromium ${browser.version()}: encrypt ${ms(inBrowser.enc)}, decrypt ${ms(inBrowser.dec)}`);
} finally {
  await browser.close();
}
