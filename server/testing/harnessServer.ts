/**
 * The harness's ONE adapter to the server's composition: builds the real store (SQLite
 * in a data dir), broker host, hub and Hono app exactly as `server.ts` wires them, minus
 * the HTTP listener, and reads the server's truth back (the stored log, the queue).
 *
 * Everything the harness knows about BrokerHost, Hub and the store's API is in this file,
 * so a change of the host's API (issue 10: an honest broker, an asynchronous store) is
 * adapted here alone. The reads are already asynchronous for that reason.
 */
import type { Hono } from 'hono';
import type { SimulatedClock } from 'xstate';
import type { SequencedEvent } from '../../protocol/index.ts';
import { createApp } from '../app.ts';
import { BrokerHost } from '../brokerHost.ts';
import { type FaultPoint, testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { createMetrics } from '../metrics.ts';
import { buildAllowList } from '../security/allowList.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import { Hub } from '../ws/hub.ts';
import type { Upgrader } from '../ws/upgrade.ts';

export const HARNESS_PORT = 3000;
export const HARNESS_ORIGIN = `http://127.0.0.1:${HARNESS_PORT}`;

export type ServerTokens = { owner: string; agent: string };

export type ServerUnderTestOptions = {
  dataDir: string;
  clock: SimulatedClock;
  tokens: ServerTokens;
  /** The fake upgrader whose sockets are the harness's FakeLinks. */
  upgrader: Upgrader;
  /** Hub bound for a client's unread bytes (the slow-consumer rule). */
  maxBufferedBytes?: number;
  /** No snapshot frame larger than this (smaller: snapshots go out in paced parts). */
  snapshotFrameBytes?: number;
  /** A commit failed: the harness records it (a crash makes the old host's last tick fail). */
  onFatal(error: unknown): void;
};

export type ServerUnderTest = {
  app: Hono;
  epoch: string;
  /** Commit what the host buffered now, and relay it (the explicit flush of a tick). */
  tick(): void;
  /** Nothing buffered in the host: its memory equals what is committed and relayed. */
  isQuiet(): boolean;
  /** The whole stored stream, oldest first. */
  log(): Promise<SequencedEvent[]>;
  queueStatus(): { pending: number; processing: number };
  /** Die (kill -9) at that exact point of the next tick that reaches it; `onCrash` runs
   *  right there, inside the host's flush. Call `stop('crash')` afterwards. */
  armCrash(point: FaultPoint, onCrash: (point: FaultPoint) => void): void;
  /** `graceful`: what SIGTERM does (commit, close sockets with 1001, stop). `crash`:
   *  kill -9 (the tick still buffered is lost, sockets die without a close). */
  stop(mode: 'graceful' | 'crash'): Promise<void>;
};

export async function startServerUnderTest(options: ServerUnderTestOptions): Promise<ServerUnderTest> {
  const store = new SqliteEventStore({ dataDir: options.dataDir });
  const metrics = createMetrics();
  let crashed = false;
  let armed: { point: FaultPoint; onCrash: (point: FaultPoint) => void } | undefined;
  const host = new BrokerHost(
    {
      store,
      logger: silentLogger,
      metrics,
      clock: options.clock,
      // The fault switch of the chaos suite (docs/testing.md), in-process: at the armed
      // point the process "dies": the store takes nothing more, and the harness cuts every
      // socket and drops every answer still to come (the host's stop follows, off its stack).
      fault: (point) => {
        if (!armed || armed.point !== point) return;
        const { onCrash } = armed;
        armed = undefined;
        crashed = true;
        void store.close();
        onCrash(point);
      },
      onFatal: (error) => {
        if (!crashed) options.onFatal(error);
      },
    },
    store.loadNow({ now: options.clock.now() }),
  );
  const hub = new Hub({
    host,
    store,
    logger: silentLogger,
    metrics,
    maxBufferedBytes: options.maxBufferedBytes ?? 8 << 20,
    // Pings are the browsers' (their own machine, on the simulated clock); the hub's
    // interval is a fake timer the harness never reaches.
    pingIntervalMs: 2_000_000_000,
    rateLimit: 1_000_000,
    // Queue status at once (a 0 ms fake timer, run by the harness's settle).
    queueStatusIntervalMs: 0,
    ...(options.snapshotFrameBytes !== undefined ? { maxFrameBytes: options.snapshotFrameBytes } : {}),
  });
  const allowList = buildAllowList({ bindHost: '127.0.0.1', port: HARNESS_PORT, extraOrigins: [], extraHosts: [] });
  let stopping = false;
  const app = createApp({
    config: testConfig({ dataDir: options.dataDir }),
    store,
    host,
    security: { auth: true, token: options.tokens.owner, agentToken: options.tokens.agent, port: () => HARNESS_PORT, allowList: () => allowList },
    logger: silentLogger,
    metrics,
    hub,
    upgrader: options.upgrader,
    isStopping: () => stopping,
  });

  const isQuiet = () => {
    if (host.isStopped) return true;
    let quiet = false;
    // whenQuiet runs its callback at once exactly when nothing is buffered.
    host.whenQuiet(() => {
      quiet = true;
    });
    return quiet;
  };

  return {
    app,
    epoch: host.epoch,
    tick: () => {
      if (!host.isStopped) host.flush();
    },
    isQuiet,
    log: async () => {
      const result = await store.eventsSince(0);
      if (!result.ok) throw new Error(`the stored stream is not whole: ${result.reason}`);
      return result.events;
    },
    queueStatus: () => host.queueStatus(),
    armCrash: (point, onCrash) => {
      armed = { point, onCrash };
    },
    stop: async (mode) => {
      stopping = true;
      if (mode === 'graceful') {
        // The order of server.ts's stop(), without the HTTP listener.
        host.flush();
        await host.drain();
        hub.closeAll(1001, 'server stopping');
        await host.stop();
        await new Promise<void>((resolve) => setImmediate(resolve));
        await store.close();
      } else {
        // The process is gone: nothing more reaches the disk, the tick in memory is lost.
        crashed = true;
        await store.close();
        await host.stop();
      }
      hub.dispose();
    },
  };
}
