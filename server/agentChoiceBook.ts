/**
 * Which of the agent's own choices (protocol/agentChoices.ts) the winning decision of a
 * request named. The broker's outcome carries allow/deny only, so the edges that take a
 * human's decision (the WebSocket hub, `POST …/decision`) write down each attempt here
 * BEFORE handing it to `host.decide`, in the same synchronous step (`host.decide` sends
 * the decision to the broker synchronously, and the broker takes them first come first
 * served). The edge reads an unresolved request's context from the broker's memory in
 * that same step (`host.unresolvedContext`), so nothing is awaited between the check,
 * the record and the decide, and a decision keeps its place in line. So the first attempt written down for a
 * request is the first one the broker saw from a human, and the winner's choice is read
 * back as: the first attempt, if its decision and `decidedBy` are the outcome's. Any
 * other winner (a rule, a timeout, another client's decision) matches no attempt and
 * the choice is none: the bridge then sends its plain once/reject answer, never an
 * "always" nobody chose. An attempt the broker refused is forgotten as soon as the refusal
 * is known (another instance sharing the store may have decided with the same
 * `decidedBy`). Kept in memory (bounded): after a restart or on another
 * instance the choice reads as none, a downgrade to "once", never a widening.
 */
import { agentChoicesOf, choiceFitsDecision, type AgentChoice, type Decision } from '../protocol/index.ts';

type Attempt = { decision: Decision; decidedBy: string; choiceId?: string };

/** What a decision asked for, as the edge received it. */
export type ChoiceAttempt = {
  requestId: string;
  decision: Decision;
  decidedBy: string;
  agentChoice?: string;
  hasRemember: boolean;
  hasUpdatedInput: boolean;
};

export class AgentChoiceBook {
  private readonly attempts = new Map<string, Attempt>();
  private readonly tokens = new Map<string, object>();
  constructor(private readonly limit = 10_000) {}

  /** Before deciding: an `invalid-message` text when the named choice cannot be taken
   *  (not offered, of the other decision, or mixed with a Gatehouse rule or an edit). */
  check(attempt: ChoiceAttempt, context: unknown | undefined): string | undefined {
    if (attempt.agentChoice === undefined) return undefined;
    if (attempt.hasRemember) return 'agentChoice: an agent\'s own choice and a Gatehouse "Always allow" rule cannot be sent together; choose one';
    if (attempt.hasUpdatedInput) return "agentChoice: an agent's own choice takes no edited input";
    // An unknown request: the broker answers unknown-request / already-resolved itself.
    if (context === undefined) return undefined;
    const choice = agentChoicesOf(context).find((c) => c.id === attempt.agentChoice);
    if (!choice) return `agentChoice: ${JSON.stringify(attempt.agentChoice.slice(0, 100))} is not one of this request's agent choices`;
    if (!choiceFitsDecision(choice.kind, attempt.decision)) return `agentChoice: a ${choice.kind} choice cannot go with decision ${attempt.decision}`;
    return undefined;
  }

  /** The offered choice an attempt names (once `check` passed), for the audit row. */
  choiceOf(attempt: ChoiceAttempt, context: unknown | undefined): AgentChoice | undefined {
    if (attempt.agentChoice === undefined || context === undefined) return undefined;
    return agentChoicesOf(context).find((c) => c.id === attempt.agentChoice);
  }

  /** Right before the broker sees the decision (no await in between), with the request's
   *  context when it is unresolved. Only the first attempt counts; it returns a token that
   *  `forget` takes when the broker refused it. A request that offers no agent choices
   *  (or is not unresolved: the broker refuses it) keeps nothing, so the book holds
   *  memory only for requests whose agent offered choices. */
  record(attempt: ChoiceAttempt, context: unknown | undefined): object | undefined {
    if (context === undefined || agentChoicesOf(context).length === 0) return undefined;
    if (this.attempts.has(attempt.requestId)) return undefined;
    const token = {};
    this.tokens.set(attempt.requestId, token);
    this.attempts.set(attempt.requestId, {
      decision: attempt.decision,
      decidedBy: attempt.decidedBy,
      ...(attempt.agentChoice !== undefined ? { choiceId: attempt.agentChoice } : {}),
    });
    if (this.attempts.size > this.limit) {
      const oldest = this.attempts.keys().next();
      if (!oldest.done) {
        this.attempts.delete(oldest.value);
        this.tokens.delete(oldest.value);
      }
    }
    return token;
  }

  /** The broker refused the attempt `record` returned `token` for (decided before, by
   *  another instance too, expired, cancelled): it never counts. */
  forget(requestId: string, token: object | undefined): void {
    if (token === undefined || this.tokens.get(requestId) !== token) return;
    this.tokens.delete(requestId);
    this.attempts.delete(requestId);
  }

  /** The choice the winning decision named, for a resolved request; else undefined. */
  chosen(
    requestId: string,
    outcome: { status?: string | undefined; decision?: string | undefined; decidedBy?: string | undefined },
    context: unknown,
  ): AgentChoice | undefined {
    if (outcome.status !== undefined && outcome.status !== 'resolved') return undefined;
    const attempt = this.attempts.get(requestId);
    if (!attempt?.choiceId || attempt.decision !== outcome.decision || attempt.decidedBy !== outcome.decidedBy) return undefined;
    const choice = agentChoicesOf(context).find((c) => c.id === attempt.choiceId);
    return choice && choiceFitsDecision(choice.kind, attempt.decision) ? choice : undefined;
  }
}
