/**
 * The host over an asynchronous store (SPEC.md CORE-L1, CORE-L3): a commit that takes
 * its time holds the next one back and holds back everything that would tell anybody
 * about it. The store is the real SQLite store with its writeBatch held at a gate the
 * test opens, which is how a networked store (PostgreSQL) behaves.
 */
import { describe, expect, it } from 'vitest';
import type { SequencedEvent } from '../protocol/index.ts';
import { BrokerHost, HostStoppedError } from './brokerHost.ts';
import { silentLogger } from './log.ts';
import { SqliteEventStore } from './store/sqliteStore.ts';
import type { CommitRecord } from './store/types.ts';

const spec = (toolName = 'Bash') => ({ toolName, input: { command: 'ls' }, context: {}, timeoutMs: 60_000, origin: 'http' as const });

/** The SQLite store, each writeBatch waiting for `open()` (in call order). */
function gatedStore() {
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  const write = store.writeBatch.bind(store);
  const calls: CommitRecord[][] = [];
  const gates: Array<() => void> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  store.writeBatch = (records) => {
    calls.push([...records]);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise<void>((resolve, reject) => {
      gates.push(() => {
        write(records).then(resolve, reject);
        inFlight -= 1;
      });
    });
  };
  /** Let the oldest waiting commit go, and the microtasks after it run. */
  const open = async () => {
    const gate = gates.shift();
    if (!gate) throw new Error('no commit is waiting');
    gate();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  /** Until the host has handed the store its next batch (it does so on setImmediate). */
  const nextCall = async (count: number) => {
    for (let i = 0; i < 100 && calls.length < count; i++) await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(count);
  };
  return { store, calls, open, nextCall, maxInFlight: () => maxInFlight };
}

const seqsOf = (records: readonly CommitRecord[]) => records.flatMap((r) => (r.kind === 'event' ? [r.event.seq] : []));

describe('BrokerHost over an asynchronous store', () => {
  it('CORE-L1: one commit at a time, in order; nothing of a batch is relayed or answered before its commit resolves', async () => {
    const gated = gatedStore();
    const host = await BrokerHost.open({ store: gated.store, logger: silentLogger });
    const relayed: SequencedEvent[][] = [];
    host.onCommitted((events) => relayed.push([...events]));
    let answered = 0;
    const first = host.create(spec('A')).then((a) => {
      answered += 1;
      return a;
    });
    await gated.nextCall(1);
    // While the first commit is in flight, two more creates arrive: they wait for the next batch.
    const second = host.create(spec('B')).then((a) => {
      answered += 1;
      return a;
    });
    const third = host.create(spec('C'));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(gated.calls).toHaveLength(1);
    expect(relayed).toEqual([]);
    expect(answered).toBe(0);
    // A reader cannot see the uncommitted create yet, and it has not been announced either.
    expect(await gated.store.head()).toBe(0);

    await gated.open();
    expect(relayed.map((batch) => batch.map((e) => e.seq))).toEqual([[1]]);
    expect((await first).status).toBe('created');
    expect(answered).toBe(1);
    await gated.nextCall(2);
    expect(seqsOf(gated.calls[1] ?? [])).toEqual([2, 3]);
    expect(answered).toBe(1);
    await gated.open();
    await Promise.all([second, third]);
    expect(relayed.map((batch) => batch.map((e) => e.seq))).toEqual([[1], [2, 3]]);
    expect(gated.maxInFlight()).toBe(1);
    expect(await gated.store.head()).toBe(3);
    const stopped = host.stop();
    await stopped;
  });

  it('CORE-L1: whenQuiet waits for the commit in flight, and no commit starts while its promise is pending', async () => {
    const gated = gatedStore();
    const host = await BrokerHost.open({ store: gated.store, logger: silentLogger });
    const created = host.create(spec());
    await gated.nextCall(1);
    const seen: number[] = [];
    let release: () => void = () => {};
    host.whenQuiet(async () => {
      seen.push(host.head());
      await new Promise<void>((resolve) => (release = resolve));
      seen.push(host.head());
    });
    expect(seen).toEqual([]);
    await gated.open();
    await created;
    expect(seen).toEqual([1]);
    // A create while the quiet callback holds: buffered, not committed.
    const later = host.create(spec('Later'));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(gated.calls).toHaveLength(1);
    release();
    await gated.nextCall(2);
    expect(seen).toEqual([1, 1]);
    await gated.open();
    expect((await later).status).toBe('created');
    await host.stop();
  });

  it('CORE-L1: stop waits for the last commit; a failed commit is fatal and answers nobody', async () => {
    const gated = gatedStore();
    const host = await BrokerHost.open({ store: gated.store, logger: silentLogger });
    const created = host.create(spec());
    let stopped = false;
    const stopping = host.stop().then(() => (stopped = true));
    await gated.nextCall(1);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    await gated.open();
    await stopping;
    expect((await created).status).toBe('created');
    expect(await gated.store.head()).toBe(1);

    const failing = new SqliteEventStore({ dataDir: ':memory:' });
    failing.writeBatch = () => Promise.reject(new Error('connection lost'));
    const fatal: unknown[] = [];
    const broken = await BrokerHost.open({ store: failing, logger: silentLogger, onFatal: (error) => fatal.push(error) });
    const relayed: SequencedEvent[] = [];
    broken.onCommitted((events) => relayed.push(...events));
    let settled = false;
    const refused = broken.create(spec()).then(() => (settled = true));
    for (let i = 0; i < 10 && fatal.length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(fatal).toHaveLength(1);
    expect(String(fatal[0])).toMatch(/connection lost/);
    expect(relayed).toEqual([]);
    expect(settled).toBe(false);
    await broken.stop();
    // Not answered `created` (it is on no disk): refused once the host stops (TEAM-13).
    await expect(refused).rejects.toThrow(HostStoppedError);
    expect(settled).toBe(false);
  });

  it('CORE-L3: read-your-writes: what was relayed or answered is in every read of the store (by id, pending list, log)', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    const host = await BrokerHost.open({ store, logger: silentLogger });
    const reads: Array<Promise<void>> = [];
    host.onCommitted((events) => {
      // A client that saw these events asks at once: the store already has them.
      for (const event of events) {
        reads.push(
          (async () => {
            if (event.type === 'permission-request') {
              expect((await store.getRequest(event.id))?.status).toBe('pending');
              expect((await store.listRequests({ status: 'pending' })).map((r) => r.id)).toContain(event.id);
            }
            if (event.type === 'permission-resolved') {
              expect((await store.getRequest(event.requestId))?.status).toBe('resolved');
              expect((await store.listRequests({ status: 'pending' })).map((r) => r.id)).not.toContain(event.requestId);
            }
            const since = await store.eventsSince(event.seq - 1);
            expect(since.ok && since.events[0]?.seq).toBe(event.seq);
          })(),
        );
      }
    });
    for (let i = 0; i < 10; i++) {
      const created = await host.create(spec(`T${i}`));
      if (created.status !== 'created') throw new Error('not created');
      expect((await store.getRequest(created.id))?.status).toBe('pending');
      const decided = await host.decide({ requestId: created.id, decision: 'allow', decidedBy: 'browser-1', via: 'ws', address: '192.0.2.1' });
      expect(decided.answer.status).toBe('accepted');
      expect(await store.getRequest(created.id)).toMatchObject({ status: 'resolved', decision: 'allow', decidedBy: 'browser-1' });
      // The audit row came with the decision, in its commit.
      const [row] = await store.auditRows({ filter: { requestId: created.id }, order: 'oldest', limit: 1 });
      expect(row?.entry).toMatchObject({ status: 'resolved', how: 'human', via: 'ws', address: '192.0.2.1', decidedBy: 'browser-1' });
    }
    await Promise.all(reads);
    expect(reads).toHaveLength(20);
    await host.stop();
  });

  it('CORE-L5: request ids the host chooses are UUIDv7, in creation order', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    const host = await BrokerHost.open({ store, logger: silentLogger });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const created = await host.create(spec());
      if (created.status === 'created') ids.push(created.id);
    }
    expect(ids).toHaveLength(20);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    await host.stop();
  });

  it("AGX-1: the audit row keeps the agent's own choice of the winning decision only, written with its outcome", async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    const host = await BrokerHost.open({ store, logger: silentLogger });
    const always = { id: 'opt-always', kind: 'allow_always' as const, label: 'Always allow' };
    const once = { id: 'opt-once', kind: 'allow_once' as const, label: 'Allow' };
    const raced = await host.create(spec());
    if (raced.status !== 'created') throw new Error('not created');
    // Two humans race: the broker takes the first; the loser's choice must not reach the row.
    const [first, second] = await Promise.all([
      host.decide({ requestId: raced.id, decision: 'allow', decidedBy: 'phone', via: 'ws', agentChoice: once }),
      host.decide({ requestId: raced.id, decision: 'allow', decidedBy: 'laptop', via: 'ws', agentChoice: always }),
    ]);
    expect(first.answer.status).toBe('accepted');
    expect(second.answer.status).toBe('rejected');
    const [row] = await store.auditRows({ filter: { requestId: raced.id }, order: 'oldest', limit: 1 });
    expect(row?.entry).toMatchObject({ decidedBy: 'phone', agentChoice: once });
    // A plain decision carries none.
    const plain = await host.create(spec());
    if (plain.status !== 'created') throw new Error('not created');
    await host.decide({ requestId: plain.id, decision: 'allow', decidedBy: 'phone', via: 'ws' });
    const [plainRow] = await store.auditRows({ filter: { requestId: plain.id }, order: 'oldest', limit: 1 });
    expect(plainRow?.entry.status).toBe('resolved');
    expect(plainRow?.entry.agentChoice).toBeUndefined();
    await host.stop();
  });
});

describe('a failed commit (CORE-L1)', () => {
  it('CORE-L1: a commit that fails with more buffered behind it: stop() settles, and neither caller is answered', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    let fail: (error: Error) => void = () => {};
    store.writeBatch = () => new Promise<void>((_, reject) => (fail = reject));
    const fatal: unknown[] = [];
    const host = new BrokerHost({ store, logger: silentLogger, onFatal: (error) => fatal.push(error) }, store.loadNow({ now: Date.now() }));
    const answered: string[] = [];
    const refused: string[] = [];
    const first = host.create(spec('First')).then(
      () => answered.push('first'),
      (error: unknown) => refused.push(`first: ${(error as Error).name}`),
    );
    host.flush(); // the first batch's commit is in flight
    const second = host.create(spec('Second')).then(
      () => answered.push('second'),
      (error: unknown) => refused.push(`second: ${(error as Error).name}`),
    ); // buffered behind it
    fail(new Error('disk full'));
    await expect.poll(() => fatal.length).toBe(1);
    await host.stop(); // before: waited for the buffered batch, which never commits
    await Promise.all([first, second]);
    // Neither is answered `created`; both are refused once the host stops (TEAM-13).
    expect(answered).toEqual([]);
    expect(refused).toEqual(['first: HostStoppedError', 'second: HostStoppedError']);
    await store.close();
  });
});

describe('quiet points under steady load (CORE-L9)', () => {
  it('CORE-L9: with a slow store and a command during every commit, a quiet callback runs within a few commits, at a quiet point, and every command is answered', async () => {
    const gated = gatedStore();
    const host = await BrokerHost.open({ store: gated.store, logger: silentLogger });
    let relayedHead = 0;
    host.onCommitted((events) => (relayedHead = events[events.length - 1]?.seq ?? relayedHead));
    const creates = [host.create(spec('T0'))];
    await gated.nextCall(1);
    // A socket joins (its snapshot is read at a quiet point) while commit 1 is in flight.
    const quiet: Array<{ head: number; relayed: number; commits: number }> = [];
    host.whenQuiet(() => void quiet.push({ head: host.head(), relayed: relayedHead, commits: gated.calls.length }));
    // Steady load: while each commit is in flight, one more create arrives.
    for (let commit = 1; commit <= 12; commit++) {
      creates.push(host.create(spec(`T${commit}`)));
      await gated.open();
      await gated.nextCall(commit + 1);
    }
    expect(quiet).toHaveLength(1);
    // At most QUIET_WITHIN_COMMITS commits (2) and the one that empties the buffer.
    expect(quiet[0]?.commits).toBeLessThanOrEqual(3);
    // A quiet point: the state it read is what was committed and relayed.
    expect(quiet[0]?.head).toBe(quiet[0]?.relayed);
    await gated.open();
    const answers = await Promise.all(creates);
    expect(answers.map((a) => (a.status === 'created' ? a.seq : -1))).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(await gated.store.head()).toBe(13);
    await host.stop();
  });
});
