/**
 * The body timeout against the real server, with a raw socket that sends its headers
 * (with a valid token) and then the body slowly, or never all of it.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../testing/index.ts';

const BOUND_MS = 400;
let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess({ args: ['--body-timeout-ms', String(BOUND_MS)] });
});
afterAll(async () => {
  const stderr = server?.stderr() ?? '';
  await server?.stop();
  // The handler that waited on the cut body ends quietly, not as an unhandled error.
  expect(stderr).not.toMatch(/unhandled|uncaught|TypeError/i);
});

type Raw = { socket: Socket; response: Promise<{ text: string; closedAt: number }>; startedAt: number };

/** Open a socket, send the request line and headers of a POST with a declared body. */
function startPost(body: string, declared = Buffer.byteLength(body)): Raw {
  const socket = connect(server.port, '127.0.0.1');
  const startedAt = Date.now();
  socket.write(
    `POST /api/permission-requests HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAuthorization: Bearer ${server.token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`,
  );
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => {});
  const response = new Promise<{ text: string; closedAt: number }>((resolve) => socket.on('close', () => resolve({ text, closedAt: Date.now() })));
  return { socket, response, startedAt };
}

/** Writes one byte of `rest` every `everyMs` (a slow client, not a wait in the test). */
function trickle(raw: Raw, rest: string, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (i >= rest.length || raw.socket.destroyed) return clearInterval(timer);
    raw.socket.write(rest.charAt(i++));
  }, everyMs);
  return () => clearInterval(timer);
}

const body = JSON.stringify({ toolName: 'Bash', input: { command: 'echo slow' } });

describe('body timeout', () => {
  it('LIM-5: a body trickled one byte at a time with a valid token is answered 408 and the connection closed, after the bound', async () => {
    const raw = startPost(body);
    raw.socket.write(body.slice(0, 5));
    const stop = trickle(raw, body.slice(5), 100); // would take about 5 s
    const { text, closedAt } = await raw.response;
    stop();
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(text).toMatch(/"code":"request-timeout"/);
    expect(closedAt - raw.startedAt).toBeGreaterThanOrEqual(BOUND_MS - 50);
    expect(closedAt - raw.startedAt).toBeLessThan(BOUND_MS + 3_000);
    // Nothing was created from the partial body.
    expect((await server.api('/api/permission-requests?status=pending')).body.requests).toEqual([]);
  });

  it('LIM-5: a body that never finishes is answered 408 too', async () => {
    const raw = startPost(body, Buffer.byteLength(body) + 100);
    raw.socket.write(body);
    const { text } = await raw.response;
    expect(text).toMatch(/^HTTP\/1\.1 408/);
  });

  it('LIM-5: a slow body that arrives within the bound is served (201)', async () => {
    const raw = startPost(body);
    raw.socket.write(body.slice(0, -3));
    raw.socket.write(body.slice(-3), () => raw.socket.end());
    const { text } = await raw.response;
    expect(text).toMatch(/^HTTP\/1\.1 201/);
  });

  it('LIM-5: a long-poll (no body) keeps waiting past the body bound, for its full wait', async () => {
    const created = await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command: 'ls' } } });
    const started = Date.now();
    const polled = await server.api(`/api/permission-requests/${created.body.id}?wait=2`);
    expect(polled.status).toBe(200);
    expect(polled.body.status).toBe('pending');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    // And it still answers as soon as the request is decided, after the bound.
    const waiting = server.api(`/api/permission-requests/${created.body.id}?wait=5`);
    const decided = new Promise<void>((resolve) => setTimeout(resolve, BOUND_MS * 2)).then(() =>
      server.api(`/api/permission-requests/${created.body.id}/decision`, { method: 'POST', json: { decision: 'allow' } }),
    );
    const [answer] = await Promise.all([waiting, decided]);
    expect(answer.body).toMatchObject({ status: 'resolved', decision: 'allow' });
  });
});
