/**
 * The one path from an in-process agent (a Claude Agent SDK session's `canUseTool`, or
 * the demo agent) to a human: create a broker request with origin `agent`, await its one
 * outcome, and answer in the SDK's PermissionResult shape. The AbortSignal cancels the
 * request (`permission-cancelled`). A deny always carries a message: the human's
 * reason, else one naming who denied and how, or that it timed out.
 */
import { CANCEL_REASONS, type AgentChoice, type PermissionRequestEvent, type SequencedEvent } from '../../protocol/index.ts';

/** Which of the agent's own choices the winning decision named (server/agentChoiceBook.ts). */
export type ChoiceLookup = { chosen(requestId: string, outcome: { decision?: string; decidedBy?: string }, context: unknown): AgentChoice | undefined };

export type GateHost = {
  create(args: {
    toolName: string;
    input: Record<string, unknown>;
    context?: PermissionRequestEvent['context'];
    timeoutMs: number;
    origin: 'agent';
  }): Promise<{ status: string; id: string }>;
  cancel(args: { requestId: string; reason: string; cancelledBy: string }): Promise<unknown>;
  onCommitted(listener: (events: readonly SequencedEvent[]) => void): () => void;
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
  if (ask.signal?.aborted) return { behavior: 'deny', message: 'The agent cancelled the request before it was asked.', outcome: 'cancelled' };
  // Subscribe before creating: the outcome may be committed in the very next tick.
  let requestId: string | undefined;
  const early: SequencedEvent[] = [];
  let settle: ((event: SequencedEvent) => void) | undefined;
  const off = host.onCommitted((events) => {
    for (const event of events) {
      const id =
        event.type === 'permission-resolved' || event.type === 'permission-timeout' || event.type === 'permission-cancelled' ? event.requestId : undefined;
      if (!id) continue;
      if (requestId === undefined) early.push(event);
      else if (id === requestId) settle?.(event);
    }
  });
  try {
    let created;
    try {
      created = await host.create({ toolName: ask.toolName, input: ask.input, context: ask.context, timeoutMs: ask.timeoutMs, origin: 'agent' });
    } catch (error) {
      return { behavior: 'deny', message: `Gatehouse could not ask for permission (${(error as Error).message}), so this is denied.`, outcome: 'failed' };
    }
    if (created.status !== 'created' && created.status !== 'existing') {
      return { behavior: 'deny', message: 'Gatehouse refused to create the permission request, so this is denied.', outcome: 'failed' };
    }
    requestId = created.id;
    ask.onCreated?.(requestId);
    const id = requestId;
    const outcome = await new Promise<SequencedEvent>((resolve) => {
      const found = early.find((event) => 'requestId' in event && event.requestId === id);
      if (found) return resolve(found);
      settle = resolve;
      // A known cancel reason names why (e.g. `answered-in-agent`: the agent cleared the ask
      // itself); any other abort (an SDK's own error) is `agent-cancelled`.
      const reason = () => ((CANCEL_REASONS as readonly unknown[]).includes(ask.signal?.reason) ? (ask.signal!.reason as string) : 'agent-cancelled');
      const onAbort = () => void host.cancel({ requestId: id, reason: reason(), cancelledBy: 'agent' }).catch(() => {});
      if (ask.signal?.aborted) onAbort();
      else ask.signal?.addEventListener('abort', onAbort, { once: true });
    });
    switch (outcome.type) {
      case 'permission-resolved': {
        const chosen = choices?.chosen(id, outcome, ask.context);
        const agentChoice = chosen ? { agentChoice: chosen } : {};
        if (outcome.decision === 'allow')
          return { behavior: 'allow', updatedInput: outcome.updatedInput ?? ask.input, requestId: id, decidedBy: outcome.decidedBy, ...agentChoice };
        return {
          behavior: 'deny',
          message:
            outcome.message ||
            `Denied in Gatehouse by ${outcome.decidedBy.startsWith('rule:') ? `the remembered rule ${outcome.decidedBy.slice(5)}` : outcome.decidedBy}.`,
          requestId: id,
          outcome: 'denied',
          ...agentChoice,
        };
      }
      case 'permission-timeout':
        return {
          behavior: 'deny',
          message: `Nobody answered in Gatehouse within ${Math.round(ask.timeoutMs / 1000)} s, so the request timed out and is denied.`,
          requestId: id,
          outcome: 'timedOut',
        };
      case 'permission-cancelled':
        return { behavior: 'deny', message: `The permission request was cancelled (${outcome.reason}).`, requestId: id, outcome: 'cancelled' };
      default:
        return { behavior: 'deny', message: 'Gatehouse gave an unexpected outcome, so this is denied.', requestId: id, outcome: 'failed' };
    }
  } finally {
    off();
  }
}
