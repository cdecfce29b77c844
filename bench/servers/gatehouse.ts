/**
 * Gatehouse as shipped, for the benchmark: the real server built the way
 * `server/cli/serve.ts` builds it (parseServeArgs -> startServer, with the agents plugin
 * when present), SQLite in a temp data dir, persist-before-send untouched. The agent is
 * in-process, as an SDK agent is: `host.create(...)` (resolves after the commit), then it
 * waits for the request's outcome (`host.awaitOutcome(id)` where the host has it, else
 * the outcome event from `host.onCommitted`). Only the RunningServer's public surface is
 * used (no broker or store internals), so the bench survives their rewrites.
 *
 * `plugins: false` leaves the agents plugin out (the `gatehouse-core` diagnostic column).
 *
 * The one setting changed from the defaults is the per-connection rate limit: one
 * benchmark client acks and decides every request, 2 frames per round trip, and the
 * default 2,000 frames/s would cap the run at 1,000 round trips/s (the limiter is not
 * what is being measured). It is an abuse bound, not part of durability.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUTCOME_EVENT_TYPES, type SequencedEvent } from '../../protocol/index.ts';
import { parseServeArgs } from '../../server/config.ts';
import { createLogger } from '../../server/log.ts';
import createAgentsPlugin from '../../server/agents/plugin.ts';
import { startServer } from '../../server/server.ts';
import type { AgentOutcome, AskOptions, BenchRequest, BenchServer } from './types.ts';
import { randomUUID } from 'node:crypto';

export const BENCH_RATE_LIMIT = 1_000_000;

const OUTCOMES = new Set<string>(OUTCOME_EVENT_TYPES);

export async function startGatehouseServer(options: { plugins: boolean }): Promise<BenchServer> {
  const dataDir = process.env.BENCH_DATA_DIR || mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const parsed = parseServeArgs(
    ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--no-auth', '--agent', 'demo', '--rate-limit', String(BENCH_RATE_LIMIT)],
    {},
  );
  if (parsed.help) throw new Error('unexpected --help');
  const logger = createLogger(parsed.config.debug !== undefined ? { debug: parsed.config.debug } : {});
  const server = await startServer(parsed.config, { logger, plugins: options.plugins ? [createAgentsPlugin] : [] });
  const host = server.host;

  // The in-process agent's side: each request's outcome. `awaitOutcome(id)` where the host
  // has it (ISSUE-10, "an honest broker"); else the outcome events, delivered after their
  // commit. Either way what an in-process SDK agent sees, through the RunningServer's host.
  const awaitOutcome = (host as unknown as { awaitOutcome?: (id: string) => Promise<unknown> }).awaitOutcome?.bind(host);
  const waiting = new Map<string, (outcome: AgentOutcome) => void>();
  if (!awaitOutcome) {
    host.onCommitted((events: readonly SequencedEvent[]) => {
      for (const event of events) {
        if (!OUTCOMES.has(event.type)) continue;
        const requestId = (event as { requestId: string }).requestId;
        const resolve = waiting.get(requestId);
        if (!resolve) continue;
        waiting.delete(requestId);
        resolve({ id: requestId, decision: event.type === 'permission-resolved' ? event.decision : 'deny' });
      }
    });
  }
  const decisionOf = (outcome: unknown): string => {
    const o = outcome as { decision?: unknown; type?: unknown; status?: unknown } | undefined;
    return o?.decision === 'allow' && (o.type === undefined || o.type === 'permission-resolved') && (o.status === undefined || o.status === 'resolved')
      ? 'allow'
      : 'deny';
  };

  return {
    port: server.port,
    async ask(request: BenchRequest, options: AskOptions): Promise<AgentOutcome> {
      // Our id, so that the waiter exists before the request can possibly be decided.
      const id = randomUUID();
      const outcome = awaitOutcome ? undefined : new Promise<AgentOutcome>((resolve) => waiting.set(id, resolve));
      const answer = await host.create({ id, ...request, timeoutMs: options.timeoutMs, origin: options.origin ?? 'agent' });
      if (answer.status !== 'created') {
        waiting.delete(id);
        throw new Error(`create answered ${answer.status}`);
      }
      if (outcome) return outcome;
      return { id, decision: decisionOf(await awaitOutcome!(id)) };
    },
    unresolved: () => host.queueStatus().pending,
    close: () => server.stop(),
  };
}
