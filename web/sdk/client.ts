// The headless chat client: the one module the web app uses for every server call and every
// piece of crypto. Plaintext exists only here and in this device's store.
//
// Each conversation is processed strictly in the server's seq order, one message at a time:
// commits change the group state, application messages are decrypted with the state of their
// epoch, and a gap is filled by asking the server to `sync`. This device's own commits and
// messages enter the same order through their acks, so its group state moves exactly when every
// other member's does.

import { Api, ApiError, type Conversation, type Device, type KeyPackageCount, type ServerMessage, type UserSummary } from './api.ts';
import {
  commitChanges, decrypt, encodeState, decodeState, encrypt, epochOf, fromBase64, joinFromWelcome, leaves,
  newGroup, newIdentity, newKeyPackage, processCommit, safetyNumber, toBase64, toHex, welcomeRecipients,
  MlsFailure, type DeviceIdentity, type KeyPackageSecret,
} from './mls.ts';
import { EventError, RealtimeSocket, type ConnectionState, type ServerEvent, type SessionEnd } from './socket.ts';
import { Store, UNSENT_SEQ, type LocalMessage, type Problem } from './store.ts';
import type { ClientState } from 'ts-mls';

export { ApiError, EventError, MlsFailure };
export type { Conversation, Device, LocalMessage, Problem, ServerMessage, UserSummary, ConnectionState };

/** A message the server did not take. It stays in this device's history as `failed`, to `retry`. */
export class SendFailure extends Error {
  readonly local: LocalMessage;
  constructor(local: LocalMessage, cause: unknown) {
    super(cause instanceof Error ? cause.message : 'The message could not be sent.', { cause });
    this.name = 'SendFailure';
    this.local = local;
  }
}

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
}

export interface ClientEvents {
  message: LocalMessage;
  status: LocalMessage;
  problem: Problem;
  typing: { conversationId: string; userId: string; on: boolean };
  presence: { userId: string; online: boolean; lastSeen: string | null };
  conversation: { conversationId: string; change: 'joined' | 'updated' | 'removed' };
  connection: ConnectionState;
  'user-registered': UserSummary;
  /** The server ended this session ("log out everywhere", account deleted) or removed this device. */
  'signed-out': SessionEnd;
}

interface StoredDevice {
  deviceId: string;
  identity: DeviceIdentity;
}

interface StoredKeyPackage extends KeyPackageSecret {
  lastResort: boolean;
}

const WAIT_MS = 15_000;
const GAP_SYNC_DELAY_MS = 150;
/** How far back, in a conversation's local history, own messages still waiting for a read receipt are looked for. */
const RECEIPT_CATCH_UP_WINDOW = 200;
const MAX_ONLINE_RETRY_MS = 15_000;

function wsUrlFor(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = '/ws';
  return url.toString();
}

/** Where the store keeps conversations this user was removed from (see Conversation.left). */
const LEFT_PREFIX = 'left:';
/** Receipts made but not yet acknowledged by the server, kept across page loads. */
const RECEIPT_PREFIX = 'receipt:';
/** Where the store keeps the last listing of conversations, to show while the server is out of reach. */
const LISTED_KEY = 'conversations';

type ReceiptKind = 'delivered' | 'read';

export class ChatClient {
  readonly api: Api;
  private readonly options: ChatClientOptions;
  private store: Store | null = null;
  private socket: RealtimeSocket | null = null;
  private device: StoredDevice | null = null;
  user: UserSummary | null = null;

  private readonly groups = new Map<string, ClientState>();
  private readonly cursors = new Map<string, number>();
  private readonly pending = new Map<string, Map<number, ServerMessage>>();
  private readonly queues = new Map<string, Promise<void>>();
  /** This device's accepted commits, waiting for their turn in the order: seq → new state. */
  private readonly ownCommits = new Map<string, ClientState>();
  private readonly listeners = new Map<keyof ClientEvents, Set<(value: never) => void>>();
  private readonly progressWaiters = new Set<() => void>();
  /** Receipts that arrived before this device had recorded the server id of its own message. */
  private readonly earlyReceipts = new Map<string, Record<string, ReceiptKind>>();
  private tickWork: Promise<void> = Promise.resolve();
  /** Receipts the server has not acknowledged yet, by message id; (re)sent whenever the socket is ready. */
  private readonly receipts = new Map<string, ReceiptKind>();
  /** Outbox messages being sent right now, by key, so a reconnect does not send them twice. */
  private readonly inFlight = new Set<string>();
  private gapTimer: ReturnType<typeof setTimeout> | null = null;
  /** The conversations last listed, so one this user is removed from can still be shown. */
  private readonly known = new Map<string, Conversation>();

  constructor(options: ChatClientOptions) {
    this.options = options;
    this.api = new Api(options.baseUrl);
  }

  // ---- events -------------------------------------------------------------------------------

  on<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener as (value: never) => void);
    this.listeners.set(event, set);
    return () => set.delete(listener as (value: never) => void);
  }

  private emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (v: ClientEvents[K]) => void)(value);
  }

  // ---- session and device -------------------------------------------------------------------

  async register(phone: string, displayName: string, password: string): Promise<void> {
    await this.start(await this.api.register(phone, displayName, password));
  }

  async login(phone: string, password: string): Promise<void> {
    await this.start(await this.api.login(phone, password));
  }

  /**
   * Picks up the session this device's store remembers; false if there is none (or it ended).
   * With the server out of reach it starts offline from the store, so that history stays readable
   * and what is written waits in the outbox, and goes online once the server answers.
   */
  async resume(storeName: string): Promise<boolean> {
    const store = await Store.open(storeName, this.options.indexedDB);
    const session = await store.get<{ token: string; user: UserSummary }>('session');
    store.close();
    if (!session) return false;
    this.api.token = session.token;
    try {
      await this.start({ token: session.token, user: await this.api.me() });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 401) return false;
      if (!e.unavailable) throw e;
      await this.startOffline(session);
    }
    return true;
  }

  private async start(auth: { token: string; user: UserSummary }): Promise<void> {
    await this.openStore(auth);
    await this.topUpKeyPackages(await this.ensureDevice());
    await this.loadLocalState();
    this.connect();
  }

  /** Like `start` with the checks that need the server left for when it answers. */
  private async startOffline(session: { token: string; user: UserSummary }): Promise<void> {
    await this.openStore(session);
    const device = await this.db.get<StoredDevice>('device');
    if (device?.identity.userId !== this.me) throw new Error('This browser has to reach the server once to be set up.');
    this.device = device;
    await this.loadLocalState();
    // Created, not started: it reads as offline, and sends wait for its `ready`.
    this.socket ??= this.newSocket();
    void this.goOnlineWhenReachable(0);
  }

  private async goOnlineWhenReachable(failures: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_ONLINE_RETRY_MS, 1000 * 2 ** failures)));
    if (!this.store || !this.api.token) return; // signed out meanwhile
    try {
      await this.openStore({ token: this.api.token, user: await this.api.me() });
      await this.topUpKeyPackages(await this.ensureDevice());
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return this.sessionEnded('session-ended');
      return this.goOnlineWhenReachable(failures + 1);
    }
    this.connect();
  }

  /** Opens this user's store (unless open) and remembers the session in it. */
  private async openStore(auth: { token: string; user: UserSummary }): Promise<void> {
    this.api.token = auth.token;
    this.user = auth.user;
    this.store ??= await Store.open(this.options.storeName ?? auth.user.id, this.options.indexedDB);
    await this.store.put('session', { token: auth.token, user: auth.user });
  }

  /** What this device had when it last ran: group states, and receipts still to be sent. */
  private async loadLocalState(): Promise<void> {
    for (const record of await this.db.groups()) this.groups.set(record.conversationId, decodeState(record.state));
    for (const { messageId, kind } of await this.db.withPrefix<{ messageId: string; kind: ReceiptKind }>(RECEIPT_PREFIX)) {
      if (this.receipts.get(messageId) !== 'read') this.receipts.set(messageId, kind);
    }
  }

  get deviceId(): string {
    if (!this.device) throw new Error('Not signed in.');
    return this.device.deviceId;
  }

  private get me(): string {
    if (!this.user) throw new Error('Not signed in.');
    return this.user.id;
  }

  private get db(): Store {
    if (!this.store) throw new Error('Not signed in.');
    return this.store;
  }

  /** Loads or registers this device; a stored one's key-package count comes back, as the check
   * that the server still knows it. */
  private async ensureDevice(): Promise<KeyPackageCount | undefined> {
    const stored = await this.db.get<StoredDevice>('device');
    if (stored && stored.identity.userId === this.me) {
      try {
        const count = await this.api.keyPackageCount(stored.deviceId);
        this.device = stored;
        return count;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        // Removed from the account elsewhere: its keys and groups are dead; start as a new device.
        this.groups.clear();
        this.cursors.clear();
        const name = this.db.name;
        this.db.close();
        await Store.destroy(name, this.options.indexedDB);
        this.store = await Store.open(name, this.options.indexedDB);
        await this.store.put('session', { token: this.api.token, user: this.user });
      }
    }
    const identity = await newIdentity(this.me);
    const device = await this.api.registerDevice(this.options.deviceLabel ?? 'Browser', toBase64(identity.publicKey));
    this.device = { deviceId: device.id, identity };
    await this.db.put('device', this.device);
    return undefined;
  }

  /** Keeps enough one-time KeyPackages (and a last-resort one) on the server for others to add us. */
  async topUpKeyPackages(known?: KeyPackageCount): Promise<void> {
    const target = this.options.keyPackageTarget ?? 20;
    const { available, hasLastResort } = known ?? await this.api.keyPackageCount(this.deviceId);
    if (available >= target / 2 && hasLastResort) return;
    const fresh: StoredKeyPackage[] = [];
    for (let i = available; i < target; i += 1) fresh.push({ ...(await newKeyPackage(this.device!.identity)), lastResort: false });
    const lastResort = hasLastResort ? null : { ...(await newKeyPackage(this.device!.identity)), lastResort: true };
    for (const kp of [...fresh, ...(lastResort ? [lastResort] : [])]) await this.db.putKeyPackage(kp.ref, kp);
    await this.api.uploadKeyPackages(this.deviceId, fresh.map((k) => toBase64(k.publicPackage)), lastResort ? toBase64(lastResort.publicPackage) : undefined);
  }

  /**
   * Ends this session here. `everywhere` also revokes every other session of the account.
   * `forgetDevice` (a shared computer) also removes this device from the account, which makes the
   * user's other devices take it out of every group, and deletes everything it kept locally: its
   * keys, group states and decrypted history. Otherwise they stay for the next log-in here.
   *
   * A plain log-out ends the session here even when the server cannot be told: the token is
   * forgotten all the same. The other two must reach the server; if they cannot, they throw and
   * leave the session as it was.
   */
  async logout({ everywhere = false, forgetDevice = false } = {}): Promise<void> {
    // Stop listening first: events that arrive meanwhile (this device's removal from its groups,
    // the server ending this very session) would only start work that the closed store cannot finish.
    const wasRunning = this.socket?.running ?? false;
    this.socket?.stop();
    try {
      if (forgetDevice && this.device) await this.api.deleteDevice(this.device.deviceId);
      if (everywhere) await this.api.logoutEverywhere();
    } catch (e) {
      if (wasRunning) this.socket?.start();
      throw e;
    }
    if (!everywhere) await this.api.logout().catch(() => {});
    await this.endLocally(forgetDevice);
  }

  /** The server ended the session: the same as logging out here, without asking the server. */
  private async sessionEnded(why: SessionEnd): Promise<void> {
    // A removed device's keys and group states are of no further use to anyone.
    await this.endLocally(why === 'device-removed').catch(() => {});
    this.emit('signed-out', why);
  }

  private async endLocally(forgetDevice: boolean): Promise<void> {
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

  // ---- connection ---------------------------------------------------------------------------

  connect(): void {
    this.socket ??= this.newSocket();
    this.socket.start();
  }

  private newSocket(): RealtimeSocket {
    return new RealtimeSocket({
      url: this.options.wsUrl ?? wsUrlFor(this.options.baseUrl),
      token: () => this.api.token,
      deviceId: () => this.deviceId,
      onEvent: (event) => this.onServerEvent(event),
      onState: (state) => this.emit('connection', state),
      onEnded: (why) => void this.sessionEnded(why),
      onReady: () => {
        void this.syncWithReceipts();
        for (const [messageId, kind] of this.receipts) this.postReceipt(messageId, kind);
        void this.resendUnsent().catch(() => {});
        void this.healGroups().catch(() => {});
      },
    });
  }

  disconnect(): void {
    this.socket?.stop();
  }

  get connection(): ConnectionState {
    return this.socket?.state ?? 'closed';
  }

  private requestSync(receiptsFrom: Record<string, number> = {}): void {
    this.socket?.send({ type: 'sync', after: Object.fromEntries(this.cursors), receiptsFrom });
  }

  /**
   * The sync of a fresh connection also asks again for the receipts on this user's messages that
   * are not yet read: those made while this device was away were pushed to nobody.
   */
  private async syncWithReceipts(): Promise<void> {
    const receiptsFrom: Record<string, number> = {};
    try {
      for (const conversationId of this.groups.keys()) {
        const recent = await this.db.history(conversationId, UNSENT_SEQ, RECEIPT_CATCH_UP_WINDOW);
        const waiting = recent.find((m) => m.senderId === this.me && (m.status === 'sent' || m.status === 'delivered'));
        if (waiting) receiptsFrom[conversationId] = waiting.seq;
      }
    } catch {
      // The store is closing (signed out): the messages are what matters, and they still come.
    }
    this.requestSync(receiptsFrom);
  }

  private onServerEvent(event: ServerEvent): void {
    if (!this.store) return; // signed out: a late event has nowhere to go
    switch (event.type) {
      case 'message':
        return this.ingest(event.message as ServerMessage);
      case 'receipt':
        void this.applyReceipt(event as unknown as { messageId: string; userId: string; kind: ReceiptKind }).catch(() => {});
        return;
      case 'typing':
        return this.emit('typing', event as unknown as ClientEvents['typing']);
      case 'presence':
        return this.emit('presence', event as unknown as ClientEvents['presence']);
      case 'user-registered':
        return this.emit('user-registered', event.user as UserSummary);
      case 'synced':
        for (const [conversationId, joinedSeq] of Object.entries(event.joined as Record<string, number>)) {
          void this.skipTo(conversationId, joinedSeq).catch(() => {});
        }
        return;
      case 'device-added':
        if (event.userId === this.user?.id) void this.addOwnDevice((event.device as Device).id).catch(() => {});
        else void this.healGroups().catch(() => {});
        return;
      case 'device-removed':
        void this.removeOwnDevice(event.deviceId as string).catch(() => {});
        return;
    }
  }

  // ---- the ordered pipeline -----------------------------------------------------------------

  /**
   * Takes a stored message from anywhere (the socket, `sync`, a REST page) into its
   * conversation's order; duplicates are ignored.
   */
  ingest(message: ServerMessage): void {
    const buffer = this.pending.get(message.conversationId) ?? new Map<number, ServerMessage>();
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
        if (!this.store) return; // signed out meanwhile: nothing left to retry for
        setTimeout(() => this.scheduleDrain(conversationId, failures + 1), Math.min(5000, 250 * 2 ** failures));
      });
    void run();
  }

  /** Runs `work` after everything already queued for the conversation. */
  private serial<T>(conversationId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(conversationId) ?? Promise.resolve();
    const next = previous.then(work);
    this.queues.set(conversationId, next.then(() => {}, () => {}));
    return next;
  }

  private async cursorOf(conversationId: string): Promise<number> {
    let cursor = this.cursors.get(conversationId);
    if (cursor === undefined) {
      cursor = await this.db.get<number>(`cursor:${conversationId}`);
      if (cursor === undefined) {
        // A conversation this device has not seen: start where the server lets us read from.
        const conversation = await this.api.conversation(conversationId);
        cursor = conversation.members.find((m) => m.userId === this.me)?.joinedSeq ?? 0;
      }
      this.cursors.set(conversationId, cursor);
    }
    return cursor;
  }

  /**
   * Nothing at or before `seq` will come (it predates this user's latest join, e.g. after being
   * removed and added back), so stop waiting for it.
   */
  private async skipTo(conversationId: string, seq: number): Promise<void> {
    await this.serial(conversationId, async () => {
      if ((await this.cursorOf(conversationId)) >= seq) return;
      this.cursors.set(conversationId, seq);
      await this.db.saveProgress(conversationId, seq);
    });
    if (this.pending.get(conversationId)?.size) this.scheduleDrain(conversationId, 0);
  }

  private async drain(conversationId: string): Promise<void> {
    const buffer = this.pending.get(conversationId)!;
    let cursor = await this.cursorOf(conversationId);
    for (const seq of buffer.keys()) if (seq <= cursor) buffer.delete(seq);
    for (let next = buffer.get(cursor + 1); next; next = buffer.get(cursor + 1)) {
      buffer.delete(next.seq);
      const group = await this.handle(next);
      cursor = next.seq;
      this.cursors.set(conversationId, cursor);
      await this.db.saveProgress(conversationId, cursor, group === undefined ? undefined : group && { conversationId, state: encodeState(group), epoch: epochOf(group) });
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

  /** Processes one message; returns the group state if it changed, null if the group is gone. */
  private async handle(m: ServerMessage): Promise<ClientState | null | undefined> {
    const conversationId = m.conversationId;
    const group = this.groups.get(conversationId);
    if (m.kind === 'welcome') return group ? undefined : this.tryJoin(m);
    if (!group) return undefined; // from before this device joined: not for it to read
    if (m.kind === 'commit') {
      const own = this.ownCommits.get(`${conversationId}:${m.seq}`);
      this.ownCommits.delete(`${conversationId}:${m.seq}`);
      let next: ClientState;
      if (own) next = own;
      else if (m.senderDeviceId === this.device?.deviceId) return undefined; // our own, already applied
      else {
        try {
          next = await processCommit(group, fromBase64(m.ciphertext));
        } catch (e) {
          await this.problem(m, e);
          return undefined;
        }
      }
      const stillIn = leaves(next).some((l) => toHex(l.signaturePublicKey) === toHex(this.device!.identity.publicKey));
      if (!stillIn) {
        this.groups.delete(conversationId);
        const last: Conversation = this.known.get(conversationId)
          ?? { id: conversationId, kind: 'group', title: null, createdBy: null, createdAt: m.createdAt, epoch: 0, lastSeq: m.seq, members: [] };
        await this.db.put(LEFT_PREFIX + conversationId, { ...last, left: true });
        this.emit('conversation', { conversationId, change: 'removed' });
        return null;
      }
      this.groups.set(conversationId, next);
      this.emit('conversation', { conversationId, change: 'updated' });
      return next;
    }
    // An application message.
    if (m.senderDeviceId === this.device?.deviceId) {
      await this.markStored(m);
      return undefined;
    }
    try {
      const result = await decrypt(group, fromBase64(m.ciphertext));
      if (result.sender.userId !== m.senderId) {
        throw new MlsFailure('sender_mismatch', 'The server named a different sender than the message proves.');
      }
      this.groups.set(conversationId, result.state);
      const local: LocalMessage = {
        key: `${m.senderId}:${m.clientMsgId}`, id: m.id, clientMsgId: m.clientMsgId, conversationId, seq: m.seq,
        senderId: m.senderId, senderDeviceId: m.senderDeviceId, text: result.plaintext, createdAt: m.createdAt, status: 'received',
      };
      await this.db.putMessage(local);
      this.emit('message', local);
      this.sendReceipt(m.id, 'delivered');
      return result.state;
    } catch (e) {
      await this.problem(m, e);
      return undefined;
    }
  }

  private async problem(m: ServerMessage, e: unknown): Promise<void> {
    const problem: Problem = {
      id: m.id, conversationId: m.conversationId, seq: m.seq, senderId: m.senderId,
      reason: e instanceof MlsFailure ? e.code : 'error', at: new Date().toISOString(),
    };
    await this.db.putProblem(problem);
    this.emit('problem', problem);
  }

  private async tryJoin(m: ServerMessage): Promise<ClientState | undefined> {
    const welcome = fromBase64(m.ciphertext);
    for (const ref of welcomeRecipients(welcome)) {
      const kp = await this.db.keyPackage<StoredKeyPackage>(ref);
      if (!kp) continue;
      try {
        const state = await joinFromWelcome(welcome, kp);
        if (!kp.lastResort) await this.db.deleteKeyPackage(ref);
        this.groups.set(m.conversationId, state);
        await this.db.delete(LEFT_PREFIX + m.conversationId); // added back
        this.emit('conversation', { conversationId: m.conversationId, change: 'joined' });
        void this.topUpKeyPackages().catch(() => {});
        return state;
      } catch (e) {
        await this.problem(m, e);
      }
    }
    return undefined;
  }

  /**
   * Acks and receipts update the same records, and each reads before it writes: run one at a
   * time, or a receipt could look for its message while the ack is still storing it under its
   * server id, find nothing, and be lost.
   */
  private inTickOrder(work: () => Promise<void>): Promise<void> {
    const next = this.tickWork.then(work, work);
    this.tickWork = next.catch(() => {});
    return next;
  }

  private markStored(m: ServerMessage): Promise<void> {
    return this.inTickOrder(async () => {
      const local = await this.db.message(`${m.senderId}:${m.clientMsgId}`);
      if (!local || local.seq !== UNSENT_SEQ) return;
      const early = this.earlyReceipts.get(m.id);
      this.earlyReceipts.delete(m.id);
      const stored: LocalMessage = { ...local, id: m.id, seq: m.seq, status: 'sent', receipts: early };
      const sent = { ...stored, status: this.tickOf(stored) };
      await this.db.putMessage(sent);
      this.emit('status', sent);
    });
  }

  private applyReceipt(r: { messageId: string; userId: string; kind: ReceiptKind }): Promise<void> {
    return this.inTickOrder(() => this.recordReceipt(r));
  }

  private async recordReceipt(r: { messageId: string; userId: string; kind: ReceiptKind }): Promise<void> {
    if (r.userId === this.me || !this.store) return;
    const stronger = (had: ReceiptKind | undefined) => (had === 'read' ? 'read' : r.kind);
    const local = await this.db.messageById(r.messageId);
    if (!local) {
      // Possibly our own message whose ack is still being recorded: keep it for then.
      const early = this.earlyReceipts.get(r.messageId) ?? {};
      this.earlyReceipts.set(r.messageId, { ...early, [r.userId]: stronger(early[r.userId]) });
      if (this.earlyReceipts.size > 1000) this.earlyReceipts.delete(this.earlyReceipts.keys().next().value!);
      return;
    }
    if (local.senderId !== this.me) return;
    const receipts = { ...local.receipts, [r.userId]: stronger(local.receipts?.[r.userId]) };
    const status = this.tickOf({ ...local, receipts });
    const rank = { sending: 0, failed: 0, received: 0, sent: 1, delivered: 2, read: 3 } as const;
    const updated = { ...local, receipts, status: rank[status] > rank[local.status] ? status : local.status };
    await this.db.putMessage(updated);
    if (updated.status !== local.status) this.emit('status', updated);
  }

  /**
   * The tick one of this user's stored messages shows: read once everyone it was for has read it,
   * delivered once everyone has it, as in a group every member counts. It was for the members who
   * had joined before it; when they are not known here, any reader's receipt counts.
   */
  private tickOf(message: LocalMessage): LocalMessage['status'] {
    const receipts = message.receipts ?? {};
    const readers = this.known.get(message.conversationId)?.members
      .filter((m) => m.userId !== this.me && m.joinedSeq < message.seq)
      .map((m) => m.userId) ?? [];
    const given = Object.values(receipts);
    const strongest = given.includes('read') ? 'read' : given[0];
    const kinds = readers.length > 0 ? readers.map((u) => receipts[u]) : [strongest];
    if (kinds.every((k) => k === 'read')) return 'read';
    if (kinds.every((k) => k === 'read' || k === 'delivered')) return 'delivered';
    return 'sent';
  }

  /** Resolves once `done()` holds, asking the server to sync if it does not come by itself. */
  private async waitFor(done: () => boolean, what: string): Promise<void> {
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

  private waitForEpoch(conversationId: string, epoch: number): Promise<void> {
    return this.waitFor(() => {
      const g = this.groups.get(conversationId);
      return !!g && epochOf(g) >= epoch;
    }, `epoch ${epoch} of ${conversationId}`);
  }

  // ---- conversations ------------------------------------------------------------------------

  /**
   * The conversations this user is in, as the server lists them; while it is out of reach, as it
   * last listed them, so that history stays reachable offline.
   */
  async conversations(): Promise<Conversation[]> {
    let all: Conversation[];
    try {
      all = await this.listConversations();
      await this.db.put(LISTED_KEY, all);
    } catch (e) {
      const listed = e instanceof ApiError && e.unavailable ? await this.db.get<Conversation[]>(LISTED_KEY) : undefined;
      if (!listed) throw e;
      all = listed;
    }
    for (const c of all) this.known.set(c.id, c);
    const current = new Set(all.map((c) => c.id));
    const left = await this.db.withPrefix<Conversation>(LEFT_PREFIX);
    return [...all, ...left.filter((c) => !current.has(c.id))];
  }

  private async listConversations(): Promise<Conversation[]> {
    const all: Conversation[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.api.conversations(cursor);
      all.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return all;
  }

  /** Opens (creating if needed) the 1:1 conversation with a user, ready to send. */
  async openDirect(userId: string): Promise<Conversation> {
    const conversation = await this.api.conversation(userId);
    this.known.set(conversation.id, conversation);
    await this.ensureGroup(conversation);
    return conversation;
  }

  /** Creates a group with these users and sets up its encryption. */
  async createGroup(title: string, memberIds: string[]): Promise<Conversation> {
    const conversation = await this.api.createGroup(title, memberIds);
    this.known.set(conversation.id, conversation);
    await this.ensureGroup(conversation);
    return conversation;
  }

  hasGroup(conversationId: string): boolean {
    return this.groups.has(conversationId);
  }

  /**
   * Makes sure this device is in the conversation's MLS group: at epoch 0 nobody has made it yet,
   * so this device does, adding every member's devices; if another device won that race, or the
   * group exists, this device waits for its Welcome.
   */
  private async ensureGroup(conversation: Conversation): Promise<void> {
    if (this.groups.has(conversation.id)) return;
    await this.cursorOf(conversation.id);
    if (conversation.epoch === 0) {
      const state = await newGroup(conversation.id, this.device!.identity);
      const keyPackages = await this.claimFor(conversation.members.map((m) => m.userId));
      try {
        await this.sendCommit(conversation.id, state, keyPackages, [], {});
        return;
      } catch (e) {
        if (!(e instanceof EventError && e.code === 'stale_epoch')) throw e;
      }
    }
    await this.waitFor(() => this.groups.has(conversation.id), `the Welcome to ${conversation.id}`);
  }

  /** One KeyPackage for every device of these users except this one. */
  private async claimFor(userIds: string[], deviceIds?: string[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const userId of userIds) {
      const { keyPackages } = await this.api.claimKeyPackages(userId, deviceIds);
      for (const kp of keyPackages) if (kp.deviceId !== this.deviceId) out.push(fromBase64(kp.keyPackage));
    }
    return out;
  }

  /**
   * Sends a commit made from `state` (the group as this device has it, or a new group at epoch
   * 0) and, once the server has ordered it, queues the new state to take effect at its seq.
   * Rejects with EventError `stale_epoch` if another commit got there first.
   */
  private async sendCommit(
    conversationId: string, state: ClientState, keyPackages: Uint8Array[], removeLeaves: number[],
    members: { addUserIds?: string[]; removeUserIds?: string[] },
  ): Promise<void> {
    const made = await commitChanges(state, keyPackages, removeLeaves);
    const ack = await this.socket!.request({
      type: 'commit', conversationId, epoch: epochOf(state), clientMsgId: crypto.randomUUID(),
      commit: toBase64(made.commit), welcome: made.welcome ? toBase64(made.welcome) : undefined, ...members,
    });
    const commit = ack.message as ServerMessage;
    const welcome = ack.welcome as ServerMessage | undefined;
    if (epochOf(state) === 0 && !this.groups.has(conversationId)) {
      // The group starts with this commit: adopt it at once, and start reading after it.
      await this.serial(conversationId, async () => {
        this.groups.set(conversationId, made.state);
        const cursor = Math.max(this.cursors.get(conversationId) ?? 0, welcome?.seq ?? commit.seq);
        this.cursors.set(conversationId, cursor);
        await this.db.saveProgress(conversationId, cursor, { conversationId, state: encodeState(made.state), epoch: epochOf(made.state) });
      });
      this.emit('conversation', { conversationId, change: 'joined' });
    } else {
      this.ownCommits.set(`${conversationId}:${commit.seq}`, made.state);
      this.ingest(commit);
      if (welcome) this.ingest(welcome);
    }
    await this.waitForEpoch(conversationId, commit.epoch + 1);
  }

  /**
   * Runs a change as a commit, retrying from the newer epoch when another commit wins the race.
   * `plan` looks at the current group and says what to do, or null if nothing is left to do.
   */
  private async change(
    conversationId: string,
    plan: (state: ClientState) => Promise<{ keyPackages: Uint8Array[]; removeLeaves: number[]; addUserIds?: string[]; removeUserIds?: string[] } | null>,
  ): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await this.serial(conversationId, async () => {});
      const state = this.groups.get(conversationId);
      if (!state) throw new Error('This device is not in that conversation.');
      const step = await plan(state);
      if (!step) return;
      try {
        await this.sendCommit(conversationId, state, step.keyPackages, step.removeLeaves, { addUserIds: step.addUserIds, removeUserIds: step.removeUserIds });
        return;
      } catch (e) {
        if (!(e instanceof EventError && e.code === 'stale_epoch' && e.currentEpoch !== undefined)) throw e;
        await this.waitForEpoch(conversationId, e.currentEpoch);
      }
    }
    throw new Error('Could not get a commit in after 5 tries; the group is very busy.');
  }

  async addMembers(conversationId: string, userIds: string[]): Promise<void> {
    await this.change(conversationId, async (state) => {
      const present = new Set(leaves(state).map((l) => l.userId));
      const missing = userIds.filter((u) => !present.has(u));
      if (missing.length === 0) return null;
      return { keyPackages: await this.claimFor(missing), removeLeaves: [], addUserIds: missing };
    });
  }

  async removeMembers(conversationId: string, userIds: string[]): Promise<void> {
    await this.change(conversationId, async (state) => {
      const doomed = leaves(state).filter((l) => userIds.includes(l.userId)).map((l) => l.leafIndex);
      if (doomed.length === 0) return null;
      return { keyPackages: [], removeLeaves: doomed, removeUserIds: userIds };
    });
  }

  /**
   * Adds a new device of this user to every group this device is in. A device announces itself
   * before its KeyPackages are uploaded, so a claim that finds none yet is retried for a while.
   */
  async addOwnDevice(deviceId: string): Promise<void> {
    if (deviceId === this.deviceId) return;
    const { devices } = await this.api.devicesOf(this.me);
    const device = devices.find((d) => d.id === deviceId);
    if (!device) return;
    for (const conversationId of [...this.groups.keys()]) {
      await this.change(conversationId, async (state) => {
        if (leaves(state).some((l) => toBase64(l.signaturePublicKey) === device.credential)) return null;
        for (let attempt = 0; attempt < 20; attempt += 1) {
          const keyPackages = await this.claimFor([this.me], [deviceId]);
          if (keyPackages.length) return { keyPackages, removeLeaves: [] };
          await new Promise((r) => setTimeout(r, 250));
        }
        return null;
      });
    }
  }

  /**
   * Adds members who have no device in a group's MLS tree, e.g. because they had no device yet
   * when it was set up. Done by the group's owners and admins (in a 1:1, by either person) so that
   * one device, not every member, spends the newcomer's KeyPackages; the member list is read fresh
   * so nobody removed is brought back.
   */
  async healGroups(): Promise<void> {
    for (const listed of await this.conversations()) {
      if (!this.groups.has(listed.id)) continue;
      const role = listed.members.find((m) => m.userId === this.me)?.role;
      if (listed.kind === 'group' && role !== 'owner' && role !== 'admin') continue;
      const inTree = new Set(leaves(this.groups.get(listed.id)!).map((l) => l.userId));
      if (listed.members.every((m) => inTree.has(m.userId))) continue; // the common case: nothing to do
      await this.change(listed.id, async (state) => {
        const current = await this.api.conversation(listed.id);
        const present = new Set(leaves(state).map((l) => l.userId));
        const missing = current.members.map((m) => m.userId).filter((u) => !present.has(u));
        if (missing.length === 0) return null;
        const keyPackages = await this.claimFor(missing);
        return keyPackages.length ? { keyPackages, removeLeaves: [] } : null;
      });
    }
  }

  /** Removes a device of this user (lost, or signed out) from every group this device is in. */
  async removeOwnDevice(deviceId: string): Promise<void> {
    const { devices } = await this.api.devicesOf(this.me);
    const keep = new Set(devices.map((d) => d.credential));
    keep.add(toBase64(this.device!.identity.publicKey));
    for (const conversationId of [...this.groups.keys()]) {
      await this.change(conversationId, async (state) => {
        const gone = leaves(state).filter((l) => l.userId === this.me && !keep.has(toBase64(l.signaturePublicKey)));
        return gone.length ? { keyPackages: [], removeLeaves: gone.map((l) => l.leafIndex) } : null;
      });
    }
    void deviceId;
  }

  // ---- messages -----------------------------------------------------------------------------

  /**
   * Encrypts and sends a text; resolves once the server has stored it (status `sent`). The
   * message is in this device's outbox from the first moment: if the page closes first, it is sent
   * on the next connection (the clientMsgId makes a resend of something already stored harmless).
   */
  async sendText(conversationId: string, text: string): Promise<LocalMessage> {
    const clientMsgId = crypto.randomUUID();
    const local: LocalMessage = {
      key: `${this.me}:${clientMsgId}`, id: clientMsgId, clientMsgId, conversationId, seq: UNSENT_SEQ,
      senderId: this.me, senderDeviceId: this.deviceId, text, createdAt: new Date().toISOString(), status: 'sending',
    };
    await this.db.putMessage(local);
    this.emit('message', local);
    return this.deliver(local);
  }

  /** Sends what the outbox still holds, e.g. after a reload cut sends short. */
  private async resendUnsent(): Promise<void> {
    for (const message of await this.db.unsent(this.deviceId)) {
      if (!this.inFlight.has(message.key)) void this.deliver(message).catch(() => {});
    }
  }

  private async deliver(message: LocalMessage): Promise<LocalMessage> {
    this.inFlight.add(message.key);
    try {
      return await this.tryDeliver(message);
    } finally {
      this.inFlight.delete(message.key);
    }
  }

  /** Rejects with a SendFailure, the message then `failed` in the store, if the server would not take it. */
  private async tryDeliver(message: LocalMessage): Promise<LocalMessage> {
    const { conversationId, clientMsgId, text } = message;
    try {
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const { ciphertext, epoch } = await this.serial(conversationId, async () => {
          const state = this.groups.get(conversationId);
          if (!state) throw new Error('This device is not in that conversation yet.');
          const made = await encrypt(state, text);
          this.groups.set(conversationId, made.state);
          await this.db.putGroup({ conversationId, state: encodeState(made.state), epoch: epochOf(made.state) });
          return { ciphertext: made.ciphertext, epoch: epochOf(state) };
        });
        try {
          const ack = await this.socket!.request({ type: 'send-message', conversationId, clientMsgId, epoch, ciphertext: toBase64(ciphertext) });
          // Recorded before anything else can run: a receipt for it may be the very next event.
          await this.markStored(ack.message as ServerMessage);
          this.ingest(ack.message as ServerMessage);
          await this.serial(conversationId, async () => {});
          return (await this.db.message(message.key)) ?? message;
        } catch (e) {
          if (e instanceof EventError && e.code === 'stale_epoch' && e.currentEpoch !== undefined) {
            await this.waitForEpoch(conversationId, e.currentEpoch);
            continue;
          }
          if (e instanceof EventError && (e.code === 'disconnected' || e.code === 'timeout')) continue;
          throw e;
        }
      }
      throw new Error('The message could not be sent.');
    } catch (e) {
      const failed: LocalMessage = { ...message, status: 'failed' };
      await this.db.putMessage(failed);
      this.emit('status', failed);
      throw new SendFailure(failed, e);
    }
  }

  /**
   * Sends a `failed` message again, where it stands in the conversation. It keeps its
   * clientMsgId, so if an earlier try did reach the server, the server answers with that copy
   * instead of storing a second.
   */
  async retry(messageKey: string): Promise<LocalMessage> {
    const failed = await this.db.message(messageKey);
    if (failed?.status !== 'failed' || failed.senderDeviceId !== this.deviceId || this.inFlight.has(messageKey)) {
      throw new Error('Only a message this device failed to send can be sent again.');
    }
    const sending: LocalMessage = { ...failed, status: 'sending' };
    await this.db.putMessage(sending);
    this.emit('status', sending);
    return this.deliver(sending);
  }

  /** Decrypted history from this device's store, oldest first; page upward with `beforeSeq`. */
  history(conversationId: string, { beforeSeq = UNSENT_SEQ + 1, limit = 50 } = {}): Promise<LocalMessage[]> {
    return this.db.history(conversationId, beforeSeq, limit);
  }

  /** Messages that arrived but could not be trusted, to show as errors. */
  problems(conversationId: string): Promise<Problem[]> {
    return this.db.problems(conversationId);
  }

  markRead(messageId: string): void {
    this.sendReceipt(messageId, 'read');
  }

  /**
   * Kept until the server acknowledges it, in memory and in the store: a receipt made while
   * offline, or just before the page closed, still reaches the sender.
   */
  private sendReceipt(messageId: string, kind: ReceiptKind): void {
    if (this.receipts.get(messageId) === 'read') return; // read says delivered too
    this.receipts.set(messageId, kind);
    void this.store?.put(RECEIPT_PREFIX + messageId, { messageId, kind }).catch(() => {});
    if (this.socket?.state === 'open') this.postReceipt(messageId, kind); // else the next `ready` does
  }

  private postReceipt(messageId: string, kind: ReceiptKind): void {
    const done = () => {
      // Unless a stronger receipt for the message is waiting by now.
      if (this.receipts.get(messageId) !== kind) return;
      this.receipts.delete(messageId);
      void this.store?.delete(RECEIPT_PREFIX + messageId).catch(() => {});
    };
    this.socket!.request({ type: 'receipt', messageId, kind }).then(done, (e) => {
      // A refusal (e.g. no longer a member) is final; a lost connection sends it again at `ready`.
      const lost = e instanceof EventError && (e.code === 'disconnected' || e.code === 'timeout');
      if (!lost) done();
    });
  }

  setTyping(conversationId: string, on: boolean): void {
    this.socket?.send({ type: 'typing', conversationId, on });
  }

  /** Catches a conversation up from the server's pages (e.g. before a socket is open). */
  async catchUp(conversationId: string): Promise<void> {
    const after = await this.serial(conversationId, () => this.cursorOf(conversationId));
    const fetched: ServerMessage[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.api.messages(conversationId, { cursor, limit: 100 });
      fetched.push(...page.items.filter((m) => m.seq > after));
      cursor = page.items.some((m) => m.seq <= after) ? undefined : (page.nextCursor ?? undefined);
    } while (cursor);
    for (const m of fetched.reverse()) this.ingest(m);
    await this.serial(conversationId, async () => {});
  }

  /** A fingerprint of every device in the conversation, to compare with the other members. */
  async safetyNumber(conversationId: string): Promise<string> {
    const state = this.groups.get(conversationId);
    if (!state) throw new Error('This device is not in that conversation.');
    return safetyNumber(state);
  }

  epoch(conversationId: string): number | null {
    const state = this.groups.get(conversationId);
    return state ? epochOf(state) : null;
  }

  /** Resolves when everything received so far in the conversation has been processed. */
  settled(conversationId: string): Promise<void> {
    return this.serial(conversationId, async () => {});
  }
}
