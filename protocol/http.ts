/**
 * HTTP bodies (protocol-v1.md §4). Requests are parsed with these schemas at the edge;
 * responses are typed with them so server and clients agree.
 */
import { z } from 'zod';
import { agentChoiceEntry } from './agentChoices.ts';
import { AUDIT_HOWS, DELIVERY_STATES, ERROR_CODES, REQUEST_STATUSES, RULE_KINDS, RULE_SCOPES } from './constants.ts';
import * as f from './fields.ts';
import { chatMessage, chatSession } from './messages.ts';

export const createRequestBody = z.object({
  toolName: f.toolName,
  input: f.toolInput,
  context: f.requestContext.optional(),
  timeoutMs: f.timeoutMs.optional(),
});

export const createRequestResult = z.object({
  id: f.id,
  status: z.literal('pending'),
  expiresAt: f.timestamp,
  seq: f.seq,
});

export const decisionBody = z.object({
  decision: f.decision,
  updatedInput: f.toolInput.optional(),
  message: f.reasonMessage.optional(),
  remember: f.remember.optional(),
  /** One of the request's `context.agentChoices` ids: the agent's own choice (agentChoices.ts). */
  agentChoice: f.id.optional(),
});

/** `POST /api/rules/proposal`: which rule "Always allow" on this request would make. */
export const ruleProposalBody = z.object({ requestId: f.id, decision: f.decision.default('allow'), updatedInput: f.toolInput.optional() });

const ruleChoice = z.object({ kind: z.string(), pattern: z.string(), description: z.string() });
export const ruleProposal = z.object({
  requestId: f.id,
  toolName: f.toolName,
  /** The rule made by default, or null when none can be (`refused` says why). */
  exact: ruleChoice.nullable(),
  /** Broader rules the human may choose (`remember.prefix` = a pattern of these). */
  prefixes: z.array(ruleChoice),
  refused: z.string().optional(),
  /** Each scope, and whether this request can have it (else `reason`). */
  scopes: z.array(z.object({ scope: z.enum(RULE_SCOPES), available: z.boolean(), value: z.string().optional(), reason: z.string().optional() })),
});

export const requestView = z.object({
  id: f.id,
  status: z.enum(REQUEST_STATUSES),
  toolName: f.toolName,
  input: z.record(z.string(), z.unknown()),
  context: f.requestContext,
  decision: f.decision.optional(),
  updatedInput: z.record(z.string(), z.unknown()).optional(),
  message: z.string().optional(),
  decidedBy: z.string().optional(),
  /** The agent's own choice the winning decision named (an id of `context.agentChoices`). */
  agentChoice: z.string().optional(),
  expiresAt: f.timestamp,
  createdAt: f.timestamp,
  seq: f.seq,
  /** Pending requests only: `pending` (on no screen), `sent` (written to at least one
   *  socket), `acked` (a screen holds it). Optional, so older servers' views still parse. */
  delivery: z.enum(DELIVERY_STATES).optional(),
});

/** A page of requests; `next`: pass it as `after` for the following page (absent on the last). */
export const requestList = z.object({ requests: z.array(requestView), next: f.id.optional() });

/** `POST /api/permission-requests/ID/decision`: the request as it stands, with what a
 *  `remember` made (or why none). The bare form only when the store no longer has it. */
export const decisionAnswer = z.union([
  requestView.extend({ remember: f.rememberOutcome.optional() }),
  z.object({ id: f.id, status: z.literal('resolved'), decision: f.decision, decidedBy: z.string(), remember: f.rememberOutcome.optional() }),
]);
/** `DELETE /api/permission-requests/ID`: the cancelled request (bare when the store no longer has it). */
export const cancelAnswer = z.union([requestView, z.object({ id: f.id, status: z.literal('cancelled') })]);

// ---- rules (docs/rules.md) ---------------------------------------------------------

/** A remembered rule. `createdBy`: the `decidedBy` of the decision that made it
 *  (protocol/outcome.ts), `http` for one made with `POST /api/rules`. */
export const ruleView = z.object({
  id: z.string(),
  toolName: z.string(),
  pattern: z.string(),
  kind: z.enum(RULE_KINDS),
  decision: f.decision,
  scope: z.enum(RULE_SCOPES),
  scopeValue: z.string().optional(),
  createdAt: f.timestamp,
  createdBy: z.string(),
  /** The request whose decision made it ("Always allow"). */
  sourceRequestId: z.string().optional(),
});
/** `GET /api/rules`: the active rules. */
export const ruleList = z.object({ rules: z.array(ruleView) });
/** `DELETE /api/rules/ID` and `DELETE /api/devices/ID`. */
export const revokedAnswer = z.object({ id: z.string(), revoked: z.literal(true) });

// ---- devices, pairing, push (contract-2 §1, §4) ----------------------------------

export const deviceView = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: f.timestamp,
  lastSeenAt: f.timestamp,
  /** The device this call came from. */
  current: z.boolean(),
  /** The client ids of its open sockets. */
  clients: z.array(z.string()),
});
/** `GET /api/devices`. */
export const deviceList = z.object({ devices: z.array(deviceView) });
/** `POST /api/pairings` (201). */
export const pairingCreated = z.object({ url: z.string().regex(/^https?:\/\/[\x21-\x7e]+$/), code: z.string(), expiresAt: f.timestamp });
/** `GET /api/push/key`. */
export const pushKeyAnswer = z.object({ publicKey: z.string() });
/** `POST /api/push/subscriptions` (201 new, 200 replaced). */
export const pushSubscribed = z.object({ endpoint: z.string(), deviceId: z.string().nullable() });
/** `DELETE /api/push/subscriptions`. */
export const pushUnsubscribed = z.object({ removed: z.literal(true) });

// ---- chat sessions (docs/chat.md) ---------------------------------------------------

/** `GET /api/sessions`, newest first. */
export const sessionList = z.object({ sessions: z.array(chatSession) });
/** `POST /api/sessions` (201) and `POST /api/sessions/ID/messages` (202). */
export const sessionAnswer = z.object({ session: chatSession });
/** `GET /api/sessions/ID/messages`: the session, whether a turn runs, its messages in order. */
export const sessionMessages = z.object({
  session: chatSession,
  running: z.boolean(),
  messages: z.array(z.object({ seq: f.seq.optional(), timestamp: f.timestamp, message: chatMessage })),
});
/** `POST /api/sessions/ID/stop`: whether a turn was running (and is now stopped). */
export const sessionStopped = z.object({ id: z.string(), stopped: z.boolean() });

// ---- the server itself ----------------------------------------------------------------

/** `GET /healthz` (no token). */
export const healthAnswer = z.object({ status: z.literal('ok') });
/** `GET /readyz`. */
export const readyAnswer = z.object({
  status: z.literal('ready'),
  epoch: z.string(),
  seq: f.seq,
  store: z.enum(['sqlite', 'postgres']).optional(),
  /** With --bus (several instances): the bus, and which instance answered. */
  bus: z.enum(['nats']).optional(),
  instance: z.string().optional(),
});
/** `POST /api/agent/hello` (contract-2 §2). */
export const helloAnswer = z.object({ proof: z.string() });

/**
 * `GET /api/audit/ID`: one request's whole audit entry (who: decidedBy, via, address,
 * device; how; what: tool and input; when). Absent fields are unknown or not yet decided.
 */
export const auditEntry = z.object({
  requestId: z.string(),
  toolName: z.string(),
  input: z.record(z.string(), z.unknown()),
  sessionId: z.string().optional(),
  agent: z.string().optional(),
  cwd: z.string().optional(),
  requestedAt: f.timestamp,
  /** Absent while unresolved. */
  status: z.enum(['resolved', 'timedOut', 'cancelled']).optional(),
  decision: f.decision.optional(),
  how: z.enum(AUDIT_HOWS).optional(),
  decidedBy: z.string().optional(),
  via: z.string().optional(),
  address: z.string().optional(),
  message: z.string().optional(),
  ruleId: z.string().optional(),
  decidedAt: f.timestamp.optional(),
  /** The device that decided (its cookie authenticated the decision). */
  deviceId: z.string().optional(),
  deviceName: z.string().optional(),
  /** The agent's own choice the decision sent (docs/integrations.md, "The agent's own choices"). */
  agentChoice: agentChoiceEntry.pick({ id: true, kind: true, label: true }).optional(),
});

/**
 * An entry of the audit list: the entry with a bounded `summary` of the input (the command,
 * path, URL or pattern; else the JSON, cut to AUDIT_LIMITS.summaryChars), `inputBytes`, and the
 * `input` itself only when it is small (at most AUDIT_LIMITS.listInputBytes of JSON): a list
 * answer never carries megabytes; the whole entry is `GET /api/audit/ID`.
 */
export const auditListEntry = auditEntry.extend({
  input: z.record(z.string(), z.unknown()).optional(),
  summary: z.string(),
  inputBytes: z.number().int().nonnegative(),
  /** When `input` is left out and holds hidden characters: their names (at most 5), so the
   *  list still warns of what its summary may have cut off (docs/ui.md). */
  inputHidden: z.array(z.string()).optional(),
});

/** `GET /api/audit`: newest first; `next`: pass it as `before` for older entries (absent on the last page). */
export const auditPage = z.object({ entries: z.array(auditListEntry), next: z.string().optional() });
export const auditEntryAnswer = z.object({ entry: auditEntry });

export const errorBody = z.object({
  error: z.object({
    code: z.enum(Object.values(ERROR_CODES) as [string, ...string[]]),
    message: z.string(),
  }),
});

export type CreateRequestBody = z.infer<typeof createRequestBody>;
export type CreateRequestResult = z.infer<typeof createRequestResult>;
export type DecisionBody = z.infer<typeof decisionBody>;
export type RequestView = z.infer<typeof requestView>;
export type RuleProposalBody = z.infer<typeof ruleProposalBody>;
export type RuleProposal = z.infer<typeof ruleProposal>;
export type RequestList = z.infer<typeof requestList>;
export type ErrorBody = z.infer<typeof errorBody>;
export type AuditEntry = z.infer<typeof auditEntry>;
export type AuditListEntry = z.infer<typeof auditListEntry>;
export type AuditPage = z.infer<typeof auditPage>;
export type AuditEntryAnswer = z.infer<typeof auditEntryAnswer>;
export type DecisionAnswer = z.infer<typeof decisionAnswer>;
export type CancelAnswer = z.infer<typeof cancelAnswer>;
export type RuleView = z.infer<typeof ruleView>;
export type RuleList = z.infer<typeof ruleList>;
export type RevokedAnswer = z.infer<typeof revokedAnswer>;
export type DeviceView = z.infer<typeof deviceView>;
export type DeviceList = z.infer<typeof deviceList>;
export type PairingCreated = z.infer<typeof pairingCreated>;
export type PushKeyAnswer = z.infer<typeof pushKeyAnswer>;
export type PushSubscribed = z.infer<typeof pushSubscribed>;
export type PushUnsubscribed = z.infer<typeof pushUnsubscribed>;
export type SessionList = z.infer<typeof sessionList>;
export type SessionAnswer = z.infer<typeof sessionAnswer>;
export type SessionMessages = z.infer<typeof sessionMessages>;
export type SessionStopped = z.infer<typeof sessionStopped>;
export type HealthAnswer = z.infer<typeof healthAnswer>;
export type ReadyAnswer = z.infer<typeof readyAnswer>;
export type HelloAnswer = z.infer<typeof helloAnswer>;

/**
 * `GET /api/history` (docs/ui.md, "History"): finished requests (resolved, timed out,
 * cancelled) with their outcomes, newest first (by arrival, the seq of their
 * `permission-request`), at most `limit` (1..100, default 50) a page; `next`: pass it as
 * `before` for older ones (absent on the last page). What a reloaded page shows as its
 * History before anything happens live.
 */
export const historyPage = z.object({
  requests: z.array(requestView.extend({ decidedAt: f.timestamp.optional(), reason: z.string().optional() })),
  next: f.id.optional(),
});
export type HistoryPage = z.infer<typeof historyPage>;
export const HISTORY_PAGE = { defaultLimit: 50, maxLimit: 100 } as const;
