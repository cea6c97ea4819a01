// The REST half of the server's API (src/openapi.json describes it). Every failure is an
// ApiError carrying the server's { error: { code, message } }, so callers can show the message
// and branch on the code.

export interface UserSummary {
  id: string;
  phone: string;
  displayName: string;
  createdAt: string;
  lastSeenAt: string | null;
  online: boolean;
}

export interface Account extends UserSummary {
  isAdmin: boolean;
}

export interface AuthResponse {
  user: Account;
  token: string;
  expiresAt: string;
}

export interface Device {
  id: string;
  label: string;
  credential: string;
  createdAt: string;
  lastSeenAt: string | null;
}

export interface Member {
  userId: string;
  displayName: string;
  role: 'owner' | 'admin' | 'member';
  joinedAt: string;
  /** The member reads messages after this seq. */
  joinedSeq: number;
}

export interface Conversation {
  id: string;
  kind: 'direct' | 'group';
  title: string | null;
  createdBy: string | null;
  createdAt: string;
  epoch: number;
  lastSeq: number;
  members: Member[];
  /** Set by the SDK, never by the server: this user was removed from the group. What this device
   * decrypted while a member stays readable; nothing new arrives. */
  left?: boolean;
}

export interface KeyPackageCount {
  available: number;
  hasLastResort: boolean;
}

/** A stored message as the server has it: opaque MLS bytes and routing metadata. */
export interface ServerMessage {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  senderDeviceId: string | null;
  kind: 'app' | 'commit' | 'welcome';
  epoch: number;
  ciphertext: string;
  clientMsgId: string;
  createdAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ClaimedKeyPackage {
  deviceId: string;
  keyPackage: string;
  lastResort: boolean;
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

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, 'network', `The server cannot be reached (${(e as Error).message}).`);
    }
    const text = await res.text();
    const json = text ? JSON.parse(text) : null;
    if (!res.ok) {
      const error = json?.error ?? { code: 'http_' + res.status, message: res.statusText };
      throw new ApiError(res.status, error.code, error.message);
    }
    return json as T;
  }

  register(phone: string, displayName: string, password: string) {
    return this.request<AuthResponse>('POST', '/auth/register', { phone, displayName, password });
  }

  login(phone: string, password: string) {
    return this.request<AuthResponse>('POST', '/auth/login', { phone, password });
  }

  /** Revokes this session's token (and closes its sockets). */
  logout() {
    return this.request<null>('POST', '/auth/logout');
  }

  logoutEverywhere() {
    return this.request<null>('POST', '/auth/logout-all');
  }

  me() {
    return this.request<Account & { devices: Device[] }>('GET', '/auth/me');
  }

  users(query: { q?: string; cursor?: string; limit?: number } = {}) {
    return this.request<Page<UserSummary>>('GET', '/users' + search(query));
  }

  registerDevice(label: string, credential: string) {
    return this.request<Device>('POST', '/devices', { label, credential });
  }

  devicesOf(userId: string) {
    return this.request<{ devices: Device[] }>('GET', `/users/${userId}/devices`);
  }

  deleteDevice(deviceId: string) {
    return this.request<null>('DELETE', `/devices/${deviceId}`);
  }

  uploadKeyPackages(deviceId: string, keyPackages: string[], lastResort?: string) {
    return this.request<{ available: number; hasLastResort: boolean }>('POST', `/devices/${deviceId}/key-packages`, { keyPackages, lastResort });
  }

  keyPackageCount(deviceId: string) {
    return this.request<KeyPackageCount>('GET', `/devices/${deviceId}/key-packages/count`);
  }

  claimKeyPackages(userId: string, deviceIds?: string[]) {
    return this.request<{ keyPackages: ClaimedKeyPackage[]; missingDeviceIds: string[] }>(
      'POST', `/users/${userId}/key-packages/claim`, deviceIds ? { deviceIds } : {},
    );
  }

  conversations(cursor?: string) {
    return this.request<Page<Conversation>>('GET', '/conversations' + search({ cursor, limit: 100 }));
  }

  /** The 1:1 conversation with a user (created on first use), or a conversation by its id. */
  conversation(peerOrConversationId: string) {
    return this.request<Conversation>('GET', `/conversations/${peerOrConversationId}`);
  }

  createGroup(title: string, memberIds: string[]) {
    return this.request<Conversation>('POST', '/conversations', { title, memberIds });
  }

  messages(conversationId: string, query: { cursor?: string; limit?: number } = {}) {
    return this.request<Page<ServerMessage>>('GET', `/conversations/${conversationId}/messages` + search(query));
  }
}

export interface AuditEntry {
  id: number;
  actorId: string | null;
  action: string;
  target: string;
  detail: unknown;
  at: string;
}

export class AdminApi {
  private readonly api: Api;
  constructor(api: Api) {
    this.api = api;
  }

  users(query: { q?: string; cursor?: string; limit?: number } = {}) {
    return this.api.request<Page<Account>>('GET', '/admin/users' + search(query));
  }

  deleteUser(userId: string) {
    return this.api.request<null>('DELETE', `/admin/users/${userId}`);
  }

  audit(query: { cursor?: string; limit?: number } = {}) {
    return this.api.request<Page<AuditEntry>>('GET', '/admin/audit' + search(query));
  }
}

function search(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}
