/**
 * `GET /api/history?limit=N&before=ID` (owner; protocol/http.ts `historyPage`): the
 * finished requests with their outcomes, newest first, paged, so that a reloaded page
 * shows its History from the server instead of an empty list (docs/ui.md, "History").
 *
 * The store's own list pages oldest first by seq; this read goes the other way over the
 * same `requests` table (its seq is unique and indexed) and hands each id back to the
 * store, so the views are exactly the store's (no second mapping of its columns). A page
 * also stops at HISTORY_PAGE_BYTES of input, whatever the inputs weigh. The ids come
 * from the SQLite table or the PostgreSQL one (`pgFinishedBefore`: contract-2 §6, SPEC.md
 * TEAM-S5): the same query, so the same pages on either store.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { Hono } from 'hono';
import { ERROR_CODES, HISTORY_PAGE, requestByteLength } from '../../protocol/index.ts';
import type { AgentChoiceBook } from '../agentChoiceBook.ts';
import type { EventStore } from '../store/types.ts';
import { errorResponse } from './errors.ts';
import { publicView } from './permissions.ts';

export const HISTORY_PAGE_BYTES = 8 << 20;

/** The ids of finished requests with seq below `beforeSeq`, newest first, at most `limit`. */
export type FinishedBefore = (beforeSeq: number, limit: number) => Promise<string[]>;

export function sqliteFinishedBefore(db: Database.Database): FinishedBefore {
  const older = db.prepare<[number, number], { id: string }>(`SELECT id FROM requests WHERE status != 'pending' AND seq < ? ORDER BY seq DESC LIMIT ?`);
  return async (beforeSeq, limit) => older.all(beforeSeq, limit).map((row) => row.id);
}

export function pgFinishedBefore(pool: pg.Pool): FinishedBefore {
  return async (beforeSeq, limit) =>
    (
      await pool.query<{ id: string }>(`SELECT id FROM requests WHERE status <> 'pending' AND seq < $1 ORDER BY seq DESC LIMIT $2`, [beforeSeq, limit])
    ).rows.map((row) => row.id);
}

export function historyRoutes(deps: {
  finishedBefore: FinishedBefore;
  store: Pick<EventStore, 'getRequest'>;
  /** The agent's own choice of each winning decision, on the view (agentChoiceBook.ts). */
  agentChoices?: AgentChoiceBook;
}): Hono {
  const app = new Hono();

  app.get('/', async (c) => {
    const limitRaw = c.req.query('limit');
    let limit: number = HISTORY_PAGE.defaultLimit;
    if (limitRaw !== undefined) {
      if (!/^\d{1,4}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > HISTORY_PAGE.maxLimit) {
        return errorResponse(c, 400, ERROR_CODES.invalidMessage, `limit: expected an integer from 1 to ${HISTORY_PAGE.maxLimit}`);
      }
      limit = Number(limitRaw);
    }
    const before = c.req.query('before');
    let beforeSeq = Number.MAX_SAFE_INTEGER;
    if (before !== undefined) {
      const from = await deps.store.getRequest(before);
      if (!from) {
        return errorResponse(
          c,
          400,
          ERROR_CODES.invalidMessage,
          `before: no request with id ${JSON.stringify(before.slice(0, 200))} (pass the \`next\` of the previous page)`,
        );
      }
      beforeSeq = from.seq;
    }
    const requests = [];
    let bytes = 0;
    let more = false;
    for (const id of await deps.finishedBefore(beforeSeq, limit + 1)) {
      const view = await deps.store.getRequest(id);
      if (!view) continue; // pruned between the two reads
      if (requests.length >= limit) {
        more = true;
        break;
      }
      const weight = requestByteLength(view);
      if (requests.length > 0 && bytes + weight > HISTORY_PAGE_BYTES) {
        more = true;
        break;
      }
      bytes += weight;
      requests.push(publicView(view, undefined, deps.agentChoices));
    }
    const last = requests[requests.length - 1];
    return c.json(more && last ? { requests, next: last.id } : { requests });
  });
  return app;
}
