import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { assign, createActor, setup, SimulatedClock, type Actor } from 'xstate';
import { createTestModel } from 'xstate/graph';
import type { Outcome } from './broker.types.ts';
import { cancelledMessage } from '../protocol/outcome.ts';
import {
  permissionRequestMachine,
  timeoutMessage,
  type PermissionRequestActorEvent,
  type PermissionRequestInput,
  type RequestFinishedEvent,
} from './permissionRequest.machine.ts';

const T0 = 1_700_000_000_000;

// These tests send events to actors that already finished on purpose; XState's dev build
// warns about each one on the console.
beforeEach(() => {
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  vi.restoreAllMocks();
});
const TIMEOUT = 30_000;

function requestInput(overrides: Partial<PermissionRequestInput> = {}): PermissionRequestInput {
  return {
    id: 'req-1',
    toolName: 'Bash',
    input: { command: 'rm -rf build' },
    context: { sessionId: 's1' },
    timestamp: T0,
    expiresAt: T0 + TIMEOUT,
    ...overrides,
  };
}

/** A parent that runs one request actor and records every `request.finished` it gets. */
const harnessMachine = setup({
  types: {
    input: {} as PermissionRequestInput,
    context: {} as { finished: RequestFinishedEvent[]; input: PermissionRequestInput },
    events: {} as RequestFinishedEvent,
  },
  actors: { request: permissionRequestMachine },
}).createMachine({
  id: 'requestHarness',
  context: ({ input }) => ({ finished: [], input }),
  invoke: { id: 'request', src: 'request', input: ({ context }) => context.input },
  on: {
    'request.finished': { actions: assign({ finished: ({ context, event }) => [...context.finished, event] }) },
  },
});

type Harness = {
  clock: SimulatedClock;
  parent: Actor<typeof harnessMachine>;
  send(event: PermissionRequestActorEvent | { type: string }): void;
  child(): Actor<typeof permissionRequestMachine> | undefined;
  value(): unknown;
  finished(): RequestFinishedEvent[];
  /** The request's output once final, else undefined. */
  output(): Outcome | undefined;
};

function startHarness(input: PermissionRequestInput, clockAt = T0): Harness {
  const clock = new SimulatedClock();
  clock.set(clockAt);
  const parent = createActor(harnessMachine, { input, clock });
  let output: Outcome | undefined;
  let lastValue: unknown;
  parent.start();
  const child = parent.getSnapshot().children.request as Actor<typeof permissionRequestMachine> | undefined;
  const watch = (snapshot: ReturnType<Actor<typeof permissionRequestMachine>['getSnapshot']>) => {
    lastValue = snapshot.value;
    if (snapshot.status === 'done') output = snapshot.output;
  };
  if (child) {
    watch(child.getSnapshot());
    child.subscribe(watch);
  }
  return {
    clock,
    parent,
    send: (event) => child?.send(event as PermissionRequestActorEvent),
    child: () => child,
    value: () => lastValue,
    finished: () => parent.getSnapshot().context.finished,
    output: () => output,
  };
}

/** What the broker tells a request when its clock reaches (or passed) the deadline. */
const deadline = (at: number): PermissionRequestActorEvent => ({ type: 'request.deadline', at });

const decide = (at: number, decision: 'allow' | 'deny' = 'allow', decidedBy = 'alice'): PermissionRequestActorEvent => ({
  type: 'permission.decide',
  at,
  decision,
  decidedBy,
});

describe('permissionRequest (SimulatedClock)', () => {
  it('REQ-1: a request moves pending -> sent -> acked while unresolved, and may be acked straight from pending', () => {
    const h = startHarness(requestInput());
    expect(h.value()).toEqual({ unresolved: 'pending' });
    h.send({ type: 'request.sent', at: T0 });
    expect(h.value()).toEqual({ unresolved: 'sent' });
    h.send({ type: 'request.sent', at: T0 });
    expect(h.value()).toEqual({ unresolved: 'sent' });
    h.send({ type: 'request.acked', at: T0 });
    expect(h.value()).toEqual({ unresolved: 'acked' });
    h.send({ type: 'request.sent', at: T0 });
    expect(h.value()).toEqual({ unresolved: 'acked' });

    const direct = startHarness(requestInput());
    direct.send({ type: 'request.acked', at: T0 });
    expect(direct.value()).toEqual({ unresolved: 'acked' });
  });

  it('REQ-2: a decision is accepted in every unresolved state and the first one wins', () => {
    for (const steps of [[], ['request.sent'], ['request.sent', 'request.acked'], ['request.acked']] as const) {
      const h = startHarness(requestInput());
      for (const type of steps) h.send({ type, at: T0 });
      h.send({ ...decide(T0 + 5, 'allow', 'alice'), updatedInput: { command: 'ls' }, message: 'ok' } as PermissionRequestActorEvent);
      h.send(decide(T0 + 6, 'deny', 'bob'));
      expect(h.value()).toBe('resolved');
      expect(h.output()).toEqual({
        status: 'resolved',
        decision: 'allow',
        updatedInput: { command: 'ls' },
        message: 'ok',
        decidedBy: 'alice',
        decidedAt: T0 + 5,
      });
      expect(h.finished()).toEqual([{ type: 'request.finished', id: 'req-1', outcome: h.output() }]);
    }
  });

  it('REQ-3: told its deadline at exactly expiresAt, the request times out as a deny that says it timed out; told earlier, it waits', () => {
    const h = startHarness(requestInput());
    h.send(deadline(T0 + TIMEOUT - 1));
    expect(h.value()).toEqual({ unresolved: 'pending' });
    expect(h.finished()).toEqual([]);
    h.send(deadline(T0 + TIMEOUT));
    expect(h.value()).toBe('timedOut');
    expect(h.output()).toEqual({
      status: 'timedOut',
      decision: 'deny',
      message: timeoutMessage(T0, T0 + TIMEOUT),
      decidedBy: 'timeout',
      decidedAt: T0 + TIMEOUT,
    });
    expect(h.output()!.message).toMatch(/timed out/i);
    expect(h.finished()).toHaveLength(1);
  });

  it('REQ-3: the actor arms no timer of its own; told late, it still times out at expiresAt; sent/acked change nothing', () => {
    const h = startHarness(requestInput());
    h.send({ type: 'request.sent', at: T0 + TIMEOUT / 2 });
    h.send({ type: 'request.acked', at: T0 + TIMEOUT / 2 });
    h.clock.increment(TIMEOUT * 2);
    expect(h.value()).toEqual({ unresolved: 'acked' });
    h.send(deadline(T0 + TIMEOUT * 2));
    expect(h.value()).toBe('timedOut');
    expect(h.output()).toMatchObject({ status: 'timedOut', decidedAt: T0 + TIMEOUT });
  });

  it('REQ-3: a deadline that is not a number (a corrupt row) has passed: told it, the request times out', () => {
    const h = startHarness(requestInput({ expiresAt: Number.NaN }));
    h.send(deadline(T0));
    expect(h.value()).toBe('timedOut');
    expect(h.output()).toMatchObject({ status: 'timedOut', decision: 'deny', decidedBy: 'timeout' });
  });

  it('REQ-5: a decision at or after expiresAt is never accepted: the request times out instead', () => {
    for (const at of [T0 + TIMEOUT, T0 + TIMEOUT + 1]) {
      const h = startHarness(requestInput());
      h.send({ type: 'request.acked', at: T0 });
      // The timer has not fired yet (the clock still reads T0): the event's own time counts.
      h.send(decide(at));
      expect(h.value()).toBe('timedOut');
      expect(h.output()).toMatchObject({ status: 'timedOut', decision: 'deny', decidedBy: 'timeout', decidedAt: T0 + TIMEOUT });
      h.send(deadline(T0 + TIMEOUT));
      expect(h.finished()).toHaveLength(1);
    }
    const inTime = startHarness(requestInput());
    inTime.send(decide(T0 + TIMEOUT - 1));
    expect(inTime.output()).toMatchObject({ status: 'resolved', decidedAt: T0 + TIMEOUT - 1 });
  });

  it('REQ-6: a cancel ends the request as a deny that carries the reason; after the deadline it is a timeout', () => {
    const h = startHarness(requestInput());
    h.send({ type: 'request.sent', at: T0 });
    h.send({ type: 'request.cancel', at: T0 + 7, reason: 'agent-aborted', cancelledBy: 'agent' });
    expect(h.value()).toBe('cancelled');
    expect(h.output()).toEqual({
      status: 'cancelled',
      decision: 'deny',
      message: cancelledMessage('agent-aborted'),
      decidedBy: 'agent',
      decidedAt: T0 + 7,
      reason: 'agent-aborted',
    });
    h.send(decide(T0 + 8));
    expect(h.output()!.status).toBe('cancelled');
    expect(h.finished()).toHaveLength(1);

    const late = startHarness(requestInput());
    late.send({ type: 'request.cancel', at: T0 + TIMEOUT, reason: 'agent-aborted', cancelledBy: 'agent' });
    expect(late.value()).toBe('timedOut');
  });

  it('REQ-7: late, duplicate and unknown events change nothing and the parent hears exactly one outcome', () => {
    const h = startHarness(requestInput());
    h.send({ type: 'no.such.event' });
    h.send({ type: 'request.sent', at: T0 });
    h.send({ type: 'no.such.event' });
    expect(h.value()).toEqual({ unresolved: 'sent' });
    h.send(decide(T0 + 1, 'deny', 'bob'));
    const outcome = h.output();
    for (const event of [
      decide(T0 + 2, 'allow', 'alice'),
      decide(T0 + TIMEOUT + 5, 'allow', 'late'),
      { type: 'request.cancel', at: T0 + 3, reason: 'x', cancelledBy: 'agent' },
      { type: 'request.acked', at: T0 + 3 },
      deadline(T0 + TIMEOUT * 2),
      { type: 'no.such.event' },
    ]) {
      h.send(event);
    }
    expect(h.value()).toBe('resolved');
    expect(h.output()).toEqual(outcome);
    expect(h.finished()).toEqual([{ type: 'request.finished', id: 'req-1', outcome }]);
  });
});

// ---- model-based (xstate/graph) ------------------------------------------------------
// The model is a separate, small statechart of the rules (createTestModel refuses
// machines with delayed transitions, and a model written apart from the machine is the
// better oracle anyway). The deadline is an ordinary model event; on the real actor it is
// the broker's `request.deadline` at expiresAt. Vertices remember the last event, so shortest
// paths to them include duplicate, late and unknown events after every state.

const modelMachine = setup({
  types: {
    events: {} as
      | { type: 'sent' }
      | { type: 'acked' }
      | { type: 'allow' }
      | { type: 'deny' }
      | { type: 'lateDecide' }
      | { type: 'cancel' }
      | { type: 'lateCancel' }
      | { type: 'unknown' }
      | { type: 'deadline' },
  },
}).createMachine({
  id: 'permissionRequestModel',
  initial: 'pending',
  states: {
    pending: {
      on: {
        sent: 'sent',
        acked: 'acked',
        allow: 'resolvedAllow',
        deny: 'resolvedDeny',
        cancel: 'cancelled',
        lateDecide: 'timedOut',
        lateCancel: 'timedOut',
        deadline: 'timedOut',
      },
    },
    sent: {
      on: {
        acked: 'acked',
        allow: 'resolvedAllow',
        deny: 'resolvedDeny',
        cancel: 'cancelled',
        lateDecide: 'timedOut',
        lateCancel: 'timedOut',
        deadline: 'timedOut',
      },
    },
    acked: {
      on: { allow: 'resolvedAllow', deny: 'resolvedDeny', cancel: 'cancelled', lateDecide: 'timedOut', lateCancel: 'timedOut', deadline: 'timedOut' },
    },
    resolvedAllow: { type: 'final' },
    resolvedDeny: { type: 'final' },
    timedOut: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

type ModelState = 'pending' | 'sent' | 'acked' | 'resolvedAllow' | 'resolvedDeny' | 'timedOut' | 'cancelled';

/** What the real actor must show in each model state. */
const expectations: Record<ModelState, { value: unknown; outcome?: Partial<Outcome> }> = {
  pending: { value: { unresolved: 'pending' } },
  sent: { value: { unresolved: 'sent' } },
  acked: { value: { unresolved: 'acked' } },
  resolvedAllow: { value: 'resolved', outcome: { status: 'resolved', decision: 'allow', decidedBy: 'alice', decidedAt: T0 + 10 } },
  resolvedDeny: { value: 'resolved', outcome: { status: 'resolved', decision: 'deny', decidedBy: 'bob', decidedAt: T0 + 20 } },
  timedOut: { value: 'timedOut', outcome: { status: 'timedOut', decision: 'deny', decidedBy: 'timeout', decidedAt: T0 + TIMEOUT } },
  cancelled: { value: 'cancelled', outcome: { status: 'cancelled', decision: 'deny', decidedBy: 'agent', reason: 'agent-aborted' } },
};

/** How each model event is done to the real actor. */
function exec(h: Harness, type: string): void {
  switch (type) {
    case 'sent':
      return h.send({ type: 'request.sent', at: T0 });
    case 'acked':
      return h.send({ type: 'request.acked', at: T0 });
    case 'allow':
      return h.send(decide(T0 + 10, 'allow', 'alice'));
    case 'deny':
      return h.send(decide(T0 + 20, 'deny', 'bob'));
    case 'lateDecide':
      return h.send(decide(T0 + TIMEOUT + 1, 'allow', 'late'));
    case 'cancel':
      return h.send({ type: 'request.cancel', at: T0 + 30, reason: 'agent-aborted', cancelledBy: 'agent' });
    case 'lateCancel':
      return h.send({ type: 'request.cancel', at: T0 + TIMEOUT, reason: 'agent-aborted', cancelledBy: 'agent' });
    case 'unknown':
      return h.send({ type: 'no.such.event' });
    case 'deadline':
      return h.send(deadline(T0 + TIMEOUT));
    default:
      throw new Error(`no executor for ${type}`);
  }
}

function check(h: Harness, state: ModelState, description: string): void {
  const expected = expectations[state];
  expect(h.value(), description).toEqual(expected.value);
  if (expected.outcome) {
    expect(h.output(), description).toMatchObject(expected.outcome);
    expect(h.finished(), description).toEqual([{ type: 'request.finished', id: 'req-1', outcome: h.output() }]);
  } else {
    expect(h.output(), description).toBeUndefined();
    expect(h.finished(), description).toEqual([]);
  }
}

describe('permissionRequest (model-based, xstate/graph)', () => {
  const allEvents = ['sent', 'acked', 'allow', 'deny', 'lateDecide', 'cancel', 'lateCancel', 'unknown', 'deadline'].map(
    (type) => ({ type }) as { type: 'sent' },
  );
  const model = createTestModel(modelMachine, {
    events: allEvents,
    serializeState: (snapshot, event) => `${String(snapshot.value)}|${event?.type ?? 'start'}`,
  });
  // `createTestModel` offers each state only the events it handles; passing the events
  // here offers every event everywhere (unknown ones, and any after a final state).
  const ev = (type: string) => ({ type }) as { type: 'sent' };
  const paths = [
    ...model.getShortestPaths({ events: allEvents, allowDuplicatePaths: true }),
    // Longer scripted paths: the same decision twice, and a pile-up after the deadline.
    ...model.getPathsFromEvents([ev('sent'), ev('acked'), ev('allow'), ev('allow'), ev('lateDecide'), ev('deadline'), ev('unknown')], { events: allEvents }),
    ...model.getPathsFromEvents([ev('unknown'), ev('sent'), ev('sent'), ev('deadline'), ev('deny'), ev('cancel'), ev('deadline')], { events: allEvents }),
    ...model.getPathsFromEvents([ev('acked'), ev('sent'), ev('lateCancel'), ev('allow')], { events: allEvents }),
    ...model.getPathsFromEvents([ev('sent'), ev('deadline'), ev('lateDecide'), ev('allow'), ev('lateCancel')], { events: allEvents }),
  ];
  const stepsOf = (path: (typeof paths)[number]) => path.steps.filter((step) => (step.event.type as string) !== 'xstate.init');
  const labels = paths.map((path) => stepsOf(path).map((step) => step.event.type as string));

  it('REQ-7: the generated paths include duplicate, late and unknown events, in and after every state', () => {
    expect(paths.length).toBeGreaterThan(35);
    const has = (pred: (l: string[]) => boolean) => expect(labels.some(pred)).toBe(true);
    has((l) => l.length >= 2 && l[l.length - 2] === 'allow' && l[l.length - 1] === 'deny'); // duplicate decision
    has((l) => l.join().includes('allow,allow')); // the same decision twice
    has((l) => l.length === 1 && l[0] === 'lateDecide'); // late, before the timer fired
    has((l) => l.includes('deadline') && l.indexOf('lateDecide') > l.indexOf('deadline')); // late, after the timeout
    has((l) => l.includes('cancel') && l[l.length - 1] === 'allow'); // decision after a cancel
    has((l) => l.length === 1 && l[0] === 'unknown'); // unknown while unresolved
    has((l) => l.includes('deny') && l[l.length - 1] === 'unknown'); // unknown when final
  });

  it('REQ-2/REQ-5/REQ-7: on every path the real actor is in the model state after every step, and reports once', () => {
    for (const path of paths) {
      const h = startHarness(requestInput());
      const description =
        stepsOf(path)
          .map((step) => step.event.type)
          .join(' -> ') || '(start)';
      check(h, 'pending', description);
      for (const step of stepsOf(path)) {
        exec(h, step.event.type);
        check(h, step.state.value as ModelState, description);
      }
      // Nothing that comes later changes a final outcome, and an open one can only time out.
      const final = path.state.status === 'done';
      h.send(deadline(T0 + 2 * TIMEOUT));
      check(h, final ? (path.state.value as ModelState) : 'timedOut', `${description} -> (much later)`);
    }
  });
});
