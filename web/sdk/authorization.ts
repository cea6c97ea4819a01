// Who may change a conversation's MLS group. Every client judges every commit before applying
// it, against the committer's role as the server lists it (the role it had when the server
// ordered the commit, which the server keeps with it; for older commits, the role now):
// - owners and admins may add and remove anyone;
// - a plain member may add only leaves of its own user (its new devices), and may remove only
//   leaves of its own user (its own devices), leaves of devices that are gone (see `goneDevice`),
//   which anyone may clean up, and the leaves of someone who left, declared removed, with their
//   departure that the commit carries (see departures.ts);
// - in a 1:1, whatever the roles say, only the two people this device knows are in it (see
//   KnownPeople in conversations.ts) may have leaves: either may bring the other's devices in;
// - in a group, the people a commit brings in and takes out entirely must be those it declared to
//   the server (which changed the member list by exactly those), and those it declared removed
//   must have no leaf left;
// - nobody may make any other proposal (updates, PSKs, re-init, extensions): this app never does.
// A commit that breaks these is refused, shown as a problem, and the group is left as it was.

import type { Authentication } from './authentication.ts';
import type { Conversations } from './conversations.ts';
import { MlsFailure, type CommitChange, type Leaf } from './mls.ts';
import { departedUsers } from './departures.ts';
import type { ConversationKind, DepartureView, MemberRole } from './wire/index.ts';

export interface CommitContext {
  kind: ConversationKind;
  /** A user's role in the conversation; undefined if not a member. */
  roleOf: (userId: string) => MemberRole | undefined;
  /** Whether a removed leaf's device is gone (see `goneDevice`). */
  unlisted: (leaf: Leaf) => boolean;
  /** In a 1:1, the two people this device knows are in it. */
  direct?: string[];
  /** The users the commit declared to the server that it adds, when the server kept that. */
  declaredAdds?: string[];
  /** The users it declared it removes (the server took them off the member list). */
  declaredRemoves?: string[];
  /** The users it removes whose departure, carried by the commit, verifies (see departures.ts). */
  departed?: ReadonlySet<string>;
}

/**
 * Whether a leaf whose device the directory no longer lists may be removed by anyone: only on
 * evidence that the device, not its user, is gone (the user still has a listed device), or that
 * the user is no longer a member. A member the server merely leaves out of an answer is not
 * evicted that way; removing a member takes an owner's or admin's commit.
 */
export function goneDevice(leaf: Leaf, { hasListedDevices, isMember }: { hasListedDevices: (userId: string) => boolean; isMember: (userId: string) => boolean }): boolean {
  return hasListedDevices(leaf.userId) || !isMember(leaf.userId);
}

/** Why `change` may not be made, or null if it may. */
export function refusal(change: CommitChange, context: CommitContext): string | null {
  if (change.other.length > 0) return `it makes proposals this app never makes (${change.other.join(', ')})`;
  const by = change.committer.userId;
  const role = context.roleOf(by);
  if (!role) return 'its committer is not a member of the conversation';
  if (context.direct) {
    if (!change.added.every((leaf) => context.direct!.includes(leaf.userId))) return 'it adds someone else to a 1:1';
    if (!change.removed.every((leaf) => leaf.userId === by || context.unlisted(leaf))) return 'it removes a device of the other person that is not gone';
    return null;
  }
  if (context.declaredAdds) {
    // Whoever commits, the people it brings into the group must be those it told the server it
    // adds (and so those the member list gained); its own user's new devices need no word.
    const brought = change.added.filter((leaf) => leaf.userId !== by && !change.usersBefore.includes(leaf.userId));
    if (!brought.every((leaf) => context.declaredAdds!.includes(leaf.userId))) return 'it brings in someone it did not declare as added';
  }
  if (context.declaredRemoves) {
    // Someone the member list lost must leave the tree with this commit: otherwise a person every
    // screen shows as removed would go on reading.
    const declared = context.declaredRemoves;
    if (declared.some((userId) => change.usersAfter.includes(userId))) return 'it declares removing someone whose devices it keeps in the group';
    // And whoever it takes out entirely, it declared, unless every leaf it removes of theirs is
    // of a device that is gone (an account deleted meanwhile).
    const leaving = change.usersBefore.filter((userId) => !change.usersAfter.includes(userId) && !declared.includes(userId));
    if (leaving.some((userId) => !change.removed.filter((l) => l.userId === userId).every((l) => context.unlisted(l)))) {
      return 'it removes someone it did not declare as removed';
    }
  }
  if (role === 'owner' || role === 'admin') return null;
  const mayAdd = (leaf: Leaf) => leaf.userId === by;
  if (!change.added.every(mayAdd)) return 'a member may add only their own devices';
  const left = (userId: string) => !!context.departed?.has(userId) && !!context.declaredRemoves?.includes(userId);
  const mayRemove = (leaf: Leaf) => leaf.userId === by || context.unlisted(leaf) || left(leaf.userId);
  if (!change.removed.every(mayRemove)) return 'a member may remove only their own devices, removed devices and people who left';
  return null;
}

export class CommitAuthorizer {
  private readonly conversations: Conversations;
  private readonly authentication: Authentication;

  constructor(conversations: Conversations, authentication: Authentication) {
    this.conversations = conversations;
    this.authentication = authentication;
  }

  /** Resolves if `change` may be made in the conversation; throws MlsFailure `unauthorized_commit` if not. */
  /** `declared`: what the commit told the server it adds and removes, as the server delivered it
   * (absent for commits from before the server kept that), and the departures it carries. */
  async authorize(
    conversationId: string, change: CommitChange,
    declared: { adds?: string[]; removes?: string[]; departures?: DepartureView[]; senderRole?: MemberRole } = {},
  ): Promise<void> {
    const conversation = await this.conversations.current(conversationId);
    const known = await this.conversations.people(conversationId);
    const roles = new Map((conversation?.members ?? []).map((m) => [m.userId, m.role]));
    // Only the removals a plain member could not make otherwise need the directory, asked afresh.
    const others = change.removed.filter((l) => l.userId !== change.committer.userId);
    const unlisted = new Set((others.length ? await this.authentication.unlisted(others) : []).map((l) => l.leafIndex));
    const evidence = { hasListedDevices: (userId: string) => this.authentication.hasListedDevices(userId), isMember: (userId: string) => roles.has(userId) };
    const direct = known?.kind === 'direct' || conversation?.kind === 'direct';
    const why = refusal(change, {
      kind: direct ? 'direct' : 'group',
      // The committer as it was when the server ordered the commit: one who catches up reads it
      // after its committer may have left. Everyone else as listed now (whose removal, say).
      roleOf: (userId) => (userId === change.committer.userId && declared.senderRole) || roles.get(userId),
      unlisted: (leaf) => unlisted.has(leaf.leafIndex) && goneDevice(leaf, evidence),
      // A 1:1 this device has no record of (set up before it kept one) takes the server's two.
      direct: direct ? known?.userIds ?? [...roles.keys()] : undefined,
      declaredAdds: declared.adds,
      declaredRemoves: declared.removes,
      // Checked against the leaves the commit removes: a departure counts only for a leaf that goes.
      departed: declared.departures?.length ? await departedUsers(conversationId, declared.departures, change.removed) : undefined,
    });
    if (why) throw new MlsFailure('unauthorized_commit', `The commit was refused: ${why}.`);
  }
}
