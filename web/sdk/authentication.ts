// The authentication service: every credential this device lets into a group, or reads a
// message from, passes through here. A credential is accepted only if it is a basic credential
// naming a (user, device) that the server's device directory lists (GET /users/:id/devices),
// with exactly the signature key registered for that device.
//
// ts-mls calls `validateCredential` itself for the leaves it validates (the signer and every leaf
// of a Welcome's tree, every added KeyPackage, update and committer path leaf, see mls.ts); the
// SDK calls it, or the richer checks below, where ts-mls does not: a claimed KeyPackage against
// the device it was claimed for, the sender of each application message, the committer of a
// commit, and whether a removed leaf's device is still listed.
//
// The directory is the server's word: this service makes sure every leaf is one of the devices
// the server lists, not that the list is honest. For this device's own user it is checked: only
// the devices this one trusts count, those approved by a device it trusts (see linking.ts), so a
// device the server lists for this user without an approval is taken as not listed (refused in
// any group, and removed where found). For other users, comparing safety numbers is what tells.

import { ApiError, type Api } from './api.ts';
import { CheckUnavailable, identityOf, type CredentialIdentity } from './credentials.ts';
import { fromBase64, keyPackageInfo, toHex, type Leaf } from './mls.ts';
import type { AuthenticationService, Credential } from 'ts-mls';
import { MAX_GROUP_MEMBERS, type DeviceView } from './wire/index.ts';

/** How long a user's listed devices are taken as current without asking again. */
const DIRECTORY_TTL_MS = 30_000;

interface Listing {
  /** Device id → hex of its signature public key. */
  devices: Map<string, string>;
  fetchedAt: number;
}

/** This device's own user, whose listed devices count only if this device trusts them. */
export interface OwnUser {
  /** The signed-in user's id, or null before sign-in. */
  id(): string | null;
  trustedAmong(devices: DeviceView[]): Promise<DeviceView[]>;
  /** Whether a removed device of this user was one this device trusted, or approved by one. */
  trustedInHistory(device: DeviceView, removed: DeviceView[]): Promise<boolean>;
}

/** What the rest of the SDK learns from the directory reads this service makes anyway. */
export interface DirectoryObserver {
  /** A removed device of another user was let in for what it did while it was theirs: a device
   * this one may never have seen listed, so its user's device set changed (a notice). */
  pastDevice(userId: string, deviceId: string): void;
  /**
   * The devices that count as this user's, as read at `fetchedAt`. Every listing this device
   * judges a credential by is one the safety numbers hear of (see Verification.observe): a
   * contact's new device met first in a commit is a change of their devices there and then, not
   * only once a `device-added` event or the next connect has the directory read again.
   */
  listed(userId: string, devices: DeviceView[], fetchedAt: number): void;
}

export class Authentication implements AuthenticationService {
  private readonly api: Api;
  private readonly own: OwnUser;
  private readonly listings = new Map<string, Listing>();
  private readonly fetching = new Map<string, Promise<Listing>>();
  /** Each user's removed devices, as last read (see `asOf`). */
  private readonly histories = new Map<string, { removed: Promise<DeviceView[]>; fetchedAt: number }>();

  private readonly observer: DirectoryObserver;

  constructor(api: Api, own: OwnUser, observer: Partial<DirectoryObserver> = {}) {
    this.api = api;
    this.own = own;
    this.observer = { pastDevice: () => {}, listed: () => {}, ...observer };
  }

  /** The devices that count as `userId`'s, of those the directory lists. A failure to tell (the
   * history unreadable) is a check to try again, never a refusal. */
  private async counted(userId: string, devices: DeviceView[]): Promise<DeviceView[]> {
    if (userId !== this.own.id()) return devices;
    try {
      return await this.own.trustedAmong(devices);
    } catch (e) {
      if (e instanceof CheckUnavailable) throw e;
      throw new CheckUnavailable(`This user's devices could not be checked (${(e as Error).message}).`);
    }
  }

  /** ts-mls's question: is this credential, with this key, one the directory lists? */
  async validateCredential(credential: Credential, signaturePublicKey: Uint8Array): Promise<boolean> {
    const identity = identityOf(credential);
    return identity !== null && this.isListed(identity, signaturePublicKey);
  }

  /**
   * Whether the directory lists this device of this user with exactly this key. A fresh-enough
   * listing is used as it is; a miss asks the server once more (the device may have been added a
   * moment ago). With `fresh`, the server is asked in any case (to allow removing a device
   * because it is no longer listed, a stale "listed" would be wrong the other way).
   */
  async isListed({ userId, deviceId }: CredentialIdentity, signaturePublicKey: Uint8Array, { fresh = false } = {}): Promise<boolean> {
    const key = toHex(signaturePublicKey);
    const current = fresh ? undefined : this.current(userId);
    if (current?.devices.get(deviceId) === key) return true;
    const listing = await this.fetch(userId);
    return listing.devices.get(deviceId) === key;
  }

  /**
   * This service as the directory was at `at` (the time the server took a message): a device
   * counts if it is listed now, or if it was on its account then (its removal came later). Used
   * for what a device meets while catching up, which may come from a device that has gone since:
   * judged by today's directory alone, the commit that added it would be refused and the group
   * would stop there for this device. For this user's own devices, a removed one counts only if
   * this device trusted it or it was approved by one this device trusts (see linking.ts); another
   * user's counts with a notice in the conversations with them, as any change of their devices
   * does, since this device may never have seen it listed. Not for joining a group: a Welcome
   * is checked against the directory as it is now.
   */
  asOf(at: string): AuthenticationService {
    return {
      validateCredential: async (credential, signaturePublicKey) => {
        const identity = identityOf(credential);
        if (!identity) return false;
        return (await this.isListed(identity, signaturePublicKey)) || this.wasListed(identity, signaturePublicKey, Date.parse(at));
      },
    };
  }

  private async wasListed({ userId, deviceId }: CredentialIdentity, signaturePublicKey: Uint8Array, at: number): Promise<boolean> {
    if (!Number.isFinite(at)) return false;
    const removed = await this.removedDevices(userId);
    const device = removed.find((d) => d.id === deviceId);
    if (!device?.removedAt || keyOf(device.credential) !== toHex(signaturePublicKey)) return false;
    if (!(Date.parse(device.createdAt) <= at && at < Date.parse(device.removedAt))) return false;
    if (userId === this.own.id()) return this.own.trustedInHistory(device, removed);
    this.observer.pastDevice(userId, deviceId);
    return true;
  }

  private removedDevices(userId: string): Promise<DeviceView[]> {
    const cached = this.histories.get(userId);
    if (cached && Date.now() - cached.fetchedAt < DIRECTORY_TTL_MS) return cached.removed;
    const removed = this.api.lookupDevices([userId], { includeRemoved: true }).then(
      ({ users }) => users.find((u) => u.userId === userId)?.removed ?? [],
      (e: unknown) => {
        this.histories.delete(userId);
        throw new CheckUnavailable(`The device directory could not be read (${(e as Error).message}).`);
      },
    );
    this.histories.set(userId, { removed, fetchedAt: Date.now() });
    return removed;
  }

  /**
   * Whether a KeyPackage the server handed out for `deviceId` of `userId` may be added: its
   * credential names exactly that user and device, the directory lists that device with the
   * KeyPackage's key, and it advertises nothing but what this app's leaves do.
   */
  async acceptsClaimed(keyPackage: Uint8Array, userId: string, deviceId: string): Promise<boolean> {
    let info;
    try {
      info = keyPackageInfo(keyPackage);
    } catch {
      return false;
    }
    if (!info.acceptable || info.identity?.userId !== userId || info.identity.deviceId !== deviceId) return false;
    return this.isListed(info.identity, info.signaturePublicKey);
  }

  /** The leaves whose devices the directory no longer lists (asking it afresh, unless `fresh` is
   * false and the listing was read a moment ago), which any member may remove. */
  async unlisted(leaves: Leaf[], { fresh = true } = {}): Promise<Leaf[]> {
    const users = [...new Set(leaves.map((leaf) => leaf.userId))];
    if (!(await this.prefetch(users, { fresh }))) {
      throw new CheckUnavailable('The device directory could not be read.');
    }
    // A user the lookup left out is asked about alone: being left out of an answer is no evidence.
    for (const userId of users) if (!this.current(userId)) await this.fetch(userId);
    return leaves.filter((leaf) => this.listings.get(leaf.userId)?.devices.get(leaf.deviceId) !== toHex(leaf.signaturePublicKey));
  }

  /**
   * Reads the listings of these users that are not fresh, all at once, so that checking a tree of
   * many leaves (a Welcome) waits for one round of requests rather than one per user. With
   * `fresh`, every one is asked again. False if the directory could not be read: a check that
   * needs a listing then asks for it itself.
   */
  async prefetch(userIds: Iterable<string>, { fresh = false } = {}): Promise<boolean> {
    const stale = [...new Set(userIds)].filter((userId) => fresh || (!this.current(userId) && !this.fetching.has(userId)));
    const batches: string[][] = [];
    for (let i = 0; i < stale.length; i += MAX_GROUP_MEMBERS) batches.push(stale.slice(i, i + MAX_GROUP_MEMBERS));
    const read = await Promise.all(batches.map(async (batch) => {
      let found;
      try {
        found = await this.api.lookupDevices(batch);
      } catch {
        return false;
      }
      const fetchedAt = Date.now();
      // Only the users the answer names are recorded: one left out is not taken to have no
      // devices (a hostile server could use that to have a member evicted), but asked about alone.
      const asked = new Set(batch);
      for (const { userId, devices } of found.users) {
        if (!asked.has(userId)) continue;
        const counted = await this.counted(userId, devices);
        this.listings.set(userId, { devices: listed(counted), fetchedAt });
        this.observer.listed(userId, counted, fetchedAt);
      }
      return true;
    }));
    return read.every(Boolean);
  }

  /** Whether the directory, as last read, lists any device of this user. */
  hasListedDevices(userId: string): boolean {
    return (this.listings.get(userId)?.devices.size ?? 0) > 0;
  }

  private current(userId: string): Listing | undefined {
    const cached = this.listings.get(userId);
    return cached && Date.now() - cached.fetchedAt < DIRECTORY_TTL_MS ? cached : undefined;
  }

  /** One request per user at a time; a user the server does not know (deleted) has no devices. */
  private fetch(userId: string): Promise<Listing> {
    let pending = this.fetching.get(userId);
    if (!pending) {
      pending = this.api.devicesOf(userId).then(
        ({ devices }) => this.counted(userId, devices),
        (e: unknown) => {
          // The server's own word that there is nothing to list (no such user, or no such id):
          // a refusal, not a check to try again forever.
          if (e instanceof ApiError && (e.status === 404 || e.status === 400)) return [];
          throw new CheckUnavailable(`The device directory could not be read (${(e as Error).message}).`);
        },
      ).then((devices) => {
        const listing = { devices: listed(devices), fetchedAt: Date.now() };
        this.listings.set(userId, listing);
        this.observer.listed(userId, devices, listing.fetchedAt);
        return listing;
      }).finally(() => this.fetching.delete(userId));
      this.fetching.set(userId, pending);
    }
    return pending;
  }
}

/** Device id → hex of its key, for the devices whose credential is well-formed. */
function listed(devices: DeviceView[]): Map<string, string> {
  return new Map(devices.flatMap((d) => {
    const key = keyOf(d.credential);
    return key ? [[d.id, key] as const] : [];
  }));
}

/** The directory's `credential` (base64 of the signature public key) as hex, or null if malformed. */
function keyOf(credential: string): string | null {
  try {
    return toHex(fromBase64(credential));
  } catch {
    return null;
  }
}
