/**
 * The store contract (architecture.md example 15; SPEC.md CORE-L7): one suite that every
 * EventStore implementation runs, so a second store (PostgreSQL, issue 13) cannot drift
 * from the first. `runStoreContract(name, factory)` registers vitest tests; a store's
 * `*.contract.test.ts` calls it with a factory that makes a new, empty database per test.
 *
 * What the suite pins: every method; batch order and atomicity (a failing record rolls
 * back its whole batch, events, request rows and audit rows alike); gapless seq;
 * eventsSince's too-old and too-new; idempotency keys; pruning (events, finished
 * requests, clientMsgId answers, audit rows, each by its rule); restart (load after
 * reopening); audit rows written with their events; read-your-writes; the events read
 * back exactly as written (inputs kept once, not lost).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Outcome, PersistRecord } from '../../machines/broker.types.ts';
import { LIMITS, timedOutMessage, type PermissionRequestEvent, type SequencedEvent } from '../../protocol/index.ts';
import type { CommitRecord, EventStore } from './types.ts';

/** One store under test: its own database, reopened for restarts, dropped at the end. */
export type StoreUnderTest = {
  store: EventStore;
  /** Close the current store (if open) and open the same database again. */
  reopen(): Promise<EventStore>;
  /** Close what is open and drop the database. */
  destroy(): Promise<void>;
};

/** Makes a new, empty database (with `epoch` when given) and opens a store on it. */
export type StoreFactory = (options: { epoch?: string }) => Promise<StoreUnderTest>;

const HOUR = 3_600_000;

export function requestEvent(
  seq: number,
  id: string,
  extra: { at?: number; input?: Record<string, unknown>; context?: PermissionRequestEvent['context'] } = {},
) {
  const at = extra.at ?? 1_000 + seq;
  const event: PermissionRequestEvent = {
    type: 'permission-request',
    seq,
    id,
    toolName: 'Bash',
    input: extra.input ?? { command: `echo ${id}` },
    context: extra.context ?? { cwd: '/tmp', sessionId: 's1', agent: 'claude' },
    timestamp: at,
    expiresAt: at + 60_000,
  };
  return event;
}

export function requestRecord(
  seq: number,
  id: string,
  extra: { key?: string; hash?: string; origin?: 'http' | 'agent'; at?: number; input?: Record<string, unknown> } = {},
): PersistRecord {
  return {
    kind: 'event',
    event: requestEvent(seq, id, { ...(extra.at !== undefined ? { at: extra.at } : {}), ...(extra.input ? { input: extra.input } : {}) }),
    request: {
      origin: extra.origin ?? 'http',
      ...(extra.key !== undefined ? { idempotencyKey: extra.key } : {}),
      ...(extra.hash !== undefined ? { bodyHash: extra.hash } : {}),
    },
  };
}

export function resolvedRecord(seq: number, requestId: string, extra: { at?: number; decidedBy?: string; decision?: 'allow' | 'deny' } = {}): CommitRecord {
  const at = extra.at ?? 2_000 + seq;
  const decision = extra.decision ?? 'allow';
  const decidedBy = extra.decidedBy ?? 'browser-1';
  const outcome: Outcome = { status: 'resolved', decision, decidedBy, decidedAt: at };
  return { kind: 'event', event: { type: 'permission-resolved', seq, requestId, decision, decidedBy, timestamp: at }, outcome };
}

const timeoutRecord = (seq: number, requestId: string, at = 3_000 + seq): CommitRecord => ({
  kind: 'event',
  event: { type: 'permission-timeout', seq, requestId, toolName: 'Bash', timestamp: at },
  outcome: { status: 'timedOut', decision: 'deny', decidedBy: 'timeout', decidedAt: at },
});

const cancelRecord = (seq: number, requestId: string, reason: string, at = 4_000 + seq): CommitRecord => ({
  kind: 'event',
  event: { type: 'permission-cancelled', seq, requestId, reason, timestamp: at },
  outcome: { status: 'cancelled', decision: 'deny', decidedBy: reason === 'server-restart' ? 'server-restart' : 'agent', decidedAt: at, reason },
});

const chatRecord = (seq: number, at = 5_000 + seq): CommitRecord => ({
  kind: 'event',
  event: { type: 'chat-message', seq, sessionId: 's1', message: { id: `m${seq}`, role: 'assistant', kind: 'text', text: 'hello' }, timestamp: at },
});

const answerRecord = (clientMsgId: string, requestId: string): CommitRecord => ({
  kind: 'client-answer',
  record: { clientMsgId, requestId, answer: { status: 'accepted', requestId } },
});

const eventsOf = (records: readonly CommitRecord[]): SequencedEvent[] => records.flatMap((r) => (r.kind === 'event' ? [r.event] : []));

export function runStoreContract(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    const opened: StoreUnderTest[] = [];
    const open = async (options: { epoch?: string } = {}) => {
      const sut = await factory(options);
      opened.push(sut);
      return sut;
    };
    afterEach(async () => {
      for (const sut of opened.splice(0)) await sut.destroy();
    });

    it('CORE-L7: a new database has an epoch that survives a reopen; another database has another', async () => {
      const a = await open();
      const b = await open();
      expect(a.store.epoch).toMatch(/^\S{8,}$/);
      expect(b.store.epoch).not.toBe(a.store.epoch);
      const epoch = a.store.epoch;
      expect((await a.reopen()).epoch).toBe(epoch);
      const fixed = await open({ epoch: 'fixed-epoch' });
      expect(fixed.store.epoch).toBe('fixed-epoch');
      expect(fixed.store.isOpen()).toBe(true);
    });

    it('CORE-L7: an empty store: head 0, no events, no requests, every count 0', async () => {
      const { store } = await open();
      expect(await store.head()).toBe(0);
      expect(await store.eventsSince(0)).toEqual({ ok: true, events: [] });
      expect(await store.eventsSince(1)).toEqual({ ok: false, reason: 'too-new' });
      expect(await store.getRequest('nope')).toBeUndefined();
      expect(await store.findByIdempotencyKey('nope')).toBeUndefined();
      expect(await store.listRequests({})).toEqual([]);
      expect(await store.pageRequests({ afterSeq: 0, limit: 10, maxBytes: 1 << 20 })).toEqual({ requests: [], more: false });
      expect(await store.countByStatus()).toEqual({ pending: 0, resolved: 0, timedOut: 0, cancelled: 0 });
      expect(await store.auditRows({ filter: {}, order: 'newest', limit: 10 })).toEqual([]);
      await store.writeBatch([]);
      expect(await store.head()).toBe(0);
    });

    it('CORE-L7: events read back exactly as written, in seq order, gapless, across batches (inputs included)', async () => {
      const { store } = await open();
      const big = { command: 'x'.repeat(10_000), nested: { a: [1, 2, { b: 'ü\u202e' }] } };
      const first: CommitRecord[] = [requestRecord(1, 'a'), requestRecord(2, 'b', { input: big }), chatRecord(3)];
      const second: CommitRecord[] = [resolvedRecord(4, 'a'), timeoutRecord(5, 'b'), requestRecord(6, 'c'), cancelRecord(7, 'c', 'agent-gone')];
      await store.writeBatch(first);
      await store.writeBatch(second);
      const all = [...eventsOf(first), ...eventsOf(second)];
      const since0 = await store.eventsSince(0);
      expect(since0).toEqual({ ok: true, events: all });
      if (!since0.ok) return;
      expect(since0.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await store.eventsSince(3)).toEqual({ ok: true, events: all.slice(3) });
      expect(await store.eventsSince(7)).toEqual({ ok: true, events: [] });
      expect(await store.eventsSince(8)).toEqual({ ok: false, reason: 'too-new' });
      expect(await store.head()).toBe(7);
    });

    it('CORE-L7: a batch is one transaction: a failing record rolls back the whole batch (events, request rows, audit rows)', async () => {
      const { store } = await open();
      await store.writeBatch([requestRecord(1, 'r1')]);
      // The second record reuses seq 1: the batch fails, and r2's event, row and audit row go with it.
      await expect(store.writeBatch([requestRecord(2, 'r2'), requestRecord(1, 'dup'), resolvedRecord(3, 'r1')])).rejects.toThrow();
      expect(await store.head()).toBe(1);
      expect(await store.getRequest('r2')).toBeUndefined();
      expect(await store.getRequest('dup')).toBeUndefined();
      expect((await store.getRequest('r1'))?.status).toBe('pending');
      expect((await store.auditRows({ filter: {}, order: 'oldest', limit: 10 })).map((r) => r.entry.requestId)).toEqual(['r1']);
      expect((await store.auditRows({ filter: { requestId: 'r1' }, order: 'oldest', limit: 1 }))[0]?.entry.status).toBeUndefined();
      expect(await store.eventsSince(0)).toEqual({ ok: true, events: [requestEvent(1, 'r1')] });
      // The store still works after the failure.
      await store.writeBatch([requestRecord(2, 'r2')]);
      expect(await store.head()).toBe(2);
    });

    it('CORE-L7: request rows follow their outcome events (resolved, timedOut with its message, cancelled with its reason)', async () => {
      const { store } = await open();
      await store.writeBatch([requestRecord(1, 'a'), requestRecord(2, 'b'), requestRecord(3, 'c'), requestRecord(4, 'd')]);
      await store.writeBatch([resolvedRecord(5, 'a'), timeoutRecord(6, 'b'), cancelRecord(7, 'c', 'server-restart')]);
      expect(await store.getRequest('a')).toMatchObject({ id: 'a', status: 'resolved', decision: 'allow', decidedBy: 'browser-1', decidedAt: 2_005, seq: 1 });
      const b = await store.getRequest('b');
      expect(b).toMatchObject({ status: 'timedOut', decision: 'deny', decidedBy: 'timeout' });
      expect(b?.message).toMatch(/^Timed out: no decision within 60 s/);
      expect(await store.getRequest('c')).toMatchObject({ status: 'cancelled', decision: 'deny', reason: 'server-restart', decidedBy: 'server-restart' });
      expect(await store.getRequest('d')).toMatchObject({
        id: 'd',
        status: 'pending',
        toolName: 'Bash',
        input: { command: 'echo d' },
        context: { cwd: '/tmp', sessionId: 's1', agent: 'claude' },
        createdAt: 1_004,
        expiresAt: 61_004,
        origin: 'http',
      });
      expect(await store.countByStatus()).toEqual({ pending: 1, resolved: 1, timedOut: 1, cancelled: 1 });
      // A second outcome for a finished request changes nothing (the first one wins).
      await store.writeBatch([resolvedRecord(8, 'a', { decision: 'deny', decidedBy: 'late' })]);
      expect(await store.getRequest('a')).toMatchObject({ decision: 'allow', decidedBy: 'browser-1' });
    });

    it('CORE-L7: idempotency keys: found by key with their body hash; a key reused by a later request finds the later one', async () => {
      const { store } = await open();
      await store.writeBatch([requestRecord(1, 'a', { key: 'k1', hash: 'h1' }), requestRecord(2, 'b')]);
      expect(await store.findByIdempotencyKey('k1')).toMatchObject({ id: 'a', idempotencyKey: 'k1', bodyHash: 'h1' });
      expect(await store.findByIdempotencyKey('k2')).toBeUndefined();
      await store.writeBatch([resolvedRecord(3, 'a'), requestRecord(4, 'c', { key: 'k1', hash: 'h2' })]);
      expect(await store.findByIdempotencyKey('k1')).toMatchObject({ id: 'c', bodyHash: 'h2' });
      expect((await store.getRequest('a'))?.idempotencyKey).toBeUndefined();
    });

    it('CORE-L7: a batch reads as its records applied one by one, in order: requests made and finished in it, a key a finished request frees taken in it, two outcomes of one request (the first wins)', async () => {
      const { store } = await open();
      await store.writeBatch([requestRecord(1, 'x', { key: 'kx' })]);
      await store.writeBatch([
        requestRecord(2, 'y', { key: 'ky' }),
        resolvedRecord(3, 'y'),
        cancelRecord(4, 'x', 'agent-gone'),
        requestRecord(5, 'z', { key: 'kx' }),
        answerRecord('m1', 'y'),
      ]);
      expect(await store.getRequest('y')).toMatchObject({ status: 'resolved', decidedBy: 'browser-1', idempotencyKey: 'ky' });
      expect(await store.getRequest('x')).toMatchObject({ status: 'cancelled', reason: 'agent-gone' });
      expect((await store.getRequest('x'))?.idempotencyKey).toBeUndefined();
      expect(await store.findByIdempotencyKey('kx')).toMatchObject({ id: 'z', status: 'pending' });
      // One key on two new requests and two outcomes of one request, in one batch.
      await store.writeBatch([
        requestRecord(6, 'a', { key: 'k1', hash: 'h1' }),
        resolvedRecord(7, 'a'),
        requestRecord(8, 'b', { key: 'k1', hash: 'h2' }),
        timeoutRecord(9, 'b'),
        resolvedRecord(10, 'b', { decidedBy: 'late' }),
      ]);
      expect(await store.findByIdempotencyKey('k1')).toMatchObject({ id: 'b', bodyHash: 'h2', status: 'timedOut', decidedBy: 'timeout' });
      expect((await store.getRequest('a'))?.idempotencyKey).toBeUndefined();
      const audit = async (requestId: string) => (await store.auditRows({ filter: { requestId }, order: 'oldest', limit: 1 }))[0]?.entry;
      expect(await audit('y')).toMatchObject({ status: 'resolved', decidedBy: 'browser-1' });
      // Every store words a timeout's audit row alike (protocol/outcome.ts).
      expect(await audit('b')).toMatchObject({ status: 'timedOut', decidedBy: 'timeout', message: timedOutMessage() });
      expect((await store.load({ now: 10_000 })).clientAnswers.map((a) => a.clientMsgId)).toEqual(['m1']);
      // An outcome before its own request: applied in order, it finds no row to finish.
      await store.writeBatch([resolvedRecord(11, 'early'), requestRecord(12, 'early')]);
      expect((await store.getRequest('early'))?.status).toBe('pending');
    });

    it('CORE-L7: a batch of hundreds of requests, made and decided in it with their answers, is applied whole', async () => {
      const { store } = await open();
      const ids = Array.from({ length: 250 }, (_, i) => `bulk-${i}`);
      await store.writeBatch([
        ...ids.map((id, i) => requestRecord(i + 1, id, { key: `k-${id}` })),
        ...ids.map((id, i) => resolvedRecord(ids.length + i + 1, id)),
        ...ids.map((id) => answerRecord(`m-${id}`, id)),
      ]);
      expect(await store.countByStatus()).toEqual({ pending: 0, resolved: 250, timedOut: 0, cancelled: 0 });
      expect(await store.findByIdempotencyKey('k-bulk-249')).toMatchObject({ id: 'bulk-249', status: 'resolved' });
      expect((await store.load({ now: 10_000 })).clientAnswers).toHaveLength(250);
      expect((await store.auditRows({ filter: { status: 'resolved' }, order: 'oldest', limit: 1_000 })).length).toBe(250);
    });

    it('CORE-L7: listRequests and pageRequests: oldest first, by status, bounded by count and bytes (always one)', async () => {
      const { store } = await open();
      await store.writeBatch([1, 2, 3, 4, 5].map((seq) => requestRecord(seq, `r${seq}`)));
      await store.writeBatch([resolvedRecord(6, 'r2')]);
      const ids = (list: { id: string }[]) => list.map((r) => r.id);
      expect(ids(await store.listRequests({}))).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
      expect(ids(await store.listRequests({ status: 'pending' }))).toEqual(['r1', 'r3', 'r4', 'r5']);
      expect(ids(await store.listRequests({ status: 'pending', limit: 2 }))).toEqual(['r1', 'r3']);
      expect(ids(await store.listRequests({ status: 'resolved' }))).toEqual(['r2']);
      const first = await store.pageRequests({ status: 'pending', afterSeq: 0, limit: 2, maxBytes: 1 << 20 });
      expect(ids(first.requests)).toEqual(['r1', 'r3']);
      expect(first.more).toBe(true);
      const second = await store.pageRequests({ status: 'pending', afterSeq: 3, limit: 2, maxBytes: 1 << 20 });
      expect(ids(second.requests)).toEqual(['r4', 'r5']);
      expect(second.more).toBe(false);
      const tight = await store.pageRequests({ status: 'pending', afterSeq: 0, limit: 1000, maxBytes: 1 });
      expect(ids(tight.requests)).toEqual(['r1']);
      expect(tight.more).toBe(true);
      expect(ids((await store.pageRequests({ afterSeq: 0, limit: 10, maxBytes: 1 << 20 })).requests)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    });

    it('CORE-L7: load after a restart: unresolved requests, recent finished ones, remembered clientMsgId answers, head and epoch', async () => {
      const sut = await open();
      await sut.store.writeBatch([requestRecord(1, 'a', { key: 'k1', hash: 'h1', origin: 'agent' }), requestRecord(2, 'b')]);
      await sut.store.writeBatch([resolvedRecord(3, 'b'), answerRecord('m1', 'b'), answerRecord('m1', 'b')]);
      const epoch = sut.store.epoch;
      const reopened = await sut.reopen();
      const input = await reopened.load({ now: 5_000 });
      expect(input.headSeq).toBe(3);
      expect(input.epoch).toBe(epoch);
      expect(input.now).toBe(5_000);
      expect(input.unresolved).toEqual([
        {
          id: 'a',
          toolName: 'Bash',
          input: { command: 'echo a' },
          context: { cwd: '/tmp', sessionId: 's1', agent: 'claude' },
          timestamp: 1_001,
          expiresAt: 61_001,
          seq: 1,
          origin: 'agent',
          idempotencyKey: 'k1',
          bodyHash: 'h1',
        },
      ]);
      expect(input.finished).toEqual([
        {
          id: 'b',
          toolName: 'Bash',
          seq: 2,
          expiresAt: 61_002,
          outcome: { status: 'resolved', decision: 'allow', decidedBy: 'browser-1', decidedAt: 2_003 },
        },
      ]);
      expect(input.clientAnswers).toEqual([{ clientMsgId: 'm1', requestId: 'b', answer: { status: 'accepted', requestId: 'b' } }]);
      // recentLimit bounds the finished requests (the newest are kept).
      await reopened.writeBatch([requestRecord(4, 'c'), resolvedRecord(5, 'c')]);
      const bounded = await reopened.load({ now: 6_000, recentLimit: 1 });
      expect(bounded.finished.map((f) => f.id)).toEqual(['c']);
      expect(bounded.recentLimit).toBe(1);
    });

    it('CORE-L7: pruning: old events beyond the newest N go with their finished requests and answers; unresolved requests stay; then too-old', async () => {
      const { store } = await open();
      await store.writeBatch([
        requestRecord(1, 'a', { at: 10 }),
        requestRecord(2, 'b', { at: 20 }),
        resolvedRecord(3, 'a', { at: 30 }),
        answerRecord('m1', 'a'),
      ]);
      await store.writeBatch([requestRecord(4, 'c', { at: 40 })]);
      // Young events stay, however many.
      expect(await store.prune(50, { keepEvents: 1, keepMs: 1_000 })).toMatchObject({ events: 0, requests: 0 });
      const result = await store.prune(100_000, { keepEvents: 1, keepMs: 1_000 });
      expect(result).toMatchObject({ events: 3, requests: 1, prunedThrough: 3 });
      expect(await store.getRequest('a')).toBeUndefined();
      expect((await store.getRequest('b'))?.status).toBe('pending');
      expect((await store.getRequest('b'))?.input).toEqual({ command: 'echo b' });
      expect(await store.head()).toBe(4);
      expect(await store.eventsSince(0)).toEqual({ ok: false, reason: 'too-old' });
      expect(await store.eventsSince(2)).toEqual({ ok: false, reason: 'too-old' });
      expect(await store.eventsSince(3)).toEqual({ ok: true, events: [requestEvent(4, 'c', { at: 40 })] });
      // Pruning is idempotent, and the pruned point survives a restart.
      expect(await store.prune(100_000, { keepEvents: 1, keepMs: 1_000 })).toMatchObject({ events: 0, requests: 0, prunedThrough: 3 });
      const input = await store.load({ now: 100_000 });
      expect(input.clientAnswers).toEqual([]);
      expect(input.unresolved.map((r) => r.id)).toEqual(['b', 'c']);
    });

    it('CORE-L7: the head survives pruning every event (an empty log keeps its seq)', async () => {
      const sut = await open();
      await sut.store.writeBatch([requestRecord(1, 'a', { at: 10 }), resolvedRecord(2, 'a', { at: 20 }), chatRecord(3, 30)]);
      await sut.store.prune(100_000, { keepEvents: 1, keepMs: 0 });
      expect(await sut.store.head()).toBe(3);
      const reopened = await sut.reopen();
      expect(await reopened.head()).toBe(3);
      expect((await reopened.load({ now: 0 })).headSeq).toBe(3);
      expect(await reopened.eventsSince(3)).toEqual({ ok: true, events: [] });
    });

    it('CORE-L2: each request has its audit row from the commit of its event, and its outcome (with who decided) from the commit of the outcome', async () => {
      const { store } = await open();
      await store.writeBatch([requestRecord(1, 'a'), requestRecord(2, 'b'), requestRecord(3, 'c'), requestRecord(4, 'd')]);
      const pending = await store.auditRows({ filter: { requestId: 'a' }, order: 'oldest', limit: 1 });
      expect(pending).toEqual([
        {
          entry: { requestId: 'a', toolName: 'Bash', input: { command: 'echo a' }, sessionId: 's1', agent: 'claude', cwd: '/tmp', requestedAt: 1_001 },
          inputBytes: JSON.stringify({ command: 'echo a' }).length,
        },
      ]);
      const withFacts: CommitRecord = { ...resolvedRecord(5, 'a'), audit: { via: 'ws', address: '192.0.2.7', device: { id: 'dev1', name: 'Phone' } } };
      await store.writeBatch([
        withFacts,
        resolvedRecord(6, 'b', { decidedBy: 'rule:r-9', decision: 'deny' }),
        timeoutRecord(7, 'c'),
        cancelRecord(8, 'd', 'agent-gone'),
      ]);
      const entry = async (id: string) => (await store.auditRows({ filter: { requestId: id }, order: 'oldest', limit: 1 }))[0]?.entry;
      expect(await entry('a')).toMatchObject({
        status: 'resolved',
        decision: 'allow',
        how: 'human',
        decidedBy: 'browser-1',
        via: 'ws',
        address: '192.0.2.7',
        deviceId: 'dev1',
        deviceName: 'Phone',
        decidedAt: 2_005,
      });
      expect(await entry('b')).toMatchObject({ status: 'resolved', decision: 'deny', how: 'rule', ruleId: 'r-9', via: 'rule', decidedBy: 'rule:r-9' });
      expect(await entry('c')).toMatchObject({ status: 'timedOut', decision: 'deny', how: 'timeout', decidedBy: 'timeout' });
      expect(await entry('d')).toMatchObject({ status: 'cancelled', decision: 'deny', how: 'cancel', message: 'agent-gone' });
      // The first outcome stays the audit's outcome too.
      await store.writeBatch([resolvedRecord(9, 'c', { decidedBy: 'late' })]);
      expect(await entry('c')).toMatchObject({ status: 'timedOut', decidedBy: 'timeout' });
    });

    it('CORE-L2: audit rows: filters, newest or oldest first, a cursor that walks every row once', async () => {
      const { store } = await open();
      await store.writeBatch(Array.from({ length: 30 }, (_, i) => requestRecord(i + 1, `r${String(i).padStart(2, '0')}`, { at: 1_000 + Math.floor(i / 3) })));
      await store.writeBatch([resolvedRecord(31, 'r00', { decision: 'deny' }), resolvedRecord(32, 'r01', { decidedBy: 'rule:x' })]);
      const walk = async (order: 'newest' | 'oldest') => {
        const seen: string[] = [];
        let after: { at: number; id: string } | undefined;
        for (;;) {
          const rows = await store.auditRows({ filter: {}, order, limit: 7, ...(after ? { after } : {}) });
          seen.push(...rows.map((r) => r.entry.requestId));
          const last = rows.at(-1);
          if (rows.length < 7 || !last) return seen;
          after = { at: last.entry.requestedAt, id: last.entry.requestId };
        }
      };
      const oldest = await walk('oldest');
      expect(oldest).toHaveLength(30);
      expect(oldest).toEqual([...oldest].sort());
      expect(await walk('newest')).toEqual([...oldest].reverse());
      const ids = async (filter: Parameters<EventStore['auditRows']>[0]['filter']) =>
        (await store.auditRows({ filter, order: 'oldest', limit: 100 })).map((r) => r.entry.requestId);
      expect(await ids({ decision: 'deny' })).toEqual(['r00']);
      expect(await ids({ how: 'rule' })).toEqual(['r01']);
      expect(await ids({ status: 'resolved' })).toEqual(['r00', 'r01']);
      expect(await ids({ status: 'pending' })).toHaveLength(28);
      expect(await ids({ since: 1_009, until: 1_009 })).toEqual(['r27', 'r28', 'r29']);
      expect(await ids({ sessionId: 's1', agent: 'claude', toolName: 'Bash' })).toHaveLength(30);
      expect(await ids({ sessionId: 'other' })).toEqual([]);
    });

    it('CORE-L2: audit rows are pruned by their own rule, and keep their input when their request row goes first', async () => {
      const { store } = await open();
      const now = 100 * HOUR;
      // r1..r4 decided 50 h ago, r5 decided 1 h ago, r6 still unresolved (asked 30 h ago).
      await store.writeBatch([1, 2, 3, 4].map((i) => requestRecord(i, `r${i}`, { at: 50 * HOUR + i })));
      await store.writeBatch([1, 2, 3, 4].map((i) => resolvedRecord(4 + i, `r${i}`, { at: 50 * HOUR + 10 })));
      await store.writeBatch([
        requestRecord(9, 'r5', { at: 99 * HOUR }),
        resolvedRecord(10, 'r5', { at: 99 * HOUR }),
        requestRecord(11, 'r6', { at: 70 * HOUR }),
      ]);
      const ids = async () => (await store.auditRows({ filter: {}, order: 'oldest', limit: 100 })).map((r) => r.entry.requestId).sort();
      // Every row is among the newest 10: no audit row goes, however old.
      expect(await store.prune(now, { keepEvents: 10, keepMs: 24 * HOUR })).toMatchObject({ auditRows: 0 });
      // Keep 2 rows (r5, r6 are the newest by request time) and 24 h: r1..r4 go.
      expect(await store.prune(now, { keepEvents: 2, keepMs: 24 * HOUR })).toMatchObject({ auditRows: 4 });
      expect(await ids()).toEqual(['r5', 'r6']);
      // Keep 1: r6 is unresolved and may wait up to the longest timeout: it stays until that is past the age too.
      expect(await store.prune(now, { keepEvents: 1, keepMs: 24 * HOUR })).toMatchObject({ auditRows: 0 });
      // The request row of r5 goes with its events long before its audit row would...
      const later = 70 * HOUR + LIMITS.maxTimeoutMs + 24 * HOUR + 1;
      const sut2 = await open();
      await sut2.store.writeBatch([requestRecord(1, 'x', { at: 10 }), resolvedRecord(2, 'x', { at: 20 }), chatRecord(3, 30), chatRecord(4, 40)]);
      expect(await sut2.store.prune(1_000, { keepEvents: 1, keepMs: 100 })).toMatchObject({ requests: 1, auditRows: 0 });
      expect(await sut2.store.getRequest('x')).toBeUndefined();
      // ...and the audit row still shows the input.
      expect((await sut2.store.auditRows({ filter: { requestId: 'x' }, order: 'oldest', limit: 1 }))[0]?.entry.input).toEqual({ command: 'echo x' });
      expect(await store.prune(later, { keepEvents: 1, keepMs: 24 * HOUR })).toMatchObject({ auditRows: 1 });
      expect(await ids()).toEqual(['r5']);
    });

    it('CORE-L3: read-your-writes: once a batch resolved, every read reflects it (by id, the pending list, counts, the log, load)', async () => {
      const { store } = await open();
      for (let i = 1; i <= 20; i++) {
        const seq = i * 2;
        await store.writeBatch([requestRecord(seq - 1, `q${i}`)]);
        expect((await store.getRequest(`q${i}`))?.status).toBe('pending');
        expect((await store.listRequests({ status: 'pending' })).map((r) => r.id)).toContain(`q${i}`);
        await store.writeBatch([resolvedRecord(seq, `q${i}`), answerRecord(`m${i}`, `q${i}`)]);
        expect((await store.getRequest(`q${i}`))?.status).toBe('resolved');
        expect((await store.listRequests({ status: 'pending' })).map((r) => r.id)).not.toContain(`q${i}`);
        expect(await store.head()).toBe(seq);
        const tail = await store.eventsSince(seq - 1);
        expect(tail.ok && tail.events.map((e) => e.seq)).toEqual([seq]);
        expect((await store.auditRows({ filter: { requestId: `q${i}` }, order: 'oldest', limit: 1 }))[0]?.entry.status).toBe('resolved');
      }
      expect((await store.countByStatus()).resolved).toBe(20);
      expect((await store.load({ now: 0 })).clientAnswers).toHaveLength(20);
    });
  });
}
