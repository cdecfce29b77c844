/**
 * What a person has typed into a card but not sent (deny reason, rule scope and prefix, the
 * JSON editor), keyed by request id, so the queue card, the inline chat card and the keyboard
 * shortcuts all see the same draft. A tiny external store for `useSyncExternalStore`.
 */
import { useSyncExternalStore } from 'react';
import type { RuleScope } from '../../protocol/index.ts';

/** `scope` null: the first scope the request can have; `prefix` null: the exact rule. */
export type Draft = { reason: string; scope: RuleScope | null; prefix: string | null; editing: boolean; editText: string | null };

const EMPTY: Draft = { reason: '', scope: null, prefix: null, editing: false, editText: null };
let drafts: Record<string, Draft> = {};
const listeners = new Set<() => void>();

export function getDraft(id: string): Draft {
  return drafts[id] ?? EMPTY;
}

export function setDraft(id: string, patch: Partial<Draft>): void {
  drafts = { ...drafts, [id]: { ...getDraft(id), ...patch } };
  for (const l of listeners) l();
}

export function useDraft(id: string): Draft {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => getDraft(id),
  );
}
