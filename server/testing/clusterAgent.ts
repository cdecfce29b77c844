/**
 * Test helper for the cluster suite (SPEC.md TEAM-C1): an HTTP agent as contract-2
 * section 2 describes one, on a cluster. It asks with create-and-wait
 * (`POST /api/permission-requests?wait=S`, the agent token, an `Idempotency-Key`) on its
 * home instance; when that instance is down or the call breaks off, it asks again with
 * the same key and body on another live instance (it cannot know whether the first call
 * was stored), then long-polls until the request is finished. What it was told is
 * written down: the first 200/201 is an acknowledged create that must not be lost.
 */
import type { Cluster, ClusterInstance } from './cluster.ts';
import type { Random } from './random.ts';

export type AgentAsk = {
  agent: string;
  key: string;
  body: { toolName: string; input: Record<string, unknown>; context: Record<string, unknown> };
  /** The request id of the first 200/201, and the instance that gave it. */
  id?: string;
  createdOn?: string;
  /** Calls that broke off (the instance killed) or were refused with 503, by instance. */
  retries: string[];
  /** The finished request view, as the agent last read it. */
  outcome?: Record<string, any>;
};

export type ClusterAgentOptions = {
  name: string;
  home: ClusterInstance;
  cluster: Cluster;
  rng: Random;
  count: number;
  /** Seconds per create-and-wait and per long-poll (contract-2: 0 to 60). */
  waitS: number;
  /** Every ask must finish within this. */
  askTimeoutMs: number;
  /** Default `Bash`. */
  toolName?: string;
  /** Called with each acknowledged create (the test's clock of the run). */
  onCreated?: (ask: AgentAsk) => void;
};

const finished = (status: unknown) => status === 'resolved' || status === 'timedOut' || status === 'cancelled';

export async function runClusterAgent(options: ClusterAgentOptions): Promise<AgentAsk[]> {
  const { cluster, rng } = options;
  const asks: AgentAsk[] = [];
  const pick = (): ClusterInstance => {
    if (options.home.alive) return options.home;
    const live = cluster.live();
    if (live.length === 0) throw new Error(`${options.name}: no live instance`);
    return rng.pick(live);
  };
  // One call to a live instance; a broken-off call (connection refused or reset: the
  // instance died) or a 503 (it is stopping) is retried on another, up to a bound.
  const call = async (ask: AgentAsk, path: string, init: { method: string; json?: unknown; headers?: Record<string, string> }, deadline: number) => {
    for (let attempt = 0; ; attempt++) {
      if (Date.now() > deadline || attempt > 50)
        throw new Error(`${options.name}: ${init.method} ${path} got no answer in time (retries: ${ask.retries.join(', ')})`);
      const instance = pick();
      try {
        const res = await instance.server.api(path, { ...init, token: cluster.agentToken });
        if (res.status === 503) {
          ask.retries.push(`${instance.name}:503`);
          continue;
        }
        return { res, instance };
      } catch (error) {
        ask.retries.push(`${instance.name}:${(error as Error).message}`);
        // The instance is gone: the next pick takes another (kill9 marked it down first).
        if (instance.alive && instance.server.proc.exitCode === null && instance.server.proc.signalCode === null) throw error;
      }
    }
  };

  for (let n = 0; n < options.count; n++) {
    const ask: AgentAsk = {
      agent: options.name,
      key: rng.uuid(),
      body: {
        toolName: options.toolName ?? 'Bash',
        input: { command: `make step-${n}`, agent: options.name },
        context: { sessionId: `${options.name}-session`, agent: 'cluster-test', cwd: `/work/${options.name}` },
      },
      retries: [],
    };
    asks.push(ask);
    const deadline = Date.now() + options.askTimeoutMs;
    let view: Record<string, any> | undefined;
    // Create-and-wait (`call` asks again with the same key where a call broke off).
    const created = await call(
      ask,
      `/api/permission-requests?wait=${options.waitS}`,
      { method: 'POST', json: ask.body, headers: { 'Idempotency-Key': ask.key } },
      deadline,
    );
    if (created.res.status !== 200 && created.res.status !== 201)
      throw new Error(`${options.name}: create on ${created.instance.name} answered ${created.res.status} ${created.res.text}`);
    ask.id = created.res.body.id;
    ask.createdOn = created.instance.name;
    options.onCreated?.(ask);
    if (created.res.status === 200 && finished(created.res.body.status)) view = created.res.body;
    // Long-poll until it is finished, on whichever instance is alive.
    while (view === undefined) {
      const { res, instance } = await call(ask, `/api/permission-requests/${ask.id}?wait=${options.waitS}`, { method: 'GET' }, deadline);
      if (res.status !== 200) throw new Error(`${options.name}: reading ${ask.id} on ${instance.name} answered ${res.status} ${res.text}`);
      if (finished(res.body.status)) view = res.body;
    }
    ask.outcome = view;
  }
  return asks;
}
