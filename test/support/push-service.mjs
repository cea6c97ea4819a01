// A push service of the tests' own: browsers' push services (FCM, Mozilla's autopush, Apple's)
// are out of reach here, so a node HTTP server on 127.0.0.1 takes what the Worker posts, and a
// subscription made here decrypts it (RFC 8291 aes128gcm, RFC 8188) as the subscribing browser
// would, checking its VAPID signature (RFC 8292) on the way.
import assert from 'node:assert/strict';
import http from 'node:http';
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto';
import { sleep } from './wait.mjs';

/** Every push body is padded to this size by the Worker, so its length tells the service nothing. */
export const PUSH_BODY_BYTES = 4096;

export class PushService {
  /** Every push received, in order: { path, method, headers, body, at }. */
  received = [];
  /** How the service answers a path (status, delay in ms, a redirect's location); 201 at once unless set. */
  behaviour = new Map();
  origin = '';
  #server;

  async start() {
    this.#server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        this.received.push({ path: req.url, method: req.method, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() });
        const { status = 201, delayMs = 0, location } = this.behaviour.get(req.url) ?? {};
        if (delayMs) await sleep(delayMs);
        res.writeHead(status, location ? { location } : {}).end();
      });
    });
    await new Promise((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${this.#server.address().port}`;
    return this;
  }

  stop() {
    return new Promise((resolve) => this.#server.close(resolve));
  }

  /** A browser's subscription: its P-256 key pair and auth secret, at a path of this service. */
  subscription(name) {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    const path = `/push/${name}-${randomBytes(4).toString('hex')}`;
    return {
      path,
      ecdh,
      auth,
      /** What `PushSubscription.toJSON()` gives. */
      json: { endpoint: this.origin + path, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } },
    };
  }

  /** The pushes received at a subscription's path. */
  pushesTo(sub) {
    return this.received.filter((r) => r.path === sub.path);
  }

  /**
   * A push as its subscriber reads it, after checking its headers and VAPID signature against
   * `serverKey` (the key the Worker publishes) and `subject`: { plaintext, payload }.
   */
  read(push, sub, { serverKey, subject }) {
    assert.equal(push.method, 'POST');
    assert.equal(push.headers['content-encoding'], 'aes128gcm');
    assert.equal(push.body.length, PUSH_BODY_BYTES, `a push body of ${PUSH_BODY_BYTES} bytes`);
    assert.equal(push.headers.ttl, '86400');
    assert.equal(push.headers.urgency, 'normal');
    checkVapid(push.headers, serverKey, this.origin, subject);
    const plaintext = decryptPush(sub, push.body);
    return { plaintext: plaintext.toString(), payload: JSON.parse(plaintext) };
  }
}

/** Checks `Authorization: vapid t=<JWT>, k=<key>` as a push service must (RFC 8292 §3–4). */
export function checkVapid(headers, serverKey, audience, subject) {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(headers.authorization ?? '');
  assert.ok(match, `an Authorization of the vapid scheme: ${headers.authorization}`);
  const [, jwt, k] = match;
  assert.equal(k, serverKey, 'k is the key the server publishes (and browsers subscribe with)');
  const point = Buffer.from(k, 'base64url');
  assert.equal(point.length, 65);
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
    format: 'jwk',
  });
  const [header, claims, signature] = jwt.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url')), { typ: 'JWT', alg: 'ES256' });
  const signed = verify('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  assert.ok(signed, 'the ES256 signature verifies with k');
  const { aud, exp, sub } = JSON.parse(Buffer.from(claims, 'base64url'));
  assert.equal(aud, audience, 'aud is the push service origin');
  const now = Math.floor(Date.now() / 1000);
  assert.ok(exp > now && exp <= now + 24 * 3600, `exp within a day: ${exp - now} s`);
  assert.equal(sub, subject);
}

/** Decrypts an aes128gcm push body (RFC 8291 §3.4, RFC 8188) as the subscribing browser would. */
export function decryptPush(sub, body) {
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body[20];
  const serverKey = body.subarray(21, 21 + idLength);
  const sealed = body.subarray(21 + idLength);
  assert.equal(idLength, 65);
  assert.ok(sealed.length <= recordSize, 'one record');
  const shared = sub.ecdh.computeSecret(serverKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), sub.ecdh.getPublicKey(), serverKey]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, sub.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const record = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 2, then any zero padding.
  let end = record.length - 1;
  while (end >= 0 && record[end] === 0) end -= 1;
  assert.equal(record[end], 2, 'the last record delimiter');
  return record.subarray(0, end);
}
