/**
 * `/healthz` (liveness, no token), `/readyz` (the store is open and the server is not
 * stopping) and `/metrics` (Prometheus text).
 */
import { Hono } from 'hono';
import { ERROR_CODES, type HealthAnswer, type ReadyAnswer } from '../../protocol/index.ts';
import type { BrokerHost } from '../brokerHost.ts';
import type { Metrics } from '../metrics.ts';
import type { EventStore } from '../store/types.ts';
import { errorResponse } from './errors.ts';

export function healthRoutes(deps: { store: EventStore; host: BrokerHost; metrics: Metrics; isStopping: () => boolean }): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json<HealthAnswer>({ status: 'ok' }));
  app.get('/readyz', (c) => {
    if (deps.isStopping()) return errorResponse(c, 503, ERROR_CODES.unavailable, 'the server is stopping');
    if (!deps.store.isOpen() || deps.host.isStopped) return errorResponse(c, 503, ERROR_CODES.unavailable, 'the store is not open');
    return c.json<ReadyAnswer>({ status: 'ready', epoch: deps.host.epoch, seq: deps.host.head() });
  });
  app.get('/metrics', async (c) => {
    const text = await deps.metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': deps.metrics.registry.contentType });
  });
  return app;
}
