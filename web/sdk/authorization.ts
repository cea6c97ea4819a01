// Who may change a conversation's MLS group. Every client judges every commit before applying
// it, against the committer's role as the server lists the conversation's members:
// - owners and admins may add and remove anyone;
// - a plain member may add only leaves of its own user (its new devices) and, in a 1:1, of the
//   other person (who is always in it: either may bring the other's devices in), and may remove
//   only leaves of its own user (leaving, its own devices) and leaves of devices the directory no
//   longer lists (a removed device, which anyone may clean up);
// - nobody may make any other proposal (updates, PSKs, re-init, extensions): this app never does.
// A commit that breaks these is refused, shown as a problem, and the group is left as it was.

import type { Authentication } from './authentication.ts';
import type { Conversations } from './conversations.ts';
import { MlsFailure, type CommitChange, type Leaf } from './mls.ts';
import type { ConversationKind, MemberRole } from './wire/index.ts';

export interface CommitContext {
  kind: ConversationKind;
  /** A user's role in the conversation; undefined if not a member. */
  roleOf: (userId: string) => MemberRole | undefined;
  /** Whether the directory no longer lists a removed leaf's device. */
  unlisted: (leaf: Leaf) => boolean;
}

/** Why `change` may not be made, or null if it may. */
export function refusal(change: CommitChange, context: CommitContext): string | null {
  if (change.other.length > 0) return `it makes proposals this app never makes (${change.other.join(', ')})`;
  const by = change.committer.userId;
  const role = context.roleOf(by);
  if (!role) return 'its committer is not a member of the conversation';
  if (role === 'owner' || role === 'admin') return null;
  const mayAdd = (leaf: Leaf) => leaf.userId === by || (context.kind === 'direct' && context.roleOf(leaf.userId) !== undefined);
  if (!change.added.every(mayAdd)) return 'a member may add only their own devices';
  const mayRemove = (leaf: Leaf) => leaf.userId === by || context.unlisted(leaf);
  if (!change.removed.every(mayRemove)) return 'a member may remove only themselves, their own devices and removed devices';
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
  async authorize(conversationId: string, change: CommitChange): Promise<void> {
    const conversation = await this.conversations.current(conversationId);
    const roles = new Map((conversation?.members ?? []).map((m) => [m.userId, m.role]));
    // Only the removals a plain member could not make otherwise need the directory, asked afresh.
    const others = change.removed.filter((l) => l.userId !== change.committer.userId);
    const unlisted = new Set((others.length ? await this.authentication.unlisted(others) : []).map((l) => l.leafIndex));
    const why = refusal(change, {
      kind: conversation?.kind ?? 'group',
      roleOf: (userId) => roles.get(userId),
      unlisted: (leaf) => unlisted.has(leaf.leafIndex),
    });
    if (why) throw new MlsFailure('unauthorized_commit', `The commit was refused: ${why}.`);
  }
}
