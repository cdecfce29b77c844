/**
 * Creating a request over HTTP and waiting for its outcome, shared by
 * `POST /api/permission-requests[?wait=S]` and `POST /api/hooks/claude` (contract-2 §2):
 * the frame-size check, the idempotency lookup in the store, the broker's create, and
 * the long-poll around the host's one way to wait for an outcome (`host.awaitOutcome`),
 * shared by these two routes and `GET /api/permission-requests/:id?wait=S`. Each route
 * maps the results to its own answer.
 */
import { LIMITS, jsonByteLength } from '../../protocol/index.ts';
import { HostStoppedError, TooManyRequestsError, type BrokerHost } from '../brokerHost.ts';
import type { Outcome } from '../../machines/broker.types.ts';
import type { Metrics } from '../metrics.ts';
import type { EventStore, StoredRequestView } from '../store/types.ts';
import { FRAME_RESERVE_BYTES } from '../ws/snapshotParts.ts';
import { Cancel, type CancelSignal } from '../cancel.ts';
import { bodyHash } from './bodyHash.ts';

/** Why a long-poll ended: its request finished (`outcome`), its wait ran out, the caller
 *  went away (`aborted`), or the server is stopping (`shutdown`). */
export type WakeReason = 'outcome' | 'timeout' | 'shutdown' | 'aborted';

export type CreateSpec = {
  toolName: string;
  input: Record<string, unknown>;
  context: Record<string, unknown>;
  timeoutMs: number;
  idempotencyKey?: string;
  /** What the body hash is taken of (the idempotency check): the route's parsed body.
   *  Default: the spec's own fields. */
  hashOf?: unknown;
  /** `jsonByteLength(input)`, when the caller already measured it (the create body's
   *  check, CORE-F10): not measured twice. */
  inputBytes?: number;
};

/** A request this call just created, as the store will show it while pending: what the
 *  call knows without reading it back (CORE-F5). */
export type KnownRequest = StoredRequestView & { status: 'pending' };

export type CreateResult =
  | { kind: 'created'; id: string; expiresAt: number; seq: number; request: KnownRequest }
  /** The Idempotency-Key was seen before with the same body: the request as it stands. */
  | { kind: 'existing'; id: string; view: StoredRequestView | undefined; expiresAt: number; seq: number }
  | { kind: 'conflict'; id: string }
  | { kind: 'too-large'; message: string }
  | { kind: 'too-many'; message: string }
  | { kind: 'stopping' };

export type CreateDeps = { host: BrokerHost; store: EventStore; maxFrameBytes?: number };

export async function createRequest(deps: CreateDeps, spec: CreateSpec): Promise<CreateResult> {
  const room = (deps.maxFrameBytes ?? LIMITS.maxFrameBytes) - FRAME_RESERVE_BYTES;
  // requestByteLength({input, context}), the input measured once (CORE-F10), passed on
  // to the host (CORE-F11); with the toolName's JSON it must fit one frame.
  const bytes = (spec.inputBytes ?? jsonByteLength(spec.input)) + jsonByteLength(spec.context);
  const weight = bytes + jsonByteLength(spec.toolName);
  if (weight > room) {
    return { kind: 'too-large', message: `input and context: at most ${room} bytes of JSON together (got ${weight}), so that the request fits one frame` };
  }
  const key = spec.idempotencyKey;
  // The hash serves the idempotency check only: without a key, it is not taken.
  const hash =
    key === undefined ? undefined : bodyHash(spec.hashOf ?? { toolName: spec.toolName, input: spec.input, context: spec.context, timeoutMs: spec.timeoutMs });
  if (key !== undefined) {
    // The store remembers keys longer than the broker's in-memory window.
    const existing = await deps.store.findByIdempotencyKey(key);
    if (existing) {
      if (existing.bodyHash === hash) return { kind: 'existing', id: existing.id, view: existing, expiresAt: existing.expiresAt, seq: existing.seq };
      return { kind: 'conflict', id: existing.id };
    }
  }
  let answer;
  try {
    answer = await deps.host.create({
      toolName: spec.toolName,
      input: spec.input,
      context: spec.context,
      timeoutMs: spec.timeoutMs,
      origin: 'http',
      bytes,
      ...(key !== undefined && hash !== undefined ? { idempotencyKey: key, bodyHash: hash } : {}),
    });
  } catch (error) {
    if (error instanceof HostStoppedError) return { kind: 'stopping' };
    if (error instanceof TooManyRequestsError) return { kind: 'too-many', message: error.message };
    throw error;
  }
  switch (answer.status) {
    case 'created': {
      const request: KnownRequest = {
        id: answer.id,
        status: 'pending',
        toolName: spec.toolName,
        input: spec.input,
        context: spec.context,
        expiresAt: answer.expiresAt,
        // The broker stamps a request at its creation and expires it `timeoutMs` later
        // (machines/broker.machine.ts); CORE-F5's test holds this view to the stored one.
        createdAt: answer.expiresAt - spec.timeoutMs,
        seq: answer.seq,
        origin: 'http',
        ...(key !== undefined && hash !== undefined ? { idempotencyKey: key, bodyHash: hash } : {}),
      };
      return { kind: 'created', id: answer.id, expiresAt: answer.expiresAt, seq: answer.seq, request };
    }
    case 'existing':
      return { kind: 'existing', id: answer.id, view: await deps.store.getRequest(answer.id), expiresAt: answer.expiresAt, seq: answer.seq };
    case 'conflict':
      return { kind: 'conflict', id: answer.id };
    default: {
      const never: never = answer;
      throw new Error(`unknown create answer ${JSON.stringify(never)}`);
    }
  }
}

export type WaitDeps = { store: EventStore; host: Pick<BrokerHost, 'awaitOutcome'>; metrics?: Metrics };

/** The stored view of a request after its committed `outcome`, when it follows from the
 *  outcome alone: a decision carries every field the store keeps of it. A timeout or a
 *  cancel is read back from the store, which words their messages. */
function decidedView(request: KnownRequest, outcome: Outcome): StoredRequestView | undefined {
  if (outcome.status !== 'resolved') return undefined;
  return {
    ...request,
    status: 'resolved',
    decision: outcome.decision,
    ...(outcome.updatedInput !== undefined ? { updatedInput: outcome.updatedInput } : {}),
    ...(outcome.message !== undefined ? { message: outcome.message } : {}),
    decidedBy: outcome.decidedBy,
    decidedAt: outcome.decidedAt,
  };
}

/**
 * The request as it stands once it has finished, or after `waitMs`, or when `signal`
 * aborts (the caller went away) or the server stops. Starts the host's wait before it
 * reads the store (the read is asynchronous), so an outcome cannot slip in between: one
 * committed before the read is in it, one committed after wakes the wait (an outcome of
 * a rule, decided right after the create, wakes it like a human's).
 *
 * `known`: the request this call just created (CORE-F5); nothing is read before the
 * wait, and a decision is answered from its committed outcome; a timeout or a cancel is
 * read back from the store, which words their messages.
 */
export async function waitForOutcome(
  deps: WaitDeps,
  id: string,
  waitMs: number,
  signal?: CancelSignal,
  known?: KnownRequest,
): Promise<{ view: StoredRequestView | undefined; reason: WakeReason | 'finished' }> {
  const fresh = known !== undefined && known.id === id ? known : undefined;
  if (waitMs <= 0) {
    const view = await deps.store.getRequest(id);
    return { view, reason: view?.status !== 'pending' ? 'finished' : 'timeout' };
  }
  // The host's wait is released on every exit, not only when it answers: a store read
  // that finds the request finished already (or fails) returns without it, and the wait
  // (its timer, its abort listener) would otherwise stay armed for up to `waitMs`.
  const release = new Cancel();
  const forward = () => release.cancel();
  if (signal?.aborted) release.cancel();
  else signal?.addEventListener('abort', forward, { once: true });
  const waiting = deps.host.awaitOutcome(id, { timeoutMs: waitMs, signal: release });
  deps.metrics?.longPolls.inc();
  try {
    let view: StoredRequestView | undefined = fresh;
    if (!fresh) {
      view = await deps.store.getRequest(id);
      if (view?.status !== 'pending') return { view, reason: 'finished' };
    }
    const waited = await waiting;
    const decided = fresh && waited.status === 'finished' ? decidedView(fresh, waited.outcome) : undefined;
    if (decided) return { view: decided, reason: 'outcome' };
    const reason: WakeReason = waited.status === 'waiting' ? waited.reason : 'outcome';
    const latest = deps.store.isOpen() ? await deps.store.getRequest(id) : undefined;
    return { view: latest ?? view, reason };
  } finally {
    signal?.removeEventListener('abort', forward);
    release.cancel();
    deps.metrics?.longPolls.dec();
  }
}

/** `?wait=S` of a create: seconds from 0 to 60 (contract-2 §2), else an error naming it. */
export function parseCreateWait(raw: string | undefined): { ok: true; ms: number } | { ok: false; error: string } {
  if (raw === undefined) return { ok: true, ms: 0 };
  const seconds = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !Number.isFinite(seconds) || seconds > LIMITS.maxWaitSeconds) {
    return { ok: false, error: `wait: expected seconds from 0 to ${LIMITS.maxWaitSeconds} (got ${JSON.stringify(raw.slice(0, 40))})` };
  }
  return { ok: true, ms: seconds * 1000 };
}
