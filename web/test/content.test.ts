// The content format inside MLS on its own (no server): ids derived from the content, what a
// newer client sends kept and shown as such, and messages from before the format read as text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTENT_VERSION, MAX_REACTION_CHARS, contentId, editBody, reactionBody, readBody, retractBody, textBody, timerBody } from '../sdk/content.ts';

const CONVERSATION = '0190a8b4-0000-7000-8000-000000000001';
const ANA = '0190a8b4-0000-7000-8000-00000000000a';
const BEN = '0190a8b4-0000-7000-8000-00000000000b';

test('a text message reads back as its text, with the id its sender computed', async () => {
  const body = textBody('hello ☕');
  const read = await readBody(CONVERSATION, ANA, body);
  assert.deepEqual([read.text, read.unsupported, read.keep], ['hello ☕', false, false]);
  assert.equal(read.contentId, await contentId(CONVERSATION, ANA, body));
  assert.equal(read.content?.v, CONTENT_VERSION);
  assert.match(read.contentId, /^[A-Za-z0-9_-]{43}$/, 'SHA-256, base64url');
});

test('an id names one message: another sender, conversation or salt gives another', async () => {
  const body = textBody('same words');
  const id = await contentId(CONVERSATION, ANA, body);
  assert.notEqual(await contentId(CONVERSATION, BEN, body), id, 'Ben cannot send a message with Ana\'s id');
  assert.notEqual(await contentId(BEN, ANA, body), id, 'nor one from another conversation');
  assert.notEqual(await contentId(CONVERSATION, ANA, textBody('same words')), id, 'the same text twice is two messages');
});

test('a newer client\'s message is kept whole and shown as needing a newer version, never dropped', async () => {
  const newerVersion = JSON.stringify({ v: CONTENT_VERSION + 1, salt: 'c2FsdHNhbHRzYWx0c2FsdA', text: 'hi', frobnicate: true });
  const newerDisposition = JSON.stringify({ v: CONTENT_VERSION, salt: 'c2FsdHNhbHRzYWx0c2FsdA', disposition: 'poll', options: ['a', 'b'] });
  for (const body of [newerVersion, newerDisposition]) {
    const read = await readBody(CONVERSATION, ANA, body);
    assert.deepEqual([read.unsupported, read.keep, read.text], [true, true, ''], body);
  }
  // A field this version does not know, on a message it can show: shown, and kept for later.
  const extra = await readBody(CONVERSATION, ANA, JSON.stringify({ v: CONTENT_VERSION, salt: 'c2FsdA', text: 'hi', mentions: ['x'] }));
  assert.deepEqual([extra.text, extra.unsupported, extra.keep], ['hi', false, true]);
  assert.deepEqual(extra.content?.mentions, ['x']);
});

test('a message from before the format (plain text, even JSON-looking text) reads as its text', async () => {
  for (const body of ['hello', '{"not":"content"}', '42', '[1,2]', '{"v":"1","salt":"x"}', '']) {
    const read = await readBody(CONVERSATION, ANA, body);
    assert.deepEqual([read.text, read.unsupported, read.content], [body, false, undefined], body);
  }
});

test('a reply names the message it answers by content id; anything else there is not read as a reply', async () => {
  const original = await contentId(CONVERSATION, ANA, textBody('lunch?'));
  const reply = await readBody(CONVERSATION, BEN, textBody('yes!', { inReplyTo: original }));
  assert.deepEqual([reply.text, reply.inReplyTo, reply.keep], ['yes!', original, false]);
  assert.throws(() => textBody('x', { inReplyTo: 'not an id' }), /content id/);
  for (const inReplyTo of ['short', 42, { id: original }]) {
    const read = await readBody(CONVERSATION, BEN, JSON.stringify({ v: CONTENT_VERSION, salt: 'c2FsdA', text: 'hi', inReplyTo }));
    assert.deepEqual([read.text, read.inReplyTo], ['hi', undefined], JSON.stringify(inReplyTo));
  }
});

test('reactions, edits, deletions and timer changes read as what they do, each naming its message by content id', async () => {
  const target = await contentId(CONVERSATION, ANA, textBody('lunch?'));
  const read = async (body: string) => (await readBody(CONVERSATION, BEN, body)).meaning;
  assert.deepEqual(await read(reactionBody(target, '👍')), { kind: 'reaction', target, emoji: '👍' });
  assert.deepEqual(await read(reactionBody(target, '')), { kind: 'reaction', target, emoji: '' }, 'an empty reaction takes one back');
  assert.deepEqual(await read(editBody(target, 'lunch at 1?')), { kind: 'edit', target, text: 'lunch at 1?' });
  assert.deepEqual(await read(retractBody(target)), { kind: 'retract', target });
  assert.deepEqual(await read(timerBody(86400)), { kind: 'timer', seconds: 86400 });
  assert.deepEqual(await read(timerBody(null)), { kind: 'timer', seconds: null });
  for (const body of [reactionBody(target, '👍'), editBody(target, 'x'), retractBody(target), timerBody(3600)]) {
    const whole = await readBody(CONVERSATION, BEN, body);
    assert.deepEqual([whole.text, whole.unsupported, whole.keep], ['', false, false], body);
  }
  assert.throws(() => reactionBody('nope', '👍'), /content id/);
  assert.throws(() => editBody(target, '  '), /delete it/);
  assert.throws(() => reactionBody(target, '👍'.repeat(40)), /one emoji/);
  for (const notOne of ['👍👍', 'visit evil.example', 'ok', 'a']) assert.throws(() => reactionBody(target, notOne), /one emoji/, notOne);
  for (const one of ['❤️', '👍🏽', '🇫🇷', '👨‍👩‍👧']) assert.doesNotThrow(() => reactionBody(target, one), one);
  const messageId = '0190a8b4-0000-7000-8000-0000000000ff';
  assert.deepEqual(await read(retractBody(target, messageId)), { kind: 'retract', target, messageId }, 'a deletion names the server id too');
});

test('malformed changes are not taken for changes: kept, and shown as needing a newer version', async () => {
  const target = await contentId(CONVERSATION, ANA, textBody('hi'));
  const salt = 'c2FsdHNhbHRzYWx0c2FsdA';
  for (const content of [
    { disposition: 'reaction', inReplyTo: 'short', text: '👍' },
    { disposition: 'reaction', inReplyTo: target, text: 5 },
    { disposition: 'reaction', inReplyTo: target, text: 'x'.repeat(MAX_REACTION_CHARS + 1) },
    { disposition: 'reaction', inReplyTo: target, text: 'click https://evil.example' },
    { replaces: target, replacesMessageId: 'not-a-uuid' },
    { replaces: 'short', text: 'new' },
    { replaces: target, text: '   ' },
    { disposition: 'timer', disappearAfterSeconds: 60 },
    { disposition: 'timer' },
  ]) {
    const read = await readBody(CONVERSATION, BEN, JSON.stringify({ v: CONTENT_VERSION, salt, ...content }));
    assert.deepEqual([read.meaning.kind, read.unsupported, read.keep], ['unsupported', true, true], JSON.stringify(content));
  }
});

test('a disappearing message carries when it goes (MIMI expires, in seconds), read back in milliseconds', async () => {
  const at = Date.UTC(2026, 10, 30, 12, 0, 0);
  const read = await readBody(CONVERSATION, ANA, textBody('gone soon', { expiresAt: at }));
  assert.equal(read.content?.expires, at / 1000);
  assert.equal(read.expiresAt, at);
  assert.equal((await readBody(CONVERSATION, ANA, textBody('stays'))).expiresAt, undefined);
  const bogus = await readBody(CONVERSATION, ANA, JSON.stringify({ v: CONTENT_VERSION, salt: 'c2FsdA', text: 'x', expires: 'soon' }));
  assert.equal(bogus.expiresAt, undefined, 'an expiry that is no time is not one');
});

test('files ride in a message as MIMI external parts, a preview inline; a malformed one makes the message one for a newer version', async () => {
  const file = {
    url: '0190a8b4-0000-7000-8000-0000000000aa', contentType: 'image/png', size: 1234, encAlg: 2, key: 'a2V5', nonce: 'bm9uY2U=', aad: '',
    hashAlg: 1, contentHash: 'aGFzaA==', filename: 'beach.png', preview: { contentType: 'image/jpeg', width: 320, height: 240, data: 'AAAA' },
  };
  const read = await readBody(CONVERSATION, ANA, textBody('at the beach', { attachments: [file] }));
  assert.deepEqual([read.text, read.attachments, read.unsupported, read.keep], ['at the beach', [file], false, false]);
  for (const broken of [[{ ...file, url: 'elsewhere' }], [{ ...file, size: -1 }], [{ ...file, key: 'not base64!' }], [{ ...file, preview: { ...file.preview, width: 4000 } }],
    [{ ...file, preview: { ...file.preview, contentType: 'image/png' } }], [file, file]]) {
    const body = JSON.stringify({ v: CONTENT_VERSION, salt: 'c2FsdA', text: 'x', attachments: broken });
    assert.equal((await readBody(CONVERSATION, ANA, body)).meaning.kind, 'unsupported', JSON.stringify(broken));
  }
  assert.throws(() => textBody('x', { attachments: [{ ...file, url: 'elsewhere' }] }), /well-formed/);
});
