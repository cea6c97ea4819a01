// The headless chat client: the one module the web app uses for every server call and every
// piece of crypto. Plaintext exists only here and in this device's store.
//
// ChatClient is the facade; the work is done by its parts, each in its own module:
//   session.ts        sign-in state, this device's registration and its KeyPackages
//   authentication.ts the authentication service: every credential against the device directory
//   authorization.ts  who may make which commit, judged by every client before applying one
//   pipeline.ts       each conversation processed in the server's seq order, gaps filled by `sync`
//   incoming.ts       what one message does in its turn: commit, application message, Welcome
//   groups.ts         this device's commits: setting groups up, adding and removing members and devices
//   outbox.ts         sending, retrying and resending messages until the server has them
//   receipts.ts       the receipts this device sends; ticks.ts: the ticks on this user's own messages
//   conversations.ts  the listing of conversations, kept for offline use and for those left
//   changes.ts        reactions, edits, deletions for everyone and timer changes, judged and applied
//   expiry.ts         disappearing messages deleted from this device when their time comes
//   dispatch.ts       what each event the server pushes leads to, and what a (re)connect sends
//   verification.ts   per-contact safety numbers over the directory's devices, verified marks, notices
//   search.ts         the local full-text index of this device's history (loaded when first used)
// This device's own commits and messages enter the same order through their acks, so its group
// state moves exactly when every other member's does.

import { ApiError, type Account, type Api, type Conversation, type GroupAdds } from './api.ts';
import type { ImagePreview, Progress } from './attachments.ts';
import { Authentication } from './authentication.ts';
import { Changes } from './changes.ts';
import { Expiry } from './expiry.ts';
import { CommitAuthorizer } from './authorization.ts';
import { Conversations } from './conversations.ts';
import { onReady, onServerEvent, type DispatchParts } from './dispatch.ts';
import { Emitter, type ClientEvents } from './events.ts';
import { Groups } from './groups.ts';
import { Incoming } from './incoming.ts';
import { Notifications, type MuteChoice } from './notifications.ts';
import { approvalMessage, approverProof, LinkFailure, normalizeLinkCode, requestFor, revocationMessage, type LinkPrompt, type LinkStatus } from './linking.ts';
import { epochOf, leaves, MlsFailure, safetyNumber, sign, toBase64 } from './mls.ts';
import { Outbox, SendFailure } from './outbox.ts';
import { Pipeline } from './pipeline.ts';
import { Receipts } from './receipts.ts';
import { Session, type Auth, type ChatClientOptions } from './session.ts';
import { EventError, RealtimeSocket, type ConnectionState } from './socket.ts';
import { UNSENT_SEQ, type LocalMessage, type Notice, type Problem, type Store } from './store.ts';
import type { LocalSearch, SearchHit, SearchOptions, SnippetPart } from './search.ts';
import { Ticks } from './ticks.ts';
import type { ContactSafetyNumber, DeviceFingerprint, Verification } from './verification.ts';
import type { AttachedFile } from './content.ts';
import { textBody } from './content.ts';
import { MAX_ATTACHMENTS_PER_MESSAGE, MAX_CIPHERTEXT_BYTES, MAX_GROUP_MEMBERS, type DeviceView, type KeyPackageCount, type MessageView, type PendingLinkView, type SessionEndReason, type UserSummary } from './wire/index.ts';

export { ApiError, EventError, LinkFailure, MlsFailure, SendFailure };

/** What a message's plaintext may hold, leaving room in MAX_CIPHERTEXT_BYTES for MLS's framing. */
const MAX_MESSAGE_BODY_BYTES = MAX_CIPHERTEXT_BYTES - 4096;

/** A file to send: its bytes, media type and name, and for an image a preview (makeImagePreview). */
export interface OutgoingFile {
  bytes: Uint8Array;
  contentType: string;
  filename?: string;
  preview?: ImagePreview;
}
export type {
  AttachedFile, Progress, Account, ChatClientOptions, ClientEvents, ContactSafetyNumber, Conversation, DeviceFingerprint, DeviceView, LinkPrompt, LocalMessage, MessageView, Notice,
  GroupAdds, PendingLinkView, Problem, SessionEndReason, UserSummary, ConnectionState, LinkStatus,
  SearchHit, SearchOptions, SnippetPart, MuteChoice,
};

/** A stretch of a conversation around one message (see ChatClient.messagesAround). */
export interface Neighbourhood {
  /** Oldest first, the message itself included when this device holds it. */
  messages: LocalMessage[];
  /** Whether this device holds older (newer) messages than these: page on with `history`. */
  hasOlder: boolean;
  hasNewer: boolean;
}

/** One of this user's devices, as the account's device list shows it. */
export interface OwnDevice extends DeviceView {
  /** This browser. */
  current: boolean;
  /** Approved by a device this one trusts (see linking.ts); one that is not was never linked by
   * this user's devices, and is kept out of every group. */
  approved: boolean;
}

const MAX_ONLINE_RETRY_MS = 15_000;

function wsUrlFor(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = '/ws';
  return url.toString();
}

export class ChatClient {
  readonly api: Api;
  /** Push subscription of this device, and each conversation's mute (./notifications.ts). */
  readonly notifications: Notifications;
  private readonly options: ChatClientOptions;
  private readonly session: Session;
  private readonly events: Emitter;
  private readonly conversationList: Conversations;
  private readonly pipeline: Pipeline;
  private readonly receipts: Receipts;
  private readonly groups: Groups;
  private readonly outbox: Outbox;
  private readonly changes: Changes;
  private readonly expiry: Expiry;
  /** Loaded on first use (its hashing is not needed for the chat page's first paint). */
  private verifier: Promise<Verification> | null = null;
  /** The search index of the store it was opened on; loaded on first use, as is its library. */
  private searcher: { store: Store; index: Promise<LocalSearch> } | null = null;
  /** The parts server events are handed to (see dispatch.ts). */
  private readonly parts: DispatchParts;

  constructor(options: ChatClientOptions) {
    const events = new Emitter();
    const session = new Session(options, () => pipeline.forget(), (prompt) => events.emit('link-code', prompt), (status) => events.emit('link-status', status));
    const conversations = new Conversations(session);
    const authentication = new Authentication(session.api, {
      id: () => session.user?.id ?? null,
      trustedAmong: (devices) => session.ownDevices.trustedAmong(devices),
      trustedInHistory: (device, removed) => session.ownDevices.trustedInHistory(device, removed),
    }, {
      pastDevice: (userId, deviceId) => void this.verification().then((v) => v.notePastDevice(userId, deviceId)).catch(() => {}),
      listed: (userId, devices, fetchedAt) => void this.verification().then((v) => v.observe(userId, devices, fetchedAt)).catch(() => {}),
    });
    const authorizer = new CommitAuthorizer(conversations, authentication);
    const pipeline: Pipeline = new Pipeline(session, (message) => incoming.handle(message));
    const receipts = new Receipts(session);
    const ticks = new Ticks(session, conversations, events);
    // How far a conversation is processed, read in its turn (cursorOf is the pipeline's to call).
    const changes = new Changes(session, conversations, events, (conversationId) => pipeline.serial(conversationId, () => pipeline.cursorOf(conversationId)), options.now);
    const expiry = new Expiry(session, events, options.now);
    const incoming: Incoming = new Incoming({ session, pipeline, conversations, receipts, ticks, events, authentication, authorizer, changes, expiry });
    const groups = new Groups(session, pipeline, conversations, events, authentication, (userIds) => {
      void this.verification().then((v) => v.refresh(userIds)).catch(() => {});
    });
    // Before a message goes out in a group, people who left are taken out of it (see Groups).
    const outbox = new Outbox(session, pipeline, ticks, events, {
      beforeSending: (conversationId) => groups.removeDepartedBeforeSending(conversationId),
      timerOf: (conversationId) => changes.timer(conversationId),
      onExpiring: () => void expiry.schedule().catch(() => {}),
      ...(options.now ? { now: options.now } : {}),
    });
    this.options = options;
    this.api = session.api;
    this.notifications = new Notifications(this.api);
    this.session = session;
    this.events = events;
    this.conversationList = conversations;
    this.pipeline = pipeline;
    this.receipts = receipts;
    this.groups = groups;
    this.outbox = outbox;
    this.changes = changes;
    this.expiry = expiry;
    this.parts = {
      session, pipeline, receipts, ticks, groups, outbox, conversations, changes, events, verification: () => this.verification(),
      readDirectory: (userIds) => authentication.prefetch(userIds, { fresh: true }),
    };
    session.ownLeaves = () => {
      const mine: Record<string, string> = {};
      for (const state of pipeline.groups.values()) {
        for (const leaf of leaves(state)) if (leaf.userId === session.user?.id) mine[leaf.deviceId] = toBase64(leaf.signaturePublicKey);
      }
      return mine;
    };
  }

  on<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  get user(): Account | null {
    return this.session.user;
  }

  /** Sets who may add this user to groups (everyone, people who wrote to them, nobody). */
  async setGroupAdds(groupAdds: GroupAdds): Promise<Account> {
    const account = await this.api.updateAccount(groupAdds);
    this.session.user = account;
    // What a start without the server shows (see startOffline).
    await this.session.store?.put('session', { token: this.api.token, user: account });
    return account;
  }

  get deviceId(): string {
    return this.session.deviceId;
  }

  // ---- session ------------------------------------------------------------------------------

  async register(phone: string, displayName: string, password: string): Promise<void> {
    await this.start(await this.api.register(phone, displayName, password));
  }

  /**
   * Signs in. On a browser that is not yet one of the account's devices, when the account has
   * one, this waits until a device of the account approves it: the code to type there comes as
   * `link-code` events; `resetDevices` starts over instead, `cancelLink` gives up (the promise
   * then rejects with LinkFailure `cancelled`).
   */
  async login(phone: string, password: string): Promise<void> {
    await this.start(await this.api.login(phone, password));
  }

  /** Whether `login` is waiting for another device to approve this browser. */
  get waitingForLink(): boolean {
    return this.session.linkWait !== null;
  }

  /** Stops waiting to be linked: `login` rejects with LinkFailure `cancelled`, and the request is
   * withdrawn. The session the password opened stays until `logout`. */
  async cancelLink(): Promise<void> {
    this.session.linkWait?.cancel();
  }

  /**
   * Every device is lost: makes this browser the account's only device, with the password
   * entered again. All other devices are removed from the account and, by the members who hear
   * of it, from every group; every other session ends; contacts see this user's devices change.
   * Only while `login` waits to be linked.
   */
  resetDevices(password: string): Promise<void> {
    const wait = this.session.linkWait;
    if (!wait) return Promise.reject(new Error('This browser is not waiting to be linked.'));
    return wait.reset(password);
  }

  /**
   * Picks up the session this device's store remembers; false if there is none (or it ended).
   * With the server out of reach it starts offline from the store, so that history stays readable
   * and what is written waits in the outbox, and goes online once the server answers.
   */
  async resume(storeName: string): Promise<boolean> {
    const session = await this.session.remembered(storeName);
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

  private async start(auth: Auth): Promise<void> {
    await this.session.openStore(auth);
    await this.session.topUpKeyPackages(await this.session.ensureDevice());
    await this.loadLocalState();
    this.connect();
  }

  /** Like `start` with the checks that need the server left for when it answers. */
  private async startOffline(auth: Auth): Promise<void> {
    await this.session.openStore(auth);
    await this.session.restoreDevice();
    await this.loadLocalState();
    // Created, not started: it reads as offline, and sends wait for its `ready`.
    this.session.socket ??= this.newSocket();
    void this.goOnlineWhenReachable(0);
  }

  private async goOnlineWhenReachable(failures: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_ONLINE_RETRY_MS, 1000 * 2 ** failures)));
    if (!this.session.store || !this.api.token) return; // signed out meanwhile
    try {
      await this.session.openStore({ token: this.api.token, user: await this.api.me() });
      await this.session.topUpKeyPackages(await this.session.ensureDevice());
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return this.sessionEnded('session-ended');
      return this.goOnlineWhenReachable(failures + 1);
    }
    this.connect();
  }

  /** What this device had when it last ran: group states, and receipts still to be sent. */
  private async loadLocalState(): Promise<void> {
    await this.pipeline.load();
    await this.receipts.load();
    // What disappeared while this device was closed goes before anything is shown.
    await this.expiry.sweep();
  }

  /** Keeps enough one-time KeyPackages (and a last-resort one) on the server for others to add us. */
  topUpKeyPackages(known?: KeyPackageCount): Promise<void> {
    return this.session.topUpKeyPackages(known);
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
    const { socket, device } = this.session;
    const wasRunning = socket?.running ?? false;
    socket?.stop();
    try {
      if (forgetDevice && device) {
        // Revoked by itself: the user's other devices stop trusting it for good, and keep
        // trusting the devices it approved (named in the revocation).
        const keep = await this.approvedBy(device.deviceId);
        const credential = toBase64(device.identity.publicKey);
        const revocation = await sign(device.identity, revocationMessage(device.identity.userId, device.deviceId, credential, keep));
        await this.api.deleteDevice(device.deviceId, undefined, toBase64(revocation), keep);
      }
      if (everywhere) await this.api.logoutEverywhere();
    } catch (e) {
      if (wasRunning) this.session.socket?.start();
      throw e;
    }
    if (!everywhere) await this.api.logout().catch(() => {});
    this.expiry.stop();
    this.closeSearch();
    await this.session.endLocally(forgetDevice);
  }

  /** The server ended the session: the same as logging out here, without asking the server. */
  private async sessionEnded(why: SessionEndReason): Promise<void> {
    // A removed device's keys and group states are of no further use to anyone.
    this.expiry.stop();
    this.closeSearch();
    await this.session.endLocally(why === 'device-removed').catch(() => {});
    this.events.emit('signed-out', why);
  }

  // ---- this user's devices -------------------------------------------------------------------

  /** This user's devices as the directory lists them, oldest first, each marked approved or not. */
  async ownDevices(): Promise<OwnDevice[]> {
    const { devices } = await this.api.devicesOf(this.session.me);
    const approved = new Set((await this.session.ownDevices.trustedAmong(devices)).map((d) => d.id));
    return devices.map((d) => ({ ...d, current: d.id === this.deviceId, approved: approved.has(d.id) }));
  }

  /** Browsers waiting to be linked to this account, oldest first. */
  async pendingLinks(): Promise<PendingLinkView[]> {
    return (await this.api.pendingLinks()).links;
  }

  /**
   * Approves the browser that shows this code: only the request the code verifies (see
   * linking.ts), so a browser the server slipped in, or a key it swapped, is not approved.
   * Resolves with the new device; it joins this user's conversations once it is set up.
   */
  /**
   * The browser that shows this code, without approving it: for the app to ask "Link <label>?"
   * before `approveLink`. Throws LinkFailure `no-match` if no waiting browser shows it.
   */
  async findLink(typedCode: string): Promise<PendingLinkView> {
    const code = normalizeLinkCode(typedCode);
    if (!code) throw new LinkFailure('no-match', 'A link code has 12 letters and digits, like 7K3D-QX9M-2PAF.');
    const link = await requestFor(code, this.session.me, await this.pendingLinks());
    if (!link) throw new LinkFailure('no-match', 'No browser is waiting with this code. Check it, or start again on the new browser.');
    return link;
  }

  async approveLink(typedCode: string): Promise<DeviceView> {
    const link = await this.findLink(typedCode);
    const code = normalizeLinkCode(typedCode)!;
    const me = this.session.me;
    // The set passed on is the one brought up to date with the directory now. A request named
    // like a device this one knows is the server's doing (the id is not under the code's MAC).
    const listed = await this.ownDevices();
    if (listed.some((d) => d.id === link.id) || await this.session.ownDevices.knows(link.id)) {
      throw new LinkFailure('no-match', 'That request names one of your devices; it was not approved.');
    }
    const passedOn = { trusted: await this.session.ownDevices.trusted(), revoked: await this.session.ownDevices.revoked() };
    const signature = await sign(this.session.identity, approvalMessage(me, link.id, link.credential));
    const device = await this.api.approveLink(link.id, toBase64(signature), await approverProof(code, me, link, this.deviceId, passedOn));
    // What is trusted is what the code verified, never what the server answers.
    await this.session.ownDevices.trust(link.id, link.credential);
    if (device.id !== link.id || device.credential !== link.credential) {
      throw new LinkFailure('unverified-approval', 'Linking could not be confirmed. Check Linked devices, and remove any device you do not recognise.');
    }
    return device;
  }

  /** Refuses a browser's request to be linked. */
  async declineLink(linkId: string): Promise<void> {
    await this.api.deleteLink(linkId);
  }

  /**
   * Removes another of this user's devices (a lost phone), with the password entered again. The
   * members' devices take it out of every group; it can read nothing sent after that.
   */
  async removeDevice(deviceId: string, password: string): Promise<void> {
    if (deviceId === this.deviceId) throw new Error('To remove this browser, log out and forget it.');
    const device = (await this.api.devicesOf(this.session.me)).devices.find((d) => d.id === deviceId);
    if (!device) throw new ApiError(404, 'not_found', 'You have no device with this id.');
    const keep = await this.approvedBy(deviceId);
    const revocation = await sign(this.session.identity, revocationMessage(this.session.me, deviceId, device.credential, keep));
    await this.api.deleteDevice(deviceId, password, toBase64(revocation), keep);
    await this.session.ownDevices.revokedHere(deviceId, device.credential, keep);
    void this.groups.removeUnlistedDevices().catch(() => {});
  }

  /** The devices of this user that `deviceId` approved and this device trusts: what a revocation
   * of `deviceId` names as still standing, so that a device away meanwhile keeps trusting them. */
  private async approvedBy(deviceId: string): Promise<string[]> {
    const own = await this.ownDevices();
    return own.filter((d) => d.approved && d.approvedBy === deviceId && d.id !== deviceId).map((d) => d.id);
  }

  // ---- connection ---------------------------------------------------------------------------

  connect(): void {
    this.pipeline.paused = false;
    this.session.socket ??= this.newSocket();
    this.session.socket.start();
  }

  disconnect(): void {
    // Nothing is retried while disconnected (a retry would only fail, and its timers would keep
    // a process alive); the sync at the next connect brings back whatever waits.
    this.pipeline.paused = true;
    this.session.socket?.stop();
  }

  get connection(): ConnectionState {
    return this.session.socket?.state ?? 'closed';
  }

  /** Connects a `paused` page again: it becomes one of this user's connections, and the oldest
   * elsewhere gives way. */
  useHere(): void {
    this.session.socket?.resumeHere();
  }

  private newSocket(): RealtimeSocket {
    return new RealtimeSocket({
      url: this.options.wsUrl ?? wsUrlFor(this.options.baseUrl),
      webSocket: this.options.webSocket,
      token: () => this.api.token,
      deviceId: () => this.deviceId,
      onEvent: (event) => onServerEvent(this.parts, event),
      onState: (state) => this.events.emit('connection', state),
      onEnded: (why) => void this.sessionEnded(why),
      // A refused reconnect looks like a lost connection in a browser: the REST API tells a
      // session that ended (401) from a server that is away, so this does not retry for ever.
      onHandshakeFailed: () => {
        void this.api.me().catch((e: unknown) => {
          if (e instanceof ApiError && e.status === 401 && this.session.store) void this.sessionEnded('session-ended');
        });
      },
      onReady: () => onReady(this.parts),
    });
  }

  // ---- conversations and groups -------------------------------------------------------------

  /**
   * Takes a stored message from anywhere (the socket, `sync`, a REST page) into its
   * conversation's order; duplicates are ignored.
   */
  ingest(message: MessageView): void {
    this.pipeline.ingest(message);
  }

  /**
   * The conversations this user is in, as the server lists them; while it is out of reach, as it
   * last listed them, so that history stays reachable offline.
   */
  conversations(): Promise<Conversation[]> {
    return this.conversationList.list();
  }

  /** Opens (creating if needed) the 1:1 conversation with a user, ready to send. */
  openDirect(userId: string): Promise<Conversation> {
    return this.groups.openDirect(userId);
  }

  /** Creates a group with these users and sets up its encryption. */
  createGroup(title: string, memberIds: string[]): Promise<Conversation> {
    return this.groups.createGroup(title, memberIds);
  }

  hasGroup(conversationId: string): boolean {
    return this.pipeline.groups.has(conversationId);
  }

  /** The devices in the conversation's MLS group as this device holds it (empty if it holds none):
   * who can read what is sent there from now on. */
  devicesInGroup(conversationId: string): { userId: string; deviceId: string }[] {
    const state = this.pipeline.groups.get(conversationId);
    return state ? leaves(state).map(({ userId, deviceId }) => ({ userId, deviceId })) : [];
  }

  addMembers(conversationId: string, userIds: string[]): Promise<void> {
    return this.groups.addMembers(conversationId, userIds);
  }

  removeMembers(conversationId: string, userIds: string[]): Promise<void> {
    return this.groups.removeMembers(conversationId, userIds);
  }

  /** This user leaves a group, for all their devices (see Groups.leave). */
  leaveGroup(conversationId: string): Promise<void> {
    return this.groups.leave(conversationId);
  }

  /** Adds a new device of this user to every group this device is in. */
  addOwnDevice(deviceId: string): Promise<void> {
    return this.groups.addOwnDevice(deviceId);
  }

  /** Adds members who have no device in a group's MLS tree (see Groups.healGroups). */
  healGroups(): Promise<void> {
    return this.groups.healGroups();
  }

  /** Removes every device the directory no longer lists (anyone's lost or signed-out one) from
   * every group this device is in; done on its own at each connect and when a removal is heard of. */
  removeUnlistedDevices(): Promise<void> {
    return this.groups.removeUnlistedDevices();
  }

  // ---- verification --------------------------------------------------------------------------

  private verification(): Promise<Verification> {
    this.verifier ??= import('./verification.ts').then(({ Verification }) => new Verification(this.session, this.conversationList, this.events, MAX_GROUP_MEMBERS));
    return this.verifier;
  }

  /**
   * The safety number with a contact: 60 digits over both users' devices as the directory lists
   * them now, the same on both screens when the directory is honest (see verification.ts).
   */
  safetyNumberWith(userId: string): Promise<ContactSafetyNumber> {
    return this.verification().then((v) => v.safetyNumberWith(userId));
  }

  /** Marks the contact verified over the number compared; throws if it changed since shown. */
  markVerified(userId: string, digits: string): Promise<void> {
    return this.verification().then((v) => v.markVerified(userId, digits));
  }

  clearVerified(userId: string): Promise<void> {
    return this.verification().then((v) => v.clearVerified(userId));
  }

  /** Whether the contact is marked verified and neither user's devices changed since. */
  isVerified(userId: string): Promise<boolean> {
    return this.verification().then((v) => v.isVerified(userId));
  }

  /** These users' devices as the directory lists them, each with a short fingerprint of its key. */
  devicesOf(userIds: string[]): Promise<Map<string, DeviceFingerprint[]>> {
    return this.verification().then((v) => v.devicesOf(userIds));
  }

  /** Lines this device wrote into the conversation itself ("Ana's devices changed"), oldest first. */
  notices(conversationId: string): Promise<Notice[]> {
    return this.verification().then((v) => v.notices(conversationId));
  }

  /**
   * A fingerprint of every device in the group's tree, to compare with the other members: it
   * shows that members see the same devices, not whose they are (see safetyNumberWith).
   */
  async safetyNumber(conversationId: string): Promise<string> {
    const state = this.pipeline.groups.get(conversationId);
    if (!state) throw new Error('This device is not in that conversation.');
    return safetyNumber(state);
  }

  epoch(conversationId: string): number | null {
    const state = this.pipeline.groups.get(conversationId);
    return state ? epochOf(state) : null;
  }

  // ---- messages -----------------------------------------------------------------------------

  /**
   * Encrypts and sends a text; resolves once the server has stored it (status `sent`), or
   * rejects with a SendFailure. It is in this device's outbox from the first moment. With
   * `inReplyTo` (a message's content id), it is a reply to that message.
   */
  sendText(conversationId: string, text: string, options: { inReplyTo?: string } = {}): Promise<LocalMessage> {
    return this.outbox.sendText(conversationId, text, options);
  }

  /**
   * Sends files with a caption: each is encrypted here with a key of its own, uploaded as
   * ciphertext (progress in bytes over all of them; `signal` cancels, and what was uploaded is
   * deleted), then named with its key and hash inside the MLS message. An image's `preview`
   * (see `makeImagePreview`) travels inside the message, to show before the file downloads.
   */
  async sendFiles(conversationId: string, files: OutgoingFile[], { caption = '', inReplyTo, onProgress, signal }: {
    caption?: string; inReplyTo?: string; onProgress?: (progress: Progress) => void; signal?: AbortSignal;
  } = {}): Promise<LocalMessage> {
    if (files.length === 0 || files.length > MAX_ATTACHMENTS_PER_MESSAGE) throw new Error(`Send 1 to ${MAX_ATTACHMENTS_PER_MESSAGE} files at a time.`);
    // Loaded when first needed: sending text does not wait for it.
    const { encryptFile, externalPart, uploadAttachment } = await import('./attachments.ts');
    const encrypted = await Promise.all(files.map((f) => encryptFile(f.bytes, { mediaType: f.contentType, filename: f.filename })));
    // The message naming them must fit in one MLS message: found out before anything is uploaded.
    const previewOf = (preview?: ImagePreview) => preview && { preview: { contentType: preview.mediaType, width: preview.width, height: preview.height, data: toBase64(preview.bytes) } };
    const planned = textBody(caption, { attachments: encrypted.map((e, i) => ({ ...externalPart(e, `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`), ...previewOf(files[i].preview) })) });
    if (new TextEncoder().encode(planned).length > MAX_MESSAGE_BODY_BYTES) {
      throw new Error('These files, their names and previews are too much for one message: send fewer at a time.');
    }
    const total = encrypted.reduce((sum, e) => sum + e.ciphertext.length, 0);
    let done = 0;
    const attached: AttachedFile[] = [];
    try {
      for (const [i, file] of encrypted.entries()) {
        const id = await uploadAttachment(this.api, conversationId, file.ciphertext, {
          signal, onProgress: (p) => onProgress?.({ loaded: done + p.loaded, total }),
        });
        done += file.ciphertext.length;
        attached.push({ ...externalPart(file, id), ...previewOf(files[i].preview) });
      }
    } catch (e) {
      // What was uploaded is of no use without its message.
      await Promise.all(attached.map((a) => this.api.cancelAttachment(a.url).catch(() => {})));
      throw e;
    }
    return this.outbox.sendAttached(conversationId, caption, attached, inReplyTo ? { inReplyTo } : {});
  }

  /** Downloads a file a message carries, checks its hash and decrypts it (AttachmentFailure otherwise). */
  async downloadFile(file: AttachedFile, options: { onProgress?: (progress: Progress) => void; signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const { downloadAttachment } = await import('./attachments.ts');
    return downloadAttachment(this.api, file, options);
  }

  /** A message of this conversation by its content id (what a reply names), if this device holds it. */
  messageByContent(conversationId: string, contentId: string): Promise<LocalMessage | undefined> {
    return this.session.db.messageByContent(conversationId, contentId);
  }

  /**
   * Reacts to a message with an emoji (one reaction per person: another replaces it), or with ''
   * takes this user's reaction back. Shown on every device once the server has stored it.
   */
  async react(messageKey: string, emoji: string): Promise<void> {
    const target = await this.changeable(messageKey);
    await this.outbox.sendChange(target.conversationId, { kind: 'reaction', target: target.contentId!, emoji });
  }

  /** Changes the text of a message this user sent; every device shows the new text as edited. */
  async edit(messageKey: string, text: string): Promise<void> {
    const target = await this.changeable(messageKey);
    if (target.senderId !== this.session.me) throw new Error('Only its sender edits a message.');
    await this.outbox.sendChange(target.conversationId, { kind: 'edit', target: target.contentId!, text });
  }

  /**
   * Deletes a message for everyone: its sender may, and in a group an owner or admin. Every
   * device replaces it with "deleted", and the server deletes its ciphertext (asked again at the
   * next connect if it cannot be reached now).
   */
  async deleteForEveryone(messageKey: string): Promise<void> {
    const target = await this.changeable(messageKey);
    if (target.senderId !== this.session.me) {
      const conversation = this.conversationList.get(target.conversationId) ?? (await this.conversationList.current(target.conversationId));
      const role = conversation?.kind === 'group' ? conversation.members.find((m) => m.userId === this.session.me)?.role : undefined;
      if (role !== 'owner' && role !== 'admin') throw new Error("Only its sender, or a group's owner or admin, deletes a message for everyone.");
    }
    // Recorded before anything is sent: the server is asked even if the page closes meanwhile.
    await this.changes.noteServerDeletion(target.conversationId, target.id);
    await this.outbox.sendChange(target.conversationId, { kind: 'retract', target: target.contentId!, messageId: target.id });
    await this.changes.tellServer();
  }

  /** Deletes a message from this device only. */
  async deleteForMe(messageKey: string): Promise<void> {
    const message = await this.session.db.message(messageKey);
    if (!message) return;
    if (message.status === 'sending') throw new Error('A message still being sent cannot be deleted yet.');
    await this.session.db.deleteMessage(messageKey);
    if (message.contentId) await this.changes.forgetChangesOf(message.conversationId, message.contentId);
    this.events.emit('removed', { conversationId: message.conversationId, key: messageKey });
  }

  /**
   * Sets the conversation's disappearing messages (seconds, one of DISAPPEAR_AFTER_CHOICES; null:
   * off): any member of a 1:1, an owner or admin of a group. Messages sent from then on
   * disappear from every device, and from the server, that long after they were sent; the
   * members see who set it.
   */
  async setDisappearingTimer(conversationId: string, seconds: number | null): Promise<void> {
    // Refused here as every member's device would refuse it (the server refuses it too).
    const conversation = this.conversationList.get(conversationId) ?? (await this.conversationList.current(conversationId));
    const role = conversation?.members.find((m) => m.userId === this.session.me)?.role;
    if (conversation?.kind === 'group' && role !== 'owner' && role !== 'admin') {
      throw new Error('In a group, only its owner and admins set disappearing messages.');
    }
    // The members first, inside MLS; then the server, which deletes the ciphertext on time (told
    // again at the next connect if it cannot be now).
    await this.outbox.sendChange(conversationId, { kind: 'timer', seconds });
    await this.changes.noteServerTimer(conversationId, seconds);
    await this.changes.tellServer();
  }

  /** The conversation's disappearing-messages timer in seconds (null: off). */
  disappearingTimer(conversationId: string): Promise<number | null> {
    return this.changes.timer(conversationId);
  }

  /** Deletes the messages whose time has come (done on its own; a test that moves the clock on calls it). */
  sweepExpired(): Promise<void> {
    return this.expiry.sweep();
  }

  /** A message this device holds and may change: sent (the server has it) and not deleted. */
  private async changeable(messageKey: string): Promise<LocalMessage> {
    const message = await this.session.db.message(messageKey);
    if (!message?.contentId || message.change || message.deleted || message.seq === UNSENT_SEQ || message.unsupported) {
      throw new Error('That message cannot be changed (not sent yet, deleted, or not a message).');
    }
    return message;
  }

  /** Sends a `failed` message again, under the same clientMsgId. */
  retry(messageKey: string): Promise<LocalMessage> {
    return this.outbox.retry(messageKey);
  }

  /** Decrypted history from this device's store, oldest first; page upward with `beforeSeq`. */
  history(conversationId: string, { beforeSeq = UNSENT_SEQ + 1, limit = 50 } = {}): Promise<LocalMessage[]> {
    return this.session.db.history(conversationId, beforeSeq, limit);
  }

  // ---- search ---------------------------------------------------------------------------------

  /**
   * Searches this device's history (every conversation, or `conversationId`'s): the messages whose
   * text has every word of `query`, as typed or as the start of a longer word (case and accents
   * aside), then, if those are fewer than `limit`, with a typo forgiven. Those without a typo
   * come first, each group newest first; each hit has a snippet with the matching words marked.
   * Of a long query only the first ten words are looked for (see search.ts, MAX_QUERY_TERMS);
   * `signal` calls a search off once a newer one supersedes it.
   * Runs on this device only: neither the query nor the index goes anywhere (see search.ts).
   */
  async search(query: string, options: SearchOptions = {}): Promise<SearchHit[]> {
    return (await this.searchIndex()).search(query, options);
  }

  /** Loads the search index ahead of a first search (building it, the first time, from the
   * messages this device holds); `search` does it when needed otherwise. */
  async prepareSearch(): Promise<void> {
    await (await this.searchIndex()).ready;
  }

  private searchIndex(): Promise<LocalSearch> {
    const store = this.session.db;
    // A store replaced (this device set up anew) or reopened (signed in again) gets its own index.
    if (this.searcher?.store !== store) {
      this.closeSearch();
      const searcher: { store: Store; index: Promise<LocalSearch> } = {
        store,
        index: import('./search.ts').then(({ LocalSearch }) => {
          const index = LocalSearch.open(store);
          // An index that could not load (a read of the store that failed) is not kept: the next
          // search loads it again, rather than fail until a reload. Told first, before any search
          // waiting on it, so that the search after a failed one finds it gone.
          index.ready.catch(() => {
            if (this.searcher === searcher) this.closeSearch();
          });
          return index;
        }),
      };
      this.searcher = searcher;
      // Its code out of reach (offline, not cached yet): tried again at the next search too.
      searcher.index.catch(() => {
        if (this.searcher === searcher) this.searcher = null;
      });
    }
    return this.searcher.index;
  }

  private closeSearch(): void {
    void this.searcher?.index.then((index) => index.close()).catch(() => {});
    this.searcher = null;
  }

  /**
   * The stretch of a conversation around the message at `seq` (a search hit's, say), to show it
   * in place: up to `before` messages older and `after` newer. Everything before a message a
   * device holds is in its store already (each conversation is processed in seq order, from
   * the device's join on), so this reads the store; a `seq` this device has not reached yet is
   * first caught up from the server's pages (nothing is asked when it has).
   */
  async messagesAround(conversationId: string, seq: number, { before = 25, after = 25 } = {}): Promise<Neighbourhood> {
    if (seq !== UNSENT_SEQ && seq > (await this.pipeline.cursorOf(conversationId).catch(() => Infinity))) {
      await this.pipeline.catchUp(conversationId).catch(() => {});
    }
    const db = this.session.db;
    const [older, newer] = await Promise.all([db.history(conversationId, seq + 1, before + 2), db.historyAfter(conversationId, seq, after + 1)]);
    // `older` holds the message itself when it is there, and one more than asked for to tell if
    // there are more.
    const itself = older.at(-1)?.seq === seq ? 1 : 0;
    const shownOlder = older.slice(Math.max(0, older.length - before - itself));
    return {
      messages: [...shownOlder, ...newer.slice(0, after)],
      hasOlder: older.length > before + itself,
      hasNewer: newer.length > after,
    };
  }

  /** Messages that arrived but could not be trusted, to show as errors. */
  problems(conversationId: string): Promise<Problem[]> {
    return this.session.db.problems(conversationId);
  }

  markRead(messageId: string): void {
    this.receipts.send(messageId, 'read');
  }

  setTyping(conversationId: string, on: boolean): void {
    this.session.socket?.send({ type: 'typing', conversationId, on });
  }

  /** Catches a conversation up from the server's pages (e.g. before a socket is open). */
  catchUp(conversationId: string): Promise<void> {
    return this.pipeline.catchUp(conversationId);
  }

  /** Resolves when everything received so far in the conversation has been processed. */
  settled(conversationId: string): Promise<void> {
    return this.pipeline.settled(conversationId);
  }
}
