/**
 * The exactly-once checks shared by every scenario (bench/run.ts, bench/cluster.ts): what
 * the agents learned against what the clients received and decided.
 */
import type { Child } from './child.ts';
import { dist, type Dist } from './common.ts';

export type LoadResult = {
  elapsedMs: number;
  cpu?: number;
  count: number;
  issued: number;
  doubleLearned: number;
  learned: [string, number][];
  failures?: string[];
};
export type Collected = {
  cpu: number;
  receipt: Dist;
  allClients: Dist;
  incomplete: number;
  duplicates: number;
  problems: string[];
  decided: [string, number][];
};

/** decision -> agent: when the agent learned each outcome minus when the client sent it. */
export function decisionToAgent(load: LoadResult, collected: Collected): Dist {
  const decided = new Map(collected.decided);
  const values: number[] = [];
  for (const [id, learnedAt] of load.learned) {
    const t = decided.get(id);
    if (t !== undefined) values.push(learnedAt - t);
  }
  return dist(values);
}

/** After an open loop, the agents may have learned every outcome while the client
 *  process is still reading its sockets: wait (bounded) until every client holds every
 *  request; what is still missing after that counts as lost in `checkLoop`. */
export async function settleClients(client: Child, count: number): Promise<void> {
  await client.call('waitReceived', { count, all: true, timeoutMs: 20_000 }).catch(() => {});
}

/** The exactly-once expectations of a closed or open loop. */
export function checkLoop(what: string, load: LoadResult, collected: Collected, expected: number, checks: string[]) {
  if (load.count !== expected) checks.push(`${what}: the agents learned ${load.count} outcomes, expected ${expected}`);
  if (load.doubleLearned) checks.push(`${what}: ${load.doubleLearned} outcomes learned twice`);
  if (collected.duplicates) checks.push(`${what}: ${collected.duplicates} requests delivered twice to one client`);
  if (collected.decided.length !== expected) checks.push(`${what}: ${collected.decided.length} decisions sent, expected ${expected}`);
  if (collected.incomplete) checks.push(`${what}: ${collected.incomplete} requests did not reach every client`);
  for (const p of collected.problems.slice(0, 3)) checks.push(`${what}: ${p}`);
  for (const f of load.failures?.slice(0, 3) ?? []) checks.push(`${what}: ${f}`);
  const negative = collected.receipt.min < -0.2;
  if (negative) checks.push(`${what}: negative latency ${collected.receipt.min.toFixed(3)} ms (clock skew between processes)`);
}
