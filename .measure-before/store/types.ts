/**
 * The store's interface: everything the server needs from durable storage, small enough
 * that the SQLite implementation could be swapped for PostgreSQL (architecture.md,
 * "Scale"). Writes arrive as the broker's PersistRecords, one batch per tick, in one
 * transaction; reads serve resumes (eventsSince), the HTTP views and restarts (load).
 */
import type { BrokerInput, PersistRecord, RequestOrigin } from '../../machines/broker.types.ts';
import type { RequestStatus, RequestView, SequencedEvent } from '../../protocol/index.ts';

/** A request as the HTTP API shows it, plus what only the server needs. */
export type StoredRequestView = RequestView & {
  origin: RequestOrigin;
  idempotencyKey?: string;
  bodyHash?: string;
  decidedAt?: number;
  /** For a cancelled request: why. */
  reason?: string;
};

export type EventsSinceResult = { ok: true; events: SequencedEvent[] } | { ok: false; reason: 'too-old' | 'too-new' };

export type HistoryLimits = {
  /** Keep at least this many of the newest events... */
  keepEvents: number;
  /** ...and every event younger than this (ms). */
  keepMs: number;
};

export type RequestPage = { status?: RequestStatus; afterSeq: number; limit: number; maxBytes: number };

export type PruneResult = { events: number; requests: number; prunedThrough: number };

export interface EventStore {
  /** Changes only when the stored history is lost (a new database). */
  readonly epoch: string;
  /** Where the broker starts after a restart. */
  load(options: { now: number; recentLimit?: number }): BrokerInput;
  /** The records of one tick, in order, in ONE transaction: all or nothing. */
  writeBatch(records: readonly PersistRecord[]): void;
  /** The seq of the last stored event (0 when empty). */
  head(): number;
  /** Every event with seq > since, oldest first; `too-old` when some were pruned,
   *  `too-new` when since > head. */
  eventsSince(since: number): EventsSinceResult;
  getRequest(id: string): StoredRequestView | undefined;
  findByIdempotencyKey(key: string): StoredRequestView | undefined;
  /** Oldest first. */
  listRequests(filter: { status?: RequestStatus; limit?: number }): StoredRequestView[];
  /** One page, oldest first: requests with seq > `afterSeq`, at most `limit` of them and
   *  at most `maxBytes` of input and context (always at least one); `more` when others follow. */
  pageRequests(page: RequestPage): { requests: StoredRequestView[]; more: boolean };
  countByStatus(): Record<RequestStatus, number>;
  /** Drop events (and finished requests, and their clientMsgId answers) beyond the limits. */
  prune(now: number, limits: HistoryLimits): PruneResult;
  isOpen(): boolean;
  close(): void;
}
