/**
 * The PostgreSQL event store (`pg`): the same EventStore as the SQLite one (types.ts),
 * passing the same contract suite (contract.ts), for several instances on one database
 * (contract-2 §6; issue 13; SPEC.md TEAM).
 *
 * The log arbitrates (SPEC.md TEAM-3). The broker numbers its events in memory, so with
 * several writers two of them may number a batch from the same head. Each append
 * therefore updates the one `log_head` row in its own transaction, guarded by the head it
 * was numbered from (`UPDATE … WHERE head = first - 1`): the row lock orders the writers,
 * and the second one finds the head moved and fails with a SeqConflictError, its whole
 * batch rolled back. So the log stays gapless and no two writers both append seq N; the
 * loser's broker must catch up from the log (docs/cluster.md).
 *
 * What else the database itself guarantees: one request per idempotency key among the
 * unresolved (a UNIQUE column; a finished request's key is handed to a later request, as
 * in SQLite), one remembered answer per clientMsgId (a PRIMARY KEY, the first one kept),
 * and one outcome per request row (it changes only from `pending`, and a CHECK ties the
 * status to its outcome seq).
 *
 * Reads: each is one statement, or one REPEATABLE READ transaction (load), so it sees one
 * committed snapshot: read-your-writes on any connection of the pool (the host sends
 * nothing before the commit returned). The layout follows the SQLite store: a request's
 * input and context live once, in its request row, and the `permission-request` event row
 * keeps the rest of the event; an audit row copies the input only when pruning removes
 * the request row first.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
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
  jsonByteLength,
  LIMITS,
  requestByteLength,
  type OutcomeEvent,
  type PermissionRequestEvent,
  type RequestStatus,
  type SequencedEvent,
} from '../../protocol/index.ts';
import { type AuditDbRow, type AuditOutcome, auditOutcomeOf, str, toAuditEntry } from './auditRows.ts';
import { migrate } from './postgresMigrations.ts';
import { cancelMessage, timeoutMessage } from './sqliteStore.ts';
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

export type PostgresStoreOptions = {
  /** postgres://user@host:port/database */
  url: string;
  /** For tests: a fixed epoch for a new database. */
  epoch?: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Hold the database's writer lease while open, and refuse to open while another
   *  instance holds it (waiting up to `exclusiveWaitMs`, default 5 s, for a dying one to
   *  let go). `serve` opens its store so until the bus makes several instances one
   *  Gatehouse (docs/cluster.md, "One writer until then"). */
  exclusive?: boolean;
  exclusiveWaitMs?: number;
  /** Several instances joined by a bus: hold the lease shared, so any number of them
   *  serve the database together while one without a bus (exclusive) is refused, and
   *  the other way round (docs/cluster.md). */
  shared?: boolean;
};

/** The database's clock in ms: heartbeats compare on one clock, whatever the hosts' skew. */
const DB_NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** `pg_advisory_lock` key of the writer lease: "gatehousf", next to the migrations' key. */
const WRITER_LEASE = 0x6761746569;

/** A batch numbered from a head that is no longer the log's head: another writer
 *  appended first. Nothing of the batch was stored. */
export class SeqConflictError extends Error {
  override name = 'SeqConflictError';
  readonly code = 'seq-conflict' as const;
  constructor(
    readonly firstSeq: number,
    readonly head: number,
  ) {
    super(`seq conflict: the batch starts at seq ${firstSeq} but the log's head is ${head} (another instance appended first); nothing was stored`);
  }
}

type RequestRow = {
  id: string;
  seq: number;
  tool_name: string;
  input: string;
  context: string;
  created: number;
  expires_at: number;
  status: RequestStatus;
  decision: 'allow' | 'deny' | null;
  updated_input: string | null;
  message: string | null;
  decided_by: string | null;
  decided_at: number | null;
  reason: string | null;
  outcome_seq: number | null;
  origin: RequestOrigin;
  idempotency_key: string | null;
  body_hash: string | null;
  instance_id: string | null;
};

type Queryable = Pick<pg.PoolClient, 'query'>;

/** bigint (OID 20) as a number: seqs and millisecond times fit in 2^53. */
const INT8_OID = 20;
export const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

const AUDIT_COLUMNS = `a.request_id, a.tool_name, COALESCE(a.input, r.input) AS input, a.session_id, a.agent, a.cwd, a.requested_at,
  a.status, a.decision, a.how, a.decided_by, a.via, a.address, a.message, a.rule_id, a.decided_at, a.device_id, a.device_name`;

const encoder = new TextEncoder();

function toView(row: RequestRow): StoredRequestView {
  const view: StoredRequestView = {
    id: row.id,
    status: row.status,
    toolName: row.tool_name,
    input: JSON.parse(row.input),
    context: JSON.parse(row.context),
    expiresAt: row.expires_at,
    createdAt: row.created,
    seq: row.seq,
    origin: row.origin,
  };
  if (row.decision) view.decision = row.decision;
  if (row.updated_input !== null) view.updatedInput = JSON.parse(row.updated_input);
  if (row.message !== null) view.message = row.message;
  if (row.decided_by !== null) view.decidedBy = row.decided_by;
  if (row.decided_at !== null) view.decidedAt = row.decided_at;
  if (row.reason !== null) view.reason = row.reason;
  if (row.idempotency_key !== null) view.idempotencyKey = row.idempotency_key;
  if (row.body_hash !== null) view.bodyHash = row.body_hash;
  return view;
}

/** A `permission-request` event as its row keeps it: without input and context. */
function envelopeOf(event: PermissionRequestEvent): string {
  const { input: _input, context: _context, ...envelope } = event;
  return JSON.stringify(envelope);
}

type Finish = {
  status: OutcomeStatus;
  decision: string;
  updatedInput: string | null;
  message: string | null;
  decidedBy: string;
  decidedAt: number;
  reason: string | null;
};

/** A `permission-request` record of a batch, for its request row and audit row. */
type NewRequest = { event: PermissionRequestEvent; request: Extract<PersistRecord, { kind: 'event' }>['request']; instance: string | undefined };

/** An outcome record of a batch, for its request row's finish and its audit row. */
type OutcomeRecord = { event: OutcomeEvent; outcome: Outcome | undefined; audit: AuditFacts | undefined };

/** Rows per multi-row statement: each create's input and context may be up to a frame
 *  (`LIMITS.maxFrameBytes`, 1 MiB), so one statement carries at most about 100 MiB. */
const ROWS_PER_STATEMENT = 100;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) out.push(items.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/** The page size a byte-bounded page reads rows in (it never reads far past its budget). */
const PAGE_CHUNK = 64;

export class PostgresEventStore implements EventStore {
  private open = true;
  private leaseLost: string | undefined;

  private constructor(
    readonly epoch: string,
    private readonly pool: pg.Pool,
    /** Where, without credentials: for messages and /readyz. */
    readonly location: string,
    /** The session holding the writer lease (exclusive stores). */
    private readonly lease: pg.Client | undefined,
  ) {
    lease?.on('error', (error) => {
      this.leaseLost = error.message;
    });
    lease?.on('end', () => {
      this.leaseLost ??= 'its connection ended';
    });
  }

  /** Connects, migrates and reads (or makes) the epoch. */
  static async open(options: PostgresStoreOptions): Promise<PostgresEventStore> {
    const location = describeUrl(options.url);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      types: typeParsers,
      // A database that stops answering fails the call instead of hanging it for ever: a
      // commit that fails is fatal (the host restarts from the store), a read answers 500.
      connectionTimeoutMillis: 10_000,
      statement_timeout: 60_000,
      query_timeout: 65_000,
      keepAlive: true,
    });
    // An idle connection that breaks (the server restarted) must not crash the process:
    // the next query gets a new connection or fails, and that failure is handled there.
    pool.on('error', (error) => process.emitWarning(`PostgreSQL connection to ${location} failed: ${error.message}`));
    try {
      const client = await pool.connect();
      try {
        await migrate(client, location);
        const fresh = options.epoch ?? randomBytes(8).toString('hex');
        await client.query('BEGIN');
        // A new database: the history starts here. Another instance opening the same new
        // database at the same moment keeps the first epoch (ON CONFLICT DO NOTHING).
        await client.query("INSERT INTO meta (key, value) VALUES ('epoch', $1), ('createdAt', $2) ON CONFLICT (key) DO NOTHING", [fresh, String(Date.now())]);
        await client.query('INSERT INTO log_head (id, head, pruned_through) VALUES (true, 0, 0) ON CONFLICT (id) DO NOTHING');
        await client.query('COMMIT');
        const { rows } = await client.query<{ value: string }>("SELECT value FROM meta WHERE key = 'epoch'");
        const epoch = rows[0]?.value;
        if (!epoch) throw new Error(`the PostgreSQL database ${location} has no epoch`);
        const mode = options.shared ? 'shared' : options.exclusive ? 'exclusive' : undefined;
        const lease = mode ? await takeLease(options.url, location, options.exclusiveWaitMs ?? 5_000, mode) : undefined;
        return new PostgresEventStore(epoch, pool, location, lease);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => {});
      throw new Error(`cannot open the PostgreSQL store at ${location}: ${(error as Error).message}`, { cause: error });
    }
  }

  // ---- writes --------------------------------------------------------------------

  async writeBatch(records: readonly CommitRecord[]): Promise<void> {
    if (records.length === 0) return;
    const events = records.flatMap((r) => (r.kind === 'event' ? [r.event] : []));
    const first = events[0]?.seq;
    for (let i = 1; i < events.length; i++) {
      const seq = events[i]?.seq;
      if (seq !== (events[i - 1]?.seq ?? 0) + 1) throw new Error(`a batch's events must have consecutive seqs: ${events[i - 1]?.seq} is followed by ${seq}`);
    }
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      if (first !== undefined) {
        const last = first + events.length - 1;
        // The seq race, in the statement that appends: the row lock orders the writers,
        // the guard refuses a stale head, and then no event is inserted either.
        const appended = await client.query(
          `WITH moved AS (UPDATE log_head SET head = $5 WHERE head = $6 RETURNING 1)
           INSERT INTO events (seq, type, payload, time)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) WHERE EXISTS (SELECT 1 FROM moved)`,
          [
            events.map((e) => e.seq),
            events.map((e) => e.type),
            events.map((e) => (e.type === 'permission-request' ? envelopeOf(e) : JSON.stringify(e))),
            events.map((e) => e.timestamp),
            last,
            first - 1,
          ],
        );
        if (appended.rowCount !== events.length) {
          const head = (await client.query<{ head: number }>('SELECT head FROM log_head')).rows[0]?.head ?? 0;
          throw new SeqConflictError(first, head);
        }
      }
      await this.applyAll(client, records);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * The read models of a batch in a few statements, one per kind of row, not one or two
   * round trips per record (BENCHMARKS.md, "One and three instances": 290 statements for
   * a tick of 145 records). The order keeps what applying the records one by one in
   * batch order gives: outcomes of requests made in earlier batches first (a finished
   * request frees its idempotency key), then the keys freed, the new request rows with
   * their audit rows, and last the outcomes of the requests just made. A batch in which
   * that could differ (one key on two new requests, two outcomes of one request, an
   * outcome before its request: the broker makes none, but the store does not rely on
   * it) is applied record by record. Rows go in chunks of `ROWS_PER_STATEMENT`, so one
   * statement's arrays stay far below PostgreSQL's and V8's string limits.
   */
  private async applyAll(db: Queryable, records: readonly CommitRecord[]): Promise<void> {
    const answers: ClientAnswerRecord[] = [];
    const creates: NewRequest[] = [];
    const outcomes: OutcomeRecord[] = [];
    const made = new Set(records.flatMap((r) => (r.kind === 'event' && r.event.type === 'permission-request' ? [r.event.id] : [])));
    const madeSoFar = new Set<string>();
    let inOrder = true;
    for (const record of records) {
      if (record.kind === 'client-answer') answers.push(record.record);
      else if (record.event.type === 'permission-request') {
        creates.push({ event: record.event, request: record.request, instance: record.instance });
        madeSoFar.add(record.event.id);
      } else if ('requestId' in record.event) {
        outcomes.push({ event: record.event, outcome: record.outcome, audit: record.audit });
        // An outcome before its own request in the batch: applied in order, it finds no row.
        if (made.has(record.event.requestId) && !madeSoFar.has(record.event.requestId)) inOrder = false;
      }
      // Chat and session events live in the events table alone.
    }
    const keys = creates.flatMap((c) => (c.request?.idempotencyKey !== undefined ? [c.request.idempotencyKey] : []));
    const finishing = outcomes.map((o) => o.event.requestId);
    if (!inOrder || new Set(keys).size !== keys.length || new Set(finishing).size !== finishing.length) {
      for (const record of records) await this.applyAll(db, [record]);
      return;
    }
    for (const chunk of chunks(answers)) await this.insertClientAnswers(db, chunk);
    for (const chunk of chunks(outcomes.filter((o) => !made.has(o.event.requestId)))) await this.finish(db, chunk);
    // A finished request's key goes to the new one (the broker forgot the old request);
    // an unresolved request keeps its key, and the UNIQUE column refuses the new one.
    if (keys.length > 0) await db.query("UPDATE requests SET idempotency_key = NULL WHERE idempotency_key = ANY($1::text[]) AND status <> 'pending'", [keys]);
    for (const chunk of chunks(creates)) await this.insertRequests(db, chunk);
    for (const chunk of chunks(outcomes.filter((o) => made.has(o.event.requestId)))) await this.finish(db, chunk);
  }

  private async insertClientAnswers(db: Queryable, answers: readonly ClientAnswerRecord[]): Promise<void> {
    if (answers.length === 0) return;
    await db.query(
      `INSERT INTO client_answers (client_msg_id, request_id, answer)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT (client_msg_id) DO NOTHING`,
      [answers.map((a) => a.clientMsgId), answers.map((a) => a.requestId), answers.map((a) => JSON.stringify(a.answer))],
    );
  }

  /** The request rows and their audit rows, in one statement. */
  private async insertRequests(db: Queryable, creates: readonly NewRequest[]): Promise<void> {
    if (creates.length === 0) return;
    const column = <T>(of: (c: NewRequest, context: Record<string, unknown>) => T) => creates.map((c) => of(c, c.event.context ?? {}));
    await db.query(
      `WITH rows AS (
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[],
           $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
           AS u(id, seq, tool_name, input, context, created, expires_at, origin, idempotency_key, body_hash, instance_id, session_id, agent, cwd)
       ),
       request AS (
         INSERT INTO requests (id, seq, tool_name, input, context, created, expires_at, status, origin, idempotency_key, body_hash, instance_id)
         SELECT id, seq, tool_name, input, context, created, expires_at, 'pending', origin, idempotency_key, body_hash, instance_id FROM rows
         RETURNING id)
       INSERT INTO audit (request_id, tool_name, input, session_id, agent, cwd, requested_at)
       SELECT rows.id, rows.tool_name, NULL, rows.session_id, rows.agent, rows.cwd, rows.created FROM rows JOIN request USING (id)
       ON CONFLICT (request_id) DO NOTHING`,
      [
        column((c) => c.event.id),
        column((c) => c.event.seq),
        column((c) => c.event.toolName),
        column((c) => JSON.stringify(c.event.input)),
        column((_c, context) => JSON.stringify(context)),
        column((c) => c.event.timestamp),
        column((c) => c.event.expiresAt),
        column((c) => c.request?.origin ?? 'http'),
        column((c) => c.request?.idempotencyKey ?? null),
        column((c) => c.request?.bodyHash ?? null),
        column((c) => c.instance ?? null),
        column((_c, context) => str(context.sessionId)),
        column((_c, context) => str(context.agent)),
        column((_c, context) => str(context.cwd)),
      ],
    );
  }

  private async timesOf(db: Queryable, id: string): Promise<{ created: number; expires_at: number } | undefined> {
    return (await db.query<{ created: number; expires_at: number }>('SELECT created, expires_at FROM requests WHERE id = $1', [id])).rows[0];
  }

  /** The broker's own Outcome, kept as it decided it. */
  private async finishOfOutcome(db: Queryable, id: string, outcome: Outcome): Promise<Finish> {
    let message = outcome.message ?? null;
    if (message === null && outcome.status === 'timedOut') {
      const times = await this.timesOf(db, id);
      message = times ? timeoutMessage(times.created, times.expires_at) : timeoutMessage(0, 0);
    }
    if (message === null && outcome.status === 'cancelled') message = cancelMessage(outcome.reason ?? 'cancelled');
    return {
      status: outcome.status,
      decision: outcome.decision,
      updatedInput: outcome.updatedInput === undefined ? null : JSON.stringify(outcome.updatedInput),
      message,
      decidedBy: outcome.decidedBy,
      decidedAt: outcome.decidedAt,
      reason: outcome.reason ?? null,
    };
  }

  /** An outcome event without the broker's Outcome: rebuilt from the event. */
  private async finishOfEvent(
    db: Queryable,
    event: Extract<SequencedEvent, { type: 'permission-resolved' | 'permission-timeout' | 'permission-cancelled' }>,
  ): Promise<Finish> {
    switch (event.type) {
      case 'permission-resolved':
        return {
          status: 'resolved',
          decision: event.decision,
          updatedInput: event.updatedInput === undefined ? null : JSON.stringify(event.updatedInput),
          message: event.message ?? null,
          decidedBy: event.decidedBy,
          decidedAt: event.timestamp,
          reason: null,
        };
      case 'permission-timeout': {
        const times = await this.timesOf(db, event.requestId);
        return {
          status: 'timedOut',
          decision: 'deny',
          updatedInput: null,
          message: times ? timeoutMessage(times.created, times.expires_at) : timeoutMessage(0, 0),
          decidedBy: 'timeout',
          decidedAt: event.timestamp,
          reason: null,
        };
      }
      case 'permission-cancelled':
        return {
          status: 'cancelled',
          decision: 'deny',
          updatedInput: null,
          message: cancelMessage(event.reason),
          decidedBy: event.reason === 'server-restart' ? 'server-restart' : 'agent',
          decidedAt: event.timestamp,
          reason: event.reason,
        };
    }
  }

  /** The request rows (only from pending: the first outcome wins) and their audit rows,
   *  in one statement; each keeps its own first-outcome condition. */
  private async finish(db: Queryable, outcomes: readonly OutcomeRecord[]): Promise<void> {
    if (outcomes.length === 0) return;
    const rows: Array<{ finish: Finish; audit: AuditOutcome; record: OutcomeRecord }> = [];
    for (const record of outcomes) {
      const finish = record.outcome ? await this.finishOfOutcome(db, record.event.requestId, record.outcome) : await this.finishOfEvent(db, record.event);
      rows.push({ finish, audit: auditOutcomeOf(record.event, record.audit), record });
    }
    const column = <T>(of: (row: (typeof rows)[number]) => T) => rows.map(of);
    await db.query(
      `WITH rows AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[],
           $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::bigint[], $19::text[],
           $20::bigint[])
           AS u(request_id, a_status, a_decision, a_how, a_decided_by, a_message, a_rule_id, a_decided_at, a_via, a_address, a_device_id,
             a_device_name, status, decision, updated_input, message, decided_by, decided_at, reason, outcome_seq)
       ),
       finished AS (
         UPDATE requests r SET status = rows.status, decision = rows.decision, updated_input = rows.updated_input, message = rows.message,
           decided_by = rows.decided_by, decided_at = rows.decided_at, reason = rows.reason, outcome_seq = rows.outcome_seq
         FROM rows WHERE r.id = rows.request_id AND r.status = 'pending')
       UPDATE audit a SET status = rows.a_status, decision = rows.a_decision, how = rows.a_how, decided_by = rows.a_decided_by,
         message = rows.a_message, rule_id = rows.a_rule_id, decided_at = rows.a_decided_at, via = rows.a_via, address = rows.a_address,
         device_id = rows.a_device_id, device_name = rows.a_device_name
       FROM rows WHERE a.request_id = rows.request_id AND a.status IS NULL`,
      [
        column((r) => r.record.event.requestId),
        column((r) => r.audit.status),
        column((r) => r.audit.decision),
        column((r) => r.audit.how),
        column((r) => r.audit.decidedBy),
        column((r) => r.audit.message),
        column((r) => r.audit.ruleId),
        column((r) => r.record.event.timestamp),
        column((r) => r.audit.via),
        column((r) => r.record.audit?.address ?? null),
        column((r) => r.record.audit?.device?.id ?? null),
        column((r) => r.record.audit?.device?.name ?? null),
        column((r) => r.finish.status),
        column((r) => r.finish.decision),
        column((r) => r.finish.updatedInput),
        column((r) => r.finish.message),
        column((r) => r.finish.decidedBy),
        column((r) => r.finish.decidedAt),
        column((r) => r.finish.reason),
        column((r) => r.record.event.seq),
      ],
    );
  }

  // ---- reads ---------------------------------------------------------------------

  async head(): Promise<number> {
    return (await this.pool.query<{ head: number }>('SELECT head FROM log_head')).rows[0]?.head ?? 0;
  }

  async eventsSince(since: number): Promise<EventsSinceResult> {
    // One statement, one snapshot: the head, the pruned point and the events agree.
    const { rows } = await this.pool.query<{ head: number; pruned_through: number; payload: string | null; input: string | null; context: string | null }>(
      `SELECT h.head, h.pruned_through, e.payload, r.input, r.context
         FROM log_head h
         LEFT JOIN events e ON $1 >= h.pruned_through AND e.seq > $1 AND e.seq <= h.head
         LEFT JOIN requests r ON e.type = 'permission-request' AND r.seq = e.seq
       ORDER BY e.seq`,
      [since],
    );
    const top = rows[0];
    const head = top?.head ?? 0;
    if (since > head) return { ok: false, reason: 'too-new' };
    if (since < (top?.pruned_through ?? 0)) return { ok: false, reason: 'too-old' };
    const events: SequencedEvent[] = [];
    for (const row of rows) {
      if (row.payload === null) continue;
      const event = JSON.parse(row.payload) as SequencedEvent;
      if (event.type === 'permission-request' && row.input !== null) {
        event.input = JSON.parse(row.input) as Record<string, unknown>;
        event.context = JSON.parse(row.context ?? '{}') as PermissionRequestEvent['context'];
      }
      events.push(event);
    }
    return { ok: true, events };
  }

  async getRequest(id: string): Promise<StoredRequestView | undefined> {
    const row = (await this.pool.query<RequestRow>('SELECT * FROM requests WHERE id = $1', [id])).rows[0];
    return row ? toView(row) : undefined;
  }

  async findByIdempotencyKey(key: string): Promise<StoredRequestView | undefined> {
    const row = (await this.pool.query<RequestRow>('SELECT * FROM requests WHERE idempotency_key = $1', [key])).rows[0];
    return row ? toView(row) : undefined;
  }

  private async list(db: Queryable, filter: { status?: RequestStatus; limit?: number }): Promise<StoredRequestView[]> {
    const { rows } = await db.query<RequestRow>('SELECT * FROM requests WHERE ($1::text IS NULL OR status = $1) ORDER BY seq LIMIT $2', [
      filter.status ?? null,
      filter.limit ?? null,
    ]);
    return rows.map(toView);
  }

  async listRequests(filter: { status?: RequestStatus; limit?: number }): Promise<StoredRequestView[]> {
    return this.list(this.pool, filter);
  }

  async pageRequests(page: RequestPage): Promise<{ requests: StoredRequestView[]; more: boolean }> {
    const requests: StoredRequestView[] = [];
    let bytes = 0;
    let after = page.afterSeq;
    // Read in small chunks: a page never reads far more rows than it answers.
    for (;;) {
      // Up to one row past the limit: it says whether more follow.
      const wanted = Math.min(PAGE_CHUNK, page.limit + 1 - requests.length);
      const { rows } = await this.pool.query<RequestRow>('SELECT * FROM requests WHERE ($1::text IS NULL OR status = $1) AND seq > $2 ORDER BY seq LIMIT $3', [
        page.status ?? null,
        after,
        wanted,
      ]);
      for (const row of rows) {
        if (requests.length >= page.limit) return { requests, more: true };
        const view = toView(row);
        const weight = requestByteLength(view) + (view.updatedInput ? jsonByteLength(view.updatedInput) : 0);
        if (requests.length > 0 && bytes + weight > page.maxBytes) return { requests, more: true };
        bytes += weight;
        requests.push(view);
        after = row.seq;
      }
      if (rows.length < wanted) return { requests, more: false };
    }
  }

  async getRequests(ids: readonly string[]): Promise<StoredRequestView[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<RequestRow>('SELECT * FROM requests WHERE id = ANY($1::text[])', [ids]);
    return rows.map(toView);
  }

  /** The remembered `clientMsgId` answers of these requests, in the order they were kept. */
  async clientAnswersFor(requestIds: readonly string[]): Promise<ClientAnswerRecord[]> {
    if (requestIds.length === 0) return [];
    const { rows } = await this.pool.query<{ client_msg_id: string; request_id: string; answer: string }>(
      'SELECT client_msg_id, request_id, answer FROM client_answers WHERE request_id = ANY($1::text[]) ORDER BY ord',
      [requestIds],
    );
    return rows.map((row) => ({ clientMsgId: row.client_msg_id, requestId: row.request_id, answer: JSON.parse(row.answer) as DecisionAnswer }));
  }

  // ---- agents' homes (docs/cluster.md): instances and their heartbeats --------------

  /** Records this instance as alive (or again alive), on the database's clock. */
  async registerInstance(id: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO instances (id, started_at, heartbeat_at) VALUES ($1, ${DB_NOW_MS}, ${DB_NOW_MS})
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at`,
      [id],
    );
  }

  async heartbeat(id: string): Promise<void> {
    const { rowCount } = await this.pool.query(`UPDATE instances SET heartbeat_at = ${DB_NOW_MS} WHERE id = $1`, [id]);
    if (!rowCount) await this.registerInstance(id);
  }

  /** A clean stop: the instance is gone at once (its agents went with it). */
  async removeInstance(id: string): Promise<void> {
    await this.pool.query('DELETE FROM instances WHERE id = $1', [id]);
  }

  /** Unresolved `agent` requests whose instance is not alive (no heartbeat within
   *  `lapseMs`, or no instance row), oldest first; `self`'s own only with `includeSelf`
   *  (at start: what its previous run left). Rows of long-dead instances are dropped. */
  async orphanedAgentRequests(options: { self: string; includeSelf: boolean; lapseMs: number }): Promise<string[]> {
    const lapse = Math.max(1, Math.floor(options.lapseMs));
    await this.pool.query(`DELETE FROM instances WHERE heartbeat_at < ${DB_NOW_MS} - $1::bigint AND id <> $2`, [lapse * 100, options.self]);
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT r.id FROM requests r
        WHERE r.status = 'pending' AND r.origin = 'agent'
          AND (($2::boolean AND r.instance_id = $1) OR r.instance_id IS DISTINCT FROM $1)
          AND (r.instance_id = $1 OR NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = r.instance_id AND i.heartbeat_at > ${DB_NOW_MS} - $3::bigint))
        ORDER BY r.seq`,
      [options.self, options.includeSelf, lapse],
    );
    return rows.map((r) => r.id);
  }

  async countByStatus(): Promise<Record<RequestStatus, number>> {
    const counts: Record<RequestStatus, number> = { pending: 0, resolved: 0, timedOut: 0, cancelled: 0 };
    const { rows } = await this.pool.query<{ status: RequestStatus; n: number }>('SELECT status, COUNT(*) AS n FROM requests GROUP BY status');
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  async auditRows(query: AuditRowQuery): Promise<AuditRow[]> {
    const { filter } = query;
    const where: string[] = [];
    const args: unknown[] = [];
    const param = (value: unknown) => {
      args.push(value);
      return `$${args.length}`;
    };
    const eq = (column: string, value: unknown) => {
      if (value !== undefined) where.push(`${column} = ${param(value)}`);
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
    if (filter.since !== undefined) where.push(`a.requested_at >= ${param(filter.since)}`);
    if (filter.until !== undefined) where.push(`a.requested_at <= ${param(filter.until)}`);
    const past = query.order === 'newest' ? '<' : '>';
    if (query.after) {
      const at = param(query.after.at);
      where.push(`(a.requested_at ${past} ${at} OR (a.requested_at = ${at} AND a.request_id ${past} ${param(query.after.id)}))`);
    }
    const dir = query.order === 'newest' ? 'DESC' : 'ASC';
    const sql = `SELECT ${AUDIT_COLUMNS} FROM audit a LEFT JOIN requests r ON a.input IS NULL AND r.id = a.request_id
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY a.requested_at ${dir}, a.request_id ${dir} LIMIT ${param(query.limit)}`;
    const { rows } = await this.pool.query<AuditDbRow>(sql, args);
    return rows.map((row) => ({ entry: toAuditEntry(row), inputBytes: row.input === null ? 2 : encoder.encode(row.input).length }));
  }

  async load(options: { now: number; recentLimit?: number | undefined }): Promise<BrokerInput> {
    const recentLimit = options.recentLimit ?? 10_000;
    const client = await this.pool.connect();
    try {
      // One snapshot for the whole start point.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const pending = await client.query<RequestRow>("SELECT * FROM requests WHERE status = 'pending' ORDER BY seq");
      const unresolved: StoredRequest[] = pending.rows.map((row) => {
        const view = toView(row);
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
        if (row.instance_id !== null) stored.instance = row.instance_id;
        return stored;
      });
      const finishedRows = (
        await client.query<RequestRow>("SELECT * FROM requests WHERE status <> 'pending' ORDER BY seq DESC LIMIT $1", [recentLimit])
      ).rows.reverse();
      const finished: FinishedRequest[] = finishedRows.map((row) => {
        const item: FinishedRequest = {
          id: row.id,
          toolName: row.tool_name,
          seq: row.seq,
          expiresAt: row.expires_at,
          outcome: {
            status: row.status as OutcomeStatus,
            decision: row.decision ?? 'deny',
            decidedBy: row.decided_by ?? 'unknown',
            decidedAt: row.decided_at ?? row.created,
          },
        };
        if (row.updated_input !== null) item.outcome.updatedInput = JSON.parse(row.updated_input);
        if (row.message !== null) item.outcome.message = row.message;
        if (row.reason !== null) item.outcome.reason = row.reason;
        if (row.idempotency_key !== null) item.idempotencyKey = row.idempotency_key;
        if (row.body_hash !== null) item.bodyHash = row.body_hash;
        return item;
      });
      const minFinishedSeq = finishedRows[0]?.seq ?? Number.MAX_SAFE_INTEGER;
      const answers = await client.query<{ client_msg_id: string; request_id: string; answer: string }>(
        `SELECT ca.client_msg_id, ca.request_id, ca.answer FROM client_answers ca JOIN requests r ON r.id = ca.request_id
         WHERE r.status = 'pending' OR r.seq >= $1 ORDER BY ca.ord`,
        [minFinishedSeq],
      );
      const clientAnswers: ClientAnswerRecord[] = answers.rows.map((row) => ({
        clientMsgId: row.client_msg_id,
        requestId: row.request_id,
        answer: JSON.parse(row.answer) as DecisionAnswer,
      }));
      const headSeq = (await client.query<{ head: number }>('SELECT head FROM log_head')).rows[0]?.head ?? 0;
      await client.query('COMMIT');
      return { epoch: this.epoch, headSeq, now: options.now, unresolved, finished, clientAnswers, recentLimit };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async prune(now: number, limits: HistoryLimits): Promise<PruneResult> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // The head row, locked: appends and other instances' prunes wait for this one.
      const state = (await client.query<{ head: number; pruned_through: number }>('SELECT head, pruned_through FROM log_head FOR UPDATE')).rows[0];
      let prunedThrough = state?.pruned_through ?? 0;
      const head = state?.head ?? 0;
      // The audit rows: beyond the newest `keepEvents` rows AND ended before `keepMs` ago
      // (an unresolved row counts as ending at the latest deadline a request can have).
      const audit = await client.query(
        `DELETE FROM audit WHERE request_id IN (SELECT request_id FROM audit ORDER BY requested_at DESC, request_id DESC OFFSET $1)
           AND COALESCE(decided_at, requested_at + $2) < $3`,
        [Math.max(1, limits.keepEvents), LIMITS.maxTimeoutMs, now - limits.keepMs],
      );
      let events = 0;
      let requests = 0;
      const bySeq = head - Math.max(1, limits.keepEvents);
      if (bySeq > prunedThrough) {
        // Both limits must agree: an event goes only when it is beyond the newest N AND old.
        const cut = (
          await client.query<{ cut: number | null }>('SELECT MAX(seq) AS cut FROM events WHERE seq <= $1 AND time < $2', [bySeq, now - limits.keepMs])
        ).rows[0]?.cut;
        if (cut !== null && cut !== undefined && cut > prunedThrough) {
          events = (await client.query('DELETE FROM events WHERE seq <= $1', [cut])).rowCount ?? 0;
          await client.query("DELETE FROM client_answers WHERE request_id IN (SELECT id FROM requests WHERE status <> 'pending' AND outcome_seq <= $1)", [cut]);
          // The audit row outlives the request row: it takes its own copy of the input first.
          await client.query(
            `UPDATE audit SET input = r.input FROM requests r
             WHERE audit.input IS NULL AND r.id = audit.request_id AND r.status <> 'pending' AND r.outcome_seq <= $1`,
            [cut],
          );
          requests = (await client.query("DELETE FROM requests WHERE status <> 'pending' AND outcome_seq <= $1", [cut])).rowCount ?? 0;
          await client.query('UPDATE log_head SET pruned_through = $1', [cut]);
          prunedThrough = cut;
        }
      }
      await client.query('COMMIT');
      return { events, requests, auditRows: audit.rowCount ?? 0, prunedThrough };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** A round trip to the database: rejects when it cannot answer (for /readyz). */
  async ping(): Promise<void> {
    if (this.leaseLost !== undefined) throw new Error(`the writer lease on ${this.location} was lost (${this.leaseLost})`);
    await this.pool.query('SELECT 1');
  }

  isOpen(): boolean {
    return this.open;
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    // Ending the session releases the lease (as a killed process's session does).
    await this.lease?.end().catch(() => {});
    await this.pool.end();
  }
}

/**
 * The writer lease: a session-level advisory lock on a connection of its own, held while
 * the store is open. A killed process's session ends with its socket, which frees it.
 */
async function takeLease(url: string, location: string, waitMs: number, mode: 'exclusive' | 'shared'): Promise<pg.Client> {
  // keepAlive: a lease whose peer vanished is noticed (and given up) sooner.
  const client = new pg.Client({ connectionString: url, keepAlive: true, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    // lock_timeout bounds the wait; this connection runs nothing else, so it bounds nothing else.
    await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(waitMs))}`);
    await client.query(mode === 'shared' ? 'SELECT pg_advisory_lock_shared($1)' : 'SELECT pg_advisory_lock($1)', [WRITER_LEASE]);
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    if ((error as { code?: string }).code === '55P03' && mode === 'shared') {
      throw new Error(
        `another Gatehouse instance serves ${location} without --bus (it holds the writer lease alone): start every instance on one database with --bus nats://HOST:PORT (docs/cluster.md)`,
      );
    }
    if ((error as { code?: string }).code === '55P03') {
      throw new Error(
        `another Gatehouse instance serves ${location} (it holds the writer lease): to run several instances on one database, start each with --bus nats://HOST:PORT (docs/cluster.md)`,
      );
    }
    throw error;
  }
}

/** `postgres://user:secret@host:5432/db?x` as `postgres://user@host:5432/db`: no password in logs. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.username ? `${parsed.username}@` : ''}${parsed.host}${parsed.pathname}`;
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** Opens (creates, migrates) the PostgreSQL store. */
export function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresEventStore> {
  return PostgresEventStore.open(options);
}
