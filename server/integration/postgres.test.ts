/**
 * The real server on a PostgreSQL store (`--store postgres://…`, contract-2 §6; SPEC.md
 * TEAM-5): a request created and decided, the process killed with SIGKILL, a new process on
 * the same database keeps the outcome, the epoch and the seq; /readyz names the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, requirePostgres } from '../store/testing/postgres.ts';
import { connectAndJoin, runServeExpectingExit, startServerProcess, type ServerProcess } from '../testing/index.ts';

const reachable = await requirePostgres('the server-on-PostgreSQL test');

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.skipIf(!reachable)('TEAM-5, TEAM-6: serve --store postgres://…', () => {
  it('TEAM-5: create, decide, kill -9, restart on the same database: the outcome, epoch and seq are kept; /readyz names the store', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const start = async (env: Record<string, string>) => {
      // Each process its own data directory: nothing of the log may live there.
      const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const server = await startServerProcess({ dataDir, launcher: 'bin', env: { GATEHOUSE_TOKEN: 'pg-test-token-0123456789', ...env } });
      cleanups.push(() => server.kill('SIGKILL'));
      return server;
    };
    const a: ServerProcess = await start({ GATEHOUSE_STORE: database.url });
    const ready = await a.api('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', store: 'postgres', seq: 0 });

    const created = await a.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command: 'make test' } } });
    expect(created.status).toBe(201);
    const pending = await a.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command: 'make deploy' } } });
    const decided = await a.api(`/api/permission-requests/${created.body.id}/decision`, { method: 'POST', json: { decision: 'allow' } });
    expect(decided.status).toBe(200);
    const before = (await a.api(`/api/permission-requests/${created.body.id}`)).body;
    expect(before).toMatchObject({ status: 'resolved', decision: 'allow' });
    expect((await a.api('/readyz')).body.seq).toBe(3);
    expect((await a.kill('SIGKILL')).signal).toBe('SIGKILL');

    // Another process, another data directory, the same database (and --store as a flag).
    const bDir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
    cleanups.push(() => rmSync(bDir, { recursive: true, force: true }));
    const b = await startServerProcess({
      dataDir: bDir,
      launcher: 'bin',
      args: ['--store', database.url],
      env: { GATEHOUSE_TOKEN: 'pg-test-token-0123456789' },
    });
    cleanups.push(() => b.stop());
    expect((await b.api('/readyz')).body).toMatchObject({ status: 'ready', store: 'postgres', epoch: ready.body.epoch, seq: 3 });
    // A second process on the same database while b serves it: refused (TEAM-9).
    const cDir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
    cleanups.push(() => rmSync(cDir, { recursive: true, force: true }));
    const refused = await runServeExpectingExit(
      ['--port', '0', '--data-dir', cDir, '--store', database.url],
      { GATEHOUSE_TOKEN: 'pg-test-token-0123456789' },
      15_000,
      'bin',
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/another Gatehouse instance serves postgres:\/\/\S+ \(it holds the writer lease\)/);
    expect((await b.api(`/api/permission-requests/${created.body.id}`)).body).toEqual(before);
    // The HTTP request stays unresolved across the restart, and a second decision loses to the first.
    expect((await b.api(`/api/permission-requests/${pending.body.id}`)).body).toMatchObject({ status: 'pending', input: { command: 'make deploy' } });
    const late = await b.api(`/api/permission-requests/${created.body.id}/decision`, { method: 'POST', json: { decision: 'deny' } });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: { code: 'already-resolved' } });
  });

  it('TEAM-5: over WebSocket on PostgreSQL: after kill -9 a resuming client gets no gap and no duplicate, a clientMsgId keeps its answer, an idempotency key its request', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const start = async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const server = await startServerProcess({ dataDir, env: { GATEHOUSE_TOKEN: 'pg-test-token-0123456789', GATEHOUSE_STORE: database.url } });
      cleanups.push(() => server.kill('SIGKILL'));
      return server;
    };
    const joinWs = async (server: ServerProcess, params: Record<string, string | number | undefined> = {}) => {
      const joined = await connectAndJoin(server.wsUrl(params));
      cleanups.push(() => joined.client.terminate());
      return joined;
    };
    const create = (server: ServerProcess, key?: string) =>
      server.api('/api/permission-requests', {
        method: 'POST',
        headers: key ? { 'Idempotency-Key': key } : {},
        json: { toolName: 'Bash', input: { command: 'make' } },
      });

    const a = await start();
    const first = await joinWs(a);
    const r1 = (await create(a, 'key-1')).body;
    const r2 = (await create(a)).body;
    await first.client.waitFor((f) => f.type === 'permission-request' && f.id === r2.id);
    first.client.send({ type: 'permission-response', requestId: r2.id, decision: 'deny', clientMsgId: 'msg-1' });
    const ackBefore = await first.client.waitFor((f) => f.type === 'ack' && f.ref === 'msg-1');
    const heldSeq = Math.max(...first.client.events().map((e) => e.seq));
    first.client.terminate();
    const r3 = (await create(a)).body;
    await a.kill('SIGKILL');

    const b = await start();
    const resumed = await joinWs(b, { since: heldSeq, epoch: first.welcome.epoch });
    expect(resumed.welcome).toMatchObject({ resumed: true, epoch: first.welcome.epoch });
    await resumed.client.waitFor((f) => f.type === 'permission-request' && f.id === r3.id);
    const poll = b.api(`/api/permission-requests/${r1.id}?wait=10`);
    resumed.client.send({ type: 'permission-response', requestId: r1.id, decision: 'allow', clientMsgId: 'msg-2' });
    await resumed.client.waitFor((f) => f.type === 'ack' && f.ref === 'msg-2');
    expect((await poll).body).toMatchObject({ id: r1.id, status: 'resolved', decision: 'allow' });
    const seqs = resumed.client.events().map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => heldSeq + 1 + i));
    resumed.client.send({ type: 'permission-response', requestId: r2.id, decision: 'allow', clientMsgId: 'msg-1' });
    expect(await resumed.client.waitFor((f) => f.type === 'ack' && f.ref === 'msg-1')).toEqual(ackBefore);
    expect((await b.api(`/api/permission-requests/${r2.id}`)).body).toMatchObject({ status: 'resolved', decision: 'deny' });
    const again = await create(b, 'key-1');
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(r1.id);
  });

  it('TEAM-6: /readyz answers 503 once the PostgreSQL store stops answering (its database dropped under it)', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const server = await startServerProcess({ dataDir, env: { GATEHOUSE_TOKEN: 'pg-test-token-0123456789', GATEHOUSE_STORE: database.url } });
    cleanups.push(() => server.kill('SIGKILL'));
    expect((await server.api('/readyz')).body).toMatchObject({ status: 'ready', store: 'postgres' });
    await database.drop();
    const down = await server.api('/readyz');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ error: { code: 'unavailable', message: expect.stringMatching(/^the postgres store does not answer: /) } });
  });
});
