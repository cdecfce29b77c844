import { createECDH, randomBytes } from 'node:crypto';
import webpush from 'web-push';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseServeArgs, type Config } from '../config.ts';
import { DEFAULT_PUSH_ORIGINS, parsePushOrigin, pushOriginMatcher } from './origins.ts';
import { redactEndpoint } from './sender.ts';
import { decryptAes128gcm, verifyVapid } from './testing/fakePushService.ts';

function parse(argv: string[], env: Record<string, string> = {}): Config {
  const result = parseServeArgs(argv, env);
  if (result.help) throw new Error('help');
  return result.config;
}

describe('push endpoint origins', () => {
  const defaults = pushOriginMatcher(DEFAULT_PUSH_ORIGINS);
  const allowed = (endpoint: string) => defaults(new URL(endpoint));

  it('PUSH-3: the defaults allow the public push services of Chrome, Firefox, Safari and Edge', () => {
    expect(allowed('https://fcm.googleapis.com/fcm/send/abc:APA91b')).toBe(true);
    expect(allowed('https://updates.push.services.mozilla.com/wpush/v2/gAAAA')).toBe(true);
    expect(allowed('https://web.push.apple.com/QGx3c')).toBe(true);
    expect(allowed('https://wns2-par02p.notify.windows.com/w/?token=BQYAAA')).toBe(true);
    expect(allowed('https://FCM.googleapis.com:443/fcm/send/x')).toBe(true);
  });

  it('PUSH-3: anything else is refused: other hosts, look-alikes, other ports and schemes, deeper subdomains', () => {
    for (const endpoint of [
      'https://fcm.googleapis.com.evil.example/fcm/send/x',
      'https://evilfcm.googleapis.com/x',
      'https://fcm.googleapis.com:8443/x',
      'http://fcm.googleapis.com/x',
      'https://a.b.notify.windows.com/w/',
      'https://notify.windows.com/w/',
      'https://-bad.notify.windows.com/w/',
      'https://localhost/x',
      'https://127.0.0.1/x',
      'https://169.254.169.254/latest',
    ]) {
      expect(allowed(endpoint), endpoint).toBe(false);
    }
  });

  it('PUSH-3: a test origin on loopback is exact (scheme, host, port)', () => {
    const match = pushOriginMatcher(['http://127.0.0.1:9000']);
    expect(match(new URL('http://127.0.0.1:9000/push/x'))).toBe(true);
    expect(match(new URL('http://127.0.0.1:9001/push/x'))).toBe(false);
    expect(match(new URL('https://127.0.0.1:9000/push/x'))).toBe(false);
    expect(match(new URL('http://localhost:9000/push/x'))).toBe(false);
  });

  it('PUSH-10: --push-allowed-origins, --push-delay-ms and --push-subject are parsed and checked', () => {
    expect(parse([]).push).toEqual({ delayMs: 3_000, allowedOrigins: [...DEFAULT_PUSH_ORIGINS], subject: 'mailto:gatehouse@localhost' });
    expect(parse(['--push-allowed-origins', 'http://127.0.0.1:9000, https://*.example.com', '--push-delay-ms', '0']).push).toMatchObject({
      delayMs: 0,
      allowedOrigins: ['http://127.0.0.1:9000', 'https://*.example.com'],
    });
    expect(parse([], { GATEHOUSE_PUSH_DELAY_MS: '500', GATEHOUSE_PUSH_SUBJECT: 'https://gatehouse.example.com/contact' }).push).toMatchObject({
      delayMs: 500,
      subject: 'https://gatehouse.example.com/contact',
    });
    expect(parse(['--push-allowed-origins', '']).push.allowedOrigins).toEqual([]);
    for (const [argv, words] of [
      [['--push-allowed-origins', 'https://fcm.googleapis.com/fcm/send'], 'origin only'],
      [['--push-allowed-origins', 'ftp://x.example'], 'https://'],
      [['--push-allowed-origins', 'https://*.com'], 'two labels'],
      [['--push-allowed-origins', 'not a url'], 'not an origin'],
      [['--push-delay-ms', '-1'], '--push-delay-ms'],
      [['--push-subject', 'http://example.com'], '--push-subject'],
    ] as const) {
      expect(() => parse([...argv]), argv.join(' ')).toThrow(ConfigError);
      expect(() => parse([...argv])).toThrow(words);
    }
    expect(typeof parsePushOrigin('https://user@x.example')).toBe('string');
  });

  it('PUSH-8: logs name an endpoint by its origin and a digest, never its path', () => {
    const text = redactEndpoint('https://fcm.googleapis.com/fcm/send/SECRET-REGISTRATION-ID');
    expect(text).toMatch(/^https:\/\/fcm\.googleapis\.com\/…#[0-9a-f]{8}$/);
    expect(text).not.toContain('SECRET');
  });
});

describe('the fake push service checks for real', () => {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  const subscription = { endpoint: 'http://127.0.0.1:9/push/x', keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
  const vapid = webpush.generateVAPIDKeys();
  const details = webpush.generateRequestDetails(subscription, '{"hello":1}', {
    vapidDetails: { subject: 'mailto:a@example.com', publicKey: vapid.publicKey, privateKey: vapid.privateKey },
    contentEncoding: 'aes128gcm',
  });
  const body = details.body as Buffer;
  const now = Math.floor(Date.now() / 1000);

  it('PUSH-4: it decrypts what web-push encrypts, and refuses a tampered body or the wrong auth secret', () => {
    expect(decryptAes128gcm(body, ecdh, auth)).toBe('{"hello":1}');
    const tampered = Buffer.from(body);
    tampered[tampered.length - 20]! ^= 1;
    expect(() => decryptAes128gcm(tampered, ecdh, auth)).toThrow();
    expect(() => decryptAes128gcm(body, ecdh, randomBytes(16))).toThrow();
  });

  it('PUSH-4: it verifies the VAPID JWT: signature, key, audience and expiry', () => {
    const header = String(details.headers.Authorization);
    expect(verifyVapid(header, 'http://127.0.0.1:9', vapid.publicKey, now).payload).toMatchObject({ aud: 'http://127.0.0.1:9', sub: 'mailto:a@example.com' });
    expect(() => verifyVapid(header, 'http://127.0.0.1:10', vapid.publicKey, now)).toThrow('aud');
    expect(() => verifyVapid(header, 'http://127.0.0.1:9', webpush.generateVAPIDKeys().publicKey, now)).toThrow('k is not');
    expect(() => verifyVapid(header, 'http://127.0.0.1:9', undefined, now + 25 * 3600)).toThrow('exp');
    const other = webpush.generateVAPIDKeys();
    const forged = header.replace(/k=.*/, `k=${other.publicKey}`);
    expect(() => verifyVapid(forged, 'http://127.0.0.1:9', undefined, now)).toThrow('signature');
  });
});
