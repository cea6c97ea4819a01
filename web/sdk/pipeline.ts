// The ordered pipeline. Each conversation is processed strictly in the server's seq order, one
// message at a time: whatever arrives (the socket, `sync`, a REST page, an ack of this device's
// own) is buffered by seq, a gap is filled by asking the server to `sync`, and after each message
// the group state it produced is saved together with the position reached.
//
// What one message does is not decided here: the handler given to the pipeline processes it and
// says how the group state changed.

import { decodeState, encodeState, epochOf, toBase64 } from './mls.ts';
import type { Session } from './session.ts';
import type { MessageView } from './wire/index.ts';
import type { ClientState } from 'ts-mls';

/** What processing one message did to its group: a new state, null if the group is gone for this
 * device, undefined if it is unchanged. */
export type Outcome = ClientState | null | undefined;

const WAIT_MS = 15_000;
const GAP_SYNC_DELAY_MS = 150;
/** Where the store keeps how far each conversation was processed (see Store.saveProgress). */
const CURSOR_PREFIX = 'cursor:';

export class Pipeline {
  /** Each conversation's MLS group state as this device has processed it so far. */
  readonly groups = new Map<string, ClientState>();
  private readonly cursors = new Map<string, number>();
  private readonly pending = new Map<string, Map<number, MessageView>>();
  private readonly queues = new Map<string, Promise<void>>();
  /** The commits this device made, waiting for their turn in the order: conversation and the
   * commit's bytes → the state it leads to. */
  private readonly ownCommits = new Map<string, ClientState>();
  private readonly progressWaiters = new Set<() => void>();
  private gapTimer: ReturnType<typeof setTimeout> | null = null;
  /** The receipts the sync under way asked for, asked again for its conversations not finished. */
  private syncReceiptsFrom: Record<string, number> = {};
  /** Set while the client is disconnected on purpose: failed drains are not retried then. */
  paused = false;
  private readonly session: Session;
  private readonly handle: (message: MessageView) => Promise<Outcome>;

  constructor(session: Session, handle: (message: MessageView) => Promise<Outcome>) {
    this.session = session;
    this.handle = handle;
  }

  /** Takes up the group states this device had when it last ran, and how far it had processed
   * each conversation: the first sync after a reload asks only for what comes after. */
  async load(): Promise<void> {
    for (const record of await this.session.db.groups()) this.groups.set(record.conversationId, decodeState(record.state));
    for (const key of await this.session.db.keysWithPrefix(CURSOR_PREFIX)) {
      const conversationId = key.slice(CURSOR_PREFIX.length);
      const seq = await this.session.db.get<number>(key);
      // A position reached meanwhile in this session is newer than the stored one.
      if (typeof seq === 'number' && !this.cursors.has(conversationId)) this.cursors.set(conversationId, seq);
    }
  }

  /** This device was set up anew: what it had is of no use. */
  forget(): void {
    this.groups.clear();
    this.cursors.clear();
  }

  /**
   * Takes a stored message from anywhere (the socket, `sync`, a REST page) into its
   * conversation's order; duplicates are ignored.
   */
  ingest(message: MessageView): void {
    const buffer = this.pending.get(message.conversationId) ?? new Map<number, MessageView>();
    this.pending.set(message.conversationId, buffer);
    buffer.set(message.seq, message);
    this.scheduleDrain(message.conversationId, 0);
  }

  /**
   * Processes what is buffered for a conversation. A failure that is not the message's fault
   * (the server or the store not answering) must not wedge the conversation: it is retried with
   * backoff, and the buffered messages wait.
   */
  private scheduleDrain(conversationId: string, failures: number): void {
    const run = () =>
      this.serial(conversationId, () => this.drain(conversationId)).catch(() => {
        if (!this.session.store || this.paused) return; // signed out or disconnected: retried at the next connect's sync
        setTimeout(() => this.scheduleDrain(conversationId, failures + 1), Math.min(5000, 250 * 2 ** failures));
      });
    void run();
  }

  /** Runs `work` after everything already queued for the conversation. */
  serial<T>(conversationId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(conversationId) ?? Promise.resolve();
    const next = previous.then(work);
    this.queues.set(conversationId, next.then(() => {}, () => {}));
    return next;
  }

  /** Resolves when everything received so far in the conversation has been processed. */
  settled(conversationId: string): Promise<void> {
    return this.serial(conversationId, async () => {});
  }

  /** How far the conversation has been processed (loading or asking for it the first time). */
  async cursorOf(conversationId: string): Promise<number> {
    let cursor = this.cursors.get(conversationId);
    if (cursor === undefined) {
      cursor = await this.session.db.get<number>(`${CURSOR_PREFIX}${conversationId}`);
      if (cursor === undefined) {
        // A conversation this device has not seen: start where the server lets us read from.
        const conversation = await this.session.api.conversation(conversationId);
        cursor = conversation.members.find((m) => m.userId === this.session.me)?.joinedSeq ?? 0;
      }
      this.cursors.set(conversationId, cursor);
    }
    return cursor;
  }

  /**
   * Nothing at or before `seq` will come (it predates this user's latest join, e.g. after being
   * removed and added back), so stop waiting for it.
   */
  async skipTo(conversationId: string, seq: number): Promise<void> {
    await this.serial(conversationId, async () => {
      if ((await this.cursorOf(conversationId)) >= seq) return;
      this.cursors.set(conversationId, seq);
      await this.session.db.saveProgress(conversationId, seq);
    });
    if (this.pending.get(conversationId)?.size) this.scheduleDrain(conversationId, 0);
  }

  /** This device no longer takes part in the conversation's group (its user left it). */
  async drop(conversationId: string): Promise<void> {
    await this.serial(conversationId, async () => {
      this.groups.delete(conversationId);
      await this.session.db.deleteGroup(conversationId);
    });
  }

  /** A group this device has just made with the commit at `seq`: it holds from there on. */
  async adopt(conversationId: string, state: ClientState, seq: number): Promise<void> {
    await this.serial(conversationId, async () => {
      this.groups.set(conversationId, state);
      const cursor = Math.max(this.cursors.get(conversationId) ?? 0, seq);
      this.cursors.set(conversationId, cursor);
      await this.session.db.saveProgress(conversationId, cursor, { conversationId, state: encodeState(state), epoch: epochOf(state) });
    });
  }

  /**
   * This device made `commit`: when a commit with exactly these bytes comes in its turn, `state`
   * takes effect. Nothing else makes a commit this device's own (not the server naming this
   * device as its sender). Returns the key to forget it by.
   */
  expectOwnCommit(conversationId: string, commit: Uint8Array, state: ClientState): string {
    const key = `${conversationId}:${toBase64(commit)}`;
    this.ownCommits.set(key, state);
    return key;
  }

  /** The commit was refused by the server: it will not come. */
  forgetOwnCommit(key: string): void {
    this.ownCommits.delete(key);
  }

  /** The state this device's own commit leads to, if `commit` is one (taken once). */
  takeOwnCommit(conversationId: string, commit: Uint8Array): ClientState | undefined {
    const key = `${conversationId}:${toBase64(commit)}`;
    const own = this.ownCommits.get(key);
    this.ownCommits.delete(key);
    return own;
  }

  private async drain(conversationId: string): Promise<void> {
    const buffer = this.pending.get(conversationId)!;
    let cursor = await this.cursorOf(conversationId);
    for (const seq of buffer.keys()) if (seq <= cursor) buffer.delete(seq);
    for (let next = buffer.get(cursor + 1); next; next = buffer.get(cursor + 1)) {
      // Taken out of the buffer only once handled: one whose check could not be made yet stays
      // for the retry.
      const group = await this.handle(next);
      buffer.delete(next.seq);
      cursor = next.seq;
      this.cursors.set(conversationId, cursor);
      await this.session.db.saveProgress(conversationId, cursor, group === undefined ? undefined : group && { conversationId, state: encodeState(group), epoch: epochOf(group) });
    }
    for (const notify of [...this.progressWaiters]) notify();
    if (buffer.size > 0) this.scheduleGapSync();
  }

  private scheduleGapSync(): void {
    if (this.gapTimer) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      this.requestSync();
    }, GAP_SYNC_DELAY_MS);
  }

  /** Asks the server for everything after this device's positions (and, per conversation, the
   * receipts from a seq on), a page at a time: see `continueSync`. */
  requestSync(receiptsFrom: Record<string, number> = {}): void {
    this.syncReceiptsFrom = receiptsFrom;
    this.session.socket?.send({ type: 'sync', paged: true, after: Object.fromEntries(this.cursors), receiptsFrom });
  }

  /**
   * A page of a sync has arrived. While the server says some conversations have more, ask
   * again from where the page ended (`after`, which may be ahead of what is processed yet: its
   * messages are buffered here), so nothing comes twice; the receipts asked for wait for the page
   * that finishes their conversation.
   */
  continueSync(synced: { after: Record<string, number>; more: string[] }): void {
    if (synced.more.length === 0) return;
    const after = Object.fromEntries(this.cursors);
    for (const [conversationId, seq] of Object.entries(synced.after)) after[conversationId] = Math.max(after[conversationId] ?? 0, seq);
    const receiptsFrom = Object.fromEntries(Object.entries(this.syncReceiptsFrom).filter(([c]) => synced.more.includes(c)));
    this.session.socket?.send({ type: 'sync', paged: true, after, receiptsFrom });
  }

  /** Catches a conversation up from the server's pages (e.g. before a socket is open). */
  async catchUp(conversationId: string): Promise<void> {
    const after = await this.serial(conversationId, () => this.cursorOf(conversationId));
    const fetched: MessageView[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.session.api.messages(conversationId, { cursor, limit: 100 });
      fetched.push(...page.items.filter((m) => m.seq > after));
      cursor = page.items.some((m) => m.seq <= after) ? undefined : (page.nextCursor ?? undefined);
    } while (cursor);
    for (const m of fetched.reverse()) this.ingest(m);
    await this.settled(conversationId);
  }

  /** Resolves once `done()` holds, asking the server to sync if it does not come by itself. */
  async waitFor(done: () => boolean, what: string): Promise<void> {
    if (done()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        cleanup();
        resolve();
      };
      const syncTimer = setTimeout(() => this.requestSync(), 300);
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Timed out waiting for ${what}.`));
      }, WAIT_MS);
      const cleanup = () => {
        clearTimeout(syncTimer);
        clearTimeout(timer);
        this.progressWaiters.delete(check);
      };
      this.progressWaiters.add(check);
    });
  }

  waitForEpoch(conversationId: string, epoch: number): Promise<void> {
    return this.waitFor(() => {
      const g = this.groups.get(conversationId);
      return !!g && epochOf(g) >= epoch;
    }, `epoch ${epoch} of ${conversationId}`);
  }
}
