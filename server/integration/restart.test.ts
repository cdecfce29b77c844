/**
 * kill -9 and restart on the same data directory (protocol-v1.md §1: "loses nothing that
 * was acknowledged"), and SIGTERM shutdown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectAndJoin, startServerProcess, type ServerProcess, type TestClient } from '../testing/index.ts';

const dirs: string[] = [];
const servers: ServerProcess[] = [];
const clients: TestClient[] = [];
afterAll(async () => {
  for (const c of clients) c.terminate();
  for (const s of servers) await s.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(dataDir: string, env: Record<string, string> = {}) {
  const server = await startServerProcess({ dataDir, env: { GATEHOUSE_TOKEN: 'restart-test-token-0123456789', ...env } });
  servers.push(server);
  return server;
}

async function join(server: ServerProcess, params: Record<string, string | number | undefined> = {}) {
  const joined = await connectAndJoin(server.wsUrl(params));
  clients.push(joined.client);
  return joined;
}

describe('kill -9 and restart', () => {
  it('STO-7: same ids, seq and deadlines; a resuming client sees no gap and no duplicate; long-polls get their decisions; a clientMsgId keeps its answer', async () => {
    const dataDir = mkdtempSync(joinPath(tmpdir(), 'gatehouse-restart-'));
    dirs.push(dataDir);
    const a = await start(dataDir);
    const create = (s: ServerProcess, key?: string) =>
      s.api('/api/permission-requests', {
        method: 'POST',
        headers: key ? { 'Idempotency-Key': key } : {},
        json: { toolName: 'Bash', input: { command: 'make' } },
      });

    const first = await join(a);
    const r1 = (await create(a, 'key-1')).body;
    const r2 = (await create(a)).body;
    const r3 = (await create(a)).body;
    await first.client.waitFor((f) => f.type === 'permission-request' && f.id === r3.id);
    first.client.send({ type: 'permission-response', requestId: r3.id, decision: 'deny', clientMsgId: 'msg-before-crash' });
    const ackBefore = await first.client.waitFor((f) => f.type === 'ack' && f.ref === 'msg-before-crash');
    const heldSeq = Math.max(...first.client.events().map((e) => e.seq));
    first.client.terminate();
    // Events the client misses: made and acknowledged (201) before the crash.
    const r4 = (await create(a)).body;
    const viewsBefore = await Promise.all([r1, r2, r4].map((r) => a.api(`/api/permission-requests/${r.id}`).then((x) => x.body)));

    const killed = await a.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');

    const b = await start(dataDir);
    for (const before of viewsBefore) {
      const after = (await b.api(`/api/permission-requests/${before.id}`)).body;
      expect(after).toMatchObject({ id: before.id, seq: before.seq, expiresAt: before.expiresAt, status: 'pending', createdAt: before.createdAt });
    }
    // The agent's repeated long-poll gets the decision made after the restart.
    const poll = b.api(`/api/permission-requests/${r1.id}?wait=10`);
    const resumed = await join(b, { since: heldSeq, epoch: first.welcome.epoch });
    expect(resumed.welcome).toMatchObject({ resumed: true, epoch: first.welcome.epoch });
    await resumed.client.waitFor((f) => f.type === 'permission-request' && f.id === r4.id);
    resumed.client.send({ type: 'permission-response', requestId: r1.id, decision: 'allow', clientMsgId: 'msg-after' });
    await resumed.client.waitFor((f) => f.type === 'ack' && f.ref === 'msg-after');
    expect((await poll).body).toMatchObject({ id: r1.id, status: 'resolved', decision: 'allow' });

    const seqs = resumed.client.events().map((e) => e.seq);
    expect(seqs[0]).toBe(heldSeq + 1);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => heldSeq + 1 + i));

    // The same clientMsgId gets the same answer, and makes no second decision.
    resumed.client.send({ type: 'permission-response', requestId: r3.id, decision: 'allow', clientMsgId: 'msg-before-crash' });
    const ackAfter = await resumed.client.waitFor((f) => f.type === 'ack' && f.ref === 'msg-before-crash');
    expect(ackAfter).toEqual(ackBefore);
    expect((await b.api(`/api/permission-requests/${r3.id}`)).body).toMatchObject({ status: 'resolved', decision: 'deny' });

    // An idempotency key from before the crash still names the same request.
    const again = await create(b, 'key-1');
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(r1.id);
    await b.stop();
  });
});

describe('SIGTERM', () => {
  it('OPS-3: open long-polls are answered, sockets close with 1001, the process exits 0 within 5 s, nothing is lost', async () => {
    const dataDir = mkdtempSync(joinPath(tmpdir(), 'gatehouse-sigterm-'));
    dirs.push(dataDir);
    const a = await start(dataDir, { DEBUG: 'http' });
    const { client } = await join(a);
    const created = (await a.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command: 'deploy' } } })).body;
    await client.waitFor((f) => f.type === 'permission-request' && f.id === created.id);
    const poll = a.api(`/api/permission-requests/${created.id}?wait=30`);
    await a.waitForStderr(`long-poll waiting id=${created.id}`);
    const started = Date.now();
    a.proc.kill('SIGTERM');
    const answered = await poll;
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({ id: created.id, status: 'pending' });
    expect((await client.closed).code).toBe(1001);
    const exit = await a.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(5_000);

    const b = await start(dataDir);
    expect((await b.api(`/api/permission-requests/${created.id}`)).body).toMatchObject({ status: 'pending', seq: created.seq });
    await b.stop();
  });
});
