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
  decidedByWire,
  LIMITS,
  REQUEST_STATUSES,
  decisionBody,
  parseCreateBody,
  parseJsonText,
  parseWith,
  type AgentChoice,
  type CancelAnswer,
  type CreateRequestResult,
  type DecisionAnswer,
  type DecisionRejectionCode,
  type RequestList,
  type RequestStatus,
  type RequestView,
} from '../../protocol/index.ts';
import type { AgentChoiceBook, ChoiceAttempt } from '../agentChoiceBook.ts';
import { HostStoppedError, TooManyRequestsError, type BrokerHost, type DecideResult } from '../brokerHost.ts';
import { RememberRefusedError } from '../decisions.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { deviceOf } from '../security/guard.ts';
import type { EventStore, StoredRequestView } from '../store/types.ts';
import { createRequest, parseCreateWait, waitForOutcome } from './createRequest.ts';
import { errorResponse } from './errors.ts';
import { bodyTextOf, clientGoneSignalOf, headerOf } from './nodeRequest.ts';
import { remoteAddressOf } from './remoteAddress.ts';

export type PermissionRoutesDeps = {
  host: BrokerHost;
  store: EventStore;
  metrics?: Metrics;
  logger: Logger;
  requestTimeoutMs: number;
  /** A request's input, context and tool name must fit one frame of this size (with
   *  FRAME_RESERVE_BYTES), so every snapshot frame stays within the limit. */
  maxFrameBytes?: number;
  /** Checks and writes down a decision's `agentChoice`; absent: none is taken. */
  agentChoices?: AgentChoiceBook;
};

/** The public view: what §4 lists, plus a few helpful read-only fields; a pending one
 *  also says where it is on its way to a human (`delivery`, the request actor's state);
 *  a resolved one, the agent's own choice the winning decision named (`agentChoice`,
 *  agentChoiceBook.ts). */
export function publicView(view: StoredRequestView, host?: Pick<BrokerHost, 'delivery'>, choices?: AgentChoiceBook): RequestView {
  const { origin: _origin, bodyHash: _hash, idempotencyKey: _key, ...rest } = view;
  const delivery = view.status === 'pending' ? host?.delivery(view.id) : undefined;
  const chosen = choices?.chosen(view.id, view, view.context);
  return {
    ...rest,
    ...(delivery !== undefined ? { delivery } : {}),
    ...(chosen ? { agentChoice: chosen.id } : {}),
  };
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** A list page also stops at this many bytes of input and context (then `next`), so no
 *  page is too large to serialize, however large the requests (contract-2 §3). */
export const LIST_PAGE_BYTES = 64 << 20;

async function readJson(c: Context): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  const text = await bodyTextOf(c);
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
  const { host, store, logger } = deps;
  const app = new Hono();
  const viewOf = (view: StoredRequestView) => publicView(view, host, deps.agentChoices);

  app.post('/', async (c) => {
    const key = headerOf(c, 'idempotency-key');
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      return errorResponse(c, 400, ERROR_CODES.invalidMessage, 'Idempotency-Key: expected 1 to 200 printable characters');
    }
    const wait = parseCreateWait(c.req.query('wait'));
    if (!wait.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, wait.error);
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = parseCreateBody(body.value);
    if (!parsed.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, parsed.error);
    const created = await createRequest(deps, {
      ...(parsed.inputBytes !== undefined ? { inputBytes: parsed.inputBytes } : {}),
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
          const { view } = await waitForOutcome(deps, created.id, wait.ms, clientGoneSignalOf(c), created.request);
          if (view && view.status !== 'pending') return c.json<RequestView>(viewOf(view), 200);
        }
        return c.json<CreateRequestResult>({ id: created.id, status: 'pending', expiresAt: created.expiresAt, seq: created.seq }, 201);
      }
      case 'existing':
        // Seen before: the request as it stands, at once (read its status).
        return c.json<RequestView | CreateRequestResult>(
          created.view ? viewOf(created.view) : { id: created.id, status: 'pending', expiresAt: created.expiresAt, seq: created.seq },
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

  app.get('/', async (c) => {
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
      const from = after === '' ? undefined : await store.getRequest(after);
      if (!from)
        return errorResponse(
          c,
          400,
          ERROR_CODES.invalidMessage,
          `after: no request with id ${JSON.stringify(after.slice(0, 200))} (pass the \`next\` of the previous page)`,
        );
      afterSeq = from.seq;
    }
    const page = await store.pageRequests({ ...(status ? { status: status as RequestStatus } : {}), afterSeq, limit, maxBytes: LIST_PAGE_BYTES });
    const requests = page.requests.map(viewOf);
    const last = requests[requests.length - 1];
    return c.json<RequestList>({ requests, ...(page.more && last ? { next: last.id } : {}) });
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
    const view = await store.getRequest(id);
    if (!view) return errorResponse(c, 404, ERROR_CODES.unknownRequest, `no request with id ${id}`);
    if (view.status !== 'pending' || waitMs === 0) return c.json<RequestView>(viewOf(view));
    logger.debug('http', 'long-poll waiting', { id, waitMs });
    const waited = await waitForOutcome(deps, id, waitMs, clientGoneSignalOf(c));
    logger.debug('http', 'long-poll answered', { id, reason: waited.reason });
    return c.json<RequestView>(viewOf(waited.view ?? view));
  });

  app.post('/:id/decision', async (c) => {
    const id = c.req.param('id');
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = parseWith(decisionBody, body.value);
    if (!parsed.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, parsed.error);
    const device = deviceOf(c);
    const address = remoteAddressOf(c.env);
    const attempt: ChoiceAttempt = {
      requestId: id,
      decision: parsed.value.decision,
      decidedBy: decidedByWire.http,
      ...(parsed.value.agentChoice !== undefined ? { agentChoice: parsed.value.agentChoice } : {}),
      hasRemember: parsed.value.remember !== undefined,
      hasUpdatedInput: parsed.value.updatedInput !== undefined,
    };
    const choices = deps.agentChoices;
    let chosen: AgentChoice | undefined;
    if (parsed.value.agentChoice !== undefined) {
      if (!choices) return errorResponse(c, 400, ERROR_CODES.invalidMessage, 'agentChoice: this server takes no agent choices');
      // Checked against the request's offer (context.agentChoices) before anything is decided.
      // An unresolved request's offer from memory, so no await lets a later decision
      // overtake this one; any other request is refused by the broker anyway.
      const context = host.unresolvedContext(id) ?? (await store.getRequest(id))?.context;
      const refusal = choices.check(attempt, context);
      if (refusal) return errorResponse(c, 400, ERROR_CODES.invalidMessage, refusal);
      chosen = choices.choiceOf(attempt, context);
    }
    let result: DecideResult;
    let recorded: object | undefined;
    try {
      // Written down in the same synchronous step as the decide (agentChoiceBook.ts).
      recorded = choices?.record(attempt, host.unresolvedContext(id));
      // One decision path: the host checks `remember`, and after the commit makes its rule
      // and tells the observers (audit), as for every transport (server/decisions.ts).
      result = await host.decide({
        requestId: id,
        decision: parsed.value.decision,
        decidedBy: decidedByWire.http,
        via: 'http',
        // For the audit row, written with the decision (SPEC.md CORE-L2).
        ...(address ? { address } : {}),
        ...(device ? { device: { id: device.id, name: device.name } } : {}),
        ...(parsed.value.updatedInput !== undefined ? { updatedInput: parsed.value.updatedInput } : {}),
        ...(parsed.value.message !== undefined ? { message: parsed.value.message } : {}),
        ...(parsed.value.remember !== undefined ? { remember: parsed.value.remember } : {}),
        ...(chosen ? { agentChoice: { id: chosen.id, kind: chosen.kind, label: chosen.label } } : {}),
      });
    } catch (error) {
      choices?.forget(id, recorded);
      if (error instanceof RememberRefusedError) return errorResponse(c, 400, ERROR_CODES.invalidMessage, error.message);
      return stopping(c, error);
    }
    const { answer, remember, replayed } = result;
    // A replayed clientMsgId decided nothing now: this attempt is not the winner's.
    if (replayed) choices?.forget(id, recorded);
    if (answer.status === 'rejected') {
      choices?.forget(id, recorded);
      return errorResponse(c, rejectionStatus(answer.code), answer.code, answer.message, answer.decision ? { decision: answer.decision } : {});
    }
    const view = await store.getRequest(id);
    return c.json<DecisionAnswer>({
      ...(view ? viewOf(view) : { id, status: 'resolved' as const, decision: parsed.value.decision, decidedBy: decidedByWire.http }),
      ...(remember ? { remember } : {}),
    });
  });

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    const reasonRaw = c.req.query('reason');
    const reason = reasonRaw ? reasonRaw.replace(/[^\x20-\x7e]/g, '').slice(0, 200) || 'agent-cancelled' : 'agent-cancelled';
    // `server-restart` is the server's own reason (it reads as the server's cancel, protocol/outcome.ts): an agent may not claim it.
    if (reason === 'server-restart') return errorResponse(c, 400, ERROR_CODES.invalidMessage, 'reason: "server-restart" is reserved for the server');
    let answer;
    try {
      answer = await host.cancel({ requestId: id, reason, cancelledBy: decidedByWire.http });
    } catch (error) {
      return stopping(c, error);
    }
    const view = await store.getRequest(id);
    if (answer.status === 'rejected') {
      return errorResponse(c, rejectionStatus(answer.code), answer.code, answer.message, {
        ...(answer.decision ? { decision: answer.decision } : {}),
        ...(view ? { request: viewOf(view) } : {}),
      });
    }
    return c.json<CancelAnswer>(view ? viewOf(view) : { id, status: 'cancelled' });
  });

  return app;
}
