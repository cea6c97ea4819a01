// The REST half of the server's API (src/openapi.json describes it). Every type that crosses the
// wire is generated from the server's Rust types into ./wire/; only how the SDK hands them on is
// declared here. Every failure is an ApiError carrying the server's { error: { code, message } },
// so callers can show the message and branch on the code.

import type {
  Account, AuditEntry, AuthResponse, ClaimRequest, ClaimResponse, ConversationView, CreateGroupRequest, DeviceList,
  DeviceView, ErrorBody, KeyPackageCount, LoginRequest, MessageView, Page, RegisterDeviceRequest, RegisterRequest,
  UploadKeyPackagesRequest, UserSummary,
} from './wire/index.ts';

export type { Account, AuditEntry, AuthResponse, KeyPackageCount, MessageView, Page, UserSummary };

/**
 * A conversation as the SDK hands it to the app: the server's view, and what only this device
 * knows about it.
 */
export type Conversation = ConversationView & {
  /** This user was removed from the group. What this device decrypted while a member stays
   * readable; nothing new arrives. */
  left?: boolean;
};

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
    // Looked up at each call, and not called as a method of this object (browsers refuse that).
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetch(this.baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, 'network', `The server cannot be reached (${(e as Error).message}).`);
    }
    const text = await res.text();
    const json = text ? JSON.parse(text) : null;
    if (!res.ok) {
      const error = (json as ErrorBody | null)?.error ?? { code: 'http_' + res.status, message: res.statusText };
      throw new ApiError(res.status, error.code, error.message);
    }
    return json as T;
  }

  register(phone: string, displayName: string, password: string) {
    return this.request<AuthResponse>('POST', '/auth/register', { phone, displayName, password } satisfies RegisterRequest);
  }

  login(phone: string, password: string) {
    return this.request<AuthResponse>('POST', '/auth/login', { phone, password } satisfies LoginRequest);
  }

  /** Revokes this session's token (and closes its sockets). */
  logout() {
    return this.request<null>('POST', '/auth/logout');
  }

  logoutEverywhere() {
    return this.request<null>('POST', '/auth/logout-all');
  }

  me() {
    return this.request<Account>('GET', '/auth/me');
  }

  users(query: { q?: string; cursor?: string; limit?: number } = {}) {
    return this.request<Page<UserSummary>>('GET', '/users' + search(query));
  }

  registerDevice(label: string, credential: string) {
    return this.request<DeviceView>('POST', '/devices', { label, credential } satisfies RegisterDeviceRequest);
  }

  devicesOf(userId: string) {
    return this.request<DeviceList>('GET', `/users/${userId}/devices`);
  }

  deleteDevice(deviceId: string) {
    return this.request<null>('DELETE', `/devices/${deviceId}`);
  }

  uploadKeyPackages(deviceId: string, keyPackages: string[], lastResort?: string) {
    return this.request<KeyPackageCount>('POST', `/devices/${deviceId}/key-packages`, { keyPackages, lastResort } satisfies UploadKeyPackagesRequest);
  }

  keyPackageCount(deviceId: string) {
    return this.request<KeyPackageCount>('GET', `/devices/${deviceId}/key-packages/count`);
  }

  claimKeyPackages(userId: string, deviceIds?: string[]) {
    const body: ClaimRequest = deviceIds ? { deviceIds } : {};
    return this.request<ClaimResponse>('POST', `/users/${userId}/key-packages/claim`, body);
  }

  conversations(cursor?: string) {
    return this.request<Page<ConversationView>>('GET', '/conversations' + search({ cursor, limit: 100 }));
  }

  /** The 1:1 conversation with a user (created on first use), or a conversation by its id. */
  conversation(peerOrConversationId: string) {
    return this.request<ConversationView>('GET', `/conversations/${peerOrConversationId}`);
  }

  createGroup(title: string, memberIds: string[]) {
    return this.request<ConversationView>('POST', '/conversations', { title, memberIds } satisfies CreateGroupRequest);
  }

  messages(conversationId: string, query: { cursor?: string; limit?: number } = {}) {
    return this.request<Page<MessageView>>('GET', `/conversations/${conversationId}/messages` + search(query));
  }
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
