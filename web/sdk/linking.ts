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
// that made up an approval fails it on the new browser. Guessing the code means 2^60 tries within
// the request's ten minutes.

import { ApiError, type Api } from './api.ts';
import { fromBase64, toBase64, verifySignature } from './mls.ts';
import { LINK_APPROVAL_CONTEXT, type DeviceView, type PendingLinkView } from './wire/index.ts';
import type { Store } from './store.ts';

/** Crockford's base32: no I, L, O or U, so what is read aloud or retyped is not misread. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_CHARS = 12;
const REQUEST_MAC_CONTEXT = 'e2e-chat/link-request/v1:';
const PROOF_MAC_CONTEXT = 'e2e-chat/link-proof/v1:';
/** The store's record of the user's devices this device trusts: device id → base64 key. */
const TRUST_KEY = 'own-devices';
/** Those it trusted until they were removed: what it met from them while they were there counts. */
const FORMER_KEY = 'own-devices-former';

export type TrustedDevices = Record<string, string>;

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

async function hmac(code: string, text: string): Promise<Uint8Array> {
  const canonical = normalizeLinkCode(code);
  if (!canonical) throw new Error('Not a link code.');
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(canonical), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
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
  return hmac(code, `${REQUEST_MAC_CONTEXT}${userId}:${credential}:${label}`);
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

/** What the approving device passes to the new browser, MACed under the code. */
interface ApproverProof {
  approverId: string;
  trusted: TrustedDevices;
  mac: string;
}

function proofText(linkId: string, credential: string, approverId: string, trusted: TrustedDevices): string {
  const entries = Object.entries(trusted).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${PROOF_MAC_CONTEXT}${linkId}:${credential}:${approverId}:${JSON.stringify(entries)}`;
}

export async function approverProof(code: string, link: PendingLinkView, approverId: string, trusted: TrustedDevices): Promise<string> {
  const mac = await hmac(code, proofText(link.id, link.credential, approverId, trusted));
  const proof: ApproverProof = { approverId, trusted, mac: toBase64(mac) };
  return toBase64(new TextEncoder().encode(JSON.stringify(proof)));
}

/** The devices the approver trusts, if `proof` is its, under the code, for this request. */
export async function openApproverProof(code: string, linkId: string, credential: string, proof: string | undefined): Promise<TrustedDevices | null> {
  if (!proof) return null;
  let parsed: ApproverProof;
  try {
    parsed = JSON.parse(new TextDecoder().decode(fromBase64(proof))) as ApproverProof;
    if (typeof parsed.approverId !== 'string' || typeof parsed.mac !== 'string' || typeof parsed.trusted !== 'object' || parsed.trusted === null) return null;
    if (!Object.values(parsed.trusted).every((key) => typeof key === 'string')) return null;
    const expected = await hmac(code, proofText(linkId, credential, parsed.approverId, parsed.trusted));
    if (!sameBytes(fromBase64(parsed.mac), expected)) return null;
  } catch {
    return null;
  }
  return parsed.trusted[parsed.approverId] ? parsed.trusted : null;
}

/**
 * The user's devices this device trusts, kept in its store. Checked against each listing of the
 * user's devices: a listed device joins the set when its approval is a valid signature by one
 * already in it; a device no longer listed leaves it (after it has vouched for those it
 * approved). Only the devices in the set count as the user's (see Authentication).
 */
export class OwnDevices {
  private readonly store: () => Store;
  private readonly me: () => { userId: string; deviceId: string; key: string };
  /** Refreshes run one at a time: each reads and writes the whole set. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(store: () => Store, me: () => { userId: string; deviceId: string; key: string }) {
    this.store = store;
    this.me = me;
  }

  /** Starts the set over: this device and those given (its approver's, when linked). */
  async reset(trusted: TrustedDevices = {}): Promise<void> {
    const { deviceId, key } = this.me();
    await this.store().put(TRUST_KEY, { ...trusted, [deviceId]: key });
  }

  async trusted(): Promise<TrustedDevices> {
    return (await this.store().get<TrustedDevices>(TRUST_KEY)) ?? {};
  }

  /** Adds a device this device just approved. */
  trust(deviceId: string, key: string): Promise<void> {
    return this.serially(async () => {
      await this.store().put(TRUST_KEY, { ...(await this.trusted()), [deviceId]: key });
    });
  }

  /** The listed devices of this user this device trusts, the set brought up to date first. */
  trustedAmong(listed: DeviceView[]): Promise<DeviceView[]> {
    return this.serially(async () => {
      const { userId, deviceId, key } = this.me();
      let trusted = await this.store().get<TrustedDevices>(TRUST_KEY);
      if (!trusted) {
        // A store from before devices were linked: the devices listed now are taken as they are,
        // once; from then on only approved ones join.
        trusted = Object.fromEntries(listed.map((d) => [d.id, d.credential]));
      }
      const next: TrustedDevices = { ...trusted, [deviceId]: key };
      for (let grew = true; grew;) {
        grew = false;
        for (const device of listed) {
          if (next[device.id] === device.credential || !device.approvedBy || !device.approval) continue;
          const approverKey = next[device.approvedBy];
          if (!approverKey || device.approvedBy === device.id) continue;
          const valid = await verifySignature(fromBase64(approverKey), approvalMessage(userId, device.id, device.credential), safeBytes(device.approval));
          if (valid && next[device.id] === undefined) {
            next[device.id] = device.credential;
            grew = true;
          }
        }
      }
      // Gone from the directory: no longer trusted (if it comes back, only a valid approval
      // brings it in again), but remembered, for what it sent while it was there. This device
      // itself stays.
      const listedIds = new Set(listed.map((d) => d.id));
      const gone = Object.keys(next).filter((id) => id !== deviceId && !listedIds.has(id));
      if (gone.length) {
        const former = (await this.store().get<TrustedDevices>(FORMER_KEY)) ?? {};
        for (const id of gone) {
          former[id] = next[id];
          delete next[id];
        }
        await this.store().put(FORMER_KEY, former);
      }
      if (JSON.stringify(next) !== JSON.stringify(trusted)) await this.store().put(TRUST_KEY, next);
      return listed.filter((d) => next[d.id] === d.credential);
    });
  }

  /**
   * Whether `device`, a removed device of this user (one of `removed`, the directory's history),
   * was trusted by this device, or approved by one that was (this device may have been away for
   * the whole of its life).
   */
  async trustedInHistory(device: DeviceView, removed: DeviceView[]): Promise<boolean> {
    const { userId } = this.me();
    const keys: TrustedDevices = { ...((await this.store().get<TrustedDevices>(FORMER_KEY)) ?? {}), ...(await this.trusted()) };
    if (keys[device.id] === device.credential) return true;
    for (let grew = true; grew;) {
      grew = false;
      for (const d of removed) {
        if (keys[d.id] !== undefined || !d.approvedBy || !d.approval || !keys[d.approvedBy] || d.approvedBy === d.id) continue;
        if (await verifySignature(fromBase64(keys[d.approvedBy]), approvalMessage(userId, d.id, d.credential), safeBytes(d.approval))) {
          keys[d.id] = d.credential;
          grew = true;
        }
      }
    }
    return keys[device.id] === device.credential;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => {});
    return run;
  }
}

function safeBytes(base64: string): Uint8Array {
  try {
    return fromBase64(base64);
  } catch {
    return new Uint8Array();
  }
}

/** What the new browser shows while it waits. */
export interface LinkPrompt {
  /** The code to type on the other device, as `XXXX-XXXX-XXXX`. */
  code: string;
  expiresAt: string;
}

/** How the wait for approval ended. */
export interface Linked {
  device: DeviceView;
  /** The devices the approver trusts (none after a reset). */
  trusted: TrustedDevices;
}

const POLL_MS = 1500;

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
  private linkId: string | null = null;
  private cancelled = false;
  private resetTo: Linked | null = null;
  /** A reset under way: a request that vanishes meanwhile was removed by it, not declined. */
  private resetting: Promise<unknown> | null = null;
  private wake: (() => void) | null = null;

  constructor(api: Api, userId: string, label: string, credential: string, onPrompt: (prompt: LinkPrompt) => void) {
    this.api = api;
    this.userId = userId;
    this.label = label;
    this.credential = credential;
    this.onPrompt = onPrompt;
  }

  async run(): Promise<Linked> {
    for (;;) {
      const code = newLinkCode();
      const mac = await requestMac(code, this.userId, this.label, this.credential);
      const link = await this.api.requestLink(this.label, this.credential, toBase64(mac));
      this.linkId = link.id;
      this.onPrompt({ code, expiresAt: link.expiresAt });
      const expires = Date.parse(link.expiresAt);
      while (Date.now() < expires) {
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
          if (e.unavailable) continue;
          if (e.status !== 404) throw e;
          if (this.resetting) continue;
          if (Date.now() < expires - POLL_MS) throw new LinkFailure('declined', 'Your other device declined to link this browser.');
          break;
        }
        if (status.status !== 'approved') continue;
        const trusted = await openApproverProof(code, link.id, this.credential, status.approverProof);
        const device = status.device;
        if (!trusted || !device || device.id !== link.id || device.credential !== this.credential) {
          // Not what the device the user typed the code on sent: the server made it up or changed
          // it. This browser takes no part in the account on that word.
          await this.api.deleteDevice(link.id).catch(() => {});
          throw new LinkFailure('unverified-approval', 'The approval could not be verified with the code, so this browser was not linked. Try again.');
        }
        return { device, trusted };
      }
    }
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
      this.resetTo = { device: await call, trusted: {} };
    } finally {
      this.resetting = null;
    }
    this.wake?.();
  }
}
