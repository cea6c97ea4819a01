// The MLS layer on its own (no server): groups, adds and removes, and every way a message must
// be refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  commitChanges, decrypt, encrypt, epochOf, joinFromWelcome, leaves, newGroup, newIdentity, newKeyPackage,
  processCommit, safetyNumber, welcomeRecipients, MlsFailure, type DeviceIdentity, type KeyPackageSecret,
} from '../sdk/mls.ts';
import type { ClientState } from 'ts-mls';

async function device(userId: string) {
  const identity = await newIdentity(userId);
  return { identity, keyPackage: await newKeyPackage(identity) };
}

async function join(welcome: Uint8Array, kp: KeyPackageSecret): Promise<ClientState> {
  assert.ok(welcomeRecipients(welcome).includes(kp.ref), 'the Welcome names the KeyPackage it is for');
  return joinFromWelcome(welcome, kp);
}

test('three devices talk; a member added later reads new messages only; a removed one reads nothing new', async () => {
  const alice: DeviceIdentity = await newIdentity('alice');
  const [bob, carol, dave] = await Promise.all([device('bob'), device('carol'), device('dave')]);
  let a = await newGroup('conv-1', alice);
  assert.equal(epochOf(a), 0);

  const added = await commitChanges(a, [bob.keyPackage.publicPackage, carol.keyPackage.publicPackage], []);
  a = added.state;
  let b = await join(added.welcome!, bob.keyPackage);
  let c = await join(added.welcome!, carol.keyPackage);
  assert.deepEqual([epochOf(a), epochOf(b), epochOf(c)], [1, 1, 1]);
  assert.deepEqual(leaves(a).map((l) => l.userId).sort(), ['alice', 'bob', 'carol']);
  assert.equal(await safetyNumber(a), await safetyNumber(b), 'everyone computes the same safety number');

  const hello = await encrypt(a, 'hello both');
  a = hello.state;
  const atBob = await decrypt(b, hello.ciphertext);
  b = atBob.state;
  assert.equal(atBob.plaintext, 'hello both');
  assert.equal(atBob.sender.userId, 'alice');
  c = (await decrypt(c, hello.ciphertext)).state;

  const beforeDave = await encrypt(b, 'before dave');
  b = beforeDave.state;
  a = (await decrypt(a, beforeDave.ciphertext)).state;

  const addDave = await commitChanges(c, [dave.keyPackage.publicPackage], []);
  c = addDave.state;
  a = await processCommit(a, addDave.commit);
  b = await processCommit(b, addDave.commit);
  let d = await join(addDave.welcome!, dave.keyPackage);
  await assert.rejects(decrypt(d, beforeDave.ciphertext), MlsFailure, 'a new member cannot read what came before');
  const afterDave = await encrypt(b, 'welcome dave');
  b = afterDave.state;
  d = (await decrypt(d, afterDave.ciphertext)).state;

  // Remove Bob: his old state cannot read anything made after.
  const bobLeaf = leaves(a).find((l) => l.userId === 'bob')!.leafIndex;
  const removal = await commitChanges(a, [], [bobLeaf]);
  a = removal.state;
  c = await processCommit(c, removal.commit);
  d = await processCommit(d, removal.commit);
  const secret = await encrypt(a, 'bob is gone');
  a = secret.state;
  await assert.rejects(decrypt(b, secret.ciphertext), (e: MlsFailure) => e.code === 'wrong_epoch');
  await assert.rejects(processCommit(b, secret.ciphertext), MlsFailure);
  assert.equal((await decrypt(c, secret.ciphertext)).plaintext, 'bob is gone');
  assert.notEqual(await safetyNumber(a), await safetyNumber(b));

  // A message the removed member made in the old epoch is refused by those who moved on.
  const stale = await encrypt(b, 'still here?');
  await assert.rejects(decrypt(c, stale.ciphertext), (e: MlsFailure) => e.code === 'wrong_epoch');
});

test('tampered, replayed and malformed messages are refused', async () => {
  const alice = await newIdentity('alice');
  const bob = await device('bob');
  let a = await newGroup('conv-2', alice);
  const added = await commitChanges(a, [bob.keyPackage.publicPackage], []);
  a = added.state;
  let b = await join(added.welcome!, bob.keyPackage);

  const m = await encrypt(a, 'once');
  a = m.state;
  const tampered = m.ciphertext.slice();
  tampered[tampered.length - 5] ^= 0x01;
  await assert.rejects(decrypt(b, tampered), (e: MlsFailure) => e.code === 'undecryptable');
  b = (await decrypt(b, m.ciphertext)).state;
  await assert.rejects(decrypt(b, m.ciphertext), (e: MlsFailure) => e.code === 'undecryptable', 'a replay finds its key gone');
  await assert.rejects(decrypt(b, new Uint8Array([1, 2, 3])), (e: MlsFailure) => e.code === 'malformed');
});

test('of two commits from the same epoch, the loser applies the winner and redoes its change', async () => {
  const alice = await newIdentity('alice');
  const [bob, carol, dave] = await Promise.all([device('bob'), device('carol'), device('dave')]);
  let a = await newGroup('conv-3', alice);
  const first = await commitChanges(a, [bob.keyPackage.publicPackage], []);
  a = first.state;
  let b = await join(first.welcome!, bob.keyPackage);

  const aliceAdds = await commitChanges(a, [carol.keyPackage.publicPackage], []);
  const bobAdds = await commitChanges(b, [dave.keyPackage.publicPackage], []);
  // The server takes Alice's; Bob's pending state is dropped, his current one still works.
  a = aliceAdds.state;
  b = await processCommit(b, aliceAdds.commit);
  const retry = await commitChanges(b, [(await newKeyPackage(dave.identity)).publicPackage], []);
  b = retry.state;
  a = await processCommit(a, retry.commit);
  assert.equal(epochOf(a), 3);
  assert.equal(epochOf(b), 3);
  assert.equal(await safetyNumber(a), await safetyNumber(b));
  void bobAdds;
});
