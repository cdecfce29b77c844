/**
 * "Use what agents tell us" (ISSUE 11; docs/integrations.md, "What the agent told"): the
 * parts of Claude Code's hook input that say more about an ask than the tool and its
 * input, kept in the request's context so the card, History and Audit show them:
 * - the asking subagent: `agent_id`, `agent_type` → `agentId`, `agentType`;
 * - why Claude Code asks: `decision_reason` / `decisionReason` → `decisionReason` (text);
 * - an MCP tool: `mcp_server {name, source}` (the SDK's `mcpServer`) → `mcpServer` and
 *   `mcpSource` (where it is configured: `user`, `project`, `plugin`, …; the name is
 *   untrusted text, shown visible-safe); without it, the server part of `mcp__SERVER__TOOL`;
 * - where Claude Code says a human must look (`matchedAskRule`,
 *   `requires_user_interaction`, `defaultToNo`, at the top level or inside the decision
 *   reason): `humanMustLook` naming why (protocol/agentChoices.ts `humanMustLookOf`).
 * Read leniently (a field of another type is ignored) and bounded: nothing here decides.
 */
const MAX = 2000;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function shortText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length > 0 ? value.slice(0, MAX) : undefined;
  if (isRecord(value) || Array.isArray(value)) {
    const json = JSON.stringify(value);
    return json.length <= MAX ? json : `${json.slice(0, MAX - 1)}…`;
  }
  return undefined;
}

/** Why Claude Code says a human must look, or undefined. */
function mustLookOf(sources: readonly Record<string, unknown>[]): string | undefined {
  for (const source of sources) {
    const rule = source.matchedAskRule ?? source.matched_ask_rule;
    if (rule !== undefined && rule !== null && rule !== false)
      return `Claude Code matched an ask rule${typeof rule === 'string' ? ` (${rule.slice(0, 200)})` : ''}`;
    if (source.requires_user_interaction === true || source.requiresUserInteraction === true) return 'the tool requires user interaction';
    if (source.defaultToNo === true || source.default_to_no === true) return 'Claude Code suggests no by default';
  }
  return undefined;
}

export function toldContextOf(input: Record<string, unknown>): Record<string, unknown> {
  const told: Record<string, unknown> = {};
  const agentId = shortText(input.agent_id);
  const agentType = shortText(input.agent_type);
  if (agentId) told.agentId = agentId.slice(0, 200);
  if (agentType) told.agentType = agentType.slice(0, 200);
  const reasonRaw = input.decision_reason ?? input.decisionReason;
  const reason = shortText(reasonRaw);
  if (reason) told.decisionReason = reason;
  const provenance = input.mcp_server ?? input.mcpServer;
  const toolName = typeof input.tool_name === 'string' ? input.tool_name : '';
  const fromName = /^mcp__(.+?)__(.+)$/.exec(toolName)?.[1];
  if (isRecord(provenance) && typeof provenance.name === 'string' && provenance.name) {
    told.mcpServer = provenance.name.slice(0, 200);
    if (typeof provenance.source === 'string' && provenance.source) told.mcpSource = provenance.source.slice(0, 200);
  } else if (fromName) told.mcpServer = fromName.slice(0, 200);
  const mustLook = mustLookOf([input, ...(isRecord(reasonRaw) ? [reasonRaw] : [])]);
  if (mustLook) told.humanMustLook = mustLook;
  return told;
}
