/**
 * The audit log: one row per request with its outcome (who decided: the client label and
 * address; how: human, rule, timeout, cancel; what: tool and input; when), kept in
 * SQLite from the committed event stream, so it records every outcome whatever path
 * produced it. `GET /api/audit` lists it newest first in pages (a cursor, and a byte
 * budget: list entries carry a summary of the input, the whole entry is `GET
 * /api/audit/ID`), so no size of the log or of its inputs makes an answer fail;
 * `?format=jsonl` exports it, oldest first, streamed page by page (docs/integrations.md).
 *
 * Pruned with the history (`prune`, on the store's schedule and bound): a row goes only
 * when it is beyond the newest `--history-events` rows AND it ended (its decision, or the
 * latest deadline a request can have) before `--history-age-ms` ago.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import {
  agentChoiceEntry,
  AUDIT_HOWS,
  AUDIT_LIMITS,
  DECISIONS,
  ERROR_CODES,
  LIMITS,
  hiddenNamesDeep,
  inputSummaryText,
  parseWith,
  type AgentChoice,
  type AuditEntry,
  type AuditHow,
  type AuditListEntry,
  type AuditPage,
  type SequencedEvent,
} from '../../protocol/index.ts';
import type { AgentsDb } from '../agents/db.ts';
import { errorResponse } from '../http/errors.ts';

export { AUDIT_HOWS, type AuditEntry, type AuditHow };

const encoder = new TextEncoder();

type Row = {
  request_id: string;
  tool_name: string;
  input: string;
  session_id: string | null;
  agent: string | null;
  cwd: string | null;
  requested_at: number;
  status: AuditEntry['status'] | null;
  decision: AuditEntry['decision'] | null;
  how: AuditHow | null;
  decided_by: string | null;
  via: string | null;
  address: string | null;
  message: string | null;
  rule_id: string | null;
  decided_at: number | null;
  device_id: string | null;
  device_name: string | null;
  /** JSON `{id, kind, label}`; absent in databases made before it (see migrate in db.ts). */
  agent_choice?: string | null;
};

function toEntry(row: Row): AuditEntry {
  const entry: AuditEntry = {
    requestId: row.request_id,
    toolName: row.tool_name,
    input: JSON.parse(row.input) as Record<string, unknown>,
    requestedAt: row.requested_at,
  };
  if (row.session_id !== null) entry.sessionId = row.session_id;
  if (row.agent !== null) entry.agent = row.agent;
  if (row.cwd !== null) entry.cwd = row.cwd;
  if (row.status !== null) entry.status = row.status;
  if (row.decision !== null) entry.decision = row.decision;
  if (row.how !== null) entry.how = row.how;
  if (row.decided_by !== null) entry.decidedBy = row.decided_by;
  if (row.via !== null) entry.via = row.via;
  if (row.address !== null) entry.address = row.address;
  if (row.message !== null) entry.message = row.message;
  if (row.rule_id !== null) entry.ruleId = row.rule_id;
  if (row.decided_at !== null) entry.decidedAt = row.decided_at;
  if (row.device_id !== null) entry.deviceId = row.device_id;
  if (row.device_name !== null) entry.deviceName = row.device_name;
  if (typeof row.agent_choice === 'string') {
    const choice = agentChoiceEntry.pick({ id: true, kind: true, label: true }).safeParse(JSON.parse(row.agent_choice));
    if (choice.success) entry.agentChoice = choice.data;
  }
  return entry;
}

const str = (value: unknown) => (typeof value === 'string' ? value : null);

/** A page's position: the (requestedAt, requestId) of the last entry given, `"<ms>:<id>"`. */
const cursor = z
  .string()
  .max(LIMITS.maxIdLength + 20)
  .regex(/^\d{1,16}:.+$/, 'must be a cursor from a previous answer ("next")')
  .transform((text) => {
    const colon = text.indexOf(':');
    return { at: Number(text.slice(0, colon)), id: text.slice(colon + 1) };
  });
type Cursor = z.infer<typeof cursor>;
const cursorOf = (entry: { requestedAt: number; requestId: string }) => `${entry.requestedAt}:${entry.requestId}`;

export const auditQuery = z.object({
  requestId: z.string().max(200).optional(),
  toolName: z.string().max(200).optional(),
  decision: z.enum(DECISIONS).optional(),
  how: z.enum(AUDIT_HOWS).optional(),
  status: z.enum(['pending', 'resolved', 'timedOut', 'cancelled']).optional(),
  sessionId: z.string().max(200).optional(),
  agent: z.string().max(200).optional(),
  decidedBy: z.string().max(200).optional(),
  deviceId: z.string().max(200).optional(),
  since: z.coerce.number().int().nonnegative().optional(),
  until: z.coerce.number().int().nonnegative().optional(),
  /** The list: entries older than this cursor. */
  before: cursor.optional(),
  /** The list: at most this many (default AUDIT_LIMITS.defaultPage); the export: at most this many in all (default every one). */
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  format: z.enum(['json', 'jsonl']).default('json'),
});
export type AuditQuery = z.input<typeof auditQuery>;
type AuditFilter = Omit<z.output<typeof auditQuery>, 'before' | 'limit' | 'format'>;

/** A list entry: the summary always, the input only when small (protocol/http.ts `auditListEntry`). */
function toListEntry(entry: AuditEntry, inputBytes: number): AuditListEntry {
  const { input, ...rest } = entry;
  const summary = inputSummaryText(input, AUDIT_LIMITS.summaryChars);
  if (inputBytes <= AUDIT_LIMITS.listInputBytes) return { ...rest, input, summary, inputBytes };
  const hidden = hiddenNamesDeep(input);
  return { ...rest, summary, inputBytes, ...(hidden.length > 0 ? { inputHidden: hidden } : {}) };
}

export class AuditLog {
  // Prepared once: these run for every request and every decision, on the event loop.
  private readonly insert;
  private readonly outcome;
  private readonly annotation;
  private readonly choiceAnnotation;
  private readonly pruneRows;

  constructor(private readonly db: AgentsDb) {
    // A row still unresolved counts as ending at the latest deadline a request can have,
    // so a row whose outcome never came (a lost event database) goes too, just later.
    this.pruneRows = db.prepare(
      `DELETE FROM audit WHERE rowid IN (SELECT rowid FROM audit ORDER BY requested_at DESC, request_id DESC LIMIT -1 OFFSET ?)
         AND COALESCE(decided_at, requested_at + ?) < ?`,
    );
    this.insert = db.prepare(`INSERT OR IGNORE INTO audit (request_id, tool_name, input, session_id, agent, cwd, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.outcome = db.prepare(
      `UPDATE audit SET status = ?, decision = ?, how = ?, decided_by = ?, message = ?, rule_id = ?, decided_at = ?, via = COALESCE(via, ?) WHERE request_id = ? AND status IS NULL`,
    );
    this.annotation = db.prepare(
      `UPDATE audit SET via = COALESCE(?, via), address = COALESCE(?, address), decided_by = COALESCE(?, decided_by),
         device_id = COALESCE(?, device_id), device_name = COALESCE(?, device_name) WHERE request_id = ?`,
    );
    this.choiceAnnotation = db.prepare('UPDATE audit SET agent_choice = ? WHERE request_id = ?');
  }

  /** Feed it every committed tick. */
  record(events: readonly SequencedEvent[]): void {
    const { insert, outcome } = this;
    const tx = this.db.transaction((batch: readonly SequencedEvent[]) => {
      for (const event of batch) {
        switch (event.type) {
          case 'permission-request':
            insert.run(
              event.id,
              event.toolName,
              JSON.stringify(event.input),
              str(event.context.sessionId),
              str(event.context.agent),
              str(event.context.cwd),
              event.timestamp,
            );
            break;
          case 'permission-resolved': {
            const rule = event.decidedBy.startsWith('rule:') ? event.decidedBy.slice(5) : null;
            outcome.run(
              'resolved',
              event.decision,
              rule ? 'rule' : 'human',
              event.decidedBy,
              event.message ?? null,
              rule,
              event.timestamp,
              rule ? 'rule' : null,
              event.requestId,
            );
            break;
          }
          case 'permission-timeout':
            outcome.run('timedOut', 'deny', 'timeout', 'timeout', 'The request timed out.', null, event.timestamp, null, event.requestId);
            break;
          case 'permission-cancelled':
            outcome.run('cancelled', 'deny', 'cancel', 'agent', event.reason, null, event.timestamp, null, event.requestId);
            break;
          case 'chat-message':
          case 'session-updated':
            break;
          default: {
            const never: never = event;
            return never;
          }
        }
      }
    });
    tx(events);
  }

  /** Drop rows beyond the history's bound (see the header); returns how many went. */
  prune(now: number, limits: { keepEvents: number; keepMs: number }): number {
    return this.pruneRows.run(Math.max(1, limits.keepEvents), LIMITS.maxTimeoutMs, now - limits.keepMs).changes;
  }

  /** Who decided, as only the deciding edge knows it (client label, address, path). */
  annotate(requestId: string, who: { decidedBy?: string; via?: string; address?: string; device?: { id: string; name: string } }): void {
    this.annotation.run(who.via ?? null, who.address ?? null, who.decidedBy ?? null, who.device?.id ?? null, who.device?.name ?? null, requestId);
  }

  /** The agent's own choice the winning decision sent (an "always" given to the agent is on record). */
  annotateChoice(requestId: string, choice: Pick<AgentChoice, 'id' | 'kind' | 'label'>): void {
    this.choiceAnnotation.run(JSON.stringify({ id: choice.id, kind: choice.kind, label: choice.label }), requestId);
  }

  /** Matching rows in (requestedAt, requestId) order, from a cursor; a lazy iterator. */
  private *rows(filter: AuditFilter, order: 'newest' | 'oldest', from: Cursor | undefined, limit: number): Generator<Row> {
    const where: string[] = [];
    const args: unknown[] = [];
    const eq = (column: string, value: unknown) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      args.push(value);
    };
    eq('request_id', filter.requestId);
    eq('tool_name', filter.toolName);
    eq('decision', filter.decision);
    eq('how', filter.how);
    eq('session_id', filter.sessionId);
    eq('agent', filter.agent);
    eq('decided_by', filter.decidedBy);
    eq('device_id', filter.deviceId);
    if (filter.status === 'pending') where.push('status IS NULL');
    else eq('status', filter.status);
    if (filter.since !== undefined) {
      where.push('requested_at >= ?');
      args.push(filter.since);
    }
    if (filter.until !== undefined) {
      where.push('requested_at <= ?');
      args.push(filter.until);
    }
    const past = order === 'newest' ? '<' : '>';
    if (from) {
      where.push(`(requested_at ${past} ? OR (requested_at = ? AND request_id ${past} ?))`);
      args.push(from.at, from.at, from.id);
    }
    const dir = order === 'newest' ? 'DESC' : 'ASC';
    const sql = `SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY requested_at ${dir}, request_id ${dir} LIMIT ?`;
    yield* this.db.prepare(sql).iterate(...args, limit) as IterableIterator<Row>;
  }

  /** Full entries, oldest first (the export's order). */
  query(filter: Partial<AuditFilter> & { limit?: number } = {}): AuditEntry[] {
    return [...this.rows(filter, 'oldest', undefined, filter.limit ?? 10_000)].map(toEntry);
  }

  /** One request's whole entry. */
  entry(requestId: string): AuditEntry | undefined {
    const [row] = this.rows({ requestId }, 'oldest', undefined, 1);
    return row ? toEntry(row) : undefined;
  }

  /**
   * A page of the list, newest first: at most `limit` entries and, past the first, at most
   * AUDIT_LIMITS.pageBytes of JSON and AUDIT_LIMITS.pageReadBytes of stored input read (so
   * one answer never parses hundreds of megabytes on the event loop); `next` when older
   * entries remain.
   */
  page(filter: AuditFilter, before: Cursor | undefined, limit: number): AuditPage {
    const entries: AuditListEntry[] = [];
    let bytes = 0;
    let read = 0;
    for (const row of this.rows(filter, 'newest', before, limit + 1)) {
      const inputBytes = encoder.encode(row.input).length;
      const last = entries.at(-1);
      if (last && (entries.length === limit || read + inputBytes > AUDIT_LIMITS.pageReadBytes)) return { entries, next: cursorOf(last) };
      const entry = toListEntry(toEntry(row), inputBytes);
      const size = encoder.encode(JSON.stringify(entry)).length + 1;
      if (last && bytes + size > AUDIT_LIMITS.pageBytes) return { entries, next: cursorOf(last) };
      entries.push(entry);
      bytes += size;
      read += inputBytes;
    }
    return { entries };
  }

  /** The JSON Lines export, oldest first, read a bounded page at a time as the client reads. */
  private exportStream(filter: AuditFilter, limit: number | undefined): ReadableStream<Uint8Array> {
    let after: Cursor | undefined;
    let left = limit ?? Number.POSITIVE_INFINITY;
    return new ReadableStream<Uint8Array>({
      pull: (controller) => {
        const lines: string[] = [];
        let bytes = 0;
        for (const row of this.rows(filter, 'oldest', after, Math.min(left, 500))) {
          const line = JSON.stringify(toEntry(row)) + '\n';
          lines.push(line);
          bytes += line.length;
          after = { at: row.requested_at, id: row.request_id };
          if (bytes >= AUDIT_LIMITS.pageBytes) break;
        }
        left -= lines.length;
        if (lines.length > 0) controller.enqueue(encoder.encode(lines.join('')));
        if (lines.length === 0 || left <= 0) controller.close();
      },
    });
  }

  routes(): Hono {
    const app = new Hono();
    app.get('/', (c) => {
      const parsed = parseWith(auditQuery, c.req.query());
      if (!parsed.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, parsed.error);
      const { before, limit, format, ...filter } = parsed.value;
      switch (format) {
        case 'jsonl':
          if (before) return errorResponse(c, 400, ERROR_CODES.invalidMessage, 'before: the export is oldest first and has no cursor; filter with since/until');
          return c.body(this.exportStream(filter, limit), 200, {
            'content-type': 'application/x-ndjson; charset=utf-8',
            'content-disposition': 'attachment; filename="gatehouse-audit.jsonl"',
          });
        case 'json': {
          const page: AuditPage = this.page(filter, before, Math.min(limit ?? AUDIT_LIMITS.defaultPage, AUDIT_LIMITS.maxPage));
          return c.json(page);
        }
        default: {
          const never: never = format;
          return never;
        }
      }
    });
    app.get('/:requestId', (c) => {
      const requestId = c.req.param('requestId');
      const entry = requestId.length <= LIMITS.maxIdLength ? this.entry(requestId) : undefined;
      if (!entry) return errorResponse(c, 404, ERROR_CODES.notFound, `no audit entry for request ${JSON.stringify(requestId.slice(0, 100))}`);
      return c.json({ entry });
    });
    return app;
  }
}
