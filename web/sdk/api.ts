// The REST half of the server's API (src/openapi.json describes it). Every type that crosses the
// wire is generated from the server's Rust types into ./wire/; only how the SDK hands them on is
// declared here. Every failure is an ApiError carrying the server's { error: { code, message } },
// so callers can show the message and branch on the code.

import type {
  Account, AuditEntry, AuthResponse, ConversationView, ErrorBody, GroupAdds, KeyPackageCount, MessageView, Page, Routes, UserSummary,
} from './wire/index.ts';

export type { Account, AuditEntry, AuthResponse, GroupAdds, KeyPackageCount, MessageView, Page, UserSummary };

/** A REST route by its generated key, `METHOD /template`. */
export type Route = keyof Routes;
/** What a call to a route takes: its path parameters, query and body, as the server reads them. */
export type RouteInput<R extends Route> = Omit<Routes[R], 'response'>;
/** What the server answers a route with on success (null for an empty answer). */
export type RouteResponse<R extends Route> = Routes[R]['response'];
type Query<R extends Route> = NonNullable<Routes[R]['query']>;

/**
 * A conversation as the SDK hands it to the app: the server's view, and what only this device
 * knows about it.
 */
export type Conversation = ConversationView & {
  /** This user is no longer in the group. What this device decrypted while a member stays
   * readable; nothing new arrives. */
  left?: boolean;
  /** They left it themselves (rather than being removed). */
  leftBySelf?: boolean;
};

/** What a single call may take besides its input. */
export interface CallOptions {
  /** Aborts the request (an upload or download the user cancelled). */
  signal?: AbortSignal;
}

export interface ApiOptions {
  /** Makes the HTTP requests; the global `fetch` unless given (e.g. to log, or to check responses in tests). */
  fetch?: typeof fetch;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  /** The server could not be reached or could not answer: not the request's fault, worth another try later. */
  get unavailable(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

export class Api {
  readonly baseUrl: string;
  token: string | null = null;
  private readonly fetch: typeof fetch;

  constructor(baseUrl: string, options: ApiOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    // Called as a plain function, never as a method of this object: a browser's window.fetch refuses
    // another `this` ("Illegal invocation"). The global one is looked up at each call.
    const injected = options.fetch;
    this.fetch = injected ? (input, init) => injected(input, init) : (input, init) => globalThis.fetch(input, init);
  }

  /**
   * Calls a route by its key in the generated route map, which gives its path parameters, query,
   * body and answer: a method here cannot send or promise another type than the server's.
   */
  async call<R extends Route>(route: R, input: RouteInput<R>, options: CallOptions = {}): Promise<RouteResponse<R>> {
    const res = await this.send(route, input, options);
    const text = await res.text();
    return (text ? JSON.parse(text) : null) as RouteResponse<R>;
  }

  /**
   * Calls a route whose body or answer is raw bytes (an attachment's part or ciphertext) and hands
   * back the response as it is, its body unread, so the caller can stream it. A failure throws
   * ApiError like `call`.
   */
  async callRaw<R extends Route>(route: R, input: RouteInput<R>, options: CallOptions = {}): Promise<Response> {
    return this.send(route, input, options);
  }

  /** Sends the request of a route; throws ApiError on a failure, and returns a success unread. */
  private async send<R extends Route>(route: R, input: RouteInput<R>, { signal }: CallOptions): Promise<Response> {
    const [method, template] = route.split(' ');
    // Every entry has this shape; the route's own types were checked where it was called.
    const { params = {}, query = {}, body } = input as {
      params?: Record<string, string | number>;
      query?: Record<string, string | number | undefined>;
      body?: unknown;
    };
    const path = template.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name]));
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const bytes = body instanceof Uint8Array;
    if (body !== undefined) headers['content-type'] = bytes ? 'application/octet-stream' : 'application/json';
    const sent = body === undefined ? undefined : bytes ? body : JSON.stringify(body);
    let res: Response;
    try {
      res = await this.fetch(this.baseUrl + path + search(query), { method, headers, body: sent as BodyInit | undefined, signal });
    } catch (e) {
      // A cancel is the caller's own doing, not the server's absence: it goes up as it is.
      if (signal?.aborted) throw signal.reason;
      throw new ApiError(0, 'network', `The server cannot be reached (${(e as Error).message}).`);
    }
    if (!res.ok) {
      const text = await res.text();
      const json = (() => { try { return text ? JSON.parse(text) as ErrorBody : null; } catch { return null; } })();
      const error = json?.error ?? { code: 'http_' + res.status, message: res.statusText };
      throw new ApiError(res.status, error.code, error.message);
    }
    return res;
  }

  register(phone: string, displayName: string, password: string) {
    return this.call('POST /auth/register', { body: { phone, displayName, password } });
  }

  login(phone: string, password: string) {
    return this.call('POST /auth/login', { body: { phone, password } });
  }

  /** Revokes this session's token (and closes its sockets). */
  logout() {
    return this.call('POST /auth/logout', {});
  }

  logoutEverywhere() {
    return this.call('POST /auth/logout-all', {});
  }

  me() {
    return this.call('GET /auth/me', {});
  }

  /** Changes the account's settings: who may add this user to groups. */
  updateAccount(groupAdds: GroupAdds) {
    return this.call('PATCH /auth/me', { body: { groupAdds } });
  }

  users(query: Query<'GET /users'> = {}) {
    return this.call('GET /users', { query });
  }

  /** Leaves a group; `signature`: this device's departure (see departures.ts). */
  leaveGroup(conversationId: string, signature: string) {
    return this.call('POST /conversations/:id/leave', { params: { id: conversationId }, body: { signature } });
  }

  registerDevice(label: string, credential: string) {
    return this.call('POST /devices', { body: { label, credential } });
  }

  devicesOf(userId: string) {
    return this.call('GET /users/:id/devices', { params: { id: userId } });
  }

  /** Up to MAX_GROUP_MEMBERS users' devices in one request; users that do not exist are left out. */
  /** With `includeRemoved`, each user's removed devices too (see UserDevices.removed). */
  lookupDevices(userIds: string[], { includeRemoved = false } = {}) {
    return this.call('POST /devices/lookup', { body: includeRemoved ? { userIds, includeRemoved } : { userIds } });
  }

  /** Removes a device: this session's own freely, another of the account's with the password. */
  /** `revocation`: this device's signature revoking the removed one, naming `keep` (see linking.ts). */
  deleteDevice(deviceId: string, password?: string, revocation?: string, keep?: string[]) {
    const body = password === undefined && revocation === undefined ? undefined : { password, revocation, keep };
    return this.call('DELETE /devices/:id', { params: { id: deviceId }, body });
  }

  /** Binds this session to a device it runs on, by the device's signature over the session (see `deviceProof`). */
  requestLink(label: string, credential: string, codeMac: string) {
    return this.call('POST /devices/links', { body: { label, credential, codeMac } });
  }

  pendingLinks() {
    return this.call('GET /devices/links', {});
  }

  linkStatus(linkId: string) {
    return this.call('GET /devices/links/:id', { params: { id: linkId } });
  }

  approveLink(linkId: string, signature: string, approverProof: string) {
    return this.call('POST /devices/links/:id/approve', { params: { id: linkId }, body: { signature, approverProof } });
  }

  deleteLink(linkId: string) {
    return this.call('DELETE /devices/links/:id', { params: { id: linkId } });
  }

  resetDevices(label: string, credential: string, password: string) {
    return this.call('POST /devices/reset', { body: { label, credential, password } });
  }

  bindDevice(deviceId: string, signature: string) {
    return this.call('POST /devices/:id/bind', { params: { id: deviceId }, body: { signature } });
  }

  /** The session this token names (its `sid`): what a device signs to bind the session to itself. */
  sessionId(): string {
    const payload = this.token?.split('.')[1];
    const claims = payload ? JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { sid?: unknown } : {};
    if (typeof claims.sid !== 'string') throw new Error('The session token names no session.');
    return claims.sid;
  }

  uploadKeyPackages(deviceId: string, keyPackages: string[], lastResort?: string) {
    return this.call('POST /devices/:id/key-packages', { params: { id: deviceId }, body: { keyPackages, lastResort } });
  }

  keyPackageCount(deviceId: string) {
    return this.call('GET /devices/:id/key-packages/count', { params: { id: deviceId } });
  }

  claimKeyPackages(userId: string, deviceIds?: string[]) {
    return this.call('POST /users/:id/key-packages/claim', { params: { id: userId }, body: deviceIds ? { deviceIds } : {} });
  }

  conversations(cursor?: string) {
    return this.call('GET /conversations', { query: { cursor, limit: 100 } });
  }

  /** The 1:1 conversation with a user (created on first use), or a conversation by its id. */
  conversation(peerOrConversationId: string) {
    return this.call('GET /conversations/:peerId', { params: { peerId: peerOrConversationId } });
  }

  createGroup(title: string, memberIds: string[]) {
    return this.call('POST /conversations', { body: { title, memberIds } });
  }

  messages(conversationId: string, query: Query<'GET /conversations/:peerId/messages'> = {}) {
    return this.call('GET /conversations/:peerId/messages', { params: { peerId: conversationId }, query });
  }

  /** Sets the conversation's disappearing-messages timer on the server (null: off). */
  setDisappearingTimer(conversationId: string, seconds: number | null) {
    return this.call('PATCH /conversations/:peerId', { params: { peerId: conversationId }, body: { disappearAfterSeconds: seconds } });
  }

  /** Deletes a message's ciphertext on the server, for everyone (its sender, or a group's owner or admin). */
  deleteMessage(conversationId: string, messageId: string) {
    return this.call('DELETE /conversations/:id/messages/:messageId', { params: { id: conversationId, messageId } });
  }

  /** Reserves an upload of `size` bytes of ciphertext for a conversation (see attachments.ts). */
  createAttachment(conversationId: string, size: number, options?: CallOptions) {
    return this.call('POST /conversations/:id/attachments', { params: { id: conversationId }, body: { size } }, options);
  }

  /** Sends part `n` (from 1) of an upload: exactly its size. */
  async uploadAttachmentPart(attachmentId: string, n: number, bytes: Uint8Array, options?: CallOptions): Promise<void> {
    await this.callRaw('PUT /attachments/:id/parts/:n', { params: { id: attachmentId, n }, body: bytes }, options);
  }

  completeAttachment(attachmentId: string, options?: CallOptions) {
    return this.call('POST /attachments/:id/complete', { params: { id: attachmentId } }, options);
  }

  /** Cancels an upload no message refers to: its bytes go at once. */
  cancelAttachment(attachmentId: string) {
    return this.call('DELETE /attachments/:id', { params: { id: attachmentId } });
  }

  /** An upload's ciphertext, as a response whose body the caller streams. */
  downloadAttachment(attachmentId: string, options?: CallOptions): Promise<Response> {
    return this.callRaw('GET /attachments/:id', { params: { id: attachmentId } }, options);
  }
}

export class AdminApi {
  private readonly api: Api;
  constructor(api: Api) {
    this.api = api;
  }

  users(query: Query<'GET /admin/users'> = {}) {
    return this.api.call('GET /admin/users', { query });
  }

  deleteUser(userId: string) {
    return this.api.call('DELETE /admin/users/:id', { params: { id: userId } });
  }

  audit(query: Query<'GET /admin/audit'> = {}) {
    return this.api.call('GET /admin/audit', { query });
  }

  /** Live counts: accounts, accounts online now, messages today, signed-in sessions. */
  stats() {
    return this.api.call('GET /admin/stats', {});
  }
}

function search(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}
