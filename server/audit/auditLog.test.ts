import { describe, expect, it } from 'vitest';
import { AUDIT_LIMITS, LIMITS, auditEntryAnswer, auditPage, type SequencedEvent } from '../../protocol/index.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import { AuditLog } from './auditLog.ts';

/** The audit rows are written by the event store's commit (SPEC.md CORE-L2): tests commit events. */
function auditStore() {
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  const record = (events: readonly SequencedEvent[]) => store.writeBatch(events.map((event) => ({ kind: 'event' as const, event })));
  const prune = async (now: number, limits: { keepEvents: number; keepMs: number }) => (await store.prune(now, limits)).auditRows;
  return { store, audit: new AuditLog(store), record, prune };
}

const HOUR = 3_600_000;
const request = (seq: number, id: string, at: number): SequencedEvent => ({
  type: 'permission-request',
  seq,
  id,
  toolName: 'Bash',
  input: { command: `echo ${id}` },
  context: {},
  timestamp: at,
  expiresAt: at + 60_000,
});
const resolvedAt = (seq: number, requestId: string, at: number): SequencedEvent => ({
  type: 'permission-resolved',
  seq,
  requestId,
  decision: 'allow',
  decidedBy: 'http',
  timestamp: at,
});

describe('audit log pruning', () => {
  it('LIM-7: rows go with the history: beyond the newest --history-events rows AND ended before --history-age-ms; younger or newer rows stay', async () => {
    const { audit, record, prune } = auditStore();
    const now = 100 * HOUR;
    // r1..r4 decided 50 h ago, r5 decided 1 h ago, r6 still unresolved (asked 30 h ago).
    await record([request(1, 'r1', 50 * HOUR), request(2, 'r2', 50 * HOUR + 1), request(3, 'r3', 50 * HOUR + 2), request(4, 'r4', 50 * HOUR + 3)]);
    await record([1, 2, 3, 4].map((i) => resolvedAt(10 + i, `r${i}`, 50 * HOUR + 10)));
    await record([request(20, 'r5', 99 * HOUR), resolvedAt(21, 'r5', 99 * HOUR), request(22, 'r6', 70 * HOUR)]);
    const ids = async () => (await audit.query({ limit: 100 })).map((e) => e.requestId).sort();

    // Every row is among the newest 10: nothing goes, however old.
    expect(await prune(now, { keepEvents: 10, keepMs: 24 * HOUR })).toBe(0);
    // Keep 2 rows (r5, r6 are the newest by request time) and 24 h: r1..r4 go.
    expect(await prune(now, { keepEvents: 2, keepMs: 24 * HOUR })).toBe(4);
    expect(await ids()).toEqual(['r5', 'r6']);
    // Keep 1: r6 is older than r5, but unresolved, and a request can wait up to 24 h: its row stays until that deadline is past the age too.
    expect(await prune(now, { keepEvents: 1, keepMs: 24 * HOUR })).toBe(0);
    expect(await prune(70 * HOUR + LIMITS.maxTimeoutMs + 24 * HOUR + 1, { keepEvents: 1, keepMs: 24 * HOUR })).toBe(1);
    expect(await ids()).toEqual(['r5']);
  });

  it('LIM-7: with both bounds generous nothing is pruned (a positive control)', async () => {
    const { audit, record, prune } = auditStore();
    await record([request(1, 'a', 1_000), resolvedAt(2, 'a', 2_000)]);
    expect(await prune(3_000, { keepEvents: 10_000, keepMs: 86_400_000 })).toBe(0);
    expect(await prune(3_000, { keepEvents: 1, keepMs: 86_400_000 })).toBe(0);
    expect((await audit.query({})).map((e) => e.requestId)).toEqual(['a']);
  });
});

describe('the audit list (CORE-1)', () => {
  const filled = async (count: number, input: (i: number) => Record<string, unknown> = (i) => ({ command: `echo ${i}` })) => {
    const { audit, record } = auditStore();
    const events: SequencedEvent[] = [];
    for (let i = 0; i < count; i++) events.push({ ...request(i + 1, `r${String(i).padStart(5, '0')}`, 1_000 + i), input: input(i) } as SequencedEvent);
    await record(events);
    return audit;
  };
  const get = async (audit: AuditLog, query: string) => {
    const res = await audit.routes().request(`/${query}`);
    return {
      status: res.status,
      body: res.headers.get('content-type')?.includes('json') && !res.headers.get('content-type')?.includes('ndjson') ? await res.json() : await res.text(),
    };
  };

  it('CORE-1: newest first; the cursor walks every older entry once, past 501 entries', async () => {
    const audit = await filled(501);
    const seen: string[] = [];
    let query = '?limit=200';
    for (let pages = 0; pages < 10; pages++) {
      const { status, body } = await get(audit, query);
      expect(status).toBe(200);
      const page = auditPage.parse(body);
      seen.push(...page.entries.map((e) => e.requestId));
      if (!page.next) break;
      query = `?limit=200&before=${encodeURIComponent(page.next)}`;
    }
    expect(seen[0]).toBe('r00500');
    expect(seen).toHaveLength(501);
    expect(seen).toEqual([...seen].sort().reverse());
    const first = auditPage.parse((await get(audit, '')).body);
    expect(first.entries).toHaveLength(100);
    expect(first.entries[0]).toMatchObject({ requestId: 'r00500', toolName: 'Bash', summary: 'echo 500', input: { command: 'echo 500' } });
  });

  it('CORE-1: large inputs never break the list: summaries, a byte budget, the whole entry by id', async () => {
    const big = 'x'.repeat(LIMITS.maxInputBytes - 100);
    const audit = await filled(40, (i) => ({ command: `run ${i} ${big}`, ...(i === 39 ? { note: 'beyond the summary \u202e' } : {}) }));
    const { status, body } = await get(audit, '?limit=1000');
    expect(status).toBe(200);
    const page = auditPage.parse(body);
    expect(JSON.stringify(body).length).toBeLessThanOrEqual(AUDIT_LIMITS.pageBytes);
    // 40 inputs of 256 KiB are more than one answer reads: a cursor, then the rest.
    expect(page.entries.length).toBeLessThan(40);
    expect(page.entries.length).toBeGreaterThan(20);
    const rest = auditPage.parse((await get(audit, `?limit=1000&before=${encodeURIComponent(page.next!)}`)).body);
    expect(page.entries.length + rest.entries.length).toBe(40);
    expect(rest.next).toBeUndefined();
    expect(page.entries[0]!.input).toBeUndefined();
    expect(page.entries[0]!.summary.length).toBeLessThanOrEqual(AUDIT_LIMITS.summaryChars);
    expect(page.entries[0]!.summary.startsWith('run 39 xxx')).toBe(true);
    expect(page.entries[0]!.inputBytes).toBeGreaterThan(AUDIT_LIMITS.listInputBytes);
    const whole = await get(audit, 'r00039');
    expect(auditEntryAnswer.parse(whole.body).entry.input).toEqual({ command: `run 39 ${big}`, note: 'beyond the summary \u202e' });
    // What the summary cut off still warns in the list.
    expect(page.entries[0]!.inputHidden).toEqual(['U+202E RIGHT-TO-LEFT OVERRIDE']);
    expect(page.entries[1]!.inputHidden).toBeUndefined();
    expect((await get(audit, 'nope')).status).toBe(404);
    // The export still carries every input in full, oldest first.
    const lines = String((await get(audit, '?format=jsonl')).body)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.requestId)).toEqual([...page.entries, ...rest.entries].map((e) => e.requestId).reverse());
    expect(lines[0].input.command.length).toBeGreaterThan(LIMITS.maxInputBytes - 100);
  });

  it('CORE-1: many mid-sized entries stop at the byte budget and give a cursor', async () => {
    // Context fields are bounded, not tiny: a page of 1000 of them would pass the budget.
    const { audit, record } = auditStore();
    const events: SequencedEvent[] = [];
    for (let i = 0; i < 1000; i++)
      events.push({
        ...request(i + 1, `m${String(i).padStart(4, '0')}`, 5_000 + i),
        input: { command: 'y'.repeat(3000) },
        context: { cwd: 'd'.repeat(4000) },
      } as SequencedEvent);
    await record(events);
    const page = auditPage.parse((await get(audit, '?limit=1000')).body);
    expect(page.entries.length).toBeLessThan(1000);
    expect(page.next).toBe(`${page.entries.at(-1)!.requestedAt}:${page.entries.at(-1)!.requestId}`);
    expect((await get(audit, '?before=garbage')).status).toBe(400);
    expect((await get(audit, '?format=jsonl&before=1:x')).status).toBe(400);
  });
});
