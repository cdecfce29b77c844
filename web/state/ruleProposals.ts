/**
 * Which rule "Always allow" on a request would make, asked of the server once per
 * request (`POST /api/rules/proposal`) and shared by every card showing that request, so
 * the human sees the rule before it is saved. A tiny external store for
 * `useSyncExternalStore`, like drafts.ts.
 */
import { useEffect, useSyncExternalStore } from 'react';
import { ruleProposal, type RuleProposal } from '../../protocol/index.ts';
import { api, errorText } from './api.ts';

export type ProposalState = { status: 'loading' } | { status: 'ready'; proposal: RuleProposal } | { status: 'error'; message: string };

const LOADING: ProposalState = { status: 'loading' };
const states = new Map<string, ProposalState>();
const listeners = new Set<() => void>();
const notify = () => {
  for (const l of listeners) l();
};

function load(requestId: string): void {
  if (states.has(requestId)) return;
  states.set(requestId, LOADING);
  api('/api/rules/proposal', ruleProposal, { method: 'POST', body: { requestId } })
    .then((proposal) => states.set(requestId, { status: 'ready', proposal }))
    .catch((error: unknown) => states.set(requestId, { status: 'error', message: errorText(error) }))
    .finally(notify);
}

export function useRuleProposal(requestId: string, enabled: boolean): ProposalState {
  useEffect(() => {
    if (enabled) load(requestId);
  }, [requestId, enabled]);
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => states.get(requestId) ?? LOADING,
  );
}

export function getRuleProposal(requestId: string): RuleProposal | undefined {
  const state = states.get(requestId);
  return state?.status === 'ready' ? state.proposal : undefined;
}
