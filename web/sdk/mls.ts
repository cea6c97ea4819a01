// Every MLS operation the client needs, over ts-mls, in one place and in bytes: the rest of the SDK
// never touches an MLS structure, only encoded messages and encoded group states.
//
// A device has one Ed25519 signature key for life; its credential is a basic credential whose
// identity names the user AND the device (see encodeIdentity), so every leaf in a group can be
// checked against the one key the server's device directory lists for exactly that device.
// Nothing here decides whom to trust: every function that lets a credential in takes the
// authentication service (authentication.ts) that does, and ts-mls is handed it too.

import {
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeGroupState,
  decodeMlsMessage,
  defaultLifetime,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  processPrivateMessage,
  type AuthenticationService,
  type Capabilities,
  type CiphersuiteImpl,
  type ClientState,
  type Credential,
  type KeyPackage,
  type LeafNode,
  type PrivateKeyPackage,
  type Proposal,
  type ProposalOrRef,
} from 'ts-mls';
import { defaultClientConfig } from 'ts-mls/clientConfig.js';
import { defaultKeyRetentionConfig } from 'ts-mls/keyRetentionConfig.js';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js';
import { CAPABILITIES, CheckUnavailable, CIPHERSUITE, encodeIdentity, identityOf, onlyBasic, type CredentialIdentity } from './credentials.ts';

export { CheckUnavailable, CIPHERSUITE, encodeIdentity, identityOf, onlyBasic, type CredentialIdentity };

let suitePromise: Promise<CiphersuiteImpl> | null = null;
export function suite(): Promise<CiphersuiteImpl> {
  suitePromise ??= getCiphersuiteImpl(getCiphersuiteFromName(CIPHERSUITE));
  return suitePromise;
}

const text = new TextEncoder();
const untext = new TextDecoder();

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i += 1) out[i] = s.charCodeAt(i);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** What a device keeps secret for life (in its own store, never sent anywhere). */
export interface DeviceIdentity extends CredentialIdentity {
  signKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A device's signature key pair, made before it is registered (the server learns the public half). */
export async function newSignatureKeys(): Promise<{ signKey: Uint8Array; publicKey: Uint8Array }> {
  const { signKey, publicKey } = await (await suite()).signature.keygen();
  return { signKey, publicKey };
}

/** This device's signature over `text`, with the key the directory lists for it. */
export async function sign(identity: DeviceIdentity, text: string): Promise<Uint8Array> {
  return (await suite()).signature.sign(identity.signKey, new TextEncoder().encode(text));
}

/** Whether `signature` is the holder of `publicKey`'s signature over `text` (false if malformed). */
export async function verifySignature(publicKey: Uint8Array, text: string, signature: Uint8Array): Promise<boolean> {
  try {
    return await (await suite()).signature.verify(publicKey, new TextEncoder().encode(text), signature);
  } catch {
    return false;
  }
}

export async function newIdentity(userId: string, deviceId: string): Promise<DeviceIdentity> {
  return { userId, deviceId, ...(await newSignatureKeys()) };
}

function credentialOf(identity: DeviceIdentity): Credential {
  return { credentialType: 'basic', identity: encodeIdentity(identity) };
}

/** ts-mls's configuration with this app's authentication service in it, on a state or for a join. */
function configFor(auth: AuthenticationService) {
  return { ...defaultClientConfig, authService: auth, keyRetentionConfig: KEY_RETENTION };
}

/**
 * How far one sender's messages may run ahead of the last one this device decrypted in an epoch.
 * ts-mls allows 200; a device skips every message whose ciphertext the server deleted (for
 * everyone, or past a timer), so one away overnight in a busy conversation skips more than that,
 * and would then read nothing more from that sender. Each step is one HKDF; the keys skipped over
 * are not kept beyond ts-mls's usual few.
 */
const KEY_RETENTION = { ...defaultKeyRetentionConfig, maximumForwardRatchetSteps: 5000 };

function configured(state: ClientState, auth: AuthenticationService): ClientState {
  return { ...state, clientConfig: configFor(auth) };
}

/** A KeyPackage to publish (encoded) and its private half to keep, under its reference. */
export interface KeyPackageSecret {
  ref: string;
  publicPackage: Uint8Array;
  privatePackage: PrivateKeyPackage;
}

export async function newKeyPackage(identity: DeviceIdentity): Promise<KeyPackageSecret> {
  const impl = await suite();
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    credentialOf(identity), CAPABILITIES, defaultLifetime, [],
    { signKey: identity.signKey, publicKey: identity.publicKey }, impl,
  );
  const ref = toHex(await makeKeyPackageRef(publicPackage, impl.hash));
  const encoded = encodeMlsMessage({ keyPackage: publicPackage, wireformat: 'mls_key_package', version: 'mls10' });
  return { ref, publicPackage: encoded, privatePackage };
}

function decodeKeyPackage(bytes: Uint8Array): KeyPackage {
  let message;
  try {
    message = decodeMlsMessage(bytes, 0)?.[0];
  } catch {
    message = undefined;
  }
  if (message?.wireformat !== 'mls_key_package') throw new MlsFailure('not_a_key_package', 'The server returned something that is not a KeyPackage.');
  return message.keyPackage;
}

/** What a claimed KeyPackage says about the device it is for, to check before adding it. */
export interface KeyPackageInfo {
  identity: CredentialIdentity | null;
  credential: Credential;
  signaturePublicKey: Uint8Array;
  /** Our ciphersuite, and capabilities that list nothing but what this app's do. */
  acceptable: boolean;
}

export function keyPackageInfo(bytes: Uint8Array): KeyPackageInfo {
  const kp = decodeKeyPackage(bytes);
  return {
    identity: identityOf(kp.leafNode.credential),
    credential: kp.leafNode.credential,
    signaturePublicKey: kp.leafNode.signaturePublicKey,
    acceptable: kp.cipherSuite === CIPHERSUITE && onlyBasic(kp.leafNode.capabilities),
  };
}

/** A crypto failure the user should see as "this message could not be verified". */
export class MlsFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'MlsFailure';
    this.code = code;
  }
}

export function epochOf(state: ClientState): number {
  return Number(state.groupContext.epoch);
}

export function encodeState(state: ClientState): Uint8Array {
  return encodeGroupState(state);
}

export function decodeState(bytes: Uint8Array): ClientState {
  const decoded = decodeGroupState(bytes, 0)?.[0];
  if (!decoded) throw new MlsFailure('bad_state', 'A stored group state could not be read.');
  // Until a function below is handed the authentication service, the state trusts nobody new.
  return { ...decoded, clientConfig: configFor(refuseAll) };
}

const refuseAll: AuthenticationService = { validateCredential: async () => false };

/** The conversation a group state belongs to (a group's id is its conversation's id). */
export function groupIdOf(state: ClientState): string {
  return untext.decode(state.groupContext.groupId);
}

/** Starts a group alone, at epoch 0, with a throwaway KeyPackage of this device. */
export async function newGroup(conversationId: string, identity: DeviceIdentity): Promise<ClientState> {
  const impl = await suite();
  const own = await generateKeyPackageWithKey(
    credentialOf(identity), CAPABILITIES, defaultLifetime, [],
    { signKey: identity.signKey, publicKey: identity.publicKey }, impl,
  );
  return createGroup(text.encode(conversationId), own.publicPackage, own.privatePackage, [], impl, configFor(refuseAll));
}

export interface Leaf extends CredentialIdentity {
  leafIndex: number;
  credential: Credential;
  signaturePublicKey: Uint8Array;
  /** The leaf's HPKE encryption key: it changes only when the leaf's own device commits, so it
   * names this leaf as it is now (a departure is tied to it, see departures.ts). */
  encryptionKey: Uint8Array;
  capabilities: Capabilities;
}

function leafOf(leaf: LeafNode, leafIndex: number): Leaf | null {
  const identity = identityOf(leaf.credential);
  if (!identity) return null;
  return {
    leafIndex, ...identity, credential: leaf.credential, signaturePublicKey: leaf.signaturePublicKey, encryptionKey: leaf.hpkePublicKey,
    capabilities: leaf.capabilities,
  };
}

/** Everyone in the group: one leaf per device (a leaf whose credential names nobody is left out;
 * none can get in, see allLeavesNamed). */
export function leaves(state: ClientState): Leaf[] {
  const out: Leaf[] = [];
  state.ratchetTree.forEach((node, nodeIndex) => {
    if (node?.nodeType !== 'leaf') return;
    const leaf = leafOf(node.leaf, nodeIndex / 2);
    if (leaf) out.push(leaf);
  });
  return out;
}

/** Whether every leaf of the tree names a (user, device) and advertises only what ours do. */
function allLeavesNamed(state: ClientState): boolean {
  return state.ratchetTree.every((node) => node?.nodeType !== 'leaf' || (identityOf(node.leaf.credential) !== null && onlyBasic(node.leaf.capabilities)));
}

export interface Commit {
  state: ClientState;
  commit: Uint8Array;
  welcome: Uint8Array | null;
}

/**
 * One commit that adds the devices behind `keyPackages` and removes the leaves in `removeLeaves`.
 * The returned state is what this device moves to once the server accepts the commit; until then
 * the old state stays current.
 */
export async function commitChanges(state: ClientState, keyPackages: Uint8Array[], removeLeaves: number[], auth: AuthenticationService): Promise<Commit> {
  const impl = await suite();
  // ts-mls checks every added KeyPackage with the state's authentication service (and its
  // signature and lifetime, as the sender).
  state = configured(state, auth);
  const proposals: Proposal[] = [
    ...keyPackages.map((kp): Proposal => ({ proposalType: 'add', add: { keyPackage: decodeKeyPackage(kp) } })),
    ...removeLeaves.map((removed): Proposal => ({ proposalType: 'remove', remove: { removed } })),
  ];
  const result = await createCommit({ state, cipherSuite: impl }, { extraProposals: proposals, ratchetTreeExtension: true });
  return {
    state: result.newState,
    commit: encodeMlsMessage(result.commit),
    welcome: result.welcome ? encodeMlsMessage({ welcome: result.welcome, wireformat: 'mls_welcome', version: 'mls10' }) : null,
  };
}

/** The KeyPackage references a Welcome is addressed to, to find our own among them. */
export function welcomeRecipients(welcome: Uint8Array): string[] {
  const message = decodeMlsMessage(welcome, 0)?.[0];
  if (message?.wireformat !== 'mls_welcome') return [];
  return message.welcome.secrets.map((s) => toHex(s.newMember));
}

/**
 * Joins the group a Welcome is for, which must be the conversation it arrived in. ts-mls checks
 * the signer's and every leaf's credential with `auth` (clientState.js: joinGroup, then
 * validateRatchetTree over every leaf); this also refuses a leaf whose credential names nobody or
 * whose capabilities list another credential type, and a group with context extensions (ours
 * have none, and external senders could propose changes).
 */
export async function joinFromWelcome(welcome: Uint8Array, keyPackage: KeyPackageSecret, auth: AuthenticationService, conversationId: string): Promise<ClientState> {
  const impl = await suite();
  const message = decodeMlsMessage(welcome, 0)?.[0];
  if (message?.wireformat !== 'mls_welcome') throw new MlsFailure('not_a_welcome', 'Expected a Welcome.');
  let state: ClientState;
  try {
    state = await joinGroup(message.welcome, decodeKeyPackage(keyPackage.publicPackage), keyPackage.privatePackage, emptyPskIndex, impl, undefined, undefined, configFor(auth));
  } catch (e) {
    if (e instanceof CheckUnavailable) throw e;
    throw new MlsFailure('bad_welcome', `The Welcome was refused (${(e as Error).message}).`);
  }
  if (groupIdOf(state) !== conversationId) throw new MlsFailure('wrong_group', 'The Welcome is for another group than the conversation it came in.');
  if (!allLeavesNamed(state)) throw new MlsFailure('bad_leaf', 'The group has a member whose credential this app cannot check.');
  if (state.groupContext.extensions.length > 0) throw new MlsFailure('bad_group', 'The group carries extensions this app does not make.');
  return state;
}

export async function encrypt(state: ClientState, plaintext: string): Promise<{ state: ClientState; ciphertext: Uint8Array }> {
  const impl = await suite();
  const result = await createApplicationMessage(state, text.encode(plaintext), impl);
  const ciphertext = encodeMlsMessage({ privateMessage: result.privateMessage, wireformat: 'mls_private_message', version: 'mls10' });
  return { state: result.newState, ciphertext };
}

function privateMessage(bytes: Uint8Array) {
  let message;
  try {
    message = decodeMlsMessage(bytes, 0)?.[0];
  } catch {
    message = undefined;
  }
  if (message?.wireformat !== 'mls_private_message') throw new MlsFailure('malformed', 'The message is not a well-formed MLS message.');
  return message.privateMessage;
}

/**
 * Decrypts an application message made in the group's current epoch and names its sender's
 * leaf, whose signature it checked. Throws MlsFailure for anything else: tampered bytes, a
 * replay (its key was used and deleted), another epoch, or a sender no longer in the group.
 */
export async function decrypt(state: ClientState, bytes: Uint8Array, auth: AuthenticationService): Promise<{ state: ClientState; plaintext: string; sender: Leaf }> {
  const impl = await suite();
  const pm = privateMessage(bytes);
  if (pm.epoch !== state.groupContext.epoch) {
    throw new MlsFailure('wrong_epoch', `The message claims epoch ${pm.epoch}, but the conversation is at ${state.groupContext.epoch}.`);
  }
  let result;
  try {
    result = await unprotectPrivateMessage(
      state.keySchedule.senderDataSecret, pm, state.secretTree, state.ratchetTree, state.groupContext,
      state.clientConfig.keyRetentionConfig, impl,
    );
  } catch (e) {
    throw new MlsFailure('undecryptable', `The message could not be decrypted or verified (${(e as Error).message}).`);
  }
  const content = result.content.content;
  const from = content.sender;
  if (content.contentType !== 'application' || from.senderType !== 'member') {
    throw new MlsFailure('not_application', 'Expected an application message from a member.');
  }
  const sender = leaves(state).find((l) => l.leafIndex === from.leafIndex);
  if (!sender) throw new MlsFailure('unknown_sender', 'The sender is not in this conversation.');
  // ts-mls checks only the signature against the tree: whether that device is still one the
  // directory lists is ours to ask.
  if (!(await auth.validateCredential(sender.credential, sender.signaturePublicKey))) {
    throw new MlsFailure('unlisted_sender', 'The sender\'s device is not one the directory lists for that user.');
  }
  return { state: { ...state, secretTree: result.tree }, plaintext: untext.decode(content.applicationData), sender };
}

/**
 * What a commit does to the group, as its proposals say before it is applied: who made it (the
 * sender's leaf as the group has it now), whom it adds (from their KeyPackages) and which leaves
 * it removes. Anything else (updates, PSKs, re-init, extensions, proposals by reference) is named
 * in `other`: this app's clients never make them.
 */
export interface CommitChange {
  committer: Leaf;
  added: Leaf[];
  removed: Leaf[];
  other: string[];
  /** The users with a leaf in the group before the commit. */
  usersBefore: string[];
  /** The users with a leaf in the group after it (kept or added). */
  usersAfter: string[];
}

/**
 * Applies someone else's commit once `authorize` has accepted what it does; the new state is at
 * the next epoch. The commit is decrypted (and its signature checked) first to read its proposals,
 * `authorize` decides with whatever it needs to fetch, and then ts-mls applies it with a callback
 * that accepts exactly that commit: ts-mls checks every added leaf, update and the committer's
 * new path leaf with `auth` (processMessages.js processCommit, clientState.js applyProposals).
 * Finally every leaf that stays must keep its (user, device) and key. Throws MlsFailure when
 * anything is refused; the state passed in is then still the group's.
 */
export async function processCommit(
  state: ClientState, bytes: Uint8Array, auth: AuthenticationService, authorize: (change: CommitChange) => Promise<void>,
): Promise<ClientState> {
  const impl = await suite();
  const pm = privateMessage(bytes);
  if (pm.epoch !== state.groupContext.epoch) {
    throw new MlsFailure('wrong_epoch', `The commit claims epoch ${pm.epoch}, but the conversation is at ${state.groupContext.epoch}.`);
  }
  state = configured(state, auth);
  let peeked;
  try {
    peeked = await unprotectPrivateMessage(
      state.keySchedule.senderDataSecret, pm, state.secretTree, state.ratchetTree, state.groupContext,
      state.clientConfig.keyRetentionConfig, impl,
    );
  } catch (e) {
    throw new MlsFailure('bad_commit', `A commit could not be decrypted or verified (${(e as Error).message}).`);
  }
  const content = peeked.content.content;
  if (content.contentType !== 'commit' || content.sender.senderType !== 'member') throw new MlsFailure('not_a_commit', 'Expected a commit from a member.');
  const change = describeCommit(state, content.sender.leafIndex, content.commit.proposals);
  if (!(await auth.validateCredential(change.committer.credential, change.committer.signaturePublicKey))) {
    throw new MlsFailure('unlisted_sender', 'The commit comes from a device the directory does not list.');
  }
  await authorize(change);
  let result;
  try {
    result = await processPrivateMessage(state, pm, emptyPskIndex, impl, (incoming) =>
      incoming.kind === 'commit' && incoming.senderLeafIndex === change.committer.leafIndex
        && incoming.proposals.length === change.added.length + change.removed.length
        ? 'accept' : 'reject');
  } catch (e) {
    if (e instanceof CheckUnavailable) throw e;
    throw new MlsFailure('bad_commit', `A commit could not be applied (${(e as Error).message}).`);
  }
  if (result.kind !== 'newState') throw new MlsFailure('not_a_commit', 'Expected a commit.');
  if (result.actionTaken !== 'accept') throw new MlsFailure('unauthorized_commit', 'The commit is not the one that was authorized.');
  const next = result.newState;
  const before = new Map(leaves(state).map((l) => [l.leafIndex, l]));
  const removed = new Set(change.removed.map((l) => l.leafIndex));
  const changedLeaf = leaves(next).some((l) => {
    const was = before.get(l.leafIndex);
    return was && !removed.has(l.leafIndex)
      && (was.userId !== l.userId || was.deviceId !== l.deviceId || toHex(was.signaturePublicKey) !== toHex(l.signaturePublicKey));
  });
  if (changedLeaf || !allLeavesNamed(next)) throw new MlsFailure('bad_leaf', 'The commit changes whom a leaf belongs to, or brings in a leaf this app cannot check.');
  return next;
}

function describeCommit(state: ClientState, committerIndex: number, proposals: ProposalOrRef[]): CommitChange {
  const current = leaves(state);
  const committer = current.find((l) => l.leafIndex === committerIndex);
  if (!committer) throw new MlsFailure('unknown_sender', 'The commit comes from a leaf this app cannot name.');
  const change: CommitChange = { committer, added: [], removed: [], other: [], usersBefore: [...new Set(current.map((l) => l.userId))], usersAfter: [] };
  for (const item of proposals) {
    if (item.proposalOrRefType !== 'proposal') {
      change.other.push('reference');
      continue;
    }
    const p = item.proposal;
    if (p.proposalType === 'add') {
      const kp = p.add.keyPackage;
      const leaf = leafOf(kp.leafNode, -1);
      if (!leaf || !onlyBasic(kp.leafNode.capabilities)) throw new MlsFailure('bad_leaf', 'The commit adds a device whose credential this app cannot check.');
      change.added.push(leaf);
    } else if (p.proposalType === 'remove') {
      const leaf = current.find((l) => l.leafIndex === p.remove.removed);
      if (!leaf) throw new MlsFailure('bad_commit', 'The commit removes a leaf that is not there.');
      change.removed.push(leaf);
    } else {
      change.other.push(String(p.proposalType));
    }
  }
  const removed = new Set(change.removed.map((l) => l.leafIndex));
  change.usersAfter = [...new Set([...current.filter((l) => !removed.has(l.leafIndex)), ...change.added].map((l) => l.userId))];
  return change;
}

/**
 * A fingerprint of who is in the group: every leaf's user and signature key, sorted, hashed, and
 * shown as 12 groups of 5 digits. Two members see the same number exactly when they see the same
 * devices, so comparing it out of band detects a server that slipped a device in.
 */
export async function safetyNumber(state: ClientState): Promise<string> {
  const parts = leaves(state)
    .map((l) => `${l.userId}:${toHex(l.signaturePublicKey)}`)
    .sort();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', text.encode(parts.join('\n'))));
  const groups: string[] = [];
  for (let i = 0; i < 12; i += 1) {
    const chunk = (digest[i * 2] << 16) | (digest[i * 2 + 1] << 8) | digest[(i * 2 + 24) % 32];
    groups.push(String(chunk % 100000).padStart(5, '0'));
  }
  return groups.join(' ');
}
