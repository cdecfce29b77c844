/**
 * Codex's own choices (`availableDecisions` of an approval request) as the card's agent
 * choices (protocol/agentChoices.ts), and back: the human's pick is answered with the
 * very entry Codex listed (`acceptForSession`, `{acceptWithExecpolicyAmendment: …}`, …),
 * copied as Codex sent it. The label is Codex's own name of the decision; `scope` says
 * in words what an "always" one allows from now on. An entry this version does not know
 * is not offered, so it can never be sent (docs/integrations.md, "The agent's own choices").
 */
import { choiceFitsDecision, jsonByteLength, type AgentChoice, type AgentChoiceKind, type Decision } from '../../../protocol/index.ts';

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** How one entry of `availableDecisions` reads on the card; undefined when not known. */
function classify(entry: unknown): Omit<AgentChoice, 'id'> | undefined {
  if (typeof entry === 'string') {
    switch (entry) {
      case 'accept':
        return { kind: 'allow_once', label: 'accept' };
      case 'acceptForSession':
        return {
          kind: 'allow_always',
          label: 'acceptForSession',
          scope: 'Codex stops asking about this for the rest of the session (Gatehouse cannot see or revoke it).',
        };
      case 'decline':
        return { kind: 'reject_once', label: 'decline' };
      case 'cancel':
        return { kind: 'reject_once', label: 'cancel', stopsTurn: true };
      default:
        return undefined;
    }
  }
  if (!isRecord(entry) || Object.keys(entry).length !== 1 || jsonByteLength(entry) > 16_384) return undefined;
  const exec = entry.acceptWithExecpolicyAmendment;
  if (isRecord(exec) && Array.isArray(exec.execpolicy_amendment) && exec.execpolicy_amendment.every((w) => typeof w === 'string')) {
    const prefix = (exec.execpolicy_amendment as string[]).join(' ');
    return {
      kind: 'allow_always',
      label: 'acceptWithExecpolicyAmendment',
      scope: `Codex adds an exec-policy rule and stops asking about commands starting with: ${prefix}`,
    };
  }
  const network = entry.applyNetworkPolicyAmendment;
  if (isRecord(network)) {
    return { kind: 'allow_always', label: 'applyNetworkPolicyAmendment', scope: `Codex changes its network policy: ${JSON.stringify(network).slice(0, 2000)}` };
  }
  return undefined;
}

/** The card's choices: one per known entry, id `d<index>` (its place in the list). */
export function codexChoicesOf(available: unknown): AgentChoice[] {
  if (!Array.isArray(available)) return [];
  const choices: AgentChoice[] = [];
  available.slice(0, 20).forEach((entry, index) => {
    const known = classify(entry);
    if (known) choices.push({ id: `d${index}`, ...known });
  });
  return choices;
}

/** The entry to answer for the human's choice, when it names a known entry whose kind
 *  goes with the decision; else undefined (the plain accept/decline applies). */
export function codexDecisionFor(available: unknown, choiceId: string | undefined, decision: Decision): { kind: AgentChoiceKind; entry: unknown } | undefined {
  if (choiceId === undefined || !Array.isArray(available)) return undefined;
  const match = /^d(\d{1,2})$/.exec(choiceId);
  if (!match?.[1]) return undefined;
  const entry: unknown = available[Number(match[1])];
  const known = classify(entry);
  if (!known || !choiceFitsDecision(known.kind, decision)) return undefined;
  return { kind: known.kind, entry: structuredClone(entry) };
}
