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
 * asynchronous), no commit starts until it settles: the point stays quiet.
 */
import { createActor, type AnyActorRef, type InspectionEvent, type Observer } from 'xstate';

/** XState's clock interface (not exported by name from 'xstate'). */
export type Clock = { setTimeout(fn: (...args: unknown[]) => void, timeout: number): unknown; clearTimeout(id: unknown): void };
import { brokerMachine, type BrokerContext } from '../machines/broker.machine.ts';
import { createBrokerClient, type BrokerClient } from '../machines/brokerClient.ts';
import { isHeldByConnectedClient, queueStatusOf, unresolvedRequestEventsOf } from '../machines/selectors.ts';
import type {
  AppendableEvent,
  BrokerEmitted,
  BrokerEvent,
  BrokerInput,
  CancelAnswer,
  CreateAnswer,
  CreateRequestSpec,
  DecisionAnswer,
  PersistRecord,
  RequestOrigin,
} from '../machines/broker.types.ts';
import { requestByteLength, uuidv7, type Decision, type PermissionRequestEvent, type SequencedEvent } from '../protocol/index.ts';
import type { FaultSwitch } from './fault.ts';
import type { Logger } from './log.ts';
import { cancelReasonLabel, decisionChannelLabel, type Metrics } from './metrics.ts';
import type { AuditFacts, CommitRecord, EventStore } from './store/types.ts';

export type DecideArgs = {
  requestId: string;
  decision: Decision;
  updatedInput?: Record<string, unknown>;
  message?: string;
  decidedBy: string;
  clientMsgId?: string;
  /** For metrics, logs and the audit row: ws, http, rule, agent. */
  via?: string;
  /** For the audit row: the deciding peer's address, when known. */
  address?: string;
  /** For the audit row: the device that decided (its cookie authenticated the call). */
  device?: { id: string; name: string };
};

export type DecideResult = { answer: DecisionAnswer; replayed: boolean };

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
};

export type CancelArgs = { requestId: string; reason: string; cancelledBy: string };

export type CommittedListener = (events: readonly SequencedEvent[]) => void;

export type BrokerHostOptions = {
  store: EventStore;
  logger: Logger;
  metrics?: Metrics;
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
};

export type UnresolvedLimits = { maxUnresolved: number; maxUnresolvedBytes: number };

type Waiter = () => void;

export class BrokerHost {
  readonly epoch: string;
  private readonly actor: AnyActorRef;
  private readonly store: EventStore;
  private readonly logger: Logger;
  private readonly metrics?: Metrics;
  private readonly now: () => number;
  private readonly fault: FaultSwitch;
  private readonly onFatal: (error: unknown) => void;

  private records: CommitRecord[] = [];
  private outbox: SequencedEvent[] = [];
  private waiters: Waiter[] = [];
  private quiet: Array<() => void> = [];
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
  /** Synchronous create/decide/cancel with their answers (the machines' own facade). */
  private readonly client: BrokerClient;
  private readonly committedListeners = new Set<CommittedListener>();
  private readonly queueListeners = new Set<() => void>();
  private readonly limits: UnresolvedLimits;
  /** Each unresolved request's weight (requestByteLength), kept from the event stream. */
  private readonly weights = new Map<string, number>();
  private weightTotal = 0;

  /** Loads the store (asynchronously), then starts the broker from it. */
  static async open(options: BrokerHostOptions): Promise<BrokerHost> {
    const now = options.now ?? (options.clock?.now ? () => options.clock!.now!() : Date.now);
    const input = await options.store.load({ now: now(), recentLimit: options.recentLimit });
    return new BrokerHost(options, input);
  }

  /** `input`: what the store loaded (`BrokerHost.open` reads it). */
  constructor(options: BrokerHostOptions, input: BrokerInput) {
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
    this.now = options.now ?? (clock?.now ? () => clock.now!() : Date.now);

    this.epoch = input.epoch;
    this.committedHead = input.headSeq;
    this.limits = options.limits ?? { maxUnresolved: Number.POSITIVE_INFINITY, maxUnresolvedBytes: Number.POSITIVE_INFINITY };
    for (const request of input.unresolved) this.weigh(request.id, request);

    const machine = brokerMachine.provide({
      actions: {
        persist: (_: unknown, record: PersistRecord) => this.onPersist(record),
      },
    } as never);
    this.actor = createActor(machine, {
      input,
      ...(clock ? { clock } : {}),
      ...(options.inspect ? { inspect: options.inspect } : {}),
    } as never) as unknown as AnyActorRef;

    this.client = createBrokerClient(this.actor as never);
    this.actor.on('*', (emitted: BrokerEmitted) => this.onEmitted(emitted));
    this.actor.subscribe({
      error: (error: unknown) => this.die(error, 'broker actor failed'),
    });
    this.actor.start();

    if (options.cancelOrphans !== false) {
      for (const request of input.unresolved) {
        if (request.origin !== 'agent') continue;
        // The agent that asked lived inside the dead process: nobody waits for this answer.
        void this.cancel({ requestId: request.id, reason: 'server-restart', cancelledBy: 'server' });
      }
    }
    this.logger.debug('permissions', 'broker started', {
      epoch: this.epoch,
      head: input.headSeq,
      unresolved: input.unresolved.length,
    });
  }

  // ---- effects from the actor ----------------------------------------------------

  private onPersist(record: PersistRecord): void {
    if (this.stopped) {
      this.logger.warn('record after stop ignored', { kind: record.kind });
      return;
    }
    this.records.push(record);
    if (record.kind === 'event' && record.event.type === 'permission-resolved') this.hasDecision = true;
    this.schedule();
  }

  private weigh(id: string, request: { input: unknown; context?: unknown }): void {
    if (this.weights.has(id)) return;
    const bytes = requestByteLength(request);
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
      case 'create.answer':
      case 'decision.answer':
      case 'cancel.answer':
        return; // taken by `this.client`

      default: {
        const never: never = emitted;
        this.logger.warn('unknown broker emission', { type: (never as { type: string }).type });
      }
    }
  }

  private schedule(): void {
    if (this.scheduled || this.fatal) return;
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
    if (this.fatal || this.committing || this.holds > 0) return;
    this.applyAcks();
    const records = this.records;
    const events = this.outbox;
    const waiters = this.waiters;
    const hadDecision = this.hasDecision;
    this.records = [];
    this.outbox = [];
    this.waiters = [];
    this.hasDecision = false;

    if (records.length === 0) {
      this.deliver(events, waiters);
      return;
    }
    if (hadDecision) this.fault('during-decision-store');
    const started = process.hrtime.bigint();
    this.committing = true;
    let commit: Promise<void>;
    try {
      commit = this.store.writeBatch(records);
    } catch (error) {
      commit = Promise.reject(error);
    }
    commit.then(
      () => {
        this.committing = false;
        this.metrics?.persistSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        this.metrics?.persistBatchSize.observe(records.length);
        for (const record of records) if (record.kind === 'event') this.countEvent(record.event);
        this.fault('after-persist-before-send');
        this.deliver(events, waiters);
      },
      (error: unknown) => {
        this.committing = false;
        this.die(error, 'commit failed');
        this.settleDrained();
      },
    );
  }

  /** After the commit: relay the tick's events, answer its callers, then quiet callbacks. */
  private deliver(events: readonly SequencedEvent[], waiters: readonly Waiter[]): void {
    if (events.length > 0) {
      this.committedHead = events[events.length - 1]?.seq ?? this.committedHead;
      for (const listener of this.committedListeners) this.safely(() => listener(events), 'committed listener');
      this.fault('after-send-before-ack');
    }
    for (const waiter of waiters) this.safely(waiter, 'waiter');
    if (this.queueDirty) {
      this.queueDirty = false;
      for (const listener of this.queueListeners) this.safely(listener, 'queue listener');
    }
    // Quiet callbacks run only when nothing new was buffered by the listeners above.
    if (this.records.length === 0 && this.outbox.length === 0) {
      const quiet = this.quiet;
      this.quiet = [];
      for (const fn of quiet) this.runQuiet(fn);
      if (this.waiters.length > 0 || this.pendingAcks.size > 0) this.schedule();
      else if (this.records.length === 0 && this.outbox.length === 0) this.settleDrained();
    } else {
      this.schedule();
    }
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
    if (this.committing || this.holds > 0) return;
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

  // ---- commands ------------------------------------------------------------------

  private ready(): BrokerClient {
    if (this.stopped || this.fatal) throw new HostStoppedError();
    return this.client;
  }

  /** Resolves after the tick's commit (and relay). */
  private afterCommit<T>(value: T): Promise<T> {
    return new Promise<T>((resolve) => {
      this.waiters.push(() => resolve(value));
      this.schedule();
    });
  }

  /** Refuses a create beyond the bounds, before anything is stored. A create with an
   *  idempotency key the broker knows stores nothing either (it answers `existing` or
   *  `conflict`), so it is never refused: a retried create still finds its request. */
  private admit(args: CreateArgs, request: CreateRequestSpec): void {
    if (args.idempotencyKey !== undefined && (this.actor.getSnapshot().context as BrokerContext).idempotency.has(args.idempotencyKey)) return;
    const { maxUnresolved, maxUnresolvedBytes } = this.limits;
    if (this.weights.size >= maxUnresolved) {
      this.metrics?.createRefusals.inc({ limit: 'count' });
      throw new TooManyRequestsError(`too many unresolved requests (${this.weights.size}, at most ${maxUnresolved}): decide or cancel some first`);
    }
    const bytes = requestByteLength(request);
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
   *  when stopping; callers turn both into an answer (HTTP 429/503, an agent's deny). */
  create(args: CreateArgs): Promise<CreateAnswer> {
    const request: CreateRequestSpec = {
      id: args.id ?? uuidv7(this.now()),
      toolName: args.toolName,
      input: args.input,
      context: args.context ?? {},
      timeoutMs: args.timeoutMs,
    };
    const client = this.ready();
    this.admit(args, request);
    const answer = client.create({
      at: this.now(),
      request,
      origin: args.origin,
      ...(args.idempotencyKey !== undefined ? { idempotencyKey: args.idempotencyKey } : {}),
      ...(args.bodyHash !== undefined ? { bodyHash: args.bodyHash } : {}),
    });
    if (answer.status === 'created') {
      this.metrics?.requestsCreated.inc({ origin: args.origin });
      this.logger.debug('permissions', 'request', { id: answer.id, seq: answer.seq, tool: args.toolName, origin: args.origin });
    }
    return this.afterCommit(answer);
  }

  decide(args: DecideArgs): Promise<DecideResult> {
    const client = this.ready();
    const buffered = this.records.length;
    const { answer, replayed } = client.decide({
      at: this.now(),
      requestId: args.requestId,
      decision: args.decision,
      decidedBy: args.decidedBy,
      ...(args.updatedInput !== undefined ? { updatedInput: args.updatedInput } : {}),
      ...(args.message !== undefined ? { message: args.message } : {}),
      ...(args.clientMsgId !== undefined ? { clientMsgId: args.clientMsgId } : {}),
    });
    if (!replayed && answer.status === 'accepted') this.attachAuditFacts(buffered, args);
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
    return this.afterCommit({ answer, replayed });
  }

  /** The audit's "who" rides on the decision's outcome record, so the store writes the
   *  audit row in the commit that holds the decision (SPEC.md CORE-L2): the broker
   *  persisted it synchronously inside `decide`, after index `from`. */
  private attachAuditFacts(from: number, args: DecideArgs): void {
    const facts: AuditFacts = {
      ...(args.via !== undefined ? { via: args.via } : {}),
      ...(args.address !== undefined ? { address: args.address } : {}),
      ...(args.device !== undefined ? { device: { id: args.device.id, name: args.device.name } } : {}),
    };
    if (Object.keys(facts).length === 0) return;
    for (let i = from; i < this.records.length; i++) {
      const record = this.records[i];
      if (record?.kind === 'event' && record.event.type === 'permission-resolved' && record.event.requestId === args.requestId) {
        this.records[i] = { ...record, audit: facts };
        return;
      }
    }
  }

  cancel(args: CancelArgs): Promise<CancelAnswer> {
    const answer = this.ready().cancel({
      at: this.now(),
      requestId: args.requestId,
      reason: args.reason,
      cancelledBy: args.cancelledBy,
    });
    this.logger.debug('permissions', 'cancel', { requestId: args.requestId, reason: args.reason, result: answer.status });
    return this.afterCommit(answer);
  }

  /** Chat traffic: sequenced in the same stream; resolves with the stored event. */
  append(event: AppendableEvent): Promise<SequencedEvent> {
    if (this.stopped || this.fatal) return Promise.reject(new HostStoppedError());
    const before = this.outbox.length;
    this.actor.send({ type: 'stream.append', at: this.now(), event } satisfies BrokerEvent);
    const appended = this.outbox.slice(before).find((e) => e.type === event.type);
    if (!appended) return Promise.reject(new Error(`the broker did not append the ${event.type} event`));
    return this.afterCommit(appended);
  }

  connect(clientId: string, label: string): void {
    this.tell({ type: 'client.connect', at: this.now(), clientId, label });
  }

  disconnect(clientId: string): void {
    this.applyAcks();
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
    for (const [clientId, seq] of acks) this.tell({ type: 'client.ack', at, clientId, seq });
  }

  /** Every event up to `upToSeq` is on at least one socket. */
  markSent(upToSeq: number): void {
    this.tell({ type: 'request.sent', at: this.now(), upToSeq });
  }

  private tell(event: BrokerEvent): void {
    if (this.stopped || this.fatal) return;
    this.actor.send(event);
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
    if (!this.scheduled && !this.committing && this.holds === 0 && this.records.length === 0 && this.outbox.length === 0) {
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

  /** Commit what is buffered, and stop the actor (its timers with it) at once; resolves
   *  once the last commit is done (or failed). */
  stop(): Promise<void> {
    if (this.stopped) return this.stopping ?? Promise.resolve();
    this.flush();
    this.stopped = true;
    this.actor.stop();
    this.stopping = new Promise<void>((resolve) => {
      this.drained.push(() => {
        // Anything the actor did while stopping is not committed; callers still waiting are told.
        for (const waiter of this.waiters.splice(0)) this.safely(waiter, 'waiter');
        resolve();
      });
      if (!this.committing && this.holds === 0 && this.records.length === 0) this.settleDrained();
    });
    return this.stopping;
  }

  private stopping: Promise<void> | undefined;
}

/** A create beyond `--max-unresolved` / `--max-unresolved-bytes`: nothing was stored. */
export class TooManyRequestsError extends Error {
  override name = 'TooManyRequestsError';
  readonly code = 'too-many-requests' as const;
}

export class HostStoppedError extends Error {
  override name = 'HostStoppedError';
  constructor() {
    super('the server is stopping');
  }
}
