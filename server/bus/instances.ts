/**
 * Agents' homes (docs/cluster.md, item 4): an `agent`-origin request's agent lives inside
 * the instance that made it (an SDK session, the demo agent), so when that instance dies
 * nobody waits for the answer any more, and a surviving instance cancels the request
 * with reason `server-restart`, as one instance does at its own restart. Requests created
 * over HTTP stay unresolved: their agents are outside and poll whichever instance.
 *
 * Each request row names its instance (the host records it); each instance keeps a
 * heartbeat row in the store, on the database's clock (no skew between hosts). An
 * instance is dead once its heartbeat is older than `lapseMs`, or its row is gone (a
 * clean stop removes it). At start an instance also cancels what its own previous run
 * left (its id is kept in the data directory), so a restart behaves as on one instance.
 * Several survivors may cancel the same orphan: the log's one-outcome rule keeps one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decidedByWire } from '../../protocol/index.ts';
import type { CancelAnswer } from '../../machines/broker.types.ts';
import type { Logger } from '../log.ts';

export type InstanceStore = {
  registerInstance(id: string): Promise<void>;
  heartbeat(id: string): Promise<void>;
  removeInstance(id: string): Promise<void>;
  orphanedAgentRequests(options: { self: string; includeSelf: boolean; lapseMs: number }): Promise<string[]>;
};

export type InstanceHomeOptions = {
  id: string;
  store: InstanceStore;
  host: { cancel(args: { requestId: string; reason: string; cancelledBy: string }): Promise<CancelAnswer> };
  logger: Logger;
  /** How often the heartbeat is written and orphans are looked for (ms). */
  heartbeatMs: number;
  /** A heartbeat older than this means the instance is dead (ms); a few heartbeats. */
  lapseMs: number;
};

export const DEFAULT_HEARTBEAT_MS = 2_000;
export const DEFAULT_LAPSE_MS = 10_000;

export class InstanceHome {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: InstanceHomeOptions) {}

  get id(): string {
    return this.options.id;
  }

  /** Registers this instance, cancels its previous run's agent requests and the dead
   *  instances' ones, then keeps the heartbeat and looks again every `heartbeatMs`. */
  async start(): Promise<void> {
    await this.options.store.registerInstance(this.options.id);
    await this.sweep(true);
    this.timer = setInterval(() => void this.tick(), this.options.heartbeatMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.sweeping) return;
    try {
      await this.options.store.heartbeat(this.options.id);
    } catch (error) {
      this.options.logger.warn('instance heartbeat failed', { error: String(error) });
      return;
    }
    await this.sweep(false);
  }

  /** One look for orphans; resolves when their cancels are answered. */
  sweep(includeSelf = false): Promise<void> {
    this.sweeping ??= this.sweepOnce(includeSelf).finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(includeSelf: boolean): Promise<void> {
    let ids: string[];
    try {
      ids = await this.options.store.orphanedAgentRequests({ self: this.options.id, includeSelf, lapseMs: this.options.lapseMs });
    } catch (error) {
      this.options.logger.warn('looking for orphaned agent requests failed', { error: String(error) });
      return;
    }
    for (const requestId of ids) {
      if (this.stopped) return;
      try {
        const answer = await this.options.host.cancel({ requestId, reason: 'server-restart', cancelledBy: decidedByWire.server });
        this.options.logger.debug('permissions', 'orphan cancelled', { requestId, result: answer.status });
      } catch (error) {
        this.options.logger.debug('permissions', 'orphan cancel not taken', { requestId, error: String(error) });
      }
    }
  }

  /** A clean stop: the row goes, so survivors cancel this instance's agent requests at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.sweeping?.catch(() => {});
    await this.options.store.removeInstance(this.options.id).catch((error: unknown) => {
      this.options.logger.warn('removing the instance row failed', { error: String(error) });
    });
  }
}

const INSTANCE_FILE = 'instance-id';

/** This data directory's instance id: made once, kept, so a restart knows its own rows. */
export function loadInstanceId(dataDir: string): string {
  const file = join(dataDir, INSTANCE_FILE);
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{4,64}$/.test(id)) return id;
  }
  const id = `gh-${randomBytes(6).toString('hex')}`;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}
