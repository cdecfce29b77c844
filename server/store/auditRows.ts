/**
 * The audit table's row and its reading, shared by the SQLite and PostgreSQL stores (the
 * same columns in both, docs: server/store/types.ts "The audit read model").
 */
import { agentChoiceEntry, decidedByWire, ruleIdOf, timedOutMessage, type AuditEntry, type AuditHow, type OutcomeEvent } from '../../protocol/index.ts';
import type { AuditFacts } from './types.ts';

/** What an outcome's audit row says (both stores write these columns alike). */
export type AuditOutcome = {
  status: 'resolved' | 'timedOut' | 'cancelled';
  decision: 'allow' | 'deny';
  how: AuditHow;
  decidedBy: string;
  message: string | null;
  ruleId: string | null;
  via: string | null;
};

export function auditOutcomeOf(event: OutcomeEvent, facts: AuditFacts | undefined): AuditOutcome {
  switch (event.type) {
    case 'permission-resolved': {
      const rule = ruleIdOf(event.decidedBy) ?? null;
      return {
        status: 'resolved',
        decision: event.decision,
        how: rule ? 'rule' : 'human',
        decidedBy: event.decidedBy,
        message: event.message ?? null,
        ruleId: rule,
        via: facts?.via ?? (rule ? 'rule' : null),
      };
    }
    case 'permission-timeout':
      return {
        status: 'timedOut',
        decision: 'deny',
        how: 'timeout',
        decidedBy: decidedByWire.timeout,
        message: timedOutMessage(),
        ruleId: null,
        via: facts?.via ?? null,
      };
    case 'permission-cancelled':
      // The audit keeps the cancel's reason as its message (the Audit view words it, protocol/outcome.ts).
      return {
        status: 'cancelled',
        decision: 'deny',
        how: 'cancel',
        decidedBy: decidedByWire.agent,
        message: event.reason,
        ruleId: null,
        via: facts?.via ?? null,
      };
  }
}

export type AuditDbRow = {
  request_id: string;
  tool_name: string;
  input: string | null;
  session_id: string | null;
  agent: string | null;
  cwd: string | null;
  requested_at: number;
  status: AuditEntry['status'] | null;
  decision: AuditEntry['decision'] | null;
  how: AuditHow | null;
  decided_by: string | null;
  via: string | null;
  address: string | null;
  message: string | null;
  rule_id: string | null;
  decided_at: number | null;
  device_id: string | null;
  device_name: string | null;
  /** JSON `{id, kind, label}`: the agent's own choice the winning decision named (a store
   *  without the column reads none). */
  agent_choice?: string | null;
};

/** The agent's own choice as an audit row keeps it (protocol/http.ts auditEntry.agentChoice). */
const auditAgentChoice = agentChoiceEntry.pick({ id: true, kind: true, label: true });

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function toAuditEntry(row: AuditDbRow): AuditEntry {
  const entry: AuditEntry = {
    requestId: row.request_id,
    toolName: row.tool_name,
    input: row.input === null ? {} : (JSON.parse(row.input) as Record<string, unknown>),
    requestedAt: row.requested_at,
  };
  if (row.session_id !== null) entry.sessionId = row.session_id;
  if (row.agent !== null) entry.agent = row.agent;
  if (row.cwd !== null) entry.cwd = row.cwd;
  if (row.status !== null) entry.status = row.status;
  if (row.decision !== null) entry.decision = row.decision;
  if (row.how !== null) entry.how = row.how;
  if (row.decided_by !== null) entry.decidedBy = row.decided_by;
  if (row.via !== null) entry.via = row.via;
  if (row.address !== null) entry.address = row.address;
  if (row.message !== null) entry.message = row.message;
  if (row.rule_id !== null) entry.ruleId = row.rule_id;
  if (row.decided_at !== null) entry.decidedAt = row.decided_at;
  if (row.device_id !== null) entry.deviceId = row.device_id;
  if (row.device_name !== null) entry.deviceName = row.device_name;
  if (row.agent_choice !== undefined && row.agent_choice !== null) {
    const choice = auditAgentChoice.safeParse(parseJsonOrUndefined(row.agent_choice));
    if (choice.success) entry.agentChoice = choice.data;
  }
  return entry;
}

/** A context field as an audit column: a string, else none. */
export const str = (value: unknown) => (typeof value === 'string' ? value : null);
