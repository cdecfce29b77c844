/**
 * The agents' HTTP path on a real server (in-process, real sockets): create-and-wait on
 * one keep-alive connection, bodies read from the socket (declared length or chunked),
 * and a decided create-and-wait answered from memory with exactly the stored view.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SequencedEvent } from '../../protocol/index.ts';
import { parseServeArgs } from '../config.ts';
import { silentLogger } from '../log.ts';
import type { AwaitedOutcome } from '../brokerHost.ts';
import { startServer, type RunningServer } from '../server.ts';

let server: RunningServer;
let dataDir = '';

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-agent-http-'));
  const parsed = parseServeArgs(['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--no-auth'], {});
  if (parsed.help) throw new Error('unexpected --help');
  server = await startServer(parsed.config, { logger: silentLogger });
});
afterAll(async () => {
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

type Answer = { status: number; body: Record<string, unknown> };

/** One call; `chunked` sends the body without a Content-Length. */
function call(method: string, path: string, options: { body?: unknown; agent?: Agent; chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { host: `127.0.0.1:${server.port}` };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      if (!options.chunked) headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path, headers, agent: options.agent ?? false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
    if (payload !== undefined) {
      if (options.chunked) {
        // Two chunks, so that the body really streams.
        req.write(payload.slice(0, 10));
        req.write(payload.slice(10));
      } else req.write(payload);
    }
    req.end();
  });
}

/** Decides each request created from now on: over HTTP as a human would, or (`direct`)
 *  through the host, so that no decision call reads the store meanwhile. */
function decideEach(decision: { decision: 'allow' | 'deny'; updatedInput?: Record<string, unknown>; message?: string }, direct = false): () => void {
  return server.host.onCommitted((events: readonly SequencedEvent[]) => {
    for (const event of events) {
      if (event.type !== 'permission-request') continue;
      if (direct) void server.host.decide({ requestId: event.id, decidedBy: 'http', via: 'http', ...decision });
      else void call('POST', `/api/permission-requests/${event.id}/decision`, { body: decision });
    }
  });
}

let counter = 0;
const ask = () => ({ toolName: 'Bash', input: { command: `echo agent-http ${++counter}` }, context: { agent: 'test' } });

describe("agents' HTTP path (CORE-F)", () => {
  it('CORE-F4: create-and-wait calls reuse one keep-alive connection, each answered in its own call; a chunked body is read too', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<Socket>();
    agent.on('free', (socket: Socket) => sockets.add(socket));
    const stop = decideEach({ decision: 'allow' });
    try {
      for (let i = 0; i < 3; i++) {
        const answer = await call('POST', '/api/permission-requests?wait=30', { body: ask(), agent });
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({ status: 'resolved', decision: 'allow', decidedBy: 'http' });
      }
      // Every answer freed the same socket back to the agent: one connection for all.
      expect(sockets.size).toBe(1);
      const chunked = await call('POST', '/api/permission-requests?wait=30', { body: ask(), agent, chunked: true });
      expect(chunked.status).toBe(200);
      expect(chunked.body).toMatchObject({ status: 'resolved', decision: 'allow' });
    } finally {
      stop();
      agent.destroy();
    }
  });

  it('CORE-F5: a decided create-and-wait is answered from memory (no store read of the request) with exactly the view a read by id gives', async () => {
    const store = server.store;
    const getRequest = store.getRequest.bind(store);
    let reads = 0;
    store.getRequest = (id: string) => {
      reads += 1;
      return getRequest(id);
    };
    const stop = decideEach({ decision: 'allow', updatedInput: { command: 'echo edited' }, message: 'fine, edited' }, true);
    let answer: Answer;
    try {
      answer = await call('POST', '/api/permission-requests?wait=30', { body: ask() });
    } finally {
      stop();
      store.getRequest = getRequest;
    }
    expect(reads).toBe(0);
    expect(answer.status).toBe(200);
    const stored = await call('GET', `/api/permission-requests/${String(answer.body.id)}`);
    expect(stored.status).toBe(200);
    expect(answer.body).toEqual(stored.body);
    expect(answer.body).toMatchObject({ status: 'resolved', decision: 'allow', updatedInput: { command: 'echo edited' }, message: 'fine, edited' });
  });

  it('CORE-F5: a create-and-wait that times out is read back from the store (its worded message), equal to the read by id', async () => {
    const answer = await call('POST', '/api/permission-requests?wait=10', { body: { ...ask(), timeoutMs: 150 } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'timedOut', decision: 'deny' });
    const stored = await call('GET', `/api/permission-requests/${String(answer.body.id)}`);
    expect(answer.body).toEqual(stored.body);
  });

  it('CORE-F15: a create-and-wait on a keep-alive connection builds no AbortController; the client going away still ends its wait', async () => {
    const Original = globalThis.AbortController;
    let built = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        built += 1;
      }
    };
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const stop = decideEach({ decision: 'allow' }, true);
    try {
      const answer = await call('POST', '/api/permission-requests?wait=30', { body: ask(), agent });
      expect(answer.body).toMatchObject({ status: 'resolved', decision: 'allow' });
    } finally {
      stop();
      agent.destroy();
      globalThis.AbortController = Original;
    }
    expect(built).toBe(0);

    // Nobody decides: the caller hangs up, and the wait is released (no wait left armed).
    // The long-poll's one wait, observed as the route arms it and as it ends.
    const before = server.host.outcomeWaits;
    const host = server.host;
    const awaitOutcome = host.awaitOutcome;
    let armed!: (id: string) => void;
    const waitArmed = new Promise<string>((resolve) => (armed = resolve));
    let ended!: (outcome: AwaitedOutcome) => void;
    const waitEnded = new Promise<AwaitedOutcome>((resolve) => (ended = resolve));
    host.awaitOutcome = (requestId, options) => {
      const waiting = awaitOutcome.call(host, requestId, options);
      armed(requestId);
      void waiting.then(ended);
      return waiting;
    };
    let id: string;
    try {
      const payload = JSON.stringify(ask());
      const req = httpRequest({
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: '/api/permission-requests?wait=60',
        headers: { host: `127.0.0.1:${server.port}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
        agent: false,
      });
      req.on('error', () => {});
      req.end(payload);
      id = await waitArmed;
      expect(host.outcomeWaits).toBe(before + 1);
      req.destroy();
      expect(await waitEnded).toEqual({ status: 'waiting', reason: 'aborted' });
    } finally {
      host.awaitOutcome = awaitOutcome;
    }
    expect(host.outcomeWaits).toBe(before);
    await server.host.cancel({ requestId: id, reason: 'test over', cancelledBy: 'test' });
  });
});
