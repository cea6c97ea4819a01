// Leaving a group, in the leaver's own words. MLS does not let a device commit its own removal,
// and no client removes a member on the server's word alone (only an owner's or admin's commit
// does that, see authorization.ts), so the leaving device signs its departure with its leaf's
// signature key, over its leaf's encryption key. The server keeps it and hands it on; any member
// may then commit the leaver's removal, and every member accepts that commit only with a
// departure that verifies against a leaf it removes. A server cannot make one up, and cannot
// reuse one after the leaver is added back: their new leaves have new encryption keys.

import { fromBase64, sign, toHex, verifySignature, type DeviceIdentity, type Leaf } from './mls.ts';
import { DEPARTURE_CONTEXT, type DepartureView } from './wire/index.ts';

function departureText(conversationId: string, userId: string, deviceId: string, encryptionKey: Uint8Array): string {
  return `${DEPARTURE_CONTEXT}${conversationId}:${userId}:${deviceId}:${toHex(encryptionKey)}`;
}

/** This device's departure from a conversation, over its own leaf there. */
export function signDeparture(identity: DeviceIdentity, conversationId: string, leaf: Leaf): Promise<Uint8Array> {
  return sign(identity, departureText(conversationId, identity.userId, identity.deviceId, leaf.encryptionKey));
}

/**
 * The users among `departures` who did leave, as far as `leaves` show: each departure counts only
 * if it names a leaf among them, of its user and device, and that leaf's signature key signed it
 * over that leaf's encryption key.
 */
export async function departedUsers(conversationId: string, departures: DepartureView[], leaves: Leaf[]): Promise<Set<string>> {
  const departed = new Set<string>();
  for (const d of departures) {
    const leaf = leaves.find((l) => l.userId === d.userId && l.deviceId === d.deviceId);
    if (!leaf) continue;
    let signature: Uint8Array;
    try {
      signature = fromBase64(d.signature);
    } catch {
      continue;
    }
    if (await verifySignature(leaf.signaturePublicKey, departureText(conversationId, d.userId, d.deviceId, leaf.encryptionKey), signature)) {
      departed.add(d.userId);
    }
  }
  return departed;
}
