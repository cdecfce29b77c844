/**
 * Follows the committed log (docs/cluster.md, "The bus"): hands every event past
 * `delivered` to its listener once, in seq order, with no gap, whichever instance
 * committed it. It reads the events from the store (the truth), never from the bus: an
 * announcement (or the poll, which covers a lost announcement or a bus that is down) only
 * says how far the log has grown. One read at a time; what is announced during a read
 * only raises the target, and the read after it starts where the last one ended.
 */
import type { SequencedEvent } from '../../protocol/index.ts';
import type { EventStore } from '../store/types.ts';

export type LogFollowerOptions = {
  store: Pick<EventStore, 'eventsSince' | 'head'>;
  /** The seq already delivered (the head the instance started from). */
  from: number;
  /** How often to ask the store's head when no announcement came (ms). */
  pollMs: number;
  /** Events in seq order, `delivered + 1` first. */
  onEvents(events: readonly SequencedEvent[]): void;
  /** The log was pruned past `delivered`: the instance must reload from the store. */
  onTooOld(delivered: number): void;
  onError?(error: unknown): void;
};

export class LogFollower {
  private delivered: number;
  private target: number;
  private reading: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Fell behind the pruned point: no reads until the instance reloaded and `resume()`d. */
  private behind = false;

  constructor(private readonly options: LogFollowerOptions) {
    this.delivered = options.from;
    this.target = options.from;
  }

  /** The seq delivered up to. */
  get position(): number {
    return this.delivered;
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  /** An announcement: the log reaches at least `to`. */
  notify(to: number): void {
    if (this.stopped || to <= this.target) return;
    this.target = to;
    this.pump();
  }

  /** The instance relayed events up to `seq` itself (its own commit): not delivered again. */
  advanceTo(seq: number): void {
    if (seq > this.delivered) this.delivered = seq;
    if (seq > this.target) this.target = seq;
  }

  /** Resolves once nothing is being read and everything announced was delivered. */
  async settled(): Promise<void> {
    while (this.reading) await this.reading;
  }

  /** The instance reloaded after `onTooOld` (and `advanceTo` its loaded head): follow again. */
  resume(): void {
    this.behind = false;
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.settled();
  }

  private async poll(): Promise<void> {
    try {
      this.notify(await this.options.store.head());
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private pump(): void {
    if (this.reading || this.stopped || this.behind || this.target <= this.delivered) return;
    this.reading = this.readOnce().then((progressed) => {
      this.reading = undefined;
      // No progress (the store failed, or is behind the announcement): wait for the next
      // announcement or poll instead of asking again at once.
      if (progressed) this.pump();
      else this.target = this.delivered;
    });
  }

  /** One read from `delivered`; whether it delivered anything. */
  private async readOnce(): Promise<boolean> {
    const since = this.delivered;
    let result: Awaited<ReturnType<EventStore['eventsSince']>>;
    try {
      result = await this.options.store.eventsSince(since);
    } catch (error) {
      this.options.onError?.(error);
      return false; // the next announcement or poll retries
    }
    if (this.stopped) return false;
    if (!result.ok) {
      if (result.reason === 'too-old') {
        this.behind = true;
        this.options.onTooOld(since);
      }
      return false; // too-new: the target was ahead of this store's view; the poll corrects it
    }
    // Our own commits may have advanced `delivered` while the read was in flight.
    const fresh = result.events.filter((e) => e.seq > this.delivered);
    if (fresh.length === 0) return false;
    const first = fresh[0]?.seq;
    if (first !== this.delivered + 1) {
      this.options.onError?.(new Error(`log follower: expected seq ${this.delivered + 1}, the store gave ${first}`));
      return false;
    }
    this.delivered = fresh[fresh.length - 1]?.seq ?? this.delivered;
    this.options.onEvents(fresh);
    return true;
  }
}
