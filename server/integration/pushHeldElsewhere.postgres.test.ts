/**
 * Push with two servers on one PostgreSQL store and one NATS bus (SPEC.md TEAM-S8;
 * docs/cluster.md, "Push and the screens of other instances"): a request a screen on A
 * holds is pushed by neither instance (B asks A over the bus first); a request no screen
 * holds is pushed exactly once (B's question meets silence). Real servers, a fake push
 * service on loopback, a SimulatedClock per server for the push delay.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { requireNats, TEST_NATS_URL } from '../bus/testing/nats.ts';
import { testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import type { PushActivity } from '../push/notifier.ts';
import { startFakePushService } from '../push/testing/fakePushService.ts';
import { startServer, type RunningServer } from '../server.ts';
import { createTestDatabase, requirePostgres } from '../store/testing/postgres.ts';
import { connectAndJoin } from '../testing/index.ts';

const reachable = (await requirePostgres('the push-across-instances test')) && (await requireNats('the push-across-instances test'));

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const TOKEN = 'push-held-owner-token-0123456789abcd';
const DELAY = 3_000;

describe.skipIf(!reachable)('TEAM-S8: push and the screens of other instances', () => {
  it('TEAM-S8: a request a screen on A holds is pushed by neither A nor B; one that no screen holds is pushed once', async () => {
    const service = await startFakePushService();
    cleanups.push(() => service.close());
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const start = async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-push-held-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const clock = new SimulatedClock();
      const activity: PushActivity[] = [];
      const server: RunningServer = await startServer(
        testConfig({
          dataDir,
          store: { kind: 'postgres', url: database.url },
          bus: TEST_NATS_URL,
          envToken: TOKEN,
          push: { delayMs: DELAY, allowedOrigins: [service.origin], subject: 'mailto:push-test@example.com' },
        }),
        // A generous wait for A's answer: a loaded machine must not turn "held" into silence.
        { logger: silentLogger, cluster: { pollMs: 500, heldAskMs: 2_000 }, push: { clock, onActivity: (a) => activity.push(a) } },
      );
      cleanups.push(() => server.stop());
      return { server, clock, activity };
    };
    const a = await start();
    const b = await start();
    const api = async (server: RunningServer, path: string, json?: unknown) => {
      const res = await fetch(`${server.baseUrl}${path}`, {
        method: json === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    service.trustKey((await api(a.server, '/api/push/key')).body.publicKey);
    const subscription = service.newSubscription();
    expect((await api(a.server, '/api/push/subscriptions', { endpoint: subscription.endpoint, keys: subscription.keys })).status).toBe(201);
    const screen = async (server: RunningServer) => {
      const joined = await connectAndJoin(`ws://127.0.0.1:${server.port}/ws?token=${TOKEN}`);
      cleanups.push(() => joined.client.close());
      return joined.client;
    };
    const onA = await screen(a.server);
    const onB = await screen(b.server); // sees every request, acknowledges none
    const checked = (node: { activity: PushActivity[] }, id: string) =>
      node.activity.flatMap((x) => (x.type === 'checked' && x.requestId === id ? [x.result] : []));
    const delayPasses = async () => {
      for (const node of [a, b]) node.clock.increment(DELAY);
      await Promise.all([a, b].map((node) => node.server.push.notifier.settled()));
    };

    // Held by the screen on A: A's own check says so, B's question is answered by A.
    const held = await api(a.server, '/api/permission-requests', { toolName: 'Bash', input: { command: 'make' } });
    const frame = await onA.waitFor((f) => f.type === 'permission-request' && f.id === held.body.id);
    await onB.waitFor((f) => f.type === 'permission-request' && f.id === held.body.id);
    onA.send({ type: 'ack', seq: frame.seq });
    await onA.waitFor((f) => f.type === 'permission-queue-status' && f.processing === 1);
    await delayPasses();
    expect(checked(a, held.body.id)).toEqual(['held']);
    expect(checked(b, held.body.id)).toEqual(['held']);

    // Held by nobody: B's question meets silence, and one of the two pushes it.
    const unheld = await api(a.server, '/api/permission-requests', { toolName: 'Bash', input: { command: 'ls' } });
    await onA.waitFor((f) => f.type === 'permission-request' && f.id === unheld.body.id);
    await onB.waitFor((f) => f.type === 'permission-request' && f.id === unheld.body.id);
    await delayPasses();
    expect([...checked(a, unheld.body.id), ...checked(b, unheld.body.id)].sort()).toEqual(['already-pushed', 'pushed']);
    await service.waitFor((p) => p.message?.id === unheld.body.id);
    await Promise.all([a, b].map((node) => node.server.push.notifier.drained()));
    expect(service.received.map((p) => p.message?.id)).toEqual([unheld.body.id]);
  });
});
