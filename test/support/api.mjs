// A small HTTP client for the black-box tests. Every response to a documented route is checked
// against src/openapi.json (status documented, body matching its schema), so the document stays
// true as long as the tests pass.
import { readFileSync } from 'node:fs';
import { createHmac, randomUUID } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const openapi = JSON.parse(readFileSync(new URL('../../src/openapi.json', import.meta.url), 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'openapi', components: openapi.components });
const validators = new Map();

function templateFor(path) {
  const segments = path.split('?')[0].split('/').filter(Boolean);
  for (const template of Object.keys(openapi.paths)) {
    const parts = template.split('/').filter(Boolean);
    if (parts.length === segments.length && parts.every((p, i) => p.startsWith('{') || p === segments[i])) {
      return template;
    }
  }
  return null;
}

function rewriteRefs(schema) {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'));
}

/**
 * Throws unless `status` and `body` are what the document says `method path` answers. A route or
 * method the document does not have may only be refused (404, 405, or a CORS preflight's answer),
 * which the tests that send them check themselves; with `documentedOnly` it may not be called at all
 * (for a client, like the SDK, that should only ever call documented routes).
 */
export function checkAgainstOpenApi(method, path, status, body, { documentedOnly = false } = {}) {
  const template = templateFor(path);
  const operation = template && openapi.paths[template][method.toLowerCase()];
  if (!operation) {
    const what = template ? `${method} ${template} (the path is documented, not this method)` : `${method} ${path.split('?')[0]}`;
    if (documentedOnly) throw new Error(`${what} is not in the OpenAPI document`);
    const refused = status === 404 || status === 405 || (method === 'OPTIONS' && status < 500);
    if (!refused) throw new Error(`${what} is not in the OpenAPI document, yet answered ${status}`);
    return;
  }
  const response = operation.responses[String(status)];
  if (!response) throw new Error(`${method} ${template} answered ${status}, which the OpenAPI document does not list`);
  // Raw bytes (an attachment's ciphertext): documented as such, and read as bytes.
  if (response.content?.['application/octet-stream']) {
    if (!(body instanceof Uint8Array)) throw new Error(`${method} ${template} ${status} should answer bytes (application/octet-stream)`);
    return;
  }
  const schema = response.content?.['application/json']?.schema;
  if (!schema) {
    if (body !== null) throw new Error(`${method} ${template} ${status} should have no body`);
    return;
  }
  const key = `${method} ${template} ${status}`;
  if (!validators.has(key)) validators.set(key, ajv.compile(rewriteRefs(schema)));
  const validate = validators.get(key);
  if (!validate(body)) {
    throw new Error(`${key} body does not match the OpenAPI schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
  }
}

export class Api {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }

  /** Sends a request; `body` objects are sent as JSON, strings/buffers as they are. */
  async request(method, path, { token, body, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (token) init.headers.authorization = `Bearer ${token}`;
    if (body !== undefined) {
      const raw = typeof body === 'string' || body instanceof Uint8Array;
      init.body = raw ? body : JSON.stringify(body);
      if (!raw || !('content-type' in init.headers)) init.headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.baseUrl + path, init);
    // Bytes stay bytes (a download); everything else the server sends is JSON or nothing.
    const bytes = (res.headers.get('content-type') ?? '').startsWith('application/octet-stream');
    const text = bytes ? null : await res.text();
    const answer = bytes ? new Uint8Array(await res.arrayBuffer()) : text ? JSON.parse(text) : null;
    checkAgainstOpenApi(method, path, res.status, answer);
    return { status: res.status, headers: res.headers, body: answer };
  }

  get(path, options) {
    return this.request('GET', path, options);
  }

  post(path, body, options = {}) {
    return this.request('POST', path, { ...options, body });
  }

  patch(path, body, options = {}) {
    return this.request('PATCH', path, { ...options, body });
  }

  delete(path, options) {
    return this.request('DELETE', path, options);
  }

  /** Sends raw bytes (an attachment's part). */
  put(path, bytes, options = {}) {
    return this.request('PUT', path, { ...options, body: bytes, headers: { 'content-type': 'application/octet-stream', ...options.headers } });
  }

  /** Registers a fresh user and returns `{ user, token, password }`. */
  async register({ phone = randomPhone(), displayName = 'User ' + phone.slice(-4), password = 'correct horse battery' } = {}) {
    const res = await this.post('/auth/register', { phone, displayName, password });
    if (res.status !== 201) throw new Error(`register ${phone}: ${res.status} ${JSON.stringify(res.body)}`);
    return { ...res.body, password };
  }
}

let phoneCounter = 0;
/** A valid E.164 number unlikely to repeat across runs. */
export function randomPhone() {
  phoneCounter += 1;
  const unique = String(Date.now() % 1e6).padStart(6, '0') + String(phoneCounter).padStart(4, '0');
  return `+1555${unique}`;
}

/** An HS256 JWT with arbitrary claims, for forged and expired token tests. */
export function signJwt(claims, secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const unsigned = `${enc(header)}.${enc(claims)}`;
  const signature = header.alg === 'none' ? '' : createHmac('sha256', secret).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

export { randomUUID };
