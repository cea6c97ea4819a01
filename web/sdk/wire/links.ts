// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.
import type { DeviceView } from './devices.ts';

/**
 * `POST /devices/links`: a new browser asks to join the account.
 */
export type LinkRequest = { 
/**
 * A name the user recognizes, e.g. "Firefox on laptop".
 */
label: string, 
/**
 * Base64 of the new device's signature public key.
 */
credential: string, 
/**
 * Base64 of HMAC-SHA-256 under the code the new browser shows, over the user, label and key.
 */
codeMac: string, };

/**
 * A pending link request, as the account's devices see it.
 */
export type PendingLinkView = { 
/**
 * Also the id the device will have once approved.
 */
id: string, label: string, credential: string, codeMac: string, createdAt: string, expiresAt: string, };

export type PendingLinks = { links: Array<PendingLinkView>, };

/**
 * Where a link request stands, as the browser that made it sees it.
 */
export type LinkStatus = "pending" | "approved";

export type LinkView = { id: string, status: LinkStatus, expiresAt: string, 
/**
 * Once approved: the device this browser now is (its session acts as it).
 */
device?: DeviceView, 
/**
 * Once approved: base64 of what the approving device passed on (its id, key and the devices it
 * trusts, MACed under the code), for the new browser to check.
 */
approverProof?: string, };

/**
 * `POST /devices/links/:id/approve`, from a device of the account.
 */
export type ApproveLinkRequest = { 
/**
 * Base64 of the approving device's Ed25519 signature over `LINK_APPROVAL_CONTEXT` text.
 */
signature: string, 
/**
 * Base64 of what the new browser gets from the approving device (opaque to the server).
 */
approverProof: string, };

/**
 * `POST /devices/reset`: every device is lost; this browser becomes the account's only device.
 */
export type ResetDevicesRequest = { label: string, credential: string, 
/**
 * The account's password, entered again.
 */
password: string, };
