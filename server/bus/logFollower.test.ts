/**
 * Two writers on one PostgreSQL log, announcing on real NATS, each following the log
 * (docs/cluster.md; SPEC.md TEAM-7, TEAM-8): every event reaches every follower once, in
 * seq order, with no gap, even when announcements are lost; losers of the seq race catch
 * up from the log and append after it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SequencedEvent } from '../../protocol/index.ts';
import { openPostgresStore, SeqConflictError, type PostgresEventStore } from '../store/postgresStore.ts';
import { createTestDatabase, requirePostgres } from '../store/testing/postgres.ts';
import type { CommitRecord } from '../store/types.ts';
import { connectBus, logSubject, type Bus } from './natsBus.ts';
import { LogFollower } from './logFollower.ts';
import { requireNats, TEST_NATS_URL } from './testing/nats.ts';

const reachable = (await requirePostgres('the log follower tests')) && (await requireNats('the log follower tests'));

const chat = (seq: number, text: string): CommitRecord => ({
  kind: 'event',
  event: { type: 'chat-message', seq, sessionId: 's1', message: { id: `m${seq}`, role: 'assistant', kind: 'text', text }, timestamp: 1_000 + seq },
});

/** Resolves when `check` holds, re-checked on each delivery (no sleeps). */
function until(check: () => boolean, wake: Set<() => void>): Promise<void> {
  return new Promise((resolve) => {
    const probe = () => {
      if (!check()) return;
      wake.delete(probe);
      resolve();
    };
    wake.add(probe);
    probe();
  });
}

describe.skipIf(!reachable)('TEAM: the log follower over NATS and PostgreSQL', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  type Instance = { name: string; store: PostgresEventStore; bus: Bus; follower: LogFollower; seen: SequencedEvent[] };

  async function instance(name: string, url: string, wake: Set<() => void>, options: { pollMs?: number } = {}): Promise<Instance> {
    const store = await openPostgresStore({ url, poolSize: 3 });
    cleanups.push(() => store.close());
    const bus = await connectBus(TEST_NATS_URL, { name });
    cleanups.push(() => bus.close());
    const seen: SequencedEvent[] = [];
    const follower = new LogFollower({
      store,
      from: await store.head(),
      pollMs: options.pollMs ?? 200,
      onEvents: (events) => {
        seen.push(...events);
        for (const fn of [...wake]) fn();
      },
      onTooOld: () => {
        throw new Error('unexpected too-old');
      },
    });
    cleanups.push(() => follower.stop());
    cleanups.push(bus.subscribe(store.epoch, (range) => follower.notify(range.to)));
    follower.start();
    return { name, store, bus, follower, seen };
  }

  it('TEAM-7: two writers, announcements on NATS (half of them lost): each follower sees every event once, in seq order, gapless; a loser of the seq race catches up and appends after the winner', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const wake = new Set<() => void>();
    const a = await instance('a', database.url, wake);
    const b = await instance('b', database.url, wake);
    expect(b.store.epoch).toBe(a.store.epoch);
    let conflicts = 0;
    let lost = 0;
    let n = 0;

    /** Numbers a batch from what this instance has seen (as a broker would), commits it,
     *  and on a lost race waits for its follower to catch up and numbers it again. */
    const append = async (who: Instance, texts: string[]) => {
      for (;;) {
        const from = who.follower.position + 1;
        try {
          await who.store.writeBatch(texts.map((text, i) => chat(from + i, text)));
        } catch (error) {
          if (!(error instanceof SeqConflictError)) throw error;
          conflicts += 1;
          await until(() => who.follower.position >= error.head, wake);
          continue;
        }
        const to = from + texts.length - 1;
        // A lost announcement costs only time: the follower's poll reads the log anyway.
        if ((n++ * 7919) % 2 === 0) who.bus.announce({ epoch: who.store.epoch, from, to });
        else lost += 1;
        return;
      }
    };

    const writes: Promise<void>[] = [];
    for (let round = 0; round < 15; round++) {
      writes.push(append(a, [`a${round}`]), append(b, [`b${round}-1`, `b${round}-2`]));
      await Promise.all(writes.splice(0));
    }
    const total = 15 * 3;
    await until(() => a.seen.length >= total && b.seen.length >= total, wake);
    await a.follower.settled();
    await b.follower.settled();

    for (const who of [a, b]) {
      expect(who.seen.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
    // The same events at the same seqs on both, and each text appended exactly once.
    expect(b.seen).toEqual(a.seen);
    const texts = a.seen.map((e) => (e.type === 'chat-message' && e.message.kind === 'text' ? e.message.text : ''));
    expect(new Set(texts).size).toBe(total);
    expect(conflicts).toBeGreaterThan(0);
    expect(lost).toBeGreaterThan(0);
  });

  it('TEAM-8: announcements are validated: malformed ones, or of another epoch, are dropped and counted; a valid one wakes the follower at once', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const wake = new Set<() => void>();
    // A poll so slow it never fires in this test: only the announcement can wake it.
    const follower = await instance('f', database.url, wake, { pollMs: 600_000 });
    const writer = await instance('w', database.url, wake, { pollMs: 600_000 });
    await writer.store.writeBatch([chat(1, 'one')]);
    // On one connection, so they arrive in this order: garbage, a wrong range, another
    // epoch's announcement on this subject, then a valid one.
    const { connect } = await import('@nats-io/transport-node');
    const direct = await connect({ servers: new URL(TEST_NATS_URL).host });
    cleanups.push(() => direct.close());
    const subject = logSubject(follower.store.epoch);
    direct.publish(subject, 'not json');
    direct.publish(subject, JSON.stringify({ epoch: follower.store.epoch, from: 5, to: 2 }));
    direct.publish(subject, JSON.stringify({ epoch: 'other-epoch', from: 1, to: 1 }));
    direct.publish(subject, JSON.stringify({ epoch: follower.store.epoch, from: 1, to: 1 }));
    await direct.flush();
    await until(() => follower.seen.length === 1, wake);
    expect(follower.seen.map((e) => e.seq)).toEqual([1]);
    expect(follower.bus.dropped).toBe(3);
  });
});
