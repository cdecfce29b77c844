/**
 * `GET /api/history` against the real server process: finished requests with their
 * outcomes, newest first, paged with `before`, typed by the protocol's `historyPage`;
 * pending ones never; the owner's only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyPage, parseWith } from '../../protocol/index.ts';
import { startServerProcess, type ServerProcess } from '../testing/index.ts';

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  await server?.stop();
});

async function create(command: string): Promise<string> {
  const res = await server.api('/api/permission-requests', {
    method: 'POST',
    token: server.agentToken!,
    json: { toolName: 'Bash', input: { command }, context: { sessionId: 's' } },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.id as string;
}

describe('history', () => {
  it('HUM-6: finished requests with their outcomes, newest first, paged; a pending one is not listed', async () => {
    const allowed = await create('echo allowed');
    const denied = await create('echo denied');
    const cancelled = await create('echo cancelled');
    const pending = await create('echo pending');
    expect((await server.api(`/api/permission-requests/${allowed}/decision`, { method: 'POST', json: { decision: 'allow' } })).status).toBe(200);
    expect((await server.api(`/api/permission-requests/${denied}/decision`, { method: 'POST', json: { decision: 'deny', message: 'no' } })).status).toBe(200);
    expect((await server.api(`/api/permission-requests/${cancelled}`, { method: 'DELETE', token: server.agentToken! })).status).toBe(200);

    const all = await server.api('/api/history');
    expect(all.status).toBe(200);
    const parsed = parseWith(historyPage, all.body);
    expect(parsed.ok).toBe(true);
    const ids = all.body.requests.map((r: { id: string }) => r.id);
    expect(ids).toEqual([cancelled, denied, allowed]);
    expect(ids).not.toContain(pending);
    expect(all.body.requests[1]).toMatchObject({ status: 'resolved', decision: 'deny', message: 'no', decidedBy: 'http', input: { command: 'echo denied' } });
    expect(all.body.requests[0]).toMatchObject({ status: 'cancelled' });
    expect(all.body.next).toBeUndefined();

    const first = await server.api('/api/history?limit=2');
    expect(first.body.requests.map((r: { id: string }) => r.id)).toEqual([cancelled, denied]);
    expect(first.body.next).toBe(denied);
    const second = await server.api(`/api/history?limit=2&before=${first.body.next}`);
    expect(second.body.requests.map((r: { id: string }) => r.id)).toEqual([allowed]);
    expect(second.body.next).toBeUndefined();
  });

  it('HUM-6: a bad limit or an unknown cursor is a 400 naming the parameter; the agent token gets 403, no credential 401', async () => {
    for (const limit of ['0', '101', 'x', '-1']) {
      const res = await server.api(`/api/history?limit=${limit}`);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/^limit:/);
    }
    const unknown = await server.api('/api/history?before=nope');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/^before:/);
    expect((await server.api('/api/history', { token: server.agentToken! })).status).toBe(403);
    expect((await server.api('/api/history', { token: null })).status).toBe(401);
  });
});
