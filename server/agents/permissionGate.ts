/**
 * The one path from an in-process agent (a Claude Agent SDK session's `canUseTool`, or
 * the demo agent) to a human: create a broker request with origin `agent`, await its one
 * outcome (`host.awaitOutcome`, the host's one way to wait), and answer in the SDK's
 * PermissionResult shape. The AbortSignal cancels the request (`permission-cancelled`).
 * A deny always carries a message: the human's reason, else one naming who denied and
 * how, or that it timed out; a server that stops first is a deny too (fail closed).
 */
import type { Outcome } from '../../machines/broker.types.ts';
import {
  CANCEL_REASONS,
  cancelledMessage,
  decidedByWire,
  outcomeMessageForAgent,
  type AgentChoice,
  type PermissionRequestEvent,
  timedOutMessage,
  waitedSeconds,
} from '../../protocol/index.ts';
import type { AwaitedOutcome, AwaitOptions } from '../brokerHost.ts';

/** Which of the agent's own choices the winning decision named (server/agentChoiceBook.ts). */
export type ChoiceLookup = {
  chosen(requestId: string, outcome: { decision?: string | undefined; decidedBy?: string | undefined }, context: unknown): AgentChoice | undefined;
};

export type GateHost = {
  create(args: {
    toolName: string;
    input: Record<string, unknown>;
    context?: PermissionRequestEvent['context'];
    timeoutMs: number;
    origin: 'agent';
  }): Promise<{ status: string; id: string }>;
  cancel(args: { requestId: string; reason: string; cancelledBy: string }): Promise<unknown>;
  /** The host's one way to wait for an outcome (BrokerHost.awaitOutcome). */
  awaitOutcome(requestId: string, options?: AwaitOptions): Promise<AwaitedOutcome>;
};

/** `agentChoice`: the agent's own choice the human picked on the card (of `context.agentChoices`). */
export type GateAnswer =
  | { behavior: 'allow'; updatedInput: Record<string, unknown>; requestId: string; decidedBy: string; agentChoice?: AgentChoice }
  | { behavior: 'deny'; message: string; requestId?: string; outcome: 'denied' | 'timedOut' | 'cancelled' | 'failed'; agentChoice?: AgentChoice };

export type GateAsk = {
  toolName: string;
  input: Record<string, unknown>;
  context: PermissionRequestEvent['context'];
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with the request id once created (to link a chat tool-use to it). */
  onCreated?: (requestId: string) => void;
};

export async function askPermission(host: GateHost, ask: GateAsk, choices?: ChoiceLookup): Promise<GateAnswer> {
  if (ask.signal?.aborted) return { behavior: 'deny', message: cancelledMessage('agent-cancelled'), outcome: 'cancelled' };
  let created;
  try {
    created = await host.create({ toolName: ask.toolName, input: ask.input, context: ask.context, timeoutMs: ask.timeoutMs, origin: 'agent' });
  } catch (error) {
    return { behavior: 'deny', message: `Gatehouse could not ask for permission (${(error as Error).message}), so this is denied.`, outcome: 'failed' };
  }
  if (created.status !== 'created' && created.status !== 'existing') {
    return { behavior: 'deny', message: 'Gatehouse refused to create the permission request, so this is denied.', outcome: 'failed' };
  }
  const id = created.id;
  ask.onCreated?.(id);
  // A known cancel reason names why (e.g. `answered-in-agent`: the agent cleared the ask
  // itself); any other abort (an SDK's own error) is `agent-cancelled`.
  const reason = () => ((CANCEL_REASONS as readonly unknown[]).includes(ask.signal?.reason) ? String(ask.signal?.reason) : 'agent-cancelled');
  const cancel = (why: string, by: string = decidedByWire.agent) => void host.cancel({ requestId: id, reason: why, cancelledBy: by }).catch(() => {});
  // The abort cancels the request; the wait goes on until its `permission-cancelled` (or
  // whatever outcome got there first) is committed.
  const onAbort = () => cancel(reason());
  if (ask.signal?.aborted) onAbort();
  else ask.signal?.addEventListener('abort', onAbort, { once: true });
  let waited: AwaitedOutcome;
  try {
    waited = await host.awaitOutcome(id);
  } finally {
    ask.signal?.removeEventListener('abort', onAbort);
  }
  switch (waited.status) {
    case 'finished':
      return answerOf(waited.outcome, id, ask, choices);
    case 'waiting':
      // The server is stopping: nobody will answer, so no allow.
      cancel('server-restart', decidedByWire.server);
      return { behavior: 'deny', message: 'Gatehouse is stopping, so this request is denied.', requestId: id, outcome: 'failed' };
    case 'unknown':
      return { behavior: 'deny', message: 'Gatehouse lost the permission request, so this is denied.', requestId: id, outcome: 'failed' };
    default: {
      const never: never = waited;
      return {
        behavior: 'deny',
        message: `Gatehouse gave an unexpected outcome (${JSON.stringify(never)}), so this is denied.`,
        requestId: id,
        outcome: 'failed',
      };
    }
  }
}

function answerOf(outcome: Outcome, id: string, ask: GateAsk, choices: ChoiceLookup | undefined): GateAnswer {
  switch (outcome.status) {
    case 'resolved': {
      const chosen = choices?.chosen(id, outcome, ask.context);
      const agentChoice = chosen ? { agentChoice: chosen } : {};
      if (outcome.decision === 'allow')
        return { behavior: 'allow', updatedInput: outcome.updatedInput ?? ask.input, requestId: id, decidedBy: outcome.decidedBy, ...agentChoice };
      return {
        behavior: 'deny',
        message: outcomeMessageForAgent({ status: 'resolved', decision: 'deny', message: outcome.message, decidedBy: outcome.decidedBy }),
        requestId: id,
        outcome: 'denied',
        ...agentChoice,
      };
    }
    case 'timedOut':
      return {
        behavior: 'deny',
        message: timedOutMessage(waitedSeconds(0, ask.timeoutMs)),
        requestId: id,
        outcome: 'timedOut',
      };
    case 'cancelled':
      return { behavior: 'deny', message: cancelledMessage(outcome.reason), requestId: id, outcome: 'cancelled' };
    default: {
      const never: never = outcome.status;
      return { behavior: 'deny', message: `Gatehouse gave an unexpected outcome (${String(never)}), so this is denied.`, requestId: id, outcome: 'failed' };
    }
  }
}
