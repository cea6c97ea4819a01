// Verification people can do, as Signal and WhatsApp offer it: per contact, a safety number over
// both users' device keys AS THE DIRECTORY LISTS THEM NOW (not a group's tree, which every member
// shares whoever is in it), to compare in person or on a call. If the server lists a device for
// someone that they do not have, their half differs between the two screens: each person's own
// half is over the devices their device trusts (those approved by their devices, see linking.ts),
// the contact's over what the directory lists.
//
// The number. Each user's half is a fingerprint of that user's device set: the (deviceId,
// signature public key) pairs the directory lists, sorted by device id and written one per line
// as `<deviceId> <hex key>\n` (ids hold no spaces or newlines, see credentials.ts, so the text
// reads one way only). Like Signal's numeric fingerprint, the hash is iterated to make a second
// device set with a matching half costly to search for:
//     h = SHA-512(version as 2 bytes || device set || userId)
//     5200 times: h = SHA-512(h || device set)
// The half is h's first 30 bytes as six 5-byte big-endian numbers, each mod 100000 as 5 digits:
// 30 digits. The two halves, ordered by user id, make the 60 digits (12 groups of 5) that both
// people see alike. The QR code carries the version, both user ids and both halves' hashes.
//
// Changes. This device keeps each user's last known device set (a plain SHA-256 of the text
// above, cheap enough to check every contact at each connect) in its store. When a contact's set
// differs from the known one (seen on `device-added`/`device-removed`, at each connect, and
// whenever this module reads their devices), it writes a notice into every conversation with
// them, drops the "verified" mark, and tells the app. A mark records both sets it was made over,
// so a change of this user's own devices (which changes their half) drops every mark too.

// The client loads this module on first use. It imports no code the chat page's first load has
// (types only; hashing by WebCrypto), so that it stays one chunk of its own and does not make the
// bundler split shared modules out of the first-load chunks.

import type { Conversations } from './conversations.ts';
import type { Emitter } from './events.ts';
import type { Session } from './session.ts';
import type { Notice } from './store.ts';
import type { DeviceView } from './wire/index.ts';

const FINGERPRINT_VERSION = 0;
const ITERATIONS = 5200;
const QR_PREFIX = 'e2e-chat-safety';
const KNOWN_PREFIX = 'devices:';
const VERIFIED_PREFIX = 'verified:';
/** Removed devices of contacts already noticed (see notePastDevice). */
const PAST_PREFIX = 'past-device:';

const text = new TextEncoder();

/** The safety number with one contact, as both of them see it when the directory is honest. */
export interface ContactSafetyNumber {
  userId: string;
  /** 60 digits in 12 groups of 5, separated by spaces. */
  digits: string;
  /** What the QR code encodes: `e2e-chat-safety/<version>/<user>/<hash>/<user>/<hash>`, ordered by user id. */
  qr: string;
  verified: boolean;
}

/** One of a user's devices as the directory lists it, with a short fingerprint of its key. */
export interface DeviceFingerprint {
  id: string;
  label: string;
  /** The first 8 bytes of SHA-256 of the signature key, as 4 groups of 4 hex digits. */
  fingerprint: string;
}

/** What a mark records: the device sets (SHA-256 hex of each) the number was compared over. */
interface VerifiedMark {
  contact: string;
  own: string;
  at: string;
}

interface DeviceSet {
  devices: DeviceView[];
  /** The canonical text of the set (see the top of this file). */
  canonical: Uint8Array;
  /** SHA-256 hex of `canonical`: what is kept to notice a change. */
  setHash: string;
}

async function digest(algorithm: 'SHA-256' | 'SHA-512', data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(algorithm, data as Uint8Array<ArrayBuffer>));
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The directory's `credential` (base64 of the signature public key) as bytes, or null if malformed. */
function keyOf(credential: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(credential), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

async function deviceSet(devices: DeviceView[]): Promise<DeviceSet> {
  const lines = devices
    .map((d) => {
      const key = keyOf(d.credential);
      return `${d.id} ${key ? toHex(key) : 'malformed'}\n`;
    })
    .sort();
  const canonical = text.encode(lines.join(''));
  return { devices, canonical, setHash: toHex(await digest('SHA-256', canonical)) };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The iterated hash of one user's device set (see the top of this file). */
async function fingerprintHash(userId: string, set: DeviceSet): Promise<Uint8Array> {
  let h = await digest('SHA-512', concat(new Uint8Array([FINGERPRINT_VERSION >> 8, FINGERPRINT_VERSION & 0xff]), set.canonical, text.encode(userId)));
  for (let i = 0; i < ITERATIONS; i += 1) h = await digest('SHA-512', concat(h, set.canonical));
  return h;
}

/** 30 digits from a fingerprint hash: six 5-byte big-endian chunks, each mod 100000. */
function digitsOf(hash: Uint8Array): string[] {
  const groups: string[] = [];
  for (let i = 0; i < 6; i += 1) {
    let chunk = 0;
    for (let j = 0; j < 5; j += 1) chunk = chunk * 256 + hash[i * 5 + j]; // 40 bits: exact in a double
    groups.push(String(chunk % 100000).padStart(5, '0'));
  }
  return groups;
}

/** A device's short fingerprint: 4 groups of 4 hex digits of SHA-256 of its key. */
export async function shortFingerprint(credential: string): Promise<string> {
  const key = keyOf(credential);
  if (!key) return 'malformed key';
  return toHex((await digest('SHA-256', key)).subarray(0, 8)).match(/.{4}/g)!.join(' ');
}

export class Verification {
  private readonly session: Session;
  private readonly conversations: Conversations;
  private readonly events: Emitter;
  /** Users per directory lookup (the server's MAX_GROUP_MEMBERS, handed in: see the imports). */
  private readonly lookupBatch: number;
  /** Changes are recorded one at a time, so two reads of the same change make one notice. */
  private recording: Promise<unknown> = Promise.resolve();
  /** When the listing last recorded for each user was read: an answer that took longer than a
   * later one is not recorded over it (the device set would seem to change back and forth). */
  private readonly recordedAt = new Map<string, number>();

  constructor(session: Session, conversations: Conversations, events: Emitter, lookupBatch: number) {
    this.session = session;
    this.lookupBatch = lookupBatch;
    this.conversations = conversations;
    this.events = events;
  }

  /** The safety number with `userId`, read from the directory now (recording any change seen). */
  async safetyNumberWith(userId: string): Promise<ContactSafetyNumber> {
    const me = this.session.me;
    if (userId === me) throw new Error('A safety number is between two people.');
    const sets = await this.read([me, userId]);
    const [low, high] = [me, userId].sort();
    const hashes = await Promise.all([low, high].map((u) => fingerprintHash(u, sets.get(u)!)));
    const digits = hashes.flatMap(digitsOf).join(' ');
    const qr = [QR_PREFIX, FINGERPRINT_VERSION, low, toHex(hashes[0].subarray(0, 32)), high, toHex(hashes[1].subarray(0, 32))].join('/');
    return { userId, digits, qr, verified: await this.isVerified(userId) };
  }

  /**
   * Marks the contact verified over the number the person compared (`digits`, as shown). If the
   * devices changed since it was shown, nothing is marked and this throws: compare the new one.
   */
  async markVerified(userId: string, digits: string): Promise<void> {
    const current = await this.safetyNumberWith(userId);
    if (current.digits.replace(/\s/g, '') !== digits.replace(/\s/g, '')) {
      throw new Error('The safety number changed since it was shown. Compare the new one.');
    }
    const [own, contact] = await Promise.all([this.known(this.session.me), this.known(userId)]);
    const mark: VerifiedMark = { contact: contact!, own: own!, at: new Date().toISOString() };
    await this.session.db.put(VERIFIED_PREFIX + userId, mark);
    this.events.emit('verification', { userId, verified: true });
  }

  async clearVerified(userId: string): Promise<void> {
    await this.session.db.delete(VERIFIED_PREFIX + userId);
    this.events.emit('verification', { userId, verified: false });
  }

  /** Whether the contact is marked verified over the device sets this device knows now. */
  async isVerified(userId: string): Promise<boolean> {
    const mark = await this.session.db.get<VerifiedMark>(VERIFIED_PREFIX + userId);
    if (!mark) return false;
    const [own, contact] = await Promise.all([this.known(this.session.me), this.known(userId)]);
    return mark.contact === contact && mark.own === own;
  }

  /** These users' devices as the directory lists them now, each with a short key fingerprint. */
  async devicesOf(userIds: string[]): Promise<Map<string, DeviceFingerprint[]>> {
    const sets = await this.read(userIds);
    return new Map(await Promise.all([...sets].map(async ([userId, set]) => [
      userId, await Promise.all(set.devices.map(async (d) => ({ id: d.id, label: d.label, fingerprint: await shortFingerprint(d.credential) }))),
    ] as const)));
  }

  /** Reads these users' devices and records any change (a device event named them). */
  async refresh(userIds: string[]): Promise<void> {
    await this.read(userIds);
  }

  /**
   * A listing of this user's devices that another part of the SDK read (the authentication
   * service, judging a credential): the first one seen is the set later ones are compared with,
   * and a later different one is a change (see recordOne). `devices` are those that count: for
   * this user, the ones this device trusts.
   */
  async observe(userId: string, devices: DeviceView[], readAt: number): Promise<void> {
    await this.record(new Map([[userId, await deviceSet(devices)]]), readAt);
  }

  /** This user and everyone they share a conversation with: whose devices are read afresh at each
   * connect (by the authentication service, whose reads this hears of, see `observe`). */
  async contacts(): Promise<string[]> {
    const all = await this.conversations.list();
    const users = new Set([this.session.me]);
    for (const c of all) if (!c.left) for (const m of c.members) users.add(m.userId);
    return [...users];
  }

  /**
   * A removed device of `userId` was let in for what it did while it was theirs (see
   * Authentication.asOf): this device may never have seen it listed, so, once per device, it is
   * a change of their devices like any other: the notice, and the mark drops.
   */
  async notePastDevice(userId: string, deviceId: string): Promise<void> {
    const key = `${PAST_PREFIX}${deviceId}`;
    const run = this.recording.then(async () => {
      if (await this.session.db.get(key)) return;
      await this.drop(userId);
      await this.addNotices(userId);
      await this.session.db.put(key, true);
      this.events.emit('devices-changed', { userId, own: false });
    });
    this.recording = run.catch(() => {});
    return run;
  }

  /** The conversation's notices, oldest first. */
  notices(conversationId: string): Promise<Notice[]> {
    return this.session.db.notices(conversationId);
  }

  /** The directory's device sets for these users, in lookups of at most `lookupBatch` users. */
  private async read(userIds: string[]): Promise<Map<string, DeviceSet>> {
    const unique = [...new Set(userIds)];
    const sets = new Map<string, DeviceSet>();
    for (let i = 0; i < unique.length; i += this.lookupBatch) {
      const batch = unique.slice(i, i + this.lookupBatch);
      const { users } = await this.session.api.lookupDevices(batch);
      const readAt = Date.now();
      const byUser = new Map(users.map((u) => [u.userId, u.devices] as const));
      // A user left out does not exist (any more): no devices. This user's own half is over the
      // devices this one trusts: a device the server lists for them that none of their devices
      // approved is in the contact's half of the number and not in theirs, so comparing shows it.
      for (const userId of batch) {
        const listed = byUser.get(userId) ?? [];
        sets.set(userId, await deviceSet(userId === this.session.me ? await this.session.ownDevices.trustedAmong(listed) : listed));
      }
      await this.record(new Map(batch.map((userId) => [userId, sets.get(userId)!])), readAt);
    }
    return sets;
  }

  private known(userId: string): Promise<string | undefined> {
    return this.session.db.get<string>(KNOWN_PREFIX + userId);
  }

  private record(sets: Map<string, DeviceSet>, readAt: number): Promise<void> {
    const run = this.recording.then(async () => {
      for (const [userId, set] of sets) {
        if (readAt < (this.recordedAt.get(userId) ?? -Infinity)) continue;
        this.recordedAt.set(userId, readAt);
        await this.recordOne(userId, set.setHash);
      }
    });
    this.recording = run.catch(() => {});
    return run;
  }

  private async recordOne(userId: string, setHash: string): Promise<void> {
    const db = this.session.db;
    const known = await this.known(userId);
    if (known === setHash) return;
    const me = this.session.me;
    // The new set is kept last: if anything before fails, the change is noticed again next time.
    if (known !== undefined && userId === me) {
      // This user's half changed: no number compared before still holds.
      for (const key of await db.keysWithPrefix(VERIFIED_PREFIX)) await this.drop(key.slice(VERIFIED_PREFIX.length));
    } else if (known !== undefined) {
      await this.drop(userId);
      await this.addNotices(userId);
    }
    await db.put(KNOWN_PREFIX + userId, setHash);
    // First seen, there is nothing to compare with.
    if (known !== undefined) this.events.emit('devices-changed', { userId, own: userId === me });
  }

  private async drop(userId: string): Promise<void> {
    if (!(await this.session.db.get(VERIFIED_PREFIX + userId))) return;
    await this.session.db.delete(VERIFIED_PREFIX + userId);
    this.events.emit('verification', { userId, verified: false });
  }

  /** "<name>'s devices changed" in every conversation this user has with them. */
  private async addNotices(userId: string): Promise<void> {
    const db = this.session.db;
    const createdAt = new Date().toISOString();
    for (const c of await this.conversations.list()) {
      const member = c.members.find((m) => m.userId === userId);
      if (c.left || !member) continue;
      const processed = (await db.get<number>(`cursor:${c.id}`)) ?? 0;
      const notice: Notice = {
        key: `notice:${c.id}:${createdAt}:${userId}`,
        conversationId: c.id, seq: processed + 0.5, createdAt, kind: 'devices-changed', userId, displayName: member.displayName,
      };
      await db.putNotice(notice);
      this.events.emit('notice', notice);
    }
  }
}
