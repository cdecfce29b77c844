/**
 * The honest broker through its host (SPEC.md, "Honest broker (CORE-B)"): one way to
 * await an outcome, one decision path with its follow-ups, draining, the `delivery` of
 * the HTTP request view, and restored requests without an actor each. Real SQLite (in
 * memory), the real host and routes in-process; time from a SimulatedClock.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { requestView, requestList } from '../protocol/index.ts';
import { openAgentsDb } from './agents/db.ts';
import { BrokerHost, HostStoppedError, type BrokerHostOptions } from './brokerHost.ts';
import { RememberRefusedError, type RememberGate } from './decisions.ts';
import { permissionRoutes } from './http/permissions.ts';
import { silentLogger } from './log.ts';
import { RuleEngine } from './rules/ruleEngine.ts';
import { RuleStore } from './rules/ruleStore.ts';
import { SqliteEventStore } from './store/sqliteStore.ts';

const T0 = 1_700_000_000_000;

function makeHost(options: Partial<BrokerHostOptions> & { store?: SqliteEventStore; clock?: SimulatedClock } = {}) {
  const store = options.store ?? new SqliteEventStore({ dataDir: ':memory:' });
  const clock = options.clock ?? new SimulatedClock();
  if (clock.now() < T0) clock.set(T0);
  const host = new BrokerHost({ logger: silentLogger, ...options, store, clock }, store.loadNow({ now: clock.now() }));
  return { host, store, clock };
}

const spec = (toolName = 'Bash', timeoutMs = 60_000) => ({ toolName, input: { command: 'ls' }, context: {}, timeoutMs, origin: 'http' as const });

async function created(host: BrokerHost, toolName = 'Bash', timeoutMs = 60_000): Promise<{ id: string; seq: number }> {
  const answer = await host.create(spec(toolName, timeoutMs));
  if (answer.status !== 'created') throw new Error(`not created: ${answer.status}`);
  return answer;
}

describe('awaitOutcome (CORE-B4)', () => {
  it('CORE-B4: answered at the commit of the outcome, never before; at once when committed; unknown for a stranger', async () => {
    const { host, store } = makeHost();
    const { id } = await created(host);
    let storedWhenWoken: string | undefined;
    const waiting = host.awaitOutcome(id).then((result) => {
      storedWhenWoken = store.getRequestNow(id)?.status;
      return result;
    });
    const decided = host.decide({ requestId: id, decision: 'allow', decidedBy: 'alice', via: 'ws' });
    expect(await waiting).toEqual({ status: 'finished', outcome: expect.objectContaining({ status: 'resolved', decision: 'allow', decidedBy: 'alice' }) });
    expect(storedWhenWoken).toBe('resolved');
    await decided;
    expect(await host.awaitOutcome(id)).toMatchObject({ status: 'finished', outcome: { status: 'resolved' } });
    expect(await host.awaitOutcome('no-such-request')).toEqual({ status: 'unknown' });
    await host.stop();
  });

  it('CORE-B4: a wait ends with timeout (on the host clock), aborted (its signal) or shutdown (drain), the request still unresolved', async () => {
    const { host, clock } = makeHost();
    const { id } = await created(host);
    const timedOut = host.awaitOutcome(id, { timeoutMs: 5_000 });
    clock.increment(5_000);
    expect(await timedOut).toEqual({ status: 'waiting', reason: 'timeout' });
    const controller = new AbortController();
    const aborted = host.awaitOutcome(id, { signal: controller.signal });
    controller.abort();
    expect(await aborted).toEqual({ status: 'waiting', reason: 'aborted' });
    const shutdown = host.awaitOutcome(id);
    expect(host.outcomeWaits).toBe(1);
    await host.drain();
    expect(await shutdown).toEqual({ status: 'waiting', reason: 'shutdown' });
    expect(host.outcomeWaits).toBe(0);
    await host.stop();
  });

  it("CORE-B4: the request's own timeout is an outcome like any other", async () => {
    const { host, clock } = makeHost();
    const { id } = await created(host, 'Bash', 1_000);
    const waiting = host.awaitOutcome(id);
    clock.increment(1_000);
    expect(await waiting).toMatchObject({ status: 'finished', outcome: { status: 'timedOut', decision: 'deny', decidedAt: T0 + 1_000 } });
    await host.stop();
  });
});

describe('one decision path (CORE-B5)', () => {
  function recordingGate(refuse?: string) {
    const calls: string[] = [];
    const gate: RememberGate = {
      checkRemember: (req) => {
        calls.push(`check ${req.requestId}`);
        return refuse;
      },
      applyRemember: (req) => {
        calls.push(`apply ${req.requestId}`);
        return { created: false, reason: 'test gate' };
      },
    };
    return { gate, calls };
  }

  it('CORE-B5: a remember is checked before deciding, its rule made after the commit, observers told once; replays and rejections tell nobody', async () => {
    const { host, store } = makeHost();
    const { gate, calls } = recordingGate();
    host.setRememberGate(gate);
    const seen: Array<{ via: string; address?: string; status: string | undefined }> = [];
    host.onDecided((info) =>
      seen.push({ via: info.via, ...(info.address ? { address: info.address } : {}), status: store.getRequestNow(info.requestId)?.status }),
    );
    const { id } = await created(host);
    const result = await host.decide({
      requestId: id,
      decision: 'allow',
      decidedBy: 'alice',
      via: 'ws',
      clientMsgId: 'm1',
      remember: { scope: 'global' },
      address: '10.0.0.7',
    });
    expect(result).toEqual({ answer: { status: 'accepted', requestId: id }, replayed: false, remember: { created: false, reason: 'test gate' } });
    expect(calls).toEqual([`check ${id}`, `apply ${id}`]);
    expect(seen).toEqual([{ via: 'ws', address: '10.0.0.7', status: 'resolved' }]);
    // The same clientMsgId again: the remembered answer, no follow-up.
    expect(
      (await host.decide({ requestId: id, decision: 'allow', decidedBy: 'alice', via: 'ws', clientMsgId: 'm1', remember: { scope: 'global' } })).replayed,
    ).toBe(true);
    // Another decision for a decided request: rejected, no follow-up.
    expect((await host.decide({ requestId: id, decision: 'deny', decidedBy: 'bob', via: 'http' })).answer).toMatchObject({ code: 'already-resolved' });
    expect(calls.filter((c) => c.startsWith('apply'))).toHaveLength(1);
    expect(seen).toHaveLength(1);
    await host.stop();
  });

  it('CORE-B5: a remember that cannot be honoured throws RememberRefusedError and decides nothing', async () => {
    const { host, store } = makeHost();
    host.setRememberGate(recordingGate('remember.scope: no session').gate);
    const { id } = await created(host);
    expect(() => host.decide({ requestId: id, decision: 'allow', decidedBy: 'alice', via: 'http', remember: { scope: 'session' } })).toThrow(
      RememberRefusedError,
    );
    await host.settle();
    expect(store.getRequestNow(id)?.status).toBe('pending');
    await host.stop();
  });

  it("CORE-B5: the rule engine's decisions take the same path: its observers see them (via rule)", async () => {
    const { host, store } = makeHost();
    const db = openAgentsDb(':memory:');
    const rules = new RuleStore(db);
    const engine = new RuleEngine({
      host,
      rules,
      logger: silentLogger,
      lookup: (requestId) => {
        const view = store.getRequestNow(requestId);
        return view ? { toolName: view.toolName, input: view.input, context: view.context, status: view.status } : undefined;
      },
    });
    rules.add({ toolName: 'Bash', pattern: 'ls', kind: 'bash-exact', decision: 'allow', scope: 'global', createdAt: T0, createdBy: 'test' });
    const seen: Array<{ requestId: string; via: string; decidedBy: string }> = [];
    host.onDecided((info) => seen.push({ requestId: info.requestId, via: info.via, decidedBy: info.decidedBy }));
    engine.start();
    const { id } = await created(host);
    const outcome = await host.awaitOutcome(id);
    expect(outcome).toMatchObject({ status: 'finished', outcome: { status: 'resolved', decision: 'allow' } });
    await host.settle();
    expect(seen).toEqual([{ requestId: id, via: 'rule', decidedBy: expect.stringMatching(/^rule:/) }]);
    engine.stop();
    await host.stop();
    db.close();
  });
});

describe('draining (CORE-B2)', () => {
  it('CORE-B2: a draining host refuses creates with HostStoppedError and still decides; stop takes the broker to its final state', async () => {
    const { host, store } = makeHost();
    expect(host.brokerState()).toBe('serving');
    const { id } = await created(host);
    await host.drain();
    expect(host.brokerState()).toBe('draining');
    const head = await store.head();
    expect(() => host.create(spec())).toThrow(HostStoppedError);
    expect((await host.decide({ requestId: id, decision: 'deny', decidedBy: 'alice', via: 'http' })).answer).toEqual({ status: 'accepted', requestId: id });
    expect(await store.head()).toBe(head + 1);
    await host.stop();
    expect(host.brokerState()).toBe('stopped');
    expect(() => host.decide({ requestId: id, decision: 'deny', decidedBy: 'alice', via: 'http' })).toThrow(HostStoppedError);
  });
});

describe('delivery in the HTTP view (CORE-B3)', () => {
  it('CORE-B3: GET /api/permission-requests/:id and the list carry delivery pending -> sent -> acked for a pending request, none once finished', async () => {
    const { host, store } = makeHost();
    const routes = permissionRoutes({ host, store, logger: silentLogger, requestTimeoutMs: 60_000 });
    const get = async (path: string): Promise<{ delivery?: string }> => (await routes.request(path)).json() as Promise<{ delivery?: string }>;
    const { id, seq } = await created(host);
    const view = requestView.parse(await get(`/${id}`));
    expect(view.delivery).toBe('pending');
    host.markSent(seq);
    expect((await get(`/${id}`)).delivery).toBe('sent');
    host.connect('c1', 'alice');
    host.ack('c1', seq);
    expect((await get(`/${id}`)).delivery).toBe('acked');
    const list = requestList.parse(await get('/?status=pending'));
    expect(list.requests.map((r) => r.delivery)).toEqual(['acked']);
    await host.decide({ requestId: id, decision: 'allow', decidedBy: 'alice', via: 'ws' });
    const finished = requestView.parse(await get(`/${id}`));
    expect(finished.status).toBe('resolved');
    expect(finished).not.toHaveProperty('delivery');
    // An older view without the field still parses.
    const { delivery: _omitted, ...old } = view;
    expect(requestView.safeParse(old).success).toBe(true);
    await host.stop();
  });
});

describe('restore (CORE-B6)', () => {
  it('CORE-B6: after a restart, restored requests have no actor yet, are in the snapshot, can be decided, and time out on their deadline', async () => {
    const clock = new SimulatedClock();
    clock.set(T0);
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    const first = makeHost({ store, clock }).host;
    const a = await created(first, 'A', 60_000);
    const b = await created(first, 'B', 10_000);
    const c = await created(first, 'C', 60_000);
    await first.stop();

    clock.increment(2_000);
    const { host } = makeHost({ store, clock });
    expect(host.unresolvedEvents().map((e) => e.id)).toEqual([a.id, b.id, c.id]);
    expect(host.delivery(a.id)).toBe('pending');
    const routes = permissionRoutes({ host, store, logger: silentLogger, requestTimeoutMs: 60_000 });
    expect(((await (await routes.request(`/${a.id}`)).json()) as { delivery?: string }).delivery).toBe('pending');

    expect((await host.decide({ requestId: a.id, decision: 'allow', decidedBy: 'alice', via: 'http' })).answer).toEqual({
      status: 'accepted',
      requestId: a.id,
    });
    const timedOut = host.awaitOutcome(b.id);
    clock.increment(10_000 - 2_000 - 1);
    await host.settle();
    expect(store.getRequestNow(b.id)?.status).toBe('pending');
    clock.increment(1);
    expect(await timedOut).toMatchObject({ status: 'finished', outcome: { status: 'timedOut', decidedAt: T0 + 10_000 } });
    expect(store.getRequestNow(b.id)).toMatchObject({ status: 'timedOut' });
    expect(store.getRequestNow(c.id)?.status).toBe('pending');
    await host.stop();
  });
});
