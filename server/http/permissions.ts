/**
 * HTTP API for agents and scripts (protocol-v1.md §4), mounted at
 * `/api/permission-requests`: idempotent create, read with long-poll `wait`, list,
 * decision, cancel. Bodies are parsed with the protocol's zod schemas at the edge; every
 * answer that reports a change is given only after the change is committed (the broker
 * host resolves after its tick's transaction).
 */
import { Hono, type Context } from 'hono';
import {
  ERROR_CODES,
  LIMITS,
  REQUEST_STATUSES,
  createRequestBody,
  decisionBody,
  parseJsonText,
  parseWith,
  type DecisionRejectionCode,
  type RequestStatus,
} from '../../protocol/index.ts';
import type { AgentChoiceBook, ChoiceAttempt } from '../agentChoiceBook.ts';
import { HostStoppedError, TooManyRequestsError, type BrokerHost } from '../brokerHost.ts';
import type { Logger } from '../log.ts';
import { deviceOf } from '../security/guard.ts';
import type { EventStore, StoredRequestView } from '../store/types.ts';
import type { DecisionObserver, RememberGate, RememberRequest } from '../ws/hub.ts';
import { createRequest, parseCreateWait, waitForOutcome } from './createRequest.ts';
import { errorResponse } from './errors.ts';
import { remoteAddressOf } from './remoteAddress.ts';
import type { OutcomeWaiters } from './outcomeWaiters.ts';

export type PermissionRoutesDeps = {
  host: BrokerHost;
  store: EventStore;
  waiters: OutcomeWaiters;
  logger: Logger;
  requestTimeoutMs: number;
  /** A request's input, context and tool name must fit one frame of this size (with
   *  FRAME_RESERVE_BYTES), so every snapshot frame stays within the limit. */
  maxFrameBytes?: number;
  onDecisionAccepted?: DecisionObserver;
  rememberGate?: RememberGate;
  /** Checks and writes down a decision's `agentChoice`; absent: none is taken. */
  agentChoices?: AgentChoiceBook;
};

/** The public view: what §4 lists, plus a few helpful read-only fields, and the agent's
 *  own choice the winning decision named (`agentChoice`, agentChoiceBook.ts). */
export function publicView(view: StoredRequestView, choices?: AgentChoiceBook) {
  const { origin: _origin, bodyHash: _hash, idempotencyKey: _key, ...rest } = view;
  const chosen = choices?.chosen(view.id, view, view.context);
  return chosen ? { ...rest, agentChoice: chosen.id } : rest;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** A list page also stops at this many bytes of input and context (then `next`), so no
 *  page is too large to serialize, however large the requests (contract-2 §3). */
export const LIST_PAGE_BYTES = 64 << 20;

async function readJson(c: Context): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  const text = await c.req.text();
  if (text.trim() === '') return { ok: false, response: errorResponse(c, 400, ERROR_CODES.invalidMessage, 'body: expected a JSON object') };
  const parsed = parseJsonText(text);
  return parsed.ok ? parsed : { ok: false, response: errorResponse(c, 400, ERROR_CODES.invalidMessage, `body: ${parsed.error}`) };
}

function rejectionStatus(code: DecisionRejectionCode): 404 | 409 {
  return code === 'unknown-request' ? 404 : 409;
}

function stopping(c: Context, error: unknown) {
  if (error instanceof HostStoppedError) return errorResponse(c, 503, ERROR_CODES.unavailable, 'the server is stopping: try again shortly');
  if (error instanceof TooManyRequestsError) return errorResponse(c, 429, ERROR_CODES.tooManyRequests, error.message);
  throw error;
}

export function permissionRoutes(deps: PermissionRoutesDeps): Hono {
  const { host, store, waiters, logger } = deps;
  const app = new Hono();

  app.post('/', async (c) => {
    const key = c.req.header('idempotency-key');
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      return errorResponse(c, 400, ERROR_CODES.invalidMessage, 'Idempotency-Key: expected 1 to 200 printable characters');
    }
    const wait = parseCreateWait(c.req.query('wait'));
    if (!wait.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, wait.error);
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = parseWith(createRequestBody, body.value);
    if (!parsed.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, parsed.error);
    const created = await createRequest(deps, {
      toolName: parsed.value.toolName,
      input: parsed.value.input,
      context: parsed.value.context ?? {},
      timeoutMs: parsed.value.timeoutMs ?? deps.requestTimeoutMs,
      hashOf: parsed.value,
      ...(key !== undefined ? { idempotencyKey: key } : {}),
    });
    switch (created.kind) {
      case 'created': {
        // Create-and-wait (contract-2 §2): a rule decides right after the create and a
        // quick human within S seconds; both are answered in this call.
        if (wait.ms > 0) {
          logger.debug('http', 'create-and-wait', { id: created.id, waitMs: wait.ms });
          const { view } = await waitForOutcome(deps, created.id, wait.ms, c.req.raw.signal);
          if (view && view.status !== 'pending') return c.json(publicView(view, deps.agentChoices), 200);
        }
        return c.json({ id: created.id, status: 'pending' as const, expiresAt: created.expiresAt, seq: created.seq }, 201);
      }
      case 'existing':
        // Seen before: the request as it stands, at once (read its status).
        return c.json(
          created.view ? publicView(created.view, deps.agentChoices) : { id: created.id, status: 'pending', expiresAt: created.expiresAt, seq: created.seq },
          200,
        );
      case 'conflict':
        return errorResponse(c, 409, ERROR_CODES.idempotencyConflict, 'Idempotency-Key was used with another body', { id: created.id });
      case 'too-large':
        return errorResponse(c, 413, ERROR_CODES.payloadTooLarge, created.message);
      case 'too-many':
        return errorResponse(c, 429, ERROR_CODES.tooManyRequests, created.message);
      case 'stopping':
        return errorResponse(c, 503, ERROR_CODES.unavailable, 'the server is stopping: try again shortly');
      default: {
        const never: never = created;
        throw new Error(`unknown create result ${JSON.stringify(never)}`);
      }
    }
  });

  app.get('/', (c) => {
    const status = c.req.query('status');
    if (status !== undefined && !(REQUEST_STATUSES as readonly string[]).includes(status)) {
      return errorResponse(c, 400, ERROR_CODES.invalidMessage, `status: expected one of ${REQUEST_STATUSES.join(', ')}`);
    }
    const limitRaw = c.req.query('limit');
    let limit: number = LIMITS.maxListPage;
    if (limitRaw !== undefined) {
      if (!/^\d{1,7}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > LIMITS.maxListPage) {
        return errorResponse(c, 400, ERROR_CODES.invalidMessage, `limit: expected an integer from 1 to ${LIMITS.maxListPage}`);
      }
      limit = Number(limitRaw);
    }
    const after = c.req.query('after');
    let afterSeq = 0;
    if (after !== undefined) {
      const from = after === '' ? undefined : store.getRequest(after);
      if (!from)
        return errorResponse(
          c,
          400,
          ERROR_CODES.invalidMessage,
          `after: no request with id ${JSON.stringify(after.slice(0, 200))} (pass the \`next\` of the previous page)`,
        );
      afterSeq = from.seq;
    }
    const page = store.pageRequests({ ...(status ? { status: status as RequestStatus } : {}), afterSeq, limit, maxBytes: LIST_PAGE_BYTES });
    const requests = page.requests.map((view) => publicView(view, deps.agentChoices));
    const last = requests[requests.length - 1];
    return c.json({ requests, ...(page.more && last ? { next: last.id } : {}) });
  });

  app.get('/:id', async (c) => {
    const id = c.req.param('id');
    const waitRaw = c.req.query('wait');
    let waitMs = 0;
    if (waitRaw !== undefined) {
      const seconds = Number(waitRaw);
      if (waitRaw.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
        return errorResponse(c, 400, ERROR_CODES.invalidMessage, `wait: expected seconds from 0 to ${LIMITS.maxWaitSeconds}`);
      }
      waitMs = Math.min(seconds, LIMITS.maxWaitSeconds) * 1000;
    }
    const view = store.getRequest(id);
    if (!view) return errorResponse(c, 404, ERROR_CODES.unknownRequest, `no request with id ${id}`);
    if (view.status !== 'pending' || waitMs === 0) return c.json(publicView(view, deps.agentChoices));
    const { promise, done } = waiters.wait(id, waitMs, c.req.raw.signal);
    logger.debug('http', 'long-poll waiting', { id, waitMs });
    try {
      const reason = await promise;
      logger.debug('http', 'long-poll answered', { id, reason });
      const latest = store.isOpen() ? store.getRequest(id) : undefined;
      return c.json(publicView(latest ?? view, deps.agentChoices));
    } finally {
      done();
    }
  });

  app.post('/:id/decision', async (c) => {
    const id = c.req.param('id');
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = parseWith(decisionBody, body.value);
    if (!parsed.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, parsed.error);
    const rememberReq: RememberRequest | undefined = parsed.value.remember
      ? {
          requestId: id,
          decision: parsed.value.decision,
          decidedBy: 'http',
          remember: parsed.value.remember,
          ...(parsed.value.updatedInput ? { updatedInput: parsed.value.updatedInput } : {}),
        }
      : undefined;
    // A `remember` that cannot be honoured is refused before anything is decided.
    const refusal = rememberReq ? deps.rememberGate?.checkRemember(rememberReq) : undefined;
    if (refusal) return errorResponse(c, 400, ERROR_CODES.invalidMessage, refusal);
    const attempt: ChoiceAttempt = {
      requestId: id,
      decision: parsed.value.decision,
      decidedBy: 'http',
      ...(parsed.value.agentChoice !== undefined ? { agentChoice: parsed.value.agentChoice } : {}),
      hasRemember: parsed.value.remember !== undefined,
      hasUpdatedInput: parsed.value.updatedInput !== undefined,
    };
    const choices = deps.agentChoices;
    const choiceRefusal =
      parsed.value.agentChoice === undefined
        ? undefined
        : choices
          ? choices.check(attempt, store.getRequest(id)?.context)
          : 'agentChoice: this server takes no agent choices';
    if (choiceRefusal) return errorResponse(c, 400, ERROR_CODES.invalidMessage, choiceRefusal);
    let result;
    let recorded: object | undefined;
    try {
      // Written down in the same synchronous step as the decide (agentChoiceBook.ts).
      recorded = choices?.record(attempt);
      result = await host.decide({
        requestId: id,
        decision: parsed.value.decision,
        decidedBy: 'http',
        via: 'http',
        ...(parsed.value.updatedInput !== undefined ? { updatedInput: parsed.value.updatedInput } : {}),
        ...(parsed.value.message !== undefined ? { message: parsed.value.message } : {}),
      });
    } catch (error) {
      return stopping(c, error);
    }
    const { answer } = result;
    if (answer.status === 'rejected') {
      choices?.forget(id, recorded);
      return errorResponse(c, rejectionStatus(answer.code), answer.code, answer.message, answer.decision ? { decision: answer.decision } : {});
    }
    const device = deviceOf(c);
    deps.onDecisionAccepted?.({
      requestId: id,
      decision: parsed.value.decision,
      decidedBy: 'http',
      via: 'http',
      ...(remoteAddressOf(c.env) ? { address: remoteAddressOf(c.env) } : {}),
      ...(device ? { device: { id: device.id, name: device.name } } : {}),
      ...(parsed.value.remember ? { remember: parsed.value.remember } : {}),
    });
    const remembered = rememberReq && deps.rememberGate ? deps.rememberGate.applyRemember(rememberReq) : undefined;
    const view = store.getRequest(id);
    return c.json({
      ...(view ? publicView(view, deps.agentChoices) : { id, status: 'resolved', decision: parsed.value.decision, decidedBy: 'http' }),
      ...(remembered ? { remember: remembered } : {}),
    });
  });

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    const reasonRaw = c.req.query('reason');
    const reason = reasonRaw ? reasonRaw.replace(/[^\x20-\x7e]/g, '').slice(0, 200) || 'agent-cancelled' : 'agent-cancelled';
    // `server-restart` is the server's own reason (it reads as decidedBy "server-restart"): an agent may not claim it.
    if (reason === 'server-restart') return errorResponse(c, 400, ERROR_CODES.invalidMessage, 'reason: "server-restart" is reserved for the server');
    let answer;
    try {
      answer = await host.cancel({ requestId: id, reason, cancelledBy: 'http' });
    } catch (error) {
      return stopping(c, error);
    }
    const view = store.getRequest(id);
    if (answer.status === 'rejected') {
      return errorResponse(c, rejectionStatus(answer.code), answer.code, answer.message, {
        ...(answer.decision ? { decision: answer.decision } : {}),
        ...(view ? { request: publicView(view, deps.agentChoices) } : {}),
      });
    }
    return c.json(view ? publicView(view, deps.agentChoices) : { id, status: 'cancelled' });
  });

  return app;
}
