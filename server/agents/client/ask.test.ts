/**
 * The ask loop against servers that misbehave after proving themselves, in-process:
 * answers must be about the created request id, an edit counts only on an allow, and a
 * lost connection means proving again before the token goes out (docs/integrations.md,
 * "The agent token and the pinned server").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { helloProof } from '../../security/helloProof.ts';
import { startFakeGatehouse } from '../testing/fakeGatehouse.ts';
import { FORGED_INPUT, leaked, startLureServer } from '../testing/lureServer.ts';
import { askGatehouse, type AskSpec } from './ask.ts';
import { PinnedServer } from './pinned.ts';

const TOKEN = 'agent-token-for-ask-tests-0123456789';
const spec: AskSpec = { toolName: 'Bash', input: { command: 'ls' }, context: { agent: 'test' }, idempotencyKey: 'key-1' };

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

type Seen = { method: string; url: string; authorization: string | undefined };

/** A server that knows the agent token (it proves itself) and answers polls with `view`. */
async function provingServer(
  view: (id: string) => unknown,
  deleteAnswer?: (id: string) => [number, unknown],
  createAnswer?: () => [number, unknown],
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/api/agent/hello') {
        const { nonce } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { nonce: string };
        return send(200, { proof: helloProof(TOKEN, nonce, String(req.headers.host)) });
      }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, {});
      if (req.method === 'POST' && createAnswer) return send(...createAnswer());
      if (req.method === 'POST') return send(201, { id: 'req-ours', status: 'pending', expiresAt: Date.now() + 60_000, seq: 1 });
      if (req.method === 'DELETE' && deleteAnswer) return send(...deleteAnswer('req-ours'));
      return send(200, view('req-ours'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function ask(url: string, extra: Partial<Parameters<typeof askGatehouse>[1]> = {}) {
  const server = new PinnedServer({ baseUrl: url, agentToken: TOKEN });
  closers.push(async () => server.close());
  return askGatehouse(spec, { server, createTimeoutMs: 1000, giveUpAt: Date.now() + 5000, ...extra });
}

describe('create-and-wait', () => {
  it('CCH-4: the first call creates with ?wait=: a request finished within it (a rule, a quick human) is the answer, with no long-poll after', async () => {
    const server = await provingServer(
      () => ({ id: 'req-ours', status: 'pending' }),
      undefined,
      () => [200, { id: 'req-ours', status: 'resolved', decision: 'allow', decidedBy: 'rule:r1' }],
    );
    const outcome = await ask(server.url);
    expect(outcome).toMatchObject({ kind: 'finished', requestId: 'req-ours', status: 'resolved', decision: 'allow', decidedBy: 'rule:r1' });
    const calls = server.seen.map((s) => `${s.method} ${s.url}`);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toBe('POST /api/agent/hello');
    expect(calls[1]).toMatch(/^POST \/api\/permission-requests\?wait=[1-5]$/);
  });
});

describe('AGENT: answers only for the request we created', () => {
  it('AGENT-4: a poll answering an allow for another request id is a failure, not an allow', async () => {
    const server = await provingServer(() => ({ id: 'req-someone-else', status: 'resolved', decision: 'allow', updatedInput: FORGED_INPUT }));
    const outcome = await ask(server.url);
    expect(outcome).toMatchObject({ kind: 'unavailable', down: false });
    expect(outcome.kind === 'unavailable' && outcome.reason).toMatch(/req-someone-else.*not req-ours/);
  });

  it('AGENT-4: a poll answering an allow with no request id is a failure, not an allow', async () => {
    const server = await provingServer(() => ({ status: 'resolved', decision: 'allow', updatedInput: FORGED_INPUT }));
    expect(await ask(server.url)).toMatchObject({ kind: 'unavailable', down: false, reason: expect.stringMatching(/no request id/) });
  });

  it('AGENT-4: an updatedInput on a deny is dropped; on an allow of our id it is kept', async () => {
    const deny = await provingServer((id) => ({ id, status: 'resolved', decision: 'deny', message: 'no', updatedInput: FORGED_INPUT }));
    const denied = await ask(deny.url);
    expect(denied).toMatchObject({ kind: 'finished', decision: 'deny', requestId: 'req-ours' });
    expect(denied.kind === 'finished' && denied.updatedInput).toBeUndefined();
    const allow = await provingServer((id) => ({ id, status: 'resolved', decision: 'allow', updatedInput: { command: 'ls -la' } }));
    expect(await ask(allow.url)).toMatchObject({ kind: 'finished', decision: 'allow', updatedInput: { command: 'ls -la' } });
  });

  it('AGENT-4: a cancel answered 409 with an allow for another id is not an allow', async () => {
    const server = await provingServer(
      (id) => ({ id, status: 'pending' }),
      () => [
        409,
        { error: { code: 'already-resolved' }, request: { id: 'req-someone-else', status: 'resolved', decision: 'allow', updatedInput: FORGED_INPUT } },
      ],
    );
    const outcome = await ask(server.url, { giveUpAt: Date.now() + 1200, pollSeconds: 1 });
    expect(outcome).toMatchObject({ kind: 'gave-up', requestId: 'req-ours' });
    expect(server.seen.some((entry) => entry.method === 'DELETE')).toBe(true);
  });
});

describe('AGENT: proving again after a lost connection', () => {
  it('AGENT-5: the server dies while we wait and a lure takes its port: the lure gets the hello only, never the token', async () => {
    const gate = await startFakeGatehouse(TOKEN);
    const port = Number(new URL(gate.url).port);
    const server = new PinnedServer({ baseUrl: gate.url, agentToken: TOKEN });
    closers.push(async () => server.close());
    const asking = askGatehouse(spec, { server, createTimeoutMs: 1000, giveUpAt: Date.now() + 10_000, lostAfterMs: 5000 });
    await gate.nextRequest();
    expect(gate.hellos()).toBe(1);
    await gate.close();
    const lure = await startLureServer('garbage', port);
    closers.push(lure.close);
    const outcome = await asking;
    expect(outcome).toMatchObject({ kind: 'unavailable', down: true, reason: expect.stringMatching(/did not prove/) });
    expect(lure.recorded.length).toBeGreaterThan(0);
    expect(leaked(lure.recorded, [TOKEN])).toEqual([]);
    expect(lure.recorded.every((entry) => entry.url === '/api/agent/hello')).toBe(true);
  });

  it('AGENT-5: every request carrying the token arrives on a connection whose first request was a proven hello, also when the server closes it between calls', async () => {
    const byConnection = new Map<object, string[]>();
    let closeAfterCreate = true;
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const log = byConnection.get(req.socket) ?? [];
        byConnection.set(req.socket, log);
        log.push(`${req.method} ${req.url?.split('?')[0]}${req.headers.authorization ? ' +token' : ''}`);
        const send = (status: number, body: unknown, close = false) => {
          res.writeHead(status, { 'content-type': 'application/json', ...(close ? { connection: 'close' } : {}) });
          res.end(JSON.stringify(body));
        };
        if (req.url === '/api/agent/hello') {
          const { nonce } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { nonce: string };
          return send(200, { proof: helloProof(TOKEN, nonce, String(req.headers.host)) });
        }
        if (req.method === 'POST') {
          // The server drops the connection after answering: the poll must prove a new one.
          const close = closeAfterCreate;
          closeAfterCreate = false;
          return send(201, { id: 'req-ours', status: 'pending', expiresAt: Date.now() + 60_000, seq: 1 }, close);
        }
        return send(200, { id: 'req-ours', status: 'resolved', decision: 'allow' });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
    const outcome = await ask(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    expect(outcome).toMatchObject({ kind: 'finished', decision: 'allow', requestId: 'req-ours' });
    const logs = [...byConnection.values()];
    expect(logs).toEqual([
      ['POST /api/agent/hello', 'POST /api/permission-requests +token'],
      ['POST /api/agent/hello', 'GET /api/permission-requests/req-ours +token'],
    ]);
  });

  it('AGENT-5: one hello serves the whole exchange while the connection holds', async () => {
    const gate = await startFakeGatehouse(TOKEN);
    closers.push(gate.close);
    const asking = ask(gate.url, { pollSeconds: 1 });
    const request = await gate.nextRequest();
    gate.decide(request.id, 'allow');
    expect(await asking).toMatchObject({ kind: 'finished', decision: 'allow', requestId: request.id });
    expect(gate.hellos()).toBe(1);
  });

  it('AGENT-2: a GATEHOUSE_URL with a user name or password, or not http(s), is refused before anything is sent', async () => {
    for (const url of ['http://user:pass@127.0.0.1:9', 'ftp://127.0.0.1:9', 'not a url']) {
      const proof = await new PinnedServer({ baseUrl: url, agentToken: TOKEN }).prove(500);
      expect(proof).toMatchObject({ ok: false, kind: 'unproven' });
    }
  });
});
