/**
 * A circuit breaker whose state outlives the process: each hook call is a new process,
 * so the state lives in a small JSON file in the data directory (written atomically:
 * temp file + rename). After the server fails to answer, calls skip it (answer "step
 * aside" at once) for a cool-down; then one call probes it (half-open) while others keep
 * skipping for a short probe window; a success closes the breaker, a failure reopens it.
 *
 * File: `{"url": "...", "state": "open", "openUntil": MS, "failures": N, "reason": "..."}`;
 * a missing, unreadable or other-server file reads as closed.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type BreakerFile = {
  url: string;
  state: 'open';
  /** Calls before this time skip the server. */
  openUntil: number;
  failures: number;
  reason: string;
};

export type BreakerOptions = {
  path: string;
  url: string;
  cooldownMs: number;
  /** While one call probes a half-open breaker, others keep skipping this long. */
  probeWindowMs?: number;
  now?: () => number;
};

export type BreakerVerdict = { skip: true; reason: string; openUntil: number } | { skip: false; probing: boolean };

export function readBreaker(path: string): BreakerFile | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<BreakerFile>;
    if (value && value.state === 'open' && typeof value.openUntil === 'number' && typeof value.url === 'string') {
      return {
        url: value.url,
        state: 'open',
        openUntil: value.openUntil,
        failures: typeof value.failures === 'number' ? value.failures : 1,
        reason: typeof value.reason === 'string' ? value.reason : 'the server failed',
      };
    }
  } catch {
    // missing or corrupt: closed
  }
  return undefined;
}

function writeAtomic(path: string, value: BreakerFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temp, JSON.stringify(value) + '\n', { mode: 0o600 });
  renameSync(temp, path);
}

export class Breaker {
  private readonly now: () => number;
  private readonly probeWindowMs: number;
  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? Date.now;
    this.probeWindowMs = options.probeWindowMs ?? 5000;
  }

  /** Before calling the server: skip it, or go ahead (possibly as the half-open probe). */
  check(): BreakerVerdict {
    const file = readBreaker(this.options.path);
    if (!file || file.url !== this.options.url) return { skip: false, probing: false };
    const now = this.now();
    if (now < file.openUntil) return { skip: true, reason: file.reason, openUntil: file.openUntil };
    // Half-open: claim the probe so concurrent calls keep skipping while it runs.
    try {
      writeAtomic(this.options.path, { ...file, openUntil: now + this.probeWindowMs });
    } catch {
      // cannot persist: still probe
    }
    return { skip: false, probing: true };
  }

  /** The server answered: close. */
  success(): void {
    if (!readBreaker(this.options.path)) return;
    try {
      rmSync(this.options.path, { force: true });
    } catch {
      // best effort
    }
  }

  /** The server did not answer: open for a cool-down. */
  failure(reason: string): void {
    const previous = readBreaker(this.options.path);
    const failures = previous && previous.url === this.options.url ? previous.failures + 1 : 1;
    try {
      writeAtomic(this.options.path, { url: this.options.url, state: 'open', openUntil: this.now() + this.options.cooldownMs, failures, reason });
    } catch {
      // a read-only data dir only costs us the skip
    }
  }
}
