// The conversations this user is in, as the server last listed them, and the ones this user was
// removed from, which this device keeps showing (see Conversation.left).

import { ApiError, type Conversation } from './api.ts';
import { CheckUnavailable } from './credentials.ts';
import type { Session } from './session.ts';
import type { DepartureView } from './wire/index.ts';

/** Where the store keeps conversations this user was removed from. */
const LEFT_PREFIX = 'left:';
/** Where the store keeps the last listing of conversations, to show while the server is out of reach. */
const LISTED_KEY = 'conversations';
/** Where the store keeps the epoch this device was removed from a conversation's group at. */
const LEFT_EPOCH_PREFIX = 'left-epoch:';
/** Where the store keeps, per conversation, the users this device knows belong in its group. */
const PEOPLE_PREFIX = 'people:';

/**
 * Who this device knows belongs in a conversation's group, from what its user did or saw, never
 * from the server's member list alone (which a hostile server could pad with a reader of its
 * own): the other person of a 1:1 (chosen when it was opened, or the one other person in the
 * Welcome that brought this device in), or the people this device put in a group. A 1:1 never
 * takes anyone else; a group's owners and admins may add others through commits, but this
 * device only ever brings in the people it knows of.
 */
export interface KnownPeople {
  kind: 'direct' | 'group';
  userIds: string[];
}

/** How a conversation is named on screen (and in its notifications): a group by its title, a 1:1
 * by the other person. */
export function conversationTitle(conversation: Pick<Conversation, 'kind' | 'title' | 'members'>, me: string): string {
  if (conversation.kind === 'group') return conversation.title ?? 'Group';
  return conversation.members.find((m) => m.userId !== me)?.displayName ?? 'Conversation';
}

export class Conversations {
  /** The conversations last listed, so one this user is removed from can still be shown. */
  private readonly known = new Map<string, Conversation>();
  private readonly session: Session;

  constructor(session: Session) {
    this.session = session;
  }

  get(conversationId: string): Conversation | undefined {
    return this.known.get(conversationId);
  }

  remember(conversation: Conversation): void {
    this.known.set(conversation.id, conversation);
  }

  /** The epoch this device was removed from a conversation's group at: a Welcome back into it
   * must be to a later epoch, or it is an old one replayed (to roll this device back to keys that
   * devices removed since still hold). */
  async leftAtEpoch(conversationId: string): Promise<number | undefined> {
    return this.session.db.get<number>(LEFT_EPOCH_PREFIX + conversationId);
  }

  async noteLeftAtEpoch(conversationId: string, epoch: number): Promise<void> {
    await this.session.db.put(LEFT_EPOCH_PREFIX + conversationId, epoch);
  }

  async people(conversationId: string): Promise<KnownPeople | undefined> {
    return this.session.db.get<KnownPeople>(PEOPLE_PREFIX + conversationId);
  }

  /** Records who belongs; for a group, adds to (or with `without`, takes from) what was known. */
  async knowPeople(conversationId: string, kind: KnownPeople['kind'], userIds: string[], { without = false } = {}): Promise<void> {
    const known = new Set((await this.people(conversationId))?.userIds ?? []);
    for (const userId of userIds) {
      if (without) known.delete(userId);
      else known.add(userId);
    }
    await this.session.db.put(PEOPLE_PREFIX + conversationId, { kind, userIds: [...known] } satisfies KnownPeople);
  }

  /**
   * The conversation as the server lists it now (its members and their roles, to judge a commit
   * by). Once this user is no longer a member the server will not say: then as it was last
   * listed here, or undefined. A server out of reach throws CheckUnavailable, to try again later.
   */
  async current(conversationId: string): Promise<Conversation | undefined> {
    try {
      const conversation = await this.session.api.conversation(conversationId);
      this.remember(conversation);
      return conversation;
    } catch (e) {
      if (!(e instanceof ApiError) || (e.status !== 403 && e.status !== 404)) {
        throw new CheckUnavailable(`The conversation could not be read (${(e as Error).message}).`);
      }
      const listed = await this.session.db.get<Conversation[]>(LISTED_KEY);
      return this.known.get(conversationId) ?? listed?.find((c) => c.id === conversationId);
    }
  }

  /**
   * The conversations this user is in, as the server lists them; while it is out of reach, as it
   * last listed them, so that history stays reachable offline.
   */
  async list(): Promise<Conversation[]> {
    let all: Conversation[];
    try {
      all = await this.listFromServer();
      await this.session.db.put(LISTED_KEY, all);
    } catch (e) {
      const listed = e instanceof ApiError && e.unavailable ? await this.session.db.get<Conversation[]>(LISTED_KEY) : undefined;
      if (!listed) throw e;
      all = listed;
    }
    for (const c of all) this.remember(c);
    const current = new Set(all.map((c) => c.id));
    const left = await this.session.db.withPrefix<Conversation>(LEFT_PREFIX);
    return [...all, ...left.filter((c) => !current.has(c.id))];
  }

  private async listFromServer(): Promise<Conversation[]> {
    const all: Conversation[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.session.api.conversations(cursor);
      all.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return all;
  }

  /** This user was removed from the conversation (by the commit at `seq`, made at `at`), or with
   * `self`, left it. */
  async markLeft(conversationId: string, seq: number, at: string, { self = false } = {}): Promise<void> {
    const last: Conversation = this.known.get(conversationId)
      ?? { id: conversationId, kind: 'group', title: null, createdBy: null, createdAt: at, epoch: 0, lastSeq: seq, members: [], departures: [], disappearAfterSeconds: null };
    const already = await this.session.db.get<Conversation>(LEFT_PREFIX + conversationId);
    // Having left, the removal commit that follows does not turn it into "removed".
    await this.session.db.put(LEFT_PREFIX + conversationId, { ...last, left: true, leftBySelf: self || already?.leftBySelf || undefined });
  }

  /** Someone left (a `member-left` event): the listing held here shows it until read again. */
  noteDeparture(conversationId: string, departure: DepartureView): void {
    const listed = this.known.get(conversationId);
    if (!listed) return;
    this.known.set(conversationId, {
      ...listed,
      members: listed.members.filter((m) => m.userId !== departure.userId),
      departures: [...(listed.departures ?? []).filter((d) => d.userId !== departure.userId), departure],
    });
  }

  /** This user is in the conversation again. */
  async rejoined(conversationId: string): Promise<void> {
    await this.session.db.delete(LEFT_PREFIX + conversationId);
  }
}
