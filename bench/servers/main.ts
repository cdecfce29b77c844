/**
 * The server process of one benchmarked system (`--system raw-ws|socket.io|gatehouse`).
 * Requests originate here, from an in-process agent loop, for all three systems; the
 * runner (bench/run.ts) drives it over IPC: `load` (closed loop, N in flight), `rate`
 * (open loop at a fixed rate), `fill` (unresolved requests), `mem` (after forced GC).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { BENCH_TIMEOUT_MS, benchRequest, isSystemName, now, num, serveIpc, type SystemName } from '../common.ts';
import type { BenchServer } from './types.ts';

async function start(system: SystemName): Promise<BenchServer> {
  switch (system) {
    case 'raw-ws':
      return (await import('./raw.ts')).startRawServer();
    case 'socket.io':
      return (await import('./socketio.ts')).startSocketIoServer();
    case 'gatehouse':
      return (await import('./gatehouse.ts')).startGatehouseServer({ plugins: true });
    case 'gatehouse-core':
      return (await import('./gatehouse.ts')).startGatehouseServer({ plugins: false });
    default: {
      const never: never = system;
      throw new Error(`unknown system ${String(never)}`);
    }
  }
}

const systemArg = process.argv[process.argv.indexOf('--system') + 1] ?? '';
if (!isSystemName(systemArg)) {
  console.error(`usage: servers/main.ts --system raw-ws|socket.io|gatehouse|gatehouse-core (got ${systemArg})`);
  process.exit(2);
}

const server = await start(systemArg);
let counter = 0;
let profiler: Session | undefined;
/** Ids whose outcome the agent learned more than once: must stay empty. */
let doubleLearned = 0;

/** CPU time used since `since`, in cores (1 = one core busy all along). */
function cores(since: NodeJS.CpuUsage, elapsedMs: number): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000 / elapsedMs;
}

/** One ask, timed: the agent learns the outcome exactly once per id. */
async function askOnce(learned: Map<string, number>, timeoutMs: number): Promise<void> {
  const outcome = await server.ask(benchRequest(now(), counter++), { timeoutMs });
  const t = now();
  if (learned.has(outcome.id)) doubleLearned++;
  learned.set(outcome.id, t);
}

serveIpc({
  /** Closed loop: `inflight` agents, each asks again as soon as it learns an outcome. */
  async load(args) {
    const count = num(args, 'count');
    const inflight = Math.min(num(args, 'inflight'), count);
    const maxMs = num(args, 'maxMs', 120_000);
    const learned = new Map<string, number>();
    let issued = 0;
    const cpu0 = process.cpuUsage();
    const t0 = now();
    const deadline = t0 + maxMs;
    const worker = async () => {
      while (issued < count && now() < deadline) {
        issued++;
        await askOnce(learned, BENCH_TIMEOUT_MS);
      }
    };
    await Promise.all(Array.from({ length: inflight }, worker));
    const elapsedMs = now() - t0;
    return { elapsedMs, cpu: cores(cpu0, elapsedMs), count: learned.size, issued, doubleLearned, learned: [...learned] };
  },

  /** Open loop: asks at `perSec`, whatever the answers do, `count` in all. */
  async rate(args) {
    const perSec = num(args, 'perSec');
    const count = num(args, 'count');
    const maxMs = num(args, 'maxMs', 120_000);
    const learned = new Map<string, number>();
    const asks: Promise<void>[] = [];
    const cpu0 = process.cpuUsage();
    const t0 = now();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(count, Math.floor(((now() - t0) * perSec) / 1000) + 1);
        while (asks.length < due) asks.push(askOnce(learned, BENCH_TIMEOUT_MS));
        if (asks.length >= count || now() - t0 > maxMs) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    const createdMs = now() - t0;
    const cpu = cores(cpu0, createdMs);
    await Promise.race([Promise.all(asks), new Promise((r) => setTimeout(r, maxMs))]);
    return { createdMs, cpu, elapsedMs: now() - t0, issued: asks.length, count: learned.size, doubleLearned, learned: [...learned] };
  },

  /** Creates `count` requests nobody will answer during the run (the agents keep waiting). */
  async fill(args) {
    const count = num(args, 'count');
    const origin = args.origin === 'http' ? 'http' : 'agent';
    for (let i = 0; i < count; i++) {
      server.ask(benchRequest(now(), counter++), { timeoutMs: BENCH_TIMEOUT_MS, origin }).catch(() => {});
      // Yield now and then so that sockets drain while we create.
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    return { unresolved: server.unresolved() };
  },

  /** This process's CPU time so far (µs) and the clock: the runner takes the difference
   *  around a measurement whose load comes from another process (the HTTP agents). */
  usage() {
    const used = process.cpuUsage();
    return { cpuUs: used.user + used.system, at: now() };
  },

  /** BENCH_PROFILE_DIR: a V8 CPU profile of this process over one measured section only
   *  (no start-up, no warm-up), written as DIR/<name>.cpuprofile at `profileStop`. */
  async profileStart() {
    if (!process.env.BENCH_PROFILE_DIR) return null;
    profiler ??= new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    await profiler.post('Profiler.start');
    return null;
  },
  async profileStop(args) {
    const dir = process.env.BENCH_PROFILE_DIR;
    if (!dir || !profiler) return null;
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    const file = join(dir, `${String(args.name)}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return { file };
  },

  /** Memory after a forced GC (run with --expose-gc). */
  async mem() {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run with --expose-gc');
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    const m = process.memoryUsage();
    return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, unresolved: server.unresolved() };
  },

  async exit() {
    await server.close();
    setImmediate(() => process.exit(0));
    return null;
  },
});

process.send?.({ type: 'ready', port: server.port });
