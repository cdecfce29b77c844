/**
 * Measures a restart with N unresolved requests against an empty store (issue 10, "Start
 * fast"; the design is in machines/broker.machine.ts, "Why restore is cheap"). Not a test:
 *
 *   node_modules/.bin/tsx server/testing/measureRestore.ts [N=10000] [runs=5]
 *
 * For each store it reports the median of `runs`:
 * - broker: starting the broker actor from the loaded input (what this module changed);
 * - host: `new BrokerHost` on the SQLite store on disk (store.load + broker start);
 * - process: `bin/gatehouse serve` from spawn to its ready line (tsx, imports, plugins).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor } from 'xstate';
import { brokerMachine } from '../../machines/broker.machine.ts';
import { BrokerHost } from '../brokerHost.ts';
import { silentLogger } from '../log.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';

const N = Number(process.argv[2] ?? 10_000);
const RUNS = Number(process.argv[3] ?? 5);
const root = new URL('../../', import.meta.url).pathname;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** A data dir holding `n` unresolved `http` requests (they survive a restart). */
async function seed(n: number): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-restore-'));
  const store = new SqliteEventStore({ dataDir });
  const host = await BrokerHost.open({ store, logger: silentLogger });
  for (let from = 0; from < n; from += 1_000) {
    const batch: Promise<unknown>[] = [];
    for (let i = from; i < Math.min(n, from + 1_000); i++) {
      batch.push(host.create({ toolName: 'Bash', input: { command: `git status # ${i}` }, context: {}, timeoutMs: 86_400_000, origin: 'http' }));
    }
    await Promise.all(batch);
  }
  await host.stop();
  await store.close();
  return dataDir;
}

async function measureBroker(dataDir: string): Promise<number> {
  const store = new SqliteEventStore({ dataDir });
  const input = await store.load({ now: Date.now() });
  const started = performance.now();
  const actor = createActor(brokerMachine, { input }).start();
  const ms = performance.now() - started;
  if (actor.getSnapshot().context.unresolved.size !== input.unresolved.length) throw new Error('not restored');
  actor.stop();
  await store.close();
  return ms;
}

async function measureHost(dataDir: string): Promise<number> {
  const started = performance.now();
  const store = new SqliteEventStore({ dataDir });
  const host = await BrokerHost.open({ store, logger: silentLogger });
  const ms = performance.now() - started;
  await host.stop();
  await store.close();
  return ms;
}

function measureProcess(dataDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(join(root, 'bin/gatehouse'), ['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Gatehouse listening')) {
        const ms = performance.now() - started;
        child.once('exit', () => resolve(ms));
        child.kill('SIGTERM');
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!out.includes('Gatehouse listening')) reject(new Error(`serve exited ${code} before its ready line`));
    });
  });
}

const empty = await seed(0);
const full = await seed(N);
try {
  const rows: Array<[string, number, number]> = [];
  const row = async (what: string, run: (dir: string) => number | Promise<number>) => {
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      a.push(await run(empty));
      b.push(await run(full));
    }
    rows.push([what, median(a), median(b)]);
  };
  await row('broker start', measureBroker);
  await row('host (load + broker)', measureHost);
  await row('process to ready line', measureProcess);
  console.log(`restart, median of ${RUNS}: empty store vs ${N} unresolved`);
  for (const [what, a, b] of rows) console.log(`${what.padEnd(24)} ${a.toFixed(1).padStart(8)} ms ${b.toFixed(1).padStart(8)} ms  (${(b / a).toFixed(2)}x)`);
} finally {
  rmSync(empty, { recursive: true, force: true });
  rmSync(full, { recursive: true, force: true });
}
