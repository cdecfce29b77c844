/**
 * Long-poll waiters (`GET /api/permission-requests/ID?wait=S`): wake a waiting call as
 * soon as its request's outcome event is committed, when its wait ends, or when the
 * server stops (SIGTERM answers open long-polls). Registration happens synchronously
 * after reading the store, and outcomes are delivered synchronously at commit, so an
 * outcome can never slip between the read and the wait.
 */
import { OUTCOME_EVENT_TYPES, type SequencedEvent } from '../../protocol/index.ts';
import type { Metrics } from '../metrics.ts';

export type WakeReason = 'outcome' | 'timeout' | 'shutdown' | 'aborted';

type Entry = { wake: (reason: WakeReason, event?: SequencedEvent) => void };

const OUTCOMES = new Set<string>(OUTCOME_EVENT_TYPES);

/** How many of the latest commits' outcome events `recentOutcome` remembers: a caller
 *  registers in the microtasks right after its create's commit, so one would do; a few
 *  leave room should a store's commit resolve its callers a little later. */
const RECENT_COMMITS = 4;

export class OutcomeWaiters {
  private readonly byRequest = new Map<string, Set<Entry>>();
  private closed = false;
  private active = 0;
  private drained: Array<() => void> = [];
  /** The outcome events of the latest RECENT_COMMITS commits, newest last. */
  private recent: Map<string, SequencedEvent>[] = [];

  constructor(private readonly metrics?: Metrics) {}

  /** Feed committed events (host.onCommitted). */
  onCommitted = (events: readonly SequencedEvent[]): void => {
    let outcomes: Map<string, SequencedEvent> | undefined;
    for (const event of events) {
      if (!OUTCOMES.has(event.type)) continue;
      const requestId = (event as { requestId: string }).requestId;
      (outcomes ??= new Map()).set(requestId, event);
      const set = this.byRequest.get(requestId);
      if (!set) continue;
      for (const entry of [...set]) entry.wake('outcome', event);
    }
    this.recent.push(outcomes ?? new Map());
    if (this.recent.length > RECENT_COMMITS) this.recent.shift();
  };

  /** The outcome event of `requestId` if one of the latest commits carried it: what a
   *  call that just created the request checks, right after registering its waiter,
   *  instead of reading the store (CORE-F5). */
  recentOutcome(requestId: string): SequencedEvent | undefined {
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const event = this.recent[i]?.get(requestId);
      if (event) return event;
    }
    return undefined;
  }

  get size(): number {
    return this.active;
  }

  /** Wait for the outcome of `requestId`, at most `ms`. Call right after reading it as
   *  pending, in the same synchronous step. `done()` must be called once the caller has
   *  read its answer (shutdown waits for that before closing the store). `outcome()`:
   *  the committed outcome event that woke it (reason `outcome`), so the caller can answer
   *  from memory. */
  wait(requestId: string, ms: number, signal?: AbortSignal): { promise: Promise<WakeReason>; done: () => void; outcome: () => SequencedEvent | undefined } {
    if (this.closed) return { promise: Promise.resolve('shutdown'), done: () => {}, outcome: () => undefined };
    let woken: SequencedEvent | undefined;
    this.active += 1;
    this.metrics?.longPolls.inc();
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      this.active -= 1;
      this.metrics?.longPolls.dec();
      if (this.active === 0) for (const fn of this.drained.splice(0)) fn();
    };
    const promise = new Promise<WakeReason>((resolve) => {
      let set = this.byRequest.get(requestId);
      if (!set) this.byRequest.set(requestId, (set = new Set()));
      const entry: Entry = {
        wake: (reason, event) => {
          if (event) woken = event;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          set!.delete(entry);
          if (set!.size === 0) this.byRequest.delete(requestId);
          resolve(reason);
        },
      };
      const timer = setTimeout(() => entry.wake('timeout'), ms);
      const onAbort = () => entry.wake('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(entry);
    });
    return { promise, done, outcome: () => woken };
  }

  /** Wake every waiter (shutdown); resolves once each has read its answer. */
  closeAll(): Promise<void> {
    this.closed = true;
    for (const set of [...this.byRequest.values()]) for (const entry of [...set]) entry.wake('shutdown');
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }
}
