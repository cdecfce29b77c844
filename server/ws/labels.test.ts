/**
 * Who a decision says decided it, against the real server process: a client's `?label=`
 * cannot take the server's own names or another client's id, and no other field a client
 * sends becomes `decidedBy`, the audit's `via` or a rule's `createdBy`.
 */
import { request as httpRequest } from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, startServerProcess, type ServerProcess, type TestClient } from '../testing/index.ts';

let server: ServerProcess;
const clients: TestClient[] = [];
beforeAll(async () => {
  server = await startServerProcess({});
});
afterAll(async () => {
  for (const c of clients) c.terminate();
  await server?.stop();
});

/** A raw upgrade: the refusal's status and body, or 101. */
function upgrade(url: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from(randomUUID().slice(0, 16)).toString('base64'),
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: null });
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : text }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function join(params: Record<string, string> = {}) {
  const joined = await connectAndJoin(server.wsUrl(params));
  clients.push(joined.client);
  return joined;
}

async function pending(command: string): Promise<string> {
  const res = await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command }, context: { cwd: '/tmp' } } });
  expect(res.status, res.text).toBe(201);
  return res.body.id;
}

async function decideOverWs(client: TestClient, requestId: string, extra: Record<string, unknown> = {}) {
  const clientMsgId = randomUUID();
  await client.waitFor(
    (f) => (f.type === 'permission-request' && f.id === requestId) || (f.type === 'snapshot' && f.requests.some((r: { id: string }) => r.id === requestId)),
  );
  client.send({ type: 'permission-response', requestId, decision: 'deny', clientMsgId, ...extra });
  return client.waitFor((f) => f.ref === clientMsgId);
}

async function auditOf(requestId: string) {
  const res = await server.api(`/api/audit?requestId=${encodeURIComponent(requestId)}`);
  expect(res.status, res.text).toBe(200);
  expect(res.body.entries).toHaveLength(1);
  return res.body.entries[0];
}

describe('client labels', () => {
  it('SEE-5: a reserved label refuses the upgrade with 400 naming the problem, at /ws and at /', async () => {
    for (const label of ['http', 'HTTP', 'timeout', 'agent', 'server-restart', 'Rule 12', 'device-1']) {
      for (const path of ['/ws', '/']) {
        const res = await upgrade(server.wsUrl({ label }, { path }));
        expect(res.status, `${label} at ${path}`).toBe(400);
        expect(res.body.error).toEqual({ code: 'invalid-message', message: expect.stringMatching(/^label: .* is reserved/) });
      }
    }
    const colon = await upgrade(server.wsUrl({ label: 'rule:r1' }));
    expect(colon).toEqual({
      status: 400,
      body: { error: { code: 'invalid-message', message: 'label: the character ":" is not allowed (letters, digits, space and . _ @ - only)' } },
    });
    const hidden = await upgrade(server.wsUrl({ label: 'h\u200Bttp' }));
    expect(hidden.body.error.message).toMatch(/\\u200B is not allowed/);
  });

  it("SEE-5: another connected client's id, or a look-alike of it, is refused as a label; its own decisions carry its id", async () => {
    const { welcome } = await join();
    const id: string = welcome.clientId;
    expect(id).toMatch(/^client-[0-9a-f]{8}$/);
    for (const label of [id, id.toUpperCase(), id.replace('-', ' '), id.replace(/0/g, 'O').replace(/1/g, 'l')]) {
      const res = await upgrade(server.wsUrl({ label }));
      expect(res.status, label).toBe(400);
      expect(res.body.error.message).toMatch(/looks like a client id/);
    }
    const owner = clients[clients.length - 1];
    const requestId = await pending('ls');
    expect(await decideOverWs(owner!, requestId)).toMatchObject({ type: 'ack', status: 'accepted' });
    expect((await server.api(`/api/permission-requests/${requestId}`)).body.decidedBy).toBe(id);
    expect(await auditOf(requestId)).toMatchObject({ decidedBy: id, via: 'ws' });
  });

  it('SEE-5: an ordinary label is accepted and becomes decidedBy, in the request and the audit', async () => {
    expect((await upgrade(server.wsUrl({ label: 'alice' }))).status).toBe(101);
    const { client } = await join({ label: 'Alice on laptop' });
    const requestId = await pending('pwd');
    expect(await decideOverWs(client, requestId)).toMatchObject({ type: 'ack', status: 'accepted' });
    expect((await server.api(`/api/permission-requests/${requestId}`)).body).toMatchObject({ status: 'resolved', decidedBy: 'Alice on laptop' });
    expect(await auditOf(requestId)).toMatchObject({ decidedBy: 'Alice on laptop', via: 'ws' });
  });

  it('SEE-6: no other field a client sends becomes decidedBy, via or createdBy', async () => {
    // A WebSocket decision that claims to be a rule.
    const { client } = await join({ label: 'bob' });
    const viaWs = await pending('whoami');
    const answer = await decideOverWs(client, viaWs, { decidedBy: 'rule:r1', via: 'rule' });
    expect(answer).toMatchObject({ type: 'ack', status: 'accepted' });
    expect((await server.api(`/api/permission-requests/${viaWs}`)).body.decidedBy).toBe('bob');
    expect(await auditOf(viaWs)).toMatchObject({ decidedBy: 'bob', via: 'ws', how: 'human' });

    // An HTTP decision that claims to be the timeout.
    const viaHttp = await pending('date');
    const decided = await server.api(`/api/permission-requests/${viaHttp}/decision`, {
      method: 'POST',
      json: { decision: 'deny', decidedBy: 'timeout', via: 'rule' },
    });
    expect(decided.status, decided.text).toBe(200);
    expect(decided.body.decidedBy).toBe('http');
    expect(await auditOf(viaHttp)).toMatchObject({ decidedBy: 'http', via: 'http' });

    // A cancel that claims the server's own reason.
    const cancelled = await pending('uptime');
    const refused = await server.api(`/api/permission-requests/${cancelled}?reason=server-restart`, { method: 'DELETE' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/server-restart.*reserved/);
    expect((await server.api(`/api/permission-requests/${cancelled}`)).body.status).toBe('pending');
    const ok = await server.api(`/api/permission-requests/${cancelled}?reason=gave-up`, { method: 'DELETE' });
    expect(ok.status, ok.text).toBe(200);
    const view = (await server.api(`/api/permission-requests/${cancelled}`)).body;
    expect(view).toMatchObject({ status: 'cancelled', reason: 'gave-up', decidedBy: 'http' });

    // A rule whose body names its creator.
    const rule = await server.api('/api/rules', { method: 'POST', json: { toolName: 'Bash', pattern: 'echo hi', scope: 'global', createdBy: 'timeout' } });
    expect(rule.status, rule.text).toBe(201);
    expect(rule.body.createdBy).toBe('http');
  });
});
