/**
 * Exactly one instance sends a request's push (contract-2 §6, SPEC.md TEAM-S2): three
 * notifiers, each with its own pool on one PostgreSQL database, all see the same request
 * and their delays fire together; one claims it and pushes, the others report
 * `already-pushed`; when it finishes, one "finished" push goes out, from one of them.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { PermissionRequestEvent, SequencedEvent } from '../../protocol/index.ts';
import { silentLogger } from '../log.ts';
import { openSharedPg } from '../store/sharedPg.ts';
import { createTestDatabase, requirePostgres } from '../store/testing/postgres.ts';
import { PushNotifier, type PushActivity } from './notifier.ts';
import { PgPushStore } from './pgPushStore.ts';

const reachable = await requirePostgres('the push claim suite');

const request: PermissionRequestEvent = {
  type: 'permission-request',
  seq: 1,
  id: 'req-1',
  toolName: 'Bash',
  input: { command: 'ls' },
  context: {},
  timestamp: 0,
  expiresAt: 600_000,
};
const finished = { type: 'permission-resolved', seq: 2, requestId: 'req-1', decision: 'allow', decidedBy: 'http', timestamp: 1 } as unknown as SequencedEvent;

describe.skipIf(!reachable)('push claims across instances', () => {
  it('TEAM-S2: of three instances whose delay fires for one request, exactly one pushes it and exactly one sends its "finished"', async () => {
    const database = await createTestDatabase();
    const pools = await Promise.all([1, 2, 3].map(() => openSharedPg({ url: database.url, poolSize: 2 })));
    try {
      await new PgPushStore(pools[0]!.pool).upsert({ endpoint: 'https://push.example/1', keys: { p256dh: 'p', auth: 'a' } }, null, 0);
      const clock = new SimulatedClock();
      const sent: Array<{ instance: number; type: string }> = [];
      const activity: Array<PushActivity & { instance: number }> = [];
      const instances = pools.map((shared, instance) => {
        let listener: ((events: readonly SequencedEvent[]) => void) | undefined;
        let unresolved = true;
        const notifier = new PushNotifier({
          host: {
            onCommitted: (fn) => {
              listener = fn;
              return () => (listener = undefined);
            },
            whenQuiet: (fn) => void fn(),
            isHeld: () => (unresolved ? false : undefined),
            unresolvedEvents: () => [],
          },
          store: new PgPushStore(shared.pool),
          logger: silentLogger,
          vapid: { publicKey: 'k', privateKey: 'p' },
          subject: 'mailto:a@example.com',
          delayMs: 1_000,
          isAllowed: () => true,
          clock,
          now: () => clock.now(),
          send: async (_target, payload) => {
            sent.push({ instance, type: JSON.parse(payload).type });
            return { ok: true, status: 201 };
          },
          onActivity: (a) => activity.push({ ...a, instance }),
        });
        notifier.start();
        return {
          notifier,
          emit: (event: SequencedEvent) => {
            if (event.type !== 'permission-request') unresolved = false;
            listener?.([event]);
          },
        };
      });
      await Promise.all(instances.map((i) => i.notifier.settled()));
      for (const i of instances) i.emit(request);
      clock.increment(1_000);
      await Promise.all(instances.map((i) => i.notifier.drained()));
      const checks = activity.filter((a) => a.type === 'checked').map((a) => (a.type === 'checked' ? a.result : ''));
      expect(checks.sort()).toEqual(['already-pushed', 'already-pushed', 'pushed']);
      expect(sent.map((s) => s.type)).toEqual(['permission-request']);

      for (const i of instances) i.emit(finished);
      await Promise.all(instances.map((i) => i.notifier.drained()));
      expect(sent.map((s) => s.type)).toEqual(['permission-request', 'permission-finished']);
      expect(sent[1]?.instance).toBe(sent[0]?.instance);
      for (const i of instances) i.notifier.stop();
    } finally {
      for (const p of pools) await p.close();
      await database.drop();
    }
  });
});
