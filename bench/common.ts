/**
 * What every benchmark process shares: one clock (so that times taken in the server
 * process and in the client process can be subtracted), the request every system sends,
 * the statistics, and the IPC message shapes between the runner and its children.
 */
import { performance } from 'node:perf_hooks';

/** Wall-clock milliseconds with sub-millisecond precision. `timeOrigin` is taken from the
 *  system's real-time clock at process start with microsecond precision, so readings in
 *  two processes on one machine can be subtracted (checked by `clockSkewCheck` in run.ts). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** `gatehouse-core`: Gatehouse without the agents plugin (audit log, rules, chat), a
 *  diagnostic column that shows what the plugin costs; not run unless asked for. */
export const SYSTEMS = ['raw-ws', 'socket.io', 'gatehouse', 'gatehouse-core'] as const;
export type SystemName = (typeof SYSTEMS)[number];
export const DEFAULT_SYSTEMS: readonly SystemName[] = ['raw-ws', 'socket.io', 'gatehouse'];

export function isSystemName(value: string): value is SystemName {
  return (SYSTEMS as readonly string[]).includes(value);
}

/** The same request for every system (about 250 bytes of JSON): what a Bash tool call
 *  asks. `createdAt` (the agent's clock when it asked) lets the client measure
 *  creation -> receipt without a second channel; it rides in `input`, so every system
 *  carries it the same way. */
export function benchRequest(createdAt: number, n: number) {
  return {
    toolName: 'Bash',
    input: { command: `npm test -- --shard=${n % 8}/8`, description: 'Run the test suite', createdAt },
    context: { sessionId: 'bench-session', agent: 'bench', cwd: '/work/project', toolUseId: `toolu_${n}` },
  };
}

/** Which of `clients` clients decides request (or agent) `n` in the cluster scenario:
 *  the next one. Client k is on instance k % instances and agent n on n % instances, so
 *  with `clients` a multiple of the instance count, a request created on one instance is
 *  decided on the next (another instance, when there are several). */
export function deciderFor(n: number, clients: number): number {
  return (n + 1) % clients;
}

/** Long enough that nothing times out during a run; every system arms a timer with it. */
export const BENCH_TIMEOUT_MS = 600_000;

// ---- the table's formats ----

export const perSec = (v: number) => (Number.isFinite(v) ? `${Math.round(v).toLocaleString('en-US')}/s` : '—');
export const ms = (v: number) => (Number.isFinite(v) ? (v < 10 ? v.toFixed(2) : v.toFixed(0)) + ' ms' : '—');
export const us = (v: number) => (Number.isFinite(v) ? `${Math.round(v).toLocaleString('en-US')} µs` : '—');
export const kib = (v: number) => (Number.isFinite(v) ? `${(v / 1024).toFixed(2)} KiB` : '—');
export const coresFmt = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)} cores` : '—');
export const ratio = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '—');

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export type Dist = { n: number; min: number; p50: number; p99: number; max: number };

export function dist(values: number[]): Dist {
  const sorted = Float64Array.from(values).sort();
  const arr = Array.from(sorted);
  const last = arr[arr.length - 1] ?? Number.NaN;
  return { n: arr.length, min: arr[0] ?? Number.NaN, p50: percentile(arr, 50), p99: percentile(arr, 99), max: last };
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  const upper = v[mid] ?? Number.NaN;
  return v.length % 2 ? upper : ((v[mid - 1] ?? upper) + upper) / 2;
}

// ---- IPC: the runner sends `{id, cmd, ...}`, the child answers `{id, ok, result|error}` ----

export type IpcRequest = { id: number; cmd: string; args?: Record<string, unknown> };
export type IpcReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Serves IPC commands in a child process; a command's exception becomes an error reply. */
export function serveIpc(handlers: Record<string, (args: Record<string, unknown>) => Promise<unknown> | unknown>): void {
  const all: typeof handlers = { clock: () => now(), ...handlers };
  process.on('message', (raw) => {
    const msg = raw as IpcRequest;
    const handler = all[msg.cmd];
    const reply = (r: IpcReply) => process.send?.(r);
    if (!handler) {
      reply({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(msg.args ?? {}))
      .then(
        (result) => reply({ id: msg.id, ok: true, result: result ?? null }),
        (err: unknown) => reply({ id: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  // The runner going away must not leave us behind.
  process.on('disconnect', () => process.exit(0));
}

export function num(args: Record<string, unknown>, key: string, fallback?: number): number {
  const v = args[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`missing numeric argument ${key}`);
}

/** Resolves when `cond()` holds, polling each `everyMs`; rejects after `timeoutMs`. */
export function waitFor(cond: () => boolean, timeoutMs: number, what: string, everyMs = 2): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(tick, everyMs);
    };
    tick();
  });
}
