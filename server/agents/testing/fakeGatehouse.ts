/**
 * A minimal in-process stand-in for the Gatehouse HTTP API (protocol-v1.md §4), used by
 * this area's fast tests of the HTTP client paths (hook, MCP). It answers the agent
 * hello with a real proof for its token (so the clients' pinning lets it through, and
 * the step-aside and breaker tests stay meaningful), keeps requests in memory, honours
 * Idempotency-Key, long-polls, decisions and cancels. The real server is the reference.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { helloProof } from '../../security/helloProof.ts';
import { timedOutMessage } from '../../../protocol/outcome.ts';

type FakeRequest = {
  id: string;
  status: 'pending' | 'resolved' | 'timedOut' | 'cancelled';
  toolName: string;
  input: Record<string, unknown>;
  context: Record<string, unknown>;
  decision?: 'allow' | 'deny' | undefined;
  updatedInput?: Record<string, unknown> | undefined;
  message?: string | undefined;
  decidedBy?: string;
  expiresAt: number;
  createdAt: number;
  seq: number;
  key?: string | undefined;
  bodyText: string;
};

export type FakeGatehouse = {
  url: string;
  /** The agent token it proves it knows and accepts. */
  token: string;
  /** How many hellos it answered. */
  hellos(): number;
  requests: FakeRequest[];
  /** Resolves with the next request created (or one already pending). */
  nextRequest(): Promise<FakeRequest>;
  decide(id: string, decision: 'allow' | 'deny', extra?: { updatedInput?: Record<string, unknown>; message?: string }): void;
  deletes: string[];
  close(): Promise<void>;
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startFakeGatehouse(token = 'fake-agent-token-0123456789', port = 0): Promise<FakeGatehouse> {
  let hellos = 0;
  const requests: FakeRequest[] = [];
  const deletes: string[] = [];
  const waiters = new Map<string, Array<() => void>>();
  let createdWaiters: Array<(request: FakeRequest) => void> = [];
  let counter = 0;
  const view = ({ key: _key, bodyText: _body, ...rest }: FakeRequest) => rest;
  const wake = (id: string) => {
    for (const fn of waiters.get(id) ?? []) fn();
    waiters.delete(id);
  };
  const finish = (request: FakeRequest, patch: Partial<FakeRequest>) => {
    Object.assign(request, patch);
    wake(request.id);
  };

  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && req.url === '/api/agent/hello') {
      void readBody(req).then((text) => {
        hellos += 1;
        const nonce = (JSON.parse(text) as { nonce: string }).nonce;
        send(200, { proof: helloProof(token, nonce, String(req.headers.host)) });
      });
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: { code: 'unauthorized', message: 'bad token' } });
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'api' || parts[1] !== 'permission-requests') return send(404, { error: { code: 'not-found', message: 'no route' } });
    const id = parts[2];
    const found = id ? requests.find((request) => request.id === id) : undefined;
    void (async () => {
      if (req.method === 'POST' && !id) {
        const text = await readBody(req);
        const body = JSON.parse(text) as { toolName: string; input: Record<string, unknown>; context?: Record<string, unknown>; timeoutMs?: number };
        const key = req.headers['idempotency-key'] as string | undefined;
        const existing = key ? requests.find((request) => request.key === key) : undefined;
        if (existing)
          return existing.bodyText === text ? send(200, view(existing)) : send(409, { error: { code: 'idempotency-conflict', message: 'other body' } });
        counter += 1;
        const now = Date.now();
        const request: FakeRequest = {
          id: `req-${counter}`,
          status: 'pending',
          toolName: body.toolName,
          input: body.input,
          context: body.context ?? {},
          expiresAt: now + (body.timeoutMs ?? 120_000),
          createdAt: now,
          seq: counter,
          key,
          bodyText: text,
        };
        requests.push(request);
        const timer = setTimeout(
          () => {
            if (request.status === 'pending') finish(request, { status: 'timedOut', decision: 'deny', message: timedOutMessage(), decidedBy: 'timeout' });
          },
          Math.min(body.timeoutMs ?? 120_000, 2_000_000_000),
        );
        timer.unref();
        const notify = createdWaiters;
        createdWaiters = [];
        for (const fn of notify) fn(request);
        return send(201, { id: request.id, status: 'pending', expiresAt: request.expiresAt, seq: request.seq });
      }
      if (req.method === 'GET' && !id) {
        const pending = requests.filter((request) => request.status === 'pending').map(view);
        return send(200, { requests: url.searchParams.get('status') === 'pending' ? pending : requests.map(view) });
      }
      if (!found) return send(404, { error: { code: 'unknown-request', message: 'unknown' } });
      if (req.method === 'POST' && parts[3] === 'decision') {
        const body = JSON.parse(await readBody(req)) as { decision: 'allow' | 'deny'; updatedInput?: Record<string, unknown>; message?: string };
        if (found.status !== 'pending')
          return send(409, {
            error: { code: found.status === 'resolved' ? 'already-resolved' : found.status === 'timedOut' ? 'expired' : 'cancelled', message: 'finished' },
          });
        finish(found, { status: 'resolved', decision: body.decision, updatedInput: body.updatedInput, message: body.message, decidedBy: 'http' });
        return send(200, view(found));
      }
      if (req.method === 'GET') {
        const wait = Math.min(Number(url.searchParams.get('wait') ?? 0) || 0, 60);
        if (found.status === 'pending' && wait > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, wait * 1000);
            waiters.set(found.id, [...(waiters.get(found.id) ?? []), () => (clearTimeout(timer), resolve())]);
          });
        }
        return send(200, view(found));
      }
      if (req.method === 'DELETE') {
        deletes.push(found.id);
        if (found.status !== 'pending')
          return send(409, { error: { code: found.status === 'resolved' ? 'already-resolved' : found.status, message: 'finished' } });
        finish(found, { status: 'cancelled', decision: 'deny', message: 'cancelled', decidedBy: 'agent' });
        return send(200, view(found));
      }
      return send(404, { error: { code: 'not-found', message: 'no route' } });
    })().catch((error) => send(500, { error: { code: 'internal', message: String(error) } }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    token,
    hellos: () => hellos,
    requests,
    deletes,
    nextRequest() {
      const pending = requests.find((request) => request.status === 'pending');
      if (pending) return Promise.resolve(pending);
      return new Promise((resolve) => createdWaiters.push(resolve));
    },
    decide(id, decision, extra = {}) {
      const request = requests.find((candidate) => candidate.id === id);
      if (request?.status !== 'pending') throw new Error(`cannot decide ${id}`);
      finish(request, { status: 'resolved', decision, ...extra, decidedBy: 'test' });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
