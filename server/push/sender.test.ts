import { createECDH, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import webpush from 'web-push';
import { afterEach, describe, expect, it } from 'vitest';
import { sendWebPush } from './sender.ts';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

async function listen(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function target(origin: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { endpoint: `${origin}/push/x`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
}

const vapid = webpush.generateVAPIDKeys();
const options = { vapid, subject: 'mailto:a@example.com', ttlSeconds: 60, timeoutMs: 200 };

describe('sending one push', () => {
  it('PUSH-8: a push service that never answers is given up after the timeout', async () => {
    const origin = await listen(() => {
      // never answers
    });
    const result = await sendWebPush(target(origin), '{}', options);
    expect(result).toEqual({ ok: false, error: 'no answer within 200 ms' });
  });

  it('PUSH-8: a redirect is not followed (one request, the 307 is the result)', async () => {
    let hits = 0;
    const origin = await listen((req, res) => {
      hits++;
      if (req.url === '/push/x') {
        res.writeHead(307, { location: '/elsewhere' });
        res.end();
      } else res.end('x'.repeat(1 << 20));
    });
    const result = await sendWebPush(target(origin), '{}', options);
    expect(result).toMatchObject({ ok: false, status: 307 });
    expect(hits).toBe(1);
  });

  it('PUSH-8: a bad subscription key is an error result, not an exception', async () => {
    const result = await sendWebPush({ endpoint: 'http://127.0.0.1:1/x', keys: { p256dh: 'AAAA', auth: 'AAAA' } }, '{}', options);
    expect(result.ok).toBe(false);
  });
});
