/**
 * One outcome vocabulary (docs/protocol.md, "Who decided" and "Outcome messages"): who
 * decided a request, typed, and every sentence that explains an outcome, to the human
 * (cards, history, audit, chat) and to the agent (hook, MCP, ACP, opencode, in-process
 * agents). The server, the browser and the agent-side commands all read it from here, so
 * "timed out" reads one way everywhere and `decidedBy` is parsed in one place.
 *
 * On the wire `decidedBy` stays the string it always was (protocol-v1.md §3):
 * `formatDecidedBy(parseDecidedBy(s)) === s` for every string `s`. The agent-side
 * commands bundle this file (scripts/build-cli.js): it imports nothing.
 */
import type { CancelReason } from './constants.ts';

/** The `decidedBy` strings the server writes itself; a client label may take none of them
 *  (server/ws/connection.ts refuses them, and anything that reads as them). */
export const DECIDED_BY_WIRE = {
  http: 'http',
  timeout: 'timeout',
  agent: 'agent',
  server: 'server',
  serverRestart: 'server-restart',
  rulePrefix: 'rule:',
  devicePrefix: 'device:',
} as const;

/** Agents that cancel under their own name (the HTTP hook route cancels as `claude-code`). */
export const NAMED_AGENTS = ['claude-code'] as const;
export type NamedAgent = (typeof NAMED_AGENTS)[number];

/**
 * Who or what decided (or ended) a request:
 * - `client`: a WebSocket client, by its label (else its clientId, `browser-…`/`client-…`);
 * - `device`: a paired device by name (`device:<name>`; reserved: no label may start with
 *   `device`, and the server writes a device's decision as its socket's label or `http`,
 *   with the device in the audit entry, so this kind is what the audit's "who" reads);
 * - `http`: `POST …/decision` (or, for a cancel, `DELETE /api/permission-requests/ID`);
 * - `rule`: a remembered rule (`rule:<id>`);
 * - `timeout`: the deadline;
 * - `agent`: the agent cancelled (`agent`, or under its own name: `claude-code`);
 * - `server`: the server cancelled (a restart: `server`; `server-restart` as older rows read).
 */
export type DecidedBy =
  | { kind: 'client'; label: string }
  | { kind: 'device'; name: string }
  | { kind: 'http' }
  | { kind: 'rule'; ruleId: string }
  | { kind: 'timeout' }
  | { kind: 'agent'; name?: NamedAgent }
  | { kind: 'server'; restart?: true };
export type DecidedByKind = DecidedBy['kind'];
export const DECIDED_BY_KINDS = ['client', 'device', 'http', 'rule', 'timeout', 'agent', 'server'] as const satisfies readonly DecidedByKind[];

/** A wire `decidedBy` as its kind. Total: a string of no other form is a client's label. */
export function parseDecidedBy(wire: string): DecidedBy {
  switch (wire) {
    case DECIDED_BY_WIRE.http:
      return { kind: 'http' };
    case DECIDED_BY_WIRE.timeout:
      return { kind: 'timeout' };
    case DECIDED_BY_WIRE.agent:
      return { kind: 'agent' };
    case DECIDED_BY_WIRE.server:
      return { kind: 'server' };
    case DECIDED_BY_WIRE.serverRestart:
      return { kind: 'server', restart: true };
    default:
      break;
  }
  const named = NAMED_AGENTS.find((name) => name === wire);
  if (named !== undefined) return { kind: 'agent', name: named };
  if (wire.startsWith(DECIDED_BY_WIRE.rulePrefix) && wire.length > DECIDED_BY_WIRE.rulePrefix.length) {
    return { kind: 'rule', ruleId: wire.slice(DECIDED_BY_WIRE.rulePrefix.length) };
  }
  if (wire.startsWith(DECIDED_BY_WIRE.devicePrefix) && wire.length > DECIDED_BY_WIRE.devicePrefix.length) {
    return { kind: 'device', name: wire.slice(DECIDED_BY_WIRE.devicePrefix.length) };
  }
  return { kind: 'client', label: wire };
}

/** The wire string of a `decidedBy` (exactly what the server has always written). */
export function formatDecidedBy(by: DecidedBy): string {
  switch (by.kind) {
    case 'client':
      return by.label;
    case 'device':
      return DECIDED_BY_WIRE.devicePrefix + by.name;
    case 'http':
      return DECIDED_BY_WIRE.http;
    case 'rule':
      return DECIDED_BY_WIRE.rulePrefix + by.ruleId;
    case 'timeout':
      return DECIDED_BY_WIRE.timeout;
    case 'agent':
      return by.name ?? DECIDED_BY_WIRE.agent;
    case 'server':
      return by.restart ? DECIDED_BY_WIRE.serverRestart : DECIDED_BY_WIRE.server;
    default: {
      const never: never = by;
      throw new Error(`unknown decidedBy ${JSON.stringify(never)}`);
    }
  }
}

/** The typed values of the server's own deciders (for code that writes them). */
export const DECIDERS = {
  http: { kind: 'http' },
  timeout: { kind: 'timeout' },
  agent: { kind: 'agent' },
  claudeCode: { kind: 'agent', name: 'claude-code' },
  server: { kind: 'server' },
  rule: (ruleId: string): DecidedBy => ({ kind: 'rule', ruleId }),
  client: (label: string): DecidedBy => ({ kind: 'client', label }),
} as const satisfies Record<string, DecidedBy | ((arg: string) => DecidedBy)>;

/** The wire string of a server-side decider, e.g. `decidedByWire.http` = `"http"`. */
export const decidedByWire = {
  http: formatDecidedBy(DECIDERS.http),
  timeout: formatDecidedBy(DECIDERS.timeout),
  agent: formatDecidedBy(DECIDERS.agent),
  claudeCode: formatDecidedBy(DECIDERS.claudeCode),
  server: formatDecidedBy(DECIDERS.server),
  rule: (ruleId: string) => formatDecidedBy(DECIDERS.rule(ruleId)),
} as const;

/** The rule's id when a rule decided, else undefined. */
export function ruleIdOf(wire: string | undefined): string | undefined {
  if (wire === undefined) return undefined;
  const by = parseDecidedBy(wire);
  return by.kind === 'rule' ? by.ruleId : undefined;
}

/** Who decided, as a phrase that fits "Denied in Gatehouse by …": a client's label and a
 *  device's name quoted, so neither can read as the server's own deciders. */
export function deciderText(by: DecidedBy): string {
  switch (by.kind) {
    case 'client':
      return `the client "${by.label}"`;
    case 'device':
      return `the device "${by.name}"`;
    case 'http':
      return 'the HTTP API';
    case 'rule':
      return `the remembered rule ${by.ruleId}`;
    case 'timeout':
      return 'the deadline';
    case 'agent':
      return by.name === 'claude-code' ? 'Claude Code' : 'the agent';
    case 'server':
      return by.restart ? 'the server (a restart)' : 'the server';
    default: {
      const never: never = by;
      return String(never);
    }
  }
}

/** Who decided, for a table cell: the kind in a word or two, and its detail (a label, a
 *  name, a rule id) to show through the visible-text helpers. */
export function deciderParts(by: DecidedBy): { kind: string; detail?: string } {
  switch (by.kind) {
    case 'client':
      return { kind: 'client', detail: by.label };
    case 'device':
      return { kind: 'device', detail: by.name };
    case 'http':
      return { kind: 'HTTP API' };
    case 'rule':
      return { kind: 'rule', detail: by.ruleId };
    case 'timeout':
      return { kind: 'deadline' };
    case 'agent':
      return { kind: by.name === 'claude-code' ? 'Claude Code' : 'agent' };
    case 'server':
      return by.restart ? { kind: 'server', detail: 'restart' } : { kind: 'server' };
    default: {
      const never: never = by;
      return { kind: String(never) };
    }
  }
}

// ---- outcome messages ----------------------------------------------------------------

/** How a finished request ended, in one word each (cards, history, audit columns). */
export const OUTCOME_LABELS = {
  allowed: 'Allowed',
  denied: 'Denied',
  timedOut: 'Timed out, denied',
  cancelled: 'Cancelled',
} as const;
export type OutcomeLabel = keyof typeof OUTCOME_LABELS;

/** The label of an outcome from a request's status and decision. */
export function outcomeLabelOf(status: 'resolved' | 'timedOut' | 'cancelled', decision: 'allow' | 'deny' | undefined): OutcomeLabel {
  if (status === 'resolved') return decision === 'allow' ? 'allowed' : 'denied';
  return status;
}

/** The seconds a request waited, as the timeout sentence says them (one decimal). */
export function waitedSeconds(createdAt: number, expiresAt: number): number {
  return Math.max(0, Math.round((expiresAt - createdAt) / 100) / 10);
}

/** THE sentence for a timeout (protocol-v1.md §4: "a message that says it timed out"):
 *  the request view's `message`, the agent's deny, the audit's. Without the times: the
 *  same words without the number. */
export function timedOutMessage(seconds?: number): string {
  return seconds === undefined
    ? 'Timed out: no decision in time, so the request was denied.'
    : `Timed out: no decision within ${seconds} s, so the request was denied.`;
}

/** What each cancel reason of CANCEL_REASONS means, as a phrase. */
const CANCEL_REASON_PHRASES: Record<CancelReason, string> = {
  'agent-cancelled': 'the agent withdrew it',
  'agent-aborted': 'the agent stopped',
  'server-restart': 'the server restarted while the agent waited',
  'answered-in-terminal': "it was answered in the agent's terminal",
  'answered-in-editor': 'it was answered in the editor',
  'answered-in-agent': 'it was answered in the agent',
};

function isCancelReason(reason: string): reason is CancelReason {
  return Object.hasOwn(CANCEL_REASON_PHRASES, reason);
}

/** The cancel reasons that mean "answered somewhere else": the human's card just goes away. */
export const ANSWERED_ELSEWHERE: Partial<Record<CancelReason, string>> = {
  'answered-in-terminal': "Answered in the agent's terminal (not here)",
  'answered-in-editor': 'Answered in the editor (not here)',
  'answered-in-agent': 'Answered in the agent (not here)',
};

/** A cancel, in a few words for a screen: "Answered in the editor (not here)",
 *  "Cancelled: the agent stopped", or the free-text reason quoted. */
export function cancelledText(reason: string | undefined): string {
  if (reason === undefined || reason === '') return 'Cancelled';
  if (!isCancelReason(reason)) return `Cancelled ("${reason}")`;
  return ANSWERED_ELSEWHERE[reason] ?? `Cancelled: ${CANCEL_REASON_PHRASES[reason]}`;
}

/** THE sentence for a cancel: the request view's `message` and the agent's answer.
 *  It starts with the reason as sent, so a reader (or a script) sees it verbatim. */
export function cancelledMessage(reason: string | undefined): string {
  if (reason === undefined || reason === '') return 'Cancelled: the request was withdrawn before a decision, so it is denied.';
  const why = isCancelReason(reason) ? CANCEL_REASON_PHRASES[reason] : 'the request was withdrawn';
  return `Cancelled (${reason}): ${why} before a decision, so the request is denied.`;
}

/** A decision, as the agent is told it: "Allowed in Gatehouse by the client "bob"." */
export function decidedMessage(decision: 'allow' | 'deny', by: DecidedBy | undefined): string {
  const verb = decision === 'allow' ? 'Allowed' : 'Denied';
  return by === undefined ? `${verb} in Gatehouse.` : `${verb} in Gatehouse by ${deciderText(by)}.`;
}

/** What a finished request means to the agent that asked: the human's own message on a
 *  deny when there is one, else who decided; a timeout or a cancel says so. The one
 *  function every agent-side integration answers with (hook, MCP, opencode, in-process). */
export function outcomeMessageForAgent(outcome: {
  status: 'resolved' | 'timedOut' | 'cancelled';
  decision: 'allow' | 'deny';
  message?: string | undefined;
  decidedBy?: string | undefined;
  /** A timeout without the server's message: the seconds waited, when known. */
  seconds?: number | undefined;
  /** A cancel's reason, when known. */
  reason?: string | undefined;
}): string {
  switch (outcome.status) {
    case 'resolved': {
      const by = outcome.decidedBy === undefined ? undefined : parseDecidedBy(outcome.decidedBy);
      if (outcome.decision === 'deny' && outcome.message) return outcome.message;
      return decidedMessage(outcome.decision, by);
    }
    case 'timedOut':
      return outcome.message || timedOutMessage(outcome.seconds);
    case 'cancelled':
      return outcome.message || cancelledMessage(outcome.reason);
    default: {
      const never: never = outcome.status;
      return String(never);
    }
  }
}

/** Why a decision was refused, as the `error` frame / HTTP body's message says it. */
export function refusalMessage(
  requestId: string,
  outcome:
    | { status: 'resolved'; decision: 'allow' | 'deny'; decidedBy: string }
    | { status: 'timedOut' }
    | { status: 'cancelled'; reason?: string | undefined },
): string {
  switch (outcome.status) {
    case 'resolved':
      return `Request ${requestId} was already decided: ${outcome.decision} by ${deciderText(parseDecidedBy(outcome.decidedBy))}.`;
    case 'timedOut':
      return `Request ${requestId} timed out and was denied; nothing is decided after its deadline.`;
    case 'cancelled':
      return `Request ${requestId} was cancelled${outcome.reason ? ` (${outcome.reason})` : ''}; nothing is decided after a cancel.`;
    default: {
      const never: never = outcome;
      return String(never);
    }
  }
}

/** Short words for the codes a decision can be refused with (a card's "did not count"). */
export const REFUSAL_TEXT: Record<string, string> = {
  'already-resolved': 'decided elsewhere',
  expired: 'timed out, denied',
  cancelled: 'cancelled by the agent',
  'unknown-request': 'unknown to the server',
};
