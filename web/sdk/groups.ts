// Changes to who is in a conversation's MLS group, made by this device: setting a group up (or
// waiting for the Welcome into one another device set up), adding and removing members, adding
// this user's new devices and removing their lost ones. Every change is a commit the server
// orders; one that loses a race to another commit is made again from the newer epoch.
// Every commit this device makes is one the other members will authorize (authorization.ts), adds
// only KeyPackages the authentication service accepts for the device they were claimed for, and
// also takes out the leaves of devices the directory no longer lists, so that the Welcome it
// makes holds only devices a newcomer can check.

import { ApiError, type Conversation } from './api.ts';
import type { Authentication } from './authentication.ts';
import { goneDevice } from './authorization.ts';
import type { Conversations } from './conversations.ts';
import type { Emitter } from './events.ts';
import { departedUsers, signDeparture } from './departures.ts';
import { commitChanges, epochOf, fromBase64, leaves, newGroup, toBase64 } from './mls.ts';
import type { Pipeline } from './pipeline.ts';
import type { Session } from './session.ts';
import { EventError } from './socket.ts';
import type { ClientState } from 'ts-mls';
import type { DepartureView, MemberRole } from './wire/index.ts';

/** What one commit is to do: the KeyPackages of devices to add, the leaves to remove, and the
 * members the server is to add or remove with it. */
interface Step {
  keyPackages: Uint8Array[];
  removeLeaves: number[];
  addUserIds?: string[];
  removeUserIds?: string[];
}

const COMMIT_TRIES = 5;
const CLAIMS_AT_ONCE = 8;
/** How long a device waits before removing another user's removed device, so that user's own
 * devices (who heard first) do it and nobody races them. */
const OTHERS_REMOVE_AFTER_MS = 1_000;
/** How long a device waits for the update commit that comes before a departure (see leave):
 * checks, and the wait between them. */
const DEPARTURE_CHECKS = 20;
const DEPARTURE_CHECK_WAIT_MS = 250;

/** `work` on every item, `size` at a time, results in the items' order. */
async function inBatches<T, R>(items: T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  return out;
}

export class Groups {
  private readonly session: Session;
  private readonly pipeline: Pipeline;
  private readonly conversations: Conversations;
  private readonly events: Emitter;
  private readonly authentication: Authentication;
  /** Conversations this device is leaving: it makes no commit there meanwhile (see leave). */
  private readonly leaving = new Set<string>();
  /** Told whose devices a commit of this device is about to add (see `claimFor`). */
  private readonly onDevicesUsed: (userIds: string[]) => void;

  constructor(
    session: Session, pipeline: Pipeline, conversations: Conversations, events: Emitter, authentication: Authentication,
    onDevicesUsed: (userIds: string[]) => void,
  ) {
    this.onDevicesUsed = onDevicesUsed;
    this.session = session;
    this.pipeline = pipeline;
    this.conversations = conversations;
    this.events = events;
    this.authentication = authentication;
  }

  /** Opens (creating if needed) the 1:1 conversation with a user, ready to send. */
  async openDirect(userId: string): Promise<Conversation> {
    const conversation = await this.session.api.conversation(userId);
    const known = await this.conversations.people(conversation.id);
    const people = [this.session.me, userId];
    if (known && (known.kind !== 'direct' || !people.every((p) => known.userIds.includes(p)))) {
      throw new Error('The server gave a conversation with someone else for this 1:1.');
    }
    this.conversations.remember(conversation);
    await this.conversations.knowPeople(conversation.id, 'direct', people);
    await this.ensureGroup(conversation, people);
    return conversation;
  }

  /** Creates a group with these users and sets up its encryption. */
  async createGroup(title: string, memberIds: string[]): Promise<Conversation> {
    const conversation = await this.session.api.createGroup(title, memberIds);
    const people = [this.session.me, ...memberIds];
    this.conversations.remember(conversation);
    await this.conversations.knowPeople(conversation.id, 'group', people);
    await this.ensureGroup(conversation, people);
    return conversation;
  }

  /**
   * Makes sure this device is in the conversation's MLS group: at epoch 0 nobody has made it yet,
   * so this device does, adding the devices of `people` (whom its user chose, not whom the server
   * lists); if another device won that race, or the group exists, this device waits for its Welcome.
   */
  private async ensureGroup(conversation: Conversation, people: string[]): Promise<void> {
    if (this.pipeline.groups.has(conversation.id)) return;
    await this.pipeline.cursorOf(conversation.id);
    if (conversation.epoch === 0) {
      const state = await newGroup(conversation.id, this.session.identity);
      const keyPackages = await this.claimFor(people);
      try {
        await this.sendCommit(conversation.id, state, { keyPackages, removeLeaves: [] });
        return;
      } catch (e) {
        if (!(e instanceof EventError && e.code === 'stale_epoch')) throw e;
      }
    }
    await this.pipeline.waitFor(() => this.pipeline.groups.has(conversation.id), `the Welcome to ${conversation.id}`);
  }

  /**
   * One KeyPackage for every device of these users except this one. Each must be the one the
   * authentication service accepts for the user and device the server handed it out for; any
   * other (a device the directory does not list, a key it does not list for that device, a
   * credential naming someone else) is left out.
   */
  private async claimFor(userIds: string[], deviceIds?: string[]): Promise<Uint8Array[]> {
    // The directory for all of them in one request, and a few claims side by side: a big group
    // waits for a few rounds, not one per member, and the server (a database connection per
    // request) is not asked for them all at once.
    await this.authentication.prefetch(userIds);
    const claimed = await inBatches(userIds, CLAIMS_AT_ONCE, async (userId) => {
      const { keyPackages } = await this.session.api.claimKeyPackages(userId, deviceIds);
      const accepted: Uint8Array[] = [];
      for (const kp of keyPackages) {
        if (kp.deviceId === this.session.deviceId) continue;
        const bytes = fromBase64(kp.keyPackage);
        if (await this.authentication.acceptsClaimed(bytes, userId, kp.deviceId)) accepted.push(bytes);
      }
      return accepted;
    });
    // The devices a group gets for these people are the directory's: if they are not the ones
    // this device knew, the safety numbers with them changed, and their conversations say so.
    this.onDevicesUsed(userIds);
    return claimed.flat();
  }

  /**
   * Sends a commit made from `state` (the group as this device has it, or a new group at epoch
   * 0) and, once the server has ordered it, queues the new state to take effect at its seq.
   * Rejects with EventError `stale_epoch` if another commit got there first.
   */
  private async sendCommit(conversationId: string, state: ClientState, step: Step): Promise<void> {
    const made = await commitChanges(state, step.keyPackages, step.removeLeaves, this.authentication);
    // Expected before it is sent: if the ack is lost, the commit still comes back through sync.
    const own = this.pipeline.expectOwnCommit(conversationId, made.commit, made.state);
    let stored;
    try {
      stored = await this.session.socket!.requestStored({
        type: 'commit', conversationId, epoch: epochOf(state), clientMsgId: crypto.randomUUID(),
        commit: toBase64(made.commit), welcome: made.welcome ? toBase64(made.welcome) : undefined,
        addUserIds: step.addUserIds, removeUserIds: step.removeUserIds,
      });
    } catch (e) {
      if (e instanceof EventError && e.code === 'stale_epoch') this.pipeline.forgetOwnCommit(own);
      throw e;
    }
    const { message: commit, welcome } = stored;
    if (epochOf(state) === 0 && !this.pipeline.groups.has(conversationId)) {
      // The group starts with this commit: adopt it at once, and start reading after it.
      this.pipeline.forgetOwnCommit(own);
      await this.pipeline.adopt(conversationId, made.state, welcome?.seq ?? commit.seq);
      this.events.emit('conversation', { conversationId, change: 'joined' });
    } else {
      this.pipeline.ingest(commit);
      if (welcome) this.pipeline.ingest(welcome);
    }
    await this.pipeline.waitForEpoch(conversationId, commit.epoch + 1);
  }

  /**
   * Runs a change as a commit, retrying from the newer epoch when another commit wins the race.
   * `plan` looks at the current group and says what to do, or null if nothing is left to do.
   */
  private async change(conversationId: string, plan: (state: ClientState) => Promise<Step | null>): Promise<void> {
    for (let attempt = 0; attempt < COMMIT_TRIES; attempt += 1) {
      await this.pipeline.settled(conversationId);
      // A commit of this device would change its leaf's key, and so void the departure it has
      // signed and is handing the server (see leave).
      if (this.leaving.has(conversationId)) throw new Error('This device is leaving that conversation.');
      const state = this.pipeline.groups.get(conversationId);
      if (!state) throw new Error('This device is not in that conversation.');
      const planned = await plan(state);
      if (!planned) return;
      const step = await this.withDepartedWhole(conversationId, state, {
        ...planned, removeLeaves: await this.withUnlisted(conversationId, state, planned.removeLeaves),
      });
      try {
        await this.sendCommit(conversationId, state, step);
        return;
      } catch (e) {
        if (!(e instanceof EventError && e.code === 'stale_epoch' && e.currentEpoch !== undefined)) throw e;
        await this.pipeline.waitForEpoch(conversationId, e.currentEpoch);
      }
    }
    throw new Error(`Could not get a commit in after ${COMMIT_TRIES} tries; the group is very busy.`);
  }

  /**
   * A step that removes some leaves of someone who left takes out all of theirs, declared, on the
   * strength of their departure while the leaf it names is still there: otherwise, once that leaf
   * went (their phone, signed out after leaving, removed as unlisted), their departure would
   * verify against nothing and their other devices would stay in the group for good.
   */
  private async withDepartedWhole(conversationId: string, state: ClientState, step: Step): Promise<Step> {
    const all = leaves(state);
    const touched = new Set(all.filter((l) => step.removeLeaves.includes(l.leafIndex)).map((l) => l.userId));
    if (touched.size === 0) return step;
    const listed = this.conversations.get(conversationId);
    const pending = (listed?.departures ?? []).filter((d) => touched.has(d.userId));
    if (!listed || pending.length === 0) return step;
    const members = new Set(listed.members.map((m) => m.userId));
    const users = [...(await departedUsers(conversationId, pending, all))].filter((u) => !members.has(u) && u !== this.session.me);
    if (users.length === 0) return step;
    return {
      ...step,
      removeLeaves: [...new Set([...step.removeLeaves, ...all.filter((l) => users.includes(l.userId)).map((l) => l.leafIndex)])],
      removeUserIds: [...new Set([...(step.removeUserIds ?? []), ...users])],
    };
  }

  /**
   * The users with a device in the group that still counts: a member whose every leaf is of a
   * device the directory no longer lists (all lost, replaced by a reset) is missing, to be
   * brought back with the devices they have now.
   */
  private async presentUsers(state: ClientState): Promise<Set<string>> {
    const all = leaves(state);
    const gone = new Set((await this.authentication.unlisted(all, { fresh: false })).map((l) => l.leafIndex));
    return new Set(all.filter((l) => !gone.has(l.leafIndex)).map((l) => l.userId));
  }

  private async withUnlisted(conversationId: string, state: ClientState, removeLeaves: number[]): Promise<number[]> {
    const own = toBase64(this.session.identity.publicKey);
    const others = leaves(state).filter((l) => toBase64(l.signaturePublicKey) !== own && !removeLeaves.includes(l.leafIndex));
    const unlisted = await this.authentication.unlisted(others);
    if (unlisted.length === 0) return removeLeaves;
    const members = new Set((await this.conversations.current(conversationId))?.members.map((m) => m.userId) ?? []);
    const evidence = { hasListedDevices: (userId: string) => this.authentication.hasListedDevices(userId), isMember: (userId: string) => members.has(userId) };
    return [...removeLeaves, ...unlisted.filter((leaf) => goneDevice(leaf, evidence)).map((l) => l.leafIndex)];
  }

  async addMembers(conversationId: string, userIds: string[]): Promise<void> {
    await this.conversations.knowPeople(conversationId, 'group', userIds);
    await this.change(conversationId, async (state) => {
      const members = new Set((await this.session.api.conversation(conversationId)).members.map((m) => m.userId));
      const adding = userIds.filter((u) => !members.has(u));
      if (adding.length === 0) return null;
      // Someone who left and whose removal nobody committed yet still has leaves: they come back
      // with the devices they have now, in place of those.
      const stale = leaves(state).filter((l) => adding.includes(l.userId)).map((l) => l.leafIndex);
      return { keyPackages: await this.claimFor(adding), removeLeaves: stale, addUserIds: adding };
    });
  }

  /**
   * This user leaves the group, for all their devices. This device first commits an update of its
   * own leaf (an empty commit, which gives it a key no KeyPackage ever held, and waits for its own
   * commits in flight), then signs its departure over that leaf (see departures.ts); the server
   * drops the membership, and a member who stays commits the removal of every leaf of this user.
   * Signed over a leaf from a KeyPackage, a departure could be replayed after this user is added
   * back with the same KeyPackage (a last-resort one is used again and again). This device stops
   * taking part at once; what it read stays readable. Only for a group: a 1:1 has its two people.
   */
  async leave(conversationId: string): Promise<void> {
    const { session } = this;
    if (this.conversations.get(conversationId)?.kind === 'direct' || (await this.conversations.people(conversationId))?.kind === 'direct') {
      throw new Error('A 1:1 conversation cannot be left.');
    }
    await this.change(conversationId, async () => ({ keyPackages: [], removeLeaves: [] }));
    this.leaving.add(conversationId);
    try {
      await this.pipeline.settled(conversationId);
      const group = this.pipeline.groups.get(conversationId);
      const key = toBase64(session.identity.publicKey);
      const own = group && leaves(group).find((l) => toBase64(l.signaturePublicKey) === key);
      if (!own) throw new Error('This device is not in the group yet; try again once it has joined.');
      const signature = await signDeparture(session.identity, conversationId, own);
      let departure;
      try {
        departure = await session.api.leaveGroup(conversationId, toBase64(signature));
      } catch (e) {
        // The server may hold the departure anyway, to use whenever it likes: another update of
        // this leaf voids it. Best effort; the leave failed either way.
        this.leaving.delete(conversationId);
        await this.change(conversationId, async () => ({ keyPackages: [], removeLeaves: [] })).catch(() => {});
        throw e;
      }
      await this.stopTakingPart(conversationId, departure.leftAt, { self: true });
    } finally {
      this.leaving.delete(conversationId);
    }
  }

  /**
   * The server says this user left the conversation from another of their devices: believed only
   * if the departure verifies against that device's leaf in this device's group (waiting a moment
   * for the update commit that precedes it, see leave); otherwise it is not this user's word, and
   * nothing changes.
   */
  async leftElsewhere(conversationId: string, departure: DepartureView): Promise<void> {
    const me = this.session.me;
    if (departure.userId !== me) return;
    const verified = await this.untilDepartureVerifies(conversationId, async (group) => (await departedUsers(conversationId, [departure], leaves(group))).has(me));
    if (verified) await this.stopTakingPart(conversationId, departure.leftAt, { self: true });
  }

  /**
   * The leaver's update commit comes before their departure, but not always before the
   * `member-left` that tells of it (the two travel different ways): until this device has applied
   * it, a departure names a key its group does not hold yet. So this looks, in the group as this
   * device holds it once settled, up to DEPARTURE_CHECKS times a moment apart (once with `once`),
   * until `holds` says yes, and returns the group it held in. Null if it never did, or once the
   * group is gone (this device left it, or never joined).
   */
  private async untilDepartureVerifies(conversationId: string, holds: (group: ClientState) => Promise<boolean>, { once = false } = {}): Promise<ClientState | null> {
    for (let check = 0; check < (once ? 1 : DEPARTURE_CHECKS); check += 1) {
      if (check > 0) await new Promise((resolve) => setTimeout(resolve, DEPARTURE_CHECK_WAIT_MS));
      await this.pipeline.settled(conversationId);
      const group = this.pipeline.groups.get(conversationId);
      if (!group) return null;
      if (await holds(group)) return group;
    }
    return null;
  }

  /** This user is no longer in the conversation (left it, on this device or another of theirs,
   * with `self`; or, as the server says, removed while this device was away): forget its group. */
  async stopTakingPart(conversationId: string, at: string, { self }: { self: boolean }): Promise<void> {
    const group = this.pipeline.groups.get(conversationId);
    // A Welcome back must be to a later epoch than the one this device left at (see tryJoin).
    if (group) await this.conversations.noteLeftAtEpoch(conversationId, epochOf(group));
    await this.pipeline.drop(conversationId);
    const seq = this.conversations.get(conversationId)?.lastSeq ?? 0;
    await this.conversations.markLeft(conversationId, seq, at, { self });
    this.events.emit('conversation', { conversationId, change: self ? 'left' : 'removed' });
  }

  /**
   * Commits the removal of the people who left a group, on the strength of their departures
   * (`departures`, or as the server lists them now). Only those whose departure verifies against
   * their leaf in this device's group are removed; a departure this device cannot check is left to
   * someone else. With something to remove, owners and admins go at once, everyone else a moment
   * later (unless `now`), so that usually one device commits and the others find nothing to do.
   */
  async removeDeparted(conversationId: string, departures?: DepartureView[], { role, now = false }: { role?: MemberRole; now?: boolean } = {}): Promise<void> {
    // Read once for the looks below; the commit reads the members again.
    const listed = departures ?? (await this.session.api.conversation(conversationId)).departures;
    const toRemove = async (state: ClientState) => {
      const departed = await departedUsers(conversationId, listed, leaves(state));
      if (departed.size === 0) return [];
      // Someone added back since is a member again: their departure is spent.
      const members = new Set((await this.conversations.current(conversationId))?.members.map((m) => m.userId) ?? []);
      return [...departed].filter((u) => u !== this.session.me && !members.has(u));
    };
    // Looked for a while (see untilDepartureVerifies), unless `now`: a message waits on it.
    const verified = (group: ClientState) => departedUsers(conversationId, listed, leaves(group)).then((users) => users.size > 0);
    const group = await this.untilDepartureVerifies(conversationId, verified, { once: now });
    if (!group || (await toRemove(group)).length === 0) return;
    role ??= this.conversations.get(conversationId)?.members.find((m) => m.userId === this.session.me)?.role;
    if (!now && role !== 'owner' && role !== 'admin') {
      await new Promise((resolve) => setTimeout(resolve, OTHERS_REMOVE_AFTER_MS * (1 + 2 * Math.random())));
    }
    await this.change(conversationId, async (current) => {
      const users = await toRemove(current);
      if (users.length === 0) return null;
      return { keyPackages: [], removeLeaves: leaves(current).filter((l) => users.includes(l.userId)).map((l) => l.leafIndex), removeUserIds: users };
    });
  }

  /**
   * Before a message goes out in a group: people who left and still have leaves are removed first,
   * at once, so that nothing said after they left is encrypted to their devices. Reads no more than
   * the listing this device holds; a removal that cannot be made does not stop the message.
   */
  async removeDepartedBeforeSending(conversationId: string): Promise<void> {
    const listed = this.conversations.get(conversationId);
    const state = this.pipeline.groups.get(conversationId);
    if (!listed?.departures?.length || listed.kind !== 'group' || !state) return;
    const members = new Set(listed.members.map((m) => m.userId));
    const stale = leaves(state).some((l) => !members.has(l.userId) && listed.departures.some((d) => d.userId === l.userId));
    if (stale) await this.removeDeparted(conversationId, listed.departures, { now: true }).catch(() => {});
  }

  async removeMembers(conversationId: string, userIds: string[]): Promise<void> {
    await this.change(conversationId, async (state) => {
      // Committed even when they have no device in the group (none yet): the server takes them
      // off the member list only with a commit, and a member it still lists would be healed back.
      const doomed = leaves(state).filter((l) => userIds.includes(l.userId)).map((l) => l.leafIndex);
      return { keyPackages: [], removeLeaves: doomed, removeUserIds: userIds };
    });
    await this.conversations.knowPeople(conversationId, 'group', userIds, { without: true });
  }

  /**
   * Adds a new device of this user to every group this device is in. A device announces itself
   * before its KeyPackages are uploaded, so a claim that finds none yet is retried for a while.
   */
  async addOwnDevice(deviceId: string): Promise<void> {
    const { session } = this;
    if (deviceId === session.deviceId) return;
    const { devices } = await session.api.devicesOf(session.me);
    // Only a device approved by one this device trusts is this user's (see linking.ts).
    const device = (await session.ownDevices.trustedAmong(devices)).find((d) => d.id === deviceId);
    if (!device) return;
    for (const conversationId of [...this.pipeline.groups.keys()]) {
      // One group that refuses (left meanwhile, very busy) does not keep the device out of the others.
      await this.change(conversationId, async (state) => {
        if (leaves(state).some((l) => toBase64(l.signaturePublicKey) === device.credential)) return null;
        for (let attempt = 0; attempt < 20; attempt += 1) {
          const keyPackages = await this.claimFor([session.me], [deviceId]);
          if (keyPackages.length) return { keyPackages, removeLeaves: [] };
          await new Promise((r) => setTimeout(r, 250));
        }
        return null;
      }).catch(() => {});
    }
  }

  /**
   * Adds members who have no device in a group's MLS tree, e.g. because they had no device yet
   * when it was set up. Done by the group's owners and admins (in a 1:1, by either person) so that
   * one device, not every member, spends the newcomer's KeyPackages; the member list is read fresh
   * so nobody removed is brought back, and only people this device knows belong are brought in
   * (a server that pads the member list gets no one added by this device).
   */
  async healGroups(): Promise<void> {
    const all = await this.conversations.list();
    const current = new Set(all.filter((c) => !c.left).map((c) => c.id));
    // A group this device holds that the server no longer lists it in: its user left it from
    // another device, or was removed, while this one was away, and nothing more of it comes here.
    for (const conversationId of [...this.pipeline.groups.keys()]) {
      if (!current.has(conversationId)) await this.checkStillIn(conversationId).catch(() => {});
    }
    // One conversation that cannot be healed (refused, busy) does not stop the others.
    for (const listed of all) await this.heal(listed).catch(() => {});
  }

  private async checkStillIn(conversationId: string): Promise<void> {
    try {
      await this.session.api.conversation(conversationId);
    } catch (e) {
      // The server's word, which is all there is: it routes this user nothing of it either way.
      if (e instanceof ApiError && (e.status === 403 || e.status === 404)) {
        await this.stopTakingPart(conversationId, new Date().toISOString(), { self: false });
      }
    }
  }

  private async heal(listed: Conversation): Promise<void> {
    if (!this.pipeline.groups.has(listed.id)) return;
    const role = listed.members.find((m) => m.userId === this.session.me)?.role;
    // People who left while this device was away, whose removal nobody committed yet.
    if (listed.departures?.length) void this.removeDeparted(listed.id, listed.departures, { role }).catch(() => {});
    if (listed.kind === 'group' && role !== 'owner' && role !== 'admin') return;
    const inTree = await this.presentUsers(this.pipeline.groups.get(listed.id)!);
    if (listed.members.every((m) => inTree.has(m.userId))) return; // the common case: nothing to do
    const known = new Set((await this.conversations.people(listed.id))?.userIds ?? []);
    await this.change(listed.id, async (state) => {
      const current = await this.session.api.conversation(listed.id);
      const present = await this.presentUsers(state);
      const missing = current.members.map((m) => m.userId).filter((u) => !present.has(u) && known.has(u));
      if (missing.length === 0) return null;
      const keyPackages = await this.claimFor(missing);
      if (keyPackages.length === 0) return null;
      // In a group the commit declares whom it brings in (already members: the server's list is
      // unchanged), as every client checks; a 1:1 takes no declarations. The leaves of their
      // devices that are gone (a reset's old phone) leave in the same commit.
      const declared = listed.kind === 'group' ? { addUserIds: missing } : {};
      return { keyPackages, removeLeaves: await this.withUnlisted(listed.id, state, []), ...declared };
    });
  }

  /**
   * Removes, from every group this device is in, the leaves of devices the directory no longer
   * lists (a lost phone, a signed-out browser). Every member device does this when it hears of a
   * removal and each time it connects, so a removed device's keys leave its groups even when its
   * owner has no other device online; the owner's devices go first, the others a moment later
   * (by then there is usually nothing left to do). The directory is read once for everyone in
   * these groups; each commit checks its group afresh.
   */
  async removeUnlistedDevices({ fresh = true } = {}): Promise<void> {
    const own = toBase64(this.session.identity.publicKey);
    const others = (state: ClientState) => leaves(state).filter((l) => toBase64(l.signaturePublicKey) !== own);
    const groups = [...this.pipeline.groups.entries()];
    if (!(await this.authentication.prefetch(groups.flatMap(([, state]) => others(state).map((l) => l.userId)), { fresh }))) return;
    let waited = false;
    for (const [conversationId, state] of groups) {
      const gone = await this.authentication.unlisted(others(state), { fresh: false });
      if (gone.length === 0) continue;
      if (!waited && gone.every((l) => l.userId !== this.session.me)) {
        await new Promise((resolve) => setTimeout(resolve, OTHERS_REMOVE_AFTER_MS));
        waited = true;
      }
      await this.change(conversationId, async (current) => {
        const removed = await this.withUnlisted(conversationId, current, []);
        return removed.length ? { keyPackages: [], removeLeaves: removed } : null;
      }).catch(() => {}); // one group that refuses does not stop the others
    }
  }
}
