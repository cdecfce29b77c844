/**
 * Two servers (in-process `startServer`) on one PostgreSQL database and one NATS bus
 * (`--store postgres://… --bus nats://…`, contract-2 §6; SPEC.md TEAM-16): the owner and
 * agent tokens shared through GATEHOUSE_TOKEN / GATEHOUSE_AGENT_TOKEN work on both; an
 * event created over HTTP on A reaches a WebSocket client on B with the same seq; a
 * long-poll on A is answered by a decision on B; a client of A resumes on B with `since`
 * and `epoch`; /readyz names the store, the bus and the instance. The 3-process cluster
 * test with kills lives elsewhere (the cluster suite).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BrokerHost } from '../brokerHost.ts';
import { requireNats, TEST_NATS_URL } from '../bus/testing/nats.ts';
import { testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { startServer, type RunningServer } from '../server.ts';
import { openPostgresStore } from '../store/postgresStore.ts';
import { createTestDatabase, requirePostgres } from '../store/testing/postgres.ts';
import { connectAndJoin } from '../testing/index.ts';

const reachable = (await requirePostgres('the two-instance test')) && (await requireNats('the two-instance test'));

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const TOKEN = 'two-instances-owner-token-0123456789';
const AGENT_TOKEN = 'two-instances-agent-token-0123456789';

describe.skipIf(!reachable)('TEAM-16: two servers on one PostgreSQL store and one NATS bus', () => {
  it('TEAM-16: shared tokens, an event on A reaches B’s socket with the same seq, a decision on B answers A’s long-poll, a client resumes on B', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const start = async (): Promise<RunningServer> => {
      const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-two-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const server = await startServer(
        testConfig({ dataDir, store: { kind: 'postgres', url: database.url }, bus: TEST_NATS_URL, envToken: TOKEN, envAgentToken: AGENT_TOKEN }),
        { logger: silentLogger, cluster: { pollMs: 500 } },
      );
      cleanups.push(() => server.stop());
      return server;
    };
    const a = await start();
    const b = await start();
    const api = async (server: RunningServer, path: string, init: { method?: string; json?: unknown; token?: string } = {}) => {
      const res = await fetch(`${server.baseUrl}${path}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${init.token ?? TOKEN}`, ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const wsUrl = (server: RunningServer, params: Record<string, string | number> = {}) => {
      const url = new URL(`ws://127.0.0.1:${server.port}/ws`);
      url.searchParams.set('token', TOKEN);
      for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
      return url.toString();
    };

    expect(a.epoch).toBe(b.epoch);
    expect(a.instanceId).not.toBe(b.instanceId);
    for (const server of [a, b]) {
      expect((await api(server, '/readyz')).body).toMatchObject({ status: 'ready', store: 'postgres', bus: 'nats', instance: server.instanceId });
    }

    const onB = await connectAndJoin(wsUrl(b));
    cleanups.push(() => onB.client.terminate());
    const onA = await connectAndJoin(wsUrl(a));
    cleanups.push(() => onA.client.terminate());

    // An agent creates on A (the shared agent token) and long-polls there.
    const poll = api(a, '/api/permission-requests?wait=20', { method: 'POST', json: { toolName: 'Bash', input: { command: 'make' } }, token: AGENT_TOKEN });
    const seen = await onB.client.waitFor((f) => f.type === 'permission-request', { timeoutMs: 10_000 });
    const onASeen = await onA.client.waitFor((f) => f.type === 'permission-request', { timeoutMs: 10_000 });
    expect(seen.seq).toBe(onASeen.seq);
    expect(seen.id).toBe(onASeen.id);

    // The human decides on B (over its socket); A's long-poll gets the outcome.
    onB.client.send({ type: 'permission-response', requestId: seen.id, decision: 'allow', clientMsgId: 'm-1' });
    const ack = await onB.client.waitFor((f) => f.type === 'ack' && f.ref === 'm-1');
    expect(ack).toMatchObject({ status: 'accepted' });
    const answered = await poll;
    expect(answered.body).toMatchObject({ id: seen.id, status: 'resolved', decision: 'allow' });
    const resolvedOnA = await onA.client.waitFor((f) => f.type === 'permission-resolved' && f.requestId === seen.id);
    const resolvedOnB = await onB.client.waitFor((f) => f.type === 'permission-resolved' && f.requestId === seen.id);
    expect(resolvedOnA.seq).toBe(resolvedOnB.seq);

    // A second decision on A loses, naming the winner; the same clientMsgId on A replays B's answer.
    const late = await api(a, `/api/permission-requests/${seen.id}/decision`, { method: 'POST', json: { decision: 'deny' } });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: { code: 'already-resolved' } });
    onA.client.send({ type: 'permission-response', requestId: seen.id, decision: 'deny', clientMsgId: 'm-1' });
    expect(await onA.client.waitFor((f) => f.type === 'ack' && f.ref === 'm-1')).toMatchObject({ status: 'accepted' });

    // A's client goes; more happens on B; it resumes on A... on B, with since and epoch.
    const held = Math.max(...onA.client.events().map((e) => e.seq));
    onA.client.terminate();
    const more = await api(b, '/api/permission-requests', { method: 'POST', json: { toolName: 'Read', input: { path: '/x' } }, token: AGENT_TOKEN });
    expect(more.status).toBe(201);
    const resumed = await connectAndJoin(wsUrl(b, { since: held, epoch: a.epoch }));
    cleanups.push(() => resumed.client.terminate());
    expect(resumed.welcome).toMatchObject({ resumed: true, epoch: a.epoch });
    const next = await resumed.client.waitFor((f) => f.type === 'permission-request' && f.id === more.body.id);
    expect(next.seq).toBe(held + 1);
    // Each client saw each event once, in seq order.
    const seqs = onB.client.events().map((e) => e.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((x, y) => x - y));
  });

  it("TEAM-11: a resume whose `since` is past this instance's head (its client came from an instance ahead) is served after catching up from the store", async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-two-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    // B polls once an hour: it learns of nothing by itself during the test.
    const b = await startServer(
      testConfig({ dataDir, store: { kind: 'postgres', url: database.url }, bus: TEST_NATS_URL, envToken: TOKEN, envAgentToken: AGENT_TOKEN }),
      { logger: silentLogger, cluster: { pollMs: 3_600_000 } },
    );
    cleanups.push(() => b.stop());
    // The instance ahead: it writes the log and announces nothing, so B stays behind.
    const store = await openPostgresStore({ url: database.url, poolSize: 2 });
    cleanups.push(() => store.close());
    const ahead = await BrokerHost.open({ store, logger: silentLogger, follow: { pollMs: 3_600_000, instanceId: 'ahead' }, cancelOrphans: false });
    cleanups.push(() => ahead.stop());
    const create = async (command: string) => {
      const answer = await ahead.create({ toolName: 'Bash', input: { command }, context: {}, timeoutMs: 60_000, origin: 'http' });
      if (answer.status !== 'created') throw new Error(`expected created, got ${answer.status}`);
      return answer;
    };
    const held = await create('ls');
    const next = await create('pwd');
    expect(b.host.head()).toBe(0);

    // Its client held seq 1 on the instance ahead and resumes on B.
    const url = new URL(`ws://127.0.0.1:${b.port}/ws`);
    url.searchParams.set('token', TOKEN);
    url.searchParams.set('since', String(held.seq));
    url.searchParams.set('epoch', b.epoch);
    const resumed = await connectAndJoin(url.toString());
    cleanups.push(() => resumed.client.terminate());
    expect(resumed.welcome).toMatchObject({ resumed: true, epoch: b.epoch, seq: next.seq });
    const event = await resumed.client.waitFor((f) => f.type === 'permission-request' && f.id === next.id);
    expect(event.seq).toBe(next.seq);
    // What it held is not sent again, and nothing after it is missing.
    expect(resumed.client.events().map((e) => e.seq)).toEqual([next.seq]);
    expect(b.host.head()).toBe(next.seq);
  });
});
