/**
 * The decisions a card (or a keyboard shortcut) can make, reading the card's draft so
 * that a click and a key press do exactly the same thing.
 */
import type { ConnectionRef } from './connection.ts';
import { sendDecision } from './connection.ts';
import type { AgentChoice, RuleScope } from '../../protocol/index.ts';
import { getDraft, setDraft } from './drafts.ts';
import { getRuleProposal } from './ruleProposals.ts';

export function allowRequest(actor: ConnectionRef, requestId: string): void {
  sendDecision(actor, { requestId, decision: 'allow' });
}

export function denyRequest(actor: ConnectionRef, requestId: string): void {
  const reason = getDraft(requestId).reason.trim();
  sendDecision(actor, { requestId, decision: 'deny', ...(reason ? { message: reason } : {}) });
}

/** The scope the card shows: the one chosen, else the first this request can have. */
export function chosenScope(requestId: string): RuleScope | undefined {
  const proposal = getRuleProposal(requestId);
  const draft = getDraft(requestId);
  const available = proposal?.scopes.filter((s) => s.available).map((s) => s.scope) ?? [];
  return draft.scope && available.includes(draft.scope) ? draft.scope : available[0];
}

/** Only once the card shows the rule it will make (the server's proposal) and one can be made. */
export function alwaysAllowRequest(actor: ConnectionRef, requestId: string): boolean {
  const proposal = getRuleProposal(requestId);
  const scope = chosenScope(requestId);
  if (!proposal?.exact || !scope) return false;
  const prefix = getDraft(requestId).prefix;
  const chosen = prefix !== null && proposal.prefixes.some((p) => p.pattern === prefix) ? prefix : undefined;
  sendDecision(actor, { requestId, decision: 'allow', remember: { scope, ...(chosen !== undefined ? { prefix: chosen } : {}) } });
  return true;
}

/** One of the agent's own choices, exactly as the agent offered it (protocol/agentChoices.ts):
 *  its kind says allow or deny; a reject carries the card's reason. */
export function chooseAgentOption(actor: ConnectionRef, requestId: string, choice: AgentChoice): void {
  const allow = choice.kind === 'allow_once' || choice.kind === 'allow_always';
  const reason = getDraft(requestId).reason.trim();
  sendDecision(actor, { requestId, decision: allow ? 'allow' : 'deny', agentChoice: choice.id, ...(!allow && reason ? { message: reason } : {}) });
}

export function allowEdited(actor: ConnectionRef, requestId: string, updatedInput: Record<string, unknown>): void {
  sendDecision(actor, { requestId, decision: 'allow', updatedInput });
  setDraft(requestId, { editing: false, editText: null });
}

export function openEditor(requestId: string): void {
  setDraft(requestId, { editing: true });
}
