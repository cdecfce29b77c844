/**
 * The agent process of the Gatehouse HTTP-agent variants: agents outside the server, as
 * the Claude Code hook and the MCP tool are, each asking through the real client
 * (`server/agents/client/ask.ts`: create-and-wait, `POST /api/permission-requests?wait=S`
 * with an Idempotency-Key, then long-polls should the wait end first). `keepAlive`: the
 * calls reuse keep-alive connections (one per agent in flight), as an HTTP hook or a
 * long-lived agent makes them; otherwise one connection per call, as a hook process
 * makes it. Driven by bench/run.ts over IPC.
 *
 * For several instances (bench/cluster.ts): `baseUrls` (agent w asks baseUrls[w % n]),
 * `agentToken` (each agent a `PinnedServer`: its hello once per connection, then the
 * token on it, as the hook does), `deciders` (request w carries `input.decider`, the
 * client that decides it: `deciderFor`), `rate` (an open loop) and `holdStart` /
 * `holdResult` (asks nobody decides until the runner has killed their instance; an ask
 * whose call broke off asks again, same key and body, on the next instance).
 */
import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { askGatehouse, type AskOutcome } from '../server/agents/client/ask.ts';
import { PinnedServer, type AgentServer } from '../server/agents/client/pinned.ts';
import { BENCH_TIMEOUT_MS, benchRequest, deciderFor, now, num, serveIpc } from './common.ts';
import { unpinned } from './unpinned.ts';

let counter = 0;

/** Agent w's pinned connection to one instance, kept from one `load` to the next (the
 *  warm-up pays the hellos, as a long-lived agent pays its own once). */
const pinned = new Map<string, PinnedServer>();
function pinnedFor(w: number, baseUrl: string, agentToken: string): PinnedServer {
  const key = `${w} ${baseUrl} ${agentToken}`;
  let server = pinned.get(key);
  if (!server) {
    server = new PinnedServer({ baseUrl, agentToken });
    pinned.set(key, server);
  }
  return server;
}

type Learned = { learned: Map<string, number>; failures: string[]; doubleLearned: number };

function note(into: Learned, outcome: AskOutcome): void {
  const t = now();
  if (outcome.kind !== 'finished') {
    if (into.failures.length < 10) into.failures.push(`${outcome.kind}: ${outcome.reason}`);
    return;
  }
  if (into.learned.has(outcome.requestId)) into.doubleLearned++;
  into.learned.set(outcome.requestId, t);
}

/** One ask: `n` numbers the request (its decider tag), `server` the agent's connection. */
function ask(server: AgentServer, n: number, deciders: number, maxMs: number, extra: Record<string, unknown> = {}, key = randomUUID()): Promise<AskOutcome> {
  const request = benchRequest(now(), counter++);
  const input = { ...request.input, ...(deciders > 0 ? { decider: deciderFor(n, deciders) } : {}), ...extra };
  return askGatehouse(
    { ...request, input, timeoutMs: BENCH_TIMEOUT_MS, idempotencyKey: key },
    { server, createTimeoutMs: 10_000, giveUpAt: Date.now() + maxMs, pollSeconds: 30 },
  );
}

const urlsOf = (args: Record<string, unknown>): string[] => (Array.isArray(args.baseUrls) ? (args.baseUrls as string[]) : [String(args.baseUrl)]);

/** The asks `holdStart` began, awaited by `holdResult`. */
let holding: Promise<{ id: string | undefined; learnedAt: number; tries: number; finishedOn: string; outcome: string }[]> | undefined;

serveIpc({
  /** This process's CPU time so far (µs): the runner takes the difference around a section. */
  usage() {
    const used = process.cpuUsage();
    return { cpuUs: used.user + used.system, at: now() };
  },

  async load(args) {
    const baseUrls = urlsOf(args);
    const count = num(args, 'count');
    const inflight = Math.min(num(args, 'inflight'), count);
    const deciders = num(args, 'deciders', 0);
    const agentToken = typeof args.agentToken === 'string' ? args.agentToken : undefined;
    const keepAlive = args.keepAlive === true && !agentToken ? new Agent({ keepAlive: true, maxSockets: inflight, maxFreeSockets: inflight }) : undefined;
    const maxMs = num(args, 'maxMs', 120_000);
    const into: Learned = { learned: new Map(), failures: [], doubleLearned: 0 };
    let issued = 0;
    const t0 = now();
    const worker = async (w: number) => {
      const baseUrl = baseUrls[w % baseUrls.length] as string;
      // With a token: one pinned connection per agent, kept alive (a long-lived agent).
      const server = agentToken ? pinnedFor(w, baseUrl, agentToken) : unpinned(baseUrl, keepAlive);
      while (issued < count && now() - t0 < maxMs) {
        issued++;
        note(into, await ask(server, w, deciders, maxMs));
      }
    };
    await Promise.all(Array.from({ length: inflight }, (_, w) => worker(w)));
    keepAlive?.destroy();
    return { elapsedMs: now() - t0, count: into.learned.size, issued, doubleLearned: into.doubleLearned, failures: into.failures, learned: [...into.learned] };
  },

  /** Open loop: `perSec` asks per second, `count` in all, ask n on baseUrls[n % k], each
   *  on an idle pinned connection to that instance (a new one when none is idle). */
  async rate(args) {
    const baseUrls = urlsOf(args);
    const perSec = num(args, 'perSec');
    const count = num(args, 'count');
    const deciders = num(args, 'deciders', 0);
    const agentToken = String(args.agentToken);
    const maxMs = num(args, 'maxMs', 60_000);
    const idle = baseUrls.map(() => [] as PinnedServer[]);
    const all: PinnedServer[] = [];
    const into: Learned = { learned: new Map(), failures: [], doubleLearned: 0 };
    const asks: Promise<void>[] = [];
    const one = async (n: number) => {
      const i = n % baseUrls.length;
      let server = idle[i]?.pop();
      if (!server) {
        server = new PinnedServer({ baseUrl: baseUrls[i] as string, agentToken });
        all.push(server);
      }
      note(into, await ask(server, n, deciders, maxMs));
      idle[i]?.push(server);
    };
    const t0 = now();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(count, Math.floor(((now() - t0) * perSec) / 1000) + 1);
        while (asks.length < due) asks.push(one(asks.length));
        if (asks.length >= count || now() - t0 > maxMs) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    const createdMs = now() - t0;
    await Promise.race([Promise.all(asks), new Promise((r) => setTimeout(r, maxMs))]);
    for (const s of all) s.close();
    return {
      createdMs,
      elapsedMs: now() - t0,
      issued: asks.length,
      count: into.learned.size,
      doubleLearned: into.doubleLearned,
      failures: into.failures,
      learned: [...into.learned],
    };
  },

  /** `count` agents ask `baseUrls[home]` with create-and-wait (tool `Hold`: no client
   *  decides it); answers at once (the runner sees the requests at its clients). Each
   *  ask whose call breaks off asks again on the next instance with the same key and
   *  body, until it has its outcome (`holdResult`). */
  async holdStart(args) {
    const baseUrls = urlsOf(args);
    const home = num(args, 'home');
    const count = num(args, 'count');
    const agentToken = String(args.agentToken);
    const maxMs = num(args, 'maxMs', 60_000);
    const runs = Array.from({ length: count }, () => {
      const key = randomUUID();
      const trace: string[] = [];
      const request = { ...benchRequest(now(), counter++), toolName: 'Hold' };
      return (async () => {
        for (let tries = 1; ; tries++) {
          const baseUrl = baseUrls[(home + tries - 1) % baseUrls.length] as string;
          const log = (m: string) => trace.push(`${(now() % 100_000).toFixed(0)} ${baseUrl}: ${m}`);
          const server = new PinnedServer({ baseUrl, agentToken, log });
          const outcome = await askGatehouse(
            { ...request, timeoutMs: BENCH_TIMEOUT_MS, idempotencyKey: key },
            { server, createTimeoutMs: 5_000, giveUpAt: Date.now() + maxMs, pollSeconds: 30, log },
          );
          log(`outcome ${outcome.kind}`);
          server.close();
          const learnedAt = now();
          if (outcome.kind === 'finished' || tries >= 2 * baseUrls.length)
            return {
              id: outcome.kind === 'finished' ? outcome.requestId : undefined,
              learnedAt,
              tries,
              finishedOn: baseUrl,
              outcome: outcome.kind === 'finished' ? outcome.decision : `${outcome.kind}: ${outcome.reason}`,
              ...(process.env.BENCH_VERBOSE ? { trace } : {}),
            };
        }
      })();
    });
    holding = Promise.all(runs);
    return null;
  },

  async holdResult() {
    if (!holding) throw new Error('holdStart first');
    const result = await holding;
    holding = undefined;
    return result;
  },

  exit() {
    for (const server of pinned.values()) server.close();
    setImmediate(() => process.exit(0));
    return null;
  },
});

process.send?.({ type: 'ready' });
