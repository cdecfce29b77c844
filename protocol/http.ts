/**
 * HTTP bodies (protocol-v1.md §4). Requests are parsed with these schemas at the edge;
 * responses are typed with them so server and clients agree.
 */
import { z } from 'zod';
import { AUDIT_HOWS, ERROR_CODES, REQUEST_STATUSES, RULE_SCOPES } from './constants.ts';
import { agentChoiceEntry } from './agentChoices.ts';
import * as f from './fields.ts';

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
});

/** A page of requests; `next`: pass it as `after` for the following page (absent on the last). */
export const requestList = z.object({ requests: z.array(requestView), next: f.id.optional() });

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
