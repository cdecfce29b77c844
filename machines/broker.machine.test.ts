import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock, type InspectionEvent } from 'xstate';
import type { SequencedEvent } from '../protocol/index.ts';
import { brokerMachine } from './broker.machine.ts';
import { createBrokerClient } from './brokerClient.ts';
import type { BrokerEmitted, CreateRequestSpec, RequestOrigin } from './broker.types.ts';
import { timeoutMessage } from './permissionRequest.machine.ts';
import { lookupRequest, nextDeadlineOf, queueStatusOf, streamHeadOf, unresolvedRequestEventsOf } from './selectors.ts';
import { MemoryStore } from './testing/memoryStore.ts';
import { pendingTimers, scheduledTimers, startTestBroker, T0, type TestBroker } from './testing/brokerHarness.ts';

const TIMEOUT = 60_000;

function spec(id: string, overrides: Partial<CreateRequestSpec> = {}): CreateRequestSpec {
  return { id, toolName: 'Bash', input: { command: `echo ${id}` }, context: { sessionId: 's1' }, timeoutMs: TIMEOUT, ...overrides };
}

function create(b: TestBroker, id: string, options: { key?: string; hash?: string; origin?: RequestOrigin; timeoutMs?: number; at?: number } = {}) {
  return b.client.create({
    at: options.at ?? b.now(),
    request: spec(id, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    origin: options.origin ?? 'http',
    ...(options.key !== undefined ? { idempotencyKey: options.key } : {}),
    ...(options.hash !== undefined ? { bodyHash: options.hash } : {}),
  });
}

function decide(b: TestBroker, requestId: string, options: { decision?: 'allow' | 'deny'; by?: string; msg?: string; at?: number } = {}) {
  return b.client.decide({
    at: options.at ?? b.now(),
    requestId,
    decision: options.decision ?? 'allow',
    decidedBy: options.by ?? 'alice',
    ...(options.msg !== undefined ? { clientMsgId: options.msg } : {}),
  });
}

const seqs = (events: SequencedEvent[]) => events.map((event) => event.seq);
const outcomeEventsFor = (b: TestBroker, id: string) => b.streamEvents().filter((event) => 'requestId' in event && event.requestId === id);

describe('broker', () => {
  it('BRK-1: a create gets the next seq, a persisted then emitted permission-request, and its own child actor', () => {
    const b = startTestBroker();
    const answer = create(b, 'r1', { key: 'k1', hash: 'h1' });
    expect(answer).toEqual({ status: 'created', id: 'r1', seq: 1, expiresAt: T0 + TIMEOUT });
    const event = {
      type: 'permission-request',
      seq: 1,
      id: 'r1',
      toolName: 'Bash',
      input: { command: 'echo r1' },
      context: { sessionId: 's1' },
      timestamp: T0,
      expiresAt: T0 + TIMEOUT,
    };
    const entries = b.log.filter((entry) => entry.kind === 'persist' || entry.emitted.type === 'stream.event');
    expect(entries).toEqual([
      { kind: 'persist', record: { kind: 'event', event, request: { origin: 'http', idempotencyKey: 'k1', bodyHash: 'h1' } } },
      { kind: 'emit', emitted: { type: 'stream.event', event } },
    ]);
    const found = lookupRequest(b.actor.getSnapshot(), 'r1');
    expect(found?.status).toBe('pending');
    if (found?.status !== 'pending') throw new Error('unreachable');
    expect(found.delivery).toBe('pending');
    expect(found.request.ref?.id).toBe('r1');
    expect(found.request.ref?.getSnapshot().status).toBe('active');
  });

  it('BRK-2: every sequenced event is persisted before it is emitted, in the same order, with gapless seq from 1', () => {
    const b = startTestBroker();
    b.client.connect({ at: b.now(), clientId: 'c1', label: 'alice' });
    create(b, 'r1');
    create(b, 'r2', { timeoutMs: 1_000 });
    b.client.append({
      at: b.now(),
      event: { type: 'chat-message', sessionId: 's1', message: { id: 'm1', role: 'assistant', kind: 'text', text: 'hi' }, timestamp: b.now() },
    });
    decide(b, 'r1', { msg: 'cm1' });
    b.clock.increment(1_000);
    b.client.cancel({ at: b.now(), requestId: 'r1', reason: 'late', cancelledBy: 'agent' });
    create(b, 'r3');
    b.client.cancel({ at: b.now(), requestId: 'r3', reason: 'agent-aborted', cancelledBy: 'agent' });

    const emitted = b.streamEvents();
    expect(seqs(emitted)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(emitted.map((e) => e.type)).toEqual([
      'permission-request',
      'permission-request',
      'chat-message',
      'permission-resolved',
      'permission-timeout',
      'permission-request',
      'permission-cancelled',
    ]);
    // Walk the log: each stream event must already be persisted, and in order.
    let persisted = 0;
    let relayed = 0;
    const persistedEvents: SequencedEvent[] = [];
    for (const entry of b.log) {
      if (entry.kind === 'persist' && entry.record.kind === 'event') persistedEvents[persisted++] = entry.record.event;
      if (entry.kind === 'emit' && entry.emitted.type === 'stream.event') {
        expect(relayed).toBeLessThan(persisted);
        expect(entry.emitted.event).toEqual(persistedEvents[relayed++]);
      }
    }
    expect(b.store.log).toEqual(emitted);
  });

  it("BRK-3: answers are given to the command's reply before actor.send() returns, also when the child decides", () => {
    const clock = new SimulatedClock();
    clock.set(T0);
    const actor = createActor(brokerMachine, {
      input: { epoch: 'e', headSeq: 0, now: T0, unresolved: [], finished: [], clientAnswers: [], requestActors: { clock } },
      clock,
    });
    const seen: Array<BrokerEmitted | { type: 'reply'; answer: unknown }> = [];
    actor.on('*', (emitted) => seen.push(emitted));
    actor.start();
    const reply = (answer: unknown) => seen.push({ type: 'reply', answer });
    const replies = () => seen.flatMap((e) => (e.type === 'reply' ? [e.answer] : []));

    actor.send({ type: 'request.create', at: T0, reply, request: spec('r1'), origin: 'http' });
    expect(replies()).toEqual([{ status: 'created', id: 'r1', seq: 1, expiresAt: T0 + TIMEOUT }]);

    actor.send({ type: 'permission.decide', at: T0 + 1, reply, requestId: 'r1', decision: 'deny', decidedBy: 'bob', clientMsgId: 'x' });
    expect(replies()[1]).toEqual({ answer: { status: 'accepted', requestId: 'r1' }, replayed: false });
    // ... and its outcome event was emitted within the same send (the host answers only
    // after the tick that holds both is committed).
    expect(seen.some((e) => e.type === 'stream.event' && e.event.type === 'permission-resolved')).toBe(true);

    actor.send({ type: 'request.create', at: T0, request: spec('r2'), origin: 'agent' });
    actor.send({ type: 'request.cancel', at: T0 + 2, reply, requestId: 'r2', reason: 'agent-aborted', cancelledBy: 'agent' });
    expect(replies()[2]).toEqual({ status: 'cancelled', requestId: 'r2' });
    // Nothing but stream events and queue changes is ever emitted.
    expect(new Set(seen.map((e) => e.type))).toEqual(new Set(['stream.event', 'queue.changed', 'reply']));
    actor.stop();
  });

  it('BRK-4: a decision for an unknown id is refused without touching any actor; a finished one answers with its outcome', () => {
    const b = startTestBroker();
    expect(decide(b, 'nope').answer).toMatchObject({ status: 'rejected', requestId: 'nope', code: 'unknown-request' });
    expect(b.client.cancel({ at: b.now(), requestId: 'nope', reason: 'x', cancelledBy: 'agent' })).toMatchObject({ code: 'unknown-request' });

    create(b, 'won');
    create(b, 'late', { timeoutMs: 1_000 });
    create(b, 'gone');
    decide(b, 'won', { decision: 'deny', by: 'bob' });
    b.clock.increment(1_000);
    b.client.cancel({ at: b.now(), requestId: 'gone', reason: 'agent-aborted', cancelledBy: 'agent' });

    expect(decide(b, 'won').answer).toMatchObject({ status: 'rejected', code: 'already-resolved', decision: 'deny' });
    expect(decide(b, 'late').answer).toMatchObject({ status: 'rejected', code: 'expired' });
    expect(decide(b, 'gone').answer).toMatchObject({ status: 'rejected', code: 'cancelled' });
    expect(b.client.cancel({ at: b.now(), requestId: 'won', reason: 'x', cancelledBy: 'agent' })).toMatchObject({
      status: 'rejected',
      code: 'already-resolved',
      decision: 'deny',
    });
    expect(b.actor.getSnapshot().status).toBe('active');
    expect(seqs(b.streamEvents())).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('BRK-5: each request gets exactly one outcome event, whatever arrives after it', () => {
    const b = startTestBroker();
    create(b, 'r1', { timeoutMs: 1_000 });
    decide(b, 'r1', { decision: 'allow', by: 'alice' });
    decide(b, 'r1', { decision: 'deny', by: 'bob' });
    b.client.cancel({ at: b.now(), requestId: 'r1', reason: 'x', cancelledBy: 'agent' });
    b.clock.increment(5_000);
    decide(b, 'r1', { at: b.now() });
    expect(outcomeEventsFor(b, 'r1')).toEqual([{ type: 'permission-resolved', seq: 2, requestId: 'r1', decision: 'allow', decidedBy: 'alice', timestamp: T0 }]);
  });

  it('BRK-6: nothing is decided at or after the deadline: the answer is expired and the outcome a timeout', () => {
    const b = startTestBroker();
    create(b, 'r1', { timeoutMs: 1_000 });
    // The timer has not fired (the clock is still at T0) but the decision's time is late.
    const { answer } = decide(b, 'r1', { at: T0 + 1_000, msg: 'late-1' });
    expect(answer).toMatchObject({ status: 'rejected', code: 'expired' });
    expect(outcomeEventsFor(b, 'r1')).toEqual([{ type: 'permission-timeout', seq: 2, requestId: 'r1', toolName: 'Bash', timestamp: T0 + 1_000 }]);
    expect(b.store.outcomeOf('r1')).toEqual({
      status: 'timedOut',
      decision: 'deny',
      message: timeoutMessage(T0, T0 + 1_000),
      decidedBy: 'timeout',
      decidedAt: T0 + 1_000,
    });
    b.clock.increment(2_000);
    expect(outcomeEventsFor(b, 'r1')).toHaveLength(1);

    create(b, 'r2', { timeoutMs: 1_000 });
    expect(b.client.cancel({ at: b.now() + 1_000, requestId: 'r2', reason: 'x', cancelledBy: 'agent' })).toMatchObject({ code: 'expired' });

    create(b, 'r3', { timeoutMs: 1_000 });
    expect(decide(b, 'r3', { at: b.now() + 999 }).answer).toEqual({ status: 'accepted', requestId: 'r3' });
  });

  it('BRK-7: a create with a known idempotency key returns the existing request; another body is a conflict', () => {
    const b = startTestBroker();
    const first = create(b, 'r1', { key: 'k', hash: 'h1' });
    expect(create(b, 'r1-again', { key: 'k', hash: 'h1' })).toEqual({ ...first, status: 'existing' });
    expect(create(b, 'r1-other', { key: 'k', hash: 'h2' })).toEqual({ status: 'conflict', id: 'r1' });
    decide(b, 'r1');
    // Still known once finished (from the recent window).
    expect(create(b, 'r1-later', { key: 'k', hash: 'h1' })).toEqual({ ...first, status: 'existing' });
    expect(create(b, 'r1-later2', { key: 'k', hash: 'h3' })).toEqual({ status: 'conflict', id: 'r1' });
    expect(b.streamEvents().filter((e) => e.type === 'permission-request')).toHaveLength(1);
    expect(b.actor.getSnapshot().context.headSeq).toBe(2);
    // A reused id without a key is refused too (ids are the host's).
    expect(create(b, 'r1')).toEqual({ status: 'conflict', id: 'r1' });
  });

  it('BRK-8: a repeated clientMsgId gets the remembered answer, decides nothing, and survives a restart', () => {
    const store = new MemoryStore();
    const b = startTestBroker({ store });
    create(b, 'r1');
    create(b, 'r2');
    expect(decide(b, 'r1', { decision: 'allow', msg: 'm1' })).toEqual({ answer: { status: 'accepted', requestId: 'r1' }, replayed: false });
    const logLength = b.log.length;
    // Same clientMsgId, even aimed at another request: the same answer, nothing else.
    expect(decide(b, 'r2', { decision: 'deny', msg: 'm1' })).toEqual({ answer: { status: 'accepted', requestId: 'r1' }, replayed: true });
    expect(b.log.slice(logLength)).toEqual([]);
    expect(queueStatusOf(b.actor.getSnapshot()).pending).toBe(1);
    // The answer is persisted before it is given.
    let persistedWhenAnswered = false;
    b.actor.send({
      type: 'permission.decide',
      at: b.now(),
      requestId: 'r2',
      decision: 'deny',
      decidedBy: 'bob',
      clientMsgId: 'm-persisted',
      reply: () => {
        persistedWhenAnswered = b.log.some((e) => e.kind === 'persist' && e.record.kind === 'client-answer' && e.record.record.clientMsgId === 'm-persisted');
      },
    });
    expect(persistedWhenAnswered).toBe(true);
    b.stop();

    const restarted = startTestBroker({ store, clock: b.clock });
    expect(decide(restarted, 'r1', { decision: 'deny', msg: 'm1' })).toEqual({ answer: { status: 'accepted', requestId: 'r1' }, replayed: true });
    expect(decide(restarted, 'r1', { decision: 'deny', msg: 'm2' }).answer).toMatchObject({ code: 'already-resolved', decision: 'allow' });
  });

  it('BRK-9: request.sent and client.ack move the children; acks count only from connected clients, up to the head', () => {
    const b = startTestBroker();
    for (const id of ['r1', 'r2', 'r3']) create(b, id);
    const delivery = (id: string) => {
      const found = lookupRequest(b.actor.getSnapshot(), id);
      return found?.status === 'pending' ? found.delivery : found?.status;
    };
    b.client.markSent({ at: b.now(), upToSeq: 2 });
    expect(['r1', 'r2', 'r3'].map(delivery)).toEqual(['sent', 'sent', 'pending']);

    b.client.ack({ at: b.now(), clientId: 'stranger', seq: 3 });
    expect(['r1', 'r2', 'r3'].map(delivery)).toEqual(['sent', 'sent', 'pending']);

    b.client.connect({ at: b.now(), clientId: 'c1', label: 'alice' });
    b.client.ack({ at: b.now(), clientId: 'c1', seq: 1 });
    expect(['r1', 'r2', 'r3'].map(delivery)).toEqual(['acked', 'sent', 'pending']);
    b.client.ack({ at: b.now(), clientId: 'c1', seq: 1_000 });
    expect(['r1', 'r2', 'r3'].map(delivery)).toEqual(['acked', 'acked', 'acked']);
    expect(b.actor.getSnapshot().context.clients.get('c1')?.ackedSeq).toBe(3);
    // A later request is not covered by an ack that ran ahead of the head.
    create(b, 'r4');
    expect(delivery('r4')).toBe('pending');
    b.client.markSent({ at: b.now(), upToSeq: 4 });
    expect(delivery('r4')).toBe('sent');
  });

  it('BRK-10: queue status is pending = unresolved, processing = those at or below the highest ack of a connected client', () => {
    const b = startTestBroker();
    const status = () => queueStatusOf(b.actor.getSnapshot());
    const queueChanges = () => b.log.filter((e) => e.kind === 'emit' && e.emitted.type === 'queue.changed').length;
    for (const id of ['r1', 'r2', 'r3']) create(b, id);
    expect(status()).toEqual({ pending: 3, processing: 0 });
    b.client.connect({ at: b.now(), clientId: 'c1', label: 'alice' });
    b.client.connect({ at: b.now(), clientId: 'c2', label: 'bob' });
    let changes = queueChanges();
    b.client.ack({ at: b.now(), clientId: 'c1', seq: 2 });
    expect(status()).toEqual({ pending: 3, processing: 2 });
    expect(queueChanges()).toBe(changes + 1);
    b.client.ack({ at: b.now(), clientId: 'c2', seq: 1 });
    expect(status()).toEqual({ pending: 3, processing: 2 });
    decide(b, 'r1');
    expect(status()).toEqual({ pending: 2, processing: 1 });
    b.client.disconnect({ at: b.now(), clientId: 'c1' });
    expect(status()).toEqual({ pending: 2, processing: 0 });
    b.client.ack({ at: b.now(), clientId: 'c2', seq: 3 });
    expect(status()).toEqual({ pending: 2, processing: 2 });
    changes = queueChanges();
    b.client.ack({ at: b.now(), clientId: 'c2', seq: 3 });
    expect(queueChanges()).toBe(changes); // nothing changed, nothing said
    b.client.disconnect({ at: b.now(), clientId: 'c2' });
    expect(status()).toEqual({ pending: 2, processing: 0 });
  });

  it('BRK-11/REQ-4: a broker restored from the store continues the same stream and deadlines: one past its deadline times out at once, stamped its own deadline, the others at their absolute instants', () => {
    const store = new MemoryStore('epoch-7');
    const clock = new SimulatedClock();
    clock.set(T0);
    const b = startTestBroker({ store, clock });
    create(b, 'short', { timeoutMs: 10_000 });
    create(b, 'long', { timeoutMs: 100_000, key: 'k-long', hash: 'h' });
    create(b, 'done');
    decide(b, 'done');
    b.stop();
    expect(pendingTimers(clock)).toBe(0); // stopping the broker stopped its children

    clock.increment(20_000); // down for 20 s: 'short' expired meanwhile
    const log: TestBroker['log'] = [];
    const restored = startTestBroker({ store, clock, log });
    // 'short' timed out at once, at its own deadline, as seq 5.
    expect(restored.streamEvents()).toEqual([{ type: 'permission-timeout', seq: 5, requestId: 'short', toolName: 'Bash', timestamp: T0 + 10_000 }]);
    expect(streamHeadOf(restored.actor.getSnapshot())).toEqual({ epoch: 'epoch-7', headSeq: 5 });
    expect(unresolvedRequestEventsOf(restored.actor.getSnapshot())).toEqual([b.store.log[1]]);
    expect(create(restored, 'again', { key: 'k-long', hash: 'h' })).toMatchObject({ status: 'existing', id: 'long', seq: 2 });
    expect(decide(restored, 'done').answer).toMatchObject({ code: 'already-resolved' });

    clock.increment(100_000 - 20_000 - 1);
    expect(outcomeEventsFor(restored, 'long')).toEqual([]);
    clock.increment(1);
    expect(outcomeEventsFor(restored, 'long')).toEqual([{ type: 'permission-timeout', seq: 6, requestId: 'long', toolName: 'Bash', timestamp: T0 + 100_000 }]);
    expect(seqs(store.log)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('REQ-8: a deadline beyond the longest timer (40 days) is waited for in several timers and comes at its instant', () => {
    const b = startTestBroker();
    const forty = 40 * 86_400_000;
    create(b, 'far', { timeoutMs: forty });
    expect([...scheduledTimers(b.clock).values()].map((timer) => timer.timeout)).toEqual([2_147_483_647]);
    b.clock.increment(2_147_483_647); // the first timer, clamped, fires early: nothing is due
    expect(outcomeEventsFor(b, 'far')).toEqual([]);
    expect(pendingTimers(b.clock)).toBe(1);
    b.clock.increment(forty - 2_147_483_647 - 1);
    expect(outcomeEventsFor(b, 'far')).toEqual([]);
    b.clock.increment(1);
    expect(outcomeEventsFor(b, 'far')).toEqual([{ type: 'permission-timeout', seq: 2, requestId: 'far', toolName: 'Bash', timestamp: T0 + forty }]);
  });

  it('BRK-18: one timer for every deadline: requests time out in deadline order at their own instants, a finished one leaves the heap at once', () => {
    const b = startTestBroker();
    create(b, 'c', { timeoutMs: 30_000 });
    create(b, 'a', { timeoutMs: 10_000 });
    create(b, 'b', { timeoutMs: 20_000 });
    create(b, 'gone', { timeoutMs: 5_000 });
    const context = () => b.actor.getSnapshot().context;
    expect(context().deadlines.size).toBe(4);
    expect(nextDeadlineOf(context())).toBe(T0 + 5_000);
    const armed = [...scheduledTimers(b.clock).keys()];
    expect(armed).toHaveLength(1);
    decide(b, 'gone');
    // Its deadline left with it; the timer armed for it stays (it fires early, harmlessly).
    expect(context().deadlines.size).toBe(3);
    expect(nextDeadlineOf(context())).toBe(T0 + 10_000);
    expect([...scheduledTimers(b.clock).keys()]).toEqual(armed);
    b.clock.increment(25_000); // one jump past two deadlines
    const timeouts = b.streamEvents().filter((event) => event.type === 'permission-timeout');
    expect(timeouts.map((event) => [event.requestId, event.timestamp])).toEqual([
      ['a', T0 + 10_000],
      ['b', T0 + 20_000],
    ]);
    expect(context().deadlines.size).toBe(1);
    expect(nextDeadlineOf(context())).toBe(T0 + 30_000);
    decide(b, 'c');
    expect(context().deadlines.size).toBe(0);
    expect(nextDeadlineOf(context())).toBeNull();
    expect(pendingTimers(b.clock)).toBe(0);
  });

  it('BRK-18: a request created with its deadline already reached times out at once, after its own permission-request', () => {
    const b = startTestBroker();
    const answer = b.client.create({ at: b.now(), request: spec('zero', { timeoutMs: 0 }), origin: 'http' });
    expect(answer).toMatchObject({ status: 'created', seq: 1 });
    expect(b.streamEvents().map((event) => [event.type, event.seq])).toEqual([
      ['permission-request', 1],
      ['permission-timeout', 2],
    ]);
    expect(b.actor.getSnapshot().context.deadlines.size).toBe(0);
  });

  it('BRK-12: outcome records carry the whole Outcome and create records what the store needs to restore', () => {
    const b = startTestBroker();
    create(b, 'r1', { origin: 'agent', key: 'k', hash: 'h' });
    b.client.decide({ at: b.now() + 5, requestId: 'r1', decision: 'allow', updatedInput: { command: 'ls' }, message: 'fine', decidedBy: 'rule:7' });
    const records = b.log.flatMap((e) => (e.kind === 'persist' ? [e.record] : []));
    expect(records[0]).toMatchObject({ kind: 'event', request: { origin: 'agent', idempotencyKey: 'k', bodyHash: 'h' } });
    expect(records[1]).toEqual({
      kind: 'event',
      event: {
        type: 'permission-resolved',
        seq: 2,
        requestId: 'r1',
        decision: 'allow',
        updatedInput: { command: 'ls' },
        message: 'fine',
        decidedBy: 'rule:7',
        timestamp: T0 + 5,
      },
      outcome: { status: 'resolved', decision: 'allow', updatedInput: { command: 'ls' }, message: 'fine', decidedBy: 'rule:7', decidedAt: T0 + 5 },
    });
  });

  it('BRK-13: finished requests are remembered up to recentLimit, oldest forgotten first with their keys', () => {
    const b = startTestBroker({ recentLimit: 2 });
    for (const id of ['a', 'b', 'c']) {
      create(b, id, { key: `key-${id}`, hash: 'h' });
      decide(b, id);
    }
    expect(decide(b, 'a').answer).toMatchObject({ code: 'unknown-request' });
    expect(decide(b, 'b').answer).toMatchObject({ code: 'already-resolved' });
    expect(create(b, 'a2', { key: 'key-a', hash: 'h' })).toMatchObject({ status: 'created', id: 'a2' });
    expect(create(b, 'c2', { key: 'key-c', hash: 'h' })).toMatchObject({ status: 'existing', id: 'c' });
    expect(b.actor.getSnapshot().context.recent.size).toBe(2);
  });

  it('BRK-14: events do not copy the bookkeeping: the same Maps throughout, and no children in the snapshot', () => {
    const b = startTestBroker();
    const before = b.actor.getSnapshot().context;
    b.client.connect({ at: b.now(), clientId: 'c1', label: 'alice' });
    for (let i = 0; i < 50; i++) create(b, `r${i}`);
    b.client.markSent({ at: b.now(), upToSeq: 50 });
    b.client.ack({ at: b.now(), clientId: 'c1', seq: 50 });
    for (let i = 0; i < 25; i++) decide(b, `r${i}`, { msg: `m${i}` });
    const after = b.actor.getSnapshot().context;
    for (const key of ['unresolved', 'order', 'idempotency', 'recent', 'clientAnswers', 'clients', 'awaiting'] as const) {
      expect(after[key], key).toBe(before[key]);
    }
    expect(Object.keys(b.actor.getSnapshot().children)).toEqual([]);
    expect(after.awaiting.size).toBe(0);
  });

  it('BRK-15: a stream.append gets the next seq and is persisted before it is emitted', () => {
    const b = startTestBroker();
    create(b, 'r1');
    const seq = b.client.append({
      at: b.now(),
      event: {
        type: 'session-updated',
        session: { id: 's1', title: 't', agent: 'demo', cwd: '/', status: 'running', createdAt: T0, updatedAt: T0 },
        timestamp: T0,
      },
    });
    expect(seq).toBe(2);
    const tail = b.log.slice(-2);
    expect(tail[0]).toMatchObject({ kind: 'persist', record: { kind: 'event', event: { type: 'session-updated', seq: 2 } } });
    expect(tail[1]).toMatchObject({ kind: 'emit', emitted: { type: 'stream.event', event: { type: 'session-updated', seq: 2 } } });
  });

  it('BRK-16: a cancel ends an unresolved request as permission-cancelled with its reason', () => {
    const b = startTestBroker();
    create(b, 'r1', { origin: 'agent' });
    expect(b.client.cancel({ at: b.now() + 3, requestId: 'r1', reason: 'agent-aborted', cancelledBy: 'agent' })).toEqual({
      status: 'cancelled',
      requestId: 'r1',
    });
    expect(outcomeEventsFor(b, 'r1')).toEqual([{ type: 'permission-cancelled', seq: 2, requestId: 'r1', reason: 'agent-aborted', timestamp: T0 + 3 }]);
    expect(b.store.outcomeOf('r1')).toMatchObject({ status: 'cancelled', decision: 'deny', decidedBy: 'agent', reason: 'agent-aborted' });
    expect(b.client.cancel({ at: b.now(), requestId: 'r1', reason: 'again', cancelledBy: 'agent' })).toMatchObject({ code: 'cancelled' });
  });

  it('BRK-3: a brokerClient call made from inside a broker listener throws a clear error instead of answering wrongly', () => {
    const b = startTestBroker();
    let thrown: unknown;
    const subscription = b.actor.on('stream.event', () => {
      subscription.unsubscribe();
      try {
        decide(b, 'r1');
      } catch (error) {
        thrown = error;
      }
    });
    create(b, 'r1');
    expect(String(thrown)).toMatch(/inside a broker listener/);
  });
});

describe('inspection', () => {
  it('BRK-17: an inspector attached to the broker sees every request actor live, with its state changes', () => {
    const seen: { actorId: string; state?: unknown }[] = [];
    const inspect = (event: InspectionEvent) => {
      const actorId = (event.actorRef as { id?: string }).id;
      if (event.type === '@xstate.snapshot' && actorId === 'r1') {
        seen.push({ actorId, state: (event.snapshot as { value?: unknown }).value });
      }
    };
    // The host hands the broker's inspector to its request actors too (broker.types.ts).
    const broker = createActor(brokerMachine, {
      input: { epoch: 'e', headSeq: 0, now: 0, unresolved: [], finished: [], clientAnswers: [], requestActors: { inspect } },
      inspect,
    }).start();
    broker.send({ type: 'request.create', at: 0, origin: 'http', request: spec('r1') });
    broker.send({ type: 'permission.decide', at: 1, requestId: 'r1', decision: 'allow', decidedBy: 'alice' });
    expect(seen.map((entry) => entry.state)).toEqual([{ unresolved: 'pending' }, 'resolved']);
    broker.stop();
  });
});

describe('honest broker (CORE-B)', () => {
  it('CORE-B1: commands answer through their reply, never an emitted event; a command sent from inside a listener is answered when the mailbox reaches it', () => {
    const b = startTestBroker();
    const emittedTypes = new Set<string>();
    b.actor.on('*', (emitted) => emittedTypes.add(emitted.type));
    let nested: unknown;
    let nestedWhenListenerReturned: unknown = 'not yet';
    const subscription = b.actor.on('stream.event', () => {
      subscription.unsubscribe();
      b.actor.send({ type: 'request.create', at: b.now(), request: spec('inner'), origin: 'http', reply: (answer) => (nested = answer) });
      nestedWhenListenerReturned = nested;
    });
    create(b, 'outer');
    // Queued while the broker was busy: no answer inside the listener, the right one after.
    expect(nestedWhenListenerReturned).toBeUndefined();
    expect(nested).toEqual({ status: 'created', id: 'inner', seq: 2, expiresAt: T0 + TIMEOUT });
    decide(b, 'outer');
    b.client.cancel({ at: b.now(), requestId: 'inner', reason: 'x', cancelledBy: 'agent' });
    expect([...emittedTypes].sort()).toEqual(['queue.changed', 'stream.event']);
  });

  it('CORE-B2: restoring -> serving; draining refuses creates but still decides, cancels and times out; stop is final and stops the request actors', () => {
    const b = startTestBroker();
    expect(Object.keys(brokerMachine.states)).toEqual(['restoring', 'serving', 'draining', 'stopped']);
    expect(b.actor.getSnapshot().value).toBe('serving');
    create(b, 'a');
    create(b, 'b', { timeoutMs: 1_000 });
    create(b, 'c');
    b.actor.send({ type: 'broker.drain', at: b.now() });
    expect(b.actor.getSnapshot().value).toBe('draining');
    const head = b.store.headSeq;
    expect(create(b, 'late')).toEqual({ status: 'refused', reason: 'draining', message: expect.stringMatching(/stopping/) });
    expect(b.store.headSeq).toBe(head);
    expect(decide(b, 'a').answer).toEqual({ status: 'accepted', requestId: 'a' });
    b.clock.increment(1_000);
    expect(outcomeEventsFor(b, 'b').map((e) => e.type)).toEqual(['permission-timeout']);
    expect(pendingTimers(b.clock)).toBe(1); // c's deadline
    b.actor.send({ type: 'broker.stop', at: b.now() });
    expect(b.actor.getSnapshot().value).toBe('stopped');
    expect(b.actor.getSnapshot().status).toBe('done');
    expect(pendingTimers(b.clock)).toBe(0);
    expect(outcomeEventsFor(b, 'c')).toEqual([]); // stopping decides nothing: c stays unresolved in the store
  });

  it('CORE-B6: a restored broker creates no request actor until a request is touched; restored requests are shown, keep their delivery state, are decided and time out on their deadline', () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock();
    clock.set(T0);
    const first = startTestBroker({ store, clock });
    for (const id of ['r1', 'r2', 'r3', 'r4']) create(first, id, { timeoutMs: id === 'r4' ? 5_000 : TIMEOUT });
    first.stop();

    clock.increment(1_000);
    const b = startTestBroker({ store, clock });
    const ref = (id: string) => {
      const found = lookupRequest(b.actor.getSnapshot(), id);
      return found?.status === 'pending' ? found.request.ref : 'finished';
    };
    const delivery = (id: string) => {
      const found = lookupRequest(b.actor.getSnapshot(), id);
      return found?.status === 'pending' ? found.delivery : found?.status;
    };
    expect(['r1', 'r2', 'r3', 'r4'].map(ref)).toEqual([undefined, undefined, undefined, undefined]);
    // Shown to clients (the WebSocket snapshot) as they were.
    expect(unresolvedRequestEventsOf(b.actor.getSnapshot()).map((e) => e.id)).toEqual(['r1', 'r2', 'r3', 'r4']);
    // Delivery is kept without an actor...
    b.client.markSent({ at: b.now(), upToSeq: 4 });
    b.client.connect({ at: b.now(), clientId: 'c1', label: 'alice' });
    b.client.ack({ at: b.now(), clientId: 'c1', seq: 1 });
    expect(['r1', 'r2', 'r3', 'r4'].map(delivery)).toEqual(['acked', 'sent', 'sent', 'sent']);
    expect(['r1', 'r2', 'r3', 'r4'].map(ref)).toEqual([undefined, undefined, undefined, undefined]);
    // ... and told to the actor when a decision creates it.
    expect(decide(b, 'r2', { at: b.now() }).answer).toEqual({ status: 'accepted', requestId: 'r2' });
    expect(delivery('r2')).toBe('resolved');
    expect(b.client.cancel({ at: b.now(), requestId: 'r1', reason: 'agent-aborted', cancelledBy: 'agent' })).toEqual({
      status: 'cancelled',
      requestId: 'r1',
    });
    expect(ref('r3')).toBeUndefined();
    // r4 times out at its own deadline (T0 + 5 s), on the broker's clock, with no actor until then.
    clock.increment(5_000 - 1_000 - 1);
    expect(outcomeEventsFor(b, 'r4')).toEqual([]);
    expect(ref('r4')).toBeUndefined();
    clock.increment(1);
    expect(outcomeEventsFor(b, 'r4')).toEqual([{ type: 'permission-timeout', seq: 7, requestId: 'r4', toolName: 'Bash', timestamp: T0 + 5_000 }]);
    // A decision at or after a restored request's deadline is expired, even before its timer.
    expect(decide(b, 'r3', { at: T0 + TIMEOUT }).answer).toMatchObject({ status: 'rejected', code: 'expired' });
    expect(outcomeEventsFor(b, 'r3').map((e) => e.type)).toEqual(['permission-timeout']);
    expect(seqs(store.log)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(pendingTimers(clock)).toBe(0);
  });

  it('CORE-B6: the actor a restored request gets on first touch starts in the delivery state the index kept (seen in the inspector)', () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock();
    clock.set(T0);
    const first = startTestBroker({ store, clock });
    create(first, 'r1');
    first.stop();
    const states: unknown[] = [];
    const inspect = (event: InspectionEvent) => {
      if (event.type === '@xstate.snapshot' && (event.actorRef as { id?: string }).id === 'r1') states.push((event.snapshot as { value?: unknown }).value);
    };
    const machine = brokerMachine.provide({ actions: { persist: (_, record) => store.apply(record) } });
    const b = createActor(machine, { input: { ...store.load(clock.now()), requestActors: { clock, inspect } }, clock, inspect }).start();
    const client = createBrokerClient(b);
    client.connect({ at: clock.now(), clientId: 'c1', label: 'alice' });
    client.ack({ at: clock.now(), clientId: 'c1', seq: 1 });
    expect(states).toEqual([]); // no actor yet
    expect(client.decide({ at: clock.now(), requestId: 'r1', decision: 'allow', decidedBy: 'alice' }).answer).toEqual({ status: 'accepted', requestId: 'r1' });
    expect(states).toEqual([{ unresolved: 'pending' }, { unresolved: 'acked' }, 'resolved']);
    expect(store.outcomeOf('r1')).toMatchObject({ status: 'resolved', decidedBy: 'alice' });
    b.stop();
  });
});

describe('projection of the log (TEAM-10, TEAM-17)', () => {
  it('TEAM-10: a request created and finished in one log.applied batch never gets a running actor, and the batch still folds both events', () => {
    const other = startTestBroker();
    create(other, 'r1');
    decide(other, 'r1');
    const events = other.streamEvents();
    expect(events.map((event) => event.type)).toEqual(['permission-request', 'permission-resolved']);
    const started: string[] = [];
    const inspect = (event: InspectionEvent) => {
      if (event.type === '@xstate.snapshot' && (event.actorRef as { id?: string }).id === 'r1') started.push(JSON.stringify(event.snapshot.status));
    };
    const clock = other.clock;
    const b = createActor(brokerMachine, { input: { ...new MemoryStore().load(clock.now()), requestActors: { clock, inspect } }, clock, inspect }).start();
    b.send({ type: 'log.applied', at: clock.now(), events });
    expect(started).toEqual([]);
    expect(streamHeadOf(b.getSnapshot()).headSeq).toBe(2);
    expect(lookupRequest(b.getSnapshot(), 'r1')).toMatchObject({ status: 'resolved', finished: { outcome: { decision: 'allow' } } });
    b.stop();
  });
  it('TEAM-17: a restored request whose row names another instance times out a grace after its deadline, stamped at the deadline; its own and unnamed ones at the deadline; a decision within the grace is expired', () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock();
    clock.set(T0);
    const first = startTestBroker({ store, clock });
    for (const id of ['mine', 'theirs', 'unnamed', 'theirs-decided']) create(first, id, { timeoutMs: 1_000 });
    first.stop();
    const madeBy: Record<string, string> = { mine: 'B', theirs: 'A', 'theirs-decided': 'A' };
    const b = startTestBroker({
      store,
      clock,
      adjust: (input) => ({
        ...input,
        cluster: { self: 'B', othersGraceMs: 2_000 },
        unresolved: input.unresolved.map((request) => {
          const instance = madeBy[request.id];
          return instance ? { ...request, instance } : request;
        }),
      }),
    });
    expect(nextDeadlineOf(b.actor.getSnapshot())).toBe(T0 + 1_000);
    clock.increment(1_000);
    const timedOut = () => b.streamEvents().flatMap((event) => (event.type === 'permission-timeout' ? [[event.requestId, event.timestamp]] : []));
    expect(timedOut()).toEqual([
      ['mine', T0 + 1_000],
      ['unnamed', T0 + 1_000],
    ]);
    expect(nextDeadlineOf(b.actor.getSnapshot())).toBe(T0 + 3_000);
    clock.increment(1_000);
    expect(decide(b, 'theirs-decided').answer).toMatchObject({ status: 'rejected', code: 'expired' });
    clock.increment(999);
    expect(timedOut()).toHaveLength(3);
    clock.increment(1);
    expect(timedOut()).toEqual([
      ['mine', T0 + 1_000],
      ['unnamed', T0 + 1_000],
      ['theirs-decided', T0 + 1_000],
      ['theirs', T0 + 1_000],
    ]);
    b.stop();
  });
  it('TEAM-17: a request folded from the log is due a grace after its deadline (its maker times it out first); a grace that is not a finite, non-negative number is none', () => {
    const other = startTestBroker();
    create(other, 'r1', { timeoutMs: 1_000 });
    const events = other.streamEvents();
    const clock = other.clock;
    const folded = (othersGraceMs: number) => {
      const b = createActor(brokerMachine, {
        input: { ...new MemoryStore().load(clock.now()), requestActors: { clock }, cluster: { self: 'B', othersGraceMs } },
        clock,
      }).start();
      b.send({ type: 'log.applied', at: clock.now(), events });
      const due = nextDeadlineOf(b.getSnapshot());
      b.stop();
      return due;
    };
    expect(folded(2_000)).toBe(T0 + 1_000 + 2_000);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -5]) expect(folded(bad)).toBe(T0 + 1_000);
  });
});
