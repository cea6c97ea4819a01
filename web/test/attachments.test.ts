// Encrypted attachments through the SDK, against the real Worker, PostgreSQL and wrangler's local
// R2: a member encrypts and uploads a file, its external part (key, nonce, hash) travels to another
// member inside an MLS message, and that member downloads, checks and decrypts it. A hostile
// server that alters, cuts or swaps the bytes gets them refused, never shown; cancelling stops an
// upload (deleting it from the server) or a download. The preview is made in real Chromium.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import * as esbuild from 'esbuild';
import { fileStack, received } from './harness.ts';
import { waitFor } from '../../test/support/wait.mjs';
import { checkAgainstOpenApi, randomPhone } from '../../test/support/api.mjs';
import { ChatClient } from '../sdk/client.ts';
import { Api, ApiError } from '../sdk/api.ts';
import {
  AttachmentFailure, downloadAttachment, encryptFile, externalPart, PREVIEW_MAX_BYTES, PREVIEW_MAX_SIDE, uploadAttachment,
  type ExternalPart, type Progress,
} from '../sdk/attachments.ts';

const file = fileStack();
const MIB = 1024 * 1024;

/** What a hostile server does to download answers; set by a test as it goes. */
let tamper: ((bytes: Uint8Array) => Uint8Array) | null = null;
/** Every REST answer checked against the OpenAPI document, a tampered download's as it came. */
const mismatches: string[] = [];

const serverFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = init?.method ?? 'GET';
  const bytes = (res.headers.get('content-type') ?? '').startsWith('application/octet-stream');
  try {
    const body = bytes ? new Uint8Array() : await res.clone().text().then((t) => (t ? JSON.parse(t) : null));
    checkAgainstOpenApi(method, url.pathname, res.status, body, { documentedOnly: true });
  } catch (e) {
    mismatches.push((e as Error).message);
  }
  if (!bytes || !tamper) return res;
  // The hostile server: the same status and headers, other bytes.
  const altered = tamper(new Uint8Array(await res.arrayBuffer()));
  return new Response(altered as Uint8Array<ArrayBuffer>, { status: res.status, headers: res.headers });
};

async function newClient(name: string): Promise<ChatClient> {
  const client = new ChatClient({ baseUrl: file.stack.baseUrl, fetch: serverFetch, storeName: `${name}-${randomPhone()}`, deviceLabel: name, keyPackageTarget: 4 });
  await client.register(randomPhone(), name, 'correct horse battery');
  file.clients.push(client);
  return client;
}

/** Random bytes (getRandomValues gives at most 64 KiB at a time). */
function randomFile(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(at + 65536, size)));
  return out;
}

/** Alice, Bob and their 1:1, with a file Alice sent there, as Bob's device got it inside MLS. */
async function sharedFile(size: number) {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'Bob to join' });
  const plaintext = randomFile(size);
  const caption = `data ${crypto.randomUUID()}`;
  const arriving = received(bob, caption);
  await alice.sendFiles(conversation.id, [{ bytes: plaintext, contentType: 'application/octet-stream', filename: 'data.bin' }], { caption });
  const part = (await arriving).attachments![0];
  return { bob, plaintext, part };
}

test('a message carries files with a caption and an image preview; the other member downloads each, checked; deleting it for everyone takes the files off the server', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  await waitFor(() => bob.hasGroup(conversation.id), { what: 'Bob to join' });
  const photo = randomFile(700_000);
  const notes = randomFile(12_345);
  const preview = { bytes: randomFile(2000), mediaType: 'image/jpeg' as const, width: 320, height: 240 };
  const caption = `holiday ${crypto.randomUUID()}`;
  const arriving = received(bob, caption);
  const progress: Progress[] = [];
  const sent = await alice.sendFiles(conversation.id, [
    { bytes: photo, contentType: 'image/png', filename: 'beach.png', preview },
    { bytes: notes, contentType: 'text/plain', filename: 'notes.txt' },
  ], { caption, onProgress: (p) => progress.push(p) });
  assert.equal(progress.at(-1)!.loaded, photo.length + notes.length + 32, 'progress over both files');
  const atBob = await arriving;
  assert.deepEqual(atBob.attachments!.map((a) => [a.filename, a.contentType, a.size, !!a.preview]), [['beach.png', 'image/png', photo.length, true], ['notes.txt', 'text/plain', notes.length, false]]);
  assert.deepEqual([atBob.attachments![0].preview!.width, atBob.attachments![0].preview!.height], [320, 240]);
  for (const [i, bytes] of [photo, notes].entries()) {
    assert.ok(Buffer.from(await bob.downloadFile(atBob.attachments![i])).equals(Buffer.from(bytes)), `file ${i} arrives whole`);
  }
  const { rows } = await file.stack.pool.query('SELECT message_id FROM attachments WHERE id = ANY($1)', [sent.attachments!.map((a) => a.url)]);
  assert.deepEqual(rows.map((r: { message_id: string }) => r.message_id), [atBob.id, atBob.id], 'the server keeps them as that message\'s');

  // Deleted for everyone: the message's files go from the server with it.
  await alice.deleteForEveryone(sent.key);
  await waitFor(async () => (await bob.messageByContent(conversation.id, atBob.contentId!))?.deleted !== undefined, { what: 'the deletion at Bob' });
  await assert.rejects(bob.downloadFile(atBob.attachments![0]), (e: ApiError) => e.status === 404);
  assert.deepEqual(mismatches.splice(0), []);
});

test('files whose previews and names would not fit in one message are refused before anything is uploaded', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  const preview = { bytes: randomFile(12 * 1024), mediaType: 'image/jpeg' as const, width: 320, height: 240 };
  const photos = Array.from({ length: 8 }, (_, i) => ({ bytes: randomFile(1000), contentType: 'image/jpeg', filename: `photo-${i}.jpg`, preview }));
  await assert.rejects(alice.sendFiles(conversation.id, photos), /too much for one message/);
  const { rows } = await file.stack.pool.query('SELECT count(*)::int AS n FROM attachments WHERE uploader_id = $1', [alice.user!.id]);
  assert.equal(rows[0].n, 0, 'nothing uploaded, nothing holding the quota');
});

test('a file encrypted and uploaded by one member is downloaded and decrypted by the other, with progress both ways', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  const plaintext = randomFile(6 * MIB + 123);
  const encrypted = await encryptFile(plaintext, { mediaType: 'image/png', filename: 'holiday.png' });
  assert.equal(encrypted.ciphertext.length, plaintext.length + 16);
  assert.deepEqual([encrypted.part.size, encrypted.part.contentType, encrypted.part.filename], [plaintext.length, 'image/png', 'holiday.png']);
  assert.deepEqual([encrypted.part.encAlg, encrypted.part.hashAlg], [2, 1], 'MIMI: AEAD_AES_256_GCM, sha-256');
  const again = await encryptFile(plaintext, { mediaType: 'image/png' });
  assert.notEqual(again.part.key, encrypted.part.key, 'a fresh key per file');
  assert.notEqual(again.part.nonce, encrypted.part.nonce);

  const sent: Progress[] = [];
  const id = await uploadAttachment(alice.api, conversation.id, encrypted.ciphertext, { onProgress: (p) => sent.push(p) });
  assert.equal(sent.length, 3, 'progress at the start and after each of the two parts');
  assert.ok(sent.every((p, i) => p.total === plaintext.length + 16 && (i === 0 ? p.loaded === 0 : p.loaded > sent[i - 1].loaded)));
  assert.equal(sent.at(-1)!.loaded, plaintext.length + 16);

  // The part goes to Bob inside an MLS message; the server relays it without reading it.
  const text = JSON.stringify(externalPart(encrypted, id));
  const arriving = received(bob, text);
  await alice.sendText(conversation.id, text);
  const part = JSON.parse((await arriving).text!) as ExternalPart;
  const got: Progress[] = [];
  const bytes = await downloadAttachment(bob.api, part, { onProgress: (p) => got.push(p) });
  assert.ok(Buffer.from(bytes).equals(Buffer.from(plaintext)), 'Bob has the file');
  assert.ok(got.length > 2 && got.at(-1)!.loaded === plaintext.length + 16, 'download progress up to the whole ciphertext');
  // What the server stored is the ciphertext, not the file.
  const { rows } = await file.stack.pool.query('SELECT size FROM attachments WHERE id = $1', [id]);
  assert.equal(Number(rows[0].size), plaintext.length + 16);
  const stored = file.stack.r2Files().map((path) => readFileSync(path));
  assert.ok(!stored.some((b) => b.includes(Buffer.from(plaintext.subarray(1000, 1064)))), 'no R2 object holds the plaintext');
  assert.deepEqual(mismatches.splice(0), []);
});

test('a download a hostile server altered, cut or swapped is refused, never returned', async () => {
  const { bob, plaintext, part } = await sharedFile(70_000);
  try {
    tamper = (bytes) => { const copy = bytes.slice(); copy[copy.length >> 1] ^= 1; return copy; };
    await assert.rejects(downloadAttachment(bob.api, part), isFailure('decrypt_failed'));
    tamper = (bytes) => bytes.subarray(0, bytes.length - 1);
    await assert.rejects(downloadAttachment(bob.api, part), isFailure('size_mismatch'));
    // Another of Alice's files, served in place of this one: it does not decrypt under this key.
    const other = await encryptFile(randomFile(70_000), { mediaType: 'application/octet-stream' });
    tamper = () => other.ciphertext;
    await assert.rejects(downloadAttachment(bob.api, part), isFailure('decrypt_failed'));
  } finally {
    tamper = null;
  }
  // A part whose hash is not its file's (a broken or lying sender) is refused after decryption.
  const wrongHash = { ...part, contentHash: Buffer.alloc(32, 7).toString('base64') };
  await assert.rejects(downloadAttachment(bob.api, wrongHash), isFailure('hash_mismatch'));
  await assert.rejects(downloadAttachment(bob.api, { ...part, encAlg: 3 }), isFailure('unsupported'));
  // A size no file can have is refused before a buffer of it is made.
  await assert.rejects(downloadAttachment(bob.api, { ...part, size: 2 ** 40 }), isFailure('too_large'));
  await assert.rejects(downloadAttachment(bob.api, { ...part, size: -16 }), isFailure('too_large'));
  // Untouched, it reads.
  assert.ok(Buffer.from(await downloadAttachment(bob.api, part)).equals(Buffer.from(plaintext)));
  // Someone outside the conversation gets nothing, key or not.
  const eve = await newClient('Eve');
  await assert.rejects(downloadAttachment(eve.api, part), (e: unknown) => e instanceof ApiError && e.status === 404);
  assert.deepEqual(mismatches.splice(0), []);
});

test('cancelling an upload midway deletes it from the server; cancelling a download stops it', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  const encrypted = await encryptFile(randomFile(26 * MIB), { mediaType: 'video/mp4' });
  const upload = new AbortController();
  const sent: number[] = [];
  const uploading = uploadAttachment(alice.api, conversation.id, encrypted.ciphertext, {
    signal: upload.signal,
    // After the first part, cancel while others are on their way (of six, three at a time).
    onProgress: ({ loaded }) => { sent.push(loaded); if (loaded > 0) setTimeout(() => upload.abort(), 30); },
  });
  await assert.rejects(uploading, isFailure('cancelled'));
  assert.ok(sent.length >= 2 && sent.at(-1)! < encrypted.ciphertext.length, `stopped midway: ${sent}`);
  const { rows } = await file.stack.pool.query('SELECT count(*)::int AS n FROM attachments WHERE uploader_id = $1', [alice.user!.id]);
  assert.equal(rows[0].n, 0, 'the cancelled upload is gone from the server');
  // Cancelled before it starts: nothing is reserved.
  await assert.rejects(uploadAttachment(alice.api, conversation.id, encrypted.ciphertext, { signal: AbortSignal.abort() }), isFailure('cancelled'));

  const id = await uploadAttachment(alice.api, conversation.id, encrypted.ciphertext);
  const part = externalPart(encrypted, id);
  const download = new AbortController();
  let chunks = 0;
  const downloading = downloadAttachment(bob.api, part, {
    signal: download.signal,
    onProgress: ({ loaded }) => { if (loaded > 0 && ++chunks === 1) download.abort(); },
  });
  await assert.rejects(downloading, isFailure('cancelled'));
  // Nothing of it was kept: the whole file still downloads afterwards.
  assert.equal((await downloadAttachment(bob.api, part)).length, 26 * MIB);
  assert.deepEqual(mismatches.splice(0), []);
});

test('a file over the size limit is refused on this device, and an upload over it by the server, leaving nothing behind', async () => {
  const [alice, bob] = [await newClient('Alice'), await newClient('Bob')];
  const conversation = await alice.openDirect(bob.user!.id);
  await assert.rejects(encryptFile(new Uint8Array(100 * MIB + 1), { mediaType: 'application/zip' }), isFailure('too_large'));
  const api = new Api(file.stack.baseUrl);
  api.token = alice.api.token;
  // A ciphertext one byte over the largest file encrypted: the server refuses it by its size.
  await assert.rejects(uploadAttachment(api, conversation.id, new Uint8Array(100 * MIB + 17)), (e: unknown) =>
    e instanceof ApiError && e.status === 413 && e.code === 'too_large');
  const { rows } = await file.stack.pool.query('SELECT count(*)::int AS n FROM attachments WHERE uploader_id = $1', [alice.user!.id]);
  assert.equal(rows[0].n, 0);
});

test('an image preview is a small JPEG, at most 320 px on its longest side (real Chromium)', async () => {
  const bundle = await esbuild.build({
    entryPoints: [new URL('../sdk/attachments.ts', import.meta.url).pathname], bundle: true, write: false, format: 'iife', globalName: 'attachments',
  });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.addScriptTag({ content: bundle.outputFiles[0].text });
    const previews = await page.evaluate(async () => {
      const { makeImagePreview } = (window as unknown as { attachments: typeof import('../sdk/attachments.ts') }).attachments;
      // A busy 3000×2000 photo-like image (noise compresses badly), and a tall small one.
      const photo = new OffscreenCanvas(3000, 2000);
      const ctx = photo.getContext('2d')!;
      const noise = ctx.createImageData(3000, 2000);
      for (let i = 0; i < noise.data.length; i++) noise.data[i] = (i % 4 === 3) ? 255 : Math.random() * 256;
      ctx.putImageData(noise, 0, 0);
      const tall = new OffscreenCanvas(100, 400);
      tall.getContext('2d')!.fillRect(0, 0, 100, 400);
      const results = [];
      for (const canvas of [photo, tall]) {
        const preview = await makeImagePreview(await canvas.convertToBlob({ type: 'image/png' }));
        const decoded = await createImageBitmap(new Blob([preview.bytes as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }));
        results.push({ bytes: preview.bytes.length, width: preview.width, height: preview.height, decoded: [decoded.width, decoded.height], head: Array.from(preview.bytes.slice(0, 3)) });
      }
      let refused = '';
      try { await makeImagePreview(new Blob(['not an image'], { type: 'image/png' })); } catch (e) { refused = (e as { code: string }).code; }
      return { results, refused };
    });
    for (const p of previews.results) {
      assert.ok(p.bytes <= PREVIEW_MAX_BYTES, `${p.bytes} bytes`);
      assert.ok(Math.max(p.width, p.height) <= PREVIEW_MAX_SIDE);
      assert.deepEqual(p.decoded, [p.width, p.height], 'it decodes to its stated size');
      assert.deepEqual(p.head, [0xff, 0xd8, 0xff], 'a JPEG');
    }
    assert.deepEqual(previews.results.map((p) => [p.width, p.height]).slice(1), [[80, 320]], 'proportions kept');
    assert.ok(previews.results[0].width <= 320 && previews.results[0].height <= 214);
    assert.equal(previews.refused, 'not_an_image');
  } finally {
    await browser.close();
  }
});

function isFailure(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof AttachmentFailure, `an AttachmentFailure, not ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  };
}

