import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedWindow, DeadlineHeap, SeqIndex } from './seqIndex.ts';

type Entry = { seq: number; live: boolean; sent: boolean; acked: boolean };

describe('SeqIndex and BoundedWindow', () => {
  it('BRK-14: the seq index agrees with a naive scan, across compactions, with thousands waiting', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('push' as const), n: fc.integer({ min: 1, max: 300 }) }),
            fc.record({ kind: fc.constant('finish' as const), seed: fc.nat(), n: fc.integer({ min: 1, max: 300 }) }),
            fc.record({ kind: fc.constant('sent' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
            fc.record({ kind: fc.constant('acked' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
            fc.record({ kind: fc.constant('hold' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
          ),
          { maxLength: 40 },
        ),
        (compactAfter, ops) => {
          const index = new SeqIndex<Entry>(compactAfter);
          const all: Entry[] = [];
          let head = 0;
          const at = (fraction: number) => Math.floor(fraction * (head + 1));
          for (const op of ops) {
            switch (op.kind) {
              case 'push':
                for (let i = 0; i < op.n; i++) {
                  const entry = { seq: ++head, live: true, sent: false, acked: false };
                  all.push(entry);
                  index.push(entry);
                }
                break;
              case 'finish': {
                // Scattered finishes: a small LCG picks which live entries end.
                const live = all.filter((e) => e.live);
                let x = op.seed;
                for (let i = 0; i < op.n && live.length > 0; i++) {
                  x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
                  index.finish(live.splice(x % live.length, 1)[0]!);
                }
                break;
              }
              case 'sent': {
                const upTo = at(op.fraction);
                index.markSent(upTo, (e) => {
                  expect(e.sent || e.acked).toBe(false);
                  e.sent = true;
                });
                for (const e of all) if (e.live && e.seq <= upTo) expect(e.sent || e.acked).toBe(true);
                break;
              }
              case 'acked': {
                const upTo = at(op.fraction);
                index.markAcked(upTo, (e) => {
                  expect(e.acked).toBe(false);
                  e.acked = true;
                });
                for (const e of all) if (e.live && e.seq <= upTo) expect(e.acked).toBe(true);
                break;
              }
              case 'hold':
                // Never beyond the head: the broker clamps acks to it.
                index.setHoldSeq(Math.min(head, at(op.fraction)));
                break;
            }
            const expected = all.filter((e) => e.live && e.seq <= index.holdSeq).length;
            expect(index.processing).toBe(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('BRK-14: a compaction keeps every cursor where it was', () => {
    const index = new SeqIndex<Entry>(8);
    const all: Entry[] = Array.from({ length: 100 }, (_, i) => ({ seq: i + 1, live: true, sent: false, acked: false }));
    for (const e of all) index.push(e);
    index.markSent(60, (e) => (e.sent = true));
    index.markAcked(40, (e) => (e.acked = true));
    index.setHoldSeq(50);
    for (const e of all) if (e.seq % 3 !== 0 || e.seq > 90) index.finish(e); // compacts on the way
    const live = all.filter((e) => e.live);
    expect(index.processing).toBe(live.filter((e) => e.seq <= 50).length);
    const sentNow: number[] = [];
    index.markSent(100, (e) => sentNow.push(e.seq));
    expect(sentNow).toEqual(live.filter((e) => e.seq > 60).map((e) => e.seq));
    const ackedNow: number[] = [];
    index.markAcked(100, (e) => ackedNow.push(e.seq));
    expect(ackedNow).toEqual(live.filter((e) => e.seq > 40).map((e) => e.seq));
    index.setHoldSeq(30);
    expect(index.processing).toBe(live.filter((e) => e.seq <= 30).length);
    index.setHoldSeq(100);
    expect(index.processing).toBe(live.length);
  });

  it('BRK-13: a bounded window keeps the newest `limit` keys and reports each eviction once', () => {
    const evicted: string[] = [];
    const window = new BoundedWindow<number>(3, (key) => evicted.push(key));
    for (let i = 0; i < 5_000; i++) window.set(`k${i}`, i);
    window.set('k4999', -1); // an existing key keeps its place
    expect(window.size).toBe(3);
    expect([...window.values()]).toEqual([4997, 4998, -1]);
    expect(evicted).toHaveLength(4_997);
    expect(evicted[0]).toBe('k0');
    expect(window.has('k4996')).toBe(false);
    expect(window.get('k4997')).toBe(4997);
  });
});

describe('DeadlineHeap and delivery watermarks (CORE-B6)', () => {
  it('CORE-B6: the heap pops deadlines earliest first, however they were filled and pushed', () => {
    const heap = new DeadlineHeap();
    const random = (seed: number) => () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const next = random(7);
    const expected: number[] = [];
    const filled = Array.from({ length: 500 }, (_, i) => ({ at: Math.floor(next() * 10_000), id: `f${i}` }));
    heap.fill(filled);
    expected.push(...filled.map((e) => e.at));
    for (let i = 0; i < 500; i++) {
      const at = Math.floor(next() * 10_000);
      heap.push(at, `p${i}`);
      expected.push(at);
    }
    const popped: number[] = [];
    for (let top = heap.pop(); top !== undefined; top = heap.pop()) popped.push(top.at);
    expect(popped).toEqual(expected.sort((a, b) => a - b));
    expect(heap.size).toBe(0);
  });

  it('CORE-B6: a removed deadline never pops, whichever place it held; removing twice, or an entry already popped, changes nothing', () => {
    const heap = new DeadlineHeap();
    const random = (seed: number) => () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const next = random(11);
    const entries = heap.fill(Array.from({ length: 300 }, (_, i) => ({ at: Math.floor(next() * 1000), id: `f${i}` })));
    for (let i = 0; i < 300; i++) entries.push(heap.push(Math.floor(next() * 1000), `p${i}`));
    const removed = new Set(entries.filter(() => next() < 0.4));
    for (const entry of removed) heap.remove(entry);
    for (const entry of removed) heap.remove(entry);
    const kept = entries.filter((e) => !removed.has(e));
    expect(heap.size).toBe(kept.length);
    const first = heap.pop();
    if (first) heap.remove(first);
    const popped = [first?.at];
    for (let top = heap.pop(); top !== undefined; top = heap.pop()) popped.push(top.at);
    expect(popped).toEqual(kept.map((e) => e.at).sort((a, b) => a - b));
  });

  it('BRK-18: equal deadlines pop in the order they were added; a deadline that is not a number pops first', () => {
    const heap = new DeadlineHeap();
    heap.fill(['r1', 'r2', 'r3'].map((id) => ({ at: 500, id })));
    for (const id of ['r4', 'r5', 'r6', 'r7']) heap.push(500, id);
    heap.push(Number.NaN, 'corrupt');
    const popped: string[] = [];
    for (let top = heap.pop(); top !== undefined; top = heap.pop()) popped.push(top.id);
    expect(popped).toEqual(['corrupt', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
  });

  it('CORE-B6: deliveryOf reads what an actor told every sent/acked so far would say', () => {
    const index = new SeqIndex<{ seq: number; live: boolean }>();
    const entries = [1, 2, 3, 4].map((seq) => ({ seq, live: true }));
    for (const entry of entries) index.push(entry);
    expect(entries.map((e) => index.deliveryOf(e))).toEqual(['pending', 'pending', 'pending', 'pending']);
    index.markSent(3, () => {});
    index.markAcked(1, () => {});
    expect(entries.map((e) => index.deliveryOf(e))).toEqual(['acked', 'sent', 'sent', 'pending']);
    index.markAcked(4, () => {});
    index.markSent(2, () => {}); // never goes back
    expect(entries.map((e) => index.deliveryOf(e))).toEqual(['acked', 'acked', 'acked', 'acked']);
  });
});
