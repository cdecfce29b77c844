/**
 * The agent's own choices (docs/integrations.md, "The agent's own choices"): an agent
 * bridge lists what the agent itself offers for an ask (ACP's options, Codex's
 * `availableDecisions`, opencode's once/always/reject, Claude's deny-and-stop) in the
 * request's `context.agentChoices`; the card shows them with the agent's wording; a
 * decision may name one (`agentChoice`), and the bridge sends exactly that choice back.
 * The kinds are ACP's (contract-2 §5). A choice's kind must agree with the decision
 * (an `allow_*` only with allow, a `reject_*` only with deny): a choice cannot turn a
 * deny into an allow, and an entry that does not parse is never offered.
 */
import { z } from 'zod';
import { LIMITS } from './constants.ts';
import type { Decision } from './constants.ts';

export const AGENT_CHOICE_KINDS = ['allow_once', 'allow_always', 'reject_once', 'reject_always'] as const;
export type AgentChoiceKind = (typeof AGENT_CHOICE_KINDS)[number];

export const agentChoiceEntry = z.object({
  /** The bridge's handle for it (an ACP optionId, a Codex decision's index, opencode's reply). */
  id: z.string().min(1).max(LIMITS.maxIdLength),
  kind: z.enum(AGENT_CHOICE_KINDS),
  /** The agent's own wording (shown visible-safe). */
  label: z.string().min(1).max(1000),
  /** What it allows beyond this one call, when the agent says (opencode's `always`
   *  patterns, Codex's exec-policy amendment): shown as what "always" would allow. */
  scope: z.string().max(LIMITS.maxMessageLength).optional(),
  /** A reject that also stops the agent's turn (Codex `cancel`, Claude `interrupt`). */
  stopsTurn: z.boolean().optional(),
});
export type AgentChoice = z.infer<typeof agentChoiceEntry>;

/** The well-formed choices of a request's context (others are dropped, never guessed). */
export function agentChoicesOf(context: unknown): AgentChoice[] {
  if (typeof context !== 'object' || context === null) return [];
  const list = (context as { agentChoices?: unknown }).agentChoices;
  if (!Array.isArray(list)) return [];
  const out: AgentChoice[] = [];
  const seen = new Set<string>();
  for (const entry of list.slice(0, 50)) {
    const parsed = agentChoiceEntry.safeParse(entry);
    if (parsed.success && !seen.has(parsed.data.id)) {
      seen.add(parsed.data.id);
      out.push(parsed.data);
    }
  }
  return out;
}

/** Does a choice of this kind go with this decision? */
export function choiceFitsDecision(kind: AgentChoiceKind, decision: Decision): boolean {
  return decision === 'allow' ? kind === 'allow_once' || kind === 'allow_always' : kind === 'reject_once' || kind === 'reject_always';
}

/** A choice that widens what the agent stops asking about (shown apart, never one key). */
export function isAlwaysKind(kind: AgentChoiceKind): boolean {
  return kind === 'allow_always' || kind === 'reject_always';
}

/**
 * Where the agent said a human must look (Claude's `matchedAskRule`,
 * `requires_user_interaction`, `defaultToNo`): `context.humanMustLook` names why. Such a
 * request is never decided by a remembered rule, gets no "Always allow" offer and no
 * one-key allow (docs/integrations.md, "Use what agents tell us").
 */
export function humanMustLookOf(context: unknown): string | undefined {
  if (typeof context !== 'object' || context === null) return undefined;
  const why = (context as { humanMustLook?: unknown }).humanMustLook;
  return typeof why === 'string' && why.length > 0 ? why.slice(0, 500) : undefined;
}
