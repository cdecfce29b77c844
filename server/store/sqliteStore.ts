/**
 * The SQLite event store (better-sqlite3): the event log, the requests, idempotency keys,
 * remembered clientMsgId answers, the audit rows and a meta table, in
 * `<data-dir>/gatehouse.db`.
 *
 * WAL with synchronous=NORMAL by default: a committed transaction survives a killed
 * process (kill -9), which is what protocol-v1.md §1 promises; `synchronous: 'FULL'` also
 * survives an OS crash at the cost of one fsync per tick. WAL checkpoints run in a worker
 * thread (walCheckpointer.ts), not inside a COMMIT on the event loop.
 *
 * The log is the truth (SPEC.md CORE-L): the request rows and the audit rows are read
 * models derived from the events inside the transaction that appends them, so neither
 * runs ahead of the log nor falls behind it, and a crash cannot keep a decision and lose
 * its audit row. Each request's input and context are stored once, in its request row:
 * the `permission-request` event row keeps the rest of the event and a read joins the two
 * (a request row outlives its event: a finished request goes only with its outcome event,
 * an unresolved one never). An audit row reads its input from the request row too, and
 * takes its own copy only when pruning removes the request row before the audit row.
 *
 * Every method returns a Promise (the interface, types.ts, fits a networked store); this
 * one does its work synchronously on its single connection and answers resolved promises.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
import {
  cancelledMessage,
  DECIDERS,
  decidedByWire,
  formatDecidedBy,
  jsonByteLength,
  type RequestStatus,
  requestByteLength,
  type SequencedEvent,
  timedOutMessage,
  waitedSeconds,
  LIMITS,
  type PermissionRequestEvent,
} from '../../protocol/index.ts';
import { PRIVATE_DIR_MODE, preparePrivateDbFile, tightenDbFiles } from './fileModes.ts';
import type {
  AuditFacts,
  AuditRow,
  AuditRowQuery,
  CommitRecord,
  EventStore,
  EventsSinceResult,
  HistoryLimits,
  PruneResult,
  RequestPage,
  StoredRequestView,
} from './types.ts';
import { type AuditDbRow, auditOutcomeOf, str, toAuditEntry } from './auditRows.ts';
import { WalCheckpointer, type CheckpointResult } from './walCheckpointer.ts';

/** 2: the audit table; `permission-request` event rows without input and context. */
export const SCHEMA_VERSION = 2;
export const DB_FILE = 'gatehouse.db';

export type SqliteStoreOptions = {
  /** A directory (the file is `gatehouse.db` inside it) or `:memory:`. */
  dataDir: string | ':memory:';
  /** The database file itself (`--store sqlite:PATH`); default `<dataDir>/gatehouse.db`. */
  file?: string;
  synchronous?: 'NORMAL' | 'FULL';
  /** For tests: a fixed epoch for a new database. */
  epoch?: string;
  /** WAL checkpoints: 'worker' (default: a worker thread, walCheckpointer.ts) or 'inline'
   *  (SQLite's own, inside COMMIT every 1,000 pages; kept to measure the difference). */
  checkpoints?: 'worker' | 'inline';
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
-- The audit read model (server/audit/auditLog.ts). input is NULL while the request row
-- holds it (one copy); prune copies it here before it removes the request row.
CREATE TABLE IF NOT EXISTS audit (
  request_id TEXT PRIMARY KEY,
  tool_name TEXT NOT NULL,
  input TEXT,
  session_id TEXT,
  agent TEXT,
  cwd TEXT,
  requested_at INTEGER NOT NULL,
  status TEXT,
  decision TEXT,
  how TEXT,
  decided_by TEXT,
  via TEXT,
  address TEXT,
  message TEXT,
  rule_id TEXT,
  decided_at INTEGER,
  device_id TEXT,
  device_name TEXT,
  agent_choice TEXT
);
CREATE INDEX IF NOT EXISTS audit_requested ON audit (requested_at, request_id);
`;

/** The columns an audit row is read with: its input from the request row while it has none. */
const AUDIT_COLUMNS = `a.request_id, a.tool_name, COALESCE(a.input, r.input) AS input, a.session_id, a.agent, a.cwd, a.requested_at,
  a.status, a.decision, a.how, a.decided_by, a.via, a.address, a.message, a.rule_id, a.decided_at, a.device_id, a.device_name, a.agent_choice`;

/** Every audit column, as a legacy agents.db audit table has them (server/agents/db.ts). */
const LEGACY_AUDIT_COLUMNS =
  'request_id, tool_name, input, session_id, agent, cwd, requested_at, status, decision, how, decided_by, via, address, message, rule_id, decided_at, device_id, device_name';

/** The message a timed-out request reads with (protocol-v1.md §4; the words: protocol/outcome.ts). */
export function timeoutMessage(created: number, expiresAt: number): string {
  return timedOutMessage(waitedSeconds(created, expiresAt));
}

export function cancelMessage(reason: string): string {
  return cancelledMessage(reason);
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

const encoder = new TextEncoder();

/** A `permission-request` event as its row keeps it: without input and context (the request row holds them). */
function envelopeOf(event: PermissionRequestEvent): string {
  const { input: _input, context: _context, ...envelope } = event;
  return JSON.stringify(envelope);
}

export class SqliteEventStore implements EventStore {
  readonly epoch: string;
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly checkpointer: WalCheckpointer | undefined;
  private readonly tx: (records: readonly CommitRecord[]) => void;
  private open = true;
  private prunedThrough: number;

  constructor(options: SqliteStoreOptions) {
    let file = ':memory:';
    if (options.dataDir !== ':memory:') {
      file = options.file ?? join(options.dataDir, DB_FILE);
      mkdirSync(dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
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
      throw new Error(`the database ${file} has schema version ${version.value}; this server knows up to ${SCHEMA_VERSION}`);
    }
    let epoch = getMeta.get('epoch')?.value;
    if (!epoch) {
      // A new database: the history starts here, so clients holding another epoch drop theirs.
      const fresh = options.epoch ?? randomBytes(8).toString('hex');
      this.db.transaction(() => {
        setMeta.run('epoch', fresh);
        setMeta.run('prunedThrough', '0');
        setMeta.run('createdAt', String(Date.now()));
      })();
      epoch = fresh;
    }
    // Version 1 rows read as they are (their request events still carry input and
    // context; a read uses them); the audit table was created above.
    // A version 2 audit table from before the agent's own choices gets their column
    // (docs/integrations.md, "The agent's own choices"); older servers ignore it.
    const auditColumns = new Set((this.db.prepare('PRAGMA table_info(audit)').all() as { name: string }[]).map((c) => c.name));
    if (!auditColumns.has('agent_choice')) this.db.exec('ALTER TABLE audit ADD COLUMN agent_choice TEXT');
    setMeta.run('schemaVersion', String(SCHEMA_VERSION));
    this.epoch = epoch;
    this.prunedThrough = Number(getMeta.get('prunedThrough')?.value ?? 0);

    if (file !== ':memory:' && options.checkpoints !== 'inline') {
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = new WalCheckpointer(file, {
        nudgeEveryCommits: 256,
        intervalMs: 1_000,
        onError: (error) => process.emitWarning(`WAL checkpointer failed: ${String(error)}`),
      });
    }

    this.stmts = {
      getMeta,
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
      auditRequest: this.db.prepare(
        'INSERT OR IGNORE INTO audit (request_id, tool_name, input, session_id, agent, cwd, requested_at) VALUES (?, ?, NULL, ?, ?, ?, ?)',
      ),
      auditOutcome: this.db.prepare(
        `UPDATE audit SET status = @status, decision = @decision, how = @how, decided_by = @decidedBy, message = @message, rule_id = @ruleId,
           decided_at = @decidedAt, via = @via, address = @address, device_id = @deviceId, device_name = @deviceName,
           agent_choice = @agentChoice
         WHERE request_id = @id AND status IS NULL`,
      ),
      head: this.db.prepare<[], { head: number | null }>('SELECT MAX(seq) AS head FROM events'),
      since: this.db.prepare<[number], { type: string; payload: string; input: string | null; context: string | null }>(
        `SELECT e.type, e.payload, r.input, r.context FROM events e
           LEFT JOIN requests r ON e.type = 'permission-request' AND r.seq = e.seq
         WHERE e.seq > ? ORDER BY e.seq`,
      ),
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
      // The audit row outlives the request row: it takes its own copy of the input first.
      keepAuditInput: this.db.prepare(
        `UPDATE audit SET input = (SELECT r.input FROM requests r WHERE r.id = audit.request_id)
         WHERE input IS NULL AND request_id IN (SELECT id FROM requests WHERE status <> 'pending' AND outcomeSeq <= ?)`,
      ),
      deleteRequests: this.db.prepare("DELETE FROM requests WHERE status <> 'pending' AND outcomeSeq <= ?"),
      // A row still unresolved counts as ending at the latest deadline a request can have,
      // so a row whose outcome never came goes too, just later.
      pruneAudit: this.db.prepare(
        `DELETE FROM audit WHERE rowid IN (SELECT rowid FROM audit ORDER BY requested_at DESC, request_id DESC LIMIT -1 OFFSET ?)
           AND COALESCE(decided_at, requested_at + ?) < ?`,
      ),
    };
    this.tx = this.db.transaction(this.applyBatch);
  }

  private readonly applyBatch = (records: readonly CommitRecord[]) => {
    for (const record of records) {
      if (record.kind === 'client-answer') {
        const { clientMsgId, requestId, answer } = record.record;
        this.stmts.insertAnswer.run(clientMsgId, requestId, JSON.stringify(answer));
        continue;
      }
      const event = record.event;
      if (event.type === 'permission-request') {
        this.stmts.insertEvent.run(event.seq, event.type, envelopeOf(event), event.timestamp);
        this.insertRequest(event, record.request);
        continue;
      }
      this.stmts.insertEvent.run(event.seq, event.type, JSON.stringify(event), event.timestamp);
      if (record.outcome && (event.type === 'permission-resolved' || event.type === 'permission-timeout' || event.type === 'permission-cancelled')) {
        this.finishFromOutcome(event.requestId, event.seq, record.outcome);
      } else {
        this.project(event);
      }
      this.auditOutcome(event, record.audit);
    }
  };

  private insertRequest(event: PermissionRequestEvent, request: Extract<PersistRecord, { kind: 'event' }>['request']): void {
    const key = request?.idempotencyKey ?? null;
    // Defensive: a key whose old request was forgotten by the broker may be reused.
    if (key !== null) this.stmts.clearKey.run(key, event.id);
    const context = event.context ?? {};
    this.stmts.insertRequest.run({
      id: event.id,
      seq: event.seq,
      toolName: event.toolName,
      input: JSON.stringify(event.input),
      context: JSON.stringify(context),
      created: event.timestamp,
      expiresAt: event.expiresAt,
      origin: request?.origin ?? 'http',
      idempotencyKey: key,
      bodyHash: request?.bodyHash ?? null,
    });
    this.stmts.auditRequest.run(event.id, event.toolName, str(context.sessionId), str(context.agent), str(context.cwd), event.timestamp);
  }

  /** The audit row of an outcome event, with what the deciding edge knew (AuditFacts). */
  private auditOutcome(event: SequencedEvent, facts: AuditFacts | undefined): void {
    // Only the winning human decision's choice: the host attaches facts to the outcome
    // record its own decide call made (brokerHost.ts attachAuditFacts).
    const choice = facts?.agentChoice;
    const who = {
      address: facts?.address ?? null,
      deviceId: facts?.device?.id ?? null,
      deviceName: facts?.device?.name ?? null,
      agentChoice: choice ? JSON.stringify({ id: choice.id, kind: choice.kind, label: choice.label }) : null,
    };
    if (!('requestId' in event)) return;
    this.stmts.auditOutcome.run({ id: event.requestId, ...auditOutcomeOf(event, facts), decidedAt: event.timestamp, ...who });
  }

  /** Keep the request rows in step with the log (an outcome event without the broker's Outcome). */
  private project(event: SequencedEvent): void {
    switch (event.type) {
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
          decidedBy: decidedByWire.timeout,
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
          decidedBy: formatDecidedBy(event.reason === 'server-restart' ? { kind: 'server', restart: true } : DECIDERS.agent),
          decidedAt: event.timestamp,
          reason: event.reason,
        });
        return;
      case 'permission-request':
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

  async writeBatch(records: readonly CommitRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.tx(records);
    this.checkpointer?.committed();
  }

  private headNow(): number {
    return this.stmts.head.get()?.head ?? this.prunedThrough;
  }

  async head(): Promise<number> {
    return this.headNow();
  }

  async eventsSince(since: number): Promise<EventsSinceResult> {
    const head = this.headNow();
    if (since > head) return { ok: false, reason: 'too-new' };
    if (since < this.prunedThrough) return { ok: false, reason: 'too-old' };
    const events = this.stmts.since.all(since).map((row) => {
      const event = JSON.parse(row.payload) as SequencedEvent;
      // A version-1 row still carries them; a newer one takes them from its request row.
      if (event.type === 'permission-request' && row.input !== null && (event as { input?: unknown }).input === undefined) {
        event.input = JSON.parse(row.input) as Record<string, unknown>;
        event.context = JSON.parse(row.context ?? '{}') as PermissionRequestEvent['context'];
      }
      return event;
    });
    return { ok: true, events };
  }

  async getRequest(id: string): Promise<StoredRequestView | undefined> {
    return this.getRequestNow(id);
  }

  /** `getRequest`, synchronously: SQLite only, for the rule engine's synchronous lookups
   *  (server/agents/plugin.ts) until its gate is asynchronous. */
  getRequestNow(id: string): StoredRequestView | undefined {
    const row = this.stmts.getRequest.get(id);
    return row ? toView(row) : undefined;
  }

  async findByIdempotencyKey(key: string): Promise<StoredRequestView | undefined> {
    const row = this.stmts.byKey.get(key);
    return row ? toView(row) : undefined;
  }

  private listNow(filter: { status?: RequestStatus; limit?: number }): StoredRequestView[] {
    const limit = filter.limit ?? -1;
    const rows = filter.status ? this.stmts.listStatus.all(filter.status, limit) : this.stmts.listAll.all(limit);
    return rows.map(toView);
  }

  async listRequests(filter: { status?: RequestStatus; limit?: number }): Promise<StoredRequestView[]> {
    return this.listNow(filter);
  }

  async pageRequests(page: RequestPage): Promise<{ requests: StoredRequestView[]; more: boolean }> {
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

  async countByStatus(): Promise<Record<RequestStatus, number>> {
    const counts: Record<RequestStatus, number> = { pending: 0, resolved: 0, timedOut: 0, cancelled: 0 };
    for (const row of this.stmts.counts.all()) counts[row.status] = row.n;
    return counts;
  }

  async auditRows(query: AuditRowQuery): Promise<AuditRow[]> {
    const { filter } = query;
    const where: string[] = [];
    const args: unknown[] = [];
    const eq = (column: string, value: unknown) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      args.push(value);
    };
    eq('a.request_id', filter.requestId);
    eq('a.tool_name', filter.toolName);
    eq('a.decision', filter.decision);
    eq('a.how', filter.how);
    eq('a.session_id', filter.sessionId);
    eq('a.agent', filter.agent);
    eq('a.decided_by', filter.decidedBy);
    eq('a.device_id', filter.deviceId);
    if (filter.status === 'pending') where.push('a.status IS NULL');
    else eq('a.status', filter.status);
    if (filter.since !== undefined) {
      where.push('a.requested_at >= ?');
      args.push(filter.since);
    }
    if (filter.until !== undefined) {
      where.push('a.requested_at <= ?');
      args.push(filter.until);
    }
    const past = query.order === 'newest' ? '<' : '>';
    if (query.after) {
      where.push(`(a.requested_at ${past} ? OR (a.requested_at = ? AND a.request_id ${past} ?))`);
      args.push(query.after.at, query.after.at, query.after.id);
    }
    const dir = query.order === 'newest' ? 'DESC' : 'ASC';
    const sql = `SELECT ${AUDIT_COLUMNS} FROM audit a LEFT JOIN requests r ON a.input IS NULL AND r.id = a.request_id
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY a.requested_at ${dir}, a.request_id ${dir} LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, query.limit) as AuditDbRow[];
    return rows.map((row) => ({ entry: toAuditEntry(row), inputBytes: row.input === null ? 2 : encoder.encode(row.input).length }));
  }

  async load(options: { now: number; recentLimit?: number | undefined }): Promise<BrokerInput> {
    return this.loadNow(options);
  }

  /** `load`, synchronously: SQLite only, for tests and benchmarks that build a host in a
   *  synchronous step (`new BrokerHost(options, store.loadNow(...))`). */
  loadNow(options: { now: number; recentLimit?: number | undefined }): BrokerInput {
    const recentLimit = options.recentLimit ?? 10_000;
    const unresolved: StoredRequest[] = this.listNow({ status: 'pending' }).map((view) => {
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
    const minFinishedSeq = finishedRows[0]?.seq ?? Number.MAX_SAFE_INTEGER;
    const clientAnswers: ClientAnswerRecord[] = this.stmts.answersFrom.all(minFinishedSeq).map((row) => ({
      clientMsgId: row.clientMsgId,
      requestId: row.requestId,
      answer: parseJson<DecisionAnswer>(row.answer)!,
    }));
    return { epoch: this.epoch, headSeq: this.headNow(), now: options.now, unresolved, finished, clientAnswers, recentLimit };
  }

  async prune(now: number, limits: HistoryLimits): Promise<PruneResult> {
    let events = 0;
    let requests = 0;
    let auditRows = 0;
    this.db.transaction(() => {
      // The audit rows: beyond the newest `keepEvents` rows AND ended before `keepMs` ago.
      auditRows = this.stmts.pruneAudit.run(Math.max(1, limits.keepEvents), LIMITS.maxTimeoutMs, now - limits.keepMs).changes;
      const head = this.headNow();
      const bySeq = head - Math.max(1, limits.keepEvents);
      if (bySeq <= this.prunedThrough) return;
      // Both limits must agree: an event goes only when it is beyond the newest N AND old.
      const cut = this.stmts.cutBySeq.get(bySeq, now - limits.keepMs)?.cut ?? null;
      if (cut === null || cut <= this.prunedThrough) return;
      events = this.stmts.deleteEvents.run(cut).changes;
      this.stmts.deleteAnswers.run(cut);
      this.stmts.keepAuditInput.run(cut);
      requests = this.stmts.deleteRequests.run(cut).changes;
      this.stmts.setMeta.run('prunedThrough', String(cut));
      this.prunedThrough = cut;
    })();
    return { events, requests, auditRows, prunedThrough: this.prunedThrough };
  }

  /**
   * Imports, once, the audit rows of an agents database from before CORE-L2 (when the
   * audit lived in `<data-dir>/agents.db`); returns how many rows it added. A second call
   * finds the mark in `meta` and adds nothing; a crash before the mark re-imports with
   * `INSERT OR IGNORE`, which adds nothing twice.
   */
  importLegacyAudit(agentsDbFile: string): number {
    if (this.stmts.getMeta.get('legacyAuditImported')) return 0;
    this.db.prepare('ATTACH DATABASE ? AS legacy').run(agentsDbFile);
    try {
      const hasAudit = this.db.prepare("SELECT 1 FROM legacy.sqlite_master WHERE type = 'table' AND name = 'audit'").get() !== undefined;
      let added = 0;
      this.db.transaction(() => {
        if (hasAudit) {
          // An agents.db of the every-agent branch kept the agent's choice too.
          const legacyColumns = new Set((this.db.prepare('PRAGMA legacy.table_info(audit)').all() as { name: string }[]).map((c) => c.name));
          const columns = legacyColumns.has('agent_choice') ? `${LEGACY_AUDIT_COLUMNS}, agent_choice` : LEGACY_AUDIT_COLUMNS;
          added = this.db.prepare(`INSERT OR IGNORE INTO audit (${columns}) SELECT ${columns} FROM legacy.audit`).run().changes;
        }
        this.stmts.setMeta.run('legacyAuditImported', String(Date.now()));
      })();
      return added;
    } finally {
      this.db.exec('DETACH DATABASE legacy');
    }
  }

  /** A WAL checkpoint by the worker now (undefined for `:memory:` or inline checkpoints). */
  checkpointNow(): Promise<CheckpointResult> | undefined {
    return this.checkpointer?.checkpointNow();
  }

  isOpen(): boolean {
    return this.open && this.db.open;
  }

  /** The database itself, for the small stores that keep their own tables in it (push
   *  subscriptions): they create their tables with `IF NOT EXISTS` and never touch these. */
  database(): Database.Database {
    return this.db;
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    // The worker's connection first, so the last one to close (this one) checkpoints
    // and removes the WAL as SQLite does.
    await this.checkpointer?.close();
    this.db.close();
  }
}

/** Opens (creates, migrates) the SQLite store: the factory shape every store has. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteEventStore> {
  return new SqliteEventStore(options);
}
