/**
 * The server side of one benchmarked system, as the in-process agent loop sees it:
 * ask (create a request and wait until the agent learns its outcome), and close.
 */
import type { benchRequest } from '../common.ts';

export type BenchRequest = ReturnType<typeof benchRequest>;

/** What the agent learns: the request's id and its decision. */
export type AgentOutcome = { id: string; decision: string };

export type AskOptions = {
  timeoutMs: number;
  /** Gatehouse only: `http` makes the request survive a restart (as a hook's does). */
  origin?: 'agent' | 'http';
};

export interface BenchServer {
  readonly port: number;
  /** Creates a request as an in-process agent does and resolves when the agent learns
   *  the outcome. Must settle exactly once per call. */
  ask(request: BenchRequest, options: AskOptions): Promise<AgentOutcome>;
  /** How many requests have no outcome yet (a check, not a measurement). */
  unresolved(): number;
  close(): Promise<void>;
}
