/** What the PostgreSQL store guarantees beyond the shared contract: migrations, the seq
 *  race between writers, and the constraints the database holds (SPEC.md TEAM-2..4). */
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requestRecord, resolvedRecord } from './contract.ts';
import { SCHEMA_VERSION } from './postgresMigrations.ts';
import { openPostgresStore, SeqConflictError, type PostgresEventStore } from './postgresStore.ts';
import { createTestDatabase, requirePostgres } from './testing/postgres.ts';

const reachable = await requirePostgres('the PostgreSQL store tests');

describe('TEAM-1: PostgreSQL tests skip, or fail under CI=true, where PostgreSQL is not reachable', () => {
  // Port 1 on loopback: nothing listens there.
  const nowhere = 'postgres://postgres@127.0.0.1:1/test';
  it('TEAM-1: unreachable: skipped with a line naming the address', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(await requirePostgres('a suite', nowhere, {})).toBe(false);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^PostgreSQL not reachable at postgres:\/\/postgres@127\.0\.0\.1:1\/test .*: a suite skipped$/));
    } finally {
      warn.mockRestore();
    }
  });
  it('TEAM-1: unreachable under CI=true: an error, not a skip', async () => {
    await expect(requirePostgres('a suite', nowhere, { CI: 'true' })).rejects.toThrow(
      /^PostgreSQL not reachable at postgres:\/\/postgres@127\.0\.0\.1:1\/test .*: a suite cannot run, and CI=true requires it$/,
    );
  });
});

describe.skipIf(!reachable)('TEAM: the PostgreSQL store', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const database = async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    return db;
  };
  const opened = async (url: string) => {
    const store = await openPostgresStore({ url, poolSize: 3 });
    cleanups.push(() => store.close());
    return store;
  };
  const query = async <T extends pg.QueryResultRow>(url: string, sql: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end();
    }
  };

  it('TEAM-17: load names the instance that made each unresolved request (a row without one names none)', async () => {
    const db = await database();
    const store = await opened(db.url);
    await store.writeBatch([{ ...requestRecord(1, 'a'), instance: 'A' }, requestRecord(2, 'b')]);
    const loaded = await store.load({ now: Date.now() });
    expect(loaded.unresolved.map((request) => [request.id, request.instance])).toEqual([
      ['a', 'A'],
      ['b', undefined],
    ]);
  });

  it('TEAM-2: migrations run once: instances opening one new database together share one schema version row and one epoch', async () => {
    const db = await database();
    const stores = await Promise.all([opened(db.url), opened(db.url), opened(db.url)]);
    expect(new Set(stores.map((s) => s.epoch)).size).toBe(1);
    const again = await opened(db.url);
    expect(again.epoch).toBe(stores[0]?.epoch);
    const versions = await query<{ version: number }>(db.url, 'SELECT version FROM gatehouse_schema ORDER BY version');
    expect(versions.map((v) => v.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  });

  it('TEAM-2: a database migrated by a newer server is refused with a message naming both versions', async () => {
    const db = await database();
    await (await openPostgresStore({ url: db.url })).close();
    await query(db.url, `INSERT INTO gatehouse_schema (version, what, applied_at) VALUES (${SCHEMA_VERSION + 1}, 'future', 0)`);
    await expect(openPostgresStore({ url: db.url })).rejects.toThrow(`has schema version ${SCHEMA_VERSION + 1}; this server knows up to ${SCHEMA_VERSION}`);
  });

  it('TEAM-3: two writers numbering from the same head: exactly one appends, the other gets SeqConflictError and stores nothing', async () => {
    const db = await database();
    const a = await opened(db.url);
    const b = await opened(db.url);
    await a.writeBatch([requestRecord(1, 'r1')]);
    for (let round = 0; round < 10; round++) {
      const seq = 2 + round;
      const results = await Promise.allSettled([
        a.writeBatch([resolvedRecord(seq, 'r1', { decidedBy: 'a' })]),
        b.writeBatch([resolvedRecord(seq, 'r1', { decidedBy: 'b' })]),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(SeqConflictError);
      expect(lost[0]).toMatchObject({ firstSeq: seq, head: seq });
      expect(String(lost[0])).toMatch(`the batch starts at seq ${seq} but the log's head is ${seq}`);
    }
    const log = await a.eventsSince(0);
    expect(log.ok && log.events.map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(await b.head()).toBe(11);
  });

  it('TEAM-3: reads during appends and prunes by other instances see one snapshot: a log read is gapless from its start, or too-old', async () => {
    const db = await database();
    const writer = await opened(db.url);
    const pruner = await opened(db.url);
    const reader = await opened(db.url);
    let done = false;
    const writes = (async () => {
      for (let seq = 1; seq <= 120; seq += 2) {
        await writer.writeBatch([requestRecord(seq, `r${seq}`, { at: 10 }), resolvedRecord(seq + 1, `r${seq}`, { at: 10 })]);
      }
      done = true;
    })();
    const prunes = (async () => {
      while (!done) await pruner.prune(1_000_000, { keepEvents: 5, keepMs: 0 });
    })();
    let reads = 0;
    while (!done) {
      const head = await reader.head();
      const since = Math.max(0, head - 8);
      const result = await reader.eventsSince(since);
      reads += 1;
      if (!result.ok) {
        expect(result.reason).toBe('too-old');
        continue;
      }
      const seqs = result.events.map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => since + 1 + i));
      expect(seqs.length).toBeGreaterThanOrEqual(head - since);
    }
    await Promise.all([writes, prunes]);
    expect(reads).toBeGreaterThan(0);
    expect(await reader.head()).toBe(120);
    const tail = await reader.eventsSince(115);
    expect(tail.ok && tail.events.map((e) => e.seq)).toEqual([116, 117, 118, 119, 120]);
  });

  it('TEAM-3: a batch that does not start at head + 1, or skips a seq, is refused whole', async () => {
    const db = await database();
    const store = await opened(db.url);
    await store.writeBatch([requestRecord(1, 'r1')]);
    await expect(store.writeBatch([requestRecord(3, 'r3')])).rejects.toThrow(/starts at seq 3 but the log's head is 1/);
    await expect(store.writeBatch([requestRecord(2, 'r2'), requestRecord(4, 'r4')])).rejects.toThrow(/consecutive seqs: 2 is followed by 4/);
    expect(await store.head()).toBe(1);
    expect(await store.getRequest('r2')).toBeUndefined();
  });

  it('TEAM-4: the database holds the constraints: one unresolved request per idempotency key, the first clientMsgId answer, one outcome', async () => {
    const db = await database();
    const store: PostgresEventStore = await opened(db.url);
    await store.writeBatch([requestRecord(1, 'a', { key: 'k', hash: 'h' })]);
    // Another unresolved request with the same key: refused (the first one keeps it).
    await expect(store.writeBatch([requestRecord(2, 'b', { key: 'k', hash: 'h' })])).rejects.toThrow(/duplicate key value violates unique constraint/);
    expect((await store.findByIdempotencyKey('k'))?.id).toBe('a');
    await store.writeBatch([
      { kind: 'client-answer', record: { clientMsgId: 'm', requestId: 'a', answer: { status: 'accepted', requestId: 'a' } } },
      {
        kind: 'client-answer',
        record: { clientMsgId: 'm', requestId: 'a', answer: { status: 'rejected', requestId: 'a', code: 'already-resolved', message: 'x' } },
      },
    ]);
    expect((await store.load({ now: 0 })).clientAnswers).toEqual([{ clientMsgId: 'm', requestId: 'a', answer: { status: 'accepted', requestId: 'a' } }]);
    // The first outcome stays; and a row that left pending cannot go back, even by hand (a CHECK ties the status to its outcome seq).
    await store.writeBatch([resolvedRecord(2, 'a', { decidedBy: 'first' })]);
    await expect(query(db.url, "UPDATE requests SET status = 'pending' WHERE id = 'a'")).rejects.toThrow(/check constraint/);
    expect(await store.getRequest('a')).toMatchObject({ status: 'resolved', decidedBy: 'first' });
  });
});

describe.skipIf(!reachable)('TEAM-1: PostgreSQL pages', () => {
  it('TEAM-1: a page longer than one read chunk: every row once, in seq order, `more` exactly when rows follow', async () => {
    const db = await createTestDatabase();
    const store = await openPostgresStore({ url: db.url, poolSize: 2 });
    try {
      await store.writeBatch(Array.from({ length: 150 }, (_, i) => requestRecord(i + 1, `r${i + 1}`)));
      const first = await store.pageRequests({ afterSeq: 0, limit: 100, maxBytes: 1 << 30 });
      expect(first.requests.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(first.more).toBe(true);
      const rest = await store.pageRequests({ afterSeq: 100, limit: 100, maxBytes: 1 << 30 });
      expect(rest.requests.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 101));
      expect(rest.more).toBe(false);
      const exact = await store.pageRequests({ afterSeq: 22, limit: 128, maxBytes: 1 << 30 });
      expect(exact.requests).toHaveLength(128);
      expect(exact.more).toBe(false);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe.skipIf(!reachable)('TEAM-9: one writer per PostgreSQL database without a bus', () => {
  it('TEAM-9: a second exclusive store on one database is refused with a message; once the first closes, it opens', async () => {
    const db = await createTestDatabase();
    try {
      const first = await openPostgresStore({ url: db.url, exclusive: true });
      await expect(openPostgresStore({ url: db.url, exclusive: true, exclusiveWaitMs: 300 })).rejects.toThrow(
        /another Gatehouse instance serves postgres:\/\/\S+\/gh_test_\w+ \(it holds the writer lease\)/,
      );
      // A store that is not exclusive (tools, tests) still opens beside it.
      const reader = await openPostgresStore({ url: db.url });
      await reader.close();
      await first.ping();
      await first.close();
      const second = await openPostgresStore({ url: db.url, exclusive: true, exclusiveWaitMs: 300 });
      await second.ping();
      await second.close();
    } finally {
      await db.drop();
    }
  });

  it('TEAM-9: with a bus the lease is shared: many bus instances together, none beside one without a bus, and the refusal says to add --bus', async () => {
    const db = await createTestDatabase();
    try {
      const alone = await openPostgresStore({ url: db.url, exclusive: true });
      await expect(openPostgresStore({ url: db.url, shared: true, exclusiveWaitMs: 300 })).rejects.toThrow(
        /serves \S+ without --bus .*start every instance on one database with --bus/,
      );
      await alone.close();
      const one = await openPostgresStore({ url: db.url, shared: true, exclusiveWaitMs: 300 });
      const two = await openPostgresStore({ url: db.url, shared: true, exclusiveWaitMs: 300 });
      await expect(openPostgresStore({ url: db.url, exclusive: true, exclusiveWaitMs: 300 })).rejects.toThrow(
        /holds the writer lease\): to run several instances on one database, start each with --bus/,
      );
      await one.close();
      await two.close();
    } finally {
      await db.drop();
    }
  });
});
