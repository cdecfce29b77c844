/**
 * The event store's commit cost per durable round trip (a create, then a decision with a
 * clientMsgId: two commits), before and after "the log is the truth" (issue 10, SPEC.md
 * CORE-L). A measure, not a test: `npx tsx bench/storeCommit.ts [round trips] [base rev]`.
 *
 * - before: the store at `base rev` (default 31a1b2b), random v4 ids, and the audit as it
 *   was: a second database (agents.db) with its own transaction per tick and an UPDATE
 *   per decision (the transports' annotation). Its files are taken from git into
 *   `.measure-before/` for the run and removed after.
 * - after: this store (audit rows in the same transaction, one copy of the input, v7
 *   ids), with WAL checkpoints in the worker, and with SQLite's inline checkpoints.
 *
 * Each variant writes to a file in a new temporary directory (WAL, synchronous=NORMAL, as
 * `serve` runs). Figures per round trip: the CPU time of the main thread (the event loop:
 * Linux `/proc/self/task/<pid>/stat`, 10 ms ticks, so runs are long), the CPU time of the
 * whole process (with the checkpoint worker) and the wall time; on a loaded machine only
 * the CPU figures mean much.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PersistRecord } from '../machines/broker.types.ts';
import { uuidv7, type SequencedEvent } from '../protocol/index.ts';
import { SqliteEventStore } from '../server/store/sqliteStore.ts';

const roundTrips = Number(process.argv[2] ?? 20_000);
const base = process.argv[3] ?? '31a1b2b';
const root = join(dirname(new URL(import.meta.url).pathname), '..');

type AnyStore = { writeBatch(records: readonly PersistRecord[]): unknown; close(): unknown };
type Variant = {
  name: string;
  open(dir: string): Promise<{ store: AnyStore; afterCommit?: (events: SequencedEvent[], decided?: string) => void; close(): Promise<void> }>;
  id(): string;
};

function records(seq: number, id: string, at: number): [PersistRecord[], PersistRecord[]] {
  const request: PersistRecord = {
    kind: 'event',
    event: {
      type: 'permission-request',
      seq,
      id,
      toolName: 'Bash',
      input: { command: `npm test -- --grep "round trip ${seq}"`, description: 'Run the tests' },
      context: { cwd: '/work/project', sessionId: 'session-1', agent: 'claude-code' },
      timestamp: at,
      expiresAt: at + 300_000,
    },
    request: { origin: 'http' },
  };
  const decision: PersistRecord[] = [
    {
      kind: 'event',
      event: { type: 'permission-resolved', seq: seq + 1, requestId: id, decision: 'allow', decidedBy: 'browser-1', timestamp: at + 1 },
      outcome: { status: 'resolved', decision: 'allow', decidedBy: 'browser-1', decidedAt: at + 1 },
    },
    { kind: 'client-answer', record: { clientMsgId: randomUUID(), requestId: id, answer: { status: 'accepted', requestId: id } } },
  ];
  return [[request], decision];
}

/** CPU seconds of the main thread so far (utime + stime of the task whose id is the pid). */
function mainThreadCpu(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

type Figures = { thread: number; process: number; wall: number };

async function measure(variant: Variant): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-measure-'));
  try {
    const { store, afterCommit, close } = await variant.open(dir);
    const at = Date.now();
    const warm = Math.min(2_000, roundTrips / 10);
    let seq = 1;
    let started = 0n;
    let thread = 0;
    let cpu = process.cpuUsage();
    for (let i = 0; i < warm + roundTrips; i++) {
      if (i === warm) {
        started = process.hrtime.bigint();
        thread = mainThreadCpu();
        cpu = process.cpuUsage();
      }
      const id = variant.id();
      const [create, decide] = records(seq, id, at + i);
      await store.writeBatch(create);
      afterCommit?.(create.flatMap((r) => (r.kind === 'event' ? [r.event] : [])));
      await store.writeBatch(decide);
      afterCommit?.(
        decide.flatMap((r) => (r.kind === 'event' ? [r.event] : [])),
        id,
      );
      seq += 2;
    }
    const wall = Number(process.hrtime.bigint() - started) / 1e3 / roundTrips;
    const threadMicros = ((mainThreadCpu() - thread) * 1e6) / roundTrips;
    const used = process.cpuUsage(cpu);
    await close();
    return { thread: threadMicros, process: (used.user + used.system) / roundTrips, wall };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function materialiseBefore(): string {
  const target = join(root, '.measure-before');
  const files = [
    'server/store/sqliteStore.ts',
    'server/store/types.ts',
    'server/store/fileModes.ts',
    'server/audit/auditLog.ts',
    'server/agents/db.ts',
    'server/http/errors.ts',
  ];
  for (const file of files) {
    const text = execFileSync('git', ['show', `${base}:${file}`], { cwd: root, encoding: 'utf8' });
    const out = join(target, file.replace(/^server\//, ''));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, text);
  }
  return target;
}

async function main(): Promise<void> {
  const before = materialiseBefore();
  try {
    const oldStore = (await import(join(before, 'store/sqliteStore.ts'))) as { SqliteEventStore: new (o: { dataDir: string }) => AnyStore };
    const oldAudit = (await import(join(before, 'audit/auditLog.ts'))) as {
      AuditLog: new (db: unknown) => { record(events: SequencedEvent[]): void; annotate(id: string, who: Record<string, unknown>): void };
    };
    const oldDb = (await import(join(before, 'agents/db.ts'))) as { openAgentsDb(path: string): { close(): void } };
    const variants: Variant[] = [
      {
        name: `before (${base}): event store only`,
        id: randomUUID,
        async open(dir) {
          const store = new oldStore.SqliteEventStore({ dataDir: dir });
          return { store, close: async () => void store.close() };
        },
      },
      {
        name: `before (${base}): event store + audit in agents.db (+ annotate UPDATE)`,
        id: randomUUID,
        async open(dir) {
          const store = new oldStore.SqliteEventStore({ dataDir: dir });
          const db = oldDb.openAgentsDb(join(dir, 'agents.db'));
          const audit = new oldAudit.AuditLog(db);
          return {
            store,
            afterCommit: (events, decided) => {
              audit.record(events);
              if (decided) audit.annotate(decided, { decidedBy: 'browser-1', via: 'ws', address: '127.0.0.1' });
            },
            close: async () => {
              db.close();
              store.close();
            },
          };
        },
      },
      {
        name: 'after: audit in the same transaction, worker checkpoints, v7 ids',
        id: () => uuidv7(),
        async open(dir) {
          const store = new SqliteEventStore({ dataDir: dir });
          return { store, close: () => store.close() };
        },
      },
      {
        name: 'after, with inline checkpoints (SQLite default)',
        id: () => uuidv7(),
        async open(dir) {
          const store = new SqliteEventStore({ dataDir: dir, checkpoints: 'inline' });
          return { store, close: () => store.close() };
        },
      },
      {
        name: 'after, with random v4 ids',
        id: randomUUID,
        async open(dir) {
          const store = new SqliteEventStore({ dataDir: dir });
          return { store, close: () => store.close() };
        },
      },
    ];
    console.log(`${roundTrips} round trips (create + decision with clientMsgId), µs per round trip, the run with the least main-thread CPU of 3:`);
    console.log('  main thread CPU | process CPU | wall | variant');
    for (const variant of variants) {
      const runs: Figures[] = [];
      for (let i = 0; i < 3; i++) runs.push(await measure(variant));
      const best = runs.reduce((x, y) => (y.thread < x.thread ? y : x));
      const f = (n: number) => n.toFixed(1).padStart(7);
      console.log(`  ${f(best.thread)} | ${f(best.process)} | ${f(best.wall)} | ${variant.name}`);
    }
  } finally {
    rmSync(before, { recursive: true, force: true });
  }
}

await main();
