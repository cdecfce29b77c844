/**
 * Seeded property tests of the broker: random interleavings of everything the host can
 * send (and of restarts from the store), checked step by step against a small reference
 * model, and at the end on the whole emitted and persisted log.
 *
 * Runs: FC_RUNS (default 1000). Replay a failure: FC_SEED=<seed> FC_PATH=<path> (both
 * printed on failure) `npx vitest run machines/broker.property.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { Decision, SequencedEvent } from '../protocol/index.ts';
import type { CancelAnswer, CreateAnswer, DecisionAnswer, OutcomeStatus, RequestOrigin } from './broker.types.ts';
import { lookupRequest, queueStatusOf, streamHeadOf, unresolvedRequestEventsOf } from './selectors.ts';
import { pendingTimers, startTestBroker, T0, type LogEntry, type TestBroker } from './testing/brokerHarness.ts';
import { MemoryStore } from './testing/memoryStore.ts';

// ---- operations ---------------------------------------------------------------------

type Target = { known: number } | { ghost: true };
type Op =
  | { kind: 'create'; key: number | null; body: 0 | 1; timeoutMs: number; origin: RequestOrigin }
  | { kind: 'sent'; behind: number }
  | { kind: 'connect'; client: number }
  | { kind: 'disconnect'; client: number }
  /** Acknowledge `behind` events short of the head, or exactly up to a known request. */
  | { kind: 'ack'; client: number; behind: number; upToRequest: number | null }
  | { kind: 'decide'; target: Target; decision: Decision; msg: { fresh: true } | { reuse: number } | null; late: number | null }
  | { kind: 'cancel'; target: Target; late: number | null }
  | { kind: 'advance'; ms: number }
  | { kind: 'append' }
  | { kind: 'restore'; downtimeMs: number };

const targetArb: fc.Arbitrary<Target> = fc.oneof(
  { weight: 9, arbitrary: fc.nat({ max: 50 }).map((known) => ({ known })) },
  { weight: 1, arbitrary: fc.constant({ ghost: true as const }) },
);
const lateArb = fc.option(fc.nat({ max: 2_000 }), { freq: 4 });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      key: fc.option(fc.nat({ max: 3 }), { freq: 2 }),
      body: fc.constantFrom(0 as const, 1 as const),
      timeoutMs: fc.constantFrom(0, 100, 1_000, 5_000, 60_000),
      origin: fc.constantFrom('http' as const, 'agent' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sent' as const), behind: fc.nat({ max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('connect' as const), client: fc.nat({ max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('disconnect' as const), client: fc.nat({ max: 2 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('ack' as const),
      client: fc.nat({ max: 2 }),
      behind: fc.integer({ min: -2, max: 3 }),
      upToRequest: fc.option(fc.nat({ max: 50 }), { freq: 2 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('decide' as const),
      target: targetArb,
      decision: fc.constantFrom('allow' as const, 'deny' as const),
      msg: fc.option(
        fc.oneof(
          fc.constant({ fresh: true as const }),
          fc.nat({ max: 20 }).map((reuse) => ({ reuse })),
        ),
        { freq: 4 },
      ),
      late: lateArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), target: targetArb, late: lateArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(1, 99, 100, 999, 1_000, 5_000, 60_000) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'append' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore' as const), downtimeMs: fc.constantFrom(0, 50, 1_000, 10_000, 100_000) }) },
);

const scenarioArb = fc.record({
  recentLimit: fc.constantFrom(10_000, 10_000, 3),
  ops: fc.array(opArb, { minLength: 1, maxLength: 60 }),
});

// ---- the reference model ----------------------------------------------------------

type RefRequest = {
  id: string;
  seq: number;
  expiresAt: number;
  status: 'unresolved' | OutcomeStatus;
  delivery: 'pending' | 'sent' | 'acked';
  decision?: Decision;
  decidedBy?: string;
  key?: string;
  hash: string;
};

class Reference {
  head = 0;
  now = T0;
  readonly requests = new Map<string, RefRequest>();
  readonly ids: string[] = [];
  /** Finished ids in the order they finished (the broker remembers the last `limit`). */
  readonly finishedOrder: string[] = [];
  readonly keys = new Map<string, string>();
  /** clientMsgIds in the order first answered, with their answers. */
  readonly answers = new Map<string, DecisionAnswer>();
  readonly answerOrder: string[] = [];
  readonly msgIds: string[] = [];
  clients = new Map<string, number>();
  /** The first accepted decision of each request. */
  readonly accepted = new Map<string, { decision: Decision; decidedBy: string; at: number }>();

  constructor(readonly limit: number) {}

  remembered(id: string): RefRequest | undefined {
    const request = this.requests.get(id);
    if (!request) return undefined;
    if (request.status === 'unresolved') return request;
    const index = this.finishedOrder.lastIndexOf(id);
    return index >= this.finishedOrder.length - this.limit ? request : undefined;
  }

  answerFor(msgId: string): DecisionAnswer | undefined {
    const index = this.answerOrder.lastIndexOf(msgId);
    return index >= 0 && index >= this.answerOrder.length - this.limit ? this.answers.get(msgId) : undefined;
  }

  remember(msgId: string, answer: DecisionAnswer): void {
    this.answers.set(msgId, answer);
    this.answerOrder.push(msgId);
  }

  finish(request: RefRequest, status: OutcomeStatus, decision: Decision, decidedBy: string): void {
    request.status = status;
    request.decision = decision;
    request.decidedBy = decidedBy;
    this.finishedOrder.push(request.id);
  }

  unresolved(): RefRequest[] {
    return [...this.requests.values()].filter((r) => r.status === 'unresolved').sort((a, b) => a.seq - b.seq);
  }

  /** Requests whose deadline is at or before `now` time out (in deadline order). */
  expire(): string[] {
    const due = this.unresolved()
      .filter((r) => r.expiresAt <= this.now)
      .sort((a, b) => a.expiresAt - b.expiresAt);
    for (const r of due) this.finish(r, 'timedOut', 'deny', 'timeout');
    return due.map((r) => r.id);
  }

  queue(): { pending: number; processing: number } {
    let hold = 0;
    for (const acked of this.clients.values()) hold = Math.max(hold, acked);
    const unresolved = this.unresolved();
    return { pending: unresolved.length, processing: unresolved.filter((r) => r.seq <= hold).length };
  }
}

function rejectionCode(status: OutcomeStatus): 'already-resolved' | 'expired' | 'cancelled' {
  return status === 'resolved' ? 'already-resolved' : status === 'timedOut' ? 'expired' : 'cancelled';
}

// ---- one run --------------------------------------------------------------------------

type Expected = { events: Array<{ type: SequencedEvent['type']; id: string }> };

function runScenario(scenario: { recentLimit: number; ops: Op[] }): void {
  const { recentLimit, ops } = scenario;
  const store = new MemoryStore('epoch-prop');
  const clock = new SimulatedClock();
  clock.set(T0);
  const log: LogEntry[] = [];
  const ref = new Reference(recentLimit);
  let broker: TestBroker = startTestBroker({ store, clock, log, recentLimit });
  let seen = 0; // stream events already checked
  let next = 0;

  const targetId = (target: Target): string => ('ghost' in target || ref.ids.length === 0 ? `ghost-${next}` : ref.ids[target.known % ref.ids.length]!);

  const checkStep = (op: Op, expected: Expected) => {
    const where = `after ${JSON.stringify(op)}`;
    const events = broker.streamEvents().slice(seen);
    seen += events.length;
    // New events continue the stream without a gap.
    expect(
      events.map((e) => e.seq),
      where,
    ).toEqual(events.map((_, i) => ref.head + 1 + i));
    ref.head += events.length;
    const describe = (e: SequencedEvent) => ({ type: e.type, id: 'id' in e ? e.id : 'requestId' in e ? e.requestId : '-' });
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    expect(events.map(describe).sort(byId), where).toEqual([...expected.events].sort(byId));

    const snapshot = broker.actor.getSnapshot();
    expect(streamHeadOf(snapshot), where).toEqual({ epoch: 'epoch-prop', headSeq: ref.head });
    expect(queueStatusOf(snapshot), where).toEqual(ref.queue());
    const unresolved = ref.unresolved();
    expect(
      unresolvedRequestEventsOf(snapshot).map((e) => e.id),
      where,
    ).toEqual(unresolved.map((r) => r.id));
    for (const r of unresolved) {
      const found = lookupRequest(snapshot, r.id);
      expect(found?.status === 'pending' && found.delivery, `${where}: delivery of ${r.id}`).toBe(r.delivery);
    }
  };

  for (const op of ops) {
    const expected: Expected = { events: [] };
    switch (op.kind) {
      case 'create': {
        const id = `r${next++}`;
        const key = op.key === null ? undefined : `key-${op.key}`;
        const hash = `body-${op.body}`;
        const answer = broker.client.create({
          at: ref.now,
          request: { id, toolName: 'Bash', input: { command: id }, context: {}, timeoutMs: op.timeoutMs },
          origin: op.origin,
          ...(key !== undefined ? { idempotencyKey: key, bodyHash: hash } : {}),
        });
        const knownId = key !== undefined ? ref.keys.get(key) : undefined;
        const known = knownId !== undefined ? ref.remembered(knownId) : undefined;
        let want: CreateAnswer;
        if (known) {
          want = known.hash === hash ? { status: 'existing', id: known.id, seq: known.seq, expiresAt: known.expiresAt } : { status: 'conflict', id: known.id };
        } else {
          const r: RefRequest = { id, seq: ref.head + 1, expiresAt: ref.now + op.timeoutMs, status: 'unresolved', delivery: 'pending', hash };
          if (key !== undefined) {
            r.key = key;
            ref.keys.set(key, id);
          }
          ref.requests.set(id, r);
          ref.ids.push(id);
          want = { status: 'created', id, seq: r.seq, expiresAt: r.expiresAt };
          expected.events.push({ type: 'permission-request', id });
          if (r.expiresAt <= ref.now) {
            ref.finish(r, 'timedOut', 'deny', 'timeout');
            expected.events.push({ type: 'permission-timeout', id });
          }
        }
        expect(answer, JSON.stringify(op)).toEqual(want);
        break;
      }
      case 'sent': {
        const upToSeq = Math.max(0, ref.head - op.behind);
        broker.client.markSent({ at: ref.now, upToSeq });
        for (const r of ref.unresolved()) if (r.seq <= upToSeq && r.delivery === 'pending') r.delivery = 'sent';
        break;
      }
      case 'connect':
        broker.client.connect({ at: ref.now, clientId: `c${op.client}`, label: `client ${op.client}` });
        if (!ref.clients.has(`c${op.client}`)) ref.clients.set(`c${op.client}`, 0);
        break;
      case 'disconnect':
        broker.client.disconnect({ at: ref.now, clientId: `c${op.client}` });
        ref.clients.delete(`c${op.client}`);
        break;
      case 'ack': {
        const clientId = `c${op.client}`;
        const seq =
          op.upToRequest !== null && ref.ids.length > 0 ? ref.requests.get(ref.ids[op.upToRequest % ref.ids.length]!)!.seq : Math.max(0, ref.head - op.behind);
        broker.client.ack({ at: ref.now, clientId, seq });
        const acked = ref.clients.get(clientId);
        if (acked !== undefined) {
          const clamped = Math.min(seq, ref.head);
          if (clamped > acked) {
            ref.clients.set(clientId, clamped);
            for (const r of ref.unresolved()) if (r.seq <= clamped) r.delivery = 'acked';
          }
        }
        break;
      }
      case 'decide': {
        const requestId = targetId(op.target);
        let clientMsgId: string | undefined;
        if (op.msg && 'fresh' in op.msg) {
          clientMsgId = `m${ref.msgIds.length}`;
          ref.msgIds.push(clientMsgId);
        } else if (op.msg && ref.msgIds.length > 0) {
          clientMsgId = ref.msgIds[op.msg.reuse % ref.msgIds.length];
        }
        const request = ref.remembered(requestId);
        const at = op.late !== null && request ? Math.max(ref.now, request.expiresAt + op.late) : ref.now;
        const decidedBy = `by-${next}`;
        const result = broker.client.decide({ at, requestId, decision: op.decision, decidedBy, ...(clientMsgId ? { clientMsgId } : {}) });

        const replay = clientMsgId !== undefined ? ref.answerFor(clientMsgId) : undefined;
        if (replay) {
          expect(result, JSON.stringify(op)).toEqual({ answer: replay, replayed: true });
          break;
        }
        let want: DecisionAnswer;
        if (!request) {
          want = { status: 'rejected', requestId, code: 'unknown-request', message: expect.any(String) as unknown as string };
        } else if (request.status === 'unresolved') {
          if (at < request.expiresAt) {
            ref.finish(request, 'resolved', op.decision, decidedBy);
            ref.accepted.set(requestId, { decision: op.decision, decidedBy, at });
            expected.events.push({ type: 'permission-resolved', id: requestId });
            want = { status: 'accepted', requestId };
          } else {
            ref.finish(request, 'timedOut', 'deny', 'timeout');
            expected.events.push({ type: 'permission-timeout', id: requestId });
            want = { status: 'rejected', requestId, code: 'expired', message: expect.any(String) as unknown as string };
          }
        } else {
          const code = rejectionCode(request.status);
          want = { status: 'rejected', requestId, code, message: expect.any(String) as unknown as string };
          if (code === 'already-resolved' && request.decision !== undefined) want.decision = request.decision;
        }
        expect(result, JSON.stringify(op)).toEqual({ answer: want, replayed: false });
        if (clientMsgId !== undefined && !(want.status === 'rejected' && want.code === 'unknown-request')) {
          ref.remember(clientMsgId, result.answer);
        }
        break;
      }
      case 'cancel': {
        const requestId = targetId(op.target);
        const request = ref.remembered(requestId);
        const at = op.late !== null && request ? Math.max(ref.now, request.expiresAt + op.late) : ref.now;
        const answer = broker.client.cancel({ at, requestId, reason: 'agent-aborted', cancelledBy: 'agent' });
        let want: CancelAnswer;
        if (!request) {
          want = { status: 'rejected', requestId, code: 'unknown-request', message: expect.any(String) as unknown as string };
        } else if (request.status === 'unresolved') {
          if (at < request.expiresAt) {
            ref.finish(request, 'cancelled', 'deny', 'agent');
            expected.events.push({ type: 'permission-cancelled', id: requestId });
            want = { status: 'cancelled', requestId };
          } else {
            ref.finish(request, 'timedOut', 'deny', 'timeout');
            expected.events.push({ type: 'permission-timeout', id: requestId });
            want = { status: 'rejected', requestId, code: 'expired', message: expect.any(String) as unknown as string };
          }
        } else {
          const code = rejectionCode(request.status);
          want = { status: 'rejected', requestId, code, message: expect.any(String) as unknown as string };
          if (code === 'already-resolved' && request.decision !== undefined) want.decision = request.decision;
        }
        expect(answer, JSON.stringify(op)).toEqual(want);
        break;
      }
      case 'advance': {
        ref.now += op.ms;
        clock.set(ref.now);
        for (const id of ref.expire()) expected.events.push({ type: 'permission-timeout', id });
        break;
      }
      case 'append': {
        const seq = broker.client.append({
          at: ref.now,
          event: { type: 'chat-message', sessionId: 's1', message: { id: `chat-${next++}`, role: 'assistant', kind: 'text', text: 'hi' }, timestamp: ref.now },
        });
        expect(seq).toBe(ref.head + 1);
        expected.events.push({ type: 'chat-message', id: '-' });
        break;
      }
      case 'restore': {
        broker.stop();
        expect(pendingTimers(clock), 'a stopped broker leaves no timers').toBe(0);
        ref.now += op.downtimeMs;
        clock.set(ref.now);
        ref.clients = new Map();
        for (const r of ref.unresolved()) r.delivery = 'pending';
        broker = startTestBroker({ store, clock, log, recentLimit });
        for (const id of ref.expire()) expected.events.push({ type: 'permission-timeout', id });
        break;
      }
      default: {
        const never: never = op;
        throw new Error(`unknown op ${JSON.stringify(never)}`);
      }
    }
    checkStep(op, expected);
  }
  broker.stop();
  checkWholeLog(log, store, ref);
}

/** Invariants of the whole run, on what was emitted and what was persisted. */
function checkWholeLog(log: LogEntry[], store: MemoryStore, ref: Reference): void {
  const persisted: SequencedEvent[] = [];
  const emitted: SequencedEvent[] = [];
  for (const entry of log) {
    if (entry.kind === 'persist' && entry.record.kind === 'event') persisted.push(entry.record.event);
    if (entry.kind === 'emit' && entry.emitted.type === 'stream.event') {
      // Persisted before emitted, in the same order.
      expect(persisted.length).toBeGreaterThan(emitted.length);
      expect(entry.emitted.event).toEqual(persisted[emitted.length]);
      emitted.push(entry.emitted.event);
    }
  }
  expect(emitted.length).toBe(persisted.length);
  // Gapless from 1, across restarts, and the store holds exactly that log.
  expect(emitted.map((e) => e.seq)).toEqual(emitted.map((_, i) => i + 1));
  expect(store.log).toEqual(emitted);

  const requestEvents = new Map<string, SequencedEvent>();
  const outcomes = new Map<string, SequencedEvent[]>();
  for (const event of emitted) {
    if (event.type === 'permission-request') {
      expect(requestEvents.has(event.id)).toBe(false); // an idempotent create made no second one
      requestEvents.set(event.id, event);
    } else if ('requestId' in event) {
      const list = outcomes.get(event.requestId) ?? [];
      list.push(event);
      outcomes.set(event.requestId, list);
    }
  }
  for (const [id, r] of ref.requests) {
    const list = outcomes.get(id) ?? [];
    const request = requestEvents.get(id);
    expect(request, id).toBeDefined();
    if (request?.type !== 'permission-request') continue;
    // At most one outcome, exactly one once finished.
    expect(list.length, id).toBe(r.status === 'unresolved' ? 0 : 1);
    const outcome = list[0];
    if (!outcome) continue;
    expect(list[0]?.seq).toBeGreaterThan(request.seq);
    switch (outcome.type) {
      case 'permission-resolved': {
        expect(r.status).toBe('resolved');
        // Nothing decided after its deadline; the first decision won.
        expect(outcome.timestamp).toBeLessThan(request.expiresAt);
        const first = ref.accepted.get(id)!;
        expect({ decision: outcome.decision, decidedBy: outcome.decidedBy, at: outcome.timestamp }).toEqual(first);
        break;
      }
      case 'permission-timeout':
        expect(r.status).toBe('timedOut');
        expect(outcome.timestamp).toBe(request.expiresAt);
        break;
      case 'permission-cancelled':
        expect(r.status).toBe('cancelled');
        expect(outcome.timestamp).toBeLessThan(request.expiresAt);
        break;
      default:
        throw new Error(`not an outcome: ${outcome.type}`);
    }
  }
}

// ---- the property ---------------------------------------------------------------------

function fcParameters(): fc.Parameters<unknown> {
  const runs = Number(process.env.FC_RUNS ?? 1_000);
  const params: fc.Parameters<unknown> = { numRuns: Number.isFinite(runs) && runs > 0 ? runs : 1_000 };
  if (process.env.FC_SEED !== undefined) params.seed = Number(process.env.FC_SEED);
  if (process.env.FC_PATH !== undefined) params.path = process.env.FC_PATH;
  return params;
}

describe('broker (property-based, fast-check)', () => {
  it('BRK-2/BRK-5/BRK-6/BRK-7/BRK-8/BRK-10/BRK-11: random interleavings keep the log gapless, persisted first, one outcome each, and match the reference', () => {
    const details = fc.check(
      fc.property(scenarioArb, (scenario) => {
        runScenario(scenario);
      }),
      fcParameters(),
    );
    if (details.failed) {
      const replay =
        `\nReplay: FC_SEED=${details.seed} FC_PATH=${JSON.stringify(details.counterexamplePath ?? '')} ` + 'npx vitest run machines/broker.property.test.ts';
      throw new Error(`${fc.defaultReportMessage(details) ?? 'property failed'}${replay}`);
    }
    expect(details.numRuns).toBeGreaterThanOrEqual(Math.min(1_000, fcParameters().numRuns ?? 1_000));
  }, 120_000);
});
