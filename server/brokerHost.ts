/**
 * The broker host: runs the broker actor and owns "persist, then send" (architecture.md,
 * example 5).
 *
 * The broker calls the provided `persist` action synchronously with each PersistRecord and
 * emits `stream.event` right after; the host buffers both. Once per tick (one
 * `setImmediate`) it writes the buffered records in ONE transaction (the store's
 * `writeBatch`, awaited), and only after the commit relays the tick's events to its
 * listeners (the WebSocket hub, long-polls) and resolves the callers waiting on that tick,
 * so a 201 or an ack is never given for something that is not on disk. One commit at a
 * time: what the broker does while a commit is in flight waits for the next one, so
 * batches commit in order and a later batch never commits before an earlier one
 * (SPEC.md CORE-L1). A failed commit is fatal (`onFatal`): the process restarts from the
 * store, which is the truth, instead of serving a diverged memory.
 *
 * `whenQuiet(fn)` runs `fn` at a point where the actor's state equals what is committed
 * and relayed (nothing buffered, no commit in flight), which is where a joining WebSocket
 * client reads its history or snapshot and subscribes, so no event is lost or sent twice
 * between the two. When `fn` returns a promise (the store's read of the history is
 * asynchronous), no commit starts until it settles: the point stays quiet. With a slow
 * store and steady commands such a point may never come on its own, so once callbacks
 * have waited QUIET_WITHIN_COMMITS commits, new commands are held until the buffered
 * ones are committed and the callbacks ran (SPEC.md CORE-L9).
 *
 * Commands (create, decide, cancel, append) send the broker an event whose `reply` the
 * broker calls with the answer (broker.types.ts); the host resolves the caller's promise
 * with it after the tick's commit. A call that cannot be taken (limits, stopping, a
 * `remember` that cannot be honoured) throws synchronously and stores nothing.
 *
 * One decision path (server/decisions.ts): `decide` checks a decision's `remember`
 * before deciding, and after the commit makes its rule and runs every `onDecided`
 * observer, whichever transport called it. One way to wait for an outcome:
 * `awaitOutcome(id, {signal, timeoutMs})`, woken at the commit of the outcome event.
 *
 * Shutdown: `drain()` turns the broker to `draining` (new creates are refused, the rest
 * still runs) and wakes every `awaitOutcome` with `shutdown`; `stop()` commits what is
 * buffered and takes the broker to its final state.
 */
import { createActor, type InspectionEvent, type Observer } from 'xstate';
import { brokerMachine, type BrokerActor } from '../machines/broker.machine.ts';
import { driveDeadlines } from '../machines/brokerClient.ts';
import { deliveryOf, isHeldByConnectedClient, queueStatusOf, unresolvedRequestEventsOf, type DeliveryState } from '../machines/selectors.ts';
import type {
  AppendableEvent,
  BrokerEmitted,
  BrokerEvent,
  BrokerInput,
  CancelAnswer,
  ClientAnswerRecord,
  ClusterRole,
  CreateAnswer,
  CreateRequestSpec,
  DecisionAnswer,
  Outcome,
  PersistRecord,
  LogRequestRow,
  Reply,
  RequestActorOptions,
  RequestOrigin,
} from '../machines/broker.types.ts';
import {
  decidedByWire,
  requestByteLength,
  uuidv7,
  type AgentChoice,
  type Decision,
  type PermissionRequestEvent,
  type RememberOutcome,
  type SequencedEvent,
} from '../protocol/index.ts';
import { RememberRefusedError, type DecisionObserver, type DecisionVia, type RememberGate, type RememberRequest } from './decisions.ts';
import type { CancelSignal } from './cancel.ts';
import type { FaultSwitch } from './fault.ts';
import type { Logger } from './log.ts';
import { cancelReasonLabel, decisionChannelLabel, type Metrics } from './metrics.ts';
import type { Bus } from './bus/natsBus.ts';
import { LogFollower } from './bus/logFollower.ts';
import type { AuditFacts, CommitRecord, EventStore, StoredRequestView } from './store/types.ts';

/** XState's clock interface (not exported by name from 'xstate'). */
export type Clock = { setTimeout(fn: (...args: unknown[]) => void, timeout: number): unknown; clearTimeout(id: unknown): void };

export type DecideArgs = {
  requestId: string;
  decision: Decision;
  updatedInput?: Record<string, unknown>;
  message?: string;
  decidedBy: string;
  clientMsgId?: string;
  /** Which door it came through: metrics, logs and the decision observers (audit). */
  via: DecisionVia;
  /** Make a rule of it (checked before deciding, made after the commit). */
  remember?: RememberRequest['remember'];
  /** The decider's address and device: the audit row, written with the decision (SPEC.md CORE-L2). */
  address?: string;
  device?: { id: string; name: string };
  /** The agent's own choice the decision named, checked at the edge (server/agentChoiceBook.ts):
   *  it goes on the audit row only when this decision wins (attachAuditFacts). */
  agentChoice?: Pick<AgentChoice, 'id' | 'kind' | 'label'>;
};

export type DecideResult = {
  answer: DecisionAnswer;
  replayed: boolean;
  /** With `remember` on an accepted, first-time decision: the rule made, or why none. */
  remember?: RememberOutcome;
};

/** What `awaitOutcome` found: the committed outcome; or still unresolved when the wait
 *  ended (`timeout`, `aborted` by the signal, or the server's `shutdown`); or an id the
 *  broker does not know (never seen, or forgotten beyond its recent window). */
export type AwaitedOutcome =
  | { status: 'finished'; outcome: Outcome }
  | { status: 'waiting'; reason: 'timeout' | 'aborted' | 'shutdown' }
  | { status: 'unknown' };

/** A create's answer from the host: a broker's refusal (draining) is thrown instead. */
export type HostCreateAnswer = Exclude<CreateAnswer, { status: 'refused' }>;

export type AwaitOptions = { signal?: CancelSignal; timeoutMs?: number };

export type CreateArgs = {
  toolName: string;
  input: Record<string, unknown>;
  context?: PermissionRequestEvent['context'];
  timeoutMs: number;
  origin: RequestOrigin;
  /** Chosen by the host when absent. */
  id?: string;
  idempotencyKey?: string;
  bodyHash?: string;
  /** `requestByteLength({ input, context })`, when the caller measured it already (the
   *  HTTP route does, CORE-F11): the host does not measure it again to admit and weigh. */
  bytes?: number;
};

export type CancelArgs = { requestId: string; reason: string; cancelledBy: string };

/** `local`: this instance committed them; `log`: another instance did (docs/cluster.md),
 *  and this one relays them (sockets, long-polls) without acting on them again (rules). */
export type CommitSource = 'local' | 'log';

export type CommittedListener = (events: readonly SequencedEvent[], source: CommitSource) => void;

/** Following the shared log (docs/cluster.md, "The broker as a projection of the log"). */
export type FollowOptions = {
  /** Announcements of other instances' commits; without it the follower only polls. */
  bus?: Bus | undefined;
  /** How often to ask the store's head when no announcement came (ms). */
  pollMs: number;
  /** This instance's id: recorded on each request row it creates (agents' homes). */
  instanceId?: string;
  /** How long after a deadline this instance times out a request another instance made
   *  (docs/cluster.md, "Who times a request out"). Default `OTHERS_DEADLINE_GRACE_MS`. */
  othersGraceMs?: number;
};

/** Long enough for the maker's timeout to arrive over the bus, short beside any deadline. */
export const OTHERS_DEADLINE_GRACE_MS = 2_000;

export type BrokerHostOptions = {
  store: EventStore;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** XState clock (SimulatedClock in tests); `now` follows it when it has one. */
  clock?: Clock & { now?: () => number };
  now?: () => number;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  fault?: FaultSwitch;
  /** A commit failed: the memory is ahead of the disk. Default: throw. */
  onFatal?: (error: unknown) => void;
  recentLimit?: number;
  /** Cancel restored `agent` requests (their agent died with the process). Default true. */
  cancelOrphans?: boolean;
  /** Bounds on unresolved requests (contract-2 §3); unbounded when absent. */
  limits?: UnresolvedLimits;
  /** Several instances on one store: follow the log other instances append to. */
  follow?: FollowOptions;
};

export type UnresolvedLimits = { maxUnresolved: number; maxUnresolvedBytes: number };

/** A caller waiting for the tick's commit; `command`: the answer of a command, which a
 *  lost seq race discards (the command runs again and answers afresh). */
type Waiter = (() => void) & { command?: true };

/** Events another instance committed, waiting for a quiet point to be folded in. */
type ForeignBatch = { events: readonly SequencedEvent[]; rows: Map<string, LogRequestRow>; clientAnswers: ClientAnswerRecord[] };

/** A tick in flight: what a lost seq race runs again. */
type InFlight = { commands: Array<() => void>; waiters: Waiter[] };

/** One caller of `awaitOutcome`. */
type OutcomeWaiter = { wake: (result: AwaitedOutcome) => void };

/** How many commits a quiet callback waits at most before new commands are held for it. */
const QUIET_WITHIN_COMMITS = 2;

const realTimers: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

export class BrokerHost {
  readonly epoch: string;
  private actor: BrokerActor;
  /** Bumped when the actor is replaced (a lost seq race): the old one's effects are ignored. */
  private generation = 0;
  private readonly brokerOptions: {
    recentLimit?: number;
    requestActors: RequestActorOptions;
    inspect?: BrokerHostOptions['inspect'];
    cluster?: ClusterRole;
  };
  private readonly timers: Clock;
  private readonly store: EventStore;
  private readonly logger: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly now: () => number;
  private readonly fault: FaultSwitch;
  private readonly onFatal: (error: unknown) => void;

  private records: CommitRecord[] = [];
  private outbox: SequencedEvent[] = [];
  private waiters: Waiter[] = [];
  private quiet: Array<() => void | Promise<void>> = [];
  private queueDirty = false;
  private scheduled: NodeJS.Immediate | null = null;
  /** Each client's highest ack of this tick, handed to the broker once per tick. */
  private pendingAcks = new Map<string, number>();
  private hasDecision = false;
  private committedHead: number;
  private stopped = false;
  private fatal = false;
  /** A writeBatch is in flight: the next one waits for it. */
  private committing = false;
  /** Quiet callbacks still running (their promises): no commit starts meanwhile. */
  private holds = 0;
  /** Called once nothing is buffered and no commit is in flight (stop). */
  private drained: Array<() => void> = [];
  private stopping: Promise<void> | undefined;
  private readonly committedListeners = new Set<CommittedListener>();
  private readonly queueListeners = new Set<() => void>();
  private readonly limits: UnresolvedLimits;
  /** Each unresolved request's weight (requestByteLength), kept from the event stream. */
  private readonly weights = new Map<string, number>();
  private weightTotal = 0;
  /** Command callers whose answer has not been given (see `refuseUnanswered`). */
  private readonly unanswered = new Set<(error: Error) => void>();
  /** awaitOutcome callers by request id. */
  private readonly outcomeWaiters = new Map<string, Set<OutcomeWaiter>>();
  /** Requests whose outcome is decided but not committed yet (this tick). */
  private readonly uncommittedOutcomes = new Set<string>();
  private readonly decisionObservers = new Set<DecisionObserver>();
  private rememberGate: RememberGate | undefined;
  private draining = false;
  /** The request `create` is sending to the broker, and its bytes: `weigh` takes them
   *  instead of measuring the same input again (CORE-F11). */
  private creating: { id: string; bytes: number } | undefined;

  // ---- following the log (docs/cluster.md) ----
  private readonly follower: LogFollower | undefined;
  private readonly bus: Bus | undefined;
  private offBus: (() => void) | undefined;
  private readonly instanceId: string | undefined;
  /** The commands of the buffered tick (and of the one in flight): run again after a lost race. */
  private commands: Array<() => void> = [];
  private inFlight: InFlight | undefined;
  /** A lost race is being repaired: commands wait, nothing commits. */
  private rebuilding = false;
  private deferred: Array<() => void> = [];
  /** Quiet callbacks waited QUIET_WITHIN_COMMITS commits: new commands wait (in
   *  `deferred`) until the buffered ones are committed and the callbacks ran (CORE-L9). */
  private quietHold = false;
  /** Commits delivered while quiet callbacks waited. */
  private quietStarved = 0;
  private foreign: ForeignBatch[] = [];
  /** Request rows read with the follower's last batch (handed over with it). */
  private followedRows = new Map<string, LogRequestRow>();
  private followedAnswers: ClientAnswerRecord[] = [];
  /** Connected clients and their highest ack: told to a rebuilt broker. */
  private readonly clientMarks = new Map<string, { label: string; acked: number }>();
  private sentUpTo = 0;
  private headWaiters: Array<{ seq: number; resolve: () => void }> = [];
  /** The follower fell behind the pruned point: reload at the next flush. */
  private reloadWanted = false;

  /** Loads the store (asynchronously), then starts the broker from it. */
  static async open(options: BrokerHostOptions): Promise<BrokerHost> {
    const clock = options.clock;
    const now = options.now ?? (clock?.now ? () => clock.now?.() ?? Date.now() : Date.now);
    const loaded = await options.store.load({ now: now(), ...(options.recentLimit !== undefined ? { recentLimit: options.recentLimit } : {}) });
    return new BrokerHost(options, loaded);
  }

  /** `loaded`: what the store loaded (`BrokerHost.open` reads it). */
  constructor(options: BrokerHostOptions, loaded: BrokerInput) {
    this.store = options.store;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.fault = options.fault ?? (() => {});
    this.onFatal =
      options.onFatal ??
      ((error) => {
        throw error;
      });
    const clock = options.clock;
    const clockNow = clock?.now?.bind(clock);
    this.now = options.now ?? clockNow ?? Date.now;
    this.timers = clock ?? realTimers;

    // The same clock and inspector for the broker and its request actors (each of those
    // lives in a system of its own, broker.machine.ts).
    const requestActors: RequestActorOptions = {};
    if (clock) requestActors.clock = clock;
    if (options.inspect) requestActors.inspect = options.inspect;
    const input: BrokerInput = { ...loaded, requestActors };
    if (options.follow) input.cluster = { self: options.follow.instanceId, othersGraceMs: options.follow.othersGraceMs ?? OTHERS_DEADLINE_GRACE_MS };
    this.epoch = input.epoch;
    this.committedHead = input.headSeq;
    this.limits = options.limits ?? { maxUnresolved: Number.POSITIVE_INFINITY, maxUnresolvedBytes: Number.POSITIVE_INFINITY };
    for (const request of input.unresolved) this.weigh(request.id, request);

    this.brokerOptions = {
      requestActors,
      ...(options.recentLimit !== undefined ? { recentLimit: options.recentLimit } : {}),
      ...(options.inspect ? { inspect: options.inspect } : {}),
      ...(input.cluster ? { cluster: input.cluster } : {}),
    };
    this.actor = this.startActor(input);
    this.instanceId = options.follow?.instanceId;
    if (options.follow) {
      const follow = options.follow;
      this.bus = follow.bus;
      this.follower = new LogFollower({
        store: { head: () => this.store.head(), eventsSince: (since) => this.readLog(since) },
        from: input.headSeq,
        pollMs: follow.pollMs,
        onEvents: (events) => this.onFollowed(events),
        onTooOld: (delivered) => {
          this.logger.error('the log was pruned past what this instance relayed: reloading from the store', { delivered });
          // At the next quiet point, not under a commit in flight: a lost race of that
          // commit must still find the host free to run its batch again.
          this.reloadWanted = true;
          this.schedule();
        },
        onError: (error) => this.logger.warn('log follower: read failed (retried at the next announcement or poll)', { error: String(error) }),
      });
      this.offBus = this.bus?.subscribe(this.epoch, (range) => this.follower?.notify(range.to));
      this.follower.start();
    }

    if (options.cancelOrphans !== false) {
      for (const request of input.unresolved) {
        if (request.origin !== 'agent') continue;
        // The agent that asked lived inside the dead process: nobody waits for this answer.
        void this.cancel({ requestId: request.id, reason: 'server-restart', cancelledBy: decidedByWire.server });
      }
    }
    this.logger.debug('permissions', 'broker started', {
      epoch: this.epoch,
      head: input.headSeq,
      unresolved: input.unresolved.length,
    });
  }

  /** A broker actor from `input`, its effects bound to this host (this generation). */
  private startActor(input: BrokerInput): BrokerActor {
    const generation = ++this.generation;
    const machine = brokerMachine.provide({
      actions: {
        persist: (_, record) => {
          if (generation === this.generation) this.onPersist(record);
        },
      },
    });
    const actor = createActor(machine, { input, ...this.brokerOptions.requestActors });
    actor.on('*', (emitted) => {
      if (generation === this.generation) this.onEmitted(emitted);
    });
    actor.subscribe({
      error: (error: unknown) => {
        if (generation === this.generation) this.die(error, 'broker actor failed');
      },
    });
    actor.start();
    // No request actor arms a timer: one timer for the earliest deadline (broker.machine.ts).
    driveDeadlines(actor, this.timers, this.now);
    return actor;
  }

  // ---- effects from the actor ----------------------------------------------------

  private onPersist(record: PersistRecord): void {
    if (this.stopped) {
      this.logger.warn('record after stop ignored', { kind: record.kind });
      return;
    }
    // Agents' homes (docs/cluster.md): each request row names the instance that made it.
    if (this.instanceId !== undefined && record.kind === 'event' && record.event.type === 'permission-request') {
      this.records.push({ ...record, instance: this.instanceId });
    } else {
      this.records.push(record);
    }
    if (record.kind === 'event' && record.event.type === 'permission-resolved') this.hasDecision = true;
    if (record.kind === 'event' && record.outcome !== undefined && 'requestId' in record.event) this.uncommittedOutcomes.add(record.event.requestId);
    this.schedule();
  }

  private weigh(id: string, request: { input: unknown; context?: unknown }): void {
    if (this.weights.has(id)) return;
    const creating = this.creating;
    const bytes = creating !== undefined && creating.id === id ? creating.bytes : requestByteLength(request);
    this.weights.set(id, bytes);
    this.weightTotal += bytes;
  }

  private unweigh(id: string): void {
    const bytes = this.weights.get(id);
    if (bytes === undefined) return;
    this.weights.delete(id);
    this.weightTotal -= bytes;
  }

  /** Keeps the unresolved count and bytes in step with the stream, in O(1) per event. */
  private track(event: SequencedEvent): void {
    switch (event.type) {
      case 'permission-request':
        this.weigh(event.id, event);
        return;
      case 'permission-resolved':
      case 'permission-timeout':
      case 'permission-cancelled':
        this.unweigh(event.requestId);
        return;
      case 'chat-message':
      case 'session-updated':
        return;
      default: {
        const never: never = event;
        throw new Error(`unknown event ${(never as { type: string }).type}`);
      }
    }
  }

  private onEmitted(emitted: BrokerEmitted): void {
    switch (emitted.type) {
      case 'stream.event':
        this.track(emitted.event);
        this.outbox.push(emitted.event);
        this.schedule();
        return;
      case 'queue.changed':
        this.queueDirty = true;
        this.schedule();
        return;

      default: {
        const never: never = emitted;
        this.logger.warn('unknown broker emission', { type: (never as { type: string }).type });
      }
    }
  }

  private schedule(): void {
    if (this.scheduled || this.fatal || this.rebuilding) return;
    if (this.committing || this.holds > 0) return; // the commit's end (or the hold's) schedules
    this.scheduled = setImmediate(() => this.flush());
  }

  /** Commit the tick's records, then relay, then answer. Public for shutdown. Starts the
   *  commit; with one in flight (or a quiet callback holding), the next flush takes the
   *  buffered records once it is done. */
  flush(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    if (this.fatal || this.committing || this.holds > 0 || this.rebuilding) return;
    if (this.reloadWanted) {
      void this.rebuild(undefined);
      return;
    }
    // Batches the host relayed already (its own commits read back, or a reload) are dropped.
    if (this.foreign.length > 0) this.foreign = this.foreign.filter((b) => b.events.some((e) => e.seq > this.committedHead));
    if (this.foreign.length > 0) {
      // The buffered records were numbered from a head another instance has appended past:
      // they would lose the seq race. Repair now instead of a round trip that must fail.
      if (this.records.some((r) => r.kind === 'event')) {
        void this.rebuild(undefined);
        return;
      }
      if (!this.applyForeign()) return;
    }
    this.applyAcks();
    const records = this.records;
    const events = this.outbox;
    const waiters = this.waiters;
    const hadDecision = this.hasDecision;
    const commands = this.commands;
    this.records = [];
    this.outbox = [];
    this.waiters = [];
    this.commands = [];
    this.hasDecision = false;

    if (records.length === 0) {
      this.deliver(events, waiters, records);
      return;
    }
    if (hadDecision) this.fault('during-decision-store');
    const started = process.hrtime.bigint();
    this.committing = true;
    this.inFlight = { commands, waiters };
    let commit: Promise<void>;
    try {
      commit = this.store.writeBatch(records);
    } catch (error) {
      commit = Promise.reject(error);
    }
    commit.then(
      () => {
        this.committing = false;
        this.inFlight = undefined;
        this.metrics?.persistSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        this.metrics?.persistBatchSize.observe(records.length);
        for (const record of records) if (record.kind === 'event') this.countEvent(record.event);
        this.fault('after-persist-before-send');
        this.deliver(events, waiters, records);
      },
      (error: unknown) => {
        this.committing = false;
        const lost = this.inFlight;
        this.inFlight = undefined;
        if (this.follower && isSeqConflict(error) && !this.stopped) {
          // Another instance appended first: nothing of this batch was stored, sent or
          // answered. Catch up from the log and run its commands again (docs/cluster.md).
          this.metrics?.seqConflicts.inc();
          this.logger.debug('store', 'lost the seq race: catching up and running the batch again', { error: String((error as Error).message) });
          void this.rebuild(lost);
          return;
        }
        this.die(error, 'commit failed');
        this.settleDrained();
      },
    );
  }

  /** After the commit: relay the tick's events, answer its callers, wake the outcome
   *  waits, then quiet callbacks. */
  private deliver(events: readonly SequencedEvent[], waiters: readonly Waiter[], records: readonly CommitRecord[]): void {
    const last = events[events.length - 1];
    if (last !== undefined) {
      this.committedHead = last.seq;
      if (this.follower) {
        // Relayed here: the follower skips them; the other instances hear of them.
        this.follower.advanceTo(last.seq);
        this.announce(events[0]?.seq ?? last.seq, last.seq);
      }
      for (const listener of this.committedListeners) this.safely(() => listener(events, 'local'), 'committed listener');
      this.fault('after-send-before-ack');
      this.wakeHead();
    }
    for (const waiter of waiters) this.safely(waiter, 'waiter');
    for (const record of records) {
      if (record.kind !== 'event' || record.outcome === undefined || !('requestId' in record.event)) continue;
      const outcome = record.outcome;
      this.uncommittedOutcomes.delete(record.event.requestId);
      this.wakeOutcome(record.event.requestId, { status: 'finished', outcome });
    }
    if (this.queueDirty) {
      this.queueDirty = false;
      for (const listener of this.queueListeners) this.safely(listener, 'queue listener');
    }
    // Quiet callbacks run only when nothing new was buffered by the listeners above.
    if (this.records.length === 0 && this.outbox.length === 0) {
      const quiet = this.quiet;
      this.quiet = [];
      this.quietStarved = 0;
      for (const fn of quiet) this.runQuiet(fn);
      this.releaseQuietHold();
      // Another instance's events read while this commit was in flight wait in `foreign`:
      // nothing else may come to fold them in.
      if (this.waiters.length > 0 || this.pendingAcks.size > 0 || this.foreign.length > 0 || this.reloadWanted) this.schedule();
      else if (this.records.length === 0 && this.outbox.length === 0) this.settleDrained();
    } else {
      // Steady commands (a slow store, each commit's wait filled by the next batch) would
      // never leave a quiet point: after a few commits, hold new ones until there is one.
      if (this.quiet.length > 0 && ++this.quietStarved >= QUIET_WITHIN_COMMITS) this.quietHold = true;
      this.schedule();
    }
  }

  /** The quiet callbacks ran (or the host stops): the commands held for them run now. */
  private releaseQuietHold(): void {
    if (!this.quietHold) return;
    this.quietHold = false;
    const held = this.deferred;
    this.deferred = [];
    for (const command of held) this.exec(command);
  }

  private runQuiet(fn: () => void | Promise<void>): void {
    let result: void | Promise<void>;
    try {
      result = fn();
    } catch (error) {
      this.logger.error('quiet callback threw', { error: String((error as Error)?.stack ?? error) });
      return;
    }
    if (!result) return;
    this.holds += 1;
    result
      .catch((error: unknown) => this.logger.error('quiet callback failed', { error: String((error as Error)?.stack ?? error) }))
      .finally(() => {
        this.holds -= 1;
        if (this.holds === 0) this.schedule();
      });
  }

  private settleDrained(): void {
    // After a failed commit nothing more commits: nothing is worth waiting for.
    if (!this.fatal && (this.committing || this.holds > 0)) return;
    for (const fn of this.drained.splice(0)) fn();
  }

  private countEvent(event: SequencedEvent): void {
    const m = this.metrics;
    if (!m) return;
    m.events.inc({ type: event.type });
    if (event.type === 'permission-timeout') m.timeouts.inc();
    else if (event.type === 'permission-cancelled') m.cancellations.inc({ reason: cancelReasonLabel(event.reason) });
    if (event.type === 'permission-timeout') this.logger.debug('permissions', 'timeout', { requestId: event.requestId, seq: event.seq });
  }

  private safely(fn: () => void, what: string): void {
    try {
      fn();
    } catch (error) {
      this.logger.error(`${what} threw`, { error: String((error as Error)?.stack ?? error) });
    }
  }

  private die(error: unknown, why: string): void {
    if (this.fatal) return;
    this.fatal = true;
    this.logger.error(`fatal: ${why}`, { error: String((error as Error)?.message ?? error) });
    this.onFatal(error);
  }

  // ---- following the log (docs/cluster.md) ----------------------------------------

  /** The follower's read: the events, and the request rows their fold needs (origin,
   *  idempotency key, the winner's outcome), handed over with the batch. */
  private async readLog(since: number): ReturnType<EventStore['eventsSince']> {
    const result = await this.store.eventsSince(since);
    if (!result.ok) return result;
    const ids: string[] = [];
    const finished: string[] = [];
    for (const event of result.events) {
      if (event.seq <= this.committedHead) continue; // our own, or folded already
      if (event.type === 'permission-request') ids.push(event.id);
      else if ('requestId' in event) {
        ids.push(event.requestId);
        finished.push(event.requestId);
      }
    }
    const rows = new Map<string, LogRequestRow>();
    const [views, answers] = await Promise.all([
      this.store.getRequests ? this.store.getRequests(ids) : Promise.all(ids.map((id) => this.store.getRequest(id))),
      this.store.clientAnswersFor ? this.store.clientAnswersFor(finished) : Promise.resolve([]),
    ]);
    for (const view of views) if (view) rows.set(view.id, rowOf(view));
    this.followedRows = rows;
    this.followedAnswers = answers;
    return result;
  }

  private onFollowed(events: readonly SequencedEvent[]): void {
    const rows = this.followedRows;
    const clientAnswers = this.followedAnswers;
    this.followedRows = new Map();
    this.followedAnswers = [];
    if (this.stopped || this.fatal) return;
    this.foreign.push({ events, rows, clientAnswers });
    this.schedule();
  }

  /** Folds the queued foreign events into the broker (state equals the committed log
   *  here: nothing buffered, nothing in flight) and relays them. False when it could not
   *  (a gap: the store is reloaded instead). */
  private applyForeign(): boolean {
    const batches = this.foreign;
    this.foreign = [];
    const events: SequencedEvent[] = [];
    const rows = new Map<string, LogRequestRow>();
    const clientAnswers: ClientAnswerRecord[] = [];
    for (const batch of batches) {
      clientAnswers.push(...batch.clientAnswers);
      // Events at or below the head were relayed already (our own commits, or a reload).
      for (const event of batch.events) if (event.seq > Math.max(this.committedHead, events[events.length - 1]?.seq ?? 0)) events.push(event);
      for (const [id, row] of batch.rows) rows.set(id, row);
    }
    if (events.length === 0) return true;
    if (events[0]?.seq !== this.committedHead + 1 || events.some((e, i) => e.seq !== this.committedHead + 1 + i)) {
      this.logger.warn('log follower handed a gap: reloading from the store', { head: this.committedHead, first: events[0]?.seq });
      void this.rebuild(undefined);
      return false;
    }
    const last = events[events.length - 1]?.seq ?? this.committedHead;
    this.actor.send({ type: 'log.applied', at: this.now(), events, rows, clientAnswers });
    // The broker emitted the foreign events first, then perhaps its own (a timeout of a
    // request already past its deadline), which stay buffered for the next commit.
    const cut = this.outbox.findIndex((e) => e.seq > last);
    const relayed = cut === -1 ? this.outbox : this.outbox.slice(0, cut);
    this.outbox = cut === -1 ? [] : this.outbox.slice(cut);
    this.deliverLog(relayed);
    return true;
  }

  /** Relays events another instance committed: sockets, long-polls and agents learn them. */
  private deliverLog(events: readonly SequencedEvent[]): void {
    const last = events[events.length - 1];
    if (last === undefined) return;
    this.committedHead = last.seq;
    for (const listener of this.committedListeners) this.safely(() => listener(events, 'log'), 'committed listener');
    const recent = this.actor.getSnapshot().context.recent;
    for (const event of events) {
      if (!('requestId' in event)) continue;
      const finished = recent.get(event.requestId);
      if (finished) this.wakeOutcome(event.requestId, { status: 'finished', outcome: finished.outcome });
    }
    if (this.queueDirty) {
      this.queueDirty = false;
      for (const listener of this.queueListeners) this.safely(listener, 'queue listener');
    }
    this.wakeHead();
  }

  /**
   * A lost seq race (or a gap): the broker's memory is ahead of the log on a stale head.
   * Nothing of the lost ticks was stored, relayed or answered, so they are dropped; a new
   * broker is loaded from the store (the committed state, other instances' events
   * included), those events are relayed, the connected clients' marks told to it, and
   * the lost ticks' commands run again against it: a decision whose request the other
   * instance resolved now answers `already-resolved` naming the winner; a create is
   * numbered afresh.
   */
  private async rebuild(lost: InFlight | undefined): Promise<void> {
    if (this.rebuilding || this.fatal || this.stopped) return;
    this.rebuilding = true;
    this.reloadWanted = false; // this reload serves it
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    const commands = [...(lost?.commands ?? []), ...this.commands];
    const kept = [...(lost?.waiters ?? []), ...this.waiters].filter((w) => !w.command);
    this.records = [];
    this.outbox = [];
    this.waiters = [];
    this.commands = [];
    this.foreign = [];
    this.hasDecision = false;
    this.uncommittedOutcomes.clear();
    const old = this.actor;
    this.generation += 1; // the old actor's effects are ignored from here
    old.stop();
    try {
      const loaded = await this.store.load({
        now: this.now(),
        ...(this.brokerOptions.recentLimit !== undefined ? { recentLimit: this.brokerOptions.recentLimit } : {}),
      });
      const read = loaded.headSeq > this.committedHead ? await this.store.eventsSince(this.committedHead) : { ok: true as const, events: [] };
      if (this.stopped || this.fatal) {
        // Stopped (or failed) while loading: the commands are not run again; their callers
        // are refused, and the kept waiters told, as stop() tells its own.
        this.rebuilding = false;
        if (!this.fatal) for (const waiter of kept) this.safely(waiter, 'waiter');
        this.refuseUnanswered();
        return;
      }
      const missed = read.ok ? read.events.filter((e) => e.seq <= loaded.headSeq) : [];
      if (!read.ok) this.logger.error('catching up: the events to relay were pruned; clients of this instance may miss some', { since: this.committedHead });
      this.weights.clear();
      this.weightTotal = 0;
      for (const request of loaded.unresolved) this.weigh(request.id, request);
      const cluster = this.brokerOptions.cluster;
      this.actor = this.startActor({ ...loaded, requestActors: this.brokerOptions.requestActors, ...(cluster ? { cluster } : {}) });
      const at = this.now();
      for (const [clientId, mark] of this.clientMarks) {
        this.actor.send({ type: 'client.connect', at, clientId, label: mark.label });
        if (mark.acked > 0) this.actor.send({ type: 'client.ack', at, clientId, seq: mark.acked });
      }
      if (this.sentUpTo > 0) this.actor.send({ type: 'request.sent', at, upToSeq: Math.min(this.sentUpTo, loaded.headSeq) });
      // Whatever the new broker did on start (timeouts of requests past their deadline)
      // follows the loaded head; the relay of what other instances committed comes first.
      const own = this.outbox;
      this.outbox = [];
      this.follower?.advanceTo(loaded.headSeq);
      this.follower?.resume(); // after a too-old, it waited for this reload
      this.deliverLog(missed.length > 0 ? missed : []);
      this.committedHead = loaded.headSeq;
      this.wakeHead();
      this.outbox = own;
      this.queueDirty = true;
    } catch (error) {
      this.rebuilding = false;
      this.die(error, 'catching up from the store failed');
      this.settleDrained();
      return;
    }
    this.rebuilding = false;
    this.waiters.push(...kept);
    const deferred = this.deferred;
    this.deferred = [];
    for (const command of [...commands, ...deferred]) this.exec(command);
    this.schedule();
  }

  private announce(from: number, to: number): void {
    if (!this.bus) return;
    try {
      this.bus.announce({ epoch: this.epoch, from, to });
    } catch (error) {
      // The others poll: a lost announcement only delays them.
      this.logger.debug('store', 'announce failed', { error: String(error) });
    }
  }

  private wakeHead(): void {
    if (this.headWaiters.length === 0) return;
    const head = this.committedHead;
    const still: Array<{ seq: number; resolve: () => void }> = [];
    for (const waiter of this.headWaiters) {
      if (waiter.seq <= head) waiter.resolve();
      else still.push(waiter);
    }
    this.headWaiters = still;
  }

  /**
   * Catches up with the shared log: resolves once this instance has folded and relayed
   * everything the store held when it was called (at once without a follower, or when
   * already there). Before "unknown request" or a resume past this instance's head is
   * answered (docs/cluster.md): a client may have come from another instance. Bounded by
   * `withinMs`: a store that does not answer leaves the caller with what it has.
   */
  async catchUp(withinMs = 5_000): Promise<void> {
    if (!this.follower || this.stopped || this.fatal) return;
    const target = await this.store.head();
    if (target <= this.committedHead) return;
    this.follower.notify(target);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, withinMs);
      timer.unref();
      this.headWaiters.push({
        seq: target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      this.wakeHead();
    });
  }

  /** Whether this host follows a shared log (several instances). */
  get following(): boolean {
    return this.follower !== undefined;
  }

  /** Whether the broker knows the id (unresolved or recently finished). */
  private knows(requestId: string): boolean {
    const context = this.actor.getSnapshot().context;
    return context.unresolved.has(requestId) || context.recent.has(requestId);
  }

  // ---- commands ------------------------------------------------------------------

  /** Throws when the host cannot take a command (stopping, stopped, or failed). */
  private ready(): void {
    if (this.stopped || this.fatal || (!this.rebuilding && this.actor.getSnapshot().status !== 'active')) throw new HostStoppedError();
  }

  /** Resolves after the tick's commit (and relay). */
  private afterCommit<T>(value: T): Promise<T> {
    return new Promise<T>((resolve) => {
      this.waiters.push(() => resolve(value));
      this.schedule();
    });
  }

  /** Send a command with a reply; its answer, after the commit of the tick that holds it. */
  private ask<A>(send: (reply: Reply<A>) => void): Promise<A> {
    return new Promise<A>((resolve, reject) => {
      const refuse = (error: Error) => reject(error);
      this.unanswered.add(refuse);
      const reply: Reply<A> = (answer) => {
        const waiter: Waiter = () => {
          this.unanswered.delete(refuse);
          resolve(answer);
        };
        waiter.command = true;
        this.waiters.push(waiter);
        this.schedule();
      };
      this.exec(() => send(reply));
    });
  }

  /** After the host stopped: every command caller not answered is refused, none waits
   *  forever (a stop during a reload, a failed commit: their answers are on no disk). */
  private refuseUnanswered(): void {
    const unanswered = [...this.unanswered];
    this.unanswered.clear();
    for (const refuse of unanswered) refuse(new HostStoppedError());
  }

  /** Runs a command against the broker, kept with its tick so that a lost seq race can
   *  run it again (its reply is then given afresh; the first one is discarded unsent). */
  private exec(command: () => void): void {
    if (this.rebuilding || this.quietHold) {
      this.deferred.push(command);
      return;
    }
    this.commands.push(command);
    command();
  }

  /** `ask`, after an await: refused when the host stopped meanwhile. */
  private askLive<A>(send: (reply: Reply<A>) => void): Promise<A> {
    if (this.stopped || this.fatal) return Promise.reject(new HostStoppedError());
    return this.ask(send);
  }

  /** Refuses a create beyond the bounds, before anything is stored. A create with an
   *  idempotency key the broker knows stores nothing either (it answers `existing` or
   *  `conflict`), so it is never refused: a retried create still finds its request. */
  private admit(args: CreateArgs, bytes: number): void {
    if (args.idempotencyKey !== undefined && this.actor.getSnapshot().context.idempotency.has(args.idempotencyKey)) return;
    const { maxUnresolved, maxUnresolvedBytes } = this.limits;
    if (this.weights.size >= maxUnresolved) {
      this.metrics?.createRefusals.inc({ limit: 'count' });
      throw new TooManyRequestsError(`too many unresolved requests (${this.weights.size}, at most ${maxUnresolved}): decide or cancel some first`);
    }
    if (this.weightTotal + bytes > maxUnresolvedBytes) {
      this.metrics?.createRefusals.inc({ limit: 'bytes' });
      throw new TooManyRequestsError(
        `the unresolved requests would hold ${this.weightTotal + bytes} bytes of input and context (at most ${maxUnresolvedBytes}): decide or cancel some first`,
      );
    }
  }

  /** The unresolved requests as the limits count them. */
  unresolvedLoad(): { count: number; bytes: number } {
    return { count: this.weights.size, bytes: this.weightTotal };
  }

  /** Throws TooManyRequestsError beyond the limits (nothing stored) and HostStoppedError
   *  when stopping or draining; callers turn both into an answer (HTTP 429/503, an
   *  agent's deny). */
  create(args: CreateArgs): Promise<HostCreateAnswer> {
    const request: CreateRequestSpec = {
      id: args.id ?? uuidv7(this.now()),
      toolName: args.toolName,
      input: args.input,
      context: args.context ?? {},
      timeoutMs: args.timeoutMs,
    };
    this.ready();
    if (this.draining) throw new HostStoppedError();
    const bytes = args.bytes ?? requestByteLength(request);
    this.admit(args, bytes);
    const event: Extract<BrokerEvent, { type: 'request.create' }> = { type: 'request.create', at: this.now(), request, origin: args.origin };
    if (args.idempotencyKey !== undefined) event.idempotencyKey = args.idempotencyKey;
    if (args.bodyHash !== undefined) event.bodyHash = args.bodyHash;
    const send = (reply: Reply<CreateAnswer>) => {
      // The broker emits the request's event within this send, and `track` weighs it.
      this.creating = { id: request.id, bytes };
      try {
        this.actor.send({ ...event, reply });
      } finally {
        this.creating = undefined;
      }
    };
    return this.ask<CreateAnswer>(send).then((answer): HostCreateAnswer => {
      if (answer.status === 'refused') throw new HostStoppedError(answer.message);
      if (answer.status === 'created') {
        this.metrics?.requestsCreated.inc({ origin: args.origin });
        this.logger.debug('permissions', 'request', { id: answer.id, seq: answer.seq, tool: args.toolName, origin: args.origin });
      }
      return answer;
    });
  }

  /** Every decision goes through here (server/decisions.ts): its `remember` is checked
   *  first (RememberRefusedError, nothing decided), and once the answer is committed an
   *  accepted first-time decision makes its rule and is told to every observer. */
  decide(args: DecideArgs): Promise<DecideResult> {
    this.ready();
    const rememberRequest: RememberRequest | undefined =
      args.remember === undefined
        ? undefined
        : {
            requestId: args.requestId,
            decision: args.decision,
            decidedBy: args.decidedBy,
            remember: args.remember,
            ...(args.updatedInput !== undefined ? { updatedInput: args.updatedInput } : {}),
          };
    const gate = this.rememberGate;
    const refusal = rememberRequest && gate ? gate.checkRemember(rememberRequest) : undefined;
    if (refusal !== undefined) throw new RememberRefusedError(refusal);
    const event: Extract<BrokerEvent, { type: 'permission.decide' }> = {
      type: 'permission.decide',
      at: this.now(),
      requestId: args.requestId,
      decision: args.decision,
      decidedBy: args.decidedBy,
    };
    if (args.updatedInput !== undefined) event.updatedInput = args.updatedInput;
    if (args.message !== undefined) event.message = args.message;
    if (args.clientMsgId !== undefined) event.clientMsgId = args.clientMsgId;
    const send = (reply: Reply<{ answer: DecisionAnswer; replayed: boolean }>) => {
      // The broker persists the outcome synchronously within this send.
      const from = this.records.length;
      this.actor.send({ ...event, reply });
      this.attachAuditFacts(from, args);
    };
    // A request another instance made and this one has not folded yet: catch up first, so
    // that "unknown request" is never the answer to a request the log holds.
    const asked = this.follower && !this.knows(args.requestId) ? this.catchUp().then(() => this.askLive(send)) : this.ask(send);
    return asked.then(async ({ answer, replayed }) => {
      if (!replayed) {
        if (answer.status === 'accepted') this.metrics?.decisions.inc({ decision: args.decision, via: decisionChannelLabel(args.via) });
        else this.metrics?.decisionRejections.inc({ code: answer.code });
      }
      this.logger.debug('permissions', 'decision', {
        requestId: args.requestId,
        decision: args.decision,
        by: args.decidedBy,
        result: answer.status === 'accepted' ? 'accepted' : answer.code,
        replayed: replayed || undefined,
      });
      const result: DecideResult = { answer, replayed };
      if (answer.status !== 'accepted' || replayed) return result;
      // The rule may be stored asynchronously (PostgreSQL): the answer waits for it, so it
      // says `created` only for a stored rule. The decision itself is committed and
      // relayed already; only this caller's answer waits (SPEC.md TEAM-G1).
      if (rememberRequest && gate) result.remember = await this.applyRemember(gate, rememberRequest);
      this.tellObservers(args);
      return result;
    });
  }

  /** The audit's "who" rides on the decision's outcome record, so the store writes the
   *  audit row in the commit that holds the decision (SPEC.md CORE-L2). Only a decision
   *  this call made has a `permission-resolved` record of its request after `from`. */
  private attachAuditFacts(from: number, args: DecideArgs): void {
    const facts: AuditFacts = {
      via: args.via,
      ...(args.address !== undefined ? { address: args.address } : {}),
      ...(args.device !== undefined ? { device: { id: args.device.id, name: args.device.name } } : {}),
      ...(args.agentChoice !== undefined ? { agentChoice: { id: args.agentChoice.id, kind: args.agentChoice.kind, label: args.agentChoice.label } } : {}),
    };
    for (let i = from; i < this.records.length; i++) {
      const record = this.records[i];
      if (record?.kind === 'event' && record.event.type === 'permission-resolved' && record.event.requestId === args.requestId) {
        this.records[i] = { ...record, audit: facts };
        return;
      }
    }
  }

  private async applyRemember(gate: RememberGate, request: RememberRequest): Promise<RememberOutcome> {
    try {
      return await gate.applyRemember(request);
    } catch (error) {
      this.logger.error('remember failed', { requestId: request.requestId, error: String(error) });
      return { created: false, reason: 'internal error while making the rule' };
    }
  }

  private tellObservers(args: DecideArgs): void {
    const info: Parameters<DecisionObserver>[0] = { requestId: args.requestId, decision: args.decision, decidedBy: args.decidedBy, via: args.via };
    if (args.address !== undefined) info.address = args.address;
    if (args.device !== undefined) info.device = args.device;
    if (args.remember !== undefined) info.remember = args.remember;
    for (const observer of this.decisionObservers) this.safely(() => observer(info), 'decision observer');
  }

  cancel(args: CancelArgs): Promise<CancelAnswer> {
    this.ready();
    const event: Extract<BrokerEvent, { type: 'request.cancel' }> = {
      type: 'request.cancel',
      at: this.now(),
      requestId: args.requestId,
      reason: args.reason,
      cancelledBy: args.cancelledBy,
    };
    const send = (reply: Reply<CancelAnswer>) => this.actor.send({ ...event, reply });
    const asked = this.follower && !this.knows(args.requestId) ? this.catchUp().then(() => this.askLive(send)) : this.ask(send);
    return asked.then((answer) => {
      this.logger.debug('permissions', 'cancel', { requestId: args.requestId, reason: args.reason, result: answer.status });
      return answer;
    });
  }

  /** Chat traffic: sequenced in the same stream; resolves with the stored event. */
  append(event: AppendableEvent): Promise<SequencedEvent> {
    try {
      this.ready();
    } catch (error) {
      return Promise.reject(error);
    }
    const at = this.now();
    return this.ask<SequencedEvent>((reply) => this.actor.send({ type: 'stream.append', at, event, reply }));
  }

  /**
   * Wait for a request's committed outcome: at once when it is already committed, else
   * at the commit of its outcome event; or until `timeoutMs` (on the host's clock),
   * `signal` aborts, or the server drains or stops. The one way to await an outcome
   * (long-polls, the agents' permission gate).
   */
  awaitOutcome(requestId: string, options: AwaitOptions = {}): Promise<AwaitedOutcome> {
    // A request another instance made, not folded here yet: catch up before "unknown".
    if (this.follower && !this.stopped && !this.fatal && !this.knows(requestId)) {
      return this.catchUp().then(() => this.awaitKnown(requestId, options));
    }
    return this.awaitKnown(requestId, options);
  }

  private awaitKnown(requestId: string, options: AwaitOptions): Promise<AwaitedOutcome> {
    if (this.stopped || this.fatal) return Promise.resolve({ status: 'waiting', reason: 'shutdown' });
    const context = this.actor.getSnapshot().context;
    if (!context.unresolved.has(requestId)) {
      const finished = context.recent.get(requestId);
      if (!finished) return Promise.resolve({ status: 'unknown' });
      // Decided this tick: answered at its commit, like any other.
      if (!this.uncommittedOutcomes.has(requestId)) return Promise.resolve({ status: 'finished', outcome: finished.outcome });
    }
    if (this.draining) return Promise.resolve({ status: 'waiting', reason: 'shutdown' });
    if (options.signal?.aborted) return Promise.resolve({ status: 'waiting', reason: 'aborted' });
    return new Promise<AwaitedOutcome>((resolve) => {
      let set = this.outcomeWaiters.get(requestId);
      if (!set) {
        set = new Set();
        this.outcomeWaiters.set(requestId, set);
      }
      const waiters = set;
      let timer: unknown;
      const onAbort = () => waiter.wake({ status: 'waiting', reason: 'aborted' });
      const waiter: OutcomeWaiter = {
        wake: (result) => {
          if (timer !== undefined) this.timers.clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          waiters.delete(waiter);
          if (waiters.size === 0 && this.outcomeWaiters.get(requestId) === waiters) this.outcomeWaiters.delete(requestId);
          resolve(result);
        },
      };
      waiters.add(waiter);
      if (options.timeoutMs !== undefined) {
        timer = this.timers.setTimeout(() => waiter.wake({ status: 'waiting', reason: 'timeout' }), Math.max(0, options.timeoutMs));
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wakeOutcome(requestId: string, result: AwaitedOutcome): void {
    const set = this.outcomeWaiters.get(requestId);
    if (!set) return;
    for (const waiter of [...set]) waiter.wake(result);
  }

  private wakeAllOutcomes(result: AwaitedOutcome): void {
    for (const set of [...this.outcomeWaiters.values()]) for (const waiter of [...set]) waiter.wake(result);
  }

  /** How many `awaitOutcome` calls are waiting. */
  get outcomeWaits(): number {
    let count = 0;
    for (const set of this.outcomeWaiters.values()) count += set.size;
    return count;
  }

  // ---- follow-ups of a decision (server/decisions.ts) -------------------------------

  /** Run after each accepted first-time decision is committed, whatever its transport. */
  onDecided(observer: DecisionObserver): () => void {
    this.decisionObservers.add(observer);
    return () => this.decisionObservers.delete(observer);
  }

  /** The rule engine: checks a decision's `remember` before it and makes its rule after. */
  setRememberGate(gate: RememberGate | undefined): void {
    this.rememberGate = gate;
  }

  // ---- client messages ---------------------------------------------------------------

  connect(clientId: string, label: string): void {
    const mark = this.clientMarks.get(clientId);
    if (mark) mark.label = label;
    else this.clientMarks.set(clientId, { label, acked: 0 });
    this.tell({ type: 'client.connect', at: this.now(), clientId, label });
  }

  disconnect(clientId: string): void {
    this.applyAcks();
    this.clientMarks.delete(clientId);
    this.tell({ type: 'client.disconnect', at: this.now(), clientId });
  }

  /** Acks are cumulative, so only a client's highest one of a tick matters: with many
   *  clients each acking every event, one broker step per client per tick instead of
   *  one per frame (each is a full XState step). */
  ack(clientId: string, seq: number): void {
    if (this.stopped || this.fatal) return;
    const before = this.pendingAcks.get(clientId);
    if (before === undefined || seq > before) this.pendingAcks.set(clientId, seq);
    this.schedule();
  }

  private applyAcks(): void {
    if (this.pendingAcks.size === 0) return;
    const acks = this.pendingAcks;
    this.pendingAcks = new Map();
    const at = this.now();
    for (const [clientId, seq] of acks) {
      const mark = this.clientMarks.get(clientId);
      if (mark && seq > mark.acked) mark.acked = seq;
      this.tell({ type: 'client.ack', at, clientId, seq });
    }
  }

  /** Every event up to `upToSeq` is on at least one socket. */
  markSent(upToSeq: number): void {
    if (upToSeq > this.sentUpTo) this.sentUpTo = upToSeq;
    this.tell({ type: 'request.sent', at: this.now(), upToSeq });
  }

  private tell(event: BrokerEvent): void {
    if (this.stopped || this.fatal || this.rebuilding) return; // a rebuilt broker is told the clients' marks
    this.actor.send(event);
  }

  /** The broker's own state: `restoring`, `serving`, `draining` or `stopped`. */
  brokerState(): string {
    const value = this.actor.getSnapshot().value;
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  // ---- reads and subscriptions -----------------------------------------------------

  /** Seq of the last committed and relayed event. */
  head(): number {
    return this.committedHead;
  }

  queueStatus(): { pending: number; processing: number } {
    return queueStatusOf(this.actor.getSnapshot());
  }

  /** Whether a connected screen holds this unresolved request (its seq is at or below a
   *  connected client's highest ack, counting this tick's acks); `undefined` when it is
   *  not unresolved. What Web Push asks before pushing (server/push/notifier.ts). */
  isHeld(requestId: string): boolean | undefined {
    if (this.stopped || this.fatal) return undefined;
    this.applyAcks();
    return isHeldByConnectedClient(this.actor.getSnapshot(), requestId);
  }

  /** Where an unresolved request is on its way to a screen (the request actor's state):
   *  `pending` (on no socket), `sent` (written to at least one), `acked` (a screen holds
   *  it), counting this tick's acks; `undefined` when it is not unresolved. */
  delivery(requestId: string): DeliveryState | undefined {
    if (this.stopped || this.fatal) return undefined;
    this.applyAcks();
    return deliveryOf(this.actor.getSnapshot(), requestId);
  }

  /** An unresolved request's context, from memory and at once (`undefined` when it is not
   *  unresolved): what a decision's `agentChoice` is checked against in the same step as
   *  the decide, so no await lets a later decision overtake it (server/agentChoiceBook.ts). */
  unresolvedContext(requestId: string): PermissionRequestEvent['context'] | undefined {
    if (this.stopped || this.fatal) return undefined;
    return this.actor.getSnapshot().context.unresolved.get(requestId)?.event.context;
  }

  /** `permission-request` events of every unresolved request, oldest first. Read it
   *  inside `whenQuiet` to match the committed head. */
  unresolvedEvents(): PermissionRequestEvent[] {
    return unresolvedRequestEventsOf(this.actor.getSnapshot());
  }

  /** Events of each committed tick, in order, after the commit. */
  onCommitted(listener: CommittedListener): () => void {
    this.committedListeners.add(listener);
    return () => this.committedListeners.delete(listener);
  }

  /** The queue status may have changed (after the tick's commit): coalesce, then read. */
  onQueueChanged(listener: () => void): () => void {
    this.queueListeners.add(listener);
    return () => this.queueListeners.delete(listener);
  }

  /** Run `fn` when the actor's state equals the committed, relayed stream; when it returns
   *  a promise, no commit starts until that settles. */
  whenQuiet(fn: () => void | Promise<void>): void {
    if (
      !this.scheduled &&
      !this.committing &&
      !this.rebuilding &&
      this.foreign.length === 0 &&
      this.holds === 0 &&
      this.records.length === 0 &&
      this.outbox.length === 0
    ) {
      this.runQuiet(fn);
      return;
    }
    this.quiet.push(fn);
    this.schedule();
  }

  /** Resolves after the current tick's commit (or at once when nothing is buffered). */
  settle(): Promise<void> {
    return this.afterCommit(undefined);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Shutdown begins: the broker drains (creates are refused with HostStoppedError,
   *  decisions, cancels and deadlines still run) and every `awaitOutcome` is woken with
   *  `shutdown`. Resolves once the woken callers have run (they read the store next). */
  drain(): Promise<void> {
    if (!this.draining && !this.stopped && !this.fatal) {
      this.draining = true;
      this.tell({ type: 'broker.drain', at: this.now() });
    }
    this.wakeAllOutcomes({ status: 'waiting', reason: 'shutdown' });
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** Commit what is buffered, then take the broker to its final state (its request
   *  actors and timers stop with it); resolves once the last commit is done (or failed). */
  stop(): Promise<void> {
    if (this.stopped) return this.stopping ?? Promise.resolve();
    this.offBus?.();
    void this.follower?.stop();
    for (const waiter of this.headWaiters.splice(0)) waiter.resolve();
    this.releaseQuietHold();
    this.flush();
    this.wakeAllOutcomes({ status: 'waiting', reason: 'shutdown' });
    if (this.actor.getSnapshot().status === 'active') this.tell({ type: 'broker.stop', at: this.now() });
    this.stopped = true;
    this.actor.stop();
    this.stopping = new Promise<void>((resolve) => {
      this.drained.push(() => {
        // Anything the actor did while stopping is not committed; callers still waiting are
        // told. After a failed commit they are not: their answers are on no disk.
        const waiters = this.waiters.splice(0);
        if (!this.fatal) for (const waiter of waiters) this.safely(waiter, 'waiter');
        if (!this.rebuilding) this.refuseUnanswered(); // else the reload refuses them when its load returns
        resolve();
      });
      if (this.fatal || (!this.committing && this.holds === 0 && this.records.length === 0)) this.settleDrained();
    });
    return this.stopping;
  }
}

/** The store's SeqConflictError (postgresStore.ts), told by its code. */
function isSeqConflict(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'seq-conflict';
}

/** What the broker's fold needs of a request row. */
function rowOf(view: StoredRequestView): LogRequestRow {
  const row: LogRequestRow = { origin: view.origin };
  if (view.idempotencyKey !== undefined) row.idempotencyKey = view.idempotencyKey;
  if (view.bodyHash !== undefined) row.bodyHash = view.bodyHash;
  if (view.status !== 'pending') {
    const outcome: Outcome = {
      status: view.status,
      decision: view.decision ?? 'deny',
      decidedBy: view.decidedBy ?? 'unknown',
      decidedAt: view.decidedAt ?? view.createdAt,
    };
    if (view.updatedInput !== undefined) outcome.updatedInput = view.updatedInput;
    if (view.message !== undefined) outcome.message = view.message;
    if (view.reason !== undefined) outcome.reason = view.reason;
    row.outcome = outcome;
  }
  return row;
}

/** A create beyond `--max-unresolved` / `--max-unresolved-bytes`: nothing was stored. */
export class TooManyRequestsError extends Error {
  override name = 'TooManyRequestsError';
  readonly code = 'too-many-requests' as const;
}

export class HostStoppedError extends Error {
  override name = 'HostStoppedError';
  constructor(message = 'the server is stopping') {
    super(message);
  }
}
