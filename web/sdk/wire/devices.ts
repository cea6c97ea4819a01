// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.

export type RegisterDeviceRequest = { label: string, 
/**
 * Base64 of the device's MLS credential (identity and signature public key).
 */
credential: string, };

export type DeviceView = { id: string, label: string, 
/**
 * Base64 of the device's MLS credential (its signature public key).
 */
credential: string, createdAt: string, lastSeenAt: string | null, 
/**
 * The device that approved this one when it was linked (see `LINK_APPROVAL_CONTEXT`); absent
 * for the account's first device and for one set up by a reset.
 */
approvedBy?: string, 
/**
 * Base64 of that device's signature over this one's key.
 */
approval?: string, 
/**
 * Only in a lookup's `removed` list: when the device left its account.
 */
removedAt?: string, 
/**
 * Only in a lookup's `removed` list: the device that revoked it (itself, or another of the
 * user's), and base64 of its signature (see `DEVICE_REVOCATION_CONTEXT`). Absent for a device
 * removed by a reset.
 */
revokedBy?: string, revocation?: string, 
/**
 * With a revocation: the devices whose approvals by this one still stand.
 */
revocationKeeps?: Array<string>, };

export type DeviceList = { devices: Array<DeviceView>, };

/**
 * Several users' devices in one request: a client checking a group's tree against the directory
 * asks once, not once per member (a group of n joining at once would otherwise make n² requests).
 */
export type DeviceLookupRequest = { userIds: Array<string>, 
/**
 * Also list each user's removed devices (`UserDevices.removed`), to check old messages by.
 */
includeRemoved?: boolean, };

/**
 * A session's proof that it runs on this device: the device's signature over
 * `DEVICE_PROOF_CONTEXT` and the session's id, with the key it registered.
 */
export type BindDeviceRequest = { 
/**
 * Base64 of the 64-byte Ed25519 signature.
 */
signature: string, };

/**
 * Removing a device: for another than the session's own, the account's password, entered again;
 * and the removing device's revocation of the removed one, which the user's other devices check
 * before they stop trusting it for good (see `DEVICE_REVOCATION_CONTEXT`).
 */
export type RemoveDeviceRequest = { password?: string | null, 
/**
 * Base64 of the session's device's Ed25519 signature over `DEVICE_REVOCATION_CONTEXT` text.
 */
revocation?: string | null, 
/**
 * The devices the removed one approved whose approvals still stand (signed with the
 * revocation): a device that was away meanwhile trusts those, and nothing else it approved.
 */
keep?: Array<string> | null, };

/**
 * One user's devices in a lookup.
 */
export type UserDevices = { userId: string, devices: Array<DeviceView>, 
/**
 * When asked for (`includeRemoved`): the devices the user had and removed, most recent first
 * (at most 50), each with its `removedAt`. A device counted from its `createdAt` until then.
 */
removed?: Array<DeviceView>, };

/**
 * The users asked for that exist, each with every device, oldest first; a user that does not
 * exist (or was deleted) is left out, which a client takes as "no devices".
 */
export type DeviceLookup = { users: Array<UserDevices>, };

/**
 * At least one of `keyPackages` (not empty) and `lastResort`.
 */
export type UploadKeyPackagesRequest = { keyPackages?: Array<string>, 
/**
 * Replaces the device's last-resort package, which is handed out when the others run out.
 */
lastResort?: string | null, };

export type KeyPackageCount = { 
/**
 * One-time packages not yet claimed.
 */
available: number, hasLastResort: boolean, };

export type ClaimRequest = { 
/**
 * Only these devices of the user (for adding one new device); all of them when absent.
 */
deviceIds?: Array<string> | null, };

export type ClaimedKeyPackage = { deviceId: string, 
/**
 * Base64 of the KeyPackage (an MLSMessage).
 */
keyPackage: string, 
/**
 * The device had no one-time package left; this one is shared and was not consumed.
 */
lastResort: boolean, };

export type ClaimResponse = { keyPackages: Array<ClaimedKeyPackage>, 
/**
 * Devices that have no package at all: they cannot be added until they upload some.
 */
missingDeviceIds: Array<string>, };
