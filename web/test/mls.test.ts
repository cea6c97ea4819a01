// The MLS layer on its own (no server): groups, adds and removes, and every way a message must
// be refused.
import { test } from 'node:test';
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import {
  commitChanges, decrypt, encrypt, epochOf, joinFromWelcome, leaves, newGroup, newIdentity, newKeyPackage,
  processCommit, safetyNumber, welcomeRecipients, MlsFailure, type DeviceIdentity, type KeyPackageSecret,
} from '../sdk/mls.ts';
import { identityOf } from '../sdk/credentials.ts';
import type { AuthenticationService, ClientState } from 'ts-mls';

// The MLS layer takes its authentication service and commit rules from outside; here, a
// directory of the devices made in this file, and every commit allowed.
const directory = new Map<string, string>();
const auth: AuthenticationService = {
  async validateCredential(credential, key) {
    const id = identityOf(credential);
    return !!id && directory.get(`${id.userId}/${id.deviceId}`) === key.join(',');
  },
};
const anyCommit = async () => {};

// Credentials name users and devices by the server's UUIDs: each person here gets one.
const ids = new Map<string, string>();
function idOf(name: string): string {
  if (!ids.has(name)) ids.set(name, randomUUID());
  return ids.get(name)!;
}

async function identityFor(name: string): Promise<DeviceIdentity> {
  const userId = idOf(name);
  const identity = await newIdentity(userId, randomUUID());
  directory.set(`${userId}/${identity.deviceId}`, identity.publicKey.join(','));
  return identity;
}

async function device(userId: string) {
  const identity = await identityFor(userId);
  return { identity, keyPackage: await newKeyPackage(identity) };
}

async function join(welcome: Uint8Array, kp: KeyPackageSecret, conversationId: string): Promise<ClientState> {
  assert.ok(welcomeRecipients(welcome).includes(kp.ref), 'the Welcome names the KeyPackage it is for');
  return joinFromWelcome(welcome, kp, auth, conversationId);
}

test('three devices talk; a member added later reads new messages only; a removed one reads nothing new', async () => {
  const alice: DeviceIdentity = await identityFor('alice');
  const [bob, carol, dave] = await Promise.all([device('bob'), device('carol'), device('dave')]);
  let a = await newGroup('conv-1', alice);
  assert.equal(epochOf(a), 0);

  const added = await commitChanges(a, [bob.keyPackage.publicPackage, carol.keyPackage.publicPackage], [], auth);
  a = added.state;
  let b = await join(added.welcome!, bob.keyPackage, 'conv-1');
  let c = await join(added.welcome!, carol.keyPackage, 'conv-1');
  assert.deepEqual([epochOf(a), epochOf(b), epochOf(c)], [1, 1, 1]);
  assert.deepEqual(leaves(a).map((l) => l.userId).sort(), [idOf('alice'), idOf('bob'), idOf('carol')].sort());
  assert.equal(await safetyNumber(a), await safetyNumber(b), 'everyone computes the same safety number');

  const hello = await encrypt(a, 'hello both');
  a = hello.state;
  const atBob = await decrypt(b, hello.ciphertext, auth);
  b = atBob.state;
  assert.equal(atBob.plaintext, 'hello both');
  assert.equal(atBob.sender.userId, idOf('alice'));
  c = (await decrypt(c, hello.ciphertext, auth)).state;

  const beforeDave = await encrypt(b, 'before dave');
  b = beforeDave.state;
  a = (await decrypt(a, beforeDave.ciphertext, auth)).state;

  const addDave = await commitChanges(c, [dave.keyPackage.publicPackage], [], auth);
  c = addDave.state;
  a = await processCommit(a, addDave.commit, auth, anyCommit);
  b = await processCommit(b, addDave.commit, auth, anyCommit);
  let d = await join(addDave.welcome!, dave.keyPackage, 'conv-1');
  await assert.rejects(decrypt(d, beforeDave.ciphertext, auth), MlsFailure, 'a new member cannot read what came before');
  const afterDave = await encrypt(b, 'welcome dave');
  b = afterDave.state;
  d = (await decrypt(d, afterDave.ciphertext, auth)).state;

  // Remove Bob: his old state cannot read anything made after.
  const bobLeaf = leaves(a).find((l) => l.userId === idOf('bob'))!.leafIndex;
  const removal = await commitChanges(a, [], [bobLeaf], auth);
  a = removal.state;
  c = await processCommit(c, removal.commit, auth, anyCommit);
  d = await processCommit(d, removal.commit, auth, anyCommit);
  const secret = await encrypt(a, 'bob is gone');
  a = secret.state;
  await assert.rejects(decrypt(b, secret.ciphertext, auth), (e: MlsFailure) => e.code === 'wrong_epoch');
  await assert.rejects(processCommit(b, secret.ciphertext, auth, anyCommit), MlsFailure);
  assert.equal((await decrypt(c, secret.ciphertext, auth)).plaintext, 'bob is gone');
  assert.notEqual(await safetyNumber(a), await safetyNumber(b));

  // A message the removed member made in the old epoch is refused by those who moved on.
  const stale = await encrypt(b, 'still here?');
  await assert.rejects(decrypt(c, stale.ciphertext, auth), (e: MlsFailure) => e.code === 'wrong_epoch');
});

test('tampered, replayed and malformed messages are refused', async () => {
  const alice = await identityFor('alice');
  const bob = await device('bob');
  let a = await newGroup('conv-2', alice);
  const added = await commitChanges(a, [bob.keyPackage.publicPackage], [], auth);
  a = added.state;
  let b = await join(added.welcome!, bob.keyPackage, 'conv-2');

  const m = await encrypt(a, 'once');
  a = m.state;
  const tampered = m.ciphertext.slice();
  tampered[tampered.length - 5] ^= 0x01;
  await assert.rejects(decrypt(b, tampered, auth), (e: MlsFailure) => e.code === 'undecryptable');
  b = (await decrypt(b, m.ciphertext, auth)).state;
  await assert.rejects(decrypt(b, m.ciphertext, auth), (e: MlsFailure) => e.code === 'undecryptable', 'a replay finds its key gone');
  await assert.rejects(decrypt(b, new Uint8Array([1, 2, 3]), auth), (e: MlsFailure) => e.code === 'malformed');
});

test('of two commits from the same epoch, the loser applies the winner and redoes its change', async () => {
  const alice = await identityFor('alice');
  const [bob, carol, dave] = await Promise.all([device('bob'), device('carol'), device('dave')]);
  let a = await newGroup('conv-3', alice);
  const first = await commitChanges(a, [bob.keyPackage.publicPackage], [], auth);
  a = first.state;
  let b = await join(first.welcome!, bob.keyPackage, 'conv-3');

  const aliceAdds = await commitChanges(a, [carol.keyPackage.publicPackage], [], auth);
  const bobAdds = await commitChanges(b, [dave.keyPackage.publicPackage], [], auth);
  // The server takes Alice's; Bob's pending state is dropped, his current one still works.
  a = aliceAdds.state;
  b = await processCommit(b, aliceAdds.commit, auth, anyCommit);
  const retry = await commitChanges(b, [(await newKeyPackage(dave.identity)).publicPackage], [], auth);
  b = retry.state;
  a = await processCommit(a, retry.commit, auth, anyCommit);
  assert.equal(epochOf(a), 3);
  assert.equal(epochOf(b), 3);
  assert.equal(await safetyNumber(a), await safetyNumber(b));
  void bobAdds;
});
