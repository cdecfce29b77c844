/**
 * Create-and-wait (`POST /api/permission-requests?wait=S`, contract-2 §2) through a real
 * server process: answered in the same call by a quick human, a remembered rule or the
 * request's own timeout; `201 pending` when nothing happens within S; an Idempotency-Key
 * seen before answers at once; S out of range is refused naming `wait`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, startServerProcess, type ServerProcess, type TestClient } from '../testing/index.ts';

let server: ServerProcess;
let client: TestClient;
beforeAll(async () => {
  server = await startServerProcess();
  ({ client } = await connectAndJoin(server.wsUrl()));
});
afterAll(async () => {
  await client?.close();
  await server?.stop();
});

let counter = 0;
const body = (command = `echo cch ${++counter}`, extra: Record<string, unknown> = {}) => ({
  toolName: 'Bash',
  input: { command },
  context: { agent: 'test' },
  ...extra,
});
const createAndWait = (wait: string, json: unknown, headers: Record<string, string> = {}) =>
  server.api(`/api/permission-requests?wait=${wait}`, { method: 'POST', json, headers, token: server.agentToken });

describe('create-and-wait', () => {
  it('CCH-1: a decision made while the create waits is the answer of the same call (200, the request view), with the agent token', async () => {
    const from = client.frames.length;
    const json = body();
    const answer = createAndWait('30', json);
    const request = await client.waitFor((f) => f.type === 'permission-request' && f.input.command === json.input.command, { fromIndex: from });
    const decided = await server.api(`/api/permission-requests/${request.id}/decision`, { method: 'POST', json: { decision: 'deny', message: 'not now' } });
    expect(decided.status).toBe(200);
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: request.id, status: 'resolved', decision: 'deny', message: 'not now', toolName: 'Bash', input: json.input });
  });

  it('CCH-1: nothing within S seconds: 201 {id, status: "pending", expiresAt, seq} as without wait', async () => {
    const res = await createAndWait('0.2', body());
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['expiresAt', 'id', 'seq', 'status']);
    expect(res.body.status).toBe('pending');
    const res0 = await createAndWait('0', body());
    expect(res0.status).toBe(201);
    expect(res0.body.status).toBe('pending');
  });

  it('CCH-1: the request times out within S: 200 with status timedOut (a deny)', async () => {
    const res = await createAndWait('10', body(undefined, { timeoutMs: 200 }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'timedOut', decision: 'deny' });
  });

  it('CCH-2: a remembered rule decides at once: answered 200 in the same call, by the rule', async () => {
    const command = 'echo cch-2 rule';
    const rule = await server.api('/api/rules', {
      method: 'POST',
      json: { toolName: 'Bash', pattern: command, match: 'exact', decision: 'allow', scope: 'global' },
    });
    expect(rule.status).toBe(201);
    try {
      const res = await createAndWait('30', body(command));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'resolved', decision: 'allow', decidedBy: `rule:${rule.body.id}` });
    } finally {
      await server.api(`/api/rules/${rule.body.id}`, { method: 'DELETE' });
    }
  });

  it('CCH-3: an Idempotency-Key seen before: 200 and the request as it stands, at once (no second wait), then its outcome', async () => {
    const json = body();
    const key = `cch-3-${counter}`;
    const first = await createAndWait('0', json, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    // With a long wait and nobody deciding, only "at once" can pass within the test's time.
    const again = await createAndWait('60', json, { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, status: 'pending' });
    await server.api(`/api/permission-requests/${first.body.id}/decision`, { method: 'POST', json: { decision: 'allow' } });
    const after = await createAndWait('60', json, { 'idempotency-key': key });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ id: first.body.id, status: 'resolved', decision: 'allow' });
    const conflict = await createAndWait('5', body('echo another body'), { 'idempotency-key': key });
    expect(conflict.status).toBe(409);
  }, 10_000);

  it('CCH-4: wait out of range (over 60, negative, not a number, empty) is 400 naming `wait`, and nothing is created', async () => {
    const before = (await server.api('/api/permission-requests')).body.requests.length;
    for (const wait of ['61', '-1', 'abc', '', '1e3', 'Infinity']) {
      const res = await createAndWait(encodeURIComponent(wait), body());
      expect(res.status, wait).toBe(400);
      expect(res.body.error.code).toBe('invalid-message');
      expect(res.body.error.message).toMatch(/^wait: expected seconds from 0 to 60/);
    }
    expect((await server.api('/api/permission-requests')).body.requests.length).toBe(before);
  });
});
