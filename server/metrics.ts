/**
 * Prometheus metrics (prom-client), one Registry per server so in-process tests and
 * several apps never share counters. Gauges that mirror state (connections, requests by
 * state, queue) are read at scrape time through `bindSources`, so nothing has to keep
 * them in step by hand.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CANCEL_REASONS, type RequestStatus } from '../protocol/index.ts';

/** Every label value comes from a closed set, never from client input as such: a label
 *  per distinct value is a new series, which would let any client grow /metrics (and the
 *  server's memory) without bound. Unknown values count as `other`. */
export function closedLabel<T extends string>(value: string, known: readonly T[]): T | 'other' {
  return (known as readonly string[]).includes(value) ? (value as T) : 'other';
}

export const cancelReasonLabel = (reason: string) => closedLabel(reason, CANCEL_REASONS);
export const DECISION_CHANNELS = ['ws', 'http', 'rule', 'agent'] as const;
export const decisionChannelLabel = (via: string | undefined) => closedLabel(via ?? 'other', DECISION_CHANNELS);

export type MetricSources = {
  connections: () => number;
  requestsByStatus: () => Record<RequestStatus, number> | Promise<Record<RequestStatus, number>>;
  queue: () => { pending: number; processing: number };
  head: () => number;
};

export function createMetrics(options: { defaultMetrics?: boolean; instance?: string } = {}) {
  const registry = new Registry();
  // Several instances (docs/cluster.md): every series names the one it came from.
  if (options.instance !== undefined) registry.setDefaultLabels({ instance: options.instance });
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  let sources: MetricSources | undefined;

  const metrics = {
    registry,
    connections: new Gauge({
      name: 'gatehouse_ws_connections',
      help: 'Open WebSocket connections',
      registers: [registry],
      collect() {
        this.set(sources?.connections() ?? 0);
      },
    }),
    connectionsTotal: new Counter({ name: 'gatehouse_ws_connections_total', help: 'WebSocket connections accepted', registers: [registry] }),
    requests: new Gauge({
      name: 'gatehouse_requests',
      help: 'Stored permission requests by status (pending = unresolved)',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        const counts = await sources?.requestsByStatus();
        if (!counts) return;
        for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      },
    }),
    queue: new Gauge({
      name: 'gatehouse_queue',
      help: 'Queue status as sent to clients (pending, processing)',
      labelNames: ['kind'] as const,
      registers: [registry],
      collect() {
        const q = sources?.queue();
        if (!q) return;
        this.set({ kind: 'pending' }, q.pending);
        this.set({ kind: 'processing' }, q.processing);
      },
    }),
    head: new Gauge({
      name: 'gatehouse_stream_head_seq',
      help: 'Seq of the last persisted event',
      registers: [registry],
      collect() {
        this.set(sources?.head() ?? 0);
      },
    }),
    seqConflicts: new Counter({
      name: 'gatehouse_seq_conflicts_total',
      help: 'Batches that lost the seq race to another instance and ran again after catching up (docs/cluster.md)',
      registers: [registry],
    }),
    createRefusals: new Counter({
      name: 'gatehouse_request_create_refusals_total',
      help: 'Creates refused with 429 by --max-unresolved (count) or --max-unresolved-bytes (bytes)',
      labelNames: ['limit'] as const,
      registers: [registry],
    }),
    requestsCreated: new Counter({
      name: 'gatehouse_requests_created_total',
      help: 'Permission requests created',
      labelNames: ['origin'] as const,
      registers: [registry],
    }),
    decisions: new Counter({
      name: 'gatehouse_decisions_total',
      help: 'Accepted decisions by kind and channel',
      labelNames: ['decision', 'via'] as const,
      registers: [registry],
    }),
    decisionRejections: new Counter({
      name: 'gatehouse_decision_rejections_total',
      help: 'Refused decisions by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    timeouts: new Counter({ name: 'gatehouse_timeouts_total', help: 'Requests that timed out', registers: [registry] }),
    cancellations: new Counter({ name: 'gatehouse_cancellations_total', help: 'Requests cancelled', labelNames: ['reason'] as const, registers: [registry] }),
    events: new Counter({ name: 'gatehouse_events_total', help: 'Sequenced events persisted, by type', labelNames: ['type'] as const, registers: [registry] }),
    resumes: new Counter({ name: 'gatehouse_ws_resumes_total', help: 'Connections resumed from since', registers: [registry] }),
    snapshotFallbacks: new Counter({
      name: 'gatehouse_ws_snapshot_fallbacks_total',
      help: 'Connections served a snapshot, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    sendFailures: new Counter({ name: 'gatehouse_ws_send_failures_total', help: 'Failed socket writes', registers: [registry] }),
    slowConsumers: new Counter({ name: 'gatehouse_ws_slow_consumer_closes_total', help: 'Sockets closed with 4000', registers: [registry] }),
    invalidMessages: new Counter({ name: 'gatehouse_ws_invalid_messages_total', help: 'Client frames refused as invalid', registers: [registry] }),
    rateLimited: new Counter({ name: 'gatehouse_ws_rate_limited_total', help: 'Client frames dropped by the rate limit', registers: [registry] }),
    policyCloses: new Counter({
      name: 'gatehouse_ws_policy_closes_total',
      help: 'Sockets closed with 1008 or 1009',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    framesIn: new Counter({ name: 'gatehouse_ws_frames_in_total', help: 'Client frames received', registers: [registry] }),
    framesOut: new Counter({ name: 'gatehouse_ws_frames_out_total', help: 'Frames written to sockets', registers: [registry] }),
    persistSeconds: new Histogram({
      name: 'gatehouse_persist_seconds',
      help: 'Time to commit one tick of records',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    persistBatchSize: new Histogram({
      name: 'gatehouse_persist_batch_records',
      help: 'Records per committed tick',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    longPolls: new Gauge({ name: 'gatehouse_http_long_polls', help: 'Open long-polls', registers: [registry] }),
    httpRefusals: new Counter({
      name: 'gatehouse_http_refusals_total',
      help: 'Refused HTTP requests and upgrades',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    bindSources(next: MetricSources) {
      sources = next;
    },
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
