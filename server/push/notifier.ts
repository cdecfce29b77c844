/**
 * When to push (docs/operations.md, "Web Push"). Watches the committed stream:
 *
 * - a new `permission-request` starts a timer of `delayMs` on the given clock (a
 *   SimulatedClock in tests); when it fires and the request is still unresolved and no
 *   connected screen holds it (BrokerHost.isHeld: its seq at or below a connected
 *   client's highest ack), the request is marked as pushed in the store and ONE
 *   `{"type":"permission-request","id","toolName"}` goes to every subscription;
 * - when a pushed request finishes (decided anywhere, timed out, cancelled), one
 *   `{"type":"permission-finished","id"}` goes to every subscription, so each service
 *   worker closes its notification. Both share a Web Push topic, so a push service still
 *   holding the first message for an offline phone replaces it with the second.
 *
 * With several instances (--bus), a screen that holds the request may be connected to
 * another instance: before pushing, the notifier asks the others (`heldElsewhere`, the
 * bus's `askHeld`), and a request held there is not pushed either. Silence means nobody
 * holds it, so a dead or slow instance costs a push, never a missed one.
 *
 * "Held" and not the request actor's `acked` state: `acked` stays once any client acked,
 * even after that screen disconnected, while the hold counts connected screens only (a
 * laptop that showed the card and then closed its lid no longer holds it). The check is
 * made once, at the delay (docs/operations.md says so), with the other instances'
 * answer when there are several (at most `HELD_ASK_TIMEOUT_MS` later, server.ts).
 *
 * Never more than one push per request, also across restarts (the store's `push_sent`
 * row is written before sending), and across instances on one shared store: that row is
 * the claim, made by one instance only (pgPushStore.ts, SPEC.md TEAM-S2); the "finished"
 * push goes from the one instance whose delete removed it. After a restart, unresolved requests not pushed yet get
 * a fresh delay (screens need a moment to reconnect), and pushed requests that finished
 * while the server was down get their "finished" push.
 *
 * Sending is bounded: at most `maxInFlight` POSTs at once, at most `maxQueued` waiting
 * (more are dropped and logged), one attempt each with a timeout, no retry queue.
 * An endpoint answering 404 or 410 loses its subscription. Nothing here throws into the
 * broker: every failure is logged with the endpoint redacted.
 */
import type { OutcomeEvent, PermissionRequestEvent, SequencedEvent } from '../../protocol/index.ts';
import type { Clock } from '../brokerHost.ts';
import type { Logger } from '../log.ts';
import type { PushStore, StoredSubscription } from './pushStore.ts';
import { redactEndpoint, sendWebPush, topicFor, type SendOptions, type SendResult } from './sender.ts';
import type { VapidKeys } from './vapid.ts';

/** The two messages a service worker receives: no tool input, ever. */
export type PushMessage = { type: 'permission-request'; id: string; toolName: string } | { type: 'permission-finished'; id: string };

/** What the notifier did, for tests and debugging (never needed to run). */
export type PushActivity =
  | { type: 'checked'; requestId: string; result: 'pushed' | 'held' | 'finished' | 'no-subscriptions' | 'already-pushed' }
  | { type: 'sent'; requestId: string; message: PushMessage['type']; endpoint: string; result: SendResult; removed: boolean }
  | { type: 'dropped'; requestId: string; endpoint: string; why: string };

/** What the notifier needs of the broker host. */
export type PushHost = {
  onCommitted(listener: (events: readonly SequencedEvent[]) => void): () => void;
  whenQuiet(fn: () => void): void;
  isHeld(requestId: string): boolean | undefined;
  unresolvedEvents(): PermissionRequestEvent[];
};

/** A claimed request this instance's broker does not know (another instance's, on a
 *  shared store): true when it is finished, so its "finished" push is due. */
export type IsFinished = (requestId: string) => Promise<boolean>;

export type PushNotifierOptions = {
  host: PushHost;
  store: PushStore;
  logger: Logger;
  vapid: VapidKeys;
  subject: string;
  delayMs: number;
  /** The endpoint origin check (also applied at send time: the list may have shrunk). */
  isAllowed(endpoint: URL): boolean;
  clock?: Clock;
  now?: () => number;
  send?: (target: StoredSubscription, payload: string, options: SendOptions) => Promise<SendResult>;
  timeoutMs?: number;
  maxInFlight?: number;
  maxQueued?: number;
  onActivity?: (activity: PushActivity) => void;
  /** For claims found at start that the broker does not hold unresolved (default: finished). */
  isFinished?: IsFinished;
  /** Several instances: whether a screen connected to another instance holds the request
   *  (false on silence or failure). Asked only when no screen here holds it. */
  heldElsewhere?: (requestId: string) => Promise<boolean>;
};

/** How long a push service keeps a "finished" message for an offline browser. */
const FINISHED_TTL_SECONDS = 24 * 3600;

type Job = { requestId: string; subscription: StoredSubscription; message: PushMessage; ttlSeconds: number };

const realClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

export class PushNotifier {
  private readonly timers = new Map<string, { timer: unknown; event: PermissionRequestEvent }>();
  /** Mirror of the store's `push_sent`: requests pushed and not finished yet. */
  private readonly pushed = new Set<string>();
  private readonly queue: Job[] = [];
  private inFlight = 0;
  /** Checks and "finished" pushes between their store calls (drained() waits for them). */
  private working = 0;
  private calm: Array<() => void> = [];
  private idle: Array<() => void> = [];
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly send: NonNullable<PushNotifierOptions['send']>;

  constructor(private readonly options: PushNotifierOptions) {
    this.clock = options.clock ?? realClock;
    this.now = options.now ?? Date.now;
    this.send = options.send ?? sendWebPush;
  }

  /** Subscribe to the stream where it equals the committed state, and pick up what a
   *  previous run left: unpushed requests get a delay, finished pushed ones their end. */
  start(): void {
    this.options.host.whenQuiet(() =>
      this.work(async () => {
        if (this.stopped) return;
        this.unsubscribe = this.options.host.onCommitted((events) => this.onEvents(events));
        const unresolved = new Map(this.options.host.unresolvedEvents().map((event) => [event.id, event]));
        // No commit starts while this runs (whenQuiet), so `unresolved` stays true.
        for (const id of await this.safe(() => this.options.store.sentRequestIds(), [])) {
          if (unresolved.has(id)) this.pushed.add(id);
          else if (!this.options.isFinished || (await this.safe(() => this.options.isFinished!(id), false))) void this.work(() => this.finish(id, true));
        }
        for (const event of unresolved.values()) if (!this.pushed.has(event.id)) this.schedule(event);
      }),
    );
  }

  /** Stop timers and take no new work; POSTs already in flight run to their end. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    for (const { timer } of this.timers.values()) this.clock.clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
  }

  /** Resolves when no POST is in flight or queued (tests, shutdown). */
  drained(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Resolves when no check or "finished" step is between its store calls (POSTs may
   *  still be in flight: see drained()). Tests await it after moving the clock. */
  settled(): Promise<void> {
    if (this.working === 0) return Promise.resolve();
    return new Promise((resolve) => this.calm.push(resolve));
  }

  /** Requests waiting for their delay (tests, metrics). */
  get waiting(): number {
    return this.timers.size;
  }

  private onEvents(events: readonly SequencedEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case 'permission-request':
          this.schedule(event);
          break;
        case 'permission-resolved':
        case 'permission-timeout':
        case 'permission-cancelled':
          this.onFinished(event);
          break;
        case 'chat-message':
        case 'session-updated':
          break;
        default: {
          const never: never = event;
          this.options.logger.warn('push: unknown event', { type: (never as { type: string }).type });
        }
      }
    }
  }

  private schedule(event: PermissionRequestEvent): void {
    if (this.stopped || this.timers.has(event.id) || this.pushed.has(event.id)) return;
    const timer = this.clock.setTimeout(() => void this.work(() => this.check(event.id)), this.options.delayMs);
    this.timers.set(event.id, { timer, event });
  }

  private onFinished(event: OutcomeEvent): void {
    const entry = this.timers.get(event.requestId);
    if (entry) {
      this.clock.clearTimeout(entry.timer);
      this.timers.delete(event.requestId);
    }
    if (this.pushed.has(event.requestId)) void this.work(() => this.finish(event.requestId, false));
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.queue.length === 0 && this.working === 0;
  }

  /** Runs an asynchronous step of the notifier, counted for drained(). */
  private async work(fn: () => Promise<void>): Promise<void> {
    this.working++;
    try {
      await fn();
    } finally {
      this.working--;
      this.settleIdle();
    }
  }

  private settleIdle(): void {
    if (this.working === 0) for (const resolve of this.calm.splice(0)) resolve();
    if (this.isIdle()) for (const resolve of this.idle.splice(0)) resolve();
  }

  private async check(requestId: string): Promise<void> {
    const entry = this.timers.get(requestId);
    if (!entry || this.stopped) return;
    this.timers.delete(requestId);
    const report = (result: Extract<PushActivity, { type: 'checked' }>['result']) => this.activity({ type: 'checked', requestId, result });
    const held = this.options.host.isHeld(requestId);
    if (held === undefined) return report('finished');
    if (held) return report('held');
    const elsewhere = this.options.heldElsewhere;
    if (elsewhere) {
      if (await this.safe(() => elsewhere(requestId), false)) return report('held');
      // The question took a while: stopped, finished or acked here meanwhile, nothing goes.
      if (this.stopped) return;
      const heldNow = this.options.host.isHeld(requestId);
      if (heldNow === undefined) return report('finished');
      if (heldNow) return report('held');
    }
    const subscriptions = await this.safe(() => this.options.store.list(), []);
    if (subscriptions.length === 0) return report('no-subscriptions');
    const now = this.now();
    if (!(await this.safe(() => this.options.store.markSent(requestId, now), false))) return report('already-pushed');
    if (this.options.host.isHeld(requestId) === undefined) {
      // Finished while the claim was made: nothing was pushed, so nothing to finish either.
      await this.safe(() => this.options.store.forgetSent(requestId), false);
      return report('finished');
    }
    this.pushed.add(requestId);
    report('pushed');
    const message: PushMessage = { type: 'permission-request', id: requestId, toolName: entry.event.toolName };
    // Kept no longer than the request lives: a push for an expired request is noise.
    const ttlSeconds = Math.max(0, Math.ceil((entry.event.expiresAt - now) / 1000));
    for (const subscription of subscriptions) this.enqueue({ requestId, subscription, message, ttlSeconds });
  }

  /** The "finished" push of a pushed request; `afterRestart` when it finished while down. */
  private async finish(requestId: string, afterRestart: boolean): Promise<void> {
    this.pushed.delete(requestId);
    // The one caller whose delete removed the claim sends "finished" (a store that failed
    // to say: send, as before, rather than leave a notification open for ever).
    if (!(await this.safe(() => this.options.store.forgetSent(requestId), true))) return;
    if (this.stopped) return;
    const subscriptions = await this.safe(() => this.options.store.list(), []);
    const message: PushMessage = { type: 'permission-finished', id: requestId };
    for (const subscription of subscriptions) this.enqueue({ requestId, subscription, message, ttlSeconds: FINISHED_TTL_SECONDS });
    if (afterRestart) this.options.logger.debug('push', 'finished while stopped', { requestId });
  }

  private enqueue(job: Job): void {
    const max = this.options.maxQueued ?? 1_000;
    if (this.queue.length >= max) {
      const endpoint = redactEndpoint(job.subscription.endpoint);
      this.options.logger.warn('push: send queue full, message dropped', { requestId: job.requestId, endpoint, queued: this.queue.length });
      this.activity({ type: 'dropped', requestId: job.requestId, endpoint, why: 'queue full' });
      return;
    }
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    const max = this.options.maxInFlight ?? 8;
    while (this.inFlight < max && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.inFlight++;
      void this.run(job).finally(() => {
        this.inFlight--;
        this.pump();
        this.settleIdle();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    const { subscription, requestId, message } = job;
    const endpoint = redactEndpoint(subscription.endpoint);
    let url: URL | undefined;
    try {
      url = new URL(subscription.endpoint);
    } catch {
      url = undefined;
    }
    if (!url || !this.options.isAllowed(url)) {
      this.options.logger.warn('push: endpoint no longer allowed by --push-allowed-origins, not sent', { requestId, endpoint });
      this.activity({ type: 'dropped', requestId, endpoint, why: 'origin not allowed' });
      return;
    }
    let result: SendResult;
    try {
      result = await this.send(subscription, JSON.stringify(message), {
        vapid: this.options.vapid,
        subject: this.options.subject,
        ttlSeconds: job.ttlSeconds,
        topic: topicFor(requestId),
        urgency: message.type === 'permission-request' ? 'high' : 'normal',
        timeoutMs: this.options.timeoutMs ?? 10_000,
      });
    } catch (error) {
      result = { ok: false, error: String((error as Error)?.message ?? error) };
    }
    let removed = false;
    if (!result.ok && (result.status === 404 || result.status === 410)) {
      // RFC 8030 §7.3: the subscription is gone for good.
      removed = await this.safe(() => this.options.store.remove(subscription.endpoint), false);
      this.options.logger.info('push: subscription expired, removed', { endpoint, status: result.status });
    } else if (!result.ok) {
      this.options.logger.warn('push: send failed', { requestId, endpoint, message: message.type, status: result.status, error: result.error });
    } else {
      this.options.logger.debug('push', 'sent', { requestId, endpoint, message: message.type, status: result.status });
    }
    this.activity({ type: 'sent', requestId, message: message.type, endpoint, result, removed });
  }

  private activity(activity: PushActivity): void {
    try {
      this.options.onActivity?.(activity);
    } catch (error) {
      this.options.logger.error('push activity observer threw', { error: String(error) });
    }
  }

  /** The store may be closed during shutdown, or the disk may fail: log, do not throw. */
  private async safe<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      this.options.logger.error('push: store failed', { error: String((error as Error)?.message ?? error) });
      return fallback;
    }
  }
}
