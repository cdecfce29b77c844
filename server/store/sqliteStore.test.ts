import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PersistRecord } from '../../machines/broker.types.ts';
import { requestByteLength, type SequencedEvent } from '../../protocol/index.ts';
import { importAgentsRules, openAgentsDb } from '../agents/db.ts';
import { RuleStore } from '../rules/ruleStore.ts';
import { dataDirWarning } from './fileModes.ts';
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
    request: {
      origin: extra.origin ?? 'http',
      ...(extra.key !== undefined ? { idempotencyKey: extra.key } : {}),
      ...(extra.hash !== undefined ? { bodyHash: extra.hash } : {}),
    },
  };
}
const resolved = (seq: number, requestId: string, at = 2_000 + seq): PersistRecord => ({
  kind: 'event',
  event: { type: 'permission-resolved', seq, requestId, decision: 'allow', decidedBy: 'browser-1', timestamp: at },
});

describe('SqliteEventStore', () => {
  it('STO-1: a new database gets a random epoch that survives reopening', async () => {
    const dir = tempDir();
    const a = new SqliteEventStore({ dataDir: dir });
    const epoch = a.epoch;
    await a.close();
    const b = new SqliteEventStore({ dataDir: dir });
    expect(b.epoch).toBe(epoch);
    await b.close();
    const c = new SqliteEventStore({ dataDir: tempDir() });
    expect(c.epoch).not.toBe(epoch);
    await c.close();
  });

  it('STO-2: a batch is one transaction: a failing record writes nothing of its batch', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    await store.writeBatch([requestRecord(1, 'r1')]);
    await expect(store.writeBatch([requestRecord(2, 'r2'), requestRecord(1, 'dup')])).rejects.toThrow();
    expect(await store.head()).toBe(1);
    expect(await store.getRequest('r2')).toBeUndefined();
    await store.close();
  });

  it('STO-3: request rows follow their outcome events (resolved, timedOut with a message, cancelled)', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    await store.writeBatch([requestRecord(1, 'a'), requestRecord(2, 'b'), requestRecord(3, 'c')]);
    await store.writeBatch([
      resolved(4, 'a'),
      { kind: 'event', event: { type: 'permission-timeout', seq: 5, requestId: 'b', toolName: 'Bash', timestamp: 70_000 } },
      { kind: 'event', event: { type: 'permission-cancelled', seq: 6, requestId: 'c', reason: 'server-restart', timestamp: 70_001 } },
    ]);
    expect(await store.getRequest('a')).toMatchObject({ status: 'resolved', decision: 'allow', decidedBy: 'browser-1' });
    const b = (await store.getRequest('b'))!;
    expect(b).toMatchObject({ status: 'timedOut', decision: 'deny', decidedBy: 'timeout' });
    expect(b.message).toBe(timeoutMessage(1_002, 61_002));
    expect(b.message).toMatch(/timed out/i);
    expect(await store.getRequest('c')).toMatchObject({ status: 'cancelled', decision: 'deny', reason: 'server-restart' });
    expect(await store.countByStatus()).toEqual({ pending: 0, resolved: 1, timedOut: 1, cancelled: 1 });
    await store.close();
  });

  it('STO-4: eventsSince returns exactly the later events in order; too-new and too-old are told apart', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    await store.writeBatch([requestRecord(1, 'a', { at: 1 }), requestRecord(2, 'b', { at: 2 }), resolved(3, 'a', 3), requestRecord(4, 'c', { at: 4 })]);
    const result = await store.eventsSince(1);
    expect(result.ok && result.events.map((e: SequencedEvent) => e.seq)).toEqual([2, 3, 4]);
    expect(await store.eventsSince(4)).toEqual({ ok: true, events: [] });
    expect(await store.eventsSince(5)).toEqual({ ok: false, reason: 'too-new' });
    const pruned = await store.prune(1_000_000, { keepEvents: 2, keepMs: 0 });
    expect(pruned.prunedThrough).toBe(2);
    expect(await store.eventsSince(1)).toEqual({ ok: false, reason: 'too-old' });
    const after = await store.eventsSince(2);
    expect(after.ok && after.events.map((e) => e.seq)).toEqual([3, 4]);
    await store.close();
  });

  it('STO-5: pruning keeps the newest N events and every young event, and never an unresolved request', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    await store.writeBatch([requestRecord(1, 'a', { at: 10 }), requestRecord(2, 'b', { at: 20 }), resolved(3, 'a', 30), requestRecord(4, 'c', { at: 40 })]);
    // Young events stay even beyond the newest N.
    expect((await store.prune(50, { keepEvents: 1, keepMs: 1_000 })).events).toBe(0);
    const result = await store.prune(100_000, { keepEvents: 1, keepMs: 1_000 });
    expect(result.events).toBe(3);
    expect(await store.getRequest('a')).toBeUndefined();
    expect((await store.getRequest('b'))?.status).toBe('pending');
    expect(await store.head()).toBe(4);
    await store.close();
  });

  it('STO-6: load returns unresolved requests, recent finished ones and remembered clientMsgId answers', async () => {
    const dir = tempDir();
    const store = new SqliteEventStore({ dataDir: dir });
    await store.writeBatch([requestRecord(1, 'a', { key: 'k1', hash: 'h1', origin: 'agent' }), requestRecord(2, 'b')]);
    await store.writeBatch([
      resolved(3, 'b'),
      { kind: 'client-answer', record: { clientMsgId: 'm1', requestId: 'b', answer: { status: 'accepted', requestId: 'b' } } },
    ]);
    await store.close();
    const reopened = new SqliteEventStore({ dataDir: dir });
    const input = await reopened.load({ now: 5_000 });
    expect(input.headSeq).toBe(3);
    expect(input.epoch).toBe(reopened.epoch);
    expect(input.unresolved).toEqual([
      {
        id: 'a',
        toolName: 'Bash',
        input: { command: 'ls' },
        context: { cwd: '/tmp' },
        timestamp: 1_001,
        expiresAt: 61_001,
        seq: 1,
        origin: 'agent',
        idempotencyKey: 'k1',
        bodyHash: 'h1',
      },
    ]);
    expect(input.finished).toHaveLength(1);
    expect(input.finished[0]).toMatchObject({ id: 'b', seq: 2, outcome: { status: 'resolved', decision: 'allow', decidedBy: 'browser-1' } });
    expect(input.clientAnswers).toEqual([{ clientMsgId: 'm1', requestId: 'b', answer: { status: 'accepted', requestId: 'b' } }]);
    expect((await reopened.findByIdempotencyKey('k1'))?.id).toBe('a');
    expect((await reopened.listRequests({ status: 'pending' })).map((r) => r.id)).toEqual(['a']);
    await reopened.close();
  });
});

describe('SqliteEventStore limits', () => {
  it('LIM-8: gatehouse.db and its -wal/-shm are created 0600, whatever the umask; an older looser file is tightened on open', async () => {
    const dir = tempDir();
    const old = process.umask(0o022);
    try {
      const store = new SqliteEventStore({ dataDir: dir });
      await store.writeBatch([requestRecord(1, 'a')]);
      for (const name of ['gatehouse.db', 'gatehouse.db-wal', 'gatehouse.db-shm']) {
        expect((statSync(join(dir, name)).mode & 0o777).toString(8), name).toBe('600');
      }
      await store.close();
      chmodSync(join(dir, 'gatehouse.db'), 0o644);
      const reopened = new SqliteEventStore({ dataDir: dir });
      expect((statSync(join(dir, 'gatehouse.db')).mode & 0o777).toString(8)).toBe('600');
      await reopened.close();
    } finally {
      process.umask(old);
    }
  });

  it('LIM-8: a data directory looser than 0700 is named in a warning; 0700 is not', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o700);
    expect(dataDirWarning(dir)).toBeUndefined();
    chmodSync(dir, 0o750);
    expect(dataDirWarning(dir)).toMatch(/has mode 0750/);
  });

  it('LIM-4: pageRequests pages by seq after a cursor, stops at the limit or the byte budget (never below one request), and says whether more follow', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    await store.writeBatch([1, 2, 3, 4, 5].map((seq) => requestRecord(seq, `r${seq}`)));
    await store.writeBatch([resolved(6, 'r2')]);
    const ids = (page: { requests: Array<{ id: string }> }) => page.requests.map((r) => r.id);
    expect(ids(await store.pageRequests({ status: 'pending', afterSeq: 0, limit: 2, maxBytes: 1 << 20 }))).toEqual(['r1', 'r3']);
    expect(await store.pageRequests({ status: 'pending', afterSeq: 3, limit: 2, maxBytes: 1 << 20 })).toMatchObject({ more: false });
    expect(ids(await store.pageRequests({ status: 'pending', afterSeq: 3, limit: 2, maxBytes: 1 << 20 }))).toEqual(['r4', 'r5']);
    expect((await store.pageRequests({ status: 'pending', afterSeq: 0, limit: 2, maxBytes: 1 << 20 })).more).toBe(true);
    // Each request weighs requestByteLength ({"command":"ls"} + {"cwd":"/tmp"}): a budget of one and a half.
    const one = requestByteLength({ input: { command: 'ls' }, context: { cwd: '/tmp' } });
    const tight = await store.pageRequests({ status: 'pending', afterSeq: 0, limit: 1000, maxBytes: Math.floor(one * 1.5) });
    expect(ids(tight)).toEqual(['r1']);
    expect(tight.more).toBe(true);
    expect(ids(await store.pageRequests({ status: 'pending', afterSeq: 0, limit: 1000, maxBytes: 1 }))).toEqual(['r1']);
    expect(ids(await store.pageRequests({ afterSeq: 0, limit: 10, maxBytes: 1 << 20 }))).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    await store.close();
  });
});

describe('SqliteEventStore: the log is the truth (CORE-L)', () => {
  it('CORE-L4: a request input and context are stored once (the request row); the event row keeps the rest and reads back whole', async () => {
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    await store.writeBatch([requestRecord(1, 'a')]);
    const db = store.database();
    const payload = (db.prepare('SELECT payload FROM events WHERE seq = 1').get() as { payload: string }).payload;
    expect(JSON.parse(payload)).toEqual({ type: 'permission-request', seq: 1, id: 'a', toolName: 'Bash', timestamp: 1_001, expiresAt: 61_001 });
    expect(payload).not.toContain('ls');
    expect(db.prepare('SELECT input, context FROM requests WHERE id = ?').get('a')).toEqual({ input: '{"command":"ls"}', context: '{"cwd":"/tmp"}' });
    // Nor does the audit row copy it while the request row holds it.
    expect(db.prepare('SELECT input FROM audit WHERE request_id = ?').get('a')).toEqual({ input: null });
    const since = await store.eventsSince(0);
    expect(since).toEqual({ ok: true, events: [(requestRecord(1, 'a') as { event: SequencedEvent }).event] });
    // A row written by schema version 1 (the whole event in the payload) reads as it is.
    const v1 = { type: 'permission-request', seq: 2, id: 'old', toolName: 'Bash', input: { command: 'v1' }, context: {}, timestamp: 5, expiresAt: 6 };
    db.prepare('INSERT INTO events (seq, type, payload, time) VALUES (2, ?, ?, 5)').run('permission-request', JSON.stringify(v1));
    db.prepare(
      "INSERT INTO requests (id, seq, toolName, input, context, created, expiresAt, status, origin) VALUES ('old', 2, 'Bash', '{\"command\":\"v1\"}', '{}', 5, 6, 'pending', 'http')",
    ).run();
    const tail = await store.eventsSince(1);
    expect(tail).toEqual({ ok: true, events: [v1] });
    await store.close();
  });

  it('CORE-L6: WAL checkpoints run in a worker thread on its own connection; the commit on the event loop never checkpoints', async () => {
    const dir = tempDir();
    const store = new SqliteEventStore({ dataDir: dir });
    expect(store.database().pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    for (let seq = 1; seq <= 50; seq++) await store.writeBatch([requestRecord(seq, `r${seq}`)]);
    const walBytes = statSync(join(dir, 'gatehouse.db-wal')).size;
    expect(walBytes).toBeGreaterThan(0);
    const result = await store.checkpointNow();
    // The worker copied every frame of the WAL into the database, while this connection stayed open.
    expect(result).toMatchObject({ busy: 0 });
    expect(result?.log).toBeGreaterThan(0);
    expect(result?.checkpointed).toBe(result?.log);
    // After a complete checkpoint the next commit starts the WAL over: it does not grow.
    for (let seq = 51; seq <= 100; seq++) await store.writeBatch([requestRecord(seq, `r${seq}`)]);
    expect(statSync(join(dir, 'gatehouse.db-wal')).size).toBeLessThanOrEqual(walBytes);
    expect(await store.head()).toBe(100);
    await store.close();
    // The inline mode (kept to measure against) is SQLite's default.
    const inline = new SqliteEventStore({ dataDir: tempDir(), checkpoints: 'inline' });
    expect(inline.database().pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(inline.checkpointNow()).toBeUndefined();
    await inline.close();
  });

  it('CORE-L8: the audit rows of an agents.db from before CORE-L2 are imported once, inputs and devices kept', async () => {
    const dir = tempDir();
    const legacyFile = join(dir, 'agents.db');
    const legacy = openAgentsDb(legacyFile);
    legacy
      .prepare(
        `INSERT INTO audit (request_id, tool_name, input, requested_at, status, decision, how, decided_by, via, address, decided_at, device_id, device_name)
         VALUES ('old-1', 'Bash', '{"command":"rm -rf build"}', 10, 'resolved', 'allow', 'human', 'phone', 'ws', '192.0.2.9', 20, 'd1', 'Phone')`,
      )
      .run();
    legacy.close();
    const store = new SqliteEventStore({ dataDir: dir });
    expect(store.importLegacyAudit(legacyFile)).toBe(1);
    expect(store.importLegacyAudit(legacyFile)).toBe(0);
    const [row] = await store.auditRows({ filter: { requestId: 'old-1' }, order: 'oldest', limit: 1 });
    expect(row?.entry).toEqual({
      requestId: 'old-1',
      toolName: 'Bash',
      input: { command: 'rm -rf build' },
      requestedAt: 10,
      status: 'resolved',
      decision: 'allow',
      how: 'human',
      decidedBy: 'phone',
      via: 'ws',
      address: '192.0.2.9',
      decidedAt: 20,
      deviceId: 'd1',
      deviceName: 'Phone',
    });
    await store.close();
    // After a restart it is still imported once, and a missing agents.db imports nothing.
    const reopened = new SqliteEventStore({ dataDir: dir });
    expect(reopened.importLegacyAudit(legacyFile)).toBe(0);
    await reopened.close();
    const fresh = new SqliteEventStore({ dataDir: tempDir() });
    expect(fresh.importLegacyAudit(join(tempDir(), 'agents.db'))).toBe(0);
    await fresh.close();
  });
});

describe("SqliteEventStore: the agent's own choice on the audit row (AGX-1)", () => {
  it("AGX-1: an audit table from before the agent's choices gets its column on open; the choice of the outcome's audit facts reads back", async () => {
    const dir = tempDir();
    const old = new SqliteEventStore({ dataDir: dir, checkpoints: 'inline' });
    old.database().exec('ALTER TABLE audit DROP COLUMN agent_choice');
    await old.close();
    const store = new SqliteEventStore({ dataDir: dir, checkpoints: 'inline' });
    const choice = { id: 'opt-always', kind: 'allow_always' as const, label: 'Always allow' };
    await store.writeBatch([requestRecord(1, 'r1'), { ...resolved(2, 'r1'), audit: { via: 'ws', agentChoice: choice } }]);
    await store.writeBatch([requestRecord(3, 'r2'), resolved(4, 'r2')]);
    const [chosen] = await store.auditRows({ filter: { requestId: 'r1' }, order: 'oldest', limit: 1 });
    expect(chosen?.entry).toMatchObject({ status: 'resolved', via: 'ws', agentChoice: choice });
    const [plain] = await store.auditRows({ filter: { requestId: 'r2' }, order: 'oldest', limit: 1 });
    expect(plain?.entry.status).toBe('resolved');
    expect(plain?.entry.agentChoice).toBeUndefined();
    await store.close();
  });
  it('AGX-1, CORE-L8: an agents.db audit row of the every-agent branch (its agent_choice column) is imported with its choice', async () => {
    const dir = tempDir();
    const legacyFile = join(dir, 'agents.db');
    const legacy = openAgentsDb(legacyFile);
    legacy.exec('ALTER TABLE audit ADD COLUMN agent_choice TEXT');
    legacy
      .prepare(
        `INSERT INTO audit (request_id, tool_name, input, requested_at, status, decision, how, decided_by, decided_at, agent_choice)
         VALUES ('old-2', 'Bash', '{"command":"ls"}', 10, 'resolved', 'allow', 'human', 'phone', 20, '{"id":"a","kind":"allow_always","label":"Always"}')`,
      )
      .run();
    legacy.close();
    const store = new SqliteEventStore({ dataDir: dir, checkpoints: 'inline' });
    expect(store.importLegacyAudit(legacyFile)).toBe(1);
    const [row] = await store.auditRows({ filter: { requestId: 'old-2' }, order: 'oldest', limit: 1 });
    expect(row?.entry.agentChoice).toEqual({ id: 'a', kind: 'allow_always', label: 'Always' });
    await store.close();
  });
});

describe('SqliteEventStore: rules beside the events (CORE-L8)', () => {
  it('CORE-L8: the rules of an agents.db move into the event database once, with their migration marks; later rules are not imported again', async () => {
    const dir = tempDir();
    const agents = openAgentsDb(join(dir, 'agents.db'));
    agents
      .prepare(
        `INSERT INTO rules (id, tool_name, pattern, kind, decision, scope, created_at, created_by, source_request_id)
         VALUES ('rule-1', 'Bash', 'npm test', 'bash-prefix', 'allow', 'global', 1, 'phone', 'req-1')`,
      )
      .run();
    agents.prepare(`INSERT INTO rules_migrations (name, at) VALUES ('remember-v2', 1)`).run();
    const store = new SqliteEventStore({ dataDir: dir });
    expect(importAgentsRules(store.database(), agents)).toBe(1);
    // The migration already ran in agents.db: the prefix rule stays a prefix rule.
    const rules = new RuleStore(store.database());
    expect(rules.list()).toMatchObject([{ id: 'rule-1', pattern: 'npm test', kind: 'bash-prefix', sourceRequestId: 'req-1' }]);
    agents
      .prepare(
        `INSERT INTO rules (id, tool_name, pattern, kind, decision, scope, created_at, created_by) VALUES ('rule-2', 'Bash', 'ls', 'bash-exact', 'allow', 'global', 2, 'x')`,
      )
      .run();
    expect(importAgentsRules(store.database(), agents)).toBe(0);
    expect(new RuleStore(store.database()).list().map((r) => r.id)).toEqual(['rule-1']);
    agents.close();
    await store.close();
  });
});
