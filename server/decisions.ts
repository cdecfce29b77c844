/**
 * The follow-ups of a decision, as the host runs them (architecture.md, example 14: they
 * run once, in the host, whatever transport brought the decision). A transport hands the
 * host the decision with what it knows of the decider (address, device, `remember`); the
 * host checks the `remember` before deciding, and after the decision is committed makes
 * its rule and tells every registered observer (the audit annotation). The WebSocket
 * hub, the HTTP route and the rule engine all decide through `BrokerHost.decide`, so a
 * third transport cannot forget them.
 */
import type { PermissionResponse, RememberOutcome } from '../protocol/index.ts';

/** Which door a decision came through (metrics, logs, audit). */
export type DecisionVia = 'ws' | 'http' | 'rule' | 'agent';

export type DecisionObserver = (info: {
  requestId: string;
  decision: 'allow' | 'deny';
  decidedBy: string;
  via: DecisionVia;
  /** The deciding peer's address, when known. */
  address?: string;
  /** The device that decided, when its cookie authenticated the call or socket. */
  device?: { id: string; name: string };
  remember?: PermissionResponse['remember'];
}) => void;

/** A decision's `remember`, as the rule engine sees it (the edited input when there is one). */
export type RememberRequest = {
  requestId: string;
  decision: 'allow' | 'deny';
  decidedBy: string;
  remember: NonNullable<PermissionResponse['remember']>;
  updatedInput?: Record<string, unknown>;
};

/** The rule engine's two steps around a decision that carries `remember`. */
export type RememberGate = {
  /** Before deciding: an `invalid-message` text when it cannot be honoured (nothing is decided). */
  checkRemember(req: RememberRequest): string | undefined;
  /** After the decision is committed: the rule made, or why none. A promise when the rule
   *  is stored asynchronously: the decision's answer waits for it, so it never says a rule
   *  is made that is not stored (SPEC.md TEAM-G1). */
  applyRemember(req: RememberRequest): RememberOutcome | Promise<RememberOutcome>;
};

/** A decision's `remember` cannot be honoured as asked: nothing was decided. Transports
 *  answer it as `invalid-message` (HTTP 400, a WebSocket `error`). */
export class RememberRefusedError extends Error {
  override name = 'RememberRefusedError';
}
