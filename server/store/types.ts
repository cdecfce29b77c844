/**
 * The store's interface: everything the server needs from durable storage, small enough
 * that the SQLite implementation can be swapped for PostgreSQL (architecture.md, "Scale";
 * issue 13). Every method that touches storage returns a Promise, so a networked store
 * fits it; the SQLite store answers from one in-process connection.
 *
 * Writes arrive as the broker's records, one batch per tick, in ONE transaction: the
 * events (the log, which is the truth) and, derived from them inside that transaction,
 * the read models: the request rows and the audit rows (SPEC.md CORE-L). Reads serve
 * resumes (eventsSince), the HTTP views, the audit views and restarts (load).
 *
 * Read-your-writes: the host sends an event or an answer only after the batch holding it
 * committed, so a read started after a client saw something sees it too (SQLite: one
 * connection; PostgreSQL: read-committed on any connection of the pool).
 */
import type { BrokerInput, PersistRecord, RequestOrigin } from '../../machines/broker.types.ts';
import type { AgentChoice, AuditEntry, AuditHow, RequestStatus, RequestView, SequencedEvent } from '../../protocol/index.ts';

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
  /** Keep at least this many of the newest events (and audit rows)... */
  keepEvents: number;
  /** ...and every event (and audit row) younger than this (ms). */
  keepMs: number;
};

export type RequestPage = { status?: RequestStatus; afterSeq: number; limit: number; maxBytes: number };

export type PruneResult = { events: number; requests: number; auditRows: number; prunedThrough: number };

/** What only the deciding edge knows about a decision (the audit's "who"): the transport,
 *  the peer's address, the device. The host attaches it to the decision's outcome record,
 *  so the audit row is written with the event, in the same transaction. */
export type AuditFacts = {
  via?: string;
  address?: string;
  device?: { id: string; name: string };
  /** The agent's own choice the decision named (docs/integrations.md, "The agent's own choices"). */
  agentChoice?: Pick<AgentChoice, 'id' | 'kind' | 'label'>;
};

/** A broker PersistRecord as the host commits it: an outcome event may carry AuditFacts. */
export type CommitRecord = PersistRecord & {
  audit?: AuditFacts;
  /** With a `permission-request`: the instance that made it (several instances on one
   *  store, docs/cluster.md "Agents' homes"); stores that serve one instance ignore it. */
  instance?: string;
};

/** Which audit rows (every field must match; `status: 'pending'` means no outcome yet). */
export type AuditRowFilter = {
  requestId?: string;
  toolName?: string;
  decision?: 'allow' | 'deny';
  how?: AuditHow;
  status?: RequestStatus;
  sessionId?: string;
  agent?: string;
  decidedBy?: string;
  deviceId?: string;
  /** requestedAt >= since */
  since?: number;
  /** requestedAt <= until */
  until?: number;
};

/** Audit rows in (requestedAt, requestId) order, strictly past `after` in that order. */
export type AuditRowQuery = {
  filter: AuditRowFilter;
  order: 'newest' | 'oldest';
  after?: { at: number; id: string };
  limit: number;
};

/** An audit entry and the size of its stored input (what a page's read budget counts). */
export type AuditRow = { entry: AuditEntry; inputBytes: number };

export interface EventStore {
  /** Changes only when the stored history is lost (a new database). */
  readonly epoch: string;
  /** Where the broker starts after a restart. */
  load(options: { now: number; recentLimit?: number | undefined }): Promise<BrokerInput>;
  /** The records of one tick, in order, in ONE transaction: all or nothing. The host
   *  awaits it before the next batch and before sending anything of this one. */
  writeBatch(records: readonly CommitRecord[]): Promise<void>;
  /** The seq of the last stored event (0 when empty). */
  head(): Promise<number>;
  /** Every event with seq > since, oldest first; `too-old` when some were pruned,
   *  `too-new` when since > head. */
  eventsSince(since: number): Promise<EventsSinceResult>;
  getRequest(id: string): Promise<StoredRequestView | undefined>;
  /** Several at once (the log follower's fold); optional: `getRequest` each otherwise. */
  getRequests?(ids: readonly string[]): Promise<StoredRequestView[]>;
  findByIdempotencyKey(key: string): Promise<StoredRequestView | undefined>;
  /** Oldest first. */
  listRequests(filter: { status?: RequestStatus; limit?: number }): Promise<StoredRequestView[]>;
  /** One page, oldest first: requests with seq > `afterSeq`, at most `limit` of them and
   *  at most `maxBytes` of input and context (always at least one); `more` when others follow. */
  pageRequests(page: RequestPage): Promise<{ requests: StoredRequestView[]; more: boolean }>;
  countByStatus(): Promise<Record<RequestStatus, number>>;
  /** The audit read model (server/audit/auditLog.ts pages and exports it). */
  auditRows(query: AuditRowQuery): Promise<AuditRow[]>;
  /** Drop events (and finished requests, their clientMsgId answers and audit rows) beyond
   *  the limits. */
  prune(now: number, limits: HistoryLimits): Promise<PruneResult>;
  /** Cheap and synchronous: for health checks. */
  isOpen(): boolean;
  close(): Promise<void>;
}
