/**
 * The PostgreSQL store's commit of a tick, before and after its read models are written
 * one statement per kind of row instead of one or two per record (BENCHMARKS.md, "The
 * PostgreSQL commit"). A measure, not a test: `npx tsx bench/pgCommit.ts [ticks]
 * [requests per tick] [base rev]`, with PostgreSQL at GATEHOUSE_TEST_POSTGRES (default
 * the machine's 127.0.0.1:5432).
 *
 * - before: `server/store/postgresStore.ts` at `base rev` (default 7bc6a67), copied to
 *   `.measure-before/` with its imports pointed at this checkout's modules (the rest of
 *   the store is unchanged), removed after the run;
 * - after: this checkout's store.
 *
 * A tick is what durable round trips give the host: `requests per tick` creates (half
 * with an Idempotency-Key, as HTTP agents send; the other half without, as in-process
 * agents do), the outcomes of the previous tick's requests (one in ten a timeout
 * whose record carries no message, so the store reads the request's times; the rest
 * decisions, each with its clientMsgId answer). Each variant writes into a new database;
 * four rounds alternate which goes first. Figures: wall time per commit (waiting on
 * PostgreSQL included) and the commits' records per second.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PersistRecord } from '../machines/broker.types.ts';
import { uuidv7, type SequencedEvent } from '../protocol/index.ts';
import { createTestDatabase, requirePostgres } from '../server/store/testing/postgres.ts';
import type { CommitRecord } from '../server/store/types.ts';

const ticks = Number(process.argv[2] ?? 200);
const perTick = Number(process.argv[3] ?? 50);
const base = process.argv[4] ?? '7bc6a67';
const rounds = 4;
const root = join(dirname(new URL(import.meta.url).pathname), '..');

type AnyStore = { writeBatch(records: readonly CommitRecord[]): Promise<void>; close(): Promise<void> };
type Opener = (url: string) => Promise<AnyStore>;

/** The ticks of one run: creates, then next tick the decisions and their answers. */
function workload(): CommitRecord[][] {
  const batches: CommitRecord[][] = [];
  let seq = 0;
  let previous: string[] = [];
  for (let t = 0; t <= ticks; t++) {
    const batch: CommitRecord[] = [];
    const at = 1_000_000 + t;
    previous.forEach((id, i) => {
      seq += 1;
      if (i % 10 === 9) {
        const event: SequencedEvent = { type: 'permission-timeout', seq, requestId: id, toolName: 'Bash', timestamp: at };
        batch.push({ kind: 'event', event, outcome: { status: 'timedOut', decision: 'deny', decidedBy: 'timeout', decidedAt: at } });
        return;
      }
      const event: SequencedEvent = { type: 'permission-resolved', seq, requestId: id, decision: 'allow', decidedBy: 'browser-1', timestamp: at };
      batch.push({ kind: 'event', event, outcome: { status: 'resolved', decision: 'allow', decidedBy: 'browser-1', decidedAt: at }, audit: { via: 'ws' } });
      batch.push({ kind: 'client-answer', record: { clientMsgId: `m-${id}`, requestId: id, answer: { status: 'accepted', requestId: id } } });
    });
    previous = [];
    if (t < ticks) {
      for (let i = 0; i < perTick; i++) {
        const id = uuidv7();
        seq += 1;
        const event: SequencedEvent = {
          type: 'permission-request',
          seq,
          id,
          toolName: 'Bash',
          input: { command: `echo ${id}` },
          context: { sessionId: 's1', agent: 'claude', cwd: '/srv/project' },
          timestamp: at,
          expiresAt: at + 300_000,
        };
        const request = i % 2 === 0 ? { origin: 'http' as const, idempotencyKey: `k-${id}`, bodyHash: 'h' } : { origin: 'agent' as const };
        const record: PersistRecord = { kind: 'event', event, request };
        batch.push(record);
        previous.push(id);
      }
    }
    batches.push(batch);
  }
  return batches;
}

/** The store at `base`, its relative imports pointed at this checkout (`.measure-before/`). */
function materialiseBefore(): string {
  const file = 'server/store/postgresStore.ts';
  const text = execFileSync('git', ['show', `${base}:${file}`], { cwd: root, encoding: 'utf8' });
  const from = dirname(join(root, file));
  const rewritten = text.replace(/from '(\.{1,2}\/[^']+)'/g, (_all, path: string) => `from '${join(from, path)}'`);
  const out = join(root, '.measure-before', 'postgresStore.ts');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, rewritten);
  return out;
}

async function measure(name: string, open: Opener, batches: CommitRecord[][]): Promise<{ name: string; msPerCommit: number; recordsPerSecond: number }> {
  const database = await createTestDatabase();
  try {
    const store = await open(database.url);
    try {
      let records = 0;
      const started = process.hrtime.bigint();
      for (const batch of batches) {
        await store.writeBatch(batch);
        records += batch.length;
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      return { name, msPerCommit: (seconds * 1e3) / batches.length, recordsPerSecond: records / seconds };
    } finally {
      await store.close();
    }
  } finally {
    await database.drop();
  }
}

async function main(): Promise<void> {
  if (!(await requirePostgres('bench/pgCommit.ts'))) process.exit(1);
  const beforePath = materialiseBefore();
  try {
    const before = (await import(beforePath)) as { openPostgresStore(o: { url: string }): Promise<AnyStore> };
    const after = await import('../server/store/postgresStore.ts');
    const variants: Array<[string, Opener]> = [
      [`before (${base}): one or two statements per record`, (url) => before.openPostgresStore({ url })],
      ['after: one statement per kind of row', (url) => after.openPostgresStore({ url })],
    ];
    const batches = workload();
    const perRecord = batches.reduce((n, b) => n + b.length, 0) / batches.length;
    console.log(
      `PostgreSQL commits: ${ticks} ticks of ${perTick} creates (+ the previous tick's outcomes and answers), ${perRecord.toFixed(0)} records per commit`,
    );
    const results = new Map<string, number[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const [name, open] of round % 2 ? variants : [...variants].reverse()) {
        const result = await measure(name, open, batches);
        results.set(name, [...(results.get(name) ?? []), result.msPerCommit]);
        console.log(`  round ${round}  ${name.padEnd(55)} ${result.msPerCommit.toFixed(2)} ms per commit, ${Math.round(result.recordsPerSecond)} records/s`);
      }
    }
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = sorted.length / 2;
      return sorted.length % 2 ? (sorted[Math.floor(mid)] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
    };
    const [b, a] = variants.map(([name]) => median(results.get(name) ?? []));
    console.log(`  median: before ${b?.toFixed(2)} ms, after ${a?.toFixed(2)} ms per commit (${((b ?? 0) / (a ?? 1)).toFixed(1)}× faster)`);
  } finally {
    rmSync(join(root, '.measure-before'), { recursive: true, force: true });
  }
}

await main();
