/**
 * `npm run bench`: raw `ws`, Socket.IO and Gatehouse side by side, in one run, one after
 * another, the order rotating over the rounds; prints the medians as a table with the
 * targets beside them. Every system gets the same agent loop (in its server process),
 * the same request, the same client behaviour (in a separate client process) and the
 * same number in flight. Loopback only; every loop is bounded in count and time.
 *
 *   npm run bench                      full run (3 rounds)
 *   npm run bench -- --quick           short run, about a minute (or BENCH_QUICK=1)
 *   npm run bench -- --smoke           tiny counts, every scenario: checks the bench code
 *                                      itself, not the figures (about 30 s)
 *   options: --rounds N  --systems raw-ws,socket.io,gatehouse  --no-http  --json FILE
 *            --core (adds gatehouse-core: Gatehouse without its agents plugin)
 *            --only load,http,rate,fanout,storm,memory,restart   BENCH_CPU_PROF=DIR
 *            --only cluster (or adding cluster to the list): one and three instances on
 *              PostgreSQL + NATS beside one on SQLite (bench/cluster.ts; not in the
 *              default run: it needs the machine's PostgreSQL and NATS);
 *              --deployments sqlite-1,pg-1,pg-3 picks its columns
 *            BENCH_PROFILE_DIR=DIR (the server's CPU profile of each measured round-trip section)
 *            BENCH_VERBOSE=1 (children's output on stderr)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { bundlePath, buildCommands, isBundleFresh } from '../scripts/build-cli.js';
import { buildChildren, Child } from './child.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterTable, DEPLOYMENTS, runClusterBench, type ClusterConfig, type ClusterRound, type DeploymentName } from './cluster.ts';
import { checkLoop, decisionToAgent, settleClients, type Collected, type LoadResult } from './checks.ts';
import { coresFmt, DEFAULT_SYSTEMS, isSystemName, kib, median, ms, now, perSec, ratio, us, type Dist, type SystemName } from './common.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

// ---- options ------------------------------------------------------------------------

function flag(name: string): boolean {
  return process.argv.includes(name);
}
function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const smoke = flag('--smoke');
const quick = smoke || flag('--quick') || process.env.BENCH_QUICK === '1';

export type BenchConfig = {
  rounds: number;
  warmup: number;
  load200: number;
  load1: number;
  rate: { perSec: number; count: number; clients: number };
  /** The same 50 clients at a rate that saturates nothing: the latency floor of each system. */
  lightRate: { perSec: number; count: number };
  fanout: { clients: number; perSec: number; count: number };
  storm: { clients: number; unresolved: number };
  memory: number;
  /** HTTP agents: `load200`/`load1` on keep-alive connections; `close200` with one
   *  connection per call (as a hook process makes it), 200 in flight. */
  http: { load200: number; load1: number; close200: number } | null;
  /** `--only cluster` (bench/cluster.ts). */
  cluster: ClusterConfig;
};

const FULL: BenchConfig = {
  rounds: 3,
  warmup: 3000,
  load200: 20_000,
  load1: 2000,
  rate: { perSec: 1000, count: 5000, clients: 50 },
  lightRate: { perSec: 200, count: 1000 },
  fanout: { clients: 200, perSec: 50, count: 200 },
  storm: { clients: 200, unresolved: 100 },
  memory: 10_000,
  http: { load200: 10_000, load1: 1000, close200: 4000 },
  cluster: { warmup: 1000, load200: 6000, fanout: { clients: 200, perSec: 50, count: 200 }, failover: { clients: 200, held: 20 } },
};
const QUICK: BenchConfig = {
  rounds: 1,
  warmup: 2000,
  load200: 4000,
  load1: 300,
  rate: { perSec: 1000, count: 1000, clients: 50 },
  lightRate: { perSec: 200, count: 200 },
  fanout: { clients: 200, perSec: 50, count: 40 },
  storm: { clients: 200, unresolved: 100 },
  memory: 10_000,
  http: { load200: 2000, load1: 200, close200: 600 },
  cluster: { warmup: 600, load200: 2000, fanout: { clients: 200, perSec: 50, count: 40 }, failover: { clients: 200, held: 10 } },
};
/** Every scenario with the least work that still runs its code: for changing the bench. */
const SMOKE: BenchConfig = {
  rounds: 1,
  warmup: 200,
  load200: 400,
  load1: 20,
  rate: { perSec: 1000, count: 200, clients: 50 },
  lightRate: { perSec: 200, count: 40 },
  fanout: { clients: 200, perSec: 50, count: 10 },
  storm: { clients: 200, unresolved: 20 },
  memory: 300,
  http: { load200: 400, load1: 20, close200: 200 },
  cluster: { warmup: 200, load200: 400, fanout: { clients: 200, perSec: 50, count: 10 }, failover: { clients: 30, held: 3 } },
};

const config: BenchConfig = { ...(smoke ? SMOKE : quick ? QUICK : FULL) };
if (option('--rounds')) config.rounds = Math.max(1, Math.min(20, Number(option('--rounds')) || 1));
if (flag('--no-http')) config.http = null;
const systems: SystemName[] = [...new Set([...(option('--systems')?.split(',') ?? DEFAULT_SYSTEMS), ...(flag('--core') ? ['gatehouse-core'] : [])])].filter(
  isSystemName,
);
const jsonOut = option('--json');
const SCENARIOS = ['load', 'http', 'rate', 'fanout', 'storm', 'memory', 'restart'] as const;
/** `--only load,memory`: run only these scenarios (for profiling; the table shows what ran).
 *  `cluster` is only run when named. */
const only = new Set<string>(option('--only')?.split(',') ?? SCENARIOS);
const runs = (s: (typeof SCENARIOS)[number]) => only.has(s);
const systemsRun = SCENARIOS.some(runs);

// ---- measurements -------------------------------------------------------------------

type Usage = { cpuUs: number; at: number };

/** Metrics of one system in one round; `checks` lists every broken expectation. */
type RoundResult = { metrics: Record<string, number>; checks: string[] };

/** Runs one measured section; with BENCH_PROFILE_DIR the server process profiles it
 *  (DIR/<system>-r<round>-<name>.cpuprofile). */
async function section<T>(server: Child, name: string, fn: () => Promise<T>): Promise<T> {
  if (!process.env.BENCH_PROFILE_DIR) return fn();
  await server.call('profileStart');
  try {
    return await fn();
  } finally {
    await server.call('profileStop', { name });
  }
}

async function closedLoop(
  server: Child,
  client: Child,
  count: number,
  inflight: number,
  what: string,
  checks: string[],
): Promise<{ rate: number; c2c: Dist; d2a: Dist; serverCpu: number; clientCpu: number }> {
  await client.call('reset');
  const load = await server.call<LoadResult>('load', { count, inflight, maxMs: 120_000 });
  const collected = await client.call<Collected>('collect');
  checkLoop(what, load, collected, count, checks);
  return {
    rate: (load.count / load.elapsedMs) * 1000,
    c2c: collected.receipt,
    d2a: decisionToAgent(load, collected),
    serverCpu: load.cpu ?? Number.NaN,
    clientCpu: collected.cpu,
  };
}

/** The `gatehouse serve` process being measured, killed by the watchdog if need be. */
let activeCli: ChildProcess | undefined;

/** raw-ws and Socket.IO keep nothing: there is no restart to measure. Gatehouse: the
 *  real command line (`bin/gatehouse serve`) on the data dir the memory step filled. */
async function restartGatehouse(dataDir: string, client: Child, expect: number): Promise<{ readyMs: number; snapshotMs: number; size: number }> {
  const t0 = now();
  const serveArgs = ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--no-auth', '--agent', 'demo'];
  const prof = process.env.BENCH_CPU_PROF;
  // Profiling: what bin/gatehouse execs (the bundle main() made fresh), plus --cpu-prof
  // (not allowed in NODE_OPTIONS).
  const [command, args] = prof
    ? [process.execPath, ['--cpu-prof', `--cpu-prof-dir=${prof}`, bundlePath('serve'), ...serveArgs]]
    : [join(root, 'bin/gatehouse'), ['serve', ...serveArgs]];
  const proc = spawn(command, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GATEHOUSE_TOKEN: '', DEBUG: '' },
  });
  activeCli = proc;
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  try {
    const { port, at } = await new Promise<{ port: number; at: number }>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no ready line within 30 s\n${stderr}`)), 30_000);
      proc.stdout.on('data', (d: Buffer) => {
        const at = now();
        out += d.toString();
        const m = /Gatehouse listening on http:\/\/[^\s/]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({ port: Number(m[1]), at });
        }
      });
      proc.on('exit', (code) => reject(new Error(`gatehouse serve exited (${code})\n${stderr}`)));
    });
    const snap = await client.call<{ at: number; size: number; problems: string[] }>('snapshotAt', { port, timeoutMs: 30_000 });
    if (snap.size !== expect) throw new Error(`the snapshot after restart held ${snap.size} requests, expected ${expect}`);
    await client.call('closeAll');
    return { readyMs: at - t0, snapshotMs: snap.at - t0, size: snap.size };
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 6000);
      await exited;
      clearTimeout(timer);
    }
    activeCli = undefined;
  }
}

async function runSystem(system: SystemName, round: number): Promise<RoundResult> {
  const metrics: Record<string, number> = {};
  const checks: string[] = [];
  const tag = `${system} r${round}`;
  const dataDir = mkdtempSync(join(tmpdir(), `gatehouse-bench-${system}-`));
  const env = { BENCH_DATA_DIR: dataDir };

  // A: throughput, latency, fan-out and the storm, on one server process.
  let server = Child.start(`server ${tag}`, 'servers/main.ts', ['--system', system], env);
  const client = Child.start(`client ${tag}`, 'clients/main.ts', ['--system', system]);
  let agent: Child | undefined;
  try {
    const { port } = await server.ready;
    await client.ready;

    metrics.clockSkewMs = await clockSkew([server, client]);

    if (runs('load') || runs('http')) {
      await client.call('connect', { port, n: 1, deciders: 1 });
      await closedLoop(server, client, config.warmup, 200, 'warm-up', checks);
    }
    if (runs('load')) {
      const t200 = await section(server, `${system}-r${round}-ws200`, () => closedLoop(server, client, config.load200, 200, '200 in flight', checks));
      metrics.rt200 = t200.rate;
      metrics.c2c200p50 = t200.c2c.p50;
      metrics.c2c200p99 = t200.c2c.p99;
      metrics.d2a200p50 = t200.d2a.p50;
      metrics.d2a200p99 = t200.d2a.p99;
      metrics.cpuServer200 = t200.serverCpu;
      metrics.cpuUs200 = (t200.serverCpu * 1e6) / t200.rate;
      metrics.cpuClient200 = t200.clientCpu;
      const t1 = await closedLoop(server, client, config.load1, 1, '1 in flight', checks);
      metrics.rt1 = t1.rate;
      metrics.c2c1p50 = t1.c2c.p50;
      metrics.c2c1p99 = t1.c2c.p99;
      metrics.d2a1p50 = t1.d2a.p50;
      metrics.d2a1p99 = t1.d2a.p99;
    }

    // The HTTP-agent variants (Gatehouse only): agents in a process of their own, asking
    // with create-and-wait; on keep-alive connections (200 and 1 in flight), then with one
    // connection per call (200 in flight). The server's CPU per round trip beside each.
    if (system === 'gatehouse' && config.http && runs('http')) {
      agent = Child.start(`http-agent ${tag}`, 'httpAgent.ts', []);
      await agent.ready;
      const baseUrl = `http://127.0.0.1:${port}`;
      for (const [inflight, count, key, keepAlive] of [
        [200, config.http.load200, 'http200', true],
        [1, config.http.load1, 'http1', true],
        [200, config.http.close200, 'httpClose200', false],
      ] as const) {
        await client.call('reset');
        const before = await server.call<Usage>('usage');
        const agentBefore = await agent.call<Usage>('usage');
        const load = await section(server, `${system}-r${round}-${key}`, () =>
          agent!.call<LoadResult>('load', { baseUrl, count, inflight, keepAlive, maxMs: 120_000 }),
        );
        const after = await server.call<Usage>('usage');
        const agentAfter = await agent.call<Usage>('usage');
        const collected = await client.call<Collected>('collect');
        checkLoop(`HTTP agents (${keepAlive ? 'keep-alive' : 'a connection per call'}), ${inflight} in flight`, load, collected, count, checks);
        metrics[`${key}rt`] = (load.count / load.elapsedMs) * 1000;
        metrics[`${key}c2cp50`] = collected.receipt.p50;
        metrics[`${key}c2cp99`] = collected.receipt.p99;
        const d2a = decisionToAgent(load, collected);
        metrics[`${key}d2ap50`] = d2a.p50;
        metrics[`${key}d2ap99`] = d2a.p99;
        metrics[`${key}cpuUs`] = (after.cpuUs - before.cpuUs) / Math.max(1, load.count);
        metrics[`${key}cpuServer`] = (after.cpuUs - before.cpuUs) / 1000 / (after.at - before.at);
        metrics[`${key}cpuAgentUs`] = (agentAfter.cpuUs - agentBefore.cpuUs) / Math.max(1, load.count);
      }
      await agent.stop();
      agent = undefined;
    }

    // 1,000 requests/s to 50 clients, one of which decides.
    if (runs('rate')) {
      await client.call('connect', { port, n: config.rate.clients, deciders: 1 });
      await client.call('reset');
      const rate = await server.call<LoadResult & { createdMs: number }>('rate', { perSec: config.rate.perSec, count: config.rate.count, maxMs: 60_000 });
      await settleClients(client, config.rate.count);
      const rateCollected = await client.call<Collected>('collect');
      checkLoop(`${config.rate.perSec}/s to ${config.rate.clients} clients`, rate, rateCollected, config.rate.count, checks);
      metrics.rateAchieved = (rate.issued / rate.createdMs) * 1000;
      metrics.rateC2cP50 = rateCollected.receipt.p50;
      metrics.rateC2cP99 = rateCollected.receipt.p99;
      const rateD2a = decisionToAgent(rate, rateCollected);
      metrics.rateD2aP50 = rateD2a.p50;
      metrics.rateD2aP99 = rateD2a.p99;
      metrics.cpuServerRate = rate.cpu ?? Number.NaN;
      metrics.cpuClientRate = rateCollected.cpu;

      await client.call('reset');
      const light = await server.call<LoadResult & { createdMs: number }>('rate', {
        perSec: config.lightRate.perSec,
        count: config.lightRate.count,
        maxMs: 60_000,
      });
      await settleClients(client, config.lightRate.count);
      const lightCollected = await client.call<Collected>('collect');
      checkLoop(`${config.lightRate.perSec}/s to ${config.rate.clients} clients`, light, lightCollected, config.lightRate.count, checks);
      metrics.lightC2cP50 = lightCollected.receipt.p50;
      metrics.lightC2cP99 = lightCollected.receipt.p99;
      metrics.lightD2aP99 = decisionToAgent(light, lightCollected).p99;
    }

    // Fan-out to 200 clients.
    if (runs('fanout') || runs('storm')) {
      await client.call('connect', { port, n: config.fanout.clients, deciders: 1 });
      await client.call('reset');
      const fan = await server.call<LoadResult & { createdMs: number }>('rate', { perSec: config.fanout.perSec, count: config.fanout.count, maxMs: 60_000 });
      await settleClients(client, config.fanout.count);
      const fanCollected = await client.call<Collected>('collect');
      checkLoop(`fan-out to ${config.fanout.clients}`, fan, fanCollected, config.fanout.count, checks);
      metrics.fanAllP50 = fanCollected.allClients.p50;
      metrics.fanAllP99 = fanCollected.allClients.p99;
      metrics.fanPairP99 = fanCollected.receipt.p99;
    }

    // Reconnect storm: the 200 clients drop and come back at once; some requests are open.
    if (runs('storm')) {
      await client.call('reset', { deciders: 0 });
      await server.call('fill', { count: config.storm.unresolved });
      await client.call('waitReceived', { count: config.storm.unresolved });
      const storm = await client.call<{ ms: number; snapshotSizes: number[]; problems: string[] }>('storm', { timeoutMs: 30_000 });
      metrics.stormMs = storm.ms;
      if (storm.snapshotSizes.length !== 1 || storm.snapshotSizes[0] !== config.storm.unresolved)
        checks.push(`storm: snapshot sizes ${storm.snapshotSizes.join(',')}, expected ${config.storm.unresolved}`);
    }
    await client.call('closeAll');
    await server.stop();
    if (!runs('memory') && !runs('restart')) return { metrics, checks };

    // B: memory per unresolved request, on a fresh server process.
    rmSync(dataDir, { recursive: true, force: true });
    server = Child.start(`server ${tag} (memory)`, 'servers/main.ts', ['--system', system], env);
    const fresh = await server.ready;
    await client.call('connect', { port: fresh.port, n: 1, deciders: 0 });
    type Mem = { heapUsed: number; rss: number; unresolved: number };
    const before = await server.call<Mem>('mem');
    await client.call('reset');
    // `http` origin: the requests survive the restart below, as a hook's do.
    await server.call('fill', { count: config.memory, origin: 'http' });
    await client.call('waitReceived', { count: config.memory, timeoutMs: 120_000 });
    await new Promise((r) => setTimeout(r, 200)); // let the last acks land
    const after = await server.call<Mem>('mem');
    if (after.unresolved !== config.memory) checks.push(`memory: ${after.unresolved} unresolved, expected ${config.memory}`);
    metrics.memHeapPer = (after.heapUsed - before.heapUsed) / config.memory;
    metrics.memRssPer = (after.rss - before.rss) / config.memory;
    await client.call('closeAll');
    await server.stop();

    // C: restart with 10,000 unresolved (Gatehouse only: the baselines keep nothing),
    // beside a start on an empty store, in the same round: ready line, then first snapshot.
    if (system === 'gatehouse' && runs('restart')) {
      const emptyDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-empty-'));
      try {
        const empty = await restartGatehouse(emptyDir, client, 0);
        metrics.startEmptyMs = empty.readyMs;
        metrics.startEmptySnapshotMs = empty.snapshotMs;
      } finally {
        rmSync(emptyDir, { recursive: true, force: true });
      }
      const full = await restartGatehouse(dataDir, client, config.memory);
      metrics.restartReadyMs = full.readyMs;
      metrics.restartSnapshotMs = full.snapshotMs;
      metrics.restartRatio = full.readyMs / metrics.startEmptyMs;
    }
  } catch (error) {
    checks.push(
      `did not complete: ${String((error as Error)?.message ?? error)
        .split('\n')
        .slice(0, 6)
        .join(' | ')}`,
    );
  } finally {
    await agent?.stop();
    await client.stop();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { metrics, checks };
}

/** The largest offset between the children's clocks and ours, bounded by the IPC round
 *  trip: latencies subtract times taken in two processes. */
async function clockSkew(children: Child[]): Promise<number> {
  let worst = 0;
  for (const c of children) {
    let best = { rtt: Infinity, offset: 0 };
    for (let i = 0; i < 20; i++) {
      const t1 = now();
      const theirs = await c.call<number>('clock');
      const t2 = now();
      if (t2 - t1 < best.rtt) best = { rtt: t2 - t1, offset: theirs - (t1 + t2) / 2 };
    }
    worst = Math.max(worst, Math.abs(best.offset));
  }
  return worst;
}

// ---- report -------------------------------------------------------------------------

/** A column of the table: a system, or one of Gatehouse's HTTP-agent variants (their
 *  figures are the gatehouse system's http* metrics, measured on the same server). */
type Column = SystemName | 'gatehouse-http' | 'gatehouse-http-close';
type Medians = Partial<Record<Column, Record<string, number>>>;

type Row = {
  key: string;
  label: string;
  format: (v: number) => string;
  /** Which columns show it (default: every system). */
  only?: Column[];
  target?: { text: string; met: (medians: Medians) => boolean | undefined };
};

const value = (m: Medians, column: Column, key: string) => {
  const v = m[column]?.[key];
  return v === undefined || !Number.isFinite(v) ? undefined : v;
};
const atLeast = (m: Medians, column: Column, key: string, limit: number) => {
  const v = value(m, column, key);
  return v === undefined ? undefined : v >= limit;
};
const atMost = (m: Medians, column: Column, key: string, limit: number) => {
  const v = value(m, column, key);
  return v === undefined ? undefined : v <= limit;
};
const both = (a: boolean | undefined, b: boolean | undefined) => (a === undefined || b === undefined ? (a ?? b) : a && b);

const SERVERS: Column[] = ['raw-ws', 'socket.io', 'gatehouse', 'gatehouse-core'];
const COMPARED: Column[] = ['socket.io', 'gatehouse', 'gatehouse-core'];
const HTTP: Column[] = ['gatehouse-http', 'gatehouse-http-close'];

const ROWS: Row[] = [
  { key: 'rt200', label: 'round trips/s, 200 in flight', format: perSec },
  {
    key: 'ratio',
    label: '÷ raw ws round trips, 200 in flight (same round)',
    format: ratio,
    only: [...COMPARED, ...HTTP],
    target: {
      text: 'WS ≥ 0.3×, HTTP keep-alive ≥ 0.1×',
      met: (m) => both(atLeast(m, 'gatehouse', 'ratio', 0.3), atLeast(m, 'gatehouse', 'httpRatio', 0.1)),
    },
  },
  { key: 'cpuUs200', label: 'server CPU per round trip, 200 in flight', format: us, only: [...SERVERS, ...HTTP] },
  // The agents' process shares the machine with the server: what it spends is not the server's.
  { key: 'cpuAgentUs200', label: 'agent process CPU per round trip, 200 in flight', format: us, only: HTTP },
  { key: 'rt1', label: 'round trips/s, 1 in flight', format: perSec },
  { key: 'c2c200p50', label: 'creation → client p50, 200 in flight', format: ms },
  { key: 'c2c200p99', label: 'creation → client p99, 200 in flight', format: ms },
  { key: 'd2a200p50', label: 'decision → agent p50, 200 in flight', format: ms },
  { key: 'd2a200p99', label: 'decision → agent p99, 200 in flight', format: ms },
  { key: 'c2c1p50', label: 'creation → client p50, 1 in flight', format: ms },
  { key: 'c2c1p99', label: 'creation → client p99, 1 in flight', format: ms },
  { key: 'd2a1p50', label: 'decision → agent p50, 1 in flight', format: ms },
  { key: 'd2a1p99', label: 'decision → agent p99, 1 in flight', format: ms },
  { key: 'rateAchieved', label: 'offered rate (50 clients)', format: perSec, only: SERVERS },
  { key: 'rateC2cP50', label: 'creation → client p50, 1,000/s, 50 clients', format: ms, only: SERVERS },
  { key: 'rateC2cP99', label: 'creation → client p99, 1,000/s, 50 clients', format: ms, only: SERVERS },
  {
    key: 'rateP99Ratio',
    label: '÷ raw ws: that p99 (same round)',
    format: ratio,
    only: COMPARED,
    target: { text: '≤ 2×', met: (m) => atMost(m, 'gatehouse', 'rateP99Ratio', 2) },
  },
  { key: 'rateD2aP50', label: 'decision → agent p50, 1,000/s, 50 clients', format: ms, only: SERVERS },
  { key: 'rateD2aP99', label: 'decision → agent p99, 1,000/s, 50 clients', format: ms, only: SERVERS },
  { key: 'lightC2cP50', label: 'creation → client p50, 200/s, 50 clients', format: ms, only: SERVERS },
  { key: 'lightC2cP99', label: 'creation → client p99, 200/s, 50 clients', format: ms, only: SERVERS },
  { key: 'lightD2aP99', label: 'decision → agent p99, 200/s, 50 clients', format: ms, only: SERVERS },
  { key: 'fanAllP50', label: 'fan-out: creation → all 200 clients p50', format: ms, only: SERVERS },
  { key: 'fanAllP99', label: 'fan-out: creation → all 200 clients p99', format: ms, only: SERVERS },
  {
    key: 'fanP99Ratio',
    label: '÷ raw ws: that p99 (same round)',
    format: ratio,
    only: COMPARED,
    target: { text: '≤ 2×', met: (m) => atMost(m, 'gatehouse', 'fanP99Ratio', 2) },
  },
  { key: 'fanPairP99', label: 'fan-out: creation → one client p99', format: ms, only: SERVERS },
  { key: 'stormMs', label: 'reconnect storm: 200 clients served', format: ms, only: SERVERS },
  {
    key: 'memHeapPer',
    label: 'heap per unresolved request',
    format: kib,
    only: SERVERS,
    target: { text: '≤ 8 KiB', met: (m) => atMost(m, 'gatehouse', 'memHeapPer', 8192) },
  },
  { key: 'memRssPer', label: 'RSS per unresolved request', format: kib, only: SERVERS },
  { key: 'startEmptyMs', label: 'start → ready line, empty store', format: ms, only: ['gatehouse'] },
  {
    key: 'restartReadyMs',
    label: 'restart → ready line, unresolved requests kept',
    format: ms,
    only: ['gatehouse'],
    target: { text: '< 1,000 ms', met: (m) => atMost(m, 'gatehouse', 'restartReadyMs', 1000) },
  },
  {
    key: 'restartRatio',
    label: '÷ start on an empty store (same round)',
    format: ratio,
    only: ['gatehouse'],
    target: { text: '≤ 2×', met: (m) => atMost(m, 'gatehouse', 'restartRatio', 2) },
  },
  { key: 'startEmptySnapshotMs', label: 'start → snapshot at a client, empty store', format: ms, only: ['gatehouse'] },
  { key: 'restartSnapshotMs', label: 'restart → whole snapshot at a client', format: ms, only: ['gatehouse'] },
  { key: 'cpuServer200', label: 'server process CPU, 200 in flight', format: coresFmt, only: [...SERVERS, ...HTTP] },
  { key: 'cpuClient200', label: 'client process CPU, 200 in flight', format: coresFmt, only: SERVERS },
  { key: 'cpuServerRate', label: 'server process CPU, 1,000/s, 50 clients', format: coresFmt, only: SERVERS },
  { key: 'cpuClientRate', label: 'client process CPU, 1,000/s, 50 clients', format: coresFmt, only: SERVERS },
  { key: 'clockSkewMs', label: 'clock offset between processes (bound)', format: ms, only: SERVERS },
];

/** For the HTTP-agent columns, the same rows read the gatehouse system's http* metrics. */
const VARIANT_KEYS: Partial<Record<Column, { prefix: string; ratio: string }>> = {
  'gatehouse-http': { prefix: 'http', ratio: 'httpRatio' },
  'gatehouse-http-close': { prefix: 'httpClose', ratio: 'httpCloseRatio' },
};
function keyFor(column: Column, rowKey: string): string | undefined {
  const variant = VARIANT_KEYS[column];
  if (!variant) return rowKey;
  if (rowKey === 'ratio') return variant.ratio;
  const m = /^(rt|c2c|d2a|cpuUs|cpuAgentUs|cpuServer)(200|1)(p50|p99)?$/.exec(rowKey);
  if (!m) return undefined;
  const [, what, inflight, pct] = m;
  if (variant.prefix === 'httpClose' && inflight !== '200') return undefined;
  return `${variant.prefix}${inflight}${what}${pct ?? ''}`;
}

/** The column a variant's metrics come from. */
const sourceOf = (column: Column): Column => (VARIANT_KEYS[column] ? 'gatehouse' : column);

function table(medians: Medians, columns: Column[]): string {
  const names: Partial<Record<Column, string>> = {
    'gatehouse-http': 'gatehouse, HTTP agents (keep-alive)',
    'gatehouse-http-close': 'HTTP agents (a connection per call)',
    'gatehouse-core': 'gatehouse without agents plugin',
  };
  const header = ['', ...columns.map((c) => names[c] ?? c), 'target (Gatehouse)', 'met'];
  const lines = [header];
  for (const row of ROWS) {
    const cells = columns.map((c) => {
      if (row.only && !row.only.includes(c)) return c === 'raw-ws' || c === 'socket.io' ? (row.key.startsWith('restart') ? 'keeps nothing' : '') : '';
      const key = keyFor(c, row.key);
      if (!key) return '';
      const v = medians[sourceOf(c)]?.[key];
      return v === undefined ? '—' : row.format(v);
    });
    if (cells.every((c) => c === '' || c === '—' || c === 'keeps nothing')) continue;
    const met = row.target?.met(medians);
    lines.push([row.label, ...cells, row.target?.text ?? '', met === undefined ? '' : met ? 'yes' : 'NO']);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (l: string[]) => `| ${l.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`;
  return [fmt(header), rule, ...lines.slice(1).map(fmt)].join('\n');
}

/** The targets (docs: BENCHMARKS.md "Targets"), one line each: figure, ratio, met. */
function targetLines(m: Medians): string[] {
  const g = (key: string) => value(m, 'gatehouse', key);
  const r = (key: string) => value(m, 'raw-ws', key);
  const line = (what: string, figure: string, met: boolean | undefined) =>
    `- ${what}: ${figure} ${met === undefined ? '(not measured)' : met ? 'met' : 'NOT met'}`;
  const f = (fn: (v: number) => string, v: number | undefined) => (v === undefined ? '—' : fn(v));
  return [
    line(
      'durable WebSocket round trips ≥ 0.3× raw ws',
      `${f(ratio, g('ratio'))} (${f(perSec, g('rt200'))} vs ${f(perSec, r('rt200'))})`,
      atLeast(m, 'gatehouse', 'ratio', 0.3),
    ),
    line(
      'HTTP agents, create-and-wait on keep-alive connections ≥ 0.1× raw ws',
      `${f(ratio, g('httpRatio'))} (${f(perSec, g('http200rt'))}; a connection per call: ${f(perSec, g('httpClose200rt'))}, ${f(ratio, g('httpCloseRatio'))})`,
      atLeast(m, 'gatehouse', 'httpRatio', 0.1),
    ),
    line(
      '1,000/s to 50 clients, p99 within 2× raw ws',
      `${f(ratio, g('rateP99Ratio'))} (${f(ms, g('rateC2cP99'))} vs ${f(ms, r('rateC2cP99'))})`,
      atMost(m, 'gatehouse', 'rateP99Ratio', 2),
    ),
    line(
      '200-client fan-out p99 within 2× raw ws',
      `${f(ratio, g('fanP99Ratio'))} (${f(ms, g('fanAllP99'))} vs ${f(ms, r('fanAllP99'))})`,
      atMost(m, 'gatehouse', 'fanP99Ratio', 2),
    ),
    line(
      `restart with ${config.memory.toLocaleString('en-US')} unresolved to the ready line ≤ 2× an empty start and < 1 s`,
      `${f(ratio, g('restartRatio'))} (${f(ms, g('restartReadyMs'))} vs ${f(ms, g('startEmptyMs'))})`,
      both(atMost(m, 'gatehouse', 'restartRatio', 2), atMost(m, 'gatehouse', 'restartReadyMs', 1000)),
    ),
  ];
}

/** Ratios within one round, where the machine's state is the same for the pair. */
function roundRatios(results: Partial<Record<SystemName, Record<string, number>>>): void {
  const raw = results['raw-ws'];
  for (const system of ['socket.io', 'gatehouse', 'gatehouse-core'] as const) {
    const mine = results[system];
    if (!mine || !raw) continue;
    const div = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
    const set = (key: string, v: number | undefined) => {
      if (v !== undefined && Number.isFinite(v)) mine[key] = v;
    };
    set('ratio', div(mine.rt200, raw.rt200));
    set('httpRatio', div(mine.http200rt, raw.rt200));
    set('httpCloseRatio', div(mine.httpClose200rt, raw.rt200));
    set('rateP99Ratio', div(mine.rateC2cP99, raw.rateC2cP99));
    set('fanP99Ratio', div(mine.fanAllP99, raw.fanAllP99));
  }
}

// ---- main ---------------------------------------------------------------------------

async function main() {
  // Every loop is bounded; this bounds the whole run too (children exit when we do).
  const limitMin = Number(process.env.BENCH_MAX_MINUTES) || (quick ? 6 : 20 + 10 * config.rounds) + (only.has('cluster') ? 3 * config.rounds : 0);
  setTimeout(() => {
    console.error(`bench: stopped after ${limitMin} minutes (BENCH_MAX_MINUTES)`);
    activeCli?.kill('SIGKILL');
    process.exit(1);
  }, limitMin * 60_000).unref();
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const loadBefore = loadavg();
  const started = Date.now();
  // The restart is measured as shipped: `bin/gatehouse serve` from its bundle (CORE-F1).
  if (((systems.includes('gatehouse') && runs('restart')) || only.has('cluster')) && !isBundleFresh('serve')) {
    console.log('dist-cli/serve.mjs is stale: building it (scripts/build-cli.js).');
    await buildCommands(['serve']);
  }
  // Every child runs JavaScript bundled from the current sources, as `serve` does (child.ts).
  await buildChildren();
  const what = [...(systemsRun ? systems : []), ...(only.has('cluster') ? ['one and three instances (sqlite-1, pg-1, pg-3)'] : [])];
  console.log(`Gatehouse benchmarks (${smoke ? 'smoke' : quick ? 'quick' : 'full'}): ${config.rounds} round(s) of ${what.join(', ')}`);
  console.log(`machine: ${cpus().length} cores, ${cpuModel}, node ${process.version}; load average before: ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);

  const perRound: Record<SystemName, Record<string, number>[]> = { 'raw-ws': [], 'socket.io': [], gatehouse: [], 'gatehouse-core': [] };
  const allChecks: string[] = [];
  for (let round = 1; systemsRun && round <= config.rounds; round++) {
    // Rotate the order each round, so that no system always runs first (or last).
    const order = systems.map((_, i) => systems[(i + round - 1) % systems.length]).filter((s): s is SystemName => s !== undefined);
    const results: Partial<Record<SystemName, Record<string, number>>> = {};
    for (const system of order) {
      const t0 = Date.now();
      process.stderr.write(`round ${round}/${config.rounds}: ${system} ... `);
      let metrics: Record<string, number> = {};
      let checks: string[] = [];
      try {
        ({ metrics, checks } = await runSystem(system, round));
      } catch (error) {
        checks = [
          `did not complete: ${String((error as Error)?.message ?? error)
            .split('\n')
            .slice(0, 6)
            .join(' | ')}`,
        ];
      }
      results[system] = metrics;
      allChecks.push(...checks.map((c) => `round ${round}, ${system}: ${c}`));
      const http =
        metrics.http200rt !== undefined
          ? `; HTTP agents ${perSec(metrics.http200rt)} keep-alive, ${perSec(metrics.httpClose200rt ?? Number.NaN)} a connection per call`
          : '';
      process.stderr.write(
        `${((Date.now() - t0) / 1000).toFixed(1)} s; ${perSec(metrics.rt200 ?? Number.NaN)} at 200 in flight, ${perSec(metrics.rt1 ?? Number.NaN)} at 1${http}` +
          (checks.length ? `; ${checks.length} check(s) failed` : '') +
          '\n',
      );
    }
    roundRatios(results);
    for (const s of systems) {
      const r = results[s];
      if (r) perRound[s].push(r);
    }
  }

  const medians: Medians = {};
  for (const [system, rounds] of Object.entries(perRound) as [SystemName, Record<string, number>[]][]) {
    if (!rounds.length) continue;
    const keys = new Set(rounds.flatMap((r) => Object.keys(r)));
    medians[system] = Object.fromEntries([...keys].map((k) => [k, median(rounds.map((r) => r[k] ?? Number.NaN))]));
  }
  const hasHttp = medians.gatehouse?.http200rt !== undefined;
  const columns = (['raw-ws', 'socket.io', 'gatehouse', 'gatehouse-http', 'gatehouse-http-close', 'gatehouse-core'] as Column[]).filter((c) =>
    VARIANT_KEYS[c] ? hasHttp : medians[sourceOf(c)],
  );
  let cluster: { perRound: ClusterRound[]; medians: ClusterRound } | undefined;
  if (only.has('cluster')) {
    const deployments = option('--deployments')
      ?.split(',')
      .filter((d): d is DeploymentName => (DEPLOYMENTS as readonly string[]).includes(d));
    const result = await runClusterBench(config.cluster, config.rounds, deployments);
    cluster = { perRound: result.perRound, medians: result.medians };
    allChecks.push(...result.checks);
  }
  const loadAfter = loadavg();

  console.log(
    `\nMedians over ${config.rounds} round(s), ${((Date.now() - started) / 1000).toFixed(0)} s in all; load average after: ${loadAfter.map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  if (systemsRun) {
    console.log(table(medians, columns));
    console.log(`\nTargets (ratios taken within each round, then the median):\n${targetLines(medians).join('\n')}`);
  }
  if (cluster) console.log(`\nOne and three instances:\n\n${clusterTable(cluster.medians)}`);
  if (allChecks.length) {
    console.log(`\n${allChecks.length} check(s) failed:`);
    for (const c of allChecks.slice(0, 30)) console.log(`- ${c}`);
  } else {
    console.log('\nEvery check held: each outcome learned exactly once, each request delivered once to each client.');
  }
  if (jsonOut) {
    writeFileSync(
      jsonOut,
      JSON.stringify({ config, quick, smoke, cpuModel, node: process.version, loadBefore, loadAfter, perRound, medians, cluster, checks: allChecks }, null, 2),
    );
    console.log(`\nper-round figures: ${jsonOut}`);
  }
  process.exitCode = allChecks.length ? 1 : 0;
}

await main();
