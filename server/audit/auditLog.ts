/**
 * The audit log's HTTP views: one row per request with its outcome (who decided: the
 * client label and address; how: human, rule, timeout, cancel; what: tool and input;
 * when). The rows are a read model of the event log, written by the event store in the
 * transaction that appends the events they describe (SPEC.md CORE-L2), so every outcome
 * has its row whatever path produced it; this module only reads them (`auditRows`).
 * `GET /api/audit` lists it newest first in pages (a cursor, and a byte budget: list
 * entries carry a summary of the input, the whole entry is `GET /api/audit/ID`), so no
 * size of the log or of its inputs makes an answer fail; `?format=jsonl` exports it,
 * oldest first, streamed page by page (docs/integrations.md).
 *
 * Pruned by the store with the history (`EventStore.prune`): a row goes only when it is
 * beyond the newest `--history-events` rows AND it ended (its decision, or the latest
 * deadline a request can have) before `--history-age-ms` ago.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import {
  AUDIT_HOWS,
  AUDIT_LIMITS,
  DECISIONS,
  ERROR_CODES,
  LIMITS,
  hiddenNamesDeep,
  inputSummaryText,
  parseWith,
  type AuditEntry,
  type AuditHow,
  type AuditListEntry,
  type AuditPage,
} from '../../protocol/index.ts';
import { errorResponse } from '../http/errors.ts';
import type { AuditRow, AuditRowFilter, EventStore } from '../store/types.ts';

export { AUDIT_HOWS, type AuditEntry, type AuditHow };

const encoder = new TextEncoder();

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
  constructor(private readonly store: Pick<EventStore, 'auditRows'>) {}

  /** Matching rows in (requestedAt, requestId) order, from a cursor. */
  private rows(filter: AuditFilter, order: 'newest' | 'oldest', from: Cursor | undefined, limit: number): Promise<AuditRow[]> {
    // Absent, not undefined, fields (the store's filter type is exact).
    const clean = Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== undefined)) as AuditRowFilter;
    return this.store.auditRows({ filter: clean, order, ...(from ? { after: from } : {}), limit });
  }

  /** Full entries, oldest first (the export's order). */
  async query(filter: Partial<AuditFilter> & { limit?: number } = {}): Promise<AuditEntry[]> {
    const { limit, ...rest } = filter;
    return (await this.rows(rest, 'oldest', undefined, limit ?? 10_000)).map((row) => row.entry);
  }

  /** One request's whole entry. */
  async entry(requestId: string): Promise<AuditEntry | undefined> {
    const [row] = await this.rows({ requestId }, 'oldest', undefined, 1);
    return row?.entry;
  }

  /**
   * A page of the list, newest first: at most `limit` entries and, past the first, at most
   * AUDIT_LIMITS.pageBytes of JSON and AUDIT_LIMITS.pageReadBytes of stored input read (so
   * one answer never parses hundreds of megabytes on the event loop); `next` when older
   * entries remain. Rows are fetched in slices, so a page of large inputs reads little
   * more than it answers.
   */
  async page(filter: AuditFilter, before: Cursor | undefined, limit: number): Promise<AuditPage> {
    const entries: AuditListEntry[] = [];
    let bytes = 0;
    let read = 0;
    let from = before;
    for (;;) {
      const slice = Math.min(limit + 1 - entries.length, 50);
      const rows = await this.rows(filter, 'newest', from, slice);
      for (const { entry: whole, inputBytes } of rows) {
        const last = entries.at(-1);
        if (last && (entries.length === limit || read + inputBytes > AUDIT_LIMITS.pageReadBytes)) return { entries, next: cursorOf(last) };
        const entry = toListEntry(whole, inputBytes);
        const size = encoder.encode(JSON.stringify(entry)).length + 1;
        if (last && bytes + size > AUDIT_LIMITS.pageBytes) return { entries, next: cursorOf(last) };
        entries.push(entry);
        bytes += size;
        read += inputBytes;
      }
      const lastRow = rows.at(-1);
      if (rows.length < slice || !lastRow) return { entries };
      from = { at: lastRow.entry.requestedAt, id: lastRow.entry.requestId };
    }
  }

  /** The JSON Lines export, oldest first, read a bounded page at a time as the client reads. */
  private exportStream(filter: AuditFilter, limit: number | undefined): ReadableStream<Uint8Array> {
    let after: Cursor | undefined;
    let left = limit ?? Number.POSITIVE_INFINITY;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const lines: string[] = [];
        let bytes = 0;
        // Small slices: a slice of large inputs is what one pull may hold in memory.
        while (left - lines.length > 0 && bytes < AUDIT_LIMITS.pageBytes) {
          const slice = Math.min(left - lines.length, 50);
          const rows = await this.rows(filter, 'oldest', after, slice);
          for (const { entry } of rows) {
            const line = JSON.stringify(entry) + '\n';
            lines.push(line);
            bytes += line.length;
            after = { at: entry.requestedAt, id: entry.requestId };
          }
          if (rows.length < slice) {
            left = lines.length; // the end: close after this chunk
            break;
          }
        }
        left -= lines.length;
        if (lines.length > 0) controller.enqueue(encoder.encode(lines.join('')));
        if (lines.length === 0 || left <= 0) controller.close();
      },
    });
  }

  routes(): Hono {
    const app = new Hono();
    app.get('/', async (c) => {
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
          const page: AuditPage = await this.page(filter, before, Math.min(limit ?? AUDIT_LIMITS.defaultPage, AUDIT_LIMITS.maxPage));
          return c.json(page);
        }
        default: {
          const never: never = format;
          return never;
        }
      }
    });
    app.get('/:requestId', async (c) => {
      const requestId = c.req.param('requestId');
      const entry = requestId.length <= LIMITS.maxIdLength ? await this.entry(requestId) : undefined;
      if (!entry) return errorResponse(c, 404, ERROR_CODES.notFound, `no audit entry for request ${JSON.stringify(requestId.slice(0, 100))}`);
      return c.json({ entry });
    });
    return app;
  }
}
