/**
 * The agent process of the Gatehouse HTTP-agent variants: agents outside the server, as
 * the Claude Code hook and the MCP tool are, each asking through the real client
 * (`server/agents/client/ask.ts`: create-and-wait, `POST /api/permission-requests?wait=S`
 * with an Idempotency-Key, then long-polls should the wait end first). `keepAlive`: the
 * calls reuse keep-alive connections (one per agent in flight), as an HTTP hook or a
 * long-lived agent makes them; otherwise one connection per call, as a hook process
 * makes it. Driven by bench/run.ts over IPC.
 */
import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { askGatehouse } from '../server/agents/client/ask.ts';
import { httpJson } from '../server/agents/client/http.ts';
import type { AgentServer } from '../server/agents/client/pinned.ts';
import { BENCH_TIMEOUT_MS, benchRequest, now, num, serveIpc } from './common.ts';

let counter = 0;

serveIpc({
  async load(args) {
    const baseUrl = String(args.baseUrl);
    const count = num(args, 'count');
    const inflight = Math.min(num(args, 'inflight'), count);
    const keepAlive = args.keepAlive === true ? new Agent({ keepAlive: true, maxSockets: inflight, maxFreeSockets: inflight }) : undefined;
    // The bench server runs with --no-auth: no agent token, so no hello to prove it
    // (real clients always pin: server/agents/client/pinned.ts).
    const server: AgentServer = {
      baseUrl,
      prove: async () => ({ ok: true }),
      call: (method, path, o) => httpJson(method, `${baseUrl}${path}`, keepAlive ? { ...o, agent: keepAlive } : o),
      forget() {},
      close() {},
    };
    const maxMs = num(args, 'maxMs', 120_000);
    const learned = new Map<string, number>();
    const failures: string[] = [];
    let doubleLearned = 0;
    let issued = 0;
    const t0 = now();
    const worker = async () => {
      while (issued < count && now() - t0 < maxMs) {
        issued++;
        const request = benchRequest(now(), counter++);
        const outcome = await askGatehouse(
          { ...request, timeoutMs: BENCH_TIMEOUT_MS, idempotencyKey: randomUUID() },
          { server, createTimeoutMs: 10_000, giveUpAt: Date.now() + maxMs, pollSeconds: 30 },
        );
        const t = now();
        if (outcome.kind !== 'finished') {
          if (failures.length < 10) failures.push(`${outcome.kind}: ${outcome.reason}`);
          continue;
        }
        if (learned.has(outcome.requestId)) doubleLearned++;
        learned.set(outcome.requestId, t);
      }
    };
    await Promise.all(Array.from({ length: inflight }, worker));
    keepAlive?.destroy();
    return { elapsedMs: now() - t0, count: learned.size, issued, doubleLearned, failures, learned: [...learned] };
  },
  exit() {
    setImmediate(() => process.exit(0));
    return null;
  },
});

process.send?.({ type: 'ready' });
