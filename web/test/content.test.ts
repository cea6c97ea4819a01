// The content format inside MLS on its own (no server): ids derived from the content, what a
// newer client sends kept and shown as such, and messages from before the format read as text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTENT_VERSION, contentId, readBody, textBody } from '../sdk/content.ts';

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
