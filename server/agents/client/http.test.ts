/** `httpJson` (server/agents/client/http.ts): the URL's parts reach the server as the URL
 *  gives them (host, port, path and query), also for an IPv6 literal. Real sockets. */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { httpJson } from './http.ts';

async function echoServer(host: string): Promise<{ url: string; seen: IncomingMessage[]; close(): Promise<void> }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    req.resume();
    req.on('end', () => res.end(JSON.stringify({ path: req.url, host: req.headers.host })));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('httpJson', () => {
  it('AGENT-2: the request goes to the URL’s host and port with its path and query, the Host header as the URL names it (IPv4 and IPv6)', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const server = await echoServer(host);
      try {
        const answer = await httpJson('POST', `${server.url}/api/permission-requests?wait=5`, { body: { a: 1 }, timeoutMs: 5_000 });
        expect(answer.status).toBe(200);
        expect(answer.body).toEqual({ path: '/api/permission-requests?wait=5', host: new URL(server.url).host });
        expect(server.seen[0]?.method).toBe('POST');
      } finally {
        await server.close();
      }
    }
  });
});
