// Who is signed in on this device: the session token and user, this device's store, its MLS
// identity as registered with the server, its one-time KeyPackages there, and its socket.
// Everything else in the SDK reads these through a Session.

import { Api, ApiError, type Account, type AuthResponse, type KeyPackageCount } from './api.ts';
import { LinkWait, OwnDevices, type LinkPrompt, type LinkStatus, type PassedOn, type TrustedDevices } from './linking.ts';
import { newKeyPackage, newSignatureKeys, sign, toBase64, type DeviceIdentity, type KeyPackageSecret } from './mls.ts';
import { DEVICE_PROOF_CONTEXT, type DeviceView } from './wire/index.ts';
import type { RealtimeSocket } from './socket.ts';
import { Store } from './store.ts';
import { CheckUnavailable } from './credentials.ts';

export interface ChatClientOptions {
  baseUrl: string;
  /** Defaults to the base URL's origin with ws(s): and /ws. */
  wsUrl?: string;
  /** Names this device's local store; defaults to the user's id. */
  storeName?: string;
  indexedDB?: IDBFactory;
  deviceLabel?: string;
  /** One-time KeyPackages kept on the server; topped up when fewer than half are left. */
  keyPackageTarget?: number;
  /** Makes the REST calls; the global `fetch` unless given. */
  fetch?: typeof fetch;
  /** Opens the realtime connection; the global `WebSocket` unless given. */
  webSocket?: typeof WebSocket;
  /** The time in milliseconds since the epoch, for disappearing messages; `Date.now` unless given
   * (a test moves it on instead of waiting an hour). */
  now?: () => number;
}

/** A signed-in session, as the server gave it and as the store's `session` record keeps it. */
export type Auth = Pick<AuthResponse, 'token' | 'user'>;

/** The store's `device` record. */
export interface StoredDevice {
  deviceId: string;
  identity: DeviceIdentity;
}

/**
 * A stored device as this version uses it. Records from before credentials named the device lack
 * `identity.deviceId`; it is the record's own. (Their KeyPackages and leaves, which name the user
 * only, are refused by everyone now: there was no production data to carry over.)
 */
function current(device: StoredDevice | undefined): StoredDevice | undefined {
  return device && { ...device, identity: { ...device.identity, deviceId: device.identity.deviceId ?? device.deviceId } };
}

/** A private KeyPackage in the store's `keyPackages`; a last-resort one may be used many times. */
export interface StoredKeyPackage extends KeyPackageSecret {
  lastResort: boolean;
}

export class Session {
  readonly api: Api;
  readonly options: ChatClientOptions;
  store: Store | null = null;
  socket: RealtimeSocket | null = null;
  device: StoredDevice | null = null;
  user: Account | null = null;
  /** The user's devices this device trusts (see linking.ts). */
  readonly ownDevices: OwnDevices;
  /** While this browser waits for one of the account's devices to approve it. */
  linkWait: LinkWait | null = null;
  /** This user's leaves in the groups this device holds (device id → base64 key); set by the client. */
  ownLeaves: () => TrustedDevices = () => ({});
  /** Runs when this device turns out to be removed from the account, before it is set up anew. */
  private readonly onDeviceReplaced: () => void;
  /** Shows the code to type on another device, and how the wait stands, while this browser waits
   * to be linked. */
  private readonly onLinkPrompt: (prompt: LinkPrompt) => void;
  private readonly onLinkStatus: (status: LinkStatus) => void;

  constructor(
    options: ChatClientOptions, onDeviceReplaced: () => void,
    onLinkPrompt: (prompt: LinkPrompt) => void, onLinkStatus: (status: LinkStatus) => void,
  ) {
    this.options = options;
    this.api = new Api(options.baseUrl, { fetch: options.fetch });
    this.onDeviceReplaced = onDeviceReplaced;
    this.onLinkPrompt = onLinkPrompt;
    this.onLinkStatus = onLinkStatus;
    this.ownDevices = new OwnDevices(
      () => this.db,
      () => ({ userId: this.me, deviceId: this.deviceId, key: toBase64(this.identity.publicKey) }),
      async () => {
        try {
          return (await this.api.lookupDevices([this.me], { includeRemoved: true })).users.find((u) => u.userId === this.me)?.removed ?? [];
        } catch (e) {
          // Not an answer: whatever needed the history is tried again later, not refused.
          throw new CheckUnavailable(`The device history could not be read (${(e as Error).message}).`);
        }
      },
      () => this.ownLeaves(),
    );
  }

  get deviceId(): string {
    if (!this.device) throw new Error('Not signed in.');
    return this.device.deviceId;
  }

  get me(): string {
    if (!this.user) throw new Error('Not signed in.');
    return this.user.id;
  }

  get db(): Store {
    if (!this.store) throw new Error('Not signed in.');
    return this.store;
  }

  get identity(): DeviceIdentity {
    return this.device!.identity;
  }

  /** The session the store named `storeName` remembers, if any. */
  async remembered(storeName: string): Promise<Auth | undefined> {
    const store = await Store.open(storeName, this.options.indexedDB);
    const session = await store.get<Auth>('session');
    store.close();
    return session;
  }

  /** Opens this user's store (unless open) and remembers the session in it. */
  async openStore(auth: Auth): Promise<void> {
    this.api.token = auth.token;
    this.user = auth.user;
    this.store ??= await Store.open(this.options.storeName ?? auth.user.id, this.options.indexedDB);
    await this.store.put('session', { token: auth.token, user: auth.user });
  }

  /** Takes this device as the store has it, without asking the server (which is out of reach). */
  async restoreDevice(): Promise<void> {
    const device = current(await this.db.get<StoredDevice>('device'));
    if (device?.identity.userId !== this.me) throw new Error('This browser has to reach the server once to be set up.');
    this.device = device;
  }

  /** Loads or registers this device; a stored one's key-package count comes back, as the check
   * that the server still knows it. */
  async ensureDevice(): Promise<KeyPackageCount | undefined> {
    const stored = current(await this.db.get<StoredDevice>('device'));
    if (stored && stored.identity.userId === this.me) {
      try {
        // A new login on this browser acts as its device only once it proves it holds the key
        // (for the session that registered the device, this is a no-op).
        await this.api.bindDevice(stored.deviceId, toBase64(await sign(stored.identity, DEVICE_PROOF_CONTEXT + this.api.sessionId())));
        const count = await this.api.keyPackageCount(stored.deviceId);
        this.device = stored;
        return count;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        // Removed from the account elsewhere: its keys and groups are dead; start as a new device.
        this.onDeviceReplaced();
        const name = this.db.name;
        this.db.close();
        await Store.destroy(name, this.options.indexedDB);
        this.store = await Store.open(name, this.options.indexedDB);
        await this.store.put('session', { token: this.api.token, user: this.user });
      }
    }
    // The credential names the device, whose id the server gives at registration: the key pair
    // comes first (the server lists its public half), the credential after.
    const keys = await newSignatureKeys();
    const { device, passedOn } = await this.registerOrLink(toBase64(keys.publicKey));
    const identity: DeviceIdentity = { userId: this.me, deviceId: device.id, ...keys };
    this.device = { deviceId: device.id, identity };
    // The trusted set first: a device record without one would be read, after a crash here, as a
    // store from before linking.
    await this.ownDevices.reset(passedOn);
    await this.db.put('device', this.device);
    return undefined;
  }

  /**
   * Registers this browser as the account's first device or, when the account has one, asks to
   * be linked and waits until a device of the account approves it (or the user starts over with
   * `resetDevices`, or cancels).
   */
  private async registerOrLink(credential: string): Promise<{ device: DeviceView; passedOn: PassedOn }> {
    const label = this.options.deviceLabel ?? 'Browser';
    try {
      return { device: await this.api.registerDevice(label, credential), passedOn: { trusted: {}, revoked: {} } };
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'link_required')) throw e;
    }
    this.linkWait = new LinkWait(this.api, this.me, label, credential, this.onLinkPrompt, this.onLinkStatus);
    try {
      return await this.linkWait.run();
    } finally {
      this.linkWait = null;
    }
  }

  /** Keeps enough one-time KeyPackages (and a last-resort one) on the server for others to add us. */
  async topUpKeyPackages(known?: KeyPackageCount): Promise<void> {
    const target = this.options.keyPackageTarget ?? 20;
    const { available, hasLastResort } = known ?? await this.api.keyPackageCount(this.deviceId);
    if (available >= target / 2 && hasLastResort) return;
    const fresh: StoredKeyPackage[] = [];
    for (let i = available; i < target; i += 1) fresh.push({ ...(await newKeyPackage(this.identity)), lastResort: false });
    const lastResort = hasLastResort ? null : { ...(await newKeyPackage(this.identity)), lastResort: true };
    for (const kp of [...fresh, ...(lastResort ? [lastResort] : [])]) await this.db.putKeyPackage(kp.ref, kp);
    await this.api.uploadKeyPackages(this.deviceId, fresh.map((k) => toBase64(k.publicPackage)), lastResort ? toBase64(lastResort.publicPackage) : undefined);
  }

  /** Ends the session on this device: the socket stops, the token is forgotten, and so is the
   * store's session record; with `forgetDevice`, the whole store. */
  async endLocally(forgetDevice: boolean): Promise<void> {
    this.socket?.stop();
    const store = this.store;
    this.store = null;
    this.api.token = null;
    if (!store) return;
    if (forgetDevice) {
      store.close();
      await Store.destroy(store.name, this.options.indexedDB);
    } else {
      await store.delete('session');
      store.close();
    }
  }
}
