/**
 * The decisions a card (or a keyboard shortcut) can make, reading the card's draft so
 * that a click and a key press do exactly the same thing.
 */
import type { ConnectionRef } from './connection.ts';
import { sendDecision } from './connection.ts';
import { getDraft, setDraft } from './drafts.ts';

export function allowRequest(actor: ConnectionRef, requestId: string): void {
  sendDecision(actor, { requestId, decision: 'allow' });
}

export function denyRequest(actor: ConnectionRef, requestId: string): void {
  const reason = getDraft(requestId).reason.trim();
  sendDecision(actor, { requestId, decision: 'deny', ...(reason ? { message: reason } : {}) });
}

export function alwaysAllowRequest(actor: ConnectionRef, requestId: string): void {
  sendDecision(actor, { requestId, decision: 'allow', remember: { scope: getDraft(requestId).scope } });
}

export function allowEdited(actor: ConnectionRef, requestId: string, updatedInput: Record<string, unknown>): void {
  sendDecision(actor, { requestId, decision: 'allow', updatedInput });
  setDraft(requestId, { editing: false, editText: null });
}

export function openEditor(requestId: string): void {
  setDraft(requestId, { editing: true });
}
