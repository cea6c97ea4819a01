// How a device's MLS credential names it, and what its leaves may advertise. Kept apart from
// mls.ts so the authentication service and the rules read the same encoding without the crypto.

import type { Capabilities, Credential } from 'ts-mls';

export const CIPHERSUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const;

const text = new TextEncoder();

/**
 * Who a credential says it is. The basic credential's identity is the UTF-8 of
 * `v1/<userId>/<deviceId>`: a version, then the two ids as the server writes them (UUIDs,
 * lowercase and hyphenated), so the text splits one way alone and one id has one spelling (the
 * server would also read an id in capitals or without hyphens, which would make the same user
 * look like two). Anything else, the bare user id of earlier versions included, names nobody and
 * is refused.
 */
export interface CredentialIdentity {
  userId: string;
  deviceId: string;
}

const IDENTITY_VERSION = 'v1';
const ID_PART = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeIdentity({ userId, deviceId }: CredentialIdentity): Uint8Array {
  if (!ID_PART.test(userId) || !ID_PART.test(deviceId)) throw new Error('A user or device id that cannot go in a credential.');
  return text.encode(`${IDENTITY_VERSION}/${userId}/${deviceId}`);
}

/** The (user, device) a credential names, or null if it is not a basic credential in this encoding. */
export function identityOf(credential: Credential): CredentialIdentity | null {
  if (credential.credentialType !== 'basic') return null;
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(credential.identity);
  } catch {
    return null;
  }
  const parts = decoded.split('/');
  if (parts.length !== 3 || parts[0] !== IDENTITY_VERSION || !ID_PART.test(parts[1]) || !ID_PART.test(parts[2])) return null;
  return { userId: parts[1], deviceId: parts[2] };
}

/**
 * What every leaf and KeyPackage of this app advertises, and all it may advertise: one protocol
 * version, our ciphersuite, no extensions or extra proposals, and `basic` credentials only (no
 * GREASE either), so no member can later bring in a credential type the authentication service
 * does not judge (ts-mls refuses a leaf whose credential type another leaf does not list).
 */
export const CAPABILITIES: Capabilities = { versions: ['mls10'], ciphersuites: [CIPHERSUITE], extensions: [], proposals: [], credentials: ['basic'] };

/** Whether a leaf's capabilities list only what this app's do (basic credentials, nothing else to judge). */
export function onlyBasic(capabilities: Capabilities): boolean {
  return capabilities.credentials.length === 1 && capabilities.credentials[0] === 'basic';
}

/**
 * A failure to check a credential that says nothing about it (the directory could not be
 * reached): the message is to be tried again later, not refused.
 */
export class CheckUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckUnavailable';
  }
}
