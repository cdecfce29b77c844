/**
 * Smoke test of the benchmark harness (not a benchmark): the raw-ws baseline, in its own
 * server and client processes, completes N round trips in which every outcome is learned
 * exactly once by the agent loop, every request reaches the client once and gets one
 * decision. If the harness lost or doubled a round trip, its figures would be wrong.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Child } from './child.ts';

type LoadResult = { count: number; issued: number; doubleLearned: number; learned: [string, number][] };
type Collected = { duplicates: number; problems: string[]; decided: [string, number][]; receipt: { n: number; min: number } };

describe('bench harness', () => {
  const server = Child.start('server raw-ws', 'servers/main.ts', ['--system', 'raw-ws']);
  const client = Child.start('client raw-ws', 'clients/main.ts', ['--system', 'raw-ws']);
  afterAll(async () => {
    await Promise.all([client.stop(), server.stop()]);
  });

  it('BENCH-1: the raw-ws baseline completes N round trips, each outcome learned exactly once', async () => {
    const { port } = await server.ready;
    await client.ready;
    await client.call('connect', { port, n: 1, deciders: 1 });
    await client.call('reset');
    const N = 500;
    const load = await server.call<LoadResult>('load', { count: N, inflight: 50, maxMs: 10_000 });
    const collected = await client.call<Collected>('collect');

    expect(load.count).toBe(N);
    expect(load.doubleLearned).toBe(0);
    expect(new Set(load.learned.map(([id]) => id)).size).toBe(N);
    // The client saw each request once and decided each once: the same ids.
    expect(collected.duplicates).toBe(0);
    expect(collected.problems).toEqual([]);
    expect(new Set(collected.decided.map(([id]) => id))).toEqual(new Set(load.learned.map(([id]) => id)));
    // Latency is measured across two processes' clocks: never meaningfully negative.
    expect(collected.receipt.n).toBe(N);
    expect(collected.receipt.min).toBeGreaterThan(-0.2);
  });
});
