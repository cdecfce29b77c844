/**
 * Smoke test of the benchmark harness (not a benchmark): the raw-ws baseline, in its own
 * server and client processes, completes N round trips in which every outcome is learned
 * exactly once by the agent loop, every request reaches the client once and gets one
 * decision. If the harness lost or doubled a round trip, its figures would be wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildChildren, Child } from './child.ts';
import { nextPort } from './clients/gatehouse.ts';
import { clusterTable, commitMetrics, failoverMetrics, parseProcStat, sumMetrics } from './cluster.ts';
import { deciderFor } from './common.ts';

type LoadResult = { count: number; issued: number; doubleLearned: number; learned: [string, number][] };
type Collected = { duplicates: number; problems: string[]; decided: [string, number][]; receipt: { n: number; min: number } };

describe('bench harness', () => {
  let server: Child;
  let client: Child;
  beforeAll(async () => {
    await buildChildren();
    server = Child.start('server raw-ws', 'servers/main.ts', ['--system', 'raw-ws']);
    client = Child.start('client raw-ws', 'clients/main.ts', ['--system', 'raw-ws']);
  });
  afterAll(async () => {
    await Promise.all([client?.stop(), server?.stop()]);
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

describe('cluster scenario, pure parts (bench/cluster.ts)', () => {
  it('BENCH-2: a request is decided by a client on another instance whenever there are several', () => {
    const clients = 3;
    for (const instances of [1, 3]) {
      for (let w = 0; w < 300; w++) {
        const decider = deciderFor(w, clients);
        expect(decider).toBeGreaterThanOrEqual(0);
        expect(decider).toBeLessThan(clients);
        // Agent w on instance w % n; client k on instance k % n.
        if (instances > 1) expect(decider % instances).not.toBe(w % instances);
      }
    }
    // Every client decides a share: none idles, none decides all.
    const shares = new Set(Array.from({ length: 30 }, (_, w) => deciderFor(w, clients)));
    expect(shares).toEqual(new Set([0, 1, 2]));
  });

  it('BENCH-2: the clients of a killed instance resume on the others in turn, spread over them', () => {
    const ports = [1001, 1002, 1003];
    const firsts = Array.from({ length: 10 }, (_, spread) => nextPort(ports, 1002, spread, 0));
    expect(firsts).not.toContain(1002);
    expect(new Set(firsts)).toEqual(new Set([1001, 1003]));
    // Refused by one: the next attempt tries the other.
    expect(nextPort(ports, 1002, 0, 0)).not.toBe(nextPort(ports, 1002, 0, 1));
    expect(nextPort([1001], 1001, 0, 0)).toBeUndefined();
  });

  it('BENCH-2: a fail-over that did not fail over is a broken check', () => {
    const ok = failoverMetrics(
      1000,
      { victims: [{ welcomeAt: 1100, caughtUpAt: 1150, port: 2 }], problems: [], behind: 0 },
      [{ id: 'a', learnedAt: 1200, tries: 2, finishedOn: 'x', outcome: 'allow' }],
      [],
    );
    expect(ok).toMatchObject({ failClients: 1, failWelcomeMax: 100, failCaughtUpMax: 150, failAgentMax: 200 });

    const checks: string[] = [];
    failoverMetrics(
      1000,
      { victims: [{ welcomeAt: Number.NaN, caughtUpAt: Number.NaN, port: 1 }], problems: ['client 3: seq 9 after 7 on port 2 (a gap)'], behind: 2 },
      [
        { id: 'a', learnedAt: 1200, tries: 1, finishedOn: 'x', outcome: 'allow' },
        { id: 'a', learnedAt: 1300, tries: 2, finishedOn: 'x', outcome: 'unavailable: lost' },
      ],
      checks,
    );
    expect(checks.join('\n')).toMatch(/no welcome elsewhere/);
    expect(checks.join('\n')).toMatch(/2 clients do not hold the head/);
    expect(checks.join('\n')).toMatch(/a gap/);
    expect(checks.join('\n')).toMatch(/did not break off/);
    expect(checks.join('\n')).toMatch(/ended with unavailable/);
    expect(checks.join('\n')).toMatch(/two agents learned one request/);
  });

  it('BENCH-2: CPU ticks from /proc/PID/stat, a command name with spaces and parentheses included', () => {
    const stat = '4242 (node (gate) x) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 567 0 0 20 0 11 0 100 0 0';
    expect(parseProcStat(stat)).toBe(1234 + 567);
  });

  it('BENCH-2: the table shows the columns that ran and leaves out rows nobody measured', () => {
    const text = clusterTable({ 'sqlite-1': { rt200: 1000, failAgentMax: Number.NaN }, 'pg-3': { rt200: 500, failAgentMax: 450 } });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/SQLite, 1 instance .*PostgreSQL \+ NATS, 3 instances/);
    expect(lines[0]).not.toMatch(/PostgreSQL \+ NATS, 1 instance/);
    expect(text).toMatch(/durable round trips\/s.*1,000\/s.*500\/s/);
    expect(text).toMatch(/last agent has its outcome.*—.*450 ms/);
    expect(text).not.toMatch(/fan-out/);
  });

  it("BENCH-2: commits and lost seq races from the instances' /metrics, every series summed", () => {
    const text = [
      '# HELP gatehouse_seq_conflicts_total lost races',
      'gatehouse_seq_conflicts_total{instance="a"} 3',
      'gatehouse_seq_conflicts_total{instance="b"} 1',
      'gatehouse_persist_seconds_sum{instance="a"} 0.5',
      'gatehouse_persist_seconds_count{instance="a"} 100',
      'gatehouse_persist_seconds_bucket{instance="a",le="0.001"} 7',
      'gatehouse_persist_batch_records_sum 250',
    ].join('\n');
    const after = sumMetrics(text, [
      'gatehouse_seq_conflicts_total',
      'gatehouse_persist_seconds_sum',
      'gatehouse_persist_seconds_count',
      'gatehouse_persist_batch_records_sum',
    ]);
    expect(after).toEqual({
      gatehouse_seq_conflicts_total: 4,
      gatehouse_persist_seconds_sum: 0.5,
      gatehouse_persist_seconds_count: 100,
      gatehouse_persist_batch_records_sum: 250,
    });
    expect(commitMetrics({}, after, 50)).toEqual({ commitsPerRt: 2, commitMs: 5, recordsPerCommit: 2.5, seqConflictsPer1k: 80 });
  });
});
