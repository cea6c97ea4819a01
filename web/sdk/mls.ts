// Every MLS operation the client needs, over ts-mls, in one place and in bytes: the rest of the SDK
// never touches an MLS structure, only encoded messages and encoded group states.
//
// A device has one Ed25519 signature key for life; its credential is a basic credential whose
// identity is the user's id, so every leaf in a group names the user it belongs to and the
// signature key the server's device directory lists for that device.

import {
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeGroupState,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  processPrivateMessage,
  type CiphersuiteImpl,
  type ClientState,
  type Credential,
  type KeyPackage,
  type PrivateKeyPackage,
  type Proposal,
} from 'ts-mls';
import { defaultClientConfig } from 'ts-mls/clientConfig.js';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js';

export const CIPHERSUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const;

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
export interface DeviceIdentity {
  userId: string;
  signKey: Uint8Array;
  publicKey: Uint8Array;
}

export async function newIdentity(userId: string): Promise<DeviceIdentity> {
  const { signKey, publicKey } = await (await suite()).signature.keygen();
  return { userId, signKey, publicKey };
}

function credentialOf(identity: DeviceIdentity): Credential {
  return { credentialType: 'basic', identity: text.encode(identity.userId) };
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
    credentialOf(identity), defaultCapabilities(), defaultLifetime, [],
    { signKey: identity.signKey, publicKey: identity.publicKey }, impl,
  );
  const ref = toHex(await makeKeyPackageRef(publicPackage, impl.hash));
  const encoded = encodeMlsMessage({ keyPackage: publicPackage, wireformat: 'mls_key_package', version: 'mls10' });
  return { ref, publicPackage: encoded, privatePackage };
}

function decodeKeyPackage(bytes: Uint8Array): KeyPackage {
  const message = decodeMlsMessage(bytes, 0)?.[0];
  if (message?.wireformat !== 'mls_key_package') throw new MlsFailure('not_a_key_package', 'The server returned something that is not a KeyPackage.');
  return message.keyPackage;
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
  return { ...decoded, clientConfig: defaultClientConfig };
}

/** Starts a group alone, at epoch 0, with a throwaway KeyPackage of this device. */
export async function newGroup(conversationId: string, identity: DeviceIdentity): Promise<ClientState> {
  const impl = await suite();
  const own = await generateKeyPackageWithKey(
    credentialOf(identity), defaultCapabilities(), defaultLifetime, [],
    { signKey: identity.signKey, publicKey: identity.publicKey }, impl,
  );
  return createGroup(text.encode(conversationId), own.publicPackage, own.privatePackage, [], impl);
}

export interface Leaf {
  leafIndex: number;
  userId: string;
  signaturePublicKey: Uint8Array;
}

/** Everyone in the group: one leaf per device. */
export function leaves(state: ClientState): Leaf[] {
  const out: Leaf[] = [];
  state.ratchetTree.forEach((node, nodeIndex) => {
    if (node?.nodeType !== 'leaf') return;
    const credential = node.leaf.credential;
    if (credential.credentialType !== 'basic') return;
    out.push({ leafIndex: nodeIndex / 2, userId: untext.decode(credential.identity), signaturePublicKey: node.leaf.signaturePublicKey });
  });
  return out;
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
export async function commitChanges(state: ClientState, keyPackages: Uint8Array[], removeLeaves: number[]): Promise<Commit> {
  const impl = await suite();
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

export async function joinFromWelcome(welcome: Uint8Array, keyPackage: KeyPackageSecret): Promise<ClientState> {
  const impl = await suite();
  const message = decodeMlsMessage(welcome, 0)?.[0];
  if (message?.wireformat !== 'mls_welcome') throw new MlsFailure('not_a_welcome', 'Expected a Welcome.');
  return joinGroup(message.welcome, decodeKeyPackage(keyPackage.publicPackage), keyPackage.privatePackage, emptyPskIndex, impl);
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
export async function decrypt(state: ClientState, bytes: Uint8Array): Promise<{ state: ClientState; plaintext: string; sender: Leaf }> {
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
  return { state: { ...state, secretTree: result.tree }, plaintext: untext.decode(content.applicationData), sender };
}

/** Applies someone else's commit; the new state is at the next epoch. */
export async function processCommit(state: ClientState, bytes: Uint8Array): Promise<ClientState> {
  const impl = await suite();
  const pm = privateMessage(bytes);
  let result;
  try {
    result = await processPrivateMessage(state, pm, emptyPskIndex, impl);
  } catch (e) {
    throw new MlsFailure('bad_commit', `A commit could not be applied (${(e as Error).message}).`);
  }
  if (result.kind !== 'newState') throw new MlsFailure('not_a_commit', 'Expected a commit.');
  return result.newState;
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
