import { describe, expect, it, vi } from 'vitest';
import { BrokerHost, TooManyRequestsError } from './brokerHost.ts';
import { askPermission } from './agents/permissionGate.ts';
import { silentLogger } from './log.ts';
import { SqliteEventStore } from './store/sqliteStore.ts';
import { requestByteLength, type SequencedEvent } from '../protocol/index.ts';

async function makeHost(store = new SqliteEventStore({ dataDir: ':memory:' }), options: Partial<ConstructorParameters<typeof BrokerHost>[0]> = {}) {
  const host = await BrokerHost.open({ store, logger: silentLogger, ...options });
  return { host, store };
}

const spec = (toolName = 'Bash') => ({ toolName, input: { command: 'ls' }, context: {}, timeoutMs: 60_000, origin: 'http' as const });

describe('BrokerHost', () => {
  it('STO-2: persist, then send: listeners see a tick only after its commit, and callers are answered after it', async () => {
    const { host, store } = await makeHost();
    const seenInStore: boolean[] = [];
    // The listener runs synchronously: it reads the SQLite file's head directly.
    const storedHead = () => (store.database().prepare('SELECT MAX(seq) AS head FROM events').get() as { head: number | null }).head ?? 0;
    host.onCommitted((events) => {
      for (const event of events) seenInStore.push(storedHead() >= event.seq);
    });
    const created = await host.create(spec());
    expect(created.status).toBe('created');
    expect((await store.getRequest((created as { id: string }).id))?.status).toBe('pending');
    expect(seenInStore).toEqual([true]);
    await host.stop();
  });

  it('STO-2: the writes of one tick go in one transaction', async () => {
    const { host, store } = await makeHost();
    const write = vi.spyOn(store, 'writeBatch');
    const batches: SequencedEvent[][] = [];
    host.onCommitted((events) => batches.push([...events]));
    const answers = await Promise.all([host.create(spec('A')), host.create(spec('B')), host.create(spec('C'))]);
    expect(answers.map((a) => a.status)).toEqual(['created', 'created', 'created']);
    expect(write).toHaveBeenCalledTimes(1);
    expect(write.mock.calls[0]?.[0]).toHaveLength(3);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.map((e) => e.seq)).toEqual([1, 2, 3]);
    await host.stop();
  });

  it('STO-2: a failed commit is fatal: nothing is relayed and the caller is not told it succeeded', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    vi.spyOn(store, 'writeBatch').mockImplementation(() => {
      throw new Error('disk full');
    });
    const onFatal = vi.fn();
    const { host } = await makeHost(store, { onFatal });
    const relayed = vi.fn();
    host.onCommitted(relayed);
    let settled = false;
    void host.create(spec()).then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(onFatal).toHaveBeenCalledTimes(1);
    expect(relayed).not.toHaveBeenCalled();
    expect(settled).toBe(false);
  });

  it('STO-8: on restart, unresolved agent requests are cancelled with server-restart; http ones stay unresolved', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    const first = (await makeHost(store)).host;
    const agent = await first.create({ ...spec('Agent'), origin: 'agent' });
    const http = await first.create(spec('Http'));
    await first.stop();
    const { host } = await makeHost(store);
    await host.settle();
    const agentId = (agent as { id: string }).id;
    const httpId = (http as { id: string }).id;
    expect(await store.getRequest(agentId)).toMatchObject({ status: 'cancelled', reason: 'server-restart', decision: 'deny' });
    expect((await store.getRequest(httpId))?.status).toBe('pending');
    expect(host.unresolvedEvents().map((e) => e.id)).toEqual([httpId]);
    const events = await store.eventsSince(0);
    expect(events.ok && events.events.filter((e) => e.type === 'permission-cancelled')).toHaveLength(1);
    await host.stop();
  });

  it('WS-2: whenQuiet runs once everything the actor knows is committed and relayed', async () => {
    const { host, store } = await makeHost();
    const pending = host.create(spec());
    let sawHead = -1;
    host.whenQuiet(() => {
      sawHead = host.head();
    });
    expect(sawHead).toBe(-1);
    await pending;
    expect(sawHead).toBe(1);
    expect(await store.head()).toBe(1);
    let immediate = false;
    host.whenQuiet(() => {
      immediate = true;
    });
    expect(immediate).toBe(true);
    await host.stop();
  });

  it('WS-6: a decision with a clientMsgId is remembered durably: the same answer after a restart', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    const first = (await makeHost(store)).host;
    const created = (await first.create(spec())) as { id: string };
    const answer = await first.decide({ requestId: created.id, decision: 'allow', decidedBy: 'browser-1', clientMsgId: 'm-1', via: 'ws' });
    expect(answer).toEqual({ answer: { status: 'accepted', requestId: created.id }, replayed: false });
    await first.stop();
    const { host } = await makeHost(store);
    const again = await host.decide({ requestId: created.id, decision: 'deny', decidedBy: 'browser-2', clientMsgId: 'm-1', via: 'ws' });
    expect(again.answer).toEqual({ status: 'accepted', requestId: created.id });
    expect(again.replayed).toBe(true);
    expect(await store.getRequest(created.id)).toMatchObject({ decision: 'allow', decidedBy: 'browser-1' });
    await host.stop();
  });

  it('WS-18: the acks of one tick reach the broker as one step per client, and the queue status counts what they hold', async () => {
    const ackSteps: number[] = [];
    const { host } = await makeHost(undefined, {
      inspect: (event) => {
        if (event.type === '@xstate.event' && event.event.type === 'client.ack') ackSteps.push(event.event.seq as number);
      },
    });
    host.connect('c1', 'c1');
    const created = await Promise.all([host.create(spec('A')), host.create(spec('B')), host.create(spec('C'))]);
    const seqs = created.map((answer) => (answer as { seq: number }).seq);
    for (const seq of seqs) host.ack('c1', seq);
    const changed = new Promise<void>((resolve) => host.onQueueChanged(resolve));
    await changed;
    expect(ackSteps).toEqual([Math.max(...seqs)]);
    expect(host.queueStatus()).toEqual({ pending: 3, processing: 3 });
    await host.stop();
  });
});

describe('BrokerHost limits (contract-2 §3)', () => {
  const big = (bytes: number) => ({ toolName: 'Write', input: { content: 'x'.repeat(bytes) }, context: {}, timeoutMs: 60_000, origin: 'http' as const });

  it('LIM-1: a create beyond --max-unresolved throws TooManyRequestsError and stores nothing; a finished request frees its place', async () => {
    const { host, store } = await makeHost(undefined, { limits: { maxUnresolved: 2, maxUnresolvedBytes: 1 << 30 } });
    const a = await host.create(spec('A'));
    await host.create(spec('B'));
    const head = await store.head();
    expect(() => host.create(spec('C'))).toThrow(TooManyRequestsError);
    expect(() => host.create(spec('C'))).toThrow(/too many unresolved requests \(2, at most 2\)/);
    await host.settle();
    expect(await store.head()).toBe(head);
    expect((await store.countByStatus()).pending).toBe(2);
    await host.decide({ requestId: (a as { id: string }).id, decision: 'deny', decidedBy: 'test', via: 'http' });
    expect((await host.create(spec('C'))).status).toBe('created');
    expect(host.unresolvedLoad().count).toBe(2);
    await host.stop();
  });

  it('LIM-1: bytes of input and context are counted with requestByteLength, and restored requests count after a restart', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    const limits = { maxUnresolved: 100, maxUnresolvedBytes: 25_000 };
    const first = (await makeHost(store, { limits })).host;
    await first.create(big(10_000));
    await first.create(big(10_000));
    const load = first.unresolvedLoad();
    expect(load.bytes).toBe(2 * requestByteLength({ input: { content: 'x'.repeat(10_000) }, context: {} }));
    expect(() => first.create(big(10_000))).toThrow(/bytes of input and context \(at most 25000\)/);
    expect((await first.create(big(1_000))).status).toBe('created'); // a small one still fits
    await first.stop();
    const second = (await makeHost(store, { limits })).host;
    expect(second.unresolvedLoad()).toEqual({ count: 3, bytes: load.bytes + requestByteLength({ input: { content: 'x'.repeat(1_000) }, context: {} }) });
    expect(() => second.create(big(10_000))).toThrow(TooManyRequestsError);
    await second.stop();
  });

  it('LIM-1: a retried create with an idempotency key the broker knows is not refused at the limit (it stores nothing)', async () => {
    const { host } = await makeHost(undefined, { limits: { maxUnresolved: 1, maxUnresolvedBytes: 1 << 30 } });
    const created = await host.create({ ...spec(), idempotencyKey: 'k1', bodyHash: 'h1' });
    const again = await host.create({ ...spec(), idempotencyKey: 'k1', bodyHash: 'h1' });
    expect(again).toMatchObject({ status: 'existing', id: (created as { id: string }).id });
    expect(() => host.create({ ...spec(), idempotencyKey: 'k2', bodyHash: 'h2' })).toThrow(TooManyRequestsError);
    await host.stop();
  });

  it('LIM-1: an in-process agent at the limit gets a deny with a message saying why, never an exception', async () => {
    const { host } = await makeHost(undefined, { limits: { maxUnresolved: 1, maxUnresolvedBytes: 1 << 30 } });
    await host.create(spec());
    const answer = await askPermission(host, { toolName: 'Bash', input: { command: 'ls' }, context: { agent: 'demo' }, timeoutMs: 60_000 });
    expect(answer).toMatchObject({ behavior: 'deny', outcome: 'failed' });
    expect(answer.behavior === 'deny' && answer.message).toMatch(/too many unresolved requests.*denied/);
    await host.stop();
  });
});
