/** Types for permissionRun.js. */
export type RunOptions = {
  baseUrl: string;
  token: string | undefined;
  wsUrl: (params: Record<string, string | number | undefined>) => string;
  clients?: number;
  agents?: number;
  requests?: number;
  perAgent?: number;
  raceEvery?: number;
  cancelEvery?: number;
  timeoutEvery?: number;
  shortTimeoutMs?: number;
  timeoutMs?: number;
  reconnectEveryMs?: number;
  deadlineMs?: number;
  fault?: string;
  /** Seeds the order in which clients are cut (reconnectEveryMs). */
  seed?: number;
  log?: (line: string) => void;
};
export type RunFigures = {
  requests: number;
  clients: number;
  agents: number;
  inFlight: number;
  elapsedMs: number;
  requestsPerSecond: number;
  eventsDeliveredPerSecond: number;
  decisionsSent: number;
  racedRequests: number;
  reconnects: number;
  outcomes: Record<string, number>;
  latency: { createToClient: string; createTo201: string; decisionToAgent: string };
};
export type RunResult = { ok: boolean; violations: string[]; figures: RunFigures };
export declare function mulberry32(seed: number): () => number;
export declare function runPermissions(options: RunOptions): Promise<RunResult>;
export declare function report(title: string, result: RunResult, log?: (line: string) => void): number;
