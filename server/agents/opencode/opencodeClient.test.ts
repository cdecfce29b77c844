/**
 * The opencode HTTP client against a small fake `opencode serve` on loopback: the event
 * stream is reconnected after it drops (each connect resyncs first), basic auth is sent
 * when a password is given, and bad URLs are refused.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkOpencodeUrl, OpencodeClient } from './opencodeClient.ts';

const servers: Array<{ close(): void; closeAllConnections(): void }> = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function fakeOpencode(onEvent: (res: ServerResponse, connection: number, auth: string | undefined) => void) {
  let connections = 0;
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    if (req.url?.startsWith('/event')) {
      connections += 1;
      onEvent(res, connections, req.headers.authorization);
      return;
    }
    if (req.url?.startsWith('/permission')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('OpencodeClient', () => {
  it('OPENCODE-6: a dropped event stream is reconnected; every connect resyncs before its events are handed over', async () => {
    const fake = await fakeOpencode((res, connection) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Split across writes, CRLF on the second connection: both must parse.
      const nl = connection === 1 ? '\n' : '\r\n';
      res.write(`data: {"type":"n","properties":{"c":${connection}}}${nl}`);
      res.write(`${nl}data: not json${nl}${nl}`);
      if (connection === 1) res.end(); // the stream drops
    });
    const client = new OpencodeClient({ url: fake.url });
    const stop = new AbortController();
    const order: string[] = [];
    const logs: string[] = [];
    const done = client.stream(
      {
        onOpen: async () => {
          order.push('open');
          await new Promise((resolve) => setImmediate(resolve));
          order.push('resynced');
        },
        onEvent: (data) => {
          order.push(`event ${(data as { properties: { c: number } }).properties.c}`);
          if (order.filter((o) => o.startsWith('event')).length === 2) stop.abort();
        },
        log: (message) => logs.push(message),
      },
      stop.signal,
    );
    await done;
    expect(order).toEqual(['open', 'resynced', 'event 1', 'open', 'resynced', 'event 2']);
    expect(logs.some((l) => l.includes('not JSON'))).toBe(true);
    expect(logs.some((l) => l.includes('reconnecting'))).toBe(true);
  });

  it('OPENCODE-10: with a password, every call carries basic auth (user opencode by default); a 401 stream says so and retries', async () => {
    const fake = await fakeOpencode((res, connection, auth) => {
      if (connection === 1) {
        res.writeHead(401);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: {"auth":${JSON.stringify(auth)}}\n\n`);
    });
    const client = new OpencodeClient({ url: fake.url, password: 's3cret', directory: '/my project' });
    const stop = new AbortController();
    const logs: string[] = [];
    let got: unknown;
    await client.stream(
      {
        onOpen: async () => {
          await client.pending();
        },
        onEvent: (data) => {
          got = data;
          stop.abort();
        },
        log: (message) => logs.push(message),
      },
      stop.signal,
    );
    const basic = `Basic ${Buffer.from('opencode:s3cret').toString('base64')}`;
    expect(got).toEqual({ auth: basic });
    expect(logs.some((l) => l.includes('401') && l.includes('OPENCODE_SERVER_PASSWORD'))).toBe(true);
    expect(fake.seen).toContain(`GET /permission?directory=%2Fmy%20project ${basic}`);
  });

  it('OPENCODE-10: --url must be http(s) without credentials, query or fragment', () => {
    expect(checkOpencodeUrl('http://127.0.0.1:4096/')).toEqual({ ok: true, url: 'http://127.0.0.1:4096' });
    expect(checkOpencodeUrl('ftp://x')).toMatchObject({ ok: false, reason: expect.stringContaining('http') });
    expect(checkOpencodeUrl('http://u:p@127.0.0.1:4096')).toMatchObject({ ok: false, reason: expect.stringContaining('OPENCODE_SERVER_PASSWORD') });
    expect(checkOpencodeUrl('http://127.0.0.1:4096/?directory=/etc')).toMatchObject({ ok: false });
    expect(checkOpencodeUrl('not a url')).toMatchObject({ ok: false, reason: expect.stringContaining('not a URL') });
  });
});
