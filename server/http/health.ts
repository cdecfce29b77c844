/**
 * `/healthz` (liveness, no token), `/readyz` (the store is open and answers, and the
 * server is not stopping; it names the store and, with --bus, the bus and the instance,
 * contract-2 §6) and `/metrics` (Prometheus
 * text).
 */
import { Hono } from 'hono';
import { ERROR_CODES, type HealthAnswer, type ReadyAnswer } from '../../protocol/index.ts';
import type { BrokerHost } from '../brokerHost.ts';
import type { Metrics } from '../metrics.ts';
import type { EventStore } from '../store/types.ts';
import { errorResponse } from './errors.ts';

/** Which store serves this instance, and a round trip to it. */
export type StoreInfo = { kind: 'sqlite' | 'postgres'; ping(): Promise<void> };

/** The bus between instances (--bus), and this instance's id (docs/cluster.md). */
export type BusInfo = { kind: 'nats'; instance: string; isConnected(): boolean };

/** A store that does not answer within this is not ready (a load balancer's probe has its own timeout). */
const PING_TIMEOUT_MS = 2_000;

async function pingWithin(ping: () => Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([ping(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(deps: {
  store: EventStore;
  storeInfo?: StoreInfo;
  busInfo?: BusInfo;
  host: BrokerHost;
  metrics: Metrics;
  isStopping: () => boolean;
}): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json<HealthAnswer>({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    if (deps.isStopping()) return errorResponse(c, 503, ERROR_CODES.unavailable, 'the server is stopping');
    if (!deps.store.isOpen() || deps.host.isStopped) return errorResponse(c, 503, ERROR_CODES.unavailable, 'the store is not open');
    const info = deps.storeInfo;
    if (info) {
      try {
        await pingWithin(() => info.ping(), PING_TIMEOUT_MS);
      } catch (error) {
        return errorResponse(c, 503, ERROR_CODES.unavailable, `the ${info.kind} store does not answer: ${(error as Error).message}`);
      }
    }
    const bus = deps.busInfo;
    // A closed bus is not ready: the follower would only poll, and its commits would go
    // unannounced (a reconnecting one stays open).
    if (bus && !bus.isConnected()) return errorResponse(c, 503, ERROR_CODES.unavailable, 'the bus (NATS) is closed');
    return c.json<ReadyAnswer>({
      status: 'ready',
      epoch: deps.host.epoch,
      seq: deps.host.head(),
      ...(info ? { store: info.kind } : {}),
      ...(bus ? { bus: bus.kind, instance: bus.instance } : {}),
    });
  });
  app.get('/metrics', async (c) => {
    const text = await deps.metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': deps.metrics.registry.contentType });
  });
  return app;
}
