/**
 * Creating a request over HTTP and waiting for its outcome, shared by
 * `POST /api/permission-requests[?wait=S]` and `POST /api/hooks/claude` (contract-2 §2):
 * the frame-size check, the idempotency lookup in the store, the broker's create, and
 * the one way to wait for an outcome (the long-poll waiters of `outcomeWaiters.ts`).
 * Each route maps the results to its own answer.
 */
import { LIMITS, jsonByteLength, requestByteLength } from '../../protocol/index.ts';
import { HostStoppedError, TooManyRequestsError, type BrokerHost } from '../brokerHost.ts';
import type { SequencedEvent } from '../../protocol/index.ts';
import type { EventStore, StoredRequestView } from '../store/types.ts';
import { FRAME_RESERVE_BYTES } from '../ws/snapshotParts.ts';
import { bodyHash } from './bodyHash.ts';
import type { OutcomeWaiters, WakeReason } from './outcomeWaiters.ts';

export type CreateSpec = {
  toolName: string;
  input: Record<string, unknown>;
  context: Record<string, unknown>;
  timeoutMs: number;
  idempotencyKey?: string;
  /** What the body hash is taken of (the idempotency check): the route's parsed body.
   *  Default: the spec's own fields. */
  hashOf?: unknown;
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
  const weight = requestByteLength({ input: spec.input, context: spec.context }) + jsonByteLength(spec.toolName);
  if (weight > room) {
    return { kind: 'too-large', message: `input and context: at most ${room} bytes of JSON together (got ${weight}), so that the request fits one frame` };
  }
  const key = spec.idempotencyKey;
  // The hash serves the idempotency check only: without a key, it is not taken.
  const hash =
    key === undefined ? undefined : bodyHash(spec.hashOf ?? { toolName: spec.toolName, input: spec.input, context: spec.context, timeoutMs: spec.timeoutMs });
  if (key !== undefined) {
    // The store remembers keys longer than the broker's in-memory window.
    const existing = deps.store.findByIdempotencyKey(key);
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
      return { kind: 'existing', id: answer.id, view: deps.store.getRequest(answer.id), expiresAt: answer.expiresAt, seq: answer.seq };
    case 'conflict':
      return { kind: 'conflict', id: answer.id };
    default: {
      const never: never = answer;
      throw new Error(`unknown create answer ${JSON.stringify(never)}`);
    }
  }
}

export type WaitDeps = { store: EventStore; waiters: OutcomeWaiters };

/** The stored view of a request after `event`, when it follows from the event alone: a
 *  decision carries every field the store keeps of it. A timeout or a cancel is read back
 *  from the store, which words their messages (one vocabulary, not re-derived here). */
function decidedView(request: KnownRequest, event: SequencedEvent | undefined): StoredRequestView | undefined {
  if (event?.type !== 'permission-resolved' || event.requestId !== request.id) return undefined;
  return {
    ...request,
    status: 'resolved',
    decision: event.decision,
    ...(event.updatedInput !== undefined ? { updatedInput: event.updatedInput } : {}),
    ...(event.message !== undefined ? { message: event.message } : {}),
    decidedBy: event.decidedBy,
    decidedAt: event.timestamp,
  };
}

/**
 * The request as it stands once it has finished, or after `waitMs`, or when `signal`
 * aborts (the caller went away) or the server stops.
 *
 * Without `known`: reads the store and registers the waiter in one synchronous step, so
 * an outcome cannot slip in between (an outcome of a rule, decided right after the
 * create, wakes it like a human's).
 *
 * `known`: the request this call just created (CORE-F5); nothing is read before the
 * wait. The waiter is registered in the microtasks right after the create's commit, and
 * an outcome committed by then is one of the latest commits' (`recentOutcome`), so none
 * slips by either. A decision is answered from its committed event; a timeout or a
 * cancel is read back from the store, which words their messages.
 */
export async function waitForOutcome(
  deps: WaitDeps,
  id: string,
  waitMs: number,
  signal?: AbortSignal,
  known?: KnownRequest,
): Promise<{ view: StoredRequestView | undefined; reason: WakeReason | 'finished' }> {
  const read = () => (deps.store.isOpen() ? deps.store.getRequest(id) : undefined);
  const fresh = known !== undefined && known.id === id ? known : undefined;
  let view: StoredRequestView | undefined = fresh;
  if (fresh) {
    const already = deps.waiters.recentOutcome(id);
    if (already) return { view: decidedView(fresh, already) ?? read() ?? fresh, reason: 'finished' };
  }
  if (!fresh || waitMs <= 0) {
    view = read();
    if (view?.status !== 'pending') return { view, reason: 'finished' };
    if (waitMs <= 0) return { view, reason: 'timeout' };
  }
  const { promise, done, outcome } = deps.waiters.wait(id, waitMs, signal);
  try {
    const reason = await promise;
    const decided = fresh ? decidedView(fresh, outcome()) : undefined;
    if (decided) return { view: decided, reason };
    return { view: read() ?? view, reason };
  } finally {
    done();
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
