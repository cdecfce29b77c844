/**
 * `POST /api/hooks/claude` (contract-2 §2; docs/integrations.md, "Claude Code without a
 * process per tool call"): Claude Code's `"type": "http"` hook calls Gatehouse itself,
 * with the agent token, and no process starts per tool call.
 *
 * - `PermissionRequest` / `PreToolUse`: the same mapping as `gatehouse hook`
 *   (`claudeHook.ts`: the request, its idempotency key, and the output JSON of an
 *   outcome). The request waits inside this call up to the hook's budget (`?timeout=S`,
 *   the hook's `timeout` as `setup claude --http` writes it; the request's `timeoutMs`
 *   below it, so the server's timeout deny is the answer) and is cancelled (reason
 *   `agent-aborted`) when Claude Code disconnects.
 * - `PostToolUse`, `PostToolUseFailure`, `PermissionDenied`, `Stop`: the human answered
 *   Claude Code's own dialog (or the turn ended): the matching unresolved request is
 *   cancelled with reason `answered-in-terminal`; the answer is `{}`.
 *
 * A body that is not a hook input: 400 naming the field. Anything that stops Gatehouse
 * from taking the request (too large, too many, stopping) is a non-2xx too: Claude Code's
 * `onFailure` then decides (`continue`: its own dialog asks, as when the command hook
 * steps aside; `block`: denied).
 */
import { Hono, type Context } from 'hono';
import { decidedByWire, ERROR_CODES, parseJsonText } from '../../../protocol/index.ts';
import type { BrokerHost } from '../../brokerHost.ts';
import { createRequest, waitForOutcome } from '../../http/createRequest.ts';
import { errorResponse } from '../../http/errors.ts';
import { bodyTextOf, clientGoneSignalOf } from '../../http/nodeRequest.ts';
import type { Metrics } from '../../metrics.ts';
import type { Logger } from '../../log.ts';
import type { EventStore } from '../../store/types.ts';
import type { AgentChoiceBook } from '../../agentChoiceBook.ts';
import { publicView } from '../../http/permissions.ts';
import { outcomeOf, type AskOutcome } from '../client/ask.ts';
import {
  afterEventMatches,
  ANSWERED_IN_TERMINAL,
  CLAUDE_HOOK_PATH,
  outputOf,
  parseAnyHookValue,
  requestSpecOf,
  requestTimeoutFor,
  type AfterInput,
  type HookInput,
} from './claudeHook.ts';

export { CLAUDE_HOOK_PATH };
/** Claude Code's hook timeout when the URL does not say (`?timeout=`), in seconds. */
export const DEFAULT_HTTP_HOOK_TIMEOUT_SECONDS = 60;
const MAX_HOOK_TIMEOUT_SECONDS = 86_400;

export type ClaudeHookRouteDeps = {
  host: BrokerHost;
  store: EventStore;
  metrics?: Metrics;
  logger: Logger;
  maxFrameBytes?: number;
  /** The agent's own choice of each decision (server/agentChoiceBook.ts): the card's "Deny and stop the turn". */
  agentChoices?: AgentChoiceBook;
};

function hookTimeoutOf(raw: string | undefined): { ok: true; seconds: number } | { ok: false; error: string } {
  if (raw === undefined) return { ok: true, seconds: DEFAULT_HTTP_HOOK_TIMEOUT_SECONDS };
  const seconds = Number(raw);
  if (!/^\d{1,5}$/.test(raw) || seconds < 1 || seconds > MAX_HOOK_TIMEOUT_SECONDS) {
    return { ok: false, error: `timeout: expected the hook's timeout in whole seconds from 1 to ${MAX_HOOK_TIMEOUT_SECONDS}` };
  }
  return { ok: true, seconds };
}

export function claudeHookRoutes(deps: ClaudeHookRouteDeps): Hono {
  const app = new Hono();

  app.post('/', async (c) => {
    const timeout = hookTimeoutOf(c.req.query('timeout'));
    if (!timeout.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, timeout.error);
    const text = await bodyTextOf(c);
    const json = parseJsonText(text);
    if (!json.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, `body: expected the hook input JSON (${json.error})`);
    const parsed = parseAnyHookValue(json.value);
    if (!parsed.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, parsed.error);
    if ('after' in parsed) return answeredElsewhere(c, parsed.after);
    return ask(c, parsed.asks, timeout.seconds);
  });

  async function ask(c: Context, input: HookInput, hookTimeoutSeconds: number): Promise<Response> {
    const event = input.hook_event_name;
    const timeoutMs = requestTimeoutFor(hookTimeoutSeconds);
    const spec = requestSpecOf(input, timeoutMs);
    const created = await createRequest(deps, { ...spec, timeoutMs });
    switch (created.kind) {
      case 'created':
      case 'existing':
        break;
      case 'conflict':
        return errorResponse(c, 409, ERROR_CODES.idempotencyConflict, 'this hook input matches another request with a different body', { id: created.id });
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
    const id = created.id;
    // Past the request's own deadline, keep listening a little for its timeout deny, and
    // answer before Claude Code's own timeout of the hook.
    const waitMs = timeoutMs + Math.floor((hookTimeoutSeconds * 1000 - timeoutMs) / 2);
    const signal = clientGoneSignalOf(c);
    const { view, reason } = await waitForOutcome(deps, id, waitMs, signal, created.kind === 'created' ? created.request : undefined);
    const finished = view ? outcomeOf(publicView(view, undefined, deps.agentChoices), id) : undefined;
    if (finished) return c.json(outputOf(event, finished));
    switch (reason) {
      case 'aborted':
      case 'timeout': {
        // Claude Code went away (its timeout, an interrupt, or its own dialog answered),
        // or our budget ran out: nobody waits for this request any more.
        const cancelled = await cancelQuietly(id, 'agent-aborted');
        if (cancelled) return c.json(outputOf(event, cancelled));
        const gaveUp: AskOutcome = {
          kind: 'gave-up',
          requestId: id,
          reason: reason === 'aborted' ? 'Claude Code stopped waiting' : 'gave up waiting for a decision',
        };
        return c.json(outputOf(event, gaveUp));
      }
      case 'shutdown':
        return errorResponse(c, 503, ERROR_CODES.unavailable, 'the server is stopping: try again shortly');
      case 'outcome':
      case 'finished':
        // Finished but unreadable (the store closed meanwhile): never an allow.
        return errorResponse(c, 503, ERROR_CODES.unavailable, 'the outcome could not be read');
      default: {
        const never: never = reason;
        throw new Error(`unknown wake reason ${String(never)}`);
      }
    }
  }

  /** Cancels a pending request; when it finished first, that outcome (it wins). */
  async function cancelQuietly(id: string, reason: string) {
    try {
      await deps.host.cancel({ requestId: id, reason, cancelledBy: decidedByWire.claudeCode });
    } catch (error) {
      deps.logger.debug('permissions', 'cancel failed', { id, error: String(error) });
    }
    const view = deps.store.isOpen() ? await deps.store.getRequest(id) : undefined;
    const outcome = view ? outcomeOf(publicView(view, undefined, deps.agentChoices), id) : undefined;
    return outcome && outcome.status !== 'cancelled' ? outcome : undefined;
  }

  async function answeredElsewhere(c: Context, after: AfterInput): Promise<Response> {
    const matching = deps.host.unresolvedEvents().filter((request) => afterEventMatches(after, request));
    for (const request of matching) {
      try {
        await deps.host.cancel({ requestId: request.id, reason: ANSWERED_IN_TERMINAL, cancelledBy: decidedByWire.claudeCode });
      } catch (error) {
        deps.logger.debug('permissions', 'answered-in-terminal cancel failed', { id: request.id, error: String(error) });
      }
    }
    if (matching.length) deps.logger.debug('permissions', 'answered in the terminal', { event: after.event, cancelled: matching.map((r) => r.id) });
    return c.json({});
  }

  return app;
}
