/**
 * WAL checkpoints off the event loop (SPEC.md CORE-L6). By default SQLite checkpoints
 * inside the COMMIT that pushes the WAL past 1,000 pages: that COMMIT then copies pages
 * into the database file and fsyncs it, on the event loop, every few hundred ticks
 * (issue 10 measured it among the commit's ~50 µs). The event store turns that off
 * (`wal_autocheckpoint = 0`) and this worker thread, with its own connection to the same
 * file, runs PASSIVE checkpoints instead: PASSIVE never waits for the writer and the
 * writer never waits for it (WAL readers and the checkpointer do not block a writer), so
 * the main thread's COMMIT only appends to the WAL. SQLite restarts the WAL from its start
 * at the first write after a complete checkpoint, so the file stays bounded.
 *
 * The worker checkpoints when the store tells it that commits accumulated (`nudge`, a
 * postMessage of a few hundred nanoseconds, every `nudgeEveryCommits` commits, so the WAL
 * holds at most about that many commits beyond the last checkpoint) and every
 * `intervalMs` as a backstop. It starts at the first nudge: a store that commits little
 * (tests, a quiet server) never pays for a thread.
 * Its code is plain JavaScript evaluated in the worker, so it runs the same under tsx,
 * vitest and the built server.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export type CheckpointResult = { busy: number; log: number; checkpointed: number };

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
let due = false;
function checkpoint() {
  due = false;
  try {
    const row = db.pragma('wal_checkpoint(PASSIVE)')[0];
    return { busy: row.busy, log: row.log, checkpointed: row.checkpointed };
  } catch (error) {
    return { busy: 1, log: -1, checkpointed: -1, error: String(error && error.message || error) };
  }
}
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message.type === 'nudge') {
    if (!due) { due = true; setImmediate(checkpoint); }
  } else if (message.type === 'now') {
    parentPort.postMessage({ type: 'result', id: message.id, result: checkpoint() });
  } else if (message.type === 'close') {
    clearInterval(timer);
    db.close();
    parentPort.close();
  }
});
`;

export class WalCheckpointer {
  private worker: Worker | undefined;
  private exited: Promise<void> | undefined;
  private readonly waiting = new Map<number, (result: CheckpointResult) => void>();
  private nextId = 1;
  private commits = 0;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly file: string,
    private readonly options: { nudgeEveryCommits: number; intervalMs: number; onError: (error: unknown) => void },
  ) {}

  private started(): Worker {
    if (this.worker) return this.worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file: this.file, driver, intervalMs: this.options.intervalMs } });
    // It must never keep the process alive on its own.
    worker.unref();
    worker.on('message', (message: { type: 'result'; id: number; result: CheckpointResult }) => {
      const resolve = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      resolve?.(message.result);
    });
    worker.on('error', this.options.onError);
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.worker = worker;
    return worker;
  }

  /** After each commit: every `nudgeEveryCommits` commits, ask for a checkpoint. */
  committed(): void {
    this.commits += 1;
    if (this.commits < this.options.nudgeEveryCommits || this.closed) return;
    this.commits = 0;
    this.started().postMessage({ type: 'nudge' });
  }

  /** A checkpoint now, with SQLite's answer (tests, and the measure script). */
  checkpointNow(): Promise<CheckpointResult> {
    if (this.closed) return Promise.reject(new Error('the checkpointer is closed'));
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ type: 'now', id });
    });
  }

  /** Closes the worker's connection (before the store closes its own) and ends the thread. */
  close(): Promise<void> {
    const worker = this.worker;
    if (!this.closed) {
      if (worker && this.exited) {
        // Held by the process until it has closed its connection and ended.
        worker.ref();
        worker.postMessage({ type: 'close' });
        this.closed = this.exited;
      } else {
        this.closed = Promise.resolve();
      }
    }
    return this.closed;
  }
}
