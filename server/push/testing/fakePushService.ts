/**
 * Test fixture: a Web Push service on loopback (plain HTTP), standing in for FCM,
 * Mozilla autopush or Apple, that checks what a real one checks and decrypts what a
 * browser would:
 *
 * - the VAPID `Authorization: vapid t=JWT, k=KEY` header (RFC 8292): the ES256 signature
 *   verified with `k`, `k` equal to the key the subscription was made for (`trustKey`),
 *   `aud` equal to this service's origin, `exp` in the future and within 24 h, `sub` a
 *   mailto: or https: URL;
 * - the `aes128gcm` body (RFC 8188 framing, RFC 8291 keys), decrypted with the
 *   subscription's private ECDH key and auth secret made here by the test: HKDF with the
 *   "WebPush: info" key info, the content-encryption key and nonce, AES-128-GCM, and the
 *   padding delimiter.
 *
 * A push that fails any check is answered 400/401/403 and recorded with its `error`.
 * `respondWith(endpoint, 410)` makes an endpoint answer as an expired one. Await pushes
 * with `waitFor` (no sleeping).
 */
import { createECDH, createHmac, createDecipheriv, createPublicKey, randomBytes, verify, type ECDH } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type TestSubscription = {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  /** The browser side: its ECDH key pair and auth secret. */
  ecdh: ECDH;
  authSecret: Buffer;
};

export type ReceivedPush = {
  endpoint: string;
  headers: http.IncomingHttpHeaders;
  status: number;
  /** Set when a check failed (then `plaintext` may be absent). */
  error?: string;
  jwt?: { header: Record<string, unknown>; payload: Record<string, unknown> };
  vapidKey?: string;
  plaintext?: string;
  /** `plaintext` parsed as JSON, when it is. */
  message?: any;
};

export type FakePushService = {
  origin: string;
  received: ReceivedPush[];
  /** The application server key subscriptions were made with (from GET /api/push/key). */
  trustKey(publicKey: string): void;
  newSubscription(): TestSubscription;
  respondWith(endpoint: string, status: number): void;
  waitFor(predicate: (push: ReceivedPush) => boolean, options?: { count?: number; timeoutMs?: number }): Promise<ReceivedPush[]>;
  close(): Promise<void>;
};

const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();

/** RFC 8291 §3.4 and RFC 8188 §2: the receiver's decryption of an `aes128gcm` body. */
export function decryptAes128gcm(body: Buffer, ecdh: ECDH, authSecret: Buffer): string {
  if (body.length < 21) throw new Error('body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  const keyid = body.subarray(21, 21 + idlen!);
  const ciphertext = body.subarray(21 + idlen!);
  if (idlen !== 65 || keyid[0] !== 0x04) throw new Error(`keyid must be the sender's uncompressed P-256 key (65 bytes), got ${idlen}`);
  if (rs < 18) throw new Error(`record size ${rs} too small`);
  if (ciphertext.length > rs) throw new Error('more than one record: a push message fits one');

  const uaPublic = ecdh.getPublicKey();
  const ecdhSecret = ecdh.computeSecret(keyid);
  // PRK_key = HMAC(auth_secret, ecdh_secret); IKM = HKDF-Expand(PRK_key, key_info, 32)
  const prkKey = hmac(authSecret, ecdhSecret);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0', 'latin1'), uaPublic, keyid]);
  const ikm = hmac(prkKey, Buffer.concat([keyInfo, Buffer.from([1])]));
  // PRK = HKDF-Extract(salt, IKM); CEK and NONCE expanded from it.
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.concat([Buffer.from('Content-Encoding: aes128gcm\0', 'latin1'), Buffer.from([1])])).subarray(0, 16);
  const nonce = hmac(prk, Buffer.concat([Buffer.from('Content-Encoding: nonce\0', 'latin1'), Buffer.from([1])])).subarray(0, 12);

  const tag = ciphertext.subarray(ciphertext.length - 16);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce); // record 0: nonce XOR 0
  decipher.setAuthTag(tag);
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // The last (only) record: data, then the delimiter 0x02, then zero or more 0x00.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== 2) throw new Error('missing the last-record padding delimiter 0x02');
  return padded.subarray(0, end).toString('utf8');
}

function publicKeyObject(raw: Buffer) {
  if (raw.length !== 65 || raw[0] !== 0x04) throw new Error('VAPID k: expected an uncompressed P-256 key');
  return createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') },
    format: 'jwk',
  });
}

/** RFC 8292 §2-3: check the VAPID header; returns the decoded JWT or throws with the reason. */
export function verifyVapid(authorization: string | undefined, audience: string, trustedKey: string | undefined, nowSeconds: number) {
  const match = /^vapid\s+t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  if (!match) throw new Error(`Authorization: expected "vapid t=JWT, k=KEY", got "${authorization}"`);
  const [, jwt = '', k = ''] = match; // both groups always take part in a match
  if (trustedKey !== undefined && k !== trustedKey) throw new Error('VAPID k is not the key the subscription was made with');
  const [h = '', p = '', s = ''] = jwt.split('.'); // the pattern has three parts
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  if (header.alg !== 'ES256') throw new Error(`JWT alg: expected ES256, got ${header.alg}`);
  const signature = Buffer.from(s, 'base64url');
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key: publicKeyObject(Buffer.from(k, 'base64url')), dsaEncoding: 'ieee-p1363' }, signature);
  if (!ok) throw new Error('JWT signature does not verify with k');
  if (payload.aud !== audience) throw new Error(`JWT aud: expected ${audience}, got ${payload.aud}`);
  if (typeof payload.exp !== 'number' || payload.exp <= nowSeconds || payload.exp > nowSeconds + 24 * 3600) {
    throw new Error(`JWT exp: expected within the next 24 h, got ${payload.exp} (now ${nowSeconds})`);
  }
  if (typeof payload.sub !== 'string' || !/^(mailto:|https:)/.test(payload.sub)) throw new Error(`JWT sub: expected mailto: or https:, got ${payload.sub}`);
  return { header, payload, vapidKey: k };
}

export async function startFakePushService(): Promise<FakePushService> {
  const subscriptions = new Map<string, TestSubscription>();
  const statusOf = new Map<string, number>();
  const received: ReceivedPush[] = [];
  const listeners = new Set<() => void>();
  let trusted: string | undefined;
  let origin = '';

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const endpoint = `${origin}${req.url}`;
      const record: ReceivedPush = { endpoint, headers: req.headers, status: 201 };
      const subscription = subscriptions.get(endpoint);
      try {
        if (req.method !== 'POST') throw Object.assign(new Error(`method ${req.method}`), { status: 405 });
        if (!subscription) throw Object.assign(new Error('no such subscription'), { status: 404 });
        try {
          const jwt = verifyVapid(req.headers.authorization, origin, trusted, Math.floor(Date.now() / 1000));
          record.jwt = { header: jwt.header, payload: jwt.payload };
          record.vapidKey = jwt.vapidKey;
        } catch (error) {
          throw Object.assign(error as Error, { status: 403 });
        }
        if (req.headers['content-encoding'] !== 'aes128gcm')
          throw Object.assign(new Error(`Content-Encoding: ${req.headers['content-encoding']}`), { status: 400 });
        if (req.headers.ttl === undefined || !/^\d+$/.test(String(req.headers.ttl))) throw Object.assign(new Error('TTL header missing'), { status: 400 });
        try {
          record.plaintext = decryptAes128gcm(Buffer.concat(chunks), subscription.ecdh, subscription.authSecret);
        } catch (error) {
          throw Object.assign(new Error(`decryption failed: ${(error as Error).message}`), { status: 400 });
        }
        try {
          record.message = JSON.parse(record.plaintext);
        } catch {
          // kept as plaintext
        }
        record.status = statusOf.get(endpoint) ?? 201;
      } catch (error) {
        record.error = (error as Error).message;
        record.status = (error as { status?: number }).status ?? 400;
      }
      received.push(record);
      res.writeHead(record.status, { 'content-type': 'text/plain' });
      res.end(record.error ?? '');
      for (const listener of [...listeners]) listener();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    received,
    trustKey(publicKey) {
      trusted = publicKey;
    },
    newSubscription() {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const authSecret = randomBytes(16);
      const endpoint = `${origin}/push/${randomBytes(12).toString('base64url')}`;
      const subscription: TestSubscription = {
        endpoint,
        keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') },
        ecdh,
        authSecret,
      };
      subscriptions.set(endpoint, subscription);
      return subscription;
    },
    respondWith(endpoint, status) {
      statusOf.set(endpoint, status);
    },
    waitFor(predicate, options = {}) {
      const count = options.count ?? 1;
      const timeoutMs = options.timeoutMs ?? 5_000;
      return new Promise((resolve, reject) => {
        const check = () => {
          const matching = received.filter(predicate);
          if (matching.length < count) return false;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(matching);
          return true;
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `fake push service: ${received.filter(predicate).length} of ${count} expected pushes within ${timeoutMs} ms; received ${JSON.stringify(received.map((r) => ({ status: r.status, error: r.error, message: r.message })))}`,
            ),
          );
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
