/**
 * `npm run bench -- --only cluster`: one and three Gatehouse instances side by side
 * (issue 13), with one SQLite instance as the reference column, in one run, the order
 * rotating over the rounds. Every column is real `bin/gatehouse serve` processes (the
 * built bundle) with an owner and an agent token; the same client process (WebSocket
 * clients, bench/clients) and the same agent process (HTTP agents through the real
 * client: `PinnedServer` + `askGatehouse`, bench/httpAgent.ts) drive each.
 *
 *   sqlite-1  one instance on SQLite (the embedded default)
 *   pg-1      one instance, `--store postgres://…/<fresh db> --bus nats://…`
 *   pg-3      three instances on one fresh database and NATS
 *
 * Measured per column: (a) durable round trips/s with 200 agents in flight (agent w asks
 * instance w % n with create-and-wait; 3 clients, client k on instance k % n, and the
 * request of agent w is decided by client w+1: on another instance when there are
 * three), with the instances' CPU per round trip summed (and PostgreSQL's backends for
 * this database); (b) fan-out: 200 clients spread over the instances, 50 requests/s,
 * creation -> every client; (c) pg-3 only: fail-over: `kill -9` of one instance with
 * its clients connected and agents waiting on it (create-and-wait) for requests a human
 * decides at the moment of the kill; time until each of its clients has a welcome from
 * another instance and holds the log's head (the decisions), and until each agent,
 * asking again with its Idempotency-Key on another instance, has its outcome.
 *
 * Each PostgreSQL column gets a database of its own (created, dropped after); the NATS
 * subject carries the epoch, new with each database, so nothing else hears it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as natsConnect } from '@nats-io/transport-node';
import pg from 'pg';
import { TEST_NATS_URL } from '../server/bus/testing/nats.ts';
import { createTestDatabase, postgresReachable } from '../server/store/testing/postgres.ts';
import { ensureServeBundle, startCluster } from '../server/testing/cluster.ts';
import { startServerProcess, type ServerProcess } from '../server/testing/serverProcess.ts';
import { checkLoop, decisionToAgent, settleClients, type Collected, type LoadResult } from './checks.ts';
import { Child } from './child.ts';
import { coresFmt, dist, median, ms, now, perSec, us } from './common.ts';
import { BENCH_RATE_LIMIT } from './servers/gatehouse.ts';

export const DEPLOYMENTS = ['sqlite-1', 'pg-1', 'pg-3'] as const;
export type DeploymentName = (typeof DEPLOYMENTS)[number];

export type ClusterConfig = {
  warmup: number;
  load200: number;
  fanout: { clients: number; perSec: number; count: number };
  /** Fail-over: clients spread over the three instances, agents waiting on the victim. */
  failover: { clients: number; held: number };
};

/** Clients of the round-trip loop: one per instance of the largest column, so every
 *  column has the same number of sockets to feed (3 per request). */
const LOOP_CLIENTS = 3;

export type ClusterRound = Partial<Record<DeploymentName, Record<string, number>>>;

type Deployment = {
  name: DeploymentName;
  servers: () => ServerProcess[];
  ports: number[];
  token: string;
  agentToken: string;
  database?: string;
  kill9(index: number): Promise<unknown>;
  stop(): Promise<void>;
};

// ---- CPU of processes we did not fork (the instances, PostgreSQL's backends) ----------

/** utime + stime (clock ticks) from /proc/PID/stat; the command name may hold spaces. */
export function parseProcStat(text: string): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  return Number(fields[11]) + Number(fields[12]);
}

const TICK_US = 1e6 / 100; // CLK_TCK is 100 on Linux

function cpuUs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')) * TICK_US;
  } catch {
    return 0; // gone
  }
}

/** The pids of PostgreSQL's backends connected to `database`. */
async function backends(database: string | undefined): Promise<number[]> {
  if (!database) return [];
  const client = new pg.Client({ connectionString: process.env.GATEHOUSE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test' });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
    return rows.map((r) => r.pid);
  } finally {
    await client.end();
  }
}

type CpuMark = { at: number; instances: number; pg: Map<number, number> };

async function cpuMark(d: Deployment): Promise<CpuMark> {
  const pids = await backends(d.database);
  return { at: now(), instances: d.servers().reduce((sum, s) => sum + cpuUs(s.proc.pid), 0), pg: new Map(pids.map((p) => [p, cpuUs(p)])) };
}

/** CPU between two marks: the instances' sum and PostgreSQL's (backends present at the
 *  end; one that started in between counts from zero). */
async function cpuSince(d: Deployment, before: CpuMark): Promise<{ instancesUs: number; pgUs: number; ms: number }> {
  const after = await cpuMark(d);
  let pgUs = 0;
  for (const [pid, us] of after.pg) pgUs += us - (before.pg.get(pid) ?? 0);
  return { instancesUs: after.instances - before.instances, pgUs, ms: after.at - before.at };
}

// ---- the instances' own metrics (GET /metrics): commits, their time, lost seq races ----

/** The sum over every series of each named metric in a Prometheus text exposition. */
export function sumMetrics(text: string, names: readonly string[]): Record<string, number> {
  const sums: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] !== undefined && m[1] in sums) sums[m[1]] = (sums[m[1]] ?? 0) + Number(m[2]);
  }
  return sums;
}

const SCRAPED = [
  'gatehouse_seq_conflicts_total',
  'gatehouse_persist_seconds_sum',
  'gatehouse_persist_seconds_count',
  'gatehouse_persist_batch_records_sum',
] as const;

async function scrape(d: Deployment): Promise<Record<string, number>> {
  const texts = await Promise.all(d.servers().map((s) => s.api('/metrics').then((r) => r.text)));
  const all = texts.map((t) => sumMetrics(t, SCRAPED));
  return Object.fromEntries(SCRAPED.map((n) => [n, all.reduce((sum, m) => sum + (m[n] ?? 0), 0)]));
}

/** What the instances' metrics say about one measured section of `roundTrips`. */
export function commitMetrics(before: Record<string, number>, after: Record<string, number>, roundTrips: number): Record<string, number> {
  const delta = (n: (typeof SCRAPED)[number]) => (after[n] ?? 0) - (before[n] ?? 0);
  const commits = delta('gatehouse_persist_seconds_count');
  return {
    commitsPerRt: commits / Math.max(1, roundTrips),
    commitMs: commits ? (delta('gatehouse_persist_seconds_sum') * 1000) / commits : Number.NaN,
    recordsPerCommit: commits ? delta('gatehouse_persist_batch_records_sum') / commits : Number.NaN,
    seqConflictsPer1k: (delta('gatehouse_seq_conflicts_total') * 1000) / Math.max(1, roundTrips),
  };
}

// ---- deployments ------------------------------------------------------------------------

/** Every serve process started, killed should the runner exit early (watchdog, error). */
const started = new Set<ServerProcess>();
process.on('exit', () => {
  for (const s of started) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
});

const FLAGS = ['--rate-limit', String(BENCH_RATE_LIMIT)];

async function deploy(name: DeploymentName): Promise<Deployment> {
  if (name === 'sqlite-1') {
    const token = `bench-owner-${randomBytes(16).toString('hex')}`;
    const agentToken = `bench-agent-${randomBytes(16).toString('hex')}`;
    const server = await startServerProcess({ launcher: 'bin', args: FLAGS, env: { GATEHOUSE_TOKEN: token, GATEHOUSE_AGENT_TOKEN: agentToken } });
    started.add(server);
    return {
      name,
      servers: () => [server],
      ports: [server.port],
      token,
      agentToken,
      kill9: () => server.kill('SIGKILL'),
      async stop() {
        await server.stop();
        started.delete(server);
      },
    };
  }
  const database = await createTestDatabase();
  try {
    const cluster = await startCluster({ size: name === 'pg-3' ? 3 : 1, storeUrl: database.url, busUrl: TEST_NATS_URL, args: FLAGS });
    for (const i of cluster.instances) started.add(i.server);
    return {
      name,
      servers: () => cluster.instances.map((i) => i.server),
      ports: cluster.instances.map((i) => i.port),
      token: cluster.token,
      agentToken: cluster.agentToken,
      database: database.name,
      kill9: (index) => cluster.instances[index]!.kill9(),
      async stop() {
        await cluster.stop();
        for (const i of cluster.instances) started.delete(i.server);
        await database.drop();
      },
    };
  } catch (error) {
    await database.drop();
    throw error;
  }
}

/** Whether PostgreSQL and NATS answer; else why not. */
async function servicesReachable(): Promise<string | undefined> {
  const pgOk = await postgresReachable();
  if (!pgOk.ok) return `PostgreSQL not reachable (${pgOk.why})`;
  try {
    const nc = await natsConnect({ servers: new URL(TEST_NATS_URL).host, timeout: 3_000, reconnect: false });
    await nc.close();
  } catch (error) {
    return `NATS not reachable at ${TEST_NATS_URL} (${(error as Error).message})`;
  }
  return undefined;
}

// ---- one column in one round ------------------------------------------------------------

type HoldResult = { id: string | undefined; learnedAt: number; tries: number; finishedOn: string; outcome: string }[];
type FailoverReport = { victims: { welcomeAt: number; caughtUpAt: number; port: number }[]; problems: string[]; behind: number };

/** Fail-over summary from the client's and agents' times (pure: bench.test.ts). */
export function failoverMetrics(killedAt: number, report: FailoverReport, held: HoldResult, checks: string[]): Record<string, number> {
  const welcome = dist(report.victims.map((v) => v.welcomeAt - killedAt));
  const caughtUp = dist(report.victims.map((v) => v.caughtUpAt - killedAt));
  const agents = dist(held.map((h) => h.learnedAt - killedAt));
  if (report.victims.length === 0) checks.push('fail-over: no client was on the killed instance');
  if (report.victims.some((v) => !Number.isFinite(v.welcomeAt))) checks.push('fail-over: a client of the killed instance had no welcome elsewhere');
  if (report.behind) checks.push(`fail-over: ${report.behind} clients do not hold the head`);
  for (const p of report.problems.slice(0, 5)) checks.push(`fail-over: ${p}`);
  for (const h of held) {
    if (h.outcome !== 'allow') checks.push(`fail-over: an agent on the killed instance ended with ${h.outcome}`);
    else if (h.tries < 2) checks.push(`fail-over: an agent's call did not break off with the kill (${h.id})`);
  }
  if (new Set(held.map((h) => h.id)).size !== held.length) checks.push('fail-over: two agents learned one request');
  return {
    failClients: report.victims.length,
    failWelcomeP50: welcome.p50,
    failWelcomeMax: welcome.max,
    failCaughtUpP50: caughtUp.p50,
    failCaughtUpMax: caughtUp.max,
    failAgentP50: agents.p50,
    failAgentMax: agents.max,
  };
}

async function runDeployment(name: DeploymentName, round: number, config: ClusterConfig): Promise<{ metrics: Record<string, number>; checks: string[] }> {
  const metrics: Record<string, number> = {};
  const checks: string[] = [];
  const tag = `${name} r${round}`;
  const client = Child.start(`client ${tag}`, 'clients/main.ts', ['--system', 'gatehouse']);
  const agent = Child.start(`http-agent ${tag}`, 'httpAgent.ts', []);
  let d: Deployment | undefined;
  try {
    d = await deploy(name);
    await Promise.all([client.ready, agent.ready]);
    const baseUrls = d.ports.map((p) => `http://127.0.0.1:${p}`);
    const common = { baseUrls, agentToken: d.agentToken, deciders: LOOP_CLIENTS, maxMs: 120_000 };

    // (a) 200 in flight: warm-up, then measured.
    await client.call('connect', { ports: d.ports, n: LOOP_CLIENTS, tagged: true, token: d.token });
    for (const [what, count] of [
      ['warm-up', config.warmup],
      ['200 in flight', config.load200],
    ] as const) {
      await client.call('reset');
      const scraped = await scrape(d);
      const before = await cpuMark(d);
      const load = await agent.call<LoadResult>('load', { ...common, count, inflight: 200 });
      const cpu = await cpuSince(d, before);
      Object.assign(metrics, commitMetrics(scraped, await scrape(d), load.count));
      const collected = await client.call<Collected>('collect');
      checkLoop(`${name}: ${what}`, load, collected, count, checks);
      if (what === 'warm-up') continue;
      metrics.rt200 = (load.count / load.elapsedMs) * 1000;
      metrics.cpuUs200 = cpu.instancesUs / Math.max(1, load.count);
      metrics.pgCpuUs200 = d.database ? cpu.pgUs / Math.max(1, load.count) : Number.NaN;
      metrics.cpuServer200 = cpu.instancesUs / 1000 / cpu.ms;
      metrics.c2c200p50 = collected.receipt.p50;
      metrics.c2c200p99 = collected.receipt.p99;
      const d2a = decisionToAgent(load, collected);
      metrics.d2a200p50 = d2a.p50;
      metrics.d2a200p99 = d2a.p99;
    }

    // (b) fan-out: 200 clients over the instances, an open loop of creates over them.
    await client.call('connect', { ports: d.ports, n: config.fanout.clients, tagged: true, token: d.token });
    await client.call('reset');
    const fan = await agent.call<LoadResult>('rate', { ...common, perSec: config.fanout.perSec, count: config.fanout.count, maxMs: 60_000 });
    await settleClients(client, config.fanout.count);
    const fanCollected = await client.call<Collected>('collect');
    checkLoop(`${name}: fan-out to ${config.fanout.clients}`, fan, fanCollected, config.fanout.count, checks);
    metrics.fanAllP50 = fanCollected.allClients.p50;
    metrics.fanAllP99 = fanCollected.allClients.p99;
    metrics.fanPairP99 = fanCollected.receipt.p99;
    await client.call('closeAll');

    // (c) fail-over (three instances): the victim rotates over the rounds.
    if (d.ports.length > 1) {
      const victim = round % d.ports.length;
      const survivor = d.servers()[(victim + 1) % d.ports.length]!;
      await client.call('connect', { ports: d.ports, n: config.failover.clients, tagged: true, token: d.token, failover: true });
      await client.call('reset');
      await agent.call('holdStart', { baseUrls, agentToken: d.agentToken, home: victim, count: config.failover.held });
      await client.call('waitReceived', { count: config.failover.held, all: true, timeoutMs: 20_000 });
      // Their create-and-wait calls are waiting on the victim now (everything else is decided).
      const pending = await survivor.api('/api/permission-requests?status=pending');
      const ids = (pending.body.requests as { id: string; toolName: string }[]).filter((r) => r.toolName === 'Hold').map((r) => r.id);
      if (ids.length !== config.failover.held) checks.push(`fail-over: ${ids.length} held requests pending, expected ${config.failover.held}`);
      const { ports: onPorts } = await client.call<{ ports: number[] }>('failoverMark');
      const victimPort = d.ports[victim]!;
      const onVictim = onPorts.flatMap((p, i) => (p === victimPort ? [i] : []));
      const killedAt = now();
      await d.kill9(victim);
      // The human decides at the moment of the kill, on a surviving instance.
      const decided = await Promise.all(
        ids.map((id) => survivor.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow', message: 'bench' } })),
      );
      for (const r of decided) if (r.status !== 200) checks.push(`fail-over: a decision on the survivor answered ${r.status} ${r.text.slice(0, 120)}`);
      const held = await agent.call<HoldResult>('holdResult', {}, 90_000);
      if (process.env.BENCH_VERBOSE) process.stderr.write(`killed at ${(killedAt % 100_000).toFixed(0)}\n${JSON.stringify(held, null, 1)}\n`);
      const head = (await survivor.api('/readyz')).body.seq as number;
      const report = await client.call<FailoverReport>('failoverReport', { victimPort, head, onVictim, timeoutMs: 30_000 });
      Object.assign(metrics, failoverMetrics(killedAt, report, held, checks));
      const heads = await Promise.all(d.servers().flatMap((s, i) => (i === victim ? [] : [s.api('/readyz').then((r) => r.body.seq as number)])));
      if (new Set(heads).size !== 1) checks.push(`fail-over: the survivors report heads ${heads.join(', ')}`);
      await client.call('closeAll');
    }
  } catch (error) {
    checks.push(
      `${name}: did not complete: ${String((error as Error)?.message ?? error)
        .split('\n')
        .slice(0, 6)
        .join(' | ')}`,
    );
  } finally {
    await Promise.all([client.stop(), agent.stop()]);
    await d?.stop().catch((error: Error) => checks.push(`${name}: stop: ${error.message}`));
  }
  return { metrics, checks };
}

// ---- the rounds and the table -------------------------------------------------------------

export async function runClusterBench(
  config: ClusterConfig,
  rounds: number,
  only?: readonly DeploymentName[],
): Promise<{ perRound: ClusterRound[]; medians: ClusterRound; checks: string[] }> {
  const checks: string[] = [];
  const unreachable = await servicesReachable();
  const deployments: DeploymentName[] = (unreachable ? ['sqlite-1' as const] : [...DEPLOYMENTS]).filter((d) => !only || only.includes(d));
  if (unreachable) checks.push(`cluster: ${unreachable}: only the SQLite column ran`);
  await ensureServeBundle();
  const perRound: ClusterRound[] = [];
  for (let round = 1; round <= rounds; round++) {
    const results: ClusterRound = {};
    const order = deployments.map((_, i) => deployments[(i + round - 1) % deployments.length]!);
    for (const name of order) {
      const t0 = Date.now();
      process.stderr.write(`cluster round ${round}/${rounds}: ${name} ... `);
      const { metrics, checks: mine } = await runDeployment(name, round, config);
      results[name] = metrics;
      checks.push(...mine.map((c) => `round ${round}, ${c}`));
      const fail =
        metrics.failCaughtUpMax !== undefined
          ? `; fail-over: clients back ${ms(metrics.failCaughtUpMax)}, agents ${ms(metrics.failAgentMax ?? Number.NaN)}`
          : '';
      process.stderr.write(
        `${((Date.now() - t0) / 1000).toFixed(1)} s; ${perSec(metrics.rt200 ?? Number.NaN)} at 200 in flight${fail}${mine.length ? `; ${mine.length} check(s) failed` : ''}\n`,
      );
    }
    perRound.push(results);
  }
  return { perRound, medians: mediansOf(perRound), checks };
}

export function mediansOf(perRound: readonly ClusterRound[]): ClusterRound {
  const medians: ClusterRound = {};
  for (const name of DEPLOYMENTS) {
    const rounds = perRound.flatMap((r) => (r[name] ? [r[name]] : []));
    if (!rounds.length) continue;
    const keys = new Set(rounds.flatMap((r) => Object.keys(r)));
    medians[name] = Object.fromEntries([...keys].map((k) => [k, median(rounds.map((r) => r[k] ?? Number.NaN))]));
  }
  return medians;
}

const count = (v: number) => (Number.isFinite(v) ? String(Math.round(v)) : '—');

export const CLUSTER_ROWS: { key: string; label: string; format: (v: number) => string }[] = [
  { key: 'rt200', label: 'durable round trips/s, 200 HTTP agents in flight', format: perSec },
  { key: 'cpuUs200', label: 'instances’ CPU per round trip (summed)', format: us },
  { key: 'pgCpuUs200', label: 'PostgreSQL backends’ CPU per round trip', format: us },
  { key: 'cpuServer200', label: 'instances’ CPU, 200 in flight (summed)', format: coresFmt },
  { key: 'commitsPerRt', label: 'commits per round trip (summed over instances)', format: (v) => (Number.isFinite(v) ? v.toFixed(2) : '—') },
  { key: 'commitMs', label: 'mean commit of a tick (gatehouse_persist_seconds)', format: ms },
  { key: 'recordsPerCommit', label: 'records per commit', format: (v) => (Number.isFinite(v) ? v.toFixed(1) : '—') },
  { key: 'seqConflictsPer1k', label: 'lost seq races per 1,000 round trips', format: (v) => (Number.isFinite(v) ? v.toFixed(1) : '—') },
  { key: 'c2c200p50', label: 'creation → client p50, 200 in flight', format: ms },
  { key: 'c2c200p99', label: 'creation → client p99, 200 in flight', format: ms },
  { key: 'd2a200p50', label: 'decision → agent p50, 200 in flight', format: ms },
  { key: 'd2a200p99', label: 'decision → agent p99, 200 in flight', format: ms },
  { key: 'fanAllP50', label: 'fan-out: creation → all 200 clients p50', format: ms },
  { key: 'fanAllP99', label: 'fan-out: creation → all 200 clients p99', format: ms },
  { key: 'fanPairP99', label: 'fan-out: creation → one client p99', format: ms },
  { key: 'failClients', label: 'fail-over: clients on the killed instance', format: count },
  { key: 'failWelcomeP50', label: 'fail-over: kill → welcome elsewhere p50', format: ms },
  { key: 'failWelcomeMax', label: 'fail-over: kill → welcome elsewhere, last client', format: ms },
  { key: 'failCaughtUpP50', label: 'fail-over: kill → caught up p50', format: ms },
  { key: 'failCaughtUpMax', label: 'fail-over: kill → every client caught up', format: ms },
  { key: 'failAgentP50', label: 'fail-over: kill → agent has its outcome p50', format: ms },
  { key: 'failAgentMax', label: 'fail-over: kill → last agent has its outcome', format: ms },
];

const COLUMN_NAMES: Record<DeploymentName, string> = {
  'sqlite-1': 'SQLite, 1 instance',
  'pg-1': 'PostgreSQL + NATS, 1 instance',
  'pg-3': 'PostgreSQL + NATS, 3 instances',
};

/** The Markdown table of the medians (pure: bench.test.ts). */
export function clusterTable(medians: ClusterRound): string {
  const columns = DEPLOYMENTS.filter((d) => medians[d]);
  const header = ['', ...columns.map((c) => COLUMN_NAMES[c])];
  const lines = [header];
  for (const row of CLUSTER_ROWS) {
    const cells = columns.map((c) => {
      const v = medians[c]?.[row.key];
      return v === undefined ? '' : row.format(v);
    });
    if (cells.every((c) => c === '' || c === '—')) continue;
    lines.push([row.label, ...cells]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (l: string[]) => `| ${l.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [fmt(header), rule, ...lines.slice(1).map(fmt)].join('\n');
}
