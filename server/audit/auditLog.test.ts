import { describe, expect, it } from 'vitest';
import { LIMITS, type SequencedEvent } from '../../protocol/index.ts';
import { openAgentsDb } from '../agents/db.ts';
import { AuditLog } from './auditLog.ts';

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
const resolvedAt = (seq: number, requestId: string, at: number): SequencedEvent => ({ type: 'permission-resolved', seq, requestId, decision: 'allow', decidedBy: 'http', timestamp: at });

describe('audit log pruning', () => {
  it('LIM-7: rows go with the history: beyond the newest --history-events rows AND ended before --history-age-ms; younger or newer rows stay', () => {
    const audit = new AuditLog(openAgentsDb(':memory:'));
    const now = 100 * HOUR;
    // r1..r4 decided 50 h ago, r5 decided 1 h ago, r6 still unresolved (asked 30 h ago).
    audit.record([request(1, 'r1', 50 * HOUR), request(2, 'r2', 50 * HOUR + 1), request(3, 'r3', 50 * HOUR + 2), request(4, 'r4', 50 * HOUR + 3)]);
    audit.record([1, 2, 3, 4].map((i) => resolvedAt(10 + i, `r${i}`, 50 * HOUR + 10)));
    audit.record([request(20, 'r5', 99 * HOUR), resolvedAt(21, 'r5', 99 * HOUR), request(22, 'r6', 70 * HOUR)]);
    const ids = () => audit.query({ limit: 100 }).map((e) => e.requestId).sort();

    // Every row is among the newest 10: nothing goes, however old.
    expect(audit.prune(now, { keepEvents: 10, keepMs: 24 * HOUR })).toBe(0);
    // Keep 2 rows (r5, r6 are the newest by request time) and 24 h: r1..r4 go.
    expect(audit.prune(now, { keepEvents: 2, keepMs: 24 * HOUR })).toBe(4);
    expect(ids()).toEqual(['r5', 'r6']);
    // Keep 1: r6 is older than r5, but unresolved, and a request can wait up to 24 h: its row stays until that deadline is past the age too.
    expect(audit.prune(now, { keepEvents: 1, keepMs: 24 * HOUR })).toBe(0);
    expect(audit.prune(70 * HOUR + LIMITS.maxTimeoutMs + 24 * HOUR + 1, { keepEvents: 1, keepMs: 24 * HOUR })).toBe(1);
    expect(ids()).toEqual(['r5']);
  });

  it('LIM-7: with both bounds generous nothing is pruned (a positive control)', () => {
    const audit = new AuditLog(openAgentsDb(':memory:'));
    audit.record([request(1, 'a', 1_000), resolvedAt(2, 'a', 2_000)]);
    expect(audit.prune(3_000, { keepEvents: 10_000, keepMs: 86_400_000 })).toBe(0);
    expect(audit.prune(3_000, { keepEvents: 1, keepMs: 86_400_000 })).toBe(0);
    expect(audit.query({}).map((e) => e.requestId)).toEqual(['a']);
  });
});
