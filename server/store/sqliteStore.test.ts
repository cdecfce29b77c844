import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PersistRecord } from '../../machines/broker.types.ts';
import type { SequencedEvent } from '../../protocol/index.ts';
import { SqliteEventStore, timeoutMessage } from './sqliteStore.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function requestRecord(seq: number, id: string, extra: { key?: string; hash?: string; origin?: 'http' | 'agent'; at?: number } = {}): PersistRecord {
  const at = extra.at ?? 1_000 + seq;
  return {
    kind: 'event',
    event: { type: 'permission-request', seq, id, toolName: 'Bash', input: { command: 'ls' }, context: { cwd: '/tmp' }, timestamp: at, expiresAt: at + 60_000 },
    request: { origin: extra.origin ?? 'http', idempotencyKey: extra.key, bodyHash: extra.hash },
  };
}
const resolved = (seq: number, requestId: string, at = 2_000 + seq): PersistRecord => ({
  kind: 'event',
  event: { type: 'permission-resolved', seq, requestId, decision: 'allow', decidedBy: 'browser-1', timestamp: at },
});

describe('SqliteEventStore', () => {
  it('STO-1: a new database gets a random epoch that survives reopening', () => {
    const dir = tempDir();
    const a = new SqliteEventStore({ dataDir: dir });
    const epoch = a.epoch;
    a.close();
    const b = new SqliteEventStore({ dataDir: dir });
    expect(b.epoch).toBe(epoch);
    b.close();
    const c = new SqliteEventStore({ dataDir: tempDir() });
    expect(c.epoch).not.toBe(epoch);
    c.close();
  });

  it('STO-2: a batch is one transaction: a failing record writes nothing of its batch', () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    store.writeBatch([requestRecord(1, 'r1')]);
    expect(() => store.writeBatch([requestRecord(2, 'r2'), requestRecord(1, 'dup')])).toThrow();
    expect(store.head()).toBe(1);
    expect(store.getRequest('r2')).toBeUndefined();
    store.close();
  });

  it('STO-3: request rows follow their outcome events (resolved, timedOut with a message, cancelled)', () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    store.writeBatch([requestRecord(1, 'a'), requestRecord(2, 'b'), requestRecord(3, 'c')]);
    store.writeBatch([
      resolved(4, 'a'),
      { kind: 'event', event: { type: 'permission-timeout', seq: 5, requestId: 'b', toolName: 'Bash', timestamp: 70_000 } },
      { kind: 'event', event: { type: 'permission-cancelled', seq: 6, requestId: 'c', reason: 'server-restart', timestamp: 70_001 } },
    ]);
    expect(store.getRequest('a')).toMatchObject({ status: 'resolved', decision: 'allow', decidedBy: 'browser-1' });
    const b = store.getRequest('b')!;
    expect(b).toMatchObject({ status: 'timedOut', decision: 'deny', decidedBy: 'timeout' });
    expect(b.message).toBe(timeoutMessage(1_002, 61_002));
    expect(b.message).toMatch(/timed out/i);
    expect(store.getRequest('c')).toMatchObject({ status: 'cancelled', decision: 'deny', reason: 'server-restart' });
    expect(store.countByStatus()).toEqual({ pending: 0, resolved: 1, timedOut: 1, cancelled: 1 });
    store.close();
  });

  it('STO-4: eventsSince returns exactly the later events in order; too-new and too-old are told apart', () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    store.writeBatch([requestRecord(1, 'a', { at: 1 }), requestRecord(2, 'b', { at: 2 }), resolved(3, 'a', 3), requestRecord(4, 'c', { at: 4 })]);
    const result = store.eventsSince(1);
    expect(result.ok && result.events.map((e: SequencedEvent) => e.seq)).toEqual([2, 3, 4]);
    expect(store.eventsSince(4)).toEqual({ ok: true, events: [] });
    expect(store.eventsSince(5)).toEqual({ ok: false, reason: 'too-new' });
    const pruned = store.prune(1_000_000, { keepEvents: 2, keepMs: 0 });
    expect(pruned.prunedThrough).toBe(2);
    expect(store.eventsSince(1)).toEqual({ ok: false, reason: 'too-old' });
    const after = store.eventsSince(2);
    expect(after.ok && after.events.map((e) => e.seq)).toEqual([3, 4]);
    store.close();
  });

  it('STO-5: pruning keeps the newest N events and every young event, and never an unresolved request', () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    store.writeBatch([requestRecord(1, 'a', { at: 10 }), requestRecord(2, 'b', { at: 20 }), resolved(3, 'a', 30), requestRecord(4, 'c', { at: 40 })]);
    // Young events stay even beyond the newest N.
    expect(store.prune(50, { keepEvents: 1, keepMs: 1_000 }).events).toBe(0);
    const result = store.prune(100_000, { keepEvents: 1, keepMs: 1_000 });
    expect(result.events).toBe(3);
    expect(store.getRequest('a')).toBeUndefined();
    expect(store.getRequest('b')?.status).toBe('pending');
    expect(store.head()).toBe(4);
    store.close();
  });

  it('STO-6: load returns unresolved requests, recent finished ones and remembered clientMsgId answers', () => {
    const dir = tempDir();
    const store = new SqliteEventStore({ dataDir: dir });
    store.writeBatch([requestRecord(1, 'a', { key: 'k1', hash: 'h1', origin: 'agent' }), requestRecord(2, 'b')]);
    store.writeBatch([
      resolved(3, 'b'),
      { kind: 'client-answer', record: { clientMsgId: 'm1', requestId: 'b', answer: { status: 'accepted', requestId: 'b' } } },
    ]);
    store.close();
    const reopened = new SqliteEventStore({ dataDir: dir });
    const input = reopened.load({ now: 5_000 });
    expect(input.headSeq).toBe(3);
    expect(input.epoch).toBe(reopened.epoch);
    expect(input.unresolved).toEqual([
      { id: 'a', toolName: 'Bash', input: { command: 'ls' }, context: { cwd: '/tmp' }, timestamp: 1_001, expiresAt: 61_001, seq: 1, origin: 'agent', idempotencyKey: 'k1', bodyHash: 'h1' },
    ]);
    expect(input.finished).toHaveLength(1);
    expect(input.finished[0]).toMatchObject({ id: 'b', seq: 2, outcome: { status: 'resolved', decision: 'allow', decidedBy: 'browser-1' } });
    expect(input.clientAnswers).toEqual([{ clientMsgId: 'm1', requestId: 'b', answer: { status: 'accepted', requestId: 'b' } }]);
    expect(reopened.findByIdempotencyKey('k1')?.id).toBe('a');
    expect(reopened.listRequests({ status: 'pending' }).map((r) => r.id)).toEqual(['a']);
    reopened.close();
  });
});
