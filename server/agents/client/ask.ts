/**
 * Asks a Gatehouse server for a decision over HTTP (protocol-v1.md §4), the path shared
 * by the Claude Code hook and the MCP permission tool: create the request with an
 * Idempotency-Key, wait with bounded long-polls in a loop, and cancel it (DELETE) when
 * the caller gives up or is killed. Never throws: every way it can end is a value, so
 * the callers map each one to their own answer.
 */
import type { Decision, RequestStatus } from '../../../protocol/index.ts';
import { HttpFailure, httpJson, type HttpResult } from './http.ts';

export type AskSpec = {
  toolName: string;
  input: Record<string, unknown>;
  context: Record<string, unknown>;
  /** Omitted: the server's default request timeout applies. */
  timeoutMs?: number;
  idempotencyKey: string;
};

export type AskOptions = {
  baseUrl: string;
  token?: string;
  /** Budget for creating the request: an unreachable or silent server costs at most this. */
  createTimeoutMs: number;
  /** Absolute time (ms) at which to stop waiting, cancel, and give up. */
  giveUpAt: number;
  /** Also give up this long after the request's own `expiresAt` (when the server's
   *  timeout deny should long have arrived). */
  graceAfterExpiresMs?: number;
  /** Aborts the wait (the process is being killed): cancel, then return `gave-up`. */
  signal?: AbortSignal;
  /** Longest single long-poll, in seconds (the server caps at 60; Node's fetch at 300). */
  pollSeconds?: number;
  /** How long the server may stay unreachable during the wait before we stop. */
  lostAfterMs?: number;
  log?: (message: string) => void;
  now?: () => number;
};

export type AskOutcome =
  | {
      kind: 'finished';
      requestId: string;
      status: Exclude<RequestStatus, 'pending'>;
      decision: Decision;
      updatedInput?: Record<string, unknown>;
      message?: string;
      decidedBy?: string;
    }
  /** The server could not be used: `down` when it did not answer at all (trips the breaker). */
  | { kind: 'unavailable'; down: boolean; reason: string }
  /** We stopped waiting (deadline or signal); the request was cancelled if it existed. */
  | { kind: 'gave-up'; requestId?: string; reason: string };

type RequestViewLike = {
  id?: unknown;
  status?: unknown;
  decision?: unknown;
  updatedInput?: unknown;
  message?: unknown;
  decidedBy?: unknown;
};

function errorText(result: HttpResult): string {
  const body = result.body as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof body?.error?.code === 'string' ? body.error.code : `http-${result.status}`;
  const message = typeof body?.error?.message === 'string' ? body.error.message : result.text.slice(0, 200);
  return `${code}: ${message}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A request view that has left `pending`, as an outcome; undefined while pending or malformed. */
export function outcomeOf(view: RequestViewLike, requestId: string): Extract<AskOutcome, { kind: 'finished' }> | undefined {
  const status = view.status;
  if (status !== 'resolved' && status !== 'timedOut' && status !== 'cancelled') return undefined;
  const decision: Decision = view.decision === 'allow' && status === 'resolved' ? 'allow' : 'deny';
  return {
    kind: 'finished',
    requestId,
    status,
    decision,
    updatedInput: isObject(view.updatedInput) ? view.updatedInput : undefined,
    message: typeof view.message === 'string' && view.message ? view.message : undefined,
    decidedBy: typeof view.decidedBy === 'string' ? view.decidedBy : undefined,
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export async function askGatehouse(spec: AskSpec, options: AskOptions): Promise<AskOutcome> {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const api = `${options.baseUrl}/api/permission-requests`;

  // 1. Create (idempotent: a retried hook finds the same request).
  let created: HttpResult;
  try {
    created = await httpJson('POST', api, {
      headers: { ...headers, 'idempotency-key': spec.idempotencyKey },
      body: { toolName: spec.toolName, input: spec.input, context: spec.context, timeoutMs: spec.timeoutMs },
      timeoutMs: options.createTimeoutMs,
      signal: options.signal,
    });
  } catch (error) {
    const failure = error as HttpFailure;
    if (failure.kind === 'aborted') return { kind: 'gave-up', reason: 'stopped before the request was created' };
    return { kind: 'unavailable', down: true, reason: failure.message };
  }
  if (created.status !== 200 && created.status !== 201) {
    // The server answered: it is up, but refused us (bad token, bad input, overload).
    return { kind: 'unavailable', down: created.status >= 500, reason: `the server refused the request (${errorText(created)})` };
  }
  const createdBody = created.body as RequestViewLike | undefined;
  const requestId = typeof createdBody?.id === 'string' ? createdBody.id : undefined;
  if (!requestId) return { kind: 'unavailable', down: false, reason: 'the server answered without a request id' };
  log(`created ${requestId} (${created.status})`);
  // A retried create may find the request already finished.
  const early = createdBody ? outcomeOf(createdBody, requestId) : undefined;
  if (early) return early;
  const expiresAt = (createdBody as { expiresAt?: unknown } | undefined)?.expiresAt;
  const giveUpAt =
    options.graceAfterExpiresMs !== undefined && typeof expiresAt === 'number' ? Math.min(options.giveUpAt, expiresAt + options.graceAfterExpiresMs) : options.giveUpAt;

  const cancel = async (reason: string): Promise<AskOutcome> => {
    try {
      const answer = await httpJson('DELETE', `${api}/${encodeURIComponent(requestId)}`, { headers, timeoutMs: 1000 });
      // 409: it finished meanwhile; its outcome wins over our give-up.
      if (answer.status === 409 && isObject(answer.body)) {
        const view = isObject(answer.body.request) ? answer.body.request : answer.body;
        const finished = outcomeOf(view, requestId);
        if (finished && finished.status !== 'cancelled') return finished;
      }
      log(`cancelled ${requestId}: ${answer.status}`);
    } catch (error) {
      log(`cancel of ${requestId} failed: ${(error as Error).message}`);
    }
    return { kind: 'gave-up', requestId, reason };
  };

  // 2. Wait with bounded long-polls.
  const pollSeconds = Math.max(1, Math.min(options.pollSeconds ?? 25, 60));
  const lostAfterMs = options.lostAfterMs ?? 3000;
  let failingSince: number | undefined;
  for (;;) {
    if (options.signal?.aborted) return cancel('stopped while waiting');
    const remaining = giveUpAt - now();
    if (remaining <= 0) return cancel('gave up waiting for a decision');
    const wait = Math.max(1, Math.min(pollSeconds, Math.floor(remaining / 1000)));
    try {
      const polled = await httpJson('GET', `${api}/${encodeURIComponent(requestId)}?wait=${wait}`, {
        headers,
        timeoutMs: Math.min(wait * 1000 + 5000, Math.max(remaining, 1)),
        signal: options.signal,
      });
      if (polled.status === 200 && isObject(polled.body)) {
        failingSince = undefined;
        const finished = outcomeOf(polled.body, requestId);
        if (finished) return finished;
        continue;
      }
      if (polled.status === 404) return { kind: 'unavailable', down: false, reason: `the server no longer knows request ${requestId}` };
      throw new HttpFailure(`poll answered ${errorText(polled)}`, 'unreachable');
    } catch (error) {
      const failure = error as HttpFailure;
      if (failure.kind === 'aborted') return cancel('stopped while waiting');
      if (failure.kind === 'timeout' && now() >= giveUpAt) return cancel('gave up waiting for a decision');
      failingSince ??= now();
      log(`poll failed: ${failure.message}`);
      if (now() - failingSince >= lostAfterMs) return { kind: 'unavailable', down: true, reason: `lost the server while waiting (${failure.message})` };
      await sleep(250, options.signal);
    }
  }
}
