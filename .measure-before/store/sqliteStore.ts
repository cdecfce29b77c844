/**
 * The SQLite event store (better-sqlite3): the event log, the requests, idempotency keys,
 * remembered clientMsgId answers and a meta table, in `<data-dir>/gatehouse.db`.
 *
 * WAL with synchronous=NORMAL by default: a committed transaction survives a killed
 * process (kill -9), which is what protocol-v1.md §1 promises; `synchronous: 'FULL'` also
 * survives an OS crash at the cost of one fsync per tick. The request rows are a
 * projection of the events, updated in the same transaction, so a view never runs ahead
 * of the log.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type {
  BrokerInput,
  ClientAnswerRecord,
  DecisionAnswer,
  FinishedRequest,
  Outcome,
  OutcomeStatus,
  PersistRecord,
  RequestOrigin,
  StoredRequest,
} from '../../machines/broker.types.ts';
import { jsonByteLength, requestByteLength, type RequestStatus, type SequencedEvent } from '../../protocol/index.ts';
import { PRIVATE_DIR_MODE, preparePrivateDbFile, tightenDbFiles } from './fileModes.ts';
import type { EventStore, EventsSinceResult, HistoryLimits, PruneResult, RequestPage, StoredRequestView } from './types.ts';

export const SCHEMA_VERSION = 1;
export const DB_FILE = 'gatehouse.db';

export type SqliteStoreOptions = {
  /** A directory (the file is `gatehouse.db` inside it) or `:memory:`. */
  dataDir: string | ':memory:';
  synchronous?: 'NORMAL' | 'FULL';
  /** For tests: a fixed epoch for a new database. */
  epoch?: string;
};

type RequestRow = {
  id: string;
  seq: number;
  toolName: string;
  input: string;
  context: string;
  created: number;
  expiresAt: number;
  status: RequestStatus;
  decision: 'allow' | 'deny' | null;
  updatedInput: string | null;
  message: string | null;
  decidedBy: string | null;
  decidedAt: number | null;
  reason: string | null;
  outcomeSeq: number | null;
  origin: RequestOrigin;
  idempotencyKey: string | null;
  bodyHash: string | null;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE,
  toolName TEXT NOT NULL,
  input TEXT NOT NULL,
  context TEXT NOT NULL,
  created INTEGER NOT NULL,
  expiresAt INTEGER NOT NULL,
  status TEXT NOT NULL,
  decision TEXT,
  updatedInput TEXT,
  message TEXT,
  decidedBy TEXT,
  decidedAt INTEGER,
  reason TEXT,
  outcomeSeq INTEGER,
  origin TEXT NOT NULL,
  idempotencyKey TEXT UNIQUE,
  bodyHash TEXT
);
CREATE INDEX IF NOT EXISTS requests_status_seq ON requests (status, seq);
CREATE TABLE IF NOT EXISTS client_answers (
  clientMsgId TEXT PRIMARY KEY,
  requestId TEXT NOT NULL,
  answer TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS client_answers_request ON client_answers (requestId);
`;

/** The message a timed-out request reads with (protocol-v1.md §4). */
export function timeoutMessage(created: number, expiresAt: number): string {
  const seconds = Math.max(0, Math.round((expiresAt - created) / 100) / 10);
  return `Timed out: no decision within ${seconds} s, so the request was denied`;
}

export function cancelMessage(reason: string): string {
  return `Cancelled (${reason}): the request was withdrawn before a decision, so it is denied`;
}

function parseJson<T>(text: string | null): T | undefined {
  return text === null ? undefined : (JSON.parse(text) as T);
}

function toView(row: RequestRow): StoredRequestView {
  const view: StoredRequestView = {
    id: row.id,
    status: row.status,
    toolName: row.toolName,
    input: JSON.parse(row.input),
    context: JSON.parse(row.context),
    expiresAt: row.expiresAt,
    createdAt: row.created,
    seq: row.seq,
    origin: row.origin,
  };
  if (row.decision) view.decision = row.decision;
  if (row.updatedInput !== null) view.updatedInput = JSON.parse(row.updatedInput);
  if (row.message !== null) view.message = row.message;
  if (row.decidedBy !== null) view.decidedBy = row.decidedBy;
  if (row.decidedAt !== null) view.decidedAt = row.decidedAt;
  if (row.reason !== null) view.reason = row.reason;
  if (row.idempotencyKey !== null) view.idempotencyKey = row.idempotencyKey;
  if (row.bodyHash !== null) view.bodyHash = row.bodyHash;
  return view;
}

export class SqliteEventStore implements EventStore {
  readonly epoch: string;
  private readonly db: Database.Database;
  private readonly stmts;
  private open = true;
  private prunedThrough: number;

  constructor(options: SqliteStoreOptions) {
    let file = ':memory:';
    if (options.dataDir !== ':memory:') {
      mkdirSync(options.dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
      file = join(options.dataDir, DB_FILE);
      preparePrivateDbFile(file);
    }
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // -wal/-shm now exist; SQLite gave them the database file's mode, this makes sure.
    if (file !== ':memory:') tightenDbFiles(file);
    this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    this.db.pragma('foreign_keys = OFF');
    this.db.exec(SCHEMA);

    const getMeta = this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    const setMeta = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    const version = getMeta.get('schemaVersion');
    if (version && Number(version.value) > SCHEMA_VERSION) {
      this.db.close();
      throw new Error(`the database in ${options.dataDir} has schema version ${version.value}; this server knows up to ${SCHEMA_VERSION}`);
    }
    let epoch = getMeta.get('epoch')?.value;
    if (!epoch) {
      // A new database: the history starts here, so clients holding another epoch drop theirs.
      epoch = options.epoch ?? randomBytes(8).toString('hex');
      this.db.transaction(() => {
        setMeta.run('epoch', epoch!);
        setMeta.run('schemaVersion', String(SCHEMA_VERSION));
        setMeta.run('prunedThrough', '0');
        setMeta.run('createdAt', String(Date.now()));
      })();
    }
    this.epoch = epoch;
    this.prunedThrough = Number(getMeta.get('prunedThrough')?.value ?? 0);

    this.stmts = {
      setMeta,
      insertEvent: this.db.prepare('INSERT INTO events (seq, type, payload, time) VALUES (?, ?, ?, ?)'),
      clearKey: this.db.prepare('UPDATE requests SET idempotencyKey = NULL WHERE idempotencyKey = ? AND id <> ?'),
      insertRequest: this.db.prepare(
        `INSERT INTO requests (id, seq, toolName, input, context, created, expiresAt, status, origin, idempotencyKey, bodyHash)
         VALUES (@id, @seq, @toolName, @input, @context, @created, @expiresAt, 'pending', @origin, @idempotencyKey, @bodyHash)`,
      ),
      finish: this.db.prepare(
        `UPDATE requests SET status = @status, decision = @decision, updatedInput = @updatedInput, message = @message,
           decidedBy = @decidedBy, decidedAt = @decidedAt, reason = @reason, outcomeSeq = @outcomeSeq
         WHERE id = @id AND status = 'pending'`,
      ),
      getTimes: this.db.prepare<[string], { created: number; expiresAt: number }>('SELECT created, expiresAt FROM requests WHERE id = ?'),
      insertAnswer: this.db.prepare('INSERT OR IGNORE INTO client_answers (clientMsgId, requestId, answer) VALUES (?, ?, ?)'),
      head: this.db.prepare<[], { head: number | null }>('SELECT MAX(seq) AS head FROM events'),
      since: this.db.prepare<[number], { payload: string }>('SELECT payload FROM events WHERE seq > ? ORDER BY seq'),
      getRequest: this.db.prepare<[string], RequestRow>('SELECT * FROM requests WHERE id = ?'),
      byKey: this.db.prepare<[string], RequestRow>('SELECT * FROM requests WHERE idempotencyKey = ?'),
      listAll: this.db.prepare<[number], RequestRow>('SELECT * FROM requests ORDER BY seq LIMIT ?'),
      listStatus: this.db.prepare<[string, number], RequestRow>('SELECT * FROM requests WHERE status = ? ORDER BY seq LIMIT ?'),
      pageAll: this.db.prepare<[number], RequestRow>('SELECT * FROM requests WHERE seq > ? ORDER BY seq'),
      pageStatus: this.db.prepare<[string, number], RequestRow>('SELECT * FROM requests WHERE status = ? AND seq > ? ORDER BY seq'),
      counts: this.db.prepare<[], { status: RequestStatus; n: number }>('SELECT status, COUNT(*) AS n FROM requests GROUP BY status'),
      recentFinished: this.db.prepare<[number], RequestRow>("SELECT * FROM requests WHERE status <> 'pending' ORDER BY seq DESC LIMIT ?"),
      answersFrom: this.db.prepare<[number], { clientMsgId: string; requestId: string; answer: string }>(
        `SELECT ca.clientMsgId, ca.requestId, ca.answer FROM client_answers ca JOIN requests r ON r.id = ca.requestId
         WHERE r.status = 'pending' OR r.seq >= ? ORDER BY ca.rowid`,
      ),
      cutBySeq: this.db.prepare<[number, number], { cut: number | null }>('SELECT MAX(seq) AS cut FROM events WHERE seq <= ? AND time < ?'),
      deleteEvents: this.db.prepare('DELETE FROM events WHERE seq <= ?'),
      deleteAnswers: this.db.prepare("DELETE FROM client_answers WHERE requestId IN (SELECT id FROM requests WHERE status <> 'pending' AND outcomeSeq <= ?)"),
      deleteRequests: this.db.prepare("DELETE FROM requests WHERE status <> 'pending' AND outcomeSeq <= ?"),
    };
  }

  private readonly applyBatch = (records: readonly PersistRecord[]) => {
    for (const record of records) {
      if (record.kind === 'client-answer') {
        const { clientMsgId, requestId, answer } = record.record;
        this.stmts.insertAnswer.run(clientMsgId, requestId, JSON.stringify(answer));
        continue;
      }
      const event = record.event;
      this.stmts.insertEvent.run(event.seq, event.type, JSON.stringify(event), event.timestamp);
      if (record.outcome && (event.type === 'permission-resolved' || event.type === 'permission-timeout' || event.type === 'permission-cancelled')) {
        this.finishFromOutcome(event.requestId, event.seq, record.outcome);
      } else {
        this.project(event, record.request);
      }
    }
  };

  /** Keep the request rows in step with the log. */
  private project(event: SequencedEvent, request: Extract<PersistRecord, { kind: 'event' }>['request']): void {
    switch (event.type) {
      case 'permission-request': {
        const key = request?.idempotencyKey ?? null;
        // Defensive: a key whose old request was forgotten by the broker may be reused.
        if (key !== null) this.stmts.clearKey.run(key, event.id);
        this.stmts.insertRequest.run({
          id: event.id,
          seq: event.seq,
          toolName: event.toolName,
          input: JSON.stringify(event.input),
          context: JSON.stringify(event.context ?? {}),
          created: event.timestamp,
          expiresAt: event.expiresAt,
          origin: request?.origin ?? 'http',
          idempotencyKey: key,
          bodyHash: request?.bodyHash ?? null,
        });
        return;
      }
      case 'permission-resolved':
        this.finish(event.requestId, event.seq, {
          status: 'resolved',
          decision: event.decision,
          updatedInput: event.updatedInput === undefined ? null : JSON.stringify(event.updatedInput),
          message: event.message ?? null,
          decidedBy: event.decidedBy,
          decidedAt: event.timestamp,
          reason: null,
        });
        return;
      case 'permission-timeout': {
        const times = this.stmts.getTimes.get(event.requestId);
        this.finish(event.requestId, event.seq, {
          status: 'timedOut',
          decision: 'deny',
          updatedInput: null,
          message: times ? timeoutMessage(times.created, times.expiresAt) : timeoutMessage(0, 0),
          decidedBy: 'timeout',
          decidedAt: event.timestamp,
          reason: null,
        });
        return;
      }
      case 'permission-cancelled':
        this.finish(event.requestId, event.seq, {
          status: 'cancelled',
          decision: 'deny',
          updatedInput: null,
          message: cancelMessage(event.reason),
          decidedBy: event.reason === 'server-restart' ? 'server-restart' : 'agent',
          decidedAt: event.timestamp,
          reason: event.reason,
        });
        return;
      case 'chat-message':
      case 'session-updated':
        return;
      default: {
        const never: never = event;
        throw new Error(`unknown event type ${(never as { type: string }).type}`);
      }
    }
  }

  /** The broker's own Outcome, kept as it decided it (message, decidedBy, reason). */
  private finishFromOutcome(id: string, outcomeSeq: number, outcome: Outcome): void {
    let message = outcome.message ?? null;
    if (message === null && outcome.status === 'timedOut') {
      const times = this.stmts.getTimes.get(id);
      message = times ? timeoutMessage(times.created, times.expiresAt) : timeoutMessage(0, 0);
    }
    if (message === null && outcome.status === 'cancelled') message = cancelMessage(outcome.reason ?? 'cancelled');
    this.finish(id, outcomeSeq, {
      status: outcome.status,
      decision: outcome.decision,
      updatedInput: outcome.updatedInput === undefined ? null : JSON.stringify(outcome.updatedInput),
      message,
      decidedBy: outcome.decidedBy,
      decidedAt: outcome.decidedAt,
      reason: outcome.reason ?? null,
    });
  }

  private finish(
    id: string,
    outcomeSeq: number,
    fields: {
      status: OutcomeStatus;
      decision: string;
      updatedInput: string | null;
      message: string | null;
      decidedBy: string;
      decidedAt: number;
      reason: string | null;
    },
  ): void {
    this.stmts.finish.run({ id, outcomeSeq, ...fields });
  }

  private readonly tx = (records: readonly PersistRecord[]) => this.db.transaction(this.applyBatch)(records);

  writeBatch(records: readonly PersistRecord[]): void {
    if (records.length === 0) return;
    this.tx(records);
  }

  head(): number {
    return this.stmts.head.get()?.head ?? this.prunedThrough;
  }

  eventsSince(since: number): EventsSinceResult {
    const head = this.head();
    if (since > head) return { ok: false, reason: 'too-new' };
    if (since < this.prunedThrough) return { ok: false, reason: 'too-old' };
    return { ok: true, events: this.stmts.since.all(since).map((row) => JSON.parse(row.payload) as SequencedEvent) };
  }

  getRequest(id: string): StoredRequestView | undefined {
    const row = this.stmts.getRequest.get(id);
    return row ? toView(row) : undefined;
  }

  findByIdempotencyKey(key: string): StoredRequestView | undefined {
    const row = this.stmts.byKey.get(key);
    return row ? toView(row) : undefined;
  }

  listRequests(filter: { status?: RequestStatus; limit?: number }): StoredRequestView[] {
    const limit = filter.limit ?? -1;
    const rows = filter.status ? this.stmts.listStatus.all(filter.status, limit) : this.stmts.listAll.all(limit);
    return rows.map(toView);
  }

  pageRequests(page: RequestPage): { requests: StoredRequestView[]; more: boolean } {
    const rows = page.status ? this.stmts.pageStatus.iterate(page.status, page.afterSeq) : this.stmts.pageAll.iterate(page.afterSeq);
    const requests: StoredRequestView[] = [];
    let bytes = 0;
    let more = false;
    // Iterated, not fetched whole: a page never reads more rows than it answers (plus one);
    // `break` ends the statement.
    for (const row of rows) {
      if (requests.length >= page.limit) {
        more = true;
        break;
      }
      const view = toView(row);
      const weight = requestByteLength(view) + (view.updatedInput ? jsonByteLength(view.updatedInput) : 0);
      if (requests.length > 0 && bytes + weight > page.maxBytes) {
        more = true;
        break;
      }
      bytes += weight;
      requests.push(view);
    }
    return { requests, more };
  }

  countByStatus(): Record<RequestStatus, number> {
    const counts: Record<RequestStatus, number> = { pending: 0, resolved: 0, timedOut: 0, cancelled: 0 };
    for (const row of this.stmts.counts.all()) counts[row.status] = row.n;
    return counts;
  }

  load(options: { now: number; recentLimit?: number }): BrokerInput {
    const recentLimit = options.recentLimit ?? 10_000;
    const unresolved: StoredRequest[] = this.listRequests({ status: 'pending' }).map((view) => {
      const stored: StoredRequest = {
        id: view.id,
        toolName: view.toolName,
        input: view.input,
        context: view.context,
        timestamp: view.createdAt,
        expiresAt: view.expiresAt,
        seq: view.seq,
        origin: view.origin,
      };
      if (view.idempotencyKey !== undefined) stored.idempotencyKey = view.idempotencyKey;
      if (view.bodyHash !== undefined) stored.bodyHash = view.bodyHash;
      return stored;
    });
    const finishedRows = this.stmts.recentFinished.all(recentLimit).reverse();
    const finished: FinishedRequest[] = finishedRows.map((row) => {
      const item: FinishedRequest = {
        id: row.id,
        toolName: row.toolName,
        seq: row.seq,
        expiresAt: row.expiresAt,
        outcome: {
          status: row.status as OutcomeStatus,
          decision: row.decision ?? 'deny',
          decidedBy: row.decidedBy ?? 'unknown',
          decidedAt: row.decidedAt ?? row.created,
        },
      };
      if (row.updatedInput !== null) item.outcome.updatedInput = JSON.parse(row.updatedInput);
      if (row.message !== null) item.outcome.message = row.message;
      if (row.reason !== null) item.outcome.reason = row.reason;
      if (row.idempotencyKey !== null) item.idempotencyKey = row.idempotencyKey;
      if (row.bodyHash !== null) item.bodyHash = row.bodyHash;
      return item;
    });
    const minFinishedSeq = finishedRows.length ? finishedRows[0].seq : Number.MAX_SAFE_INTEGER;
    const clientAnswers: ClientAnswerRecord[] = this.stmts.answersFrom.all(minFinishedSeq).map((row) => ({
      clientMsgId: row.clientMsgId,
      requestId: row.requestId,
      answer: parseJson<DecisionAnswer>(row.answer)!,
    }));
    return { epoch: this.epoch, headSeq: this.head(), now: options.now, unresolved, finished, clientAnswers, recentLimit };
  }

  prune(now: number, limits: HistoryLimits): PruneResult {
    const head = this.head();
    const bySeq = head - Math.max(1, limits.keepEvents);
    if (bySeq <= this.prunedThrough) return { events: 0, requests: 0, prunedThrough: this.prunedThrough };
    // Both limits must agree: an event goes only when it is beyond the newest N AND old.
    const cut = this.stmts.cutBySeq.get(bySeq, now - limits.keepMs)?.cut ?? null;
    if (cut === null || cut <= this.prunedThrough) return { events: 0, requests: 0, prunedThrough: this.prunedThrough };
    let events = 0;
    let requests = 0;
    this.db.transaction(() => {
      events = this.stmts.deleteEvents.run(cut).changes;
      this.stmts.deleteAnswers.run(cut);
      requests = this.stmts.deleteRequests.run(cut).changes;
      this.stmts.setMeta.run('prunedThrough', String(cut));
    })();
    this.prunedThrough = cut;
    return { events, requests, prunedThrough: cut };
  }

  isOpen(): boolean {
    return this.open && this.db.open;
  }

  /** The database itself, for the small stores that keep their own tables in it (push
   *  subscriptions): they create their tables with `IF NOT EXISTS` and never touch these. */
  database(): Database.Database {
    return this.db;
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.db.close();
  }
}

export function openSqliteStore(options: SqliteStoreOptions): SqliteEventStore {
  return new SqliteEventStore(options);
}
