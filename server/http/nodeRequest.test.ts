/**
 * `headerOf` reads a header from Node's raw lines instead of the Fetch Headers that
 * @hono/node-server builds: the guard's Host, Origin and token checks read through it,
 * so it must give exactly what `c.req.header` gives, also for doubled, oddly cased or
 * padded lines. Checked against the real adapter (`createAdaptorServer`, as server.ts
 * serves) over a raw socket, so the lines arrive exactly as written.
 */
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerOf } from './nodeRequest.ts';

const NAMES = ['host', 'origin', 'authorization', 'upgrade', 'idempotency-key', 'content-length', 'x-gatehouse-client', 'sec-fetch-site', 'absent'];

type Server = ReturnType<typeof createAdaptorServer>;
let server: Server;
let port = 0;

beforeAll(async () => {
  const app = new Hono();
  // Ours first, so that the adapter's Headers are not built before it reads.
  app.all('*', (c) => {
    const ours = NAMES.map((name) => headerOf(c, name) ?? null);
    const hono = NAMES.map((name) => c.req.header(name) ?? null);
    return c.json({ ours, hono });
  });
  server = createAdaptorServer({ fetch: app.fetch });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** Sends the request's head line by line as given; the JSON of the answer's body. */
function rawCall(lines: readonly string[]): Promise<{ ours: unknown[]; hono: unknown[] }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('end', () => {
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      try {
        resolve(JSON.parse(body) as { ours: unknown[]; hono: unknown[] });
      } catch {
        reject(new Error(`not a JSON answer: ${text.slice(0, 300)}`));
      }
    });
    socket.write(`${['GET / HTTP/1.1', ...lines, 'Connection: close'].join('\r\n')}\r\n\r\n`);
  });
}

describe('headers read from the socket (CORE-F6)', () => {
  const cases: Array<[string, string[]]> = [
    ['plain lines', ['Host: 127.0.0.1:1', 'Authorization: Bearer abc', 'Idempotency-Key: k-1']],
    ['a doubled Host', ['Host: 127.0.0.1:1', 'Host: evil.example']],
    ['a doubled Origin and Authorization', ['Host: h', 'Origin: http://a', 'origin: http://b', 'Authorization: Bearer a', 'AUTHORIZATION: Bearer b']],
    ['padded values and odd case', ['hOsT:    h:1   ', 'Origin:\thttp://a\t', 'Upgrade:  WebSocket ', 'X-Gatehouse-Client: web']],
    ['empty values', ['Host: h', 'Origin:', 'Idempotency-Key: ', 'Sec-Fetch-Site: same-origin']],
    ['no Host at all', ['Content-Length: 0']],
  ];
  for (const [name, lines] of cases) {
    it(`CORE-F6: headerOf equals c.req.header behind @hono/node-server: ${name}`, async () => {
      const answer = await rawCall(lines);
      expect(answer.ours).toEqual(answer.hono);
    });
  }
});
