/**
 * A benchmark child process (server, client or agent) forked with --expose-gc, answering
 * IPC commands (bench/common.ts `serveIpc`); `stop()` asks it to exit and kills it if it
 * does not.
 *
 * Each child runs JavaScript bundled ahead (`buildChildren`, into dist-bench/), built as
 * `bin/gatehouse serve` is built (scripts/build-cli.js: esbuild, packages external), so
 * the server measured runs the code users run: through tsx it paid for tsx's transform
 * as well (a `__name(…)` call for every function it creates, and `set natives`), a few
 * per cent of the server's CPU per HTTP round trip that `serve` never pays (BENCHMARKS.md).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { IpcReply } from './common.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

/** The children's entries (relative to bench/). */
const ENTRIES = ['servers/main.ts', 'clients/main.ts', 'httpAgent.ts'] as const;

/** Where a child's bundle goes: one level below the repository root, as dist-cli/ is, so
 *  that paths the server resolves from the root (server/config.ts) resolve the same. */
function bundleOf(file: string): string {
  return join(root, 'dist-bench', file.replace(/\//g, '-').replace(/\.ts$/, '.mjs'));
}

/** Bundles one entry of bench/ from the current sources, as `serve` is built; its path. */
export async function bundleEntry(file: string): Promise<string> {
  const outfile = bundleOf(file);
  await build({
    entryPoints: [join(here, file)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

/** Bundles every child from the current sources; call once before `Child.start`. */
export async function buildChildren(): Promise<void> {
  await Promise.all(ENTRIES.map(bundleEntry));
}

export /** A forked child (server, client or agent process) answering IPC commands. */
class Child {
  private next = 1;
  private waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = '';
  readonly ready: Promise<{ type: string; port?: number }>;
  private exited: Promise<number | null>;

  constructor(
    readonly name: string,
    private proc: ChildProcess,
  ) {
    let onReady: (m: { type: string; port?: number }) => void = () => {};
    let onFail: (e: Error) => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    this.ready.catch(() => {}); // awaited by the caller; an early exit must not crash the runner
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${d}`);
    });
    proc.stdout?.on('data', (d: Buffer) => {
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${d}`);
    });
    proc.on('message', (raw) => {
      const msg = raw as IpcReply | { type: string; port?: number };
      if ('type' in msg) return onReady(msg);
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.ok) w.resolve(msg.result);
      else w.reject(new Error(`${name}: ${msg.error}`));
    });
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
    void this.exited.then((code) => {
      const err = new Error(`${name} exited (${code})\n${this.stderr}`);
      onFail(err);
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
  }

  static start(name: string, file: (typeof ENTRIES)[number], args: string[], env: Record<string, string> = {}): Child {
    const bundle = bundleOf(file);
    if (!existsSync(bundle)) throw new Error(`${bundle} is not built: await buildChildren() first`);
    const proc = fork(bundle, args, {
      cwd: root,
      // BENCH_CPU_PROF=DIR: a V8 CPU profile of every child, written when it exits.
      execArgv: ['--expose-gc', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
      env: { ...process.env, ...env },
    });
    return new Child(name, proc);
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 180_000): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: ${cmd} took over ${timeoutMs} ms\n${this.stderr}`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ id, cmd, args });
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.call('exit', {}, 5000).catch(() => {});
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 8000);
    await this.exited;
    clearTimeout(timer);
  }
}
