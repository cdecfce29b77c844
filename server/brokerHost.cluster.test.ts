/**
 * Two broker hosts on one PostgreSQL log and a real NATS bus, each the projection of the
 * log (docs/cluster.md; SPEC.md TEAM-10..TEAM-15): another instance's events reach this
 * one's listeners with the same seq; outcomes decided on one wake waits on the other;
 * the first decision wins across instances and the other answers `already-resolved`
 * naming it; a lost seq race runs its batch again; "unknown request" is only answered
 * after catching up; a dead instance's agent requests are cancelled, nobody else's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { SequencedEvent } from '../protocol/index.ts';
import { BrokerHost, HostStoppedError, type FollowOptions } from './brokerHost.ts';
import { connectBus, type Bus } from './bus/natsBus.ts';
import { InstanceHome } from './bus/instances.ts';
import { requireNats, TEST_NATS_URL } from './bus/testing/nats.ts';
import { silentLogger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { openPostgresStore, type PostgresEventStore } from './store/postgresStore.ts';
import { createTestDatabase, requirePostgres } from './store/testing/postgres.ts';
import type { EventStore } from './store/types.ts';

const reachable = (await requirePostgres('the cluster host tests')) && (await requireNats('the cluster host tests'));

/** A create's answer that must be `created`. */
async function made(answer: Promise<Awaited<ReturnType<BrokerHost['create']>>>): Promise<{ id: string; seq: number; expiresAt: number }> {
  const a = await answer;
  if (a.status !== 'created') throw new Error(`expected created, got ${a.status}`);
  return a;
}

/** A promise and its resolve, for holding a store call at a chosen point. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The store with some of its methods replaced (the rest as they are, on the store). */
function around(store: PostgresEventStore, methods: Partial<EventStore>): EventStore {
  return Object.assign(Object.create(store) as EventStore, methods);
}

/** Lets every pending promise callback run (an I/O-free chain ends before this). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const spec = (origin: 'http' | 'agent' = 'http', toolName = 'Bash') => ({ toolName, input: { command: 'ls' }, context: {}, timeoutMs: 60_000, origin });

type Node = {
  host: BrokerHost;
  store: PostgresEventStore;
  /** Every event its listeners were handed, with where it came from. */
  seen: Array<{ event: SequencedEvent; source: string }>;
  metrics: ReturnType<typeof createMetrics>;
  /** Resolves when `check` holds, re-checked at each relay (no sleeps). */
  until(check: () => boolean): Promise<void>;
};

describe.skipIf(!reachable)('TEAM: broker hosts following one log', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function database(): Promise<string> {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    return db.url;
  }

  async function bus(name: string): Promise<Bus> {
    const connected = await connectBus(TEST_NATS_URL, { name });
    cleanups.push(() => connected.close());
    return connected;
  }

  /** One instance. `follow.bus` absent and a long poll: it hears of nothing by itself. */
  async function node(url: string, follow: FollowOptions, wrap?: (store: PostgresEventStore) => EventStore, clock?: SimulatedClock): Promise<Node> {
    const store = await openPostgresStore({ url, poolSize: 4 });
    cleanups.push(() => store.close());
    const metrics = createMetrics();
    const host = await BrokerHost.open({
      store: wrap ? wrap(store) : store,
      logger: silentLogger,
      metrics,
      follow,
      cancelOrphans: false,
      ...(clock ? { clock } : {}),
    });
    cleanups.push(() => host.stop());
    const seen: Node['seen'] = [];
    const wake = new Set<() => void>();
    host.onCommitted((events, source) => {
      for (const event of events) seen.push({ event, source });
      for (const fn of [...wake]) fn();
    });
    const until = (check: () => boolean) =>
      new Promise<void>((resolve) => {
        const probe = () => {
          if (!check()) return;
          wake.delete(probe);
          resolve();
        };
        wake.add(probe);
        probe();
      });
    return { host, store, seen, metrics, until };
  }

  const deaf = { pollMs: 3_600_000 };

  /** A bus this instance announces on but hears nothing from. */
  const mute = (connected: Bus): Bus => ({ ...connected, announce: (range) => connected.announce(range), subscribe: () => () => {} });

  /** refusalMessage's way of naming a device decider: `the device "bob"`. */
  const named = (decidedBy: string) => `device "${decidedBy.slice('device:'.length)}"`;

  it('TEAM-10: a request created on A reaches B’s listeners once, with the same seq, and B’s broker holds it with its deadline', async () => {
    const url = await database();
    const a = await node(url, { bus: await bus('a'), pollMs: 60_000, instanceId: 'A' });
    const b = await node(url, { bus: await bus('b'), pollMs: 60_000, instanceId: 'B' });
    const created = await made(a.host.create({ ...spec(), idempotencyKey: 'k1', bodyHash: 'h1' }));
    await b.until(() => b.seen.some((s) => s.event.type === 'permission-request'));
    expect(b.seen).toEqual([{ event: expect.objectContaining({ type: 'permission-request', seq: created.seq, id: created.id }), source: 'log' }]);
    expect(a.seen.map((s) => [s.event.seq, s.source])).toEqual([[created.seq, 'local']]);
    expect(b.host.head()).toBe(created.seq);
    expect(b.host.unresolvedEvents().map((e) => e.id)).toEqual([created.id]);
    // The idempotency key came with the row: a retried create on B finds A's request.
    const again = await b.host.create({ ...spec(), idempotencyKey: 'k1', bodyHash: 'h1' });
    expect(again).toMatchObject({ status: 'existing', id: created.id, seq: created.seq });
    // Chat from B reaches A the same way, after the request.
    const chat = await b.host.append({
      type: 'chat-message',
      sessionId: 's',
      message: { id: 'm1', role: 'assistant', kind: 'text', text: 'hi' },
      timestamp: 1,
    });
    await a.until(() => a.host.head() === chat.seq);
    expect(a.seen.map((s) => [s.event.seq, s.event.type, s.source])).toEqual([
      [created.seq, 'permission-request', 'local'],
      [chat.seq, 'chat-message', 'log'],
    ]);
  });

  it('TEAM-10: events another instance committed while this one’s own commit was in flight are relayed when that commit ends, with nothing else happening', async () => {
    const url = await database();
    const stored = deferred();
    const release = deferred();
    const read = deferred();
    let hold = false;
    const b = await node(url, { ...deaf, instanceId: 'B' }, (store) =>
      around(store, {
        // B's commit reaches the log, and B's host hears of its end only when released.
        writeBatch: async (records) => {
          await store.writeBatch(records);
          if (!hold) return;
          hold = false;
          stored.resolve();
          await release.promise;
        },
        getRequests: async (ids) => {
          const rows = await store.getRequests(ids);
          read.resolve();
          return rows;
        },
      }),
    );
    const a = await node(url, { ...deaf, instanceId: 'A' });
    hold = true;
    const onB = made(b.host.create(spec('http', 'Read')));
    await stored.promise;
    await a.host.catchUp();
    expect((await made(a.host.create(spec('http', 'Write')))).seq).toBe(2);
    // B's follower reads 1..2 while B's own commit of 1 is still in flight.
    const caught = b.host.catchUp(3_000);
    await read.promise;
    await settle();
    release.resolve();
    expect((await onB).seq).toBe(1);
    await caught;
    expect(b.host.head()).toBe(2);
    expect(b.seen.map((s) => [s.event.seq, s.source])).toEqual([
      [1, 'local'],
      [2, 'log'],
    ]);
  });

  /** Six events on A (three requests, each denied), then the log pruned to its newest one. */
  async function prunedLog(a: Node): Promise<void> {
    for (const tool of ['Read', 'Write', 'Edit']) {
      const m = await made(a.host.create(spec('http', tool)));
      await a.host.decide({ requestId: m.id, decision: 'deny', decidedBy: 'http', via: 'http' });
    }
    expect((await a.store.prune(Date.now() + 3_600_000, { keepEvents: 1, keepMs: 0 })).prunedThrough).toBe(5);
  }

  it('TEAM-7: an instance that fell behind the pruned point reloads from the store and then follows the log again', async () => {
    const url = await database();
    const a = await node(url, { ...deaf, instanceId: 'A' });
    const b = await node(url, { ...deaf, instanceId: 'B' });
    await prunedLog(a);
    await b.host.catchUp(); // too-old: B reloads
    expect(b.host.head()).toBe(6);
    const later = await made(a.host.create(spec('http', 'Glob')));
    await b.host.catchUp(3_000);
    expect(b.host.head()).toBe(later.seq);
    expect(b.seen.at(-1)).toEqual({ event: expect.objectContaining({ seq: later.seq, id: later.id }), source: 'log' });
  });

  it('TEAM-13: falling behind the pruned point while a commit is in flight: that batch, which loses its race, still runs again and is answered', async () => {
    const url = await database();
    const a = await node(url, { ...deaf, instanceId: 'A' });
    const writing = deferred();
    const releaseWrite = deferred();
    const failed = deferred();
    const tooOld = deferred();
    const releaseLoad = deferred();
    let holdWrite = false;
    let holdLoad = false;
    const b = await node(url, { ...deaf, instanceId: 'B' }, (store) =>
      around(store, {
        writeBatch: async (records) => {
          if (holdWrite) {
            holdWrite = false;
            writing.resolve();
            await releaseWrite.promise;
          }
          try {
            await store.writeBatch(records);
          } catch (error) {
            failed.resolve();
            throw error;
          }
        },
        eventsSince: async (since) => {
          const result = await store.eventsSince(since);
          if (!result.ok && result.reason === 'too-old') tooOld.resolve();
          return result;
        },
        load: async (options) => {
          if (holdLoad) await releaseLoad.promise;
          return store.load(options);
        },
      }),
    );
    holdWrite = true;
    const onB = made(b.host.create(spec('http', 'Grep'))); // numbered 1, held before the store
    await writing.promise;
    await prunedLog(a);
    holdLoad = true;
    const caught = b.host.catchUp(); // B's follower: too-old
    await tooOld.promise;
    await settle();
    releaseWrite.resolve(); // B's seq 1 loses to A's
    await failed.promise;
    await settle();
    releaseLoad.resolve();
    const created = await onB;
    expect(created.seq).toBe(7);
    await caught;
    expect(await a.store.getRequest(created.id)).toMatchObject({ seq: 7, status: 'pending' });
    expect(b.host.head()).toBe(7);
  });

  it('TEAM-11: a decision on B answers A’s awaitOutcome with B’s decider; a request A has not heard of is caught up, not unknown', async () => {
    const url = await database();
    const a = await node(url, { bus: await bus('a'), pollMs: 60_000, instanceId: 'A' });
    const b = await node(url, { ...deaf, bus: mute(await bus('b')), instanceId: 'B' });
    const created = await made(a.host.create(spec()));
    const waiting = a.host.awaitOutcome(created.id, { timeoutMs: 20_000 });
    // B hears nothing by itself (no bus, no poll): the decision catches up first.
    const decided = await b.host.decide({ requestId: created.id, decision: 'allow', decidedBy: 'device:phone', via: 'ws' });
    expect(decided.answer).toEqual({ status: 'accepted', requestId: created.id });
    const outcome = await waiting;
    expect(outcome).toMatchObject({ status: 'finished', outcome: { status: 'resolved', decision: 'allow', decidedBy: 'device:phone' } });
    // A long-poll on B of a request made and decided on A, which B has not heard of: it
    // catches up and answers the outcome, not "unknown".
    const second = await made(a.host.create(spec()));
    await a.host.decide({ requestId: second.id, decision: 'deny', decidedBy: 'http', via: 'http' });
    expect(b.host.head()).toBe(2);
    expect(await b.host.awaitOutcome(second.id, { timeoutMs: 20_000 })).toMatchObject({
      status: 'finished',
      outcome: { decision: 'deny', decidedBy: 'http' },
    });
    expect(b.host.head()).toBe(4);
    expect((await a.store.getRequest(created.id))?.decidedBy).toBe('device:phone');
  });

  it('TEAM-12: two decisions at the same moment on A and B: exactly one wins, the other answers already-resolved naming the winner', async () => {
    const url = await database();
    for (let round = 0; round < 5; round++) {
      const a = await node(url, { bus: await bus('a'), pollMs: 60_000, instanceId: 'A' });
      const b = await node(url, { bus: await bus('b'), pollMs: 60_000, instanceId: 'B' });
      const created = await made(a.host.create(spec()));
      await b.until(() => b.host.unresolvedEvents().some((e) => e.id === created.id));
      const [onA, onB] = await Promise.all([
        a.host.decide({ requestId: created.id, decision: 'allow', decidedBy: 'device:alice', via: 'ws' }),
        b.host.decide({ requestId: created.id, decision: 'deny', decidedBy: 'device:bob', via: 'ws' }),
      ]);
      const answers = [onA.answer, onB.answer];
      const winners = answers.filter((x) => x.status === 'accepted');
      expect(winners).toHaveLength(1);
      const winner = onA.answer.status === 'accepted' ? 'device:alice' : 'device:bob';
      const loser = answers.find((x) => x.status === 'rejected');
      expect(loser).toMatchObject({ status: 'rejected', code: 'already-resolved' });
      expect((loser as { message: string }).message).toContain(named(winner));
      const row = await a.store.getRequest(created.id);
      expect(row?.decidedBy).toBe(winner);
      // One outcome event in the log, and both instances relayed the same log.
      const log = await a.store.eventsSince(0);
      expect(log.ok && log.events.filter((e) => 'requestId' in e && e.requestId === created.id)).toHaveLength(1);
      const head = await a.store.head();
      await a.until(() => a.host.head() === head);
      await b.until(() => b.host.head() === head);
      for (const cleanup of cleanups.splice(1).reverse()) await cleanup();
    }
  });

  it('TEAM-12: a deadline fires on both instances (no grace for the other, TEAM-17): the log holds one timeout, and both relay it once', async () => {
    const url = await database();
    const a = await node(url, { bus: await bus('a'), pollMs: 60_000, instanceId: 'A', othersGraceMs: 0 });
    const b = await node(url, { bus: await bus('b'), pollMs: 60_000, instanceId: 'B', othersGraceMs: 0 });
    const created = await made(a.host.create({ ...spec(), timeoutMs: 400 }));
    await b.until(() => b.host.unresolvedEvents().some((e) => e.id === created.id));
    const timedOut = (n: Node) => n.seen.some((s) => s.event.type === 'permission-timeout');
    await a.until(() => timedOut(a));
    await b.until(() => timedOut(b));
    const log = await a.store.eventsSince(0);
    expect(log.ok && log.events.map((e) => e.type)).toEqual(['permission-request', 'permission-timeout']);
    for (const n of [a, b]) expect(n.seen.map((s) => s.event.seq)).toEqual([1, 2]);
    expect((await b.host.awaitOutcome(created.id)).status).toBe('finished');
  });

  it('TEAM-13: a stop while a lost race reloads refuses the batch’s callers (HostStoppedError) instead of leaving them waiting', async () => {
    const url = await database();
    const a = await node(url, { ...deaf, instanceId: 'A' });
    const loading = deferred();
    const held = deferred();
    let hold = false;
    const b = await node(url, { ...deaf, instanceId: 'B' }, (store) =>
      around(store, {
        load: async (options) => {
          if (hold) {
            held.resolve();
            await loading.promise;
          }
          return store.load(options);
        },
      }),
    );
    await made(a.host.create(spec('http', 'Read')));
    hold = true;
    // B's create is numbered 1 too, loses at the commit, and B reloads: held there.
    const lost = b.host.create(spec('http', 'Write'));
    await held.promise;
    const stopped = b.host.stop();
    loading.resolve();
    await stopped;
    await expect(lost).rejects.toThrow(HostStoppedError);
    const log = await a.store.eventsSince(0);
    expect(log.ok && log.events.map((e) => e.seq)).toEqual([1]);
  });

  it('TEAM-13: a create that loses the seq race is numbered afresh after the winner; nothing is lost, nothing is relayed twice', async () => {
    const url = await database();
    const a = await node(url, { ...deaf, instanceId: 'A' });
    const b = await node(url, { ...deaf, instanceId: 'B' });
    const first = await made(a.host.create(spec('http', 'Read')));
    // B has not heard of seq 1: its create is numbered 1 too, loses at the commit, and
    // runs again after catching up.
    const second = await made(b.host.create(spec('http', 'Write')));
    expect(first.seq).toBe(1);
    expect(second).toMatchObject({ status: 'created', seq: 2 });
    expect(await b.metrics.registry.getSingleMetricAsString('gatehouse_seq_conflicts_total')).toMatch(/gatehouse_seq_conflicts_total 1\b/);
    expect(b.seen.map((s) => [s.event.seq, s.source])).toEqual([
      [1, 'log'],
      [2, 'local'],
    ]);
    // A decision that loses the race to a decision of the same request answers the winner.
    const decidedOnA = await a.host.decide({ requestId: second.id, decision: 'allow', decidedBy: 'device:alice', via: 'ws' });
    expect(decidedOnA.answer.status).toBe('accepted');
    const late = await b.host.decide({ requestId: second.id, decision: 'deny', decidedBy: 'device:bob', via: 'ws' });
    expect(late.answer).toMatchObject({ status: 'rejected', code: 'already-resolved' });
    expect((late.answer as { message: string }).message).toContain(named('device:alice'));
    const log = await a.store.eventsSince(0);
    expect(log.ok && log.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(b.host.head()).toBe(3);
  });

  it('TEAM-14: concurrent creates and decisions on both instances: a gapless log, each event relayed once on each, in seq order', async () => {
    const url = await database();
    const a = await node(url, { bus: await bus('a'), pollMs: 200, instanceId: 'A' });
    const b = await node(url, { bus: await bus('b'), pollMs: 200, instanceId: 'B' });
    const requests = await Promise.all(Array.from({ length: 30 }, (_, i) => made((i % 2 ? a : b).host.create(spec()))));
    expect(new Set(requests.map((m) => m.id)).size).toBe(30);
    const decisions = await Promise.all(
      requests.flatMap((m) => [
        a.host.decide({ requestId: m.id, decision: 'allow', decidedBy: 'device:alice', via: 'ws' }),
        b.host.decide({ requestId: m.id, decision: 'deny', decidedBy: 'device:bob', via: 'ws' }),
      ]),
    );
    expect(decisions.filter((d) => d.answer.status === 'accepted')).toHaveLength(30);
    expect(decisions.filter((d) => d.answer.status === 'rejected' && d.answer.code === 'already-resolved')).toHaveLength(30);
    const head = await a.store.head();
    expect(head).toBe(60);
    await a.until(() => a.host.head() === head);
    await b.until(() => b.host.head() === head);
    for (const n of [a, b]) expect(n.seen.map((s) => s.event.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  it('TEAM-15: a dead instance’s agent requests are cancelled with server-restart by a survivor; HTTP ones and live instances’ stay', async () => {
    const url = await database();
    const dead = await node(url, { ...deaf, instanceId: 'dead' });
    const live = await node(url, { ...deaf, instanceId: 'live' });
    await live.store.registerInstance('live');
    const orphan = await made(dead.host.create(spec('agent')));
    const outsider = await made(dead.host.create(spec('http')));
    const liveAgent = await made(live.host.create(spec('agent')));
    await dead.host.stop(); // no heartbeat row ever: dead
    const survivor = await node(url, { ...deaf, instanceId: 'survivor' });
    const home = new InstanceHome({ id: 'survivor', store: survivor.store, host: survivor.host, logger: silentLogger, heartbeatMs: 60_000, lapseMs: 60_000 });
    cleanups.push(() => home.stop());
    await home.start();
    expect(await survivor.store.getRequest(orphan.id)).toMatchObject({ status: 'cancelled', reason: 'server-restart' });
    expect((await survivor.store.getRequest(outsider.id))?.status).toBe('pending');
    expect((await survivor.store.getRequest(liveAgent.id))?.status).toBe('pending');
    // The live instance hears of the cancel as of any other outcome.
    await live.host.catchUp();
    expect(live.host.unresolvedEvents().map((e) => e.id)).toEqual([outsider.id, liveAgent.id]);
  });

  it("TEAM-15: a restarted instance cancels its own previous run's agent requests at start (its heartbeat still fresh); its HTTP ones and a live instance's stay", async () => {
    const url = await database();
    const first = await node(url, { ...deaf, instanceId: 'me' });
    const other = await node(url, { ...deaf, instanceId: 'other' });
    // Both alive: fresh heartbeat rows, so nothing here is anybody's orphan by lapse.
    await first.store.registerInstance('me');
    await other.store.registerInstance('other');
    const mine = await made(first.host.create(spec('agent')));
    const mineOverHttp = await made(first.host.create(spec('http')));
    const othersAgent = await made(other.host.create(spec('agent')));
    // The first run dies without a clean stop: its row and fresh heartbeat stay.
    await first.host.stop();
    const again = await node(url, { ...deaf, instanceId: 'me' });
    const home = new InstanceHome({ id: 'me', store: again.store, host: again.host, logger: silentLogger, heartbeatMs: 60_000, lapseMs: 60_000 });
    cleanups.push(() => home.stop());
    await home.start();
    expect(await again.store.getRequest(mine.id)).toMatchObject({ status: 'cancelled', reason: 'server-restart' });
    expect((await again.store.getRequest(mineOverHttp.id))?.status).toBe('pending');
    expect((await again.store.getRequest(othersAgent.id))?.status).toBe('pending');
    expect(again.host.unresolvedEvents().map((e) => e.id)).toEqual([mineOverHttp.id, othersAgent.id]);
  });
  it('TEAM-17: the maker times a request out at its deadline and the other instance folds that timeout in (no seq race); with the maker gone, the other times it out a grace later, stamped at the deadline', async () => {
    const url = await database();
    const clock = new SimulatedClock();
    const a = await node(url, { bus: await bus('a'), pollMs: 60_000, instanceId: 'A', othersGraceMs: 2_000 }, undefined, clock);
    const b = await node(url, { bus: await bus('b'), pollMs: 60_000, instanceId: 'B', othersGraceMs: 2_000 }, undefined, clock);
    const first = await made(a.host.create({ ...spec(), timeoutMs: 1_000 }));
    await b.until(() => b.host.unresolvedEvents().some((e) => e.id === first.id));
    clock.increment(1_000);
    await b.until(() => b.seen.some((s) => s.event.type === 'permission-timeout'));
    const conflicts = async (n: Node) => n.metrics.registry.getSingleMetricAsString('gatehouse_seq_conflicts_total');
    expect(await conflicts(a)).toMatch(/gatehouse_seq_conflicts_total 0\b/);
    expect(await conflicts(b)).toMatch(/gatehouse_seq_conflicts_total 0\b/);
    expect(a.seen.filter((s) => s.event.type === 'permission-timeout').map((s) => s.source)).toEqual(['local']);
    expect(b.seen.filter((s) => s.event.type === 'permission-timeout').map((s) => s.source)).toEqual(['log']);

    // The maker is gone: the other waits out the grace, then times the request out itself.
    const second = await made(a.host.create({ ...spec(), timeoutMs: 1_000 }));
    await b.until(() => b.host.unresolvedEvents().some((e) => e.id === second.id));
    await a.host.stop();
    clock.increment(1_000);
    expect(b.host.unresolvedEvents().map((e) => e.id)).toEqual([second.id]);
    clock.increment(1_999);
    expect(b.host.unresolvedEvents().map((e) => e.id)).toEqual([second.id]);
    clock.increment(1);
    await b.until(() => b.seen.filter((s) => s.event.type === 'permission-timeout').length === 2);
    expect(b.seen.at(-1)).toEqual({
      event: { type: 'permission-timeout', seq: second.seq + 1, requestId: second.id, toolName: 'Bash', timestamp: second.expiresAt },
      source: 'local',
    });
  });
});
