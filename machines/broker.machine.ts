/**
 * The broker: the parent of every permissionRequest actor and the owner of the sequenced
 * stream (architecture.md). The interface with the host is `broker.types.ts`.
 *
 * Its own states say where the server is in its life:
 *   restoring -> serving -> draining -> stopped (final)
 * - `restoring`: the context is built from what the store kept (`BrokerInput`); the
 *   restored deadlines are armed, then it serves (one step while the store is read
 *   synchronously; an asynchronous store sends its rows before `serving`).
 * - `serving`: every command.
 * - `draining` (shutdown began, `broker.drain`): a create is refused with
 *   `{status: 'refused', reason: 'draining'}`; decisions, cancels, deadlines, acks and
 *   chat still run, so what is in flight finishes within the host's shutdown bound.
 *   It ends on `broker.stop` (the host's `stop()`, after that bound); the requests still
 *   unresolved stay so in the store and are restored at the next start.
 * - `stopped`: final; the live request actors are stopped with it.
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
 * How commands answer: each command event carries `reply` (broker.types.ts), and the
 * domain functions below (plain functions over the context) return a `Step`: the
 * records, emissions, child messages and, last, the reply. One `run` action per
 * transition hands a Step to XState in order. A decision or cancel is forwarded to the
 * child, which decides the outcome; its `request.finished` reaches this actor's mailbox
 * while the host's `send` is still being processed, and the reply is given then. We chose
 * a reply callback over "read the answer from the snapshot after `send`" because it
 * stays right when a command is sent from inside the broker's own processing (the answer
 * then comes when the mailbox reaches it, instead of a stale snapshot being read).
 *
 * Why the context is mutated in place: every handler below changes its Maps, and returns
 * the same Map references. Copying them (or the children) on each event would make every
 * event cost O(number waiting); the issue forbids that. Old snapshots therefore share
 * these Maps: read a snapshot's Maps only right away.
 *
 * Why the children are not `spawn`ed: XState 5.33 copies `snapshot.children` on every
 * spawn and stop (`{ ...children }`), and on each actor's stop iterates every delayed
 * event of its system (`scheduler.cancelAll`), so with the children in the broker's
 * snapshot and system one spawn + finish grew from ~3 ms with 1,000 waiting to ~15 ms
 * with 10,000 (measured here, 2 cores under load). Each child is therefore created with
 * `createActor` (id = request id) in a system of its own, with the clock and inspector
 * the host passes in `input.requestActors` (the same ones it gives the broker, so
 * `--inspect` shows every request actor live),
 * and reports to the broker through `notifyParent`, bound here to `sendTo(broker)`.
 *
 * One timer for every deadline: no request actor arms a timer of its own. Every
 * unresolved request's deadline sits in one min-heap (`context.deadlines`, each entry
 * taken out when its request finishes), and `nextDeadlineOf` (selectors.ts) reads the earliest:
 * whoever runs the broker sets ONE timer for that instant and then sends
 * `broker.deadline` with its clock reading (`driveDeadlines` in brokerClient.ts; the host
 * and the test harnesses use it), and every request due by then is told
 * `request.deadline` and times out. Not one XState delayed event per request: scheduling
 * and cancelling one (with its timer) was about a tenth of a request's whole round trip
 * in-process (BENCHMARKS.md, "HTTP agents: the server alone"), and 40 us each to restore
 * 10,000; and not one delayed event of the broker re-armed after each fire, because the
 * broker cannot read the clock when it fires, so a late timer would make every later
 * deadline later still. A decision's own `at` still decides: one at or after the
 * deadline times the request out even before the timer fires.
 *
 * Why restore is cheap: an actor system per request costs tens of microseconds, so a
 * restart with 10,000 unresolved requests would spend most of its start creating them.
 * A restored request therefore gets its actor lazily, on first touch (a decision, a
 * cancel, or its deadline, when its new actor is told at once that it came). Its
 * delivery state is kept by the index's watermarks meanwhile (`SeqIndex.deliveryOf`),
 * and told to the actor when it is created. A request created while serving gets its
 * actor at once (the hot path, measured in machines/testing/measureLifecycle.ts).
 */
import { createActor, sendTo, setup, type Actor, type AnyActorRef } from 'xstate';
import type {
  OutcomeEvent,
  PermissionCancelledEvent,
  PermissionRequestEvent,
  PermissionResolvedEvent,
  PermissionTimeoutEvent,
  SequencedEvent,
} from '../protocol/index.ts';
import { decidedByWire, refusalMessage } from '../protocol/outcome.ts';
import type {
  BrokerEmitted,
  BrokerEvent,
  BrokerInput,
  CancelAnswer,
  ClientAnswerRecord,
  ClusterRole,
  CreateAnswer,
  DecisionAnswer,
  FinishedRequest,
  LogRequestRow,
  Outcome,
  PersistRecord,
  RequestActorOptions,
  RequestOrigin,
} from './broker.types.ts';
import { permissionRequestMachine, timeoutOutcome, type PermissionRequestActorEvent, type RequestFinishedEvent } from './permissionRequest.machine.ts';
import { BoundedWindow, DeadlineHeap, SeqIndex, type DeadlineEntry } from './seqIndex.ts';

export const DEFAULT_RECENT_LIMIT = 10_000;

export type PermissionRequestLogic = typeof permissionRequestMachine;
export type PermissionRequestActor = Actor<PermissionRequestLogic>;

/** Every event the broker handles: the host's and its children's reports. */
export type BrokerMachineEvent = BrokerEvent | RequestFinishedEvent;

type DeadlineDueEvent = Extract<BrokerEvent, { type: 'broker.deadline' }>;

type DecideEvent = Extract<BrokerEvent, { type: 'permission.decide' }>;
type CancelEvent = Extract<BrokerEvent, { type: 'request.cancel' }>;
type CreateEvent = Extract<BrokerEvent, { type: 'request.create' }>;
type LogAppliedEvent = Extract<BrokerEvent, { type: 'log.applied' }>;

/** An unresolved request: its `permission-request` event (with its seq), its actor (none
 *  yet for a restored request nobody has touched, see "Why restore is cheap"). */
export type UnresolvedRequest = {
  readonly seq: number;
  live: boolean;
  readonly event: PermissionRequestEvent;
  readonly origin: RequestOrigin;
  readonly idempotencyKey?: string;
  readonly bodyHash?: string;
  ref: PermissionRequestActor | undefined;
  /** Its place in `context.deadlines` until the deadline comes or the request finishes. */
  deadline: DeadlineEntry | undefined;
};

/** A decide or cancel forwarded to a child, waiting for the child's outcome. */
type Verdict = { kind: 'decide'; event: DecideEvent } | { kind: 'cancel'; event: CancelEvent };

/** What one step does, in order: handed to XState by the `run` action. */
type Effect =
  | { kind: 'persist'; record: PersistRecord }
  | { kind: 'emit'; event: BrokerEmitted }
  | { kind: 'send'; to: PermissionRequestActor; event: PermissionRequestActorEvent }
  | { kind: 'start'; child: PermissionRequestActor }
  | { kind: 'stopChild'; child: PermissionRequestActor }
  | { kind: 'reply'; deliver: () => void };

type Step = Effect[];

export type ConnectedClient = { label: string; ackedSeq: number };

export type BrokerContext = {
  epoch: string;
  headSeq: number;
  /** Unresolved requests by id, in seq order. */
  unresolved: Map<string, UnresolvedRequest>;
  /** The same requests in seq order, with the sent/acked/held watermarks. */
  order: SeqIndex<UnresolvedRequest>;
  /** Every unresolved request's deadline (see "One timer for every deadline"). */
  deadlines: DeadlineHeap;
  /** Idempotency key -> the request it created. */
  idempotency: Map<string, { id: string; bodyHash?: string }>;
  recent: BoundedWindow<FinishedRequest>;
  clientAnswers: BoundedWindow<ClientAnswerRecord>;
  clients: Map<string, ConnectedClient>;
  awaiting: Map<string, Verdict[]>;
  /** The child logic, with `notifyParent` bound to this broker. */
  childLogic: PermissionRequestLogic;
  childOptions: RequestActorOptions;
  /** The host's clock at restore: deadlines already behind it time out as it serves. */
  restoredAt: number;
  /** One of several instances on one log: whose deadlines wait a grace (`timeoutDueAt`). */
  cluster?: ClusterRole;
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

function pushQueueChanged(context: BrokerContext, before: number, out: Step): void {
  if (queueKey(context) !== before) out.push({ kind: 'emit', event: { type: 'queue.changed' } });
}

/** Create (not start) a child, in a system of its own, on the host's clock. */
function createChild(context: BrokerContext, request: PermissionRequestEvent): PermissionRequestActor {
  const input = {
    id: request.id,
    toolName: request.toolName,
    input: request.input,
    context: request.context,
    timestamp: request.timestamp,
    expiresAt: request.expiresAt,
  };
  return createActor(context.childLogic, { id: request.id, input, ...context.childOptions });
}

/** The request's actor, created now if it has none (a restored request's first touch):
 *  started, then told its deadline came (it times out at once) or the delivery state the
 *  index kept for it. */
function touch(context: BrokerContext, request: UnresolvedRequest, at: number, out: Step): PermissionRequestActor {
  if (request.ref) return request.ref;
  const ref = createChild(context, request.event);
  request.ref = ref;
  out.push({ kind: 'start', child: ref });
  if (at >= request.event.expiresAt) {
    out.push({ kind: 'send', to: ref, event: { type: 'request.deadline', at } });
    return ref;
  }
  const delivery = context.order.deliveryOf(request);
  if (delivery === 'acked') out.push({ kind: 'send', to: ref, event: { type: 'request.acked', at } });
  else if (delivery === 'sent') out.push({ kind: 'send', to: ref, event: { type: 'request.sent', at } });
  return ref;
}

function remember(context: BrokerContext, request: UnresolvedRequest): void {
  context.unresolved.set(request.event.id, request);
  context.order.push(request);
  if (request.idempotencyKey !== undefined) {
    const seen: { id: string; bodyHash?: string } = { id: request.event.id };
    if (request.bodyHash !== undefined) seen.bodyHash = request.bodyHash;
    context.idempotency.set(request.idempotencyKey, seen);
  }
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function finiteGrace(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

/** When this instance times a request out: at its deadline, or, for a request another
 *  instance made, `othersGraceMs` later (`ClusterRole`, broker.types.ts). A decision at or
 *  after the deadline still cannot win meanwhile (the actor times out instead). */
function timeoutDueAt(context: BrokerContext, expiresAt: number, byAnother: boolean): number {
  return byAnother && context.cluster ? expiresAt + context.cluster.othersGraceMs : expiresAt;
}

/** Arms the request's deadline (a new request, or one `byAnother` instance). */
function armDeadline(context: BrokerContext, request: UnresolvedRequest, byAnother: boolean): void {
  request.deadline = context.deadlines.push(timeoutDueAt(context, request.event.expiresAt, byAnother), request.event.id);
}

/** A request that finished takes its deadline out of the heap. */
function disarmDeadline(context: BrokerContext, request: UnresolvedRequest): void {
  if (request.deadline) context.deadlines.remove(request.deadline);
  request.deadline = undefined;
}

/** Every request due by `at` is told its deadline came: a live actor by `request.deadline`,
 *  a restored one gets its actor, which is told the same as it starts. */
function expireDue(context: BrokerContext, at: number, out: Step): void {
  const heap = context.deadlines;
  for (let top = heap.peek(); top !== undefined && top.at <= at; top = heap.peek()) {
    heap.pop();
    const request = context.unresolved.get(top.id);
    if (!request) continue;
    request.deadline = undefined;
    if (request.ref) out.push({ kind: 'send', to: request.ref, event: { type: 'request.deadline', at } });
    else touch(context, request, at, out);
  }
}

/** Build the context from the input: a new stream, or what the store kept. */
function initialContext(input: BrokerInput, self: AnyActorRef): BrokerContext {
  const recentLimit = isNonNegativeInteger(input.recentLimit) && input.recentLimit > 0 ? input.recentLimit : DEFAULT_RECENT_LIMIT;
  const idempotency = new Map<string, { id: string; bodyHash?: string }>();
  const childLogic = permissionRequestMachine.provide({
    actions: {
      notifyParent: sendTo(
        self,
        ({ context }): RequestFinishedEvent => ({
          type: 'request.finished',
          id: context.request.id,
          outcome: context.outcome ?? timeoutOutcome(context.request),
        }),
      ),
    },
  });
  const context: BrokerContext = {
    epoch: input.epoch,
    headSeq: isNonNegativeInteger(input.headSeq) ? input.headSeq : 0,
    unresolved: new Map(),
    order: new SeqIndex(),
    deadlines: new DeadlineHeap(),
    idempotency,
    recent: new BoundedWindow<FinishedRequest>(recentLimit, (id, finished) => {
      const key = finished.idempotencyKey;
      if (key !== undefined && idempotency.get(key)?.id === id) idempotency.delete(key);
    }),
    clientAnswers: new BoundedWindow<ClientAnswerRecord>(recentLimit),
    clients: new Map(),
    awaiting: new Map(),
    childLogic,
    childOptions: input.requestActors ?? {},
    restoredAt: input.now,
    // A grace that is not a finite, non-negative number is none: never a deadline that never comes.
    ...(input.cluster ? { cluster: { self: input.cluster.self, othersGraceMs: finiteGrace(input.cluster.othersGraceMs) } } : {}),
  };
  for (const finished of input.finished ?? []) {
    if (context.recent.has(finished.id)) continue;
    context.recent.set(finished.id, finished);
    if (finished.idempotencyKey !== undefined) {
      const seen: { id: string; bodyHash?: string } = { id: finished.id };
      if (finished.bodyHash !== undefined) seen.bodyHash = finished.bodyHash;
      idempotency.set(finished.idempotencyKey, seen);
    }
  }
  for (const record of input.clientAnswers ?? []) context.clientAnswers.set(record.clientMsgId, record);

  // Restore the unresolved ones in seq order, without actors (see "Why restore is cheap").
  const stored = [...(input.unresolved ?? [])].sort((a, b) => a.seq - b.seq);
  // A request whose row names another instance is that instance's to time out first.
  const restored: { request: UnresolvedRequest; byAnother: boolean }[] = [];
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
    const kept: UnresolvedRequest = {
      seq: request.seq,
      live: true,
      event,
      origin: request.origin,
      ...(request.idempotencyKey !== undefined ? { idempotencyKey: request.idempotencyKey } : {}),
      ...(request.bodyHash !== undefined ? { bodyHash: request.bodyHash } : {}),
      ref: undefined,
      deadline: undefined,
    };
    remember(context, kept);
    restored.push({ request: kept, byAnother: request.instance !== undefined && request.instance !== input.cluster?.self });
  }
  const entries = context.deadlines.fill(
    restored.map(({ request, byAnother }) => ({ at: timeoutDueAt(context, request.event.expiresAt, byAnother), id: request.event.id })),
  );
  entries.forEach((entry, i) => {
    const kept = restored[i];
    if (kept) kept.request.deadline = entry;
  });

  // The children live outside this actor's system: stop them with it.
  self.subscribe({
    complete: () => {
      for (const request of context.unresolved.values()) request.ref?.stop();
    },
  });
  return context;
}

// ---- the commands: plain functions over the context, each returning its Step ---------

function restore(context: BrokerContext): Step {
  const out: Step = [];
  // Deadlines already behind us: their actors time out as they start, now.
  expireDue(context, context.restoredAt, out);
  out.push({ kind: 'emit', event: { type: 'queue.changed' } });
  return out;
}

function create(context: BrokerContext, event: CreateEvent): Step {
  const out: Step = [];
  const spec = event.request;
  const answer = (a: CreateAnswer) => out.push({ kind: 'reply', deliver: () => event.reply?.(a) });

  if (event.idempotencyKey !== undefined) {
    const seen = context.idempotency.get(event.idempotencyKey);
    if (seen) {
      const live = context.unresolved.get(seen.id);
      const finished = live ? undefined : context.recent.get(seen.id);
      if (seen.bodyHash === event.bodyHash && live) {
        answer({ status: 'existing', id: seen.id, seq: live.seq, expiresAt: live.event.expiresAt });
      } else if (seen.bodyHash === event.bodyHash && finished) {
        answer({ status: 'existing', id: seen.id, seq: finished.seq, expiresAt: finished.expiresAt ?? finished.outcome.decidedAt });
      } else {
        answer({ status: 'conflict', id: seen.id });
      }
      return out;
    }
  }
  // A host bug (ids are the host's UUIDs), refused rather than corrupting the stream.
  if (context.unresolved.has(spec.id) || context.recent.has(spec.id)) {
    answer({ status: 'conflict', id: spec.id });
    return out;
  }

  const before = queueKey(context);
  const seq = context.headSeq + 1;
  context.headSeq = seq;
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
  const ref = createChild(context, requestEvent);
  const meta: { origin: RequestOrigin; idempotencyKey?: string; bodyHash?: string } = { origin: event.origin };
  if (event.idempotencyKey !== undefined) meta.idempotencyKey = event.idempotencyKey;
  if (event.bodyHash !== undefined) meta.bodyHash = event.bodyHash;
  const request: UnresolvedRequest = { seq, live: true, event: requestEvent, ...meta, ref, deadline: undefined };
  remember(context, request);
  armDeadline(context, request, false);

  out.push({ kind: 'persist', record: { kind: 'event', event: requestEvent, request: meta } });
  out.push({ kind: 'emit', event: { type: 'stream.event', event: requestEvent } });
  pushQueueChanged(context, before, out);
  // Started after its event: one whose deadline is already behind it (a zero timeout) is
  // told so and finishes at once, and its report must follow its own `permission-request`.
  out.push({ kind: 'start', child: ref });
  if (event.at >= requestEvent.expiresAt) expireDue(context, event.at, out);
  answer({ status: 'created', id: spec.id, seq, expiresAt: requestEvent.expiresAt });
  return out;
}

function refuseCreate(_context: BrokerContext, event: CreateEvent): Step {
  const answer: CreateAnswer = { status: 'refused', reason: 'draining', message: 'the server is stopping: no new requests are taken' };
  return [{ kind: 'reply', deliver: () => event.reply?.(answer) }];
}

/** Answer a decision; one with a `clientMsgId` is remembered (and persisted first),
 *  except `unknown-request`, which asks nothing of the store and reads the same again. */
function answerDecision(context: BrokerContext, event: DecideEvent, answer: DecisionAnswer, out: Step): void {
  const clientMsgId = event.clientMsgId;
  if (clientMsgId !== undefined && !(answer.status === 'rejected' && answer.code === 'unknown-request')) {
    const record: ClientAnswerRecord = { clientMsgId, requestId: event.requestId, answer };
    context.clientAnswers.set(clientMsgId, record);
    out.push({ kind: 'persist', record: { kind: 'client-answer', record } });
  }
  out.push({ kind: 'reply', deliver: () => event.reply?.({ answer, replayed: false }) });
}

/** A decision or cancel for an unresolved request goes to its child, which decides the
 *  outcome (answered when the child reports); anything else is answered at once. */
function decideOrCancel(context: BrokerContext, event: DecideEvent | CancelEvent): Step {
  const out: Step = [];
  if (event.type === 'permission.decide' && event.clientMsgId !== undefined) {
    const record = context.clientAnswers.get(event.clientMsgId);
    if (record) {
      const answer = record.answer;
      out.push({ kind: 'reply', deliver: () => event.reply?.({ answer, replayed: true }) });
      return out;
    }
  }
  const request = context.unresolved.get(event.requestId);
  if (!request) {
    const answer = rejectionFor(context, event.requestId);
    if (event.type === 'permission.decide') answerDecision(context, event, answer, out);
    else out.push({ kind: 'reply', deliver: () => event.reply?.(answer) });
    return out;
  }
  const verdict: Verdict = event.type === 'permission.decide' ? { kind: 'decide', event } : { kind: 'cancel', event };
  const waiting = context.awaiting.get(event.requestId);
  if (waiting) waiting.push(verdict);
  else context.awaiting.set(event.requestId, [verdict]);
  const fresh = request.ref === undefined;
  const ref = touch(context, request, event.at, out);
  // A restored request first touched at or after its deadline times out as it starts:
  // the verdict is then answered `expired` from its report, and nothing is sent to it.
  if (!(fresh && event.at >= request.event.expiresAt)) out.push({ kind: 'send', to: ref, event: forChild(event) });
  return out;
}

/** The child's copy of a decide or cancel, without the host's reply. */
function forChild(event: DecideEvent | CancelEvent): PermissionRequestActorEvent {
  if (event.type === 'request.cancel') return { type: 'request.cancel', at: event.at, reason: event.reason, cancelledBy: event.cancelledBy };
  const child: PermissionRequestActorEvent = { type: 'permission.decide', at: event.at, decision: event.decision, decidedBy: event.decidedBy };
  if (event.updatedInput !== undefined) child.updatedInput = event.updatedInput;
  if (event.message !== undefined) child.message = event.message;
  return child;
}

function finish(context: BrokerContext, event: RequestFinishedEvent): Step {
  const out: Step = [];
  const request = context.unresolved.get(event.id);
  if (!request) return out; // reported twice, or by a stranger: the first report counted
  const before = queueKey(context);
  const outcome = event.outcome;
  const seq = context.headSeq + 1;
  context.headSeq = seq;
  const streamEvent = outcomeEvent(seq, request, outcome);

  context.unresolved.delete(event.id);
  context.order.finish(request);
  disarmDeadline(context, request);
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
  pushQueueChanged(context, before, out);

  const verdicts = context.awaiting.get(event.id);
  if (verdicts) {
    context.awaiting.delete(event.id);
    for (let i = 0; i < verdicts.length; i++) {
      const verdict = verdicts[i];
      if (verdict === undefined) continue;
      const won = i === 0 && verdictWon(verdict, outcome);
      if (verdict.kind === 'decide') {
        answerDecision(context, verdict.event, won ? { status: 'accepted', requestId: event.id } : rejection(event.id, outcome), out);
      } else {
        const answer: CancelAnswer = won ? { status: 'cancelled', requestId: event.id } : rejection(event.id, outcome);
        const reply = verdict.event.reply;
        out.push({ kind: 'reply', deliver: () => reply?.(answer) });
      }
    }
  }
  return out;
}

/** The time `nextDeadlineOf` named came (the runner's timer): expire what is due. */
function deadlineDue(context: BrokerContext, event: DeadlineDueEvent): Step {
  const out: Step = [];
  expireDue(context, event.at, out);
  return out;
}

function markSent(context: BrokerContext, event: Extract<BrokerEvent, { type: 'request.sent' }>): Step {
  const out: Step = [];
  const at = event.at;
  context.order.markSent(event.upToSeq, (request) => {
    if (request.ref) out.push({ kind: 'send', to: request.ref, event: { type: 'request.sent', at } });
  });
  return out;
}

function recordAck(context: BrokerContext, event: Extract<BrokerEvent, { type: 'client.ack' }>): Step {
  const out: Step = [];
  const client = context.clients.get(event.clientId);
  // Acks only count from connected clients, and never beyond the head.
  if (!client || !(event.seq >= 0)) return out;
  const seq = Math.min(Math.floor(event.seq), context.headSeq);
  if (seq <= client.ackedSeq) return out;
  const before = queueKey(context);
  client.ackedSeq = seq;
  const at = event.at;
  context.order.markAcked(seq, (request) => {
    if (request.ref) out.push({ kind: 'send', to: request.ref, event: { type: 'request.acked', at } });
  });
  if (seq > context.order.holdSeq) context.order.setHoldSeq(seq);
  pushQueueChanged(context, before, out);
  return out;
}

function connectClient(context: BrokerContext, event: Extract<BrokerEvent, { type: 'client.connect' }>): Step {
  const client = context.clients.get(event.clientId);
  if (client) client.label = event.label;
  else context.clients.set(event.clientId, { label: event.label, ackedSeq: 0 });
  return [];
}

function disconnectClient(context: BrokerContext, event: Extract<BrokerEvent, { type: 'client.disconnect' }>): Step {
  const out: Step = [];
  const client = context.clients.get(event.clientId);
  if (!client) return out;
  context.clients.delete(event.clientId);
  if (client.ackedSeq >= context.order.holdSeq && client.ackedSeq > 0) {
    const before = queueKey(context);
    let hold = 0;
    for (const other of context.clients.values()) if (other.ackedSeq > hold) hold = other.ackedSeq;
    context.order.setHoldSeq(hold);
    pushQueueChanged(context, before, out);
  }
  return out;
}

function append(context: BrokerContext, event: Extract<BrokerEvent, { type: 'stream.append' }>): Step {
  const seq = context.headSeq + 1;
  context.headSeq = seq;
  const streamEvent: SequencedEvent = { ...event.event, seq };
  return [
    { kind: 'persist', record: { kind: 'event', event: streamEvent } },
    { kind: 'emit', event: { type: 'stream.event', event: streamEvent } },
    { kind: 'reply', deliver: () => event.reply?.(streamEvent) },
  ];
}

/** An outcome as its event tells it, for a row the store did not hand over. */
function outcomeOfEvent(event: OutcomeEvent): Outcome {
  switch (event.type) {
    case 'permission-resolved': {
      const outcome: Outcome = { status: 'resolved', decision: event.decision, decidedBy: event.decidedBy, decidedAt: event.timestamp };
      if (event.updatedInput !== undefined) outcome.updatedInput = event.updatedInput;
      if (event.message !== undefined) outcome.message = event.message;
      return outcome;
    }
    case 'permission-timeout':
      return { status: 'timedOut', decision: 'deny', decidedBy: decidedByWire.timeout, decidedAt: event.timestamp };
    case 'permission-cancelled':
      return { status: 'cancelled', decision: 'deny', decidedBy: decidedByWire.server, decidedAt: event.timestamp, reason: event.reason };
    default: {
      const never: never = event;
      throw new Error(`unknown outcome event ${(never as { type: string }).type}`);
    }
  }
}

/**
 * Events another instance committed (docs/cluster.md): each folded into the context as
 * the instance that made it did, nothing persisted, each emitted once for the relay. A
 * request gets its actor and its deadline in the heap, a grace later than its maker's
 * (`timeoutDueAt`; should both time it out, the log's one-outcome rule keeps that
 * exactly-once); an outcome finishes it with the winner's
 * Outcome, so a late decision here answers `already-resolved` naming the winner.
 * Events at or below `headSeq` were folded already and are skipped; a gap is a host bug.
 */
function applyLog(context: BrokerContext, event: LogAppliedEvent): Step {
  const out: Step = [];
  const starts = new Set<PermissionRequestActor>();
  const before = queueKey(context);
  for (const logged of event.events) {
    if (logged.seq <= context.headSeq) continue;
    if (logged.seq !== context.headSeq + 1) throw new Error(`log.applied: expected seq ${context.headSeq + 1}, got ${logged.seq}`);
    context.headSeq = logged.seq;
    switch (logged.type) {
      case 'permission-request': {
        if (context.unresolved.has(logged.id) || context.recent.has(logged.id)) break;
        const row: LogRequestRow | undefined = event.rows?.get(logged.id);
        const ref = createChild(context, logged);
        const request: UnresolvedRequest = {
          seq: logged.seq,
          live: true,
          event: logged,
          origin: row?.origin ?? 'http',
          ...(row?.idempotencyKey !== undefined ? { idempotencyKey: row.idempotencyKey } : {}),
          ...(row?.bodyHash !== undefined ? { bodyHash: row.bodyHash } : {}),
          ref,
          deadline: undefined,
        };
        remember(context, request);
        armDeadline(context, request, true);
        starts.add(ref);
        break;
      }
      case 'permission-resolved':
      case 'permission-timeout':
      case 'permission-cancelled': {
        const request = context.unresolved.get(logged.requestId);
        if (!request) break;
        const outcome = event.rows?.get(logged.requestId)?.outcome ?? outcomeOfEvent(logged);
        context.unresolved.delete(logged.requestId);
        context.order.finish(request);
        disarmDeadline(context, request);
        const finished: FinishedRequest = {
          id: logged.requestId,
          toolName: request.event.toolName,
          seq: request.seq,
          outcome,
          expiresAt: request.event.expiresAt,
        };
        if (request.idempotencyKey !== undefined) finished.idempotencyKey = request.idempotencyKey;
        if (request.bodyHash !== undefined) finished.bodyHash = request.bodyHash;
        context.recent.set(logged.requestId, finished);
        // Created in this same batch: its actor never starts (a stopped actor would restart).
        if (request.ref && !starts.delete(request.ref)) out.push({ kind: 'stopChild', child: request.ref });
        // Verdicts still with the child lost to the other instance's outcome.
        const verdicts = context.awaiting.get(logged.requestId);
        context.awaiting.delete(logged.requestId);
        for (const verdict of verdicts ?? []) {
          const answer = rejection(logged.requestId, outcome);
          if (verdict.kind === 'decide') answerDecision(context, verdict.event, answer, out);
          else out.push({ kind: 'reply', deliver: () => verdict.event.reply?.(answer) });
        }
        break;
      }
      case 'chat-message':
      case 'session-updated':
        break;
      default: {
        const never: never = logged;
        throw new Error(`unknown event ${(never as { type: string }).type}`);
      }
    }
    out.push({ kind: 'emit', event: { type: 'stream.event', event: logged } });
  }
  for (const record of event.clientAnswers ?? []) if (!context.clientAnswers.has(record.clientMsgId)) context.clientAnswers.set(record.clientMsgId, record);
  pushQueueChanged(context, before, out);
  // Started after every event of the batch: one already past its deadline is told so
  // and finishes at once, and its timeout must follow the events it came after.
  for (const child of starts) out.push({ kind: 'start', child });
  expireDue(context, event.at, out);
  return out;
}

// ---- the machine -------------------------------------------------------------------

const brokerSetup = setup({
  types: {
    input: {} as BrokerInput,
    context: {} as BrokerContext,
    events: {} as BrokerMachineEvent,
    emitted: {} as BrokerEmitted,
  },
  actions: {
    /** The host's persistence effect: called with each record, in order, before the
     *  event is emitted. Must not throw (a throw stops the broker with an error). */
    persist: (_, _record: PersistRecord) => {},
    startRequest: (_, params: { child: PermissionRequestActor }) => {
      params.child.start();
    },
    stopRequest: (_, params: { child: PermissionRequestActor }) => {
      params.child.stop();
    },
  },
});

/** The one action of every transition: compute the Step, hand it to XState in order. */
function run<E extends BrokerMachineEvent>(handler: (context: BrokerContext, event: E) => Step) {
  return brokerSetup.enqueueActions(({ context, event, enqueue }) => {
    const step = handler(context, event as E);
    for (const effect of step) {
      switch (effect.kind) {
        case 'persist':
          enqueue({ type: 'persist', params: effect.record });
          break;
        case 'emit':
          enqueue.emit(effect.event);
          break;
        case 'send':
          enqueue.sendTo(effect.to, effect.event);
          break;
        case 'start':
          enqueue({ type: 'startRequest', params: { child: effect.child } });
          break;
        case 'stopChild':
          enqueue({ type: 'stopRequest', params: { child: effect.child } });
          break;
        case 'reply':
          enqueue(effect.deliver);
          break;
        default: {
          const never: never = effect;
          throw new Error(`unknown effect ${JSON.stringify(never)}`);
        }
      }
    }
  });
}

/** What `serving` and `draining` both do with everything but a create. */
const inFlight = {
  'permission.decide': { actions: run(decideOrCancel) },
  'request.cancel': { actions: run(decideOrCancel) },
  'request.finished': { actions: run(finish) },
  'broker.deadline': { actions: run(deadlineDue) },
  'request.sent': { actions: run(markSent) },
  'client.ack': { actions: run(recordAck) },
  'client.connect': { actions: run(connectClient) },
  'client.disconnect': { actions: run(disconnectClient) },
  'stream.append': { actions: run(append) },
  'log.applied': { actions: run(applyLog) },
  'broker.stop': { target: '#broker.stopped' },
} as const;

export const brokerMachine = brokerSetup.createMachine({
  id: 'broker',
  context: ({ input, self }) => initialContext(input, self),
  initial: 'restoring',
  states: {
    /** The stored requests are in the context; arm their deadlines, then serve. */
    restoring: {
      entry: run(restore),
      always: { target: 'serving' },
    },
    serving: {
      on: {
        ...inFlight,
        'request.create': { actions: run(create) },
        'broker.drain': { target: 'draining' },
      },
    },
    /** Shutdown: no new requests; what is unresolved can still finish. */
    draining: {
      on: {
        ...inFlight,
        'request.create': { actions: run(refuseCreate) },
      },
    },
    stopped: { type: 'final' },
  },
});

export type BrokerLogic = typeof brokerMachine;
export type BrokerActor = Actor<BrokerLogic>;
