// Linking a new browser to its account, and which of its user's devices this device trusts.
//
// The server lets a further device join an account only when a device the account has approves
// it (or by a reset that removes every other device). This module makes the approval something
// the devices check themselves, so that a server listing a device nobody approved cannot get it
// into this user's groups:
// - The new browser makes a code (60 random bits, shown as XXXX-XXXX-XXXX) and sends its key with
//   a MAC of it under the code (`requestMac`). The server never sees the code.
// - On a device of the account the user types the code. That device approves only the request
//   whose MAC the code verifies: it signs the new key (LINK_APPROVAL_CONTEXT, kept by the server
//   with the device) and passes the new browser a proof, MACed under the code, of which devices
//   it trusts (`ApproverProof`).
// - Each device keeps the set of its user's devices it trusts (`own-devices` in its store): itself,
//   those its approver passed on, and every device listed with a valid approval by one it
//   trusts. The authentication service takes only those as this user's devices.
// A server that swapped the new browser's key fails the code check on the approving device; one
// that made up an approval fails it on the new browser. Recovering the code from the MAC the server
// holds means trying 2^60 codes through 100,000 PBKDF2 rounds each within the request's ten minutes.

import { ApiError, type Api } from './api.ts';
import { fromBase64, toBase64, verifySignature } from './mls.ts';
import { DEVICE_REVOCATION_CONTEXT, LINK_APPROVAL_CONTEXT, LINK_REQUEST_TTL_SECONDS, type DeviceView, type LinkView, type PendingLinkView } from './wire/index.ts';
import type { Store } from './store.ts';

/** Crockford's base32: no I, L, O or U, so what is read aloud or retyped is not misread. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_CHARS = 12;
const REQUEST_MAC_CONTEXT = 'e2e-chat/link-request/v1:';
const PROOF_MAC_CONTEXT = 'e2e-chat/link-proof/v1:';
const CODE_KEY_SALT = 'e2e-chat/link-code/v1:';
/** The store's record of the user's devices this device trusts: device id → base64 key. */
const TRUST_KEY = 'own-devices';
/** Devices of the user this device saw revoked: never trusted again. */
const REVOKED_KEY = 'own-devices-revoked';

export type TrustedDevices = Record<string, string>;
/** Devices seen revoked: their key, and the devices whose approvals by them still stand (named in
 * the signed revocation). */
export type RevokedDevices = Record<string, { key: string; keep: string[] }>;

/** Why linking this browser did not happen. */
export class LinkFailure extends Error {
  readonly code: 'cancelled' | 'declined' | 'unverified-approval' | 'no-match';

  constructor(code: LinkFailure['code'], message: string) {
    super(message);
    this.name = 'LinkFailure';
    this.code = code;
  }
}

/** A fresh code, as shown: `XXXX-XXXX-XXXX`. */
export function newLinkCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(CODE_CHARS));
  // 256 is a multiple of 32: masking keeps every character equally likely.
  const chars = [...bytes].map((b) => CODE_ALPHABET[b & 31]).join('');
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8)}`;
}

/** The code as typed, in its canonical form (no spaces or dashes, upper case, O read as 0 and I
 * or L as 1), or null if it cannot be one. */
export function normalizeLinkCode(typed: string): string | null {
  const code = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return code.length === CODE_CHARS && [...code].every((c) => CODE_ALPHABET.includes(c)) ? code : null;
}

/**
 * PBKDF2 rounds that turn the code into the MAC key. The server sees a MAC under the code and
 * could try every code against it while the request waits: this makes each try cost as much as
 * 100,000 hashes (60 bits of code then take about 2^77 hash computations, where ten minutes are
 * all there is), for a few tens of milliseconds per MAC on a phone.
 */
const CODE_KEY_ROUNDS = 100_000;
const codeKeys = new Map<string, Promise<CryptoKey>>();

function codeKey(code: string, userId: string): Promise<CryptoKey> {
  const canonical = normalizeLinkCode(code);
  if (!canonical) return Promise.reject(new Error('Not a link code.'));
  const id = `${userId}:${canonical}`;
  let key = codeKeys.get(id);
  if (!key) {
    key = (async () => {
      const raw = await crypto.subtle.importKey('raw', new TextEncoder().encode(canonical), 'PBKDF2', false, ['deriveKey']);
      return crypto.subtle.deriveKey(
        { name: 'PBKDF2', hash: 'SHA-256', iterations: CODE_KEY_ROUNDS, salt: new TextEncoder().encode(`${CODE_KEY_SALT}${userId}`) },
        raw, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign'],
      );
    })();
    codeKeys.set(id, key);
    // Only the few codes of one linking are ever in use at once.
    if (codeKeys.size > 16) codeKeys.delete(codeKeys.keys().next().value!);
  }
  return key;
}

async function hmac(code: string, userId: string, text: string): Promise<Uint8Array> {
  const key = await codeKey(code, userId);
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text)));
}

/** Constant-time comparison: a MAC check must not tell how much of a guess was right. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** The new browser's MAC of its request under the code: the account, its label and its key. */
export function requestMac(code: string, userId: string, label: string, credential: string): Promise<Uint8Array> {
  return hmac(code, userId, `${REQUEST_MAC_CONTEXT}${userId}:${credential}:${label}`);
}

/** Of the pending requests, the one this code was shown by (its MAC verifies), if any. */
export async function requestFor(code: string, userId: string, links: PendingLinkView[]): Promise<PendingLinkView | undefined> {
  for (const link of links) {
    let mac: Uint8Array;
    try {
      mac = fromBase64(link.codeMac);
    } catch {
      continue;
    }
    if (sameBytes(mac, await requestMac(code, userId, link.label, link.credential))) return link;
  }
  return undefined;
}

/** The text an approving device signs, and every device of the user checks. */
export function approvalMessage(userId: string, deviceId: string, credential: string): string {
  return `${LINK_APPROVAL_CONTEXT}${userId}:${deviceId}:${credential}`;
}

/** What the approving device passes to the new browser, MACed under the code: the devices it
 * trusts, and those it has seen revoked (never to be trusted again, whatever is listed later). */
interface ApproverProof {
  approverId: string;
  trusted: TrustedDevices;
  revoked: RevokedDevices;
  mac: string;
}

/** What the new browser starts from: the approver's trusted and revoked devices. */
export interface PassedOn {
  trusted: TrustedDevices;
  revoked: RevokedDevices;
}

const byId = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);

function proofText(linkId: string, credential: string, approverId: string, { trusted, revoked }: PassedOn): string {
  const revokedEntries = Object.entries(revoked).sort(byId).map(([id, r]) => [id, r.key, [...r.keep].sort()]);
  return `${PROOF_MAC_CONTEXT}${linkId}:${credential}:${approverId}:${JSON.stringify(Object.entries(trusted).sort(byId))}:${JSON.stringify(revokedEntries)}`;
}

export async function approverProof(code: string, userId: string, link: PendingLinkView, approverId: string, passedOn: PassedOn): Promise<string> {
  const mac = await hmac(code, userId, proofText(link.id, link.credential, approverId, passedOn));
  const proof: ApproverProof = { approverId, ...passedOn, mac: toBase64(mac) };
  return toBase64(new TextEncoder().encode(JSON.stringify(proof)));
}

const isKeySet = (value: unknown): value is TrustedDevices =>
  typeof value === 'object' && value !== null && Object.values(value).every((key) => typeof key === 'string');
const isRevokedSet = (value: unknown): value is RevokedDevices =>
  typeof value === 'object' && value !== null && Object.values(value).every((r) =>
    typeof r === 'object' && r !== null && typeof r.key === 'string' && Array.isArray(r.keep) && r.keep.every((id: unknown) => typeof id === 'string'));

/** What the approver passed on, if `proof` is its, under the code, for this request. */
export async function openApproverProof(code: string, userId: string, linkId: string, credential: string, proof: string | undefined): Promise<PassedOn | null> {
  if (!proof) return null;
  let parsed: ApproverProof;
  try {
    parsed = JSON.parse(new TextDecoder().decode(fromBase64(proof))) as ApproverProof;
    if (typeof parsed.approverId !== 'string' || typeof parsed.mac !== 'string' || !isKeySet(parsed.trusted) || !isRevokedSet(parsed.revoked)) return null;
    const expected = await hmac(code, userId, proofText(linkId, credential, parsed.approverId, parsed));
    if (!sameBytes(fromBase64(parsed.mac), expected)) return null;
  } catch {
    return null;
  }
  return parsed.trusted[parsed.approverId] ? { trusted: parsed.trusted, revoked: parsed.revoked } : null;
}

/**
 * The user's devices this device trusts, kept in its store, checked against each listing of the
 * user's devices:
 * - a listed device joins the set when its approval is a valid signature by a device in the set
 *   that is listed too (a device that has left the account vouches for no one any more);
 * - a device leaves it only on a revocation (`DEVICE_REVOCATION_CONTEXT`) signed by a trusted
 *   device or by itself, which the directory keeps with the removed device; a revoked device is
 *   never trusted again, whatever the server lists later. A device a listing merely leaves out
 *   stays trusted (not counted while unlisted), so a server cannot make one distrusted for good.
 * Only trusted, listed, unrevoked devices count as the user's (see Authentication).
 */
export class OwnDevices {
  private readonly store: () => Store;
  private readonly me: () => { userId: string; deviceId: string; key: string };
  /** The user's removed devices with their revocations (the directory's history). */
  private readonly history: () => Promise<DeviceView[]>;
  /** This user's leaves in the groups this device holds: what a store from before linking trusts. */
  private readonly ownLeaves: () => TrustedDevices;
  /** Refreshes run one at a time: each reads and writes the whole set. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Approvals already checked (the same listing comes again and again). */
  private readonly verified = new Map<string, boolean>();

  constructor(
    store: () => Store, me: () => { userId: string; deviceId: string; key: string },
    history: () => Promise<DeviceView[]>, ownLeaves: () => TrustedDevices,
  ) {
    this.store = store;
    this.me = me;
    this.history = history;
    this.ownLeaves = ownLeaves;
  }

  /** Starts the sets over: this device and what its approver passed on, when linked. */
  async reset({ trusted = {}, revoked = {} }: Partial<PassedOn> = {}): Promise<void> {
    const { deviceId, key } = this.me();
    const kept = Object.fromEntries(Object.entries(trusted).filter(([id]) => revoked[id] === undefined));
    await this.save({ ...kept, [deviceId]: key }, { ...revoked });
  }

  async trusted(): Promise<TrustedDevices> {
    return (await this.store().get<TrustedDevices>(TRUST_KEY)) ?? {};
  }

  async revoked(): Promise<RevokedDevices> {
    return (await this.store().get<RevokedDevices>(REVOKED_KEY)) ?? {};
  }

  /** Both sets, revoked first: a crash between the two writes leaves a device revoked and still
   * in the trusted record (harmless: revoked wins), never dropped and unrevoked. */
  private async save(trusted: TrustedDevices, revoked: RevokedDevices): Promise<void> {
    await this.store().put(REVOKED_KEY, revoked);
    await this.store().put(TRUST_KEY, trusted);
  }

  /** Whether this device has ever trusted or seen revoked a device with this id. */
  async knows(deviceId: string): Promise<boolean> {
    return (await this.trusted())[deviceId] !== undefined || (await this.revoked())[deviceId] !== undefined;
  }

  /** Adds a device this device just approved; an id it already knows is never given a new key. */
  trust(deviceId: string, key: string): Promise<void> {
    return this.serially(async () => {
      const trusted = await this.trusted();
      if (trusted[deviceId] !== undefined || (await this.revoked())[deviceId] !== undefined) return;
      await this.store().put(TRUST_KEY, { ...trusted, [deviceId]: key });
    });
  }

  /** The listed devices of this user this device trusts, the sets brought up to date first. */
  trustedAmong(listed: DeviceView[]): Promise<DeviceView[]> {
    return this.serially(async () => {
      const { userId, deviceId, key } = this.me();
      const stored = await this.store().get<TrustedDevices>(TRUST_KEY);
      const storedRevoked = await this.revoked();
      // A store from before devices were linked trusts the devices of its user it already has in
      // its groups (they were let in under the rules of then), listed now or not.
      const next: TrustedDevices = { ...(stored ?? this.ownLeaves()), [deviceId]: key };
      const revoked: RevokedDevices = { ...storedRevoked };
      for (const id of Object.keys(revoked)) delete next[id];
      const listedIds = new Set(listed.map((d) => d.id));

      // The history (revocations) is read only when it can matter: a trusted device is missing
      // from the listing (it may have been revoked), or a device is about to be trusted (it, or
      // its approver, may have been revoked while this device was away).
      let history: DeviceView[] | null = null;
      const revocations = async () => {
        history ??= await this.history();
        return this.applyRevocations(next, revoked, history);
      };
      if (Object.keys(next).some((id) => !listedIds.has(id))) await revocations();
      for (let grew = true; grew;) {
        grew = false;
        for (const device of listed) {
          if (next[device.id] !== undefined || revoked[device.id] !== undefined || !device.approvedBy || !device.approval) continue;
          const approver = device.approvedBy;
          if (approver === device.id || (!next[approver] && !revoked[approver])) continue;
          // Checked, then admitted for a moment so that the history's revocations apply to it and
          // its approver alike; it stays if neither is revoked, or if its approver's revocation
          // names it among the approvals that still stand.
          const approverKey = next[approver] ?? revoked[approver].key;
          if (!(await this.checked(approverKey, approvalMessage(userId, device.id, device.credential), device.approval))) continue;
          next[device.id] = device.credential;
          await revocations();
          const stands = next[approver] !== undefined || (revoked[approver]?.key === approverKey && revoked[approver].keep.includes(device.id));
          if (revoked[device.id] !== undefined || !stands) {
            delete next[device.id];
            continue;
          }
          grew = true;
        }
      }
      if (JSON.stringify(next) !== JSON.stringify(stored) || JSON.stringify(revoked) !== JSON.stringify(storedRevoked)) {
        await this.save(next, revoked);
      }
      return listed.filter((d) => next[d.id] === d.credential && revoked[d.id] === undefined);
    });
  }

  /**
   * Reads the directory's history for revocations of trusted devices: at each connect and when a
   * device of this user is removed, so that a device revoked while this one was away (and listed
   * again since, as it was) is not trusted on the strength of having been trusted before.
   */
  checkRevocations(): Promise<void> {
    return this.serially(async () => {
      const next = await this.trusted();
      const revoked = await this.revoked();
      if (await this.applyRevocations(next, revoked, await this.history())) await this.save(next, revoked);
    });
  }

  /** Marks a device this one has just revoked (its own signature is the revocation). */
  revokedHere(deviceId: string, key: string, keep: string[]): Promise<void> {
    return this.serially(async () => {
      const trusted = await this.trusted();
      delete trusted[deviceId];
      await this.save(trusted, { ...(await this.revoked()), [deviceId]: { key, keep } });
    });
  }

  /**
   * Moves from `trusted` to `revoked` every device the history shows validly revoked: by itself,
   * or by a device trusted before this pass (so that of two devices revoking each other, as a
   * thief's key with the server's help could make it look, both go, whatever order they are
   * listed in). Repeats while revocations make more. True if anything changed.
   */
  private async applyRevocations(trusted: TrustedDevices, revoked: RevokedDevices, history: DeviceView[]): Promise<boolean> {
    const { userId, deviceId } = this.me();
    let changed = false;
    for (let more = true; more;) {
      more = false;
      const signers = { ...trusted };
      const found: DeviceView[] = [];
      for (const gone of history) {
        if (trusted[gone.id] !== gone.credential || gone.id === deviceId || !gone.revokedBy || !gone.revocation) continue;
        const signer = gone.revokedBy === gone.id ? gone.credential : signers[gone.revokedBy];
        const keep = gone.revocationKeeps ?? [];
        if (signer && await this.checked(signer, revocationMessage(userId, gone.id, gone.credential, keep), gone.revocation)) found.push(gone);
      }
      for (const gone of found) {
        revoked[gone.id] = { key: gone.credential, keep: gone.revocationKeeps ?? [] };
        delete trusted[gone.id];
        more = changed = true;
      }
    }
    return changed;
  }

  /**
   * Whether `device`, a removed device of this user (one of `removed`, the directory's history),
   * counts for what it sent while it was on the account: this device trusted it (revoked since or
   * not), or a chain of approvals through the history leads to it from a device this one trusted
   * (this one may have been away for the whole of their lives).
   */
  async trustedInHistory(device: DeviceView, removed: DeviceView[]): Promise<boolean> {
    const { userId } = this.me();
    const revokedKeys = Object.fromEntries(Object.entries(await this.revoked()).map(([id, r]) => [id, r.key]));
    const known: TrustedDevices = { ...revokedKeys, ...(await this.trusted()) };
    if (known[device.id] === device.credential) return true;
    for (let grew = true, rounds = 0; grew && rounds < removed.length; rounds += 1) {
      grew = false;
      for (const d of removed) {
        if (known[d.id] !== undefined || !d.approvedBy || !d.approval || d.approvedBy === d.id || !known[d.approvedBy]) continue;
        if (await this.checked(known[d.approvedBy], approvalMessage(userId, d.id, d.credential), d.approval)) {
          known[d.id] = d.credential;
          grew = true;
        }
      }
    }
    return known[device.id] === device.credential;
  }

  private async checked(signerKey: string, text: string, signature: string): Promise<boolean> {
    const id = `${signerKey}|${text}|${signature}`;
    let valid = this.verified.get(id);
    if (valid === undefined) {
      valid = await verifySignature(safeBytes(signerKey), text, safeBytes(signature));
      this.verified.set(id, valid);
    }
    return valid;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => {});
    return run;
  }
}

/** The text a device signs to revoke one of its user's devices (another, or itself), naming the
 * devices whose approvals by the revoked one still stand. */
export function revocationMessage(userId: string, deviceId: string, credential: string, keep: string[]): string {
  return `${DEVICE_REVOCATION_CONTEXT}${userId}:${deviceId}:${credential}:${[...new Set(keep)].sort().join(',')}`;
}

function safeBytes(base64: string): Uint8Array {
  try {
    return fromBase64(base64);
  } catch {
    return new Uint8Array();
  }
}

/** Where the wait stands: waiting for approval, the server out of reach (still trying), or
 * approved (this browser is being set up). */
export type LinkStatus = 'waiting' | 'unreachable' | 'approved';

/** What the new browser shows while it waits. */
export interface LinkPrompt {
  /** The code to type on the other device, as `XXXX-XXXX-XXXX`. */
  code: string;
  expiresAt: string;
}

/** How the wait for approval ended. */
export interface Linked {
  device: DeviceView;
  /** What the approver passed on (nothing after a reset). */
  passedOn: PassedOn;
}

const POLL_MS = 1500;

/** A reset finished while a request could not be sent: `run` returns the reset's outcome. */
class ResetDone extends Error {}

/**
 * The new browser's side: asks to be linked, shows a code (`onPrompt`), and waits until a device
 * approves (the approval checked with the code), the user starts over with `reset`, or `cancel`.
 * A code that expires unanswered is replaced by a new one.
 */
export class LinkWait {
  private readonly api: Api;
  private readonly userId: string;
  private readonly label: string;
  private readonly credential: string;
  private readonly onPrompt: (prompt: LinkPrompt) => void;
  private readonly onStatus: (status: LinkStatus) => void;
  private status: LinkStatus | null = null;
  private linkId: string | null = null;
  private cancelled = false;
  private resetTo: Linked | null = null;
  /** A reset under way: a request that vanishes meanwhile was removed by it, not declined. */
  private resetting: Promise<unknown> | null = null;
  private wake: (() => void) | null = null;

  constructor(api: Api, userId: string, label: string, credential: string, onPrompt: (prompt: LinkPrompt) => void, onStatus: (status: LinkStatus) => void) {
    this.api = api;
    this.userId = userId;
    this.label = label;
    this.credential = credential;
    this.onPrompt = onPrompt;
    this.onStatus = onStatus;
  }

  private tell(status: LinkStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }

  async run(): Promise<Linked> {
    try {
      return await this.wait();
    } catch (e) {
      if (e instanceof ResetDone && this.resetTo) return this.resetTo;
      throw e;
    }
  }

  private async wait(): Promise<Linked> {
    for (;;) {
      const code = newLinkCode();
      const mac = await requestMac(code, this.userId, this.label, this.credential);
      const asked = Date.now();
      const link = await this.ask(mac);
      this.linkId = link.id;
      // The server says when the request expires; this browser holds it to ten minutes whatever
      // it says (the code is guessable only while it is in use), and polls at least once.
      const expires = Math.min(Date.parse(link.expiresAt) || Infinity, asked + LINK_REQUEST_TTL_SECONDS * 1000);
      this.onPrompt({ code, expiresAt: new Date(expires).toISOString() });
      for (let first = true; first || Date.now() < expires; first = false) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, POLL_MS);
        });
        this.wake = null;
        if (this.resetting) await this.resetting.catch(() => {});
        if (this.resetTo) return this.resetTo;
        if (this.cancelled) {
          await this.api.deleteLink(link.id).catch(() => {});
          throw new LinkFailure('cancelled', 'Linking this browser was cancelled.');
        }
        let status;
        try {
          status = await this.api.linkStatus(link.id);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          if (e.unavailable) {
            this.tell('unreachable');
            continue;
          }
          if (e.status !== 404) throw e;
          if (this.resetting) continue;
          if (Date.now() < expires - POLL_MS) throw new LinkFailure('declined', 'Your other device declined to link this browser.');
          break;
        }
        if (status.status !== 'approved') {
          this.tell('waiting');
          continue;
        }
        return this.approved(status, link.id, code);
      }
      // Given up on this code: withdrawn before a new one, so that no approval can land on it
      // unseen. One that did land meanwhile is taken.
      try {
        await this.api.deleteLink(link.id);
      } catch (e) {
        if (e instanceof ApiError && e.code === 'link_approved') return this.approved(await this.api.linkStatus(link.id), link.id, code);
      }
    }
  }

  /** Sends the request; while the server is out of reach, says so and tries again (cancel and
   * reset still work meanwhile). */
  private async ask(mac: Uint8Array): Promise<LinkView> {
    for (;;) {
      try {
        return await this.api.requestLink(this.label, this.credential, toBase64(mac));
      } catch (e) {
        if (!(e instanceof ApiError && e.unavailable)) throw e;
        this.tell('unreachable');
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, POLL_MS);
      });
      this.wake = null;
      if (this.resetting) await this.resetting.catch(() => {});
      if (this.resetTo) throw new ResetDone();
      if (this.cancelled) throw new LinkFailure('cancelled', 'Linking this browser was cancelled.');
    }
  }

  /** Takes an approval, after checking it is the one made on the device where the code was typed. */
  private async approved(status: LinkView, linkId: string, code: string): Promise<Linked> {
    this.tell('approved');
    const passedOn = await openApproverProof(code, this.userId, linkId, this.credential, status.approverProof);
    const device = status.device;
    if (status.status !== 'approved' || !passedOn || !device || device.id !== linkId || device.credential !== this.credential) {
      // Not what the device the user typed the code on sent: the server made it up or changed
      // it. This browser takes no part in the account on that word.
      await this.api.deleteDevice(linkId).catch(() => {});
      throw new LinkFailure('unverified-approval', 'Linking could not be confirmed with the code, so this browser was not linked. Try again, and check Linked devices on your other device.');
    }
    return { device, passedOn };
  }

  /** Stops waiting; `run` rejects with LinkFailure `cancelled`. */
  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }

  /** Every device is lost: this browser becomes the account's only one (the password checked by
   * the server). Throws, and keeps waiting, if the server refuses. */
  async reset(password: string): Promise<void> {
    const call = this.api.resetDevices(this.label, this.credential, password);
    this.resetting = call;
    try {
      this.resetTo = { device: await call, passedOn: { trusted: {}, revoked: {} } };
    } finally {
      this.resetting = null;
    }
    this.wake?.();
  }
}
