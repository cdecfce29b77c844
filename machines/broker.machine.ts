/**
 * The broker: the parent of every permissionRequest actor and the owner of the sequenced
 * stream (architecture.md). The interface with the host is `broker.types.ts`.
 *
 * It owns:
 * - the stream: `epoch` and `headSeq`; every sequenced event gets `seq = headSeq + 1`,
 *   is handed to the named action `persist` (bound by the host with `.provide()`), and
 *   only then emitted as `stream.event` (XState runs custom actions while it resolves
 *   a transition and delivers `emit`s after it, so within one step every persist comes
 *   before every emit, each in stream order);
 * - one child actor per unresolved request, routed to by id only when the id is known;
 * - idempotency keys, a bounded window of recently finished requests (for late and
 *   duplicate answers), bounded `clientMsgId` answers, and connected clients with the
 *   highest seq each acknowledged, from which the queue status is kept.
 *
 * Answers (`create.answer`, `decision.answer`, `cancel.answer`) are emitted before
 * `actor.send()` returns: a decision is forwarded to the child, whose `request.finished`
 * reaches this actor's mailbox while the host's `send` is still being processed.
 *
 * Why the context is mutated in place: every handler below changes its Maps inside an
 * `assign` and returns the same Map references. Copying them (or the children) on each
 * event would make every event cost O(number waiting); the issue forbids that. Old
 * snapshots therefore share these Maps: read a snapshot's Maps only right away.
 *
 * Why the children are not `spawn`ed: XState 5.33 copies `snapshot.children` on every
 * spawn and stop (`{ ...children }`), and on each actor's stop iterates every delayed
 * event of its system (`scheduler.cancelAll`), so with the children in the broker's
 * snapshot and system one spawn + finish grew from ~3 ms with 1,000 waiting to ~15 ms
 * with 10,000 (measured here, 2 cores under load). Each child is therefore created with
 * `createActor` (id = request id) in a system of its own, on the broker's clock (a
 * SimulatedClock in tests), and reports to the broker through `notifyParent`, bound here
 * to `sendTo(broker)`. The broker stops its live children when it stops (not when it
 * fails: a host whose broker errors should exit). Children do not appear in the
 * broker's inspector.
 */
import { assign, createActor, enqueueActions, sendTo, setup, type Actor, type AnyActorRef } from 'xstate';
import type {
  OutcomeEvent,
  PermissionCancelledEvent,
  PermissionRequestEvent,
  PermissionResolvedEvent,
  PermissionTimeoutEvent,
  SequencedEvent,
} from '../protocol/index.ts';
import { refusalMessage } from '../protocol/outcome.ts';
import type {
  BrokerEmitted,
  BrokerEvent,
  BrokerInput,
  CancelAnswer,
  ClientAnswerRecord,
  CreateAnswer,
  DecisionAnswer,
  FinishedRequest,
  Outcome,
  PersistRecord,
  RequestOrigin,
} from './broker.types.ts';
import { permissionRequestMachine, type PermissionRequestActorEvent, type RequestFinishedEvent } from './permissionRequest.machine.ts';
import { BoundedWindow, SeqIndex } from './seqIndex.ts';

export const DEFAULT_RECENT_LIMIT = 10_000;

export type PermissionRequestLogic = typeof permissionRequestMachine;
export type PermissionRequestActor = Actor<PermissionRequestLogic>;

/** Every event the broker handles: the host's, plus its children's reports. */
export type BrokerMachineEvent = BrokerEvent | RequestFinishedEvent;

type DecideEvent = Extract<BrokerEvent, { type: 'permission.decide' }>;
type CancelEvent = Extract<BrokerEvent, { type: 'request.cancel' }>;

/** An unresolved request: its `permission-request` event (with its seq), its actor. */
export type UnresolvedRequest = {
  readonly seq: number;
  live: boolean;
  readonly event: PermissionRequestEvent;
  readonly origin: RequestOrigin;
  readonly idempotencyKey?: string;
  readonly bodyHash?: string;
  readonly ref: PermissionRequestActor;
};

/** A decide or cancel forwarded to a child, waiting for the child's outcome. */
type Verdict = { kind: 'decide'; event: DecideEvent } | { kind: 'cancel'; event: CancelEvent };

/** Effects gathered by a handler and carried out, in order, by the `flush` action. */
type Effect =
  | { kind: 'persist'; record: PersistRecord }
  | { kind: 'emit'; event: BrokerEmitted }
  | { kind: 'send'; to: PermissionRequestActor; event: PermissionRequestActorEvent }
  | { kind: 'start'; child: PermissionRequestActor };

export type ConnectedClient = { label: string; ackedSeq: number };

export type BrokerContext = {
  epoch: string;
  headSeq: number;
  /** Unresolved requests by id, in seq order. */
  unresolved: Map<string, UnresolvedRequest>;
  /** The same requests in seq order, with the sent/acked/held watermarks. */
  order: SeqIndex<UnresolvedRequest>;
  /** Idempotency key -> the request it created. */
  idempotency: Map<string, { id: string; bodyHash?: string }>;
  recent: BoundedWindow<FinishedRequest>;
  clientAnswers: BoundedWindow<ClientAnswerRecord>;
  clients: Map<string, ConnectedClient>;
  awaiting: Map<string, Verdict[]>;
  /** Filled by a handler, drained by `flush` in the same step. */
  outbox: Effect[];
  /** The child logic, with `notifyParent` bound to this broker. */
  childLogic: PermissionRequestLogic;
  /** The broker's own `clock` and `inspect` options, passed on to every child. */
  childOptions: { clock?: never; inspect?: never };
};

// ---- pure helpers -----------------------------------------------------------------

function rejection(requestId: string, outcome: Outcome): Extract<DecisionAnswer, { status: 'rejected' }> {
  switch (outcome.status) {
    case 'resolved':
      return {
        status: 'rejected',
        requestId,
        code: 'already-resolved',
        message: refusalMessage(requestId, { status: 'resolved', decision: outcome.decision, decidedBy: outcome.decidedBy }),
        decision: outcome.decision,
      };
    case 'timedOut':
      return {
        status: 'rejected',
        requestId,
        code: 'expired',
        message: refusalMessage(requestId, { status: 'timedOut' }),
      };
    case 'cancelled':
      return {
        status: 'rejected',
        requestId,
        code: 'cancelled',
        message: refusalMessage(requestId, { status: 'cancelled', reason: outcome.reason }),
      };
    default: {
      const never: never = outcome.status;
      throw new Error(`unknown outcome status ${String(never)}`);
    }
  }
}

function unknownRequest(requestId: string): Extract<DecisionAnswer, { status: 'rejected' }> {
  return { status: 'rejected', requestId, code: 'unknown-request', message: `No request with id ${requestId} is known.` };
}

/** The answer to a decide or cancel for a request that is not unresolved. */
function rejectionFor(context: BrokerContext, requestId: string): Extract<DecisionAnswer, { status: 'rejected' }> {
  const finished = context.recent.get(requestId);
  return finished ? rejection(requestId, finished.outcome) : unknownRequest(requestId);
}

function outcomeEvent(seq: number, request: UnresolvedRequest, outcome: Outcome): OutcomeEvent {
  const requestId = request.event.id;
  switch (outcome.status) {
    case 'resolved': {
      const event: PermissionResolvedEvent = {
        type: 'permission-resolved',
        seq,
        requestId,
        decision: outcome.decision,
        decidedBy: outcome.decidedBy,
        timestamp: outcome.decidedAt,
      };
      if (outcome.updatedInput !== undefined) event.updatedInput = outcome.updatedInput;
      if (outcome.message !== undefined) event.message = outcome.message;
      return event;
    }
    case 'timedOut':
      return {
        type: 'permission-timeout',
        seq,
        requestId,
        toolName: request.event.toolName,
        timestamp: outcome.decidedAt,
      } satisfies PermissionTimeoutEvent;
    case 'cancelled':
      return {
        type: 'permission-cancelled',
        seq,
        requestId,
        reason: outcome.reason ?? outcome.message ?? 'cancelled',
        timestamp: outcome.decidedAt,
      } satisfies PermissionCancelledEvent;
    default: {
      const never: never = outcome.status;
      throw new Error(`unknown outcome status ${String(never)}`);
    }
  }
}

/** Did this forwarded verdict cause the outcome? (The first one forwarded does, unless
 *  the deadline got there first.) */
function verdictWon(verdict: Verdict, outcome: Outcome): boolean {
  if (verdict.kind === 'decide') {
    return outcome.status === 'resolved' && outcome.decidedAt === verdict.event.at && outcome.decidedBy === verdict.event.decidedBy;
  }
  return outcome.status === 'cancelled' && outcome.decidedAt === verdict.event.at && outcome.reason === verdict.event.reason;
}

function queueKey(context: BrokerContext): number {
  // pending and processing both fit well below 2^26.
  return context.unresolved.size * 67_108_864 + context.order.processing;
}

function pushQueueChanged(context: BrokerContext, before: number): void {
  if (queueKey(context) !== before) context.outbox.push({ kind: 'emit', event: { type: 'queue.changed' } });
}

/** Create (not start) a child on the broker's clock, in a system of its own. */
function createChild(context: BrokerContext, request: PermissionRequestEvent, startedAt: number): PermissionRequestActor {
  const input = {
    id: request.id,
    toolName: request.toolName,
    input: request.input,
    context: request.context,
    timestamp: request.timestamp,
    expiresAt: request.expiresAt,
    startedAt,
  };
  // The broker's clock (a SimulatedClock in tests) and its inspector: a child in a system
  // of its own still shows up, live, in the Stately inspector the broker reports to.
  return createActor(context.childLogic, { id: request.id, input, ...context.childOptions });
}

function remember(context: BrokerContext, request: UnresolvedRequest): void {
  context.unresolved.set(request.event.id, request);
  context.order.push(request);
  if (request.idempotencyKey !== undefined) {
    context.idempotency.set(request.idempotencyKey, { id: request.event.id, ...(request.bodyHash !== undefined ? { bodyHash: request.bodyHash } : {}) });
  }
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function childOptionsOf(self: AnyActorRef): BrokerContext['childOptions'] {
  const actor = self as unknown as { clock?: never; options?: { inspect?: never } };
  const options: BrokerContext['childOptions'] = {};
  if (actor.clock) options.clock = actor.clock;
  if (actor.options?.inspect) options.inspect = actor.options.inspect;
  return options;
}

/** Build the context from the input: a new stream, or what the store kept. */
function initialContext(input: BrokerInput, self: AnyActorRef): BrokerContext {
  const recentLimit = isNonNegativeInteger(input.recentLimit) && input.recentLimit > 0 ? input.recentLimit : DEFAULT_RECENT_LIMIT;
  const idempotency = new Map<string, { id: string; bodyHash?: string }>();
  const childLogic = permissionRequestMachine.provide({
    actions: {
      notifyParent: sendTo(self, ({ context }) => ({
        type: 'request.finished' as const,
        id: context.request.id,
        outcome: context.outcome!,
      })),
    },
  });
  const context: BrokerContext = {
    epoch: input.epoch,
    headSeq: isNonNegativeInteger(input.headSeq) ? input.headSeq : 0,
    unresolved: new Map(),
    order: new SeqIndex(),
    idempotency,
    recent: new BoundedWindow<FinishedRequest>(recentLimit, (id, finished) => {
      const key = finished.idempotencyKey;
      if (key !== undefined && idempotency.get(key)?.id === id) idempotency.delete(key);
    }),
    clientAnswers: new BoundedWindow<ClientAnswerRecord>(recentLimit),
    clients: new Map(),
    awaiting: new Map(),
    outbox: [],
    childLogic,
    childOptions: childOptionsOf(self),
  };
  for (const finished of input.finished ?? []) {
    if (context.recent.has(finished.id)) continue;
    context.recent.set(finished.id, finished);
    if (finished.idempotencyKey !== undefined) {
      idempotency.set(finished.idempotencyKey, { id: finished.id, ...(finished.bodyHash !== undefined ? { bodyHash: finished.bodyHash } : {}) });
    }
  }
  for (const record of input.clientAnswers ?? []) context.clientAnswers.set(record.clientMsgId, record);

  // Restore the unresolved ones in seq order; their deadlines run from `now`.
  const stored = [...(input.unresolved ?? [])].sort((a, b) => a.seq - b.seq);
  for (const request of stored) {
    if (context.unresolved.has(request.id) || context.recent.has(request.id)) continue;
    if (request.seq > context.headSeq) context.headSeq = request.seq;
    const event: PermissionRequestEvent = {
      type: 'permission-request',
      seq: request.seq,
      id: request.id,
      toolName: request.toolName,
      input: request.input,
      context: request.context,
      timestamp: request.timestamp,
      expiresAt: request.expiresAt,
    };
    const ref = createChild(context, event, input.now);
    remember(context, {
      seq: request.seq,
      live: true,
      event,
      origin: request.origin,
      ...(request.idempotencyKey !== undefined ? { idempotencyKey: request.idempotencyKey } : {}),
      ...(request.bodyHash !== undefined ? { bodyHash: request.bodyHash } : {}),
      ref,
    });
    context.outbox.push({ kind: 'start', child: ref });
  }
  context.outbox.push({ kind: 'emit', event: { type: 'queue.changed' } });

  // The children live outside this actor's system: stop them with it.
  self.subscribe({
    complete: () => {
      for (const request of context.unresolved.values()) request.ref.stop();
    },
  });
  return context;
}

// ---- the machine -------------------------------------------------------------------

type NamedActionParams = { persist: PersistRecord; startRequest: { child: PermissionRequestActor } };
function named<K extends keyof NamedActionParams>(type: K, params: NamedActionParams[K]): never {
  return { type, params } as never;
}

export const brokerMachine = setup({
  types: {
    input: {} as BrokerInput,
    context: {} as BrokerContext,
    events: {} as BrokerMachineEvent,
    emitted: {} as BrokerEmitted,
  },
  guards: {
    hasClientAnswer: ({ context, event }) =>
      event.type === 'permission.decide' && event.clientMsgId !== undefined && context.clientAnswers.has(event.clientMsgId),
    isUnresolved: ({ context, event }) => (event.type === 'permission.decide' || event.type === 'request.cancel') && context.unresolved.has(event.requestId),
  },
  actions: {
    /** The host's persistence effect: called with each record, in order, before the
     *  event is emitted. Must not throw (a throw stops the broker with an error). */
    persist: (_, _record: PersistRecord) => {},

    /** Hand the gathered effects to XState, in order. */
    flush: enqueueActions(({ context, enqueue }) => {
      const effects = context.outbox;
      for (const effect of effects) {
        switch (effect.kind) {
          case 'persist':
            // XState's types do not see the sibling named actions from inside `setup`;
            // `named` keeps the params checked.
            enqueue(named('persist', effect.record));
            break;
          case 'emit':
            enqueue.emit(effect.event);
            break;
          case 'send':
            enqueue.sendTo(effect.to, effect.event);
            break;
          case 'start':
            enqueue(named('startRequest', { child: effect.child }));
            break;
          default: {
            const never: never = effect;
            throw new Error(`unknown effect ${JSON.stringify(never)}`);
          }
        }
      }
      effects.length = 0;
    }),

    startRequest: (_, params: { child: PermissionRequestActor }) => {
      params.child.start();
    },

    createRequest: assign(({ context, event }) => {
      if (event.type !== 'request.create') return {};
      const out = context.outbox;
      const spec = event.request;
      const answer = (a: CreateAnswer) => out.push({ kind: 'emit', event: { type: 'create.answer', ref: event.ref, answer: a } });

      if (event.idempotencyKey !== undefined) {
        const seen = context.idempotency.get(event.idempotencyKey);
        if (seen) {
          const live = context.unresolved.get(seen.id);
          const finished = live ? undefined : context.recent.get(seen.id);
          if (seen.bodyHash === event.bodyHash && (live || finished)) {
            answer(
              live
                ? { status: 'existing', id: seen.id, seq: live.seq, expiresAt: live.event.expiresAt }
                : { status: 'existing', id: seen.id, seq: finished!.seq, expiresAt: finished!.expiresAt ?? finished!.outcome.decidedAt },
            );
          } else {
            answer({ status: 'conflict', id: seen.id });
          }
          return {};
        }
      }
      // A host bug (ids are the host's UUIDs), refused rather than corrupting the stream.
      if (context.unresolved.has(spec.id) || context.recent.has(spec.id)) {
        answer({ status: 'conflict', id: spec.id });
        return {};
      }

      const before = queueKey(context);
      const seq = context.headSeq + 1;
      // Parsed at the edge (100 ms to 24 h); a broken value must still give a finite deadline.
      const timeoutMs = Number.isFinite(spec.timeoutMs) && spec.timeoutMs > 0 ? spec.timeoutMs : 0;
      const requestEvent: PermissionRequestEvent = {
        type: 'permission-request',
        seq,
        id: spec.id,
        toolName: spec.toolName,
        input: spec.input,
        context: spec.context,
        timestamp: event.at,
        expiresAt: event.at + timeoutMs,
      };
      const ref = createChild(context, requestEvent, event.at);
      const meta: { origin: RequestOrigin; idempotencyKey?: string; bodyHash?: string } = { origin: event.origin };
      if (event.idempotencyKey !== undefined) meta.idempotencyKey = event.idempotencyKey;
      if (event.bodyHash !== undefined) meta.bodyHash = event.bodyHash;
      remember(context, { seq, live: true, event: requestEvent, ...meta, ref });

      out.push({ kind: 'persist', record: { kind: 'event', event: requestEvent, request: meta } });
      out.push({ kind: 'emit', event: { type: 'stream.event', event: requestEvent } });
      answer({ status: 'created', id: spec.id, seq, expiresAt: requestEvent.expiresAt });
      pushQueueChanged(context, before);
      // Started last: one whose deadline is already behind it finishes at once, and its
      // report must follow its own `permission-request`.
      out.push({ kind: 'start', child: ref });
      return { headSeq: seq };
    }),

    /** A decision or cancel for an unresolved request: its child decides the outcome. */
    forwardToRequest: assign(({ context, event }) => {
      if (event.type !== 'permission.decide' && event.type !== 'request.cancel') return {};
      const request = context.unresolved.get(event.requestId)!;
      const verdict: Verdict = event.type === 'permission.decide' ? { kind: 'decide', event } : { kind: 'cancel', event };
      const waiting = context.awaiting.get(event.requestId);
      if (waiting) waiting.push(verdict);
      else context.awaiting.set(event.requestId, [verdict]);
      context.outbox.push({ kind: 'send', to: request.ref, event });
      return {};
    }),

    replayDecisionAnswer: assign(({ context, event }) => {
      if (event.type !== 'permission.decide' || event.clientMsgId === undefined) return {};
      const record = context.clientAnswers.get(event.clientMsgId)!;
      context.outbox.push({
        kind: 'emit',
        event: { type: 'decision.answer', ref: event.ref, clientMsgId: event.clientMsgId, answer: record.answer, replayed: true },
      });
      return {};
    }),

    rejectDecision: assign(({ context, event }) => {
      if (event.type !== 'permission.decide') return {};
      answerDecision(context, event, rejectionFor(context, event.requestId));
      return {};
    }),

    rejectCancel: assign(({ context, event }) => {
      if (event.type !== 'request.cancel') return {};
      context.outbox.push({
        kind: 'emit',
        event: { type: 'cancel.answer', ref: event.ref, answer: rejectionFor(context, event.requestId) },
      });
      return {};
    }),

    finishRequest: assign(({ context, event }) => {
      if (event.type !== 'request.finished') return {};
      const request = context.unresolved.get(event.id);
      if (!request) return {}; // reported twice, or by a stranger: the first report counted
      const out = context.outbox;
      const before = queueKey(context);
      const outcome = event.outcome;
      const seq = context.headSeq + 1;
      const streamEvent = outcomeEvent(seq, request, outcome);

      context.unresolved.delete(event.id);
      context.order.finish(request);
      const finished: FinishedRequest = {
        id: event.id,
        toolName: request.event.toolName,
        seq: request.seq,
        outcome,
        expiresAt: request.event.expiresAt,
      };
      if (request.idempotencyKey !== undefined) finished.idempotencyKey = request.idempotencyKey;
      if (request.bodyHash !== undefined) finished.bodyHash = request.bodyHash;
      context.recent.set(event.id, finished);

      out.push({ kind: 'persist', record: { kind: 'event', event: streamEvent, outcome } });
      out.push({ kind: 'emit', event: { type: 'stream.event', event: streamEvent } });

      const verdicts = context.awaiting.get(event.id);
      if (verdicts) {
        context.awaiting.delete(event.id);
        for (const [i, verdict] of verdicts.entries()) {
          const won = i === 0 && verdictWon(verdict, outcome);
          if (verdict.kind === 'decide') {
            answerDecision(context, verdict.event, won ? { status: 'accepted', requestId: event.id } : rejection(event.id, outcome));
          } else {
            const answer: CancelAnswer = won ? { status: 'cancelled', requestId: event.id } : rejection(event.id, outcome);
            out.push({ kind: 'emit', event: { type: 'cancel.answer', ref: verdict.event.ref, answer } });
          }
        }
      }
      pushQueueChanged(context, before);
      return { headSeq: seq };
    }),

    markSent: assign(({ context, event }) => {
      if (event.type !== 'request.sent') return {};
      const at = event.at;
      context.order.markSent(event.upToSeq, (request) => {
        context.outbox.push({ kind: 'send', to: request.ref, event: { type: 'request.sent', at } });
      });
      return {};
    }),

    recordAck: assign(({ context, event }) => {
      if (event.type !== 'client.ack') return {};
      const client = context.clients.get(event.clientId);
      // Acks only count from connected clients, and never beyond the head.
      if (!client || !(event.seq >= 0)) return {};
      const seq = Math.min(Math.floor(event.seq), context.headSeq);
      if (seq <= client.ackedSeq) return {};
      const before = queueKey(context);
      client.ackedSeq = seq;
      const at = event.at;
      context.order.markAcked(seq, (request) => {
        context.outbox.push({ kind: 'send', to: request.ref, event: { type: 'request.acked', at } });
      });
      if (seq > context.order.holdSeq) context.order.setHoldSeq(seq);
      pushQueueChanged(context, before);
      return {};
    }),

    connectClient: assign(({ context, event }) => {
      if (event.type !== 'client.connect') return {};
      const client = context.clients.get(event.clientId);
      if (client) client.label = event.label;
      else context.clients.set(event.clientId, { label: event.label, ackedSeq: 0 });
      return {};
    }),

    disconnectClient: assign(({ context, event }) => {
      if (event.type !== 'client.disconnect') return {};
      const client = context.clients.get(event.clientId);
      if (!client) return {};
      context.clients.delete(event.clientId);
      if (client.ackedSeq >= context.order.holdSeq && client.ackedSeq > 0) {
        const before = queueKey(context);
        let hold = 0;
        for (const other of context.clients.values()) if (other.ackedSeq > hold) hold = other.ackedSeq;
        context.order.setHoldSeq(hold);
        pushQueueChanged(context, before);
      }
      return {};
    }),

    appendEvent: assign(({ context, event }) => {
      if (event.type !== 'stream.append') return {};
      const seq = context.headSeq + 1;
      const streamEvent = { ...event.event, seq } as SequencedEvent;
      context.outbox.push({ kind: 'persist', record: { kind: 'event', event: streamEvent } });
      context.outbox.push({ kind: 'emit', event: { type: 'stream.event', event: streamEvent } });
      return { headSeq: seq };
    }),
  },
}).createMachine({
  id: 'broker',
  context: ({ input, self }) => initialContext(input, self),
  entry: 'flush',
  on: {
    'request.create': { actions: ['createRequest', 'flush'] },
    'permission.decide': [
      { guard: 'hasClientAnswer', actions: ['replayDecisionAnswer', 'flush'] },
      { guard: 'isUnresolved', actions: ['forwardToRequest', 'flush'] },
      { actions: ['rejectDecision', 'flush'] },
    ],
    'request.cancel': [{ guard: 'isUnresolved', actions: ['forwardToRequest', 'flush'] }, { actions: ['rejectCancel', 'flush'] }],
    'request.finished': { actions: ['finishRequest', 'flush'] },
    'request.sent': { actions: ['markSent', 'flush'] },
    'client.ack': { actions: ['recordAck', 'flush'] },
    'client.connect': { actions: 'connectClient' },
    'client.disconnect': { actions: ['disconnectClient', 'flush'] },
    'stream.append': { actions: ['appendEvent', 'flush'] },
  },
});

/** Answer a decision; one with a `clientMsgId` is remembered (and persisted first),
 *  except `unknown-request`, which asks nothing of the store and reads the same again. */
function answerDecision(context: BrokerContext, event: DecideEvent, answer: DecisionAnswer): void {
  const clientMsgId = event.clientMsgId;
  if (clientMsgId !== undefined && !(answer.status === 'rejected' && answer.code === 'unknown-request')) {
    const record: ClientAnswerRecord = { clientMsgId, requestId: event.requestId, answer };
    context.clientAnswers.set(clientMsgId, record);
    context.outbox.push({ kind: 'persist', record: { kind: 'client-answer', record } });
  }
  context.outbox.push({
    kind: 'emit',
    event:
      clientMsgId !== undefined
        ? { type: 'decision.answer', ref: event.ref, clientMsgId, answer, replayed: false }
        : { type: 'decision.answer', ref: event.ref, answer, replayed: false },
  });
}

export type BrokerLogic = typeof brokerMachine;
export type BrokerActor = Actor<BrokerLogic>;
