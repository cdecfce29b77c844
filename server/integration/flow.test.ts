/**
 * The request lifecycle against the real server process: create over HTTP, receive over
 * WebSocket, decide, long-poll; idempotency; first decision wins; timeout; cancel.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, startServerProcess, type Frame, type ServerProcess, type TestClient } from '../testing/index.ts';

let server: ServerProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  for (const c of clients) c.terminate();
  await server?.stop();
});

async function join(params: Record<string, string | number | undefined> = {}) {
  const joined = await connectAndJoin(server.wsUrl(params));
  clients.push(joined.client);
  return joined;
}

function create(body: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return server.api('/api/permission-requests', {
    method: 'POST',
    headers,
    json: { toolName: 'Bash', input: { command: 'ls -la' }, context: { cwd: '/tmp', sessionId: 's1' }, ...body },
  });
}

const forRequest = (id: string) => (f: Frame) => f.requestId === id || f.id === id;

describe('request lifecycle', () => {
  it('HTTP-1 WS-7: HTTP create -> a client receives it -> decides -> the long-poll returns the decision', async () => {
    const { client } = await join();
    const created = await create();
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'pending', id: expect.any(String), seq: expect.any(Number), expiresAt: expect.any(Number) });
    const id = created.body.id;

    const event = await client.waitFor((f) => f.type === 'permission-request' && f.id === id);
    expect(event).toMatchObject({
      seq: created.body.seq,
      toolName: 'Bash',
      input: { command: 'ls -la' },
      context: { cwd: '/tmp', sessionId: 's1' },
      expiresAt: created.body.expiresAt,
    });
    expect(typeof event.timestamp).toBe('number');

    const poll = server.api(`/api/permission-requests/${id}?wait=10`);
    const clientMsgId = randomUUID();
    client.send({ type: 'permission-response', requestId: id, decision: 'allow', updatedInput: { command: 'ls' }, message: 'ok', clientMsgId });
    const ack = await client.waitFor((f) => f.type === 'ack' && f.ref === clientMsgId);
    expect(ack).toEqual({ type: 'ack', ref: clientMsgId, requestId: id, status: 'accepted' });

    const answered = await poll;
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({
      id,
      status: 'resolved',
      decision: 'allow',
      updatedInput: { command: 'ls' },
      message: 'ok',
      decidedBy: expect.stringMatching(/^client-/),
    });
    const resolved = await client.waitFor((f) => f.type === 'permission-resolved' && f.requestId === id);
    expect(resolved).toMatchObject({ decision: 'allow', seq: created.body.seq + 1 });
  });

  it('HTTP-2: the same Idempotency-Key and body returns the same request (200), another body is idempotency-conflict (409)', async () => {
    const key = randomUUID();
    const first = await create({ input: { command: 'rm -rf build' } }, { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    const again = await create({ input: { command: 'rm -rf build' } }, { 'Idempotency-Key': key });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, seq: first.body.seq, expiresAt: first.body.expiresAt, status: 'pending' });
    const other = await create({ input: { command: 'rm -rf /' } }, { 'Idempotency-Key': key });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('idempotency-conflict');
    const list = await server.api('/api/permission-requests?status=pending');
    expect(list.body.requests.filter((r: { id: string }) => r.id === first.body.id)).toHaveLength(1);
    await server.api(`/api/permission-requests/${first.body.id}`, { method: 'DELETE' });
  });

  it('WS-5: two clients both receive it; the first decision wins; the second gets already-resolved with the winning decision; each sees one permission-resolved', async () => {
    const a = (await join({ label: 'alice' })).client;
    const b = (await join({ label: 'bob' })).client;
    const created = await create();
    const id = created.body.id;
    await a.waitFor((f) => f.type === 'permission-request' && f.id === id);
    await b.waitFor((f) => f.type === 'permission-request' && f.id === id);
    a.send({ type: 'permission-response', requestId: id, decision: 'deny', clientMsgId: 'a-1' });
    await a.waitFor((f) => f.type === 'ack' && f.ref === 'a-1');
    b.send({ type: 'permission-response', requestId: id, decision: 'allow', clientMsgId: 'b-1' });
    const refused = await b.waitFor((f) => f.type === 'error' && f.ref === 'b-1');
    expect(refused).toMatchObject({ code: 'already-resolved', decision: 'deny', requestId: id });
    for (const c of [a, b]) {
      await c.waitFor((f) => f.type === 'permission-resolved' && f.requestId === id);
      // A ping round trip: anything sent before it has arrived.
      c.send({ type: 'ping', id: 'sync' });
      await c.waitFor((f) => f.type === 'pong' && f.id === 'sync');
      const resolved = c.frames.filter((f) => f.type === 'permission-resolved' && f.requestId === id);
      expect(resolved).toHaveLength(1);
      expect(resolved[0]).toMatchObject({ decision: 'deny', decidedBy: 'alice' });
    }
    const view = await server.api(`/api/permission-requests/${id}`);
    expect(view.body).toMatchObject({ status: 'resolved', decision: 'deny', decidedBy: 'alice' });
  });

  it('WS-6: the same clientMsgId again gets the same answer and makes no second decision', async () => {
    const { client } = await join();
    const id = (await create()).body.id;
    await client.waitFor(forRequest(id));
    const msg = { type: 'permission-response', requestId: id, decision: 'allow', clientMsgId: randomUUID() };
    client.send(msg);
    client.send({ ...msg, decision: 'deny' });
    const acks = await client.waitForCount((f) => f.type === 'ack' && f.ref === msg.clientMsgId, 2);
    expect(acks[1]).toEqual(acks[0]);
    expect((await server.api(`/api/permission-requests/${id}`)).body.decision).toBe('allow');
  });

  it('HTTP-8: a deadline passes: one permission-timeout to every client, no permission-resolved; status timedOut, deny, with a message', async () => {
    const a = (await join()).client;
    const b = (await join()).client;
    const created = await create({ timeoutMs: 300 });
    const id = created.body.id;
    const poll = server.api(`/api/permission-requests/${id}?wait=10`);
    for (const c of [a, b]) await c.waitFor((f) => f.type === 'permission-timeout' && f.requestId === id);
    const view = (await poll).body;
    expect(view).toMatchObject({ id, status: 'timedOut', decision: 'deny', decidedBy: 'timeout' });
    expect(view.message).toMatch(/timed out/i);
    a.send({ type: 'permission-response', requestId: id, decision: 'allow', clientMsgId: 'late-1' });
    const late = await a.waitFor((f) => f.type === 'error' && f.ref === 'late-1');
    expect(late.code).toBe('expired');
    for (const c of [a, b]) {
      c.send({ type: 'ping', id: 'sync-t' });
      await c.waitFor((f) => f.type === 'pong' && f.id === 'sync-t');
      expect(c.frames.filter((f) => f.type === 'permission-timeout' && f.requestId === id)).toHaveLength(1);
      expect(c.frames.filter((f) => f.type === 'permission-resolved' && f.requestId === id)).toHaveLength(0);
      expect(c.frames.find((f) => f.type === 'permission-timeout' && f.requestId === id)).toMatchObject({ toolName: 'Bash', timestamp: expect.any(Number) });
    }
    const decided = await server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow' } });
    expect(decided.status).toBe(409);
    expect(decided.body.error.code).toBe('expired');
  });

  it('HTTP-6: DELETE cancels: one permission-cancelled; deciding it then gets cancelled; DELETE again is 409 with its outcome', async () => {
    const { client } = await join();
    const id = (await create()).body.id;
    await client.waitFor(forRequest(id));
    const cancelled = await server.api(`/api/permission-requests/${id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id, status: 'cancelled', decision: 'deny' });
    const event = await client.waitFor((f) => f.type === 'permission-cancelled' && f.requestId === id);
    expect(event).toMatchObject({ reason: expect.any(String), timestamp: expect.any(Number) });
    client.send({ type: 'permission-response', requestId: id, decision: 'allow', clientMsgId: 'after-cancel' });
    expect((await client.waitFor((f) => f.type === 'error' && f.ref === 'after-cancel')).code).toBe('cancelled');
    const again = await server.api(`/api/permission-requests/${id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('cancelled');
    client.send({ type: 'ping', id: 'sync-c' });
    await client.waitFor((f) => f.type === 'pong' && f.id === 'sync-c');
    expect(client.frames.filter((f) => f.type === 'permission-cancelled' && f.requestId === id)).toHaveLength(1);
  });

  it('HTTP-5: POST decision decides like a client (200 resolved, decidedBy http); a second is 409 already-resolved; unknown is 404', async () => {
    const { client } = await join();
    const id = (await create()).body.id;
    const ok = await server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'deny', message: 'no' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id, status: 'resolved', decision: 'deny', message: 'no', decidedBy: 'http' });
    expect(await client.waitFor((f) => f.type === 'permission-resolved' && f.requestId === id)).toMatchObject({ decidedBy: 'http' });
    const second = await server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow' } });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'already-resolved', decision: 'deny' });
    const unknown = await server.api(`/api/permission-requests/nope/decision`, { method: 'POST', json: { decision: 'allow' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('unknown-request');
  });

  it('HTTP-4: the pending list holds unresolved requests only, oldest first', async () => {
    const first = (await create({ toolName: 'Read' })).body.id;
    const second = (await create({ toolName: 'Write' })).body.id;
    const list = await server.api('/api/permission-requests?status=pending');
    expect(list.status).toBe(200);
    const ids = list.body.requests.map((r: { id: string }) => r.id);
    expect(ids.indexOf(first)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(first)).toBeLessThan(ids.indexOf(second));
    expect(list.body.requests.every((r: { status: string }) => r.status === 'pending')).toBe(true);
    const seqs = list.body.requests.map((r: { seq: number }) => r.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    for (const id of [first, second]) await server.api(`/api/permission-requests/${id}`, { method: 'DELETE' });
  });

  it('WS-9: a permission-response for an unknown request gets unknown-request (the feature spec manual check)', async () => {
    const { client } = await join();
    client.send({ type: 'permission-response', requestId: 'test-123', decision: 'allow' });
    const error = await client.waitFor((f) => f.type === 'error' && f.requestId === 'test-123');
    expect(error.code).toBe('unknown-request');
  });

  it('WS-4, CORE-3: queue status follows the unresolved requests', async () => {
    const { client, snapshot } = await join();
    const before = snapshot!.queue.pending;
    const id = (await create()).body.id;
    await client.waitFor((f) => f.type === 'permission-queue-status' && f.pending === before + 1);
    // Counted before the DELETE: its queue status may reach the socket before the HTTP answer.
    const idx = client.frames.length;
    await server.api(`/api/permission-requests/${id}`, { method: 'DELETE' });
    await client.waitFor((f) => f.type === 'permission-queue-status' && f.pending === before, { fromIndex: idx });
    for (const f of client.frames.filter((x) => x.type === 'permission-queue-status')) expect(f).not.toHaveProperty('seq');
  });
});
