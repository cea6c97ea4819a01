// Encrypted attachments against the real Worker, PostgreSQL and wrangler's local R2: uploads in
// parts, downloads, who may do what, the limits, cancelling, referring to uploads from messages,
// the sweep, and a scan of every object R2 stored for the files' plaintext. Files are encrypted
// here as the SDK does (AES-256-GCM, a fresh key per file); the server only ever gets ciphertext.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileStack } from '../support/file-stack.mjs';
import { waitFor } from '../support/wait.mjs';

const MIB = 1024 * 1024;
const PART = 5 * MIB;
/** A small quota, so that passing it needs no gigabyte of uploads. */
const QUOTA = 40 * MIB;
const file = fileStack({ vars: { ATTACHMENT_QUOTA_BYTES: String(QUOTA) } });
afterEach(() => file.closeSockets());

/** Every file's plaintext holds this, over and over: the scan at the end looks for it in R2. */
const MARKER = Buffer.from(`plaintext-marker-${randomUUID()}-`);
/** Every ciphertext uploaded, which the scan must find (so it looks where R2 keeps objects). */
const uploaded = [];

/** `size` bytes of plaintext: the marker repeated, so that any stretch of it gives it away. */
function plaintext(size) {
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; at += MARKER.length) MARKER.copy(out, at);
  return out;
}

/** AES-256-GCM under a fresh key and nonce: ciphertext then the 16-byte tag, as the SDK sends it. */
function encrypt(bytes) {
  const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
  return Buffer.concat([cipher.update(bytes), cipher.final(), cipher.getAuthTag()]);
}

const auth = (user) => ({ token: user.token });
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
let counter = 0;
const clientMsgId = () => `a-${Date.now()}-${++counter}`;

async function group(owner, members) {
  const res = await file.api.post('/conversations', { title: 'Files', memberIds: members.map((m) => m.user.id) }, auth(owner));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

function start(user, conversationId, size) {
  return file.api.post(`/conversations/${conversationId}/attachments`, { size }, auth(user));
}

const part = (user, id, n, bytes) => file.api.put(`/attachments/${id}/parts/${n}`, bytes, auth(user));

/** Uploads `ciphertext` for the conversation in parts and completes it; returns the upload. */
async function upload(user, conversationId, ciphertext) {
  const started = await start(user, conversationId, ciphertext.length);
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const { id, parts, partSize } = started.body;
  for (let n = 1; n <= parts; n++) {
    const sent = await part(user, id, n, ciphertext.subarray((n - 1) * partSize, n * partSize));
    assert.equal(sent.status, 204, JSON.stringify(sent.body));
  }
  const done = await file.api.post(`/attachments/${id}/complete`, undefined, auth(user));
  assert.equal(done.status, 200, JSON.stringify(done.body));
  uploaded.push(ciphertext);
  return done.body;
}

/** Sends an event and waits for its ack or error, matched by its `id`. */
async function roundTrip(socket, event) {
  const id = `r-${++counter}`;
  socket.send({ ...event, id });
  return socket.next((e) => (e.type === 'ack' || e.type === 'error') && e.ref === id);
}

const message = (conversationId, attachmentIds, epoch = 0) =>
  ({ type: 'send-message', conversationId, clientMsgId: clientMsgId(), epoch, ciphertext: b64(randomBytes(64)), attachmentIds });

test('a member uploads a file in parts and every member downloads exactly its ciphertext, uncached', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const conversation = await group(alice, [bob]);
  const ciphertext = encrypt(plaintext(6 * MIB));
  const started = await start(alice, conversation.id, ciphertext.length);
  assert.equal(started.status, 201);
  assert.deepEqual(
    { size: started.body.size, partSize: started.body.partSize, parts: started.body.parts, conversationId: started.body.conversationId },
    { size: 6 * MIB + 16, partSize: PART, parts: 2, conversationId: conversation.id },
  );
  const { id } = started.body;
  // Parts in any order, and one sent again (the last one sent counts).
  assert.equal((await part(alice, id, 2, ciphertext.subarray(PART))).status, 204);
  assert.equal((await part(alice, id, 1, randomBytes(PART))).status, 204);
  assert.equal((await file.api.get(`/attachments/${id}`, auth(bob))).status, 404, 'nothing to read before it is complete');
  assert.equal((await part(alice, id, 1, ciphertext.subarray(0, PART))).status, 204);
  const done = await file.api.post(`/attachments/${id}/complete`, undefined, auth(alice));
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.deepEqual([done.body.id, done.body.uploaderId, done.body.size], [id, alice.user.id, ciphertext.length]);
  uploaded.push(ciphertext);

  for (const reader of [alice, bob]) {
    const got = await file.api.get(`/attachments/${id}`, auth(reader));
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(got.body).equals(ciphertext), 'the same bytes as uploaded');
    assert.equal(got.headers.get('content-length'), String(ciphertext.length));
    assert.equal(got.headers.get('cache-control'), 'private, no-store');
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
  }
  assert.equal((await file.api.post(`/attachments/${id}/complete`, undefined, auth(alice))).body.error.code, 'upload_closed');
  assert.equal((await part(alice, id, 1, ciphertext.subarray(0, PART))).body.error.code, 'upload_closed');
});

test('nobody but the conversation\'s members reads an upload, and only its uploader writes it', async () => {
  const [owner, bob, stranger] = [await file.api.register(), await file.api.register(), await file.api.register()];
  const conversation = await group(owner, [bob]);
  const done = await upload(owner, conversation.id, encrypt(plaintext(1000)));
  const open = (await start(owner, conversation.id, 2000)).body;

  // A stranger: the upload does not exist for them, and they cannot upload to the conversation.
  assert.equal((await file.api.get(`/attachments/${done.id}`, auth(stranger))).status, 404);
  assert.equal((await start(stranger, conversation.id, 100)).body.error.code, 'not_a_member');
  assert.equal((await start(stranger, randomUUID(), 100)).status, 404);
  for (const who of [stranger, bob]) {
    assert.equal((await part(who, open.id, 1, randomBytes(2000))).status, 404, 'only the uploader writes');
    assert.equal((await file.api.post(`/attachments/${open.id}/complete`, undefined, auth(who))).status, 404);
    assert.equal((await file.api.delete(`/attachments/${done.id}`, auth(who))).status, 404);
  }
  assert.equal((await file.api.get(`/attachments/${done.id}`)).status, 401);
  assert.equal((await file.api.get('/attachments/not-an-id', auth(owner))).body.error.code, 'invalid_id');

  // Bob, removed from the group by a commit, reads it no more.
  assert.equal((await file.api.get(`/attachments/${done.id}`, auth(bob))).status, 200);
  const socket = await file.open(owner.token);
  const removal = await roundTrip(socket, {
    type: 'commit', conversationId: conversation.id, epoch: 0, clientMsgId: clientMsgId(), commit: b64(randomBytes(300)), removeUserIds: [bob.user.id],
  });
  assert.equal(removal.type, 'ack', JSON.stringify(removal));
  assert.equal((await file.api.get(`/attachments/${done.id}`, auth(bob))).status, 404);
  assert.equal((await start(bob, conversation.id, 100)).body.error.code, 'not_a_member');

  // An uploader who is no longer a member cannot go on writing either.
  const carol = await file.api.register();
  const other = await group(carol, [bob]);
  const bobsOpen = (await start(bob, other.id, 100)).body;
  await file.stack.pool.query('DELETE FROM members WHERE conversation_id = $1 AND user_id = $2', [other.id, bob.user.id]);
  assert.equal((await part(bob, bobsOpen.id, 1, randomBytes(100))).status, 404);
});

test('every part must be exactly its size, and an upload at most the largest file encrypted', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const conversation = await group(alice, [bob]);
  const size = PART + 10;
  const { id } = (await start(alice, conversation.id, size)).body;
  const refused = async (n, bytes, code) => {
    const res = await part(alice, id, n, bytes);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
  };
  await refused(1, randomBytes(PART - 1), 'wrong_part_size');
  await refused(1, randomBytes(PART + 1), 'wrong_part_size');
  await refused(2, randomBytes(11), 'wrong_part_size');
  await refused(2, randomBytes(0), 'wrong_part_size');
  await refused(3, randomBytes(10), 'invalid_part');
  await refused(0, randomBytes(10), 'invalid_part');
  assert.equal((await part(alice, id, 2, randomBytes(10))).status, 204);
  const early = await file.api.post(`/attachments/${id}/complete`, undefined, auth(alice));
  assert.equal(early.status, 409);
  assert.equal(early.body.error.code, 'parts_missing');
  assert.match(early.body.error.message, /missing: 1\./);

  const MAX = 100 * MIB + 16;
  const tooLarge = await start(alice, conversation.id, MAX + 1);
  assert.deepEqual([tooLarge.status, tooLarge.body.error.code], [413, 'too_large']);
  assert.match(tooLarge.body.error.message, /100 MiB/);
  assert.equal((await start(alice, conversation.id, 0)).status, 400);
  assert.equal((await start(alice, conversation.id, 'big')).status, 400);
  const largest = await start(alice, conversation.id, Math.min(MAX, QUOTA - PART - 10));
  assert.equal(largest.status, 201, 'within the quota, any size up to the largest file');
});

test('the quota and the cap on unfinished uploads refuse with a clear error and lose nothing', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const conversation = await group(alice, [bob]);
  const kept = await upload(alice, conversation.id, encrypt(plaintext(2 * MIB)));
  const big = (await start(alice, conversation.id, 30 * MIB)).body;
  const over = await start(alice, conversation.id, QUOTA - 30 * MIB - kept.size + 1);
  assert.deepEqual([over.status, over.body.error.code], [413, 'quota_exceeded']);
  assert.match(over.body.error.message, /you use 32\.0 MiB of 40\.0 MiB/);
  assert.equal((await start(alice, conversation.id, QUOTA - 30 * MIB - kept.size)).status, 201, 'exactly the quota fits');
  // Nothing was lost: the first upload reads, the second takes its parts.
  assert.equal((await file.api.get(`/attachments/${kept.id}`, auth(bob))).status, 200);
  assert.equal((await part(alice, big.id, 1, randomBytes(PART))).status, 204);
  // Another user's quota is their own.
  assert.equal((await start(bob, conversation.id, 30 * MIB)).status, 201);
  // Cancelling gives the space back.
  assert.equal((await file.api.delete(`/attachments/${big.id}`, auth(alice))).status, 204);
  assert.equal((await start(alice, conversation.id, 20 * MIB)).status, 201);

  // At most 20 unfinished uploads at once; finishing one makes room.
  const carol = await file.api.register();
  const own = await group(carol, [bob]);
  const open = [];
  for (let i = 0; i < 20; i++) open.push((await start(carol, own.id, 100)).body);
  const capped = await start(carol, own.id, 100);
  assert.deepEqual([capped.status, capped.body.error.code], [429, 'too_many_uploads']);
  assert.equal((await part(carol, open[0].id, 1, randomBytes(100))).status, 204);
  assert.equal((await file.api.post(`/attachments/${open[0].id}/complete`, undefined, auth(carol))).status, 200);
  assert.equal((await start(carol, own.id, 100)).status, 201);
});

test('cancelling removes the upload and its bytes at once; one a message refers to stays', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const conversation = await group(alice, [bob]);
  const half = (await start(alice, conversation.id, PART + 5)).body;
  assert.equal((await part(alice, half.id, 1, randomBytes(PART))).status, 204);
  const finished = await upload(alice, conversation.id, encrypt(plaintext(3000)));
  const objectsBefore = file.stack.r2Files().length;

  assert.equal((await file.api.delete(`/attachments/${half.id}`, auth(alice))).status, 204);
  assert.equal((await file.api.delete(`/attachments/${finished.id}`, auth(alice))).status, 204);
  assert.equal((await file.api.delete(`/attachments/${finished.id}`, auth(alice))).status, 404, 'gone');
  assert.equal((await file.api.get(`/attachments/${finished.id}`, auth(bob))).status, 404);
  assert.equal((await part(alice, half.id, 2, randomBytes(5))).status, 404);
  const { rows } = await file.stack.pool.query('SELECT count(*)::int AS n FROM attachments WHERE id = ANY($1)', [[half.id, finished.id]]);
  assert.equal(rows[0].n, 0);
  assert.ok(file.stack.r2Files().length < objectsBefore, 'R2 holds fewer objects');

  const referred = await upload(alice, conversation.id, encrypt(plaintext(100)));
  const socket = await file.open(alice.token);
  assert.equal((await roundTrip(socket, message(conversation.id, [referred.id]))).type, 'ack');
  const inUse = await file.api.delete(`/attachments/${referred.id}`, auth(alice));
  assert.deepEqual([inUse.status, inUse.body.error.code], [409, 'attachment_in_use']);
  assert.equal((await file.api.get(`/attachments/${referred.id}`, auth(bob))).status, 200);
});

test('a message refers only to its sender\'s complete uploads for its conversation, each once', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const conversation = await group(alice, [bob]);
  const elsewhere = await group(alice, [await file.api.register()]);
  const [a, b] = [await file.open(alice.token), await file.open(bob.token)];
  const mine = await upload(alice, conversation.id, encrypt(plaintext(500)));
  const second = await upload(alice, conversation.id, encrypt(plaintext(600)));
  const bobs = await upload(bob, conversation.id, encrypt(plaintext(700)));
  const otherConversation = await upload(alice, elsewhere.id, encrypt(plaintext(800)));
  const unfinished = (await start(alice, conversation.id, 100)).body;

  const refused = async (ids, code) => {
    const answer = await roundTrip(a, message(conversation.id, ids));
    assert.deepEqual([answer.type, answer.code], ['error', code], JSON.stringify(answer));
  };
  await refused([bobs.id], 'invalid_attachment');
  await refused([otherConversation.id], 'invalid_attachment');
  await refused([unfinished.id], 'invalid_attachment');
  await refused([randomUUID()], 'invalid_attachment');
  await refused([mine.id, bobs.id], 'invalid_attachment');
  await refused([mine.id, mine.id], 'invalid_field');
  await refused(Array.from({ length: 11 }, () => randomUUID()), 'too_many_attachments');

  const event = message(conversation.id, [mine.id, second.id]);
  const sent = await roundTrip(a, event);
  assert.equal(sent.type, 'ack', JSON.stringify(sent));
  const { rows } = await file.stack.pool.query('SELECT id FROM attachments WHERE message_id = $1 ORDER BY id', [sent.message.id]);
  assert.deepEqual(rows.map((r) => r.id), [mine.id, second.id].sort());
  // A resend is answered with the message stored; another message cannot take the uploads.
  const resent = await roundTrip(a, event);
  assert.equal(resent.message.id, sent.message.id);
  await refused([mine.id], 'attachment_in_use');
  // Bob's own upload, in his own message.
  assert.equal((await roundTrip(b, message(conversation.id, [bobs.id]))).type, 'ack');
  // Refused sends took no seq: the two messages are seq 1 and 2.
  const { body: page } = await file.api.get(`/conversations/${conversation.id}/messages`, auth(alice));
  assert.deepEqual(page.items.map((m) => m.seq), [2, 1]);
});

test('messages stored together in one group commit each refer to their own uploads and keep their own expiry', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const conversation = await group(alice, [bob]);
  assert.equal((await file.api.patch(`/conversations/${conversation.id}`, { disappearAfterSeconds: 3600 }, auth(alice))).status, 200);
  const a = await file.open(alice.token);
  const mine = [];
  for (let i = 0; i < 4; i += 1) mine.push((await upload(alice, conversation.id, encrypt(plaintext(300 + i)))).id);
  const bobs = (await upload(bob, conversation.id, encrypt(plaintext(400)))).id;
  // Sent at once, so that those after the first arrive while it is stored and go in one commit,
  // where all the uploads they name are one array cut by each message's count: one that names
  // none, several, or one it may not take must leave the others' cuts where they are.
  const named = [[], [], [mine[0], mine[1]], [], [mine[2]], [bobs], [mine[3]], []];
  const events = named.map((ids, i) => ({ ...message(conversation.id, ids), id: `batch-${i}`, timerChange: i === 3 }));
  for (const e of events) a.send(e);
  const answers = [];
  for (const e of events) answers.push(await a.next((x) => (x.type === 'ack' || x.type === 'error') && x.ref === e.id, 10_000));
  assert.deepEqual(answers.map((x) => x.type), named.map((ids) => (ids.includes(bobs) ? 'error' : 'ack')));
  assert.equal(answers[5].code, 'invalid_attachment');
  for (const [i, answer] of answers.entries()) {
    if (answer.type !== 'ack') continue;
    const { rows } = await file.stack.pool.query('SELECT id FROM attachments WHERE message_id = $1 ORDER BY id', [answer.message.id]);
    assert.deepEqual(rows.map((r) => r.id), [...named[i]].sort(), `the uploads of message ${i}`);
  }
  const { rows } = await file.stack.pool.query(
    'SELECT id, extract(epoch FROM expires_at - created_at)::int AS expiry, xmin::text AS tx FROM messages WHERE conversation_id = $1 ORDER BY seq',
    [conversation.id]);
  assert.deepEqual(rows.map((r) => r.id), answers.filter((x) => x.type === 'ack').map((x) => x.message.id), 'seqs in the order sent');
  assert.deepEqual(rows.map((r) => r.expiry), answers.filter((x) => x.type === 'ack').map((x) => (x.ref === 'batch-3' ? null : 3600)),
    'only the timer change never expires');
  assert.ok(new Set(rows.map((r) => r.tx)).size < rows.length, 'some were stored in one commit');
  assert.equal((await file.api.get(`/attachments/${bobs}`, auth(bob))).status, 200);
});

test('the sweep deletes uploads nothing refers to after a day, and those of deleted accounts, and keeps the rest', async () => {
  const [admin, alice, bob] = [await file.api.register(), await file.api.register(), await file.api.register()];
  await file.stack.pool.query('UPDATE users SET is_admin = true WHERE id = $1', [admin.user.id]);
  const conversation = await group(alice, [bob]);
  const socket = await file.open(alice.token);
  const referred = await upload(alice, conversation.id, encrypt(plaintext(900)));
  assert.equal((await roundTrip(socket, message(conversation.id, [referred.id]))).type, 'ack');
  const unreferred = await upload(alice, conversation.id, encrypt(plaintext(901)));
  const unfinished = (await start(alice, conversation.id, PART + 1)).body;
  assert.equal((await part(alice, unfinished.id, 1, randomBytes(PART))).status, 204);
  const fresh = await upload(alice, conversation.id, encrypt(plaintext(902)));
  // Dan's 1:1 with Bob goes with Dan's account, and with it the upload Bob made there.
  const dan = await file.api.register();
  const { body: direct } = await file.api.get(`/conversations/${dan.user.id}`, auth(bob));
  const inDirect = await upload(bob, direct.id, encrypt(plaintext(903)));
  const dansOwn = await upload(dan, direct.id, encrypt(plaintext(904)));

  // A day and a minute later, for all but the fresh one.
  await file.stack.pool.query(
    `UPDATE attachments SET created_at = now() - interval '1 day 1 minute' WHERE id = ANY($1)`,
    [[referred.id, unreferred.id, unfinished.id, inDirect.id, dansOwn.id]],
  );
  assert.equal((await file.api.delete(`/admin/users/${dan.user.id}`, auth(admin))).status, 204);
  const before = file.stack.r2Files().length;
  await file.stack.runScheduled();

  const { rows } = await file.stack.pool.query('SELECT id FROM attachments WHERE id = ANY($1)', [
    [referred.id, unreferred.id, unfinished.id, fresh.id, inDirect.id, dansOwn.id],
  ]);
  assert.deepEqual(rows.map((r) => r.id).sort(), [referred.id, fresh.id].sort());
  for (const gone of [unreferred, inDirect]) assert.equal((await file.api.get(`/attachments/${gone.id}`, auth(bob))).status, 404);
  for (const kept of [referred, fresh]) assert.equal((await file.api.get(`/attachments/${kept.id}`, auth(bob))).status, 200);
  assert.equal((await part(alice, unfinished.id, 2, randomBytes(1))).status, 404);
  assert.ok(file.stack.r2Files().length < before, 'their objects left R2');
  const logged = await waitFor(() => file.stack.logs().match(/"event":"sweep".*"kind":"abandoned-attachments","count":(\d+)/),
    { what: "the sweep's abandoned-attachments line" });
  assert.ok(logged && Number(logged[1]) >= 4, `the sweep logs what it deleted: ${logged?.[0]}`);
});

test('a message deleted for everyone, or past its timer, takes its attachments with it', async () => {
  const [alice, bob] = [await file.api.register(), await file.api.register()];
  const conversation = await group(alice, [bob]);
  const socket = await file.open(alice.token);
  const gone = async (upload) => {
    const { rows } = await file.stack.pool.query('SELECT count(*)::int AS n FROM attachments WHERE id = $1', [upload.id]);
    return rows[0].n === 0 && (await file.api.get(`/attachments/${upload.id}`, auth(bob))).status === 404;
  };

  const [photo, video] = [await upload(alice, conversation.id, encrypt(plaintext(1200))), await upload(alice, conversation.id, encrypt(plaintext(1300)))];
  const sent = await roundTrip(socket, message(conversation.id, [photo.id, video.id]));
  assert.equal(sent.type, 'ack', JSON.stringify(sent));
  const objects = file.stack.r2Files().length;
  assert.equal((await file.api.delete(`/conversations/${conversation.id}/messages/${sent.message.id}`, auth(alice))).status, 204);
  assert.ok(await gone(photo) && await gone(video), 'deleted with the message, at once');
  assert.ok(file.stack.r2Files().length < objects, 'and out of R2');

  // A timer of an hour; the message's hour is made to have passed, and the sweep expires it.
  assert.equal((await file.api.patch(`/conversations/${conversation.id}`, { disappearAfterSeconds: 3600 }, auth(alice))).status, 200);
  const voice = await upload(alice, conversation.id, encrypt(plaintext(1400)));
  const kept = await upload(alice, conversation.id, encrypt(plaintext(1500)));
  const expiring = await roundTrip(socket, message(conversation.id, [voice.id]));
  assert.equal(expiring.type, 'ack', JSON.stringify(expiring));
  await file.stack.pool.query(`UPDATE messages SET expires_at = now() - interval '1 second' WHERE id = $1`, [expiring.message.id]);
  await file.stack.runScheduled();
  const { rows } = await file.stack.pool.query('SELECT deleted FROM messages WHERE id = $1', [expiring.message.id]);
  assert.equal(rows[0].deleted, 'expired');
  assert.ok(await gone(voice), 'the expired message\'s upload went with it');
  assert.ok(!(await gone(kept)), 'an upload of the last day that no message refers to yet stays');
  // The line travels through wrangler's output, which may come a moment after the response.
  await waitFor(() => /"event":"sweep".*"kind":"expired-messages","count":1\b/.test(file.stack.logs()),
    { what: "the sweep's expired-messages line" });

  // A deletion whose files could not go at once (R2 did not answer): the next sweep takes them.
  const stray = await upload(alice, conversation.id, encrypt(plaintext(1600)));
  const strayMessage = await roundTrip(socket, message(conversation.id, [stray.id]));
  await file.stack.pool.query(`UPDATE messages SET deleted = 'retracted', deleted_at = now(), ciphertext = '' WHERE id = $1`, [strayMessage.message.id]);
  assert.ok(!(await gone(stray)));
  await file.stack.runScheduled();
  assert.ok(await gone(stray), 'the sweep deletes the uploads of a deleted message');
});

test('no object R2 stored holds any of the files\' plaintext, and every ciphertext is there', () => {
  assert.ok(uploaded.length > 5);
  const stored = file.stack.r2Files().map((path) => readFileSync(path));
  assert.ok(stored.length > 0, 'wrangler\'s local R2 holds files');
  for (const bytes of stored) assert.equal(bytes.indexOf(MARKER), -1, 'a stored object holds plaintext');
  const all = Buffer.concat(stored);
  // The ciphertexts that were not deleted are there: the scan reads what R2 stores.
  const found = uploaded.filter((ciphertext) => all.indexOf(ciphertext.subarray(-64)) >= 0);
  assert.ok(found.length >= 5, `the scan finds the ciphertexts still stored (${found.length} of ${uploaded.length})`);
});

