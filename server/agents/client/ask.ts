/**
 * Asks a Gatehouse server for a decision over HTTP (protocol-v1.md §4), the path shared
 * by the Claude Code hook and the MCP permission tool: prove the server (the hello of
 * `pinned.ts`: no token goes to a server that has not proved it knows it), create the
 * request with an Idempotency-Key and wait in the same call (`?wait=`, so a rule or a
 * quick human costs one round trip), then wait with bounded long-polls in a loop, and cancel it
 * (DELETE) when the caller gives up or is killed. Every answer must be about the request
 * id the server gave us at creation: a view of another id (or none) is a failure, never
 * an allow. Never throws: every way it can end is a value, so the callers map each one
 * to their own answer.
 */
import type { Decision, RequestStatus } from '../../../protocol/index.ts';
import { HttpFailure, type HttpResult } from './http.ts';
import { NotProven, type AgentServer, type ProofOutcome } from './pinned.ts';

export type AskSpec = {
  toolName: string;
  input: Record<string, unknown>;
  context: Record<string, unknown>;
  /** Omitted (or undefined): the server's default request timeout applies. */
  timeoutMs?: number | undefined;
  idempotencyKey: string;
};

export type AskOptions = {
  /** The server, pinned by its hello proof (`PinnedServer`); holds the agent token. */
  server: AgentServer;
  /** Budget for the hello plus creating the request: an unreachable, silent or unproven
   *  server costs at most this (about; the create gets at least 250 ms). */
  createTimeoutMs: number;
  /** Absolute time (ms) at which to stop waiting, cancel, and give up. */
  giveUpAt: number;
  /** Also give up this long after the request's own `expiresAt` (when the server's
   *  timeout deny should long have arrived). */
  graceAfterExpiresMs?: number;
  /** Aborts the wait (the process is being killed): cancel, then return `gave-up`. */
  signal?: AbortSignal | undefined;
  /** Longest single long-poll, in seconds (the server caps at 60; Node's fetch at 300). */
  pollSeconds?: number;
  /** How long the server may stay unreachable during the wait before we stop. */
  lostAfterMs?: number;
  log?: (message: string) => void;
  /** Told the request's id as soon as the create call answers (e.g. to cancel it later with a reason). */
  onCreated?: (requestId: string) => void;
  /** How long the create call itself may wait for the outcome (create-and-wait), in
   *  seconds; default the long-poll length. A caller that must know the id at once (to
   *  cancel with its own reason: the ACP and opencode bridges) passes 0. */
  createWaitSeconds?: number;
  now?: () => number;
};

export type AskOutcome =
  | {
      kind: 'finished';
      requestId: string;
      status: Exclude<RequestStatus, 'pending'>;
      decision: Decision;
      // As the server's view gave them (each may be absent).
      updatedInput?: Record<string, unknown> | undefined;
      message?: string | undefined;
      decidedBy?: string | undefined;
      /** The agent's own choice the winning human decision named (an id of `context.agentChoices`). */
      agentChoice?: string | undefined;
    }
  /** The server could not be used: `down` when it did not answer at all or could not
   *  prove it knows the agent token (both trip the hook's breaker). */
  | { kind: 'unavailable'; down: boolean; reason: string; unproven?: true }
  /** We stopped waiting (deadline or signal); the request was cancelled if it existed. */
  | { kind: 'gave-up'; requestId?: string; reason: string };

type RequestViewLike = {
  id?: unknown;
  status?: unknown;
  decision?: unknown;
  updatedInput?: unknown;
  message?: unknown;
  decidedBy?: unknown;
  agentChoice?: unknown;
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

/** Whether a view is about our request: anything else (another id, none) is never read. */
export function isViewOf(view: unknown, requestId: string): view is RequestViewLike {
  return isObject(view) && view.id === requestId;
}

/** A request view that has left `pending`, as an outcome; undefined while pending or
 *  malformed. An `updatedInput` counts only on an allow. */
export function outcomeOf(view: RequestViewLike, requestId: string): Extract<AskOutcome, { kind: 'finished' }> | undefined {
  const status = view.status;
  if (status !== 'resolved' && status !== 'timedOut' && status !== 'cancelled') return undefined;
  const decision: Decision = view.decision === 'allow' && status === 'resolved' ? 'allow' : 'deny';
  return {
    kind: 'finished',
    requestId,
    status,
    decision,
    updatedInput: decision === 'allow' && isObject(view.updatedInput) ? view.updatedInput : undefined,
    message: typeof view.message === 'string' && view.message ? view.message : undefined,
    decidedBy: typeof view.decidedBy === 'string' ? view.decidedBy : undefined,
    // Only a resolved request has a human's choice; the bridge checks it against its own offer.
    ...(status === 'resolved' && typeof view.agentChoice === 'string' ? { agentChoice: view.agentChoice } : {}),
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

/** The proof's failure, as an outcome: an unproven server is treated like a down one. */
function unprovenOutcome(proof: Exclude<ProofOutcome, { ok: true }>): AskOutcome {
  switch (proof.kind) {
    case 'aborted':
      return { kind: 'gave-up', reason: proof.reason };
    case 'down':
      return { kind: 'unavailable', down: true, reason: proof.reason };
    case 'unproven':
      return { kind: 'unavailable', down: true, unproven: true, reason: proof.reason };
    default: {
      const never: never = proof.kind;
      return never;
    }
  }
}

/** Finds a request by its Idempotency-Key (a create without wait answers the one that
 *  exists) and cancels it while still pending; best effort, about a second at most. */
async function cancelByKey(server: AgentServer, api: string, headers: Record<string, string>, body: unknown, log: (message: string) => void): Promise<void> {
  try {
    const found = await server.call('POST', `${api}?wait=0`, { headers, body, timeoutMs: 1000 });
    const view = found.body as RequestViewLike | undefined;
    if (typeof view?.id !== 'string' || !view.id || (found.status !== 200 && found.status !== 201) || (view.status !== undefined && view.status !== 'pending'))
      return;
    const answer = await server.call('DELETE', `${api}/${encodeURIComponent(view.id)}`, { timeoutMs: 1000 });
    log(`cancelled ${view.id}: ${answer.status}`);
  } catch (error) {
    log(`cancel after stopping failed: ${(error as Error).message}`);
  }
}

export async function askGatehouse(spec: AskSpec, options: AskOptions): Promise<AskOutcome> {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const server = options.server;
  const api = '/api/permission-requests';

  // 0. The server proves it knows the agent token before the token goes out.
  const startedAt = now();
  const proof = await server.prove(options.createTimeoutMs, options.signal);
  if (!proof.ok) return unprovenOutcome(proof);

  // 1. Create and wait in one call (contract-2 §2): a remembered rule or a quick human is
  // answered by this very call, so the hook needs one round trip. Idempotent: a retried
  // hook finds the same request. The server waits at most `firstWait` seconds.
  const pollSeconds = Math.max(1, Math.min(options.pollSeconds ?? 25, 60));
  const firstWait = Math.max(0, Math.min(options.createWaitSeconds ?? pollSeconds, pollSeconds, Math.floor((options.giveUpAt - now()) / 1000)));
  const body = { toolName: spec.toolName, input: spec.input, context: spec.context, timeoutMs: spec.timeoutMs };
  const headers = { 'idempotency-key': spec.idempotencyKey };
  let created: HttpResult;
  try {
    created = await server.call('POST', `${api}?wait=${firstWait}`, {
      headers,
      body,
      timeoutMs: Math.max(250, options.createTimeoutMs - (now() - startedAt)) + firstWait * 1000,
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof NotProven) return { kind: 'unavailable', down: true, unproven: true, reason: error.message };
    const failure = error as HttpFailure;
    if (failure.kind === 'aborted') {
      // Stopped while the create waited: the request may exist. The same key finds it
      // (without waiting) so that it can be cancelled rather than left for a human.
      await cancelByKey(server, api, headers, body, log);
      return { kind: 'gave-up', reason: 'stopped before a decision arrived' };
    }
    return { kind: 'unavailable', down: true, reason: failure.message };
  }
  if (created.status !== 200 && created.status !== 201) {
    if (created.status === 401) server.forget();
    // The server answered: it is up, but refused us (bad token, bad input, overload).
    return { kind: 'unavailable', down: created.status >= 500, reason: `the server refused the request (${errorText(created)})` };
  }
  const createdBody = created.body as RequestViewLike | undefined;
  const requestId = typeof createdBody?.id === 'string' && createdBody.id ? createdBody.id : undefined;
  if (!requestId) return { kind: 'unavailable', down: false, reason: 'the server answered without a request id' };
  log(`created ${requestId} (${created.status})`);
  options.onCreated?.(requestId);
  // A retried create (or create-and-wait) may find the request already finished.
  const early = createdBody ? outcomeOf(createdBody, requestId) : undefined;
  if (early) return early;
  const expiresAt = (createdBody as { expiresAt?: unknown } | undefined)?.expiresAt;
  const giveUpAt =
    options.graceAfterExpiresMs !== undefined && typeof expiresAt === 'number'
      ? Math.min(options.giveUpAt, expiresAt + options.graceAfterExpiresMs)
      : options.giveUpAt;
  const one = `${api}/${encodeURIComponent(requestId)}`;

  const cancel = async (reason: string): Promise<AskOutcome> => {
    try {
      // After a lost connection, this proves the new one first (or sends nothing).
      const answer = await server.call('DELETE', one, { timeoutMs: 1000 });
      // 409: it finished meanwhile; its outcome wins over our give-up.
      if (answer.status === 409 && isObject(answer.body)) {
        const view = isObject(answer.body.request) ? answer.body.request : answer.body;
        const finished = isViewOf(view, requestId) ? outcomeOf(view, requestId) : undefined;
        if (finished && finished.status !== 'cancelled') return finished;
      }
      log(`cancelled ${requestId}: ${answer.status}`);
    } catch (error) {
      log(`cancel of ${requestId} failed: ${(error as Error).message}`);
    }
    return { kind: 'gave-up', requestId, reason };
  };

  // 2. Wait with bounded long-polls.
  const lostAfterMs = options.lostAfterMs ?? 3000;
  let failingSince: number | undefined;
  for (;;) {
    if (options.signal?.aborted) return cancel('stopped while waiting');
    const remaining = giveUpAt - now();
    if (remaining <= 0) return cancel('gave up waiting for a decision');
    const wait = Math.max(1, Math.min(pollSeconds, Math.floor(remaining / 1000)));
    try {
      const polled = await server.call('GET', `${one}?wait=${wait}`, {
        timeoutMs: Math.min(wait * 1000 + 5000, Math.max(remaining, 1)),
        signal: options.signal,
      });
      if (polled.status === 200 && isObject(polled.body)) {
        failingSince = undefined;
        if (!isViewOf(polled.body, requestId)) {
          const other = typeof polled.body.id === 'string' ? `request ${JSON.stringify(polled.body.id.slice(0, 100))}` : 'no request id';
          return { kind: 'unavailable', down: false, reason: `the server answered about ${other}, not ${requestId}` };
        }
        const finished = outcomeOf(polled.body, requestId);
        if (finished) return finished;
        continue;
      }
      if (polled.status === 404) return { kind: 'unavailable', down: false, reason: `the server no longer knows request ${requestId}` };
      if (polled.status === 401) server.forget();
      throw new HttpFailure(`poll answered ${errorText(polled)}`, 'unreachable');
    } catch (error) {
      // Reconnected to something that cannot prove it is our server: stop, send nothing.
      if (error instanceof NotProven) return { kind: 'unavailable', down: true, unproven: true, reason: error.message };
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
